//! Shared helpers for the integration suite: bundled guest paths, a log sink that records,
//! event builders.

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
