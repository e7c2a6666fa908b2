//! The outbox across a real crash: `tokenwatch replay` publishing to a sink that is down is
//! killed with SIGKILL while it is still replaying; the next run, with the sink back, delivers
//! every message the first run accepted (from the spool, and from the journal what was still
//! in the memory queue or in flight), and leaves the spool and the journal empty.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Events replayed in all.
const EVENTS: usize = 10_000;
/// The first run is killed once it has reported this many events.
const KILL_AFTER: usize = 3_000;

fn publisher() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist/sqs-publisher.wasm");
    assert!(p.exists(), "{} missing: run `make guests`", p.display());
    p.display().to_string()
}

/// Event `i`: its subject is unique, and so is the message sqs-publisher makes of it.
fn event(i: usize) -> String {
    format!(r#"{{"kind":"id_token","claims":{{"sub":"user-{i:05}"}}}}"#)
}

fn body(i: usize) -> String {
    format!(r#"{{"sub":"user-{i:05}"}}"#)
}

/// `replay --json` of standard input, publishing each event's `sub` to the sink `q`.
fn replay(spool: &Path, sink: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenwatch"));
    c.args(["replay", "--json", "--listener", &publisher()])
        .args(["--property", "sqs-publisher.sink=q", "--property", "sqs-publisher.claims=sub"])
        .args(["--sink", &format!("q={sink}"), "--spool-dir"])
        .arg(spool)
        .arg("-")
        .env("RUST_LOG", "tokenwatch=info,tokenwatch::listener=off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// What one run's JSON records say: the events sqs-publisher handled (`ok`), and every
/// warning or error it logged (a publish that failed would be one).
#[derive(Default)]
struct Records {
    handled: Vec<usize>,
    problems: Vec<String>,
    sinks: Option<serde_json::Value>,
}

impl Records {
    fn add(&mut self, line: &str) {
        let r: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match r["type"].as_str() {
            Some("outcome") => {
                assert_eq!(r["outcome"], "ok", "{line}");
                self.handled.push(r["event"].as_u64().unwrap() as usize);
            }
            Some("log") if r["level"] != "info" && r["level"] != "debug" => self.problems.push(line.to_owned()),
            Some("sinks") => self.sinks = Some(r["sinks"][0].clone()),
            _ => {}
        }
    }
}

/// The files left under `dir`, however deep.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                files(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn every_message_of_a_run_killed_midway_is_delivered_by_the_next_run() {
    if !Path::new("/dev/full").exists() {
        return; // the down sink is /dev/full (every write fails), Linux only
    }
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");

    // Run 1: the sink is down. Events are written as fast as the host reads them, and the
    // host is killed as soon as it has reported KILL_AFTER of them: mid-replay, with the
    // rest of the input not yet written and standard input still open.
    let mut first = replay(&spool, "file:/dev/full").spawn().unwrap();
    let mut first_stderr = first.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut first_stderr, &mut text).unwrap();
        text
    });
    let mut input = first.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut written = 0;
        for i in 0..EVENTS {
            if writeln!(input, "{}", event(i)).is_err() {
                break; // the host is gone
            }
            written += 1;
        }
        written
    });
    let mut records = Records::default();
    let mut stdout = BufReader::new(first.stdout.take().unwrap());
    let mut line = String::new();
    while records.handled.len() < KILL_AFTER {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the first run ended before it was killed");
        records.add(&line);
    }
    first.kill().unwrap(); // SIGKILL: no shutdown, no last spooling
    // The records the host had written before it died are events it handled too.
    for line in stdout.lines() {
        records.add(&line.unwrap());
    }
    let status = first.wait().unwrap();
    let lines_written = writer.join().unwrap();
    let stderr = stderr_reader.join().unwrap();
    assert!(records.sinks.is_none(), "the first run was killed, it did not shut down: {stderr}");
    assert!(status.code().is_none(), "killed by a signal: {status:?}");
    assert!(lines_written < EVENTS, "killed before the input was all written ({lines_written} of {EVENTS} lines)");
    let handled = records.handled.len();
    assert_eq!(records.handled, (0..handled).collect::<Vec<_>>(), "events are reported in order");
    assert!((KILL_AFTER..EVENTS).contains(&handled), "killed midway: {handled} events handled");
    assert!(records.problems.is_empty(), "every publish was accepted: {:?}", records.problems);

    // Run 2: the sink is back; the events the first run did not report are replayed (some
    // may have been handled unreported: their messages may arrive twice).
    let out = dir.path().join("q.ndjson");
    let mut second = replay(&spool, &format!("file:{}", out.display())).spawn().unwrap();
    let mut input = second.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in handled..EVENTS {
            writeln!(input, "{}", event(i)).unwrap();
        }
    });
    let output = second.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let mut records = Records::default();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        records.add(line);
    }
    assert_eq!(records.handled.len(), EVENTS - handled);
    assert!(records.problems.is_empty(), "{:?}", records.problems);
    let sinks = records.sinks.expect("a sinks record");
    assert!(sinks["dropped"].as_array().unwrap().iter().all(|d| d[1] == 0), "nothing dropped: {sinks}");
    assert_eq!(sinks["dead_lettered"], 0, "{sinks}");

    // Every event's message arrived, at least once, and nothing else did.
    let delivered = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = delivered.lines().collect();
    let arrived: BTreeSet<&str> = lines.iter().copied().collect();
    let expected: Vec<String> = (0..EVENTS).map(body).collect();
    let missing: Vec<&String> = expected.iter().filter(|b| !arrived.contains(b.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of the {handled} messages the first run accepted never arrived (first: {:?})",
        missing.len(),
        missing.first()
    );
    assert_eq!(arrived.len(), EVENTS, "nothing but the events' messages");

    // What the first run's queue held at the kill came back from the journal.
    let recovered: u64 = stderr
        .lines()
        .find_map(|l| {
            let (n, rest) = l.split("recovered ").nth(1)?.split_once(' ')?;
            rest.starts_with("messages from the journal of sink q").then(|| n.parse().ok())?
        })
        .unwrap_or(0);
    assert!(recovered > 0, "the kill left messages in the journal: {stderr}");
    eprintln!(
        "first run: {handled} events handled, {lines_written} lines written before the kill; second run: {recovered} messages from the journal, {} lines in the sink ({} duplicates)",
        lines.len(),
        lines.len() - EVENTS,
    );

    let spool_db = tokenwatch::Spool::open(&spool).unwrap();
    assert_eq!(spool_db.depth("q"), 0, "the spool is empty");
    assert!(spool_db.dead_letters().unwrap().is_empty(), "nothing dead-lettered");
    let left: Vec<PathBuf> = files(&spool.join("journal"));
    assert!(left.is_empty(), "the journal is empty: {left:?}");
}
