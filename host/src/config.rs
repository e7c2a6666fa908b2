//! The TOML configuration file. Unknown keys are errors; every default is documented in
//! docs/configuration.md, "Configuration".
//!
//! A configuration can also be built in code, with the same defaults as an empty file:
//!
//! ```
//! use tokenwatch::{Config, LimitsConfig, ListenerConfig};
//!
//! let config = Config::new()
//!     .with_limits(LimitsConfig { deadline_ms: Some(50), ..Default::default() })
//!     .with_listener(
//!         ListenerConfig::new("listeners/metering.wasm")
//!             .with_name("metering")
//!             .with_property("report_every", "100"),
//!     );
//! config.validate()?;
//! # Ok::<(), tokenwatch::ConfigError>(())
//! ```

use crate::runtime::limits::LimitsConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The whole configuration file. `Config::default()` (or `Config::new()`) is an empty file:
/// default limits, no listeners, no signing key.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Limits for every listener (`[limits]`); a listener's own `[listener.limits]` wins.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The listeners (`[[listener]]`), called in this order.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// SET signing (`[signing]`: `key_file`, `kid`, `issuer`, ...; see
    /// `signing::SigningConfig`). Without it, `sign-set` answers `no-key-configured`.
    #[serde(default)]
    pub signing: Option<crate::signing::SigningConfig>,
    /// The sinks listeners may publish to (`[[sink]]`), each granted per listener (`sinks`).
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
    /// Where the outbox spools and how long shutdown may deliver (`[outbox]`).
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// The async listeners' shared queue and dispatcher threads (`[dispatch]`).
    #[serde(default)]
    pub dispatch: DispatchConfig,
    /// The artifact cache of compiled components (`[cache]`).
    #[serde(default)]
    pub cache: CacheConfig,
    /// The HTTP API of `tokenwatch serve` (`[http]`): address, body limit, request timeout,
    /// admin token. Only `serve` reads it.
    #[serde(default)]
    pub http: HttpConfig,
    /// `tokenwatch serve` itself (`[serve]`): a directory of listeners, the drain deadline.
    #[serde(default)]
    pub serve: ServeConfig,
}

/// `[cache]`: the artifact cache, compiled components kept on disk (see
/// `runtime::cache`). A cache that cannot be used never stops a listener from loading: the
/// host warns and compiles.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// `false`: compile every module at every start (identical modules are still compiled
    /// once per host). Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where the artifacts are. Default: `$XDG_CACHE_HOME/tokenwatch/artifacts`, else
    /// `~/.cache/tokenwatch/artifacts` (with neither variable set, no disk cache).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The installation's secret that authenticates the artifacts (created, mode 0600, when
    /// missing); it must be outside `dir`. Default: `$XDG_STATE_HOME/tokenwatch/cache.key`,
    /// else `~/.local/state/tokenwatch/cache.key` (with neither variable set, no disk cache).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl Default for CacheConfig {
    /// The cache on, in the default places.
    fn default() -> Self {
        CacheConfig { enabled: true, dir: None, key_file: None }
    }
}

impl CacheConfig {
    /// The artifacts' directory: `dir`, else the default (`None` without `$XDG_CACHE_HOME`
    /// and `$HOME`: no place of the user's, and the current directory is not one).
    pub fn dir(&self) -> Option<PathBuf> {
        match &self.dir {
            Some(dir) => Some(dir.clone()),
            None => Some(xdg_dir("XDG_CACHE_HOME", ".cache")?.join("tokenwatch/artifacts")),
        }
    }

    /// The secret's file: `key_file`, else the default (`None` without `$XDG_STATE_HOME`
    /// and `$HOME`).
    pub fn key_file(&self) -> Option<PathBuf> {
        match &self.key_file {
            Some(file) => Some(file.clone()),
            None => Some(xdg_dir("XDG_STATE_HOME", ".local/state")?.join("tokenwatch/cache.key")),
        }
    }

    /// Empty paths, and a key file inside the cache directory.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        for (key, path) in [("dir", &self.dir), ("key_file", &self.key_file)] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err((key, format!("{key} is empty")));
            }
        }
        // Only a place the configuration chose (the defaults are checked when the cache opens).
        let chosen = self.dir.is_some() || self.key_file.is_some();
        let inside = matches!((self.key_file(), self.dir()), (Some(key), Some(dir)) if key.starts_with(&dir));
        if self.enabled && chosen && inside {
            return Err(("key_file", "key_file is inside the cache directory: keep the secret outside `dir`".into()));
        }
        Ok(())
    }
}

/// `$VAR` if set and absolute (XDG Base Directory), else `$HOME/<under_home>`.
fn xdg_dir(var: &str, under_home: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(under_home)))
}

/// `[http]`: the HTTP API of `tokenwatch serve`. Every key optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The address to listen on, `IP:PORT` (`[::1]:8720` for IPv6; port 0 picks a free one).
    /// Default `127.0.0.1:8720`: only this machine can connect.
    #[serde(default)]
    pub address: Option<String>,
    /// The largest request body accepted, in bytes; a larger one is answered 413 without
    /// dispatching any of it. Default 4 MiB (four real batches of a thousand events; a body
    /// is held in memory while it is parsed). 1 to 256 MiB.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// How long one request may take, reading its body and running the listeners included;
    /// past it the answer is 503. Default 30 000, 1 to 3 600 000.
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
    /// A file holding the admin API's bearer token (surrounding whitespace trimmed; empty
    /// is an error at start). Relative to the config file. At most one of this and
    /// `admin_token_env`; without either, the admin API refuses every request (403).
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// The name of an environment variable holding the admin API's bearer token, read at
    /// start (unset or empty is an error then).
    #[serde(default)]
    pub admin_token_env: Option<String>,
}

/// `[http] address` when the config does not set it.
pub const DEFAULT_HTTP_ADDRESS: &str = "127.0.0.1:8720";

impl HttpConfig {
    /// The largest body a `max_body_bytes` may allow: bodies are held in memory.
    pub const MAX_BODY_BYTES_LIMIT: u64 = 256 << 20;
    /// The longest `request_timeout_ms`: an hour.
    pub const MAX_REQUEST_TIMEOUT_MS: u64 = 3_600_000;

    /// `address`, parsed (the default when unset). Validation has checked it.
    pub fn address(&self) -> Result<std::net::SocketAddr, String> {
        let text = self.address.as_deref().unwrap_or(DEFAULT_HTTP_ADDRESS);
        text.parse().map_err(|_| {
            format!("address = {:?} is not IP:PORT (for example 127.0.0.1:8720, 0.0.0.0:8720 or [::1]:8720)", crate::text::for_humans(text, 200))
        })
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes.unwrap_or(4 << 20) as usize
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.request_timeout_ms.unwrap_or(30_000))
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        self.address().map_err(|m| ("address", m))?;
        match self.max_body_bytes {
            Some(0) => return Err(("max_body_bytes", "max_body_bytes must be at least 1".into())),
            Some(n) if n > Self::MAX_BODY_BYTES_LIMIT => {
                return Err(("max_body_bytes", format!("max_body_bytes = {n} is over the maximum of {} (bodies are held in memory)", Self::MAX_BODY_BYTES_LIMIT)))
            }
            _ => {}
        }
        match self.request_timeout_ms {
            Some(0) => return Err(("request_timeout_ms", "request_timeout_ms must be at least 1".into())),
            Some(ms) if ms > Self::MAX_REQUEST_TIMEOUT_MS => {
                return Err(("request_timeout_ms", format!("request_timeout_ms = {ms} is over the maximum of {}", Self::MAX_REQUEST_TIMEOUT_MS)))
            }
            _ => {}
        }
        if self.admin_token_file.is_some() && self.admin_token_env.is_some() {
            return Err(("admin_token_env", "give `admin_token_file` or `admin_token_env`, not both".into()));
        }
        if self.admin_token_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(("admin_token_file", "admin_token_file is empty".into()));
        }
        if let Some(var) = &self.admin_token_env {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(("admin_token_env", format!("admin_token_env = {var:?} is not an environment variable name")));
            }
        }
        Ok(())
    }
}

/// `[serve]`: what `tokenwatch serve` loads and how long it drains. Every key optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Every `*.wasm` file in this directory becomes a listener named after its file stem,
    /// called after the `[[listener]]` tables (in file name order). Relative to the config
    /// file. A name that a `[[listener]]` already has is an error naming both.
    #[serde(default)]
    pub listeners_dir: Option<PathBuf>,
    /// How the modules of `listeners_dir` are called: `"sync"` (the default) or `"async"`.
    #[serde(default)]
    pub listeners_mode: Option<Mode>,
    /// How long the drain at shutdown may take: requests already running their listeners
    /// finish, new event requests get 503. Past it the listeners are shut down anyway.
    /// Default 10 000, at most 600 000.
    #[serde(default)]
    pub shutdown_ms: Option<u64>,
}

impl ServeConfig {
    pub const MAX_SHUTDOWN_MS: u64 = 600_000;

    pub fn shutdown_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.shutdown_ms.unwrap_or(10_000))
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.listeners_dir.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(("listeners_dir", "listeners_dir is empty".into()));
        }
        match self.shutdown_ms {
            Some(ms) if ms > Self::MAX_SHUTDOWN_MS => Err(("shutdown_ms", format!("shutdown_ms = {ms} is over the maximum of {}", Self::MAX_SHUTDOWN_MS))),
            _ => Ok(()),
        }
    }
}


/// `[dispatch]`: how async listeners (`mode = "async"`) are served.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchConfig {
    /// Events the shared queue holds at most (the memory bound). Default 65,536.
    #[serde(default)]
    pub queue: Option<usize>,
    /// Dispatcher threads the async listeners are spread over. Default: the number of
    /// cores, at most 4.
    #[serde(default)]
    pub threads: Option<usize>,
    /// How long shutdown lets async listeners work through their queue before the rest is
    /// dropped (counted, reason `shutdown`). Default 5000.
    #[serde(default)]
    pub drain_ms: Option<u64>,
    /// Queued events handed to an async listener per call, when it exports `batch-listener`
    /// (every SDK's listener does): a call costs about as much as a small handler, so
    /// batches of 16 about halve the cost per event. 1 turns batching off. Default 16.
    #[serde(default)]
    pub batch: Option<usize>,
}

impl DispatchConfig {
    pub fn batch(&self) -> usize {
        self.batch.unwrap_or(16)
    }

    pub fn queue(&self) -> usize {
        self.queue.unwrap_or(65_536)
    }

    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(4))
    }

    pub fn drain_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.drain_ms.unwrap_or(5_000))
    }

    fn validate(&self) -> Result<(), String> {
        if self.queue == Some(0) || self.queue.is_some_and(|q| q > 1 << 24) {
            return Err("queue must be between 1 and 16777216".into());
        }
        if self.threads == Some(0) || self.threads.is_some_and(|t| t > 64) {
            return Err("threads must be between 1 and 64".into());
        }
        if self.batch == Some(0) || self.batch.is_some_and(|b| b > 1024) {
            return Err("batch must be between 1 and 1024".into());
        }
        Ok(())
    }
}

/// How a listener is called (`mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On the dispatching thread, which waits for it: the SPI's semantics.
    #[default]
    Sync,
    /// Handed over through the shared queue and run by a dispatcher thread, in arrival
    /// order; the dispatching thread does not wait.
    Async,
}

/// What an async listener's full queue does to a new event (`on_full`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFull {
    /// The listener's oldest queued event is dropped, counted with the reason `queue-full`.
    #[default]
    Drop,
    /// The new event is refused (`Outcome::QueueFull`; `serve` answers 503).
    Reject,
}

/// `[outbox]`: the durable spool and the shutdown deadline. Used only when there are sinks.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The spool's directory (it holds `outbox.redb`). Default:
    /// `$XDG_STATE_HOME/tokenwatch/outbox`, else `~/.local/state/tokenwatch/outbox`.
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// How long shutdown keeps delivering queued messages before it spools the rest.
    /// Default 5000.
    #[serde(default)]
    pub shutdown_ms: Option<u64>,
}

impl OutboxConfig {
    pub fn spool_dir(&self) -> PathBuf {
        if let Some(dir) = &self.spool_dir {
            return dir.clone();
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        state.join("tokenwatch/outbox")
    }

    pub fn shutdown_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.shutdown_ms.unwrap_or(5_000))
    }
}

/// The kinds of sink (`type` in `[[sink]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SinkType {
    /// NDJSON appended to `path`, fsynced per batch, rotated at `max_file_mb`.
    File,
    /// One line per message on standard output.
    Stdout,
    /// Each message POSTed to `url` as a Security Event Token (RFC 8935 push delivery).
    HttpPush,
    /// Each message published to NATS JetStream on `subject`, acknowledged by the stream.
    Nats,
    /// Messages sent to the AWS SQS queue `queue_url` (SendMessageBatch, up to 10 at a time).
    Sqs,
}

impl SinkType {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkType::File => "file",
            SinkType::Stdout => "stdout",
            SinkType::HttpPush => "http-push",
            SinkType::Nats => "nats",
            SinkType::Sqs => "sqs",
        }
    }

    /// "a" or "an", for messages ("an http-push sink").
    fn article(self) -> &'static str {
        match self {
            SinkType::HttpPush | SinkType::Sqs => "an",
            _ => "a",
        }
    }
}

/// One `[[sink]]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// What listeners name in `publish` and in their `sinks` grant.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SinkType,
    /// `file`: the file to append to; relative paths are relative to the config file.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `file`: rotate when the file would grow past this. Default 100.
    #[serde(default)]
    pub max_file_mb: Option<u64>,
    /// Messages held in memory for this sink before `publish` answers `queue-full`.
    /// Default 10 000.
    #[serde(default)]
    pub queue: Option<usize>,
    /// The largest message accepted, in bytes; larger ones get `too-large`. Default 256 KiB
    /// (SQS's cap).
    #[serde(default)]
    pub max_message_bytes: Option<u32>,
    /// `http-push`: the receiver's endpoint, an `http://` or `https://` URL without
    /// credentials in it. Each message is POSTed to it as a SET (RFC 8935). Required.
    ///
    /// `nats`: the server, `nats://HOST:PORT` (port 4222 when left out), without credentials,
    /// path or query. Required.
    #[serde(default)]
    pub url: Option<String>,
    /// `http-push`: the `Authorization` header sent with every request, as written (for
    /// example `Bearer 3x4mpl3`). Never logged nor shown. At most one of `authorization` and
    /// `authorization_env`; without either, no `Authorization` header is sent.
    #[serde(default)]
    pub authorization: Option<Secret>,
    /// `http-push`: the name of an environment variable holding the `Authorization` header
    /// value, read when the sink starts (a variable that is not set is an error then).
    #[serde(default)]
    pub authorization_env: Option<String>,
    /// `http-push`: how long one request may take, connecting and reading the answer
    /// included, in milliseconds; past it the message is retried. Default 10 000, at most
    /// 30 000 (the outbox's limit per batch).
    ///
    /// `nats`: how long a batch may wait for the server's acknowledgements (and a JetStream
    /// API request, the stream check, for its answer); past it the unacknowledged messages
    /// are retried. Same default and maximum.
    ///
    /// `sqs`: how long one SendMessageBatch call may take, connecting and signing included;
    /// past it its messages are retried. Same default and maximum.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `nats`: the subject each message is published on, for example `tokens.issued`: no
    /// wildcards (`*`, `>`), no spaces, no empty tokens. A JetStream stream must capture it.
    /// Required.
    #[serde(default)]
    pub subject: Option<String>,
    /// `nats`: the stream that must store the messages. When set, the sink checks at start
    /// that the stream exists and captures `subject` (a start that cannot reach the server
    /// goes on, and the check is left to the server: each publish carries
    /// `Nats-Expected-Stream`, and a publish the stream does not take is retried). Streams
    /// are never created by tokenwatch: create the stream, with the duplicate window that
    /// suits (`Nats-Msg-Id` de-duplication), before messages are published. Optional.
    #[serde(default)]
    pub stream: Option<String>,
    /// `sqs`: the queue's URL, `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` (or a
    /// compatible server's), without credentials. A name ending in `.fifo` is a FIFO queue,
    /// which needs `message_group_id`. Required.
    #[serde(default)]
    pub queue_url: Option<String>,
    /// `sqs`: the AWS region (`eu-west-1`). Default: the standard chain (`AWS_REGION`, the
    /// profile's `region`, instance metadata).
    #[serde(default)]
    pub region: Option<String>,
    /// `sqs`: the endpoint to call instead of AWS's for the region, an `http://` or
    /// `https://` URL (an SQS-compatible server, a VPC endpoint). Default: AWS's.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// `sqs`: the `MessageGroupId` of every message, for a FIFO queue (required there,
    /// refused for a standard queue): 1 to 128 letters, digits and punctuation. Messages of
    /// one group are delivered in order; each carries `MessageDeduplicationId` = its
    /// message id, so a message sent again within SQS's 5-minute window is dropped.
    #[serde(default)]
    pub message_group_id: Option<String>,
}

/// A configuration value kept out of logs and error messages: its `Debug` shows
/// `Secret(..)`, never the text. Written in TOML as a plain string.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for where it is used (a request header); never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl SinkConfig {
    /// A sink of `kind` named `name`, every other key at its default.
    pub fn new(name: impl Into<String>, kind: SinkType) -> Self {
        SinkConfig {
            name: name.into(),
            kind,
            path: None,
            max_file_mb: None,
            queue: None,
            max_message_bytes: None,
            url: None,
            authorization: None,
            authorization_env: None,
            timeout_ms: None,
            subject: None,
            stream: None,
            queue_url: None,
            region: None,
            endpoint_url: None,
            message_group_id: None,
        }
    }

    /// A `file` sink appending to `path`.
    pub fn file(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        SinkConfig { path: Some(path.into()), ..SinkConfig::new(name, SinkType::File) }
    }

    /// An `http-push` sink POSTing to `url`.
    pub fn http_push(name: impl Into<String>, url: impl Into<String>) -> Self {
        SinkConfig { url: Some(url.into()), ..SinkConfig::new(name, SinkType::HttpPush) }
    }

    /// A `nats` sink publishing on `subject` through the server at `url` (`nats://HOST:PORT`).
    pub fn nats(name: impl Into<String>, url: impl Into<String>, subject: impl Into<String>) -> Self {
        SinkConfig { url: Some(url.into()), subject: Some(subject.into()), ..SinkConfig::new(name, SinkType::Nats) }
    }

    /// An `sqs` sink sending to the queue at `queue_url` (region, endpoint and credentials
    /// from the standard AWS chain unless set).
    pub fn sqs(name: impl Into<String>, queue_url: impl Into<String>) -> Self {
        SinkConfig { queue_url: Some(queue_url.into()), ..SinkConfig::new(name, SinkType::Sqs) }
    }

    /// A sink from the command line's `NAME=URL`: `file:PATH`, `stdout:`, an `http://`
    /// or `https://` URL (an `http-push` sink without `Authorization`; that needs a
    /// `[[sink]]` table), `nats://HOST:PORT/SUBJECT` (a `nats` sink without `stream`), or
    /// `sqs:QUEUE_URL` (an `sqs` sink whose endpoint is the queue URL's scheme, host and
    /// port, so that a local SQS-compatible server works too; a FIFO queue needs a
    /// `[[sink]]` table for its `message_group_id`).
    pub fn from_url(spec: &str) -> Result<SinkConfig, String> {
        let (name, url) = spec.split_once('=').ok_or("expected NAME=URL, for example audit=file:audit.ndjson")?;
        if name.is_empty() {
            return Err("the sink name before `=` is empty".into());
        }
        if let Some(path) = url.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path, for example file:audit.ndjson".into());
            }
            return Ok(SinkConfig::file(name, path));
        }
        if url == "stdout:" {
            return Ok(SinkConfig::new(name, SinkType::Stdout));
        }
        let scheme = url.split(':').next().unwrap_or("");
        if matches!(scheme, "http" | "https") {
            http_url(url)?;
            return Ok(SinkConfig::http_push(name, url));
        }
        if scheme == "nats" {
            let (server, subject) = nats_url_and_subject(url)?;
            let sink = SinkConfig::nats(name, server, subject);
            sink.validate().map_err(|(_, m)| m)?;
            return Ok(sink);
        }
        if let Some(queue_url) = url.strip_prefix("sqs:") {
            let parsed = sqs_queue_url(queue_url)?;
            let endpoint = parsed.origin().ascii_serialization();
            let sink = SinkConfig { endpoint_url: Some(endpoint), ..SinkConfig::sqs(name, queue_url) };
            if sink.is_fifo() {
                return Err("a FIFO queue (.fifo) needs `message_group_id`: give it in a [[sink]] table".into());
            }
            sink.validate().map_err(|(_, m)| m)?;
            return Ok(sink);
        }
        Err(format!(
            "unknown sink URL {url:?}: expected file:PATH, stdout:, an http:// or https:// URL, nats://HOST:PORT/SUBJECT or sqs:QUEUE_URL"
        ))
    }

    /// Where it delivers, for people: the file's path, `stdout`.
    pub fn target(&self) -> String {
        match self.kind {
            SinkType::File => self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            SinkType::Stdout => "stdout".to_owned(),
            SinkType::HttpPush => self.url.clone().unwrap_or_default(),
            SinkType::Nats => format!(
                "{}/{}",
                self.url.as_deref().unwrap_or_default().trim_end_matches('/'),
                self.subject.as_deref().unwrap_or_default()
            ),
            SinkType::Sqs => self.queue_url.clone().unwrap_or_default(),
        }
    }

    /// Whether `queue_url` names a FIFO queue (its name ends in `.fifo`).
    pub(crate) fn is_fifo(&self) -> bool {
        self.queue_url.as_deref().is_some_and(|u| u.trim_end_matches('/').ends_with(".fifo"))
    }

    pub fn queue(&self) -> usize {
        self.queue.unwrap_or(10_000)
    }

    pub fn max_message_bytes(&self) -> u32 {
        self.max_message_bytes.unwrap_or(256 << 10)
    }

    pub fn max_file_mb(&self) -> u64 {
        self.max_file_mb.unwrap_or(100)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(10_000))
    }

    /// `url`, parsed and checked (an `http-push` sink's endpoint).
    pub(crate) fn http_url(&self) -> Result<reqwest::Url, String> {
        http_url(self.url.as_deref().unwrap_or(""))
    }

    /// `url`, parsed and checked (a `nats` sink's server), as `nats://HOST:PORT`.
    pub(crate) fn nats_url(&self) -> Result<String, String> {
        nats_url(self.url.as_deref().unwrap_or(""))
    }

    /// Keys that do not belong to this type, and missing required ones.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.name.is_empty() {
            return Err(("name", "name is empty".into()));
        }
        let t = self.kind.as_str();
        match self.kind {
            SinkType::File if self.path.as_ref().is_none_or(|p| p.as_os_str().is_empty()) => {
                return Err(("path", "a file sink needs `path`".into()))
            }
            SinkType::HttpPush if self.url.is_none() => {
                return Err(("url", "an http-push sink needs `url`: the receiver's http:// or https:// endpoint".into()))
            }
            SinkType::Nats if self.url.is_none() => return Err(("url", "a nats sink needs `url`: the server's nats://HOST:PORT".into())),
            SinkType::Nats if self.subject.is_none() => {
                return Err(("subject", "a nats sink needs `subject`: the subject its messages are published on".into()))
            }
            SinkType::Sqs if self.queue_url.is_none() => return Err(("queue_url", "an sqs sink needs `queue_url`: the queue's https:// URL".into())),
            _ => {}
        }
        use SinkType::*;
        // Each type's own keys; any other type refuses them.
        let own: [(&str, bool, &[SinkType]); 12] = [
            ("path", self.path.is_some(), &[File]),
            ("max_file_mb", self.max_file_mb.is_some(), &[File]),
            ("url", self.url.is_some(), &[HttpPush, Nats]),
            ("authorization", self.authorization.is_some(), &[HttpPush]),
            ("authorization_env", self.authorization_env.is_some(), &[HttpPush]),
            ("timeout_ms", self.timeout_ms.is_some(), &[HttpPush, Nats, Sqs]),
            ("subject", self.subject.is_some(), &[Nats]),
            ("stream", self.stream.is_some(), &[Nats]),
            ("queue_url", self.queue_url.is_some(), &[Sqs]),
            ("region", self.region.is_some(), &[Sqs]),
            ("endpoint_url", self.endpoint_url.is_some(), &[Sqs]),
            ("message_group_id", self.message_group_id.is_some(), &[Sqs]),
        ];
        if let Some(&(key, _, _)) = own.iter().find(|(_, set, of)| *set && !of.contains(&self.kind)) {
            return Err((key, format!("`{key}` is not a key of {} {t} sink", self.kind.article())));
        }
        if self.kind == Nats {
            self.nats_url().map_err(|m| ("url", m))?;
            check_nats_subject(self.subject.as_deref().unwrap_or("")).map_err(|m| ("subject", m))?;
            if let Some(stream) = &self.stream {
                check_stream_name(stream).map_err(|m| ("stream", m))?;
            }
        }
        if self.kind == Sqs {
            sqs_queue_url(self.queue_url.as_deref().unwrap_or("")).map_err(|m| ("queue_url", m))?;
            if let Some(region) = &self.region {
                if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                    return Err(("region", format!("region = {:?} is not an AWS region name (like eu-west-1)", crate::text::for_humans(region, 100))));
                }
            }
            if let Some(endpoint) = &self.endpoint_url {
                sqs_endpoint_url(endpoint).map_err(|m| ("endpoint_url", m))?;
            }
            match (&self.message_group_id, self.is_fifo()) {
                (None, true) => {
                    return Err(("message_group_id", "a FIFO queue (.fifo) needs `message_group_id`: the MessageGroupId of its messages".into()))
                }
                (Some(_), false) => {
                    return Err(("message_group_id", "`message_group_id` is only for a FIFO queue (a queue_url ending in .fifo)".into()))
                }
                (Some(group), true) => {
                    let allowed = |c: char| c.is_ascii_alphanumeric() || c.is_ascii_punctuation();
                    if group.is_empty() || group.len() > 128 || !group.chars().all(allowed) {
                        return Err((
                            "message_group_id",
                            format!("message_group_id = {:?} is not 1 to 128 letters, digits and punctuation", crate::text::for_humans(group, 200)),
                        ));
                    }
                }
                (None, false) => {}
            }
        }
        if self.kind == SinkType::HttpPush {
            self.http_url().map_err(|m| ("url", m))?;
            if self.authorization.is_some() && self.authorization_env.is_some() {
                return Err(("authorization_env", "give `authorization` or `authorization_env`, not both".into()));
            }
            if let Some(value) = &self.authorization {
                // The value itself is never part of the message.
                check_header_value(value.expose()).map_err(|why| ("authorization", format!("authorization {why}")))?;
            }
            if let Some(var) = &self.authorization_env {
                if var.is_empty() || var.contains(['=', '\0']) {
                    return Err(("authorization_env", format!("authorization_env = {var:?} is not an environment variable name")));
                }
            }
        }
        let max = crate::outbox::SEND_TIMEOUT.as_millis() as u64;
        match self.timeout_ms {
            Some(0) => return Err(("timeout_ms", "timeout_ms must be at least 1".into())),
            Some(ms) if ms > max => {
                return Err(("timeout_ms", format!("timeout_ms = {ms} is over the maximum of {max} (the outbox's limit per batch)")))
            }
            _ => {}
        }
        if self.queue == Some(0) {
            return Err(("queue", "queue must be at least 1".into()));
        }
        if self.max_message_bytes == Some(0) {
            return Err(("max_message_bytes", "max_message_bytes must be at least 1".into()));
        }
        if self.max_file_mb == Some(0) {
            return Err(("max_file_mb", "max_file_mb must be at least 1".into()));
        }
        Ok(())
    }
}

/// An `http-push` URL, parsed: http or https, with a host, without credentials. The
/// messages name the problem, never echo the URL (it might hold a password).
fn http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("url is not a valid URL ({e}): expected http://HOST/PATH or https://HOST/PATH"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("url has the scheme {:?}: an http-push sink needs an http:// or https:// URL", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("url has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url holds credentials (user:password@): give them as `authorization` or `authorization_env` instead".into());
    }
    Ok(url)
}

/// A `nats` sink's server URL, checked and written as `nats://HOST:PORT`: the nats scheme,
/// a host, no credentials (the URL is shown in status), no path, query or fragment. The
/// messages never echo the URL.
fn nats_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("url is not a valid URL ({e}): expected nats://HOST:PORT"))?;
    if url.scheme() != "nats" {
        return Err(format!("url has the scheme {:?}: a nats sink needs a nats://HOST:PORT URL", url.scheme()));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("url has no host: expected nats://HOST:PORT")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url holds credentials (user:password@): a nats sink connects without credentials in this version".into());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err("url has a path, query or fragment: give the server as nats://HOST:PORT and the subject as `subject`".into());
    }
    Ok(format!("nats://{host}:{}", url.port().unwrap_or(4222)))
}

/// An `sqs` sink's queue URL, parsed: http or https, a host, no credentials, a path (the
/// account and the queue's name). The messages never echo the URL.
fn sqs_queue_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("queue_url is not a valid URL ({e}): expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("queue_url has the scheme {:?}: expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("queue_url has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("queue_url holds credentials (user:password@): AWS credentials come from the standard chain (AWS_ACCESS_KEY_ID, a profile, a role)".into());
    }
    if url.path().trim_matches('/').is_empty() {
        return Err("queue_url has no path: expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME".into());
    }
    Ok(url)
}

/// An `sqs` sink's `endpoint_url`: http or https, a host, no credentials.
fn sqs_endpoint_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("endpoint_url is not a valid URL ({e}): expected https://HOST[:PORT]"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("endpoint_url is not an http:// or https:// URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("endpoint_url holds credentials (user:password@): AWS credentials come from the standard chain".into());
    }
    Ok(url)
}

/// `nats://HOST:PORT/SUBJECT` (the `--sink` form) split into the server and the subject,
/// as written (a URL parser would percent-encode a subject's `>`); both checked later.
fn nats_url_and_subject(text: &str) -> Result<(String, String), String> {
    let rest = text.strip_prefix("nats://").ok_or("expected nats://HOST:PORT/SUBJECT")?;
    match rest.split_once('/') {
        Some((server, subject)) if !subject.is_empty() => Ok((format!("nats://{server}"), subject.to_owned())),
        _ => Err("a nats sink URL needs the subject as its path: nats://HOST:PORT/SUBJECT".into()),
    }
}

/// A subject messages can be published on: dot-separated non-empty tokens, no wildcards,
/// no whitespace or control characters.
fn check_nats_subject(subject: &str) -> Result<(), String> {
    let shown = crate::text::for_humans(subject, 100);
    if subject.is_empty() {
        return Err("subject is empty".into());
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("subject {shown:?} holds whitespace or a control character"));
    }
    if subject.split('.').any(|t| t == "*" || t == ">") {
        return Err(format!("subject {shown:?} holds a wildcard (`*` or `>`): messages are published on one subject"));
    }
    if subject.split('.').any(str::is_empty) {
        return Err(format!("subject {shown:?} has an empty token (a leading, trailing or double `.`)"));
    }
    Ok(())
}

/// A JetStream stream name: no whitespace, `.`, `*`, `>`, path separators or control
/// characters.
fn check_stream_name(stream: &str) -> Result<(), String> {
    if stream.is_empty() {
        return Err("stream is empty".into());
    }
    if stream.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')) {
        return Err(format!(
            "stream {:?} is not a stream name (no whitespace, `.`, `*`, `>`, `/` or `\\`)",
            crate::text::for_humans(stream, 100)
        ));
    }
    Ok(())
}

/// `NAME=URL` with any `user:password@` taken out of the URL (or out of the queue URL of
/// `sqs:QUEUE_URL`), for messages.
fn without_credentials(spec: &str) -> String {
    let Some((name, url)) = spec.split_once('=') else { return spec.to_owned() };
    let (prefix, url) = url.strip_prefix("sqs:").map_or(("", url), |u| ("sqs:", u));
    match reqwest::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            format!("{name}={prefix}{u}")
        }
        _ => spec.to_owned(),
    }
}

/// Whether `value` can be sent as an HTTP header value; the reason names no byte of it.
pub(crate) fn check_header_value(value: &str) -> Result<reqwest::header::HeaderValue, String> {
    if value.trim().is_empty() {
        return Err("is empty".into());
    }
    let mut header = reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| "is not a valid HTTP header value (it holds a line break or another control character)".to_owned())?;
    header.set_sensitive(true);
    Ok(header)
}

/// One `[[listener]]` table. Build one in code with [`ListenerConfig::new`] and the `with_*`
/// methods, or fill the fields over `..Default::default()` (whose `path` is empty and must be
/// set).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// The listener's name in logs, status and metrics. Default: the module's file name
    /// without `.wasm`.
    #[serde(default)]
    pub name: Option<String>,
    /// The component file; relative paths are relative to the config file.
    pub path: PathBuf,
    /// `false` loads and validates the module but never calls it (the SPI's `isEnabled`
    /// controlled by configuration). Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Properties handed to `init` and readable through the `config` import.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Per-listener limits over `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Grant WASI preview 2 (deny-by-default: no files, network, environment or args).
    /// Default `false`: a module importing `wasi:*` is rejected.
    #[serde(default)]
    pub wasi: bool,
    /// The audiences this listener's SETs may carry (`aud`); the guest picks one of them or
    /// gets all, and can never name its own. Default: none (SETs without `aud`).
    #[serde(default)]
    pub set_audiences: Vec<String>,
    /// `sign-set` calls allowed per call into this listener (signed or refused); more get
    /// `quota-exceeded`. Default 16; 0 forbids signing.
    #[serde(default)]
    pub max_signatures_per_call: Option<u32>,
    /// The sinks (`[[sink]]` names) this listener may publish to; any other name gets
    /// `unknown-sink`. Default: none.
    #[serde(default)]
    pub sinks: Vec<String>,
    /// `sync` (default) or `async`.
    #[serde(default)]
    pub mode: Mode,
    /// For an async listener: `drop` (default) or `reject`.
    #[serde(default)]
    pub on_full: OnFull,
}

fn yes() -> bool {
    true
}

impl Default for ListenerConfig {
    /// Every default, and an empty `path` (set it: validation refuses an empty path).
    fn default() -> Self {
        ListenerConfig::new(PathBuf::new())
    }
}

impl ListenerConfig {
    /// A listener for the module at `path`, with every default: named after the file,
    /// enabled, no properties, the host's limits, no WASI, no SET audiences.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ListenerConfig {
            name: None,
            path: path.into(),
            enabled: true,
            properties: BTreeMap::new(),
            limits: LimitsConfig::default(),
            wasi: false,
            set_audiences: Vec::new(),
            max_signatures_per_call: None,
            sinks: Vec::new(),
            mode: Mode::Sync,
            on_full: OnFull::Drop,
        }
    }

    /// Name the listener (default: the module's file name without `.wasm`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Set one property handed to `init` (replacing a value of the same key).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Set several properties.
    pub fn with_properties<K: Into<String>, V: Into<String>>(mut self, properties: impl IntoIterator<Item = (K, V)>) -> Self {
        self.properties.extend(properties.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// This listener's own limits, over the host's `[limits]`.
    pub fn with_limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// `false`: load and check the module, never call it.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Grant WASI preview 2 (deny-by-default context; see docs/limits.md, "WASI (deny by default)").
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.wasi = wasi;
        self
    }

    /// The only `aud` values this listener's SETs can carry.
    pub fn with_set_audiences<A: Into<String>>(mut self, audiences: impl IntoIterator<Item = A>) -> Self {
        self.set_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// `sign-set` calls allowed per call into the listener (0 forbids signing).
    pub fn with_max_signatures_per_call(mut self, max: u32) -> Self {
        self.max_signatures_per_call = Some(max);
        self
    }

    /// Grant publishing to these sinks.
    pub fn with_sinks<S: Into<String>>(mut self, sinks: impl IntoIterator<Item = S>) -> Self {
        self.sinks = sinks.into_iter().map(Into::into).collect();
        self
    }

    /// Run this listener async: the dispatching thread hands the event over and returns.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// What a full queue does to a new event (async listeners).
    pub fn with_on_full(mut self, on_full: OnFull) -> Self {
        self.on_full = on_full;
        self
    }

    /// This listener's SET signing policy (audiences, quota).
    pub fn set_policy(&self) -> crate::signing::SetPolicy {
        crate::signing::SetPolicy {
            audiences: self.set_audiences.clone(),
            max_signatures_per_call: self
                .max_signatures_per_call
                .unwrap_or(crate::signing::DEFAULT_MAX_SIGNATURES_PER_CALL),
        }
    }

    /// The configured name, or the module's file name without `.wasm`.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.path.display().to_string())
        })
    }
}

/// What is wrong with a configuration; [`ConfigError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file cannot be read.
    Read,
    /// Not TOML, an unknown key, a missing key or a value of the wrong type.
    Syntax,
    /// A value out of its range or otherwise unusable (limits, `[signing]`, a listener's
    /// `path` or `set_audiences`).
    Invalid,
    /// A listener whose name is empty.
    EmptyName,
    /// Two listeners with the same name.
    DuplicateName,
    /// A malformed command-line override (`--property` without `LISTENER.KEY=VALUE`).
    BadOverride,
    /// A command-line override (`--property`, `--wasi`) naming no configured listener.
    UnknownListener,
}

/// A configuration problem: its [kind](ConfigErrorKind), the file, the place in it (a table
/// such as `[limits]` or `listener "audit"`, or a command-line option) and the key, where
/// known. `Display` gives all of it in one message, for example
/// `config tw.toml: [limits]: fuel must be at least 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(Box<Parts>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    kind: ConfigErrorKind,
    file: Option<PathBuf>,
    place: Option<String>,
    key: Option<String>,
    position: Option<(usize, usize)>,
    message: String,
}

impl ConfigError {
    fn new(kind: ConfigErrorKind, place: Option<String>, key: Option<&str>, message: impl Into<String>) -> Self {
        ConfigError(Box::new(Parts { kind, file: None, place, key: key.map(str::to_owned), position: None, message: message.into() }))
    }

    /// A check's message `"<place>: <key> ..."` (or `"<place> <key>: ..."`), split into its parts.
    fn at(kind: ConfigErrorKind, place: &str, message: String) -> Self {
        let rest = message
            .strip_prefix(place)
            .and_then(|m| m.strip_prefix(": ").or_else(|| m.strip_prefix(' ')))
            .unwrap_or(&message);
        let word = rest.split([' ', ':', '=']).next().unwrap_or("");
        let key = (!word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then_some(word);
        ConfigError::new(kind, Some(place.to_owned()), key, rest)
    }

    /// What kind of problem it is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.0.kind
    }

    /// The config file, when the configuration came from one.
    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    /// The table (`[limits]`, `[signing]`, `listener "audit"`, `listener "audit"
    /// [listener.limits]`, `[[listener]] #2`) or command-line option (`--property "..."`,
    /// `--wasi "..."`) the problem is in. For a TOML syntax error, the table header above
    /// the error's line, if any.
    pub fn place(&self) -> Option<&str> {
        self.0.place.as_deref()
    }

    /// The key at fault (`fuel`, `issuer`, `set_audiences`, an unknown key), when known.
    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// Line and column (1-based) in the file, for TOML syntax errors.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.0.position
    }

    /// The problem itself, without the file and the place.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    fn in_file(mut self, file: &Path) -> Self {
        self.0.file = Some(file.to_owned());
        self
    }

    /// A TOML error, with the table it happened in and its line and column.
    fn syntax(error: toml::de::Error, text: &str) -> Self {
        let position = error.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        });
        // The closest table header at or above the error's line.
        let place = position.and_then(|(line, _)| {
            text.lines().take(line).collect::<Vec<_>>().into_iter().rev().find_map(|l| {
                let l = l.split('#').next().unwrap_or("").trim();
                (l.starts_with('[') && l.ends_with(']')).then(|| l.to_owned())
            })
        });
        let key = error.message().strip_prefix("unknown field `").and_then(|m| m.split('`').next());
        let mut e = ConfigError::new(ConfigErrorKind::Syntax, place, key, error.to_string().trim_end());
        e.0.position = position;
        e
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        match (&e.file, e.kind) {
            (Some(file), ConfigErrorKind::Read) => return write!(f, "cannot read config {}: {}", file.display(), e.message),
            (Some(file), _) => write!(f, "config {}: ", file.display())?,
            (None, _) => {}
        }
        // A TOML error's own text shows the line, the column and the line itself.
        match &e.place {
            Some(place) if e.kind != ConfigErrorKind::Syntax => write!(f, "{place}: {}", e.message),
            _ => f.write_str(&e.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// An empty configuration: default limits, no listeners, no signing key.
    pub fn new() -> Self {
        Config::default()
    }

    /// Add a listener, called after those already configured.
    pub fn with_listener(mut self, listener: ListenerConfig) -> Self {
        self.listeners.push(listener);
        self
    }

    /// The limits of every listener (`[limits]`).
    pub fn with_limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Sign SETs with this key (`[signing]`).
    pub fn with_signing(mut self, signing: crate::signing::SigningConfig) -> Self {
        self.signing = Some(signing);
        self
    }

    /// Read and validate a config file. Relative listener paths are resolved against the
    /// file's directory.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(ConfigErrorKind::Read, None, None, e.to_string()).in_file(path))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base).map_err(|e| e.in_file(path))
    }

    /// Parse and validate TOML text; relative listener paths are resolved against `base`.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::syntax(e, text))?;
        for l in &mut config.listeners {
            if l.path.is_relative() && !l.path.as_os_str().is_empty() {
                l.path = base.join(&l.path);
            }
        }
        if let Some(signing) = &mut config.signing {
            signing.resolve(base);
        }
        for sink in &mut config.sinks {
            if let Some(path) = sink.path.as_mut().filter(|p| p.is_relative()) {
                *path = base.join(&*path);
            }
        }
        if let Some(dir) = config.outbox.spool_dir.as_mut().filter(|p| p.is_relative()) {
            *dir = base.join(&*dir);
        }
        for path in [&mut config.cache.dir, &mut config.cache.key_file, &mut config.http.admin_token_file, &mut config.serve.listeners_dir] {
            if let Some(path) = path.as_mut().filter(|p| p.is_relative() && !p.as_os_str().is_empty()) {
                *path = base.join(&*path);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Check what serde cannot: limits in range, listener paths and names set, names
    /// unique, `[signing]` values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigErrorKind::*;
        self.limits.validate("[limits]").map_err(|m| ConfigError::at(Invalid, "[limits]", m))?;
        self.dispatch.validate().map_err(|m| ConfigError::at(Invalid, "[dispatch]", m))?;
        if let Some(signing) = &self.signing {
            signing.validate().map_err(|m| ConfigError::at(Invalid, "[signing]", m))?;
        }
        self.cache.validate().map_err(|(key, m)| ConfigError::new(Invalid, Some("[cache]".into()), Some(key), m))?;
        self.http.validate().map_err(|(key, m)| ConfigError::new(Invalid, Some("[http]".into()), Some(key), m))?;
        self.serve.validate().map_err(|(key, m)| ConfigError::new(Invalid, Some("[serve]".into()), Some(key), m))?;
        let mut sink_names = std::collections::BTreeSet::new();
        for (i, sink) in self.sinks.iter().enumerate() {
            let place = format!("[[sink]] #{} {:?}", i + 1, sink.name);
            sink.validate().map_err(|(key, m)| ConfigError::new(Invalid, Some(place.clone()), Some(key), m))?;
            if !sink_names.insert(sink.name.as_str()) {
                return Err(ConfigError::new(DuplicateName, Some(place), Some("name"), format!("two sinks are named {:?}", sink.name)));
            }
        }
        let mut seen = std::collections::BTreeMap::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let table = || format!("[[listener]] #{}", i + 1);
            if l.path.as_os_str().is_empty() {
                return Err(ConfigError::new(Invalid, Some(table()), Some("path"), "path is empty"));
            }
            let name = l.name();
            if name.is_empty() {
                return Err(ConfigError::new(
                    EmptyName,
                    Some(table()),
                    Some("name"),
                    format!("the name is empty (path {})", l.path.display()),
                ));
            }
            if let Some(first) = seen.insert(name.clone(), i + 1) {
                return Err(ConfigError::new(
                    DuplicateName,
                    Some(table()),
                    Some("name"),
                    format!("two listeners are named {name:?} (#{first} and this one): give one of them another `name`"),
                ));
            }
            let place = format!("listener {name:?} [listener.limits]");
            l.limits.validate(&place).map_err(|m| ConfigError::at(Invalid, &place, m))?;
            if l.set_audiences.iter().any(|a| a.is_empty()) {
                return Err(ConfigError::new(
                    Invalid,
                    Some(format!("listener {name:?}")),
                    Some("set_audiences"),
                    "set_audiences holds an empty string",
                ));
            }
            if let Some(unknown) = l.sinks.iter().find(|s| !sink_names.contains(s.as_str())) {
                let known: Vec<&str> = sink_names.iter().copied().collect();
                return Err(ConfigError::new(
                    Invalid,
                    Some(format!("listener {name:?}")),
                    Some("sinks"),
                    format!("sinks names {unknown:?}, which no [[sink]] defines (sinks: {})", if known.is_empty() { "none".to_owned() } else { known.join(", ") }),
                ));
            }
        }
        Ok(())
    }

    fn unknown_listener(&self, option: String, name: &str) -> ConfigError {
        let names: Vec<String> = self.listeners.iter().map(ListenerConfig::name).collect();
        ConfigError::new(
            ConfigErrorKind::UnknownListener,
            Some(option),
            None,
            format!("no listener named {name:?} (listeners: {})", names.join(", ")),
        )
    }

    /// Apply `LISTENER.KEY=VALUE` (the `--property` option).
    pub fn set_property(&mut self, spec: &str) -> Result<(), ConfigError> {
        let place = || format!("--property {spec:?}");
        let bad = || ConfigError::new(ConfigErrorKind::BadOverride, Some(place()), None, "expected LISTENER.KEY=VALUE");
        let (target, value) = spec.split_once('=').ok_or_else(bad)?;
        let (first, _) = target.split_once('.').ok_or_else(bad)?;
        if first.is_empty() {
            return Err(bad());
        }
        let names: Vec<String> = self.listeners.iter().map(ListenerConfig::name).collect();
        // The longest listener name followed by `.`, so a name may itself contain dots.
        let found = names
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((i, target.strip_prefix(name.as_str())?.strip_prefix('.')?)))
            .filter(|(_, key)| !key.is_empty())
            .max_by_key(|(i, _)| names[*i].len());
        let (index, key) = found.ok_or_else(|| self.unknown_listener(place(), first))?;
        let l = &mut self.listeners[index];
        l.properties.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Add a sink from `NAME=URL`, granted to every listener (the `--sink` option).
    pub fn add_sink(&mut self, spec: &str) -> Result<(), ConfigError> {
        let sink = SinkConfig::from_url(spec)
            .map_err(|m| ConfigError::new(ConfigErrorKind::BadOverride, Some(format!("--sink {:?}", without_credentials(spec))), None, m))?;
        for l in &mut self.listeners {
            if !l.sinks.contains(&sink.name) {
                l.sinks.push(sink.name.clone());
            }
        }
        self.sinks.retain(|s| s.name != sink.name);
        self.sinks.push(sink);
        Ok(())
    }

    /// Grant WASI to the listener named `name` (the `--wasi` option).
    pub fn grant_wasi(&mut self, name: &str) -> Result<(), ConfigError> {
        match self.listeners.iter_mut().find(|l| l.name() == name) {
            Some(l) => {
                l.wasi = true;
                Ok(())
            }
            None => Err(self.unknown_listener(format!("--wasi {name:?}"), name)),
        }
    }

    /// Add every `*.wasm` file in `dir` as a listener named after its file stem, in file
    /// name order, after the listeners already configured (`[serve] listeners_dir`, or
    /// `tokenwatch serve --listeners`). `place` names where `dir` came from, for errors. A
    /// name an earlier listener has is an error naming both files.
    pub fn add_listeners_dir(&mut self, dir: &Path, place: &str) -> Result<(), ConfigError> {
        let error = |kind, message: String| ConfigError::new(kind, Some(place.to_owned()), Some("listeners_dir"), message);
        let entries = std::fs::read_dir(dir)
            .map_err(|e| error(ConfigErrorKind::Invalid, format!("cannot read the directory {}: {e}", dir.display())))?;
        let mut found = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| error(ConfigErrorKind::Invalid, format!("cannot read the directory {}: {e}", dir.display())))?.path();
            if path.extension().is_some_and(|x| x == "wasm") && path.is_file() {
                found.push(path);
            }
        }
        found.sort();
        for path in found {
            let listener = ListenerConfig::new(path).with_mode(self.serve.listeners_mode.unwrap_or_default());
            let name = listener.name();
            if let Some(other) = self.listeners.iter().find(|l| l.name() == name) {
                return Err(error(
                    ConfigErrorKind::DuplicateName,
                    format!(
                        "{} would be the listener {name:?}, which {} already is: rename the file or give that listener another `name`",
                        listener.path.display(),
                        other.path.display()
                    ),
                ));
            }
            self.listeners.push(listener);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfigErrorKind::*;

    #[test]
    fn sink_urls_from_the_command_line_are_granted_to_every_listener_or_refused_with_why() {
        let mut c = Config::new().with_listener(ListenerConfig::new("a.wasm")).with_listener(ListenerConfig::new("b.wasm"));
        c.add_sink("audit=file:out/a.ndjson").unwrap();
        c.add_sink("screen=stdout:").unwrap();
        assert_eq!(c.sinks.iter().map(|s| (s.name.as_str(), s.target())).collect::<Vec<_>>(), [("audit", "out/a.ndjson".to_owned()), ("screen", "stdout".to_owned())]);
        c.add_sink("rp=https://rp.example/events").unwrap();
        assert_eq!((c.sinks[2].kind, c.sinks[2].target()), (SinkType::HttpPush, "https://rp.example/events".to_owned()));
        c.add_sink("bus=nats://localhost:4222/tokens.issued").unwrap();
        assert_eq!((c.sinks[3].kind, c.sinks[3].target()), (SinkType::Nats, "nats://localhost:4222/tokens.issued".to_owned()));
        c.add_sink("queue=sqs:http://127.0.0.1:9324/000000000000/tokens").unwrap();
        let q = &c.sinks[4];
        assert_eq!((q.kind, q.target(), q.endpoint_url.as_deref()), (SinkType::Sqs, "http://127.0.0.1:9324/000000000000/tokens".to_owned(), Some("http://127.0.0.1:9324")));
        assert!(c.listeners.iter().all(|l| l.sinks == ["audit", "screen", "rp", "bus", "queue"]));
        c.validate().unwrap();
        for (spec, why) in [
            ("audit", "expected NAME=URL"),
            ("=file:x", "the sink name before `=` is empty"),
            ("a=file:", "`file:` needs a path"),
            ("q=sqs:https://sqs.example/1/q.fifo", "a FIFO queue (.fifo) needs `message_group_id`"),
            ("q=sqs:sqs.example/1/q", "queue_url is not a valid URL"),
            ("q=nats://localhost:4222", "a nats sink URL needs the subject as its path"),
            ("q=kafka://x", "unknown sink URL \"kafka://x\""),
            ("h=https://user:pw@rp.example/events", "url holds credentials"),
            ("h=http://", "url is not a valid URL"),
        ] {
            let e = c.add_sink(spec).unwrap_err();
            assert_eq!(e.kind(), BadOverride);
            assert!(e.to_string().contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn parses_listeners_with_defaults_and_resolves_paths() {
        let c = Config::from_toml(
            r#"
            [limits]
            fuel = 1000
            [[listener]]
            path = "audit.wasm"
            [[listener]]
            name = "meter"
            path = "/abs/metering.wasm"
            enabled = false
            properties = { report_every = "10" }
            limits = { deadline_ms = 5 }
            "#,
            Path::new("/etc/tw"),
        )
        .unwrap();
        assert_eq!(c.limits.fuel, Some(1000));
        assert_eq!(c.listeners[0].name(), "audit");
        assert_eq!(c.listeners[0].path, Path::new("/etc/tw/audit.wasm"));
        assert!(c.listeners[0].enabled && !c.listeners[0].wasi);
        assert_eq!(c.listeners[1].name(), "meter");
        assert!(!c.listeners[1].enabled);
        assert_eq!(c.listeners[1].limits.deadline_ms, Some(5));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_place() {
        let err = Config::from_toml("[[listener]]\npath = \"a.wasm\"\nfuel = 1\n", Path::new("."))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `fuel`"), "{err}");
        assert_eq!((err.kind(), err.place(), err.key(), err.position()), (Syntax, Some("[[listener]]"), Some("fuel"), Some((3, 1))));
        let err = Config::from_toml("[limits]\nfuel = 0\n", Path::new(".")).unwrap_err();
        assert_eq!(err.to_string(), "[limits]: fuel must be at least 1");
        assert_eq!((err.kind(), err.place(), err.key(), err.message()), (Invalid, Some("[limits]"), Some("fuel"), "fuel must be at least 1"));
        let err = Config::from_toml(
            "[[listener]]\npath = \"a.wasm\"\n[[listener]]\npath = \"b/a.wasm\"\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("two listeners are named \"a\""), "{err}");
        assert_eq!((err.kind(), err.place(), err.key()), (DuplicateName, Some("[[listener]] #2"), Some("name")));
        let err = Config::from_toml("[[listener]]\npath = \"a.wasm\"\nlimits = { memory_mb = 5000 }\n", Path::new(".")).unwrap_err();
        assert_eq!((err.kind(), err.place(), err.key()), (Invalid, Some("listener \"a\" [listener.limits]"), Some("memory_mb")));
        assert_eq!(err.to_string(), "listener \"a\" [listener.limits]: memory_mb = 5000 is over the maximum of 4096");
        let err = Config::from_toml("[signing]\nkey_file = \"k\"\nissuer = \" \"\n", Path::new(".")).unwrap_err();
        assert_eq!((err.kind(), err.place(), err.key()), (Invalid, Some("[signing]"), Some("issuer")));
        let err = Config::from_toml("[[listener]]\npath = \"a.wasm\"\nset_audiences = [\"\"]\n", Path::new(".")).unwrap_err();
        assert_eq!((err.kind(), err.place(), err.key()), (Invalid, Some("listener \"a\""), Some("set_audiences")));
    }

    #[test]
    fn errors_from_a_file_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tw.toml");
        std::fs::write(&file, "[limits]\nfuel = 1\n\n[limits.x]\n").unwrap();
        let err = Config::from_file(&file).unwrap_err();
        assert_eq!(err.kind(), Syntax);
        assert_eq!(err.file(), Some(file.as_path()));
        assert!(err.to_string().starts_with(&format!("config {}: TOML parse error at line", file.display())), "{err}");
        let missing = dir.path().join("none.toml");
        let err = Config::from_file(&missing).unwrap_err();
        assert_eq!((err.kind(), err.file()), (Read, Some(missing.as_path())));
        assert!(err.to_string().starts_with(&format!("cannot read config {}: ", missing.display())), "{err}");
    }

    #[test]
    fn property_overrides_name_the_listener() {
        let mut c = Config::default();
        c.listeners.push(ListenerConfig::new("x/audit.wasm"));
        c.set_property("audit.level=debug").unwrap();
        assert_eq!(c.listeners[0].properties["level"], "debug");
        let err = c.set_property("nope.k=v").unwrap_err();
        assert_eq!(err.kind(), UnknownListener);
        assert_eq!(err.to_string(), r#"--property "nope.k=v": no listener named "nope" (listeners: audit)"#);
        let err = c.set_property("audit=v").unwrap_err();
        assert_eq!(err.kind(), BadOverride);
        assert!(err.to_string().contains("LISTENER.KEY=VALUE"), "{err}");
        assert!(c.set_property("audit.=v").unwrap_err().to_string().contains("no listener named"));
    }

    #[test]
    fn property_overrides_reach_listeners_with_dots_in_their_names() {
        let mut c = Config::default();
        c.listeners.push(ListenerConfig::new("x/audit.wasm"));
        c.listeners.push(ListenerConfig::new("x/audit.v2.wasm"));
        c.set_property("audit.v2.mode=fast").unwrap();
        c.set_property("audit.v3=yes").unwrap();
        assert_eq!(c.listeners[1].properties["mode"], "fast");
        assert_eq!(c.listeners[0].properties["v3"], "yes");
        assert!(!c.listeners[0].properties.contains_key("v2.mode"));
    }

    #[test]
    fn wasi_is_granted_by_name() {
        let mut c = Config::new().with_listener(ListenerConfig::new("a.wasm")).with_listener(ListenerConfig::new("b.wasm"));
        c.grant_wasi("b").unwrap();
        assert!(!c.listeners[0].wasi && c.listeners[1].wasi);
        let err = c.grant_wasi("c").unwrap_err();
        assert_eq!(err.kind(), UnknownListener);
        assert_eq!(err.to_string(), r#"--wasi "c": no listener named "c" (listeners: a, b)"#);
    }

    #[test]
    fn http_and_serve_tables_have_defaults_resolve_paths_and_name_bad_keys() {
        let c = Config::from_toml("", Path::new("/etc/tw")).unwrap();
        assert_eq!(c.http.address().unwrap(), "127.0.0.1:8720".parse().unwrap());
        assert_eq!((c.http.max_body_bytes(), c.http.request_timeout().as_millis()), (4 << 20, 30_000));
        assert_eq!(c.serve.shutdown_deadline().as_millis(), 10_000);
        let c = Config::from_toml(
            "[http]\naddress = \"[::1]:0\"\nmax_body_bytes = 10\nrequest_timeout_ms = 5\nadmin_token_file = \"token\"\n[serve]\nlisteners_dir = \"listeners\"\nshutdown_ms = 0\n",
            Path::new("/etc/tw"),
        )
        .unwrap();
        assert_eq!(c.http.address().unwrap(), "[::1]:0".parse().unwrap());
        assert_eq!(c.http.admin_token_file.as_deref(), Some(Path::new("/etc/tw/token")));
        assert_eq!(c.serve.listeners_dir.as_deref(), Some(Path::new("/etc/tw/listeners")));
        for (toml, place, key, why) in [
            ("[http]\naddress = \"localhost:80\"\n", "[http]", "address", "is not IP:PORT"),
            ("[http]\nmax_body_bytes = 0\n", "[http]", "max_body_bytes", "at least 1"),
            ("[http]\nmax_body_bytes = 300000000\n", "[http]", "max_body_bytes", "over the maximum of 268435456"),
            ("[http]\nrequest_timeout_ms = 0\n", "[http]", "request_timeout_ms", "at least 1"),
            ("[http]\nadmin_token_file = \"t\"\nadmin_token_env = \"T\"\n", "[http]", "admin_token_env", "not both"),
            ("[http]\nadmin_token_env = \"A=B\"\n", "[http]", "admin_token_env", "not an environment variable name"),
            ("[serve]\nshutdown_ms = 600001\n", "[serve]", "shutdown_ms", "over the maximum of 600000"),
        ] {
            let e = Config::from_toml(toml, Path::new(".")).unwrap_err();
            assert_eq!((e.kind(), e.place(), e.key()), (Invalid, Some(place), Some(key)), "{toml}: {e}");
            assert!(e.message().contains(why), "{toml}: {e}");
        }
        let e = Config::from_toml("[http]\nport = 80\n", Path::new(".")).unwrap_err();
        assert_eq!((e.kind(), e.place(), e.key()), (Syntax, Some("[http]"), Some("port")));
    }

    #[test]
    fn a_listeners_dir_adds_its_wasm_files_in_order_and_refuses_a_name_clash() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.wasm", "a.wasm", "notes.txt", "c.wasm.bak"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.wasm")).unwrap();
        let mut c = Config::new().with_listener(ListenerConfig::new("/x/first.wasm"));
        c.add_listeners_dir(dir.path(), "--listeners").unwrap();
        assert_eq!(c.listeners.iter().map(ListenerConfig::name).collect::<Vec<_>>(), ["first", "a", "b"]);
        let mut c = Config::new().with_listener(ListenerConfig::new("/x/other.wasm").with_name("b"));
        let e = c.add_listeners_dir(dir.path(), "--listeners").unwrap_err();
        assert_eq!((e.kind(), e.place()), (DuplicateName, Some("--listeners")));
        assert!(e.message().contains(&dir.path().join("b.wasm").display().to_string()) && e.message().contains("/x/other.wasm"), "{e}");
        let e = Config::new().add_listeners_dir(&dir.path().join("none"), "[serve]").unwrap_err();
        assert_eq!((e.kind(), e.place(), e.key()), (Invalid, Some("[serve]"), Some("listeners_dir")));
        assert!(e.message().starts_with("cannot read the directory"), "{e}");
    }

    #[test]
    fn built_in_code_with_the_defaults_of_an_empty_file() {
        let l = ListenerConfig::new("x/metering.wasm")
            .with_name("meter")
            .with_property("report_every", "10")
            .with_properties([("a", "1")])
            .with_limits(LimitsConfig { fuel: Some(5), ..Default::default() })
            .with_set_audiences(["https://rp"])
            .with_max_signatures_per_call(2);
        assert_eq!(l.name(), "meter");
        assert_eq!(l.properties.len(), 2);
        assert_eq!(l.limits.fuel, Some(5));
        assert_eq!(l.set_policy().max_signatures_per_call, 2);
        assert!(l.enabled && !l.wasi);
        let from_file = Config::from_toml("[[listener]]\npath = \"/m.wasm\"\n", Path::new("/")).unwrap();
        let d = ListenerConfig { path: "/m.wasm".into(), ..Default::default() };
        assert_eq!(format!("{:?}", from_file.listeners[0]), format!("{d:?}"));
        let c = Config::new().with_listener(ListenerConfig::default());
        let err = c.validate().unwrap_err();
        assert_eq!((err.kind(), err.place(), err.key()), (Invalid, Some("[[listener]] #1"), Some("path")));
    }
}
