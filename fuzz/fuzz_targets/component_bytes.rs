//! Any bytes (seeded with real components) as a listener's file, through a host build with that listener: a host or a load error naming it.
//! The invariants are in tests/fuzz_checks.rs (shared with tests/fuzz_props.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwatch_tests::fuzz_checks::component_bytes(data));
