//! Signing throughput: this host's signer (policy + envelope + signature with the cached key
//! pair) for each algorithm, against plain `jsonwebtoken::encode` (RS256, same key, same
//! run, interleaved in rounds so both see the same machine load).

use super::{generate, Alg, SetPolicy, Signer, SigningKey};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CONTENT: &str = r#"{"sub":"alice","events":{"https://schemas.openid.net/secevent/caep/event-type/session-established":{"event_timestamp":1700000000,"client_id":"client-123","acr":"urn:c2id:acr:mfa","amr":["pwd","otp"]}}}"#;

/// Measure signatures per second for RS256, PS256, ES256 and EdDSA with the host's signer,
/// and for RS256 with `jsonwebtoken::encode` on the same key. `per_alg` is the time spent
/// on each (the jsonwebtoken comparison gets the same as RS256). Keys are generated here.
pub fn bench_signing(per_alg: Duration) -> Value {
    let policy = SetPolicy { audiences: vec!["https://receiver.example.com".into()], ..SetPolicy::default() };
    let issuer = "https://c2id.example.com";
    let mut section = serde_json::Map::new();
    let mut rs256 = 0.0;
    let mut jwt_rs256 = 0.0;
    for alg in Alg::ALL {
        let generated = generate(alg, &format!("bench-{alg}"));
        let key = SigningKey::from_text(&generated.private_jwks().to_string(), "bench", None, None)
            .expect("a generated key loads");
        let signer = Signer::new(key, issuer);
        if alg != Alg::RS256 {
            let (n, secs) = run(per_alg, 1, |_| {
                std::hint::black_box(signer.sign_set(&policy, CONTENT, None).expect("signs"));
            });
            section.insert(alg.as_str().to_lowercase(), json!({"signatures_per_sec": round(n as f64 / secs), "signatures": n}));
            continue;
        }
        // RS256: this signer and jsonwebtoken alternately, in rounds of 20 signatures.
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(generated.pkcs8_pem.as_bytes()).expect("jsonwebtoken reads PKCS#8");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.typ = Some("secevent+jwt".into());
        header.kid = Some(signer.key().kid().to_owned());
        let content: Value = serde_json::from_str(CONTENT).expect("valid");
        let (mut ours, mut theirs) = ((0u64, Duration::ZERO), (0u64, Duration::ZERO));
        let deadline = Instant::now() + per_alg * 2;
        let mut i = 0u64;
        while Instant::now() < deadline {
            let t = Instant::now();
            for _ in 0..20 {
                std::hint::black_box(signer.sign_set(&policy, CONTENT, None).expect("signs"));
            }
            ours = (ours.0 + 20, ours.1 + t.elapsed());
            let t = Instant::now();
            for _ in 0..20 {
                // The same claims the host signer builds (iss, iat, jti, aud, content).
                let mut claims = json!({"iss": issuer, "iat": 1_700_000_000, "jti": format!("j{i}"), "aud": policy.audiences[0]});
                i += 1;
                for (k, v) in content.as_object().expect("object") {
                    claims[k] = v.clone();
                }
                std::hint::black_box(jsonwebtoken::encode(&header, &claims, &encoding).expect("encodes"));
            }
            theirs = (theirs.0 + 20, theirs.1 + t.elapsed());
        }
        rs256 = ours.0 as f64 / ours.1.as_secs_f64();
        jwt_rs256 = theirs.0 as f64 / theirs.1.as_secs_f64();
        section.insert("rs256".into(), json!({"signatures_per_sec": round(rs256), "signatures": ours.0}));
        section.insert(
            "jsonwebtoken_rs256".into(),
            json!({"signatures_per_sec": round(jwt_rs256), "signatures": theirs.0}),
        );
    }
    let speedup = if jwt_rs256 > 0.0 { (rs256 / jwt_rs256 * 100.0).round() / 100.0 } else { 0.0 };
    section.insert("rs256_speedup_vs_jsonwebtoken".into(), json!(speedup));
    section.insert("seconds_per_alg".into(), json!(per_alg.as_secs_f64()));
    Value::Object(section)
}

fn round(x: f64) -> f64 {
    x.round()
}

/// Call `f` in batches until `time` has passed: (calls, seconds).
fn run(time: Duration, batch: u64, mut f: impl FnMut(u64)) -> (u64, f64) {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < time {
        for _ in 0..batch {
            f(n);
            n += 1;
        }
    }
    (n, start.elapsed().as_secs_f64())
}
