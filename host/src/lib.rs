//! tokenwatch runs OpenID Connect / OAuth 2.0 **token issue event listeners** compiled to
//! WebAssembly components: the sandboxed, any-language counterpart of the Connect2id
//! server's `IDTokenIssueEventListener` and `AccessTokenIssueEventListener` SPIs.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tokenwatch::{Config, Host, TokenEvent};
//!
//! let config = Config::from_file("tokenwatch.toml".as_ref())?;
//! let host = Host::builder(config).build()?;
//! let claims = serde_json::json!({"sub": "alice", "iss": "https://op.example.com", "aud": "app"});
//! let event = TokenEvent::id_token(claims.as_object().unwrap().clone());
//! for delivery in host.dispatch(&Arc::new(event)) {
//!     println!("{}: {}", delivery.listener, delivery.outcome.as_str());
//! }
//! host.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layout: `event` (ingress), `host` (dispatch), `listener` (load, instantiate, call),
//! `limits` (budgets applied before every call), `imports/` (one module per WIT import:
//! `token`, `log`, `config`, `signer`, `publish`), `status` (health and counters),
//! `replay` and `bench` (the commands).


pub mod bench;
mod bindings;
pub mod config;
pub mod event;
pub mod host;
pub mod imports;
pub mod limits;
pub mod listener;
pub mod replay;
pub mod signing;
mod state;
pub mod status;
pub mod text;
mod validate;

pub use config::{Config, ConfigError, ListenerConfig};
pub use event::{Claims, EventContext, EventError, EventKind, TokenEvent};
pub use host::{Host, HostBuilder, HostError};
pub use imports::log::{LogLevel, LogSink};
pub use limits::{Limits, TrapCause};
pub use listener::{Delivery, LoadError, Outcome};
pub use status::{CounterSnapshot, Health, ListenerStatus};
