//! Shared helpers for the integration suite: bundled guest paths, a log sink that records,
//! event builders.

/// The invariants of the fuzz targets, shared with their property tests.
pub mod fuzz_checks;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokenwatch::{Config, Host, ListenerConfig, LogLevel, LogSink, TokenEvent};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A guest built by `make guests` (`guests/dist/<name>.wasm`).
pub fn guest(name: &str) -> PathBuf {
    let path = root().join("guests/dist").join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `make guests` first",
        path.display()
    );
    path
}

/// A listener config for a bundled guest, named `name`.
pub fn listener(name: &str, guest_name: &str) -> ListenerConfig {
    let mut l = ListenerConfig::new(guest(guest_name));
    l.name = Some(name.to_owned());
    l
}

/// The `probe` guest in one of its modes.
pub fn probe(name: &str, mode: &str) -> ListenerConfig {
    let mut l = listener(name, "probe");
    l.properties.insert("mode".into(), mode.into());
    l
}

/// A guest as built against contract 0.1 (`guests/dist/v0.1/<name>.wasm`, built from the
/// repository's history by `scripts/build-v0.1-guests.sh`), named `name`.
pub fn listener_v0_1(name: &str, guest_name: &str) -> ListenerConfig {
    let mut l = listener(name, &format!("v0.1/{guest_name}"));
    l.name = Some(name.to_owned());
    l
}

/// The 0.1 build of `probe` in one of its modes.
pub fn probe_v0_1(name: &str, mode: &str) -> ListenerConfig {
    let mut l = listener_v0_1(name, "probe");
    l.properties.insert("mode".into(), mode.into());
    l
}

/// A `tracing` writer that keeps what is written, for tests that read the host's log.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records every guest log line as `listener|level|message`.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn locked(&self) -> MutexGuard<'_, Vec<String>> {
        // A panicking test thread must not hide the lines from the others.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn new() -> Arc<Self> {
        Arc::new(Recorder(Mutex::new(Vec::new())))
    }

    /// All lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.locked().clone()
    }

    /// The messages one listener logged.
    pub fn of(&self, listener: &str) -> Vec<String> {
        let prefix = format!("{listener}|");
        self.locked()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|l| l.split_once('|').map_or(l, |(_, m)| m).to_owned())
            .collect()
    }

    pub fn clear(&self) {
        self.locked().clear();
    }
}

impl LogSink for Recorder {
    fn log(&self, listener: &str, level: LogLevel, message: &str) {
        self.locked()
            .push(format!("{listener}|{}|{message}", level.as_str()));
    }
}

/// A host over `listeners`, logging into a recorder.
pub fn host(listeners: Vec<ListenerConfig>) -> (Host, Arc<Recorder>) {
    host_with(Config {
        listeners,
        ..Config::default()
    })
}

pub fn host_with(config: Config) -> (Host, Arc<Recorder>) {
    let rec = Recorder::new();
    let host = Host::builder(config)
        .log_sink(rec.clone())
        .build()
        .expect("host builds");
    (host, rec)
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().expect("an object").clone()
}

/// An ID token event for `sub`, with realistic claims.
pub fn id_token(sub: &str) -> Arc<TokenEvent> {
    Arc::new(
        TokenEvent::id_token(object(serde_json::json!({
            "iss": "https://c2id.example.com",
            "sub": sub,
            "aud": "client-123",
            "iat": 1_700_000_000,
            "exp": 1_700_000_600,
            "auth_time": 1_699_999_990,
            "acr": "urn:c2id:acr:mfa",
            "amr": ["pwd", "otp"],
            "nonce": "n-0S6_WzA2Mj",
        })))
        .with_issuer("https://c2id.example.com"),
    )
}

/// An access token event for `sub` issued to `client` with `scope`.
pub fn access_token(sub: &str, client: &str, scope: &str) -> Arc<TokenEvent> {
    Arc::new(TokenEvent::access_token(object(serde_json::json!({
        "iss": "https://c2id.example.com",
        "sub": sub,
        "aud": "https://api.example.com",
        "client_id": client,
        "scope": scope,
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "jti": format!("at-{sub}"),
    }))))
}

/// A hand-written ID-token listener component (WAT) for the sandbox cases: one core module
/// with one memory, `init` → ok, `is-enabled` → true, and `id-token-issued` running
/// `handler` (core code with the module's memory) before it drops its borrowed handles.
/// Fields are spliced into the text, so a case can add core modules, imports or a
/// different signature; `component()` turns it into component bytes (the `wat` crate).
#[derive(Clone)]
pub struct WatListener {
    /// The main module's memory declaration.
    pub memory: String,
    /// Core instructions of the handler (may use `$grow2` etc. declared in `imports`).
    pub handler: String,
    /// Extra imports of the main core module (`(import "m2" "grow" (func $grow2 ...))`).
    pub imports: String,
    /// Component items before the main instance (extra core modules and instances).
    pub before: String,
    /// Extra `(with ...)` clauses for the main instance.
    pub with: String,
    /// The component-level result type of `init`, and its core body (returning the address
    /// of the result: 0 holds zeroes, `ok`).
    pub init_result: String,
    pub init: String,
    /// The component-level parameters of `id-token-issued`, in the lift and in the shim
    /// (`{claims}` and `{context}` stand for the resource type names).
    pub handler_params: String,
    /// The core parameters of `id-token-issued` and the local holding the context handle.
    pub handler_core_params: String,
    pub context_local: u32,
}

impl Default for WatListener {
    fn default() -> Self {
        WatListener {
            memory: "(memory (export \"memory\") 1)".into(),
            handler: String::new(),
            imports: String::new(),
            before: String::new(),
            with: String::new(),
            init_result: "(result (result (error string)))".into(),
            init: "(i32.const 0)".into(),
            handler_params: "(param \"claims\" (borrow {claims})) (param \"local-subject\" (option string)) (param \"context\" (borrow {context}))".into(),
            handler_core_params: "(param i32 i32 i32 i32 i32)".into(),
            context_local: 4,
        }
    }
}

impl WatListener {
    /// A listener whose handler runs `handler`.
    pub fn with_handler(handler: &str) -> Self {
        WatListener { handler: handler.into(), ..Default::default() }
    }

    pub fn text(&self) -> String {
        let params = |claims: &str, context: &str| {
            self.handler_params.replace("{claims}", claims).replace("{context}", context)
        };
        format!(
            r#"(component
  (import "tokenwatch:listener/token@0.1.0" (instance $token
    (export "claims" (type (sub resource)))
    (export "event-context" (type (sub resource)))
  ))
  (alias export $token "claims" (type $claims))
  (alias export $token "event-context" (type $context))
  (core func $drop-claims (canon resource.drop $claims))
  (core func $drop-context (canon resource.drop $context))
  {before}
  (core module $m
    (import "token" "drop-claims" (func $drop-claims (param i32)))
    (import "token" "drop-context" (func $drop-context (param i32)))
    {imports}
    {memory}
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p))
    (func (export "init") (param i32 i32) (result i32) {init})
    (func (export "is-enabled") (result i32) (i32.const 1))
    (func (export "shutdown"))
    (func (export "id-token-issued") {core_params}
      {handler}
      (call $drop-claims (local.get 0))
      (call $drop-context (local.get {context_local})))
  )
  (core instance $token-core
    (export "drop-claims" (func $drop-claims))
    (export "drop-context" (func $drop-context)))
  (core instance $i (instantiate $m (with "token" (instance $token-core)) {with}))
  (func $init (param "properties" (list (tuple string string))) {init_result}
    (canon lift (core func $i "init") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $is-enabled (result bool) (canon lift (core func $i "is-enabled")))
  (func $shutdown (canon lift (core func $i "shutdown")))
  (instance $lifecycle
    (export "init" (func $init))
    (export "is-enabled" (func $is-enabled))
    (export "shutdown" (func $shutdown)))
  (export "tokenwatch:listener/lifecycle@0.1.0" (instance $lifecycle))
  (func $id-token-issued {lift_params}
    (canon lift (core func $i "id-token-issued") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (component $shim
    (import "import-type-claims" (type $c (sub resource)))
    (import "import-type-event-context" (type $e (sub resource)))
    (import "import-func-id-token-issued" (func $f {shim_import_params}))
    (export $c2 "claims" (type $c))
    (export $e2 "event-context" (type $e))
    (export "id-token-issued" (func $f) (func {shim_export_params})))
  (instance $id-token-listener (instantiate $shim
    (with "import-type-claims" (type $claims))
    (with "import-type-event-context" (type $context))
    (with "import-func-id-token-issued" (func $id-token-issued))))
  (export "tokenwatch:listener/id-token-listener@0.1.0" (instance $id-token-listener))
)"#,
            before = self.before,
            imports = self.imports,
            memory = self.memory,
            core_params = self.handler_core_params,
            handler = self.handler,
            context_local = self.context_local,
            with = self.with,
            init_result = self.init_result,
            init = self.init,
            lift_params = params("$claims", "$context"),
            shim_import_params = params("$c", "$e"),
            shim_export_params = params("$c2", "$e2"),
        )
    }

    /// The component's bytes.
    pub fn component(&self) -> Vec<u8> {
        wat::parse_str(self.text()).unwrap_or_else(|e| panic!("bad WAT: {e}\n{}", self.text()))
    }

    /// Write the component to a file in `dir`, as `<name>.wasm`, and a listener config for it.
    pub fn listener(&self, dir: &std::path::Path, name: &str) -> ListenerConfig {
        let path = dir.join(format!("{name}.wasm"));
        std::fs::write(&path, self.component()).expect("write the component");
        ListenerConfig::new(path)
    }
}

/// The error `Host::build` fails with for `listeners`, as text (a panic if it builds).
pub fn build_error(listeners: Vec<ListenerConfig>) -> String {
    match Host::builder(Config { listeners, ..Config::default() }).build() {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected the host to refuse the listeners"),
    }
}

/// Write `bytes` elsewhere and rename them into `to` (the atomic way to deploy a module).
pub fn deploy(bytes: &[u8], to: &std::path::Path) {
    let staging = to.with_extension("part");
    std::fs::write(&staging, bytes).unwrap();
    std::fs::rename(staging, to).unwrap();
}

/// Another build of `component`: the same code with a custom section naming `build`
/// appended, so its bytes (and SHA-256) differ and a reload swaps it in.
pub fn rebuilt(component: &[u8], build: &str) -> Vec<u8> {
    let name = b"tokenwatch-test-build";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(build.as_bytes());
    let mut bytes = component.to_vec();
    bytes.push(0); // a custom section, its size in LEB128, its name and contents
    let mut size = section.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        bytes.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    bytes.extend(section);
    bytes
}

/// The events of an NDJSON file (malformed lines left out, as replay does).
pub fn events_of(path: &std::path::Path) -> Vec<Arc<TokenEvent>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| TokenEvent::from_json_line(l).ok())
        .map(Arc::new)
        .collect()
}
