//! `tokenwatch bench`'s outbox figures: what one `publish` costs the issuing thread when the
//! sink keeps up and when it is down, and how many messages per second a file sink delivers.

use super::Outbox;
use crate::config::{OutboxConfig, SinkConfig};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

/// Calls timed one by one per case (the figures include one clock read, about 20–40 ns).
const CALLS: usize = 20_000;
/// Messages pushed through a file sink for the throughput figure.
const THROUGHPUT_MESSAGES: usize = 200_000;
const BODY: &str = r#"{"sub":"user-000001","iat":1764331200,"client_id":"client-123","region":"eu-1"}"#;

/// `{"publish_ns": {"up": {median, p99}, "down": {median, p99}}, "file_messages_per_second": N}`.
pub fn run() -> anyhow::Result<Value> {
    let dir = std::env::temp_dir().join(format!("tokenwatch-bench-outbox-{}", std::process::id()));
    let result = measure(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// An outbox with one file sink `bench`; shutdown gives up on it after `shutdown_ms`.
fn outbox(dir: &Path, name: &str, file: &Path, shutdown_ms: u64) -> anyhow::Result<Outbox> {
    let config = OutboxConfig { spool_dir: Some(dir.join(name)), shutdown_ms: Some(shutdown_ms) };
    let sink = SinkConfig { queue: Some(1 << 20), ..SinkConfig::file("bench", file) };
    Ok(Outbox::start(&config, &[sink])?)
}

fn measure(dir: &Path) -> anyhow::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let mut publish = serde_json::Map::new();
    // `/dev/full` takes the open and fails every write (ENOSPC): a sink that is down.
    let cases = [("up", dir.join("up.ndjson")), ("down", Path::new("/dev/full").to_owned())];
    for (case, file) in cases.iter().filter(|(_, f)| f.parent().is_some_and(Path::exists)) {
        // The down sink's messages are spooled and thrown away with the directory.
        let o = outbox(dir, case, file, if *case == "down" { 100 } else { 10_000 })?;
        let lane = o.lane("bench").expect("configured").clone();
        let mut ns: Vec<u64> = (0..CALLS)
            .map(|_| {
                let t = Instant::now();
                let _ = o.publish(&lane, "bench", "id_token", BODY);
                t.elapsed().as_nanos() as u64
            })
            .collect();
        ns.sort_unstable();
        publish.insert((*case).into(), json!({"median": ns[CALLS / 2], "p99": ns[CALLS * 99 / 100]}));
        o.shutdown();
    }
    let o = outbox(dir, "throughput", &dir.join("throughput.ndjson"), 60_000)?;
    let lane = o.lane("bench").expect("configured").clone();
    let started = Instant::now();
    for _ in 0..THROUGHPUT_MESSAGES {
        let _ = o.publish(&lane, "bench", "id_token", BODY);
    }
    o.shutdown();
    let delivered = o.status()[0].delivered;
    Ok(json!({
        "publish_ns": publish,
        "file_messages_per_second": (delivered as f64 / started.elapsed().as_secs_f64()).round(),
    }))
}
