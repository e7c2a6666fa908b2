//! Per-call limits: one `Limits` value per listener, applied in one function (`arm`) before
//! every call into the guest, and the classification of what stopped a call.

use serde::Deserialize;
use std::time::Duration;
use crate::state::State;
use wasmtime::{ResourceLimiter, Store, Trap};

/// The epoch ticker's period. Deadlines are whole ticks, so they are accurate to one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Budgets for one call into a listener (`init`, `is-enabled`, a handler or `shutdown`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            max_consecutive_traps: 5,
        }
    }
}

/// `[limits]` in the config file; every field optional, falling back to the level above
/// (host defaults, then `[limits]`, then `[listener.limits]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub fuel: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub table_elements: Option<usize>,
    pub max_consecutive_traps: Option<u32>,
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
            memory_bytes: self
                .memory_mb
                .map(|mb| (mb as usize) << 20)
                .unwrap_or(base.memory_bytes),
            table_elements: self.table_elements.unwrap_or(base.table_elements),
            max_consecutive_traps: self
                .max_consecutive_traps
                .unwrap_or(base.max_consecutive_traps),
        }
    }

    pub fn validate(&self, place: &str) -> Result<(), String> {
        let zero = |v: Option<u64>| v == Some(0);
        if zero(self.fuel) {
            return Err(format!("{place}: fuel must be at least 1"));
        }
        if zero(self.deadline_ms) {
            return Err(format!("{place}: deadline_ms must be at least 1"));
        }
        if zero(self.memory_mb) {
            return Err(format!("{place}: memory_mb must be at least 1"));
        }
        if self.table_elements == Some(0) {
            return Err(format!("{place}: table_elements must be at least 1"));
        }
        if self.max_consecutive_traps == Some(0) {
            return Err(format!("{place}: max_consecutive_traps must be at least 1"));
        }
        Ok(())
    }
}

/// Set every budget of `store` for the next call. The one place limits are applied.
pub(crate) fn arm(store: &mut Store<State>, limits: &Limits) -> wasmtime::Result<()> {
    // `get_fuel` fails only on an engine built without fuel (`HostBuilder::epoch_only`).
    if store.get_fuel().is_ok() {
        store.set_fuel(limits.fuel)?;
    }
    store.set_epoch_deadline(deadline_ticks(limits.deadline));
    store.data_mut().begin_call(limits);
    Ok(())
}

/// A deadline as epoch ticks (at least one).
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    (deadline.as_nanos().div_ceil(tick) as u64).max(1)
}

/// Memory and table limits, with a record of the cause when a limit stopped the guest.
#[derive(Debug)]
pub struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
    /// Bytes of all linear memories of the instance: the limit is per instance, so a
    /// component of several core modules cannot multiply it.
    memory_in_use: usize,
}

impl GuestLimiter {
    pub fn new(limits: &Limits) -> Self {
        GuestLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            memory_in_use: 0,
        }
    }

    pub(crate) fn reset(&mut self, limits: &Limits) {
        self.memory_bytes = limits.memory_bytes;
        self.table_elements = limits.table_elements;
    }
}

/// The error a denied `memory.grow` / `table.grow` traps with.
#[derive(Debug, thiserror::Error)]
#[error("{what} limit of {limit} exceeded (wanted {desired})")]
pub struct LimitExceeded {
    what: &'static str,
    limit: usize,
    desired: usize,
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.memory_in_use + desired).saturating_sub(current);
        if total > self.memory_bytes {
            // Trap rather than return -1: a guest that ignores a failed grow would go on
            // allocating, and the cause would be lost.
            return Err(LimitExceeded {
                what: "memory",
                limit: self.memory_bytes,
                desired: total,
            }
            .into());
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Err(LimitExceeded {
                what: "table",
                limit: self.table_elements,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        // A component instantiates a handful of core modules; JS/Python runtimes a few more.
        64
    }

    fn memories(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        64
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
    fn zero_table_elements_are_rejected() {
        let cfg = LimitsConfig { table_elements: Some(0), ..Default::default() };
        assert!(cfg.validate("[limits]").unwrap_err().contains("table_elements"));
    }
}
