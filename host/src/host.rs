//! `Host`: the embedding API. Build it from a `Config`, dispatch events from any number of
//! threads, read status, shut down.

use crate::config::Config;
use crate::event::TokenEvent;
use crate::imports::{self, log::LogSink, log::TracingSink};
use crate::limits::{Limits, EPOCH_TICK};
use crate::encoding::Encodings;
use crate::imports::metrics::GuestMetrics;
use crate::outbox::{Outbox, SinkStatus};
use crate::listener::{Delivery, Listener, ListenerSpec, LoadError, Round, Shared};
use crate::status::ListenerStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use wasmtime::Engine;

/// Why a host could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The `[signing]` key file cannot be used (names the file, the key, the problem).
    #[error(transparent)]
    Signing(#[from] crate::signing::KeyError),
    /// The outbox cannot start: its spool cannot be opened, or a sink cannot be set up.
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
}

/// Builds a [`Host`].
pub struct HostBuilder {
    config: Config,
    log_sink: Arc<dyn LogSink>,
    fuel: bool,
}

impl HostBuilder {
    /// Where guest log lines go (default: `tracing`, target `tokenwatch::guest`).
    pub fn log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log_sink = sink;
        self
    }

    /// Turn fuel metering off: only the deadline stops a runaway guest, and `fuel` budgets
    /// and figures are ignored. For measuring what fuel costs (`tokenwatch bench`).
    pub fn epoch_only(mut self) -> Self {
        self.fuel = false;
        self
    }

    /// Compile, check and start every listener. A module that cannot be loaded is an error;
    /// a listener whose `init` fails is loaded disabled (see its status).
    pub fn build(self) -> Result<Host, HostError> {
        self.config.validate()?;
        // The signing key is parsed here, once: a bad key file fails the build, not a SET.
        let signer = match &self.config.signing {
            Some(c) => Some(Arc::new(crate::signing::Signer::from_config(c)?)),
            None => None,
        };
        // Started before any guest runs: `init` may publish, and what the spool holds from an
        // earlier run is delivered first.
        let outbox = match self.config.sinks.is_empty() {
            true => None,
            false => Some(Arc::new(Outbox::start(&self.config.outbox, &self.config.sinks)?)),
        };
        let metrics = Arc::new(GuestMetrics::default());
        let (engine, ticking) = process_engine(self.fuel).map_err(HostError::Engine)?;
        let shared = Shared {
            engine: engine.clone(),
            log_sink: self.log_sink,
            signer: signer.clone(),
            fuel: self.fuel,
            projections: Default::default(),
            outbox: outbox.clone(),
            metrics: metrics.clone(),
        };
        let linker_error = |e: wasmtime::Error| HostError::Engine(format!("{e:#}"));
        let base = imports::linker(&engine, false).map_err(linker_error)?;
        let with_wasi = if self.config.listeners.iter().any(|l| l.wasi) {
            Some(imports::linker(&engine, true).map_err(linker_error)?)
        } else {
            None
        };
        let defaults = self.config.limits.over(&Limits::default());
        let mut listeners = Vec::with_capacity(self.config.listeners.len());
        for l in &self.config.listeners {
            let spec = ListenerSpec {
                name: l.name(),
                path: l.path.clone(),
                enabled: l.enabled,
                properties: l.properties.clone(),
                limits: l.limits.over(&defaults),
                wasi: l.wasi,
                set_policy: l.set_policy(),
                sinks: l.sinks.clone(),
            };
            let linker = if l.wasi { with_wasi.as_ref().expect("built above") } else { &base };
            listeners.push(Listener::load(spec, shared.clone(), linker)?);
        }
        for l in &listeners {
            l.start();
            let status = l.status();
            let handles: Vec<&str> = status.handles.iter().map(|k| k.as_str()).collect();
            tracing::info!(listener = %status.name, state = ?status.health, handles = ?handles, "listener loaded");
        }
        Ok(Host {
            listeners,
            shut_down: AtomicBool::new(false),
            _ticking: ticking,
            signer,
            outbox,
            metrics,
        })
    }
}

/// Runs token issue event listeners. `Send + Sync`: share it (`Arc<Host>`) and dispatch
/// from every issuing thread.
pub struct Host {
    listeners: Vec<Listener>,
    shut_down: AtomicBool,
    /// Keeps the epoch ticking (and deadlines firing) until the host is gone, `shutdown` in
    /// `drop` included: `drop` runs before the fields are dropped.
    _ticking: Ticking,
    signer: Option<Arc<crate::signing::Signer>>,
    outbox: Option<Arc<Outbox>>,
    metrics: Arc<GuestMetrics>,
}

impl Host {
    pub fn builder(config: Config) -> HostBuilder {
        HostBuilder {
            config,
            log_sink: Arc::new(TracingSink),
            fuel: true,
        }
    }

    /// Deliver one event to every listener, in configuration order, on this thread. Never
    /// fails: what happened at each listener is in the returned deliveries and counters.
    ///
    /// Blocks the calling thread until every listener has handled the event (each listener's
    /// share is bounded by its deadline for the wait for its lock plus its deadline for the
    /// call, with a fresh instance's start on top when one is needed). In an async server,
    /// call it on the blocking pool, for example
    /// `tokio::task::spawn_blocking(move || host.dispatch(&event))`, never on an executor
    /// thread.
    pub fn dispatch(&self, event: &Arc<TokenEvent>) -> Vec<Delivery> {
        let mut deliveries = Vec::with_capacity(self.listeners.len());
        self.dispatch_with(event, |d| deliveries.push(d));
        deliveries
    }

    /// [`Host::dispatch`] without collecting: `each` gets every listener's delivery as it
    /// happens. Allocates nothing per event when no listener traps.
    pub fn dispatch_with(&self, event: &Arc<TokenEvent>, mut each: impl FnMut(Delivery)) {
        thread_local! {
            /// The encoding buffers of this thread's dispatches, reused from one to the next.
            static ENCODINGS: std::cell::Cell<Encodings> = std::cell::Cell::default();
        }
        let mut round = Round::new(ENCODINGS.take());
        for l in &self.listeners {
            each(l.deliver(event, &mut round));
        }
        ENCODINGS.set(round.into_encodings());
    }

    /// The SPI's `idTokenIssued` / `accessTokenIssued`, for an event not yet shared.
    pub fn dispatch_event(&self, event: TokenEvent) -> Vec<Delivery> {
        self.dispatch(&Arc::new(event))
    }

    /// Every listener's health and counters, in configuration order.
    pub fn status(&self) -> Vec<ListenerStatus> {
        self.listeners.iter().map(Listener::status).collect()
    }

    /// The SET signer (`[signing]`), if a key is configured: its public JWK set is
    /// `signer().public_jwks()`.
    pub fn signer(&self) -> Option<&Arc<crate::signing::Signer>> {
        self.signer.as_ref()
    }

    /// Every sink's counters and depths, in configuration order (empty without sinks).
    pub fn sink_status(&self) -> Vec<SinkStatus> {
        self.outbox.as_ref().map(|o| o.status()).unwrap_or_default()
    }

    /// The Prometheus text exposition: per-listener and per-sink series of the host, and
    /// what listeners reported through the `metrics` import (as `guest_<name>`).
    pub fn metrics_text(&self) -> String {
        crate::imports::metrics::exposition(&self.status(), &self.sink_status(), &self.metrics)
    }

    /// The listener names, in configuration order.
    pub fn listener_names(&self) -> Vec<String> {
        self.listeners.iter().map(|l| l.name().to_string()).collect()
    }

    /// Call every listener's `shutdown` once, each under its deadline, then let the outbox
    /// deliver what is queued within `[outbox] shutdown_ms` and spool the rest. Later events
    /// are counted as dropped (`disabled`). Also run on drop.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        for l in &self.listeners {
            l.shutdown();
        }
        if let Some(outbox) = &self.outbox {
            outbox.shutdown();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The process's engine settings: components, fuel and epochs on, and only the Wasm
/// proposals listeners need (`wasm_features`).
fn engine(fuel: bool) -> wasmtime::Result<Engine> {
    let mut config = wasmtime::Config::new();
    wasm_features(&mut config);
    config.consume_fuel(fuel);
    config.epoch_interruption(true);
    Engine::new(&config)
}

/// Deny by default, for Wasm proposals too: every proposal the host does not need is off,
/// so a component that uses one is refused at load, not trusted to behave.
///
/// On: the component model itself and Wasm 2.0's bulk memory, reference types, multi-value
/// and SIMD, which Rust, C (clang, zig), componentize-js and componentize-py emit; extended
/// constant expressions (only constant initialisers; LLVM's `lime1` CPU emits them).
///
/// Off, each for a reason:
/// - memory64 (and 64-bit tables, and the component model's 64-bit memories): sizes past
///   4 GiB are what once broke the memory limit's arithmetic, and no toolchain here needs them;
/// - multi-memory within one core module (a component's several core modules still have one
///   memory each, and wasmtime's own adapters between them keep it internally);
/// - threads and shared memory: a listener is called on one thread at a time;
/// - exceptions, tail calls, stack switching, GC and typed function references, wide
///   arithmetic, relaxed SIMD (non-deterministic), custom page sizes;
/// - the component model's async, threading, error-context, GC, map and fixed-length-list
///   extensions.
fn wasm_features(config: &mut wasmtime::Config) {
    use wasmtime::WasmFeatures as F;
    let on = F::COMPONENT_MODEL
        | F::BULK_MEMORY
        | F::REFERENCE_TYPES
        | F::MULTI_VALUE
        | F::SIMD
        | F::EXTENDED_CONST;
    let off = F::MEMORY64
        | F::CM64
        | F::MULTI_MEMORY
        | F::THREADS
        | F::SHARED_EVERYTHING_THREADS
        | F::EXCEPTIONS
        | F::LEGACY_EXCEPTIONS
        | F::TAIL_CALL
        | F::STACK_SWITCHING
        | F::GC
        | F::FUNCTION_REFERENCES
        | F::WIDE_ARITHMETIC
        | F::RELAXED_SIMD
        | F::CUSTOM_PAGE_SIZES
        | F::CM_ASYNC
        | F::CM_MORE_ASYNC_BUILTINS
        | F::CM_ASYNC_STACKFUL
        | F::CM_THREADING
        | F::CM_ERROR_CONTEXT
        | F::CM_GC
        | F::CM_MAP
        | F::CM_FIXED_LENGTH_LISTS;
    config.wasm_features(on, true).wasm_features(off, false);
}

/// The engines of the process (with fuel; epoch-only for `bench`) and the one thread that
/// advances their epochs while any `Host` lives: however many hosts a process builds, one
/// thread wakes every `EPOCH_TICK`, and none while there is no host.
struct Engines {
    fueled: Engine,
    epoch_only: Engine,
    live_hosts: Arc<AtomicUsize>,
    ticker: std::thread::Thread,
}

fn engines() -> Result<&'static Engines, String> {
    static ENGINES: OnceLock<Result<Engines, String>> = OnceLock::new();
    ENGINES
        .get_or_init(|| {
            let fueled = engine(true).map_err(|e| format!("{e:#}"))?;
            let epoch_only = engine(false).map_err(|e| format!("{e:#}"))?;
            let live_hosts = Arc::new(AtomicUsize::new(0));
            let (a, b, live) = (fueled.clone(), epoch_only.clone(), live_hosts.clone());
            let thread = std::thread::Builder::new()
                .name("tokenwatch-epoch".into())
                .spawn(move || loop {
                    if live.load(Ordering::Acquire) == 0 {
                        std::thread::park(); // until a host is built (`Ticking::start`)
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    a.increment_epoch();
                    b.increment_epoch();
                    crate::limits::tick();
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            let ticker = thread.thread().clone();
            Ok(Engines { fueled, epoch_only, live_hosts, ticker })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Keeps the epoch thread ticking while its host lives.
struct Ticking(&'static Engines);

impl Ticking {
    fn start(engines: &'static Engines) -> Ticking {
        engines.live_hosts.fetch_add(1, Ordering::AcqRel);
        engines.ticker.unpark();
        Ticking(engines)
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.live_hosts.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The process's engine of the wanted kind, with its epoch ticking.
fn process_engine(fuel: bool) -> Result<(Engine, Ticking), String> {
    let engines = engines()?;
    let engine = if fuel { &engines.fueled } else { &engines.epoch_only };
    Ok((engine.clone(), Ticking::start(engines)))
}
