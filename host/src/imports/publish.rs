//! `tokenwatch:listener/publish`: hand a message to a named sink. Only enqueues; delivery
//! runs off the issuing path.

use crate::bindings::publish::PublishError;
use crate::state::State;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// Link `publish`; the sink's name is read in place and charged a fuel per byte. This host
/// version has no outbox yet, so no sink name is known and every call answers
/// `unknown-sink` — the answer a guest also gets for a misspelt sink later.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for version in super::VERSIONS {
        super::instance(linker, "publish", version)?.func_wrap(
            "publish",
            |mut store: StoreContextMut<'_, State>, (sink, _message): (WasmStr, WasmStr)| {
                let sink = super::read_charged(&mut store, &sink, |_, sink| Ok(sink.to_owned()))?;
                Ok((Err::<(), _>(PublishError::UnknownSink(sink)),))
            },
        )?;
    }
    Ok(())
}
