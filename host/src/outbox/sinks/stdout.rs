//! `type = "stdout"`: each message on a line of standard output.

use super::{Message, SendFuture, Sent, Sink};
use std::io::Write;

pub struct StdoutSink;

impl Sink for StdoutSink {
    fn max_batch(&self) -> usize {
        256
    }

    fn send<'a>(&'a self, batch: &'a [Message]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut out = std::io::stdout().lock();
            batch
                .iter()
                .map(|m| {
                    if m.body.contains(['\n', '\r']) {
                        return Sent::Reject("the message holds a line break; the stdout sink writes one message per line".into());
                    }
                    match writeln!(out, "{}", m.body) {
                        Ok(()) => Sent::Delivered,
                        Err(e) => Sent::Retry(format!("cannot write to stdout: {e}")),
                    }
                })
                .collect()
        })
    }
}
