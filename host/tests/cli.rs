//! The `tokenwatch` command: exit statuses and messages for the user's mistakes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn tokenwatch(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwatch"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn guest(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} missing: run `make guests`", p.display());
    p.display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn replay_reads_stdin_and_reports_bad_lines_without_failing() {
    let audit = guest("sign-in-audit");
    let input = "{\"kind\":\"id_token\",\"claims\":{\"sub\":\"alice\",\"aud\":\"app\"}}\nnot json\n";
    let o = tokenwatch(&["replay", "--listener", &audit, "-"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("sign-in-audit") && out.contains(" ok "), "{out}");
    assert!(stderr(&o).contains("line 2: skipped"), "{}", stderr(&o));
}

#[test]
fn property_overrides_reach_the_listener() {
    let probe = guest("probe");
    let input = "{\"kind\":\"id_token\",\"claims\":{\"sub\":\"alice\"}}\n";
    let o = tokenwatch(&["replay", "--json", "--listener", &probe, "--property", "probe.mode=panic"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(r#""trap":"panic""#), "{out}");
}

#[test]
fn host_errors_exit_non_zero_with_a_message() {
    let audit = guest("sign-in-audit");
    let o = tokenwatch(&["replay", "--listener", &audit, "/nonexistent/events.ndjson"], "");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot read events /nonexistent/events.ndjson"), "{}", stderr(&o));

    let o = tokenwatch(&["replay", "--listener", "/nonexistent/x.wasm"], "");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("listener \"x\""), "{}", stderr(&o));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tw.toml");
    std::fs::write(&config, "[limits]\nfuel = 1\nspeed = 2\n").unwrap();
    let o = tokenwatch(&["replay", "--config", config.to_str().unwrap()], "");
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("tw.toml") && e.contains("unknown field `speed`"), "{e}");

    let o = tokenwatch(&["replay"], "");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no listeners"), "{}", stderr(&o));
}

#[test]
fn bench_json_has_the_documented_keys() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist");
    let o = tokenwatch(&["bench", "--json", "--rounds", "1", "--guests", dist.to_str().unwrap()], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "ratio_rust_guest_vs_native",
        "fuel_overhead_ratio",
        "ns_per_fuel",
        "empty_guest_ns",
        "rs256_speedup_vs_jsonwebtoken",
    ] {
        assert!(doc[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {doc}");
    }
    for n in ["1", "10", "50"] {
        assert!(doc["sync_dispatch_ns"][n].as_f64().is_some_and(|v| v > 0.0), "{doc}");
    }
    for import in ["claims.issued-at", "claims.subject", "claims.get", "context.client-id", "log"] {
        assert!(doc["host_call_ns"][import].is_number(), "{import}: {doc}");
    }
    for t in ["1", "2"] {
        assert!(doc["events_per_second"][t].as_f64().is_some_and(|v| v > 0.0), "{doc}");
    }
}
