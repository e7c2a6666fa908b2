//! Per-call limits: one `Limits` value per listener, applied in one function (`arm`) before
//! every call into the guest, and the classification of what stopped a call.

use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use crate::runtime::state::State;
use wasmtime::{AsContextMut, ResourceLimiter, Trap};

/// The epoch ticker's period. Deadlines are whole ticks, so they are accurate to one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Budgets for one call into a listener (`init`, `is-enabled`, a handler or `shutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel per call. A small Rust or C listener uses 1–20 k fuel per event; 10 M leaves a
    /// 500× margin and stops a runaway loop in about 1 ms on a current core. JavaScript
    /// listeners use about 650 k and Python about 30 k per event: give them 200 M.
    pub fuel: u64,
    /// Wall-clock time per call, enforced by epoch interruption even when fuel is plentiful
    /// (a guest blocked in a host call, or a huge fuel budget). 100 ms keeps issuance
    /// responsive; JavaScript and Python listeners may want 250 ms for `init`.
    pub deadline: Duration,
    /// Linear memory per instance. 64 MiB is far more than a Rust or C listener needs; JS and
    /// Python runtimes need 128–256 MiB.
    pub memory_bytes: usize,
    /// Table elements per table (function pointers). 100 k covers big JS/Python runtimes.
    pub table_elements: usize,
    /// Traps in a row before a listener is quarantined. A listener that traps on every event
    /// costs a fresh instance and `init` per event; 5 in a row is a broken listener.
    pub max_consecutive_traps: u32,
    /// The largest component file accepted, checked before compiling: compile time and
    /// memory grow with the module (a 12 MB JS component takes 8–17 s here).
    pub module_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            max_consecutive_traps: 5,
            module_bytes: 64 << 20,
        }
    }
}

/// `[limits]` in the config file; every field optional, falling back to the level above
/// (host defaults, then `[limits]`, then `[listener.limits]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub fuel: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub table_elements: Option<usize>,
    pub max_consecutive_traps: Option<u32>,
    pub module_mb: Option<u64>,
}

impl LimitsConfig {
    /// These settings on top of `base`.
    pub fn over(&self, base: &Limits) -> Limits {
        Limits {
            fuel: self.fuel.unwrap_or(base.fuel),
            deadline: self
                .deadline_ms
                .map(Duration::from_millis)
                .unwrap_or(base.deadline),
            memory_bytes: self.memory_mb.map(mib).unwrap_or(base.memory_bytes),
            table_elements: self.table_elements.unwrap_or(base.table_elements),
            max_consecutive_traps: self
                .max_consecutive_traps
                .unwrap_or(base.max_consecutive_traps),
            module_bytes: self.module_mb.map(mib).unwrap_or(base.module_bytes),
        }
    }

    pub fn validate(&self, place: &str) -> Result<(), String> {
        let range = |key: &str, value: Option<u64>, max: u64| match value {
            Some(0) => Err(format!("{place}: {key} must be at least 1")),
            Some(v) if v > max => Err(format!("{place}: {key} = {v} is over the maximum of {max}")),
            _ => Ok(()),
        };
        range("fuel", self.fuel, u64::MAX)?;
        range("deadline_ms", self.deadline_ms, MAX_DEADLINE_MS)?;
        range("memory_mb", self.memory_mb, MAX_MEMORY_MB)?;
        range("table_elements", self.table_elements.map(|n| n as u64), MAX_TABLE_ELEMENTS as u64)?;
        range("max_consecutive_traps", self.max_consecutive_traps.map(u64::from), u64::from(u32::MAX))?;
        range("module_mb", self.module_mb, MAX_MODULE_MB)?;
        Ok(())
    }
}

/// MiB as bytes, saturating (`validate` keeps configured values far below the edge).
fn mib(mb: u64) -> usize {
    usize::try_from(mb).ok().and_then(|mb| mb.checked_mul(1 << 20)).unwrap_or(usize::MAX)
}

/// Set every budget of `store` for the next call. The one place limits are applied.
/// Also before each event of a batch (`imports::batch`), which gets the budgets of a call.
pub(crate) fn arm(mut store: impl AsContextMut<Data = State>, limits: &Limits) -> wasmtime::Result<()> {
    let mut store = store.as_context_mut();
    // Not on an engine without fuel (`HostBuilder::epoch_only`), where it is an error.
    if store.data().fuel_metered {
        store.set_fuel(limits.fuel)?;
    }
    let ticks = deadline_ticks(limits.deadline);
    store.set_epoch_deadline(ticks);
    store.data_mut().begin_call(limits, now_ticks().saturating_add(ticks));
    Ok(())
}

/// Epoch ticks since the process started, counted by the thread that advances the engines'
/// epochs: the clock a host call checks its call's deadline against, as the guest's code is
/// checked against the epoch (one atomic load, no system call).
static TICKS: AtomicU64 = AtomicU64::new(0);

/// One tick passed; called by the epoch thread with every `increment_epoch`.
pub(crate) fn tick() {
    TICKS.fetch_add(1, Ordering::Release);
}

pub(crate) fn now_ticks() -> u64 {
    TICKS.load(Ordering::Acquire)
}

/// The deadline of the call a host call belongs to, in the units of `now_ticks`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallDeadline(u64);

impl CallDeadline {
    pub(crate) fn at_tick(tick: u64) -> Self {
        CallDeadline(tick)
    }

    /// Time left before the call's deadline (zero once it has passed).
    pub fn time_left(self) -> Duration {
        EPOCH_TICK.saturating_mul(u32::try_from(self.0.saturating_sub(now_ticks())).unwrap_or(u32::MAX))
    }

    /// `Err(Trap::Interrupt)`, the epoch deadline's own trap, once the deadline has passed,
    /// so a host call that ran out the clock is reported as a `deadline` trap.
    pub fn check(self) -> wasmtime::Result<()> {
        if now_ticks() >= self.0 {
            return Err(Trap::Interrupt.into());
        }
        Ok(())
    }
}

/// A deadline as epoch ticks (at least one).
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    (deadline.as_nanos().div_ceil(tick) as u64).max(1)
}

/// The most a listener may be given, so no configured value can overflow or disable a limit.
/// 4 GiB is the largest 32-bit linear memory (64-bit memories are off in the engine).
pub const MAX_MEMORY_MB: u64 = 4096;
/// A minute: far beyond any handler on the issuing path, and the most `init` of a large
/// runtime should ever need.
pub const MAX_DEADLINE_MS: u64 = 60_000;
/// 10 M elements (80 MB of function pointers): ten times what a JS or Python runtime uses.
pub const MAX_TABLE_ELEMENTS: usize = 10_000_000;
/// Larger component files are refused before compiling (`module_mb`, at most this).
pub const MAX_MODULE_MB: u64 = 1024;

/// The most a guest may hand the host in one call (its strings and lists together, in the
/// arguments of an import or the result of an export), enforced by wasmtime's hostcall fuel
/// before anything is copied or decoded: over it, the call traps. A log line is kept to
/// 4 KiB and SET content to `max_set_bytes`; 1 MiB leaves room and bounds the rest.
pub const GUEST_TRANSFER_BYTES: usize = 1 << 20;

/// `GUEST_TRANSFER_BYTES`, or more when the signer accepts larger SETs.
pub(crate) fn guest_transfer_cap(signer: Option<&crate::signing::Signer>) -> usize {
    let set = signer.map_or(0, |s| s.max_set_bytes().saturating_add(64 << 10));
    GUEST_TRANSFER_BYTES.max(set)
}

/// Core instances, memories and tables one instance of a listener may create. A Rust or C
/// component has 1–4 core instances and one memory; JS and Python runtimes a few more.
/// Components over these are refused at load (`validate.rs`).
pub const MAX_CORE_INSTANCES: usize = 64;
pub const MAX_MEMORIES: usize = 16;
pub const MAX_TABLES: usize = 64;

/// Memory and table limits. Every grow of every linear memory and table of the instance
/// passes through here, the memories at instantiation included.
#[derive(Debug)]
pub struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
    /// Bytes of all linear memories of the instance: the limit is per instance, so a
    /// component of several core modules cannot multiply it. Only grows that succeed are
    /// counted: a refused one traps and the instance is dropped with this count.
    memory_in_use: usize,
    /// A grow was counted and wasmtime has not said it failed (it says nothing on success).
    grow_counted: bool,
    /// Where `memory_in_use` is published after every grow, for the listener's status
    /// (`Counters::memory_bytes`). Linear memory never shrinks, so after a call it is also
    /// the call's high-water mark.
    gauge: Option<Arc<AtomicU64>>,
}

impl GuestLimiter {
    pub fn new(limits: &Limits) -> Self {
        GuestLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            memory_in_use: 0,
            grow_counted: false,
            gauge: None,
        }
    }

    /// Publish the bytes in use to `gauge` after every grow (the instantiation's included).
    pub(crate) fn reporting_to(mut self, gauge: Arc<AtomicU64>) -> Self {
        gauge.store(0, Ordering::Relaxed);
        self.gauge = Some(gauge);
        self
    }

    pub(crate) fn reset(&mut self, limits: &Limits) {
        self.memory_bytes = limits.memory_bytes;
        self.table_elements = limits.table_elements;
    }

    /// Bytes of linear memory the instance holds.
    pub fn memory_in_use(&self) -> usize {
        self.memory_in_use
    }
}

/// The error a denied `memory.grow` / `table.grow` (or instantiation) traps with.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow_counted = false;
        if maximum.is_some_and(|max| desired > max) {
            // Past the memory's own maximum (declared, or 4 GiB): the grow fails with -1, as
            // the Wasm spec says, and nothing is counted (wasmtime refuses it after asking).
            return Ok(false);
        }
        // Checked: `current` is part of `memory_in_use`, and a sum past `usize` is over any
        // limit. Plain arithmetic here once let a guest wrap the count and hold GiBs.
        let total = self
            .memory_in_use
            .checked_sub(current)
            .and_then(|others| others.checked_add(desired));
        match total {
            Some(total) if total <= self.memory_bytes => {
                self.memory_in_use = total;
                self.grow_counted = true;
                if let Some(gauge) = &self.gauge {
                    gauge.store(total as u64, Ordering::Relaxed);
                }
                Ok(true)
            }
            // Trap rather than return -1: a guest that ignores a failed grow would go on
            // allocating, and the cause would be lost.
            _ => Err(LimitExceeded(format!(
                "memory limit of {} exceeded: the instance holds {} and asked for {} more",
                bytes(self.memory_bytes),
                bytes(self.memory_in_use),
                bytes(desired.saturating_sub(current)),
            ))
            .into()),
        }
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        if std::mem::take(&mut self.grow_counted) {
            // The system refused memory we had counted: trap, so the count never has to be
            // rolled back (a flag left from an earlier, successful grow also lands here:
            // a trap is the safe side).
            return Err(LimitExceeded(format!("memory grow failed: {error}")).into());
        }
        // Refused by wasmtime before asking us (past what the memory type can address):
        // -1 for the guest, nothing counted.
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        if desired > self.table_elements {
            return Err(LimitExceeded(format!(
                "table limit of {} elements exceeded (wanted {desired})",
                self.table_elements
            ))
            .into());
        }
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(LimitExceeded(format!("table grow failed: {error}")).into())
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// A byte count for messages: `64 MiB`, `15.9 MiB`, `1.5 KiB`, `12 bytes`.
pub fn bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// What stopped a call. The word (`as_str`) appears in `replay --json` and in metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapCause {
    /// The fuel budget ran out.
    Fuel,
    /// The wall-clock deadline passed.
    Deadline,
    /// A memory or table limit was hit.
    Memory,
    /// The guest's call stack overflowed.
    Stack,
    /// `unreachable` executed: a Rust `panic!` / `abort`, a C `abort()`, an uncaught JS or
    /// Python exception.
    Panic,
    /// Out-of-bounds memory or table access, bad indirect call, integer trap: a guest bug.
    Fault,
    /// A host call failed (bad resource handle, broken component-model contract).
    Host,
}

impl TrapCause {
    pub const ALL: [TrapCause; 7] = [
        TrapCause::Fuel,
        TrapCause::Deadline,
        TrapCause::Memory,
        TrapCause::Stack,
        TrapCause::Panic,
        TrapCause::Fault,
        TrapCause::Host,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrapCause::Fuel => "fuel",
            TrapCause::Deadline => "deadline",
            TrapCause::Memory => "memory",
            TrapCause::Stack => "stack",
            TrapCause::Panic => "panic",
            TrapCause::Fault => "fault",
            TrapCause::Host => "host",
        }
    }

    /// Whether the fuel a call reports is exact after this trap. wasmtime writes a guest's
    /// fuel back to the store only at its calls and returns (and when fuel runs out); a trap
    /// between two of them (the deadline's check at a loop, a denied `memory.grow`, an
    /// out-of-bounds access) leaves the fuel of the last call or return: a lower bound.
    pub fn fuel_is_exact(self) -> bool {
        matches!(self, TrapCause::Fuel | TrapCause::Panic | TrapCause::Host | TrapCause::Stack)
    }

    /// Classify the error a call into the guest returned.
    pub fn of(error: &wasmtime::Error) -> TrapCause {
        if error.downcast_ref::<LimitExceeded>().is_some() {
            return TrapCause::Memory;
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => TrapCause::Fuel,
            Some(Trap::Interrupt) => TrapCause::Deadline,
            Some(Trap::StackOverflow) => TrapCause::Stack,
            Some(Trap::UnreachableCodeReached) => TrapCause::Panic,
            Some(Trap::AllocationTooLarge) => TrapCause::Memory,
            Some(_) => TrapCause::Fault,
            None => TrapCause::Host,
        }
    }
}

impl std::fmt::Display for TrapCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_rounds_up_to_whole_ticks() {
        assert_eq!(deadline_ticks(Duration::from_micros(1)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(100)), 100);
        assert_eq!(deadline_ticks(Duration::from_micros(1500)), 2);
    }

    #[test]
    fn listener_limits_override_the_host_defaults() {
        let cfg = LimitsConfig {
            fuel: Some(5),
            memory_mb: Some(2),
            ..Default::default()
        };
        let l = cfg.over(&Limits::default());
        assert_eq!(l.fuel, 5);
        assert_eq!(l.memory_bytes, 2 << 20);
        assert_eq!(l.deadline, Limits::default().deadline);
    }

    #[test]
    fn zero_budgets_are_rejected_with_the_place() {
        let cfg = LimitsConfig {
            deadline_ms: Some(0),
            ..Default::default()
        };
        let err = cfg.validate("listener \"x\"").unwrap_err();
        assert!(err.contains("listener \"x\": deadline_ms"), "{err}");
    }

    #[test]
    fn denied_growth_is_classified_as_memory() {
        let mut l = GuestLimiter::new(&Limits::default());
        let err = l.memory_growing(0, 1 << 30, None).unwrap_err();
        assert_eq!(TrapCause::of(&err), TrapCause::Memory);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
    }

    #[test]
    fn the_memory_limit_counts_every_memory_of_the_instance() {
        let limits = Limits { memory_bytes: 10 << 20, ..Limits::default() };
        let mut l = GuestLimiter::new(&limits);
        assert!(l.memory_growing(0, 6 << 20, None).unwrap()); // first memory
        assert!(l.memory_growing(6 << 20, 8 << 20, None).unwrap()); // it grows: 8 MiB in use
        assert!(l.memory_growing(0, 2 << 20, None).unwrap()); // a second memory: 10 MiB
        assert!(l.memory_growing(0, 1 << 20, None).is_err()); // a third would exceed
        assert!(l.memory_growing(2 << 20, 3 << 20, None).is_err()); // so would growing one
    }

    #[test]
    fn the_count_cannot_wrap() {
        let mut l = GuestLimiter::new(&Limits { memory_bytes: 4 << 20, ..Limits::default() });
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        // Requests whose plain sum with what is held passes `usize::MAX`.
        assert!(l.memory_growing(1 << 20, usize::MAX, None).is_err());
        assert!(l.memory_growing(0, usize::MAX - (1 << 19), None).is_err());
        assert_eq!(l.memory_in_use(), 1 << 20);
        assert!(l.memory_growing(1 << 20, 4 << 20, None).unwrap());
    }

    #[test]
    fn a_grow_past_the_memorys_own_maximum_fails_without_counting() {
        let mut l = GuestLimiter::new(&Limits { memory_bytes: 4 << 20, ..Limits::default() });
        assert!(l.memory_growing(0, 1 << 20, Some(2 << 20)).unwrap());
        for _ in 0..100 {
            assert!(!l.memory_growing(1 << 20, 3 << 20, Some(2 << 20)).unwrap());
        }
        assert_eq!(l.memory_in_use(), 1 << 20);
        // wasmtime refusing a grow before asking (past 4 GiB) is a -1, not a trap ...
        assert!(l.memory_grow_failed(wasmtime::format_err!("too big")).is_ok());
        // ... but a grow that failed after it was counted traps, so the count stays true.
        assert!(l.memory_growing(1 << 20, 2 << 20, Some(2 << 20)).unwrap());
        let err = l.memory_grow_failed(wasmtime::format_err!("mmap failed")).unwrap_err();
        assert_eq!(TrapCause::of(&err), TrapCause::Memory);
    }

    #[test]
    fn zero_table_elements_are_rejected() {
        let cfg = LimitsConfig { table_elements: Some(0), ..Default::default() };
        assert!(cfg.validate("[limits]").unwrap_err().contains("table_elements"));
    }
}
