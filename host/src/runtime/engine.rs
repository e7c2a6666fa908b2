//! The process's wasmtime engines and the one thread that advances their epochs.

use crate::runtime::limits::EPOCH_TICK;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use wasmtime::Engine;

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
                    crate::runtime::limits::tick();
                })
                .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
            let ticker = thread.thread().clone();
            Ok(Engines { fueled, epoch_only, live_hosts, ticker })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Keeps the epoch thread ticking while its host lives.
pub struct Ticking(&'static Engines);

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
pub fn process_engine(fuel: bool) -> Result<(Engine, Ticking), String> {
    let engines = engines()?;
    let engine = if fuel { &engines.fueled } else { &engines.epoch_only };
    Ok((engine.clone(), Ticking::start(engines)))
}
