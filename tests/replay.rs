//! The replay path as a library call: output records, bad lines, traps as outcomes.

use serde_json::Value;
use std::sync::Arc;
use tokenwatch::replay::{replay, BufferedLog, ReplaySummary};
use tokenwatch::{Config, Host};
use tokenwatch_tests::*;

fn run(listeners: Vec<tokenwatch::ListenerConfig>, input: &str) -> (ReplaySummary, Vec<Value>, String) {
    run_bytes(listeners, input.as_bytes())
}

fn run_bytes(listeners: Vec<tokenwatch::ListenerConfig>, input: &[u8]) -> (ReplaySummary, Vec<Value>, String) {
    let logs = Arc::new(BufferedLog::default());
    let config = Config { listeners, ..Config::default() };
    let host = Host::builder(config).log_sink(logs.clone()).build().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = replay(&host, &logs, input, true, &mut out, &mut err).expect("only a read error ends a replay");
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
    let (summary, records, _) = run(vec![probe("p", "record")], EVENTS);
    assert_eq!(summary, ReplaySummary { events: 2, malformed: 1, traps: 0 });
    let kinds: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["log", "log", "outcome", "error", "log", "outcome", "log"]);
    assert_eq!(records[0]["message"], "init");
    assert!(records[0]["event"].is_null(), "init belongs to no event");
    assert_eq!(records[1]["event"], 0);
    assert_eq!(records[1]["listener"], "p");
    assert_eq!(records[1]["level"], "info");
    assert_eq!(records[1]["message"], "id-token alice");
    let outcome = &records[2];
    assert_eq!(outcome["outcome"], "ok");
    assert_eq!(outcome["event"], 0);
    assert!(outcome["fuel"].as_u64().unwrap() > 0);
    assert!(outcome["micros"].is_u64());
    let error = &records[3];
    assert_eq!(error["line"], 2);
    assert!(error["error"].as_str().unwrap().contains("invalid event JSON"), "{error}");
    assert_eq!(records[5]["event"], 2, "0-based line index, bad line included");
    assert_eq!(records[6]["message"], "shutdown");
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
    let logs = Arc::new(BufferedLog::default());
    let config = Config { listeners, ..Config::default() };
    let host = Host::builder(config).log_sink(logs.clone()).build().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = replay(&host, &logs, input, false, &mut out, &mut err).unwrap();
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
        } else {
            let rest = line.trim_start_matches(' ');
            let spaces = line.len() - rest.len();
            let (level, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("not a log line: {line:?}"));
            let listener = rest.trim_start().split_once(": ").map(|(l, _)| l);
            assert!(
                (spaces == 3 || spaces == 4)
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
    assert_eq!(summary, ReplaySummary { events: 3, malformed: 1, traps: 0 });
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
    assert_eq!(stderr.lines().count(), 1, "one report for one bad line: {stderr}");
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
        7 if rng.usize(..8) == 0 => vec![b'{'; tokenwatch::event::MAX_LINE_BYTES + 1 + rng.usize(..3 << 20)],
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
        assert_eq!(summary, ReplaySummary { events: valid.len() as u64, malformed: bad.len() as u64, traps: 0 }, "{context}");
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
