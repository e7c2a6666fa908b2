//! `POST /v1/events`: one event (`application/json`, or no `Content-Type`: the body is one
//! event object, line breaks allowed) or a batch (`application/x-ndjson`: one event per line,
//! read by [`EventLines`], so a line of any bytes costs only that line).
//!
//! Answers, each with the body `{"accepted":N,"rejected":[{"line":L,"error":"..."}],
//! "rejected_total":M}` (plus `"error"` when nothing was dispatched, and `queue_full` when
//! an async listener refused events):
//! - 202 when at least one event was valid, once the listeners have run on all of them (or,
//!   for async listeners, queued them);
//! - 400 when nothing in the body is a valid event;
//! - 413 past `[http] max_body_bytes`, 415 for another `Content-Type`, nothing dispatched;
//! - 503 with `Retry-After` once the drain has begun, nothing dispatched;
//! - 503 with `Retry-After: 1` when an async listener with `on_full = "reject"` refused
//!   some of the events (their lines in `queue_full`).

use super::State;
use crate::event::{EventError, EventLines, Ingress, TokenEvent, MAX_LINE_BYTES};
use crate::runtime::listener::Outcome;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// Rejections listed in an answer; the rest are only counted (`rejected_total`), so a body
/// of a million bad two-byte lines cannot make an answer of a hundred megabytes.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// Longest error text in a rejection, in bytes (a reason can quote a field name, and a line
/// can be a megabyte); the rest is cut at a character boundary.
pub const MAX_ERROR_BYTES: usize = 1024;

/// How a body holds its events, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` or none: the body is one event.
    Single,
    /// `application/x-ndjson`: one event per line.
    Ndjson,
}

impl BodyFormat {
    /// The format a `Content-Type` value names (parameters such as `charset` ignored), or
    /// the media type it names instead.
    pub fn from_content_type(value: Option<&[u8]>) -> Result<BodyFormat, String> {
        let Some(value) = value else { return Ok(BodyFormat::Single) };
        let text = String::from_utf8_lossy(value);
        let media = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "application/json" => Ok(BodyFormat::Single),
            "application/x-ndjson" => Ok(BodyFormat::Ndjson),
            _ => Err(crate::text::for_humans(&media, 100)),
        }
    }
}

/// A line that is not an event: its 1-based number and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub line: usize,
    pub error: String,
}

/// What became of a body.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// Events dispatched and taken by every listener.
    pub accepted: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] rejected lines.
    pub rejected: Vec<Rejection>,
    /// Every rejected line.
    pub rejected_total: u64,
    /// The first [`MAX_LISTED_REJECTIONS`] lines whose event an async listener's full
    /// queue refused (`on_full = "reject"`); the sync listeners ran on them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queue_full: Vec<usize>,
    #[serde(skip_serializing_if = "is_zero")]
    pub queue_full_total: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What dispatching one event came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Every listener took it (ran it, queued it, or counted why not).
    Taken,
    /// An async listener's full queue refused it (`Outcome::QueueFull`).
    QueueFull,
}

impl Ingested {
    fn reject(&mut self, line: usize, error: EventError) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_LISTED_REJECTIONS {
            let error = crate::text::truncate(&error.0, MAX_ERROR_BYTES).to_owned();
            self.rejected.push(Rejection { line, error });
        }
    }
}

/// Parse `body` and hand every valid event to `dispatch`, in order; blank lines are
/// neither accepted nor rejected. Never fails: whatever a line holds is that line's
/// rejection.
pub fn ingest(body: &[u8], format: BodyFormat, mut dispatch: impl FnMut(TokenEvent) -> Dispatched) -> Ingested {
    let mut ingested = Ingested::default();
    let mut take = |line: usize, ingress: Ingress, ingested: &mut Ingested| match ingress {
        Ingress::Event(event) => match dispatch(event) {
            Dispatched::Taken => ingested.accepted += 1,
            Dispatched::QueueFull => {
                ingested.queue_full_total += 1;
                if ingested.queue_full.len() < MAX_LISTED_REJECTIONS {
                    ingested.queue_full.push(line);
                }
            }
        },
        Ingress::Blank => {}
        Ingress::Bad(error) => ingested.reject(line, error),
    };
    match format {
        BodyFormat::Single => take(1, single(body), &mut ingested),
        BodyFormat::Ndjson => {
            let mut lines = EventLines::new(body);
            // Reading a byte slice cannot fail.
            while let Ok(Some((index, ingress))) = lines.next_event() {
                take(index + 1, ingress, &mut ingested);
            }
        }
    }
    ingested
}

/// A body that is one event: the checks `EventLines` makes of a line (length, UTF-8,
/// blank), then the event parser, over the whole body.
fn single(body: &[u8]) -> Ingress {
    if body.len() > MAX_LINE_BYTES {
        return Ingress::Bad(EventError(format!("event too long: {} bytes, the limit is {MAX_LINE_BYTES}", body.len())));
    }
    match std::str::from_utf8(body) {
        Err(e) => Ingress::Bad(EventError(format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))),
        Ok(text) if text.trim().is_empty() => Ingress::Blank,
        Ok(text) => match TokenEvent::from_json_line(text) {
            Ok(event) => Ingress::Event(event),
            Err(e) => Ingress::Bad(e),
        },
    }
}

/// The answer's body: the [`Ingested`] fields, and `error` when nothing was dispatched.
fn answer(status: StatusCode, ingested: &Ingested, error: Option<&str>) -> Response {
    let mut body = serde_json::to_value(ingested).expect("Ingested serializes");
    if let Some(error) = error {
        body["error"] = error.into();
    }
    super::json(status, &body)
}

fn refused(status: StatusCode, error: &str) -> Response {
    answer(status, &Ingested::default(), Some(error))
}

/// 503 when an async listener's full queue refused events: try those lines again in a
/// second.
fn queue_full(ingested: &Ingested) -> Response {
    let mut response = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        ingested,
        Some("an async listener's queue is full: it did not take the events of the lines in queue_full (the other listeners did); send those lines again later"),
    );
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(1u64));
    response
}

/// 503 during the drain, with `Retry-After`: the drain deadline, in whole seconds (at
/// least 1); by then this process is gone and its successor, or another instance, takes
/// the events.
fn draining(state: &State) -> Response {
    State::count(&state.refused, 1);
    let mut response = refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "tokenwatch is shutting down: nothing in this request was dispatched; send it again later or to another instance",
    );
    let seconds = state.drain_deadline.as_millis().div_ceil(1000).max(1);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds as u64));
    response
}

pub(super) async fn post(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let format = match BodyFormat::from_content_type(headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes)) {
        Ok(format) => format,
        Err(media) => {
            return refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Content-Type {media:?}: send one event as application/json or a batch as application/x-ndjson"),
            )
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let error = format!(
                "the body is over the limit of {} bytes ([http] max_body_bytes): nothing in it was dispatched; send smaller batches",
                state.max_body_bytes
            );
            return refused(StatusCode::PAYLOAD_TOO_LARGE, &error);
        }
        Err(r) => return refused(r.status(), &r.body_text()),
    };
    if state.draining() {
        return draining(&state);
    }
    // Wait for a permit to run listeners, unless the drain begins first.
    let permit = tokio::select! {
        biased;
        permit = state.dispatch.clone().acquire_owned() => match permit {
            Ok(permit) => permit,
            Err(_) => return draining(&state),
        },
        () = state.drain_started() => return draining(&state),
    };
    let worker = state.clone();
    // Counted as the events are dispatched, inside the task: a client that goes away does
    // not stop its events, and they still count in the totals.
    let done = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let host = &worker.host;
        let ingested = ingest(&body, format, |event| {
            let mut full = false;
            host.dispatch_with(&Arc::new(event), |d| full |= matches!(d.outcome, Outcome::QueueFull));
            State::count(if full { &worker.queue_full } else { &worker.accepted }, 1);
            if full {
                Dispatched::QueueFull
            } else {
                Dispatched::Taken
            }
        });
        State::count(&worker.rejected, ingested.rejected_total);
        ingested
    })
    .await;
    match done {
        Ok(ingested) if ingested.queue_full_total > 0 => queue_full(&ingested),
        Ok(ingested) if ingested.accepted > 0 => answer(StatusCode::ACCEPTED, &ingested, None),
        Ok(ingested) => answer(StatusCode::BAD_REQUEST, &ingested, Some("no valid event in the body")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("dispatch failed: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(body: &[u8], format: BodyFormat) -> (Vec<String>, Ingested) {
        let mut got = Vec::new();
        let ingested = ingest(body, format, |e| {
            got.push(e.claims.string("sub").unwrap_or("").to_owned());
            Dispatched::Taken
        });
        (got, ingested)
    }

    #[test]
    fn content_types_pick_the_format_or_are_named() {
        assert_eq!(BodyFormat::from_content_type(None), Ok(BodyFormat::Single));
        assert_eq!(BodyFormat::from_content_type(Some(b"application/json; charset=utf-8")), Ok(BodyFormat::Single));
        assert_eq!(BodyFormat::from_content_type(Some(b"Application/X-NDJSON")), Ok(BodyFormat::Ndjson));
        assert_eq!(BodyFormat::from_content_type(Some(b"text/plain")), Err("text/plain".into()));
        assert_eq!(BodyFormat::from_content_type(Some(b"text/\x1b[31m")), Err("text/\\u{1b}[31m".into()));
    }

    #[test]
    fn a_batch_dispatches_every_valid_line_and_numbers_the_others() {
        let body = b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"a\"}}\n\
            not json\n\
            \n\
            {\"kind\":\"id_token\",\"claims\":{\"sub\":\"caf\xc3\"}}\r\n\
            {\"kind\":\"access_token\",\"claims\":{\"sub\":\"b\"}}";
        let (got, ingested) = subs(body, BodyFormat::Ndjson);
        assert_eq!(got, ["a", "b"]);
        assert_eq!(ingested.accepted, 2);
        assert_eq!(ingested.rejected_total, 2);
        let lines: Vec<usize> = ingested.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert!(ingested.rejected[1].error.starts_with("invalid UTF-8 at byte offset"), "{:?}", ingested.rejected);
    }

    #[test]
    fn a_single_event_may_span_lines_and_is_checked_as_a_line_is() {
        let (got, ingested) = subs(b"{\n  \"kind\": \"id_token\",\n  \"claims\": {\"sub\": \"x\"}\n}\n", BodyFormat::Single);
        assert_eq!((got, ingested.accepted), (vec!["x".to_owned()], 1));
        let (_, ingested) = subs(b"\xff", BodyFormat::Single);
        assert_eq!(ingested.rejected, [Rejection { line: 1, error: "invalid UTF-8 at byte offset 0".into() }]);
        let (_, ingested) = subs(b"  \n", BodyFormat::Single);
        assert_eq!(ingested, Ingested::default(), "blank: nothing accepted, nothing rejected");
        let (_, ingested) = subs(&vec![b' '; MAX_LINE_BYTES + 1], BodyFormat::Single);
        assert!(ingested.rejected[0].error.starts_with("event too long"), "{:?}", ingested.rejected);
    }

    #[test]
    fn events_a_full_queue_refused_are_listed_apart_and_not_accepted() {
        let body = b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"a\"}}\n{\"kind\":\"id_token\",\"claims\":{\"sub\":\"full\"}}\nbad\n";
        let ingested = ingest(body, BodyFormat::Ndjson, |e| match e.claims.string("sub") {
            Some("full") => Dispatched::QueueFull,
            _ => Dispatched::Taken,
        });
        assert_eq!((ingested.accepted, ingested.queue_full.as_slice(), ingested.queue_full_total, ingested.rejected_total), (1, &[2][..], 1, 1));
        let doc = serde_json::to_value(&ingested).unwrap();
        assert_eq!(doc["queue_full"], serde_json::json!([2]));
        let plain = serde_json::to_value(ingest(b"x", BodyFormat::Single, |_| Dispatched::Taken)).unwrap();
        assert!(plain.get("queue_full").is_none() && plain.get("queue_full_total").is_none(), "{plain}");
    }

    #[test]
    fn rejections_are_listed_up_to_the_cap_and_all_counted_with_errors_cut() {
        let mut body = b"x\n".repeat(MAX_LISTED_REJECTIONS + 5);
        body.extend_from_slice(format!("{{\"kind\":\"id_token\",\"claims\":{{}},\"{}\":1}}\n", "é".repeat(2000)).as_bytes());
        body.extend_from_slice(b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"last\"}}\n");
        let (got, ingested) = subs(&body, BodyFormat::Ndjson);
        assert_eq!(got, ["last"]);
        assert_eq!(ingested.rejected.len(), MAX_LISTED_REJECTIONS);
        assert_eq!(ingested.rejected_total, MAX_LISTED_REJECTIONS as u64 + 6);
        let (_, long) = subs(format!("{{\"kind\":\"id_token\",\"claims\":{{}},\"{}\":1}}", "é".repeat(2000)).as_bytes(), BodyFormat::Single);
        assert!(long.rejected[0].error.len() <= MAX_ERROR_BYTES && long.rejected[0].error.contains("unknown field"), "{:?}", long.rejected);
    }
}
