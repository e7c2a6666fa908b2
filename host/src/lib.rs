//! tokenwatch runs OpenID Connect / OAuth 2.0 **token issue event listeners** compiled to
//! WebAssembly components: the sandboxed, any-language counterpart of the Connect2id
//! server's `IDTokenIssueEventListener` and `AccessTokenIssueEventListener` SPIs.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tokenwatch::{Config, Host, ListenerConfig, TokenEvent};
//!
//! // From a file (`Config::from_file`), or in code:
//! let config = Config::new()
//!     .with_listener(ListenerConfig::new("guests/dist/metering.wasm").with_property("report_every", "100"));
//! let host = Host::builder(config).build()?;
//! let claims = serde_json::json!({"sub": "alice", "iss": "https://op.example.com", "client_id": "app"});
//! let event = TokenEvent::access_token(claims.as_object().unwrap().clone());
//! for delivery in host.dispatch(&Arc::new(event)) {
//!     println!("{}: {}", delivery.listener, delivery.outcome.as_str());
//! }
//! host.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guest logs
//!
//! Guest log lines go to `tracing` (target `tokenwatch::guest`, field `listener`) unless
//! [`HostBuilder::log_sink`] names another [`LogSink`]. Without a `tracing` subscriber they
//! go nowhere: install one (`tracing_subscriber::fmt().init()`, with a filter that lets
//! `tokenwatch=info` through), as `examples/embed.rs` does.
//!
//! # Blocking, threads and async servers
//!
//! [`Host::dispatch`] runs every listener's handler **on the calling thread**, one after
//! another, and returns when all are done: it blocks. Each listener's share is bounded by
//! its deadline (100 ms by default) for the wait for its lock plus the same for the call,
//! with instantiation, `init` and `is-enabled` on top when a fresh instance is needed; a
//! dispatch takes the sum of its listeners' shares. `Host` is `Send + Sync`: share it as
//! `Arc<Host>` and dispatch from any number of issuing threads.
//!
//! In an async server (tokio, async-std), never call `dispatch` on an executor thread: run
//! it on the runtime's blocking pool, and await the outcomes or let them go:
//!
//! ```no_run
//! use std::sync::Arc;
//! use tokenwatch::{Delivery, Host, TokenEvent};
//!
//! async fn token_issued(host: Arc<Host>, event: TokenEvent) -> Vec<Delivery> {
//!     tokio::task::spawn_blocking(move || host.dispatch_event(event))
//!         .await
//!         .expect("dispatch does not panic")
//! }
//! ```
//!
//! To not delay the token response at all, drop the `JoinHandle` instead of awaiting it (the
//! listeners still run, in order, on the blocking pool), or hand events to a bounded channel
//! read by a dedicated thread that calls `dispatch`; a full channel is then your signal to
//! drop and count events rather than queue without limit.
//!
//! # Public API
//!
//! The crate root is the embedding API. The modules marked hidden (`cli`, `event`,
//! `runtime`, `imports`) serve the `tokenwatch` command and the test suites and may
//! change in any release; `signing` holds the SET signing types that `[signing]` and
//! [`Host::signer`] expose.

// The embedding API's modules: private, re-exported below. The folders follow the data flow:
// ingress (`event`, `cli::replay`) -> `dispatch` -> `runtime` -> `imports` -> `outbox`.
mod config;
mod dispatch;
mod outbox;
mod text;

/// SET signing: `SigningConfig` (`[signing]`), the `Signer` behind [`Host::signer`], key
/// loading and its errors.
pub mod signing;

/// The library side of the `tokenwatch` command (`replay`, `bench`); for the command and the
/// tests only, not part of the embedding API.
#[doc(hidden)]
pub mod cli;
/// `tokenwatch conformance`: the sandbox conformance suite (hostile guests and a canary),
/// shipped in the binary. For the command and the tests only.
#[doc(hidden)]
pub mod conformance;
/// Ingress parsing. The types embedders need are re-exported at the crate root; the module
/// itself is public for the command and the tests.
#[doc(hidden)]
pub mod event;
/// Host capabilities (one module per WIT import). Public for the tests (log caps); the
/// embedding API is [`LogSink`] and [`LogLevel`].
#[doc(hidden)]
pub mod imports;
/// `tokenwatch serve`: the HTTP API over a `Host` and the hot-load watcher. For the command
/// and the tests only.
#[doc(hidden)]
pub mod serve;
/// The listener runtime (engine, limits, listener, state). Public for the tests (limit
/// maxima); the embedding API is [`LimitsConfig`] and [`TrapCause`].
#[doc(hidden)]
pub mod runtime;

pub use config::{CacheConfig, Config, ConfigError, ConfigErrorKind, DispatchConfig, HttpConfig, ListenerConfig, Mode, OnFull, OutboxConfig, Secret, ServeConfig, SinkConfig, SinkType};
pub use outbox::spool::{DeadLetter, Spool, SpoolError};
pub use outbox::{Message, SinkStatus};
pub use event::{Claims, EventContext, EventError, EventKind, EventLines, Ingress, TokenEvent, MAX_LINE_BYTES};
pub use dispatch::host::{Host, HostBuilder, HostError, ReloadError};
pub use imports::log::{LogLevel, LogSink};
pub use runtime::limits::{LimitsConfig, TrapCause};
pub use runtime::listener::{Delivery, LoadError, Outcome};
pub use runtime::status::{CounterSnapshot, Health, ListenerStatus};
