//! `tokenwatch:listener/token` (contract 0.1 only): read-only views of the event. The table holds an `Arc` of the
//! host's event; every method returns a copy, so a guest cannot change what others see.

use crate::runtime::bindings::v0_1::token::{Host, HostClaims, HostEventContext};
use crate::event::TokenEvent;
use crate::runtime::state::State;
use std::sync::Arc;
use wasmtime::component::{Linker, Resource, WasmStr};
use wasmtime::StoreContextMut;

/// Link `token`: the bindgen methods, with `claims.get` replaced by one that reads the
/// claim's name in place and charges a fuel per byte of it (a guest may pass a name of up
/// to the transfer cap, and the host hashes and compares all of it).
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    crate::runtime::bindings::v0_1::token::add_to_linker::<State, wasmtime::component::HasSelf<State>>(linker, |s| s)?;
    linker.allow_shadowing(true);
    linker.instance("tokenwatch:listener/token@0.1.0")?.func_wrap(
        "[method]claims.get",
        |mut store: StoreContextMut<'_, State>, (this, name): (Resource<ClaimsView>, WasmStr)| {
            let value = super::read_charged(&mut store, &name, |state, name| Ok(state.event(&this)?.claims.get_json(name)))?;
            Ok((value,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The `claims` resource: the claims set of the event being delivered.
pub struct ClaimsView(pub(crate) Arc<TokenEvent>);

/// The `event-context` resource: the context of the event being delivered.
pub struct ContextView(pub(crate) Arc<TokenEvent>);

impl State {
    fn event(&self, claims: &Resource<ClaimsView>) -> wasmtime::Result<&TokenEvent> {
        Ok(&self.table.get(claims)?.0)
    }
}

impl Host for State {}

impl HostClaims for State {
    /// Linked as `add_to_linker`'s charging version; kept for the trait.
    fn get(&mut self, this: Resource<ClaimsView>, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.event(&this)?.claims.get_json(&name))
    }

    fn names(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Vec<String>> {
        Ok(self.event(&this)?.claims.names().map(str::to_owned).collect())
    }

    fn to_json(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<String> {
        Ok(self.event(&this)?.claims.as_json().to_owned())
    }

    fn subject(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<String>> {
        self.string_claim(&this, "sub")
    }

    fn issuer(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<String>> {
        self.string_claim(&this, "iss")
    }

    fn audience(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Vec<String>> {
        Ok(self.event(&this)?.claims.audience())
    }

    fn issued_at(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<i64>> {
        Ok(self.event(&this)?.claims.integer("iat"))
    }

    fn expires_at(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<i64>> {
        Ok(self.event(&this)?.claims.integer("exp"))
    }

    fn client_id(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<String>> {
        self.string_claim(&this, "client_id")
    }

    fn scope(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<String>> {
        self.string_claim(&this, "scope")
    }

    fn jwt_id(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<Option<String>> {
        self.string_claim(&this, "jti")
    }

    fn drop(&mut self, this: Resource<ClaimsView>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl State {
    fn string_claim(
        &self,
        this: &Resource<ClaimsView>,
        name: &str,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self.event(this)?.claims.string(name).map(str::to_owned))
    }
}

impl HostEventContext for State {
    fn issuer(&mut self, this: Resource<ContextView>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.0.context.issuer.clone())
    }

    fn client_id(&mut self, this: Resource<ContextView>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.0.context.client_id.clone())
    }

    fn client_metadata(&mut self, this: Resource<ContextView>) -> wasmtime::Result<String> {
        Ok(self.table.get(&this)?.0.context.client_metadata.clone())
    }

    fn drop(&mut self, this: Resource<ContextView>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
