//! Python listeners (componentize-py 0.25.1, `--stub-wasi`; SDK in guests/python/sdk, built
//! by scripts/build-guests-python.sh into guests/dist/python-*.wasm): the same lines as the
//! Rust sign-in-audit, exceptions contained with their message, publishing, batches in async
//! mode, and the project template of `tokenwatch new --lang python`.
//!
//! A Python component takes seconds to compile, so every test here uses one artifact cache
//! for the whole run, warmed once per guest (under a lock): each guest is compiled once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use tokenwatch::{CacheConfig, Config, DispatchConfig, Host, LimitsConfig, ListenerConfig, Mode, Outcome, OutboxConfig, SinkConfig, TokenEvent, TrapCause};
use tokenwatch_tests::*;

/// The limits of the Python guests here: above those recommended in docs/languages/python.md
/// (20 M fuel, 200 ms), for a test machine running many suites at once: a fresh instance's
/// `init` takes ~100-200 k fuel but 10-40 ms of a loaded machine's time.
fn python_limits() -> LimitsConfig {
    LimitsConfig { fuel: Some(50_000_000), deadline_ms: Some(2_000), memory_mb: Some(64), ..Default::default() }
}

/// The run's cache directory and key file (a temporary directory kept for the process).
fn cache() -> CacheConfig {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
    CacheConfig { enabled: true, dir: Some(dir.path().join("artifacts")), key_file: Some(dir.path().join("cache.key")) }
}

/// A config over `listeners` with the shared cache. The first use of each guest compiles it
/// into the cache while the other tests wait, so no two tests compile the same guest.
fn config(listeners: Vec<ListenerConfig>) -> Config {
    static WARMED: OnceLock<Mutex<HashMap<PathBuf, ()>>> = OnceLock::new();
    let warmed = WARMED.get_or_init(Default::default);
    for l in &listeners {
        let mut done = warmed.lock().unwrap_or_else(|e| e.into_inner());
        if !done.contains_key(&l.path) {
            let probe = ListenerConfig::new(&l.path).with_limits(python_limits());
            let (host, _) = host_with(Config { listeners: vec![probe], cache: cache(), ..Config::default() });
            host.shutdown();
            done.insert(l.path.clone(), ());
        }
    }
    Config { listeners, cache: cache(), ..Config::default() }
}

/// A Python guest of guests/dist (`python-<name>.wasm`), named `name`, with the Python limits.
fn python(name: &str, guest: &str) -> ListenerConfig {
    listener(name, &format!("python-{guest}")).with_limits(python_limits())
}

/// The events of demo/events.ndjson (its malformed line left out).
fn demo_events() -> Vec<Arc<TokenEvent>> {
    events_of(&root().join("demo/events.ndjson"))
}


fn id_line(sub: &str) -> Arc<TokenEvent> {
    let line = format!(r#"{{"kind":"id_token","claims":{{"iss":"https://op.example","sub":"{sub}","aud":"app","iat":1523304728}}}}"#);
    Arc::new(TokenEvent::from_json_line(&line).unwrap())
}

/// The publishers' config: one file sink per listener, spooled in `dir`.
fn with_sinks(dir: &std::path::Path, listeners: Vec<ListenerConfig>, sinks: Vec<SinkConfig>) -> Config {
    Config { sinks, outbox: OutboxConfig { spool_dir: Some(dir.join("spool")), shutdown_ms: None }, ..config(listeners) }
}

fn panics(c: &tokenwatch::CounterSnapshot) -> u64 {
    c.traps.iter().find(|(cause, _)| *cause == "panic").map_or(0, |(_, n)| *n)
}

#[test]
fn python_sign_in_audit_logs_the_same_lines_as_the_rust_one() {
    let (host, rec) = host_with(config(vec![listener("rust", "sign-in-audit"), python("python", "sign-in-audit")]));
    let events = demo_events();
    for e in &events {
        let d = host.dispatch(e);
        assert_eq!(d[0].outcome, d[1].outcome, "{d:?} {:?}", rec.lines());
    }
    // Pairwise subject, unknown client, no acr/amr, escapes: the edge cases of the line.
    let edge = [
        r#"{"kind":"id_token","claims":{"sub":"9f2c","iat":1764331380},"local_subject":"carol"}"#,
        r#"{"kind":"id_token","claims":{"sub":"a\"b\u00e9","iat":"not a number","acr":7,"amr":[ "pwd" , "otp" ]}}"#,
        r#"{"kind":"id_token","claims":{"iat":99999999999999999999,"amr":"pwd"},"client":{"client_id":"c \\ d"}}"#,
    ];
    for line in edge {
        let d = host.dispatch(&Arc::new(TokenEvent::from_json_line(line).unwrap()));
        assert_eq!((&d[0].outcome, &d[1].outcome), (&Outcome::Ok, &Outcome::Ok), "{line}: {:?}", rec.lines());
    }
    host.shutdown();
    let (rust, python) = (rec.of("rust"), rec.of("python"));
    let id_tokens = events.iter().filter(|e| e.kind == tokenwatch::EventKind::IdToken).count() + edge.len();
    assert_eq!(rust.len(), id_tokens, "{rust:?}");
    assert_eq!(python, rust);
    assert!(python[0].starts_with("sign-in sub=alice iat=1764331200 client=webapp acr=urn:c2id:acr:mfa amr=[\"pwd\",\"otp\"]"), "{python:?}");
    let c = &host.status()[1].counters;
    assert_eq!((c.delivered, c.traps_total()), (id_tokens as u64, 0), "{c:?}");
}

#[test]
fn an_uncaught_exception_is_contained_and_its_message_is_the_trap_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.ndjson");
    let publisher = python("py", "sqs-publisher").with_property("sink", "q").with_property("fail_on_sub", "mallory").with_sinks(["q"]);
    let (host, rec) = host_with(with_sinks(dir.path(), vec![publisher], vec![SinkConfig::file("q", &out)]));
    let first = host.dispatch(&id_line("alice"));
    let trapped = host.dispatch(&id_line("mallory"));
    let next = host.dispatch(&id_line("bob"));
    assert_eq!(first[0].outcome, Outcome::Ok, "{:?}", rec.lines());
    match &trapped[0].outcome {
        Outcome::Trap { cause: TrapCause::Panic, message } => {
            assert!(
                message.starts_with("uncaught RuntimeError: refusing to publish the token of sub mallory (fail_on_sub) [at app.py:"),
                "the exception's type and message, then where: {message}"
            );
            assert!(message.contains(" in publish <- app.py:") && message.contains(" in id_token_issued]"), "{message}");
        }
        other => panic!("expected a panic trap, got {other:?}: {:?}", rec.lines()),
    }
    assert_eq!(next[0].outcome, Outcome::Ok, "the next event is served by a fresh instance: {:?}", rec.lines());
    host.shutdown();
    let lines = rec.of("py");
    assert!(lines.iter().any(|l| l.starts_with("traceback (id_token_issued):\nTraceback (most recent call last):")), "{lines:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"sub\":\"alice\",\"iat\":1523304728}\n{\"sub\":\"bob\",\"iat\":1523304728}\n");
    let c = &host.status()[0].counters;
    assert_eq!((c.delivered, panics(c), c.instantiations), (2, 1, 2), "{c:?}");
}

#[test]
fn the_python_publisher_publishes_the_messages_of_the_rust_one() {
    let dir = tempfile::tempdir().unwrap();
    let (rust_out, python_out) = (dir.path().join("rust.ndjson"), dir.path().join("python.ndjson"));
    let props = [("claims", "sub,iat,client_id,amr"), ("include.region", "eu-1"), ("include.note", "say \"hi\"\t\\")];
    let rust = listener("rust", "sqs-publisher").with_properties(props).with_property("sink", "r").with_sinks(["r"]);
    let python = python("python", "sqs-publisher").with_properties(props).with_property("sink", "p").with_sinks(["p"]);
    let sinks = vec![SinkConfig::file("r", &rust_out), SinkConfig::file("p", &python_out)];
    let (host, rec) = host_with(with_sinks(dir.path(), vec![rust, python], sinks));
    let events = demo_events();
    for e in &events {
        let d = host.dispatch(e);
        assert_eq!((&d[0].outcome, &d[1].outcome), (&Outcome::Ok, &Outcome::Ok), "{:?}", rec.lines());
    }
    host.shutdown();
    let published = std::fs::read_to_string(&python_out).unwrap();
    assert_eq!(published.lines().count(), events.len());
    assert_eq!(
        published.lines().next().unwrap(),
        r#"{"sub":"alice","iat":1764331200,"amr":["pwd","otp"],"note":"say \"hi\"\u0009\\","region":"eu-1"}"#
    );
    assert_eq!(published, std::fs::read_to_string(&rust_out).unwrap(), "byte for byte the Rust publisher's messages");
    let python_lines: Vec<String> = rec.of("python").iter().map(|l| l.replace("sink=p ", "sink=r ")).collect();
    assert_eq!(python_lines, rec.of("rust"), "the same init line");
    assert_eq!(host.status()[1].counters.published, events.len() as u64);
}

/// An async Python publisher over 50 ID tokens `user-00`..`user-49`, taken `[dispatch]
/// batch = 50` at a time; returns the host (shut down) and the published subjects.
fn async_batch(fail_on: Option<&str>) -> (Host, Vec<String>, Arc<Recorder>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.ndjson");
    let mut publisher = python("py", "sqs-publisher").with_property("sink", "q").with_property("claims", "sub").with_sinks(["q"]).with_mode(Mode::Async);
    if let Some(sub) = fail_on {
        publisher = publisher.with_property("fail_on_sub", sub);
    }
    let mut config = with_sinks(dir.path(), vec![publisher], vec![SinkConfig::file("q", &out)]);
    config.dispatch = DispatchConfig { batch: Some(50), ..Default::default() };
    let (host, rec) = host_with(config);
    // The instance starts on the first event; the other 49 queue up behind it meanwhile.
    for i in 0..50 {
        assert_eq!(host.dispatch(&id_line(&format!("user-{i:02}")))[0].outcome, Outcome::Queued);
    }
    // Served before the shutdown: its drain hands over a batch only when the events' deadlines
    // fit the drain's, and would otherwise call the handlers one event at a time.
    let started = std::time::Instant::now();
    loop {
        let c = host.status()[0].counters.clone();
        if c.delivered + c.traps_total() == 50 || started.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    host.shutdown();
    let subs = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim_start_matches("{\"sub\":\"").trim_end_matches("\"}").to_owned())
        .collect();
    (host, subs, rec)
}

#[test]
fn an_async_python_listener_takes_its_events_through_batch_listener() {
    let (host, subs, rec) = async_batch(None);
    let c = &host.status()[0].counters;
    assert_eq!((c.events, c.delivered, c.traps_total(), c.published), (50, 50, 0, 50), "{c:?} {:?}", rec.lines());
    // The queue fills while the first event starts the instance (`init`, milliseconds): the
    // rest come several per `batch-listener` call.
    assert!(c.batch_calls >= 1 && c.batch_calls < 50, "the events went through batch-listener, several per call: {c:?}");
    let expected: Vec<String> = (0..50).map(|i| format!("user-{i:02}")).collect();
    assert_eq!(subs, expected, "every event, in order");
}

#[test]
fn a_trap_at_event_k_of_a_batch_loses_only_event_k() {
    let (host, subs, rec) = async_batch(Some("user-17"));
    let c = &host.status()[0].counters;
    assert_eq!((c.events, c.delivered, panics(c), c.traps_total(), c.published), (50, 49, 1, 1, 49), "{c:?} {:?}", rec.lines());
    assert!(c.batch_calls >= 2 && c.batch_calls < 50, "the trap ended a batch and a fresh instance took the rest: {c:?}");
    let expected: Vec<String> = (0..50).filter(|&i| i != 17).map(|i| format!("user-{i:02}")).collect();
    assert_eq!(subs, expected, "the events before and after the trap were delivered, in order");
    let errors: Vec<String> = rec.lines().into_iter().filter(|l| l.starts_with("py|error|")).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("uncaught RuntimeError: refusing to publish the token of sub user-17"), "{errors:?}");
}

#[test]
fn the_scaffolded_template_builds_and_loads_under_its_own_limits() {
    // guests/dist/python-template.wasm is guests/templates/python + the SDK + the WIT,
    // scaffolded as `tokenwatch new --lang python my-listener` does and built with the
    // template's build.sh (scripts/build-guests-python.sh). Its tokenwatch.toml, as the
    // project gets it, is the configuration here.
    let template = root().join("guests/templates/python");
    let toml = std::fs::read_to_string(template.join("tokenwatch.toml")).unwrap().replace("{{name}}", "my-listener");
    let mut config = Config::from_toml(&toml, &root().join("guests/dist")).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert_eq!(config.listeners.len(), 1);
    config.listeners[0].path = guest("python-template");
    let limits = config.listeners[0].limits.clone();
    assert!(limits.fuel.is_some() && limits.deadline_ms.is_some(), "the template recommends limits: {limits:?}");
    let (host, rec) = host_with(Config { cache: cache(), ..config });
    let events = events_of(&template.join("events.ndjson"));
    assert!(events.len() >= 4);
    for e in &events {
        assert_eq!(host.dispatch(e)[0].outcome, Outcome::Ok, "{:?}", rec.lines());
    }
    host.shutdown();
    let lines = rec.of("my-listener");
    assert_eq!(lines.len(), events.len() + 1, "{lines:?}");
    assert_eq!(lines[0], "my-listener: id_token sub=alice iat=1764331200 client=webapp");
    assert_eq!(lines[1], "my-listener: access_token sub=alice client=webapp scope=openid email");
    assert_eq!(lines.last().unwrap(), &format!("my-listener: {} tokens seen by this instance", events.len()));
}
