// expect: a listener of ID tokens only is exported with `export_id_token_listener!`
// A listener of ID tokens only exported as one of both kinds.
use tokenwatch_guest::{EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct Audit;
impl Listener for Audit {}
impl IdTokenListener for Audit {
    fn id_token_issued(&mut self, _: &IdTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_listener!(Audit);
