//! WASI preview 2, for listeners granted it (`wasi = true`): wasmtime-wasi's implementation
//! with a deny-by-default context (`state::wasi_ctx`), and every call that can wait cut at
//! the deadline of the call it belongs to.
//!
//! Epoch interruption stops guest code, not a host function the guest is blocked in: a
//! guest that sleeps (`monotonic-clock.subscribe-duration` then `pollable.block` or `poll`)
//! would hold the issuing thread as long as it asked. Every wait in WASI preview 2 is one of
//! those two functions, so they are replaced here by versions that wait at most the time
//! left and then trap with the deadline's own trap. The other calls cannot wait in this
//! context: stdin is closed and stdout/stderr discard (their `blocking-*` stream operations
//! return at once), no file and no socket can be opened, and random bytes are capped per call
//! (`MAX_RANDOM_BYTES`: 64 MiB took up to a second to fill).

use crate::runtime::state::State;
use std::future::Future;
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};

/// The most random bytes one `get-random-bytes` / `get-insecure-random-bytes` call returns;
/// more traps. Real guests ask for 8–32 bytes (seeds, ids); 64 KiB takes well under 1 ms.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// The `wasi:io/poll` wasmtime-wasi 48 defines; guests importing any 0.2.x get it (semver).
const POLL: &str = "wasi:io/poll@0.2.12";

/// Link WASI preview 2 with the waits bounded by the call's deadline.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap("poll", |mut store: StoreContextMut<'_, State>, (list,): (Vec<Resource<DynPollable>>,)| {
        let deadline = store.data().deadline;
        let table = &mut store.data_mut().table;
        Ok((until_deadline(deadline, table.poll(list))??,))
    })?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, State>, (pollable,): (Resource<DynPollable>,)| {
            let deadline = store.data().deadline;
            let table = &mut store.data_mut().table;
            until_deadline(deadline, table.block(pollable))?
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Run `wait` on wasmtime-wasi's runtime for at most the time left in the call; past it, the
/// deadline trap.
fn until_deadline<F: Future>(deadline: crate::runtime::limits::CallDeadline, wait: F) -> wasmtime::Result<F::Output> {
    deadline.check()?;
    let left = deadline.time_left();
    match wasmtime_wasi::runtime::in_tokio(async { tokio::time::timeout(left, wait).await }) {
        Ok(output) => Ok(output),
        Err(_elapsed) => Err(wasmtime::Trap::Interrupt.into()),
    }
}
