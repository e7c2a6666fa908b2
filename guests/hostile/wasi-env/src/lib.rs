//! Built for wasm32-wasip2, so it imports WASI; reports what the host's WASI lets it see.
use tokenwatch_guest::{log, Listener, Properties};

#[derive(Default)]
struct WasiEnv;

impl Listener for WasiEnv {
    fn init(&mut self, _: &Properties) -> Result<(), String> {
        log::info(&format!("env={}", std::env::vars_os().count()));
        let fs = match std::fs::read("/etc/passwd") {
            Ok(_) => "allowed",
            Err(_) => "denied",
        };
        log::info(&format!("fs={fs}"));
        Ok(())
    }
}

tokenwatch_guest::export_listener!(WasiEnv);
