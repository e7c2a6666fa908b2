//! The data a listener's store holds: the resource table, the limiter, and one context per
//! host capability (see `imports/`).

use crate::imports::{config::Properties, log::LogCtx, metrics::MetricsCtx, publish::PublishCtx, signer::SignerCtx};
use crate::runtime::limits::{CallDeadline, GuestLimiter, Limits};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct State {
    pub(crate) table: ResourceTable,
    pub(crate) limiter: GuestLimiter,
    pub(crate) log: LogCtx,
    pub(crate) config: Arc<Properties>,
    pub(crate) signer: SignerCtx,
    pub(crate) publish: PublishCtx,
    pub(crate) metrics: MetricsCtx,
    /// Linked only for listeners granted WASI; deny-by-default (see `wasi_ctx`).
    pub(crate) wasi: WasiCtx,
    /// When the current call must end: host calls that can block or take long check it.
    pub(crate) deadline: CallDeadline,
    /// Whether the engine meters fuel (limits and host prices apply it only then).
    pub(crate) fuel_metered: bool,
    /// The `batch-listener` call in progress, if any.
    pub(crate) batch: crate::imports::batch::Progress,
}

impl State {
    /// Reset what is counted per call (log lines, signatures, messages); called by `limits::arm`.
    pub(crate) fn begin_call(&mut self, limits: &Limits, deadline_tick: u64) {
        self.deadline = CallDeadline::at_tick(deadline_tick);
        self.limiter.reset(limits);
        self.log.begin_call();
        self.signer.begin_call();
        self.publish.begin_call();
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A WASI context that grants nothing: no preopened directories, no environment, no
/// arguments, no network, no name lookup; stdin closed, stdout/stderr discarded. Clocks and
/// random stay real (wasmtime-wasi has no switch for them), but random bytes are capped per
/// call and every wait is cut at the call's deadline (`imports::wasi`).
pub(crate) fn wasi_ctx() -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .max_random_size(crate::imports::wasi::MAX_RANDOM_BYTES)
        .build()
}
