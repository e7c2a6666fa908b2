//! `type = "http-push"`: Security Event Token delivery by HTTP POST (RFC 8935, section 2).
//!
//! One POST per message to `url`, the messages of a batch sent concurrently. The body is the
//! message as published (a compact SET JWS), with `Content-Type: application/secevent+jwt`,
//! `Accept: application/json`, the configured `Authorization` if any, and
//! `X-Tokenwatch-Message-Id: <the outbox's message id>`. A SET's own `jti` is what an RFC
//! 8935 receiver de-duplicates on (a message retried after a lost answer arrives twice);
//! the header gives receivers of messages that are not SETs the same handle.
//!
//! The receiver's answer decides:
//!
//! - `202 Accepted`: delivered.
//! - `400` with `{"err": CODE, "description": ...}` where CODE is `invalid_request`,
//!   `invalid_key`, `invalid_issuer` or `invalid_audience`: the SET is refused for good, a
//!   dead letter with the reason `400 CODE: description`.
//! - `400` with `authentication_failed` or `access_denied`, `401`, `403`, `408`, `429`,
//!   any `5xx`, a connection error or no answer within `timeout_ms`: retried (the
//!   credentials or the receiver may be fixed meanwhile).
//! - Any other status (a 3xx, as redirects are not followed; `404`; a `400` without a known
//!   `err`; even `200`, which RFC 8935 does not allow): a dead letter with the status and at
//!   most 200 bytes of the body, escaped.
//!
//! The `Authorization` value is marked sensitive and is never part of a log line, a reason
//! or an error. Proxies named by the usual environment variables (`HTTPS_PROXY`,
//! `NO_PROXY`, ...) are used.

use super::{Message, SendFuture, Sent, Sink};
use crate::config::{check_header_value, SinkConfig};
use crate::text::for_humans;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};
use std::time::Duration;

/// The request header carrying the outbox's message id.
pub const MESSAGE_ID_HEADER: &str = "X-Tokenwatch-Message-Id";
/// The messages of one batch, all in flight at once.
const MAX_BATCH: usize = 16;
/// The most of an answer's body read (enough for any error object).
const MAX_ANSWER_BYTES: usize = 64 << 10;
/// The most of an answer's body quoted in a reason.
const QUOTED_BYTES: usize = 200;
/// RFC 8935 section 2.4's error codes that say this SET will never be accepted.
const PERMANENT: [&str; 4] = ["invalid_request", "invalid_key", "invalid_issuer", "invalid_audience"];
/// Its error codes that the receiver's or our configuration may cure.
const TRANSIENT: [&str; 2] = ["authentication_failed", "access_denied"];

pub struct HttpPushSink {
    client: Client,
    url: Url,
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl HttpPushSink {
    pub fn open(config: &SinkConfig) -> Result<HttpPushSink, String> {
        let url = config.http_url()?;
        let authorization = match (&config.authorization, &config.authorization_env) {
            (Some(value), _) => Some(check_header_value(value.expose()).map_err(|why| format!("`authorization` {why}"))?),
            (None, Some(var)) => {
                let value = std::env::var(var).map_err(|e| match e {
                    std::env::VarError::NotPresent => {
                        format!("the environment variable {var} (authorization_env) is not set")
                    }
                    std::env::VarError::NotUnicode(_) => {
                        format!("the environment variable {var} (authorization_env) is not valid UTF-8")
                    }
                })?;
                Some(check_header_value(&value).map_err(|why| format!("the environment variable {var} (authorization_env) {why}"))?)
            }
            (None, None) => None,
        };
        let timeout = config.timeout();
        let client = Client::builder()
            .timeout(timeout)
            // A 3xx is the receiver's misconfiguration: following it would turn the POST
            // into a GET (301-303) and might carry the SET elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tokenwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", describe(&e, timeout)))?;
        Ok(HttpPushSink { client, url, authorization, timeout })
    }

    /// POST one message and read what the answer means.
    async fn post(client: Client, url: Url, authorization: Option<HeaderValue>, timeout: Duration, message: Message) -> Sent {
        let mut request = client
            .post(url)
            .header(CONTENT_TYPE, "application/secevent+jwt")
            .header(ACCEPT, "application/json")
            .header(MESSAGE_ID_HEADER, message.id)
            .body(message.body);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Sent::Retry(describe(&e, timeout)),
        };
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            return Sent::Delivered;
        }
        let body = read_capped(response).await;
        judge(status, body.map(|b| String::from_utf8_lossy(&b).into_owned()), timeout)
    }
}

/// What an answer other than 202 means; `body` is what could be read of it.
fn judge(status: StatusCode, body: Result<String, reqwest::Error>, timeout: Duration) -> Sent {
    let quoted = |body: &str| match body.trim() {
        "" => status.to_string(),
        text => format!("{status}: {}", for_humans(text, QUOTED_BYTES)),
    };
    if status == StatusCode::BAD_REQUEST {
        let body = match body {
            Ok(body) => body,
            // Which error it is is in the body: without it, try again.
            Err(e) => return Sent::Retry(format!("{status}, its body unread: {}", describe(&e, timeout))),
        };
        let error: Option<serde_json::Value> = serde_json::from_str(&body).ok();
        let code = error.as_ref().and_then(|e| e.get("err")).and_then(|c| c.as_str());
        let description = error.as_ref().and_then(|e| e.get("description")).and_then(|d| d.as_str());
        if let Some(code) = code.filter(|c| PERMANENT.contains(c) || TRANSIENT.contains(c)) {
            let reason = match description {
                Some(d) if !d.trim().is_empty() => format!("400 {code}: {}", for_humans(d, QUOTED_BYTES)),
                _ => format!("400 {code}"),
            };
            return if PERMANENT.contains(&code) { Sent::Reject(reason) } else { Sent::Retry(reason) };
        }
        return Sent::Reject(quoted(&body));
    }
    let body = body.unwrap_or_default();
    let transient = status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        );
    if transient {
        Sent::Retry(quoted(&body))
    } else {
        Sent::Reject(quoted(&body))
    }
}

/// Up to `MAX_ANSWER_BYTES` of the answer's body.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(body)
}

/// A request error and its causes, without the URL (the sink's target says it).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = if e.is_connect() { "cannot connect".to_owned() } else { "the request failed".to_owned() };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Sink for HttpPushSink {
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut requests = tokio::task::JoinSet::new();
            for (i, message) in batch.iter().enumerate() {
                let post = HttpPushSink::post(self.client.clone(), self.url.clone(), self.authorization.clone(), self.timeout, message.clone());
                requests.spawn(async move { (i, post.await) });
            }
            let mut sent = vec![Sent::Retry("the request's task ended without an answer".into()); batch.len()];
            while let Some(done) = requests.join_next().await {
                if let Ok((i, answer)) = done {
                    sent[i] = answer;
                }
            }
            sent
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(status: u16, body: &str) -> Sent {
        judge(StatusCode::from_u16(status).unwrap(), Ok(body.to_owned()), Duration::from_secs(1))
    }

    #[test]
    fn rfc_8935_error_codes_decide_between_dead_letter_and_retry() {
        for code in PERMANENT {
            let body = format!(r#"{{"err":"{code}","description":"no\nway"}}"#);
            assert_eq!(judged(400, &body), Sent::Reject(format!("400 {code}: no\\nway")));
        }
        for code in TRANSIENT {
            assert_eq!(judged(400, &format!(r#"{{"err":"{code}"}}"#)), Sent::Retry(format!("400 {code}")));
        }
        assert_eq!(judged(400, r#"{"err":"invalid_other"}"#), Sent::Reject(r#"400 Bad Request: {"err":"invalid_other"}"#.into()));
        assert_eq!(judged(400, "not json"), Sent::Reject("400 Bad Request: not json".into()));
        assert_eq!(judged(400, r#"{"err":42}"#), Sent::Reject(r#"400 Bad Request: {"err":42}"#.into()));
    }

    #[test]
    fn other_statuses_retry_when_transient_and_dead_letter_otherwise() {
        assert_eq!(judged(401, ""), Sent::Retry("401 Unauthorized".into()));
        assert_eq!(judged(403, "go away"), Sent::Retry("403 Forbidden: go away".into()));
        assert_eq!(judged(429, ""), Sent::Retry("429 Too Many Requests".into()));
        assert_eq!(judged(500, ""), Sent::Retry("500 Internal Server Error".into()));
        assert_eq!(judged(503, " down \n"), Sent::Retry("503 Service Unavailable: down".into()));
        assert_eq!(judged(200, "{}"), Sent::Reject("200 OK: {}".into()));
        assert_eq!(judged(301, ""), Sent::Reject("301 Moved Permanently".into()));
        let long = format!("\x1b[31m{}", "y".repeat(300));
        let Sent::Reject(reason) = judged(404, &long) else { panic!("a 404 is permanent") };
        assert_eq!(reason, format!("404 Not Found: \\u{{1b}}[31m{}… (305 bytes in all)", "y".repeat(195)));
    }
}
