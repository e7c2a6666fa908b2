//! The conformance cases: one entry per case, each naming its guest (`cases/<file>.wat`, or
//! bytes made here), what it attacks, what is expected, the events sent, the settings given
//! to the hostile listener, and the check. Adding a case: a `.wat` file and an entry.

use super::{Observation, CASE_FILES, SINK_MAX_MESSAGE_BYTES};
use crate::config::ListenerConfig;
use crate::imports::log::{LogLevel, LogSink, MAX_LINES_PER_CALL, MAX_MESSAGE_BYTES};
use crate::runtime::limits::{LimitsConfig, TrapCause};
use crate::runtime::listener::Outcome;
use crate::runtime::status::Health;
use std::time::Duration;

/// The hostile listener of a case.
pub(crate) enum Guest {
    /// `cases/<name>.wat`: a whole component or core module, or a fragment spliced into the
    /// skeleton.
    Wat(&'static str),
    /// Bytes made by a function (malformed, truncated, oversized, generated).
    Bytes(fn() -> Vec<u8>),
}

impl Guest {
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Guest::Wat(name) => {
                let text = wat_file(name)?;
                super::component(text).map_err(|e| format!("cases/{name}.wat does not build: {e}"))
            }
            Guest::Bytes(make) => Ok(make()),
        }
    }
}

fn wat_file(name: &str) -> Result<&'static str, String> {
    CASE_FILES
        .get_file(format!("{name}.wat"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| format!("cases/{name}.wat is missing"))
}

/// What must hold of the hostile listener (the canary is checked for every case).
pub(crate) enum Check {
    /// Every event ends in a trap of this cause (or, once the operator's trap limit is
    /// reached, in quarantine), and the traps are counted.
    Trap(TrapCause),
    /// Refused at load, at build and by a running host, with a message holding every part.
    Refused(&'static [&'static str]),
    /// Anything else.
    With(fn(&Observation) -> Result<(), String>),
}

impl Check {
    pub fn holds(&self, obs: &Observation) -> Result<(), String> {
        match self {
            Check::Trap(cause) => traps(obs, &[*cause]),
            Check::Refused(parts) => refused(obs, parts),
            Check::With(check) => check(obs),
        }
    }
}

/// One case of the suite.
pub(crate) struct Case {
    pub name: &'static str,
    pub attacks: &'static str,
    pub expected: &'static str,
    pub guest: Guest,
    /// Events sent (the runner's samples, both kinds, in turn).
    pub events: usize,
    /// Settings of the hostile listener's `[[listener]]` table over the defaults.
    pub tweak: fn(&mut ListenerConfig),
    pub check: Check,
    /// The case fails when it has not ended after this long.
    pub bound: Duration,
    /// The case fails when resident memory grew by more than this, in MiB.
    pub rss_mib: u64,
    /// After the events, replace the module with a working one (`Host::load_listener`) and
    /// send two more events.
    pub reload_fixed: bool,
}

impl Case {
    const DEFAULT: Case = Case {
        name: "",
        attacks: "",
        expected: "",
        guest: Guest::Wat(""),
        events: 3,
        tweak: keep,
        check: Check::With(|_| Ok(())),
        bound: Duration::from_secs(20),
        rss_mib: 256,
        reload_fixed: false,
    };
}

fn keep(_: &mut ListenerConfig) {}

fn limits(l: &mut ListenerConfig, limits: LimitsConfig) {
    l.limits = limits;
}

/// Every outcome a trap of one of `causes` (or quarantined after one), each counted.
fn traps(obs: &Observation, causes: &[TrapCause]) -> Result<(), String> {
    if obs.outcomes.is_empty() {
        return Err("the hostile listener got no events".to_owned());
    }
    let mut trapped = 0;
    for (i, o) in obs.outcomes.iter().enumerate() {
        match o {
            Outcome::Trap { cause, .. } if causes.contains(cause) => trapped += 1,
            Outcome::Quarantined if trapped > 0 => {}
            Outcome::Trap { cause, message } => return Err(format!("event {} trapped {cause}: {}", i + 1, crate::text::for_humans(message, 200))),
            o => return Err(format!("event {} ended {}", i + 1, super::outcome_word(o))),
        }
    }
    let status = obs.status()?;
    let counted: u64 = causes.iter().map(|c| status.counters.traps_of(*c)).sum();
    if counted != trapped {
        return Err(format!("{trapped} traps, {counted} counted"));
    }
    Ok(())
}

fn refused(obs: &Observation, parts: &[&str]) -> Result<(), String> {
    let Some(error) = &obs.load_error else {
        return Err("the host loaded it".to_owned());
    };
    if let Some(part) = parts.iter().find(|p| !error.contains(*p)) {
        return Err(format!("the refusal does not say {part:?}"));
    }
    match &obs.reload_error {
        Some(e) if parts.iter().all(|p| e.contains(p)) => Ok(()),
        Some(e) => Err(format!("a running host refused it otherwise: {e}")),
        None => Err("a running host loaded it".to_owned()),
    }
}

/// Every event delivered.
fn all_ok(obs: &Observation) -> Result<(), String> {
    match obs.outcomes.iter().enumerate().find(|(_, o)| **o != Outcome::Ok) {
        Some((i, o)) => Err(format!("event {} ended {}", i + 1, super::outcome_word(o))),
        None if obs.outcomes.is_empty() => Err("the hostile listener got no events".to_owned()),
        None => Ok(()),
    }
}

/// A trap in `init` (at start, and again at each event's fresh instance), stopped by fuel or
/// the deadline, and the listener left `init-trapped`.
fn init_stopped(obs: &Observation, causes: &[TrapCause]) -> Result<(), String> {
    let status = obs.status()?;
    if status.counters.init_traps == 0 {
        return Err("no trap in init counted".to_owned());
    }
    if !matches!(status.health, Health::InitTrapped(_)) {
        return Err("not init-trapped".to_owned());
    }
    traps(obs, causes)
}

const RUNAWAY: [TrapCause; 2] = [TrapCause::Fuel, TrapCause::Deadline];

/// Each event's answer as the guest logged it (`$report`): "0" ok, "1" and the error case.
fn answers(obs: &Observation, expected: &str) -> Result<(), String> {
    all_ok(obs)?;
    let answers: Vec<&str> = obs.messages().collect();
    if answers.len() != obs.outcomes.len() || answers.iter().any(|a| *a != expected) {
        return Err(format!("answers {answers:?}, expected {expected:?} for each event"));
    }
    Ok(())
}

/// A granted WASI guest logged "0" at each event: it saw none of `what`.
fn sees_none(obs: &Observation, what: &str) -> Result<(), String> {
    all_ok(obs)?;
    match obs.messages().all(|m| m == "0") && !obs.logs.is_empty() {
        true => Ok(()),
        false => Err(format!("it saw {:?} {what}", obs.messages().collect::<Vec<_>>())),
    }
}

/// sign-set answers `refused` every time and nothing is signed.
fn set_refused(obs: &Observation) -> Result<(), String> {
    answers(obs, "11")?;
    match obs.status()?.counters.sets_signed {
        0 => Ok(()),
        n => Err(format!("{n} SETs signed")),
    }
}

/// What `TracingSink` (the default log sink) writes for `message`: one line each, escaped.
fn as_logged(message: &str) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    tracing::subscriber::with_default(subscriber, || crate::imports::log::TracingSink.log("hostile", LogLevel::Info, message));
    let bytes = buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Text an operator reads holds no control character, bidi override or line separator.
fn plain(what: &str, text: &str) -> Result<(), String> {
    let bad = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}');
    match text.chars().find(|c| bad(*c)) {
        Some(c) => Err(format!("{what} holds {c:?} as it is")),
        None => Ok(()),
    }
}

/// The truncated canary: the first half of a real component.
fn truncated() -> Vec<u8> {
    let bytes = super::component(wat_file("canary").unwrap_or_default()).unwrap_or_default();
    bytes[..bytes.len() / 2].to_vec()
}

/// A working component carrying a 2 MiB custom section.
fn oversized_module() -> Vec<u8> {
    let mut bytes = super::component(wat_file("canary").unwrap_or_default()).unwrap_or_default();
    let name = b"padding";
    let size = 2usize << 20;
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.resize(section.len() + size, 0);
    bytes.push(0);
    let mut n = section.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        bytes.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
    bytes.extend_from_slice(&section);
    bytes
}

/// A compile bomb: 500 functions, each 200 blocks deep with 1,000 locals (about 200 KB that
/// cost cranelift far more than their size; 2,000 of them took 7 s and 350 MiB here).
fn compile_bomb() -> Vec<u8> {
    let mut items = String::from(";;@ items\n");
    for i in 0..500 {
        items.push_str(&format!("(func $f{i} (param i32) (result i32) (local {})\n", "i64 ".repeat(1_000)));
        items.push_str(&"(block ".repeat(200));
        items.push_str("(local.set 1 (i64.extend_i32_u (local.get 0)))");
        items.push_str(&")".repeat(200));
        items.push_str("(i32.wrap_i64 (local.get 1)))\n");
    }
    super::component(&items).unwrap_or_default()
}

const fn l(fuel: Option<u64>, deadline_ms: Option<u64>, memory_mb: Option<u64>) -> LimitsConfig {
    LimitsConfig { fuel, deadline_ms, memory_mb, table_elements: None, module_mb: None, max_consecutive_traps: None }
}

pub(crate) static CASES: &[Case] = &[
    // CPU
    Case {
        name: "cpu-loop-fuel",
        attacks: "CPU: an infinite loop in a handler",
        expected: "trap fuel (5 M fuel, 10 s deadline)",
        guest: Guest::Wat("loop"),
        tweak: |c| limits(c, l(Some(5_000_000), Some(10_000), None)),
        check: Check::Trap(TrapCause::Fuel),
        ..Case::DEFAULT
    },
    Case {
        name: "cpu-loop-deadline",
        attacks: "CPU: an infinite loop with fuel too large to matter",
        expected: "trap deadline (10^15 fuel, 50 ms deadline)",
        guest: Guest::Wat("loop"),
        tweak: |c| limits(c, l(Some(1_000_000_000_000_000), Some(50), None)),
        check: Check::Trap(TrapCause::Deadline),
        ..Case::DEFAULT
    },
    Case {
        name: "cpu-loop-init",
        attacks: "CPU: an infinite loop in init",
        expected: "init-trapped; each event's fresh init traps fuel/deadline",
        guest: Guest::Wat("loop-in-init"),
        check: Check::With(|o| init_stopped(o, &RUNAWAY)),
        ..Case::DEFAULT
    },
    Case {
        name: "cpu-loop-is-enabled",
        attacks: "CPU: an infinite loop in is-enabled",
        expected: "every event traps fuel/deadline",
        guest: Guest::Wat("loop-in-is-enabled"),
        check: Check::With(|o| traps(o, &RUNAWAY)),
        ..Case::DEFAULT
    },
    Case {
        name: "cpu-loop-shutdown",
        attacks: "CPU: an infinite loop in shutdown",
        expected: "shutdown stopped at the 100 ms deadline, counted",
        guest: Guest::Wat("loop-in-shutdown"),
        tweak: |c| limits(c, l(Some(1_000_000_000_000_000), Some(100), None)),
        check: Check::With(|o| {
            all_ok(o)?;
            let traps = o.status_after_shutdown.as_ref().map_or(0, |s| s.counters.shutdown_traps);
            match (traps, o.shutdown_ms) {
                (1, ms) if ms < 2_000 => Ok(()),
                (n, ms) => Err(format!("{n} shutdown traps, shutdown took {ms} ms")),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "start-function-loop",
        attacks: "CPU: a core start function that never returns",
        expected: "instantiation stopped (fuel/deadline), init-trapped",
        guest: Guest::Wat("start-loop"),
        check: Check::With(|o| init_stopped(o, &RUNAWAY)),
        ..Case::DEFAULT
    },
    Case {
        name: "start-function-trap",
        attacks: "Faults: a core start function that traps",
        expected: "instantiation traps panic, init-trapped",
        guest: Guest::Wat("start-trap"),
        check: Check::With(|o| init_stopped(o, &[TrapCause::Panic])),
        ..Case::DEFAULT
    },
    // Memory
    Case {
        name: "memory-grow-bomb",
        attacks: "Memory: memory.grow 1 MiB at a time, forever",
        expected: "trap memory at 16 MiB",
        guest: Guest::Wat("memory-grow-bomb"),
        tweak: |c| limits(c, l(None, None, Some(16))),
        check: Check::Trap(TrapCause::Memory),
        ..Case::DEFAULT
    },
    Case {
        name: "memory-grow-4gib",
        attacks: "Memory: one grow to 4 GiB",
        expected: "trap memory",
        guest: Guest::Wat("memory-grow-4gib"),
        tweak: |c| limits(c, l(None, None, Some(16))),
        check: Check::Trap(TrapCause::Memory),
        ..Case::DEFAULT
    },
    Case {
        name: "memory-grow-past-4gib",
        attacks: "Memory: grows past 4 GiB (2^16 pages, -1 pages)",
        expected: "memory.grow answers -1 (the spec), nothing counted",
        guest: Guest::Wat("memory-grow-past-4gib"),
        tweak: |c| limits(c, l(None, None, Some(16))),
        check: Check::With(all_ok),
        ..Case::DEFAULT
    },
    Case {
        name: "memory-initial-over-limit",
        attacks: "Memory: an initial memory of 1025 pages",
        expected: "refused at load: over the 64 MiB limit",
        guest: Guest::Wat("memory-initial-over-limit"),
        tweak: |c| limits(c, l(None, None, Some(64))),
        check: Check::Refused(&["at start, over the memory limit of 64 MiB (`memory_mb`)"]),
        ..Case::DEFAULT
    },
    Case {
        name: "memory64",
        attacks: "Memory: a 64-bit memory",
        expected: "refused at load: memory64 is off",
        guest: Guest::Wat("memory64"),
        check: Check::Refused(&["memory64", "tokenwatch turns off"]),
        ..Case::DEFAULT
    },
    Case {
        name: "memory-state-creep",
        attacks: "Memory: state grown 4 MiB per event, kept across events",
        expected: "events served until 16 MiB, then trap memory; a fresh instance serves again",
        guest: Guest::Wat("memory-state-creep"),
        events: 5,
        tweak: |c| limits(c, l(None, None, Some(16))),
        check: Check::With(|o| {
            let first_trap = o.outcomes.iter().position(|x| matches!(x, Outcome::Trap { cause: TrapCause::Memory, .. }));
            match first_trap {
                Some(i) if i >= 2 && o.outcomes[..i].iter().all(|x| *x == Outcome::Ok) && o.outcomes.get(i + 1) == Some(&Outcome::Ok) => Ok(()),
                _ => Err("not ok, ok, ..., trap memory, then ok".to_owned()),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "table-grow-bomb",
        attacks: "Memory: table.grow by 1,000,000 elements",
        expected: "trap memory (the table limit)",
        guest: Guest::Wat("table-grow-bomb"),
        check: Check::Trap(TrapCause::Memory),
        ..Case::DEFAULT
    },
    Case {
        name: "table-grow-2g",
        attacks: "Memory: table.grow by 2^31 - 1 elements",
        // wasmtime prices a table.grow per element before growing (`table_grow_per_element`):
        // under a default budget the fuel runs out first; with fuel to spare, the limiter.
        expected: "trap fuel (priced per element) or memory (the limit)",
        guest: Guest::Wat("table-grow-2g"),
        check: Check::With(|o| traps(o, &[TrapCause::Memory, TrapCause::Fuel])),
        ..Case::DEFAULT
    },
    Case {
        name: "table-initial-over-limit",
        attacks: "Static limits: a table of 200,000 elements",
        expected: "refused at load: over table_elements",
        guest: Guest::Wat("table-initial-over-limit"),
        tweak: |c| c.limits.table_elements = Some(100_000),
        check: Check::Refused(&["table of 200000 elements", "table_elements"]),
        ..Case::DEFAULT
    },
    Case {
        name: "instance-flood",
        attacks: "Static limits: 66 core instances",
        expected: "refused at load: over 64 core instances",
        guest: Guest::Wat("instance-flood"),
        check: Check::Refused(&["core instances, over the limit of 64"]),
        ..Case::DEFAULT
    },
    Case {
        name: "deep-recursion",
        attacks: "Memory: unbounded recursion",
        expected: "trap stack",
        guest: Guest::Wat("recursion"),
        check: Check::Trap(TrapCause::Stack),
        ..Case::DEFAULT
    },
    // Faults
    Case {
        name: "handler-unreachable",
        attacks: "Faults: unreachable (a panic) in a handler",
        expected: "trap panic",
        guest: Guest::Wat("unreachable"),
        check: Check::Trap(TrapCause::Panic),
        ..Case::DEFAULT
    },
    Case {
        name: "handler-out-of-bounds",
        attacks: "Faults: a load past the end of memory",
        expected: "trap fault",
        guest: Guest::Wat("out-of-bounds"),
        check: Check::Trap(TrapCause::Fault),
        ..Case::DEFAULT
    },
    Case {
        name: "init-trap",
        attacks: "Faults: init traps",
        expected: "init-trapped; each event's fresh init traps panic",
        guest: Guest::Wat("init-trap"),
        check: Check::With(|o| init_stopped(o, &[TrapCause::Panic])),
        ..Case::DEFAULT
    },
    Case {
        name: "quarantine-and-reload",
        attacks: "Faults: a trap at every event",
        expected: "quarantined after 3 traps; a fixed version reloaded serves",
        guest: Guest::Wat("unreachable"),
        events: 5,
        tweak: |c| c.limits.max_consecutive_traps = Some(3),
        reload_fixed: true,
        check: Check::With(|o| {
            let trapped = o.outcomes.iter().take_while(|x| matches!(x, Outcome::Trap { cause: TrapCause::Panic, .. })).count();
            let quarantined = o.outcomes[trapped..].iter().all(|x| *x == Outcome::Quarantined);
            if trapped != 3 || !quarantined || !matches!(o.status()?.health, Health::Quarantined(_)) {
                return Err("not 3 traps, then quarantined".to_owned());
            }
            match &o.reloaded {
                Some((Health::Active, outcomes)) if outcomes.iter().all(|x| *x == Outcome::Ok) => Ok(()),
                _ => Err("the reloaded version does not serve".to_owned()),
            }
        }),
        ..Case::DEFAULT
    },
    // Output injection
    Case {
        name: "init-error-forged",
        attacks: "Output injection: init's error with a newline, a fake host line, ANSI",
        expected: "init-failed; the reason escaped",
        guest: Guest::Wat("init-error-forged"),
        check: Check::With(|o| {
            let status = o.status()?;
            let Health::InitFailed(reason) = &status.health else {
                return Err("not init-failed".to_owned());
            };
            plain("the init-failed reason", reason)?;
            match o.outcomes.iter().all(|x| *x == Outcome::Disabled) {
                true => Ok(()),
                false => Err("events reached it".to_owned()),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "log-forge",
        attacks: "Output injection: a log line with a newline, a fake host line, ANSI, bidi",
        expected: "one escaped log line per guest line",
        guest: Guest::Wat("log-forge"),
        check: Check::With(|o| {
            all_ok(o)?;
            let messages: Vec<&str> = o.messages().collect();
            if messages.len() != o.outcomes.len() {
                return Err(format!("{} lines for {} events", messages.len(), o.outcomes.len()));
            }
            for m in messages {
                let logged = as_logged(m);
                if logged.lines().count() != 1 || logged.contains("\n2026") {
                    return Err(format!("the line became {} lines", logged.lines().count()));
                }
                plain("the logged line", logged.trim_end_matches('\n'))?;
            }
            Ok(())
        }),
        ..Case::DEFAULT
    },
    // Host calls
    Case {
        name: "log-flood",
        attacks: "Host calls: 1,000 log lines per call",
        expected: "64 lines kept per call, the rest counted as dropped",
        guest: Guest::Wat("log-flood"),
        check: Check::With(|o| {
            all_ok(o)?;
            let events = o.outcomes.len() as u64;
            let kept = o.logs.len() as u64;
            let dropped = o.status()?.counters.logs_dropped;
            match (kept, dropped) {
                (k, d) if k == MAX_LINES_PER_CALL as u64 * events && d == (1_000 - MAX_LINES_PER_CALL as u64) * events => Ok(()),
                (k, d) => Err(format!("{k} kept, {d} dropped")),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "log-huge-line",
        attacks: "Host calls: one log line of 512 KiB",
        expected: "cut to 4 KiB",
        guest: Guest::Wat("log-huge-line"),
        check: Check::With(|o| {
            all_ok(o)?;
            match o.messages().map(str::len).max() {
                Some(n) if n <= MAX_MESSAGE_BYTES => Ok(()),
                n => Err(format!("a line of {n:?} bytes")),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "oversized-string",
        attacks: "Oversized guest strings: a 2 MiB log line",
        expected: "trap host (over the 1 MiB transfer cap), nothing read",
        guest: Guest::Wat("oversized-string"),
        check: Check::With(|o| {
            traps(o, &[TrapCause::Host])?;
            match o.logs.is_empty() {
                true => Ok(()),
                false => Err("a line was logged".to_owned()),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "config-loop",
        attacks: "Host calls: config.get in a loop",
        expected: "trap fuel or deadline",
        guest: Guest::Wat("config-loop"),
        check: Check::With(|o| traps(o, &RUNAWAY)),
        ..Case::DEFAULT
    },
    Case {
        name: "config-huge-key",
        attacks: "Host calls: config.get with a 64 KiB key, in a loop",
        expected: "trap fuel (reads are charged) or deadline",
        guest: Guest::Wat("config-huge-key"),
        check: Check::With(|o| traps(o, &RUNAWAY)),
        ..Case::DEFAULT
    },
    Case {
        name: "publish-flood",
        attacks: "Host calls: 10,000 publishes per call",
        expected: "at most 64 taken per call, the rest refused",
        guest: Guest::Wat("publish-flood"),
        check: Check::With(|o| {
            let status = o.status()?;
            let calls = o.outcomes.len() as u64;
            let quota = crate::imports::publish::MAX_PUBLISHES_PER_CALL as u64;
            if status.counters.published > quota * calls || status.counters.publishes_refused == 0 {
                return Err(format!("{} published, {} refused", status.counters.published, status.counters.publishes_refused));
            }
            match o.outcomes.iter().all(|x| *x == Outcome::Ok || matches!(x, Outcome::Trap { cause: TrapCause::Fuel, .. })) {
                true => Ok(()),
                false => Err("an event ended otherwise than ok or a fuel trap".to_owned()),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "publish-oversized",
        attacks: "Host calls: a message over the sink's cap",
        expected: "too-large, nothing published",
        guest: Guest::Wat("publish-oversized"),
        check: Check::With(|o| {
            answers(o, "11")?;
            match o.status()?.counters.published {
                0 => Ok(()),
                n => Err(format!("{n} published (the cap is {SINK_MAX_MESSAGE_BYTES})")),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "publish-unknown-sink",
        attacks: "Host calls: publish to a sink not granted",
        expected: "unknown-sink",
        guest: Guest::Wat("publish-unknown-sink"),
        check: Check::With(|o| answers(o, "10")),
        ..Case::DEFAULT
    },
    Case {
        name: "sign-flood",
        attacks: "Host calls: 100 sign-set calls per call",
        expected: "16 signed per call, then quota-exceeded",
        guest: Guest::Wat("sign-flood"),
        check: Check::With(|o| {
            answers(o, "12")?;
            let signed = o.status()?.counters.sets_signed;
            match signed <= 16 * o.outcomes.len() as u64 {
                true => Ok(()),
                false => Err(format!("{signed} signed")),
            }
        }),
        ..Case::DEFAULT
    },
    Case {
        name: "set-good",
        attacks: "SET signing: a well-formed SET (the control of the set-* cases)",
        expected: "signed",
        guest: Guest::Wat("set-good"),
        check: Check::With(|o| answers(o, "0")),
        ..Case::DEFAULT
    },
    Case {
        name: "set-id-token-shaped",
        attacks: "SET signing: content shaped as an ID token (aud, nonce, auth_time, acr)",
        expected: "refused",
        guest: Guest::Wat("set-id-token-shaped"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-access-token-shaped",
        attacks: "SET signing: content shaped as an access token (client_id, scope, cnf)",
        expected: "refused",
        guest: Guest::Wat("set-access-token-shaped"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-forged-iss",
        attacks: "SET signing: content with its own iss",
        expected: "refused",
        guest: Guest::Wat("set-forged-iss"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-exp",
        attacks: "SET signing: content with exp",
        expected: "refused",
        guest: Guest::Wat("set-exp"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-nonce",
        attacks: "SET signing: content with nonce",
        expected: "refused",
        guest: Guest::Wat("set-nonce"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-at-hash",
        attacks: "SET signing: content with at_hash",
        expected: "refused",
        guest: Guest::Wat("set-at-hash"),
        check: Check::With(set_refused),
        ..Case::DEFAULT
    },
    Case {
        name: "set-audience-not-granted",
        attacks: "SET signing: an audience the listener was not granted",
        expected: "audience-not-allowed",
        guest: Guest::Wat("set-audience-not-granted"),
        check: Check::With(|o| answers(o, "14")),
        ..Case::DEFAULT
    },
    Case {
        name: "set-huge",
        attacks: "SET signing: 70 KiB of content",
        expected: "too-large",
        guest: Guest::Wat("set-huge"),
        check: Check::With(|o| answers(o, "13")),
        ..Case::DEFAULT
    },
    Case {
        name: "claims-overwrite",
        attacks: "Isolation: overwrites its copy of the event before the canary runs",
        expected: "the canary sees the claims as sent",
        guest: Guest::Wat("claims-overwrite"),
        events: 4,
        check: Check::With(all_ok),
        ..Case::DEFAULT
    },
    // Loading
    Case {
        name: "load-malformed",
        attacks: "Loading: bytes that are not WebAssembly",
        expected: "refused at load: not a WebAssembly file",
        guest: Guest::Bytes(|| b"MZ\x90\0this is not wasm".to_vec()),
        check: Check::Refused(&["not a WebAssembly file"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-truncated",
        attacks: "Loading: a component cut in half",
        expected: "refused at load: not a valid component",
        guest: Guest::Bytes(truncated),
        check: Check::Refused(&["not a valid component"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-core-module",
        attacks: "Loading: a core module instead of a component",
        expected: "refused at load: a core module",
        guest: Guest::Wat("core-module"),
        check: Check::Refused(&["core WebAssembly module, not a component"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-unknown-import",
        attacks: "Loading: an import the host does not provide",
        expected: "refused at load, the import named",
        guest: Guest::Wat("unknown-import"),
        check: Check::Refused(&["evil:net/socket@1.0.0", "not provided"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-wrong-version",
        attacks: "Loading: the tokenwatch package at 0.3.0",
        expected: "refused at load",
        guest: Guest::Wat("wrong-version"),
        check: Check::Refused(&["0.3.0"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-wrong-handler-type",
        attacks: "Export types: id-token-issued taking a string",
        expected: "refused at load: the wrong signature, named",
        guest: Guest::Wat("wrong-handler-type"),
        check: Check::Refused(&["id-token-issued has the wrong signature", "found `func(event: string)`"]),
        ..Case::DEFAULT
    },
    Case {
        name: "load-module-too-large",
        attacks: "Compile bombs: a 2 MiB module with module_mb = 1",
        expected: "refused before compiling",
        guest: Guest::Bytes(oversized_module),
        tweak: |c| c.limits.module_mb = Some(1),
        check: Check::Refused(&["over the module size limit of 1 MiB"]),
        ..Case::DEFAULT
    },
    Case {
        name: "compile-bomb",
        attacks: "Compile bombs: 500 functions 200 blocks deep with 1,000 locals",
        expected: "compiled (or refused) within the bound; serves",
        guest: Guest::Bytes(compile_bomb),
        bound: Duration::from_secs(30),
        check: Check::With(|o| match &o.load_error {
            Some(_) => Ok(()),
            None => all_ok(o),
        }),
        ..Case::DEFAULT
    },
    // WASI
    Case {
        name: "wasi-filesystem-ungranted",
        attacks: "WASI: filesystem without a grant",
        expected: "refused at load: not granted",
        guest: Guest::Wat("wasi-filesystem"),
        check: Check::Refused(&["wasi:filesystem/types@0.2.0", "wasi:filesystem/preopens@0.2.0", "not granted"]),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-sockets-ungranted",
        attacks: "WASI: sockets without a grant",
        expected: "refused at load: not granted",
        guest: Guest::Wat("wasi-sockets"),
        check: Check::Refused(&["wasi:sockets/network@0.2.0", "not granted"]),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-environment-ungranted",
        attacks: "WASI: environment without a grant",
        expected: "refused at load: not granted",
        guest: Guest::Wat("wasi-environment"),
        check: Check::Refused(&["wasi:cli/environment@0.2.0", "not granted"]),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-clocks-ungranted",
        attacks: "WASI: clocks without a grant",
        expected: "refused at load: not granted",
        guest: Guest::Wat("wasi-clocks"),
        check: Check::Refused(&["wasi:clocks/monotonic-clock@0.2.0", "not granted"]),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-granted-environment",
        attacks: "WASI granted: reads the environment",
        expected: "sees no variables",
        guest: Guest::Wat("wasi-environment"),
        tweak: |c| c.wasi = true,
        check: Check::With(|o| sees_none(o, "variables")),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-granted-filesystem",
        attacks: "WASI granted: asks for its preopened directories",
        expected: "sees no directory",
        guest: Guest::Wat("wasi-filesystem"),
        tweak: |c| c.wasi = true,
        check: Check::With(|o| sees_none(o, "directories")),
        ..Case::DEFAULT
    },
    Case {
        name: "wasi-granted-sleep",
        attacks: "Blocking host calls: a 2 s WASI sleep under a 100 ms deadline",
        expected: "trap deadline at 100 ms",
        guest: Guest::Wat("wasi-sleep"),
        tweak: |c| {
            c.wasi = true;
            c.limits.deadline_ms = Some(100);
        },
        bound: Duration::from_secs(5),
        check: Check::Trap(TrapCause::Deadline),
        ..Case::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_file_is_used_and_every_case_builds() {
        for file in CASE_FILES.files() {
            let name = file.path().file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if matches!(name, "skeleton" | "canary") {
                continue;
            }
            assert!(CASES.iter().any(|c| matches!(c.guest, Guest::Wat(n) if n == name)), "cases/{name}.wat has no case");
        }
        for case in CASES {
            assert!(case.guest.bytes().is_ok_and(|b| !b.is_empty()), "{}: {:?}", case.name, case.guest.bytes().err());
        }
    }

    #[test]
    fn case_names_are_unique() {
        let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
        assert!(CASES.len() >= 30);
    }
}
