// expect: `Audit` does not implement `tokenwatch_guest::Listener`
// The kind trait without the lifecycle trait.
use tokenwatch_guest::{EventContext, IdTokenEvent, IdTokenListener};

#[derive(Default)]
struct Audit;
impl IdTokenListener for Audit {
    fn id_token_issued(&mut self, _: &IdTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_id_token_listener!(Audit);
