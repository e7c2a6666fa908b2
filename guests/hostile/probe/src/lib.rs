//! Sandbox conformance probe. Property `mode` picks the behaviour (default `record`);
//! every mode misbehaves in the event handlers of both token kinds unless noted.
//!
//! Its declaration comes from properties: `declare` (comma-separated claim names; absent:
//! all claims) and `declare_properties` (comma-separated keys; absent: any key). It always
//! declares the client metadata.
use std::hint::black_box;
use tokenwatch_guest::{
    log, publish, signer, AccessTokenEvent, AccessTokenListener, Claims, Declaration,
    EventContext, IdTokenEvent, IdTokenListener, Listener, Properties,
};

#[derive(Default, Clone, Copy, PartialEq, Debug)]
enum Mode {
    #[default]
    Record,
    Disabled,
    Loop,
    MemoryBomb,
    StackOverflow,
    Panic,
    InitFail,
    ClaimsDump,
    LogFlood,
    Sign,
    Publish,
    PanicEvery2,
    Noop,
    HostCalls,
    MetricsFlood,
    LogForge,
    InitErrorHuge,
    SignHugeAudience,
    SignHugeContent,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "record" => Mode::Record,
            "disabled" => Mode::Disabled,
            "loop" => Mode::Loop,
            "memory-bomb" => Mode::MemoryBomb,
            "stack-overflow" => Mode::StackOverflow,
            "panic" => Mode::Panic,
            "init-fail" => Mode::InitFail,
            "claims-dump" => Mode::ClaimsDump,
            "log-flood" => Mode::LogFlood,
            "sign" => Mode::Sign,
            "publish" => Mode::Publish,
            "panic-every-2" => Mode::PanicEvery2,
            "noop" => Mode::Noop,
            "host-calls" => Mode::HostCalls,
            "metrics-flood" => Mode::MetricsFlood,
            "log-forge" => Mode::LogForge,
            "init-error-huge" => Mode::InitErrorHuge,
            "sign-huge-audience" => Mode::SignHugeAudience,
            "sign-huge-content" => Mode::SignHugeContent,
            _ => return None,
        })
    }
}

#[derive(Default)]
struct Probe {
    mode: Mode,
    // Events seen since this instance's init (a trap means a fresh instance and count).
    events: u64,
    // Mode `host-calls`: which import (or SDK accessor) to call (property `import`) and how
    // often per event (`times`, default 10), for `tokenwatch bench`'s price of a host call.
    import: String,
    times: u32,
    // Mode `claims-dump`: one more claim to read with `get` (property `also_get`).
    also_get: Option<String>,
    declaration: Declaration,
}

/// The items of a comma-separated list, trimmed, empty ones left out.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Listener for Probe {
    fn init(&mut self, properties: &Properties) -> Result<(), String> {
        log::info("init");
        let mode = properties.get("mode").unwrap_or("record");
        self.mode = Mode::parse(mode).ok_or_else(|| format!("probe: unknown mode {mode:?}"))?;
        self.import = properties.get("import").unwrap_or("claims.issued-at").to_owned();
        self.times = match properties.get("times") {
            None => 10,
            Some(t) => t.parse().map_err(|_| format!("probe: times {t:?} is not a number"))?,
        };
        self.also_get = properties.get("also_get").map(str::to_owned);
        let declaration = match properties.get("declare") {
            None => Declaration::all_claims(),
            Some(names) => Declaration::claims(list(names)),
        };
        self.declaration = match properties.get("declare_properties") {
            None => declaration,
            Some(keys) => declaration.properties(list(keys)),
        }
        .client_metadata();
        if self.mode == Mode::InitFail {
            return Err("probe refused to start: mode=init-fail".into());
        }
        if self.mode == Mode::InitErrorHuge {
            return Err(huge_init_error());
        }
        Ok(())
    }

    fn declare(&self) -> Declaration {
        self.declaration.clone()
    }

    fn is_enabled(&self) -> bool {
        self.mode != Mode::Disabled
    }

    fn shutdown(&mut self) {
        log::info("shutdown");
    }
}

impl IdTokenListener for Probe {
    fn id_token_issued(&mut self, event: &IdTokenEvent, ctx: &EventContext) {
        self.on_event("id-token", event.claims(), ctx);
    }
}

impl AccessTokenListener for Probe {
    fn access_token_issued(&mut self, event: &AccessTokenEvent, ctx: &EventContext) {
        self.on_event("access-token", event.claims(), ctx);
    }
}

impl Probe {
    fn on_event(&mut self, kind: &str, claims: &Claims, ctx: &EventContext) {
        self.events += 1;
        match self.mode {
            Mode::Record | Mode::Disabled | Mode::InitFail | Mode::InitErrorHuge => {
                let sub = claims.subject().unwrap_or_default();
                // Subjects that ask for a trap, to test what one costs (a batch's neighbours).
                if sub.starts_with("panic") {
                    panic!("probe panic at {sub}");
                }
                if sub.starts_with("spin") {
                    spin();
                }
                log::info(&format!("{kind} {sub}"));
            }
            Mode::Loop => spin(),
            Mode::MemoryBomb => {
                grow_until_refused();
                log::info("survived");
            }
            Mode::StackOverflow => {
                let depth = recurse(black_box(0));
                log::info(&format!("unreachable depth={depth}"));
            }
            Mode::Panic => panic!("probe panic"),
            Mode::ClaimsDump => {
                log::info(&format!("claims {}", claims.to_json()));
                for name in claims.names() {
                    let value = claims.get(&name).unwrap_or("<none>");
                    log::info(&format!("claim {name}={value}"));
                }
                if let Some(name) = &self.also_get {
                    let value = claims.get(name).unwrap_or("<none>");
                    log::info(&format!("also {name}={value}"));
                }
                log::info(&format!(
                    "context issuer={} client_id={} metadata={}",
                    ctx.issuer(),
                    ctx.client_id(),
                    ctx.client_metadata().unwrap_or("<none>")
                ));
            }
            Mode::LogFlood => {
                let line = "x".repeat(10_000);
                for _ in 0..1000 {
                    log::info(&line);
                }
            }
            Mode::Sign => {
                match signer::sign_set(r#"{"events":{"urn:example:test":{}}}"#, None) {
                    Ok(jws) => log::info(&format!("signed {jws}")),
                    Err(e) => log::info(&format!("sign-error {e:?}")),
                }
            }
            Mode::Publish => match publish::publish("audit", "hello") {
                Ok(()) => log::info("published"),
                Err(e) => log::info(&format!("publish-error {e:?}")),
            },
            Mode::PanicEvery2 => {
                if self.events.is_multiple_of(2) {
                    panic!("probe panic on event {}", self.events);
                }
                log::info(&format!("ok {}", self.events));
            }
            // Does nothing: `tokenwatch bench` measures the fixed cost of a sandboxed call.
            Mode::Noop => {}
            // 2,000 label sets of one counter: the host keeps 1,000 and refuses the rest.
            Mode::MetricsFlood => {
                let (mut ok, mut refused, mut first) = (0, 0, None);
                for i in 0..2_000 {
                    match tokenwatch_guest::metrics::counter_add("flood_total", &[("i", &i.to_string())], 1) {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            refused += 1;
                            first.get_or_insert(format!("{e:?}"));
                        }
                    }
                }
                log::info(&format!("metrics ok={ok} refused={refused} first={}", first.unwrap_or_default()));
            }
            Mode::HostCalls => self.call_imports(claims, ctx),
            Mode::LogForge => {
                let sub = claims.subject().unwrap_or_default();
                // A fake outcome row for another listener on a line of its own, a carriage
                // return that would overwrite the real row, then erase-line and red.
                log::info(&format!(
                    "forging {sub}\n#0 id_token     healthy          ok          fuel=1 1µs"
                ));
                log::warn("\r#1 access_token healthy          ok          fuel=1 1µs\x1b[2K\x1b[31m");
                log::error("\x1b[2K\r\x1b[31m#0 id_token     healthy          trap        fuel=1 1µs\x1b[0m\u{202e}");
            }
            Mode::SignHugeAudience => {
                let audience = "a".repeat(8 << 20);
                let mut errors = 0;
                let mut last = "ok";
                for _ in 0..16 {
                    let result = signer::sign_set(r#"{"events":{"urn:example:test":{}}}"#, Some(&audience));
                    last = match &result {
                        Ok(_) => "ok",
                        Err(e) => {
                            errors += 1;
                            sign_error_name(e)
                        }
                    };
                }
                log::info(&format!("sign-huge-audience calls=16 errors={errors} last={last}"));
            }
            Mode::SignHugeContent => {
                let prefix = r#"{"events":{"urn:x":{"pad":""#;
                let suffix = r#""}}}"#;
                // Bulk copies (`repeat`, `push_str`): little fuel, so the call is reached.
                let mut content = String::with_capacity(prefix.len() + (8 << 20) + suffix.len());
                content.push_str(prefix);
                content.push_str(&"a".repeat(8 << 20));
                content.push_str(suffix);
                match signer::sign_set(&content, None) {
                    Ok(jws) => log::info(&format!("sign-huge-content signed len={}", jws.len())),
                    Err(e) => log::info(&format!("sign-huge-content error={}", sign_error_name(&e))),
                }
            }
        }
    }

    /// Contract 0.2 has no claims or context imports: `claims.*` and `context.*` call the
    /// SDK accessors that replaced them (reads of the event in the guest), for comparison.
    fn call_imports(&self, claims: &Claims, ctx: &EventContext) {
        if self.import == "config.get-long" {
            // A 100,000-byte key, built once: what the host reads of it each call is charged
            // in fuel.
            let key = "k".repeat(100_000);
            for _ in 0..self.times {
                drop(black_box(tokenwatch_guest::config::get(&key)));
            }
            return;
        }
        for _ in 0..self.times {
            // Opaque each time round, so that a read is not hoisted out of the loop.
            let (claims, ctx) = black_box((claims, ctx));
            match self.import.as_str() {
                "claims.issued-at" => drop(black_box(claims.issued_at())),
                "claims.subject" => drop(black_box(claims.subject())),
                "claims.get" => drop(black_box(claims.get("amr"))),
                "context.client-id" => drop(black_box(ctx.client_id())),
                "config.get" => drop(black_box(tokenwatch_guest::config::get("mode"))),
                // The bench's sink only counts bytes: the call and the copy are measured.
                "log" => log::trace("sign-in sub=user-000001 iat=1764331200 client=client-123"),
                other => panic!("probe: unknown import {other:?}"),
            }
        }
    }
}

/// Mode `init-error-huge`: 32 MiB of 'x' with a newline and a terminal colour sequence near
/// the start (where a cut-down copy still shows them). Built with bulk copies (`repeat`),
/// so it costs little fuel and holds only the 32 MiB.
fn huge_init_error() -> String {
    const LEN: usize = 32 << 20;
    let forge = "\n\x1b[31m";
    let mut message = "x".repeat(LEN);
    message.replace_range(64..64 + forge.len(), forge);
    message
}

/// The variant's name only: the payload of `refused`/`audience-not-allowed` can echo
/// megabytes of what was sent.
fn sign_error_name(e: &signer::SignError) -> &'static str {
    match e {
        signer::SignError::NoKeyConfigured => "no-key-configured",
        signer::SignError::Refused(_) => "refused",
        signer::SignError::QuotaExceeded => "quota-exceeded",
        signer::SignError::TooLarge(_) => "too-large",
        signer::SignError::AudienceNotAllowed(_) => "audience-not-allowed",
    }
}

// black_box keeps the optimizer from proving the loop side-effect free.
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

// Grows linear memory 1 MiB (16 pages) at a time until the host says no.
#[cfg(target_arch = "wasm32")]
fn grow_until_refused() {
    while core::arch::wasm32::memory_grow(0, 16) != usize::MAX {}
}

#[cfg(not(target_arch = "wasm32"))]
fn grow_until_refused() {}

/// Deep recursion whose frames live on the Wasm stack (no arrays in linear memory), so the
/// engine's stack limit is what stops it; `black_box` on the result defeats tail-call and
/// accumulator optimisations.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    if black_box(n) == u64::MAX {
        return 0;
    }
    black_box(recurse(n + 1)).wrapping_add(n)
}

tokenwatch_guest::export_listener!(Probe);
