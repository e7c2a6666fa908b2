//! `tokenwatch conformance`: the shipped suite passes on the default config with at least 30
//! cases, its JSON document has the documented keys, `--filter` selects, the operator's
//! config is used (and a bad one named), and the exit status follows the verdict.

use std::process::{Command, Output};

fn tokenwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenwatch")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["conformance", "--json"];
    all.extend_from_slice(args);
    let o = tokenwatch(&all);
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (o, doc)
}

#[test]
fn the_whole_suite_passes_on_the_default_config() {
    let (o, doc) = json(&[]);
    let cases = doc["cases"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = cases.iter().filter(|c| c["status"] != "pass").collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(o.status.success(), "{}", text(&o));
    assert!(doc["passed"].as_u64().unwrap() >= 30, "{doc}");
    assert_eq!(doc["failed"], 0);
    assert_eq!(doc["passed"].as_u64().unwrap() as usize, cases.len());
    for c in cases {
        for key in ["name", "attacks", "status", "expected", "observed", "time_ms"] {
            assert!(!c[key].is_null(), "{key} missing in {c}");
        }
    }
}

#[test]
fn filter_selects_by_name_and_the_table_has_a_row_each() {
    let (o, doc) = json(&["--filter", "set-"]);
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<&str> = doc["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.len() >= 5 && names.iter().all(|n| n.contains("set-")), "{names:?}");
    let o = tokenwatch(&["conformance", "--filter", "cpu-loop-fuel"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.starts_with("case ") && out.contains("\ncpu-loop-fuel ") && out.contains(" pass "), "{out}");
    assert!(out.contains("1 cases: 1 passed, 0 failed"), "{out}");
    let o = tokenwatch(&["conformance", "--filter", "no-such-case"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no case name contains \"no-such-case\""), "{}", text(&o));
}

#[test]
fn the_operators_config_is_used_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A deadline too short for a 2 s sleep to matter, and limits the cases still hold under.
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[limits]\ndeadline_ms = 200\nfuel = 20_000_000\n").unwrap();
    let (o, doc) = json(&["--config", good.to_str().unwrap(), "--filter", "cpu-loop"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(doc["failed"], 0, "{doc}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nfuell = 1\n").unwrap();
    let o = tokenwatch(&["conformance", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("fuell"), "{err}");
}

#[test]
fn a_failing_case_fails_the_run() {
    // One unit of fuel per call: no listener can run, the canary included. The malformed
    // module is still refused, so what fails is the canary check.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("starved.toml");
    std::fs::write(&config, "[limits]\nfuel = 1\n").unwrap();
    let (o, doc) = json(&["--config", config.to_str().unwrap(), "--filter", "load-malformed"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(doc["failed"], 1, "{doc}");
    let observed = doc["cases"][0]["observed"].as_str().unwrap();
    assert!(observed.contains("the canary"), "{observed}");
}
