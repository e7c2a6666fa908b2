//! `type = "nats"`: NATS JetStream publish with acknowledgement.
//!
//! Each message is published on `subject` with the header `Nats-Msg-Id: <the outbox's
//! message id>` (and `Nats-Expected-Stream: <stream>` when `stream` is set), and counts as
//! delivered only when the stream's acknowledgement (the `PubAck`) arrives. A message sent
//! again after a lost acknowledgement — or from the spool after a restart — carries the
//! same id, so the stream drops it within its duplicate window and acknowledges it as a
//! duplicate: delivered, stored once. The messages of a batch are published back to back
//! and their acknowledgements awaited together, all within `timeout_ms`.
//!
//! The server's answer decides:
//!
//! - an acknowledgement (a duplicate included): delivered;
//! - no stream captures the subject (no responders), `Nats-Expected-Stream` does not match,
//!   no acknowledgement within `timeout_ms`, no connection, any other JetStream error
//!   (storage, limits, JetStream unavailable): retried — a stream may be created or fixed
//!   meanwhile;
//! - the message itself refused: over the server's `max_payload` (checked by the client
//!   against what the server announced) or over the stream's maximum message size: a dead
//!   letter with the reason.
//!
//! Connection: the client connects when the first batch is sent, on the outbox's runtime,
//! and reconnects by itself, without limit, after a failure or a lost connection. While it
//! is not connected a batch is retried at once (nothing is queued inside the client), so a
//! server that is down at start is a spooled backlog, delivered when it is up. Only bad
//! configuration fails the start: a bad URL or subject, or — when `stream` is set and the
//! server answers at start — a stream that does not exist or does not capture the subject.
//! Streams are never created here.

use super::{all, chain, Message, SendFuture, Sent, Sink};
use crate::config::SinkConfig;
use crate::text::for_humans;
use async_nats::connection::State;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, ErrorCode};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Messages published before their acknowledgements are awaited.
const MAX_BATCH: usize = 64;
/// The longest the start waits for the server to check `stream` (then the check is left
/// to the server, and the start goes on).
const START_CHECK: Duration = Duration::from_secs(2);
/// The longest a batch waits for a connection in progress before it is retried.
const CONNECT_WAIT: Duration = Duration::from_secs(1);
/// How often a batch looks at the connection while it waits for it.
const CONNECT_POLL: Duration = Duration::from_millis(20);
/// The most of an error's text quoted in a reason.
const QUOTED_BYTES: usize = 300;
/// JetStream errors about the message itself: sending it again cannot help.
const REFUSES_THE_MESSAGE: [ErrorCode; 1] = [ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM];

pub struct NatsSink {
    name: String,
    /// `nats://HOST:PORT`.
    server: String,
    subject: String,
    stream: Option<String>,
    timeout: Duration,
    /// Set up by the first batch, on the outbox's runtime (the client's tasks live there).
    connection: OnceCell<Connection>,
    /// The client's last connection event, for the reasons of batches that found it down.
    last_event: Arc<Mutex<Option<String>>>,
}

struct Connection {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl NatsSink {
    pub fn open(config: &SinkConfig) -> Result<NatsSink, String> {
        let sink = NatsSink {
            name: config.name.clone(),
            server: config.nats_url()?,
            subject: config.subject.clone().ok_or("a nats sink needs `subject`")?,
            stream: config.stream.clone(),
            timeout: config.timeout(),
            connection: OnceCell::new(),
            last_event: Arc::new(Mutex::new(None)),
        };
        if let Some(stream) = &sink.stream {
            sink.check_stream_at_start(stream)?;
        }
        Ok(sink)
    }

    /// Ask the server whether `stream` exists and captures the subject: an error if it
    /// answers no; a warning if it cannot be asked now. On a thread of its own with a
    /// runtime of its own, so that a start from inside an async runtime works too.
    fn check_stream_at_start(&self, stream: &str) -> Result<(), String> {
        let wait = self.timeout.min(START_CHECK);
        let answer = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| Unsure(format!("cannot start a runtime for the check: {e}")))?;
                    runtime.block_on(async {
                        let connect = async_nats::ConnectOptions::new().connection_timeout(wait).max_reconnects(1).connect(self.server.as_str());
                        let client = tokio::time::timeout(wait, connect)
                            .await
                            .map_err(|_| Unsure(format!("no connection within {} ms", wait.as_millis())))?
                            .map_err(|e| Unsure(format!("cannot connect: {}", chain(&e))))?;
                        let jetstream = jetstream::ContextBuilder::new().timeout(wait).build(client);
                        stream_captures(&jetstream, stream, &self.subject).await
                    })
                })
                .join()
                .unwrap_or_else(|_| Err(Unsure("the check panicked".into())))
        });
        match answer {
            Ok(()) => Ok(()),
            Err(Unsure(why)) => {
                tracing::warn!(sink = %self.name, "cannot check now that the stream {stream:?} captures {:?} ({why}): each publish asks for that stream", self.subject);
                Ok(())
            }
            Err(No(why)) => Err(why),
        }
    }

    /// The connection, set up on first use: its tasks run on the caller's runtime.
    async fn connection(&self) -> Result<&Connection, String> {
        self.connection
            .get_or_try_init(|| async {
                let last_event = self.last_event.clone();
                let name = self.name.clone();
                let client = async_nats::ConnectOptions::new()
                    .name(concat!("tokenwatch/", env!("CARGO_PKG_VERSION")))
                    .retry_on_initial_connect()
                    .max_reconnects(None)
                    .connection_timeout(self.timeout)
                    .event_callback(move |event| {
                        let last_event = last_event.clone();
                        let name = name.clone();
                        async move {
                            match &event {
                                async_nats::Event::Connected => tracing::info!(sink = %name, "connected to the NATS server"),
                                async_nats::Event::Disconnected => tracing::warn!(sink = %name, "disconnected from the NATS server, reconnecting"),
                                _ => {}
                            }
                            *last_event.lock() = Some(event.to_string());
                        }
                    })
                    .connect(self.server.as_str())
                    .await
                    .map_err(|e| format!("cannot set up the NATS client: {}", chain(&e)))?;
                let jetstream = jetstream::ContextBuilder::new().timeout(self.timeout).build(client.clone());
                Ok(Connection { client, jetstream })
            })
            .await
    }

    /// Whether the client is connected, waiting a little for a connection in progress.
    async fn connected(&self, client: &async_nats::Client) -> bool {
        let until = Instant::now() + self.timeout.min(CONNECT_WAIT);
        loop {
            if client.connection_state() == State::Connected {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(CONNECT_POLL).await;
        }
    }

    fn not_connected(&self) -> String {
        match self.last_event.lock().as_deref() {
            Some(event) => format!("not connected to the NATS server (last event: {})", for_humans(event, QUOTED_BYTES)),
            None => "not connected to the NATS server yet".to_owned(),
        }
    }

    async fn publish(&self, batch: &[Message]) -> Vec<Sent> {
        let connection = match self.connection().await {
            Ok(c) => c,
            Err(why) => return all(batch, Sent::Retry(why)),
        };
        if !self.connected(&connection.client).await {
            return all(batch, Sent::Retry(self.not_connected()));
        }
        let until = Instant::now() + self.timeout;
        let no_ack = || Sent::Retry(format!("no acknowledgement within {} ms", self.timeout.as_millis()));
        // Publish all, then await the acknowledgements: one round trip per batch.
        let mut pending = Vec::with_capacity(batch.len());
        for message in batch {
            let mut publish = PublishMessage::build().payload(bytes::Bytes::from(message.body.clone())).message_id(&message.id);
            if let Some(stream) = &self.stream {
                publish = publish.expected_stream(stream);
            }
            let sent = tokio::time::timeout_at(until, connection.jetstream.send_publish(self.subject.clone(), publish)).await;
            pending.push(match sent {
                Ok(Ok(ack)) => Ok(ack),
                Ok(Err(e)) => Err(judge(&e, self.timeout)),
                Err(_) => Err(no_ack()),
            });
        }
        let mut sent = Vec::with_capacity(batch.len());
        for p in pending {
            sent.push(match p {
                Err(s) => s,
                Ok(ack) => match tokio::time::timeout_at(until, ack).await {
                    Ok(Ok(_)) => Sent::Delivered,
                    Ok(Err(e)) => judge(&e, self.timeout),
                    Err(_) => no_ack(),
                },
            });
        }
        sent
    }
}

/// Why a stream check did not pass: the server said no, or it could not be asked.
enum Check {
    No(String),
    Unsure(String),
}
use Check::{No, Unsure};

/// Whether `stream` exists and one of its subjects captures `subject`.
async fn stream_captures(jetstream: &jetstream::Context, stream: &str, subject: &str) -> Result<(), Check> {
    use jetstream::context::GetStreamErrorKind;
    let found = match jetstream.get_stream(stream).await {
        Ok(s) => s,
        Err(e) => {
            return Err(match e.kind() {
                GetStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                    No(format!("the stream {stream:?} does not exist on the server: create it (tokenwatch does not create streams), or leave `stream` out"))
                }
                _ => Unsure(chain(&e)),
            })
        }
    };
    let mut subjects = found.cached_info().config.subjects.clone();
    if subjects.is_empty() {
        // A stream created without subjects takes its own name as its subject.
        subjects.push(stream.to_owned());
    }
    if subjects.iter().any(|pattern| captures(pattern, subject)) {
        Ok(())
    } else {
        Err(No(format!(
            "the stream {stream:?} does not capture the subject {subject:?} (its subjects: {})",
            for_humans(&subjects.join(", "), QUOTED_BYTES)
        )))
    }
}

/// Whether the subject pattern `pattern` (`*` one token, `>` the rest) matches `subject`.
fn captures(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// What a failed publish means for its message.
fn judge(e: &PublishError, timeout: Duration) -> Sent {
    let api = std::error::Error::source(e).and_then(|s| s.downcast_ref::<jetstream::Error>());
    match e.kind() {
        PublishErrorKind::MaxPayloadExceeded => Sent::Reject(format!("over the server's max_payload: {}", for_humans(&chain(e), QUOTED_BYTES))),
        PublishErrorKind::StreamNotFound => Sent::Retry("no stream captures the subject (no responders)".into()),
        PublishErrorKind::TimedOut => Sent::Retry(format!("no acknowledgement within {} ms", timeout.as_millis())),
        PublishErrorKind::BrokenPipe => Sent::Retry("the connection was lost before the acknowledgement".into()),
        _ => match api {
            Some(api) if REFUSES_THE_MESSAGE.contains(&api.error_code()) => {
                Sent::Reject(format!("the stream refused the message: {}", for_humans(&api.to_string(), QUOTED_BYTES)))
            }
            Some(api) => Sent::Retry(format!("JetStream error: {}", for_humans(&api.to_string(), QUOTED_BYTES))),
            None => Sent::Retry(for_humans(&chain(e), QUOTED_BYTES)),
        },
    }
}

impl Sink for NatsSink {
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a> {
        Box::pin(self.publish(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_patterns_capture_as_nats_matches_them() {
        for (pattern, subject, yes) in [
            ("tokens.issued", "tokens.issued", true),
            ("tokens.*", "tokens.issued", true),
            ("tokens.>", "tokens.issued.id", true),
            ("tokens.>", "tokens", false),
            ("tokens.*", "tokens.issued.id", false),
            ("*.issued", "tokens.issued", true),
            (">", "a.b.c", true),
            ("tokens", "tokens.issued", false),
            ("tokens.issued.x", "tokens.issued", false),
            ("other.issued", "tokens.issued", false),
        ] {
            assert_eq!(captures(pattern, subject), yes, "{pattern} {subject}");
        }
    }
}
