//! `type = "sqs"`: AWS SQS through the official AWS SDK for Rust.
//!
//! A batch (up to 10 messages) is one `SendMessageBatch` call, split further so that no call
//! carries more than 256 KiB (what every SQS-compatible server takes in one call). Each
//! entry is the message's body with the String attributes `kind`, `listener` and
//! `message_id` (the outbox's id); for a FIFO queue also `MessageGroupId` (the configured
//! one) and `MessageDeduplicationId` = the message id, so that SQS drops a message sent
//! again within its 5-minute deduplication window (a standard queue does not de-duplicate:
//! its consumers can, by `message_id`).
//!
//! The answer decides, per message:
//!
//! - listed as successful: delivered;
//! - listed as failed with `SenderFault`: a dead letter with the code and message (the
//!   message itself is refused); failed without it: retried;
//! - not listed at all: retried;
//! - the whole call failed (no connection, a timeout, throttling, a 5xx, a queue that does
//!   not exist, credentials refused or missing): all retried;
//! - the whole call refused for what a message holds (`InvalidParameterValue`,
//!   `InvalidMessageContents`, `BatchRequestTooLong`: some servers refuse a whole batch for
//!   one bad message): each message of it is sent alone, and one refused alone is a dead
//!   letter.
//!
//! A body SQS cannot carry (empty, or with characters outside the ones SQS allows) is a dead
//! letter at once, without a call.
//!
//! Configuration and credentials come from the standard AWS chain (environment variables,
//! the shared config and credentials files with their profile, web identity, ECS and EC2
//! instance roles), loaded on the outbox's runtime when the first batch is sent, so a start
//! never waits on the network; `region` and `endpoint_url` override the chain. The SDK's
//! own retries are off: the outbox retries, with backoff, and spools meanwhile. Credentials
//! are never logged: reasons carry SQS's error code and message only.

use super::{all, chain, Message, SendFuture, Sent, Sink};
use crate::config::SinkConfig;
use crate::text::for_humans;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchError, SendMessageBatchOutput};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::OnceCell;

/// SendMessageBatch's limit.
const MAX_BATCH: usize = 10;
/// The most one call carries: bodies and attributes, as SQS counts them.
const MAX_CALL_BYTES: usize = 256 << 10;
/// The most of an error's text quoted in a reason.
const QUOTED_BYTES: usize = 300;
/// Whole-call errors that are about what a message holds: its messages are sent alone.
const ABOUT_A_MESSAGE: [&str; 4] = ["InvalidParameterValue", "InvalidMessageContents", "BatchRequestTooLong", "MessageTooLong"];
/// The SDK behaviour this sink was written and tested against (not "the latest", which
/// would change with an SDK update).
fn behavior() -> aws_config::BehaviorVersion {
    aws_config::BehaviorVersion::v2026_01_12()
}

pub struct SqsSink {
    queue_url: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    group_id: Option<String>,
    timeout: Duration,
    /// Set up by the first batch, on the outbox's runtime.
    client: OnceCell<aws_sdk_sqs::Client>,
}

/// The outcome of one call, or why the whole call failed.
enum Call {
    /// One answer per message of the call.
    Answered(Vec<Sent>),
    /// The whole call failed: the reason, and whether it is about what a message holds.
    Failed { reason: String, about_a_message: bool },
}

impl SqsSink {
    pub fn open(config: &SinkConfig) -> Result<SqsSink, String> {
        Ok(SqsSink {
            queue_url: config.queue_url.clone().ok_or("an sqs sink needs `queue_url`")?,
            region: config.region.clone(),
            endpoint_url: config.endpoint_url.clone(),
            group_id: config.message_group_id.clone(),
            timeout: config.timeout(),
            client: OnceCell::new(),
        })
    }

    /// The client, its configuration loaded from the standard chain on first use.
    async fn client(&self) -> Result<&aws_sdk_sqs::Client, String> {
        self.client
            .get_or_try_init(|| async {
                let mut loader = aws_config::defaults(behavior())
                    .retry_config(aws_config::retry::RetryConfig::disabled())
                    .timeout_config(aws_config::timeout::TimeoutConfig::builder().operation_timeout(self.timeout).build());
                if let Some(region) = &self.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(endpoint) = &self.endpoint_url {
                    loader = loader.endpoint_url(endpoint);
                }
                let config = loader.load().await;
                if config.region().is_none() {
                    return Err("no AWS region: set `region`, or AWS_REGION, or the profile's region".to_owned());
                }
                Ok(aws_sdk_sqs::Client::new(&config))
            })
            .await
    }

    async fn deliver(&self, batch: &[Message]) -> Vec<Sent> {
        let client = match self.client().await {
            Ok(c) => c,
            Err(why) => return all(batch, Sent::Retry(why)),
        };
        let mut sent: Vec<Option<Sent>> = batch.iter().map(|m| body_problem(&m.body).map(Sent::Reject)).collect();
        let sendable: Vec<usize> = (0..batch.len()).filter(|&i| sent[i].is_none()).collect();
        for call in calls(batch, &sendable) {
            let answers = match self.call(client, batch, &call).await {
                Call::Answered(answers) => answers,
                Call::Failed { reason, about_a_message } if about_a_message && call.len() > 1 => {
                    // Find the message the server refuses: each alone.
                    let mut answers = Vec::with_capacity(call.len());
                    for &i in &call {
                        answers.push(match self.call(client, batch, &[i]).await {
                            Call::Answered(mut one) => one.pop().unwrap_or_else(|| Sent::Retry(reason.clone())),
                            Call::Failed { reason, about_a_message: true } => Sent::Reject(reason),
                            Call::Failed { reason, about_a_message: false } => Sent::Retry(reason),
                        });
                    }
                    answers
                }
                Call::Failed { reason, about_a_message: true } => vec![Sent::Reject(reason); call.len()],
                Call::Failed { reason, about_a_message: false } => vec![Sent::Retry(reason); call.len()],
            };
            for (&i, answer) in call.iter().zip(answers) {
                sent[i] = Some(answer);
            }
        }
        sent.into_iter().map(|s| s.unwrap_or_else(|| Sent::Retry("not sent".into()))).collect()
    }

    /// One SendMessageBatch of the messages `which` of `batch`.
    async fn call(&self, client: &aws_sdk_sqs::Client, batch: &[Message], which: &[usize]) -> Call {
        let mut entries = Vec::with_capacity(which.len());
        for (n, &i) in which.iter().enumerate() {
            match self.entry(n, &batch[i]) {
                Ok(e) => entries.push(e),
                Err(why) => return Call::Failed { reason: why, about_a_message: false },
            }
        }
        let answer = client.send_message_batch().queue_url(&self.queue_url).set_entries(Some(entries)).send().await;
        match answer {
            Ok(output) => Call::Answered(judge_entries(&output, which.len())),
            Err(e) => judge_call(&e, self.timeout),
        }
    }

    /// The request entry for `message`, the `n`th of its call.
    fn entry(&self, n: usize, message: &Message) -> Result<SendMessageBatchRequestEntry, String> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(|e| format!("cannot build an attribute: {e}"))
        };
        let attributes = HashMap::from([
            ("kind".to_owned(), attribute(&message.kind)?),
            ("listener".to_owned(), attribute(&message.listener)?),
            ("message_id".to_owned(), attribute(&message.id)?),
        ]);
        let mut entry = SendMessageBatchRequestEntry::builder().id(n.to_string()).message_body(&message.body).set_message_attributes(Some(attributes));
        if let Some(group) = &self.group_id {
            entry = entry.message_group_id(group).message_deduplication_id(&message.id);
        }
        entry.build().map_err(|e| format!("cannot build the request: {e}"))
    }
}

/// The bytes SQS counts for a message: its body and each attribute's name, type and value.
fn sqs_bytes(message: &Message) -> usize {
    let attribute = |name: &str, value: &str| name.len() + "String".len() + value.len();
    message.body.len() + attribute("kind", &message.kind) + attribute("listener", &message.listener) + attribute("message_id", &message.id)
}

/// The messages `which` of `batch`, in order, cut into calls of at most `MAX_BATCH`
/// messages and `MAX_CALL_BYTES` (a larger message goes alone).
fn calls(batch: &[Message], which: &[usize]) -> Vec<Vec<usize>> {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in which {
        let size = sqs_bytes(&batch[i]);
        match calls.last_mut() {
            Some(call) if call.len() < MAX_BATCH && bytes + size <= MAX_CALL_BYTES => {
                call.push(i);
                bytes += size;
            }
            _ => {
                calls.push(vec![i]);
                bytes = size;
            }
        }
    }
    calls
}

/// Why SQS cannot carry `body`, if it cannot: it must not be empty, and may hold only tab,
/// line feed, carriage return and the characters from U+0020 on, except U+FFFE and U+FFFF
/// (surrogates cannot occur in a Rust string).
fn body_problem(body: &str) -> Option<String> {
    if body.is_empty() {
        return Some("SQS does not take an empty message body".into());
    }
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
    let (at, c) = body.char_indices().find(|&(_, c)| !allowed(c))?;
    Some(format!("SQS does not take the character U+{:04X} (at byte {at}) in a message body", c as u32))
}

/// One answer per entry of a call of `n` messages (entry ids are their positions).
fn judge_entries(output: &SendMessageBatchOutput, n: usize) -> Vec<Sent> {
    let mut sent = vec![Sent::Retry("SQS listed the message neither as sent nor as failed".into()); n];
    let slot = |id: &str| id.parse::<usize>().ok().filter(|&i| i < n);
    for ok in output.successful() {
        if let Some(i) = slot(ok.id()) {
            sent[i] = Sent::Delivered;
        }
    }
    for failed in output.failed() {
        if let Some(i) = slot(failed.id()) {
            let reason = match failed.message() {
                Some(m) if !m.trim().is_empty() => format!("{}: {}", for_humans(failed.code(), 100), for_humans(m, QUOTED_BYTES)),
                _ => for_humans(failed.code(), 100),
            };
            sent[i] = if failed.sender_fault() { Sent::Reject(reason) } else { Sent::Retry(reason) };
        }
    }
    sent
}

/// What a failed call means: all retried, unless the server refused it for what a message
/// holds.
fn judge_call(e: &SdkError<SendMessageBatchError, aws_sdk_sqs::config::http::HttpResponse>, timeout: Duration) -> Call {
    match e {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let code = err.code().unwrap_or("unknown error");
            let status = context.raw().status().as_u16();
            let reason = match err.message() {
                Some(m) if !m.trim().is_empty() => format!("{status} {}: {}", for_humans(code, 100), for_humans(m, QUOTED_BYTES)),
                _ => format!("{status} {}", for_humans(code, 100)),
            };
            // Codes come bare (`InvalidParameterValue`) or prefixed (`AWS.SimpleQueueService.`).
            let bare = code.rsplit('.').next().unwrap_or(code);
            Call::Failed { reason, about_a_message: status < 500 && ABOUT_A_MESSAGE.contains(&bare) }
        }
        SdkError::TimeoutError(_) => Call::Failed { reason: format!("no answer within {} ms", timeout.as_millis()), about_a_message: false },
        other => Call::Failed { reason: for_humans(&chain(other), QUOTED_BYTES), about_a_message: false },
    }
}

impl Sink for SqsSink {
    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a> {
        Box::pin(self.deliver(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};

    fn message(body: &str) -> Message {
        Message { id: "0".repeat(32), listener: "l".into(), kind: "id_token".into(), body: body.into() }
    }

    #[test]
    fn entries_answer_by_their_id_and_sender_fault() {
        let ok = |id: &str| SendMessageBatchResultEntry::builder().id(id).message_id("m").md5_of_message_body("x").build().unwrap();
        let failed = |id: &str, sender: bool, code: &str, message: Option<&str>| {
            let b = BatchResultErrorEntry::builder().id(id).sender_fault(sender).code(code);
            match message {
                Some(m) => b.message(m),
                None => b,
            }
            .build()
            .unwrap()
        };
        let output = SendMessageBatchOutput::builder()
            .successful(ok("0"))
            .successful(ok("3"))
            .failed(failed("1", true, "InvalidMessageContents", Some("bad\ncharacter")))
            .failed(failed("2", false, "InternalError", None))
            .failed(failed("9", true, "Ignored", None))
            .build()
            .unwrap();
        assert_eq!(
            judge_entries(&output, 5),
            [
                Sent::Delivered,
                Sent::Reject("InvalidMessageContents: bad\\ncharacter".into()),
                Sent::Retry("InternalError".into()),
                Sent::Delivered,
                Sent::Retry("SQS listed the message neither as sent nor as failed".into()),
            ]
        );
    }

    #[test]
    fn bodies_sqs_cannot_carry_are_named() {
        assert_eq!(body_problem("{\"sub\":\"alice\"}\t\r\n é ✓ 😀"), None);
        assert_eq!(body_problem(""), Some("SQS does not take an empty message body".into()));
        assert_eq!(body_problem("ab\u{1}"), Some("SQS does not take the character U+0001 (at byte 2) in a message body".into()));
        assert_eq!(body_problem("\u{ffff}"), Some("SQS does not take the character U+FFFF (at byte 0) in a message body".into()));
    }

    #[test]
    fn calls_hold_at_most_ten_messages_and_256_kib() {
        let small: Vec<Message> = (0..23).map(|_| message("x")).collect();
        let which: Vec<usize> = (0..23).collect();
        assert_eq!(calls(&small, &which).iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
        let big = "y".repeat(100 << 10);
        let mixed = vec![message(&big), message(&big), message(&big), message("x"), message(&"z".repeat(300 << 10)), message("x")];
        assert_eq!(calls(&mixed, &[0, 1, 2, 3, 4, 5]), [vec![0, 1], vec![2, 3], vec![4], vec![5]]);
        assert_eq!(calls(&mixed, &[1, 3]), [vec![1, 3]]);
    }
}
