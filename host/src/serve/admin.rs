//! The admin API, behind `Authorization: Bearer <token>`: `GET /v1/listeners`,
//! `POST /v1/listeners/{name}/enable`, `/disable`, `/reload`, and the config file's
//! `GET /v1/config` and `POST /v1/config/reload`.
//!
//! The token comes from `[http] admin_token_file` (or `--admin-token-file`) or from the
//! variable `[http] admin_token_env` names. Without one the admin API is refused (403), never
//! open. Only the token's SHA-256 is kept, and a presented token is compared by digest in
//! constant time, so neither its bytes nor its length leak through timing. The token is
//! never logged or shown.

use super::{ServeError, State};
use crate::config::HttpConfig;
use crate::dispatch::host::ReloadError;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use aws_lc_rs::digest::{digest, SHA256};
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The admin API's bearer token, kept as its SHA-256.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// A token of visible ASCII without spaces (what an `Authorization` header can carry);
    /// the reason names no character of it.
    pub fn new(token: &str) -> Result<AdminToken, String> {
        if token.is_empty() {
            return Err("is empty".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("holds a character a bearer token cannot: only visible ASCII, no spaces or line breaks inside".into());
        }
        let mut d = [0; 32];
        d.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        Ok(AdminToken { digest: d })
    }

    /// The token `[http]` names, read now: `None` when neither key is set. A file that
    /// cannot be read, or is empty, and a variable that is unset or empty are errors
    /// naming the file or the variable. Whitespace around the token is trimmed.
    pub fn from_config(http: &HttpConfig) -> Result<Option<AdminToken>, ServeError> {
        if let Some(path) = &http.admin_token_file {
            let what = || format!("admin token file {}", path.display());
            let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| ServeError::AdminToken(format!("cannot read the {}: {e}", what())))?);
            let text = std::str::from_utf8(&bytes).map_err(|_| ServeError::AdminToken(format!("the {} is not UTF-8 text", what())))?;
            return AdminToken::new(text.trim()).map(Some).map_err(|why| ServeError::AdminToken(format!("the {} {why}", what())));
        }
        if let Some(var) = &http.admin_token_env {
            let value = Zeroizing::new(match std::env::var(var) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    return Err(ServeError::AdminToken(format!("[http] admin_token_env names the environment variable {var}, which is not set")))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(ServeError::AdminToken(format!("the environment variable {var} (admin_token_env) is not UTF-8 text")))
                }
            });
            return AdminToken::new(value.trim())
                .map(Some)
                .map_err(|why| ServeError::AdminToken(format!("the environment variable {var} (admin_token_env) {why}")));
        }
        Ok(None)
    }

    /// Whether `presented` is the token: digests compared in constant time.
    pub fn verify(&self, presented: &[u8]) -> bool {
        let d = digest(&SHA256, presented);
        aws_lc_rs::constant_time::verify_slices_are_equal(d.as_ref(), &self.digest).is_ok()
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme in any case).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let at = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(at);
    let token = rest.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

/// 401 with the RFC 6750 challenge (`error="invalid_token"` for a wrong token).
fn unauthorized(message: &str, wrong: bool) -> Response {
    let mut response = super::error(StatusCode::UNAUTHORIZED, message);
    let challenge = if wrong { r#"Bearer realm="tokenwatch", error="invalid_token""# } else { r#"Bearer realm="tokenwatch""# };
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// An admin request whose bearer token checked out. As an extractor it answers for the
/// others: 403 without a configured token, 401 without the header or with a wrong token.
pub(super) struct Admin;

impl FromRequestParts<Arc<State>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Admin, Response> {
        let Some(token) = &state.admin_token else {
            return Err(super::error(
                StatusCode::FORBIDDEN,
                "no admin token is configured: set [http] admin_token_file or admin_token_env, or start with --admin-token-file",
            ));
        };
        match parts.headers.get(AUTHORIZATION).and_then(|v| bearer(v.as_bytes())) {
            None => Err(unauthorized("the admin API needs the header Authorization: Bearer <admin token>", false)),
            Some(presented) if token.verify(presented) => Ok(Admin),
            Some(_) => {
                tracing::warn!(method = %parts.method, path = %parts.uri.path(), "admin request refused: wrong bearer token");
                Err(unauthorized("the bearer token is not the admin token", true))
            }
        }
    }
}

/// `GET /v1/listeners`: every listener's status (`Host::status`), in configuration order.
pub(super) async fn listeners(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    // Reading a status takes the listener's lock, which a running call holds.
    let host = state.host.clone();
    match tokio::task::spawn_blocking(move || host.status()).await {
        Ok(status) => super::json(StatusCode::OK, &serde_json::to_value(status).expect("ListenerStatus serializes")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("status failed: {e}")).into_response(),
    }
}

/// What an operator asks of one listener.
#[derive(Clone, Copy)]
enum Control {
    Enable,
    Disable,
    Reload,
}

/// `POST /v1/listeners/{name}/enable`: `Host::set_enabled(name, true)` (a fresh instance and
/// `init`; also out of quarantine or a failed `init`).
pub(super) async fn enable(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>, Path(name): Path<String>) -> Response {
    control(&state, name, Control::Enable).await
}

/// `POST /v1/listeners/{name}/disable`: `Host::set_enabled(name, false)`.
pub(super) async fn disable(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>, Path(name): Path<String>) -> Response {
    control(&state, name, Control::Disable).await
}

/// `POST /v1/listeners/{name}/reload`: `Host::reload(name)`: the module read, compiled,
/// checked and started again, swapped in only when all of that worked.
pub(super) async fn reload(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>, Path(name): Path<String>) -> Response {
    control(&state, name, Control::Reload).await
}

/// 200 with the listener's new status; 404 for an unknown name; 422 when the new version
/// failed (the running one keeps serving; the reason in the body); 503 once the host is
/// shutting down.
async fn control(state: &State, name: String, what: Control) -> Response {
    let host = state.host.clone();
    // Reloading compiles, and all three wait for a reload in progress: off the executor.
    let done = tokio::task::spawn_blocking(move || match what {
        Control::Enable => host.set_enabled(&name, true),
        Control::Disable => host.set_enabled(&name, false),
        Control::Reload => host.reload(&name),
    })
    .await;
    match done {
        Ok(Ok(status)) => super::json(StatusCode::OK, &serde_json::to_value(status).expect("ListenerStatus serializes")),
        Ok(Err(e @ ReloadError::UnknownListener(_))) => super::error(StatusCode::NOT_FOUND, &e.to_string()),
        Ok(Err(ReloadError::Failed { listener, reason })) => super::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({
                "error": format!("listener {listener:?}: the new version failed, the running version keeps serving: {reason}"),
                "listener": listener,
                "reason": reason,
            }),
        ),
        Ok(Err(e @ ReloadError::ShutDown)) => super::error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the operation failed: {e}")).into_response(),
    }
}

/// 404 when `serve` runs without a config file.
fn no_config_file() -> Response {
    super::error(StatusCode::NOT_FOUND, "serve was started without --config: there is no config file to reload")
}

/// `GET /v1/config`: the config file and how its reloads went ([`super::ConfigStatus`]).
pub(super) async fn config(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    match &state.config {
        Some(c) => super::json(StatusCode::OK, &serde_json::to_value(c.status()).expect("ConfigStatus serializes")),
        None => no_config_file(),
    }
}

/// `POST /v1/config/reload`: what SIGHUP does to the config file, answered: 200 with what
/// changed ([`super::Applied`]); 422 with the reason when the config is refused (everything
/// keeps running as it is); 404 without a config file; 503 once the drain has begun.
pub(super) async fn reload_config(_: Admin, axum::extract::State(state): axum::extract::State<Arc<State>>) -> Response {
    let Some(config) = state.config.clone() else {
        return no_config_file();
    };
    if state.draining() {
        return super::error(StatusCode::SERVICE_UNAVAILABLE, "the server is draining: the config is not reloaded");
    }
    // Loading listeners compiles: off the executor.
    match tokio::task::spawn_blocking(move || config.reload()).await {
        Ok(Ok(applied)) => super::json(StatusCode::OK, &serde_json::to_value(applied).expect("Applied serializes")),
        Ok(Err(reason)) => super::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({"error": format!("the config was refused, the running config stays: {reason}"), "reason": reason}),
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the reload failed: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_parse_and_others_do_not() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bearerabc"), None);
    }

    #[test]
    fn the_token_verifies_only_itself_and_never_shows() {
        let t = AdminToken::new("s3cret-T0ken").unwrap();
        assert!(t.verify(b"s3cret-T0ken"));
        for wrong in [&b"s3cret-T0ke"[..], b"s3cret-T0kenX", b"", b"S3cret-T0ken"] {
            assert!(!t.verify(wrong), "{wrong:?}");
        }
        assert_eq!(format!("{t:?}"), "AdminToken(..)");
        assert!(AdminToken::new("").unwrap_err().contains("empty"));
        let e = AdminToken::new("two words").unwrap_err();
        assert!(e.contains("no spaces") && !e.contains("words"), "{e}");
    }

    #[test]
    fn token_files_and_variables_are_named_when_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        let http = |f: Option<&std::path::Path>, env: Option<&str>| HttpConfig {
            admin_token_file: f.map(Into::into),
            admin_token_env: env.map(Into::into),
            ..Default::default()
        };
        let err = |c: &HttpConfig| AdminToken::from_config(c).unwrap_err().to_string();
        assert!(err(&http(Some(&file), None)).starts_with(&format!("cannot read the admin token file {}: ", file.display())));
        std::fs::write(&file, " \n").unwrap();
        assert_eq!(err(&http(Some(&file), None)), format!("the admin token file {} is empty", file.display()));
        std::fs::write(&file, "tok-123\n").unwrap();
        assert!(AdminToken::from_config(&http(Some(&file), None)).unwrap().unwrap().verify(b"tok-123"));
        let unset = "TOKENWATCH_TEST_ADMIN_TOKEN_THAT_IS_NEVER_SET";
        assert!(err(&http(None, Some(unset))).contains(&format!("the environment variable {unset}, which is not set")));
        assert!(AdminToken::from_config(&http(None, None)).unwrap().is_none());
    }
}
