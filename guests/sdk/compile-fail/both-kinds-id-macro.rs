// expect: `Both` also implements `AccessTokenListener`, but `export_id_token_listener!` exports only the ID-token handler
// A listener of both kinds exported with a single-kind macro: its access tokens would be skipped.
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

tokenwatch_guest::export_id_token_listener!(Both);
