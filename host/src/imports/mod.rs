//! Host capabilities a guest may import, one module per WIT interface. Each implements the
//! generated `Host` trait on the store state and is linked in `linker()`; nothing else is.

pub mod config;
pub mod log;
pub mod publish;
pub mod signer;
pub mod token;

use crate::bindings;
use crate::state::State;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::Engine;

/// Every `tokenwatch:listener` interface a guest may import, with its version.
pub const PROVIDED: [&str; 5] = [
    "tokenwatch:listener/token@0.1.0",
    "tokenwatch:listener/log@0.1.0",
    "tokenwatch:listener/config@0.1.0",
    "tokenwatch:listener/signer@0.1.0",
    "tokenwatch:listener/publish@0.1.0",
];

/// The linker with the tokenwatch imports; with `wasi`, also WASI preview 2 (for listeners
/// whose configuration grants it). Built once per host.
pub fn linker(engine: &Engine, wasi: bool) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    bindings::token::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    bindings::log::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    bindings::config::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    signer::add_to_linker(&mut linker)?;
    bindings::publish::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    if wasi {
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    }
    Ok(linker)
}
