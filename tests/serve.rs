//! `tokenwatch serve`'s HTTP API, in process, on 127.0.0.1 with a free port, through a real
//! HTTP client (reqwest): every answer of `POST /v1/events` with its body, the drain, the
//! metrics, the JWK set, the admin token; and a property test of the ingest path.

use proptest::prelude::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokenwatch::serve::{AdminToken, Settings, Totals};
use tokenwatch::{Config, DispatchConfig, LimitsConfig, ListenerConfig, Mode, OnFull, TokenEvent, TrapCause, MAX_LINE_BYTES};
use tokenwatch_tests::*;

/// An answer, read whole.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.status, self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `serve::run` on its own runtime, with a oneshot for shutdown.
struct Server {
    url: String,
    rec: Arc<Recorder>,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<Result<Totals, tokenwatch::serve::ServeError>>>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(config: Config) -> Server {
        Server::start_with(config, |_| {})
    }

    /// With the settings from `config`, changed by `tweak` (an admin token, say).
    fn start_with(config: Config, tweak: impl FnOnce(&mut Settings)) -> Server {
        let mut settings = Settings::from_config(&config).expect("settings");
        tweak(&mut settings);
        let (host, rec) = host_with(config);
        let socket = tokenwatch::serve::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
        let url = format!("http://{}", socket.local_addr().unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = runtime.spawn(tokenwatch::serve::run(Arc::new(host), socket, settings, async move {
            let _ = stopped.await;
        }));
        Server { url, rec, client: reqwest::Client::new(), stop: Some(stop), done: Some(done), runtime }
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> Reply {
        self.try_request(builder).unwrap_or_else(|e| panic!("no answer: {e}"))
    }

    fn try_request(&self, builder: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        self.runtime.block_on(async {
            let r = builder.timeout(Duration::from_secs(30)).send().await?;
            let (status, headers) = (r.status().as_u16(), r.headers().clone());
            Ok(Reply { status, headers, body: r.bytes().await?.to_vec() })
        })
    }

    fn post_request(&self, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        let mut b = self.client.post(format!("{}/v1/events", self.url)).body(body);
        if let Some(t) = content_type {
            b = b.header("content-type", t);
        }
        b
    }

    /// `POST /v1/events` with this `Content-Type` (none: no header).
    fn post(&self, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Reply {
        self.request(self.post_request(content_type, body))
    }

    fn ndjson(&self, body: impl Into<reqwest::Body>) -> Reply {
        self.post(Some("application/x-ndjson"), body)
    }

    fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let mut b = self.client.get(format!("{}{path}", self.url));
        if let Some(a) = authorization {
            b = b.header("authorization", a);
        }
        self.request(b)
    }

    /// Resolve the shutdown future and wait for `run` to return.
    fn shutdown(mut self) -> Totals {
        let _ = self.stop.take().unwrap().send(());
        let done = self.done.take().unwrap();
        self.runtime.block_on(done).expect("run does not panic").expect("run ends well")
    }
}

fn id_line(sub: &str) -> String {
    json!({"kind": "id_token", "claims": {"iss": "https://c2id.example.com", "sub": sub, "aud": "webapp", "iat": 1_764_331_200}}).to_string()
}

fn access_line(sub: &str, client: &str) -> String {
    json!({"kind": "access_token", "claims": {"sub": sub, "client_id": client, "scope": "openid email"}}).to_string()
}

fn audit_and_metering() -> Config {
    Config::new()
        .with_listener(listener("sign-in-audit", "sign-in-audit"))
        .with_listener(listener("metering", "metering").with_property("report_every", "1000"))
}

/// The `sub=` of every line sign-in-audit logged.
fn audited(rec: &Recorder) -> Vec<String> {
    rec.of("sign-in-audit")
        .iter()
        .filter_map(|l| l.strip_prefix("sign-in sub=")?.split(' ').next().map(str::to_owned))
        .collect()
}

#[test]
fn a_single_event_is_202_once_the_listeners_have_run() {
    let server = Server::start(audit_and_metering());
    let r = server.post(Some("application/json"), id_line("alice"));
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"accepted": 1, "rejected": [], "rejected_total": 0}));
    // Answered after the listener ran: its line is already there.
    assert_eq!(audited(&server.rec), ["alice"]);
    // No Content-Type is one event too, and it may span lines (pretty-printed JSON).
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&id_line("bob")).unwrap()).unwrap();
    assert!(pretty.contains('\n'));
    let r = server.post(None, pretty);
    assert_eq!((r.status, r.json()["accepted"].clone()), (202, json!(1)), "{}", r.text());
    assert_eq!(audited(&server.rec), ["alice", "bob"]);
    let totals = server.shutdown();
    assert_eq!((totals.accepted, totals.rejected, totals.refused, totals.drained), (2, 0, 0, true));
}

#[test]
fn a_batch_rejects_bad_lines_by_number_and_accepts_their_neighbours() {
    let server = Server::start(audit_and_metering());
    let deep = format!("{{\"kind\":\"id_token\",\"claims\":{{\"a\":{}}}}}", "[".repeat(100_000));
    let mut body = Vec::new();
    for line in [
        id_line("u1").into_bytes(),
        b"not json".to_vec(),
        [&b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"caf"[..], b"\xff\"}}"].concat(),
        id_line("u2").into_bytes(),
        b"{\"kind\":\"id_token\",\"claims\":{\"sub\":\"a\x00b\"}}".to_vec(),
        deep.into_bytes(),
        vec![b'a'; MAX_LINE_BYTES + 1],
        b"   ".to_vec(),
        access_line("u3", "app").into_bytes(),
        [&b"\xef\xbb\xbf"[..], id_line("bom").as_bytes()].concat(),
        id_line("u4").into_bytes(),
    ] {
        body.extend_from_slice(&line);
        body.extend_from_slice(b"\r\n");
    }
    let r = server.ndjson(body);
    assert_eq!(r.status, 202, "{}", r.text());
    let doc = r.json();
    assert_eq!((doc["accepted"].clone(), doc["rejected_total"].clone()), (json!(4), json!(6)), "{doc}");
    let rejected: Vec<(u64, String)> = doc["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["error"].as_str().unwrap().to_owned()))
        .collect();
    let lines: Vec<u64> = rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 3, 5, 6, 7, 10], "{doc}");
    for (line, want) in [
        (2, "invalid event JSON"),
        (3, "invalid UTF-8 at byte offset"),
        (5, "control character"),
        (6, "invalid event JSON"),
        (7, "line too long: 1048578 bytes, the limit is 1048576"),
        (10, "byte order mark"),
    ] {
        let (_, error) = rejected.iter().find(|(l, _)| *l == line).unwrap();
        assert!(error.contains(want), "line {line}: {error}");
    }
    assert_eq!(audited(&server.rec), ["u1", "u2", "u4"], "every valid ID token line reached the listener, in order");
    let totals = server.shutdown();
    assert_eq!((totals.accepted, totals.rejected), (4, 6));
}

#[test]
fn nothing_valid_is_400_with_the_same_body_shape() {
    let server = Server::start(audit_and_metering());
    let r = server.ndjson("nope\n{\"kind\":\"refresh_token\",\"claims\":{}}\n");
    assert_eq!(r.status, 400, "{}", r.text());
    let doc = r.json();
    assert_eq!(doc["accepted"], 0);
    assert_eq!(doc["rejected_total"], 2);
    assert_eq!(doc["rejected"][1]["line"], 2);
    assert!(doc["rejected"][1]["error"].as_str().unwrap().contains("unknown kind \"refresh_token\""), "{doc}");
    assert_eq!(doc["error"], "no valid event in the body");
    for empty in ["", "\n\n", "  "] {
        let r = server.ndjson(empty);
        assert_eq!((r.status, r.json()["rejected_total"].clone()), (400, json!(0)), "{empty:?}: {}", r.text());
    }
    let r = server.post(Some("application/json"), b"\xff\xfe".to_vec());
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["rejected"], json!([{"line": 1, "error": "invalid UTF-8 at byte offset 0"}]));
    let r = server.post(Some("text/plain"), id_line("x"));
    assert_eq!(r.status, 415, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("application/x-ndjson"), "{}", r.text());
    assert!(audited(&server.rec).is_empty());
    server.shutdown();
}

#[test]
fn a_body_past_max_body_bytes_is_413_and_nothing_of_it_is_dispatched() {
    let limit = 300;
    let mut config = audit_and_metering();
    config.http.max_body_bytes = Some(limit);
    let server = Server::start(config);
    let at_limit = format!("{:<width$}", id_line("fits"), width = limit as usize);
    assert_eq!(at_limit.len() as u64, limit);
    let r = server.post(Some("application/json"), at_limit.clone());
    assert_eq!(r.status, 202, "{}", r.text());
    let over = format!("{at_limit} ");
    let r = server.post(Some("application/json"), over);
    assert_eq!(r.status, 413, "{}", r.text());
    let doc = r.json();
    assert_eq!((doc["accepted"].clone(), doc["rejected_total"].clone()), (json!(0), json!(0)));
    assert!(doc["error"].as_str().unwrap().contains("over the limit of 300 bytes"), "{doc}");
    // A batch of valid lines past the limit: none of them runs.
    let batch: String = (0..10).map(|i| format!("{}\n", id_line(&format!("b{i}")))).collect();
    assert_eq!(server.ndjson(batch).status, 413);
    assert_eq!(audited(&server.rec), ["fits"]);
    server.shutdown();
}

#[test]
fn during_the_drain_new_event_requests_get_503_and_the_running_one_finishes() {
    // `first` logs each event; `slow` then loops until its 3 s deadline stops it (with
    // fuel for far longer).
    let slow = probe("slow", "loop").with_limits(LimitsConfig { fuel: Some(1 << 60), deadline_ms: Some(3_000), ..Default::default() });
    let config = Config::new().with_listener(probe("first", "record")).with_listener(slow);
    let mut server = Server::start(config);
    let running = server.runtime.spawn(server.post_request(Some("application/json"), id_line("in-flight")).send());
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !server.rec.of("first").iter().any(|l| l == "id-token in-flight") {
        assert!(std::time::Instant::now() < until, "the first listener never saw the event");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The request is now in `slow`'s loop. Start the drain.
    let started = std::time::Instant::now();
    let _ = server.stop.take().unwrap().send(());
    loop {
        let readyz = server.try_request(server.client.get(format!("{}/readyz", server.url)));
        match readyz {
            Ok(r) if r.status == 503 => break,
            Ok(_) => {}
            Err(e) => panic!("readyz after {:?}: {e}", started.elapsed()),
        }
        assert!(std::time::Instant::now() < until, "readyz never turned 503");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.get("/readyz", None).text(), "draining\n");
    let r = server.post(Some("application/json"), id_line("too-late"));
    assert_eq!(r.status, 503, "{} after {:?}", r.text(), started.elapsed());
    assert_eq!(r.header("retry-after"), Some("10"), "the drain deadline, in seconds");
    let doc = r.json();
    assert_eq!((doc["accepted"].clone(), doc["rejected"].clone()), (json!(0), json!([])));
    assert!(doc["error"].as_str().unwrap().contains("shutting down"), "{doc}");
    assert_eq!(server.get("/healthz", None).status, 200, "alive while draining");
    // The running request finishes with its answer.
    let answered = server.runtime.block_on(running).unwrap().expect("the in-flight request is answered");
    assert_eq!(answered.status().as_u16(), 202);
    let totals = server.runtime.block_on(server.done.take().unwrap()).unwrap().unwrap();
    assert_eq!((totals.accepted, totals.refused, totals.drained), (1, 1, true));
    assert!(!server.rec.of("first").iter().any(|l| l.contains("too-late")), "a refused request dispatches nothing");
    assert_eq!(server.rec.of("first").iter().filter(|l| *l == "shutdown").count(), 1, "Host::shutdown ran the listener's shutdown once");
    let first = &totals.listeners[0];
    assert_eq!((first.name.as_str(), first.counters.events, first.counters.delivered), ("first", 1, 1));
    let slow = &totals.listeners[1];
    assert_eq!((slow.counters.events, slow.counters.traps_of(TrapCause::Deadline)), (1, 1), "the loop ended at its deadline");
    assert!(started.elapsed() > Duration::from_secs(2), "the drain waited for the running request: {:?}", started.elapsed());
}

#[test]
fn metrics_carry_per_listener_series_and_the_http_counters() {
    let server = Server::start(audit_and_metering());
    let batch = format!("{}\n{}\n{}\nbad\n", id_line("a"), access_line("a", "webapp"), access_line("b", "webapp"));
    assert_eq!(server.ndjson(batch).status, 202);
    let r = server.get("/metrics", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let text = r.text();
    for line in [
        r#"tokenwatch_listener_events_total{listener="sign-in-audit"} 3"#,
        r#"tokenwatch_listener_delivered_total{listener="sign-in-audit"} 1"#,
        r#"tokenwatch_listener_delivered_total{listener="metering"} 2"#,
        r#"guest_access_tokens_total{listener="metering",client_id="webapp"} 2"#,
        "tokenwatch_http_events_accepted_total 3",
        "tokenwatch_http_lines_rejected_total 1",
        "tokenwatch_http_requests_refused_total 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n") && text.matches("# EOF").count() == 1, "{text}");
    server.shutdown();
}

/// The value of the series `line` names (`name{labels}`) in a metrics text; 0 when absent.
fn series(text: &str, line: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0)
}

/// Two clients post single events as fast as they can while the `metering` module in the
/// listeners folder is replaced 20 times (two builds, alternating, deployed by rename), and
/// go on until the 20th swap is served and 100,000 events are accepted. Afterwards the
/// guest's own counts over all 21 versions add up to the accepted events exactly.
fn swapped_20_times_while_events_are_posted(mode: Mode) {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(guest("metering")).unwrap();
    let builds = [rebuilt(&original, "a"), rebuilt(&original, "b")];
    let module = dir.path().join("metering.wasm");
    std::fs::write(&module, &original).unwrap();
    let mut config = Config::default();
    config.serve.listeners_dir = Some(dir.path().to_owned());
    config.serve.listeners_mode = Some(mode);
    config.dispatch = DispatchConfig { queue: Some(1 << 20), ..Default::default() };
    let server = Server::start(tokenwatch::serve::expand_listeners(config, "--listeners").unwrap());
    let metrics = || server.get("/metrics", None).text();
    let version = r#"tokenwatch_listener_version{listener="metering"}"#;
    assert_eq!(series(&metrics(), version), 1);

    let (accepted, swapped) = (AtomicU64::new(0), AtomicBool::new(false));
    let mut swaps_under_load = 0;
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (server, accepted, swapped) = (&server, &accepted, &swapped);
            scope.spawn(move || {
                let mut i = 0;
                while !swapped.load(Ordering::Relaxed) || accepted.load(Ordering::Relaxed) < 100_000 {
                    let r = server.post(Some("application/json"), access_line(&format!("u{t}-{i}"), "app"));
                    assert_eq!(r.status, 202, "{}", r.text());
                    accepted.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        for n in 0..20 {
            deploy(&builds[n % 2], &module);
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while series(&metrics(), version) != n as u64 + 2 {
                assert!(std::time::Instant::now() < deadline, "swap {n} not served: {}", metrics());
                std::thread::sleep(Duration::from_millis(10));
            }
            swaps_under_load += (accepted.load(Ordering::Relaxed) < 100_000) as u32;
        }
        swapped.store(true, Ordering::Relaxed);
    });
    let accepted = accepted.into_inner();
    // Async: the queue drains after the last answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let delivered = r#"tokenwatch_listener_delivered_total{listener="metering"}"#;
    while series(&metrics(), delivered) != accepted {
        assert!(std::time::Instant::now() < deadline, "not all delivered: {}", metrics());
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = metrics();
    assert_eq!(series(&text, version), 21);
    assert_eq!(series(&text, r#"tokenwatch_listener_events_total{listener="metering"}"#), accepted);
    assert_eq!(series(&text, r#"guest_access_tokens_total{listener="metering",client_id="app"}"#), accepted, "{text}");
    eprintln!("{mode:?}: {accepted} events accepted, {swaps_under_load} of 20 swaps before the 100,000th");
    server.shutdown();
}

#[test]
fn a_folder_module_swapped_20_times_while_events_are_posted_counts_every_event_once() {
    swapped_20_times_while_events_are_posted(Mode::Sync);
}

#[test]
fn an_async_folder_module_swapped_20_times_while_events_are_posted_counts_every_event_once() {
    swapped_20_times_while_events_are_posted(Mode::Async);
}

#[test]
fn the_jwk_set_is_the_public_signing_key_and_404_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = tokenwatch::signing::generate(tokenwatch::signing::Alg::EdDSA, "serve-kid");
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, key.private_jwks().to_string()).unwrap();
    let config = audit_and_metering().with_signing(tokenwatch::signing::SigningConfig::new(&file, "https://c2id.example.com"));
    let server = Server::start(config);
    let r = server.get("/.well-known/jwks.json", None);
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")), "{}", r.text());
    let jwks = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0]["kid"].as_str(), keys[0]["kty"].as_str()), (Some("serve-kid"), Some("OKP")));
    assert_eq!(keys[0]["x"], key.private_jwk["x"]);
    assert!(keys[0].get("d").is_none(), "no private part: {jwks}");
    server.shutdown();

    let server = Server::start(audit_and_metering());
    let r = server.get("/.well-known/jwks.json", None);
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("no signing key is configured"), "{}", r.text());
    server.shutdown();
}

#[test]
fn the_admin_api_takes_only_the_bearer_token() {
    let token = "adm1n-T0ken_for.tests";
    let server = Server::start_with(audit_and_metering(), |s| s.admin_token = Some(AdminToken::new(token).unwrap()));
    assert_eq!(server.post(None, id_line("a")).status, 202);

    let r = server.get("/v1/listeners", None);
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="tokenwatch""#));
    assert!(r.json()["error"].as_str().unwrap().contains("Authorization: Bearer"));
    for wrong in [format!("Bearer {token}x"), format!("Bearer {}", &token[1..]), "Bearer x".to_owned(), format!("Basic {token}")] {
        let r = server.get("/v1/listeners", Some(&wrong));
        assert_eq!(r.status, 401, "{wrong}: {}", r.text());
        assert!(!r.text().contains(token), "the token is never echoed");
    }
    assert_eq!(
        server.get("/v1/listeners", Some(&format!("Bearer {token}x"))).header("www-authenticate"),
        Some(r#"Bearer realm="tokenwatch", error="invalid_token""#)
    );

    for auth in [format!("Bearer {token}"), format!("bearer {token}")] {
        let r = server.get("/v1/listeners", Some(&auth));
        assert_eq!(r.status, 200, "{}", r.text());
        let list = r.json();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["sign-in-audit", "metering"]);
        assert_eq!(list[0]["health"], json!({"state": "active"}));
        assert_eq!(list[0]["handles"], json!(["id_token"]));
        assert_eq!((list[0]["counters"]["events"].clone(), list[0]["counters"]["delivered"].clone()), (json!(1), json!(1)));
        assert_eq!(list[1]["counters"]["skipped"], 1);
    }
    server.shutdown();

    // Without a configured token the admin API is closed, whatever the request carries.
    let server = Server::start(audit_and_metering());
    for auth in [None, Some("Bearer anything")] {
        let r = server.get("/v1/listeners", auth);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().starts_with("no admin token is configured"), "{}", r.text());
    }
    // The open endpoints stay open.
    assert_eq!((server.get("/healthz", None).status, server.get("/readyz", None).text()), (200, "ready\n".to_owned()));
    assert_eq!(server.get("/v2/nothing", None).status, 404);
    server.shutdown();
}

/// A server with an admin token, over `config`; requests carry the token unless told.
fn admin_server(config: Config) -> (Server, String) {
    let token = "adm1n-T0ken_for.tests".to_owned();
    let t = token.clone();
    (Server::start_with(config, move |s| s.admin_token = Some(AdminToken::new(&t).unwrap())), format!("Bearer {token}"))
}

impl Server {
    /// `POST /v1/listeners/{name}/{action}` with this `Authorization` (none: no header).
    fn control(&self, name: &str, action: &str, authorization: Option<&str>) -> Reply {
        let mut b = self.client.post(format!("{}/v1/listeners/{name}/{action}", self.url));
        if let Some(a) = authorization {
            b = b.header("authorization", a);
        }
        self.request(b)
    }
}

#[test]
fn listeners_are_enabled_disabled_and_reloaded_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("l.wasm");
    std::fs::copy(guest("probe"), &module).unwrap();
    let (server, auth) = admin_server(Config::new().with_listener(ListenerConfig::new(&module).with_property("mode", "record")));
    let auth = Some(auth.as_str());
    let events = |sub: &str| {
        server.rec.clear();
        assert_eq!(server.post(None, id_line(sub)).status, 202);
        server.rec.of("l").into_iter().filter(|l| l.starts_with("id-token")).collect::<Vec<_>>()
    };

    assert_eq!(server.control("l", "disable", None).status, 401, "the token is needed");
    let r = server.control("l", "disable", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["health"]["state"], "disabled", "{}", r.text());
    assert!(events("while-disabled").is_empty());
    let r = server.control("l", "enable", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(r.json()["health"]["state"], "disabled", "{}", r.text());
    assert_eq!(events("enabled"), ["id-token enabled"]);

    let r = server.control("nope", "reload", auth);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"], "no listener is named \"nope\"");
    assert_eq!(server.control("nope", "enable", auth).status, 404);

    // A module that no longer loads: 422 with the reason, the running version serves on.
    std::fs::write(&module, b"\0asm\x0d\0\x01\0garbage").unwrap();
    let r = server.control("l", "reload", auth);
    assert_eq!(r.status, 422, "{}", r.text());
    let doc = r.json();
    assert_eq!(doc["listener"], "l");
    assert!(!doc["reason"].as_str().unwrap().is_empty() && doc["error"].as_str().unwrap().contains("the running version keeps serving"), "{doc}");
    let list = server.get("/v1/listeners", auth).json();
    assert_eq!(list[0]["version"], 1);
    assert!(list[0]["reload_error"].is_string(), "{list}");
    assert_eq!(events("after-failed-reload"), ["id-token after-failed-reload"]);

    std::fs::copy(guest("probe"), &module).unwrap();
    let r = server.control("l", "reload", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["version"].clone(), r.json()["reload_error"].clone()), (json!(2), Value::Null));
    assert_eq!(events("reloaded"), ["id-token reloaded"]);
    server.shutdown();
}

#[test]
fn events_an_async_listener_s_full_queue_refuses_are_a_503_naming_their_lines() {
    // One dispatcher thread, a queue of 2, and a listener that spends 20 ms per event.
    let slow = probe("slow", "loop")
        .with_mode(Mode::Async)
        .with_on_full(OnFull::Reject)
        .with_limits(LimitsConfig { fuel: Some(1 << 60), deadline_ms: Some(20), max_consecutive_traps: Some(1_000_000), ..Default::default() });
    let config = Config { listeners: vec![slow, probe("sync", "record")], dispatch: DispatchConfig { queue: Some(2), threads: Some(1), drain_ms: Some(10_000), ..Default::default() }, ..Config::default() };
    let server = Server::start(config);
    let batch: String = (0..40).map(|i| format!("{}\n", id_line(&format!("q{i}")))).collect();
    let r = server.ndjson(batch);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    let doc = r.json();
    let full: Vec<u64> = doc["queue_full"].as_array().unwrap().iter().map(|l| l.as_u64().unwrap()).collect();
    assert!(full.len() >= 40 - 2 - 1, "most of the batch found the queue full: {doc}");
    assert_eq!(doc["queue_full_total"].as_u64(), Some(full.len() as u64));
    assert_eq!(doc["accepted"].as_u64().unwrap() + full.len() as u64, 40, "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("queue is full"), "{doc}");
    assert_eq!(server.rec.of("sync").iter().filter(|l| l.starts_with("id-token")).count(), 40, "the sync listener ran on every event");
    let totals = server.shutdown();
    assert_eq!((totals.accepted, totals.queue_full), (40 - full.len() as u64, full.len() as u64));
    assert!(totals.line().contains(&format!("{} events refused by a full queue", full.len())), "{}", totals.line());
    let c = &totals.listeners[0].counters;
    assert_eq!((c.events, c.dropped_queue_full), (40, full.len() as u64), "{c:?}");
    assert_eq!(c.events, c.delivered + c.dropped_queue_full + c.dropped_shutdown + c.traps_total(), "every event accounted for: {c:?}");
}

// ---- The property test of the ingest path ------------------------------------------------

/// One server for every case of a property (each property has its own: they run in
/// parallel), with a probe that logs `id-token <sub>` per event.
fn prop_server(server: &'static OnceLock<Server>) -> &'static Server {
    server.get_or_init(|| {
        let mut config = Config::new().with_listener(probe("rec", "record"));
        // Room for several over-long lines in one body: each is that line's rejection.
        config.http.max_body_bytes = Some(32 << 20);
        Server::start(config)
    })
}

/// What one line should become, worked out from the event parser alone: `Some(Ok(log))`
/// an event (and the line the probe logs for it), `Some(Err(()))` a rejection, `None`
/// blank.
fn oracle(line: &[u8]) -> Option<Result<String, ()>> {
    if line.len() > MAX_LINE_BYTES {
        return Some(Err(()));
    }
    let Ok(text) = std::str::from_utf8(line) else { return Some(Err(())) };
    if text.trim().is_empty() {
        return None;
    }
    Some(match TokenEvent::from_json_line(text) {
        Ok(e) => {
            let kind = if e.kind == tokenwatch::EventKind::IdToken { "id-token" } else { "access-token" };
            Ok(format!("{kind} {}", e.claims.string("sub").unwrap_or_default()))
        }
        Err(_) => Err(()),
    })
}

/// A line, without its ending: a valid event, or bytes that break line readers and JSON
/// parsers.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let valid = "[a-z0-9]{1,12}".prop_map(|sub| id_line(&sub).into_bytes());
    let spliced = ("[a-z]{1,8}", any::<prop::sample::Index>(), prop::sample::select(vec![&b"\xff"[..], b"\xc3", b"\xed\xa0\x80", b"\x00", b"\r", b"\xef\xbb\xbf", b"\x1b[31m"]))
        .prop_map(|(sub, at, bad)| {
            let mut l = id_line(&sub).into_bytes();
            let at = at.index(l.len() + 1);
            l.splice(at..at, bad.iter().copied());
            l
        });
    let nested = (1usize..20_000, any::<bool>()).prop_map(|(depth, closed)| {
        let mut l = b"{\"kind\":\"id_token\",\"claims\":{\"a\":".to_vec();
        l.extend(std::iter::repeat_n(b'[', depth));
        if closed {
            l.extend(std::iter::repeat_n(b']', depth));
            l.extend_from_slice(b"}}");
        }
        l
    });
    let long = (1usize..64).prop_map(|extra| vec![b'x'; MAX_LINE_BYTES + extra]);
    let whitespace = prop::collection::vec(prop::sample::select(vec![&b" "[..], b"\t", b"\x0c", b"\xc2\xa0", b"\r"]), 0..4)
        .prop_map(|parts| parts.concat());
    prop_oneof![
        8 => valid,
        4 => prop::collection::vec(any::<u8>(), 0..80),
        3 => spliced,
        1 => nested,
        1 => whitespace,
        1 => long,
    ]
    .prop_map(|mut l| {
        l.retain(|&b| b != b'\n');
        l
    })
}

proptest! {
    // PROPTEST_CASES (default 256) sets the number of cases.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Any bytes in an NDJSON body: never a 5xx, and every line gets what the parser says
    /// of it alone, whatever its neighbours hold: each valid line dispatched (in order),
    /// each bad one rejected under its own number.
    #[test]
    fn any_batch_body_costs_only_its_bad_lines(lines in prop::collection::vec(line(), 0..12), crlf in any::<bool>(), last_ended in any::<bool>()) {
        static SERVER: OnceLock<Server> = OnceLock::new();
        let server = prop_server(&SERVER);
        server.rec.clear();
        let mut body = Vec::new();
        let (mut want_logs, mut want_rejected, mut accepted) = (Vec::new(), Vec::new(), 0);
        for (i, l) in lines.iter().enumerate() {
            body.extend_from_slice(l);
            let ended = i + 1 < lines.len() || last_ended;
            if ended {
                body.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            // A line that ends in `\r` before `\n` loses it, as a CRLF ending; the last
            // line without an ending keeps it.
            let as_read = if ended { l.strip_suffix(b"\r").unwrap_or(l) } else { &l[..] };
            match oracle(as_read) {
                Some(Ok(log)) => { accepted += 1; want_logs.push(log); }
                Some(Err(())) => want_rejected.push(i as u64 + 1),
                None => {}
            }
        }
        let r = server.ndjson(body);
        prop_assert!(r.status < 500, "{} {}", r.status, r.text());
        prop_assert_eq!(r.status, if accepted > 0 { 202 } else { 400 }, "{}", r.text());
        let doc = r.json();
        prop_assert_eq!(doc["accepted"].as_u64(), Some(accepted));
        let rejected: Vec<u64> = doc["rejected"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
        prop_assert_eq!(&rejected, &want_rejected);
        prop_assert_eq!(doc["rejected_total"].as_u64(), Some(want_rejected.len() as u64));
        prop_assert_eq!(server.rec.of("rec"), want_logs);
    }

    /// Any bytes as one `application/json` event: 202 when the parser takes it, else 400.
    #[test]
    fn any_single_body_is_202_or_400(body in prop_oneof![line(), prop::collection::vec(any::<u8>(), 0..200)]) {
        static SERVER: OnceLock<Server> = OnceLock::new();
        let server = prop_server(&SERVER);
        let r = server.post(Some("application/json"), body.clone());
        let want = match oracle(&body) { Some(Ok(_)) => 202, _ => 400 };
        prop_assert_eq!(r.status, want, "{}", r.text());
        prop_assert_eq!(r.json()["accepted"].as_u64(), Some(u64::from(want == 202)));
    }
}

#[test]
fn the_oracle_of_the_property_tests_is_pinned() {
    // The property tests lean on `oracle`; pin it on the cases the line reader treats
    // specially, so a wrong oracle cannot make them pass.
    assert_eq!(oracle(b""), None);
    assert_eq!(oracle(b" \t"), None);
    assert_eq!(oracle(b"\xff"), Some(Err(())));
    assert_eq!(oracle(id_line("z").as_bytes()), Some(Ok("id-token z".to_owned())));
    assert_eq!(oracle(&vec![b' '; MAX_LINE_BYTES]), None);
    assert_eq!(oracle(&vec![b' '; MAX_LINE_BYTES + 1]), Some(Err(())));
}

/// A server from the config file `tw.toml` (written from `toml` into a fresh folder),
/// watched and reloaded as `tokenwatch serve --config` does, with the admin token.
fn config_server(toml: &str) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tw.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::from_file(&path).unwrap();
    let running = config.clone();
    let token = "adm1n-T0ken_for.tests";
    let server = Server::start_with(config, move |s| {
        s.admin_token = Some(AdminToken::new(token).unwrap());
        s.config_file = Some(tokenwatch::serve::ConfigFile { path, overrides: Default::default(), running });
    });
    (server, format!("Bearer {token}"), dir)
}

/// A `[[listener]]` table of the bundled `guest`, named `name`, with `properties`.
fn table(name: &str, guest_name: &str, properties: &[(&str, &str)]) -> String {
    let mut t = format!("[[listener]]\nname = {name:?}\npath = {:?}\n", guest(guest_name).display().to_string());
    if !properties.is_empty() {
        t.push_str("[listener.properties]\n");
        for (k, v) in properties {
            t.push_str(&format!("{k} = {v:?}\n"));
        }
    }
    t
}

/// Replace `path` the way editors do: written beside it, renamed over it.
fn rewrite(path: &std::path::Path, text: &str) {
    let staged = path.with_extension("toml.swp");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(staged, path).unwrap();
}

impl Server {
    /// `GET /v1/listeners`: name → status.
    fn listeners(&self, auth: &str) -> std::collections::BTreeMap<String, Value> {
        let r = self.get("/v1/listeners", Some(auth));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json().as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().to_owned(), s.clone())).collect()
    }

    /// Poll `GET /v1/config` (at most 20 s) until `done` holds of it.
    fn config_until(&self, auth: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.get("/v1/config", Some(auth));
            assert_eq!(r.status, 200, "{}", r.text());
            let doc = r.json();
            if done(&doc) {
                return doc;
            }
            assert!(std::time::Instant::now() < until, "{what}: {doc}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[test]
fn a_listener_added_to_the_config_file_is_loaded_and_gets_events() {
    let a = table("a", "probe", &[("mode", "record")]);
    let (server, auth, dir) = config_server(&a);
    assert_eq!(server.listeners(&auth).keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(server.get("/v1/config", Some(&auth)).json()["reloads"], 0);

    rewrite(&dir.path().join("tw.toml"), &format!("{a}{}", table("b", "probe", &[("mode", "record")])));
    let doc = server.config_until(&auth, "the edit is applied", |d| d["reloads"].as_u64() >= Some(1));
    assert_eq!((doc["reload_errors"].clone(), doc["last_error"].clone()), (json!(0), Value::Null), "{doc}");
    let listeners = server.listeners(&auth);
    assert_eq!(listeners.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!((listeners["a"]["version"].clone(), listeners["b"]["version"].clone()), (json!(1), json!(1)), "a is untouched");

    assert_eq!(server.post(None, id_line("after-add")).status, 202);
    assert_eq!(server.rec.of("b").iter().filter(|l| l.starts_with("id-token")).collect::<Vec<_>>(), ["id-token after-add"]);
    assert_eq!(server.rec.of("a").iter().filter(|l| l.starts_with("id-token")).collect::<Vec<_>>(), ["id-token after-add"]);

    // Removed again: drained and shut down, by an explicit reload this time.
    std::fs::write(dir.path().join("tw.toml"), &a).unwrap();
    let r = server.request(server.client.post(format!("{}/v1/config/reload", server.url)).header("authorization", &auth));
    assert_eq!(r.status, 200, "{}", r.text());
    // (The watcher may have been first: then this reload found nothing left to do.)
    assert_eq!(server.listeners(&auth).keys().collect::<Vec<_>>(), ["a"], "{}", r.text());
    assert_eq!(server.rec.of("b").last().map(String::as_str), Some("shutdown"));
    let totals = server.shutdown();
    assert_eq!(totals.accepted, 1);
}

#[test]
fn a_broken_config_file_is_refused_and_the_running_listeners_keep_serving() {
    let a = table("a", "probe", &[("mode", "record")]);
    let (server, auth, dir) = config_server(&a);
    let path = dir.path().join("tw.toml");

    // A bad value: refused with the file, the table and the key; nothing changes.
    rewrite(&path, &format!("{a}{}[limits]\nfuel = 0\n", table("b", "probe", &[])));
    let doc = server.config_until(&auth, "the bad config is refused", |d| d["reload_errors"].as_u64() >= Some(1));
    let why = doc["last_error"].as_str().unwrap();
    assert_eq!(why, format!("config {}: [limits]: fuel must be at least 1", path.display()), "{doc}");
    assert_eq!(doc["reloads"], 0);
    let listeners = server.listeners(&auth);
    assert_eq!(listeners.keys().collect::<Vec<_>>(), ["a"], "b is not loaded from a refused config");
    assert_eq!(listeners["a"]["version"], 1);
    assert_eq!(server.post(None, id_line("still-served")).status, 202);
    assert!(server.rec.of("a").contains(&"id-token still-served".to_owned()));

    // Bad TOML: the line and the column; asked for explicitly, it is a 422 with the reason.
    std::fs::write(&path, format!("speed = 2\n{a}")).unwrap();
    let r = server.request(server.client.post(format!("{}/v1/config/reload", server.url)).header("authorization", &auth));
    assert_eq!(r.status, 422, "{}", r.text());
    let reason = r.json()["reason"].as_str().unwrap().to_owned();
    assert!(reason.starts_with(&format!("config {}: TOML parse error at line 1", path.display())) && reason.contains("unknown field `speed`"), "{reason}");
    assert!(r.json()["error"].as_str().unwrap().contains("the running config stays"), "{}", r.text());

    // Visible in the metrics too, once the watcher has refused that write as well.
    server.config_until(&auth, "the watcher refuses it too", |d| d["reload_errors"].as_u64() >= Some(3));
    std::thread::sleep(Duration::from_millis(600)); // no more to come
    let errors = server.get("/v1/config", Some(&auth)).json()["reload_errors"].clone();
    let text = server.get("/metrics", None).text();
    assert!(text.lines().any(|l| l == format!("tokenwatch_config_reload_errors_total {errors}")), "{errors}: {text}");
    assert!(text.lines().any(|l| l == "tokenwatch_config_reloads_total 0"), "{text}");
    assert_eq!(server.post(None, id_line("served-on")).status, 202);
    assert!(server.rec.of("a").contains(&"id-token served-on".to_owned()));

    // Mended: applied, and the last error cleared.
    rewrite(&path, &format!("{a}{}", table("b", "probe", &[])));
    let doc = server.config_until(&auth, "the mended config is applied", |d| d["reloads"].as_u64() >= Some(1));
    assert_eq!(doc["last_error"], Value::Null, "{doc}");
    assert_eq!(server.listeners(&auth).keys().collect::<Vec<_>>(), ["a", "b"]);
    server.shutdown();
}

#[test]
fn changed_properties_are_a_new_version_and_no_event_is_lost_across_it() {
    let config = |every: &str, tag: &str| format!("{}{}", table("l", "probe", &[("mode", "record"), ("tag", tag)]), table("m", "metering", &[("report_every", every)]));
    let (server, auth, dir) = config_server(&config("1000", "v1"));
    let path = dir.path().join("tw.toml");
    let (url, client) = (server.url.clone(), server.client.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    // Events, one request after the other, while the config changes under them.
    let posting = server.runtime.spawn(async move {
        let mut n = 0;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            let body = format!("{}\n{}\n", id_line(&format!("u{n}")), access_line(&format!("u{n}"), "app"));
            let r = client.post(format!("{url}/v1/events")).header("content-type", "application/x-ndjson").body(body).send().await.unwrap();
            assert_eq!(r.status(), 202);
            n += 1;
        }
        n
    });
    std::thread::sleep(Duration::from_millis(100));
    rewrite(&path, &config("1", "v2"));
    server.config_until(&auth, "the new properties are applied", |d| d["reloads"].as_u64() >= Some(1));
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n: u64 = server.runtime.block_on(posting).unwrap();
    assert!(n > 0);

    let listeners = server.listeners(&auth);
    // The probe handles both kinds; metering only access tokens.
    for (name, handled) in [("l", 2 * n), ("m", n)] {
        let s = &listeners[name];
        assert_eq!(s["version"], 2, "{name}: one version more: {s}");
        assert_eq!(s["reload_error"], Value::Null, "{s}");
        let c = &s["counters"];
        // Every event reached the one version or the other, and each ended as delivered or skipped.
        let (events, delivered, skipped) = (c["events"].as_u64().unwrap(), c["delivered"].as_u64().unwrap(), c["skipped"].as_u64().unwrap());
        assert_eq!((events, delivered + skipped), (2 * n, 2 * n), "{name}: {s}");
        assert_eq!(delivered, handled, "{name}: {s}");
    }
    let seen: Vec<String> = server.rec.of("l").into_iter().filter(|l| l.starts_with("id-token")).collect();
    assert_eq!(seen, (0..n).map(|i| format!("id-token u{i}")).collect::<Vec<_>>(), "each event once, in order, across the swap");
    assert_eq!(server.rec.of("l").iter().filter(|l| *l == "init").count(), 2, "{:?}", server.rec.of("l"));
    // Version 2 started with the new properties.
    let inits: Vec<String> = server.rec.of("m").into_iter().filter(|l| l.starts_with("init")).collect();
    assert_eq!(inits, ["init report_every=1000", "init report_every=1"]);
    server.shutdown();
}
