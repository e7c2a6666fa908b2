//! `tokenwatch:listener/publish`: hand a message to a named sink. Only enqueues; delivery
//! runs off the issuing path.

use crate::bindings::publish::{Host, PublishError};
use crate::state::State;

/// The publish capability of one listener's store: the sinks it may name. This host
/// version has no outbox yet, so no sink name is known and every call answers
/// `unknown-sink` — the answer a guest also gets for a misspelt sink later.
#[derive(Default, Clone)]
pub struct PublishCtx;

impl Host for State {
    fn publish(
        &mut self,
        sink: String,
        _message: String,
    ) -> wasmtime::Result<Result<(), PublishError>> {
        let _ = &self.publish;
        Ok(Err(PublishError::UnknownSink(sink)))
    }
}
