//! The spool across a real crash: `tokenwatch replay` publishing to a sink that is down is
//! killed with SIGKILL; the next run, with the sink back, delivers every message the spool
//! held, with the same ids, and leaves the spool empty.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn publisher() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist/sqs-publisher.wasm");
    assert!(p.exists(), "{} missing: run `make guests`", p.display());
    p.display().to_string()
}

fn replay(spool: &Path, sink: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenwatch"));
    c.args(["replay", "--quiet", "--listener", &publisher()])
        .args(["--property", "sqs-publisher.sink=q", "--property", "sqs-publisher.claims=sub"])
        .args(["--sink", &format!("q={sink}"), "--spool-dir"])
        .arg(spool)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn what_the_spool_held_when_the_host_was_killed_is_delivered_by_the_next_run() {
    if !Path::new("/dev/full").exists() {
        return; // the down sink is /dev/full (every write fails), Linux only
    }
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    // The sink is down: every message ends in the spool. 5,000 events are written, then
    // the host is killed while it still waits for more input.
    let mut first = replay(&spool, "file:/dev/full").spawn().unwrap();
    let mut input = first.stdin.take().unwrap();
    for i in 0..5_000 {
        writeln!(input, r#"{{"kind":"id_token","claims":{{"sub":"user-{i:05}"}}}}"#).unwrap();
    }
    input.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    first.kill().unwrap(); // SIGKILL: no shutdown, no final commit
    first.wait().unwrap();
    drop(input);

    let held: Vec<tokenwatch::Message> = {
        let spool = tokenwatch::Spool::open(&spool).unwrap();
        spool.peek("q", 100_000).unwrap().into_iter().map(|(_, m)| m).collect()
    };
    assert!(held.len() > 1_000, "the sink was down for 1.5 s: most messages should be spooled, {} were", held.len());
    let ids: std::collections::BTreeSet<&str> = held.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), held.len(), "ids are unique");

    // The sink is back; no new events.
    let out = dir.path().join("q.ndjson");
    let mut second = replay(&spool, &format!("file:{}", out.display())).spawn().unwrap();
    drop(second.stdin.take());
    let status = second.wait_with_output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    let lines: std::collections::BTreeSet<&str> = written.lines().collect();
    for m in &held {
        assert!(lines.contains(m.body.as_str()), "{} was spooled and not delivered", m.body);
    }
    let spool = tokenwatch::Spool::open(&spool).unwrap();
    assert_eq!(spool.depth("q"), 0, "the spool is empty");
    assert!(spool.dead_letters().unwrap().is_empty());
}
