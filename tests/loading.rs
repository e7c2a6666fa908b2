//! Loading: bad files, foreign imports and ungranted WASI are load errors that name the
//! problem; WASI, when granted, is deny-by-default.

use tokenwatch::{Config, Host, HostError, ListenerConfig, Outcome};
use tokenwatch_tests::*;

fn load_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.wasm");
    std::fs::write(&path, bytes).unwrap();
    load_error_of(ListenerConfig::new(&path))
}

fn load_error_of(l: ListenerConfig) -> String {
    let config = Config { listeners: vec![l], ..Config::default() };
    match Host::builder(config).build() {
        Err(HostError::Load(e)) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other}"),
        Ok(_) => panic!("expected a load error, the host built"),
    }
}

#[test]
fn garbage_empty_and_core_modules_are_refused_with_a_reason() {
    let e = load_error(b"this is not wasm at all");
    assert!(e.contains("bad") && e.contains("not a WebAssembly file"), "{e}");
    let e = load_error(b"");
    assert!(e.contains("not a WebAssembly file"), "{e}");
    let e = load_error(b"\0asm\x01\0\0\0");
    assert!(e.contains("core WebAssembly module, not a component"), "{e}");
}

#[test]
fn a_truncated_component_is_refused() {
    let bytes = std::fs::read(guest("sign-in-audit")).unwrap();
    let e = load_error(&bytes[..bytes.len() / 2]);
    assert!(e.contains("not a valid component"), "{e}");
}

#[test]
fn a_missing_file_is_named() {
    let e = load_error_of(ListenerConfig::new("/nonexistent/listener.wasm"));
    assert!(e.contains("/nonexistent/listener.wasm") && e.contains("cannot read"), "{e}");
}

#[test]
fn an_import_the_host_does_not_provide_is_named() {
    let e = load_error_of(ListenerConfig::new(guest("unknown-import")));
    assert!(e.contains("evil:net/socket@1.0.0") && e.contains("not provided"), "{e}");
}

#[test]
fn a_wasi_import_without_the_grant_is_named() {
    let e = load_error_of(ListenerConfig::new(guest("wasi-import")));
    assert!(e.contains("wasi:cli/environment@0.2.0") && e.contains("not granted"), "{e}");
    let e = load_error_of(ListenerConfig::new(guest("wasi-env")));
    assert!(e.contains("wasi:") && e.contains("not granted"), "{e}");
}

#[test]
fn granted_wasi_sees_no_environment_and_no_files() {
    let mut l = listener("env", "wasi-env");
    l.wasi = true;
    let (host, rec) = host(vec![l]);
    let lines = rec.of("env").join("\n");
    assert!(lines.contains("env=0"), "{lines}");
    assert!(lines.contains("fs=denied"), "{lines}");
    let d = host.dispatch(&id_token("alice"));
    assert!(matches!(d[0].outcome, Outcome::Ok | Outcome::Skipped), "{d:?}");
}
