//! The SPI lifecycle: init once before the first event, is-enabled respected, handlers called
//! only for exported kinds, shutdown once.

use tokenwatch::{EventKind, Health, Outcome};
use tokenwatch_tests::*;

#[test]
fn init_runs_once_before_the_first_event_and_shutdown_once_at_the_end() {
    let (host, rec) = host(vec![probe("p", "record")]);
    assert_eq!(rec.of("p"), ["init"], "init runs at load, before any event");
    for sub in ["alice", "bob"] {
        let d = host.dispatch(&id_token(sub));
        assert_eq!(d[0].outcome, Outcome::Ok);
    }
    host.dispatch(&access_token("carol", "c1", "openid"));
    host.shutdown();
    host.shutdown();
    assert_eq!(
        rec.of("p"),
        ["init", "id-token alice", "id-token bob", "access-token carol", "shutdown"]
    );
    assert_eq!(host.status()[0].health, Health::ShutDown);
    assert_eq!(host.dispatch(&id_token("late"))[0].outcome, Outcome::Disabled);
}

#[test]
fn a_listener_that_is_not_enabled_gets_no_events() {
    let (host, rec) = host(vec![probe("off", "disabled"), probe("on", "record")]);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Disabled);
    assert_eq!(d[1].outcome, Outcome::Ok);
    assert_eq!(rec.of("off"), ["init"]);
    let status = &host.status()[0];
    assert!(matches!(&status.health, Health::Disabled(r) if r.contains("is-enabled")));
    assert_eq!(status.counters.dropped_disabled, 1);
    assert_eq!(status.counters.delivered, 0);
}

#[test]
fn a_listener_disabled_in_configuration_is_never_instantiated() {
    let mut off = probe("off", "record");
    off.enabled = false;
    let (host, rec) = host(vec![off]);
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Disabled);
    host.shutdown();
    assert!(rec.of("off").is_empty(), "{:?}", rec.lines());
    assert_eq!(host.status()[0].counters.instantiations, 0);
}

#[test]
fn handlers_are_called_only_for_the_kinds_a_component_exports() {
    let mut meter = listener("meter", "metering");
    meter.properties.insert("report_every".into(), "1".into());
    let (host, rec) = host(vec![
        listener("ids", "id-probe"),
        listener("audit", "sign-in-audit"),
        meter,
    ]);
    let status = host.status();
    assert_eq!(status[0].handles, [EventKind::IdToken]);
    assert_eq!(status[1].handles, [EventKind::IdToken]);
    assert_eq!(status[2].handles, [EventKind::AccessToken]);

    let at = host.dispatch(&access_token("alice", "c1", "openid email"));
    let outcomes: Vec<_> = at.iter().map(|d| d.outcome.clone()).collect();
    assert_eq!(outcomes, [Outcome::Skipped, Outcome::Skipped, Outcome::Ok]);
    let id = host.dispatch(&id_token("bob"));
    let outcomes: Vec<_> = id.iter().map(|d| d.outcome.clone()).collect();
    assert_eq!(outcomes, [Outcome::Ok, Outcome::Ok, Outcome::Skipped]);

    assert_eq!(rec.of("ids"), ["init", "id-token bob"]);
    let audit = rec.of("audit");
    assert!(
        audit.iter().any(|l| l.contains("bob") && l.contains("client-123") && l.contains("urn:c2id:acr:mfa")),
        "{audit:?}"
    );
    let meter = rec.of("meter").join("\n");
    assert!(meter.contains("c1"), "{meter}");
}

#[test]
fn a_failing_init_disables_only_that_listener_with_its_message() {
    let (host, rec) = host(vec![probe("bad", "init-fail"), probe("good", "record")]);
    let status = host.status();
    match &status[0].health {
        Health::InitFailed(m) => assert!(m.contains("probe refused to start"), "{m}"),
        other => panic!("expected init-failed, got {other:?}"),
    }
    assert_eq!(status[1].health, Health::Active);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Disabled);
    assert_eq!(d[1].outcome, Outcome::Ok);
    assert_eq!(rec.of("good"), ["init", "id-token alice"]);
    assert_eq!(host.status()[0].counters.init_failures, 1);
}

#[test]
fn signer_and_publish_give_their_documented_answers_without_key_or_sink() {
    let (host, rec) = host(vec![probe("s", "sign"), probe("p", "publish")]);
    host.dispatch(&id_token("alice"));
    let s = rec.of("s").join("\n");
    assert!(s.contains("sign-error") && s.contains("NoKeyConfigured"), "{s}");
    let p = rec.of("p").join("\n");
    assert!(p.contains("publish-error") && p.contains("UnknownSink") && p.contains("audit"), "{p}");
}
