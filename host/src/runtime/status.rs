//! Per-listener health and counters: what operators read through `Host::status`.

use crate::event::EventKind;
use crate::runtime::limits::TrapCause;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where a listener stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum Health {
    /// Loaded; instantiated and `init` called at the first opportunity.
    Starting,
    /// Serving events.
    Active,
    /// Gets no events: disabled in configuration or by `is-enabled`.
    Disabled(String),
    /// Gets no events: `init` returned an error (its message).
    InitFailed(String),
    /// `init` trapped when the listener was started (the trap); the next event tries a
    /// fresh instance.
    InitTrapped(String),
    /// Gets no events after too many traps in a row, until it is reloaded or enabled.
    Quarantined(String),
    /// No version could be loaded (the module's file, validation or linking failed).
    LoadFailed(String),
    /// `shutdown` was called.
    ShutDown,
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The live counters of one listener. Aligned to whole cache lines (128 bytes covers the
/// adjacent-line prefetch too), so two listeners served by two threads never write to the
/// same line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counters {
    pub events: Counter,
    pub delivered: Counter,
    pub skipped: Counter,
    pub dropped_disabled: Counter,
    pub dropped_quarantined: Counter,
    pub dropped_busy: Counter,
    traps: [Counter; TrapCause::ALL.len()],
    pub instantiations: Counter,
    pub init_failures: Counter,
    /// Traps in `init` at start (not an event's: the listener is left `init-failed`).
    pub init_traps: Counter,
    /// Traps in `shutdown`.
    pub shutdown_traps: Counter,
    /// Async: events dropped from the queue (full, or left at the shutdown deadline).
    pub dropped_queue_full: Counter,
    pub dropped_shutdown: Counter,
    /// Async: `batch-listener` calls, each handing over several queued events.
    pub batch_calls: Counter,
    pub fuel: Counter,
    pub micros: Counter,
    /// Shared with the log capability of every instance of this listener.
    pub logs_dropped: Arc<AtomicU64>,
    /// Linear memory the newest instance holds, in bytes (a gauge, set by its limiter).
    pub memory_bytes: Arc<AtomicU64>,
    /// SETs the host signed for this listener.
    pub sets_signed: Counter,
    /// `sign-set` calls the host refused (policy, size, audience, quota, no key).
    pub sets_refused: Counter,
    /// Messages the outbox took from this listener.
    pub published: Counter,
    /// `publish` calls answered with an error (unknown sink, too large, queue full, quota).
    pub publishes_refused: Counter,
}

impl Counters {
    pub fn trap(&self, cause: TrapCause) {
        self.traps[cause as usize].inc();
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            events: self.events.get(),
            delivered: self.delivered.get(),
            skipped: self.skipped.get(),
            dropped_disabled: self.dropped_disabled.get(),
            dropped_quarantined: self.dropped_quarantined.get(),
            dropped_busy: self.dropped_busy.get(),
            traps: TrapCause::ALL
                .iter()
                .map(|c| (c.as_str(), self.traps[*c as usize].get()))
                .collect(),
            instantiations: self.instantiations.get(),
            init_failures: self.init_failures.get(),
            init_traps: self.init_traps.get(),
            shutdown_traps: self.shutdown_traps.get(),
            batch_calls: self.batch_calls.get(),
            dropped_queue_full: self.dropped_queue_full.get(),
            dropped_shutdown: self.dropped_shutdown.get(),
            fuel: self.fuel.get(),
            micros: self.micros.get(),
            logs_dropped: self.logs_dropped.load(Ordering::Relaxed),
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed),
            sets_signed: self.sets_signed.get(),
            sets_refused: self.sets_refused.get(),
            published: self.published.get(),
            publishes_refused: self.publishes_refused.get(),
        }
    }
}

/// A copy of a listener's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Events offered to this listener. Each ends as exactly one of: delivered, skipped,
    /// dropped (disabled, quarantined, busy, queue full, shutdown) or a trap (of its handler,
    /// or of the `init` of the fresh instance it needed); an async listener's queued events
    /// (`queued` less those ended) are the rest.
    pub events: u64,
    /// Events whose handler returned.
    pub delivered: u64,
    /// Events of a kind the listener does not handle.
    pub skipped: u64,
    pub dropped_disabled: u64,
    pub dropped_quarantined: u64,
    pub dropped_busy: u64,
    /// Traps by cause, in handlers and in the `init`/`is-enabled` of a fresh instance an event needed (`fuel`, `deadline`, `memory`, `stack`, `panic`, `fault`, `host`).
    pub traps: Vec<(&'static str, u64)>,
    pub instantiations: u64,
    pub init_failures: u64,
    /// Traps in `init` at start and in `shutdown`: not events', so not in `traps`.
    pub init_traps: u64,
    pub shutdown_traps: u64,
    /// Async: `batch-listener` calls (each handed several queued events).
    pub batch_calls: u64,
    /// Async listeners: events dropped from the queue.
    pub dropped_queue_full: u64,
    pub dropped_shutdown: u64,
    /// Fuel consumed by handler calls.
    pub fuel: u64,
    /// Time spent in handler calls.
    pub micros: u64,
    /// Guest log lines over the per-call cap.
    pub logs_dropped: u64,
    /// Linear memory the newest instance holds, in bytes: after a call, that call's
    /// high-water mark (memory never shrinks). A gauge, not a count.
    pub memory_bytes: u64,
    /// SETs signed for this listener.
    pub sets_signed: u64,
    /// `sign-set` calls refused (policy, size, audience, quota, no key).
    pub sets_refused: u64,
    /// Messages the outbox took from this listener.
    pub published: u64,
    /// `publish` calls answered with an error (unknown sink, too large, queue full, quota).
    pub publishes_refused: u64,
}

impl CounterSnapshot {
    pub fn traps_total(&self) -> u64 {
        self.traps.iter().map(|(_, n)| n).sum()
    }

    pub fn traps_of(&self, cause: TrapCause) -> u64 {
        self.traps
            .iter()
            .find(|(c, _)| *c == cause.as_str())
            .map_or(0, |(_, n)| *n)
    }
}

/// One listener's status.
#[derive(Clone, Debug, Serialize)]
pub struct ListenerStatus {
    pub name: String,
    pub path: PathBuf,
    pub health: Health,
    #[serde(serialize_with = "kinds")]
    pub handles: Vec<EventKind>,
    pub consecutive_traps: u32,
    /// The last trap, as `init: fuel: <message>` or `handler: panic: <message>`.
    pub last_trap: Option<String>,
    /// What is wrong with this listener's configuration without stopping it: properties
    /// it does not accept (by its `init` declaration, contract 0.2).
    pub warnings: Vec<String>,
    /// The contract version the component was built against (`0.2.0`, or `0.1.0`).
    pub contract: &'static str,
    pub counters: CounterSnapshot,
    /// What loading cost: the component file's size and the time to compile it, or to load
    /// it from the artifact cache when `from_cache`.
    pub module_bytes: u64,
    pub compile_ms: u64,
    /// The SHA-256 of the component file, hex.
    pub module_sha256: String,
    pub mode: crate::config::Mode,
    /// 1 for the first version loaded, one more for each reload.
    pub version: u32,
    /// Async: events waiting for this listener.
    pub queue_depth: u64,
    /// Why the last reload failed (the version shown keeps serving), if it did.
    pub reload_error: Option<String>,
    /// Not compiled at load: read from the artifact cache (verified), or compiled for an
    /// earlier listener of the same host with the same module.
    pub from_cache: bool,
}

impl ListenerStatus {
    /// A listener none of whose versions could be loaded.
    pub fn load_failed(name: &str, path: PathBuf, reason: &str) -> ListenerStatus {
        ListenerStatus {
            name: name.to_owned(),
            path,
            health: Health::LoadFailed(reason.to_owned()),
            handles: Vec::new(),
            consecutive_traps: 0,
            last_trap: None,
            warnings: Vec::new(),
            contract: "",
            counters: CounterSnapshot::default(),
            module_bytes: 0,
            compile_ms: 0,
            module_sha256: String::new(),
            mode: Default::default(),
            version: 0,
            queue_depth: 0,
            reload_error: Some(reason.to_owned()),
            from_cache: false,
        }
    }
}

fn kinds<S: serde::Serializer>(k: &[EventKind], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(k.iter().map(|k| k.as_str()))
}
