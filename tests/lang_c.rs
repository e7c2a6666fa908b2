//! C listeners (guests/c, built by `scripts/build-guests-c.sh` into `guests/dist/c-*.wasm`):
//! the same lines as the Rust `sign-in-audit`, traps contained with their message, the
//! publisher, async batches through `batch-listener`, and the project template.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokenwatch::{Config, DispatchConfig, Health, Host, LimitsConfig, ListenerConfig, Mode, OutboxConfig, Outcome, SinkConfig, TokenEvent, TrapCause};
use tokenwatch_tests::*;

/// The events of demo/events.ndjson that parse (the malformed line 5 left out).
fn demo_events() -> Vec<Arc<TokenEvent>> {
    let text = std::fs::read_to_string(root().join("demo/events.ndjson")).unwrap();
    text.lines().filter_map(|l| TokenEvent::from_json_line(l).ok()).map(Arc::new).collect()
}

fn event(line: &str) -> Arc<TokenEvent> {
    Arc::new(TokenEvent::from_json_line(line).unwrap_or_else(|e| panic!("{line}: {e:?}")))
}

/// ID tokens that reach the corners of the decoding and formatting: escapes, missing and
/// mistyped claims, an unknown client, a pairwise subject, big numbers.
const EDGE_CASES: &[&str] = &[
    r#"{"kind":"id_token","claims":{"sub":"a\"b\\c\u00e9\ud83d\ude00","iat":1700000000,"acr":"x","amr":["pwd"]},"client":{"client_id":"c\"1"}}"#,
    r#"{"kind":"id_token","claims":{"sub":"nobody"}}"#,
    r#"{"kind":"id_token","claims":{"sub":42,"iat":1.5,"acr":["a"],"amr":"pwd"}}"#,
    r#"{"kind":"id_token","claims":{"sub":"big","iat":123456789012345678901234567890,"amr":[ "pwd" , "otp" ]}}"#,
    r#"{"kind":"id_token","claims":{"sub":"neg","iat":-9223372036854775808,"amr":[]},"local_subject":"carol"}"#,
    r#"{"kind":"id_token","claims":{"sub":"","iat":0,"acr":""}}"#,
];

#[test]
fn c_sign_in_audit_logs_the_same_lines_as_the_rust_one() {
    let (host, rec) = host(vec![listener("rust", "sign-in-audit"), listener("c", "c-sign-in-audit")]);
    let mut events = demo_events();
    events.extend(EDGE_CASES.iter().map(|l| event(l)));
    let mut id_tokens = 0;
    for e in &events {
        let d = host.dispatch(e);
        assert_eq!(d[0].outcome, d[1].outcome, "{d:?}");
        if d[1].outcome == Outcome::Ok {
            id_tokens += 1;
        }
    }
    host.shutdown();
    let (rust, c) = (rec.of("rust"), rec.of("c"));
    assert_eq!(rust.len(), id_tokens, "one line per ID token: {rust:?}");
    assert_eq!(c, rust, "the C and Rust sign-in-audit lines differ");
    assert_eq!(c[0], r#"sign-in sub=alice iat=1764331200 client=webapp acr=urn:c2id:acr:mfa amr=["pwd","otp"]"#);
    assert!(c.contains(&"sign-in sub=a\"b\\cé😀 iat=1700000000 client=c\"1 acr=x amr=[\"pwd\"]".to_owned()), "{c:?}");
    // Access tokens are skipped: the component exports the ID-token handler only.
    assert_eq!(host.status()[1].counters.skipped, 4);
}

fn trap_listener(name: &str, trap_sub: &str, how: &str) -> ListenerConfig {
    listener(name, "c-trap").with_property("trap_sub", trap_sub).with_property("how", how)
}

#[test]
fn a_trap_in_a_c_handler_is_contained_with_its_message_and_the_next_event_is_served() {
    for (how, message) in [
        ("panic", "cannot handle sub bob"),
        ("assert", "assertion failed: sub.len == 0 && \"no trap subject\""),
        ("abort", "panicked: abort() called"),
    ] {
        let (host, rec) = host(vec![trap_listener("t", "bob", how)]);
        let outcomes: Vec<Outcome> = ["alice", "bob", "carol"].iter().map(|s| host.dispatch(&id_token(s))[0].outcome.clone()).collect();
        assert_eq!(outcomes[0], Outcome::Ok, "{how}");
        match &outcomes[1] {
            Outcome::Trap { cause: TrapCause::Panic, message: m } => {
                assert!(m.contains(message), "{how}: the trap's message is the logged line: {m:?}");
                if how != "abort" {
                    assert!(m.starts_with("panicked at guests/c/examples/trap/listener.c:"), "{how}: {m:?}");
                }
            }
            other => panic!("{how}: expected a panic trap, got {other:?}"),
        }
        assert_eq!(outcomes[2], Outcome::Ok, "{how}: the next event is served by a fresh instance");
        let lines = rec.of("t");
        assert_eq!(lines.first().map(String::as_str), Some("ok sub=alice batch=-1"), "{how}: {lines:?}");
        assert_eq!(lines.last().map(String::as_str), Some("ok sub=carol batch=-1"), "{how}: {lines:?}");
        assert!(lines.iter().any(|l| l.contains(message)), "{how}: the error line is in the log: {lines:?}");
        let c = &host.status()[0].counters;
        assert_eq!((c.delivered, c.traps_total(), c.instantiations), (2, 1, 2), "{how}: {c:?}");
        host.shutdown();
    }
}

#[test]
fn the_c_publisher_publishes_the_same_messages_as_the_rust_one() {
    let dir = tempfile::tempdir().unwrap();
    let publisher = |name: &str, guest_name: &str| {
        listener(name, guest_name)
            .with_property("sink", name)
            .with_property("claims", "sub, iat,client_id,sub")
            .with_property("include.region", "eu-\"1\"")
            .with_property("include.iat", "shadowed")
            .with_sinks([name])
    };
    let config = Config {
        listeners: vec![publisher("rust", "sqs-publisher"), publisher("c", "c-sqs-publisher")],
        sinks: vec![SinkConfig::file("rust", dir.path().join("rust.ndjson")), SinkConfig::file("c", dir.path().join("c.ndjson"))],
        outbox: OutboxConfig { spool_dir: Some(dir.path().join("spool")), shutdown_ms: None },
        ..Config::default()
    };
    let (both, rec) = host_with(config);
    let events = demo_events();
    for e in &events {
        let d = both.dispatch(e);
        assert_eq!((d[0].outcome.clone(), d[1].outcome.clone()), (Outcome::Ok, Outcome::Ok), "{d:?}");
    }
    both.shutdown();
    let c = std::fs::read_to_string(dir.path().join("c.ndjson")).unwrap();
    let rust = std::fs::read_to_string(dir.path().join("rust.ndjson")).unwrap();
    assert_eq!(c.lines().count(), events.len(), "{c}");
    assert_eq!(c, rust, "the C and Rust publishers' messages differ");
    assert_eq!(c.lines().next(), Some(r#"{"sub":"alice","iat":1764331200,"region":"eu-\"1\""}"#));
    assert_eq!(c.lines().nth(1), Some(r#"{"sub":"alice","iat":1764331200,"client_id":"webapp","region":"eu-\"1\""}"#));
    assert_eq!(both.status()[1].counters.published, events.len() as u64);
    // The init line and the warning about the shadowed include are the Rust one's too.
    let rust_lines: Vec<String> = rec.of("rust").iter().map(|l| l.replace("sink=rust", "sink=c")).collect();
    assert_eq!(rec.of("c"), rust_lines);
    assert!(rec.of("c").contains(&"init sink=c claims=sub,iat,client_id includes=iat,region".to_owned()), "{:?}", rec.lines());

    // A sink it is not granted: counted, logged once at warn, summed at shutdown.
    let lonely = listener("lonely", "c-sqs-publisher").with_property("sink", "nowhere");
    let (alone, rec) = host(vec![lonely]);
    for e in &events {
        assert_eq!(alone.dispatch(e)[0].outcome, Outcome::Ok);
    }
    alone.shutdown();
    let lines = rec.of("lonely");
    assert_eq!(lines.iter().filter(|l| l.starts_with("publish to sink \"nowhere\" failed: unknown-sink")).count(), 1, "{lines:?}");
    assert_eq!(lines.last().unwrap(), &format!("{} messages not published to sink \"nowhere\": unknown-sink={}", events.len(), events.len()));

    // No sink property: init fails with the reason.
    let (bad, _) = host(vec![listener("bad", "c-sqs-publisher")]);
    match &bad.status()[0].health {
        Health::InitFailed(m) => assert!(m.contains("property \"sink\" is required"), "{m}"),
        other => panic!("expected init-failed, got {other:?}"),
    }
}

/// An async `c-trap` that gets `n` events in one batch: a listener ahead of it on the only
/// dispatcher spins until its deadline on the first event (and is then quarantined), holding
/// the dispatcher while the events queue up.
fn one_batch(n: usize, trap_sub: &str, claims: &str) -> (Host, Arc<Recorder>) {
    let slow = probe("slow", "loop").with_mode(Mode::Async).with_limits(LimitsConfig {
        fuel: Some(u64::MAX / 2),
        deadline_ms: Some(300),
        max_consecutive_traps: Some(1),
        ..Default::default()
    });
    let c = trap_listener("c", trap_sub, "panic").with_property("claims", claims).with_mode(Mode::Async);
    let dispatch = DispatchConfig { threads: Some(1), batch: Some(n), drain_ms: Some(100), ..Default::default() };
    let (host, rec) = host_with(Config { listeners: vec![slow, c], dispatch, ..Config::default() });
    for i in 0..n {
        let d = host.dispatch(&id_token(&format!("u{i}")));
        assert_eq!(d[1].outcome, Outcome::Queued);
    }
    // Wait (bounded) until the C listener has ended all of them, before shutdown's drain
    // (which hands events over one per call).
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let c = &host.status()[1].counters;
        if c.delivered + c.traps_total() >= n as u64 || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (host, rec)
}

#[test]
fn an_async_c_listener_takes_a_batch_of_50_through_batch_listener() {
    let (host, rec) = one_batch(50, "nobody", "declared");
    let c = host.status()[1].counters.clone();
    let metrics = host.metrics_text();
    host.shutdown();
    assert_eq!((c.events, c.delivered, c.traps_total()), (50, 50, 0), "{c:?}");
    assert!(metrics.contains(r#"guest_c_trap_events_total{listener="c",how="panic"} 50"#), "the metrics import, from C:\n{metrics}");
    let want: Vec<String> = (0..50).map(|i| format!("ok sub=u{i} batch={i}")).collect();
    assert_eq!(rec.of("c"), want, "every event in one batch-listener call, in order, after batch.begin(i)");
}

#[test]
fn a_trap_at_event_k_of_a_c_batch_loses_only_event_k() {
    let k = 7;
    // The whole claims set this time (no declared claims): `sub` read out of the object.
    let (host, rec) = one_batch(50, &format!("u{k}"), "all");
    let c = host.status()[1].counters.clone();
    host.shutdown();
    assert_eq!((c.events, c.delivered), (50, 49), "{c:?}");
    assert_eq!((c.traps_of(TrapCause::Panic), c.traps_total()), (1, 1), "{c:?}");
    let lines = rec.of("c");
    let ok: Vec<&String> = lines.iter().filter(|l| l.starts_with("ok ")).collect();
    // Before k: the first batch call, indices 0..k. After k: a fresh instance, a new call
    // with the rest, indices from 0.
    let want: Vec<String> = (0..50)
        .filter(|&i| i != k)
        .map(|i| format!("ok sub=u{i} batch={}", if i < k { i } else { i - k - 1 }))
        .collect();
    assert_eq!(ok, want.iter().collect::<Vec<_>>(), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("panicked at ") && l.ends_with("cannot handle sub u7")), "{lines:?}");
}

#[test]
fn the_c_template_builds_and_serves_both_kinds_of_token() {
    // scripts/build-guests-c.sh built it from a scaffolded copy (template + sdk/ + wit/).
    let (host, rec) = host(vec![listener("tpl", "c-template").with_property("greeting", "hi")]);
    let events = demo_events();
    for e in &events {
        assert_eq!(host.dispatch(e)[0].outcome, Outcome::Ok);
    }
    host.shutdown();
    let lines = rec.of("tpl");
    assert_eq!(lines[0], "init greeting=hi");
    assert_eq!(lines[1], "id token sub=alice iat=1764331200 client=webapp");
    assert_eq!(lines[2], "access token sub=alice scope=openid email");
    assert_eq!(lines.len(), 1 + events.len(), "{lines:?}");
    // The template's own config parses and names the component it builds.
    let toml = std::fs::read_to_string(root().join("guests/templates/c/tokenwatch.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(&toml.replace("{{name}}", "tpl"), dir.path()).expect("the template's tokenwatch.toml parses");
    assert_eq!(config.listeners[0].name.as_deref(), Some("tpl"));
    assert!(config.listeners[0].limits.fuel.is_some(), "it recommends limits");
}

/// The SETs a sign-in-set logged (`SET <jws>`), as (header, claims) with the per-signature
/// `iat` and `jti` taken out.
fn logged_sets(rec: &Recorder, name: &str) -> Vec<(serde_json::Value, serde_json::Value)> {
    use base64::Engine;
    let part = |jws: &str, i: usize| -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jws.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    rec.of(name)
        .iter()
        .filter_map(|line| line.strip_prefix("SET "))
        .map(|jws| {
            let mut claims = part(jws, 1);
            let object = claims.as_object_mut().unwrap();
            assert!(object.remove("iat").is_some() && object.remove("jti").is_some(), "{object:?}");
            (part(jws, 0), claims)
        })
        .collect()
}

#[test]
fn the_c_sign_in_set_has_the_host_sign_the_same_sets_as_the_rust_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = tokenwatch::signing::generate(tokenwatch::signing::Alg::ES256, "set-c");
    let key_file = dir.path().join("keys.jwks");
    std::fs::write(&key_file, key.private_jwks().to_string()).unwrap();
    let signing = tokenwatch::signing::SigningConfig::new(&key_file, "https://c2id.example.com");
    let audience = |l: ListenerConfig| ListenerConfig { set_audiences: vec!["https://rp.example.com".into()], ..l };
    let config = Config {
        listeners: vec![audience(listener("c", "c-sign-in-set")), audience(listener("rust", "sign-in-set"))],
        signing: Some(signing),
        ..Config::default()
    };
    let (host, rec) = host_with(config);
    let mut events = demo_events();
    events.extend(EDGE_CASES.iter().map(|l| event(l)));
    let ids = events.iter().filter(|e| e.kind == tokenwatch::EventKind::IdToken).count();
    for e in &events {
        assert!(host.dispatch(e).iter().all(|d| d.outcome == Outcome::Ok || d.outcome == Outcome::Skipped));
    }
    let (c, rust) = (logged_sets(&rec, "c"), logged_sets(&rec, "rust"));
    // Every ID token with a `sub` gave a SET; the edge case without one gave none in both.
    assert!(c.len() >= ids - 1 && c.len() >= 5, "{} SETs of {ids} ID tokens: {:?}", c.len(), rec.of("c"));
    assert_eq!(c, rust, "the C and Rust SETs differ");
    assert_eq!(c[0].0["kid"], "set-c");
    assert_eq!(c[0].1["aud"], "https://rp.example.com");
    let counters = &host.status()[0].counters;
    assert_eq!((counters.sets_signed, counters.sets_refused), (c.len() as u64, 0));
}
