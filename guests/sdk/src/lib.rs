//! Rust SDK for tokenwatch listeners: WebAssembly components notified of issued ID tokens
//! and access tokens (the sandboxed counterpart of Connect2id's
//! `IDTokenIssueEventListener` / `AccessTokenIssueEventListener` SPIs).
//!
//! Implement [`Listener`] on a `Default` type and export it with exactly one of
//! [`export_id_token_listener!`], [`export_access_token_listener!`] or [`export_listener!`].
//! The component then exports only the handler interfaces it listens to (worlds
//! `id-token-only`, `access-token-only`, `all-tokens` of `wit/listener.wit`).
//!
//! ```ignore
//! #[derive(Default)]
//! struct Audit;
//!
//! impl tokenwatch_guest::Listener for Audit {
//!     fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
//!         tokenwatch_guest::log::info(&format!("sub={:?}", event.claims().subject()));
//!     }
//! }
//!
//! tokenwatch_guest::export_id_token_listener!(Audit);
//! ```

/// Raw wit-bindgen output, for anything the ergonomic layer does not cover.
pub mod bindings {
    /// Imports only, generated once so every world below shares the resource types.
    pub mod imports {
        wit_bindgen::generate!({
            world: "host-imports",
            path: "../../wit",
        });
    }

    /// The `all-tokens` world: its export glue serves all three export macros (see build.rs).
    pub mod all_tokens {
        wit_bindgen::generate!({
            world: "all-tokens",
            path: "../../wit",
            with: {
                "tokenwatch:listener/token@0.1.0": crate::bindings::imports::tokenwatch::listener::token,
                "tokenwatch:listener/log@0.1.0": crate::bindings::imports::tokenwatch::listener::log,
                "tokenwatch:listener/config@0.1.0": crate::bindings::imports::tokenwatch::listener::config,
                "tokenwatch:listener/signer@0.1.0": crate::bindings::imports::tokenwatch::listener::signer,
                "tokenwatch:listener/publish@0.1.0": crate::bindings::imports::tokenwatch::listener::publish,
            },
            pub_export_macro: true,
            export_macro_name: "__export_all_tokens",
            default_bindings_module: "$crate::bindings::all_tokens",
        });
    }
}

use bindings::all_tokens::exports::tokenwatch::listener as exp;
use bindings::imports::tokenwatch::listener as imp;

pub use imp::publish::PublishError;
pub use imp::signer::SignError;
pub use imp::token::{Claims, EventContext};

/// A token issue event listener. One value lives per Wasm instance: it is created with
/// `Default` just before [`Listener::init`] and dropped after [`Listener::shutdown`].
/// (After a trap the host starts a fresh instance, so a fresh value is initialised.)
pub trait Listener: Default + 'static {
    /// Called once before any event. An error disables the listener; the host logs it.
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        let _ = properties;
        Ok(())
    }
    /// Called after a successful `init`; `false` means no events are delivered.
    fn is_enabled(&self) -> bool {
        true
    }
    /// An ID token was issued (only delivered by `export_id_token_listener!` /
    /// `export_listener!` components).
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        let _ = (event, ctx);
    }
    /// An access token was issued (only delivered by `export_access_token_listener!` /
    /// `export_listener!` components).
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        let _ = (event, ctx);
    }
    /// Called once when the host shuts down.
    fn shutdown(&mut self) {}
}

/// An issued ID token.
pub struct IdTokenEvent<'a> {
    claims: &'a Claims,
    local_subject: Option<String>,
}

impl IdTokenEvent<'_> {
    /// The token's claims set (a host resource; every getter returns a copy).
    pub fn claims(&self) -> &Claims {
        self.claims
    }
    /// The local subject when `sub` is pairwise, none otherwise.
    pub fn local_subject(&self) -> Option<&str> {
        self.local_subject.as_deref()
    }
}

/// An issued access token.
pub struct AccessTokenEvent<'a> {
    claims: &'a Claims,
}

impl AccessTokenEvent<'_> {
    /// The token's claims set (a host resource; every getter returns a copy).
    pub fn claims(&self) -> &Claims {
        self.claims
    }
}

/// The listener's configuration properties as passed to `init` (sorted by key).
#[derive(Debug, Clone, Default)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Properties(pairs)
    }
    /// One property, or none.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The host log; lines are tagged with the listener's name. The host cuts long messages.
pub mod log {
    pub use crate::imp::log::Level;

    pub fn log(level: Level, msg: &str) {
        crate::imp::log::log(level, msg)
    }
    pub fn trace(msg: &str) {
        log(Level::Trace, msg)
    }
    pub fn debug(msg: &str) {
        log(Level::Debug, msg)
    }
    pub fn info(msg: &str) {
        log(Level::Info, msg)
    }
    pub fn warn(msg: &str) {
        log(Level::Warn, msg)
    }
    pub fn error(msg: &str) {
        log(Level::Error, msg)
    }
}

/// This listener's configuration properties, readable at any time.
pub mod config {
    pub fn get(key: &str) -> Option<String> {
        crate::imp::config::get(key)
    }
    /// All properties, sorted by key.
    pub fn properties() -> crate::Properties {
        crate::Properties(crate::imp::config::properties())
    }
}

/// Security Event Token signing by the host (the key never enters the guest).
pub mod signer {
    pub use crate::imp::signer::SignError;

    /// Sign a SET (`claims_json` holds `events`, optionally `sub`, `sub_id`, `txn`, `toe`);
    /// `audience` picks one configured audience, none means all. Returns the compact JWS.
    pub fn sign_set(claims_json: &str, audience: Option<&str>) -> Result<String, SignError> {
        crate::imp::signer::sign_set(claims_json, audience)
    }
}

/// Hand messages to a named sink configured for this listener (enqueue only).
pub mod publish {
    pub use crate::imp::publish::PublishError;

    pub fn publish(sink: &str, message: &str) -> Result<(), PublishError> {
        crate::imp::publish::publish(sink, message)
    }
}

/// Glue used by the export macros; not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::any::Any;
    use std::cell::RefCell;
    use std::marker::PhantomData;

    pub use crate::bindings::all_tokens::__export_all_tokens;

    // The component-type sections of the narrower worlds, encoded by build.rs.
    pub const ID_TOKEN_ONLY_TYPE: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/id-token-only.wasm"));
    pub const ACCESS_TOKEN_ONLY_TYPE: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/access-token-only.wasm"));

    pub const fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }

    // A component holds exactly one listener, so one type-erased slot is enough and keeps
    // the adapter generic (no per-type statics needed).
    thread_local! {
        static LISTENER: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    fn with<T: Listener, R>(f: impl FnOnce(&mut T) -> R) -> Option<R> {
        LISTENER.with(|slot| {
            let mut slot = slot.borrow_mut();
            slot.as_mut()?.downcast_mut::<T>().map(f)
        })
    }

    /// Implements the generated Guest traits by forwarding to the `Listener`.
    pub struct Adapter<T>(PhantomData<T>);

    impl<T: Listener> exp::lifecycle::Guest for Adapter<T> {
        fn init(properties: Vec<(String, String)>) -> Result<(), String> {
            let mut listener = T::default();
            listener.init(&Properties(properties))?;
            LISTENER.with(|slot| *slot.borrow_mut() = Some(Box::new(listener)));
            Ok(())
        }
        fn is_enabled() -> bool {
            with::<T, _>(|l| l.is_enabled()).unwrap_or(false)
        }
        fn shutdown() {
            with::<T, _>(|l| l.shutdown());
            LISTENER.with(|slot| slot.borrow_mut().take());
        }
    }

    // Events before a successful init are ignored: the host never sends them.
    impl<T: Listener> exp::id_token_listener::Guest for Adapter<T> {
        fn id_token_issued(claims: &Claims, local_subject: Option<String>, context: &EventContext) {
            let event = IdTokenEvent { claims, local_subject };
            with::<T, _>(|l| l.id_token_issued(&event, context));
        }
    }

    impl<T: Listener> exp::access_token_listener::Guest for Adapter<T> {
        fn access_token_issued(claims: &Claims, context: &EventContext) {
            let event = AccessTokenEvent { claims };
            with::<T, _>(|l| l.access_token_issued(&event, context));
        }
    }
}

/// Exports `$ty: Listener` as an ID-token-only listener (world `id-token-only`).
#[macro_export]
macro_rules! export_id_token_listener {
    ($ty:ty) => {
        const _: () = {
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle::__export_tokenwatch_listener_lifecycle_0_1_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle);
            $crate::bindings::all_tokens::exports::tokenwatch::listener::id_token_listener::__export_tokenwatch_listener_id_token_listener_0_1_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::id_token_listener);
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "component-type:tokenwatch-guest:id-token-only")]
            #[used]
            static __TOKENWATCH_COMPONENT_TYPE: [u8; $crate::__private::ID_TOKEN_ONLY_TYPE.len()] =
                $crate::__private::to_array($crate::__private::ID_TOKEN_ONLY_TYPE);
        };
    };
}

/// Exports `$ty: Listener` as an access-token-only listener (world `access-token-only`).
#[macro_export]
macro_rules! export_access_token_listener {
    ($ty:ty) => {
        const _: () = {
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle::__export_tokenwatch_listener_lifecycle_0_1_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle);
            $crate::bindings::all_tokens::exports::tokenwatch::listener::access_token_listener::__export_tokenwatch_listener_access_token_listener_0_1_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::access_token_listener);
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "component-type:tokenwatch-guest:access-token-only")]
            #[used]
            static __TOKENWATCH_COMPONENT_TYPE: [u8; $crate::__private::ACCESS_TOKEN_ONLY_TYPE.len()] =
                $crate::__private::to_array($crate::__private::ACCESS_TOKEN_ONLY_TYPE);
        };
    };
}

/// Exports `$ty: Listener` as a listener of both token kinds (world `all-tokens`).
#[macro_export]
macro_rules! export_listener {
    ($ty:ty) => {
        const _: () = {
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::__private::__export_all_tokens!(__TokenwatchAdapter with_types_in $crate::bindings::all_tokens);
        };
    };
}
