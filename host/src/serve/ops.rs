//! What operators and receivers read, without a token: `/metrics`, `/healthz`, `/readyz`,
//! `/.well-known/jwks.json`.

use super::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::Arc;

type AppState = axum::extract::State<Arc<State>>;

/// What prometheus-client's text encoder writes: the OpenMetrics text format (it ends in
/// `# EOF`), which Prometheus negotiates and scrapes.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: `Host::metrics_text` (listeners, sinks, guests), the HTTP API's own
/// counters and, with a config file, its reloads.
pub(super) async fn metrics(axum::extract::State(state): AppState) -> Response {
    let host = state.host.clone();
    // The listeners' status takes their locks, which a running call holds.
    let text = match tokio::task::spawn_blocking(move || host.metrics_text()).await {
        Ok(text) => text,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics failed: {e}")).into_response(),
    };
    let mut registry = Registry::default();
    for (name, help, value) in [
        ("tokenwatch_http_events_accepted", "Events POST /v1/events dispatched", &state.accepted),
        ("tokenwatch_http_lines_rejected", "Lines POST /v1/events rejected as not an event", &state.rejected),
        ("tokenwatch_http_requests_refused", "Event requests answered 503 because the drain had begun", &state.refused),
        ("tokenwatch_http_events_queue_full", "Events an async listener's full queue refused", &state.queue_full),
    ] {
        let counter: Counter = Counter::default();
        counter.inc_by(value.load(Ordering::Relaxed));
        registry.register(name, help, counter);
    }
    if let Some(config) = &state.config {
        let status = config.status();
        for (name, help, value) in [
            ("tokenwatch_config_reloads", "Config file reloads applied", status.reloads),
            ("tokenwatch_config_reload_errors", "Config file reloads refused (the running config stays): unreadable, bad TOML or values", status.reload_errors),
        ] {
            let counter: Counter = Counter::default();
            counter.inc_by(value);
            registry.register(name, help, counter);
        }
        let pending: Gauge = Gauge::default();
        pending.set(status.restart_pending.len() as i64);
        registry.register(
            "tokenwatch_config_restart_pending",
            "Tables of the config file that differ from the running ones and take effect at the next restart",
            pending,
        );
    }
    let mut ours = String::new();
    prometheus_client::encoding::text::encode(&mut ours, &registry).expect("writing to a String does not fail");
    // One exposition, one `# EOF`: the host's series, then ours (which end with it).
    let body = format!("{}{ours}", text.strip_suffix("# EOF\n").unwrap_or(&text));
    ([(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE))], body).into_response()
}

/// `GET /healthz`: 200 while the process answers.
pub(super) async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n")
}

/// `GET /readyz`: 200 until the drain begins, then 503. (The host is built before the
/// server listens, so there is no earlier not-ready phase.)
pub(super) async fn readyz(axum::extract::State(state): AppState) -> Response {
    if state.draining() {
        plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        plain(StatusCode::OK, "ready\n")
    }
}

/// `GET /.well-known/jwks.json`: the public JWK set of the SET signing key (`[signing]`),
/// 404 without one.
pub(super) async fn jwks(axum::extract::State(state): AppState) -> Response {
    match state.host.signer() {
        Some(signer) => super::json(StatusCode::OK, &signer.public_jwks()),
        None => super::error(StatusCode::NOT_FOUND, "no signing key is configured ([signing]): this host signs no SETs"),
    }
}

/// Any other path.
pub(super) async fn not_found() -> Response {
    super::error(StatusCode::NOT_FOUND, "no such endpoint")
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], text).into_response()
}
