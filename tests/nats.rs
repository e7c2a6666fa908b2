//! The `nats` sink against a real `nats-server -js` (installed by `scripts/test-deps.sh`),
//! started by each test on a free port of 127.0.0.1 with its own store directory and killed
//! by its PID when the test ends. Streams are created and messages read back with an
//! independent client (async-nats in the test, over its own connection and runtime).
//!
//! Messages come from the real `sqs-publisher` guest (claims `sub`, so each message is
//! `{"sub":"<sub>"}`).

use async_nats::jetstream::{self, stream};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokenwatch::{Config, Host, ListenerConfig, Message, OutboxConfig, SinkConfig, SinkStatus, Spool};
use tokenwatch_tests::*;

/// A `nats-server -js` child process; killed (by its PID) and reaped when dropped.
struct NatsServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl NatsServer {
    /// On a free port, storing JetStream data under `dir`.
    fn start(dir: &Path) -> NatsServer {
        NatsServer::start_on(free_port(), dir, "")
    }

    /// On `port`, storing under `dir`, with `config` as its configuration file's text.
    fn start_on(port: u16, dir: &Path, config: &str) -> NatsServer {
        let store = dir.join(format!("jetstream-{port}"));
        let conf = dir.join(format!("nats-{port}.conf"));
        let log = dir.join(format!("nats-{port}.log"));
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(nats_server())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nats-server ({e}): run scripts/test-deps.sh (make test installs it)"));
        let mut server = NatsServer { child, port, log };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("nats-server exited ({status}): {}", server.logged());
            }
            assert!(start.elapsed() < Duration::from_secs(10), "nats-server does not accept connections: {}", server.logged());
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nats-server` from PATH, else where Debian's package puts it (/usr/sbin, not on every
/// user's PATH).
fn nats_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).find(|f| f.is_file()));
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The test's own NATS client, on its own runtime.
struct Client {
    runtime: tokio::runtime::Runtime,
    jetstream: jetstream::Context,
}

impl Client {
    fn connect(server: &NatsServer) -> Client {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        // The context's acker task needs the runtime: built inside it.
        let jetstream = runtime.block_on(async {
            let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(server.url()))
                .await
                .expect("connect within 10 s")
                .expect("connect");
            jetstream::ContextBuilder::new().timeout(Duration::from_secs(5)).build(client)
        });
        Client { runtime, jetstream }
    }

    /// Create a file stream capturing `subjects`, with a 2-minute duplicate window. JetStream
    /// may still be starting: tried for up to 10 s.
    fn create_stream(&self, name: &str, subjects: &[&str], max_message_size: i32) {
        let config = stream::Config {
            name: name.to_owned(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            duplicate_window: Duration::from_secs(120),
            max_message_size,
            ..Default::default()
        };
        let start = Instant::now();
        loop {
            match self.runtime.block_on(self.jetstream.create_stream(config.clone())) {
                Ok(_) => return,
                Err(e) if start.elapsed() < Duration::from_secs(10) => {
                    eprintln!("create stream {name}: {e}, trying again");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot create the stream {name}: {e}"),
            }
        }
    }

    fn delete_stream(&self, name: &str) {
        self.runtime.block_on(self.jetstream.delete_stream(name)).unwrap();
    }

    /// Every message of `stream`, in order: (subject, Nats-Msg-Id, body).
    fn messages(&self, stream: &str) -> Vec<(String, String, String)> {
        self.runtime.block_on(async {
            let mut s = self.jetstream.get_stream(stream).await.unwrap();
            let state = s.info().await.unwrap().state.clone();
            let mut out = Vec::new();
            for seq in state.first_sequence..=state.last_sequence {
                if state.messages == 0 {
                    break;
                }
                let m = s.get_raw_message(seq).await.unwrap();
                let id = m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()).unwrap_or_default();
                out.push((m.subject.to_string(), id, String::from_utf8(m.payload.to_vec()).unwrap()));
            }
            assert_eq!(out.len() as u64, state.messages);
            out
        })
    }

    /// Publish `body` with `Nats-Msg-Id: id`; whether the stream called it a duplicate.
    fn publish_with_id(&self, subject: &str, id: &str, body: &str) -> bool {
        self.runtime.block_on(async {
            let publish = jetstream::message::PublishMessage::build().payload(bytes::Bytes::from(body.to_owned())).message_id(id);
            let ack = self.jetstream.send_publish(subject.to_owned(), publish).await.unwrap().await.unwrap();
            ack.duplicate
        })
    }
}

/// A config whose outbox spools in `spool`.
fn config(spool: &Path, listeners: Vec<ListenerConfig>, sinks: Vec<SinkConfig>, shutdown_ms: u64) -> Config {
    Config { listeners, sinks, outbox: OutboxConfig { spool_dir: Some(spool.to_owned()), shutdown_ms: Some(shutdown_ms) }, ..Config::default() }
}

/// `sqs-publisher` publishing `{"sub":"<sub>"}` (plus `include`s) per token to `sink`.
fn publisher(name: &str, sink: &str) -> ListenerConfig {
    listener(name, "sqs-publisher").with_property("sink", sink).with_property("claims", "sub").with_sinks([sink])
}

fn nats_sink(name: &str, server: &NatsServer, subject: &str, stream: Option<&str>) -> SinkConfig {
    SinkConfig { stream: stream.map(str::to_owned), timeout_ms: Some(2_000), ..SinkConfig::nats(name, server.url(), subject) }
}

/// Wait up to `within` for `done` to hold of the first sink's status.
fn wait_for(host: &Host, within: Duration, what: &str, done: impl Fn(&SinkStatus) -> bool) {
    let start = Instant::now();
    loop {
        let s = &host.sink_status()[0];
        if done(s) {
            return;
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_message_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn messages_are_stored_once_by_jetstream_with_their_id_even_when_sent_again() {
    crate::http_push::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = Client::connect(&server);
    client.create_stream("TOKENS", &["tokens.>"], -1);
    let sink = nats_sink("nats-events", &server, "tokens.issued", Some("TOKENS"));
    let (host, rec) = host_with(config(&dir.path().join("spool"), vec![publisher("sqs", "nats-events")], vec![sink.clone()], 10_000));
    for sub in ["alice", "bob", "carol"] {
        host.dispatch(&id_token(sub));
    }
    host.dispatch(&access_token("dave", "client-1", "read"));
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.kind, s.target.clone()), ("nats", format!("{}/tokens.issued", server.url())));
    assert_eq!((s.enqueued, s.delivered, s.retried, s.dead_lettered, s.spool_depth), (4, 4, 0, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    // Exactly the published bodies, once each, on the subject, each with its own message id.
    let stored = client.messages("TOKENS");
    let bodies: Vec<&str> = stored.iter().map(|(_, _, b)| b.as_str()).collect();
    assert_eq!(bodies, [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#, r#"{"sub":"carol"}"#, r#"{"sub":"dave"}"#]);
    assert!(stored.iter().all(|(subject, id, _)| subject == "tokens.issued" && is_message_id(id)), "{stored:?}");
    let ids: std::collections::BTreeSet<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{stored:?}");

    // A second host whose spool holds alice's message again (as after a lost acknowledgement
    // and a restart): the sink sends it with the same id, the stream acknowledges it as a
    // duplicate and keeps one.
    let (alice_id, alice_body) = (stored[0].1.clone(), stored[0].2.clone());
    let spool = dir.path().join("spool-2");
    let again = Message { id: alice_id.clone(), listener: "sqs".into(), kind: "id_token".into(), body: alice_body.clone() };
    Spool::open(&spool).unwrap().put("nats-events", &[again]).unwrap();
    let (host, rec) = host_with(config(&spool, vec![publisher("sqs", "nats-events")], vec![sink], 10_000));
    wait_for(&host, Duration::from_secs(10), "the spooled message delivered", |s| s.delivered == 1);
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.spool_depth), (1, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    assert_eq!(client.messages("TOKENS"), stored, "the duplicate was stored");
    // The same from the test's own client: the stream calls it a duplicate.
    assert!(client.publish_with_id("tokens.issued", &alice_id, &alice_body));
    assert!(!client.publish_with_id("tokens.issued", "not-an-outbox-id", &alice_body));
    assert_eq!(client.messages("TOKENS").len(), 5);
}

#[test]
fn a_server_that_is_down_at_start_gets_the_spooled_messages_when_it_is_up() {
    crate::http_push::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on the port yet; `stream` is set, and its check is left for later.
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let sink = SinkConfig { stream: Some("TOKENS".into()), timeout_ms: Some(2_000), ..SinkConfig::nats("nats-late", &url, "tokens.late") };
    let spool = dir.path().join("spool");
    let (host, rec) = host_with(config(&spool, vec![publisher("sqs", "nats-late")], vec![sink], 20_000));
    for sub in ["alice", "bob", "carol"] {
        host.dispatch(&id_token(sub));
    }
    wait_for(&host, Duration::from_secs(10), "the messages spooled", |s| s.retried >= 3 && s.spool_depth == 3);
    assert_eq!(host.sink_status()[0].delivered, 0);
    let server = NatsServer::start_on(port, dir.path(), "");
    let client = Client::connect(&server);
    client.create_stream("TOKENS", &["tokens.>"], -1);
    wait_for(&host, Duration::from_secs(20), "the spool delivered", |s| s.delivered == 3 && s.spool_depth == 0);
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.enqueued, s.delivered, s.dead_lettered, s.spool_depth), (3, 3, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    assert_eq!(Spool::open(&spool).unwrap().depth("nats-late"), 0);
    let bodies: Vec<String> = client.messages("TOKENS").into_iter().map(|(_, _, b)| b).collect();
    assert_eq!(bodies, [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#, r#"{"sub":"carol"}"#]);
    let log = crate::http_push::logged();
    let start_line = log.lines().find(|l| l.contains("nats-late") && l.contains("cannot check now that the stream \"TOKENS\" captures \"tokens.late\""));
    assert!(start_line.is_some(), "{log}");
    assert!(log.lines().any(|l| l.contains("nats-late") && l.contains("will retry: not connected to the NATS server")), "{log}");
}

#[test]
fn a_publish_no_stream_takes_is_retried_until_the_stream_is_there() {
    crate::http_push::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = Client::connect(&server);
    client.create_stream("TOKENS", &["tokens.>"], -1);
    // The stream exists at start (checked), then goes away.
    let sink = nats_sink("nats-moved", &server, "tokens.moved", Some("TOKENS"));
    let (host, rec) = host_with(config(&dir.path().join("spool"), vec![publisher("sqs", "nats-moved")], vec![sink], 20_000));
    client.delete_stream("TOKENS");
    host.dispatch(&id_token("alice"));
    wait_for(&host, Duration::from_secs(10), "retried without a stream", |s| s.retried >= 2);
    // Another stream takes the subject: Nats-Expected-Stream refuses it, retried.
    client.create_stream("OTHER", &["tokens.>"], -1);
    let retried = host.sink_status()[0].retried;
    wait_for(&host, Duration::from_secs(10), "retried with another stream", |s| s.retried >= retried + 2);
    client.delete_stream("OTHER");
    client.create_stream("TOKENS", &["tokens.>"], -1);
    wait_for(&host, Duration::from_secs(15), "delivered", |s| s.delivered == 1);
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.spool_depth), (1, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    let stored = client.messages("TOKENS");
    assert_eq!(stored.iter().map(|(_, _, b)| b.as_str()).collect::<Vec<_>>(), [r#"{"sub":"alice"}"#]);
    let log = crate::http_push::logged();
    let reasons: Vec<&str> = log.lines().filter(|l| l.contains("nats-moved") && l.contains("will retry")).collect();
    assert!(reasons.iter().any(|l| l.contains("no stream captures the subject (no responders)")), "{log}");
    assert!(reasons.iter().any(|l| l.contains("JetStream error: expected stream does not match")), "{log}");
}

#[test]
fn messages_the_server_or_the_stream_refuses_for_their_size_are_dead_lettered() {
    crate::http_push::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    // A server that takes at most 1 KiB, and a stream that keeps at most 256 bytes.
    let server = NatsServer::start_on(free_port(), dir.path(), "max_payload: 1024\n");
    let client = Client::connect(&server);
    client.create_stream("TOKENS", &["tokens.>"], 256);
    let big = |name: &str, bytes: usize| publisher(name, "nats-sized").with_property("include.pad", "x".repeat(bytes));
    let listeners = vec![publisher("small", "nats-sized"), big("over-stream", 400), big("over-server", 2_000)];
    let spool = dir.path().join("spool");
    let (host, rec) = host_with(config(&spool, listeners, vec![nats_sink("nats-sized", &server, "tokens.sized", Some("TOKENS"))], 10_000));
    host.dispatch(&id_token("alice"));
    host.shutdown();
    let s = &host.sink_status()[0];
    assert_eq!((s.delivered, s.dead_lettered, s.retried, s.spool_depth), (1, 2, 0, 0), "{s:?} {:?}", rec.lines());
    drop(host);
    let stored = client.messages("TOKENS");
    assert_eq!(stored.iter().map(|(_, _, b)| b.as_str()).collect::<Vec<_>>(), [r#"{"sub":"alice"}"#]);
    let mut letters = Spool::open(&spool).unwrap().dead_letters().unwrap();
    letters.sort_by_key(|l| l.message.body.len());
    let got: Vec<(&str, &str)> = letters.iter().map(|l| (l.message.listener.as_str(), l.reason.as_str())).collect();
    assert_eq!(got.len(), 2, "{letters:?}");
    assert_eq!(got[0].0, "over-stream");
    assert_eq!(got[0].1, "the stream refused the message: message size exceeds maximum allowed (code 400, error code 10054)");
    assert_eq!(got[1].0, "over-server");
    assert!(got[1].1.starts_with("over the server's max_payload: "), "{}", got[1].1);
    assert!(got[1].1.contains("Payload size limit of 1024 exceeded"), "{}", got[1].1);
}

#[test]
fn a_stream_that_is_missing_or_does_not_capture_the_subject_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start(dir.path());
    let client = Client::connect(&server);
    client.create_stream("TOKENS", &["tokens.*"], -1);
    let build = |sink: SinkConfig| {
        let spool = dir.path().join("spool");
        // `shutdown` releases the spool before the next build (a drop would do it in the
        // background).
        Host::builder(config(&spool, vec![publisher("sqs", &sink.name.clone())], vec![sink], 1_000)).build().map(|h| h.shutdown()).err().map(|e| e.to_string())
    };
    assert_eq!(
        build(nats_sink("n", &server, "tokens.issued", Some("NOPE"))).as_deref(),
        Some("sink \"n\": the stream \"NOPE\" does not exist on the server: create it (tokenwatch does not create streams), or leave `stream` out")
    );
    assert_eq!(
        build(nats_sink("n", &server, "tokens.issued.id", Some("TOKENS"))).as_deref(),
        Some("sink \"n\": the stream \"TOKENS\" does not capture the subject \"tokens.issued.id\" (its subjects: tokens.*)")
    );
    assert_eq!(build(nats_sink("n", &server, "tokens.issued", Some("TOKENS"))), None);
    // Without `stream`, nothing is asked at start.
    assert_eq!(build(nats_sink("n", &server, "elsewhere", None)), None);
}

#[test]
fn nats_configuration_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let from_toml = |sink: &str| Config::from_toml(&format!("[[sink]]\nname = \"n\"\n{sink}\n"), dir.path());
    let nats = "type = \"nats\"\nurl = \"nats://127.0.0.1:4222\"";
    for (sink, key, message) in [
        ("type = \"nats\"\nsubject = \"a\"".to_owned(), "url", "a nats sink needs `url`: the server's nats://HOST:PORT"),
        (nats.to_owned(), "subject", "a nats sink needs `subject`: the subject its messages are published on"),
        ("type = \"nats\"\nurl = \"http://127.0.0.1:4222\"\nsubject = \"a\"".to_owned(), "url", "url has the scheme \"http\": a nats sink needs a nats://HOST:PORT URL"),
        (
            "type = \"nats\"\nurl = \"nats://u:hunter2@127.0.0.1:4222\"\nsubject = \"a\"".to_owned(),
            "url",
            "url holds credentials (user:password@): a nats sink connects without credentials in this version",
        ),
        (
            "type = \"nats\"\nurl = \"nats://127.0.0.1:4222/tokens\"\nsubject = \"a\"".to_owned(),
            "url",
            "url has a path, query or fragment: give the server as nats://HOST:PORT and the subject as `subject`",
        ),
        (format!("{nats}\nsubject = \"tokens.*\""), "subject", "subject \"tokens.*\" holds a wildcard (`*` or `>`): messages are published on one subject"),
        (format!("{nats}\nsubject = \"tokens..x\""), "subject", "subject \"tokens..x\" has an empty token (a leading, trailing or double `.`)"),
        (format!("{nats}\nsubject = \"a b\""), "subject", "subject \"a b\" holds whitespace or a control character"),
        (format!("{nats}\nsubject = \"a\"\nstream = \"A.B\""), "stream", "stream \"A.B\" is not a stream name (no whitespace, `.`, `*`, `>`, `/` or `\\`)"),
        (format!("{nats}\nsubject = \"a\"\ntimeout_ms = 0"), "timeout_ms", "timeout_ms must be at least 1"),
        (format!("{nats}\nsubject = \"a\"\nauthorization = \"x\""), "authorization", "`authorization` is not a key of a nats sink"),
        ("type = \"http-push\"\nurl = \"https://rp.example/\"\nsubject = \"a\"".to_owned(), "subject", "`subject` is not a key of an http-push sink"),
        ("type = \"file\"\npath = \"x\"\nstream = \"A\"".to_owned(), "stream", "`stream` is not a key of a file sink"),
    ] {
        let e = from_toml(&sink).unwrap_err();
        assert_eq!((e.place(), e.key(), e.message()), (Some("[[sink]] #1 \"n\""), Some(key), message), "{sink}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    let ok = from_toml(&format!("{nats}\nsubject = \"tokens.issued\"\nstream = \"TOKENS\"\ntimeout_ms = 2500")).unwrap();
    assert_eq!(ok.sinks[0].target(), "nats://127.0.0.1:4222/tokens.issued");
    // --sink NAME=nats://HOST:PORT/SUBJECT.
    let mut c = Config::new().with_listener(ListenerConfig::new("a.wasm"));
    c.add_sink("events=nats://127.0.0.1/tokens.issued").unwrap();
    let s = &c.sinks[0];
    assert_eq!((s.url.as_deref(), s.subject.as_deref(), s.stream.as_deref()), (Some("nats://127.0.0.1"), Some("tokens.issued"), None));
    assert_eq!(s.target(), "nats://127.0.0.1/tokens.issued");
    for (spec, why) in [
        ("e=nats://127.0.0.1:4222", "a nats sink URL needs the subject as its path: nats://HOST:PORT/SUBJECT"),
        ("e=nats://127.0.0.1:4222/", "a nats sink URL needs the subject as its path"),
        ("e=nats://127.0.0.1:4222/tokens.>", "holds a wildcard"),
        ("e=nats://u:hunter2@127.0.0.1:4222/t", "url holds credentials"),
    ] {
        let e = c.add_sink(spec).expect_err(spec);
        assert!(e.to_string().contains(why), "{spec}: {e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
