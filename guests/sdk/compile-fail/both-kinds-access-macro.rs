// expect: `Both` also implements `IdTokenListener`, but `export_access_token_listener!` exports only the access-token handler
// A listener of both kinds exported with a single-kind macro: its ID tokens would be skipped.
use tokenwatch_guest::{AccessTokenEvent, AccessTokenListener, EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct Both;
impl Listener for Both {}
impl IdTokenListener for Both {
    fn id_token_issued(&mut self, _: &IdTokenEvent, _: &EventContext) {}
}
impl AccessTokenListener for Both {
    fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_access_token_listener!(Both);
