//! `tokenwatch:listener/log`: guest log lines, capped per call, queued, and handed to the
//! host's `LogSink` tagged with the listener's name once the call is over.

use crate::runtime::bindings::log::Level;
use crate::runtime::state::State;
use crate::text::truncate;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use wasmtime::component::{Linker, WasmStr};
use wasmtime::StoreContextMut;

/// Longest message kept, in bytes; longer ones are cut at a character boundary. Enough for
/// a claims set or a SET; a guest cannot flood the host's log with megabytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most of an `error` line a trap record quotes.
pub const MAX_TRAP_NOTE_BYTES: usize = 1024;
/// Lines kept per call; the rest are counted in `logs_dropped`. A listener logs a few lines
/// per event; 64 leaves room for a debug dump without letting a loop flood the log.
pub const MAX_LINES_PER_CALL: u32 = 64;
/// Lines a listener may have waiting for a slow sink; the rest are counted in `logs_dropped`.
/// A batch of 64 events at 64 lines each fits; a sink slower than the guest loses lines
/// rather than letting the queue grow without bound.
pub const MAX_QUEUED_LINES: usize = 4096;

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

/// The default sink: `tracing` events with the listener's name as a field. The message has
/// its control characters escaped (`\n`, `\u{1b}`, ...): one guest line is one log line, and
/// it cannot forge host lines or drive the terminal the log is written to.
pub struct TracingSink;

impl LogSink for TracingSink {
    fn log(&self, listener: &str, level: LogLevel, message: &str) {
        // `listener` is recorded with `Debug`, which quotes and escapes it.
        let message = crate::text::escape_control(message);
        match level {
            LogLevel::Trace => tracing::trace!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Info => tracing::info!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "tokenwatch::guest", listener, "{message}"),
            LogLevel::Error => tracing::error!(target: "tokenwatch::guest", listener, "{message}"),
        }
    }
}

/// A listener's guest lines on their way to the sink. A store queues its lines during a
/// call; [`LogQueue::flush`] hands them to the sink once the listener's lock is released, so
/// a slow sink is never charged to the guest's deadline, and a sink may call back into the
/// host (`status`, even `dispatch`) without waiting on the listener it is logging for.
pub struct LogQueue {
    listener: Arc<str>,
    sink: Arc<dyn LogSink>,
    dropped: Arc<AtomicU64>,
    queued: Mutex<Vec<(LogLevel, String)>>,
    /// Held while lines go to the sink, so they leave in the order they were logged.
    emitting: Mutex<()>,
}

impl LogQueue {
    pub fn new(listener: Arc<str>, sink: Arc<dyn LogSink>, dropped: Arc<AtomicU64>) -> Self {
        LogQueue {
            listener,
            sink,
            dropped,
            queued: Mutex::new(Vec::new()),
            emitting: Mutex::new(()),
        }
    }

    fn push(&self, level: LogLevel, message: String) {
        let mut queued = self.queued.lock();
        if queued.len() >= MAX_QUEUED_LINES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queued.push((level, message));
    }

    /// Hand the queued lines to the sink, in order. Call with no listener lock held. When
    /// another thread is already emitting, it takes these lines too and this returns at once
    /// (so a sink that logs through the same listener cannot deadlock).
    pub fn flush(&self) {
        loop {
            let Some(_emitting) = self.emitting.try_lock() else { return };
            loop {
                let lines = std::mem::take(&mut *self.queued.lock());
                if lines.is_empty() {
                    break;
                }
                for (level, message) in lines {
                    self.sink.log(&self.listener, level, &message);
                }
            }
            drop(_emitting);
            // Lines queued while the last batch was emitted, by a thread that found the
            // emitting lock taken, are this thread's to hand over.
            if self.queued.lock().is_empty() {
                return;
            }
        }
    }
}

/// The log capability of one listener's store.
pub struct LogCtx {
    queue: Arc<LogQueue>,
    lines_this_call: u32,
    /// The last line logged at `error` in this call, kept for the trap record (an SDK logs a
    /// panic's message there just before the trap).
    last_error: Option<String>,
}

impl LogCtx {
    pub fn new(queue: Arc<LogQueue>) -> Self {
        LogCtx { queue, lines_this_call: 0, last_error: None }
    }

    pub(crate) fn begin_call(&mut self) {
        self.lines_this_call = 0;
        self.last_error = None;
    }

    /// The last line logged at `error` in the current call, if any.
    pub(crate) fn take_last_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    /// Past the per-call cap: the line is counted as dropped.
    fn over_cap(&mut self) -> bool {
        if self.lines_this_call >= MAX_LINES_PER_CALL {
            self.queue.dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Queue one line, applying the caps.
    pub fn line(&mut self, level: LogLevel, mut message: String) {
        if self.over_cap() {
            return;
        }
        self.lines_this_call += 1;
        message.truncate(truncate(&message, MAX_MESSAGE_BYTES).len());
        if level == LogLevel::Error {
            self.last_error = Some(truncate(&message, MAX_TRAP_NOTE_BYTES).to_owned());
        }
        self.queue.push(level, message);
    }
}

/// Link `log` with `func_wrap` on the store rather than through the bindgen `Host` trait,
/// so the message is read in place, copied only as far as it is kept, and paid for in fuel.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    for version in super::VERSIONS {
        super::instance(linker, "log", version)?.func_wrap("log", log)?;
    }
    Ok(())
}

fn log(mut store: StoreContextMut<'_, State>, (level, message): (Level, WasmStr)) -> wasmtime::Result<()> {
    if store.data_mut().log.over_cap() {
        return Ok(()); // counted as dropped; the message is never read
    }
    let kept = super::read_charged(&mut store, &message, |_, text| Ok(truncate(text, MAX_MESSAGE_BYTES).to_owned()))?;
    store.data_mut().log.line(level.into(), kept);
    Ok(())
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
    fn the_tracing_sink_writes_one_escaped_line_per_guest_line() {
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            TracingSink.log("evil\nname", LogLevel::Error, "a\nWARN tokenwatch: forged\r\x1b[2K\x1b[31mred\u{202e}");
            TracingSink.log("ok", LogLevel::Info, "plain");
        });
        let text = String::from_utf8(captured.0.lock().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains(['\x1b', '\r', '\u{202e}']), "{text:?}");
        assert!(text.contains(r"a\nWARN tokenwatch: forged\r\u{1b}[2K\u{1b}[31mred\u{202e}"), "{text}");
        assert!(text.contains(r#"listener="evil\nname""#), "{text}");
    }

    #[test]
    fn caps_size_and_count_per_call() {
        let sink = Arc::new(Collect::default());
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = Arc::new(LogQueue::new("l".into(), sink.clone(), dropped.clone()));
        let mut ctx = LogCtx::new(queue.clone());
        ctx.line(LogLevel::Info, "é".repeat(MAX_MESSAGE_BYTES));
        for _ in 0..100 {
            ctx.line(LogLevel::Debug, "x".into());
        }
        assert!(sink.0.lock().is_empty(), "lines wait for the flush, after the call");
        queue.flush();
        let lines = sink.0.lock();
        assert_eq!(lines.len(), MAX_LINES_PER_CALL as usize);
        assert!(lines[0].len() <= MAX_MESSAGE_BYTES + "l info ".len());
        assert_eq!(dropped.load(Ordering::Relaxed), 101 - MAX_LINES_PER_CALL as u64);
        drop(lines);
        ctx.begin_call();
        ctx.line(LogLevel::Warn, "again".into());
        queue.flush();
        assert_eq!(sink.0.lock().last().unwrap(), "l warn again");
    }

    #[test]
    fn a_sink_slower_than_the_guest_loses_counted_lines_not_memory() {
        let sink = Arc::new(Collect::default());
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = Arc::new(LogQueue::new("l".into(), sink.clone(), dropped.clone()));
        let mut ctx = LogCtx::new(queue.clone());
        for _ in 0..MAX_QUEUED_LINES / MAX_LINES_PER_CALL as usize + 1 {
            ctx.begin_call();
            for _ in 0..MAX_LINES_PER_CALL {
                ctx.line(LogLevel::Info, "x".into());
            }
        }
        queue.flush();
        assert_eq!(sink.0.lock().len(), MAX_QUEUED_LINES);
        assert_eq!(dropped.load(Ordering::Relaxed), MAX_LINES_PER_CALL as u64);
    }

    #[test]
    fn a_sink_that_logs_through_its_own_listener_neither_deadlocks_nor_loses_the_line() {
        struct Echo(Mutex<Vec<String>>, parking_lot::Mutex<Option<Arc<LogQueue>>>);
        impl LogSink for Echo {
            fn log(&self, _: &str, _: LogLevel, message: &str) {
                self.0.lock().push(message.to_owned());
                if message == "first" {
                    let queue = self.1.lock().clone().unwrap();
                    queue.push(LogLevel::Info, "echo".into());
                    queue.flush(); // the outer flush is emitting: it takes this line
                }
            }
        }
        let sink = Arc::new(Echo(Mutex::new(Vec::new()), Mutex::new(None)));
        let queue = Arc::new(LogQueue::new("l".into(), sink.clone(), Arc::new(AtomicU64::new(0))));
        *sink.1.lock() = Some(queue.clone());
        queue.push(LogLevel::Info, "first".into());
        queue.flush();
        assert_eq!(*sink.0.lock(), ["first", "echo"]);
    }
}
