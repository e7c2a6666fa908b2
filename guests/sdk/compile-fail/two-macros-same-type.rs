// expect: the name `only_one_tokenwatch_export_macro_per_crate` is defined multiple times
// Two export macros for one type, next to each other: use `export_listener!` for both kinds.
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

tokenwatch_guest::export_listener!(Both);
tokenwatch_guest::export_listener!(Both);
