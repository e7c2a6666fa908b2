//! `Host`: the embedding API. Build it from a `Config`, dispatch events from any number of
//! threads, read status, shut down.

use super::queue::{Full, Lane, Queue, Set};
use crate::config::{Config, ListenerConfig, Mode};
use crate::event::TokenEvent;
use crate::imports::{self, log::LogSink, log::TracingSink};
use crate::runtime::limits::Limits;
use crate::runtime::cache::ArtifactCache;
use crate::runtime::engine::{process_engine, Ticking};
use crate::runtime::encoding::Encodings;
use crate::imports::metrics::GuestMetrics;
use crate::outbox::{Outbox, SinkStatus};
use crate::runtime::listener::{Delivery, Listener, ListenerSpec, LoadError, Outcome, Round, Shared};
use crate::runtime::state::State;
use crate::runtime::status::{Counters, Health, ListenerStatus};
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Linker;

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
        let loader = Loader {
            shared,
            base,
            with_wasi: std::sync::OnceLock::new(),
            defaults: self.config.limits.over(&Limits::default()),
        };
        let host = Host {
            set: Arc::new(ArcSwap::from_pointee(Vec::new())),
            loader,
            configs: Mutex::new(Vec::new()),
            reload_errors: Mutex::new(BTreeMap::new()),
            control: Mutex::new(false),
            shut_down: AtomicBool::new(false),
            ticking: Some(ticking),
            signer,
            outbox,
            metrics,
            queue: std::sync::OnceLock::new(),
            drain: self.config.dispatch.drain_deadline(),
            dispatch_config: self.config.dispatch.clone(),
        };
        let mut entries = Vec::with_capacity(self.config.listeners.len());
        for l in &self.config.listeners {
            let entry = host.loader.load(l, Arc::default(), 1).map_err(HostError::from).and_then(|listener| host.entry(Arc::new(listener)));
            match entry {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    // Shut down here, not on the thread `drop` would start: the outbox (and
                    // its spool's lock) is released before the error is returned, so a build
                    // with the listener fixed can follow at once.
                    host.shutdown();
                    return Err(e);
                }
            }
        }
        for e in &entries {
            e.listener.start();
            log_loaded(&e.listener);
        }
        host.set.store(Arc::new(entries));
        *host.configs.lock() = self.config.listeners.clone();
        Ok(host)
    }
}

fn log_loaded(listener: &Listener) {
    let status = listener.status();
    let handles: Vec<&str> = status.handles.iter().map(|k| k.as_str()).collect();
    tracing::info!(listener = %status.name, state = ?status.health, handles = ?handles, version = status.version, "listener loaded");
}

/// Compiles and starts listener versions: at build, and for every reload.
struct Loader {
    shared: Shared,
    base: Linker<State>,
    /// Built the first time a listener with `wasi = true` loads.
    with_wasi: std::sync::OnceLock<Linker<State>>,
    defaults: Limits,
}

impl Loader {
    /// Read, compile and check one listener's module (nothing of the guest runs).
    fn load(&self, l: &ListenerConfig, counters: Arc<Counters>, version: u32) -> Result<Listener, LoadError> {
        let spec = ListenerSpec {
            name: l.name(),
            path: l.path.clone(),
            enabled: l.enabled,
            properties: l.properties.clone(),
            limits: l.limits.over(&self.defaults),
            wasi: l.wasi,
            set_policy: l.set_policy(),
            sinks: l.sinks.clone(),
            mode: l.mode,
            on_full: l.on_full,
        };
        let linker = match l.wasi {
            false => &self.base,
            true => match self.with_wasi.get() {
                Some(linker) => linker,
                None => {
                    let linker = imports::linker(&self.shared.engine, true).map_err(|e| LoadError {
                        name: spec.name.clone(),
                        path: spec.path.display().to_string(),
                        message: format!("cannot link WASI: {e:#}"),
                    })?;
                    self.with_wasi.get_or_init(|| linker)
                }
            },
        };
        Listener::load(spec, self.shared.clone(), linker, counters, version)
    }
}

/// One listener of the current set, and its place in the async queue when it is async.
#[derive(Clone)]
pub(crate) struct Entry {
    pub listener: Arc<Listener>,
    pub lane: Option<Arc<Lane>>,
    /// An async listener's deliveries at hand-off (queued, queue full, disabled), built once:
    /// `dispatch_with` lends them, so an async listener costs the issuing thread no clone.
    handed_off: Option<Arc<[Delivery; 3]>>,
}

/// What handing an event to the async queue came to; the index of its delivery in
/// `Entry::handed_off`.
#[derive(Clone, Copy)]
enum HandOff {
    Queued = 0,
    QueueFull = 1,
    Disabled = 2,
}

impl Entry {
    fn new(listener: Arc<Listener>, lane: Option<Arc<Lane>>) -> Entry {
        let handed_off = lane.as_ref().map(|_| {
            let delivery = |outcome| Delivery { listener: listener.name().clone(), outcome, fuel: 0, micros: 0 };
            // Indexed by `HandOff`.
            Arc::new([delivery(Outcome::Queued), delivery(Outcome::QueueFull), delivery(Outcome::Disabled)])
        });
        Entry { listener, lane, handed_off }
    }
}

/// Runs token issue event listeners. `Send + Sync`: share it (`Arc<Host>`) and dispatch
/// from every issuing thread.
pub struct Host {
    /// The listeners, in configuration order; swapped whole on reload, read without a lock.
    set: Set,
    loader: Loader,
    /// The configuration of each listener in `set` (what a reload reads again).
    configs: Mutex<Vec<ListenerConfig>>,
    /// The file and why the last reload of a listener failed, by name (the old version keeps
    /// serving; a name with no version is `load-failed`, until it loads or is removed).
    reload_errors: Mutex<BTreeMap<String, (std::path::PathBuf, String)>>,
    /// Held by reloads and shutdown, one at a time; `true` once shut down.
    control: Mutex<bool>,
    shut_down: AtomicBool,
    /// Keeps the epoch ticking (and deadlines firing) until the host is gone, the shutdown
    /// that `drop` starts included.
    ticking: Option<Ticking>,
    signer: Option<Arc<crate::signing::Signer>>,
    outbox: Option<Arc<Outbox>>,
    metrics: Arc<GuestMetrics>,
    /// The async listeners' queue and dispatchers; started with the first async listener.
    queue: std::sync::OnceLock<Arc<Queue>>,
    drain: Duration,
    dispatch_config: crate::config::DispatchConfig,
}

impl Host {
    pub fn builder(config: Config) -> HostBuilder {
        HostBuilder {
            config,
            log_sink: Arc::new(TracingSink),
            fuel: true,
        }
    }

    /// The set entry for a loaded listener: an async one gets a lane (starting the queue
    /// if this is the first async listener).
    fn entry(&self, listener: Arc<Listener>) -> Result<Entry, HostError> {
        let lane = match listener.spec().mode {
            Mode::Sync => None,
            Mode::Async => Some(self.queue()?.lane(listener.spec().on_full)),
        };
        Ok(Entry::new(listener, lane))
    }

    fn queue(&self) -> Result<&Arc<Queue>, HostError> {
        if let Some(queue) = self.queue.get() {
            return Ok(queue);
        }
        let queue = Queue::start(self.dispatch_config.queue(), self.dispatch_config.threads(), self.dispatch_config.batch(), self.set.clone())
            .map_err(|e| HostError::Engine(format!("cannot start the dispatcher threads: {e}")))?;
        Ok(self.queue.get_or_init(|| queue))
    }

    /// Deliver one event to every listener, in configuration order. Never fails: what
    /// happened at each listener is in the returned deliveries and counters.
    ///
    /// Sync listeners (the default) run on this thread, which waits for them (each
    /// listener's share is bounded by its deadline for the wait for its lock plus its
    /// deadline for the call, with a fresh instance's start on top when one is needed).
    /// Async listeners get the event through the shared queue (`Outcome::Queued`) and run
    /// on a dispatcher thread. In an async server with sync listeners, call it on the
    /// blocking pool, for example `tokio::task::spawn_blocking(move || host.dispatch(&event))`,
    /// never on an executor thread; with async listeners only, it returns at once.
    pub fn dispatch(&self, event: &Arc<TokenEvent>) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        self.dispatch_with(event, |d| deliveries.push(d.clone()));
        deliveries
    }

    /// [`Host::dispatch`] without collecting: `each` is lent every listener's delivery as it
    /// happens (clone what you keep). Allocates nothing per event when no listener traps, and
    /// costs the issuing thread the same for 1 or 50 async listeners.
    pub fn dispatch_with(&self, event: &Arc<TokenEvent>, mut each: impl FnMut(&Delivery)) {
        thread_local! {
            /// The encoding buffers of this thread's dispatches, reused from one to the next.
            static ENCODINGS: std::cell::Cell<Encodings> = std::cell::Cell::default();
        }
        let set = self.set.load();
        let mut round = Round::new(ENCODINGS.take());
        // Async listeners: one push for all of them, at the first one.
        let mut queued = None;
        for e in set.iter() {
            match &e.handed_off {
                None => each(&e.listener.deliver(event, &mut round)),
                Some(handed_off) => {
                    let outcome = *queued.get_or_insert_with(|| self.hand_off(event, &set));
                    each(&handed_off[outcome as usize]);
                }
            }
        }
        ENCODINGS.set(round.into_encodings());
    }

    /// Push `event` into the async queue: every async listener's outcome.
    fn hand_off(&self, event: &Arc<TokenEvent>, set: &[Entry]) -> HandOff {
        match (self.queue.get(), self.shut_down.load(Ordering::Acquire)) {
            (Some(queue), false) => match queue.push(event, set) {
                Ok(()) => HandOff::Queued,
                Err(Full) => HandOff::QueueFull,
            },
            _ => HandOff::Disabled,
        }
    }

    /// The SPI's `idTokenIssued` / `accessTokenIssued`, for an event not yet shared.
    pub fn dispatch_event(&self, event: TokenEvent) -> Vec<Delivery> {
        self.dispatch(&Arc::new(event))
    }

    /// Every listener's health and counters, in configuration order, then the listeners
    /// whose every load failed (`load-failed`). Never waits on a guest.
    pub fn status(&self) -> Vec<ListenerStatus> {
        let set = self.set.load();
        let errors = self.reload_errors.lock().clone();
        let mut statuses: Vec<ListenerStatus> = set
            .iter()
            .map(|e| {
                let mut status = e.listener.status();
                if let (Some(lane), Some(queue)) = (&e.lane, self.queue.get()) {
                    status.queue_depth = queue.depth(lane);
                }
                status.reload_error = errors.get(&status.name).map(|(_, why)| why.clone());
                status
            })
            .collect();
        for (name, (path, error)) in errors.iter().filter(|(name, _)| !set.iter().any(|e| &**e.listener.name() == name.as_str())) {
            statuses.push(ListenerStatus::load_failed(name, path.clone(), error));
        }
        statuses
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
        self.set.load().iter().map(|e| e.listener.name().to_string()).collect()
    }

    /// Enable or disable a listener by name. Enabling starts it afresh (a new instance and
    /// `init`), which also releases it from quarantine or a failed `init`.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<ListenerStatus, ReloadError> {
        let _control = self.control.lock();
        let set = self.set.load();
        let entry = set.iter().find(|e| &**e.listener.name() == name).ok_or_else(|| ReloadError::UnknownListener(name.to_owned()))?;
        entry.listener.set_enabled(enabled);
        tracing::info!(listener = name, enabled, "listener {} by the operator", if enabled { "enabled" } else { "disabled" });
        Ok(entry.listener.status())
    }

    /// Load the listener's module again (its file may have changed) and swap the new version
    /// in; see [`Host::load_listener`].
    pub fn reload(&self, name: &str) -> Result<ListenerStatus, ReloadError> {
        let config = self.configs.lock().iter().find(|c| c.name() == name).cloned();
        let config = config.ok_or_else(|| ReloadError::UnknownListener(name.to_owned()))?;
        self.load_listener(config)
    }

    /// Add a listener, or replace the one of the same name, without stopping the others:
    /// the new version is compiled, checked, instantiated and `init`-ed off the dispatch
    /// path, and swapped in only when all of that succeeded. Events the old version has
    /// taken finish there; later events go to the new one; then the old version's
    /// `shutdown` runs. Anything that fails leaves the old version serving, and the reason
    /// in the log and in the listener's status (`reload_error`).
    pub fn load_listener(&self, config: ListenerConfig) -> Result<ListenerStatus, ReloadError> {
        let control = self.control.lock();
        if *control {
            return Err(ReloadError::ShutDown);
        }
        let name = config.name();
        let set = self.set.load_full();
        let old = set.iter().position(|e| **e.listener.name() == *name);
        let (counters, version) = match old {
            Some(i) => (set[i].listener.counters().clone(), set[i].listener.version() + 1),
            None => (Arc::default(), 1),
        };
        let fail = |why: String| {
            tracing::warn!(listener = %name, "reload failed, {}: {why}", if old.is_some() { "the running version keeps serving" } else { "not loaded" });
            self.reload_errors.lock().insert(name.clone(), (config.path.clone(), why.clone()));
            Err(ReloadError::Failed { listener: name.clone(), reason: why })
        };
        let listener = match self.loader.load(&config, counters, version) {
            Ok(l) => Arc::new(l),
            Err(e) => return fail(e.message),
        };
        listener.start();
        let status = listener.status();
        if let Health::InitFailed(why) = &status.health {
            return fail(format!("init failed: {why}"));
        }
        // The lane (the place in the async queue) carries over when the mode does.
        let lane = match (old.and_then(|i| set[i].lane.clone()), config.mode) {
            (Some(lane), Mode::Async) if lane.on_full() == config.on_full => Some(lane),
            _ => self.entry(listener.clone()).map_err(|e| ReloadError::Failed { listener: name.clone(), reason: e.to_string() })?.lane,
        };
        let mut entries = (*set).clone();
        let retired = match old {
            Some(i) => Some(std::mem::replace(&mut entries[i], Entry::new(listener.clone(), lane))),
            None => {
                entries.push(Entry::new(listener.clone(), lane));
                None
            }
        };
        self.set.store(Arc::new(entries));
        drop(set);
        {
            let mut configs = self.configs.lock();
            configs.retain(|c| c.name() != name);
            configs.push(config);
        }
        self.reload_errors.lock().remove(&name);
        tracing::info!(listener = %name, version, sha256 = %listener.sha256(), "listener version swapped in");
        if let Some(retired) = retired {
            self.retire(retired, Some(&listener));
        }
        drop(control);
        Ok(listener.status())
    }

    /// Remove a listener: later events no longer reach it; its queued events are worked
    /// through, then its `shutdown` runs.
    pub fn remove_listener(&self, name: &str) -> Result<(), ReloadError> {
        let _control = self.control.lock();
        let set = self.set.load_full();
        let Some(i) = set.iter().position(|e| &**e.listener.name() == name) else {
            // A listener whose every load failed is only its `load-failed` status: forget it.
            if self.reload_errors.lock().remove(name).is_none() {
                return Err(ReloadError::UnknownListener(name.to_owned()));
            }
            self.configs.lock().retain(|c| c.name() != name);
            tracing::info!(listener = name, "listener removed (it had never loaded)");
            return Ok(());
        };
        if let (Some(lane), Some(queue)) = (&set[i].lane, self.queue.get()) {
            wait_until(self.drain, || queue.depth(lane) == 0);
        }
        let mut entries = (*set).clone();
        let retired = entries.remove(i);
        self.set.store(Arc::new(entries));
        drop(set);
        self.configs.lock().retain(|c| c.name() != name);
        self.reload_errors.lock().remove(name);
        tracing::info!(listener = name, "listener removed");
        self.retire(retired, None);
        Ok(())
    }

    /// Wait until no dispatch uses `retired` any more, then call its `shutdown`.
    fn retire(&self, retired: Entry, successor: Option<&Arc<Listener>>) {
        if let (Some(lane), Some(queue)) = (&retired.lane, self.queue.get()) {
            if !successor.is_some_and(|_| self.set.load().iter().any(|e| e.lane.as_ref().is_some_and(|l| Arc::ptr_eq(l, lane)))) {
                queue.release(lane);
            }
        }
        let listener = retired.listener;
        // Dispatches in progress hold the old set (and so this version) until they end;
        // each is bounded by the deadlines of its listeners.
        wait_until(Duration::from_secs(30), || Arc::strong_count(&listener) == 1);
        listener.shutdown();
        tracing::info!(listener = %listener.name(), version = listener.version(), "old version shut down");
    }

    /// Stop taking events, let async listeners work through their queue until
    /// `[dispatch] drain_ms` (the rest is dropped, counted with the reason `shutdown`), call
    /// every listener's `shutdown` once (each under its deadline), then let the outbox
    /// deliver what is queued within `[outbox] shutdown_ms` and spool the rest. Later events
    /// are counted as dropped (`disabled`). A second call returns when the first has
    /// finished. Dropping the host without calling it starts it on a thread of its own.
    pub fn shutdown(&self) {
        let mut done = self.control.lock();
        if *done {
            return;
        }
        self.shut_down.store(true, Ordering::Release);
        self.teardown(None).run();
        *done = true;
    }
}

/// Poll `done` every millisecond, for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Why a reload, enable or disable did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no listener is named {0:?}")]
    UnknownListener(String),
    /// The new version could not be loaded or started; the old one keeps serving.
    #[error("listener {listener:?}: {reason}")]
    Failed { listener: String, reason: String },
    #[error("the host is shutting down")]
    ShutDown,
}

impl Drop for Host {
    /// Never on the dropping thread (an issuing thread, perhaps): the shutdown runs on a
    /// thread of its own, which keeps what it needs alive until it is done.
    fn drop(&mut self) {
        if *self.control.lock() {
            return;
        }
        let ticking = self.ticking.take();
        let teardown = self.teardown(ticking);
        let spawned = std::thread::Builder::new().name("tokenwatch-shutdown".into()).spawn(move || teardown.run());
        if let Err(e) = spawned {
            tracing::error!("cannot start the shutdown thread, listeners not shut down: {e}");
        }
    }
}

impl Host {
    /// What shutting down needs, apart from the host (a dropped host's shutdown runs on a
    /// thread of its own, with the epoch `ticking` until it is done).
    fn teardown(&self, ticking: Option<Ticking>) -> Teardown {
        Teardown {
            set: self.set.clone(),
            queue: self.queue.get().cloned(),
            outbox: self.outbox.clone(),
            drain: self.drain,
            _ticking: ticking,
        }
    }
}

/// Shutting down: the async queue drained, every listener's `shutdown`, the outbox drained.
struct Teardown {
    set: Set,
    queue: Option<Arc<Queue>>,
    outbox: Option<Arc<Outbox>>,
    drain: Duration,
    _ticking: Option<Ticking>,
}

impl Teardown {
    fn run(self) {
        if let Some(queue) = &self.queue {
            queue.shutdown(Instant::now() + self.drain);
        }
        for e in self.set.load().iter() {
            e.listener.shutdown();
        }
        if let Some(outbox) = &self.outbox {
            outbox.shutdown();
        }
    }
}
