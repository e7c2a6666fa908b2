//! The `http-push` sink against a real HTTP receiver on 127.0.0.1 (axum): SETs POSTed as
//! RFC 8935 describes, the receiver's answers turned into deliveries, dead letters and
//! retries, the `Authorization` header sent and never logged, and clear configuration
//! errors.
//!
//! Messages come from real guests: `sqs-publisher` (claims `sub`, so each message is
//! `{"sub":"<sub>"}` and the receiver's script picks its answer by `sub`) and `sign-in-set`
//! (a signed SET per ID token).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokenwatch::{Config, DeadLetter, Host, ListenerConfig, OutboxConfig, Secret, SinkConfig, SinkType, Spool};
use tokenwatch_tests::*;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    content_type: Option<String>,
    accept: Option<String>,
    authorization: Option<String>,
    message_id: Option<String>,
    body: String,
    /// What the receiver answered.
    status: u16,
}

/// The receiver's answer to one request.
struct Answer {
    status: u16,
    body: String,
    /// Wait this long before answering (past the sink's `timeout_ms`: no answer).
    delay: Duration,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer { status, body: body.to_owned(), delay: Duration::ZERO }
}

/// The RFC 8935 error object.
fn err(code: &str, description: &str) -> Answer {
    answer(400, &serde_json::json!({"err": code, "description": description}).to_string())
}

/// Answers a request by its key (the message's `sub`, else its body) and how many times
/// that key arrived before (0 the first time).
type Script = dyn Fn(&str, usize) -> Answer + Send + Sync;

struct Shared {
    script: Box<Script>,
    /// The `Authorization` every request must carry (none: no header).
    authorization: Option<String>,
    seen: Mutex<Vec<Seen>>,
    attempts: Mutex<HashMap<String, usize>>,
    /// Requests that broke RFC 8935 section 2, with why.
    violations: Mutex<Vec<String>>,
}

/// An RFC 8935 SET receiver on 127.0.0.1, on its own runtime; stops when dropped.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start(authorization: Option<&str>, script: impl Fn(&str, usize) -> Answer + Send + Sync + 'static) -> Receiver {
        Receiver::start_on(0, authorization, script)
    }

    /// On `port` (0: a free one).
    fn start_on(port: u16, authorization: Option<&str>, script: impl Fn(&str, usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            script: Box::new(script),
            authorization: authorization.map(str::to_owned),
            seen: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            violations: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(receive).with_state(shared.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, shared, _runtime: runtime }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The bodies that arrived at `path`, sorted.
    fn bodies(&self, path: &str) -> Vec<String> {
        let mut bodies: Vec<String> = self.seen().into_iter().filter(|s| s.path == path).map(|s| s.body).collect();
        bodies.sort();
        bodies
    }

    /// How many times a message with `key` arrived.
    fn attempts(&self, key: &str) -> usize {
        self.shared.attempts.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn assert_no_violations(&self) {
        let v = self.shared.violations.lock().unwrap();
        assert!(v.is_empty(), "requests that break RFC 8935: {v:?}");
    }
}

fn key(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("sub").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

async fn receive(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("<not visible ASCII>").to_owned());
    let mut seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        content_type: text("content-type"),
        accept: text("accept"),
        authorization: text("authorization"),
        message_id: text("x-tokenwatch-message-id"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: 0,
    };
    // RFC 8935 section 2: a POST of the SET as `application/secevent+jwt`, asking for JSON.
    let mut wrong = Vec::new();
    if method != Method::POST {
        wrong.push(format!("method {method}"));
    }
    if seen.content_type.as_deref() != Some("application/secevent+jwt") {
        wrong.push(format!("content-type {:?}", seen.content_type));
    }
    if seen.accept.as_deref() != Some("application/json") {
        wrong.push(format!("accept {:?}", seen.accept));
    }
    if seen.authorization != shared.authorization {
        wrong.push("not the configured authorization".to_owned());
    }
    if seen.message_id.as_ref().is_none_or(|id| id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit())) {
        wrong.push(format!("message id {:?}", seen.message_id));
    }
    let answer = if !wrong.is_empty() {
        shared.violations.lock().unwrap().push(format!("{}: {}", seen.body, wrong.join(", ")));
        err("invalid_request", &format!("receiver: {}", wrong.join(", ")))
    } else {
        let key = key(&seen.body);
        let attempt = {
            let mut attempts = shared.attempts.lock().unwrap();
            let n = attempts.entry(key.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        (shared.script)(&key, attempt)
    };
    seen.status = answer.status;
    shared.seen.lock().unwrap().push(seen);
    tokio::time::sleep(answer.delay).await;
    let status = StatusCode::from_u16(answer.status).unwrap();
    (status, [(header::CONTENT_TYPE, "application/json"), (header::LOCATION, "/followed")], answer.body).into_response()
}

/// A config whose outbox spools in `dir/spool`.
fn config(dir: &Path, listeners: Vec<ListenerConfig>, sinks: Vec<SinkConfig>, shutdown_ms: u64) -> Config {
    Config {
        listeners,
        sinks,
        outbox: OutboxConfig { spool_dir: Some(dir.join("spool")), shutdown_ms: Some(shutdown_ms) },
        ..Config::default()
    }
}

/// `sqs-publisher` publishing `{"sub":"<sub>"}` per ID token to `sink`.
fn publisher(name: &str, sink: &str) -> ListenerConfig {
    listener(name, "sqs-publisher").with_property("sink", sink).with_property("claims", "sub").with_sinks([sink])
}

/// The dead letters of the spool in `dir/spool` (the host must be dropped first).
fn dead_letters(dir: &Path) -> Vec<DeadLetter> {
    Spool::open(&dir.join("spool")).unwrap().dead_letters().unwrap()
}

/// Everything the host, reqwest and hyper log, from every thread, while this test binary
/// runs: one global capture, installed once.
pub(crate) fn logged() -> String {
    static CAPTURE: OnceLock<LogBuffer> = OnceLock::new();
    let buffer = CAPTURE.get_or_init(|| {
        let buffer = LogBuffer::default();
        let writer = buffer.clone();
        use tracing_subscriber::util::SubscriberInitExt as _;
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("tokenwatch=trace,reqwest=trace,hyper=trace,hyper_util=trace,rustls=trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .try_init()
            .expect("no other global tracing subscriber in this test binary");
        buffer
    });
    buffer.text()
}

/// Start capturing the logs (before the host starts).
pub(crate) fn capture_logs() {
    logged();
}

#[test]
fn sets_are_posted_as_rfc_8935_says_and_202_delivers_them() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(None, |_, _| answer(202, ""));
    let key_file = dir.path().join("jwks.json");
    std::fs::write(&key_file, tokenwatch::signing::generate(tokenwatch::signing::Alg::EdDSA, "set-key").private_jwks().to_string()).unwrap();
    let mut sets = listener("sign-in-set", "sign-in-set");
    sets.sinks = vec!["set".into()];
    let mut c = config(
        dir.path(),
        vec![sets, publisher("sqs", "push")],
        vec![SinkConfig::http_push("set", receiver.url("/set")), SinkConfig::http_push("push", receiver.url("/push"))],
        10_000,
    );
    c.signing = Some(tokenwatch::signing::SigningConfig::new(&key_file, "https://c2id.example.com"));
    let (host, rec) = host_with(c);
    for sub in ["alice", "bob"] {
        host.dispatch(&id_token(sub));
    }
    host.shutdown();
    receiver.assert_no_violations();
    // Exactly the messages as published, each once.
    assert_eq!(receiver.bodies("/push"), [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#], "{:?}", rec.lines());
    let sets = receiver.bodies("/set");
    assert_eq!(sets.len(), 2, "{:?}", rec.lines());
    let mut subjects = Vec::new();
    for jws in &sets {
        use base64::Engine as _;
        let part = |i: usize| -> serde_json::Value {
            let b64 = jws.split('.').nth(i).expect("a compact JWS has three parts");
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
        };
        assert_eq!(jws.split('.').count(), 3, "{jws}");
        assert_eq!(part(0)["typ"], "secevent+jwt");
        let claims = part(1);
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()), "{claims}");
        let event = &claims["events"]["https://schemas.openid.net/secevent/caep/event-type/session-established"];
        subjects.push(event["subject"]["sub"].as_str().unwrap().to_owned());
    }
    subjects.sort();
    assert_eq!(subjects, ["alice", "bob"]);
    // Every request: POST, the SET media type, JSON accepted, no Authorization (none
    // configured), and the message's own id.
    let seen = receiver.seen();
    for s in &seen {
        assert_eq!(
            (s.method.as_str(), s.content_type.as_deref(), s.accept.as_deref(), s.authorization.as_deref(), s.status),
            ("POST", Some("application/secevent+jwt"), Some("application/json"), None, 202),
            "{s:?}"
        );
    }
    let ids: std::collections::BTreeSet<_> = seen.iter().map(|s| s.message_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), 4, "one id per message: {seen:?}");
    let status = host.sink_status();
    for (s, path) in status.iter().zip(["/set", "/push"]) {
        assert_eq!((s.kind, s.target.clone()), ("http-push", receiver.url(path)));
        assert_eq!((s.enqueued, s.delivered, s.retried, s.dead_lettered, s.spool_depth), (2, 2, 0, 0, 0), "{s:?}");
    }
    drop(host);
    assert!(dead_letters(dir.path()).is_empty());
}

#[test]
fn the_four_permanent_400_errors_dead_letter_with_the_receivers_reason() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let codes = ["invalid_request", "invalid_key", "invalid_issuer", "invalid_audience"];
    let receiver = Receiver::start(None, |sub, _| match sub {
        "fine" => answer(202, ""),
        "invalid_request" => err(sub, "bad\nrequest"),
        code => err(code, &format!("the receiver refuses: {code}")),
    });
    let (host, rec) = host_with(config(dir.path(), vec![publisher("sqs", "push")], vec![SinkConfig::http_push("push", receiver.url("/events"))], 10_000));
    for sub in codes.iter().copied().chain(["fine"]) {
        host.dispatch(&id_token(sub));
    }
    host.shutdown();
    receiver.assert_no_violations();
    // Each sent once: a permanent refusal is not retried.
    for sub in codes.iter().copied().chain(["fine"]) {
        assert_eq!(receiver.attempts(sub), 1, "{sub}: {:?}", receiver.seen());
    }
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.retried, s.spool_depth), (1, 4, 0, 0), "{s:?} {:?}", rec.lines());
    let ids: HashMap<String, String> = receiver.seen().into_iter().map(|s| (s.body, s.message_id.unwrap())).collect();
    drop(host);
    let mut letters = dead_letters(dir.path());
    letters.sort_by(|a, b| a.message.body.cmp(&b.message.body));
    let got: Vec<(&str, &str, &str)> = letters.iter().map(|l| (l.sink.as_str(), l.message.body.as_str(), l.reason.as_str())).collect();
    assert_eq!(
        got,
        [
            ("push", r#"{"sub":"invalid_audience"}"#, "400 invalid_audience: the receiver refuses: invalid_audience"),
            ("push", r#"{"sub":"invalid_issuer"}"#, "400 invalid_issuer: the receiver refuses: invalid_issuer"),
            ("push", r#"{"sub":"invalid_key"}"#, "400 invalid_key: the receiver refuses: invalid_key"),
            // The receiver's text escaped: it cannot forge a line of the dead-letter listing.
            ("push", r#"{"sub":"invalid_request"}"#, "400 invalid_request: bad\\nrequest"),
        ]
    );
    // The dead letter keeps the id the receiver saw.
    for l in &letters {
        assert_eq!(ids[&l.message.body], l.message.id);
    }
}

#[test]
fn other_answers_dead_letter_with_the_status_and_a_capped_escaped_body() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let long = format!("x\n{}", "y".repeat(300));
    let long_body = long.clone();
    let receiver = Receiver::start(None, move |sub, _| match sub {
        "missing" => answer(404, &long_body),
        "unknown-err" => err("invalid_something", "?"),
        "ok-200" => answer(200, ""),
        "moved" => answer(307, ""),
        other => panic!("unexpected {other}"),
    });
    let (host, _rec) = host_with(config(dir.path(), vec![publisher("sqs", "push")], vec![SinkConfig::http_push("push", receiver.url("/events"))], 10_000));
    for sub in ["missing", "unknown-err", "ok-200", "moved"] {
        host.dispatch(&id_token(sub));
    }
    host.shutdown();
    receiver.assert_no_violations();
    // Nothing retried, and the redirect not followed.
    assert_eq!(receiver.seen().len(), 4, "{:?}", receiver.seen());
    assert!(receiver.seen().iter().all(|s| s.path == "/events"));
    drop(host);
    let reasons: HashMap<String, String> = dead_letters(dir.path()).into_iter().map(|l| (key(&l.message.body), l.reason)).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(reasons["missing"], format!("404 Not Found: x\\n{}… (302 bytes in all)", "y".repeat(198)));
    assert_eq!(reasons["unknown-err"], r#"400 Bad Request: {"err":"invalid_something","description":"?"}"#);
    assert_eq!(reasons["ok-200"], "200 OK");
    assert_eq!(reasons["moved"], "307 Temporary Redirect");
}

#[test]
fn transient_answers_and_timeouts_are_retried_until_the_receiver_answers_202() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    // Each fails twice (the slow one once), then is accepted.
    let receiver = Receiver::start(None, |sub, attempt| match (sub, attempt) {
        ("slow", 0) => Answer { delay: Duration::from_millis(3000), ..answer(202, "") },
        (_, 2..) | ("slow", _) => answer(202, ""),
        ("401", _) => answer(401, ""),
        ("403", _) => answer(403, "not yet"),
        ("503", _) => answer(503, "down for maintenance"),
        (code, _) => err(code, "fix the credentials"),
    });
    let subs = ["401", "403", "503", "authentication_failed", "access_denied", "slow"];
    let sink = SinkConfig { timeout_ms: Some(1000), ..SinkConfig::http_push("push", receiver.url("/events")) };
    let (host, rec) = host_with(config(dir.path(), vec![publisher("sqs", "push")], vec![sink], 20_000));
    for sub in subs {
        host.dispatch(&id_token(sub));
    }
    host.shutdown();
    receiver.assert_no_violations();
    for sub in subs {
        let accepted = receiver.seen().iter().filter(|s| key(&s.body) == sub && s.status == 202).count();
        // The slow one's first 202 came after the sink had given up.
        let expected = if sub == "slow" { (2, 2) } else { (3, 1) };
        assert_eq!((receiver.attempts(sub), accepted), expected, "{sub}: {:?}", receiver.seen());
    }
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.retried, s.dead_lettered, s.spool_depth), (6, 11, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    assert!(dead_letters(dir.path()).is_empty());
    assert_eq!(Spool::open(&dir.path().join("spool")).unwrap().depth("push"), 0);
    let log = logged();
    assert!(log.contains("delivery failed, will retry"), "{log}");
}

#[test]
fn a_receiver_that_is_down_is_retried_until_it_is_up() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/events");
    let (host, _rec) = host_with(config(dir.path(), vec![publisher("sqs", "push")], vec![SinkConfig::http_push("push", url)], 20_000));
    host.dispatch(&id_token("alice"));
    let start = Instant::now();
    while host.sink_status()[0].retried < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "no retry: {:?}", host.sink_status());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(host.sink_status()[0].delivered, 0);
    let receiver = Receiver::start_on(port, None, |_, _| answer(202, ""));
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.spool_depth), (1, 0, 0), "{s:?}");
    assert_eq!(receiver.bodies("/events"), [r#"{"sub":"alice"}"#]);
    let log = logged();
    assert!(log.contains("delivery failed, will retry: cannot connect"), "{log}");
}

#[test]
fn the_authorization_header_arrives_and_is_never_logged_nor_shown() {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let from_env = format!("Bearer env-{:016x}", fastrand::u64(..));
    let literal = format!("Bearer lit-{:016x}", fastrand::u64(..));
    let var = format!("TOKENWATCH_TEST_PUSH_AUTH_{}", std::process::id());
    std::env::set_var(&var, &from_env);
    let script = |sub: &str, attempt: usize| match (sub, attempt) {
        ("first-401", 0) => answer(401, r#"{"hint":"bad token"}"#),
        ("key", _) => err("invalid_key", "unknown key"),
        _ => answer(202, ""),
    };
    let env_receiver = Receiver::start(Some(&from_env), script);
    let lit_receiver = Receiver::start(Some(&literal), script);
    let sinks = vec![
        SinkConfig { authorization_env: Some(var.clone()), ..SinkConfig::http_push("env", env_receiver.url("/events")) },
        SinkConfig { authorization: Some(Secret::new(&literal)), ..SinkConfig::http_push("lit", lit_receiver.url("/events")) },
    ];
    let c = config(dir.path(), vec![publisher("a", "env"), publisher("b", "lit")], sinks, 10_000);
    let shown_config = format!("{c:?}");
    let (host, rec) = host_with(c);
    for sub in ["first-401", "key", "ok"] {
        host.dispatch(&id_token(sub));
    }
    host.shutdown();
    // Sent on every request (the receivers refuse any other value, counted as violations).
    for (r, value) in [(&env_receiver, &from_env), (&lit_receiver, &literal)] {
        r.assert_no_violations();
        let seen = r.seen();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen.iter().all(|s| s.authorization.as_ref() == Some(value)), "{seen:?}");
    }
    let status = host.sink_status();
    assert!(status.iter().all(|s| (s.delivered, s.dead_lettered, s.retried) == (2, 1, 1)), "{status:?}");
    let shown_status = format!("{status:?}");
    drop(host);
    let letters = dead_letters(dir.path());
    assert_eq!(letters.iter().map(|l| l.reason.as_str()).collect::<Vec<_>>(), ["400 invalid_key: unknown key"; 2]);
    // The logs hold the 401 retries (so the capture works) and never a secret.
    let log = logged();
    assert!(log.contains("will retry: 401 Unauthorized"), "{log}");
    let everything = [log, shown_config, shown_status, format!("{letters:?}"), rec.lines().join("\n")];
    for secret in [&from_env, &literal] {
        let token = secret.trim_start_matches("Bearer ");
        for text in &everything {
            assert!(!text.contains(token), "the Authorization value {secret:?} is shown in: {text}");
        }
    }
    std::env::remove_var(&var);
}

#[test]
fn http_push_configuration_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let from_toml = |sink: &str| Config::from_toml(&format!("[[sink]]\nname = \"p\"\n{sink}\n"), dir.path());
    for (sink, key, message) in [
        ("type = \"http-push\"", "url", "an http-push sink needs `url`: the receiver's http:// or https:// endpoint"),
        ("type = \"http-push\"\nurl = \"ftp://rp.example/events\"", "url", "url has the scheme \"ftp\": an http-push sink needs an http:// or https:// URL"),
        ("type = \"http-push\"\nurl = \"rp.example/events\"", "url", "url is not a valid URL (relative URL without a base): expected http://HOST/PATH or https://HOST/PATH"),
        (
            "type = \"http-push\"\nurl = \"https://u:hunter2@rp.example/events\"",
            "url",
            "url holds credentials (user:password@): give them as `authorization` or `authorization_env` instead",
        ),
        (
            "type = \"http-push\"\nurl = \"https://rp.example/events\"\nauthorization = \"Bearer hunter2\"\nauthorization_env = \"RP_TOKEN\"",
            "authorization_env",
            "give `authorization` or `authorization_env`, not both",
        ),
        (
            "type = \"http-push\"\nurl = \"https://rp.example/events\"\nauthorization = \"Bearer hunter2\\r\\nX-Evil: 1\"",
            "authorization",
            "authorization is not a valid HTTP header value (it holds a line break or another control character)",
        ),
        ("type = \"http-push\"\nurl = \"https://rp.example/events\"\nauthorization_env = \"A=B\"", "authorization_env", "authorization_env = \"A=B\" is not an environment variable name"),
        ("type = \"http-push\"\nurl = \"https://rp.example/events\"\ntimeout_ms = 0", "timeout_ms", "timeout_ms must be at least 1"),
        ("type = \"http-push\"\nurl = \"https://rp.example/events\"\ntimeout_ms = 60000", "timeout_ms", "timeout_ms = 60000 is over the maximum of 30000 (the outbox's limit per batch)"),
        ("type = \"http-push\"\nurl = \"https://rp.example/events\"\npath = \"x\"", "path", "`path` is not a key of an http-push sink"),
        ("type = \"file\"\npath = \"x\"\nurl = \"https://rp.example/events\"", "url", "`url` is not a key of a file sink"),
        ("type = \"stdout\"\nauthorization_env = \"RP_TOKEN\"", "authorization_env", "`authorization_env` is not a key of a stdout sink"),
        ("type = \"file\"\npath = \"x\"\ntimeout_ms = 5", "timeout_ms", "`timeout_ms` is not a key of a file sink"),
    ] {
        let e = from_toml(sink).unwrap_err();
        assert_eq!((e.place(), e.key(), e.message()), (Some("[[sink]] #1 \"p\""), Some(key), message), "{sink}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    let ok = from_toml("type = \"http-push\"\nurl = \"https://rp.example/events\"\nauthorization_env = \"RP_TOKEN\"\ntimeout_ms = 2500").unwrap();
    let s = &ok.sinks[0];
    assert_eq!((s.kind, s.target(), s.timeout()), (SinkType::HttpPush, "https://rp.example/events".to_owned(), Duration::from_millis(2500)));
    // The variable is read when the sink is built.
    let build = |sink: SinkConfig| match Host::builder(config(dir.path(), vec![publisher("sqs", "p")], vec![sink], 1_000)).build() {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected the sink to be refused"),
    };
    let missing = format!("TOKENWATCH_TEST_PUSH_MISSING_{}", std::process::id());
    let e = build(SinkConfig { authorization_env: Some(missing.clone()), ..SinkConfig::http_push("p", "http://127.0.0.1:9/") });
    assert_eq!(e, format!("sink \"p\": the environment variable {missing} (authorization_env) is not set"));
    let bad = format!("TOKENWATCH_TEST_PUSH_BAD_{}", std::process::id());
    std::env::set_var(&bad, "Bearer hunter2\nX-Evil: 1");
    let e = build(SinkConfig { authorization_env: Some(bad.clone()), ..SinkConfig::http_push("p", "http://127.0.0.1:9/") });
    std::env::remove_var(&bad);
    assert_eq!(e, format!("sink \"p\": the environment variable {bad} (authorization_env) is not a valid HTTP header value (it holds a line break or another control character)"));
    // The command line's --sink takes http and https URLs.
    let mut c = Config::new().with_listener(ListenerConfig::new("a.wasm"));
    c.add_sink("rp=http://127.0.0.1:8080/events").unwrap();
    assert_eq!((c.sinks[0].kind, c.sinks[0].target()), (SinkType::HttpPush, "http://127.0.0.1:8080/events".to_owned()));
    let e = c.add_sink("rp=https://user:hunter2@rp.example/").unwrap_err().to_string();
    assert_eq!(e, "--sink \"rp=https://rp.example/\": url holds credentials (user:password@): give them as `authorization` or `authorization_env` instead");
    assert!(c.add_sink("q=kafka://broker:9092/tokens").unwrap_err().to_string().contains("unknown sink URL"));
}
