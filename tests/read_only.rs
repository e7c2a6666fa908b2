//! Claims are read-only: a guest sees them, cannot change what the next listener or the
//! issuer sees.

use tokenwatch::Outcome;
use tokenwatch_tests::*;

#[test]
fn every_listener_and_the_issuer_see_byte_identical_claims() {
    let (host, rec) = host(vec![probe("first", "claims-dump"), probe("second", "claims-dump")]);
    let event = id_token("alice");
    let before = event.claims.as_json().to_owned();
    let d = host.dispatch(&event);
    assert!(d.iter().all(|d| d.outcome == Outcome::Ok), "{d:?}");
    assert_eq!(event.claims.as_json(), before, "the host's claims changed");
    let first = rec.of("first");
    let second = rec.of("second");
    assert_eq!(first[1..], second[1..], "listeners saw different claims");
    assert!(
        first.iter().any(|l| l.ends_with(&before)),
        "the dump holds the claims JSON: {first:?}"
    );
    // Each claim by name, as its JSON text.
    assert!(first.iter().any(|l| l.contains(r#"["pwd","otp"]"#)), "{first:?}");
    // The context: issuer, client id and metadata.
    assert!(first.iter().any(|l| l.contains("https://c2id.example.com")), "{first:?}");
    assert!(first.iter().any(|l| l.contains("client-123")), "{first:?}");
}

#[test]
fn the_same_event_dispatched_twice_is_unchanged() {
    let (host, rec) = host(vec![probe("dump", "claims-dump")]);
    let event = access_token("bob", "c9", "read write");
    host.dispatch(&event);
    let once = rec.of("dump");
    rec.clear();
    host.dispatch(&event);
    assert_eq!(rec.of("dump"), once[1..], "a second delivery saw something else");
}

#[test]
fn listeners_see_claims_exactly_as_issued() {
    // A parsed number would reach the guest as 1.2345678901234568e+29 and 100.0.
    let line = r#"{"kind":"id_token","claims":{"sub":"alice","big":123456789012345678901234567890,"e":1e2}}"#;
    let (host, rec) = host(vec![probe("dump", "claims-dump")]);
    let d = host.dispatch(&std::sync::Arc::new(tokenwatch::TokenEvent::from_json_line(line).unwrap()));
    assert_eq!(d[0].outcome, Outcome::Ok);
    let lines = rec.of("dump");
    assert!(lines.contains(&r#"claims {"sub":"alice","big":123456789012345678901234567890,"e":1e2}"#.to_owned()), "{lines:?}");
    assert!(lines.contains(&"claim big=123456789012345678901234567890".to_owned()), "{lines:?}");
    assert!(lines.contains(&"claim e=1e2".to_owned()), "{lines:?}");
}
