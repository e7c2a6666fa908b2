//! Any text as the config file (and its first line as --property, --wasi, --sink): a configuration or a ConfigError.
//! The invariants are in tests/fuzz_checks.rs (shared with tests/fuzz_props.rs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwatch_tests::fuzz_checks::config_toml(data));
