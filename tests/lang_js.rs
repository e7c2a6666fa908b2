//! JavaScript listeners (guests/js, built by `scripts/build-guests-js.sh` into
//! `guests/dist/js-*.wasm`): the same lines as the Rust sign-in-audit, an uncaught exception
//! contained and shown as the trap's message, the publisher publishes, async batches through
//! `batch-listener`, and the `tokenwatch new --lang js` template builds into a listener that
//! loads.
//!
//! A JS component takes 10-20 s to compile, so every test here uses one artifact cache for
//! the whole run, warmed once (`warm`) before the first host is built: each component is
//! compiled once per run, and every host after that loads it from the cache.

use std::sync::{Arc, OnceLock};
use tokenwatch::{Config, DispatchConfig, Host, ListenerConfig, LimitsConfig, Mode, OutboxConfig, Outcome, SinkConfig, TokenEvent, TrapCause};
use tokenwatch_tests::*;

const JS_GUESTS: [&str; 3] = ["js-sign-in-audit", "js-sqs-publisher", "js-template"];

/// The run's artifact cache (directory and key file), shared by every test in this file.
fn cache() -> &'static tempfile::TempDir {
    static PLACE: OnceLock<tempfile::TempDir> = OnceLock::new();
    PLACE.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fn with_cache(mut config: Config) -> Config {
    config.cache.enabled = true;
    config.cache.dir = Some(cache().path().join("artifacts"));
    config.cache.key_file = Some(cache().path().join("cache.key"));
    config
}

/// Compiles every JS guest once into the shared cache (the first caller; the others wait).
fn warm() {
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        let listeners = JS_GUESTS.iter().map(|g| js(g, g)).collect();
        let host = Host::builder(with_cache(Config { listeners, ..Config::default() })).build().expect("the JS guests load");
        host.shutdown();
    });
}

/// The limits the JS listeners run under here: those of docs/languages/js.md, with a
/// deadline that a loaded test machine cannot miss.
fn js_limits() -> LimitsConfig {
    LimitsConfig { fuel: Some(50_000_000), memory_mb: Some(32), deadline_ms: Some(2_000), ..Default::default() }
}

/// A JS guest named `name`, under the JS limits.
fn js(name: &str, guest_name: &str) -> ListenerConfig {
    listener(name, guest_name).with_limits(js_limits())
}

/// A host over `config`'s listeners with the shared cache, every JS guest already compiled.
fn js_host(config: Config) -> (Host, Arc<Recorder>) {
    warm();
    host_with(with_cache(config))
}


fn demo_events() -> Vec<Arc<TokenEvent>> {
    events_of(&root().join("demo/events.ndjson"))
}

#[test]
fn js_sign_in_audit_logs_the_same_lines_as_the_rust_one() {
    let listeners = vec![js("js", "js-sign-in-audit"), listener("rust", "sign-in-audit")];
    let (host, rec) = js_host(Config { listeners, ..Config::default() });
    let events = demo_events();
    for e in &events {
        let d = host.dispatch(e);
        assert_eq!(d[0].outcome, d[1].outcome, "{d:?}");
    }
    // A few more: escapes, a missing claim, an unknown client, a big number.
    let more = [
        r#"{"kind":"id_token","claims":{"sub":"a\"b\u00e9\\c","iat":1,"acr":"x y","amr":[ "pwd" , "otp" ]}}"#,
        r#"{"kind":"id_token","claims":{"iat":"not a number","amr":"pwd"}}"#,
        r#"{"kind":"id_token","claims":{"sub":"big","iat":123456789012345678901234567890,"acr":7}}"#,
    ];
    for line in more {
        let d = host.dispatch(&Arc::new(TokenEvent::from_json_line(line).unwrap()));
        assert_eq!((&d[0].outcome, &d[1].outcome), (&Outcome::Ok, &Outcome::Ok), "{d:?}");
    }
    host.shutdown();
    let (js_lines, rust_lines) = (rec.of("js"), rec.of("rust"));
    let id_tokens = events.iter().filter(|e| e.kind.as_str() == "id_token").count();
    assert_eq!(rust_lines.len(), id_tokens + more.len(), "{rust_lines:?}");
    assert_eq!(js_lines, rust_lines);
    assert!(js_lines.iter().any(|l| l.starts_with(r#"sign-in sub=a"bé\c iat=1 client=- acr=x y amr=["#)), "{js_lines:?}");
    let c = &host.status()[0].counters;
    assert_eq!((c.delivered, c.traps_total()), (id_tokens as u64 + 3, 0), "{c:?}");
}

#[test]
fn an_uncaught_exception_is_contained_and_its_message_is_the_trap_message() {
    let audit = js("js", "js-sign-in-audit").with_property("trap_on", "bob");
    let (host, rec) = js_host(Config { listeners: vec![audit], ..Config::default() });
    let mut outcomes = Vec::new();
    for e in demo_events().iter().filter(|e| e.kind.as_str() == "id_token") {
        outcomes.push(host.dispatch(e).remove(0).outcome);
    }
    // alice, bob (throws), then a fresh instance serves the next one.
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], Outcome::Ok);
    match &outcomes[1] {
        Outcome::Trap { cause, message } => {
            assert_eq!(*cause, TrapCause::Panic, "{message}");
            assert!(message.starts_with("uncaught Error: cannot audit sub bob (at idTokenIssued@"), "{message}");
            assert!(message.contains("sign-in-audit/listener.js:"), "the place in the source: {message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(outcomes[2], Outcome::Ok, "the next event is served");
    let lines = rec.of("js");
    assert!(lines.iter().any(|l| l.starts_with("sign-in sub=9f2c1ab0 ")), "{lines:?}");
    let status = &host.status()[0];
    assert_eq!((status.counters.delivered, status.counters.traps_of(TrapCause::Panic)), (2, 1));
    assert!(status.last_trap.as_deref().unwrap_or("").contains("cannot audit sub bob"), "{status:?}");
    host.shutdown();
}

#[test]
fn the_js_publisher_publishes_what_the_rust_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let (js_out, rust_out) = (dir.path().join("js.ndjson"), dir.path().join("rust.ndjson"));
    let publisher = |name: &str, guest: &str, sink: &str| {
        js(name, guest)
            .with_property("sink", sink)
            .with_property("claims", "sub, iat,client_id,sub")
            .with_property("include.region", "eu-1")
            .with_property("include.note", "say \"hi\"\n")
            .with_sinks([sink])
    };
    let config = Config {
        listeners: vec![publisher("js", "js-sqs-publisher", "js"), publisher("rust", "sqs-publisher", "rust")],
        sinks: vec![SinkConfig::file("js", &js_out), SinkConfig::file("rust", &rust_out)],
        outbox: OutboxConfig { spool_dir: Some(dir.path().join("spool")), shutdown_ms: None },
        ..Config::default()
    };
    let (host, rec) = js_host(config);
    let events = demo_events();
    for e in &events {
        host.dispatch(e);
    }
    host.shutdown();
    let (js_text, rust_text) = (std::fs::read_to_string(&js_out).unwrap(), std::fs::read_to_string(&rust_out).unwrap());
    assert_eq!(js_text.lines().count(), events.len(), "{js_text}\n{:?}", rec.lines());
    assert!(js_text.starts_with("{\"sub\":\"alice\",\"iat\":1764331200,\"note\":\"say \\\"hi\\\"\\u000a\",\"region\":\"eu-1\"}\n"), "{js_text}");
    assert_eq!(js_text, rust_text);
    let init = |name: &str| rec.of(name).into_iter().map(|l| l.replace(&format!("sink={name} "), "sink=S ")).collect::<Vec<_>>();
    assert_eq!(init("js"), init("rust"), "the same init line");
    assert_eq!(init("js"), ["init sink=S claims=sub,iat,client_id includes=note,region"]);
    assert_eq!(host.status()[0].counters.published, events.len() as u64);

    // A sink that is not granted: warned once, counted, reported at shutdown.
    let lost = js("lost", "js-sqs-publisher").with_property("sink", "nowhere");
    let (host, rec) = js_host(Config { listeners: vec![lost], ..Config::default() });
    for e in &events {
        assert_eq!(host.dispatch(e)[0].outcome, Outcome::Ok);
    }
    host.shutdown();
    let lines = rec.of("lost");
    let warned: Vec<_> = lines.iter().filter(|l| l.starts_with("publish to sink \"nowhere\" failed: unknown-sink")).collect();
    assert_eq!(warned.len(), 1, "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some(&*format!("{} messages not published to sink \"nowhere\": unknown-sink={}", events.len(), events.len())));
    assert_eq!(host.status()[0].counters.publishes_refused, events.len() as u64);

    // No sink: init fails with the reason.
    let (host, _) = js_host(Config { listeners: vec![js("nosink", "js-sqs-publisher")], ..Config::default() });
    let status = &host.status()[0];
    assert!(format!("{:?}", status.health).contains("property \\\"sink\\\" is required"), "{status:?}");
}

/// 50 ID tokens `u00`..`u49` to an async JS sign-in-audit (batches of up to 16 through
/// `batch-listener`), throwing on `trap_on` when given.
fn async_batch(trap_on: Option<&str>) -> (Host, Arc<Recorder>) {
    let mut audit = js("js", "js-sign-in-audit").with_mode(Mode::Async);
    if let Some(sub) = trap_on {
        audit = audit.with_property("trap_on", sub);
    }
    let config = Config { listeners: vec![audit], dispatch: DispatchConfig { batch: Some(16), threads: Some(1), ..Default::default() }, ..Config::default() };
    let (host, rec) = js_host(config);
    for i in 0..50 {
        assert_eq!(host.dispatch(&id_token(&format!("u{i:02}")))[0].outcome, Outcome::Queued);
    }
    host.shutdown();
    (host, rec)
}

#[test]
fn an_async_js_listener_gets_a_batch_of_50_events() {
    let (host, rec) = async_batch(None);
    let c = &host.status()[0].counters;
    assert_eq!((c.events, c.delivered, c.traps_total()), (50, 50, 0), "{c:?}");
    let subs: Vec<String> = rec.of("js").iter().filter_map(|l| l.strip_prefix("sign-in sub=").map(|r| r.split(' ').next().unwrap().to_owned())).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("u{i:02}")).collect();
    assert_eq!(subs, expected, "every event once, in order");
    assert_eq!(c.instantiations, 1, "{c:?}");
}

#[test]
fn a_trap_at_event_k_of_a_batch_loses_only_event_k() {
    let (host, rec) = async_batch(Some("u20"));
    let status = &host.status()[0];
    let c = &status.counters;
    assert_eq!((c.events, c.delivered, c.traps_of(TrapCause::Panic), c.traps_total()), (50, 49, 1, 1), "{c:?}");
    let subs: Vec<String> = rec.of("js").iter().filter_map(|l| l.strip_prefix("sign-in sub=").map(|r| r.split(' ').next().unwrap().to_owned())).collect();
    let expected: Vec<String> = (0..50).filter(|&i| i != 20).map(|i| format!("u{i:02}")).collect();
    assert_eq!(subs, expected, "the events before u20 delivered, the ones after it to a fresh instance");
    assert!(status.last_trap.as_deref().unwrap_or("").contains("uncaught Error: cannot audit sub u20"), "{status:?}");
    assert_eq!(c.instantiations, 2, "{c:?}");
}

#[test]
fn the_js_template_builds_into_a_listener_that_loads_and_serves_its_sample_events() {
    // guests/dist/js-template.wasm is the template built as `tokenwatch new --lang js` lays it
    // out (scripts/build-guests-js.sh): its files + sdk/ + wit/listener.wit, `{{name}}` replaced.
    let template = root().join("guests/templates/js");
    let toml = std::fs::read_to_string(template.join("tokenwatch.toml")).unwrap().replace("{{name}}", "js-template");
    let parsed = Config::from_toml(&toml, &root().join("guests/dist")).expect("the template's tokenwatch.toml is a valid config");
    let limits = parsed.listeners[0].limits.clone();
    assert_eq!((limits.fuel, limits.memory_mb), (Some(50_000_000), Some(32)));
    let config = Config { listeners: vec![js("t", "js-template").with_property("prefix", "tpl")], ..Config::default() };
    let (host, rec) = js_host(config);
    let events = events_of(&template.join("events.ndjson"));
    assert!(events.len() >= 4);
    for e in &events {
        assert_eq!(host.dispatch(e)[0].outcome, Outcome::Ok);
    }
    host.shutdown();
    let lines = rec.of("t");
    assert_eq!(lines.len(), events.len() + 1, "{lines:?}");
    assert!(lines[0].starts_with("tpl #1 id_token sub=alice acr=urn:c2id:acr:mfa client=webapp"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), &format!("tpl: {} tokens seen", events.len()));
}

/// `tsc` from guests/js/node_modules (typescript, pinned in package-lock.json), in guests/js.
fn tsc(args: &[&str]) -> std::process::Output {
    std::process::Command::new(root().join("guests/js/node_modules/.bin/tsc"))
        // `--ignoreConfig`: a tsconfig.json in a folder above the clone would otherwise refuse
        // file arguments (it did, in /tmp).
        .args(["--ignoreConfig", "--noEmit", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"])
        .args(args)
        .current_dir(root().join("guests/js"))
        .output()
        .expect("tsc is installed by scripts/build-guests-js.sh (make guests)")
}

#[test]
fn the_typescript_declarations_type_check_a_strict_listener_and_the_examples() {
    // tests/types.ts uses every declared name, and has `@ts-expect-error` lines that must
    // stay errors; the examples are JavaScript, checked against the declarations they import.
    for args in [
        &["--strict", "tests/types.ts"][..],
        &["--strict", "false", "--allowJs", "--checkJs", "examples/sign-in-audit/listener.js", "examples/sqs-publisher/listener.js"][..],
    ] {
        let o = tsc(args);
        assert!(o.status.success(), "tsc {args:?}:\n{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    }
    // And a listener that calls what the SDK does not declare is refused.
    let dir = root().join("guests/js/tests");
    let wrong = dir.join("wrong.generated.ts");
    let text = std::fs::read_to_string(dir.join("types.ts")).unwrap().replace("claims.authTime()", "claims.authTimes()");
    std::fs::write(&wrong, text).unwrap();
    let o = tsc(&["--strict", "tests/wrong.generated.ts"]);
    std::fs::remove_file(&wrong).unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Property 'authTimes' does not exist on type 'Claims'"), "{}", String::from_utf8_lossy(&o.stdout));
}
