//! Loading a signing key must not leave key material in freed memory (security issue #7).
//!
//! This binary has its own global allocator: `std::alloc::System`, except that while the
//! current thread is armed, every block is scanned for secret markers just before it is freed,
//! and a hit is counted. A buffer that was wiped (zeroized) before being freed holds no
//! marker. Blocks allocated while armed start zeroed, so a hit is a secret written during the
//! load, not stale bytes of reused memory. `realloc` is left to `GlobalAlloc`'s default (allocate, copy, free the old block
//! through `dealloc`), so a buffer that grows is also caught leaving its old copy behind.
//!
//! Scope: this sees what Rust code in the process frees: the host's own buffers and those of
//! its Rust dependencies (serde_json, base64, pem-rfc7468, pkcs8, aws-lc-rs's Rust side).
//! aws-lc allocates with its own `OPENSSL_malloc` (C `malloc`, not Rust's global allocator),
//! so its memory is not seen here. Its `OPENSSL_free` cleanses every block before freeing it
//! (aws-lc `crypto/mem.c`), and checking that is aws-lc's business, not this test's.
//!
//! The allocator does not allocate. The markers live in fixed static arrays, the armed flag
//! is a const thread-local `Cell`, and the tests run one at a time (`SERIAL`), so a parallel
//! test (key generation on another thread) is never scanned.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::path::Path;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::json;
use tokenwatch::signing::{generate, Alg, GeneratedKey, SigningKey};

const SLOTS: usize = 16;
const MAX_MARKER: usize = 64;

static MARKER_BYTES: [[AtomicU8; MAX_MARKER]; SLOTS] = [const { [const { AtomicU8::new(0) }; MAX_MARKER] }; SLOTS];
static MARKER_LEN: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static HITS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

struct Scanning;

impl Scanning {
    /// Count every marker found in the block about to be freed. No allocation in here.
    fn scan(block: &[u8]) {
        for slot in 0..SLOTS {
            let len = MARKER_LEN[slot].load(Relaxed);
            if len == 0 || len > block.len() {
                continue;
            }
            let mut marker = [0u8; MAX_MARKER];
            for (b, a) in marker[..len].iter_mut().zip(&MARKER_BYTES[slot]) {
                *b = a.load(Relaxed);
            }
            if block.windows(len).any(|w| w == &marker[..len]) {
                HITS[slot].fetch_add(1, Relaxed);
            }
        }
    }
}

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Armed: zeroed, so a block that reuses memory freed unwiped earlier (by the test's
        // own setup, which handles the keys freely) carries no stale marker into the scan.
        if ARMED.try_with(Cell::get).unwrap_or(false) {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.try_with(Cell::get).unwrap_or(false) && layout.size() > 0 {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until the call below.
            Scanning::scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc`: GlobalAlloc's default, alloc + copy + `self.dealloc(old)`, so it is scanned.
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// One armed test at a time: the markers are global.
static SERIAL: Mutex<()> = Mutex::new(());

/// A secret to look for, and what it is (for the failure message).
struct Marker {
    what: String,
    bytes: Vec<u8>,
}

fn marker(what: impl Into<String>, bytes: &[u8]) -> Marker {
    Marker { what: what.into(), bytes: bytes[..bytes.len().min(MAX_MARKER)].to_vec() }
}

/// Markers for one generated key: the base64url text of `d` (and of `p` for RSA) as it
/// appears in the JWK, and the first 16 raw bytes of each, as they appear once decoded
/// (from the JWK or inside the PEM's DER).
fn key_markers(k: &GeneratedKey, label: &str) -> Vec<Marker> {
    let mut out = Vec::new();
    for m in ["d", "p"] {
        let Some(text) = k.private_jwk[m].as_str() else { continue };
        let raw = B64.decode(text).unwrap();
        out.push(marker(format!("{label}: `{m}` base64url text"), &text.as_bytes()[..text.len().min(48)]));
        out.push(marker(format!("{label}: `{m}` raw bytes"), &raw[..16]));
    }
    out
}

/// A full line from the middle of a PEM body: base64 text of the private key.
fn pem_marker(k: &GeneratedKey, label: &str) -> Marker {
    let lines: Vec<&str> = k.pkcs8_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    marker(format!("{label}: a line of the PEM's base64 text"), lines[lines.len() / 2].as_bytes())
}

/// Run `f` with the allocator armed for `markers`; return what was found in freed memory
/// (empty: nothing leaked) and `f`'s result.
fn armed<T>(markers: &[Marker], f: impl FnOnce() -> T) -> (Vec<String>, T) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    assert!(markers.len() <= SLOTS);
    for (slot, m) in markers.iter().enumerate() {
        for (a, b) in MARKER_BYTES[slot].iter().zip(&m.bytes) {
            a.store(*b, Relaxed);
        }
        MARKER_LEN[slot].store(m.bytes.len(), Relaxed);
        HITS[slot].store(0, Relaxed);
    }

    ARMED.with(|a| a.set(true));
    let result = f();
    ARMED.with(|a| a.set(false));

    let mut leaked = Vec::new();
    for (slot, m) in markers.iter().enumerate() {
        let hits = HITS[slot].load(Relaxed);
        if hits > 0 {
            leaked.push(format!("{} (in {hits} freed block(s))", m.what));
        }
        MARKER_LEN[slot].store(0, Relaxed);
    }
    (leaked, result)
}

/// Load `path` and drop the key: its kid, or the error.
fn load(path: &Path, kid: Option<&str>) -> Result<String, String> {
    SigningKey::load(path, kid, None).map(|k| k.kid().to_owned()).map_err(|e| e.to_string())
}

/// Write `text` to a file, then load it (and drop the key) with the allocator armed.
fn load_armed(text: &str, kid: Option<&str>, markers: &[Marker]) -> (Vec<String>, Result<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, text).unwrap();
    armed(markers, || load(&path, kid))
}

fn two_key_set(first: &GeneratedKey, second: &GeneratedKey) -> String {
    json!({"keys": [first.private_jwk, second.private_jwk]}).to_string()
}

/// A JWK set with two private keys of `alg`, the second selected by kid: no secret of
/// either key (the selected one and the other one) may be left in freed memory.
fn jwk_set_case(alg: Alg) {
    let (first, second) = (generate(alg, "first"), generate(alg, "second"));
    let mut markers = key_markers(&first, &format!("{alg} key \"first\" (not selected)"));
    markers.extend(key_markers(&second, &format!("{alg} key \"second\" (selected)")));
    let (leaked, outcome) = load_armed(&two_key_set(&first, &second), Some("second"), &markers);
    assert_eq!(outcome, Ok("second".to_owned()));
    assert!(leaked.is_empty(), "{alg} JWK set: key material left in freed memory: {leaked:#?}");
}

/// A PKCS#8 PEM file: neither its base64 text nor the decoded DER may be left behind.
fn pem_case(alg: Alg) {
    let k = generate(alg, "pem");
    let mut markers = key_markers(&k, &format!("{alg} PEM"));
    markers.retain(|m| m.what.ends_with("raw bytes")); // The JWK text is not in the file.
    markers.push(pem_marker(&k, &format!("{alg} PEM")));
    let (leaked, outcome) = load_armed(&k.pkcs8_pem, Some("pem"), &markers);
    assert_eq!(outcome, Ok("pem".to_owned()));
    assert!(leaked.is_empty(), "{alg} PKCS#8 PEM: key material left in freed memory: {leaked:#?}");
}

#[test]
fn the_detector_sees_an_unwiped_buffer_and_not_a_wiped_one() {
    // Without this, a detector that never fires would make every other test pass.
    let secret = b"0123456789abcdef-not-wiped-marker";
    let markers = [marker("a plain Vec", secret)];
    let (leaked, ()) = armed(&markers, || drop(std::hint::black_box(secret.to_vec())));
    assert_eq!(leaked, ["a plain Vec (in 1 freed block(s))"]);
    let (leaked, ()) = armed(&markers, || drop(zeroize::Zeroizing::new(std::hint::black_box(secret.to_vec()))));
    assert!(leaked.is_empty(), "{leaked:?}");
    // A Vec that grows: the default `realloc` frees the old block through `dealloc`.
    let (leaked, ()) = armed(&markers, || {
        let mut v = zeroize::Zeroizing::new(std::hint::black_box(secret.to_vec()));
        v.reserve(4096);
    });
    assert_eq!(leaked, ["a plain Vec (in 1 freed block(s))"], "growth leaves the old copy");
}

#[test]
fn rsa_jwk_set_second_key_by_kid_leaves_nothing() {
    jwk_set_case(Alg::RS256);
}

#[test]
fn ec_jwk_set_second_key_by_kid_leaves_nothing() {
    jwk_set_case(Alg::ES256);
}

#[test]
fn ed25519_jwk_set_second_key_by_kid_leaves_nothing() {
    jwk_set_case(Alg::EdDSA);
}

#[test]
fn pkcs8_pem_leaves_nothing() {
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        pem_case(alg);
    }
}

/// A pipe has no size: the loader's buffer grows (a 2-key RSA set is about 7 KB), and each
/// old buffer must be wiped, not left behind by `Vec`'s own reallocation.
#[cfg(unix)]
#[test]
fn a_key_read_from_a_pipe_leaves_nothing() {
    let (first, second) = (generate(Alg::RS256, "first"), generate(Alg::RS256, "second"));
    let mut markers = key_markers(&first, "RS256 key \"first\" (not selected)");
    markers.extend(key_markers(&second, "RS256 key \"second\" (selected)"));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("key.pipe");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo");
    let (text, path) = (two_key_set(&first, &second), fifo.clone());
    assert!(text.len() > 4 * 512, "large enough to make the buffer grow");
    let writer = std::thread::spawn(move || std::fs::write(&path, text).unwrap());
    let (leaked, outcome) = armed(&markers, || load(&fifo, Some("second")));
    writer.join().unwrap();
    assert_eq!(outcome, Ok("second".to_owned()));
    assert!(leaked.is_empty(), "JWK set from a pipe: key material left in freed memory: {leaked:#?}");
}

#[test]
fn a_set_that_fails_to_load_is_wiped_too() {
    let (a, b) = (generate(Alg::ES256, "a"), generate(Alg::EdDSA, "b"));
    let mut markers = key_markers(&a, "ES256 key \"a\"");
    markers.extend(key_markers(&b, "EdDSA key \"b\""));
    // Valid JSON, but no key has this kid: the parsed set is dropped on the error path.
    let (leaked, outcome) = load_armed(&two_key_set(&a, &b), Some("nope"), &markers);
    assert!(outcome.unwrap_err().contains("no key with kid \"nope\""));
    assert!(leaked.is_empty(), "unknown kid: key material left in freed memory: {leaked:#?}");
    // Invalid JSON at the very end, after both keys were parsed: serde_json drops the
    // partial document itself.
    let text = two_key_set(&a, &b);
    let truncated = &text[..text.len() - 2];
    let (leaked, outcome) = load_armed(truncated, None, &markers);
    assert!(outcome.unwrap_err().contains("not valid JSON"));
    assert!(leaked.is_empty(), "truncated JSON: key material left in freed memory: {leaked:#?}");
}

#[test]
fn the_markers_are_really_in_the_files() {
    // Guards the markers themselves: each one occurs in what the loader reads or decodes.
    let k = generate(Alg::ES256, "m");
    let jwk = json!({"keys": [k.private_jwk]}).to_string();
    for m in key_markers(&k, "ES256") {
        if m.what.ends_with("text") {
            assert!(jwk.as_bytes().windows(m.bytes.len()).any(|w| w == m.bytes), "{}", m.what);
        }
    }
    let der = pem::parse(&k.pkcs8_pem).unwrap();
    let d = B64.decode(k.private_jwk["d"].as_str().unwrap()).unwrap();
    assert!(der.contents().windows(16).any(|w| w == &d[..16]), "d's raw bytes are in the DER");
    let line = pem_marker(&k, "ES256");
    assert!(k.pkcs8_pem.contains(std::str::from_utf8(&line.bytes).unwrap()));
}
