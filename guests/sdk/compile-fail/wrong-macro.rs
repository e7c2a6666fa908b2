// expect: `Meter` does not implement `tokenwatch_guest::IdTokenListener`, which this export macro needs
// Issue #8: an access-token listener exported with the ID-token macro.
use tokenwatch_guest::{AccessTokenEvent, AccessTokenListener, EventContext, Listener};

#[derive(Default)]
struct Meter;
impl Listener for Meter {}
impl AccessTokenListener for Meter {
    fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {}
}

tokenwatch_guest::export_id_token_listener!(Meter);
