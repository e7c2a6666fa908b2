//! The HTTP figure of `tokenwatch bench`: `POST /v1/events` on loopback against a real
//! [`run`](super::run) with `sign-in-audit` and `metering` loaded, from a load generator in
//! the same process (HTTP/1.1 keep-alive connections over tokio, no client library in the
//! way): events per second and the latency of a request, for single events and for batches
//! of 100.

use super::{run, Settings};
use crate::config::{Config, ListenerConfig};
use crate::dispatch::host::Host;
use crate::imports::log::{LogLevel, LogSink};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Client connections, each sending its next request when the last is answered.
pub const CONNECTIONS: usize = 2;
/// How long each figure is measured, after a warm-up of a fifth of it.
pub const WINDOW: Duration = Duration::from_millis(1500);
/// Events per batch.
pub const BATCH: usize = 100;

struct Discard;

impl LogSink for Discard {
    fn log(&self, _: &str, _: LogLevel, _: &str) {}
}

/// One figure: what `CONNECTIONS` connections got through in `WINDOW`.
struct Figure {
    requests: usize,
    events_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figure {
    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "events_per_second": self.events_per_second.round(),
            "p50_ms": (self.p50_ms * 1000.0).round() / 1000.0,
            "p99_ms": (self.p99_ms * 1000.0).round() / 1000.0,
        })
    }
}

/// An ID token or an access token line, alternately, each with its own `sub`.
fn event_line(i: usize) -> String {
    if i.is_multiple_of(2) {
        json!({"kind": "id_token", "claims": {
            "iss": "https://c2id.example.com", "sub": format!("user-{i}"), "aud": "webapp",
            "iat": 1_764_331_200, "exp": 1_764_331_800, "acr": "urn:c2id:acr:mfa", "amr": ["pwd", "otp"],
        }})
        .to_string()
    } else {
        json!({"kind": "access_token", "claims": {
            "iss": "https://c2id.example.com", "sub": format!("user-{i}"), "client_id": format!("client-{}", i % 7),
            "scope": "openid email", "iat": 1_764_331_200, "exp": 1_764_334_800,
        }})
        .to_string()
    }
}

/// The figures, as `tokenwatch bench --json` reports them under `http`.
pub fn measure(guests: &Path) -> anyhow::Result<Value> {
    let module = |name: &str| {
        let p = guests.join(format!("{name}.wasm"));
        anyhow::ensure!(p.exists(), "{} is missing: run `make guests`", p.display());
        Ok(p)
    };
    let config = Config::new()
        .with_listener(ListenerConfig::new(module("sign-in-audit")?))
        .with_listener(ListenerConfig::new(module("metering")?).with_property("report_every", "1000000"));
    let mut settings = Settings::from_config(&config)?;
    settings.watch_dir = None;
    let host = Arc::new(Host::builder(config).log_sink(Arc::new(Discard)).build()?);
    let socket = super::bind("127.0.0.1:0".parse().expect("an address"))?;
    let address = socket.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(run(host, socket, settings, async move {
        let _ = stopped.await;
    }));
    let singles: Arc<Vec<Vec<u8>>> = Arc::new((0..1000).map(|i| event_line(i).into_bytes()).collect());
    let batches: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..20)
            .map(|b| (0..BATCH).map(|i| format!("{}\n", event_line(b * BATCH + i))).collect::<String>().into_bytes())
            .collect(),
    );
    let figures = runtime.block_on(async {
        drive(address, &singles, "application/json", 1, WINDOW / 5).await?;
        let single = drive(address, &singles, "application/json", 1, WINDOW).await?;
        drive(address, &batches, "application/x-ndjson", BATCH, WINDOW / 5).await?;
        let batch = drive(address, &batches, "application/x-ndjson", BATCH, WINDOW).await?;
        anyhow::Ok((single, batch))
    });
    let _ = stop.send(());
    runtime.block_on(server)?.map_err(anyhow::Error::from)?;
    let (single, batch) = figures?;
    Ok(json!({
        "listeners": ["sign-in-audit", "metering"],
        "connections": CONNECTIONS,
        "single": single.json(),
        "batch_100": batch.json(),
        "targets": {
            "batch_events_per_second": target(batch.events_per_second.round(), None, Some(50_000.0)),
            "single_p99_ms": target((single.p99_ms * 1000.0).round() / 1000.0, Some(2.0), None),
        },
    }))
}

/// The figures as lines of `tokenwatch bench`'s text output.
pub fn render(http: &Value) -> String {
    let mut s = String::new();
    for (key, what) in [("single", "one event per request"), ("batch_100", "batches of 100")] {
        let f = &http[key];
        s.push_str(&format!(
            "{:34} {} events/s, p50 {} ms, p99 {} ms\n",
            format!("HTTP, {what}"),
            f["events_per_second"],
            f["p50_ms"],
            f["p99_ms"]
        ));
    }
    for (key, what) in [("batch_events_per_second", "HTTP batches, events/s"), ("single_p99_ms", "HTTP single event, p99 ms")] {
        let t = &http["targets"][key];
        let bound = match (t["at_most"].as_f64(), t["at_least"].as_f64()) {
            (Some(m), _) => format!("target <= {m}"),
            (_, Some(m)) => format!("target >= {m}"),
            _ => String::new(),
        };
        s.push_str(&format!("{what:34} {} ({bound}: {})\n", t["value"], if t["met"] == true { "met" } else { "MISSED" }));
    }
    s
}

fn target(value: f64, at_most: Option<f64>, at_least: Option<f64>) -> Value {
    let met = at_most.is_none_or(|m| value <= m) && at_least.is_none_or(|m| value >= m);
    json!({"value": value, "at_most": at_most, "at_least": at_least, "met": met})
}

/// `CONNECTIONS` connections POSTing `bodies` (in turn) for `window`; each answer must be 202.
async fn drive(address: SocketAddr, bodies: &Arc<Vec<Vec<u8>>>, content_type: &'static str, events_per_body: usize, window: Duration) -> anyhow::Result<Figure> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut conn = Connection::open(address).await?;
                let mut latencies = Vec::new();
                let mut i = c;
                while start.elapsed() < window {
                    let sent = Instant::now();
                    let status = conn.post(&bodies[i % bodies.len()], content_type).await?;
                    if status != 202 {
                        bail!("POST /v1/events answered {status}");
                    }
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    i += CONNECTIONS;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let at = |q: usize| latencies.get((latencies.len() * q / 100).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0.0);
    Ok(Figure {
        requests: latencies.len(),
        events_per_second: (latencies.len() * events_per_body) as f64 / elapsed,
        p50_ms: at(50),
        p99_ms: at(99),
    })
}

/// One HTTP/1.1 keep-alive connection.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buf: Vec::with_capacity(4096) })
    }

    /// Send one request and read its whole answer: the status.
    async fn post(&mut self, body: &[u8], content_type: &str) -> anyhow::Result<u16> {
        let head = format!("POST /v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n", body.len());
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body).await?;
        let end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..end]).context("an answer's head is not text")?;
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("an answer without a status")?;
        let length: usize = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse()))
            .context("an answer without Content-Length")??;
        while self.buf.len() < end + length {
            self.fill().await?;
        }
        self.buf.drain(..end + length);
        Ok(status)
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
