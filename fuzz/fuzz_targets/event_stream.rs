//! A stream of fuzzed lines with a good line spliced in, through the line reader, serve's body parser and replay: bad bytes are their line's error, the good line is accepted under its number.
//! The invariants are in tests/fuzz_checks.rs (shared with tests/fuzz_props.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwatch_tests::fuzz_checks::event_stream(data));
