//! SET signing through real guests and the host API: the policy a guest cannot get around,
//! costs, key loading errors, and SETs verified by an independent JOSE implementation
//! (Python jwcrypto, `tests/verify_sets.py`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokenwatch::signing::{generate, Alg, GeneratedKey, SetPolicy, Signer, SigningConfig};
use tokenwatch::{Config, Host, HostError, ListenerConfig, Outcome, TrapCause};
use tokenwatch_tests::*;

const ISSUER: &str = "https://c2id.example.com";
const SESSION: &str = "https://schemas.openid.net/secevent/caep/event-type/session-established";

/// One generated key per alg (RSA generation is slow), written once as a private JWK set.
struct Keys {
    _dir: tempfile::TempDir,
    jwks_file: PathBuf,
    keys: Vec<(Alg, GeneratedKey)>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys: Vec<(Alg, GeneratedKey)> = Alg::ALL.iter().map(|a| (*a, generate(*a, &format!("set-{a}")))).collect();
        let dir = tempfile::tempdir().unwrap();
        let jwks_file = dir.path().join("server-jwks.json");
        let set = json!({"keys": keys.iter().map(|(_, k)| k.private_jwk.clone()).collect::<Vec<_>>()});
        std::fs::write(&jwks_file, set.to_string()).unwrap();
        Keys { _dir: dir, jwks_file, keys }
    })
}

fn signing(kid: &str) -> SigningConfig {
    let mut c = SigningConfig::new(&keys().jwks_file, ISSUER);
    c.kid = Some(kid.to_owned());
    c
}

fn signing_host(listeners: Vec<ListenerConfig>, signing: SigningConfig) -> (Host, std::sync::Arc<Recorder>) {
    host_with(Config { listeners, signing: Some(signing), ..Config::default() })
}

fn forger(name: &str, mode: &str) -> ListenerConfig {
    let mut l = listener(name, "set-forger");
    l.properties.insert("mode".into(), mode.into());
    l
}

fn part(jws: &str, i: usize) -> Value {
    serde_json::from_slice(&B64.decode(jws.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

/// The one line a set-forger call logged (after `init`'s none).
fn lines(rec: &Recorder, name: &str) -> Vec<String> {
    rec.of(name)
}

#[test]
fn sign_in_set_signs_a_caep_session_established_set_and_logs_it_without_a_sink() {
    let mut l = listener("sign-in-set", "sign-in-set");
    l.set_audiences = vec!["https://rp.example.com".into()];
    let (host, rec) = signing_host(vec![l], signing("set-RS256"));
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Ok);
    let logged = lines(&rec, "sign-in-set");
    assert_eq!(logged.len(), 1, "{logged:?}");
    let jws = logged[0].strip_prefix("SET ").expect("the SET is logged at info");
    assert_eq!(part(jws, 0), json!({"alg": "RS256", "typ": "secevent+jwt", "kid": "set-RS256"}));
    let claims = part(jws, 1);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "https://rp.example.com");
    let event = &claims["events"][SESSION];
    assert_eq!(event["subject"], json!({"format": "iss_sub", "iss": ISSUER, "sub": "alice"}));
    assert_eq!(event["event_timestamp"], 1_700_000_000);
    assert_eq!(event["acr"], "urn:c2id:acr:mfa");
    assert_eq!(event["amr"], json!(["pwd", "otp"]));
    assert_eq!(event["client_id"], "client-123");
    assert!(claims.get("acr").is_none() && claims.get("exp").is_none(), "nothing token-like at top level");
    let c = &host.status()[0].counters;
    assert_eq!((c.sets_signed, c.sets_refused), (1, 0));
}

#[test]
fn without_a_key_sign_set_answers_no_key_configured() {
    let (host, rec) = host(vec![forger("f", "good")]);
    host.dispatch(&id_token("alice"));
    assert_eq!(lines(&rec, "f"), ["error no-key-configured"]);
    assert_eq!(host.status()[0].counters.sets_refused, 1);
}

#[test]
fn id_token_shaped_claims_are_refused() {
    let (host, rec) = signing_host(vec![forger("f", "id-token-shaped")], signing("set-ES256"));
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok);
    let l = lines(&rec, "f");
    assert_eq!(l.len(), 2, "{l:?}");
    // The guest's own `aud` is refused before `exp` (content order); a client as audience too.
    assert!(l[0].starts_with("error refused: host-claim: aud:"), "{l:?}");
    assert_eq!(l[1], "error audience-not-allowed: client-123");
    let c = &host.status()[0].counters;
    assert_eq!((c.sets_signed, c.sets_refused), (0, 2));
}

#[test]
fn access_token_shaped_claims_and_a_forged_issuer_are_refused() {
    let (host, rec) = signing_host(
        vec![forger("at", "access-token-shaped"), forger("iss", "forged-iss")],
        signing("set-EdDSA"),
    );
    host.dispatch(&access_token("alice", "client-123", "openid"));
    let l = lines(&rec, "at");
    assert!(l[0].starts_with("error refused: forbidden-claim: scope:"), "{l:?}");
    let l = lines(&rec, "iss");
    assert!(l[0].starts_with("error refused: host-claim: iss: differs from the host's issuer"), "{l:?}");
}

#[test]
fn ten_thousand_signatures_in_one_event_hit_the_quota_and_the_next_event_is_served() {
    let mut l = forger("f", "flood");
    l.max_signatures_per_call = Some(16);
    let (host, rec) = signing_host(vec![l, probe("healthy", "record")], signing("set-EdDSA"));
    for sub in ["alice", "bob"] {
        let d = host.dispatch(&id_token(sub));
        assert_eq!(d[0].outcome, Outcome::Ok, "{d:?}");
        assert_eq!(d[1].outcome, Outcome::Ok);
    }
    assert_eq!(lines(&rec, "f"), ["flood signed=16 quota=9984 other=0"; 2], "the quota resets per call");
    let c = &host.status()[0].counters;
    assert_eq!((c.sets_signed, c.sets_refused), (32, 2 * 9984));
}

#[test]
fn ten_megabytes_of_claims_are_refused_before_they_are_read() {
    // Building 10 MB in the guest costs more than the default fuel and deadline. Content over
    // the guest-transfer cap (1 MiB) is refused before the host copies or decodes a byte: the
    // call traps. (Content over `max_set_bytes` but within the cap gets the typed `too-large`:
    // `guest_strings.rs`.)
    let mut l = forger("f", "huge");
    l.limits = tokenwatch::LimitsConfig { fuel: Some(2_000_000_000), deadline_ms: Some(5_000), ..Default::default() };
    let (host, rec) = signing_host(vec![l, probe("healthy", "record")], signing("set-EdDSA"));
    let d = host.dispatch(&id_token("alice"));
    assert!(matches!(&d[0].outcome, Outcome::Trap { cause: TrapCause::Host, message } if message.contains("too much data")), "{d:?}");
    assert_eq!(d[1].outcome, Outcome::Ok);
    assert!(lines(&rec, "f").is_empty());
}

#[test]
fn a_signature_costs_fuel_and_running_out_is_a_fuel_trap() {
    // The default budget is 10 M fuel; a price of 20 M cannot be paid.
    let mut s = signing("set-EdDSA");
    s.fuel_per_signature = Some(20_000_000);
    let (host, _) = signing_host(vec![forger("f", "good")], s);
    match &host.dispatch(&id_token("alice"))[0].outcome {
        Outcome::Trap { cause, .. } => assert_eq!(*cause, TrapCause::Fuel),
        other => panic!("expected a fuel trap, got {other:?}"),
    }
    // A payable price shows in the fuel the call used.
    let mut s = signing("set-EdDSA");
    s.fuel_per_signature = Some(3_000_000);
    let (host, _) = signing_host(vec![forger("f", "good")], s);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Ok);
    assert!(d[0].fuel >= 3_000_000, "fuel {}", d[0].fuel);
}

#[test]
fn audiences_come_only_from_the_listeners_configuration() {
    let mut picks = forger("picks", "good");
    picks.properties.insert("audience".into(), "https://rp2.example".into());
    picks.set_audiences = vec!["https://rp1.example".into(), "https://rp2.example".into()];
    let mut own = forger("own", "good");
    own.properties.insert("audience".into(), "https://evil.example".into());
    own.set_audiences = vec!["https://rp1.example".into()];
    let mut all = forger("all", "good");
    all.set_audiences = vec!["https://rp1.example".into(), "https://rp2.example".into()];
    let (host, rec) = signing_host(vec![picks, own, all], signing("set-PS256"));
    host.dispatch(&id_token("alice"));
    let jws = lines(&rec, "picks")[0].strip_prefix("signed ").unwrap().to_owned();
    assert_eq!(part(&jws, 1)["aud"], "https://rp2.example");
    assert_eq!(lines(&rec, "own"), ["error audience-not-allowed: https://evil.example"]);
    let jws = lines(&rec, "all")[0].strip_prefix("signed ").unwrap().to_owned();
    assert_eq!(part(&jws, 1)["aud"], json!(["https://rp1.example", "https://rp2.example"]));
}

/// What the guest receives from `sign-set` is the compact JWS and nothing else: three
/// base64url parts, the first two JSON (header, claims) holding no key member, the third
/// the signature, and no private key member's value anywhere in what it logged.
#[test]
fn the_guest_receives_only_the_compact_jws() {
    for (alg, key) in &keys().keys {
        let (host, rec) = signing_host(vec![forger("f", "good")], signing(&format!("set-{alg}")));
        host.dispatch(&id_token("alice"));
        let line = lines(&rec, "f").remove(0);
        let jws = line.strip_prefix("signed ").unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')));
        let header = part(jws, 0);
        assert_eq!(header.as_object().unwrap().len(), 3, "alg, typ, kid only: {header}");
        let claims = part(jws, 1);
        let names: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, ["iss", "iat", "jti", "sub", "events"]);
        for m in ["d", "p", "q", "dp", "dq", "qi"] {
            if let Some(v) = key.private_jwk.get(m).and_then(Value::as_str) {
                assert!(!line.contains(v), "{alg}: private member {m} leaked");
            }
        }
    }
}

fn write_key(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn build_error(signing: SigningConfig) -> String {
    let config = Config { listeners: vec![forger("f", "good")], signing: Some(signing), ..Config::default() };
    match Host::builder(config).build() {
        Err(e @ HostError::Signing(_)) => e.to_string(),
        Err(e) => panic!("expected a signing key error, got {e}"),
        Ok(_) => panic!("a host with a bad key built"),
    }
}

#[test]
fn bad_key_files_fail_the_host_build_naming_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    // A public key only.
    let mut public = keys().keys[0].1.private_jwk.clone();
    for m in ["d", "p", "q", "dp", "dq", "qi"] {
        public.as_object_mut().unwrap().remove(m);
    }
    public["kid"] = "pub-only".into();
    let f = write_key(dir.path(), "public.jwks", &json!({"keys": [public]}).to_string());
    let e = build_error(SigningConfig::new(&f, ISSUER));
    assert_eq!(
        e,
        format!("signing key file {}: key 0 (kid \"pub-only\"): missing private part (`d`): this is a public key; the host needs the private key to sign", f.display())
    );
    // An unsupported kty.
    let f = write_key(dir.path(), "oct.jwks", r#"{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}"#);
    assert!(build_error(SigningConfig::new(&f, ISSUER)).ends_with("key 0 (kid \"hmac\"): unsupported kty \"oct\" (supported: RSA, EC, OKP)"));
    // A kid that is not there.
    let mut s = signing("nope");
    s.kid = Some("nope".into());
    assert!(build_error(s).contains("no key with kid \"nope\""));
    // RSA under 2048 bits, from the openssl CLI when present.
    if let Ok(out) = std::process::Command::new("openssl").args(["genrsa", "1024"]).output() {
        if out.status.success() {
            let f = write_key(dir.path(), "small.pem", &String::from_utf8(out.stdout).unwrap());
            let e = build_error(SigningConfig::new(&f, ISSUER));
            assert!(e.contains("small.pem: PEM block 0") && e.ends_with("RSA key under 2048 bits (at least 2048 are required)"), "{e}");
        }
    }
}

#[test]
fn config_file_signing_table_and_listener_audiences() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k.pem", &keys().keys[2].1.pkcs8_pem);
    let toml = format!(
        "[signing]\nkey_file = \"k.pem\"\nkid = \"pem-es\"\nissuer = \"{ISSUER}\"\n\n[[listener]]\npath = {:?}\nset_audiences = [\"https://rp.example\"]\nmax_signatures_per_call = 2\nproperties = {{ mode = \"good\" }}\n",
        guest("set-forger")
    );
    let cfg = write_key(dir.path(), "tw.toml", &toml);
    let config = Config::from_file(&cfg).unwrap();
    let s = config.signing.as_ref().unwrap();
    assert_eq!(s.key_file, key, "relative to the config file");
    let (host, rec) = host_with(config);
    host.dispatch(&id_token("alice"));
    let jws = rec.of("set-forger")[0].strip_prefix("signed ").unwrap().to_owned();
    assert_eq!(part(&jws, 0)["kid"], "pem-es");
    assert_eq!(part(&jws, 0)["alg"], "ES256");
    assert_eq!(part(&jws, 1)["aud"], "https://rp.example");
    let jwks = host.signer().unwrap().public_jwks();
    assert_eq!(jwks["keys"][0]["kid"], "pem-es");
    assert!(jwks["keys"][0].get("d").is_none());
    let e = Config::from_toml("[signing]\nkey_file = \"k\"\nissuer = \"x\"\nsecret = 1\n", dir.path()).unwrap_err();
    assert!(e.to_string().contains("unknown field `secret`"), "{e}");
}

/// The `tokenwatch` binary next to the test binary (built by `cargo test --workspace`).
fn tokenwatch_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("tokenwatch");
    bin.exists().then_some(bin)
}

#[test]
fn keys_jwks_prints_the_public_set() {
    let Some(bin) = tokenwatch_bin() else {
        eprintln!("skipped: no tokenwatch binary next to the test binary");
        return;
    };
    let out = std::process::Command::new(bin)
        .args(["keys", "jwks", "--signing-key"])
        .arg(&keys().jwks_file)
        .args(["--kid", "set-ES256"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let k = &jwks["keys"][0];
    assert_eq!((k["kid"].as_str(), k["kty"].as_str(), k["alg"].as_str()), (Some("set-ES256"), Some("EC"), Some("ES256")));
    assert!(k.get("d").is_none(), "{k}");
}

#[test]
fn replay_signs_with_the_key_named_by_kid() {
    let Some(bin) = tokenwatch_bin() else {
        eprintln!("skipped: no tokenwatch binary next to the test binary");
        return;
    };
    let mut child = std::process::Command::new(bin)
        .args(["replay", "--json", "--listener"])
        .arg(guest("sign-in-set"))
        .arg("--signing-key")
        .arg(&keys().jwks_file)
        .args(["--kid", "set-ES256", "--issuer", ISSUER, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let event = r#"{"kind":"id_token","claims":{"iss":"https://c2id.example.com","sub":"alice","aud":"webapp","iat":1764331200}}"#;
    writeln!(child.stdin.take().unwrap(), "{event}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let records: Vec<Value> = out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    let jws = records
        .iter()
        .find_map(|r| r["message"].as_str()?.strip_prefix("SET "))
        .unwrap_or_else(|| panic!("no SET logged: {records:?}"));
    assert_eq!(part(jws, 0), json!({"alg": "ES256", "typ": "secevent+jwt", "kid": "set-ES256"}));
}

/// Make sure jwcrypto is importable (installing it with scripts/test-deps.sh if not).
fn python_with_jwcrypto() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = |p: &str| {
        std::process::Command::new(p).args(["-c", "import jwcrypto"]).status().is_ok_and(|s| s.success())
    };
    if !ok(&python) {
        let status = std::process::Command::new(root().join("scripts/test-deps.sh")).status().expect("run scripts/test-deps.sh");
        assert!(status.success() && ok(&python), "jwcrypto is not installed: run scripts/test-deps.sh");
    }
    python
}

/// 10,000 SETs — 9,800 through the host API (all four algs, all audience choices) and 200
/// from the sign-in-set guest — verified by jwcrypto: signature, typ, kid, iss, aud, and
/// jti unique over all of them.
#[test]
fn ten_thousand_sets_verify_with_an_independent_jose_library() {
    let python = python_with_jwcrypto();
    let dir = tempfile::tempdir().unwrap();
    let sets_path = dir.path().join("sets.tsv");
    let mut sets = std::io::BufWriter::new(std::fs::File::create(&sets_path).unwrap());
    let audiences = vec!["https://rp1.example".to_string(), "https://rp2.example".to_string()];
    let policy = SetPolicy { audiences: audiences.clone(), ..SetPolicy::default() };
    let mut public = Vec::new();
    let content = format!(r#"{{"sub":"alice","txn":"t-1","events":{{"{SESSION}":{{"event_timestamp":1700000000}}}}}}"#);
    for (i, (alg, _)) in keys().keys.iter().enumerate() {
        let signer = Signer::from_config(&signing(&format!("set-{alg}"))).unwrap();
        public.push(signer.public_jwks()["keys"][0].clone());
        for n in 0..2450 {
            let (pick, aud) = match (n + i) % 3 {
                0 => (None, json!(audiences)),
                1 => (Some(audiences[0].as_str()), json!(audiences[0])),
                _ => (Some(audiences[1].as_str()), json!(audiences[1])),
            };
            let jws = signer.sign_set(&policy, &content, pick).unwrap();
            writeln!(sets, "{jws}\t{aud}").unwrap();
        }
    }
    // Through a real guest.
    let mut l = listener("sign-in-set", "sign-in-set");
    l.set_audiences = vec!["https://rp1.example".into()];
    let (host, rec) = signing_host(vec![l], signing("set-RS256"));
    for i in 0..200 {
        host.dispatch(&id_token(&format!("user-{i}")));
    }
    let guest_sets = rec.of("sign-in-set");
    assert_eq!(guest_sets.len(), 200);
    for line in guest_sets {
        writeln!(sets, "{}\t\"https://rp1.example\"", line.strip_prefix("SET ").unwrap()).unwrap();
    }
    drop(sets);
    let jwks_path = dir.path().join("public.jwks");
    std::fs::write(&jwks_path, json!({"keys": public}).to_string()).unwrap();
    let out = std::process::Command::new(python)
        .arg(root().join("tests/verify_sets.py"))
        .args([&jwks_path, &sets_path])
        .arg(ISSUER)
        .output()
        .unwrap();
    assert!(out.status.success(), "jwcrypto refused a SET: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["verified"], 10_000, "{summary}");
    assert_eq!(summary["algs"], json!({"RS256": 2650, "PS256": 2450, "ES256": 2450, "EdDSA": 2450}));
}
