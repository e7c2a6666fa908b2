//! The replay path as a library call: output records, bad lines, traps as outcomes,
//! lifecycle changes, the layout of text output.

use serde_json::{json, Value};
use std::sync::Arc;
use tokenwatch::cli::replay::{load_failed_record, replay, BufferedLog, Format, ReplaySummary};
use tokenwatch::{Config, Health, Host, HostError, LimitsConfig};
use tokenwatch_tests::*;

/// Events, malformed lines and traps of a summary.
fn counts(s: &ReplaySummary) -> (u64, u64, u64) {
    (s.events, s.malformed, s.traps)
}

fn run(listeners: Vec<tokenwatch::ListenerConfig>, input: &str) -> (ReplaySummary, Vec<Value>, String) {
    run_bytes(listeners, input.as_bytes())
}

fn run_bytes(listeners: Vec<tokenwatch::ListenerConfig>, input: &[u8]) -> (ReplaySummary, Vec<Value>, String) {
    let logs = Arc::new(BufferedLog::default());
    let config = Config { listeners, ..Config::default() };
    let host = Host::builder(config).log_sink(logs.clone()).build().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = replay(&host, &logs, input, Format::Json, &mut out, &mut err).expect("only a read error ends a replay");
    let records = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    (summary, records, String::from_utf8(err).unwrap())
}

const EVENTS: &str = r#"{"kind":"id_token","claims":{"sub":"alice","iat":1700000000,"aud":"app"},"issuer":"https://op"}
{"kind":"id_token","claims":
{"kind":"access_token","claims":{"sub":"bob","client_id":"c1","scope":"openid"}}
"#;

#[test]
fn json_records_carry_event_listener_outcome_fuel_and_logs() {
    let (summary, records, err) = run(vec![probe("p", "record")], EVENTS);
    assert_eq!(counts(&summary), (2, 1, 0));
    assert_eq!(summary.listeners, [("p".to_owned(), Health::Active)]);
    assert_eq!(err, "", "JSON mode writes only records");
    let kinds: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["log", "listener", "outcome", "log", "error", "outcome", "log", "log", "summary"]);
    assert_eq!(records[0]["message"], "init");
    assert!(records[0]["event"].is_null(), "init belongs to no event");
    assert_eq!(records[0]["phase"], "init");
    assert_eq!(records[1], json!({"type": "listener", "event": null, "listener": "p", "state": "active", "handles": ["id_token", "access_token"], "contract": "0.2.0"}));
    let outcome = &records[2];
    assert_eq!(outcome["outcome"], "ok");
    assert_eq!(outcome["event"], 0);
    assert!(outcome["fuel"].as_u64().unwrap() > 0);
    assert!(outcome["micros"].is_u64());
    assert_eq!(records[3]["event"], 0, "the outcome, then what the listener logged during it");
    assert_eq!(records[3]["listener"], "p");
    assert_eq!(records[3]["level"], "info");
    assert_eq!(records[3]["message"], "id-token alice");
    let error = &records[4];
    assert_eq!(error["line"], 2);
    assert!(error["error"].as_str().unwrap().contains("invalid event JSON"), "{error}");
    assert_eq!(records[5]["event"], 2, "0-based line index, bad line included");
    assert_eq!((&records[7]["message"], &records[7]["phase"]), (&json!("shutdown"), &json!("shutdown")));
    assert_eq!(records[8], json!({"type": "summary", "events": 2, "malformed": 1, "traps": 0, "listeners": [{"listener": "p", "state": "active"}]}));
}

#[test]
fn a_trap_is_an_outcome_with_its_cause() {
    let (summary, records, _) = run(vec![probe("boom", "panic")], EVENTS);
    assert_eq!(summary.traps, 2);
    let traps: Vec<&Value> = records.iter().filter(|r| r["outcome"] == "trap").collect();
    assert_eq!(traps.len(), 2);
    assert_eq!(traps[0]["trap"], "panic");
    assert!(traps[0]["message"].is_string());
}

/// Replay in text mode: (summary, stdout, stderr) as bytes, unchecked.
fn run_text(listeners: Vec<tokenwatch::ListenerConfig>, input: &[u8]) -> (ReplaySummary, Vec<u8>, Vec<u8>) {
    run_format(listeners, input, Format::Text)
}

fn run_format(listeners: Vec<tokenwatch::ListenerConfig>, input: &[u8], format: Format) -> (ReplaySummary, Vec<u8>, Vec<u8>) {
    let logs = Arc::new(BufferedLog::default());
    let config = Config { listeners, ..Config::default() };
    let host = Host::builder(config).log_sink(logs.clone()).build().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = replay(&host, &logs, input, format, &mut out, &mut err).unwrap();
    (summary, out, err)
}

/// An event line whose unknown field name carries a fake outcome row and an escape sequence
/// (JSON escapes here; the parser's error message holds them raw).
const FORGING_LINE: &str =
    r#"{"kind":"id_token","claims":{},"x\n#9 id_token     healthy          ok          fuel=1 1µs\u001b[2K\u001b[31m":1}"#;

/// Checks text-mode stdout line by line: each is an outcome row of a real event and listener
/// or a log line of a real listener. Returns the outcome rows as (event, listener).
fn check_text_shapes(stdout: &str, events: &[(usize, &str)], listeners: &[&str]) -> Vec<(usize, String)> {
    let mut rows = Vec::new();
    for line in stdout.lines() {
        if let Some(row) = line.strip_prefix('#') {
            let fields: Vec<&str> = row.split_whitespace().collect();
            assert!(fields.len() >= 6, "not an outcome row: {line:?}");
            let event: usize = fields[0].parse().unwrap_or_else(|_| panic!("bad event index: {line:?}"));
            let kind = events.iter().find(|(i, _)| *i == event).map(|(_, k)| *k);
            assert_eq!(kind, Some(fields[1]), "no event #{event} of that kind: {line:?}");
            assert!(listeners.contains(&fields[2]), "no listener {:?}: {line:?}", fields[2]);
            assert!(fields[4].starts_with("fuel=") && fields[5].ends_with("µs"), "{line:?}");
            rows.push((event, fields[2].to_owned()));
        } else if let Some((_, name)) = line.split_once(' ').filter(|(phase, _)| ["init", "shutdown"].contains(phase)) {
            assert!(listeners.contains(&name.trim_start()), "forged lifecycle row: {line:?}");
        } else {
            let rest = line.trim_start_matches(' ');
            let spaces = line.len() - rest.len();
            let (level, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("not a log line: {line:?}"));
            let listener = rest.trim_start().split_once(": ").map(|(l, _)| l);
            assert!(
                spaces == 4
                    && ["trace", "debug", "info", "warn", "error"].contains(&level)
                    && listener.is_some_and(|l| listeners.contains(&l)),
                "neither an outcome row nor a log line: {line:?}"
            );
        }
    }
    rows
}

#[test]
fn guest_and_event_text_cannot_forge_text_output() {
    let input = [
        r#"{"kind":"id_token","claims":{"sub":"alice","aud":"app"}}"#,
        r#"{"kind":"access_token","claims":{"sub":"bob","client_id":"app"}}"#,
        FORGING_LINE,
        r#"{"kind":"id_token","claims":{"sub":"carol","aud":"app"}}"#,
    ]
    .join("\n");
    let (summary, out, err) = run_text(vec![probe("forge", "log-forge"), probe("healthy", "record")], input.as_bytes());
    assert_eq!(counts(&summary), (3, 1, 0));
    for (name, bytes) in [("stdout", &out), ("stderr", &err)] {
        assert!(!bytes.contains(&0x1b) && !bytes.contains(&b'\r'), "ESC or CR in {name}: {:?}", String::from_utf8_lossy(bytes));
    }
    let stdout = String::from_utf8(out).unwrap();
    let events = [(0, "id_token"), (1, "access_token"), (3, "id_token")];
    let rows = check_text_shapes(&stdout, &events, &["forge", "healthy"]);
    let want: Vec<(usize, String)> =
        [0, 1, 3].iter().flat_map(|&e| [(e, "forge".to_owned()), (e, "healthy".to_owned())]).collect();
    assert_eq!(rows, want, "exactly the real outcome rows:\n{stdout}");
    // The forged text is still shown, escaped, on the log line that carried it.
    assert!(stdout.contains(r"forging alice\n#0 id_token     healthy"), "{stdout}");
    assert!(stdout.contains(r"\u{1b}[2K\u{1b}[31m"), "{stdout}");

    let stderr = String::from_utf8(err).unwrap();
    assert_eq!(stderr.lines().count(), 2, "one report for one bad line, and the summary: {stderr}");
    assert!(stderr.starts_with("line 3: skipped: ") && stderr.contains(r"x\n#9 id_token") && stderr.contains(r"\u{1b}[31m"), "{stderr}");
}

/// A seeded generator, so a failing case is the same on every run.
use fastrand::Rng;

/// Bytes that are never an event and never blank: arbitrary bytes, broken UTF-8, NUL, BOM,
/// lone surrogates, deep nesting, a cut event, over-long lines. No `\n` (that ends a line).
fn bad_line(rng: &mut Rng) -> Vec<u8> {
    let event = br#"{"kind":"id_token","claims":{"sub":"x"}}"#;
    let mut line = match rng.usize(..9) {
        0 => {
            let mut l: Vec<u8> = (0..1 + rng.usize(..64)).map(|_| rng.u8(..)).collect();
            l[0] = b'~'; // never blank, never JSON
            l
        }
        1 => {
            let mut l = event.to_vec();
            let at = rng.usize(..l.len() + 1);
            let bad: &[&[u8]] = &[b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\x80", b"\x80\x80"];
            l.splice(at..at, bad[rng.usize(..bad.len())].iter().copied());
            l
        }
        2 => {
            let mut l = event.to_vec();
            l.insert(1 + rng.usize(..l.len() - 1), 0);
            l
        }
        3 => [&b"\xef\xbb\xbf"[..], event].concat(),
        4 => br#"{"kind":"id_token","claims":{"sub":"\ud800"}}"#.to_vec(),
        5 => [&br#"{"kind":"id_token","claims":{"a":"#[..], &vec![b'['; 129 + rng.usize(..50_000)]].concat(),
        6 => event[..1 + rng.usize(..event.len() - 1)].to_vec(),
        7 if rng.usize(..8) == 0 => vec![b'{'; tokenwatch::MAX_LINE_BYTES + 1 + rng.usize(..3 << 20)],
        _ => FORGING_LINE.as_bytes().to_vec(),
    };
    for b in &mut line {
        if *b == b'\n' {
            *b = b'N';
        }
    }
    line
}

#[test]
fn any_bad_bytes_cost_only_their_own_line() {
    let mut rng = Rng::with_seed(0x0dd_b17e5);
    for case in 0..24 {
        let mut input = Vec::new();
        let mut valid = Vec::new();
        let mut bad = Vec::new();
        let count = 1 + rng.usize(..40);
        for i in 0..count {
            match rng.usize(..5) {
                0 | 1 => {
                    let kind = if rng.usize(..2) == 0 { "id_token" } else { "access_token" };
                    input.extend_from_slice(format!(r#"{{"kind":"{kind}","claims":{{"sub":"s{case}-{i}"}}}}"#).as_bytes());
                    valid.push(i);
                }
                2 => {} // blank
                _ => {
                    input.extend(bad_line(&mut rng));
                    bad.push(i);
                }
            }
            let last = i + 1 == count;
            input.extend_from_slice(match rng.usize(..3) {
                _ if last && rng.usize(..2) == 0 && !input.ends_with(b"\n") => b"",
                0 => b"\r\n",
                _ => b"\n",
            });
        }
        let (summary, records, _) = run_bytes(vec![probe("p", "record")], &input);
        let context = format!("case {case}: {}", String::from_utf8_lossy(&input[..input.len().min(4000)]));
        assert_eq!(counts(&summary), (valid.len() as u64, bad.len() as u64, 0), "{context}");
        let errors: Vec<u64> = records.iter().filter(|r| r["type"] == "error").map(|r| r["line"].as_u64().unwrap()).collect();
        let want: Vec<u64> = bad.iter().map(|&i| i as u64 + 1).collect();
        assert_eq!(errors, want, "each bad line reported once, with its number: {context}");
        let outcomes: Vec<u64> = records.iter().filter(|r| r["type"] == "outcome").map(|r| r["event"].as_u64().unwrap()).collect();
        let want: Vec<u64> = valid.iter().map(|&i| i as u64).collect();
        assert_eq!(outcomes, want, "every valid event dispatched: {context}");
        for i in &valid {
            let logged = records.iter().any(|r| r["type"] == "log" && r["event"] == *i && r["message"].as_str().unwrap().ends_with(&format!(" s{case}-{i}")));
            assert!(logged, "event {i} reached the listener: {context}");
        }
    }
}

/// One stream for both outputs, as `2>&1` gives a terminal: shows what lands where.
#[derive(Clone, Default)]
struct Both(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Both {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lifecycle_listeners() -> Vec<tokenwatch::ListenerConfig> {
    vec![
        probe("ok", "record"),
        probe("off", "disabled"),
        probe("broken", "init-fail"),
        probe("boom", "panic").with_limits(LimitsConfig { max_consecutive_traps: Some(2), ..Default::default() }),
    ]
}

const THREE: &str = r#"{"kind":"id_token","claims":{"sub":"a"}}
{"kind":"id_token","claims":{"sub":"b"}}
{"kind":"id_token","claims":{"sub":"c"}}
"#;

#[test]
fn properties_a_listener_does_not_accept_are_warned_about_at_the_start() {
    let mut typo = probe("typo", "record");
    typo.properties.insert("declare_properties".into(), "mode,declare_properties".into());
    typo.properties.insert("mdoe".into(), "loop".into());
    let (_, records, _) = run(vec![typo.clone()], THREE);
    let start = records.iter().find(|r| r["type"] == "listener").expect("a listener record");
    let warnings = start["warnings"].as_array().unwrap_or_else(|| panic!("{start}"));
    assert!(warnings.len() == 1 && warnings[0].as_str().unwrap().starts_with("property \"mdoe\" is not one this listener accepts"), "{warnings:?}");
    for format in [Format::Text, Format::Quiet] {
        let (_, _, err) = run_format(vec![typo.clone()], THREE.as_bytes(), format);
        let err = String::from_utf8(err).unwrap();
        assert!(err.starts_with("listener typo: warning: property \"mdoe\" is not one this listener accepts"), "{format:?}: {err}");
    }
}

#[test]
fn lifecycle_is_reported_at_the_start_and_where_it_changes() {
    let (summary, records, _) = run(lifecycle_listeners(), THREE);
    let listener_records: Vec<&Value> = records.iter().filter(|r| r["type"] == "listener").collect();
    assert_eq!(
        listener_records,
        [
            &json!({"type": "listener", "event": null, "listener": "ok", "state": "active", "handles": ["id_token", "access_token"], "contract": "0.2.0"}),
            &json!({"type": "listener", "event": null, "listener": "off", "state": "disabled", "reason": "is-enabled returned false", "handles": ["id_token", "access_token"], "contract": "0.2.0"}),
            &json!({"type": "listener", "event": null, "listener": "broken", "state": "init-failed", "reason": "probe refused to start: mode=init-fail", "handles": ["id_token", "access_token"], "contract": "0.2.0"}),
            &json!({"type": "listener", "event": null, "listener": "boom", "state": "active", "handles": ["id_token", "access_token"], "contract": "0.2.0"}),
            &listener_records[4].clone(),
        ]
    );
    let q = listener_records[4];
    assert_eq!((&q["event"], &q["listener"], &q["state"]), (&json!(1), &json!("boom"), &json!("quarantined")));
    assert!(q["reason"].as_str().unwrap().starts_with("2 traps in a row, the last: panic"), "{q}");
    let at = records.iter().position(|r| r == q).unwrap();
    let before = records[..at].iter().rev().find(|r| r["type"] == "outcome").unwrap();
    assert_eq!((before["event"].as_u64(), before["listener"].as_str()), (Some(1), Some("boom")), "right after the event that changed it");
    let states: Vec<(String, String)> =
        summary.listeners.iter().map(|(n, h)| (n.clone(), serde_json::to_value(h).unwrap()["state"].as_str().unwrap().to_owned())).collect();
    let want = [("ok", "active"), ("off", "disabled"), ("broken", "init-failed"), ("boom", "quarantined")];
    assert_eq!(states, want.map(|(n, s)| (n.to_owned(), s.to_owned())));
    assert_eq!(records.last().unwrap()["listeners"][3]["state"], "quarantined");

    // Text: the same on the error stream, in place.
    let logs = Arc::new(BufferedLog::default());
    let host = Host::builder(Config { listeners: lifecycle_listeners(), ..Config::default() }).log_sink(logs.clone()).build().unwrap();
    let both = Both::default();
    replay(&host, &logs, THREE.as_bytes(), Format::Text, &mut both.clone(), &mut both.clone()).unwrap();
    let text = String::from_utf8(both.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let find = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"));
    assert!(!text.contains("listener ok:"), "an active listener needs no line: {text}");
    assert!(find("listener off: disabled: is-enabled returned false") < find("#0 "), "{text}");
    assert!(find("listener broken: init-failed: probe refused to start: mode=init-fail") < find("#0 "), "{text}");
    let quarantined = find("listener boom: quarantined after event #1: 2 traps in a row, the last: panic");
    assert!(find("#1 id_token     boom             trap") < quarantined && quarantined < find("#2 "), "in place: {text}");
    assert!(find("#2 id_token     boom             quarantined") > quarantined, "{text}");
    assert!(
        lines.last().unwrap().starts_with("3 events, 0 malformed lines skipped, 2 traps; 3 listeners not active: off (disabled), broken (init-failed), boom (quarantined)"),
        "{text}"
    );
}

#[test]
fn a_start_that_traps_is_reported_with_its_cause() {
    let starved = probe("starved", "record").with_limits(LimitsConfig { fuel: Some(50), ..Default::default() });
    let (summary, records, _) = run(vec![starved], THREE);
    let first = &records.iter().find(|r| r["type"] == "listener").unwrap();
    assert_eq!(first["state"], "init-trapped", "{first}");
    assert!(first["reason"].as_str().unwrap().starts_with("fuel: wasm trap: all fuel consumed by WebAssembly"), "{first}");
    assert_eq!(summary.traps, 3, "each event's fresh start traps too (the start's own trap is not an event's)");
}

#[test]
fn quiet_shows_only_problems() {
    let input = format!("{THREE}not json\n");
    let listeners = vec![probe("good", "record"), probe("off", "disabled"), probe("bad", "panic")];
    let (summary, out, err) = run_format(listeners, input.as_bytes(), Format::Quiet);
    assert_eq!(counts(&summary), (3, 1, 3));
    let out = String::from_utf8(out).unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| !l.starts_with("    ")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows.iter().all(|r| r.starts_with('#') && r.contains(" bad ") && r.contains(" trap ")), "{out}");
    assert!(out.lines().filter(|l| l.starts_with("    ")).all(|l| l.starts_with("    error bad: ")), "{out}");
    let err = String::from_utf8(err).unwrap();
    assert!(!err.contains("listener off"), "a listener that disables itself is no problem: {err}");
    assert!(err.contains("line 4: skipped: ") && err.contains("3 events, 1 malformed lines skipped, 3 traps; 1 listener not active: off (disabled)"), "{err}");
}

#[test]
fn a_load_refusal_has_a_record() {
    let missing = tokenwatch::ListenerConfig::new("/nonexistent/gone.wasm");
    let Err(HostError::Load(e)) = Host::builder(Config { listeners: vec![missing], ..Config::default() }).build() else {
        panic!("a missing module is a load error");
    };
    let record = load_failed_record(&e);
    assert_eq!((&record["type"], &record["event"], &record["listener"], &record["state"]), (&json!("listener"), &Value::Null, &json!("gone"), &json!("load-failed")));
    assert!(record["reason"].as_str().unwrap().starts_with("cannot read"), "{record}");
}

#[test]
fn the_start_says_which_kinds_each_listener_handles() {
    let logs = Arc::new(BufferedLog::default());
    let host = Host::builder(Config {
        listeners: vec![listener("audit", "sign-in-audit"), listener("meter", "metering"), probe("both", "record")],
        ..Config::default()
    })
    .log_sink(logs.clone())
    .build()
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    replay(&host, &logs, &b""[..], Format::Json, &mut out, &mut err).unwrap();
    let handles: Vec<(String, serde_json::Value)> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["type"] == "listener")
        .map(|r| (r["listener"].as_str().unwrap().to_owned(), r["handles"].clone()))
        .collect();
    assert_eq!(
        handles,
        [
            ("audit".to_owned(), serde_json::json!(["id_token"])),
            ("meter".to_owned(), serde_json::json!(["access_token"])),
            ("both".to_owned(), serde_json::json!(["id_token", "access_token"])),
        ]
    );
}

#[test]
fn sink_totals_come_after_shutdown_in_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.ndjson");
    let config = || Config {
        listeners: vec![probe("p", "publish").with_sinks(["audit"])],
        sinks: vec![tokenwatch::SinkConfig::file("audit", &out)],
        outbox: tokenwatch::OutboxConfig { spool_dir: Some(dir.path().join("spool")), shutdown_ms: None },
        ..Config::default()
    };
    let logs = Arc::new(BufferedLog::default());
    let host = Host::builder(config()).log_sink(logs.clone()).build().unwrap();
    let (mut out_json, mut err) = (Vec::new(), Vec::new());
    replay(&host, &logs, THREE.as_bytes(), Format::Json, &mut out_json, &mut err).unwrap();
    drop(host);
    let records: Vec<Value> = String::from_utf8(out_json).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let n = records.len();
    assert_eq!(records[n - 1]["type"], "summary");
    let sinks = &records[n - 2];
    assert_eq!(sinks["type"], "sinks", "{sinks}");
    let s = &sinks["sinks"][0];
    assert_eq!((&s["name"], &s["type"], &s["enqueued"], &s["delivered"], &s["spool_depth"]), (&json!("audit"), &json!("file"), &json!(3), &json!(3), &json!(0)), "{s}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\nhello\nhello\n");

    let logs = Arc::new(BufferedLog::default());
    let host = Host::builder(config()).log_sink(logs.clone()).build().unwrap();
    let (mut text, mut err) = (Vec::new(), Vec::new());
    replay(&host, &logs, THREE.as_bytes(), Format::Text, &mut text, &mut err).unwrap();
    let err = String::from_utf8(err).unwrap();
    let line = format!("sink audit (file {}): 3 enqueued, 3 delivered, 0 retried, 0 spooled, 0 dead-lettered, 0 dropped; 0 left in the spool", out.display());
    assert!(err.lines().any(|l| l == line), "{err}");
}
