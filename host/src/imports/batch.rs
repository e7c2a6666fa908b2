//! `tokenwatch:listener/batch`: inside a `batch-listener.tokens-issued` call, the guest's glue
//! says which event starts. Each event gets its own budgets from there (the limits are armed
//! again, as before a call of its own), and a trap is charged to the event in progress only.

use crate::event::EventKind;
use crate::runtime::limits::{arm, Limits};
use crate::runtime::state::State;
use wasmtime::StoreContextMut;

/// The batch call in progress, kept in the store (reused, so a batch allocates nothing).
#[derive(Default)]
pub(crate) struct Progress {
    /// Whether a `tokens-issued` call is running; `begin` outside one traps.
    pub active: bool,
    /// The kinds of the batch's events, by index.
    pub kinds: Vec<EventKind>,
    /// The event in progress; `None` until the glue begins the first (the host's lowering
    /// of the batch is charged to event 0).
    pub at: Option<u32>,
    /// The budgets each event gets.
    pub limits: Limits,
    /// Fuel the events before `at` used.
    pub fuel_used: u64,
}

impl Progress {
    /// A batch of events of `kinds` starts, each under `limits`.
    pub(crate) fn start(&mut self, kinds: impl Iterator<Item = EventKind>, limits: &Limits) {
        self.kinds.clear();
        self.kinds.extend(kinds);
        self.active = true;
        self.at = None;
        self.limits = *limits;
        self.fuel_used = 0;
    }

    /// The batch call returned or trapped: the event in progress (0 when none began).
    pub(crate) fn finish(&mut self) -> usize {
        self.active = false;
        self.at.unwrap_or(0) as usize
    }
}

/// Link `batch.begin`.
pub(crate) fn add_to_linker(linker: &mut wasmtime::component::Linker<State>) -> wasmtime::Result<()> {
    let mut batch = super::instance(linker, "batch", "0.2.0")?;
    batch.func_wrap("begin", |mut store: StoreContextMut<'_, State>, (index,): (u32,)| {
        begin(&mut store, index)?;
        Ok(())
    })?;
    Ok(())
}

fn begin(store: &mut StoreContextMut<'_, State>, index: u32) -> wasmtime::Result<()> {
    let progress = &store.data().batch;
    if !progress.active {
        wasmtime::bail!("batch.begin({index}) called outside batch-listener.tokens-issued");
    }
    let len = progress.kinds.len();
    if index as usize >= len || progress.at.is_some_and(|at| index <= at) {
        let after = progress.at.map_or(String::new(), |at| format!(" after {at}"));
        wasmtime::bail!("batch.begin({index}){after} in a batch of {len}: indices must increase and stay below the length");
    }
    let limits = progress.limits;
    // What the event before used; a guest out of fuel has trapped before getting here.
    let used = if store.data().fuel_metered { limits.fuel.saturating_sub(store.get_fuel()?) } else { 0 };
    let state = store.data_mut();
    state.batch.fuel_used += used;
    state.batch.at = Some(index);
    state.publish.kind = state.batch.kinds[index as usize].as_str();
    arm(store, &limits)
}
