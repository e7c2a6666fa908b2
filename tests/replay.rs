//! The replay path as a library call: output records, bad lines, traps as outcomes.

use serde_json::Value;
use std::sync::Arc;
use tokenwatch::replay::{replay, BufferedLog, ReplaySummary};
use tokenwatch::{Config, Host};
use tokenwatch_tests::*;

fn run(listeners: Vec<tokenwatch::ListenerConfig>, input: &str) -> (ReplaySummary, Vec<Value>, String) {
    let logs = Arc::new(BufferedLog::default());
    let config = Config { listeners, ..Config::default() };
    let host = Host::builder(config).log_sink(logs.clone()).build().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let summary = replay(&host, &logs, input.as_bytes(), true, &mut out, &mut err).unwrap();
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
