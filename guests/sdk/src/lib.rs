//! Rust SDK for tokenwatch listeners: WebAssembly components notified of issued ID tokens
//! and access tokens (the sandboxed counterpart of Connect2id's
//! `IDTokenIssueEventListener` / `AccessTokenIssueEventListener` SPIs), contract
//! `tokenwatch:listener@0.2.0` (`wit/listener.wit`).
//!
//! A listener is a `Default` type that implements [`Listener`] (lifecycle, every method
//! defaulted) and the trait of each token kind it handles: [`IdTokenListener`],
//! [`AccessTokenListener`] or both. It is exported with the one macro that matches:
//!
//! | Implements | Export with | World of `wit/listener.wit` |
//! |---|---|---|
//! | `IdTokenListener` | [`export_id_token_listener!`] | `id-token-only` |
//! | `AccessTokenListener` | [`export_access_token_listener!`] | `access-token-only` |
//! | both | [`export_listener!`] | `all-tokens` |
//!
//! Any other pairing is a compile error that names the macro to use, and so is a second
//! export macro in the same crate (a component is one listener).
//!
//! After `init`, a listener says what it reads in [`Listener::declare`]: the claims its
//! handlers read (the host hands over only those), whether it reads the client's metadata,
//! and the configuration properties it accepts (the host warns about others). The default
//! declares every claim, no metadata, any property; declaring only what is read keeps
//! personal data out of the listener and makes each call cheaper.
//!
//! ```no_run
//! use tokenwatch_guest::{log, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener};
//!
//! #[derive(Default)]
//! struct Audit;
//!
//! impl Listener for Audit {
//!     fn declare(&self) -> Declaration {
//!         Declaration::claims(&["sub", "acr"])
//!     }
//! }
//!
//! impl IdTokenListener for Audit {
//!     fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
//!         let claims = event.claims();
//!         let sub = claims.subject().unwrap_or_default(); // "alice", not "\"alice\""
//!         let acr = claims.acr().unwrap_or_default();
//!         log::info(&format!("sub={sub} acr={acr} client={}", ctx.client_id()));
//!     }
//! }
//!
//! tokenwatch_guest::export_id_token_listener!(Audit);
//! ```
//!
//! The event reaches the handler as one buffer that [`Claims`] and [`EventContext`] read in
//! place: [`Claims::get`] returns a claim's JSON text as issued, borrowed from the event,
//! and the typed accessors ([`Claims::get_str`], [`Claims::subject`]...) borrow too unless
//! a string has escapes.
//!
//! A panic in a listener is logged at `error` as `panicked at FILE:LINE:COL: MESSAGE`
//! before the call traps (see [`panic`]).

mod event;
pub mod json;
pub mod panic;

/// Raw wit-bindgen output, for anything the ergonomic layer does not cover.
pub mod bindings {
    /// Imports only, generated once and shared by the world below (`with`).
    pub mod imports {
        wit_bindgen::generate!({
            world: "host-imports",
            path: "../wit",
        });
    }

    /// The `all-tokens` world: its export glue serves all three export macros (see build.rs).
    pub mod all_tokens {
        wit_bindgen::generate!({
            world: "all-tokens",
            path: "../wit",
            with: {
                "tokenwatch:listener/log@0.2.0": crate::bindings::imports::tokenwatch::listener::log,
                "tokenwatch:listener/config@0.2.0": crate::bindings::imports::tokenwatch::listener::config,
                "tokenwatch:listener/signer@0.2.0": crate::bindings::imports::tokenwatch::listener::signer,
                "tokenwatch:listener/publish@0.2.0": crate::bindings::imports::tokenwatch::listener::publish,
                "tokenwatch:listener/metrics@0.2.0": crate::bindings::imports::tokenwatch::listener::metrics,
                "tokenwatch:listener/batch@0.2.0": crate::bindings::imports::tokenwatch::listener::batch,
            },
            pub_export_macro: true,
            export_macro_name: "__export_all_tokens",
            default_bindings_module: "$crate::bindings::all_tokens",
        });
    }
}

use bindings::all_tokens::exports::tokenwatch::listener as exp;
use bindings::imports::tokenwatch::listener as imp;

pub use event::{AccessTokenEvent, Claims, EventContext, IdTokenEvent, Names};
pub use imp::publish::PublishError;
pub use imp::signer::SignError;

/// The lifecycle of a listener. One value lives per Wasm instance: it is created with
/// `Default` just before [`Listener::init`] and dropped after [`Listener::shutdown`].
/// (After a trap the host starts a fresh instance, so a fresh value is initialised.)
///
/// Every method has a default, so `impl Listener for MyListener {}` is enough. The events
/// come through [`IdTokenListener`] and/or [`AccessTokenListener`].
///
/// The host calls `init`, then (on success) the SDK calls [`Listener::declare`] and hands
/// the declaration to the host as `init`'s answer, then the host calls `is_enabled`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `tokenwatch_guest::Listener`",
    label = "not a listener",
    note = "every listener implements `Listener` (init, is_enabled, shutdown); all its methods have defaults, so `impl Listener for {Self} {{}}` is enough"
)]
pub trait Listener: Default + 'static {
    /// Called once before any event. An error disables the listener; the host logs it.
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        let _ = properties;
        Ok(())
    }
    /// What the handlers read and what configuration the listener accepts, asked once
    /// right after a successful `init` (so it can depend on the properties). The default,
    /// [`Declaration::all_claims`], hands every claim of each token to the handlers.
    fn declare(&self) -> Declaration {
        Declaration::all_claims()
    }
    /// Called after a successful `init`; `false` means no events are delivered.
    fn is_enabled(&self) -> bool {
        true
    }
    /// Called once when the host shuts down.
    fn shutdown(&mut self) {}
}

/// A listener of issued ID tokens (`IDTokenIssueEventListener`). Export it with
/// [`export_id_token_listener!`], or with [`export_listener!`] when the type also
/// implements [`AccessTokenListener`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `tokenwatch_guest::IdTokenListener`, which this export macro needs",
    label = "not an ID-token listener",
    note = "`export_id_token_listener!` and `export_listener!` export the ID-token handler `IdTokenListener::id_token_issued`; a listener of access tokens only is exported with `export_access_token_listener!`"
)]
pub trait IdTokenListener: Listener {
    /// An ID token was issued.
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext);
}

/// A listener of issued access tokens (`AccessTokenIssueEventListener`). Export it with
/// [`export_access_token_listener!`], or with [`export_listener!`] when the type also
/// implements [`IdTokenListener`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `tokenwatch_guest::AccessTokenListener`, which this export macro needs",
    label = "not an access-token listener",
    note = "`export_access_token_listener!` and `export_listener!` export the access-token handler `AccessTokenListener::access_token_issued`; a listener of ID tokens only is exported with `export_id_token_listener!`"
)]
pub trait AccessTokenListener: Listener {
    /// An access token was issued.
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext);
}

/// What a listener reads and accepts, returned by [`Listener::declare`] (the record
/// `declaration` of `wit/listener.wit`). Built from [`Declaration::claims`] or
/// [`Declaration::all_claims`]:
///
/// ```
/// use tokenwatch_guest::Declaration;
///
/// // The handlers read these claims and the client's metadata; the listener takes one
/// // property.
/// let d = Declaration::claims(&["sub", "iat", "acr"]).client_metadata().properties(&["report_every"]);
/// assert_eq!(d.declared_claims(), Some(&["sub".to_string(), "iat".into(), "acr".into()][..]));
///
/// // Claim names read from a property at init.
/// let names = "sub, email";
/// let d = Declaration::claims(names.split(',').map(str::trim));
/// assert_eq!(d.declared_claims().unwrap().len(), 2);
/// ```
///
/// The host may refuse a declaration it cannot serve (more than 256 claim names, a name
/// longer than 256 bytes...): `init` then fails with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    claims: Option<Vec<String>>,
    client_metadata: bool,
    properties: Option<Vec<String>>,
}

impl Declaration {
    /// The handlers read these claims, and only these: each event carries them in this
    /// order, and [`Claims::get`] of any other name is `None` (with a warning, logged once
    /// per instance). Takes anything iterable of string-likes: `&["sub", "iat"]`, a
    /// `Vec<String>`, `text.split(',')`...
    pub fn claims<I>(names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Declaration {
            claims: Some(names.into_iter().map(|n| n.as_ref().to_owned()).collect()),
            client_metadata: false,
            properties: None,
        }
    }

    /// The handlers read no claim (a listener that only counts events, say).
    pub fn no_claims() -> Self {
        Self::claims(std::iter::empty::<&str>())
    }

    /// The handlers may read any claim: each event carries the whole claims set as one JSON
    /// object. The default of [`Listener::declare`].
    pub fn all_claims() -> Self {
        Declaration { claims: None, client_metadata: false, properties: None }
    }

    /// The handlers read the client's registered metadata,
    /// [`EventContext::client_metadata`] (none without this).
    pub fn client_metadata(mut self) -> Self {
        self.client_metadata = true;
        self
    }

    /// The configuration properties the listener accepts: the host warns about any other
    /// key it is given (a misspelt key would otherwise be ignored without a word). Without
    /// this, any key is accepted.
    pub fn properties<I>(mut self, keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.properties = Some(keys.into_iter().map(|k| k.as_ref().to_owned()).collect());
        self
    }

    /// The listener accepts no configuration property: the host warns about any.
    pub fn no_properties(self) -> Self {
        self.properties(std::iter::empty::<&str>())
    }

    /// The declared claim names, in order; `None` for [`Declaration::all_claims`].
    pub fn declared_claims(&self) -> Option<&[String]> {
        self.claims.as_deref()
    }

    /// Whether the client's metadata is declared.
    pub fn declares_client_metadata(&self) -> bool {
        self.client_metadata
    }

    /// The accepted property keys; `None` when any key is accepted.
    pub fn accepted_properties(&self) -> Option<&[String]> {
        self.properties.as_deref()
    }
}

impl Default for Declaration {
    /// [`Declaration::all_claims`].
    fn default() -> Self {
        Self::all_claims()
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

/// Counters and gauges the host exposes in the Prometheus text format, as `guest_<name>`
/// with a `listener` label. Names and label names match `[a-zA-Z_][a-zA-Z0-9_]*`; the host
/// caps names and label sets per listener and answers `too-many-series` past them.
pub mod metrics {
    pub use crate::imp::metrics::MetricsError;

    /// Add `value` to the counter `name` with `labels`.
    pub fn counter_add(name: &str, labels: &[(&str, &str)], value: u64) -> Result<(), MetricsError> {
        crate::imp::metrics::counter_add(name, &owned(labels), value)
    }

    /// Set the gauge `name` with `labels` to `value`.
    pub fn gauge_set(name: &str, labels: &[(&str, &str)], value: f64) -> Result<(), MetricsError> {
        crate::imp::metrics::gauge_set(name, &owned(labels), value)
    }

    fn owned(labels: &[(&str, &str)]) -> Vec<(String, String)> {
        labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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

    // --- compile-time checks of the export macros ------------------------------------------

    /// The bound of each macro, checked before the glue so that its error comes first.
    pub fn id_token_listener<T: IdTokenListener>() {}
    pub fn access_token_listener<T: AccessTokenListener>() {}

    /// Whether `T` implements the other kind's trait, told apart by method resolution on a
    /// concrete type ("autoref specialisation"): the method on `Probe<T>` is found first
    /// when its bound holds, the one on `&Probe<T>` otherwise. The answer is a type, so a
    /// bound on it can fail with a message of our own.
    pub struct Probe<T>(PhantomData<T>);
    impl<T> Probe<T> {
        #[allow(clippy::new_without_default)] // built only by the export macros
        pub const fn new() -> Self {
            Probe(PhantomData)
        }
    }
    pub struct Implements;
    pub struct DoesNotImplement;

    pub trait ProbeIdTokenListener {
        fn id_token_listener(&self) -> Implements {
            Implements
        }
    }
    impl<T: IdTokenListener> ProbeIdTokenListener for Probe<T> {}
    pub trait ProbeIdTokenListenerFallback {
        fn id_token_listener(&self) -> DoesNotImplement {
            DoesNotImplement
        }
    }
    impl<T> ProbeIdTokenListenerFallback for &Probe<T> {}

    pub trait ProbeAccessTokenListener {
        fn access_token_listener(&self) -> Implements {
            Implements
        }
    }
    impl<T: AccessTokenListener> ProbeAccessTokenListener for Probe<T> {}
    pub trait ProbeAccessTokenListenerFallback {
        fn access_token_listener(&self) -> DoesNotImplement {
            DoesNotImplement
        }
    }
    impl<T> ProbeAccessTokenListenerFallback for &Probe<T> {}

    #[diagnostic::on_unimplemented(
        message = "`{T}` also implements `AccessTokenListener`, but `export_id_token_listener!` exports only the ID-token handler: every access token would be skipped",
        label = "`{T}` implements `AccessTokenListener` too",
        note = "export a listener of both kinds with `tokenwatch_guest::export_listener!({T})`"
    )]
    pub trait NotAlsoAccessTokenListener<T> {}
    impl<T> NotAlsoAccessTokenListener<T> for DoesNotImplement {}
    pub fn not_also_access_token_listener<T, K: NotAlsoAccessTokenListener<T>>(_: K) {}

    #[diagnostic::on_unimplemented(
        message = "`{T}` also implements `IdTokenListener`, but `export_access_token_listener!` exports only the access-token handler: every ID token would be skipped",
        label = "`{T}` implements `IdTokenListener` too",
        note = "export a listener of both kinds with `tokenwatch_guest::export_listener!({T})`"
    )]
    pub trait NotAlsoIdTokenListener<T> {}
    impl<T> NotAlsoIdTokenListener<T> for DoesNotImplement {}
    pub fn not_also_id_token_listener<T, K: NotAlsoIdTokenListener<T>>(_: K) {}

    // --- the adapter ----------------------------------------------------------------------

    // A component holds exactly one listener, so one type-erased slot is enough and keeps
    // the adapter generic (no per-type statics needed). The slot also keeps the declared
    // claim names, which the events are decoded with.
    struct Slot {
        listener: Box<dyn Any>,
        claims: Option<Vec<String>>,
    }

    thread_local! {
        static LISTENER: RefCell<Option<Slot>> = const { RefCell::new(None) };
    }

    /// `f` on the listener and its declared claim names; `None` before a successful init.
    fn with<T: Listener, R>(f: impl FnOnce(&mut T, Option<&[String]>) -> R) -> Option<R> {
        LISTENER.with(|slot| {
            let mut slot = slot.borrow_mut();
            let slot = slot.as_mut()?;
            let claims = slot.claims.as_deref();
            slot.listener.downcast_mut::<T>().map(|l| f(l, claims))
        })
    }

    /// Implements the generated Guest traits by forwarding to the listener's traits.
    pub struct Adapter<T>(PhantomData<T>);

    impl<T: Listener> exp::lifecycle::Guest for Adapter<T> {
        fn init(properties: Vec<(String, String)>) -> Result<exp::lifecycle::Declaration, String> {
            // Before any listener code runs, `Default` included.
            crate::panic::install_hook();
            let mut listener = T::default();
            listener.init(&Properties(properties))?;
            let Declaration { claims, client_metadata, properties } = listener.declare();
            let answer = exp::lifecycle::Declaration { claims: claims.clone(), client_metadata, properties };
            LISTENER.with(|slot| *slot.borrow_mut() = Some(Slot { listener: Box::new(listener), claims }));
            Ok(answer)
        }
        fn is_enabled() -> bool {
            with::<T, _>(|l, _| l.is_enabled()).unwrap_or(false)
        }
        fn shutdown() {
            with::<T, _>(|l, _| l.shutdown());
            LISTENER.with(|slot| slot.borrow_mut().take());
        }
    }

    // Events before a successful init are ignored: the host never sends them.
    fn id_token_issued<T: IdTokenListener>(event: &[u8]) {
        with::<T, _>(|l, declared| {
            let event = crate::event::decode(event, declared);
            let token = IdTokenEvent { claims: event.claims, local_subject: event.local_subject };
            l.id_token_issued(&token, &event.context)
        });
    }

    fn access_token_issued<T: AccessTokenListener>(event: &[u8]) {
        with::<T, _>(|l, declared| {
            let event = crate::event::decode(event, declared);
            let token = AccessTokenEvent { claims: event.claims };
            l.access_token_issued(&token, &event.context)
        });
    }

    impl<T: IdTokenListener> exp::id_token_listener::Guest for Adapter<T> {
        fn id_token_issued(event: Vec<u8>) {
            id_token_issued::<T>(&event)
        }
    }

    impl<T: AccessTokenListener> exp::access_token_listener::Guest for Adapter<T> {
        fn access_token_issued(event: Vec<u8>) {
            access_token_issued::<T>(&event)
        }
    }

    // --- batches (async mode): one call, one handler call per event ------------------------

    use exp::batch_listener::{IssuedToken, TokenKind};

    /// Tell the host event `i` starts (it arms that event's own budgets), then hand it over.
    fn each(events: Vec<IssuedToken>, mut handle: impl FnMut(TokenKind, &[u8])) {
        for (i, issued) in events.iter().enumerate() {
            crate::imp::batch::begin(i as u32);
            handle(issued.kind, &issued.event);
        }
    }

    // The host sends a batch only the kinds the component has handlers for.
    impl<T: IdTokenListener + AccessTokenListener> exp::batch_listener::Guest for Adapter<T> {
        fn tokens_issued(events: Vec<IssuedToken>) {
            each(events, |kind, event| match kind {
                TokenKind::IdToken => id_token_issued::<T>(event),
                TokenKind::AccessToken => access_token_issued::<T>(event),
            })
        }
    }

    /// The batch export of a listener of ID tokens only.
    pub struct IdTokenBatch<T>(PhantomData<T>);
    impl<T: IdTokenListener> exp::batch_listener::Guest for IdTokenBatch<T> {
        fn tokens_issued(events: Vec<IssuedToken>) {
            each(events, |kind, event| {
                if kind == TokenKind::IdToken {
                    id_token_issued::<T>(event)
                }
            })
        }
    }

    /// The batch export of a listener of access tokens only.
    pub struct AccessTokenBatch<T>(PhantomData<T>);
    impl<T: AccessTokenListener> exp::batch_listener::Guest for AccessTokenBatch<T> {
        fn tokens_issued(events: Vec<IssuedToken>) {
            each(events, |kind, event| {
                if kind == TokenKind::AccessToken {
                    access_token_issued::<T>(event)
                }
            })
        }
    }
}

/// Every export macro defines this `#[macro_export]` macro at the crate root, so a second
/// export macro anywhere in the crate is a compile error that names the rule ("the name
/// `only_one_tokenwatch_export_macro_per_crate` is defined multiple times") instead of a
/// duplicate-symbol link error. A component is one listener: use `export_listener!` for a
/// listener of both token kinds.
#[doc(hidden)]
#[macro_export]
macro_rules! __tokenwatch_one_export_per_crate {
    () => {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! only_one_tokenwatch_export_macro_per_crate {
            () => {};
        }
    };
}

/// Exports `$ty` as a listener of ID tokens only (world `id-token-only`; component exports
/// `lifecycle` and `id-token-listener`).
///
/// `$ty` must implement [`Listener`] and [`IdTokenListener`], and must not implement
/// [`AccessTokenListener`] (use [`export_listener!`] for both); either mistake is a compile
/// error. Use one export macro per crate.
#[macro_export]
macro_rules! export_id_token_listener {
    ($ty:ty) => {
        $crate::__tokenwatch_one_export_per_crate!();
        const _: () = {
            const _: fn() = || {
                $crate::__private::id_token_listener::<$ty>();
                #[allow(unused_imports)]
                use $crate::__private::{ProbeAccessTokenListener as _, ProbeAccessTokenListenerFallback as _};
                $crate::__private::not_also_access_token_listener::<$ty, _>(
                    (&$crate::__private::Probe::<$ty>::new()).access_token_listener(),
                );
            };
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle::__export_tokenwatch_listener_lifecycle_0_2_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle);
            $crate::bindings::all_tokens::exports::tokenwatch::listener::id_token_listener::__export_tokenwatch_listener_id_token_listener_0_2_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::id_token_listener);
            type __TokenwatchBatch = $crate::__private::IdTokenBatch<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::batch_listener::__export_tokenwatch_listener_batch_listener_0_2_0_cabi!(
                __TokenwatchBatch with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::batch_listener);
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "component-type:tokenwatch-guest:id-token-only")]
            #[used]
            static __TOKENWATCH_COMPONENT_TYPE: [u8; $crate::__private::ID_TOKEN_ONLY_TYPE.len()] =
                $crate::__private::to_array($crate::__private::ID_TOKEN_ONLY_TYPE);
        };
    };
}

/// Exports `$ty` as a listener of access tokens only (world `access-token-only`; component
/// exports `lifecycle` and `access-token-listener`).
///
/// `$ty` must implement [`Listener`] and [`AccessTokenListener`], and must not implement
/// [`IdTokenListener`] (use [`export_listener!`] for both); either mistake is a compile
/// error. Use one export macro per crate.
#[macro_export]
macro_rules! export_access_token_listener {
    ($ty:ty) => {
        $crate::__tokenwatch_one_export_per_crate!();
        const _: () = {
            const _: fn() = || {
                $crate::__private::access_token_listener::<$ty>();
                #[allow(unused_imports)]
                use $crate::__private::{ProbeIdTokenListener as _, ProbeIdTokenListenerFallback as _};
                $crate::__private::not_also_id_token_listener::<$ty, _>(
                    (&$crate::__private::Probe::<$ty>::new()).id_token_listener(),
                );
            };
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle::__export_tokenwatch_listener_lifecycle_0_2_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::lifecycle);
            $crate::bindings::all_tokens::exports::tokenwatch::listener::access_token_listener::__export_tokenwatch_listener_access_token_listener_0_2_0_cabi!(
                __TokenwatchAdapter with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::access_token_listener);
            type __TokenwatchBatch = $crate::__private::AccessTokenBatch<$ty>;
            $crate::bindings::all_tokens::exports::tokenwatch::listener::batch_listener::__export_tokenwatch_listener_batch_listener_0_2_0_cabi!(
                __TokenwatchBatch with_types_in $crate::bindings::all_tokens::exports::tokenwatch::listener::batch_listener);
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "component-type:tokenwatch-guest:access-token-only")]
            #[used]
            static __TOKENWATCH_COMPONENT_TYPE: [u8; $crate::__private::ACCESS_TOKEN_ONLY_TYPE.len()] =
                $crate::__private::to_array($crate::__private::ACCESS_TOKEN_ONLY_TYPE);
        };
    };
}

/// Exports `$ty` as a listener of both token kinds (world `all-tokens`; component exports
/// `lifecycle`, `id-token-listener` and `access-token-listener`).
///
/// `$ty` must implement [`Listener`], [`IdTokenListener`] and [`AccessTokenListener`]; a
/// missing one is a compile error that names the single-kind macro to use instead. Use one
/// export macro per crate.
#[macro_export]
macro_rules! export_listener {
    ($ty:ty) => {
        $crate::__tokenwatch_one_export_per_crate!();
        const _: () = {
            const _: fn() = || {
                $crate::__private::id_token_listener::<$ty>();
                $crate::__private::access_token_listener::<$ty>();
            };
            type __TokenwatchAdapter = $crate::__private::Adapter<$ty>;
            $crate::__private::__export_all_tokens!(__TokenwatchAdapter with_types_in $crate::bindings::all_tokens);
        };
    };
}
