//! `Host`: the embedding API. Build it from a `Config`, dispatch events from any number of
//! threads, read status, shut down.

use crate::config::Config;
use crate::event::TokenEvent;
use crate::imports::{self, log::LogSink, log::TracingSink};
use crate::runtime::limits::Limits;
use crate::runtime::cache::ArtifactCache;
use crate::runtime::engine::{process_engine, Ticking};
use crate::runtime::encoding::Encodings;
use crate::imports::metrics::GuestMetrics;
use crate::outbox::{Outbox, SinkStatus};
use crate::runtime::listener::{Delivery, Listener, ListenerSpec, LoadError, Round, Shared};
use crate::runtime::status::ListenerStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
            cache: ArtifactCache::open(&engine, &self.config.cache),
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
