//! `tokenwatch:listener/log`: guest log lines, capped per call, handed to the host's
//! `LogSink` tagged with the listener's name.

use crate::bindings::log::{Host, Level};
use crate::state::State;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Longest message kept, in bytes; longer ones are cut at a character boundary. Enough for
/// a claims set or a SET; a guest cannot flood the host's log with megabytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Lines kept per call; the rest are counted in `logs_dropped`. A listener logs a few lines
/// per event; 64 leaves room for a debug dump without letting a loop flood the log.
pub const MAX_LINES_PER_CALL: u32 = 64;

/// Severity of a guest log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Where guest log lines go. The default sends them to `tracing` (target `tokenwatch::guest`).
pub trait LogSink: Send + Sync {
    fn log(&self, listener: &str, level: LogLevel, message: &str);
}

/// The default sink: `tracing` events with the listener's name as a field.
pub struct TracingSink;

impl LogSink for TracingSink {
    fn log(&self, listener: &str, level: LogLevel, message: &str) {
        match level {
            LogLevel::Trace => tracing::trace!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Info => tracing::info!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Error => tracing::error!(target: "tokenwatch::guest", listener, "{message}"),
        }
    }
}

/// The log capability of one listener's store.
pub struct LogCtx {
    listener: Arc<str>,
    sink: Arc<dyn LogSink>,
    lines_this_call: u32,
    dropped: Arc<AtomicU64>,
}

impl LogCtx {
    pub fn new(listener: Arc<str>, sink: Arc<dyn LogSink>, dropped: Arc<AtomicU64>) -> Self {
        LogCtx {
            listener,
            sink,
            lines_this_call: 0,
            dropped,
        }
    }

    pub(crate) fn begin_call(&mut self) {
        self.lines_this_call = 0;
    }

    /// Emit one line, applying the caps.
    pub fn line(&mut self, level: LogLevel, message: &str) {
        if self.lines_this_call >= MAX_LINES_PER_CALL {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.lines_this_call += 1;
        self.sink.log(&self.listener, level, truncate(message, MAX_MESSAGE_BYTES));
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Host for State {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log.line(level.into(), &message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);
    impl LogSink for Collect {
        fn log(&self, listener: &str, level: LogLevel, message: &str) {
            self.0.lock().push(format!("{listener} {} {message}", level.as_str()));
        }
    }

    #[test]
    fn caps_size_and_count_per_call() {
        let sink = Arc::new(Collect::default());
        let dropped = Arc::new(AtomicU64::new(0));
        let mut ctx = LogCtx::new("l".into(), sink.clone(), dropped.clone());
        ctx.line(LogLevel::Info, &"é".repeat(MAX_MESSAGE_BYTES));
        for _ in 0..100 {
            ctx.line(LogLevel::Debug, "x");
        }
        let lines = sink.0.lock();
        assert_eq!(lines.len(), MAX_LINES_PER_CALL as usize);
        assert!(lines[0].len() <= MAX_MESSAGE_BYTES + "l info ".len());
        assert_eq!(dropped.load(Ordering::Relaxed), 101 - MAX_LINES_PER_CALL as u64);
        drop(lines);
        ctx.begin_call();
        ctx.line(LogLevel::Warn, "again");
        assert_eq!(sink.0.lock().last().unwrap(), "l warn again");
    }
}
