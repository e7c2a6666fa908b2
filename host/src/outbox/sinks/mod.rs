//! Sink types. A sink delivers batches of messages and says, per message, whether it was
//! delivered, should be retried, or is rejected for good. Adding a sink type is one file
//! here implementing [`Sink`], and one arm in [`build`].

mod file;
mod http_push;
mod nats;
mod sqs;
mod stdout;

use super::Message;
use crate::config::{SinkConfig, SinkType};
use std::future::Future;
use std::pin::Pin;

/// What became of one message of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// A transient failure (the sink is down, a timeout, a 5xx): the message is spooled and
    /// retried with backoff.
    Retry(String),
    /// A permanent rejection (malformed for this sink, refused by the receiver): the message
    /// goes to the dead letters with this reason.
    Reject(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Vec<Sent>> + Send + 'a>>;

/// One configured sink.
pub trait Sink: Send + Sync + 'static {
    /// The most messages one `send` takes.
    fn max_batch(&self) -> usize;
    /// Deliver `batch`; the answer has one [`Sent`] per message, in order.
    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a>;
}

/// Build the sink a (validated) `[[sink]]` table describes.
pub fn build(config: &SinkConfig) -> Result<Box<dyn Sink>, String> {
    Ok(match config.kind {
        SinkType::File => Box::new(file::FileSink::open(config)?),
        SinkType::Stdout => Box::new(stdout::StdoutSink),
        SinkType::HttpPush => Box::new(http_push::HttpPushSink::open(config)?),
        SinkType::Nats => Box::new(nats::NatsSink::open(config)?),
        SinkType::Sqs => Box::new(sqs::SqsSink::open(config)?),
    })
}

/// An error and its causes, one after the other, each once (client libraries often repeat
/// a cause in the error's own text), without any debug dump.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The answer for a whole batch that failed the same way.
fn all(batch: &[Message], sent: Sent) -> Vec<Sent> {
    vec![sent; batch.len()]
}
