//! The invariants of the fuzz targets, one function per target, each taking the target's raw
//! input and panicking when an invariant breaks. The cargo-fuzz targets (`fuzz/fuzz_targets/`)
//! are one call each; the property tests of `make test` (`tests/fuzz_props.rs`) call the
//! same functions with generated inputs, so CI checks the same invariants without a fuzzer.
//! docs/fuzzing.md lists what each target feeds and asserts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::io::{BufReader, Write as _};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokenwatch::cli::replay::{replay, BufferedLog, Format};
use tokenwatch::serve::{ingest, BodyFormat, Dispatched};
use tokenwatch::signing::policy::{is_uri, FORBIDDEN_CLAIMS, GUEST_CLAIMS};
use tokenwatch::signing::{generate, Alg, Refusal, SetPolicy, Signer, SigningKey};
use tokenwatch::{
    Claims, Config, EventError, EventKind, EventLines, Host, HostError, Ingress, ListenerConfig, SinkConfig, TokenEvent,
    MAX_LINE_BYTES,
};

// ---------------------------------------------------------------------------------------
// event_line

/// What one line of NDJSON must come to, worked out from that line alone: the line's bytes
/// without its line ending (a `\r` before the `\n` is part of the ending).
#[derive(Debug, PartialEq, Eq)]
pub enum Expected {
    Blank,
    /// A valid event, known by its claims' JSON text.
    Event(String),
    Bad(String),
}

/// The oracle: the checks the line reader makes of a line (length, UTF-8, blank), then the
/// event parser, on this line alone.
pub fn expect_line(line: &[u8]) -> Expected {
    // The reader drops a `\r` only while the line is within the limit plus that byte.
    let line = match line.strip_suffix(b"\r") {
        Some(shorter) if line.len() <= MAX_LINE_BYTES + 1 => shorter,
        _ => line,
    };
    if line.len() > MAX_LINE_BYTES {
        return Expected::Bad(format!("line too long: {} bytes, the limit is {MAX_LINE_BYTES}", line.len()));
    }
    match std::str::from_utf8(line) {
        Err(e) => Expected::Bad(format!("invalid UTF-8 at byte offset {}", e.valid_up_to())),
        Ok(text) if text.trim().is_empty() => Expected::Blank,
        Ok(text) => match TokenEvent::from_json_line(text) {
            Ok(event) => Expected::Event(event.claims.as_json().to_owned()),
            Err(EventError(e)) => Expected::Bad(e),
        },
    }
}

/// Any bytes as one event line: the line reader and the parser agree, an error is an error
/// (never a panic), and a parsed event writes back to a line that parses to the same event.
pub fn event_line(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        match TokenEvent::from_json_line(text) {
            Ok(event) => round_trip(&event),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    // As the ingress reads it: a line of its own, ended by `\n` (a `\n` inside is a
    // line break, so the input is cut at the first one).
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let input = [line, b"\n"].concat();
    let mut lines = EventLines::new(BufReader::with_capacity(7, input.as_slice()));
    let (index, got) = lines.next_event().expect("a slice reads").expect("one line");
    assert_eq!(index, 0);
    assert_eq!(ingress_outcome(got), expect_line(line), "{:?}", String::from_utf8_lossy(line));
    assert!(lines.next_event().expect("a slice reads").is_none(), "one line in, one line out");
}

fn ingress_outcome(ingress: Ingress) -> Expected {
    match ingress {
        Ingress::Blank => Expected::Blank,
        Ingress::Event(e) => Expected::Event(e.claims.as_json().to_owned()),
        Ingress::Bad(EventError(e)) => Expected::Bad(e),
    }
}

/// An event written back as a line (every field explicit) parses to the same event, and
/// its claims' text and each claim's span agree with the parsed values.
fn round_trip(event: &TokenEvent) {
    check_claims(&event.claims);
    let mut line = json!({"kind": event.kind.as_str(), "issuer": event.context.issuer});
    if event.context.client_metadata != "{}" {
        let client: Value = serde_json::from_str(&event.context.client_metadata).expect("client metadata is JSON");
        assert_eq!(client["client_id"].as_str(), Some(event.context.client_id.as_str()));
        line["client"] = client;
    }
    if let Some(local) = &event.local_subject {
        assert_eq!(event.kind, EventKind::IdToken, "local_subject only on ID tokens");
        line["local_subject"] = local.as_str().into();
    }
    // The claims go in as their kept text: through a `Value` a number could change
    // (serde_json's float parsing is not exact to the last bit).
    let line = format!("{{\"claims\":{},{}", event.claims.as_json(), &line.to_string()[1..]);
    let again = TokenEvent::from_json_line(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(again.claims.as_json(), event.claims.as_json());
    assert_eq!(again.kind, event.kind);
    assert_eq!(again.local_subject, event.local_subject);
    assert_eq!(again.context.issuer, event.context.issuer);
    assert_eq!(again.context.client_id, event.context.client_id);
    let names: Vec<&str> = event.claims.names().collect();
    assert_eq!(again.claims.names().collect::<Vec<_>>(), names);
    for name in names {
        assert_eq!(again.claims.get(name), event.claims.get(name), "claim {name:?}");
    }
    // The claims' own text, read again, is the same text (whitespace between members is
    // all that parsing drops).
    let reparsed = Claims::from_json(event.claims.as_json()).expect("claims text parses");
    assert_eq!(reparsed.as_json(), event.claims.as_json());
}

fn check_claims(claims: &Claims) {
    let whole: Map<String, Value> = serde_json::from_str(claims.as_json()).expect("claims text is a JSON object");
    assert_eq!(whole.len(), claims.names().count(), "no claim named twice");
    for name in claims.names() {
        let text = claims.json_of(name).expect("each name has a span");
        let value: Value = serde_json::from_str(text).expect("a span is a JSON value");
        assert_eq!(Some(&value), claims.get(name), "claim {name:?}: its span and its value");
        assert_eq!(whole.get(name), Some(&value));
    }
}

// ---------------------------------------------------------------------------------------
// event_stream

/// The claims of the line spliced between the fuzzed ones: it must be accepted, under its
/// own line number, whatever its neighbours hold.
pub const GOOD_LINE: &str = r#"{"kind":"id_token","claims":{"sub":"good-neighbour","aud":"app"}}"#;

/// A stream built from fuzzed lines: the first byte chooses where the good line goes, the
/// line ending, whether the last line has one and the reader's buffer size; the rest,
/// split at `\n`, are the lines.
pub struct Stream {
    pub body: Vec<u8>,
    /// Each line's bytes as the reader sees them, without the `\n`.
    pub lines: Vec<Vec<u8>>,
    /// The 0-based index of the good line.
    pub good: usize,
    pub buffer: usize,
}

impl Stream {
    pub fn from_fuzz(data: &[u8]) -> Stream {
        let (control, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
        let mut lines: Vec<Vec<u8>> = if rest.is_empty() { Vec::new() } else { rest.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect() };
        let good = usize::from(control >> 4) % (lines.len() + 1);
        lines.insert(good, GOOD_LINE.as_bytes().to_vec());
        let crlf = control & 1 != 0;
        let last_ended = control & 2 != 0;
        let buffer = [1, 2, 3, 8, 64, 8192][usize::from(control >> 2 & 3) + usize::from(control & 0x40 != 0) * 2];
        let mut body = Vec::new();
        let count = lines.len();
        for (i, line) in lines.iter_mut().enumerate() {
            body.extend_from_slice(line);
            if i + 1 < count || last_ended {
                if crlf {
                    body.push(b'\r');
                    line.push(b'\r');
                }
                body.push(b'\n');
            }
        }
        // An empty last line without an ending is no line at all.
        if !last_ended && lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        Stream { body, lines, good, buffer }
    }

    fn expected(&self) -> Vec<Expected> {
        self.lines.iter().map(|l| expect_line(l)).collect()
    }
}

/// A stream of lines through every ingress that reads NDJSON: the line reader, `serve`'s
/// body parser and `replay`. Each line comes to what it holds alone: bad bytes are that
/// line's error, every other line is still read, and the good line is accepted under its
/// own number.
pub fn event_stream(data: &[u8]) {
    let stream = Stream::from_fuzz(data);
    let want = stream.expected();
    assert_eq!(want[stream.good], Expected::Event(r#"{"sub":"good-neighbour","aud":"app"}"#.into()));
    let events: Vec<&String> = want.iter().filter_map(|w| if let Expected::Event(c) = w { Some(c) } else { None }).collect();
    let bad: Vec<usize> = want.iter().enumerate().filter(|(_, w)| matches!(w, Expected::Bad(_))).map(|(i, _)| i + 1).collect();

    // The line reader, through a buffer that cuts lines, CRLFs and UTF-8 sequences.
    let mut lines = EventLines::new(BufReader::with_capacity(stream.buffer, stream.body.as_slice()));
    let mut got = Vec::new();
    while let Some((index, ingress)) = lines.next_event().expect("a slice reads") {
        assert_eq!(index, got.len(), "line numbers count every line");
        got.push(ingress_outcome(ingress));
    }
    assert_eq!(got, want, "the line reader");

    // `serve`: POST /v1/events with application/x-ndjson.
    let mut dispatched = Vec::new();
    let ingested = ingest(&stream.body, BodyFormat::Ndjson, |e| {
        dispatched.push(e.claims.as_json().to_owned());
        Dispatched::Taken
    });
    assert_eq!(dispatched.iter().collect::<Vec<_>>(), events, "serve: the valid lines, in order");
    assert_eq!(ingested.accepted, events.len() as u64);
    assert_eq!(ingested.rejected_total, bad.len() as u64);
    let listed: Vec<usize> = ingested.rejected.iter().map(|r| r.line).collect();
    assert_eq!(listed, bad[..listed.len()], "serve: rejected under their own numbers");
    assert_eq!(listed.len(), bad.len().min(tokenwatch::serve::MAX_LISTED_REJECTIONS));

    // `serve`: the whole body as one application/json event.
    let single = ingest(&stream.body, BodyFormat::Single, |_| Dispatched::Taken);
    let whole = match std::str::from_utf8(&stream.body) {
        _ if stream.body.len() > MAX_LINE_BYTES => Some(false),
        Ok(text) if text.trim().is_empty() => None,
        Ok(text) => Some(TokenEvent::from_json_line(text).is_ok()),
        Err(_) => Some(false),
    };
    assert_eq!((single.accepted, single.rejected_total), match whole {
        None => (0, 0),
        Some(ok) => (u64::from(ok), u64::from(!ok)),
    });

    // `replay --json`, with no listener: one error record per bad line, under its number,
    // and every valid line counted.
    let records = replay_json(&stream.body, stream.buffer);
    let errors: Vec<usize> = records.iter().filter(|r| r["type"] == "error").map(|r| r["line"].as_u64().unwrap() as usize).collect();
    assert_eq!(errors, bad, "replay: error records");
    let summary = records.last().expect("a summary record");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["events"].as_u64(), Some(events.len() as u64));
    assert_eq!(summary["malformed"].as_u64(), Some(bad.len() as u64));
}

/// `replay --json` over `body` with a host of no listeners: its records.
fn replay_json(body: &[u8], buffer: usize) -> Vec<Value> {
    // One host for every input: building one per input made this target 50 times slower.
    // Replay shuts it down at the end of each input, which for a host without listeners
    // changes nothing the next replay reads (shutdown is once; there is nothing to dispatch to).
    static HOST: OnceLock<(Host, Arc<BufferedLog>)> = OnceLock::new();
    let (host, logs) = HOST.get_or_init(|| {
        let logs = Arc::new(BufferedLog::default());
        let host = Host::builder(Config::new()).log_sink(logs.clone()).build().expect("a host without listeners builds");
        (host, logs)
    });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    replay(host, logs, BufReader::with_capacity(buffer, body), Format::Json, &mut out, &mut err).expect("replay of a slice");
    assert!(err.is_empty(), "--json writes nothing on the error stream");
    String::from_utf8(out)
        .expect("records are UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a record is JSON: {e}: {l}")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// config_toml

/// Any text as the config file: a configuration or a [`tokenwatch::ConfigError`] that says
/// where, never a panic. A configuration that parses validates, and has its paths resolved.
/// The command-line overrides (`--property`, `--wasi`, `--sink`) take the first line.
pub fn config_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let base = Path::new("/fuzz/base");
    let first = text.lines().next().unwrap_or("");
    // `--sink NAME=URL` parses without a configuration.
    if let Err(e) = SinkConfig::from_url(first) {
        assert!(!e.is_empty());
    }
    match Config::from_toml(&text, base) {
        Ok(mut config) => {
            config.validate().expect("a parsed configuration validates");
            let mut names = std::collections::BTreeSet::new();
            for l in &config.listeners {
                assert!(l.path.is_absolute(), "{} resolved against the base", l.path.display());
                assert!(names.insert(l.name()), "names are unique");
            }
            if let Some(s) = &config.signing {
                assert!(s.key_file.is_absolute());
            }
            for spec in [first, "a.b=c"] {
                if let Err(e) = config.set_property(spec) {
                    assert!(!e.to_string().is_empty());
                }
            }
            let _ = config.grant_wasi(first);
            let _ = config.add_sink(first);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty());
            if let Some((line, column)) = e.position() {
                assert!(line >= 1 && column >= 1);
                assert!(line <= text.lines().count() + 1, "line {line} of {} lines: {message}", text.lines().count());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// signing_keys

/// Any text as the `[signing]` key file (a JWK set or PEM), with each `kid` and `alg`
/// choice: a key or a [`tokenwatch::signing::KeyError`], never a panic. A key that loads
/// signs, and its published JWK verifies the signature and holds no private member.
/// The first byte chooses the `kid` and `alg` given.
pub fn signing_keys(data: &[u8]) {
    let (control, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    let text = String::from_utf8_lossy(rest);
    let kid = match control & 3 {
        0 => None,
        1 => Some("k1"),
        2 => Some(""),
        _ => text.lines().next(),
    };
    let alg = match control >> 2 & 7 {
        0 => Some(Alg::RS256),
        1 => Some(Alg::PS256),
        2 => Some(Alg::ES256),
        3 => Some(Alg::EdDSA),
        _ => None,
    };
    match SigningKey::from_text(&text, "fuzz.key", kid, alg) {
        Ok(key) => check_key(&key, kid, alg),
        Err(e) => {
            assert_eq!(e.file, "fuzz.key");
            assert!(!e.message.is_empty());
        }
    }
}

fn check_key(key: &SigningKey, kid: Option<&str>, alg: Option<Alg>) {
    if let Some(alg) = alg {
        assert_eq!(key.alg(), alg, "the configured alg is the key's");
    }
    // A PEM key is named by the configured `kid`; a JWK is the one with that `kid`.
    if let Some(kid) = kid {
        assert_eq!(key.kid(), kid);
    }
    let jwk = key.public_jwk();
    assert_eq!(jwk["kid"].as_str(), Some(key.kid()));
    assert_eq!(jwk["alg"].as_str(), Some(key.alg().as_str()));
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(jwk.get(private).is_none(), "the public JWK holds `{private}`");
    }
    let message = b"header.payload";
    verify(&jwk, message, &key.sign(message));
    // The published set is no private key.
    let public = SigningKey::from_text(&key.public_jwks().to_string(), "public", None, None);
    assert!(public.is_err(), "the public JWK set loads as a private key");
}

/// Verify a JWS signature with a public JWK, as a receiver of the SETs would.
pub fn verify(jwk: &Value, message: &[u8], signature: &[u8]) {
    use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
    let member = |name: &str| B64.decode(jwk[name].as_str().expect("a public member")).expect("base64url");
    let result = match jwk["alg"].as_str().expect("alg") {
        alg @ ("RS256" | "PS256") => {
            let params = if alg == "RS256" { &signature::RSA_PKCS1_2048_8192_SHA256 } else { &signature::RSA_PSS_2048_8192_SHA256 };
            RsaPublicKeyComponents { n: member("n"), e: member("e") }.verify(params, message, signature)
        }
        "ES256" => {
            let point = [&[4u8][..], &member("x"), &member("y")].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, member("x")).verify(message, signature),
        other => panic!("unknown alg {other}"),
    };
    result.unwrap_or_else(|_| panic!("the signature does not verify under the published JWK {jwk}"));
}

// ---------------------------------------------------------------------------------------
// set_content

/// The issuer of the fuzzed SETs.
pub const ISSUER: &str = "https://op.example.com";
/// The `iat` of the fuzzed SETs (content may claim it, as it may claim the issuer).
pub const IAT: i64 = 1_700_000_000;

/// Two signers (ES256 and EdDSA: fast to sign), made once.
fn signers() -> &'static [Signer; 2] {
    static SIGNERS: OnceLock<[Signer; 2]> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        [Alg::ES256, Alg::EdDSA].map(|alg| {
            let key = SigningKey::from_text(&generate(alg, "set").pkcs8_pem, "generated", Some("set"), None).expect("a generated key");
            Signer::new(key, ISSUER)
        })
    })
}

/// Any text as the SET content a guest passes to `sign-set`, with each audience choice
/// (the first byte): a signed SET that keeps the RFC 8417 policy, or a refusal that says
/// why, never a panic.
pub fn set_content(data: &[u8]) {
    let (control, rest) = data.split_first().map_or((0, &[][..]), |(c, r)| (*c, r));
    // A guest's string is UTF-8 (the component model checks it).
    let content = String::from_utf8_lossy(rest);
    let audiences: Vec<String> = match control & 3 {
        0 => vec![],
        1 => vec!["https://rp.example".into()],
        _ => vec!["https://rp.example".into(), "https://other.example".into()],
    };
    let audience = match control >> 2 & 3 {
        0 => None,
        1 => Some("https://rp.example"),
        2 => Some("https://other.example"),
        _ => Some("https://not-configured.example"),
    };
    let policy = SetPolicy { audiences: audiences.clone(), ..SetPolicy::default() };
    let signer = &signers()[usize::from(control >> 4 & 1)];
    match signer.sign_set_at(&policy, &content, audience, IAT) {
        Ok(jws) => check_set(signer, &jws, &content, &audiences, audience),
        Err(Refusal::TooLarge(cap)) => assert!(content.len() > cap as usize),
        Err(Refusal::AudienceNotAllowed(a)) => {
            let a_given = audience.expect("refused an audience not given");
            assert!(!audiences.iter().any(|x| x == a_given) && a == a_given);
        }
        Err(Refusal::Refused(why)) => {
            assert!(audience.is_none_or(|a| audiences.iter().any(|x| x == a)), "an unknown audience is refused first");
            let rule = why.split(':').next().unwrap_or("");
            assert!(
                ["not-json", "not-object", "host-claim", "claim-type", "events", "forbidden-claim", "unknown-claim"].contains(&rule),
                "{why}"
            );
        }
    }
}

/// A signed SET: header, envelope and signature as the policy says.
fn check_set(signer: &Signer, jws: &str, content: &str, audiences: &[String], audience: Option<&str>) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "{jws}");
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": signer.key().alg().as_str(), "typ": "secevent+jwt", "kid": "set"}));
    verify(&signer.key().public_jwk(), format!("{}.{}", parts[0], parts[1]).as_bytes(), &B64.decode(parts[2]).unwrap());
    let claims: Map<String, Value> = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["iat"], IAT);
    assert_eq!(B64.decode(claims["jti"].as_str().unwrap()).unwrap().len(), 16, "128 random bits");
    let want_aud = match (audience, audiences) {
        (Some(a), _) => Some(json!(a)),
        (None, []) => None,
        (None, [one]) => Some(json!(one)),
        (None, all) => Some(json!(all)),
    };
    assert_eq!(claims.get("aud"), want_aud.as_ref());
    for name in claims.keys() {
        assert!(!FORBIDDEN_CLAIMS.contains(&name.as_str()), "signed a forbidden claim {name}");
        assert!(["iss", "iat", "jti", "aud"].contains(&name.as_str()) || GUEST_CLAIMS.contains(&name.as_str()), "signed {name}");
    }
    let events = claims["events"].as_object().expect("events is an object");
    assert!(!events.is_empty());
    for (uri, payload) in events {
        assert!(is_uri(uri) && payload.is_object(), "{uri}: {payload}");
    }
    // The guest's claims are signed as the guest wrote them.
    let guest: Map<String, Value> = serde_json::from_str(content).expect("signed content is a JSON object");
    for name in GUEST_CLAIMS {
        assert_eq!(claims.get(name), guest.get(name), "claim {name}");
    }
    assert!(content.len() <= signer.max_set_bytes());
}

// ---------------------------------------------------------------------------------------
// component_bytes

/// Inputs larger than this are skipped: the seeds are under 100 KiB, and compile time grows
/// with the module.
pub const MAX_COMPONENT_BYTES: usize = 256 << 10;

/// Any bytes as a listener's component file, through a host build with that one listener
/// (size check, core instance count, compile, imports, static limits, exports, pre-link,
/// `init`): a host or a load error naming the listener, never a panic. A host that builds
/// takes one event of each kind and shuts down.
pub fn component_bytes(data: &[u8]) {
    if data.len() > MAX_COMPONENT_BYTES {
        return;
    }
    // What `tokenwatch check` reads without compiling.
    let _ = tokenwatch::runtime::validate::import_names(data);
    let dir = scratch_dir();
    let path = dir.join("fuzzed.wasm");
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("write the component");
    let mut listener = ListenerConfig::new(&path);
    listener.name = Some("fuzzed".into());
    listener.properties.insert("mode".into(), "record".into());
    let mut config = Config::new().with_listener(listener);
    config.cache.enabled = false;
    match Host::builder(config).log_sink(Arc::new(BufferedLog::default())).build() {
        Ok(host) => {
            for event in [sample(EventKind::IdToken), sample(EventKind::AccessToken)] {
                let deliveries = host.dispatch(&Arc::new(event));
                assert!(deliveries.len() <= 1);
            }
            host.shutdown();
        }
        Err(HostError::Load(e)) => {
            assert_eq!(e.name, "fuzzed");
            assert!(!e.message.is_empty());
        }
        Err(other) => panic!("a bad component is a load error, not: {other}"),
    }
}

fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory")).path()
}

fn sample(kind: EventKind) -> TokenEvent {
    let claims = json!({"iss": ISSUER, "sub": "alice", "aud": "app", "client_id": "app", "scope": "openid"});
    TokenEvent::new(kind, Claims::new(claims.as_object().unwrap().clone()))
}
