use super::*;
use serde_json::json;
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use std::sync::OnceLock;

/// RSA generation is slow: one key per alg for the whole module.
fn keys() -> &'static [(Alg, GeneratedKey)] {
    static KEYS: OnceLock<Vec<(Alg, GeneratedKey)>> = OnceLock::new();
    KEYS.get_or_init(|| Alg::ALL.iter().map(|a| (*a, generate(*a, &format!("k-{a}")))).collect())
}

fn key(alg: Alg) -> &'static GeneratedKey {
    &keys().iter().find(|(a, _)| *a == alg).unwrap().1
}

fn signer(alg: Alg) -> Signer {
    let k = SigningKey::from_text(&key(alg).private_jwks().to_string(), "test.jwks", None, None).unwrap();
    Signer::new(k, "https://op.example.com")
}

fn d64(s: &str) -> Vec<u8> {
    B64.decode(s).unwrap()
}

/// Verify a compact JWS with aws-lc-rs and the public JWK only; the header and claims.
fn verify(jws: &str, public_jwk: &Value) -> (Value, Value) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let header: Value = serde_json::from_slice(&d64(parts[0])).unwrap();
    let claims: Value = serde_json::from_slice(&d64(parts[1])).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    let signature = d64(parts[2]);
    let s = |m: &str| d64(public_jwk[m].as_str().unwrap());
    let ok = match header["alg"].as_str().unwrap() {
        a @ ("RS256" | "PS256") => {
            let alg: &sig::RsaParameters = if a == "RS256" { &sig::RSA_PKCS1_2048_8192_SHA256 } else { &sig::RSA_PSS_2048_8192_SHA256 };
            sig::RsaPublicKeyComponents { n: s("n"), e: s("e") }.verify(alg, input.as_bytes(), &signature).is_ok()
        }
        "ES256" => {
            let mut point = vec![4];
            point.extend(s("x"));
            point.extend(s("y"));
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).verify(input.as_bytes(), &signature).is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&sig::ED25519, s("x")).verify(input.as_bytes(), &signature).is_ok(),
        other => panic!("alg {other}"),
    };
    assert!(ok, "signature does not verify: {jws}");
    (header, claims)
}

const GOOD: &str = r#"{"sub":"alice","events":{"https://schemas.openid.net/secevent/caep/event-type/session-established":{"event_timestamp":1}}}"#;

#[test]
fn round_trip_every_alg_from_jwk_set_and_pem() {
    for (alg, k) in keys() {
        for (source, text) in [("jwks", k.private_jwks().to_string()), ("pem", k.pkcs8_pem.clone())] {
            let loaded = SigningKey::from_text(&text, source, Some(&format!("k-{alg}")), Some(*alg)).unwrap();
            assert_eq!(loaded.alg(), *alg, "{source}");
            assert_eq!(loaded.kid(), format!("k-{alg}"));
            let public = loaded.public_jwk();
            let s = Signer::new(loaded, "https://op.example.com");
            let policy = SetPolicy { audiences: vec!["https://rp.example".into()], ..SetPolicy::default() };
            let jws = s.sign_set(&policy, GOOD, None).unwrap();
            let (header, claims) = verify(&jws, &public);
            assert_eq!(header, json!({"alg": alg.as_str(), "typ": "secevent+jwt", "kid": format!("k-{alg}")}));
            assert_eq!(claims["iss"], "https://op.example.com");
            assert_eq!(claims["aud"], "https://rp.example");
            assert_eq!(claims["sub"], "alice");
            assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
            assert_eq!(d64(claims["jti"].as_str().unwrap()).len(), 16, "128-bit jti");
        }
    }
}

#[test]
fn pem_key_without_kid_gets_its_thumbprint_and_pkcs1_sec1_load() {
    let k = SigningKey::from_text(&key(Alg::RS256).pkcs8_pem, "k.pem", None, None).unwrap();
    // RFC 7638 thumbprint: the same whatever the source.
    let mut jwk = key(Alg::RS256).private_jwk.clone();
    jwk.as_object_mut().unwrap().remove("kid");
    let from_jwk = SigningKey::from_text(&jwk.to_string(), "k.jwk", None, None).unwrap();
    assert_eq!(k.kid(), from_jwk.kid());
    assert_eq!(k.kid().len(), 43);
    // PKCS#1 and SEC1 blocks, converted with pkcs1 / the key's own DER.
    let der = pem::parse(&key(Alg::RS256).pkcs8_pem).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.contents()).unwrap();
    let pkcs1_pem = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", info.private_key.to_vec()));
    let k1 = SigningKey::from_text(&pkcs1_pem, "k1.pem", Some("x"), Some(Alg::PS256)).unwrap();
    assert_eq!((k1.kid(), k1.alg()), ("x", Alg::PS256));
    let der = pem::parse(&key(Alg::ES256).pkcs8_pem).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.contents()).unwrap();
    let sec1_pem = pem::encode(&pem::Pem::new("EC PRIVATE KEY", info.private_key.to_vec()));
    let e = SigningKey::from_text(&sec1_pem, "ec.pem", None, None).unwrap();
    assert_eq!(e.alg(), Alg::ES256);
}

#[test]
fn public_jwks_has_no_private_members() {
    for (alg, _) in keys() {
        let jwks = signer(*alg).public_jwks();
        let k = &jwks["keys"][0];
        for m in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(k.get(m).is_none(), "{alg}: public JWK has `{m}`: {k}");
        }
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], alg.as_str());
        // And every value in it is one of the public members.
        let allowed = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"];
        assert!(k.as_object().unwrap().keys().all(|m| allowed.contains(&m.as_str())), "{k}");
    }
}

#[test]
fn the_key_is_chosen_by_kid_else_the_first_signing_key() {
    let enc = json!({"kty": "RSA", "use": "enc", "kid": "enc-1", "n": "AQAB", "e": "AQAB"});
    let set = json!({"keys": [enc, key(Alg::ES256).private_jwk, key(Alg::EdDSA).private_jwk]}).to_string();
    assert_eq!(SigningKey::from_text(&set, "s", None, None).unwrap().kid(), "k-ES256");
    assert_eq!(SigningKey::from_text(&set, "s", Some("k-EdDSA"), None).unwrap().alg(), Alg::EdDSA);
    let e = SigningKey::from_text(&set, "s", Some("nope"), None).unwrap_err();
    assert!(e.to_string().contains("no key with kid \"nope\""), "{e}");
    assert!(e.to_string().contains("\"k-ES256\""), "lists the kids: {e}");
    let e = SigningKey::from_text(&set, "s", Some("enc-1"), None).unwrap_err();
    assert!(e.to_string().contains("key 0 (kid \"enc-1\"): not a signing key"), "{e}");
}

fn bad(jwk: Value) -> String {
    SigningKey::from_text(&json!({"keys": [jwk]}).to_string(), "/etc/keys.jwks", None, None)
        .unwrap_err()
        .to_string()
}

fn without(alg: Alg, members: &[&str]) -> Value {
    let mut k = key(alg).private_jwk.clone();
    for m in members {
        k.as_object_mut().unwrap().remove(*m);
    }
    k
}

#[test]
fn bad_key_files_name_file_key_and_problem() {
    let e = bad(without(Alg::RS256, &["d", "p", "q", "dp", "dq", "qi"]));
    assert!(e.starts_with("signing key file /etc/keys.jwks: key 0 (kid \"k-RS256\"): missing private part (`d`)"), "{e}");
    let e = bad(without(Alg::ES256, &["d"]));
    assert!(e.contains("missing private part (`d`)"), "{e}");
    let e = bad(without(Alg::EdDSA, &["d"]));
    assert!(e.contains("missing private part (`d`)"), "{e}");
    let e = bad(json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}));
    assert!(e.contains("key 0 (kid \"h\"): unsupported kty \"oct\""), "{e}");
    let mut k = key(Alg::ES256).private_jwk.clone();
    k["crv"] = "P-384".into();
    k["alg"] = "ES384".into();
    assert!(bad(k.clone()).contains("unsupported alg \"ES384\""), "{}", bad(k));
    let mut k = key(Alg::ES256).private_jwk.clone();
    k["crv"] = "P-384".into();
    assert!(bad(k.clone()).contains("unsupported crv \"P-384\""), "{}", bad(k));
    let mut k = key(Alg::RS256).private_jwk.clone();
    k["alg"] = "ES256".into();
    assert!(bad(k.clone()).contains("does not fit a key of kty RSA"), "{}", bad(k));
    // A 1024-bit modulus.
    let mut k = key(Alg::RS256).private_jwk.clone();
    k["n"] = B64.encode([0xffu8; 128]).into();
    assert!(bad(k.clone()).contains("RSA key of 1024 bits: under 2048 bits"), "{}", bad(k));
    // Inconsistent members (d of another key).
    let mut k = key(Alg::ES256).private_jwk.clone();
    k["d"] = B64.encode([7u8; 32]).into();
    assert!(bad(k.clone()).contains("do not belong together"), "{}", bad(k));
    let e = SigningKey::from_text("{\"keys\": []}", "f", None, None).unwrap_err();
    assert_eq!(e.to_string(), "signing key file f: no signing key (`use`: \"sig\") among its 0 keys");
    let e = SigningKey::from_text("nonsense", "f", None, None).unwrap_err();
    assert!(e.to_string().contains("neither a JWK set"), "{e}");
    let e = SigningKey::load(Path::new("/nonexistent/k.pem"), None, None).unwrap_err();
    assert!(e.to_string().starts_with("signing key file /nonexistent/k.pem: cannot read"), "{e}");
}

#[test]
fn bad_pem_files_say_what_is_wrong() {
    let public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let e = SigningKey::from_text(public, "p.pem", None, None).unwrap_err().to_string();
    assert!(e.contains("missing private part: no PRIVATE KEY block (found: PUBLIC KEY)"), "{e}");
    let enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let e = SigningKey::from_text(enc, "p.pem", None, None).unwrap_err().to_string();
    assert!(e.contains("PEM block 0 (ENCRYPTED PRIVATE KEY): encrypted private keys are not supported"), "{e}");
    let e = SigningKey::from_text(&key(Alg::ES256).pkcs8_pem, "p.pem", None, Some(Alg::RS256)).unwrap_err().to_string();
    assert!(e.contains("does not fit a key of kty EC"), "{e}");
}

fn refused(content: &str) -> String {
    match signer(Alg::EdDSA).sign_set(&SetPolicy::default(), content, None) {
        Err(Refusal::Refused(m)) => m,
        other => panic!("{content}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn policy_refuses_each_rule_naming_rule_and_claim() {
    for c in policy::FORBIDDEN_CLAIMS {
        let content = format!(r#"{{"{c}":1,"events":{{"urn:x:y":{{}}}}}}"#);
        assert!(refused(&content).starts_with(&format!("forbidden-claim: {c}:")), "{c}");
    }
    assert!(refused(r#"{"foo":1,"events":{"urn:x:y":{}}}"#).starts_with("unknown-claim: foo:"));
    assert!(refused(r#"{"iss":"https://evil.example","events":{"urn:x:y":{}}}"#).starts_with("host-claim: iss:"));
    assert!(refused(r#"{"iat":5,"events":{"urn:x:y":{}}}"#).starts_with("host-claim: iat:"));
    assert!(refused(r#"{"jti":"mine","events":{"urn:x:y":{}}}"#).starts_with("host-claim: jti:"));
    assert!(refused(r#"{"aud":"https://rp","events":{"urn:x:y":{}}}"#).starts_with("host-claim: aud:"));
    assert!(refused(r#"{"sub":"a"}"#).starts_with("events: events: missing"));
    assert!(refused(r#"{"events":{}}"#).starts_with("events: events: must hold at least one"));
    assert!(refused(r#"{"events":[1]}"#).starts_with("events: events: must be a JSON object"));
    assert!(refused(r#"{"events":{"not a uri":{}}}"#).contains("is not a URI"));
    assert!(refused(r#"{"events":{"urn:x:y":"str"}}"#).contains("is not a JSON object"));
    assert!(refused(r#"{"sub":1,"events":{"urn:x:y":{}}}"#).starts_with("claim-type: sub:"));
    assert!(refused(r#"{"toe":"x","events":{"urn:x:y":{}}}"#).starts_with("claim-type: toe:"));
    assert!(refused(r#"{"sub_id":"x","events":{"urn:x:y":{}}}"#).starts_with("claim-type: sub_id:"));
    assert!(refused("[1]").starts_with("not-object:"));
    assert!(refused("{").starts_with("not-json:"));
    // ID-token- and access-token-shaped content.
    assert!(refused(r#"{"sub":"a","exp":2,"nonce":"n","events":{"urn:x:y":{}}}"#).starts_with("forbidden-claim: exp"));
    assert!(refused(r#"{"scope":"openid","client_id":"c","exp":2,"events":{"urn:x:y":{}}}"#).starts_with("forbidden-claim: scope"));
}

#[test]
fn host_claims_equal_to_the_hosts_are_accepted_and_all_allowed_claims_kept_in_order() {
    let s = signer(Alg::EdDSA);
    let content = r#"{"iss":"https://op.example.com","iat":1800000000,"toe":1799999999,"txn":"t1","sub_id":{"format":"opaque","id":"x"},"sub":"a","events":{"urn:x:y":{"k":1}}}"#;
    let jws = s.sign_set_at(&SetPolicy::default(), content, None, 1_800_000_000).unwrap();
    let (_, claims) = verify(&jws, &s.key().public_jwk());
    let names: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(names, ["iss", "iat", "jti", "toe", "txn", "sub_id", "sub", "events"], "no aud when none configured");
}

#[test]
fn audiences_only_from_configuration() {
    let s = signer(Alg::ES256);
    let one = SetPolicy { audiences: vec!["a".into()], ..SetPolicy::default() };
    let two = SetPolicy { audiences: vec!["a".into(), "b".into()], ..SetPolicy::default() };
    let aud = |p: &SetPolicy, pick: Option<&str>| {
        let jws = s.sign_set(p, GOOD, pick).unwrap();
        verify(&jws, &s.key().public_jwk()).1["aud"].clone()
    };
    assert_eq!(aud(&one, None), json!("a"));
    assert_eq!(aud(&two, None), json!(["a", "b"]));
    assert_eq!(aud(&two, Some("b")), json!("b"));
    assert_eq!(s.sign_set(&two, GOOD, Some("evil")), Err(Refusal::AudienceNotAllowed("evil".into())));
    assert_eq!(s.sign_set(&SetPolicy::default(), GOOD, Some("a")), Err(Refusal::AudienceNotAllowed("a".into())));
}

#[test]
fn content_over_the_cap_is_too_large() {
    let s = signer(Alg::EdDSA);
    let big = format!(r#"{{"sub":"{}","events":{{"urn:x:y":{{}}}}}}"#, "x".repeat(70_000));
    assert_eq!(s.sign_set(&SetPolicy::default(), &big, None), Err(Refusal::TooLarge(65536)));
}

#[test]
fn jtis_are_unique() {
    let s = signer(Alg::EdDSA);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2000 {
        let jws = s.sign_set(&SetPolicy::default(), GOOD, None).unwrap();
        let claims: Value = serde_json::from_slice(&d64(jws.split('.').nth(1).unwrap())).unwrap();
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

#[test]
fn uris() {
    assert!(policy::is_uri("https://schemas.openid.net/secevent/caep/event-type/session-established"));
    assert!(policy::is_uri("urn:ietf:params:event:x"));
    assert!(!policy::is_uri("session-established"));
    assert!(!policy::is_uri("1http://x"));
    assert!(!policy::is_uri("https://a b"));
    assert!(!policy::is_uri("x:"));
}
