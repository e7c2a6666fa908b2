//! `tokenwatch check MODULE.wasm`: run one module through its whole lifecycle on the
//! production engine (the host `replay` and `serve` build, with its limits), and say whether
//! it would work in production: what it exports and imports (and which imports need a
//! grant), what `init` and `is-enabled` answer, fuel, time and memory per event against the
//! budgets with the headroom left, whether two runs over the same events do the same, and a
//! verdict. Every problem comes with what to do next.
//!
//! Nothing leaves the machine: the config's sinks are replaced by files in a scratch
//! directory (same names, queue sizes and message caps), and the outbox spools there too.

use crate::config::{Config, ListenerConfig, Mode, SinkConfig};
use crate::dispatch::host::{Host, HostError};
use crate::event::{EventKind, EventLines, Ingress, TokenEvent};
use crate::imports::log::{LogLevel, LogSink};
use crate::runtime::limits::{bytes, Limits, TrapCause};
use crate::runtime::listener::Outcome;
use crate::runtime::status::{Health, ListenerStatus};
use crate::runtime::validate::{classify_import, import_names, ImportClass};
use crate::text::escape_control;
use anyhow::{bail, Context};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The events `check` runs when no `--events` file is given: realistic ID and access tokens
/// (several clients, pairwise subject, audiences as lists, nested claims, non-ASCII names),
/// in the replay format.
pub const SAMPLE_EVENTS: &str = include_str!("check-events.ndjson");

/// The default `--min-headroom`: the worst event may use at most half of each budget, so a
/// token twice the size of the samples, or a machine twice as slow, still fits.
pub const DEFAULT_MIN_HEADROOM_PCT: f64 = 50.0;

/// What to check, and how strictly.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub module: PathBuf,
    /// NDJSON events (the replay format); `None`: [`SAMPLE_EVENTS`].
    pub events: Option<PathBuf>,
    /// The production config: its limits, grants, `[signing]`, sinks and the module's own
    /// `[[listener]]` table (matched by path, else by name).
    pub config: Option<PathBuf>,
    /// `KEY=VALUE` properties for the module, over the config's.
    pub properties: Vec<String>,
    pub min_headroom_pct: f64,
}

/// A problem (the verdict fails) or a warning, and what to do about it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// A stable word: `refused-import`, `wasi-not-granted`, `load-failed`, `init-failed`,
    /// `init-trapped`, `not-enabled`, `trap`, `headroom`, `log-budget`, `sets-refused`,
    /// `publish-refused`, `grant-missing`, `nondeterministic`, `no-events-handled`,
    /// `bad-event-line`, `config-adjusted`.
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

/// The whole report: built by [`run`], printed by [`render`] or [`Report::to_json`].
#[derive(Debug)]
pub struct Report {
    doc: Value,
    pub problems: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Report {
    /// Whether the module passes: no problem (warnings allowed).
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The `--json` document (keys documented in docs/cli.md, "`tokenwatch check`").
    pub fn to_json(&self) -> Value {
        let findings = |f: &[Finding]| -> Vec<Value> {
            f.iter().map(|f| json!({"code": f.code, "message": f.message, "fix": f.fix})).collect()
        };
        let mut doc = self.doc.clone();
        doc["problems"] = json!(findings(&self.problems));
        doc["warnings"] = json!(findings(&self.warnings));
        doc["verdict"] = json!(if self.passed() { "pass" } else { "fail" });
        doc
    }
}

/// One guest log line: level and message.
type Line = (LogLevel, String);

/// Collects the guest's log lines (one listener per host here).
#[derive(Default)]
struct Lines(Mutex<Vec<Line>>);

impl LogSink for Lines {
    fn log(&self, _listener: &str, level: LogLevel, message: &str) {
        self.0.lock().push((level, message.to_owned()));
    }
}

impl Lines {
    fn drain(&self) -> Vec<Line> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// One event at the listener, in one run.
#[derive(Debug)]
struct Call {
    index: usize,
    kind: EventKind,
    outcome: Outcome,
    fuel: u64,
    fuel_exact: bool,
    micros: u64,
    /// The instance's linear memory after the call (its high-water mark).
    memory: u64,
    logs: Vec<Line>,
    /// Counter deltas over the call.
    signed: u64,
    sign_refused: u64,
    published: u64,
    publish_refused: u64,
    logs_dropped: u64,
}

impl Call {
    /// Whether the handler ran (its figures mean something).
    fn ran(&self) -> bool {
        matches!(self.outcome, Outcome::Ok) || (matches!(self.outcome, Outcome::Trap { .. }) && (self.fuel > 0 || self.micros > 0))
    }
}

/// One whole lifecycle: build (load, `init`, `is-enabled`), the events, shutdown.
#[derive(Debug, Default)]
struct Run {
    /// The host refused the module (`HostError::Load`): why.
    load_error: Option<String>,
    started: Option<ListenerStatus>,
    init_logs: Vec<Line>,
    calls: Vec<Call>,
    shutdown_logs: Vec<Line>,
    /// After the events, before shutdown.
    ended: Option<ListenerStatus>,
    /// What each sink received, in order.
    published: Vec<(String, Vec<String>)>,
}

/// The config `check` runs under: the given one (or none) with only this module's listener,
/// made sync and enabled; and notes on what was changed.
struct Setup {
    config: Config,
    listener: ListenerConfig,
    limits: Limits,
    /// Whether the listener's settings came from a `[[listener]]` table of the config.
    from_table: bool,
    adjusted: Vec<Finding>,
}

fn setup(opts: &CheckOptions) -> anyhow::Result<Setup> {
    let mut config = match &opts.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    let module = canonical(&opts.module);
    let stem = opts.module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let found = config
        .listeners
        .iter()
        .position(|l| module.is_some() && canonical(&l.path) == module)
        .or_else(|| config.listeners.iter().position(|l| l.name() == stem));
    let from_table = found.is_some();
    let mut listener = match found {
        Some(i) => {
            let mut l = config.listeners.swap_remove(i);
            l.name = Some(l.name());
            l.path = opts.module.clone();
            l
        }
        None => ListenerConfig::new(&opts.module),
    };
    let name = listener.name();
    let mut adjusted = Vec::new();
    if !listener.enabled {
        listener.enabled = true;
        adjusted.push(Finding {
            code: "config-adjusted",
            message: format!("listener {name:?} has `enabled = false` in the config: checked as if enabled"),
            fix: "set `enabled = true` in its [[listener]] table when it should run".to_owned(),
        });
    }
    if listener.mode == Mode::Async {
        listener.mode = Mode::Sync;
        adjusted.push(Finding {
            code: "config-adjusted",
            message: format!("listener {name:?} is `mode = \"async\"`: checked sync, so every call is measured (the budgets are the same)"),
            fix: "nothing to do: async listeners run under the same limits on a dispatcher thread".to_owned(),
        });
    }
    for p in &opts.properties {
        let Some((key, value)) = p.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--property {p:?}: expected KEY=VALUE");
        };
        listener.properties.insert(key.to_owned(), value.to_owned());
    }
    let limits = listener.limits.over(&config.limits.over(&Limits::default()));
    config.listeners = vec![listener.clone()];
    config.validate()?;
    Ok(Setup { config, listener, limits, from_table, adjusted })
}

/// `config` for one run whose scratch files go to `dir`: every sink a file there (same
/// name, queue and message cap), the spool there.
pub(crate) fn for_run(config: &Config, dir: &Path) -> Config {
    let mut config = config.clone();
    config.sinks = config
        .sinks
        .iter()
        .map(|s| {
            let mut file = SinkConfig::file(s.name.clone(), dir.join(format!("sink-{}.ndjson", s.name)));
            file.queue = s.queue;
            file.max_message_bytes = s.max_message_bytes;
            file
        })
        .collect();
    config.outbox.spool_dir = Some(dir.join("spool"));
    config
}

/// Run the lifecycle once on a fresh host.
fn run_once(config: Config, events: &[(usize, Arc<TokenEvent>)], dir: &Path) -> anyhow::Result<Run> {
    let sinks: Vec<String> = config.sinks.iter().map(|s| s.name.clone()).collect();
    let lines = Arc::new(Lines::default());
    let host = match Host::builder(config).log_sink(lines.clone()).build() {
        Ok(host) => host,
        Err(HostError::Load(e)) => return Ok(Run { load_error: Some(e.message), ..Run::default() }),
        Err(e) => return Err(e.into()),
    };
    let mut run = Run { started: host.status().into_iter().next(), init_logs: lines.drain(), ..Run::default() };
    let mut before = run.started.as_ref().map(|s| s.counters.clone()).unwrap_or_default();
    for (index, event) in events {
        let delivery = host.dispatch(event).into_iter().next().context("the host dispatched to no listener")?;
        let after = host.status().into_iter().next().map(|s| s.counters).unwrap_or_default();
        let fuel_exact = !delivery.fuel_is_lower_bound();
        run.calls.push(Call {
            index: *index,
            kind: event.kind,
            outcome: delivery.outcome,
            fuel: delivery.fuel,
            fuel_exact,
            micros: delivery.micros,
            memory: after.memory_bytes,
            logs: lines.drain(),
            signed: after.sets_signed - before.sets_signed,
            sign_refused: after.sets_refused - before.sets_refused,
            published: after.published - before.published,
            publish_refused: after.publishes_refused - before.publishes_refused,
            logs_dropped: after.logs_dropped - before.logs_dropped,
        });
        before = after;
    }
    run.ended = host.status().into_iter().next();
    host.shutdown();
    run.shutdown_logs = lines.drain();
    drop(host);
    for name in sinks {
        let text = std::fs::read_to_string(dir.join(format!("sink-{name}.ndjson"))).unwrap_or_default();
        run.published.push((name, text.lines().map(str::to_owned).collect()));
    }
    Ok(run)
}

/// Read the events: the file, or the samples. Bad lines are warnings.
fn read_events(opts: &CheckOptions, warnings: &mut Vec<Finding>) -> anyhow::Result<Vec<(usize, Arc<TokenEvent>)>> {
    let text = match &opts.events {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read events {}", p.display()))?,
        None => SAMPLE_EVENTS.as_bytes().to_vec(),
    };
    let mut lines = EventLines::new(std::io::BufReader::new(&text[..]));
    let mut events = Vec::new();
    while let Some((index, ingress)) = lines.next_event()? {
        match ingress {
            Ingress::Event(e) => events.push((index, Arc::new(e))),
            Ingress::Blank => {}
            Ingress::Bad(e) => warnings.push(Finding {
                code: "bad-event-line",
                message: format!("events line {}: skipped: {}", index + 1, crate::text::for_humans(&e.0, 256)),
                fix: "fix the line (the format is in docs/events.md, \"Events (NDJSON)\")".to_owned(),
            }),
        }
    }
    if events.is_empty() {
        bail!("no events to check with: the events file holds no valid event");
    }
    Ok(events)
}

/// Check a module: see the module documentation.
pub fn run(opts: &CheckOptions) -> anyhow::Result<Report> {
    let Setup { config, listener, limits, from_table, adjusted } = setup(opts)?;
    let mut problems = Vec::new();
    let mut warnings = adjusted;
    let events = read_events(opts, &mut warnings)?;
    let scratch = tempfile::Builder::new().prefix("tokenwatch-check-").tempdir().context("cannot create a scratch directory")?;
    let mut runs = Vec::new();
    for i in 0..2 {
        let dir = scratch.path().join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let run = run_once(for_run(&config, &dir), &events, &dir)?;
        let failed = run.load_error.is_some();
        runs.push(run);
        if failed {
            break;
        }
    }
    let first = &runs[0];
    let name = listener.name();
    let has_config = opts.config.is_some();

    // Imports, read from the module's bytes (whether or not the host loaded it).
    let import_list = std::fs::read(&opts.module).ok().and_then(|b| import_names(&b)).unwrap_or_default();
    let mut imports = Vec::new();
    for import in &import_list {
        let interface = import.strip_prefix("tokenwatch:listener/").and_then(|n| n.split('@').next());
        let (status, grant, granted, reason) = match (classify_import(import), interface) {
            (ImportClass::Provided, Some("signer")) => (
                "needs-grant",
                Some("[signing] (key_file, issuer); its SETs' audiences: set_audiences in its [[listener]] table"),
                Some(config.signing.is_some()),
                None,
            ),
            (ImportClass::Provided, Some("publish")) => (
                "needs-grant",
                Some("a [[sink]] table, and its name in sinks = [...] of its [[listener]] table"),
                Some(!listener.sinks.is_empty()),
                None,
            ),
            (ImportClass::Provided, _) => ("provided", None, None, None),
            (ImportClass::Wasi, _) => ("needs-grant", Some("wasi = true in its [[listener]] table"), Some(listener.wasi), None),
            (ImportClass::Refused(why), _) => ("refused", None, None, Some(why)),
        };
        imports.push(json!({"name": import, "status": status, "grant": grant, "granted": granted, "reason": reason}));
    }
    let refused: Vec<&Value> = imports.iter().filter(|i| i["status"] == "refused").collect();
    for i in &refused {
        problems.push(Finding {
            code: "refused-import",
            message: format!("imports {} ({}): the host will not load it", i["name"].as_str().unwrap_or(""), i["reason"].as_str().unwrap_or("")),
            fix: "rebuild it so that it imports only the tokenwatch:listener interfaces of wit/listener.wit (and WASI, when granted)".to_owned(),
        });
    }
    let ungranted_wasi: Vec<&str> = imports
        .iter()
        .filter(|i| i["status"] == "needs-grant" && i["name"].as_str().is_some_and(|n| n.starts_with("wasi:")) && i["granted"] == false)
        .filter_map(|i| i["name"].as_str())
        .collect();
    if !ungranted_wasi.is_empty() {
        problems.push(Finding {
            code: "wasi-not-granted",
            message: format!("imports WASI ({}), which is not granted: the host will not load it", ungranted_wasi.join(", ")),
            fix: format!(
                "build it for wasm32-unknown-unknown, which imports no WASI (`cargo build --target wasm32-unknown-unknown`, then `wasm-tools component new`), or grant WASI: `wasi = true` in its [[listener]] table (name = {name:?}) and pass that file with --config"
            ),
        });
    }
    if let Some(e) = &first.load_error {
        if refused.is_empty() && ungranted_wasi.is_empty() {
            problems.push(Finding {
                code: "load-failed",
                message: format!("the host refused to load it: {}", escape_control(e)),
                fix: "fix what the message names, then check again".to_owned(),
            });
        }
    }

    // Exports and the lifecycle.
    let started = first.started.as_ref();
    let handles: Vec<&str> = started.map(|s| s.handles.iter().map(|k| k.as_str()).collect()).unwrap_or_default();
    let world = match (handles.contains(&"id_token"), handles.contains(&"access_token")) {
        (true, true) => Some("all-tokens"),
        (true, false) => Some("id-token-only"),
        (false, true) => Some("access-token-only"),
        (false, false) => None,
    };
    let (init, init_error, is_enabled) = match started.map(|s| &s.health) {
        None => ("not-run", None, None),
        Some(Health::Active) => ("ok", None, Some(true)),
        Some(Health::Disabled(_)) => ("ok", None, Some(false)),
        Some(Health::InitFailed(why)) => ("failed", Some(why.clone()), None),
        Some(Health::InitTrapped(why)) => ("trapped", Some(why.clone()), None),
        Some(other) => ("not-run", Some(format!("{other:?}")), None),
    };
    let property_hint = if has_config || !opts.properties.is_empty() {
        "the properties it needs: --property KEY=VALUE, or [listener.properties] in the config"
    } else {
        "the properties it needs: --property KEY=VALUE (or --config with its [[listener]] table)"
    };
    match init {
        "failed" => problems.push(Finding {
            code: "init-failed",
            message: format!("init returned an error: {}", escape_control(init_error.as_deref().unwrap_or(""))),
            fix: format!("give it {property_hint}; the listener would get no events"),
        }),
        "trapped" => {
            let why = init_error.clone().unwrap_or_default();
            let cause = why.split(':').next().unwrap_or("");
            problems.push(Finding {
                code: "init-trapped",
                message: format!("init trapped: {}", escape_control(&why)),
                fix: trap_fix(cause, &limits, "init"),
            });
        }
        _ => {}
    }
    if is_enabled == Some(false) {
        problems.push(Finding {
            code: "not-enabled",
            message: "is-enabled returned false: it would get no events".to_owned(),
            fix: format!("give it {property_hint} that enable it"),
        });
    }
    if let Some(s) = started {
        for w in &s.warnings {
            warnings.push(Finding {
                code: "config-adjusted",
                message: escape_control(w).into_owned(),
                fix: "remove the property, or spell it as the listener expects".to_owned(),
            });
        }
    }

    // The events: outcomes, figures, budgets.
    let calls = &first.calls;
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for c in calls {
        *outcomes.entry(c.outcome.as_str()).or_default() += 1;
        *by_kind.entry(c.kind.as_str()).or_default().entry(c.outcome.as_str()).or_default() += 1;
    }
    let ran: Vec<&Call> = calls.iter().filter(|c| c.ran()).collect();
    let memory_of = |c: &Call| match &c.outcome {
        Outcome::Trap { cause: TrapCause::Memory, .. } => limits.memory_bytes as u64,
        _ => c.memory,
    };
    let deadline_us = limits.deadline.as_micros() as u64;
    let figures = [
        ("fuel", Figure::of(ran.iter().map(|c| c.fuel), limits.fuel)),
        ("time_us", Figure::of(ran.iter().map(|c| c.micros), deadline_us)),
        ("memory_bytes", Figure::of(ran.iter().map(|c| memory_of(c)), limits.memory_bytes as u64)),
    ];
    // By cause and where: the handler, or the `init` of the fresh instance an event needed.
    let mut traps: BTreeMap<(&str, &str), (u64, usize, String)> = BTreeMap::new();
    for c in calls {
        if let Outcome::Trap { cause, message } = &c.outcome {
            let during = if c.ran() { "the handler" } else { "init (of the fresh instance the event needed)" };
            let entry = traps.entry((cause.as_str(), during)).or_insert((0, c.index, message.clone()));
            entry.0 += 1;
        }
    }
    for ((cause, during), (n, index, message)) in &traps {
        problems.push(Finding {
            code: "trap",
            message: format!("{n} of {} events trapped ({cause}) in {during}, the first #{index}: {}", calls.len(), escape_control(message)),
            fix: trap_fix(cause, &limits, during),
        });
    }
    if let Some(Health::Quarantined(why)) = first.ended.as_ref().map(|s| &s.health) {
        warnings.push(Finding {
            code: "trap",
            message: format!("quarantined: {}", escape_control(why)),
            fix: "fix the traps above; in production a quarantined listener gets no events until it is reloaded".to_owned(),
        });
    }
    if traps.is_empty() && !ran.is_empty() {
        for (key, f) in &figures {
            let Some(f) = f else { continue };
            if f.headroom_pct() < opts.min_headroom_pct {
                problems.push(Finding {
                    code: "headroom",
                    message: format!(
                        "{}: the worst event used {} of {}, leaving {:.1}% headroom, under the {}% margin",
                        label(key),
                        show(key, f.max),
                        show(key, f.budget),
                        f.headroom_pct(),
                        opts.min_headroom_pct
                    ),
                    fix: headroom_fix(key, f.max, opts.min_headroom_pct),
                });
            }
        }
    }
    let total = |f: fn(&Call) -> u64| calls.iter().map(f).sum::<u64>();
    let (logs_dropped, signed, sign_refused, published, publish_refused) =
        (total(|c| c.logs_dropped), total(|c| c.signed), total(|c| c.sign_refused), total(|c| c.published), total(|c| c.publish_refused));
    if logs_dropped > 0 {
        problems.push(Finding {
            code: "log-budget",
            message: format!("{logs_dropped} log lines were dropped: over the cap of 64 lines per call"),
            fix: "log at most 64 lines per event (aggregate, or log a summary line)".to_owned(),
        });
    }
    // A refusal for want of a grant is what production does when the config lacks it: a
    // problem with --config, a warning without (check cannot know the production grants).
    let grant = |findings: &mut Vec<Finding>, warnings: &mut Vec<Finding>, f: Finding| {
        if has_config {
            findings.push(f);
        } else {
            warnings.push(f);
        }
    };
    if sign_refused > 0 {
        if config.signing.is_none() {
            grant(&mut problems, &mut warnings, Finding {
                code: "grant-missing",
                message: format!("{sign_refused} sign-set calls were answered no-key-configured: no [signing] table"),
                fix: "add [signing] (key_file, issuer) to the config, and pass it with --config".to_owned(),
            });
        } else {
            problems.push(Finding {
                code: "sets-refused",
                message: format!("the host refused {sign_refused} of its {} SETs (RFC 8417 policy, audience, size or quota; RUST_LOG=tokenwatch=warn shows each reason)", sign_refused + signed),
                fix: "sign only what the policy allows (docs/signing.md, \"What the host signs\"); list its audiences in set_audiences; raise max_signatures_per_call or [signing] max_set_bytes when the quota or size is what refused it".to_owned(),
            });
        }
    }
    if publish_refused > 0 {
        if listener.sinks.is_empty() {
            grant(&mut problems, &mut warnings, Finding {
                code: "grant-missing",
                message: format!("{publish_refused} publish calls were refused: no sink is granted to it"),
                fix: format!("add a [[sink]] table and sinks = [\"<name>\"] to the [[listener]] table of {name:?}, and pass the config with --config"),
            });
        } else {
            problems.push(Finding {
                code: "publish-refused",
                message: format!("{publish_refused} of its {} publish calls were refused (a sink not granted to it, a message over the sink's max_message_bytes, or a full queue)", publish_refused + published),
                fix: format!("publish only to its sinks ({}); raise the sink's max_message_bytes or queue when the size or a full queue refused it", listener.sinks.join(", ")),
            });
        }
    }
    if first.load_error.is_none() && ran.is_empty() && !calls.is_empty() && init == "ok" && is_enabled == Some(true) {
        warnings.push(Finding {
            code: "no-events-handled",
            message: format!("none of the {} events is of a kind it handles ({})", calls.len(), handles.join(", ")),
            fix: "give --events with tokens of the kinds it handles".to_owned(),
        });
    }

    // Determinism: the second run against the first.
    let difference = runs.get(1).map(|second| first_difference(&trace(first), &trace(second)));
    if let Some(Some(d)) = &difference {
        warnings.push(Finding {
            code: "nondeterministic",
            message: format!("two runs over the same events differ: {d}"),
            fix: "do not let what it logs, publishes or signs depend on clocks, random numbers or hash-map order (WASI clocks and random are real when granted): take times from the token's claims".to_owned(),
        });
    }
    let determinism = match &difference {
        None => json!({"deterministic": null, "difference": null}),
        Some(d) => json!({"deterministic": d.is_none(), "difference": d}),
    };

    let status = started.or(first.ended.as_ref());
    let doc = json!({
        "module": opts.module.display().to_string(),
        "listener": name,
        "config": opts.config.as_ref().map(|p| p.display().to_string()),
        "from_config_table": from_table,
        "sha256": status.map(|s| s.module_sha256.clone()),
        "module_bytes": status.map(|s| s.module_bytes),
        "contract": status.map(|s| s.contract),
        "world": world,
        "handles": handles,
        "imports": imports,
        "load_error": first.load_error,
        "lifecycle": {
            "init": init,
            "init_error": init_error,
            "is_enabled": is_enabled,
            "properties": listener.properties,
            "init_logs": first.init_logs.iter().map(|(l, m)| json!({"level": l.as_str(), "message": m})).collect::<Vec<_>>(),
            "state_after": first.ended.as_ref().map(|s| health_word(&s.health)),
        },
        "limits": {"fuel": limits.fuel, "deadline_ms": limits.deadline.as_millis() as u64, "memory_bytes": limits.memory_bytes as u64},
        "events": {
            "source": opts.events.as_ref().map_or("built-in samples".to_owned(), |p| p.display().to_string()),
            "total": calls.len(),
            "handled": ran.len(),
            "outcomes": outcomes,
            "by_kind": by_kind,
        },
        "figures": figures.iter().map(|(k, f)| (k.to_string(), f.map_or(Value::Null, Figure::to_json))).collect::<serde_json::Map<_, _>>(),
        "calls": calls.iter().map(|c| {
            let mut v = json!({
                "event": c.index, "kind": c.kind.as_str(), "outcome": c.outcome.as_str(), "fuel": c.fuel, "fuel_exact": c.fuel_exact,
                "micros": c.micros, "memory_bytes": c.memory, "logs": c.logs.len(), "sets_signed": c.signed, "sets_refused": c.sign_refused,
                "published": c.published, "publishes_refused": c.publish_refused,
            });
            if let Outcome::Trap { cause, message } = &c.outcome {
                v["trap"] = json!(cause.as_str());
                v["message"] = json!(message);
            }
            v
        }).collect::<Vec<_>>(),
        "signing": {"sets_signed": signed, "sets_refused": sign_refused},
        "publishing": {"published": published, "publishes_refused": publish_refused, "by_sink": first.published.iter().map(|(n, m)| (n.clone(), json!(m.len()))).collect::<serde_json::Map<_, _>>()},
        "logs_dropped": logs_dropped,
        "determinism": determinism,
        "min_headroom_pct": opts.min_headroom_pct,
    });
    Ok(Report { doc, problems, warnings })
}

fn health_word(h: &Health) -> &'static str {
    match h {
        Health::Starting => "starting",
        Health::Active => "active",
        Health::Disabled(_) => "disabled",
        Health::InitFailed(_) => "init-failed",
        Health::InitTrapped(_) => "init-trapped",
        Health::Quarantined(_) => "quarantined",
        Health::LoadFailed(_) => "load-failed",
        Health::ShutDown => "shut-down",
    }
}

/// What to do about a trap of `cause` in `during`.
fn trap_fix(cause: &str, limits: &Limits, during: &str) -> String {
    match cause {
        "fuel" => format!("{during} ran out of fuel: do less per call, or raise `fuel` in its [listener.limits] (now {})", limits.fuel),
        "deadline" => format!(
            "{during} passed its deadline: do less per call (no sleeps or waits), or raise `deadline_ms` in its [listener.limits] (now {} ms); slow work belongs off the issuing path (`mode = \"async\"`)",
            limits.deadline.as_millis()
        ),
        "memory" => format!("{during} hit the memory limit: allocate less, or raise `memory_mb` in its [listener.limits] (now {})", bytes(limits.memory_bytes)),
        "stack" => format!("{during} overflowed the Wasm stack: recurse less deeply (the stack size is the engine's, not configurable)"),
        "panic" => format!("{during} panicked (a Rust panic!, C abort(), uncaught exception): fix the bug the message names"),
        "fault" => format!(
            "{during} faulted (out-of-bounds access, bad indirect call, integer trap): fix the bug; for a Rust guest, deep recursion overflowing the shadow stack shows as this too: give it more with `-C link-arg=-zstack-size=<bytes>`"
        ),
        _ => format!("{during} broke a host call's contract (a bad handle, over 1 MiB handed to the host at once): rebuild against the host's wit/listener.wit with its SDK"),
    }
}

fn headroom_fix(key: &str, max: u64, margin: f64) -> String {
    let need = ((max as f64) / (1.0 - margin / 100.0).max(0.01)).ceil() as u64;
    match key {
        "fuel" => format!("do less per event, or raise `fuel` in its [listener.limits] to at least {need}"),
        "time_us" => format!("do less per event, or raise `deadline_ms` in its [listener.limits] to at least {}", need.div_ceil(1000).max(1)),
        _ => format!("allocate less, or raise `memory_mb` in its [listener.limits] to at least {}", need.div_ceil(1 << 20).max(1)),
    }
}

fn label(key: &str) -> &'static str {
    match key {
        "fuel" => "fuel",
        "time_us" => "time",
        _ => "memory",
    }
}

fn show(key: &str, v: u64) -> String {
    match key {
        "fuel" => v.to_string(),
        "time_us" if v >= 10_000 => format!("{} ms", v / 1000),
        "time_us" => format!("{v}µs"),
        _ => bytes(usize::try_from(v).unwrap_or(usize::MAX)),
    }
}

/// p50, p99 and max of one figure over the events the handler ran for, against its budget.
#[derive(Clone, Copy, Debug)]
struct Figure {
    p50: u64,
    p99: u64,
    max: u64,
    budget: u64,
}

impl Figure {
    fn of(values: impl Iterator<Item = u64>, budget: u64) -> Option<Figure> {
        let mut v: Vec<u64> = values.collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        // Nearest rank.
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Figure { p50: at(0.50), p99: at(0.99), max: v[v.len() - 1], budget })
    }

    /// 100 × (budget − max) / budget: what the worst event left.
    fn headroom_pct(&self) -> f64 {
        let pct = |x: u64| 100.0 * (self.budget as f64 - x as f64) / self.budget.max(1) as f64;
        (pct(self.max) * 10.0).round() / 10.0
    }

    fn to_json(self) -> Value {
        let pct = |x: u64| (1000.0 * (self.budget as f64 - x as f64) / self.budget.max(1) as f64).round() / 10.0;
        json!({
            "p50": self.p50, "p99": self.p99, "max": self.max, "budget": self.budget,
            "headroom_pct": self.headroom_pct(),
            "headroom_pct_p50": pct(self.p50), "headroom_pct_p99": pct(self.p99),
        })
    }
}

/// What a run did that another run over the same events must repeat: the lifecycle's
/// outcome, every log line, each event's outcome and sign/publish counts, every published
/// message (signed SETs compared without their host-set `iat` and `jti`). Not fuel or time.
fn trace(run: &Run) -> Vec<String> {
    let mut t = Vec::new();
    let health = |s: &Option<ListenerStatus>| s.as_ref().map_or("none", |s| health_word(&s.health));
    t.push(format!("after start: {}", health(&run.started)));
    for (level, m) in &run.init_logs {
        t.push(format!("init log: {} {}", level.as_str(), normalize_sets(m)));
    }
    for c in &run.calls {
        let cause = match &c.outcome {
            Outcome::Trap { cause, .. } => format!(" ({cause})"),
            _ => String::new(),
        };
        t.push(format!(
            "event #{}: {}{cause}, {} SETs signed, {} refused, {} published, {} refused",
            c.index,
            c.outcome.as_str(),
            c.signed,
            c.sign_refused,
            c.published,
            c.publish_refused
        ));
        for (level, m) in &c.logs {
            t.push(format!("event #{} log: {} {}", c.index, level.as_str(), normalize_sets(m)));
        }
    }
    for (level, m) in &run.shutdown_logs {
        t.push(format!("shutdown log: {} {}", level.as_str(), normalize_sets(m)));
    }
    for (sink, messages) in &run.published {
        for m in messages {
            t.push(format!("sink {sink}: {}", normalize_sets(m)));
        }
    }
    t
}

/// The first place two traces differ, quoted (cut to 200 bytes each).
fn first_difference(a: &[String], b: &[String]) -> Option<String> {
    let cut = |s: &str| crate::text::for_humans(s, 200);
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => return Some(format!("run 1 `{}`, run 2 `{}`", cut(x), cut(y))),
            (Some(x), None) => return Some(format!("run 1 `{}`, run 2 nothing", cut(x))),
            (None, Some(y)) => return Some(format!("run 1 nothing, run 2 `{}`", cut(y))),
            (None, None) => break,
        }
    }
    None
}

/// `text` with every compact JWS whose header says `typ: secevent+jwt` replaced by
/// `SET<claims>` without `iat` and `jti`, which the host sets afresh for every SET.
pub(crate) fn normalize_sets(text: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let is_token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_token) {
        out.push_str(&rest[..start]);
        let run = &rest[start..];
        let end = run.find(|c: char| !is_token(c)).unwrap_or(run.len());
        let word = &run[..end];
        let parts: Vec<&str> = word.split('.').collect();
        let set = (parts.len() == 3)
            .then(|| B64.decode(parts[0]).ok())
            .flatten()
            .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
            .filter(|h| h["typ"] == "secevent+jwt")
            .and_then(|_| B64.decode(parts[1]).ok())
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok());
        match set {
            Some(mut claims) => {
                if let Some(o) = claims.as_object_mut() {
                    o.remove("iat");
                    o.remove("jti");
                }
                out.push_str(&format!("SET{claims}"));
            }
            None => out.push_str(word),
        }
        rest = &run[end..];
    }
    out.push_str(rest);
    out
}

/// The text report: a few lines and a table, then each problem and warning with what to do,
/// and the verdict.
pub fn render(report: &Report) -> String {
    use std::fmt::Write as _;
    let d = report.to_json();
    let s = |v: &Value| v.as_str().map(|t| escape_control(t).into_owned()).unwrap_or_else(|| "-".to_owned());
    let mut o = String::new();
    let _ = writeln!(o, "module     {}", s(&d["module"]));
    let mut listener = s(&d["listener"]);
    if d["from_config_table"] == true {
        listener.push_str(" (its [[listener]] table of the config)");
    }
    let _ = writeln!(o, "listener   {listener}");
    if let Some(contract) = d["contract"].as_str() {
        let handles: Vec<&str> = d["handles"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let _ = writeln!(o, "exports    contract {contract}, world {} (handles {})", s(&d["world"]), handles.join(", "));
    }
    let imports = d["imports"].as_array().cloned().unwrap_or_default();
    for (i, imp) in imports.iter().enumerate() {
        let head = if i == 0 { "imports" } else { "" };
        let what = match imp["status"].as_str() {
            Some("needs-grant") => format!(
                "needs a grant: {} ({})",
                s(&imp["grant"]),
                if imp["granted"] == true { "granted" } else { "not granted" }
            ),
            Some("refused") => format!("refused: {}", s(&imp["reason"])),
            _ => "provided".to_owned(),
        };
        let _ = writeln!(o, "{head:10} {:40} {what}", s(&imp["name"]));
    }
    let lc = &d["lifecycle"];
    let props = lc["properties"].as_object().map(|p| p.iter().map(|(k, v)| format!("{}={}", escape_control(k), s(v))).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let props = if props.is_empty() { "no properties".to_owned() } else { props };
    let init = match lc["init"].as_str() {
        Some("ok") => format!("ok ({props}); is-enabled: {}", lc["is_enabled"]),
        Some("failed") => format!("failed ({props}): {}", s(&lc["init_error"])),
        Some("trapped") => format!("trapped ({props}): {}", s(&lc["init_error"])),
        _ => format!("not run: {}", s(&d["load_error"])),
    };
    let _ = writeln!(o, "init       {init}");
    let ev = &d["events"];
    if ev["total"].as_u64().unwrap_or(0) > 0 && d["load_error"].is_null() {
        let kinds: Vec<String> = ev["by_kind"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(kind, outcomes)| {
                let o: Vec<String> = outcomes.as_object().into_iter().flatten().map(|(w, n)| format!("{n} {w}")).collect();
                format!("{kind}: {}", o.join(", "))
            })
            .collect();
        let _ = writeln!(o, "events     {} from {} ({})", ev["total"], s(&ev["source"]), kinds.join("; "));
        let _ = writeln!(o, "\n{:10} {:>10} {:>10} {:>10} {:>10} {:>9}", "", "p50", "p99", "max", "budget", "headroom");
        for key in ["fuel", "time_us", "memory_bytes"] {
            let f = &d["figures"][key];
            if f.is_null() {
                continue;
            }
            let v = |k: &str| show(key, f[k].as_u64().unwrap_or(0));
            let _ = writeln!(o, "{:10} {:>10} {:>10} {:>10} {:>10} {:>8.1}%", label(key), v("p50"), v("p99"), v("max"), v("budget"), f["headroom_pct"].as_f64().unwrap_or(0.0));
        }
        let det = &d["determinism"];
        let line = match det["deterministic"].as_bool() {
            Some(true) => "yes: two runs gave the same logs, publishes and signing requests".to_owned(),
            Some(false) => format!("NO: {}", s(&det["difference"])),
            None => "not checked".to_owned(),
        };
        let _ = writeln!(o, "\ndeterministic  {line}");
    }
    for (word, list) in [("problem", &report.problems), ("warning", &report.warnings)] {
        for f in list {
            let _ = writeln!(o, "{word}: {}\n  next: {}", f.message, f.fix);
        }
    }
    let verdict = if report.passed() {
        match report.warnings.len() {
            0 => "verdict: pass".to_owned(),
            n => format!("verdict: pass, with {n} warning{}", if n == 1 { "" } else { "s" }),
        }
    } else {
        let codes: Vec<&str> = report.problems.iter().map(|f| f.code).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        format!("verdict: FAIL ({}): it would fail in production", codes.join(", "))
    };
    let _ = writeln!(o, "{verdict}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_samples_are_valid_events_of_both_kinds() {
        let mut lines = EventLines::new(std::io::BufReader::new(SAMPLE_EVENTS.as_bytes()));
        let mut kinds = std::collections::BTreeSet::new();
        while let Some((i, ingress)) = lines.next_event().unwrap() {
            match ingress {
                Ingress::Event(e) => {
                    kinds.insert(e.kind.as_str());
                }
                other => panic!("line {}: {:?}", i + 1, matches!(other, Ingress::Blank)),
            }
        }
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["access_token", "id_token"]);
    }

    #[test]
    fn percentiles_and_headroom() {
        let f = Figure::of((1..=100).rev(), 200).unwrap();
        assert_eq!((f.p50, f.p99, f.max), (50, 99, 100));
        assert_eq!(f.headroom_pct(), 50.0);
        assert!(Figure::of(std::iter::empty(), 1).is_none());
    }

    #[test]
    fn sets_are_compared_without_iat_and_jti() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use base64::Engine as _;
        let jws = |jti: &str| {
            let h = B64.encode(r#"{"alg":"ES256","typ":"secevent+jwt","kid":"k"}"#);
            let p = B64.encode(format!(r#"{{"iss":"https://i","iat":{},"jti":"{jti}","events":{{}}}}"#, jti.len()));
            format!("{h}.{p}.c2lnbmF0dXJl")
        };
        let (a, b) = (normalize_sets(&format!("SET {}", jws("one"))), normalize_sets(&format!("SET {}", jws("three"))));
        assert_eq!(a, b);
        assert_eq!(a, r#"SET SET{"iss":"https://i","events":{}}"#);
        // Anything else is left as it is.
        assert_eq!(normalize_sets("a.b.c sub=alice x"), "a.b.c sub=alice x");
    }

    #[test]
    fn the_first_difference_is_quoted() {
        let a = vec!["x".to_owned(), "event #1 log: info t=1".to_owned()];
        let b = vec!["x".to_owned(), "event #1 log: info t=2".to_owned()];
        assert_eq!(first_difference(&a, &a), None);
        assert!(first_difference(&a, &b).unwrap().contains("t=1"));
        assert!(first_difference(&a, &a[..1]).unwrap().contains("run 2 nothing"));
    }
}
