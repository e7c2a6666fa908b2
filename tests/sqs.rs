//! The `sqs` sink against a real SQS-compatible server, `moto_server` (PyPI `moto[server]`,
//! installed by `scripts/test-deps.sh`), started by each test on a free port of 127.0.0.1
//! and killed by its PID when the test ends. Queues are created and read back with boto3
//! (`tests/sqs_queues.py`), a client the host does not use.
//!
//! The AWS SDK takes its credentials (and, without `region`, its region) from the standard
//! chain: from environment variables here. Setting them in this multi-threaded test process
//! would race with every other test, so each host runs in a child process of this test
//! binary (the `child_host_for_the_sqs_tests` entry point) whose environment holds only
//! PATH and the AWS variables the test gives it; the parent reads back what the child's
//! host delivered. Messages come from the real `sqs-publisher` guest (claims `sub`).

use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokenwatch::{Config, Host, ListenerConfig, Message, SinkConfig, SinkType, Spool};
use tokenwatch_tests::*;

/// A `moto_server` child process; killed (by its PID) and reaped when dropped.
struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    fn start(dir: &Path) -> MotoServer {
        MotoServer::start_on(free_port(), dir)
    }

    fn start_on(port: u16, dir: &Path) -> MotoServer {
        let log = dir.join(format!("moto-{port}.log"));
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run moto_server ({e}): run scripts/test-deps.sh (make test installs it)"));
        let mut server = MotoServer { child, port, log };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("moto_server exited ({status}): {}", std::fs::read_to_string(&server.log).unwrap_or_default());
            }
            assert!(start.elapsed() < Duration::from_secs(20), "moto_server does not accept connections");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Create the queue `name` (FIFO when it ends in .fifo); its URL.
    fn create_queue(&self, name: &str, maximum_message_size: Option<u32>) -> String {
        let mut args = vec!["create".to_owned(), name.to_owned()];
        args.extend(maximum_message_size.map(|m| m.to_string()));
        boto(&self.endpoint(), &args).trim().to_owned()
    }

    /// Every message of the queue, deleted as read.
    fn read(&self, queue_url: &str) -> Vec<Received> {
        received(&boto(&self.endpoint(), &["read".into(), queue_url.into()]))
    }

}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` from PATH, else from the pip user base (where scripts/pip-install.sh puts
/// it on a distro Python).
fn moto_server() -> PathBuf {
    let find = |dir: PathBuf| Some(dir.join("moto_server")).filter(|f| f.is_file());
    if let Some(found) = std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find_map(find)) {
        return found;
    }
    let base = Command::new("python3").args(["-m", "site", "--user-base"]).output().expect("python3 runs");
    let base = PathBuf::from(String::from_utf8_lossy(&base.stdout).trim());
    find(base.join("bin")).unwrap_or_else(|| panic!("moto_server is not on PATH nor in {}/bin: run scripts/test-deps.sh", base.display()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Wait for `child` at most `within`; killed past it.
fn wait_bounded(child: &mut Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} took longer than {within:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tests/sqs_queues.py ENDPOINT ARGS...`, its standard output.
fn boto(endpoint: &str, args: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new("python3")
        .arg(root().join("tests/sqs_queues.py"))
        .arg(endpoint)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("python3 runs");
    let status = wait_bounded(&mut child, Duration::from_secs(30), "sqs_queues.py");
    let err = std::fs::read_to_string(&err).unwrap();
    assert!(status.success(), "sqs_queues.py {args:?}: {status}: {err}");
    std::fs::read_to_string(&out).unwrap()
}

/// A message as boto3 received it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Received {
    body: String,
    /// (name, data type, string value), by name.
    attributes: Vec<(String, String, String)>,
    group: Option<String>,
    dedup: Option<String>,
}

impl Received {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _, _)| n == name).map(|(_, _, v)| v.as_str())
    }
}

fn received(text: &str) -> Vec<Received> {
    let all: Vec<Value> = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    all.iter()
        .map(|m| {
            let mut attributes: Vec<(String, String, String)> = m["attributes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v[0].as_str().unwrap().to_owned(), v[1].as_str().unwrap_or_default().to_owned()))
                .collect();
            attributes.sort();
            Received {
                body: m["body"].as_str().unwrap().to_owned(),
                attributes,
                group: m["group"].as_str().map(str::to_owned),
                dedup: m["dedup"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

fn is_message_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The environment variable that makes `child_host_for_the_sqs_tests` run a host.
const CHILD: &str = "TOKENWATCH_SQS_CHILD";
/// The line prefix of the child's result: the sinks' status as JSON.
const RESULT: &str = "TOKENWATCH-SQS-CHILD-STATUS ";
/// The secret access key the children get: it must appear in none of their output.
const SECRET_KEY: &str = "tw-test-secret-7f3c9a41d2b8e6f0";

/// What a child's host does, as JSON: `config` (TOML, relative paths from `base`), `sinks`
/// (`--sink` specs), `events` ([kind, sub] with kind `id` or `access`), `spooled_marker`
/// (a file written once every event's message is in the spool), `delivered` and `dead`
/// (the totals over all sinks to wait for before the shutdown).
struct ChildHost {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl ChildHost {
    fn spawn(dir: &Path, name: &str, spec: Value) -> ChildHost {
        let (stdout, stderr) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.err")));
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sqs::child_host_for_the_sqs_tests", "--nocapture", "--test-threads", "1"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(CHILD, spec.to_string())
            .env("AWS_ACCESS_KEY_ID", "AKIDTOKENWATCHTEST")
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            // No instance metadata (an address off this machine), no files of the user's.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        ChildHost { child, stdout, stderr }
    }

    /// What the child logged so far.
    fn logged(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait for it to end; its sinks' status and its log.
    fn finish(mut self, within: Duration) -> (Vec<Value>, String) {
        let status = wait_bounded(&mut self.child, within, "the child host");
        let (out, err) = (std::fs::read_to_string(&self.stdout).unwrap(), self.logged());
        assert!(status.success(), "the child host failed ({status}):\n{out}\n{err}");
        let line = out.lines().find_map(|l| l.strip_prefix(RESULT)).unwrap_or_else(|| panic!("no status from the child:\n{out}\n{err}"));
        for text in [&out, &err] {
            assert!(!text.contains(SECRET_KEY), "the secret access key is shown:\n{text}");
        }
        (serde_json::from_str(line).unwrap(), err)
    }
}

/// Run a host as `spec` says, in a child process, within 40 s.
fn run_child(dir: &Path, name: &str, spec: Value) -> (Vec<Value>, String) {
    ChildHost::spawn(dir, name, spec).finish(Duration::from_secs(40))
}

/// Not a test by itself: the entry point of the child processes the tests here start (it
/// returns at once without `TOKENWATCH_SQS_CHILD`).
#[test]
fn child_host_for_the_sqs_tests() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("tokenwatch=trace,aws_config=debug,aws_smithy_runtime=debug,aws_sigv4=debug"))
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let mut config = Config::from_toml(spec["config"].as_str().unwrap(), Path::new(spec["base"].as_str().unwrap())).unwrap();
    for sink in spec["sinks"].as_array().into_iter().flatten() {
        config.add_sink(sink.as_str().unwrap()).unwrap();
    }
    let (host, rec) = host_with(config);
    let events = spec["events"].as_array().cloned().unwrap_or_default();
    for e in &events {
        let sub = e[1].as_str().unwrap();
        host.dispatch(&if e[0] == "access" { access_token(sub, "client-1", "read") } else { id_token(sub) });
    }
    let total = |f: fn(&tokenwatch::SinkStatus) -> u64| host.sink_status().iter().map(f).sum::<u64>();
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(25), "{what}: {:?} {:?}", host.sink_status(), rec.lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    if let Some(marker) = spec["spooled_marker"].as_str() {
        wait("spooled", &|| total(|s| s.spool_depth) == events.len() as u64 && total(|s| s.retried) >= events.len() as u64);
        std::fs::write(marker, "").unwrap();
    }
    let (delivered, dead) = (spec["delivered"].as_u64().unwrap(), spec["dead"].as_u64().unwrap_or(0));
    wait("delivered", &|| total(|s| s.delivered) == delivered && total(|s| s.dead_lettered) == dead);
    host.shutdown();
    // On a line of its own: the harness has written `test ... ` before it.
    println!("\n{RESULT}{}", serde_json::to_string(&host.sink_status()).unwrap());
}

/// The TOML of `sqs-publisher` listeners (name, sink, extra properties) and sinks, spooling
/// in `dir/spool`. A listener whose sink's name starts with `cli` gets no `sinks` grant:
/// that sink comes from `--sink`, which grants it to every listener.
fn toml(dir: &Path, listeners: &[(&str, &str, &str)], sinks: &str) -> String {
    let mut text = format!("[outbox]\nspool_dir = {:?}\nshutdown_ms = 5000\n\n", dir.join("spool").display().to_string());
    for (name, sink, extra) in listeners {
        text += &format!(
            "[[listener]]\nname = {name:?}\npath = {:?}\nproperties = {{ sink = {sink:?}, claims = \"sub\"{extra} }}\n{}\n",
            guest("sqs-publisher").display().to_string(),
            if sink.starts_with("cli") { String::new() } else { format!("sinks = [{sink:?}]\n") }
        );
    }
    text + sinks
}

/// A `[[sink]]` table of type sqs.
fn sqs_table(name: &str, server: &MotoServer, queue_url: &str, extra: &str) -> String {
    format!(
        "[[sink]]\nname = {name:?}\ntype = \"sqs\"\nqueue_url = {queue_url:?}\nendpoint_url = {:?}\nregion = \"us-east-1\"\ntimeout_ms = 5000\n{extra}\n",
        server.endpoint()
    )
}

fn subs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i:02}")).collect()
}

#[test]
fn messages_reach_a_standard_queue_with_their_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let server = MotoServer::start(dir.path());
    let (table_queue, cli_queue) = (server.create_queue("tokens", None), server.create_queue("tokens-cli", None));
    // 11 ID tokens and an access token: two calls of SendMessageBatch per sink. One sink
    // from a [[sink]] table (region set), one from --sink sqs:URL (the endpoint from the
    // URL, the region from AWS_REGION).
    let mut events: Vec<Value> = subs(11).iter().map(|s| json!(["id", s])).collect();
    events.push(json!(["access", "dave"]));
    let config = toml(dir.path(), &[("sqs", "table", ""), ("sqs-cli", "cli", "")], &sqs_table("table", &server, &table_queue, ""));
    let spec = json!({"config": config, "base": dir.path(), "sinks": [format!("cli=sqs:{cli_queue}")], "events": events, "delivered": 24});
    let (status, _log) = run_child(dir.path(), "standard", spec);
    for (s, queue) in status.iter().zip([&table_queue, &cli_queue]) {
        assert_eq!((s["type"].as_str(), s["target"].as_str()), (Some("sqs"), Some(queue.as_str())), "{s}");
        assert_eq!((&s["enqueued"], &s["delivered"], &s["retried"], &s["dead_lettered"], &s["spool_depth"]), (&json!(12), &json!(12), &json!(0), &json!(0), &json!(0)), "{s}");
    }
    for (queue, listener) in [(&table_queue, "sqs"), (&cli_queue, "sqs-cli")] {
        let mut got = server.read(queue);
        got.sort();
        let mut expected: Vec<String> = subs(11).iter().chain([&"dave".to_owned()]).map(|s| format!("{{\"sub\":\"{s}\"}}")).collect();
        expected.sort();
        assert_eq!(got.iter().map(|m| m.body.clone()).collect::<Vec<_>>(), expected, "{queue}");
        let mut ids = std::collections::BTreeSet::new();
        for m in &got {
            let names: Vec<(&str, &str)> = m.attributes.iter().map(|(n, t, _)| (n.as_str(), t.as_str())).collect();
            assert_eq!(names, [("kind", "String"), ("listener", "String"), ("message_id", "String")], "{m:?}");
            let kind = if m.body.contains("dave") { "access_token" } else { "id_token" };
            assert_eq!((m.attribute("kind"), m.attribute("listener")), (Some(kind), Some(listener)), "{m:?}");
            let id = m.attribute("message_id").unwrap();
            assert!(is_message_id(id) && ids.insert(id.to_owned()), "{m:?}");
            // A standard queue: no group, no deduplication id.
            assert_eq!((&m.group, &m.dedup), (&None, &None), "{m:?}");
        }
    }
}

#[test]
fn a_fifo_queue_gets_the_group_and_drops_a_message_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = MotoServer::start(dir.path());
    let queue = server.create_queue("tokens.fifo", None);
    let sink = sqs_table("fifo", &server, &queue, "message_group_id = \"tokens\"");
    let config = toml(dir.path(), &[("sqs", "fifo", "")], &sink);
    // Alice's message waits in the spool (as after an answer lost to a crash), so the first
    // start sends it before bob's and carol's; a second start finds it in the spool again,
    // under the same id: delivered as far as SQS says, and dropped as a duplicate. (Its id
    // is known this way: reading a FIFO queue back in moto before the end would reorder it.)
    let id = "5e7f00c0ffee00000000000000000001";
    let alice = Message { id: id.into(), listener: "sqs".into(), kind: "id_token".into(), body: r#"{"sub":"alice"}"#.into() };
    let spool = || Spool::open(&dir.path().join("spool")).unwrap();
    spool().put("fifo", std::slice::from_ref(&alice)).unwrap();
    let events = json!([["id", "bob"], ["id", "carol"]]);
    let (status, _) = run_child(dir.path(), "fifo-1", json!({"config": config, "base": dir.path(), "events": events, "delivered": 3}));
    assert_eq!((&status[0]["delivered"], &status[0]["dead_lettered"], &status[0]["spool_depth"]), (&json!(3), &json!(0), &json!(0)));
    spool().put("fifo", &[alice]).unwrap();
    let (status, _) = run_child(dir.path(), "fifo-2", json!({"config": config, "base": dir.path(), "events": [], "delivered": 1}));
    assert_eq!((&status[0]["delivered"], &status[0]["spool_depth"]), (&json!(1), &json!(0)));
    let got = server.read(&queue);
    assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#, r#"{"sub":"carol"}"#], "in order, once each");
    assert_eq!(got[0].attribute("message_id"), Some(id));
    for m in &got {
        assert!(is_message_id(m.attribute("message_id").unwrap()), "{m:?}");
        assert_eq!(m.group.as_deref(), Some("tokens"), "{m:?}");
        assert_eq!(m.dedup.as_deref(), m.attribute("message_id"), "the deduplication id is the message id: {m:?}");
    }
}

#[test]
fn a_message_the_queue_refuses_is_dead_lettered_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = MotoServer::start(dir.path());
    // The smallest maximum SQS allows: 1 KiB.
    let queue = server.create_queue("small", Some(1024));
    let pad = format!(", \"include.pad\" = {:?}", "x".repeat(2_000));
    let config = toml(dir.path(), &[("small", "q", ""), ("big", "q", &pad)], &sqs_table("q", &server, &queue, ""));
    let events = json!([["id", "alice"], ["id", "bob"]]);
    let (status, log) = run_child(dir.path(), "sizes", json!({"config": config, "base": dir.path(), "events": events, "delivered": 2, "dead": 2}));
    assert_eq!((&status[0]["delivered"], &status[0]["dead_lettered"], &status[0]["spool_depth"]), (&json!(2), &json!(2), &json!(0)), "{log}");
    let got = server.read(&queue);
    let mut bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#]);
    let letters = Spool::open(&dir.path().join("spool")).unwrap().dead_letters().unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    for l in &letters {
        assert_eq!(l.message.listener, "big");
        assert!(l.reason.starts_with("400 InvalidParameterValue: "), "{}", l.reason);
        assert!(l.reason.contains("Message must be shorter than 1024 bytes"), "{}", l.reason);
    }
}

#[test]
fn a_server_that_is_down_is_retried_and_the_spool_delivered_when_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // moto's URL for the queue once it is created.
    let queue = format!("{endpoint}/123456789012/later");
    let marker = dir.path().join("spooled");
    let config = toml(dir.path(), &[("sqs", "cli-later", "")], "");
    let events = json!([["id", "alice"], ["id", "bob"], ["id", "carol"]]);
    let spec = json!({"config": config, "base": dir.path(), "sinks": [format!("cli-later=sqs:{queue}")], "events": events, "spooled_marker": marker, "delivered": 3});
    let child = ChildHost::spawn(dir.path(), "later", spec);
    let start = Instant::now();
    while !marker.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "not spooled: {}", child.logged());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Up, but without the queue: retried too, until it is created.
    let server = MotoServer::start_on(port, dir.path());
    let start = Instant::now();
    while !child.logged().contains("will retry: 400 AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist.") {
        assert!(start.elapsed() < Duration::from_secs(20), "no retry for the missing queue: {}", child.logged().lines().filter(|l| l.contains("tokenwatch")).collect::<Vec<_>>().join("\n"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.create_queue("later", None), queue);
    let (status, log) = child.finish(Duration::from_secs(40));
    assert_eq!((&status[0]["enqueued"], &status[0]["delivered"], &status[0]["dead_lettered"], &status[0]["spool_depth"]), (&json!(3), &json!(3), &json!(0), &json!(0)), "{log}");
    assert!(log.lines().any(|l| l.contains("will retry: dispatch failure: io error") && l.contains("Connection refused")), "{log}");
    let mut bodies: Vec<String> = server.read(&queue).into_iter().map(|m| m.body).collect();
    bodies.sort();
    assert_eq!(bodies, [r#"{"sub":"alice"}"#, r#"{"sub":"bob"}"#, r#"{"sub":"carol"}"#]);
    assert_eq!(Spool::open(&dir.path().join("spool")).unwrap().depth("cli-later"), 0);
}

#[test]
fn sqs_configuration_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let from_toml = |sink: &str| Config::from_toml(&format!("[[sink]]\nname = \"q\"\n{sink}\n"), dir.path());
    let sqs = "type = \"sqs\"\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/tokens\"";
    let fifo = "type = \"sqs\"\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/tokens.fifo\"";
    for (sink, key, message) in [
        ("type = \"sqs\"".to_owned(), "queue_url", "an sqs sink needs `queue_url`: the queue's https:// URL"),
        ("type = \"sqs\"\nqueue_url = \"sqs.example/1/q\"".to_owned(), "queue_url", "queue_url is not a valid URL (relative URL without a base): expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME"),
        ("type = \"sqs\"\nqueue_url = \"ftp://sqs.example/1/q\"".to_owned(), "queue_url", "queue_url has the scheme \"ftp\": expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME"),
        ("type = \"sqs\"\nqueue_url = \"https://sqs.example/\"".to_owned(), "queue_url", "queue_url has no path: expected https://sqs.REGION.amazonaws.com/ACCOUNT/NAME"),
        (
            "type = \"sqs\"\nqueue_url = \"https://AKID:hunter2@sqs.example/1/q\"".to_owned(),
            "queue_url",
            "queue_url holds credentials (user:password@): AWS credentials come from the standard chain (AWS_ACCESS_KEY_ID, a profile, a role)",
        ),
        (format!("{sqs}\nregion = \"EU West\""), "region", "region = \"EU West\" is not an AWS region name (like eu-west-1)"),
        (format!("{sqs}\nendpoint_url = \"localhost:4566\""), "endpoint_url", "endpoint_url is not an http:// or https:// URL with a host"),
        (format!("{sqs}\nendpoint_url = \"http://u:hunter2@localhost:4566\""), "endpoint_url", "endpoint_url holds credentials (user:password@): AWS credentials come from the standard chain"),
        (fifo.to_owned(), "message_group_id", "a FIFO queue (.fifo) needs `message_group_id`: the MessageGroupId of its messages"),
        (format!("{sqs}\nmessage_group_id = \"g\""), "message_group_id", "`message_group_id` is only for a FIFO queue (a queue_url ending in .fifo)"),
        (format!("{fifo}\nmessage_group_id = \"a b\""), "message_group_id", "message_group_id = \"a b\" is not 1 to 128 letters, digits and punctuation"),
        (format!("{sqs}\ntimeout_ms = 30001"), "timeout_ms", "timeout_ms = 30001 is over the maximum of 30000 (the outbox's limit per batch)"),
        (format!("{sqs}\nsubject = \"a\""), "subject", "`subject` is not a key of an sqs sink"),
        ("type = \"nats\"\nurl = \"nats://h\"\nsubject = \"a\"\nqueue_url = \"https://x/1/q\"".to_owned(), "queue_url", "`queue_url` is not a key of a nats sink"),
        ("type = \"stdout\"\nregion = \"us-east-1\"".to_owned(), "region", "`region` is not a key of a stdout sink"),
    ] {
        let e = from_toml(&sink).unwrap_err();
        assert_eq!((e.place(), e.key(), e.message()), (Some("[[sink]] #1 \"q\""), Some(key), message), "{sink}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    let ok = from_toml(&format!("{fifo}\nmessage_group_id = \"tokens\"\nregion = \"eu-west-1\"\nendpoint_url = \"https://vpce.example\"")).unwrap();
    let s = &ok.sinks[0];
    assert_eq!((s.kind, s.target()), (SinkType::Sqs, "https://sqs.eu-west-1.amazonaws.com/123456789012/tokens.fifo".to_owned()));
    // Building the sink touches neither the network nor the credentials.
    let mut config = Config::new();
    config.sinks = vec![SinkConfig::sqs("q", "https://sqs.eu-west-1.amazonaws.com/123456789012/tokens")];
    config.outbox.spool_dir = Some(dir.path().join("spool"));
    assert!(Host::builder(config).build().is_ok());
    // --sink NAME=sqs:QUEUE_URL.
    let mut c = Config::new().with_listener(ListenerConfig::new("a.wasm"));
    c.add_sink("q=sqs:http://127.0.0.1:4566/000000000000/tokens").unwrap();
    let s = &c.sinks[0];
    assert_eq!((s.queue_url.as_deref(), s.endpoint_url.as_deref(), s.region.as_deref()), (Some("http://127.0.0.1:4566/000000000000/tokens"), Some("http://127.0.0.1:4566"), None));
    for (spec, why) in [
        ("q=sqs:http://127.0.0.1:4566/000000000000/tokens.fifo", "a FIFO queue (.fifo) needs `message_group_id`: give it in a [[sink]] table"),
        ("q=sqs:https://AKID:hunter2@sqs.example/1/q", "queue_url holds credentials"),
        ("q=sqs:", "queue_url is not a valid URL"),
    ] {
        let e = c.add_sink(spec).expect_err(spec);
        assert!(e.to_string().contains(why), "{spec}: {e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
