//! One loaded listener and its life: load (validate), prepare (pre-instantiate), instantiate
//! and `init`, call, drop. A trap drops the instance; the next event gets a fresh one.
//!
//! Concurrency: a listener has one instance (its state lives across events, as a Java
//! listener's fields do), behind its own mutex, so it serves one call at a time while other
//! listeners run in parallel on other threads. A caller waits for the lock at most the
//! listener's deadline, then counts the event as dropped (`busy`): issuance is never held
//! longer than the deadlines of the listeners it calls. Health and the last trap sit behind
//! a second, short lock that is never held during a guest call, so `status` never waits on
//! a guest.

use crate::runtime::bindings::{v0_1, v0_2};
use crate::runtime::encoding::{Declared, Encodings, Projections};
use crate::event::{EventKind, TokenEvent};
use crate::imports::config::{as_pairs, Properties};
use crate::imports::log::{LogCtx, LogQueue, LogSink};
use crate::imports::metrics::MetricsCtx;
use crate::imports::publish::PublishCtx;
use crate::imports::signer::SignerCtx;
use crate::imports::token::{ClaimsView, ContextView};
use crate::imports::log::MAX_MESSAGE_BYTES;
use crate::runtime::limits::{arm, guest_transfer_cap, CallDeadline, GuestLimiter, Limits, TrapCause};
use crate::text::{escape_control, for_humans};
use crate::runtime::validate;
use crate::runtime::cache::Source;
use crate::runtime::state::{wasi_ctx, State};
use crate::runtime::status::{Counters, Health, ListenerStatus};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, InstancePre, Linker, Resource, ResourceTable};
use wasmtime::{Engine, Store};

/// What happened to one event at one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The handler returned.
    Ok,
    /// The call trapped; the instance was dropped.
    Trap { cause: TrapCause, message: String },
    /// The listener does not export the handler for this kind of event.
    Skipped,
    /// Disabled by configuration, by `is-enabled`, by a failed `init`, or shut down.
    Disabled,
    /// Quarantined after too many traps in a row.
    Quarantined,
    /// The listener was still busy with another call when this one's deadline passed.
    Busy,
    /// An async listener: the event is in its queue; the outcome of the call is counted
    /// when it runs.
    Queued,
    /// An async listener with `on_full = "reject"` whose queue is full: the event was not
    /// taken.
    QueueFull,
}

impl Outcome {
    /// The word used in `replay` output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Trap { .. } => "trap",
            Outcome::Skipped => "skipped",
            Outcome::Disabled => "disabled",
            Outcome::Quarantined => "quarantined",
            Outcome::Busy => "busy",
            Outcome::Queued => "queued",
            Outcome::QueueFull => "queue-full",
        }
    }
}

/// The result of delivering one event to one listener.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub listener: Arc<str>,
    pub outcome: Outcome,
    /// Fuel the handler consumed (0 when it was not called).
    pub fuel: u64,
    /// Wall-clock time of the handler call in microseconds (0 when it was not called).
    pub micros: u64,
}

/// What one dispatch shares between its listeners: the clock (each reading ends one
/// listener's call and starts the next one's, so timing N listeners takes N + 1 clock reads,
/// not 2N) and the event's encodings (one per distinct projection).
pub(crate) struct Round {
    clock: Clock,
    encodings: Encodings,
}

impl Round {
    /// A round that encodes into `encodings`' buffers (the previous event's are cleared).
    pub fn new(mut encodings: Encodings) -> Self {
        encodings.clear();
        Round { clock: Clock::default(), encodings }
    }

    /// The buffers, for the next round.
    pub fn into_encodings(self) -> Encodings {
        self.encodings
    }
}

#[derive(Default)]
struct Clock(Option<Instant>);

impl Clock {
    fn now(&mut self) -> Instant {
        *self.0.get_or_insert_with(Instant::now)
    }

    /// Microseconds since `started`; the reading starts the next call.
    fn since(&mut self, started: Instant) -> u64 {
        let now = Instant::now();
        self.0 = Some(now);
        now.duration_since(started).as_micros() as u64
    }
}

impl Delivery {
    /// `fuel` is a lower bound, not the exact fuel the call used: the call trapped between
    /// two of the guest's calls (see [`TrapCause::fuel_is_exact`]).
    pub fn fuel_is_lower_bound(&self) -> bool {
        matches!(&self.outcome, Outcome::Trap { cause, .. } if !cause.fuel_is_exact())
    }
}

/// The resolved settings of one listener.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    pub name: String,
    pub path: PathBuf,
    pub enabled: bool,
    pub properties: Properties,
    pub limits: Limits,
    pub wasi: bool,
    /// Audiences and per-call quota for this listener's SETs.
    pub set_policy: crate::signing::SetPolicy,
    /// The sinks it may publish to.
    pub sinks: Vec<String>,
    pub mode: crate::config::Mode,
    pub on_full: crate::config::OnFull,
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("listener {name:?} ({path}): {message}")]
pub struct LoadError {
    pub name: String,
    pub path: String,
    pub message: String,
}

/// Export indices, looked up once per module, of the contract version it was built for.
enum Exports {
    V0_2 {
        lifecycle: v0_2::lifecycle::GuestIndices,
        id_token: Option<v0_2::id_token_listener::GuestIndices>,
        access_token: Option<v0_2::access_token_listener::GuestIndices>,
        batch: Option<v0_2::batch_listener::GuestIndices>,
    },
    V0_1 {
        lifecycle: v0_1::lifecycle::GuestIndices,
        id_token: Option<v0_1::id_token_listener::GuestIndices>,
        access_token: Option<v0_1::access_token_listener::GuestIndices>,
    },
}

/// A live instance's typed exports.
enum Typed {
    V0_2 {
        lifecycle: v0_2::lifecycle::Guest,
        id_token: Option<v0_2::id_token_listener::Guest>,
        access_token: Option<v0_2::access_token_listener::Guest>,
        batch: Option<v0_2::batch_listener::Guest>,
        /// What its `init` declared.
        declared: Declared,
    },
    V0_1 {
        lifecycle: v0_1::lifecycle::Guest,
        id_token: Option<v0_1::id_token_listener::Guest>,
        access_token: Option<v0_1::access_token_listener::Guest>,
    },
}

/// A live instance and its typed exports.
struct Live {
    store: Store<State>,
    typed: Typed,
}

/// What `status` reads: behind its own lock, never held during a guest call.
struct Slot {
    health: Health,
    consecutive_traps: u32,
    /// The last trap, as `cause: message`.
    last_trap: Option<String>,
    /// What is wrong with the configuration for this listener (properties it does not
    /// accept), found at its last start.
    warnings: Vec<String>,
}

/// Everything a store needs from the host.
#[derive(Clone)]
pub(crate) struct Shared {
    pub engine: Engine,
    pub log_sink: Arc<dyn LogSink>,
    /// The SET signer (`[signing]`), shared by every listener; `None` without a key.
    pub signer: Option<Arc<crate::signing::Signer>>,
    /// Whether the engine meters fuel (not `HostBuilder::epoch_only`).
    pub fuel: bool,
    /// The host's distinct claim projections (contract 0.2).
    pub projections: Arc<Projections>,
    /// Where `publish` goes; `None` without sinks.
    pub outbox: Option<Arc<crate::outbox::Outbox>>,
    /// What listeners report through `metrics`.
    pub metrics: Arc<crate::imports::metrics::GuestMetrics>,
    /// Compiled components: on disk (`[cache]`) and of this host's earlier listeners.
    pub cache: crate::runtime::cache::ArtifactCache,
}

pub(crate) struct Listener {
    name: Arc<str>,
    spec: ListenerSpec,
    shared: Shared,
    pre: InstancePre<State>,
    exports: Exports,
    /// The instance; held for the whole of a call.
    live: Mutex<Option<Live>>,
    /// The guest's log lines, handed to the sink after each call with `live` released.
    log: Arc<LogQueue>,
    slot: Mutex<Slot>,
    /// Shared by every version of the listener (a reload keeps counting).
    counters: Arc<Counters>,
    /// What loading cost: the file's size and the compile time (or the time to load it
    /// from the cache, `from_cache`).
    module_bytes: u64,
    compile_ms: u64,
    /// The SHA-256 of the component file, hex.
    sha256: String,
    /// 1 for the first version loaded under this name, then one more per reload.
    version: u32,
    from_cache: bool,
}

impl Listener {
    /// Load: read, compile, check imports and exports, pre-link. Nothing of the guest runs.
    /// `counters` and `version` carry on from the version this one replaces, if any.
    pub fn load(
        spec: ListenerSpec,
        shared: Shared,
        linker: &Linker<State>,
        counters: Arc<Counters>,
        version: u32,
    ) -> Result<Listener, LoadError> {
        let fail = |message: String| LoadError {
            name: spec.name.clone(),
            path: spec.path.display().to_string(),
            message,
        };
        let bytes = read_module(&spec.path, &spec.limits).map_err(fail)?;
        // Cheap checks of the bytes first: compiling is what costs.
        validate::check_core_instances(&bytes).map_err(fail)?;
        let started = Instant::now();
        let loaded = shared.cache.load(&bytes, |bytes| compile(&shared.engine, bytes)).map_err(fail)?;
        let (component, source, sha256) = (loaded.component, loaded.source, crate::runtime::cache::hex(&loaded.sha256));
        let compile_ms = started.elapsed().as_millis() as u64;
        // Compile time grows with the module and is spent before the listener can serve:
        // say what it cost, loudly when it is long.
        if source == Source::Disk {
            tracing::info!(listener = %spec.name, bytes = bytes.len(), load_ms = compile_ms, "loaded from the artifact cache");
        } else if source == Source::Memory {
            tracing::info!(listener = %spec.name, bytes = bytes.len(), "reused the component of an earlier listener with the same module");
        } else if compile_ms >= SLOW_COMPILE_MS {
            tracing::warn!(listener = %spec.name, bytes = bytes.len(), compile_ms, "slow compile");
        } else {
            tracing::info!(listener = %spec.name, bytes = bytes.len(), compile_ms, "compiled");
        }
        validate::check_imports(&shared.engine, &component, spec.wasi).map_err(fail)?;
        validate::check_static_limits(&component, &spec.limits).map_err(fail)?;
        let module_bytes = bytes.len() as u64;
        drop(bytes);
        let handlers = validate::check_exports(linker, &component).map_err(fail)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| fail(format!("cannot link: {e:#}")))?;
        let index_error = |e: wasmtime::Error| fail(format!("cannot find its exports: {e:#}"));
        let exports = match handlers.contract {
            validate::Contract::V0_2 => Exports::V0_2 {
                lifecycle: v0_2::lifecycle::GuestIndices::new(&pre).map_err(index_error)?,
                id_token: handlers.id_token.then(|| v0_2::id_token_listener::GuestIndices::new(&pre)).transpose().map_err(index_error)?,
                access_token: handlers.access_token.then(|| v0_2::access_token_listener::GuestIndices::new(&pre)).transpose().map_err(index_error)?,
                batch: handlers.batch.then(|| v0_2::batch_listener::GuestIndices::new(&pre)).transpose().map_err(index_error)?,
            },
            validate::Contract::V0_1 => Exports::V0_1 {
                lifecycle: v0_1::lifecycle::GuestIndices::new(&pre).map_err(index_error)?,
                id_token: handlers.id_token.then(|| v0_1::id_token_listener::GuestIndices::new(&pre)).transpose().map_err(index_error)?,
                access_token: handlers.access_token.then(|| v0_1::access_token_listener::GuestIndices::new(&pre)).transpose().map_err(index_error)?,
            },
        };
        let health = if spec.enabled {
            Health::Starting
        } else {
            Health::Disabled("disabled in configuration".to_owned())
        };
        let name: Arc<str> = spec.name.as_str().into();
        let log = Arc::new(LogQueue::new(name.clone(), shared.log_sink.clone(), counters.logs_dropped.clone()));
        Ok(Listener {
            log,
            name,
            spec,
            shared,
            pre,
            exports,
            live: Mutex::new(None),
            slot: Mutex::new(Slot {
                health,
                consecutive_traps: 0,
                last_trap: None,
                warnings: Vec::new(),
            }),
            counters,
            module_bytes,
            compile_ms,
            sha256,
            version,
            from_cache: source.from_cache(),
        })
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub fn handles(&self, kind: EventKind) -> bool {
        match (&self.exports, kind) {
            (Exports::V0_2 { id_token, .. }, EventKind::IdToken) => id_token.is_some(),
            (Exports::V0_2 { access_token, .. }, EventKind::AccessToken) => access_token.is_some(),
            (Exports::V0_1 { id_token, .. }, EventKind::IdToken) => id_token.is_some(),
            (Exports::V0_1 { access_token, .. }, EventKind::AccessToken) => access_token.is_some(),
        }
    }

    /// The contract version the component was built against.
    pub fn contract(&self) -> &'static str {
        match self.exports {
            Exports::V0_2 { .. } => "0.2.0",
            Exports::V0_1 { .. } => "0.1.0",
        }
    }

    pub fn spec(&self) -> &ListenerSpec {
        &self.spec
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Instantiate and `init` now, so a listener that cannot start says so at load time. A
    /// trap here is not an event's: it is counted as `init_traps`, does not count toward
    /// quarantine, and leaves the listener `init-trapped` with the trap; the next event tries
    /// a fresh instance.
    pub fn start(&self) {
        let mut live = self.live.lock();
        if !matches!(self.slot.lock().health, Health::Starting) {
            return;
        }
        if let Err(trapped) = self.start_live(&mut live) {
            let cause = TrapCause::of(&trapped.error);
            let message = trapped.message(cause);
            self.counters.init_traps.inc();
            tracing::warn!(listener = %self.name, cause = cause.as_str(), "init trapped, listener not started: {}", escape_control(&message));
            let mut slot = self.slot.lock();
            slot.last_trap = Some(format!("init: {cause}: {message}"));
            slot.health = Health::InitTrapped(format!("{cause}: {message}"));
        }
        drop(live);
        self.log.flush();
    }

    /// Enable (again) or disable by the operator: an enabled listener starts afresh (a new
    /// instance and `init`), which also releases it from quarantine or a failed `init`.
    pub fn set_enabled(&self, enabled: bool) {
        let mut live = self.live.lock();
        if let Some(old) = live.take() {
            drop(live);
            self.call_shutdown(old);
            live = self.live.lock();
        }
        {
            let mut slot = self.slot.lock();
            if matches!(slot.health, Health::ShutDown) {
                return;
            }
            slot.consecutive_traps = 0;
            slot.health = match enabled {
                true => Health::Starting,
                false => Health::Disabled("disabled by the operator".to_owned()),
            };
        }
        drop(live);
        if enabled {
            self.start();
        }
    }

    /// Deliver one event: the dispatch path.
    pub fn deliver(&self, event: &Arc<TokenEvent>, round: &mut Round) -> Delivery {
        let (outcome, fuel, micros) = self.call(event, round);
        Delivery { listener: self.name.clone(), outcome, fuel, micros }
    }

    /// [`Listener::deliver`] without the `Delivery` (an async dispatcher has no one to tell,
    /// and cloning the name would share its cache line with the issuing threads).
    pub fn call(&self, event: &Arc<TokenEvent>, round: &mut Round) -> (Outcome, u64, u64) {
        let delivery = |outcome, fuel, micros| (outcome, fuel, micros);
        self.counters.events.inc();
        if !self.handles(event.kind) {
            self.counters.skipped.inc();
            return delivery(Outcome::Skipped, 0, 0);
        }
        let mut slot = match self.take_live(1) {
            Ok(slot) => slot,
            Err(outcome) => {
                self.log.flush(); // what a failed `init` logged
                return delivery(outcome, 0, 0);
            }
        };
        let live = slot.as_mut().expect("take_live leaves an instance");
        let started = round.clock.now();
        let result = call_handler(live, event, &self.spec.limits, &mut round.encodings);
        let micros = round.clock.since(started);
        let fuel = self.fuel_used(live);
        self.counters.fuel.add(fuel);
        self.counters.micros.add(micros);
        let outcome = match result {
            Ok(()) => {
                self.slot.lock().consecutive_traps = 0;
                self.counters.delivered.inc();
                Outcome::Ok
            }
            Err(error) => {
                let last_error = live.store.data_mut().log.take_last_error();
                self.trapped(&mut slot, "handler", Trapped { error, last_error })
            }
        };
        drop(slot);
        self.log.flush();
        delivery(outcome, fuel, micros)
    }

    /// Whether the component exports `batch-listener`, so queued events can go several per
    /// call ([`Listener::call_batch`]).
    pub fn batches(&self) -> bool {
        matches!(self.exports, Exports::V0_2 { batch: Some(_), .. })
    }

    /// Deliver queued events (async mode) in one `batch-listener` call, each event under its
    /// own budgets (`imports::batch`). A trap at event k loses only event k: the events
    /// before it were delivered, and the ones after it go to a fresh instance. Events of a
    /// kind the listener does not handle are skipped; `events` is left holding the others.
    /// For a listener without the export, see [`Listener::batches`].
    pub fn call_batch(&self, events: &mut Vec<Arc<TokenEvent>>, buffers: &mut Vec<v0_2::batch_listener::IssuedToken>) {
        self.counters.events.add(events.len() as u64);
        let before = events.len();
        events.retain(|e| self.handles(e.kind));
        self.counters.skipped.add((before - events.len()) as u64);
        let mut from = 0;
        while from < events.len() {
            let rest = &events[from..];
            let left = rest.len() as u64;
            let mut slot = match self.take_live(left) {
                Ok(slot) => slot,
                // A trap in `init` is the first event's, as with one call per event.
                Err(Outcome::Trap { .. }) => {
                    self.log.flush();
                    from += 1;
                    continue;
                }
                Err(_) => return self.log.flush(),
            };
            let live = slot.as_mut().expect("take_live leaves an instance");
            let started = Instant::now();
            self.counters.batch_calls.inc();
            let result = call_batch_handler(live, rest, &self.spec.limits, buffers);
            self.counters.micros.add(started.elapsed().as_micros() as u64);
            let at = live.store.data_mut().batch.finish();
            self.counters.fuel.add(live.store.data().batch.fuel_used + self.fuel_used(live));
            let delivered = if result.is_ok() { rest.len() } else { at };
            if delivered > 0 {
                self.slot.lock().consecutive_traps = 0;
                self.counters.delivered.add(delivered as u64);
            }
            let Err(error) = result else {
                drop(slot);
                return self.log.flush();
            };
            let last_error = live.store.data_mut().log.take_last_error();
            self.trapped(&mut slot, "handler", Trapped { error, last_error });
            drop(slot);
            self.log.flush();
            from += at + 1;
        }
    }

    /// The instance, locked and started, for a call that delivers `events` events; or why
    /// not, with those events counted as dropped for that reason (a trap in `init` is counted
    /// by `trapped`).
    fn take_live(&self, events: u64) -> Result<parking_lot::MutexGuard<'_, Option<Live>>, Outcome> {
        let Some(mut slot) = self.live.try_lock_for(self.spec.limits.deadline) else {
            self.counters.dropped_busy.add(events);
            return Err(Outcome::Busy);
        };
        if let Err(outcome) = self.ensure_live(&mut slot) {
            match outcome {
                Outcome::Disabled => self.counters.dropped_disabled.add(events),
                Outcome::Quarantined => self.counters.dropped_quarantined.add(events),
                _ => {}
            }
            return Err(outcome);
        }
        Ok(slot)
    }

    /// Fuel the last call (or batch event) used. No `get_fuel` on an engine without fuel:
    /// there it returns an error, and creating one captures a backtrace when RUST_BACKTRACE
    /// is set (microseconds).
    fn fuel_used(&self, live: &Live) -> u64 {
        if !self.shared.fuel {
            return 0;
        }
        live.store.get_fuel().map_or(0, |left| self.spec.limits.fuel.saturating_sub(left))
    }

    /// Make sure there is a live, enabled instance; otherwise say why not.
    fn ensure_live(&self, live: &mut Option<Live>) -> Result<(), Outcome> {
        match &self.slot.lock().health {
            Health::Active | Health::Starting | Health::InitTrapped(_) => {}
            Health::Quarantined(_) => return Err(Outcome::Quarantined),
            Health::Disabled(_) | Health::InitFailed(_) | Health::LoadFailed(_) | Health::ShutDown => {
                return Err(Outcome::Disabled)
            }
        }
        if live.is_some() {
            return Ok(());
        }
        match self.start_live(live) {
            Ok(started) => started,
            Err(trapped) => Err(self.trapped(live, "init", trapped)),
        }
    }

    /// Instantiate, `init` and `is-enabled`, and record what came of it; `Err` is a trap,
    /// for the caller to count.
    fn start_live(&self, live: &mut Option<Live>) -> Result<Result<(), Outcome>, Trapped> {
        self.counters.instantiations.inc();
        let started = self.instantiate()?;
        let mut slot = self.slot.lock();
        Ok(match started {
            Started::Enabled(started) => {
                let warnings = self.config_warnings(&started.typed);
                if warnings != slot.warnings {
                    for w in &warnings {
                        tracing::warn!(listener = %self.name, "{w}");
                    }
                    slot.warnings = warnings;
                }
                *live = Some(started);
                slot.health = Health::Active;
                Ok(())
            }
            Started::NotEnabled => {
                tracing::info!(listener = %self.name, "listener disabled: is-enabled returned false");
                slot.health = Health::Disabled("is-enabled returned false".to_owned());
                Err(Outcome::Disabled)
            }
            Started::InitFailed(message) => {
                tracing::warn!(listener = %self.name, "init failed, listener disabled: {message}");
                slot.health = Health::InitFailed(message);
                self.counters.init_failures.inc();
                Err(Outcome::Disabled)
            }
        })
    }

    /// The properties this listener was given but does not accept (a misspelt key would
    /// otherwise be ignored without a word).
    fn config_warnings(&self, typed: &Typed) -> Vec<String> {
        let Typed::V0_2 { declared: Declared { properties: Some(accepted), .. }, .. } = typed else {
            return Vec::new();
        };
        let accepts = if accepted.is_empty() {
            "it accepts none".to_owned()
        } else {
            format!("it accepts {}", accepted.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "))
        };
        self.spec
            .properties
            .keys()
            .filter(|k| !accepted.contains(*k))
            .map(|k| format!("property {:?} is not one this listener accepts, and is ignored ({accepts})", crate::text::truncate(k, 128)))
            .collect()
    }

    fn instantiate(&self) -> Result<Started, Trapped> {
        let mut store = self.new_store();
        match self.start_instance(&mut store) {
            Ok(Ok(typed)) => Ok(Started::Enabled(Live { store, typed })),
            Ok(Err(not_started)) => Ok(not_started),
            Err(error) => Err(Trapped { error, last_error: store.data_mut().log.take_last_error() }),
        }
    }

    fn new_store(&self) -> Store<State> {
        let state = State {
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(&self.spec.limits).reporting_to(self.counters.memory_bytes.clone()),
            log: LogCtx::new(self.log.clone()),
            config: Arc::new(self.spec.properties.clone()),
            signer: SignerCtx::new(
                self.shared.signer.clone(),
                Arc::new(self.spec.set_policy.clone()),
                self.counters.clone(),
                self.name.clone(),
            ),
            publish: PublishCtx::new(self.shared.outbox.clone(), &self.spec.sinks, self.name.clone(), self.counters.clone()),
            metrics: MetricsCtx { metrics: self.shared.metrics.clone(), listener: self.name.clone() },
            wasi: wasi_ctx(),
            deadline: CallDeadline::default(),
            fuel_metered: self.shared.fuel,
            batch: Default::default(),
        };
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Caps every string and list a guest hands the host (its imports' arguments and its
        // exports' results) before anything is copied or decoded.
        store.set_hostcall_fuel(guest_transfer_cap(self.shared.signer.as_deref()));
        store.epoch_deadline_trap();
        store
    }

    /// Instantiate, `init`, `is-enabled`: the typed exports, or why the listener does not
    /// start (`Ok(Err(..))`), or the trap.
    fn start_instance(&self, store: &mut Store<State>) -> wasmtime::Result<Result<Typed, Started>> {
        let limits = &self.spec.limits;
        arm(&mut *store, limits)?;
        let instance = self.pre.instantiate(&mut *store)?;
        // The guest's text, on its way to the log and the status: capped and escaped.
        let init_failed = |message: &str| Ok(Err(Started::InitFailed(for_humans(message, MAX_MESSAGE_BYTES))));
        let properties = as_pairs(&self.spec.properties);
        let typed = match &self.exports {
            Exports::V0_2 { lifecycle, id_token, access_token, batch } => {
                let lifecycle = lifecycle.load(&mut *store, &instance)?;
                let id_token = id_token.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?;
                let access_token = access_token.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?;
                let batch = batch.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?;
                arm(&mut *store, limits)?;
                let declaration = match lifecycle.call_init(&mut *store, &properties)? {
                    Ok(declaration) => declaration,
                    Err(message) => return init_failed(&message),
                };
                let declared = match self.shared.projections.declare(declaration) {
                    Ok(declared) => declared,
                    Err(why) => return init_failed(&format!("init answered with a declaration the host refuses: {why}")),
                };
                Typed::V0_2 { lifecycle, id_token, access_token, batch, declared }
            }
            Exports::V0_1 { lifecycle, id_token, access_token } => {
                let lifecycle = lifecycle.load(&mut *store, &instance)?;
                let id_token = id_token.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?;
                let access_token = access_token.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?;
                arm(&mut *store, limits)?;
                if let Err(message) = lifecycle.call_init(&mut *store, &properties)? {
                    return init_failed(&message);
                }
                Typed::V0_1 { lifecycle, id_token, access_token }
            }
        };
        arm(&mut *store, limits)?;
        let enabled = match &typed {
            Typed::V0_2 { lifecycle, .. } => lifecycle.call_is_enabled(&mut *store)?,
            Typed::V0_1 { lifecycle, .. } => lifecycle.call_is_enabled(&mut *store)?,
        };
        if !enabled {
            return Ok(Err(Started::NotEnabled));
        }
        Ok(Ok(typed))
    }

    /// Count a trap, drop the instance, quarantine after too many in a row.
    fn trapped(&self, live: &mut Option<Live>, during: &str, trapped: Trapped) -> Outcome {
        let cause = TrapCause::of(&trapped.error);
        let message = trapped.message(cause);
        self.counters.trap(cause);
        *live = None;
        tracing::warn!(listener = %self.name, cause = cause.as_str(), "{during} trapped: {}", escape_control(&message));
        let mut slot = self.slot.lock();
        slot.consecutive_traps += 1;
        slot.last_trap = Some(format!("{during}: {cause}: {message}"));
        let max = self.spec.limits.max_consecutive_traps;
        if slot.consecutive_traps >= max {
            let reason = format!("{max} traps in a row, the last: {cause} ({message})");
            tracing::error!(listener = %self.name, "quarantined: {}", escape_control(&reason));
            slot.health = Health::Quarantined(reason);
        }
        Outcome::Trap { cause, message }
    }

    /// Call `shutdown` once, under the listener's limits, and drop the instance. Waits for a
    /// call in progress (bounded by the deadline). A second call does nothing.
    pub fn shutdown(&self) {
        let mut live = self.live.lock();
        let old = live.take();
        self.slot.lock().health = Health::ShutDown;
        drop(live);
        if let Some(old) = old {
            self.call_shutdown(old);
        }
    }

    /// The guest's `shutdown`: a trap in it is counted apart from events (`shutdown_traps`).
    fn call_shutdown(&self, mut live: Live) {
        let result = arm(&mut live.store, &self.spec.limits).and_then(|()| match &live.typed {
            Typed::V0_2 { lifecycle, .. } => lifecycle.call_shutdown(&mut live.store),
            Typed::V0_1 { lifecycle, .. } => lifecycle.call_shutdown(&mut live.store),
        });
        self.log.flush();
        if let Err(error) = result {
            self.counters.shutdown_traps.inc();
            tracing::warn!(listener = %self.name, "shutdown trapped: {}", error.root_cause());
        }
    }

    /// Health and counters, without waiting for a call in progress.
    pub fn status(&self) -> ListenerStatus {
        let slot = self.slot.lock();
        ListenerStatus {
            name: self.name.to_string(),
            path: self.spec.path.clone(),
            health: slot.health.clone(),
            handles: [EventKind::IdToken, EventKind::AccessToken]
                .into_iter()
                .filter(|k| self.handles(*k))
                .collect(),
            consecutive_traps: slot.consecutive_traps,
            last_trap: slot.last_trap.clone(),
            warnings: slot.warnings.clone(),
            contract: self.contract(),
            counters: self.counters.snapshot(),
            module_bytes: self.module_bytes,
            compile_ms: self.compile_ms,
            module_sha256: self.sha256.clone(),
            mode: self.spec.mode,
            version: self.version,
            queue_depth: 0,
            reload_error: None,
            from_cache: self.from_cache,
        }
    }
}

enum Started {
    Enabled(Live),
    NotEnabled,
    InitFailed(String),
}

/// A call that trapped, and the last line the guest logged at `error` in it (a panic's
/// message, when its SDK forwards one).
struct Trapped {
    error: wasmtime::Error,
    last_error: Option<String>,
}

impl Trapped {
    /// What to tell people: a panicking SDK logs the panic's message (and where) at `error`
    /// just before the trap, and that, not "`unreachable` executed", is what the author
    /// needs to read.
    fn message(self, cause: TrapCause) -> String {
        match (cause, self.last_error) {
            (TrapCause::Panic, Some(line)) => line,
            _ => self.error.root_cause().to_string(),
        }
    }
}


/// Arm the limits and call the handler: in 0.2 with the event encoded for the listener's
/// projection; in 0.1 with views of it lent as resources.
fn call_handler(live: &mut Live, event: &Arc<TokenEvent>, limits: &Limits, encodings: &mut Encodings) -> wasmtime::Result<()> {
    arm(&mut live.store, limits)?;
    live.store.data_mut().publish.kind = event.kind.as_str();
    let (id_token, access_token) = match &live.typed {
        Typed::V0_2 { id_token, access_token, declared, .. } => {
            let encoded = encodings.of(event, &declared.projection);
            return match event.kind {
                EventKind::IdToken => id_token.as_ref().expect("checked by handles()").call_id_token_issued(&mut live.store, encoded),
                EventKind::AccessToken => access_token.as_ref().expect("checked by handles()").call_access_token_issued(&mut live.store, encoded),
            };
        }
        Typed::V0_1 { id_token, access_token, .. } => (id_token, access_token),
    };
    let table = &mut live.store.data_mut().table;
    let claims = table.push(ClaimsView(event.clone()))?;
    let context = table.push(ContextView(event.clone()))?;
    // Lend as `borrow` handles: lowering an owned host handle into a borrow parameter would
    // park it in the instance's handle table for good, one leaked slot per event.
    let lend_claims = Resource::<ClaimsView>::new_borrow(claims.rep());
    let lend_context = Resource::<ContextView>::new_borrow(context.rep());
    let result = match event.kind {
        EventKind::IdToken => id_token
            .as_ref()
            .expect("checked by handles()")
            .call_id_token_issued(&mut live.store, lend_claims, event.local_subject.as_deref(), lend_context),
        EventKind::AccessToken => access_token
            .as_ref()
            .expect("checked by handles()")
            .call_access_token_issued(&mut live.store, lend_claims, lend_context),
    };
    let table = &mut live.store.data_mut().table;
    table.delete(claims)?;
    table.delete(context)?;
    result
}

/// Encode `events` for the listener's projection into `buffers` (their allocations reused),
/// arm the limits for the first event and call `tokens-issued`.
fn call_batch_handler(
    live: &mut Live,
    events: &[Arc<TokenEvent>],
    limits: &Limits,
    buffers: &mut Vec<v0_2::batch_listener::IssuedToken>,
) -> wasmtime::Result<()> {
    use v0_2::batch_listener::{IssuedToken, TokenKind};
    let Typed::V0_2 { batch: Some(batch), declared, .. } = &live.typed else {
        unreachable!("call_batch only for listeners that batch")
    };
    buffers.resize_with(events.len().max(buffers.len()), || IssuedToken { kind: TokenKind::IdToken, event: Vec::new() });
    for (buffer, event) in buffers.iter_mut().zip(events) {
        buffer.kind = match event.kind {
            EventKind::IdToken => TokenKind::IdToken,
            EventKind::AccessToken => TokenKind::AccessToken,
        };
        buffer.event.clear();
        crate::runtime::encoding::encode(event, &declared.projection, &mut buffer.event);
    }
    let state = live.store.data_mut();
    state.batch.start(events.iter().map(|e| e.kind), limits);
    state.publish.kind = events[0].kind.as_str();
    arm(&mut live.store, limits)?;
    batch.call_tokens_issued(&mut live.store, &buffers[..events.len()])
}

/// Compile times from this one up are logged as a warning.
const SLOW_COMPILE_MS: u64 = 1_000;

/// Read a component file, refusing one over the size limit before reading it whole.
fn read_module(path: &std::path::Path, limits: &Limits) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = file.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
    validate::check_size(len, limits)?;
    // `take`: a file that grows after the check is still read only up to the limit + 1.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limits.module_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    validate::check_size(bytes.len() as u64, limits)?;
    Ok(bytes)
}

/// Compile, turning the usual mistakes into messages that say what to do.
fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
    const CORE_MODULE: [u8; 8] = *b"\0asm\x01\0\0\0";
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(format!(
            "not a WebAssembly file ({} bytes, no \\0asm header)",
            bytes.len()
        ));
    }
    if bytes[..8] == CORE_MODULE {
        return Err("a core WebAssembly module, not a component: run `wasm-tools component new` on it (see docs/languages/rust.md, \"Write a listener\")".to_owned());
    }
    Component::new(engine, bytes).map_err(|e| {
        let e = format!("{e:#}");
        match PROPOSAL_HINTS.iter().find(|(needle, _)| e.contains(needle)) {
            Some((_, proposal)) => format!("not a valid component: it uses {proposal}, which tokenwatch turns off (docs/limits.md, \"Limits and containment\"): {e}"),
            None => format!("not a valid component: {e}"),
        }
    })
}

/// wasmparser's words for a proposal that is off, and the proposal's name.
const PROPOSAL_HINTS: [(&str, &str); 6] = [
    ("memory64", "64-bit memories (memory64)"),
    ("multiple memories", "several memories in one core module (multi-memory)"),
    ("threads", "shared memory (threads)"),
    ("exceptions", "exception handling"),
    ("tail calls", "tail calls"),
    ("gc proposal", "garbage-collected types (GC)"),
];

