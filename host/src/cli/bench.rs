//! `tokenwatch bench`: what a sandboxed listener costs per token against native code, on
//! this machine. Variants are measured in interleaved rounds on the same events so their
//! ratios hold on a noisy machine; each figure is the median over rounds.

use crate::config::{Config, ListenerConfig};
use crate::event::TokenEvent;
use crate::dispatch::host::Host;
use crate::imports::log::{LogLevel, LogSink};
use crate::runtime::limits::LimitsConfig;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts log lines and bytes, so no variant pays for I/O the others do not.
#[derive(Default)]
struct NullSink(AtomicU64);

impl LogSink for NullSink {
    fn log(&self, _: &str, _: LogLevel, message: &str) {
        self.0.fetch_add(message.len() as u64, Ordering::Relaxed);
    }
}

/// The `sign-in-audit` listener's logic as plain Rust, called as the dispatcher calls a
/// listener: the shared event in, one log line out through the host's sink.
fn native_sign_in_audit(event: &TokenEvent, sink: &dyn LogSink) {
    let claims = &event.claims;
    let sub = claims.string("sub").unwrap_or("-");
    let iat = claims.integer("iat").map_or_else(|| "-".into(), |t| t.to_string());
    let client = if event.context.client_id.is_empty() { "-" } else { &event.context.client_id };
    let acr = claims.string("acr").unwrap_or("-");
    let amr = claims.get_json("amr").unwrap_or_else(|| "-".into());
    sink.log(
        "native",
        LogLevel::Info,
        &format!("sign-in sub={sub} iat={iat} client={client} acr={acr} amr={amr}"),
    );
}

/// A realistic ID token (about 1 KB of claims).
pub fn sample_id_token(i: usize) -> TokenEvent {
    let claims = json!({
        "iss": "https://c2id.example.com", "sub": format!("user-{i:06}"), "aud": ["client-123"],
        "azp": "client-123", "iat": 1_764_331_200 + i as i64, "exp": 1_764_331_800 + i as i64,
        "auth_time": 1_764_331_190, "nonce": "n-0S6_WzA2Mj-8e5ce3b6f1f2", "acr": "urn:c2id:acr:mfa",
        "amr": ["pwd", "otp"], "sid": "a3c2b1e9-6d2f-4d1e-9f1a-7c0b5e4d3c2b",
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "c_hash": "LDktKdoQak3Pk0cnXxCltA",
        "name": "Alice Adams", "given_name": "Alice", "family_name": "Adams",
        "email": "alice.adams@example.com", "email_verified": true, "locale": "en-GB",
        "zoneinfo": "Europe/London", "preferred_username": "alice",
        "picture": "https://cdn.example.com/profiles/alice-adams-240x240.png",
        "updated_at": 1_764_000_000, "phone_number": "+44 20 7946 0958",
        "address": {"street_address": "1 Example Street", "locality": "London", "postal_code": "EC1A 1AA", "country": "GB"},
        "groups": ["staff", "engineering", "on-call", "vpn-users"],
    });
    TokenEvent::id_token(object(claims)).with_issuer("https://c2id.example.com")
}

/// A realistic access token (about 1 KB of claims).
pub fn sample_access_token(i: usize) -> TokenEvent {
    let claims = json!({
        "iss": "https://c2id.example.com", "sub": format!("user-{i:06}"),
        "aud": ["https://api.example.com", "https://reports.example.com"],
        "client_id": format!("client-{}", i % 7), "scope": "openid email profile reports:read orders:write",
        "iat": 1_764_331_200 + i as i64, "exp": 1_764_334_800 + i as i64, "nbf": 1_764_331_200,
        "jti": format!("6d0c1a5e-4b8f-4c2e-9f1a-{i:012}"), "auth_time": 1_764_331_190,
        "acr": "urn:c2id:acr:mfa", "cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
        "authorization_details": [{"type": "payment_initiation", "actions": ["initiate", "status"],
            "locations": ["https://pay.example.com/payments"], "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "creditorName": "Merchant A", "creditorAccount": {"iban": "DE02100100109307118603"}}],
        "roles": ["reader", "order-clerk"], "tenant": "acme-emea", "session_state": "c1a2b3d4e5f6",
    });
    TokenEvent::access_token(object(claims))
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Options of `tokenwatch bench`.
pub struct BenchOptions {
    /// Where the bundled guests are (`guests/dist`).
    pub guests: PathBuf,
    /// Interleaved rounds; each figure is the median.
    pub rounds: usize,
    /// Distinct events, cycled. 200 (about 1 MB with their parsed claims) stay in cache, as an
    /// event dispatched right after the issuer built it does; 2,000 spill to DRAM, and the
    /// native figure then varied 2x from run to run.
    pub batch: usize,
    /// An operator's own listener to measure (`--listener`), against the empty guest.
    pub listener: Option<PathBuf>,
    /// The events to measure it on (`--events`, NDJSON); default: the sample ID tokens.
    pub events: Option<PathBuf>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions { guests: PathBuf::from("guests/dist"), rounds: 15, batch: 200, listener: None, events: None }
    }
}

/// A target and whether this run met it.
fn target(value: f64, at_most: Option<f64>, at_least: Option<f64>) -> Value {
    let met = at_most.is_none_or(|m| value <= m) && at_least.is_none_or(|m| value >= m);
    json!({"value": value, "at_most": at_most, "at_least": at_least, "met": met})
}

/// How much the rounds of a ratio disagree: (p90 − p10) / median, as a fraction.
fn spread(mut ratios: Vec<f64>) -> f64 {
    ratios.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    round2((at(0.9) - at(0.1)) / at(0.5))
}

/// Rounds whose ratios spread more than this are reported as disagreeing: the machine was
/// busy or changed speed during the run, and the medians deserve less trust.
pub const MAX_SPREAD: f64 = 0.25;

/// The operator's listener on their events (or the sample ID tokens), interleaved with the
/// empty guest: ns and fuel per event, and the ratio to the floor.
fn own_listener(opts: &BenchOptions, path: &Path, empty: &Host, sink: Arc<dyn LogSink>, samples: &[Arc<TokenEvent>]) -> anyhow::Result<Value> {
    let mut events = Vec::new();
    let mut bad = 0u64;
    if let Some(file) = &opts.events {
        let input = std::fs::File::open(file).map_err(|e| anyhow::anyhow!("cannot read events {}: {e}", file.display()))?;
        let mut lines = crate::event::EventLines::new(std::io::BufReader::new(input));
        while let Some((_, ingress)) = lines.next_event()? {
            match ingress {
                crate::event::Ingress::Event(e) => events.push(Arc::new(e)),
                crate::event::Ingress::Blank => {}
                crate::event::Ingress::Bad(_) => bad += 1,
            }
        }
        anyhow::ensure!(!events.is_empty(), "{}: no valid event to measure on", file.display());
    } else {
        events.extend_from_slice(samples);
    }
    let host = host_of(vec![named(path, "listener".into())], false, sink)?;
    let status = &host.status()[0];
    anyhow::ensure!(
        matches!(status.health, crate::runtime::status::Health::Active | crate::runtime::status::Health::Starting),
        "{}: the listener does not serve events ({:?})",
        path.display(),
        status.health
    );
    let (mut own, mut floor) = (vec![], vec![]);
    for _ in 0..opts.rounds {
        own.push(per_event(&events, |e| host.dispatch_with(e, |_| {})));
        floor.push(per_event(&events, |e| empty.dispatch_with(e, |_| {})));
    }
    let ratios: Vec<f64> = own.iter().zip(&floor).map(|(a, b)| a / b).collect();
    let c = &host.status()[0].counters;
    Ok(json!({
        "path": path.display().to_string(),
        "events": events.len(),
        "bad_lines": bad,
        "ns_per_event": median(own).round(),
        "fuel_per_event": c.fuel / c.delivered.max(1),
        "traps": c.traps_total(),
        "skipped": c.skipped,
        "ratio_vs_empty_guest": round2(median(ratios.clone())),
        "spread": spread(ratios),
    }))
}

/// The cold load of each guest, `{"<guest>": {"compile_ms", "cached_ms"}}`: the median of
/// `samples` compilations (a fresh cache without disk each time) against the median of
/// `samples` loads from the artifact cache (a fresh cache over the same directory each time:
/// the key file read, the artifact read, verified and deserialized), on the production
/// engine, with the cache in a temporary directory.
fn cached_load(guests: &[(&str, &Path)], samples: usize) -> anyhow::Result<Value> {
    use crate::runtime::cache::{ArtifactCache, Source};
    let (engine, _ticking) = crate::runtime::engine::process_engine(true).map_err(anyhow::Error::msg)?;
    let tmp = tempfile::tempdir()?;
    let config = crate::config::CacheConfig {
        enabled: true,
        dir: Some(tmp.path().join("artifacts")),
        key_file: Some(tmp.path().join("cache.key")),
    };
    let compile = |bytes: &[u8]| wasmtime::component::Component::new(&engine, bytes).map_err(|e| format!("{e:#}"));
    let ms = |cache: ArtifactCache, bytes: &[u8], expected: Source| -> anyhow::Result<f64> {
        let start = Instant::now();
        let loaded = cache.load(bytes, compile).map_err(anyhow::Error::msg)?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(loaded.source == expected, "a load from the artifact cache came from {:?}", loaded.source);
        Ok(ms)
    };
    let mut loads = Map::new();
    for (name, path) in guests {
        let bytes = std::fs::read(path)?;
        // Written once, not timed.
        ms(ArtifactCache::open(&engine, &config), &bytes, Source::Compiled)?;
        let (mut compiled, mut cached) = (vec![], vec![]);
        for _ in 0..samples {
            compiled.push(ms(ArtifactCache::in_memory(&engine), &bytes, Source::Compiled)?);
            cached.push(ms(ArtifactCache::open(&engine, &config), &bytes, Source::Disk)?);
        }
        loads.insert(name.to_string(), json!({"compile_ms": round2(median(compiled)), "cached_ms": round2(median(cached))}));
    }
    Ok(Value::Object(loads))
}

fn guest(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let p = dir.join(format!("{name}.wasm"));
    anyhow::ensure!(p.exists(), "{} is missing: run `make guests`", p.display());
    Ok(p)
}

fn host_of(listeners: Vec<ListenerConfig>, epoch_only: bool, sink: Arc<dyn LogSink>) -> anyhow::Result<Host> {
    let config = Config { listeners, ..Config::default() };
    let mut b = Host::builder(config).log_sink(sink);
    if epoch_only {
        b = b.epoch_only();
    }
    Ok(b.build()?)
}

fn named(path: &Path, name: String) -> ListenerConfig {
    let mut l = ListenerConfig::new(path);
    l.name = Some(name);
    l
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Calls per sample: enough that a sample of the cheapest variant spans about 0.3 ms.
const CALLS_PER_SAMPLE: usize = 2_000;

/// Nanoseconds per call of `f`, cycling over `events`.
fn per_event(events: &[Arc<TokenEvent>], f: impl FnMut(&Arc<TokenEvent>)) -> f64 {
    per_event_of(events, CALLS_PER_SAMPLE, f)
}

/// Nanoseconds per call of `f`, cycling over `events` for at least `calls` calls.
fn per_event_of(events: &[Arc<TokenEvent>], calls: usize, mut f: impl FnMut(&Arc<TokenEvent>)) -> f64 {
    let laps = calls.div_ceil(events.len());
    let start = Instant::now();
    for _ in 0..laps {
        for e in events {
            f(e);
        }
    }
    start.elapsed().as_nanos() as f64 / (laps * events.len()) as f64
}

/// Run the benchmark and return its JSON document (keys documented in docs/cli.md, "`tokenwatch bench`").
pub fn run(opts: &BenchOptions) -> anyhow::Result<Value> {
    let audit = guest(&opts.guests, "sign-in-audit")?;
    let metering = guest(&opts.guests, "metering")?;
    let probe = guest(&opts.guests, "probe")?;
    let sink: Arc<NullSink> = Arc::default();
    let ids: Vec<Arc<TokenEvent>> = (0..opts.batch).map(|i| Arc::new(sample_id_token(i))).collect();
    let claims_bytes = ids[0].claims.as_json().len();

    // Native against guest, fuel against epoch-only, interleaved.
    let fueled = host_of(vec![named(&audit, "audit".into())], false, sink.clone())?;
    let epoch = host_of(vec![named(&audit, "audit".into())], true, sink.clone())?;
    // The floor: a guest whose handler does nothing (handles lent and dropped, limits armed).
    let mut noop = named(&probe, "noop".into());
    noop.properties.insert("mode".into(), "noop".into());
    // It reads nothing, so it declares no claims: the floor is the call, not a copy of claims.
    noop.properties.insert("declare".into(), String::new());
    let empty = host_of(vec![noop], false, sink.clone())?;
    let (mut native, mut guest_ns, mut epoch_ns, mut empty_ns) = (vec![], vec![], vec![], vec![]);
    for _ in 0..opts.rounds {
        native.push(per_event(&ids, |e| native_sign_in_audit(e, sink.as_ref())));
        guest_ns.push(per_event(&ids, |e| fueled.dispatch_with(e, |_| {})));
        epoch_ns.push(per_event(&ids, |e| epoch.dispatch_with(e, |_| {})));
        empty_ns.push(per_event(&ids, |e| empty.dispatch_with(e, |_| {})));
    }
    let fuel_per_event = fueled.status()[0].counters.fuel / fueled.status()[0].counters.delivered.max(1);
    let guest_spread = spread(guest_ns.iter().zip(&native).map(|(g, n)| g / n).collect());
    let empty_spread = spread(empty_ns.iter().zip(&native).map(|(g, n)| g / n).collect());
    let (native, guest_ns, epoch_ns) = (median(native), median(guest_ns), median(epoch_ns));
    let empty_ns = median(empty_ns);
    let listener = match &opts.listener {
        Some(path) => Some(own_listener(opts, path, &empty, sink.clone(), &ids)?),
        None => None,
    };

    // Dispatch cost on the calling thread against the number of listeners.
    let mut sync_dispatch = Map::new();
    for n in [1usize, 10, 50] {
        let host = host_of((0..n).map(|i| named(&audit, format!("audit-{i}"))).collect(), false, sink.clone())?;
        // Each dispatch makes n calls: a sample of n listeners covers 1/n of the events.
        let events = &ids[..(opts.batch / n).max(4)];
        let ns = median((0..opts.rounds).map(|_| per_event_of(events, CALLS_PER_SAMPLE / n, |e| host.dispatch_with(e, |_| {}))).collect());
        sync_dispatch.insert(n.to_string(), json!(ns.round()));
    }

    // The price of one call: a probe calling one SDK accessor or import 10 times per event,
    // less the empty guest, divided by 10. The claims it reads are declared: in contract 0.2
    // `claims.*` and `context.*` read the event in the guest; `config.get` and `log` are
    // host calls.
    const CALLS: usize = 10;
    let imports = ["claims.issued-at", "claims.subject", "claims.get", "context.client-id", "config.get", "log"];
    let mut callers = vec![];
    for import in imports {
        let mut l = named(&probe, import.into());
        l.properties.extend([
            ("mode".into(), "host-calls".into()),
            ("import".into(), import.into()),
            ("times".into(), CALLS.to_string()),
            ("declare".into(), "iat,sub,amr".into()),
        ]);
        callers.push(host_of(vec![l], false, sink.clone())?);
    }
    let events = &ids[..opts.batch.min(500)];
    let mut samples = vec![vec![]; imports.len() + 1];
    for _ in 0..opts.rounds {
        samples[0].push(per_event(events, |e| empty.dispatch_with(e, |_| {})));
        for (i, host) in callers.iter().enumerate() {
            samples[i + 1].push(per_event(events, |e| host.dispatch_with(e, |_| {})));
        }
    }
    let floor = median(samples[0].clone());
    let call_ns: Map<String, Value> = imports
        .iter()
        .zip(&samples[1..])
        .map(|(name, s)| (name.to_string(), json!(((median(s.clone()) - floor) / CALLS as f64).round())))
        .collect();

    // Throughput with 1 and 2 issuing threads: ID and access tokens through two listeners.
    let mut meter = named(&metering, "metering".into());
    meter.properties.insert("report_every".into(), "1000000".into());
    let host = Arc::new(host_of(vec![named(&audit, "audit".into()), meter], false, sink.clone())?);
    let mixed: Arc<Vec<Arc<TokenEvent>>> = Arc::new(
        (0..opts.batch)
            .map(|i| Arc::new(if i % 2 == 0 { sample_id_token(i) } else { sample_access_token(i) }))
            .collect(),
    );
    let mut events_per_second = Map::new();
    for threads in [1usize, 2] {
        let window = Duration::from_millis(500);
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (host, mixed) = (host.clone(), mixed.clone());
                // Each thread walks the events with its own odd stride, as independent
                // issuing threads would: not in lockstep on the same listener.
                let stride = 2 * t + 1;
                std::thread::spawn(move || {
                    let (mut n, mut i) = (0u64, t);
                    while start.elapsed() < window {
                        for _ in 0..200 {
                            host.dispatch_with(&mixed[i], |_| {});
                            i = (i + stride) % mixed.len();
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        let total: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
        events_per_second.insert(threads.to_string(), json!((total as f64 / start.elapsed().as_secs_f64()).round()));
    }

    // Nanoseconds per unit of fuel: a tight loop until a known budget runs out.
    const LOOP_FUEL: u64 = 50_000_000;
    let mut looper = named(&probe, "loop".into());
    looper.properties.insert("mode".into(), "loop".into());
    looper.limits = LimitsConfig { fuel: Some(LOOP_FUEL), deadline_ms: Some(10_000), max_consecutive_traps: Some(1_000), ..Default::default() };
    let host = host_of(vec![looper], false, sink.clone())?;
    let ns_per_fuel = median(
        (0..7)
            .map(|_| {
                let d = host.dispatch(&ids[0]).remove(0);
                d.micros as f64 * 1000.0 / LOOP_FUEL as f64
            })
            .collect(),
    );

    // SET signing: the host's signer per alg, and RS256 against jsonwebtoken (signing/bench.rs).
    let mut signing = crate::signing::bench_signing(Duration::from_secs(1));
    // Reported once, at the top level with the other targets.
    let speedup = signing.as_object_mut().and_then(|s| s.remove("rs256_speedup_vs_jsonwebtoken"));
    let outbox = crate::outbox::bench::run()?;
    let async_dispatch = crate::dispatch::bench::async_dispatch_ns(&audit, &ids, sink.clone())?;
    let hot_swap = crate::dispatch::bench::hot_swap_ms(&audit, &metering, opts.rounds.clamp(3, 9), sink.clone())?;
    // An async listener's dispatcher, a call per event against batches of 16 (`batch-listener`).
    let async_rounds = opts.rounds.clamp(3, 9);
    let (async_ns, _) = crate::dispatch::bench::async_per_event_ns(&audit, &ids, sink.clone(), 1, async_rounds)?;
    let (batched_ns, per_call) = crate::dispatch::bench::async_per_event_ns(&audit, &ids, sink.clone(), 16, async_rounds)?;
    let batched_ratio = round2(batched_ns / native);
    let async_worst = |key: &str| async_dispatch.as_object().map_or(0.0, |c| c.values().filter_map(|v| v[key].as_f64()).fold(0.0, f64::max));
    let cached_load_ms = cached_load(&[("sign-in-audit", &audit), ("metering", &metering), ("probe", &probe)], opts.rounds.clamp(1, 5))?;
    // `serve`'s HTTP API on loopback (serve/load.rs).
    let http = crate::serve::load::measure(&opts.guests)?;
    let publish_median = outbox["publish_ns"].as_object().map_or(0.0, |cases| cases.values().filter_map(|c| c["median"].as_f64()).fold(0.0, f64::max));
    let guest_ratio = round2(guest_ns / native);
    let empty_ratio = round2(empty_ns / native);
    let fuel_ratio = round2(guest_ns / epoch_ns);
    let mut warnings = Vec::new();
    for (what, s) in [("ratio_rust_guest_vs_native", guest_spread), ("ratio_empty_guest_vs_native", empty_spread)] {
        if s > MAX_SPREAD {
            warnings.push(format!(
                "the rounds of {what} disagree by {:.0}% (more than {:.0}%): the machine was busy or changed speed; run again",
                s * 100.0,
                MAX_SPREAD * 100.0
            ));
        }
    }
    if let Some(s) = listener.as_ref().and_then(|l| l["spread"].as_f64()).filter(|s| *s > MAX_SPREAD) {
        warnings.push(format!("the rounds of the listener's ratio disagree by {:.0}%: run again", s * 100.0));
    }
    Ok(json!({
        "signing": signing,
        "rs256_speedup_vs_jsonwebtoken": speedup,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "os": std::env::consts::OS, "arch": std::env::consts::ARCH,
        },
        "claims_bytes": claims_bytes,
        "native_ns": native.round(),
        "rust_guest_ns": guest_ns.round(),
        "epoch_only_ns": epoch_ns.round(),
        "empty_guest_ns": empty_ns.round(),
        "call_ns": call_ns,
        "ratio_rust_guest_vs_native": guest_ratio,
        "ratio_empty_guest_vs_native": empty_ratio,
        "fuel_overhead_ratio": fuel_ratio,
        "spread": {"ratio_rust_guest_vs_native": guest_spread, "ratio_empty_guest_vs_native": empty_spread},
        "warnings": warnings,
        "listener": listener,
        "fuel_per_event": fuel_per_event,
        "ns_per_fuel": (ns_per_fuel * 10_000.0).round() / 10_000.0,
        "sync_dispatch_ns": sync_dispatch,
        "events_per_second": events_per_second,
        "publish_ns": outbox["publish_ns"],
        "file_messages_per_second": outbox["file_messages_per_second"],
        "cached_load_ms": cached_load_ms,
        "async_dispatch_ns": async_dispatch,
        "async_per_event_ns": {"1": async_ns.round(), "16": batched_ns.round(), "events_per_batch_call": round2(per_call)},
        "ratio_rust_guest_batched_vs_native": batched_ratio,
        "hot_swap_ms": hot_swap,
        "http": http,
        "targets": {
            "async_dispatch_ns_median": target(async_worst("median"), Some(500.0), None),
            "async_dispatch_ns_p99": target(async_worst("p99"), Some(5000.0), None),
            "publish_ns": target(publish_median, Some(1000.0), None),
            "ratio_rust_guest_vs_native": target(guest_ratio, Some(3.0), None),
            "ratio_empty_guest_vs_native": target(empty_ratio, Some(0.4), None),
            "ratio_rust_guest_batched_vs_native": target(batched_ratio, Some(2.0), None),
            "fuel_overhead_ratio": target(fuel_ratio, Some(1.3), None),
            "rs256_speedup_vs_jsonwebtoken": target(speedup.as_ref().and_then(Value::as_f64).unwrap_or(0.0), None, Some(2.0)),
        },
    }))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The document as a short text report.
pub fn render(doc: &Value) -> String {
    let mut s = String::new();
    let line = |s: &mut String, k: &str, v: String| s.push_str(&format!("{k:34} {v}\n"));
    line(&mut s, "claims per event", format!("{} bytes", doc["claims_bytes"]));
    line(&mut s, "native sign-in-audit", format!("{} ns/event", doc["native_ns"]));
    line(&mut s, "Rust guest, sync dispatch", format!("{} ns/event", doc["rust_guest_ns"]));
    line(&mut s, "Rust guest, epoch only (no fuel)", format!("{} ns/event", doc["epoch_only_ns"]));
    line(&mut s, "empty guest (the floor), sync", format!("{} ns/event", doc["empty_guest_ns"]));
    if let Some(calls) = doc["call_ns"].as_object() {
        for (import, ns) in calls {
            line(&mut s, &format!("call {import}"), format!("{ns} ns/call"));
        }
    }
    let verdict = |key: &str| {
        let t = &doc["targets"][key];
        let bound = match (t["at_most"].as_f64(), t["at_least"].as_f64()) {
            (Some(m), _) => format!("target <= {m}"),
            (_, Some(m)) => format!("target >= {m}"),
            _ => String::new(),
        };
        format!("{} ({bound}: {})", t["value"], if t["met"] == true { "met" } else { "MISSED" })
    };
    line(&mut s, "ratio guest / native", verdict("ratio_rust_guest_vs_native"));
    line(&mut s, "ratio empty guest / native", verdict("ratio_empty_guest_vs_native"));
    line(&mut s, "async, a call per event", format!("{} ns/event", doc["async_per_event_ns"]["1"]));
    line(&mut s, "async, batches of 16", format!("{} ns/event ({} events per call)", doc["async_per_event_ns"]["16"], doc["async_per_event_ns"]["events_per_batch_call"]));
    line(&mut s, "ratio batched guest / native", verdict("ratio_rust_guest_batched_vs_native"));
    line(&mut s, "ratio fuel / epoch only", verdict("fuel_overhead_ratio"));
    line(&mut s, "fuel per event", format!("{}", doc["fuel_per_event"]));
    line(&mut s, "ns per unit of fuel", format!("{}", doc["ns_per_fuel"]));
    for n in ["1", "10", "50"] {
        line(&mut s, &format!("sync dispatch, {n} listeners"), format!("{} ns/event", doc["sync_dispatch_ns"][n]));
    }
    for t in ["1", "2"] {
        line(&mut s, &format!("events/s, {t} thread(s)"), format!("{}", doc["events_per_second"][t]));
    }
    if let Some(cases) = doc["publish_ns"].as_object() {
        for (case, ns) in cases {
            line(&mut s, &format!("publish, sink {case}"), format!("{} ns median, {} ns p99", ns["median"], ns["p99"]));
        }
    }
    line(&mut s, "file sink, delivered", format!("{} messages/s", doc["file_messages_per_second"]));
    if let Some(guests) = doc["cached_load_ms"].as_object() {
        for (guest, ms) in guests {
            line(&mut s, &format!("load {guest}"), format!("{} ms compiled, {} ms from the cache", ms["compile_ms"], ms["cached_ms"]));
        }
    }
    line(&mut s, "publish, slowest sink's median", verdict("publish_ns"));
    for a in ["rs256", "ps256", "es256", "eddsa", "jsonwebtoken_rs256"] {
        line(&mut s, &format!("SET signatures/s, {a}"), format!("{}", doc["signing"][a]["signatures_per_sec"]));
    }
    line(&mut s, "RS256 speedup vs jsonwebtoken", verdict("rs256_speedup_vs_jsonwebtoken"));
    if let Some(l) = doc["listener"].as_object() {
        line(&mut s, "your listener", l["path"].as_str().unwrap_or("").to_owned());
        line(&mut s, "  events (bad lines skipped)", format!("{} ({})", l["events"], l["bad_lines"]));
        line(&mut s, "  per event", format!("{} ns, {} fuel", l["ns_per_event"], l["fuel_per_event"]));
        line(&mut s, "  ratio to the empty guest", format!("{}", l["ratio_vs_empty_guest"]));
        line(&mut s, "  traps, skipped", format!("{}, {}", l["traps"], l["skipped"]));
    }
    s.push_str(&crate::serve::load::render(&doc["http"]));
    for w in doc["warnings"].as_array().into_iter().flatten() {
        s.push_str(&format!("warning: {}\n", w.as_str().unwrap_or_default()));
    }
    s
}
