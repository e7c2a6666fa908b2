// expect: ok
// The control: every mistake below is one change away from this.
use tokenwatch_guest::{log, AccessTokenEvent, AccessTokenListener, EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct Both;
impl Listener for Both {}
impl IdTokenListener for Both {
    fn id_token_issued(&mut self, event: &IdTokenEvent, _: &EventContext) {
        log::info(&format!("acr={:?} amr={:?}", event.claims().acr(), event.claims().amr()));
    }
}
impl AccessTokenListener for Both {
    fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_listener!(Both);
