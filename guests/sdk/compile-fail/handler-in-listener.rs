// expect: method `access_token_issued` is not a member of trait `Listener`
// Issue #8: an access-token handler written where the SDK cannot see it. Handlers live in
// the trait of their kind, so this no longer compiles (it used to be skipped silently).
use tokenwatch_guest::{AccessTokenEvent, EventContext, Listener};

#[derive(Default)]
struct Meter;
impl Listener for Meter {
    fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_id_token_listener!(Meter);
