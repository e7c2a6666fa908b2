//! Many issuing threads at once: every event is counted exactly once per listener, no
//! deadlock, no lost or doubled delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokenwatch::{Config, Host, LogLevel, LogSink, Outcome};
use tokenwatch_tests::*;

/// Counts guest log lines per listener without keeping them.
#[derive(Default)]
struct CountLines {
    audit: AtomicU64,
    probe: AtomicU64,
    other: AtomicU64,
}

impl LogSink for CountLines {
    fn log(&self, listener: &str, _: LogLevel, _: &str) {
        let c = match listener {
            "audit" => &self.audit,
            "probe" => &self.probe,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn eight_threads_times_ten_thousand_events_through_three_listeners() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 10_000;
    let mut meter = listener("meter", "metering");
    meter.properties.insert("report_every".into(), "1000000".into());
    let config = Config {
        listeners: vec![listener("audit", "sign-in-audit"), meter, probe("probe", "record")],
        ..Config::default()
    };
    let lines = Arc::new(CountLines::default());
    let host = Arc::new(Host::builder(config).log_sink(lines.clone()).build().unwrap());
    let events = [id_token("alice"), access_token("bob", "c1", "openid")];
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let host = host.clone();
            let events = events.clone();
            std::thread::spawn(move || {
                let mut ok = 0u64;
                for i in 0..PER_THREAD {
                    let event = &events[((t + i) % 2) as usize];
                    for d in host.dispatch(event) {
                        match d.outcome {
                            Outcome::Ok => ok += 1,
                            Outcome::Skipped => {}
                            other => panic!("{}: {other:?}", d.listener),
                        }
                    }
                }
                ok
            })
        })
        .collect();
    let ok: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let total = THREADS * PER_THREAD;
    let half = total / 2;
    // audit handles ID tokens, meter access tokens, probe both.
    assert_eq!(ok, half + half + total);
    let status = host.status();
    for s in &status {
        let c = &s.counters;
        assert_eq!(c.events, total, "{}: every event offered once", s.name);
        assert_eq!(c.delivered + c.skipped, total, "{}: {c:?}", s.name);
        assert_eq!(c.traps_total() + c.dropped_busy, 0, "{}: {c:?}", s.name);
        assert_eq!(c.instantiations, 1, "{}: one instance throughout", s.name);
    }
    assert_eq!(status[0].counters.delivered, half);
    assert_eq!(status[1].counters.delivered, half);
    assert_eq!(status[2].counters.delivered, total);
    // One log line per delivered event, plus the probe's init.
    assert_eq!(lines.audit.load(Ordering::Relaxed), half);
    assert_eq!(lines.probe.load(Ordering::Relaxed), total + 1);
}
