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
    // A command that fails before reading its input closes the pipe: that is its answer,
    // not a failure of the test.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_ref()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
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
    for import in ["claims.issued-at", "claims.subject", "claims.get", "context.client-id", "config.get", "log"] {
        assert!(doc["call_ns"][import].is_number(), "{import}: {doc}");
    }
    for t in ["1", "2"] {
        assert!(doc["events_per_second"][t].as_f64().is_some_and(|v| v > 0.0), "{doc}");
    }
    for case in ["up", "down"] {
        assert!(doc["publish_ns"][case]["median"].as_f64().is_some_and(|v| v > 0.0), "{doc}");
        assert!(doc["publish_ns"][case]["p99"].is_number(), "{doc}");
    }
    assert!(doc["file_messages_per_second"].as_f64().is_some_and(|v| v > 0.0), "{doc}");
    assert!(doc["targets"]["publish_ns"]["met"].is_boolean(), "{doc}");
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
        } else if let Some((_, name)) = line.split_once(' ').filter(|(phase, _)| ["init", "shutdown"].contains(phase)) {
            // `<phase> <listener>`, above the lines a listener logged outside any event
            assert!(["forge", "healthy"].contains(&name.trim_start()), "forged lifecycle row: {line:?}");
        } else {
            // `    <level> <listener>: <message>`
            let body = line.trim_start_matches(' ');
            let indent = line.len() - body.len();
            let (level, rest) = body.split_once(' ').unwrap_or((body, ""));
            let listener = rest.trim_start().split_once(": ").map_or("", |(l, _)| l);
            assert!(
                indent == 4 && ["trace", "debug", "info", "warn", "error"].contains(&level) && ["forge", "healthy"].contains(&listener),
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

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tokenwatch` with extra environment variables and its standard output going to `stdout`.
fn tokenwatch_with(args: &[&str], env: &[(&str, &str)], stdout: std::process::Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenwatch"))
        .args(args)
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"))).collect()
}

const TWO_EVENTS: &str = concat!(
    r#"{"kind":"id_token","claims":{"sub":"alice","aud":"app"}}"#, "\n",
    r#"{"kind":"access_token","claims":{"sub":"bob","client_id":"app"}}"#, "\n",
);

#[test]
fn lifecycle_failures_are_output_in_text_json_and_the_summary() {
    let metering = guest("metering");
    let bad = ["replay", "--listener", &metering, "--property", "metering.report_every=ten"];
    let reason = r#"report_every must be a positive integer, got "ten""#;

    // Text: on standard error, in place, and in the summary; still exit status 0.
    let o = tokenwatch(&bad, TWO_EVENTS);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.lines().any(|l| l == format!("listener metering: init-failed: {reason}")), "{err}");
    assert!(err.contains("2 events, 0 malformed lines skipped, 0 traps; 1 listener not active: metering (init-failed)"), "{err}");

    // JSON: a listener record at the start and in the summary record.
    let o = tokenwatch(&[&bad[..], &["--json"]].concat(), TWO_EVENTS);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "JSON mode writes nothing else");
    let records = json_lines(&o);
    assert_eq!(records[0], serde_json::json!({"type": "listener", "event": null, "listener": "metering", "state": "init-failed", "reason": reason, "handles": ["access_token"], "contract": "0.2.0"}));
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["events"], 2);
    assert_eq!(summary["listeners"][0], serde_json::json!({"listener": "metering", "state": "init-failed", "reason": reason}));

    // is-enabled false.
    let probe = guest("probe");
    let o = tokenwatch(&["replay", "--listener", &probe, "--property", "probe.mode=disabled"], TWO_EVENTS);
    assert!(stderr(&o).lines().any(|l| l == "listener probe: disabled: is-enabled returned false"), "{}", stderr(&o));

    // Quarantine, where it happens: after the fifth trap in a row.
    let six = TWO_EVENTS.repeat(3);
    let o = tokenwatch(&["replay", "--listener", &probe, "--property", "probe.mode=panic"], &six);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let line = err.lines().find(|l| l.starts_with("listener probe: quarantined after event #4: 5 traps in a row")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("panic"), "{line}");
    assert_eq!(err.matches("quarantined").count(), 2, "once in place, once in the summary, no log line besides: {err}");
    let o = tokenwatch(&["replay", "--json", "--listener", &probe, "--property", "probe.mode=panic"], &six);
    let q: Vec<_> = json_lines(&o).into_iter().filter(|r| r["type"] == "listener" && r["state"] == "quarantined").collect();
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["event"], 4);

    // A load refusal: exit status 1 with the message, and in JSON a record too.
    let wasi = guest("wasi-env");
    let o = tokenwatch(&["replay", "--json", "--listener", &wasi], TWO_EVENTS);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("tokenwatch: listener \"wasi-env\""), "{}", stderr(&o));
    let records = json_lines(&o);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((&records[0]["type"], &records[0]["listener"], &records[0]["state"]), (&"listener".into(), &"wasi-env".into(), &"load-failed".into()));
    assert!(records[0]["reason"].as_str().unwrap().contains("WASI is not granted"), "{}", records[0]);
}

#[test]
fn wasi_option_grants_wasi_to_a_named_listener() {
    let wasi = guest("wasi-env");
    let o = tokenwatch(&["replay", "--listener", &wasi, "--wasi", "wasi-env"], TWO_EVENTS);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("wasi-env: env=0") && out.contains("#0 id_token     wasi-env         ok"), "{out}");

    let audit = guest("sign-in-audit");
    let o = tokenwatch(&["replay", "--listener", &wasi, "--listener", &audit, "--wasi", "nope"], TWO_EVENTS);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "tokenwatch: --wasi \"nope\": no listener named \"nope\" (listeners: wasi-env, sign-in-audit)\n");
}

/// A pipe whose reader is already gone: every write to it fails with `BrokenPipe`.
fn closed_pipe() -> std::process::Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

#[test]
fn a_closed_standard_output_ends_output_commands_quietly_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ec.pem");
    std::fs::write(&key, tokenwatch::signing::generate(tokenwatch::signing::Alg::ES256, "k").pkcs8_pem).unwrap();
    let o = tokenwatch_with(&["keys", "jwks", "--signing-key", key.to_str().unwrap()], &[], closed_pipe());
    assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(0), ""), "keys jwks");

    let events = root().join("demo/events.ndjson");
    let probe = guest("probe");
    for format in [None, Some("--json"), Some("--quiet")] {
        let mut args = vec!["replay", "--listener", &probe, "--property", "probe.mode=panic", events.to_str().unwrap()];
        args.extend(format);
        let o = tokenwatch_with(&args, &[], closed_pipe());
        assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(0), ""), "replay {format:?}");
    }
}

/// `script` runs a command on a pseudo-terminal; `None` where it is not installed.
fn on_a_terminal(command: &str, env: &[(&str, &str)]) -> Option<Vec<u8>> {
    let o = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(o.stdout)
}

#[test]
fn log_lines_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    let audit = guest("sign-in-audit");
    let events = root().join("demo/events.ndjson");
    let args = ["replay", "--listener", &audit, events.to_str().unwrap()];
    let o = tokenwatch_with(&args, &[("RUST_LOG", "tokenwatch=info")], std::process::Stdio::piped());
    assert!(stderr(&o).contains("listener loaded"), "{}", stderr(&o));
    assert!(!o.stderr.contains(&0x1b), "colour codes in a pipe: {}", stderr(&o));

    let command = format!("{} {}", env!("CARGO_BIN_EXE_tokenwatch"), args.join(" "));
    let Some(coloured) = on_a_terminal(&command, &[("RUST_LOG", "tokenwatch=info")]) else {
        eprintln!("skipped the terminal cases: no `script` command");
        return;
    };
    assert!(coloured.contains(&0x1b), "a terminal gets colour: {}", String::from_utf8_lossy(&coloured));
    for no_color in ["1", "yes"] {
        let plain = on_a_terminal(&command, &[("RUST_LOG", "tokenwatch=info"), ("NO_COLOR", no_color)]).unwrap();
        let text = String::from_utf8_lossy(&plain);
        assert!(text.contains("listener loaded"), "{text}");
        assert!(!plain.contains(&0x1b), "NO_COLOR={no_color}: {text}");
    }
}

#[test]
fn text_output_reads_top_down_outcome_then_its_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (probe_named(dir.path(), "a"), probe_named(dir.path(), "b"));
    let o = tokenwatch(&["replay", "--listener", &a, "--listener", &b], TWO_EVENTS);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let want = [
        "init            a",
        "    info  a: init",
        "init            b",
        "    info  b: init",
        "#0 id_token     a                ok",
        "    info  a: id-token alice",
        "#0 id_token     b                ok",
        "    info  b: id-token alice",
        "#1 access_token a                ok",
        "    info  a: access-token bob",
        "#1 access_token b                ok",
        "    info  b: access-token bob",
        "shutdown        a",
        "    info  a: shutdown",
        "shutdown        b",
        "    info  b: shutdown",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, want) in lines.iter().zip(want) {
        assert!(line.starts_with(want), "expected {want:?}, got {line:?} in\n{out}");
    }
}

#[test]
fn quiet_prints_only_problems() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (probe_named(dir.path(), "good"), probe_named(dir.path(), "bad"));
    let input = format!("{TWO_EVENTS}not json\n");
    let o = tokenwatch(&["replay", "--quiet", "--listener", &good, "--listener", &bad, "--property", "bad.mode=panic"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(rows.len(), 2, "only the trap rows: {out}");
    assert!(rows.iter().all(|r| r.contains(" bad ") && r.contains(" trap ")), "{out}");
    assert!(out.lines().filter(|l| !l.starts_with('#')).all(|l| l.starts_with("    error bad: ")), "only warnings and errors under them: {out}");
    let err = stderr(&o);
    assert!(err.contains("line 3: skipped: ") && err.contains("2 events, 1 malformed lines skipped, 2 traps"), "{err}");

    let o = tokenwatch(&["replay", "-q", "--listener", &good, "--property", "good.mode=init-fail"], TWO_EVENTS);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "disabled rows are no problem of their own");
    assert!(stderr(&o).starts_with("listener good: init-failed: probe refused to start"), "{}", stderr(&o));

    let o = tokenwatch(&["replay", "--quiet", "--json", "--listener", &good], TWO_EVENTS);
    assert_eq!(o.status.code(), Some(2), "--quiet is for text");
}

#[test]
fn keys_jwks_without_a_key_names_both_ways_to_give_one() {
    let o = tokenwatch(&["keys", "jwks"], "");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--config") && err.contains("--signing-key"), "{err}");
}

#[test]
fn the_public_surface_is_the_embedding_api() {
    let lib = std::fs::read_to_string(root().join("host/src/lib.rs")).unwrap();
    let mut hidden = false;
    for line in lib.lines().map(str::trim) {
        if let Some(module) = line.strip_prefix("pub mod ") {
            let module = module.trim_end_matches(';');
            assert!(hidden || module == "signing", "`pub mod {module}` is public API: make it private and re-export what embedders need, or #[doc(hidden)]");
        }
        if !line.starts_with("///") && !line.starts_with("#[") {
            hidden = false;
        }
        if line == "#[doc(hidden)]" {
            hidden = true;
        }
    }
    // What an embedder writes, from the crate root.
    let _: fn(tokenwatch::Config) -> tokenwatch::HostBuilder = tokenwatch::Host::builder;
    let l = tokenwatch::ListenerConfig::new("x.wasm").with_name("x").with_property("k", "v").with_limits(tokenwatch::LimitsConfig::default());
    let config = tokenwatch::Config::new().with_listener(l).with_listener(tokenwatch::ListenerConfig { path: "y.wasm".into(), ..Default::default() });
    assert!(config.validate().is_ok());
    let e = tokenwatch::Config::from_toml("[limits]\nfuel = 0\n", ".".as_ref()).unwrap_err();
    assert_eq!((e.kind(), e.place(), e.key()), (tokenwatch::ConfigErrorKind::Invalid, Some("[limits]"), Some("fuel")));
}

/// The embedding example, built by `cargo test` (or here, when only this test file was
/// built), run from the repository root.
#[test]
fn the_embedding_example_shows_guest_logs() {
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples/embed");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--locked", "--workspace", "--example", "embed"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(built.success() && bin.exists(), "{}", bin.display());
    let o = Command::new(&bin).current_dir(root()).env_remove("RUST_LOG").output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("sign-in sub=alice"), "the guest's log line: {err}");
    assert!(err.contains("access-tokens total=1"), "the listener configured in code: {err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("metering-every-event Active delivered=1"), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn replay_writes_the_metrics_exposition_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.prom");
    let events = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../demo/events.ndjson")).unwrap();
    let o = tokenwatch(&["replay", "--quiet", "--listener", &guest("metering"), "--metrics", file.to_str().unwrap(), "-"], events);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    for line in [r#"guest_access_tokens_total{listener="metering",client_id="webapp"} 2"#, r#"tokenwatch_listener_events_total{listener="metering"} 7"#] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}
