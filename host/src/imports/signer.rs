//! `tokenwatch:listener/signer`: sign a Security Event Token with the issuer's key. The key
//! stays in the host; the guest gets back only the compact JWS.

use crate::bindings::signer::{Host, SignError};
use crate::state::State;

/// The signing capability of one listener's store.
#[derive(Default)]
pub struct SignerCtx {
    signatures_this_call: u32,
}

impl SignerCtx {
    pub(crate) fn begin_call(&mut self) {
        self.signatures_this_call = 0;
    }
}

impl Host for State {
    fn sign_set(
        &mut self,
        _claims: String,
        _audience: Option<String>,
    ) -> wasmtime::Result<Result<String, SignError>> {
        // No key can be configured yet: say so in the WIT's own terms.
        Ok(Err(SignError::NoKeyConfigured))
    }
}
