//! `tokenwatch bench`'s dispatch figures: what handing an event to async listeners costs the
//! issuing thread, and how long a hot swap takes.

use crate::config::{Config, DispatchConfig, ListenerConfig, Mode};
use crate::dispatch::host::Host;
use crate::event::TokenEvent;
use crate::imports::log::LogSink;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Dispatches timed one by one per listener count (one clock read included, 20–40 ns).
const CALLS: usize = 20_000;

/// `{"1": {median, p99}, "10": …, "50": …}`: ns per `dispatch_with` with 1, 10 and 50 async
/// copies of `module`, while their dispatchers work through the queue.
pub fn async_dispatch_ns(module: &Path, events: &[Arc<TokenEvent>], sink: Arc<dyn LogSink>) -> anyhow::Result<Value> {
    let mut figures = serde_json::Map::new();
    for n in [1usize, 10, 50] {
        let listeners = (0..n).map(|i| ListenerConfig::new(module).with_name(format!("async-{i}")).with_mode(Mode::Async)).collect();
        // A queue that holds every event: the figure is the hand-off, not the drop policy.
        let config = Config { listeners, dispatch: DispatchConfig { queue: Some(CALLS * 2), ..Default::default() }, ..Config::default() };
        let host = Host::builder(config).log_sink(sink.clone()).build()?;
        let mut ns: Vec<u64> = (0..CALLS)
            .map(|i| {
                let event = &events[i % events.len()];
                let t = Instant::now();
                host.dispatch_with(event, |_| {});
                t.elapsed().as_nanos() as u64
            })
            .collect();
        host.shutdown();
        ns.sort_unstable();
        figures.insert(n.to_string(), json!({"median": ns[CALLS / 2], "p99": ns[CALLS * 99 / 100]}));
    }
    Ok(Value::Object(figures))
}

/// `{"load_listener_ms": X, "folder_ms": Y}`: a new version of `a` / `b` (alternating) swapped
/// in by `Host::load_listener`, median of `rounds`; and through the watched folder, from the
/// rename of the new module into the folder to the first event it served (the watcher waits
/// for the file to settle, 2 × 250 ms, before it loads).
pub fn hot_swap_ms(a: &Path, b: &Path, rounds: usize, sink: Arc<dyn LogSink>) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let module = dir.path().join("swapped.wasm");
    std::fs::copy(a, &module)?;
    let host = Arc::new(Host::builder(Config::default().with_listener(ListenerConfig::new(&module))).log_sink(sink).build()?);
    let event = Arc::new(crate::cli::bench::sample_id_token(0));
    let mut direct = Vec::new();
    for i in 0..rounds {
        std::fs::copy(if i % 2 == 0 { b } else { a }, &module)?;
        let t = Instant::now();
        host.load_listener(ListenerConfig::new(&module)).map_err(|e| anyhow::anyhow!("{e}"))?;
        host.dispatch(&event);
        direct.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let template: crate::serve::watch::Template = Arc::new(|p: &Path| ListenerConfig::new(p));
    let _watch = crate::serve::watch::FolderWatch::start(host.clone(), dir.path(), template).map_err(|e| anyhow::anyhow!(e))?;
    let mut folder = Vec::new();
    for i in 0..rounds.min(5) {
        let version = host.status()[0].version;
        let staging = dir.path().join("swapped.part");
        std::fs::copy(if i % 2 == 0 { b } else { a }, &staging)?;
        let t = Instant::now();
        std::fs::rename(&staging, &module)?;
        let until = t + Duration::from_secs(30);
        while host.status()[0].version == version && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        host.dispatch(&event);
        folder.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    host.shutdown();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2] * 100.0).round() / 100.0
    };
    Ok(json!({"load_listener_ms": median(direct), "folder_ms": median(folder)}))
}

/// Nanoseconds per event an async copy of `module` costs its dispatcher while its queue never
/// runs dry, with up to `batch` events per call (1: a call per event): from the first
/// hand-off until the last of `CALLS` events was delivered, the median of `rounds`; and the
/// mean events per call.
pub fn async_per_event_ns(module: &Path, events: &[Arc<TokenEvent>], sink: Arc<dyn LogSink>, batch: usize, rounds: usize) -> anyhow::Result<(f64, f64)> {
    let listener = ListenerConfig::new(module).with_name("async".to_owned()).with_mode(Mode::Async);
    let dispatch = DispatchConfig { queue: Some(CALLS * 2), threads: Some(1), batch: Some(batch), ..Default::default() };
    let host = Host::builder(Config { listeners: vec![listener], dispatch, ..Config::default() }).log_sink(sink).build()?;
    let mut ns = Vec::new();
    for round in 1..=rounds as u64 {
        let t = Instant::now();
        for i in 0..CALLS {
            host.dispatch_with(&events[i % events.len()], |_| {});
        }
        let until = t + Duration::from_secs(60);
        while host.status()[0].counters.delivered < round * CALLS as u64 {
            anyhow::ensure!(Instant::now() < until, "the async listener did not take its events: {:?}", host.status()[0]);
            std::thread::sleep(Duration::from_micros(50));
        }
        ns.push(t.elapsed().as_nanos() as f64 / CALLS as f64);
    }
    let counters = host.status()[0].counters.clone();
    host.shutdown();
    ns.sort_by(f64::total_cmp);
    let calls = if counters.batch_calls == 0 { counters.delivered } else { counters.batch_calls };
    Ok((ns[ns.len() / 2], counters.delivered as f64 / calls.max(1) as f64))
}
