//! `tokenwatch serve` as a process: the port read from its first line, events POSTed over a
//! socket, SIGTERM or SIGINT, exit status 0, every listener's `shutdown` run once, and a
//! closing totals line that accounts for every accepted event. And start-up errors that
//! name what and where.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn guest(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} missing: run `make guests`", p.display());
    p
}

/// A directory holding the bundled `guest` copied as `<name>.wasm` for each name.
fn listeners_dir(guest_name: &str, names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        std::fs::copy(guest(guest_name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    dir
}

/// A running `tokenwatch serve`: its port, and its output as it comes.
struct Serve {
    child: Child,
    port: u16,
    stdout: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokenwatch"))
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "tokenwatch=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        let first = stdout.recv_timeout(Duration::from_secs(60)).expect("serve prints where it listens");
        let port = first
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not the listening line: {first:?}"));
        Serve { child, port, stdout, stderr }
    }

    /// One HTTP/1.1 request on a fresh connection: the status and the body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
        self.request_with(method, path, content_type, body, &[])
    }

    fn request_with(&self, method: &str, path: &str, content_type: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end: {answer:?}"));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {head:?}"));
        (status, body.to_owned())
    }

    fn post(&self, content_type: &str, body: &str) -> serde_json::Value {
        let (status, body) = self.request("POST", "/v1/events", content_type, body.as_bytes());
        assert_eq!(status, 202, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Send `signal`, wait for the exit (at most a minute): the status, the lines printed
    /// after the listening line, and standard error.
    fn stop(self, signal: i32) -> (ExitStatus, Vec<String>, String) {
        // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(self.child.id() as libc::pid_t, signal) }, 0);
        let (tx, rx) = mpsc::channel();
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx.recv_timeout(Duration::from_secs(60)).expect("serve exits after the signal").unwrap();
        let stderr = self.stderr.join().unwrap();
        // Every line up to the end of the output (the reader thread ends there).
        let lines = self.stdout.iter().collect();
        (status, lines, stderr)
    }
}

fn id_line(sub: &str) -> String {
    format!(r#"{{"kind":"id_token","claims":{{"sub":"{sub}","aud":"app"}}}}"#)
}

/// Lines of the guest log (`tokenwatch::guest`) of `listener` with exactly `message`.
fn guest_lines(stderr: &str, listener: &str, message: &str) -> usize {
    let tail = format!("tokenwatch::guest: {message} listener=\"{listener}\"");
    stderr.lines().filter(|l| l.ends_with(&tail)).count()
}

#[test]
fn sigterm_drains_shuts_every_listener_down_once_and_accounts_for_every_event() {
    let dir = listeners_dir("probe", &["alpha", "beta"]);
    let serve = Serve::start(&["--listeners", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let one = serve.post("application/json", &id_line("single"));
    assert_eq!(one["accepted"], 1);
    let mut batch: String = (0..40).map(|i| format!("{}\n", id_line(&format!("u{i}")))).collect();
    batch.push_str("not an event\n");
    batch.push_str(&format!(r#"{{"kind":"access_token","claims":{{"sub":"at","client_id":"app"}}}}{}"#, "\n"));
    let many = serve.post("application/x-ndjson", &batch);
    assert_eq!((many["accepted"].clone(), many["rejected"][0]["line"].clone()), (serde_json::json!(41), serde_json::json!(41)));
    let (status, _) = serve.request("GET", "/readyz", "text/plain", b"");
    assert_eq!(status, 200);

    let (status, lines, stderr) = serve.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: shutting down"), "{stderr}");
    // Each listener saw every accepted event and ran `shutdown` exactly once.
    for name in ["alpha", "beta"] {
        assert_eq!(guest_lines(&stderr, name, "shutdown"), 1, "{name}'s shutdown in\n{stderr}");
        assert_eq!(guest_lines(&stderr, name, "id-token u39"), 1, "{stderr}");
        assert_eq!(guest_lines(&stderr, name, "access-token at"), 1, "{stderr}");
    }
    assert_eq!(
        lines,
        ["served 42 events (1 lines rejected, 0 requests refused while draining); \
          alpha: 42 events, 42 delivered, 0 skipped, 0 dropped, 0 traps; \
          beta: 42 events, 42 delivered, 0 skipped, 0 dropped, 0 traps"],
        "{stderr}"
    );
}

#[test]
fn a_module_written_into_the_listeners_folder_is_loaded_while_serving() {
    let dir = listeners_dir("probe", &["alpha"]);
    // Beside the folder, on the same file system (for the rename below).
    let beside = tempfile::tempdir().unwrap();
    let token = beside.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let serve = Serve::start(&["--listeners", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0", "--admin-token-file", token.to_str().unwrap()]);
    let names = |serve: &Serve| {
        let (status, body) = serve.request_with("GET", "/v1/listeners", "text/plain", b"", &[("Authorization", "Bearer t0ken")]);
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        list.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(&serve), ["alpha"]);
    // Written elsewhere, then renamed in: the safe way to deploy.
    let staged = beside.path().join("gamma.tmp");
    std::fs::copy(guest("probe"), &staged).unwrap();
    std::fs::rename(&staged, dir.path().join("gamma.wasm")).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while names(&serve) != ["alpha", "gamma"] {
        assert!(std::time::Instant::now() < until, "gamma was never loaded: {:?}", names(&serve));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(serve.post("application/json", &id_line("hot"))["accepted"], 1);
    let (status, lines, stderr) = serve.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(guest_lines(&stderr, "gamma", "id-token hot"), 1, "{stderr}");
    assert_eq!(guest_lines(&stderr, "gamma", "shutdown"), 1, "{stderr}");
    assert!(lines[0].ends_with("gamma: 1 events, 1 delivered, 0 skipped, 0 dropped, 0 traps"), "{lines:?}");
}

#[test]
fn sigint_stops_it_too() {
    let dir = listeners_dir("sign-in-audit", &["audit"]);
    let serve = Serve::start(&["--listeners", dir.path().to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let (status, lines, stderr) = serve.stop(libc::SIGINT);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGINT: shutting down"), "{stderr}");
    assert_eq!(lines, ["served 0 events (0 lines rejected, 0 requests refused while draining); audit: 0 events, 0 delivered, 0 skipped, 0 dropped, 0 traps"]);
}

/// `tokenwatch serve ARGS`, expected to fail at start: its standard error.
fn start_error(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_tokenwatch")).arg("serve").args(args).stdin(Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}: nothing listened: {}", String::from_utf8_lossy(&o.stdout));
    err
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn start_errors_name_what_and_where() {
    let dir = listeners_dir("sign-in-audit", &["sign-in-audit"]);
    let d = dir.path().to_str().unwrap();
    let configured = guest("sign-in-audit").display().to_string();
    let config = write(dir.path(), "clash.toml", &format!("[[listener]]\npath = {configured:?}\n"));
    let e = start_error(&["--config", &config, "--listeners", d, "--listen", "127.0.0.1:0"]);
    assert!(e.contains("--listeners") && e.contains(&format!("{d}/sign-in-audit.wasm")) && e.contains(&configured), "{e}");

    let e = start_error(&["--listeners", d, "--admin-token-file", "/nonexistent/token"]);
    assert!(e.contains("cannot read the admin token file /nonexistent/token"), "{e}");
    let empty = write(dir.path(), "empty-token", "\n");
    let e = start_error(&["--listeners", d, "--admin-token-file", &empty]);
    assert!(e.contains(&format!("the admin token file {empty} is empty")), "{e}");

    let config = write(dir.path(), "bad.toml", "[http]\nmax_body_bytes = 0\n");
    let e = start_error(&["--config", &config, "--listeners", d]);
    assert!(e.contains(&format!("config {config}: [http]: max_body_bytes must be at least 1")), "{e}");
    let e = start_error(&["--listeners", d, "--listen", "localhost:80"]);
    assert!(e.contains("[http]: address = \"localhost:80\" is not IP:PORT"), "{e}");

    let none = tempfile::tempdir().unwrap();
    let e = start_error(&["--listeners", none.path().to_str().unwrap()]);
    assert!(e.contains("no listeners"), "{e}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let e = start_error(&["--listeners", d, "--listen", &address]);
    assert!(e.contains(&format!("cannot listen on {address}")), "{e}");
}

/// The load generator behind `tokenwatch bench`'s `http` figures works against a real
/// server: every request answered 202, figures above zero, targets judged.
#[test]
fn the_http_load_figures_are_measured() {
    let guests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guests/dist");
    let doc = tokenwatch::serve::load::measure(&guests).unwrap();
    for key in ["single", "batch_100"] {
        let f = &doc[key];
        assert!(f["requests"].as_u64().is_some_and(|n| n > 0), "{doc}");
        assert!(f["events_per_second"].as_f64().is_some_and(|v| v > 0.0), "{doc}");
        assert!(f["p50_ms"].as_f64().unwrap() <= f["p99_ms"].as_f64().unwrap(), "{doc}");
    }
    assert!(doc["targets"]["batch_events_per_second"]["met"].is_boolean(), "{doc}");
    assert!(doc["targets"]["single_p99_ms"]["met"].is_boolean(), "{doc}");
    assert!(tokenwatch::serve::load::render(&doc).contains("HTTP, batches of 100"));
}

/// A `[[listener]]` table of the bundled `probe`, named `name`.
fn probe_table(name: &str) -> String {
    format!("[[listener]]\nname = {name:?}\npath = {:?}\n", guest("probe").display().to_string())
}

#[test]
fn sighup_reloads_the_config_file_refusing_a_bad_one_and_applying_a_good_one() {
    // The config is a symbolic link to a file elsewhere (as a Kubernetes ConfigMap is): the
    // watcher of its folder sees no write to the target, so only SIGHUP applies it.
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.toml");
    std::fs::write(&target, probe_table("alpha")).unwrap();
    let config = dir.path().join("tw.toml");
    std::os::unix::fs::symlink(&target, &config).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let serve = Serve::start(&["--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0", "--admin-token-file", token.to_str().unwrap()]);
    let get = |serve: &Serve, path: &str| {
        let (status, body) = serve.request_with("GET", path, "text/plain", b"", &[("Authorization", "Bearer t0ken")]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    let names = |serve: &Serve| {
        get(serve, "/v1/listeners").as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let hangup_until = |serve: &Serve, what: &str, done: &dyn Fn(&serde_json::Value) -> bool| {
        // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(serve.child.id() as libc::pid_t, libc::SIGHUP) }, 0);
        let until = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let doc = get(serve, "/v1/config");
            if done(&doc) {
                return doc;
            }
            assert!(std::time::Instant::now() < until, "{what}: {doc}");
            std::thread::sleep(Duration::from_millis(25));
        }
    };
    assert_eq!(serve.post("application/json", &id_line("first"))["accepted"], 1);

    // A bad config: refused, named, and alpha serves on.
    std::fs::write(&target, format!("{}{}[dispatch]\nqueue = 0\n", probe_table("alpha"), probe_table("beta"))).unwrap();
    let doc = hangup_until(&serve, "the bad config is refused", &|d| d["reload_errors"] == 1);
    assert!(doc["last_error"].as_str().unwrap().starts_with(&format!("config {}: [dispatch]", config.display())), "{doc}");
    assert_eq!(names(&serve), ["alpha"]);
    assert_eq!(serve.post("application/json", &id_line("during-bad"))["accepted"], 1);

    // A good one: beta is loaded. A changed [http] table only warns: it needs a restart.
    std::fs::write(&target, format!("{}{}[http]\nmax_body_bytes = 1000\n", probe_table("alpha"), probe_table("beta"))).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(names(&serve), ["alpha"], "no watcher event for a write behind the link");
    let doc = hangup_until(&serve, "the good config is applied", &|d| d["reloads"] == 1);
    assert_eq!((doc["last_error"].clone(), doc["restart_pending"].clone()), (serde_json::Value::Null, serde_json::json!(["[http]"])), "{doc}");
    assert_eq!(names(&serve), ["alpha", "beta"]);
    assert_eq!(serve.post("application/json", &id_line("after"))["accepted"], 1);

    let (status, lines, stderr) = serve.stop(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGHUP: reloading the config file"), "{stderr}");
    assert!(stderr.contains(&format!("config reload refused, the running config stays: config {}: [dispatch]", config.display())), "{stderr}");
    assert!(stderr.contains("[http] changed: it takes effect at the next restart"), "{stderr}");
    assert_eq!(guest_lines(&stderr, "alpha", "id-token during-bad"), 1, "{stderr}");
    assert_eq!(guest_lines(&stderr, "beta", "id-token after"), 1, "{stderr}");
    assert_eq!(guest_lines(&stderr, "beta", "id-token during-bad"), 0, "{stderr}");
    assert!(lines[0].ends_with("alpha: 3 events, 3 delivered, 0 skipped, 0 dropped, 0 traps; beta: 1 events, 1 delivered, 0 skipped, 0 dropped, 0 traps"), "{lines:?}");
}
