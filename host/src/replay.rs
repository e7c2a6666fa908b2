//! `tokenwatch replay`: newline-delimited JSON events through the listeners, one outcome per
//! event and listener, guest log lines in between.
//!
//! Text output is for a terminal: every guest- or input-controlled string in it (log
//! messages, trap messages, listener names, bad-line reasons) has its control characters
//! escaped, so none can start a fake row, rewrite one or recolour the terminal. JSON output
//! is escaped by serde.

use crate::event::{EventLines, Ingress};
use crate::host::Host;
use crate::imports::log::{LogLevel, LogSink};
use crate::listener::{Delivery, Outcome};
use crate::text::{escape_control, for_humans};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::io::{self, BufRead, Write};
use std::sync::Arc;

/// Longest bad-line reason printed in text mode, in bytes; the rest is cut (a reason can
/// quote a field name of the line, and a line can be up to a megabyte).
pub const MAX_REASON_BYTES: usize = 1024;

/// Collects guest log lines so replay can print them with the event they belong to.
#[derive(Default)]
pub struct BufferedLog(Mutex<Vec<(Arc<str>, LogLevel, String)>>);

impl LogSink for BufferedLog {
    fn log(&self, listener: &str, level: LogLevel, message: &str) {
        self.0.lock().push((listener.into(), level, message.to_owned()));
    }
}

impl BufferedLog {
    fn drain(&self) -> Vec<(Arc<str>, LogLevel, String)> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// What a replay went through.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub events: u64,
    pub malformed: u64,
    pub traps: u64,
}

/// Replay `input` through `host`, writing records to `out` (and, in text mode, malformed
/// line reports to `err`). `logs` must be the sink the host was built with.
pub fn replay(
    host: &Host,
    logs: &BufferedLog,
    input: impl BufRead,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<ReplaySummary> {
    let mut summary = ReplaySummary::default();
    let mut printer = Printer { json, out };
    printer.logs(None, logs.drain())?;
    let mut lines = EventLines::new(input);
    while let Some((index, ingress)) = lines.next_event()? {
        let event = match ingress {
            Ingress::Event(event) => Arc::new(event),
            Ingress::Blank => continue,
            Ingress::Bad(e) => {
                summary.malformed += 1;
                if json {
                    // Escaped by JSON; cut like the text report (a reason can quote the line).
                    let error = crate::text::truncate(&e.0, MAX_REASON_BYTES);
                    printer.record(json!({"type": "error", "event": index, "line": index + 1, "error": error}))?;
                } else {
                    // Flush what came before, so a terminal shows the report in its place.
                    printer.out.flush()?;
                    writeln!(err, "line {}: skipped: {}", index + 1, for_humans(&e.0, MAX_REASON_BYTES))?;
                }
                continue;
            }
        };
        summary.events += 1;
        let deliveries = host.dispatch(&event);
        printer.logs(Some(index), logs.drain())?;
        for d in &deliveries {
            if matches!(d.outcome, Outcome::Trap { .. }) {
                summary.traps += 1;
            }
            printer.delivery(index, event.kind.as_str(), d)?;
        }
    }
    host.shutdown();
    printer.logs(None, logs.drain())?;
    Ok(summary)
}

struct Printer<'a, W: Write> {
    json: bool,
    out: &'a mut W,
}

impl<W: Write> Printer<'_, W> {
    fn record(&mut self, value: Value) -> io::Result<()> {
        writeln!(self.out, "{value}")
    }

    fn logs(&mut self, event: Option<usize>, lines: Vec<(Arc<str>, LogLevel, String)>) -> io::Result<()> {
        for (listener, level, message) in lines {
            if self.json {
                self.record(json!({"type": "log", "event": event, "listener": &*listener, "level": level.as_str(), "message": message}))?;
            } else {
                let at = event.map_or_else(|| "  ".to_owned(), |_| "   ".to_owned());
                let (listener, message) = (escape_control(&listener), escape_control(&message));
                writeln!(self.out, "{at} {:5} {listener}: {message}", level.as_str())?;
            }
        }
        Ok(())
    }

    fn delivery(&mut self, event: usize, kind: &str, d: &Delivery) -> io::Result<()> {
        if self.json {
            let mut record = json!({
                "type": "outcome", "event": event, "kind": kind, "listener": &*d.listener,
                "outcome": d.outcome.as_str(), "fuel": d.fuel, "micros": d.micros,
            });
            if let Outcome::Trap { cause, message } = &d.outcome {
                record["trap"] = json!(cause.as_str());
                record["message"] = json!(message);
            }
            return self.record(record);
        }
        let detail = match &d.outcome {
            Outcome::Trap { cause, message } => format!(" {cause}: {}", escape_control(message)),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "#{event} {kind:12} {:16} {:11} fuel={:<8} {}µs{detail}",
            escape_control(&d.listener),
            d.outcome.as_str(),
            d.fuel,
            d.micros
        )
    }
}
