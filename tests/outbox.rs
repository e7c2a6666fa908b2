//! The outbox through real guests: what a listener publishes reaches its sink; only granted
//! sinks can be named; bad sink configuration is a clear error.

use std::sync::Arc;
use tokenwatch::{Config, Host, ListenerConfig, OutboxConfig, SinkConfig, TokenEvent};
use tokenwatch_tests::*;

/// A config whose outbox spools in `dir`, with `sinks`.
fn with_sinks(dir: &std::path::Path, listeners: Vec<ListenerConfig>, sinks: Vec<SinkConfig>) -> Config {
    Config { listeners, sinks, outbox: OutboxConfig { spool_dir: Some(dir.join("spool")), shutdown_ms: None }, ..Config::default() }
}

#[test]
fn the_sqs_publisher_sends_exactly_the_selected_claims_and_includes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.ndjson");
    let publisher = listener("sqs-publisher", "sqs-publisher")
        .with_property("sink", "q")
        .with_property("include.region", "eu-1")
        .with_sinks(["q"]);
    let (host, rec) = host_with(with_sinks(dir.path(), vec![publisher], vec![SinkConfig::file("q", &out)]));
    let line = r#"{"kind":"id_token","claims":{"iss":"https://op.example","sub":"alice","aud":"app","iat":1523304728,"email":"a@example.com"}}"#;
    host.dispatch(&Arc::new(TokenEvent::from_json_line(line).unwrap()));
    let access = r#"{"kind":"access_token","claims":{"sub":"bob","client_id":"c1","scope":"read"}}"#;
    host.dispatch(&Arc::new(TokenEvent::from_json_line(access).unwrap()));
    host.shutdown();
    let written = std::fs::read_to_string(&out).unwrap();
    // The access token has no iat: left out, not null.
    assert_eq!(written, "{\"sub\":\"alice\",\"iat\":1523304728,\"region\":\"eu-1\"}\n{\"sub\":\"bob\",\"region\":\"eu-1\"}\n", "{:?}", rec.lines());
    let s = &host.sink_status()[0];
    assert_eq!((s.enqueued, s.delivered, s.spool_depth), (2, 2, 0), "{s:?}");
    assert_eq!(host.status()[0].counters.published, 2);
}

#[test]
fn a_listener_can_publish_only_to_the_sinks_it_is_granted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.ndjson");
    let granted = probe("granted", "publish").with_sinks(["audit"]);
    let not_granted = probe("not-granted", "publish");
    let (host, rec) = host_with(with_sinks(dir.path(), vec![granted, not_granted], vec![SinkConfig::file("audit", &out)]));
    host.dispatch(&id_token("alice"));
    host.shutdown();
    assert!(rec.of("granted").contains(&"published".to_owned()), "{:?}", rec.lines());
    assert!(rec.of("not-granted").iter().any(|l| l.contains("UnknownSink(\"audit\")")), "{:?}", rec.lines());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    assert_eq!(host.status()[1].counters.publishes_refused, 1);
}

#[test]
fn bad_sink_configuration_is_an_error_naming_the_sink_or_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let build = |config: Config| Host::builder(config).build().err().map(|e| e.to_string()).expect("refused");
    // A grant of a sink no [[sink]] defines.
    let e = build(with_sinks(dir.path(), vec![probe("p", "publish").with_sinks(["nope"])], vec![]));
    assert!(e.contains("listener \"p\": sinks names \"nope\", which no [[sink]] defines"), "{e}");
    // A file sink whose directory cannot be created (a file is in the way).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let e = build(with_sinks(dir.path(), vec![probe("p", "publish")], vec![SinkConfig::file("audit", blocker.join("a.ndjson"))]));
    assert!(e.contains("sink \"audit\": cannot create the directory") && e.contains("file"), "{e}");
    // A sink file in a directory that does not exist yet: created.
    let nested = dir.path().join("new/dir/a.ndjson");
    let (host, _) = host_with(with_sinks(dir.path(), vec![probe("p", "publish").with_sinks(["audit"])], vec![SinkConfig::file("audit", &nested)]));
    host.dispatch(&id_token("alice"));
    host.shutdown();
    assert_eq!(std::fs::read_to_string(&nested).unwrap(), "hello\n");
    drop(host);
    // A spool directory that cannot be created.
    let mut config = with_sinks(dir.path(), vec![probe("p", "publish")], vec![SinkConfig::file("audit", dir.path().join("a.ndjson"))]);
    config.outbox.spool_dir = Some(blocker.join("spool"));
    let e = build(config);
    assert!(e.contains("outbox spool") && e.contains("cannot create the directory"), "{e}");
    // An unknown sink type in a file.
    let e = Config::from_toml("[[sink]]\nname = \"k\"\ntype = \"kafka\"\n", dir.path()).unwrap_err();
    assert_eq!((e.place(), e.position()), (Some("[[sink]]"), Some((3, 8))), "{e}");
    assert!(e.to_string().contains("unknown variant `kafka`, expected one of `file`, `stdout`, `http-push`"), "{e}");
}
