//! The `tokenwatch` command: exit statuses and messages for the user's mistakes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn tokenwatch(args: &[&str], stdin: impl AsRef<[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwatch"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_ref()).unwrap();
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

/// `guests/dist/probe.wasm` copied into `dir` as `<name>.wasm`, so listeners get that name.
fn probe_named(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(format!("{name}.wasm"));
    std::fs::copy(guest("probe"), &path).unwrap();
    path.display().to_string()
}

#[test]
fn guest_log_lines_and_bad_event_lines_cannot_forge_text_output() {
    let dir = tempfile::tempdir().unwrap();
    let (forge, healthy) = (probe_named(dir.path(), "forge"), probe_named(dir.path(), "healthy"));
    let input = concat!(
        r#"{"kind":"id_token","claims":{"sub":"alice","aud":"app"}}"#, "\n",
        r#"{"kind":"access_token","claims":{"sub":"bob","client_id":"app"}}"#, "\n",
        r#"{"kind":"id_token","claims":{},"x\n#9 id_token     healthy          ok          fuel=1 1µs\u001b[31m":1}"#, "\n",
        r#"{"kind":"id_token","claims":{"sub":"carol","aud":"app"}}"#, "\n",
    );
    let o = tokenwatch(&["replay", "--listener", &forge, "--listener", &healthy, "--property", "forge.mode=log-forge"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        assert!(!bytes.contains(&0x1b) && !bytes.contains(&b'\r'), "ESC or CR in {name}: {:?}", String::from_utf8_lossy(bytes));
    }
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let mut rows = Vec::new();
    for line in out.lines() {
        if line.starts_with('#') {
            // `#<event> <kind> <listener> <outcome> fuel=<n> <m>µs`
            let f: Vec<&str> = line.split_whitespace().collect();
            let real = matches!((f[0], f[1]), ("#0", "id_token") | ("#1", "access_token") | ("#3", "id_token"));
            assert!(real && ["forge", "healthy"].contains(&f[2]) && f[4].starts_with("fuel="), "forged row: {line:?}");
            rows.push(format!("{} {} {} {}", f[0], f[1], f[2], f[3]));
        } else {
            // `   <level> <listener>: <message>` (3 spaces outside an event, 4 in one)
            let body = line.trim_start_matches(' ');
            let indent = line.len() - body.len();
            let (level, rest) = body.split_once(' ').unwrap_or((body, ""));
            let listener = rest.trim_start().split_once(": ").map_or("", |(l, _)| l);
            assert!(
                (indent == 3 || indent == 4) && ["trace", "debug", "info", "warn", "error"].contains(&level) && ["forge", "healthy"].contains(&listener),
                "neither an outcome row nor a log line: {line:?}"
            );
        }
    }
    let want = [
        "#0 id_token forge ok", "#0 id_token healthy ok",
        "#1 access_token forge ok", "#1 access_token healthy ok",
        "#3 id_token forge ok", "#3 id_token healthy ok",
    ];
    assert_eq!(rows, want, "{out}");
    assert!(out.contains(r"forging alice\n#0 id_token     healthy          ok"), "the forged text is shown escaped: {out}");

    let err = stderr(&o);
    let reports: Vec<&str> = err.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(reports.len(), 1, "{err}");
    assert!(reports[0].starts_with("line 3: skipped: ") && reports[0].contains(r"x\n#9 id_token") && reports[0].contains(r"\u{1b}[31m"), "{err}");
    assert_eq!(err.lines().count(), 2, "the report and the summary: {err}");
}

#[test]
fn invalid_utf8_costs_only_its_line_on_stdin_and_from_a_file() {
    let audit = guest("sign-in-audit");
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"alice\",\"aud\":\"app\"}}\n");
    input.extend_from_slice(b"\xff\xfe{\"kind\":\"id_token\"}\n");
    input.extend_from_slice(b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"bob\",\"aud\":\"app\"}}\r\n");
    input.extend_from_slice(b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"caf\xc3\"}}\n");
    input.extend_from_slice(b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"carol\",\"aud\":\"app\"}}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, &input).unwrap();
    for (how, o) in [
        ("stdin", tokenwatch(&["replay", "--listener", &audit], &input)),
        ("file", tokenwatch(&["replay", "--listener", &audit, file.to_str().unwrap()], b"")),
    ] {
        let err = stderr(&o);
        assert!(o.status.success(), "{how}: {err}");
        let out = String::from_utf8_lossy(&o.stdout);
        for row in ["#0 id_token     sign-in-audit    ok", "#2 id_token     sign-in-audit    ok", "#4 id_token     sign-in-audit    ok"] {
            assert!(out.contains(row), "{how}: no {row:?} in\n{out}");
        }
        assert!(err.contains("line 2: skipped: invalid UTF-8 at byte offset 0\n"), "{how}: {err}");
        assert!(err.contains("line 4: skipped: invalid UTF-8 at byte offset 39\n"), "{how}: {err}");
        assert!(err.contains("3 events, 2 malformed lines skipped, 0 traps"), "{how}: {err}");
    }
}
