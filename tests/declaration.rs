//! Contract 0.2's declaration: a listener is handed exactly the claims it declared, and the
//! host warns about properties it does not accept.

use std::sync::Arc;
use tokenwatch::{Health, Outcome, TokenEvent};
use tokenwatch_tests::*;

fn declaring(name: &str, claims: &str) -> tokenwatch::ListenerConfig {
    let mut l = probe(name, "claims-dump");
    l.properties.insert("declare".into(), claims.into());
    l
}

#[test]
fn a_listener_sees_only_the_claims_it_declared_in_its_order_as_issued() {
    let mut l = declaring("minimal", "acr,big,sub");
    l.properties.insert("also_get".into(), "email".into());
    let (host, rec) = host(vec![l, probe("everything", "claims-dump")]);
    let line = r#"{"kind":"id_token","claims":{"sub":"alice","email":"a@example.com","big":123456789012345678901234567890,"iat":1}}"#;
    let d = host.dispatch(&Arc::new(TokenEvent::from_json_line(line).unwrap()));
    assert!(d.iter().all(|d| d.outcome == Outcome::Ok), "{d:?}");
    let minimal = rec.of("minimal");
    // `acr` is declared but absent: left out. `email` is in the token but not declared.
    assert!(minimal.contains(&r#"claims {"big":123456789012345678901234567890,"sub":"alice"}"#.to_owned()), "{minimal:?}");
    assert!(minimal.contains(&"also email=<none>".to_owned()), "{minimal:?}");
    assert!(!minimal.iter().any(|l| l.contains("a@example.com")), "{minimal:?}");
    assert!(minimal.iter().any(|l| l.contains("email") && l.contains("not declared")), "the SDK says why: {minimal:?}");
    // Declaring nothing: the whole set, as issued.
    assert!(rec.of("everything").contains(&format!("claims {}", r#"{"sub":"alice","email":"a@example.com","big":123456789012345678901234567890,"iat":1}"#)));
}

#[test]
fn a_declaration_the_host_refuses_fails_init_with_the_reason() {
    let (host, _) = host(vec![declaring("twice", "sub,iat,sub"), probe("canary", "record")]);
    let s = host.status();
    match &s[0].health {
        Health::InitFailed(why) => assert!(why.contains("declares the claims name \"sub\" twice"), "{why}"),
        other => panic!("{other:?}"),
    }
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Disabled);
    assert_eq!(d[1].outcome, Outcome::Ok);
}

#[test]
fn properties_a_listener_does_not_accept_are_warned_about() {
    let mut typo = probe("typo", "record");
    typo.properties.insert("declare_properties".into(), "mode,declare_properties,report_every".into());
    typo.properties.insert("report_evry".into(), "2".into());
    let mut fine = probe("fine", "record");
    fine.properties.insert("declare_properties".into(), "mode,declare_properties".into());
    let (host, _) = host(vec![typo, fine]);
    let s = host.status();
    assert_eq!(s[0].warnings.len(), 1, "{:?}", s[0].warnings);
    let w = &s[0].warnings[0];
    assert!(w.contains("\"report_evry\"") && w.contains("\"report_every\""), "names the key and what is accepted: {w}");
    assert_eq!(s[0].health, Health::Active, "a warning does not stop the listener");
    assert!(s[1].warnings.is_empty(), "{:?}", s[1].warnings);
}
