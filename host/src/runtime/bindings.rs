//! Host-side bindings of the contract's two versions, generated from the WIT (world
//! `all-tokens` of each).
//!
//! The generated exports are used per interface (`GuestIndices::new(&pre)`), so a component
//! that exports only one of the two handler interfaces still loads; see `listener.rs`. The
//! imports common to both versions (log, config, signer, publish) are linked by hand under
//! both versions' names (`imports/`), with 0.1's types: the component model checks types by
//! structure, and the two versions' are the same.

/// `tokenwatch:listener@0.2.0` (`wit/listener.wit`): the current contract.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/listener.wit",
        world: "all-tokens",
    });

    pub use exports::tokenwatch::listener::{access_token_listener, batch_listener, id_token_listener, lifecycle};
}

/// `tokenwatch:listener@0.1.0` (`wit/v0.1/listener.wit`): claims as resources read through
/// host calls. Still served; its `token` interface exists only here.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1/listener.wit",
        world: "all-tokens",
        // Every import can fail on a bad resource handle; that is a trap, never a panic.
        imports: { default: trappable },
        with: {
            "tokenwatch:listener/token.claims": crate::imports::token::ClaimsView,
            "tokenwatch:listener/token.event-context": crate::imports::token::ContextView,
        },
    });

    pub use exports::tokenwatch::listener::{access_token_listener, id_token_listener, lifecycle};
    pub use self::tokenwatch::listener::{log, publish, signer, token};
}

pub use v0_1::{log, publish, signer};
