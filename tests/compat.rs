//! Listeners built against contract 0.1 keep loading and serving beside 0.2 ones
//! (`guests/dist/v0.1`: built from the 0.1 SDK's source in the repository's history).

use tokenwatch::{Outcome, TokenEvent};
use tokenwatch_tests::*;

#[test]
fn a_0_1_listener_and_its_0_2_rebuild_log_the_same_lines_side_by_side() {
    let (host, rec) = host(vec![listener_v0_1("old", "sign-in-audit"), listener("new", "sign-in-audit")]);
    let contracts: Vec<&str> = host.status().iter().map(|s| s.contract).collect();
    assert_eq!(contracts, ["0.1.0", "0.2.0"]);
    for sub in ["alice", "bob"] {
        let d = host.dispatch(&id_token(sub));
        assert!(d.iter().all(|d| d.outcome == Outcome::Ok), "{d:?}");
    }
    // An event without the optional claims: both say `-`.
    let bare = r#"{"kind":"id_token","claims":{"sub":"carol","iat":1700000000}}"#;
    host.dispatch(&std::sync::Arc::new(TokenEvent::from_json_line(bare).unwrap()));
    let old = rec.of("old");
    assert_eq!(old.len(), 3, "{old:?}");
    assert_eq!(old, rec.of("new"));
    assert!(old[0].starts_with("sign-in sub=alice iat=1700000000 ") && old[0].ends_with(r#"amr=["pwd","otp"]"#), "{old:?}");
    assert!(old[2].ends_with("acr=- amr=-"), "{old:?}");
}

#[test]
fn a_0_1_listener_still_reads_claims_exactly_as_issued_through_its_resources() {
    let line = r#"{"kind":"id_token","claims":{"sub":"alice","big":123456789012345678901234567890,"e":1e2}}"#;
    let (host, rec) = host(vec![probe_v0_1("dump", "claims-dump")]);
    let d = host.dispatch(&std::sync::Arc::new(TokenEvent::from_json_line(line).unwrap()));
    assert_eq!(d[0].outcome, Outcome::Ok);
    let lines = rec.of("dump");
    assert!(lines.contains(&r#"claims {"sub":"alice","big":123456789012345678901234567890,"e":1e2}"#.to_owned()), "{lines:?}");
    assert!(lines.contains(&"claim e=1e2".to_owned()), "{lines:?}");
}

#[test]
fn a_0_1_listener_is_contained_like_a_0_2_one() {
    let (host, rec) = host(vec![probe_v0_1("old-panic", "panic"), probe("new", "record")]);
    let d = host.dispatch(&id_token("alice"));
    assert!(matches!(&d[0].outcome, Outcome::Trap { message, .. } if message.contains("probe panic")), "{d:?}");
    assert_eq!(d[1].outcome, Outcome::Ok);
    assert_eq!(rec.of("new").last().map(String::as_str), Some("id-token alice"));
}

#[test]
fn a_component_whose_exports_mix_contract_versions_is_refused_at_load() {
    // The 0.1 template listener, with a 0.2 access-token handler exported beside it.
    let wat = WatListener { imports: r#"(func (export "access") (param i32 i32))"#.into(), ..Default::default() };
    let text = wat.text();
    let mixed = format!(
        r#"{}
  (func $access (param "event" (list u8))
    (canon lift (core func $i "access") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (instance $access-listener (export "access-token-issued" (func $access)))
  (export "tokenwatch:listener/access-token-listener@0.2.0" (instance $access-listener))
)"#,
        text.trim_end().strip_suffix(')').expect("the template ends the component")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.wasm");
    std::fs::write(&path, wat::parse_str(&mixed).unwrap_or_else(|e| panic!("bad WAT: {e}"))).unwrap();
    let e = build_error(vec![tokenwatch::ListenerConfig::new(&path)]);
    assert!(e.contains("exports tokenwatch:listener/access-token-listener@0.2.0 with tokenwatch:listener/lifecycle@0.1.0"), "{e}");
    assert!(e.contains("all of a listener's exports must be of one contract version"), "{e}");
}
