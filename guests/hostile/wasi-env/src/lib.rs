//! Built for wasm32-wasip2, so it imports WASI. Property `mode` picks what it does:
//! - `report` (default): logs what the host's WASI lets it see (`env=N`, `fs=allowed|denied`);
//! - `sleep`: sleeps `sleep_ms` (default 2000) with `std::thread::sleep` (a `pollable.block`)
//!   in the call named by `sleep_in` (`init`, `handler` or `shutdown`; default `handler`);
//! - `poll`: the same wait through `wasi:io/poll.poll`;
//! - `random`: asks for `random_bytes` (default 64 MiB) of random in each handler.
use std::time::Duration;
use tokenwatch_guest::{
    log, AccessTokenEvent, AccessTokenListener, Declaration, EventContext, IdTokenEvent, IdTokenListener, Listener,
    Properties,
};

#[derive(Default)]
struct WasiEnv {
    mode: String,
    sleep_in: String,
    sleep_ms: u64,
    random_bytes: u64,
}

impl WasiEnv {
    fn wait_if(&self, call: &str) {
        if self.sleep_in != call {
            return;
        }
        match self.mode.as_str() {
            "sleep" => std::thread::sleep(Duration::from_millis(self.sleep_ms)),
            "poll" => {
                let pollable = wasip2::clocks::monotonic_clock::subscribe_duration(self.sleep_ms * 1_000_000);
                wasip2::io::poll::poll(&[&pollable]);
            }
            _ => return,
        }
        log::info(&format!("woke up in {call}"));
    }

    fn on_event(&self) {
        self.wait_if("handler");
        if self.mode == "random" {
            let bytes = wasip2::random::random::get_random_bytes(self.random_bytes);
            log::info(&format!("random {}", bytes.len()));
        }
    }
}

impl Listener for WasiEnv {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        self.mode = properties.get("mode").unwrap_or("report").to_owned();
        self.sleep_in = properties.get("sleep_in").unwrap_or("handler").to_owned();
        let number = |key: &str, default: u64| match properties.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{key} {v:?} is not a number")),
        };
        self.sleep_ms = number("sleep_ms", 2000)?;
        self.random_bytes = number("random_bytes", 64 << 20)?;
        if self.mode == "report" {
            log::info(&format!("env={}", std::env::vars_os().count()));
            let fs = match std::fs::read("/etc/passwd") {
                Ok(_) => "allowed",
                Err(_) => "denied",
            };
            log::info(&format!("fs={fs}"));
        }
        self.wait_if("init");
        Ok(())
    }

    fn declare(&self) -> Declaration {
        Declaration::no_claims().properties(&["mode", "sleep_in", "sleep_ms", "random_bytes"])
    }

    fn shutdown(&mut self) {
        self.wait_if("shutdown");
    }
}

impl IdTokenListener for WasiEnv {
    fn id_token_issued(&mut self, _: &IdTokenEvent, _: &EventContext) {
        self.on_event();
    }
}

impl AccessTokenListener for WasiEnv {
    fn access_token_issued(&mut self, _: &AccessTokenEvent, _: &EventContext) {
        self.on_event();
    }
}

tokenwatch_guest::export_listener!(WasiEnv);
