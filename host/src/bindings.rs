//! Host-side bindings generated from `wit/listener.wit` (world `all-tokens`).
//!
//! The generated exports are used per interface (`GuestIndices::new(&pre)`), so a component
//! that exports only one of the two handler interfaces still loads; see `listener.rs`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "all-tokens",
    // Every import can fail on a bad resource handle; that is a trap, never a panic.
    imports: { default: trappable },
    with: {
        "tokenwatch:listener/token.claims": crate::imports::token::ClaimsView,
        "tokenwatch:listener/token.event-context": crate::imports::token::ContextView,
    },
});

pub use exports::tokenwatch::listener::{access_token_listener, id_token_listener, lifecycle};
pub use self::tokenwatch::listener::{config, log, publish, signer, token};
