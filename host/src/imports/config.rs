//! `tokenwatch:listener/config`: the listener's configuration properties, read-only.

use crate::bindings::config::Host;
use crate::state::State;
use std::collections::BTreeMap;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// Link `config`: the bindgen functions, with `get` replaced by one that reads the key in
/// place and charges a fuel per byte of it.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    crate::bindings::config::add_to_linker::<State, wasmtime::component::HasSelf<State>>(linker, |s| s)?;
    linker.allow_shadowing(true);
    linker.instance("tokenwatch:listener/config@0.1.0")?.func_wrap(
        "get",
        |mut store: StoreContextMut<'_, State>, (key,): (WasmStr,)| {
            let value = super::read_charged(&mut store, &key, |state, key| Ok(state.config.get(key).cloned()))?;
            Ok((value,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A listener's properties, sorted by key.
pub type Properties = BTreeMap<String, String>;

/// The properties as the key/value list `init` and `config.properties` hand to the guest.
pub fn as_pairs(properties: &Properties) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Host for State {
    /// Linked as `add_to_linker`'s charging version; kept for the trait.
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.get(&key).cloned())
    }

    fn properties(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(as_pairs(&self.config))
    }
}
