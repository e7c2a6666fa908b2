//! `tokenwatch:listener/config`: the listener's configuration properties, read-only.

use crate::runtime::state::State;
use std::collections::BTreeMap;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// Link `config`; `get` reads the key in place and charges a fuel per byte of it.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for version in super::VERSIONS {
        let mut config = super::instance(linker, "config", version)?;
        config.func_wrap("get", |mut store: StoreContextMut<'_, State>, (key,): (WasmStr,)| {
            let value = super::read_charged(&mut store, &key, |state, key| Ok(state.config.get(key).cloned()))?;
            Ok((value,))
        })?;
        config.func_wrap("properties", |store: StoreContextMut<'_, State>, (): ()| {
            Ok((as_pairs(&store.data().config),))
        })?;
    }
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
