//! `tokenwatch:listener/config`: the listener's configuration properties, read-only.

use crate::bindings::config::Host;
use crate::state::State;
use std::collections::BTreeMap;

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
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.config.get(&key).cloned())
    }

    fn properties(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(as_pairs(&self.config))
    }
}
