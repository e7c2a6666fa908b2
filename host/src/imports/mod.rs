//! Host capabilities a guest may import, one module per WIT interface. Each implements the
//! generated `Host` trait on the store state and is linked in `linker()`; nothing else is.

pub mod batch;
pub mod config;
pub mod log;
pub mod metrics;
pub mod publish;
pub mod signer;
pub mod token;
pub mod wasi;

use crate::runtime::state::State;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::{Engine, StoreContextMut, Trap};

/// The contract versions whose imports are linked: log, config, signer and publish are the
/// same in both, and linked under both names; `token` exists only in 0.1.
pub const VERSIONS: [&str; 2] = ["0.2.0", "0.1.0"];

/// The interfaces linked under every version in [`VERSIONS`].
const COMMON: [&str; 4] = ["log", "config", "signer", "publish"];

/// Whether `name` (`tokenwatch:listener/<interface>@<version>`) is an import the host links.
pub fn provides(name: &str) -> bool {
    let Some((interface, version)) = name.strip_prefix("tokenwatch:listener/").and_then(|n| n.split_once('@')) else {
        return false;
    };
    (COMMON.contains(&interface) && VERSIONS.contains(&version))
        || (interface, version) == ("token", "0.1.0")
        || (interface, version) == ("metrics", "0.2.0")
        || (interface, version) == ("batch", "0.2.0")
}

/// The instance `tokenwatch:listener/{interface}@{version}` of the linker, to define its
/// functions in.
pub(crate) fn instance<'a>(
    linker: &'a mut Linker<State>,
    interface: &str,
    version: &str,
) -> wasmtime::Result<wasmtime::component::LinkerInstance<'a, State>> {
    linker.instance(&format!("tokenwatch:listener/{interface}@{version}"))
}

/// The linker with the tokenwatch imports; with `wasi`, also WASI preview 2 (for listeners
/// whose configuration grants it). Built once per host.
pub fn linker(engine: &Engine, wasi: bool) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    token::add_to_linker(&mut linker)?;
    log::add_to_linker(&mut linker)?;
    config::add_to_linker(&mut linker)?;
    signer::add_to_linker(&mut linker)?;
    publish::add_to_linker(&mut linker)?;
    metrics::add_to_linker(&mut linker)?;
    batch::add_to_linker(&mut linker)?;
    if wasi {
        wasi::add_to_linker(&mut linker)?;
    }
    Ok(linker)
}

/// Read a string the guest handed over in place (a UTF-8 guest's is not copied), give it to
/// `use_it` with the store's state, then charge a fuel per byte read: how every import that
/// works on guest text of the guest's choosing reads it.
pub(crate) fn read_charged<R>(
    store: &mut StoreContextMut<'_, State>,
    text: &WasmStr,
    use_it: impl FnOnce(&State, &str) -> wasmtime::Result<R>,
) -> wasmtime::Result<R> {
    let guest_text = text.to_str(&*store)?;
    let read = guest_text.len() as u64;
    let result = use_it(store.data(), &guest_text)?;
    drop(guest_text);
    charge_fuel(store, read)?;
    Ok(result)
}

/// Take `fuel` from the calling guest's budget for work the host does on its behalf
/// (reading its strings, signing); with less left, the call traps as out of fuel, like the
/// guest's own code would.
pub(crate) fn charge_fuel(store: &mut StoreContextMut<'_, State>, fuel: u64) -> wasmtime::Result<()> {
    if !store.data().fuel_metered {
        return Ok(());
    }
    let left = store.get_fuel()?;
    if left < fuel {
        store.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    store.set_fuel(left - fuel)?;
    Ok(())
}
