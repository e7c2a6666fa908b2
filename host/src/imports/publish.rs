//! `tokenwatch:listener/publish`: hand a message to a named sink. Only enqueues (see
//! `outbox`); delivery runs off the issuing path.
//!
//! A listener may name only the sinks its `sinks` grant lists (deny by default): any other
//! name, granted or configured or not, gets `unknown-sink`. Each call costs
//! `FUEL_PER_PUBLISH` plus a fuel per byte read, and at most `MAX_PUBLISHES_PER_CALL` are
//! taken per call into the guest; past that the answer is `queue-full`, counted.

use crate::runtime::bindings::publish::PublishError;
use crate::outbox::{Lane, Outbox, Refused};
use crate::runtime::state::State;
use crate::runtime::status::Counters;
use std::sync::Arc;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// The host's work per message (an id, two copies, a queue push), priced like a few hundred
/// guest instructions, on top of a fuel per byte.
pub const FUEL_PER_PUBLISH: u64 = 1_000;
/// Messages taken per call into the guest. A listener publishes one or a few per event; 64
/// leaves room while a loop cannot fill a queue from one call.
pub const MAX_PUBLISHES_PER_CALL: u32 = 64;

/// The publish capability of one listener's store.
#[derive(Clone, Default)]
pub struct PublishCtx {
    outbox: Option<Arc<Outbox>>,
    /// The lanes of the sinks this listener is granted.
    granted: Arc<[Arc<Lane>]>,
    listener: Arc<str>,
    counters: Arc<Counters>,
    /// The kind of the event being handled (`lifecycle` in `init` and `shutdown`).
    pub(crate) kind: &'static str,
    published_this_call: u32,
}

impl PublishCtx {
    pub(crate) fn new(outbox: Option<Arc<Outbox>>, granted: &[String], listener: Arc<str>, counters: Arc<Counters>) -> Self {
        let granted = match &outbox {
            Some(o) => granted.iter().filter_map(|name| o.lane(name).cloned()).collect(),
            None => Arc::from([]),
        };
        PublishCtx { outbox, granted, listener, counters, kind: "lifecycle", published_this_call: 0 }
    }

    pub(crate) fn begin_call(&mut self) {
        self.published_this_call = 0;
        self.kind = "lifecycle";
    }
}

/// Link `publish` under every contract version.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for version in super::VERSIONS {
        super::instance(linker, "publish", version)?.func_wrap(
            "publish",
            |mut store: StoreContextMut<'_, State>, (sink, message): (WasmStr, WasmStr)| {
                Ok((publish(&mut store, &sink, &message)?,))
            },
        )?;
    }
    Ok(())
}

fn publish(store: &mut StoreContextMut<'_, State>, sink: &WasmStr, message: &WasmStr) -> wasmtime::Result<Result<(), PublishError>> {
    let ctx = &mut store.data_mut().publish;
    if ctx.published_this_call >= MAX_PUBLISHES_PER_CALL {
        if ctx.published_this_call == MAX_PUBLISHES_PER_CALL {
            tracing::warn!(listener = %ctx.listener, max = MAX_PUBLISHES_PER_CALL, "publish refused: quota of messages per call used up");
        }
        ctx.published_this_call = ctx.published_this_call.saturating_add(1);
        ctx.counters.publishes_refused.inc();
        return Ok(Err(PublishError::QueueFull));
    }
    ctx.published_this_call += 1;
    super::charge_fuel(store, FUEL_PER_PUBLISH)?;
    let lane = super::read_charged(store, sink, |state, name| {
        Ok(state.publish.granted.iter().position(|l| l.name() == name).ok_or_else(|| name.to_owned()))
    })?;
    let lane = match lane {
        Ok(i) => store.data().publish.granted[i].clone(),
        Err(name) => {
            store.data().publish.counters.publishes_refused.inc();
            return Ok(Err(PublishError::UnknownSink(name)));
        }
    };
    let answer = super::read_charged(store, message, |state, body| {
        let ctx = &state.publish;
        let outbox = ctx.outbox.as_ref().expect("a granted lane has an outbox");
        Ok(outbox.publish(&lane, &ctx.listener, ctx.kind, body))
    })?;
    let ctx = &store.data().publish;
    Ok(match answer {
        Ok(()) => {
            ctx.counters.published.inc();
            Ok(())
        }
        Err(refused) => {
            ctx.counters.publishes_refused.inc();
            Err(match refused {
                Refused::TooLarge(cap) => PublishError::TooLarge(cap),
                Refused::QueueFull => PublishError::QueueFull,
            })
        }
    })
}
