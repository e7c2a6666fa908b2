//! `tokenwatch serve`: the HTTP API over a [`Host`] (axum on tokio).
//!
//! One router, built in [`router`], with its state in one `Arc<State>`; tower layers for the
//! body limit and the request timeout. One file per concern: `events` (ingest), `admin`
//! (listeners, the config, the bearer token), `ops` (metrics, health, JWKS), `watch`
//! (hot-loading of the listeners folder; watching a file), `reload` (reloading the config
//! file: on a change, SIGHUP or `POST /v1/config/reload`).
//!
//! Listeners never run on an executor thread: each event request parses and dispatches its
//! body inside one `spawn_blocking`, and at most `Settings::dispatch_concurrency` requests
//! do so at once (a semaphore; the others wait for a permit without holding a thread).
//!
//! Shutdown, when [`run`]'s `shutdown` future resolves: event requests that have not started
//! dispatching are answered 503 with `Retry-After`, and `/readyz` 503; the requests already
//! dispatching finish, within `[serve] shutdown_ms`; then the server stops accepting
//! connections and lets the open ones finish (same deadline); then `Host::shutdown` runs on
//! a blocking thread (every listener's `shutdown` once, the outbox drained or spooled).

mod admin;
mod events;
pub mod load;
mod ops;
pub mod reload;
pub mod watch;

pub use admin::AdminToken;
pub use events::{ingest, BodyFormat, Dispatched, Ingested, Rejection, MAX_LISTED_REJECTIONS};
pub use reload::{Applied, ConfigFile, ConfigReload, ConfigStatus, Overrides};

use crate::config::{Config, ConfigError, Mode};
use crate::dispatch::host::{Host, HostError};
use crate::runtime::status::ListenerStatus;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What the server needs besides the host, from `[http]` and `[serve]`.
#[derive(Debug)]
pub struct Settings {
    /// `[http] max_body_bytes`.
    pub max_body_bytes: usize,
    /// `[http] request_timeout_ms`.
    pub request_timeout: Duration,
    /// `[serve] shutdown_ms`.
    pub drain_deadline: Duration,
    /// `[http] admin_token_file` or `admin_token_env`; `None` refuses the admin API.
    pub admin_token: Option<AdminToken>,
    /// Event requests running their listeners at once. Default: the number of CPUs (a
    /// listener serves one call at a time, so more would only queue on its lock).
    pub dispatch_concurrency: usize,
    /// `[serve] listeners_dir`: watched while serving (new, changed and removed modules are
    /// loaded, reloaded and removed; SIGHUP rescans it).
    pub watch_dir: Option<PathBuf>,
    /// `[serve] listeners_mode`: how the folder's modules are called.
    pub folder_mode: Mode,
    /// The config file, watched while serving and reloaded when it changes, on SIGHUP and
    /// on `POST /v1/config/reload` (see [`reload`]). `from_config` leaves it `None`.
    pub config_file: Option<ConfigFile>,
}

impl Settings {
    /// The settings of a validated config; reads the admin token (an unreadable or empty
    /// token file, or an unset variable, is an error naming it).
    pub fn from_config(config: &Config) -> Result<Settings, ServeError> {
        config.validate()?;
        Ok(Settings {
            max_body_bytes: config.http.max_body_bytes(),
            request_timeout: config.http.request_timeout(),
            drain_deadline: config.serve.shutdown_deadline(),
            admin_token: AdminToken::from_config(&config.http)?,
            dispatch_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            watch_dir: config.serve.listeners_dir.clone(),
            folder_mode: config.serve.listeners_mode.unwrap_or_default(),
            config_file: None,
        })
    }
}

/// Why `serve` cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The admin token cannot be read (names the file or the variable; never the token).
    #[error("{0}")]
    AdminToken(String),
    #[error("no listeners: give --config FILE with [[listener]] tables, --listeners DIR, or [serve] listeners_dir")]
    NoListeners,
    #[error("cannot listen on {address}: {error}")]
    Bind { address: SocketAddr, error: std::io::Error },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    /// The listeners folder or the config file cannot be watched.
    #[error("{0}")]
    Watch(String),
}

/// The config `serve` runs: `[serve] listeners_dir` expanded into listeners (`place` names
/// where the directory came from, for errors: `--listeners` or the config key), checked,
/// with at least one listener.
pub fn expand_listeners(mut config: Config, place: &str) -> Result<Config, ServeError> {
    if let Some(dir) = config.serve.listeners_dir.clone() {
        config.add_listeners_dir(&dir, place)?;
    }
    config.validate()?;
    if config.listeners.is_empty() {
        return Err(ServeError::NoListeners);
    }
    Ok(config)
}

/// Bind the listening socket (`[http] address`, or `127.0.0.1:8720`), before the host is
/// built: an address in use is reported before any listener is compiled.
pub fn bind(address: SocketAddr) -> Result<std::net::TcpListener, ServeError> {
    std::net::TcpListener::bind(address).map_err(|error| ServeError::Bind { address, error })
}

/// What a run served, for the closing line.
#[derive(Debug)]
pub struct Totals {
    /// Events dispatched to the listeners.
    pub accepted: u64,
    /// Lines (or single-event bodies) rejected as not an event.
    pub rejected: u64,
    /// Event requests answered 503 because the drain had begun.
    pub refused: u64,
    /// Events an async listener's full queue refused (`on_full = "reject"`).
    pub queue_full: u64,
    /// Whether every dispatching request finished within the drain deadline.
    pub drained: bool,
    /// Every listener's status after `Host::shutdown`.
    pub listeners: Vec<ListenerStatus>,
}

impl Totals {
    /// One line: what the server took, then per listener what became of it. For each
    /// listener `events` is what it was offered, and each event ends as delivered, skipped,
    /// dropped or a trap.
    pub fn line(&self) -> String {
        let mut line = format!(
            "served {} events ({} lines rejected, {} requests refused while draining{}{})",
            self.accepted,
            self.rejected,
            self.refused,
            match self.queue_full {
                0 => String::new(),
                n => format!(", {n} events refused by a full queue"),
            },
            if self.drained { "" } else { "; the drain deadline passed with requests still dispatching" }
        );
        for s in &self.listeners {
            let c = &s.counters;
            line.push_str(&format!(
                "; {}: {} events, {} delivered, {} skipped, {} dropped, {} traps",
                crate::text::escape_control(&s.name),
                c.events,
                c.delivered,
                c.skipped,
                c.dropped_disabled + c.dropped_quarantined + c.dropped_busy + c.dropped_queue_full + c.dropped_shutdown,
                c.traps_total()
            ));
        }
        line
    }
}

/// Shared by every request.
struct State {
    host: Arc<Host>,
    max_body_bytes: usize,
    drain_deadline: Duration,
    admin_token: Option<AdminToken>,
    /// The config file's reloads, when `serve` runs from one.
    config: Option<Arc<ConfigReload>>,
    /// Permits to run listeners; the drain takes them all.
    dispatch: Arc<Semaphore>,
    permits: u32,
    /// `true` from the start of the drain.
    draining: tokio::sync::watch::Sender<bool>,
    accepted: AtomicU64,
    rejected: AtomicU64,
    refused: AtomicU64,
    queue_full: AtomicU64,
}

impl State {
    fn draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves when the drain begins (at once if it has).
    async fn drain_started(&self) {
        let mut rx = self.draining.subscribe();
        // The sender lives in `self`: `wait_for` cannot fail while `self` is borrowed.
        let _ = rx.wait_for(|d| *d).await;
    }

    fn count(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The HTTP API: every route, the body limit and the timeout, in one place.
fn router(state: Arc<State>, request_timeout: Duration) -> Router {
    let body_limit = DefaultBodyLimit::max(state.max_body_bytes);
    Router::new()
        .route("/v1/events", post(events::post).layer(body_limit))
        .route("/v1/listeners", get(admin::listeners))
        .route("/v1/listeners/{name}/enable", post(admin::enable))
        .route("/v1/listeners/{name}/disable", post(admin::disable))
        .route("/v1/listeners/{name}/reload", post(admin::reload))
        .route("/v1/config", get(admin::config))
        .route("/v1/config/reload", post(admin::reload_config))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/.well-known/jwks.json", get(ops::jwks))
        .fallback(ops::not_found)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        .with_state(state)
}

/// Serve the HTTP API on `listener` (from [`bind`]) until `shutdown` resolves, then drain (see the module
/// docs), shut the host down and return the totals.
pub async fn run(
    host: Arc<Host>,
    listener: std::net::TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Totals, ServeError> {
    let config = settings.config_file.map(|file| Arc::new(ConfigReload::new(host.clone(), file)));
    // Before the server answers: a SIGHUP after the first answer is never lost.
    let hangups = match (&settings.watch_dir, &config) {
        (None, None) => None,
        _ => Some(
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| ServeError::Watch(format!("cannot install the SIGHUP handler: {e}")))?,
        ),
    };
    let permits = settings.dispatch_concurrency.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
    let state = Arc::new(State {
        host: host.clone(),
        max_body_bytes: settings.max_body_bytes,
        drain_deadline: settings.drain_deadline,
        admin_token: settings.admin_token,
        config: config.clone(),
        dispatch: Arc::new(Semaphore::new(permits as usize)),
        permits,
        draining: tokio::sync::watch::Sender::new(false),
        accepted: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        queue_full: AtomicU64::new(0),
    });
    let app = router(state.clone(), settings.request_timeout);
    listener.set_nonblocking(true).map_err(ServeError::Server)?;
    let listener = TcpListener::from_std(listener).map_err(ServeError::Server)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let mut server = tokio::spawn(server.into_future());
    let folder = match &settings.watch_dir {
        Some(dir) => Some(watch_folder(host.clone(), dir, settings.folder_mode, config.clone())?),
        None => None,
    };
    let config_watch = match &config {
        Some(c) => Some(watch_config(c.clone())?),
        None => None,
    };
    let rescans = hangups.map(|h| tokio::spawn(on_hangup(h, config.clone(), folder.clone())));
    tokio::select! {
        () = shutdown => {}
        ended = &mut server => {
            // axum's server ends only after a graceful shutdown: anything else is a failure.
            let error = match ended {
                Ok(Ok(())) => std::io::Error::other("the server stopped by itself"),
                Ok(Err(e)) => e,
                Err(e) => std::io::Error::other(e),
            };
            return Err(ServeError::Server(error));
        }
    }
    tracing::info!(deadline_ms = settings.drain_deadline.as_millis() as u64, "draining: new event requests get 503");
    state.draining.send_replace(true);
    let deadline = tokio::time::Instant::now() + settings.drain_deadline;
    // Every permit back means no request is running its listeners; the permits stay
    // taken, so none starts after this.
    let drained = tokio::time::timeout_at(deadline, state.dispatch.acquire_many(state.permits)).await.is_ok();
    if !drained {
        tracing::warn!("the drain deadline passed with requests still running their listeners");
    }
    // No loads or reloads from the folder or the config from here on.
    if let Some(rescans) = rescans {
        rescans.abort();
    }
    drop(folder);
    drop(config_watch);
    let _ = stop.send(());
    if tokio::time::timeout_at(deadline, &mut server).await.is_err() {
        tracing::warn!("the drain deadline passed with connections still open: closing them");
        server.abort();
    }
    let h = host.clone();
    tokio::task::spawn_blocking(move || h.shutdown())
        .await
        .map_err(|e| ServeError::Server(std::io::Error::other(e)))?;
    let listeners = tokio::task::spawn_blocking(move || host.status())
        .await
        .map_err(|e| ServeError::Server(std::io::Error::other(e)))?;
    Ok(Totals {
        accepted: state.accepted.load(Ordering::Relaxed),
        rejected: state.rejected.load(Ordering::Relaxed),
        refused: state.refused.load(Ordering::Relaxed),
        queue_full: state.queue_full.load(Ordering::Relaxed),
        drained,
        listeners,
    })
}

/// Watch `dir`: new, changed and removed `*.wasm` files become loads, reloads and removals,
/// each listener named after its file as at start (with the running `[limits]`).
fn watch_folder(host: Arc<Host>, dir: &std::path::Path, mode: Mode, config: Option<Arc<ConfigReload>>) -> Result<Arc<watch::FolderWatch>, ServeError> {
    let template: watch::Template = match config {
        Some(c) => Arc::new(move |path: &std::path::Path| c.folder_listener(path).with_mode(mode)),
        None => Arc::new(move |path: &std::path::Path| crate::config::ListenerConfig::new(path).with_mode(mode)),
    };
    let folder = Arc::new(watch::FolderWatch::start(host, dir, template).map_err(ServeError::Watch)?);
    tracing::info!(dir = %dir.display(), "watching the listeners folder");
    Ok(folder)
}

/// Watch the config file: each change is a reload.
fn watch_config(config: Arc<ConfigReload>) -> Result<watch::FileWatch, ServeError> {
    let c = config.clone();
    let watch = watch::FileWatch::start(config.path(), "the config file", move || {
        // Refused or applied, it is logged and in the config status.
        let _ = c.reload();
    })
    .map_err(ServeError::Watch)?;
    tracing::info!(file = %config.path().display(), "watching the config file");
    Ok(watch)
}

/// SIGHUP: reload the config file, then rescan the listeners folder (for what the watchers
/// may have missed: a config behind a symbolic link, a change on a network file system).
async fn on_hangup(mut hangups: tokio::signal::unix::Signal, config: Option<Arc<ConfigReload>>, folder: Option<Arc<watch::FolderWatch>>) {
    while hangups.recv().await.is_some() {
        tracing::info!(
            "SIGHUP: {}",
            match (&config, &folder) {
                (Some(_), Some(_)) => "reloading the config file and rescanning the listeners folder",
                (Some(_), None) => "reloading the config file",
                _ => "rescanning the listeners folder",
            }
        );
        let (c, f) = (config.clone(), folder.clone());
        // Loading compiles: off the executor.
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(c) = c {
                let _ = c.reload();
            }
            if let Some(f) = f {
                f.rescan();
            }
        })
        .await;
    }
}

/// SIGTERM or SIGINT, as a future that resolves with the signal's name. The handlers are
/// installed when this returns (not at the first poll), so a signal sent right after is
/// not lost to the default action. SIGHUP's is installed too ([`run`] listens to it), so an
/// early SIGHUP does not end the process (its default action).
pub fn signals() -> std::io::Result<impl Future<Output = &'static str> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let hangup = signal(SignalKind::hangup())?;
    Ok(async move {
        let _hangup = hangup;
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// A JSON answer.
fn json(status: axum::http::StatusCode, body: &serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
    (status, [(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"))], bytes).into_response()
}

/// `{"error": message}`.
fn error(status: axum::http::StatusCode, message: &str) -> axum::response::Response {
    json(status, &serde_json::json!({ "error": message }))
}
