//! `tokenwatch conformance`: the sandbox conformance suite, shipped in the binary.
//!
//! Every case is a hostile listener written in WAT (`cases/*.wat`, embedded), turned into a
//! component at run time, and loaded beside a **canary** into a host built from the operator's
//! configuration. The runner sends events, then checks the hostile listener was contained as
//! the case expects (`cases.rs`) and that the canary received every event, in order, with
//! claims byte-identical to what was sent. A case also fails when the host panics, hangs past
//! the case's time bound, or grows resident memory past the case's bound.

mod cases;

use crate::config::{Config, ListenerConfig, SinkConfig};
use crate::event::{Claims, EventKind, TokenEvent};
use crate::imports::log::{LogLevel, LogSink};
use crate::runtime::listener::Outcome;
use crate::runtime::status::{Health, ListenerStatus};
use crate::{Host, HostError};
use anyhow::Context;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::Case;

/// The name the hostile listener of every case is loaded under.
pub(crate) const HOSTILE: &str = "hostile";
/// The name of the canary listener.
pub(crate) const CANARY: &str = "canary";
/// The sink every case's host has, granted to the hostile listener (a file in the scratch
/// directory; `publish` cases name it). Its message cap is fixed so the oversized case knows it.
pub(crate) const SINK: &str = "conformance";
pub(crate) const SINK_MAX_MESSAGE_BYTES: u32 = 65_536;
/// The audience granted to the hostile listener's SETs.
pub(crate) const AUDIENCE: &str = "https://receiver.conformance.example";

/// The embedded case files.
static CASE_FILES: include_dir::Dir<'static> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/src/conformance/cases");

/// What `tokenwatch conformance` was asked.
#[derive(Debug, Default)]
pub struct Options {
    /// The operator's config: its `[limits]`, `[signing]`, sinks, outbox and dispatch
    /// settings (its listeners are not loaded).
    pub config: Option<PathBuf>,
    /// Only the cases whose name contains this.
    pub filter: Option<String>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: &'static str,
    pub attacks: &'static str,
    pub expected: &'static str,
    pub observed: String,
    pub passed: bool,
    pub time_ms: u64,
}

/// Every case's result, in table order.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: Vec<CaseResult>,
    /// Whether SETs were signed with a key generated for this run (no `[signing]` given).
    pub ephemeral_key: bool,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    pub fn to_json(&self) -> Value {
        let cases: Vec<Value> = self
            .cases
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "attacks": c.attacks,
                    "status": if c.passed { "pass" } else { "fail" },
                    "expected": c.expected,
                    "observed": c.observed,
                    "time_ms": c.time_ms,
                })
            })
            .collect();
        json!({"cases": cases, "passed": self.passed(), "failed": self.failed()})
    }
}

/// The report as a table: one row per case, then the summary line.
pub fn render(report: &Report) -> String {
    let headers = ["case", "attacks", "expected", "observed", "result", "time"];
    let rows: Vec<[String; 6]> = report
        .cases
        .iter()
        .map(|c| {
            [
                c.name.to_owned(),
                c.attacks.to_owned(),
                c.expected.to_owned(),
                c.observed.clone(),
                if c.passed { "pass" } else { "FAIL" }.to_owned(),
                format!("{} ms", c.time_ms),
            ]
        })
        .collect();
    // The long columns (attacks, expected, observed) are capped so a row stays one line.
    const CAPS: [usize; 6] = [usize::MAX, 44, 44, 60, usize::MAX, usize::MAX];
    let cell = |i: usize, s: &str| -> String {
        if s.chars().count() > CAPS[i] {
            let cut: String = s.chars().take(CAPS[i] - 1).collect();
            format!("{cut}…")
        } else {
            s.to_owned()
        }
    };
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (i, v) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell(i, v).chars().count());
        }
    }
    let line = |values: [String; 6]| {
        let padded: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let v = cell(i, v);
                let pad = widths[i].saturating_sub(v.chars().count());
                format!("{v}{}", " ".repeat(pad))
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.map(str::to_owned));
    for row in rows {
        out.push_str(&line(row));
    }
    for c in report.cases.iter().filter(|c| !c.passed) {
        out.push_str(&format!("\nFAIL {}: expected {}; observed {}\n", c.name, c.expected, c.observed));
    }
    let total_ms: u64 = report.cases.iter().map(|c| c.time_ms).sum();
    out.push_str(&format!(
        "\n{} cases: {} passed, {} failed ({:.1} s){}\n",
        report.cases.len(),
        report.passed(),
        report.failed(),
        total_ms as f64 / 1000.0,
        if report.ephemeral_key { "; SETs signed with a key generated for this run (no [signing] given)" } else { "" },
    ));
    out
}

/// Run the suite (the cases `filter` selects) against `opts.config`.
pub fn run(opts: &Options) -> anyhow::Result<Report> {
    let mut base = match &opts.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    let scratch = tempfile::Builder::new().prefix("tokenwatch-conformance-").tempdir().context("cannot create a scratch directory")?;
    let ephemeral_key = base.signing.is_none();
    if ephemeral_key {
        let key = crate::signing::key::generate(crate::signing::Alg::ES256, "conformance");
        let path = scratch.path().join("signing-key.json");
        std::fs::write(&path, serde_json::to_vec(&key.private_jwks())?).context("cannot write the run's signing key")?;
        base.signing = Some(crate::signing::SigningConfig::new(path, "https://issuer.conformance.example"));
    }
    let canary = component(CASE_FILES.get_file("canary.wat").and_then(|f| f.contents_utf8()).context("the canary is missing")?)
        .map_err(|e| anyhow::anyhow!("the canary does not build: {e}"))?;
    let selected: Vec<&Case> = cases::CASES
        .iter()
        .filter(|c| opts.filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("no case name contains {:?}", opts.filter.as_deref().unwrap_or_default());
    }
    let mut report = Report { cases: Vec::new(), ephemeral_key };
    for case in selected {
        let dir = scratch.path().join(case.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        report.cases.push(run_case(case, &base, &canary, &dir));
    }
    Ok(report)
}

/// A WAT case file as component bytes: a whole component or core module as written, or a
/// fragment (`;;@ hole` sections) spliced into `cases/skeleton.wat`.
pub(crate) fn component(text: &str) -> Result<Vec<u8>, String> {
    let text = match text.lines().any(|l| l.starts_with(";;@ ")) {
        true => splice(text)?,
        false => text.to_owned(),
    };
    wat::parse_str(&text).map_err(|e| format!("{e}"))
}

/// The holes of the skeleton, with what an absent section leaves in them.
const HOLES: [(&str, &str); 13] = [
    ("imports", ""),
    ("memory", "(memory (export \"memory\") 1)"),
    ("before", ""),
    ("core_imports", ""),
    ("items", ""),
    ("init", ""),
    ("is_enabled", ""),
    ("shutdown", ""),
    ("handler", ""),
    ("with", ""),
    ("version", "0.2.0"),
    ("data", ""),
    ("event_type", "(list u8)"),
];

fn splice(fragment: &str) -> Result<String, String> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in fragment.lines() {
        match line.strip_prefix(";;@ ") {
            Some(name) => {
                let name = name.trim();
                if !HOLES.iter().any(|(h, _)| *h == name) {
                    return Err(format!("unknown section `;;@ {name}`"));
                }
                sections.push((name.to_owned(), String::new()));
            }
            None => {
                if let Some((_, text)) = sections.last_mut() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    let skeleton = CASE_FILES.get_file("skeleton.wat").and_then(|f| f.contents_utf8()).ok_or("the skeleton is missing")?;
    let mut text = skeleton.to_owned();
    for (hole, default) in HOLES {
        let filled = sections.iter().find(|(name, _)| name == hole).map_or(default, |(_, t)| t.trim_end());
        text = text.replace(&format!("{{{{{hole}}}}}"), filled);
    }
    Ok(text)
}

/// What a case's run showed; the case's check reads it.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    /// Why the host refused to load the hostile listener (at build), if it did.
    pub load_error: Option<String>,
    /// Why a running host refused it too (`load_listener`), when the build refused it.
    pub reload_error: Option<String>,
    /// The hostile listener's outcome for each event.
    pub outcomes: Vec<Outcome>,
    /// Its status after the events, and after shutdown.
    pub status: Option<ListenerStatus>,
    pub status_after_shutdown: Option<ListenerStatus>,
    /// Its log lines, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// After `reload_fixed`: the fixed version's health and outcomes.
    pub reloaded: Option<(Health, Vec<Outcome>)>,
    /// What the canary logged and the claims that were sent, in order.
    pub canary_logs: Vec<String>,
    pub sent: Vec<String>,
    /// The canary's outcome for each event.
    pub canary_outcomes: Vec<Outcome>,
    /// How long `shutdown` took.
    pub shutdown_ms: u64,
}

impl Observation {
    /// A one-line account of what the hostile listener met.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.load_error {
            return format!("refused at load: {}", crate::text::for_humans(e, 160));
        }
        let mut parts = Vec::new();
        let mut outcomes: Vec<String> = self.outcomes.iter().map(outcome_word).collect();
        outcomes.dedup();
        if !outcomes.is_empty() {
            parts.push(outcomes.join(", "));
        }
        if let Some(s) = &self.status {
            parts.push(format!("health {}", health_word(&s.health)));
        }
        if let Some((health, outcomes)) = &self.reloaded {
            let mut words: Vec<String> = outcomes.iter().map(outcome_word).collect();
            words.dedup();
            parts.push(format!("reloaded: {} then {}", health_word(health), words.join(", ")));
        }
        parts.join("; ")
    }

    /// The hostile listener's status after the events; an error when it has none.
    pub fn status(&self) -> Result<&ListenerStatus, String> {
        self.status.as_ref().ok_or_else(|| "no status for the hostile listener".to_owned())
    }

    /// The hostile listener's log messages.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        self.logs.iter().map(|(_, m)| m.as_str())
    }
}

fn outcome_word(o: &Outcome) -> String {
    match o {
        Outcome::Trap { cause, .. } => format!("trap {}", cause.as_str()),
        o => o.as_str().to_owned(),
    }
}

fn health_word(h: &Health) -> String {
    match crate::cli::replay::state(h) {
        (word, Some(reason)) => format!("{word} ({})", crate::text::for_humans(reason, 80)),
        (word, None) => word.to_owned(),
    }
}

/// The canary's check: every event, in order, byte-identical, and every call returned.
pub(crate) fn check_canary(obs: &Observation) -> Result<(), String> {
    if let Some((i, o)) = obs.canary_outcomes.iter().enumerate().find(|(_, o)| **o != Outcome::Ok) {
        return Err(format!("the canary's event {} ended {}", i + 1, outcome_word(o)));
    }
    if obs.canary_outcomes.len() != obs.sent.len() {
        return Err(format!("the canary was called {} times for {} events", obs.canary_outcomes.len(), obs.sent.len()));
    }
    for (i, sent) in obs.sent.iter().enumerate() {
        match obs.canary_logs.get(i) {
            None => return Err(format!("the canary did not see event {} of {}", i + 1, obs.sent.len())),
            Some(seen) if seen != sent => {
                return Err(format!(
                    "the canary saw event {} changed: sent {}, seen {}",
                    i + 1,
                    crate::text::for_humans(sent, 80),
                    crate::text::for_humans(seen, 80)
                ))
            }
            Some(_) => {}
        }
    }
    if obs.canary_logs.len() > obs.sent.len() {
        return Err(format!("the canary logged {} lines for {} events", obs.canary_logs.len(), obs.sent.len()));
    }
    Ok(())
}

/// Guest log lines by listener.
#[derive(Default)]
struct Capture(Mutex<Vec<(String, LogLevel, String)>>);

impl Capture {
    fn of(&self, listener: &str) -> Vec<(LogLevel, String)> {
        self.0.lock().iter().filter(|(l, _, _)| l == listener).map(|(_, level, m)| (*level, m.clone())).collect()
    }
}

impl LogSink for Capture {
    fn log(&self, listener: &str, level: LogLevel, message: &str) {
        self.0.lock().push((listener.to_owned(), level, message.to_owned()));
    }
}

/// The events every case sends, in turn: both kinds, compact JSON (so what the canary is
/// handed must equal the text byte for byte), non-ASCII and escapes included.
const EVENTS: [(EventKind, &str); 4] = [
    (EventKind::IdToken, r#"{"iss":"https://c2id.example.com","sub":"alice","aud":"client-123","iat":1700000000,"exp":1700000600,"nonce":"n-0S6_WzA2Mj","amr":["pwd","otp"]}"#),
    (EventKind::AccessToken, r#"{"iss":"https://c2id.example.com","sub":"bob","aud":"https://api.example.com","client_id":"app","scope":"openid email","iat":1700000001,"exp":1700003601,"jti":"at-1"}"#),
    (EventKind::IdToken, r#"{"iss":"https://c2id.example.com","sub":"zoë","aud":["client-123","client-456"],"name":"Zoë \"Z\" Ünal\n","iat":1700000002,"x":{"nested":[1,2.5,null,true]}}"#),
    (EventKind::AccessToken, r#"{"iss":"https://c2id.example.com","sub":"carol","client_id":"svc","scope":"","iat":1700000003,"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}"#),
];

fn event(i: usize) -> (Arc<TokenEvent>, String) {
    let (kind, claims) = EVENTS[i % EVENTS.len()];
    let event = TokenEvent::new(kind, Claims::from_json(claims).expect("the sample claims are valid")).with_issuer("https://c2id.example.com");
    (Arc::new(event), claims.to_owned())
}

/// The config a case's host is built from: the operator's without its listeners, sinks as
/// files in `dir` plus the conformance sink, the spool in `dir`, no artifact cache (hostile
/// modules are compiled every time and never written to the operator's cache).
fn case_config(base: &Config, dir: &Path) -> Config {
    let mut config = crate::cli::check::for_run(base, dir);
    config.listeners.clear();
    config.cache.enabled = false;
    let mut sink = SinkConfig::file(SINK, dir.join("sink-conformance.ndjson"));
    sink.max_message_bytes = Some(SINK_MAX_MESSAGE_BYTES);
    sink.queue = Some(1_000);
    config.sinks.retain(|s| s.name != SINK);
    config.sinks.push(sink);
    config
}

/// Resident memory of this process, in bytes (Linux: /proc/self/statm; elsewhere 0).
fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Run one case on a thread of its own: a panic, a hang past the case's bound and resident
/// memory grown past its bound are failures too.
fn run_case(case: &'static Case, base: &Config, canary: &[u8], dir: &Path) -> CaseResult {
    let started = Instant::now();
    let rss_before = resident_bytes();
    let (tx, rx) = std::sync::mpsc::channel();
    let (config, canary, dir) = (case_config(base, dir), canary.to_vec(), dir.to_path_buf());
    let spawned = std::thread::Builder::new().name(format!("conformance-{}", case.name)).spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(case, config, &canary, &dir)));
        let _ = tx.send(result);
    });
    let mut peak = rss_before;
    let verdict: Result<String, String> = match spawned {
        Err(e) => Err(format!("cannot start the case's thread: {e}")),
        Ok(_) => loop {
            match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(result) => break evaluate(case, result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    peak = peak.max(resident_bytes());
                    if started.elapsed() > case.bound {
                        // The thread is left behind: nothing can stop a hung host call.
                        break Err(format!("hung: no result after {} s", case.bound.as_secs()));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Err("the case's thread died".to_owned()),
            }
        },
    };
    peak = peak.max(resident_bytes());
    let grown_mib = peak.saturating_sub(rss_before) >> 20;
    let verdict = verdict.and_then(|observed| match grown_mib > case.rss_mib {
        true => Err(format!("{observed}; resident memory grew by {grown_mib} MiB, over the bound of {} MiB", case.rss_mib)),
        false => Ok(observed),
    });
    let (passed, observed) = match verdict {
        Ok(observed) => (true, observed),
        Err(why) => (false, why),
    };
    CaseResult {
        name: case.name,
        attacks: case.attacks,
        expected: case.expected,
        observed,
        passed,
        time_ms: started.elapsed().as_millis() as u64,
    }
}

/// The case's verdict from what its thread returned: the observed summary, or why it failed.
fn evaluate(case: &Case, result: std::thread::Result<Result<Observation, String>>) -> Result<String, String> {
    let obs = match result {
        Err(panic) => {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            return Err(format!("the host panicked: {}", message.unwrap_or_default()));
        }
        Ok(Err(e)) => return Err(e),
        Ok(Ok(obs)) => obs,
    };
    verdict(case, &obs)
}

/// Both checks: the hostile listener contained as expected, the canary unharmed.
pub(crate) fn verdict(case: &Case, obs: &Observation) -> Result<String, String> {
    let summary = obs.summary();
    case.check.holds(obs).map_err(|why| format!("{summary}: {why}"))?;
    check_canary(obs).map_err(|why| format!("{summary}: {why}"))?;
    Ok(summary)
}

/// Build the host, send the events, shut down: what happened.
fn execute(case: &Case, mut config: Config, canary: &[u8], dir: &Path) -> Result<Observation, String> {
    let hostile_bytes = case.guest.bytes()?;
    let hostile_path = dir.join("hostile.wasm");
    let canary_path = dir.join("canary.wasm");
    std::fs::write(&hostile_path, hostile_bytes).map_err(|e| format!("cannot write {}: {e}", hostile_path.display()))?;
    std::fs::write(&canary_path, canary).map_err(|e| format!("cannot write {}: {e}", canary_path.display()))?;
    let mut hostile = ListenerConfig::new(&hostile_path);
    hostile.name = Some(HOSTILE.to_owned());
    hostile.sinks = vec![SINK.to_owned()];
    hostile.set_audiences = vec![AUDIENCE.to_owned()];
    (case.tweak)(&mut hostile);
    let mut canary_config = ListenerConfig::new(&canary_path);
    canary_config.name = Some(CANARY.to_owned());
    let mut obs = Observation::default();
    let logs = Arc::new(Capture::default());
    let build = |listeners: Vec<ListenerConfig>, config: &Config| {
        let config = Config { listeners, ..config.clone() };
        Host::builder(config).log_sink(logs.clone()).build()
    };
    config.listeners.clear();
    let host = match build(vec![hostile.clone(), canary_config.clone()], &config) {
        Ok(host) => host,
        Err(HostError::Load(e)) => {
            obs.load_error = Some(e.message);
            // The canary alone, then the hostile one offered to the running host: refused
            // again, and the canary keeps serving.
            let host = build(vec![canary_config], &config).map_err(|e| format!("the host does not build with the canary alone: {e}"))?;
            obs.reload_error = match host.load_listener(hostile.clone()) {
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            };
            host
        }
        Err(e) => return Err(format!("the host does not build: {e}")),
    };
    for i in 0..case.events {
        let (event, claims) = event(i);
        obs.sent.push(claims);
        for d in host.dispatch(&event) {
            match &*d.listener {
                HOSTILE => obs.outcomes.push(d.outcome),
                CANARY => obs.canary_outcomes.push(d.outcome),
                _ => {}
            }
        }
    }
    obs.status = host.status().into_iter().find(|s| s.name == HOSTILE);
    if case.reload_fixed && obs.status.is_some() {
        // The operator fixes the module and reloads it: the listener serves again.
        let mut fixed = hostile.clone();
        fixed.path = dir.join("fixed.wasm");
        std::fs::write(&fixed.path, canary).map_err(|e| format!("cannot write {}: {e}", fixed.path.display()))?;
        let health = host.load_listener(fixed).map_err(|e| format!("the reload failed: {e}"))?.health;
        let mut outcomes = Vec::new();
        for i in 0..2 {
            let (event, claims) = event(case.events + i);
            obs.sent.push(claims);
            for d in host.dispatch(&event) {
                match &*d.listener {
                    HOSTILE => outcomes.push(d.outcome),
                    CANARY => obs.canary_outcomes.push(d.outcome),
                    _ => {}
                }
            }
        }
        obs.reloaded = Some((health, outcomes));
    }
    let shutting = Instant::now();
    host.shutdown();
    obs.shutdown_ms = shutting.elapsed().as_millis() as u64;
    obs.status_after_shutdown = host.status().into_iter().find(|s| s.name == HOSTILE);
    drop(host);
    obs.logs = logs.of(HOSTILE);
    obs.canary_logs = logs.of(CANARY).into_iter().map(|(_, m)| m).collect();
    if case.reload_fixed {
        // The fixed version is the canary's module: its lines are claims, not the hostile's.
        obs.logs.retain(|(_, m)| !obs.sent.contains(m));
    }
    Ok(obs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::limits::TrapCause;

    /// What a clean run of `case` looks like: the canary saw every event as sent.
    fn clean(outcomes: Vec<Outcome>) -> Observation {
        let sent: Vec<String> = (0..outcomes.len()).map(|i| event(i).1).collect();
        Observation {
            canary_logs: sent.clone(),
            canary_outcomes: vec![Outcome::Ok; sent.len()],
            sent,
            outcomes,
            ..Observation::default()
        }
    }

    fn case(name: &str) -> &'static Case {
        cases::CASES.iter().find(|c| c.name == name).expect("a case of that name")
    }

    #[test]
    fn the_canary_check_fails_on_a_missing_changed_extra_or_failed_event() {
        assert_eq!(check_canary(&clean(vec![Outcome::Ok; 3])), Ok(()));
        let mut missing = clean(vec![Outcome::Ok; 3]);
        missing.canary_logs.pop();
        assert!(check_canary(&missing).unwrap_err().contains("did not see event 3"));
        let mut changed = clean(vec![Outcome::Ok; 3]);
        changed.canary_logs[1] = changed.canary_logs[1].replace("bob", "mallory");
        assert!(check_canary(&changed).unwrap_err().contains("event 2 changed"));
        let mut reordered = clean(vec![Outcome::Ok; 3]);
        reordered.canary_logs.swap(0, 2);
        assert!(check_canary(&reordered).is_err());
        let mut extra = clean(vec![Outcome::Ok; 3]);
        extra.canary_logs.push("{}".into());
        assert!(check_canary(&extra).unwrap_err().contains("4 lines for 3 events"));
        let mut trapped = clean(vec![Outcome::Ok; 3]);
        trapped.canary_outcomes[0] = Outcome::Trap { cause: TrapCause::Fuel, message: String::new() };
        assert!(check_canary(&trapped).unwrap_err().contains("ended trap fuel"));
    }

    #[test]
    fn a_case_fails_when_the_hostile_listener_was_not_contained_as_expected() {
        // Loaded although it should have been refused.
        let loaded = clean(vec![Outcome::Ok; 3]);
        assert!(verdict(case("memory64"), &loaded).unwrap_err().contains("the host loaded it"));
        // Refused, but by the build only: a running host took it.
        let mut once = clean(Vec::new());
        once.load_error = Some("not a valid component: it uses 64-bit memories (memory64), which tokenwatch turns off".into());
        assert!(verdict(case("memory64"), &once).unwrap_err().contains("a running host loaded it"));
        once.reload_error = once.load_error.clone();
        assert!(verdict(case("memory64"), &once).is_ok());
        // Not there at all: no outcome, no status.
        assert!(verdict(case("cpu-loop-fuel"), &clean(Vec::new())).unwrap_err().contains("got no events"));
        // Ran to the end where a fuel trap was expected.
        assert!(verdict(case("cpu-loop-fuel"), &clean(vec![Outcome::Ok; 3])).unwrap_err().contains("event 1 ended ok"));
        // Trapped for another reason.
        let other = clean(vec![Outcome::Trap { cause: TrapCause::Deadline, message: "deadline".into() }]);
        assert!(verdict(case("cpu-loop-fuel"), &other).unwrap_err().contains("trapped deadline"));
        // Contained, but the canary was harmed.
        let mut harmed = clean(vec![Outcome::Ok; 3]);
        harmed.canary_logs[0].push(' ');
        assert!(verdict(case("claims-overwrite"), &harmed).unwrap_err().contains("changed"));
    }

    #[test]
    fn fragments_fill_the_skeleton_and_unknown_sections_are_refused() {
        let text = splice(";;@ handler\nunreachable\n").unwrap();
        assert!(text.contains("unreachable") && !text.contains("{{"), "{text}");
        assert!(splice(";;@ nonsense\n").unwrap_err().contains("nonsense"));
        assert!(component(";;@ handler\n(this is not wat\n").is_err());
    }

    #[test]
    fn the_sample_claims_are_handed_over_as_sent() {
        for i in 0..EVENTS.len() {
            let (event, claims) = event(i);
            assert_eq!(event.claims.as_json(), claims);
        }
    }
}
