//! `tokenwatch check`: the bundled examples pass, every bundled hostile guest fails with a
//! verdict naming its problem, and the `--json` document has the documented keys.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tokenwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenwatch")).args(args).output().unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guest(name: &str) -> String {
    let p = root().join("guests/dist").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} missing: run `make guests`", p.display());
    p.display().to_string()
}

fn text(o: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `check --json` on `args`: the exit status and the document.
fn check_json(args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let o = tokenwatch(&all);
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o, doc)
}

fn codes(doc: &serde_json::Value, key: &str) -> Vec<String> {
    doc[key].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_owned()).collect()
}

/// A config with `[signing]` (a fresh ES256 key) and `extra` after it.
fn signing_config(dir: &Path, extra: &str) -> String {
    let key = tokenwatch::signing::generate(tokenwatch::signing::Alg::ES256, "check-test");
    std::fs::write(dir.join("jwks.json"), key.private_jwks().to_string()).unwrap();
    let config = dir.join("tw.toml");
    std::fs::write(&config, format!("[signing]\nkey_file = \"jwks.json\"\nissuer = \"https://c2id.example.com\"\n\n{extra}")).unwrap();
    config.display().to_string()
}

#[test]
fn the_bundled_examples_pass() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root().join("demo/tokenwatch.toml").display().to_string();
    let demo_out = root().join("demo/out/tokens.ndjson");
    let before = std::fs::metadata(&demo_out).ok().map(|m| (m.len(), m.modified().unwrap()));
    // [signing], and the sink `set` its SETs go to (a file, replaced by check's own).
    let module = guest("sign-in-set");
    let with_signing = signing_config(
        dir.path(),
        &format!("[[sink]]\nname = \"set\"\ntype = \"file\"\npath = \"sets.ndjson\"\n\n[[listener]]\npath = {module:?}\nsinks = [\"set\"]\n"),
    );
    let cases: [(&str, Vec<&str>); 5] = [
        ("sign-in-audit", vec![]),
        ("metering", vec![]),
        // No [signing]: passes, with a warning that says how to grant it.
        ("sign-in-set", vec![]),
        ("sign-in-set", vec!["--config", &with_signing]),
        // The demo's [[listener]] table: its properties and its sink (replaced by a file).
        ("sqs-publisher", vec!["--config", &demo]),
    ];
    for (name, args) in cases {
        let module = guest(name);
        let mut all = vec![module.as_str()];
        all.extend_from_slice(&args);
        let (o, doc) = check_json(&all);
        assert!(o.status.success(), "{name} {args:?}: {}", text(&o));
        assert_eq!(doc["verdict"], "pass", "{name}: {doc}");
        assert_eq!(doc["lifecycle"]["init"], "ok", "{name}: {doc}");
        assert_eq!(doc["determinism"]["deterministic"], true, "{name}: {doc}");
        assert!(doc["figures"]["fuel"]["headroom_pct"].as_f64().unwrap() > 90.0, "{name}: {doc}");
        assert!(doc["figures"]["memory_bytes"]["max"].as_u64().unwrap() > 0, "{name}: {doc}");
        match (name, args.is_empty()) {
            ("sign-in-set", true) => {
                assert_eq!(codes(&doc, "warnings"), ["grant-missing"], "{doc}");
                assert!(doc["warnings"][0]["fix"].as_str().unwrap().contains("[signing]"), "{doc}");
            }
            ("sign-in-set", false) => {
                assert!(doc["signing"]["sets_signed"].as_u64().unwrap() > 0, "{doc}");
                assert_eq!(doc["publishing"]["by_sink"]["set"], doc["signing"]["sets_signed"], "{doc}");
                assert!(!dir.path().join("sets.ndjson").exists(), "check wrote to the configured sink");
                assert_eq!(codes(&doc, "warnings"), Vec::<String>::new(), "{doc}");
            }
            ("sqs-publisher", _) => {
                assert_eq!(doc["from_config_table"], true, "{doc}");
                assert_eq!(doc["publishing"]["published"], doc["events"]["total"], "{doc}");
                assert_eq!(doc["publishing"]["by_sink"]["tokens"], doc["events"]["total"], "{doc}");
            }
            _ => assert_eq!(codes(&doc, "warnings"), Vec::<String>::new(), "{name}: {doc}"),
        }
    }
    // The demo's file sink was not written: check delivers to a scratch directory.
    assert_eq!(std::fs::metadata(&demo_out).ok().map(|m| (m.len(), m.modified().unwrap())), before);
}

#[test]
fn every_hostile_guest_fails_with_its_problem_named() {
    let dir = tempfile::tempdir().unwrap();
    let probe = guest("probe");
    let forger = guest("set-forger");
    let forger_config = signing_config(dir.path(), "");
    let mut cases: Vec<(Vec<String>, &str, &str)> = Vec::new();
    for (mode, code, word) in [
        ("loop", "trap", "(fuel)"),
        ("memory-bomb", "trap", "(memory)"),
        ("stack-overflow", "trap", "(stack)"),
        ("panic", "trap", "probe panic"),
        ("panic-every-2", "trap", "(panic)"),
        ("init-fail", "init-failed", "mode=init-fail"),
        // 32 MiB of error message: building it runs out of fuel in init.
        ("init-error-huge", "init-trapped", "fuel"),
        ("disabled", "not-enabled", "is-enabled returned false"),
        ("log-flood", "log-budget", "64 lines"),
    ] {
        cases.push((vec![probe.clone(), "--property".into(), format!("mode={mode}")], code, word));
    }
    for (mode, code, word) in [
        ("id-token-shaped", "sets-refused", "refused"),
        ("access-token-shaped", "sets-refused", "refused"),
        ("forged-iss", "sets-refused", "refused"),
        ("flood", "sets-refused", "refused"),
        // 10 MB of claims: building them runs out of fuel before the host sees them.
        ("huge", "trap", "(fuel)"),
    ] {
        cases.push((vec![forger.clone(), "--config".into(), forger_config.clone(), "--property".into(), format!("mode={mode}")], code, word));
    }
    for (name, code, word) in [
        ("wasi-env", "wasi-not-granted", "wasi:"),
        ("wasi-import", "wasi-not-granted", "wasi:cli/environment"),
        ("unknown-import", "refused-import", "evil:net/socket@1.0.0"),
    ] {
        cases.push((vec![guest(name)], code, word));
    }
    // Hand-written hostile components of guests/hostile/wat that are built into guests/dist
    // (all of them, today: unknown-import and wasi-import, above).
    for wat in std::fs::read_dir(root().join("guests/hostile/wat")).unwrap() {
        let stem = wat.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
        if root().join("guests/dist").join(format!("{stem}.wasm")).exists() {
            assert!(cases.iter().any(|(args, _, _)| args[0].ends_with(&format!("/{stem}.wasm"))), "{stem} has no case");
        }
    }
    for (args, code, word) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (o, doc) = check_json(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        assert_eq!(doc["verdict"], "fail", "{args:?}: {doc}");
        let problem = doc["problems"].as_array().unwrap().iter().find(|p| p["code"] == *code);
        let problem = problem.unwrap_or_else(|| panic!("{args:?}: no {code} problem: {doc}"));
        assert!(problem["message"].as_str().unwrap().contains(word), "{args:?}: {problem}");
        assert!(!problem["fix"].as_str().unwrap().is_empty(), "{args:?}: {problem}");
    }
    // The text verdict names the problem and what to do.
    let o = tokenwatch(&["check", &guest("wasi-env")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(out.contains("verdict: FAIL (wasi-not-granted)") && out.contains("wasi = true"), "{out}");
}

#[test]
fn granting_wasi_in_the_config_lets_a_wasi_guest_pass_and_its_deadline_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tw.toml");
    let module = guest("wasi-env");
    std::fs::write(&config, format!("[[listener]]\npath = {module:?}\nwasi = true\n")).unwrap();
    let config = config.display().to_string();
    let (o, doc) = check_json(&[&module, "--config", &config]);
    assert!(o.status.success(), "{}", text(&o));
    let wasi: Vec<&serde_json::Value> = doc["imports"].as_array().unwrap().iter().filter(|i| i["name"].as_str().unwrap().starts_with("wasi:")).collect();
    assert!(!wasi.is_empty() && wasi.iter().all(|i| i["status"] == "needs-grant" && i["granted"] == true), "{doc}");
    // Sleeping 2 s in the handler: a deadline trap on the first event.
    let (o, doc) = check_json(&[&module, "--config", &config, "--property", "mode=sleep"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let trap = &doc["problems"].as_array().unwrap().iter().find(|p| p["code"] == "trap").unwrap()["message"];
    assert!(trap.as_str().unwrap().contains("(deadline)"), "{doc}");
}

#[test]
fn id_probe_passes_and_is_skipped_for_access_tokens() {
    // The id-probe fixture misbehaves in no way: it only exports the ID token handler.
    let (o, doc) = check_json(&[&guest("id-probe")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(doc["world"], "id-token-only");
    assert_eq!(doc["events"]["by_kind"]["access_token"]["skipped"], doc["events"]["by_kind"]["access_token"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>());
}

#[test]
fn headroom_under_the_margin_fails() {
    // sign-in-audit uses a few thousand fuel per event: with a 6,000 budget that leaves
    // less than the default 50%.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tw.toml");
    std::fs::write(&config, "[limits]\nfuel = 6000\n").unwrap();
    let config = config.display().to_string();
    let (o, doc) = check_json(&[&guest("sign-in-audit"), "--config", &config]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(codes(&doc, "problems"), ["headroom"], "{doc}");
    assert!(doc["problems"][0]["fix"].as_str().unwrap().contains("`fuel`"), "{doc}");
    // A margin of 0 lets it pass.
    let (o, _) = check_json(&[&guest("sign-in-audit"), "--config", &config, "--min-headroom", "0"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn json_has_the_documented_keys() {
    let (o, doc) = check_json(&[&guest("sign-in-audit")]);
    assert!(o.status.success(), "{}", text(&o));
    let mut keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "calls", "config", "contract", "determinism", "events", "figures", "from_config_table", "handles", "imports",
            "lifecycle", "limits", "listener", "load_error", "logs_dropped", "min_headroom_pct", "module", "module_bytes",
            "problems", "publishing", "sha256", "signing", "verdict", "warnings", "world",
        ]
    );
    for figure in ["fuel", "time_us", "memory_bytes"] {
        for key in ["p50", "p99", "max", "budget", "headroom_pct", "headroom_pct_p50", "headroom_pct_p99"] {
            assert!(doc["figures"][figure][key].is_number(), "{figure}.{key}: {doc}");
        }
    }
    for key in ["init", "init_error", "is_enabled", "properties", "init_logs", "state_after"] {
        assert!(doc["lifecycle"].get(key).is_some(), "lifecycle.{key}: {doc}");
    }
    for key in ["source", "total", "handled", "outcomes", "by_kind"] {
        assert!(doc["events"].get(key).is_some(), "events.{key}: {doc}");
    }
    for key in ["event", "kind", "outcome", "fuel", "fuel_exact", "micros", "memory_bytes", "logs", "sets_signed", "sets_refused", "published", "publishes_refused"] {
        assert!(doc["calls"][0].get(key).is_some(), "calls[].{key}: {doc}");
    }
    for key in ["name", "status", "grant", "granted", "reason"] {
        assert!(doc["imports"][0].get(key).is_some(), "imports[].{key}: {doc}");
    }
    assert_eq!(doc["limits"], serde_json::json!({"fuel": 10_000_000, "deadline_ms": 100, "memory_bytes": 64 << 20}));
    assert_eq!(doc["world"], "id-token-only");
    assert_eq!(doc["min_headroom_pct"], 50.0);
    assert!(doc["determinism"]["deterministic"].is_boolean() && doc["determinism"].get("difference").is_some());
    let statuses: Vec<&str> = doc["imports"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert!(statuses.iter().all(|s| ["provided", "needs-grant"].contains(s)), "{doc}");
}
