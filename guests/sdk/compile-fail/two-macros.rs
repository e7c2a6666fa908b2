// expect: the name `only_one_tokenwatch_export_macro_per_crate` is defined multiple times
// Issue #8: two export macros in one crate, here in different modules (this was a
// duplicate-symbol link error, "symbol `cabi_post_tokenwatch:listener/lifecycle@0.1.0#init`
// is already defined").
use tokenwatch_guest::{AccessTokenEvent, AccessTokenListener, EventContext, IdTokenEvent, IdTokenListener, Listener};

#[derive(Default)]
struct Audit;
impl Listener for Audit {}
impl IdTokenListener for Audit {
    fn id_token_issued(&mut self, _: &IdTokenEvent, _: &EventContext) {}
}
tokenwatch_guest::export_id_token_listener!(Audit);

mod metering {
    use super::*;
    #[derive(Default)]
    pub struct Meter;
    impl Listener for Meter {}
    impl AccessTokenListener for Meter {
        fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {}
    }
    tokenwatch_guest::export_access_token_listener!(Meter);
}
