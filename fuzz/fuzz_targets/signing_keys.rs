//! Any text as the [signing] key file (JWK set or PEM), with each kid and alg choice: a key that signs verifiably, or a KeyError.
//! The invariants are in tests/fuzz_checks.rs (shared with tests/fuzz_props.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwatch_tests::fuzz_checks::signing_keys(data));
