//! Guest strings reach the host capped and charged: what a guest hands the host in one call
//! is capped before anything is copied or decoded (wasmtime's hostcall fuel), a guest's text
//! is capped wherever it reaches a log or a status, and the host's work on it costs fuel.

use std::sync::Arc;
use tokenwatch::signing::{generate, Alg, SigningConfig};
use tokenwatch::{Config, Health, ListenerConfig, Outcome, TrapCause};
use tokenwatch_tests::*;

/// Everything `tracing` writes on this thread while `f` runs (the host logs from the
/// dispatching thread), at `warn` and above.
fn host_log<R>(f: impl FnOnce() -> R) -> (R, String) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    (result, buffer.text())
}

/// A host with an Ed25519 SET key (`max_set_bytes` as given) and `listeners`.
fn signing_host(listeners: Vec<ListenerConfig>, max_set_bytes: Option<usize>) -> (tokenwatch::Host, Arc<Recorder>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, generate(Alg::EdDSA, "set-key").private_jwks().to_string()).unwrap();
    let mut signing = SigningConfig::new(&file, "https://c2id.example.com");
    signing.max_set_bytes = max_set_bytes;
    let (host, rec) = host_with(Config { listeners, signing: Some(signing), ..Config::default() });
    (host, rec, dir)
}

/// A probe in `mode` with budgets big enough to build its megabytes (a byte-by-byte loop).
fn generous(name: &str, mode: &str) -> ListenerConfig {
    let mut l = probe(name, mode);
    l.limits = tokenwatch::LimitsConfig { fuel: Some(5_000_000_000), deadline_ms: Some(5_000), ..Default::default() };
    l
}

fn is_transfer_refusal(o: &Outcome) -> bool {
    matches!(o, Outcome::Trap { cause: TrapCause::Host, message } if message.contains("too much data"))
}

#[test]
fn a_huge_init_error_is_refused_before_it_is_copied() {
    let ((host, rec), log) = host_log(|| host(vec![generous("loud", "init-error-huge"), probe("canary", "record")]));
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[1].outcome, Outcome::Ok);
    // `init` ran at build and on this event: each time its 32 MiB result was refused unread.
    assert!(is_transfer_refusal(&d[0].outcome), "{:?}", d[0].outcome);
    assert!(log.len() < 4096, "{} bytes of host log", log.len());
    assert!(rec.lines().iter().all(|l| l.len() < 4096));
    let status = format!("{:?}", host.status()[0]);
    assert!(status.len() < 4096, "{} bytes of status", status.len());
}

#[test]
fn an_init_error_is_capped_and_escaped_in_the_status_and_the_log() {
    // `init` returns `err` with 100 KiB of text that starts with a newline and an escape.
    let guest = WatListener {
        memory: "(memory (export \"memory\") 2)".into(),
        init: "(i32.store (i32.const 0) (i32.const 1))
               (i32.store (i32.const 4) (i32.const 4096))
               (i32.store (i32.const 8) (i32.const 102400))
               (memory.fill (i32.const 4096) (i32.const 120) (i32.const 102400))
               (i32.store8 (i32.const 4096) (i32.const 10))
               (i32.store8 (i32.const 4097) (i32.const 27))
               (i32.const 0)"
            .into(),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let ((host, _), log) = host_log(|| host(vec![guest.listener(dir.path(), "wordy"), probe("canary", "record")]));
    let Health::InitFailed(message) = &host.status()[0].health else {
        panic!("{:?}", host.status()[0]);
    };
    assert!(message.starts_with("\\n\\u{1b}xxx"), "{}", &message[..20]);
    assert!(message.ends_with("… (102400 bytes in all)") && message.len() < 4200, "{} bytes", message.len());
    assert!(!log.contains('\u{1b}') && log.len() < 8192, "{} bytes of host log", log.len());
    assert_eq!(host.dispatch(&id_token("alice"))[1].outcome, Outcome::Ok);
}

#[test]
fn a_huge_audience_is_refused_before_it_is_copied_or_logged() {
    let ((outcome, canary), log) = host_log(|| {
        let (host, _rec, _dir) = signing_host(vec![generous("aud", "sign-huge-audience"), probe("canary", "record")], None);
        let d = host.dispatch(&id_token("alice"));
        (d[0].outcome.clone(), d[1].outcome.clone())
    });
    assert_eq!(canary, Outcome::Ok);
    assert!(is_transfer_refusal(&outcome), "{outcome:?}");
    // 16 × 8 MiB audiences once wrote 25 MB of log from 3 events.
    assert!(log.len() < 4096, "{} bytes of host log", log.len());
}

#[test]
fn huge_set_content_is_refused_before_it_is_decoded() {
    let (host, _rec, _dir) = signing_host(vec![generous("content", "sign-huge-content"), probe("canary", "record")], None);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[1].outcome, Outcome::Ok);
    assert!(is_transfer_refusal(&d[0].outcome), "{:?}", d[0].outcome);
}

#[test]
fn content_over_max_set_bytes_within_the_transfer_cap_gets_too_large() {
    // A cap just under the probe's 8 MiB content: the transfer cap follows it, so the content
    // reaches the signer, which answers the typed `too-large` the guest can handle.
    let (host, rec, _dir) = signing_host(vec![generous("content", "sign-huge-content")], Some((8 << 20) - 1));
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Ok, "{d:?}");
    assert_eq!(rec.of("content"), ["init", "sign-huge-content error=too-large"]);
}

#[test]
fn log_lines_are_paid_for_in_fuel_and_lines_over_the_cap_are_not_read() {
    let (host, _) = host(vec![probe("noisy", "log-flood")]);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[0].outcome, Outcome::Ok);
    // 64 lines of 10,000 bytes were read; the other 936 were dropped unread.
    let read = 64 * 10_000;
    assert!(d[0].fuel > read, "fuel {}", d[0].fuel);
    assert!(d[0].fuel < read + 936 * 10_000, "lines over the cap were read: fuel {}", d[0].fuel);
}

#[test]
fn names_and_keys_the_host_reads_are_paid_for_in_fuel() {
    let caller = |probe: fn(&str, &str) -> tokenwatch::ListenerConfig, import: &str| {
        let mut l = probe(import, "host-calls");
        l.properties.insert("import".into(), import.into());
        l.properties.insert("times".into(), "10".into());
        l
    };
    // `config.get` in contract 0.2; `claims.get` exists only in 0.1.
    for (probe, short, long) in [(probe as fn(&str, &str) -> _, "config.get", "config.get-long"), (probe_v0_1, "claims.get", "claims.get-long")] {
        let (host, _) = host(vec![caller(probe, short), caller(probe, long)]);
        let d = host.dispatch(&id_token("alice"));
        assert!(d.iter().all(|d| d.outcome == Outcome::Ok), "{d:?}");
        // Ten reads of one 100,000-byte name (built once, about 0.1 M fuel in the guest): at
        // least a million fuel more than ten of a short one.
        assert!(d[1].fuel >= d[0].fuel + 1_000_000, "{long}: short {} long {}", d[0].fuel, d[1].fuel);
    }
}
