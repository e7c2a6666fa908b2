//! Any text as the SET content a guest passes to sign-set, with each audience choice: a SET that keeps the RFC 8417 policy, or a refusal.
//! The invariants are in tests/fuzz_checks.rs (shared with tests/fuzz_props.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwatch_tests::fuzz_checks::set_content(data));
