//! `tokenwatch replay`: newline-delimited JSON events through the listeners, one outcome per
//! event and listener, each followed by the log lines that listener wrote for that event;
//! listeners' lifecycle (a failed `init`, `is-enabled` false, quarantine) where it happens.
//!
//! Text output is for a terminal: every guest- or input-controlled string in it (log
//! messages, trap messages, listener names, lifecycle reasons, bad-line reasons) has its
//! control characters escaped, so none can start a fake row, rewrite one or recolour the
//! terminal. JSON output is escaped by serde.

use crate::event::{EventLines, Ingress};
use crate::dispatch::host::Host;
use crate::imports::log::{LogLevel, LogSink};
use crate::runtime::listener::{Delivery, LoadError, Outcome};
use crate::outbox::SinkStatus;
use crate::runtime::status::{Health, ListenerStatus};
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

/// How replay writes what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Outcome rows, each followed by its listener's log lines, on the output; bad lines,
    /// lifecycle changes and the summary on the error stream.
    Text,
    /// Text, only problems: trap, busy and quarantined rows, rows whose listener logged a
    /// warning or an error (with those lines only), lifecycle problems, bad lines, the
    /// summary.
    Quiet,
    /// One JSON record per line on the output, and nothing on the error stream.
    Json,
}

/// What a replay went through.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub events: u64,
    pub malformed: u64,
    pub traps: u64,
    /// Every listener's health at the end of the input, before shutdown.
    pub listeners: Vec<(String, Health)>,
}

impl ReplaySummary {
    /// The listeners that are not active, with their state.
    fn inactive(&self) -> impl Iterator<Item = &(String, Health)> {
        self.listeners.iter().filter(|(_, h)| *h != Health::Active)
    }
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The events could not be read (the caller names the input).
    #[error("{0}")]
    Input(io::Error),
    /// The output or the error stream could not be written. A closed pipe (`| head`) is
    /// [`ReplayError::is_closed_output`].
    #[error("cannot write the output: {0}")]
    Output(io::Error),
}

impl ReplayError {
    /// The reader of the output went away: not a failure of the replay.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, ReplayError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Replay `input` through `host`, writing records to `out` (and, in text modes, bad lines,
/// lifecycle changes and the summary to `err`). `logs` must be the sink the host was built
/// with. Shuts the host down at the end.
pub fn replay(
    host: &Host,
    logs: &BufferedLog,
    input: impl BufRead,
    format: Format,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<ReplaySummary, ReplayError> {
    let mut summary = ReplaySummary::default();
    let mut p = Printer { format, out, err, known: Vec::new() };
    // After the build: what `init` logged, and where each listener stands.
    let statuses = host.status();
    p.lifecycle_logs("init", logs.drain())?;
    for s in &statuses {
        p.health(None, s, None)?;
        if p.format != Format::Json {
            for w in &s.warnings {
                p.note(format_args!("listener {}: warning: {}", escape_control(&s.name), escape_control(w)))?;
            }
        }
    }
    p.known = statuses.into_iter().map(|s| s.health).collect();
    let mut lines = EventLines::new(input);
    while let Some((index, ingress)) = lines.next_event().map_err(ReplayError::Input)? {
        let event = match ingress {
            Ingress::Event(event) => Arc::new(event),
            Ingress::Blank => continue,
            Ingress::Bad(e) => {
                summary.malformed += 1;
                p.bad_line(index, &e.0)?;
                continue;
            }
        };
        summary.events += 1;
        let deliveries = host.dispatch(&event);
        let mut logged = logs.drain();
        for d in &deliveries {
            if matches!(d.outcome, Outcome::Trap { .. }) {
                summary.traps += 1;
            }
            let (mine, rest): (Vec<_>, Vec<_>) = logged.into_iter().partition(|(l, _, _)| *l == d.listener);
            logged = rest;
            p.delivery(index, event.kind.as_str(), d, mine)?;
        }
        // Lines of no listener in the deliveries (none are expected): still shown.
        let logged = p.shown(logged);
        p.logs(Some(index), logged)?;
        if p.may_have_changed(&deliveries) {
            for (i, s) in host.status().iter().enumerate() {
                p.health(Some(index), s, p.known.get(i).cloned())?;
                if let Some(known) = p.known.get_mut(i) {
                    *known = s.health.clone();
                }
            }
        }
    }
    summary.listeners = host.status().into_iter().map(|s| (s.name, s.health)).collect();
    host.shutdown();
    p.lifecycle_logs("shutdown", logs.drain())?;
    p.sinks(&host.sink_status())?;
    p.summary(&summary)?;
    Ok(summary)
}

/// In `--json` mode, the record for a listener the host refused to load (`Host::build`
/// failed with `HostError::Load`).
pub fn load_failed_record(error: &LoadError) -> Value {
    json!({
        "type": "listener", "event": null, "listener": error.name, "path": error.path,
        "state": "load-failed", "reason": error.message,
    })
}

/// A health's state word (as serialised: `active`, `init-failed`, ...) and its reason.
pub(crate) fn state(health: &Health) -> (&'static str, Option<&str>) {
    match health {
        Health::Starting => ("starting", None),
        Health::Active => ("active", None),
        Health::Disabled(r) => ("disabled", Some(r)),
        Health::InitFailed(r) => ("init-failed", Some(r)),
        Health::InitTrapped(r) => ("init-trapped", Some(r)),
        Health::Quarantined(r) => ("quarantined", Some(r)),
        Health::LoadFailed(r) => ("load-failed", Some(r)),
        Health::ShutDown => ("shut-down", None),
    }
}

/// A state worth a line even in `--quiet`: the listener gets no events for a reason it did
/// not choose, or could not start.
fn is_problem(s: &ListenerStatus) -> bool {
    matches!(s.health, Health::InitFailed(_) | Health::InitTrapped(_) | Health::Quarantined(_) | Health::LoadFailed(_))
}

fn is_warning(level: LogLevel) -> bool {
    matches!(level, LogLevel::Warn | LogLevel::Error)
}

struct Printer<'a, O: Write, E: Write> {
    format: Format,
    out: &'a mut O,
    err: &'a mut E,
    /// Each listener's health as last reported, in configuration order.
    known: Vec<Health>,
}

impl<O: Write, E: Write> Printer<'_, O, E> {
    fn record(&mut self, value: Value) -> Result<(), ReplayError> {
        writeln!(self.out, "{value}").map_err(ReplayError::Output)
    }

    /// A line on the error stream, in its place: the output before it is flushed first.
    fn note(&mut self, line: std::fmt::Arguments<'_>) -> Result<(), ReplayError> {
        self.out.flush().map_err(ReplayError::Output)?;
        writeln!(self.err, "{line}").map_err(ReplayError::Output)
    }

    fn bad_line(&mut self, index: usize, reason: &str) -> Result<(), ReplayError> {
        if self.format == Format::Json {
            // Escaped by JSON; cut like the text report (a reason can quote the line).
            let error = crate::text::truncate(reason, MAX_REASON_BYTES);
            self.record(json!({"type": "error", "event": index, "line": index + 1, "error": error}))
        } else {
            self.note(format_args!("line {}: skipped: {}", index + 1, for_humans(reason, MAX_REASON_BYTES)))
        }
    }

    /// Whether a listener's health may differ from what was last reported: a trap or a busy
    /// call, a listener reported active or starting that got no event, or one reported
    /// starting that got one. Steady states (ok, skipped, disabled or quarantined as known)
    /// cost no status call.
    fn may_have_changed(&self, deliveries: &[Delivery]) -> bool {
        deliveries.iter().enumerate().any(|(i, d)| {
            let known = self.known.get(i);
            match d.outcome {
                Outcome::Trap { .. } | Outcome::Busy => true,
                Outcome::Disabled | Outcome::Quarantined => matches!(known, Some(Health::Active | Health::Starting) | None),
                Outcome::Ok => !matches!(known, Some(Health::Active)),
                Outcome::Skipped | Outcome::Queued => false,
                Outcome::QueueFull => true,
            }
        })
    }

    /// Report a listener's health: at the start (`event` None, every listener in JSON, the
    /// ones not active in text) and after an event when it changed.
    fn health(&mut self, event: Option<usize>, s: &ListenerStatus, before: Option<Health>) -> Result<(), ReplayError> {
        if event.is_some() && before.as_ref() == Some(&s.health) {
            return Ok(());
        }
        let (word, reason) = state(&s.health);
        match self.format {
            Format::Json => {
                let mut record = json!({"type": "listener", "event": event, "listener": s.name, "state": word});
                if let Some(r) = reason {
                    record["reason"] = json!(r);
                }
                if event.is_none() {
                    // At load: which kinds of token this listener is called for, the
                    // contract it was built against, and what is wrong with its config.
                    record["handles"] = json!(s.handles.iter().map(|k| k.as_str()).collect::<Vec<_>>());
                    record["contract"] = json!(s.contract);
                    if !s.warnings.is_empty() {
                        record["warnings"] = json!(s.warnings);
                    }
                }
                self.record(record)
            }
            Format::Quiet if !is_problem(s) => Ok(()),
            Format::Text if event.is_none() && s.health == Health::Active => Ok(()),
            Format::Text | Format::Quiet => {
                let name = escape_control(&s.name);
                let when = event.map(|e| format!(" after event #{e}")).unwrap_or_default();
                match reason {
                    Some(r) => self.note(format_args!("listener {name}: {word}{when}: {}", escape_control(r))),
                    None => self.note(format_args!("listener {name}: {word}{when}")),
                }
            }
        }
    }

    /// Log lines outside any event (`init` at load, `shutdown` at the end): in text, each
    /// listener's lines under a `<phase> <listener>` row.
    fn lifecycle_logs(&mut self, phase: &str, lines: Vec<(Arc<str>, LogLevel, String)>) -> Result<(), ReplayError> {
        if self.format == Format::Json {
            for (listener, level, message) in lines {
                self.record(json!({"type": "log", "event": null, "phase": phase, "listener": &*listener, "level": level.as_str(), "message": message}))?;
            }
            return Ok(());
        }
        let mut lines = lines;
        while let Some((first, _, _)) = lines.first() {
            let listener = first.clone();
            let (mine, rest): (Vec<_>, Vec<_>) = lines.into_iter().partition(|(l, _, _)| *l == listener);
            lines = rest;
            let mine = self.shown(mine);
            if !mine.is_empty() {
                writeln!(self.out, "{phase:15} {}", escape_control(&listener)).map_err(ReplayError::Output)?;
                self.logs(None, mine)?;
            }
        }
        Ok(())
    }

    /// The lines this format shows: all, or in `--quiet` warnings and errors.
    fn shown(&self, lines: Vec<(Arc<str>, LogLevel, String)>) -> Vec<(Arc<str>, LogLevel, String)> {
        match self.format {
            Format::Quiet => lines.into_iter().filter(|(_, level, _)| is_warning(*level)).collect(),
            _ => lines,
        }
    }

    fn logs(&mut self, event: Option<usize>, lines: Vec<(Arc<str>, LogLevel, String)>) -> Result<(), ReplayError> {
        for (listener, level, message) in lines {
            if self.format == Format::Json {
                self.record(json!({"type": "log", "event": event, "listener": &*listener, "level": level.as_str(), "message": message}))?;
            } else {
                let (listener, message) = (escape_control(&listener), escape_control(&message));
                writeln!(self.out, "    {:5} {listener}: {message}", level.as_str()).map_err(ReplayError::Output)?;
            }
        }
        Ok(())
    }

    /// One listener's outcome for an event, then the lines it logged during it.
    fn delivery(&mut self, event: usize, kind: &str, d: &Delivery, lines: Vec<(Arc<str>, LogLevel, String)>) -> Result<(), ReplayError> {
        if self.format == Format::Json {
            let mut record = json!({
                "type": "outcome", "event": event, "kind": kind, "listener": &*d.listener,
                "outcome": d.outcome.as_str(), "fuel": d.fuel, "micros": d.micros,
            });
            if let Outcome::Trap { cause, message } = &d.outcome {
                record["trap"] = json!(cause.as_str());
                record["message"] = json!(message);
                // Stopped between two guest calls: `fuel` is what was written back, a floor.
                record["fuel_exact"] = json!(!d.fuel_is_lower_bound());
            }
            self.record(record)?;
            return self.logs(Some(event), lines);
        }
        let lines = self.shown(lines);
        let problem = matches!(d.outcome, Outcome::Trap { .. } | Outcome::Busy | Outcome::Quarantined);
        if self.format == Format::Quiet && !problem && lines.is_empty() {
            return Ok(());
        }
        let detail = match &d.outcome {
            Outcome::Trap { cause, message } => format!(" {cause}: {}", escape_control(message)),
            _ => String::new(),
        };
        // `fuel>=N`: the call was stopped between two guest calls, so N is a lower bound.
        let fuel = if d.fuel_is_lower_bound() { format!(">={}", d.fuel) } else { format!("={}", d.fuel) };
        writeln!(
            self.out,
            "#{event} {kind:12} {:16} {:11} fuel{:<9} {}µs{detail}",
            escape_control(&d.listener),
            d.outcome.as_str(),
            fuel,
            d.micros
        )
        .map_err(ReplayError::Output)?;
        self.logs(Some(event), lines)
    }

    /// Per-sink totals after shutdown (the outbox has delivered or spooled everything): a
    /// `sinks` record in JSON, a line per sink on the error stream in text (in `--quiet`,
    /// only for sinks that did not deliver everything).
    fn sinks(&mut self, sinks: &[SinkStatus]) -> Result<(), ReplayError> {
        if sinks.is_empty() {
            return Ok(());
        }
        if self.format == Format::Json {
            return self.record(json!({"type": "sinks", "sinks": sinks}));
        }
        for s in sinks {
            let dropped: u64 = s.dropped.iter().map(|(_, n)| n).sum();
            if self.format == Format::Quiet && s.delivered == s.enqueued && dropped == 0 {
                continue;
            }
            let reasons: Vec<String> = s.dropped.iter().filter(|(_, n)| *n > 0).map(|(r, n)| format!("{n} {r}")).collect();
            let dropped = if reasons.is_empty() { "0 dropped".to_owned() } else { format!("dropped {}", reasons.join(", ")) };
            self.note(format_args!(
                "sink {} ({} {}): {} enqueued, {} delivered, {} retried, {} spooled, {} dead-lettered, {dropped}; {} left in the spool",
                escape_control(&s.name),
                s.kind,
                escape_control(&s.target),
                s.enqueued,
                s.delivered,
                s.retried,
                s.spooled,
                s.dead_lettered,
                s.spool_depth,
            ))?;
        }
        Ok(())
    }

    /// The closing summary: a record in JSON, a line on the error stream in text.
    fn summary(&mut self, s: &ReplaySummary) -> Result<(), ReplayError> {
        if self.format == Format::Json {
            let listeners: Vec<Value> = s
                .listeners
                .iter()
                .map(|(name, health)| {
                    let (word, reason) = state(health);
                    let mut l = json!({"listener": name, "state": word});
                    if let Some(r) = reason {
                        l["reason"] = json!(r);
                    }
                    l
                })
                .collect();
            return self.record(json!({
                "type": "summary", "events": s.events, "malformed": s.malformed, "traps": s.traps, "listeners": listeners,
            }));
        }
        let mut line = format!("{} events, {} malformed lines skipped, {} traps", s.events, s.malformed, s.traps);
        let inactive: Vec<String> = s
            .inactive()
            .map(|(name, health)| format!("{} ({})", escape_control(name), state(health).0))
            .collect();
        if !inactive.is_empty() {
            let n = inactive.len();
            line.push_str(&format!("; {n} listener{} not active: {}", if n == 1 { "" } else { "s" }, inactive.join(", ")));
        }
        self.note(format_args!("{line}"))
    }
}
