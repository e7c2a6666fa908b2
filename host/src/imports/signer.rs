//! `tokenwatch:listener/signer`: sign a Security Event Token with the issuer's key. The key
//! stays in the host (`signing::Signer`); the guest gets back only the compact JWS.
//!
//! Linked with `func_wrap` on the store rather than through the bindgen `Host` trait, so a
//! call can take its fuel price from the store. Per call into the guest, each `sign-set`
//! call (signed or refused) counts against `max_signatures_per_call` and pays
//! `fuel_per_signature`; past the quota the answer is `quota-exceeded` at no cost; when the
//! fuel left is less than the price, the call traps with wasmtime's `OutOfFuel` (a `fuel`
//! trap). The time spent signing counts against the call's deadline, and no signature is started
//! once it has passed (a `deadline` trap).

use crate::runtime::bindings::signer::SignError;
use crate::signing::{Refusal, SetPolicy, Signer};
use crate::runtime::state::State;
use crate::runtime::status::Counters;
use crate::text::for_humans;
use std::sync::Arc;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// The most of a guest's text a refusal quotes in the log.
const MAX_QUOTED_BYTES: usize = 256;

/// The signing capability of one listener's store.
#[derive(Default)]
pub struct SignerCtx {
    signatures_this_call: u32,
    /// The host's signer; `None` when no key is configured.
    signer: Option<Arc<Signer>>,
    policy: Arc<SetPolicy>,
    counters: Arc<Counters>,
    listener: Arc<str>,
}

impl SignerCtx {
    pub(crate) fn new(
        signer: Option<Arc<Signer>>,
        policy: Arc<SetPolicy>,
        counters: Arc<Counters>,
        listener: Arc<str>,
    ) -> Self {
        SignerCtx { signatures_this_call: 0, signer, policy, counters, listener }
    }

    pub(crate) fn begin_call(&mut self) {
        self.signatures_this_call = 0;
    }

    fn refuse(&self, error: SignError) -> wasmtime::Result<(Result<String, SignError>,)> {
        self.counters.sets_refused.inc();
        Ok((Err(error),))
    }
}

/// Link `sign-set`.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for version in super::VERSIONS {
        super::instance(linker, "signer", version)?.func_wrap(
            "sign-set",
            |mut store: StoreContextMut<'_, State>, (claims, audience): (WasmStr, Option<String>)| {
                sign_set(&mut store, claims, audience.as_deref())
            },
        )?;
    }
    Ok(())
}

fn sign_set(
    store: &mut StoreContextMut<'_, State>,
    claims: WasmStr,
    audience: Option<&str>,
) -> wasmtime::Result<(Result<String, SignError>,)> {
    // A signature takes up to 0.4 ms (RS256): none is started once the call's time is up.
    store.data().deadline.check()?;
    let ctx = &mut store.data_mut().signer;
    let Some(signer) = ctx.signer.clone() else {
        return ctx.refuse(SignError::NoKeyConfigured);
    };
    if ctx.signatures_this_call >= ctx.policy.max_signatures_per_call {
        // Logged once per call: a guest may try thousands of times.
        if ctx.signatures_this_call == ctx.policy.max_signatures_per_call {
            tracing::warn!(listener = %ctx.listener, max = ctx.policy.max_signatures_per_call, "SET refused: quota of signatures per call used up");
        }
        ctx.signatures_this_call = ctx.signatures_this_call.saturating_add(1);
        return ctx.refuse(SignError::QuotaExceeded);
    }
    ctx.signatures_this_call += 1;
    let (policy, counters, listener) = (ctx.policy.clone(), ctx.counters.clone(), ctx.listener.clone());
    super::charge_fuel(store, signer.fuel_per_signature())?;
    // Read in place from the guest's memory (a copy only for a UTF-16 guest). What a guest
    // can hand over at all is capped by the store's hostcall fuel before anything is read
    // (`limits::GUEST_TRANSFER_BYTES`); what was read costs a fuel per byte, taken after
    // signing because the text borrows the store. No lock is held: the signer is shared,
    // immutable, and signs through `&self`.
    let content = claims.to_str(&*store)?;
    let read = content.len() + audience.map_or(0, str::len);
    let signed = signer.sign_set(&policy, &content, audience);
    drop(content);
    super::charge_fuel(store, read as u64)?;
    match signed {
        Ok(jws) => {
            counters.sets_signed.inc();
            Ok((Ok(jws),))
        }
        Err(refusal) => {
            counters.sets_refused.inc();
            // The refusal may quote the guest's text: capped and escaped for the log.
            tracing::warn!(listener = %listener, "SET refused: {}", for_humans(&refusal.to_string(), MAX_QUOTED_BYTES));
            Ok((Err(match refusal {
                Refusal::Refused(why) => SignError::Refused(why),
                Refusal::TooLarge(cap) => SignError::TooLarge(cap),
                Refusal::AudienceNotAllowed(a) => SignError::AudienceNotAllowed(a),
            }),))
        }
    }
}
