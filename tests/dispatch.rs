//! Async dispatch (`mode = "async"`), its queue policies and shutdown drain; listener
//! reloads, enable and disable, and hot swaps under load.

use tokenwatch_tests::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokenwatch::{Config, DispatchConfig, Health, Host, ListenerConfig, LimitsConfig, Mode, OnFull, Outcome, TrapCause};

fn asynchronous(l: ListenerConfig) -> ListenerConfig {
    l.with_mode(Mode::Async)
}

/// A probe that spins until its deadline on every event (trapping with `deadline`).
fn slow(name: &str) -> ListenerConfig {
    asynchronous(probe(name, "loop")).with_limits(LimitsConfig { fuel: Some(u64::MAX / 2), deadline_ms: Some(20), max_consecutive_traps: Some(1_000_000), ..Default::default() })
}

fn with_dispatch(listeners: Vec<ListenerConfig>, dispatch: DispatchConfig) -> (Host, Arc<Recorder>) {
    host_with(Config { listeners, dispatch, ..Config::default() })
}

/// Every offered event ended as exactly one outcome.
fn adds_up(c: &tokenwatch::CounterSnapshot) {
    let ended = c.delivered + c.skipped + c.dropped_disabled + c.dropped_quarantined + c.dropped_busy + c.dropped_queue_full + c.dropped_shutdown + c.traps_total();
    assert_eq!(c.events, ended, "{c:?}");
}

#[test]
fn an_async_listener_gets_every_event_in_order_after_the_dispatch_returned() {
    let (host, rec) = host(vec![asynchronous(probe("later", "record")), probe("now", "record")]);
    for i in 0..300 {
        let d = host.dispatch(&id_token(&format!("user-{i:03}")));
        assert_eq!(d[0].outcome, Outcome::Queued);
        assert_eq!(d[1].outcome, Outcome::Ok);
    }
    host.shutdown();
    let expected: Vec<String> = std::iter::once("init".to_owned())
        .chain((0..300).map(|i| format!("id-token user-{i:03}")))
        .chain(std::iter::once("shutdown".to_owned()))
        .collect();
    assert_eq!(rec.of("later"), expected);
    let c = &host.status()[0].counters;
    assert_eq!((c.events, c.delivered), (300, 300));
    adds_up(c);
}

#[test]
fn a_listener_that_spends_its_deadline_on_every_event_does_not_hold_the_dispatching_thread() {
    let (host, _) = with_dispatch(vec![slow("slow"), probe("now", "record")], DispatchConfig { threads: Some(1), ..Default::default() });
    // 50 events are a second of the slow listener's work (20 ms each); handing them over
    // takes a few microseconds each, so when the loop ends it can have finished few of them.
    for i in 0..50 {
        let d = host.dispatch(&id_token(&format!("u{i}")));
        assert_eq!((d[0].outcome.clone(), d[1].outcome.clone()), (Outcome::Queued, Outcome::Ok));
    }
    let status = &host.status()[0];
    assert!(status.queue_depth > 25, "the events wait in its queue, not in the dispatching thread: {status:?}");
    drop(host);
}

#[test]
fn a_full_queue_drops_the_oldest_for_drop_listeners_and_refuses_for_reject_listeners() {
    let dispatch = DispatchConfig { queue: Some(8), threads: Some(2), drain_ms: Some(60_000), ..Default::default() };
    // 200 ms per event (each spins to its deadline), so the 40 dispatches below end while it
    // is on its first, even on a busy machine: the queue's 8 places are all there is.
    let slow = |name: &str| slow(name).with_limits(LimitsConfig { fuel: Some(u64::MAX / 2), deadline_ms: Some(200), max_consecutive_traps: Some(1_000_000), ..Default::default() });
    // One event first, taken before the others come (else the dispatcher may take 8 at once
    // and free the queue's places in the middle of the 40).
    let first_taken = |host: &Host| {
        assert_eq!(host.dispatch(&id_token("first"))[0].outcome, Outcome::Queued);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while host.status()[0].queue_depth > 0 && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    };
    let (host, _) = with_dispatch(vec![slow("dropper")], dispatch.clone());
    first_taken(&host);
    for i in 0..40 {
        assert_eq!(host.dispatch(&id_token(&format!("u{i}")))[0].outcome, Outcome::Queued);
    }
    host.shutdown();
    let c = &host.status()[0].counters;
    assert_eq!(c.events, 41);
    assert!(c.dropped_queue_full >= 40 - 8 - 2, "{c:?}");
    adds_up(c);

    let (host, _) = with_dispatch(vec![slow("rejecter").with_on_full(OnFull::Reject)], dispatch);
    first_taken(&host);
    let outcomes: Vec<Outcome> = (0..40).map(|i| host.dispatch(&id_token(&format!("u{i}")))[0].outcome.clone()).collect();
    let refused = outcomes.iter().filter(|o| **o == Outcome::QueueFull).count() as u64;
    assert!(refused >= 40 - 8 - 2, "{outcomes:?}");
    host.shutdown();
    let c = &host.status()[0].counters;
    assert_eq!(c.events, 41);
    assert_eq!(c.dropped_queue_full, refused, "refusals are counted, and nothing accepted was dropped");
    adds_up(c);
}

#[test]
fn shutdown_drains_until_its_deadline_and_counts_the_rest_as_dropped() {
    let (host, rec) = with_dispatch(vec![slow("slow"), asynchronous(probe("quick", "record"))], DispatchConfig { threads: Some(2), drain_ms: Some(200), ..Default::default() });
    for i in 0..100 {
        host.dispatch(&id_token(&format!("u{i}")));
    }
    host.shutdown();
    let slow = &host.status()[0].counters;
    assert_eq!(slow.events, 100);
    assert!(slow.dropped_shutdown > 0, "100 events of 20 ms cannot finish in 200 ms: {slow:?}");
    adds_up(slow);
    let quick = &host.status()[1].counters;
    assert_eq!((quick.events, quick.delivered), (100, 100), "on a dispatcher of its own, not held up by the slow one");
    assert_eq!(rec.of("quick").iter().filter(|l| *l == "shutdown").count(), 1);
}

#[test]
fn a_dispatch_after_shutdown_is_disabled_and_a_second_shutdown_waits_for_the_first() {
    let (host, rec) = host(vec![asynchronous(probe("a", "record")), probe("s", "record")]);
    let host = Arc::new(host);
    let other = {
        let host = host.clone();
        std::thread::spawn(move || host.shutdown())
    };
    host.shutdown();
    // Whichever call came second returned only after the first had finished.
    assert_eq!(rec.of("a").last().map(String::as_str), Some("shutdown"));
    assert_eq!(rec.of("s").last().map(String::as_str), Some("shutdown"));
    other.join().unwrap();
    let d = host.dispatch(&id_token("late"));
    assert_eq!((d[0].outcome.clone(), d[1].outcome.clone()), (Outcome::Disabled, Outcome::Disabled));
    assert_eq!(rec.of("a").iter().filter(|l| *l == "shutdown").count(), 1);
}

#[test]
fn dropping_the_host_shuts_it_down_off_the_dropping_thread() {
    let (host, rec) = host(vec![probe("p", "record")]);
    host.dispatch(&id_token("alice"));
    drop(host);
    // The shutdown runs on a thread of its own; wait for it (bounded).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !rec.of("p").contains(&"shutdown".to_owned()) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(rec.of("p"), ["init", "id-token alice", "shutdown"]);
}

#[test]
fn status_does_not_wait_for_a_guest_call() {
    let spinning = probe("spin", "loop").with_limits(LimitsConfig { deadline_ms: Some(1_000), ..Default::default() });
    let (host, _) = host(vec![spinning]);
    let host = Arc::new(host);
    let caller = {
        let host = host.clone();
        std::thread::spawn(move || host.dispatch(&id_token("alice")))
    };
    // Wait until the call is under way (its instance is in use), then read the status.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let status = host.status();
    let waited = started.elapsed();
    let d = caller.join().unwrap();
    assert!(tokenwatch_cause(&d[0].outcome).is_some(), "the spin ends in a trap (fuel or deadline): {d:?}");
    assert!(waited < std::time::Duration::from_millis(500), "status waited {waited:?} for a 1 s call");
    assert_eq!(status[0].name, "spin");
}

fn tokenwatch_cause(o: &Outcome) -> Option<TrapCause> {
    match o {
        Outcome::Trap { cause, .. } => Some(*cause),
        _ => None,
    }
}

#[test]
fn enable_and_disable_by_name_and_enable_releases_a_quarantine() {
    let boom = probe("boom", "panic").with_limits(LimitsConfig { max_consecutive_traps: Some(2), ..Default::default() });
    let (host, _) = host(vec![boom, probe("ok", "record")]);
    for _ in 0..3 {
        host.dispatch(&id_token("alice"));
    }
    assert!(matches!(host.status()[0].health, Health::Quarantined(_)));
    let status = host.set_enabled("boom", true).unwrap();
    assert_eq!(status.health, Health::Active, "started afresh");
    assert_eq!(status.consecutive_traps, 0);
    let status = host.set_enabled("ok", false).unwrap();
    assert_eq!(status.health, Health::Disabled("disabled by the operator".into()));
    assert_eq!(host.dispatch(&id_token("bob"))[1].outcome, Outcome::Disabled);
    assert!(matches!(host.set_enabled("nope", true), Err(tokenwatch::ReloadError::UnknownListener(_))));
}

#[test]
fn a_reload_that_fails_leaves_the_old_version_serving() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("l.wasm");
    std::fs::copy(guest("probe"), &module).unwrap();
    let config = ListenerConfig::new(&module).with_property("mode", "record");
    let (host, rec) = host(vec![config.clone()]);
    type Breaks<'a> = [(&'a str, Box<dyn Fn() + 'a>); 3];
    let failures: Breaks = [
        ("bad bytes", Box::new(|| std::fs::write(&module, b"\0asm\x0d\0\x01\0garbage").unwrap())),
        ("forbidden import", Box::new(|| std::fs::copy(guest("wasi-env"), &module).map(|_| ()).unwrap())),
        ("init fails", Box::new(|| std::fs::copy(guest("probe"), &module).map(|_| ()).unwrap())),
    ];
    for (what, break_it) in failures {
        break_it();
        let attempt = match what {
            "init fails" => host.load_listener(config.clone().with_property("mode", "init-fail")),
            _ => host.reload("l"),
        };
        assert!(attempt.is_err(), "{what}: {attempt:?}");
        let status = &host.status()[0];
        assert_eq!((status.version, &status.health), (1, &Health::Active), "{what}");
        assert!(status.reload_error.is_some(), "{what}: the reason is in the status");
        rec.clear();
        assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok, "{what}: the old version serves");
        assert_eq!(rec.of("l"), ["id-token alice"], "{what}");
    }
    // A good module releases the error.
    let status = host.reload("l").unwrap();
    assert_eq!((status.version, status.reload_error), (2, None));
}

/// 100,000 events from two threads while the `metering` listener is swapped 20 times; the
/// counts the guest reported (through `metrics`) over all versions add up to the events.
fn swaps_under_load(mode: Mode) {
    let metering = move |every: &str| listener("metering", "metering").with_property("report_every", every).with_mode(mode);
    // A queue that holds every event: this test is about swaps, not about a full queue.
    let (host, _) = with_dispatch(vec![metering("1000")], DispatchConfig { queue: Some(200_000), ..Default::default() });
    let host = Arc::new(host);
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..2)
        .map(|t| {
            let (host, sent) = (host.clone(), sent.clone());
            std::thread::spawn(move || {
                for i in 0..50_000 {
                    let d = host.dispatch(&access_token(&format!("u{t}-{i}"), "app", "openid"));
                    assert!(matches!(d[0].outcome, Outcome::Ok | Outcome::Queued), "{d:?}");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let swapper = {
        let (host, done) = (host.clone(), done.clone());
        std::thread::spawn(move || {
            for n in 0..20 {
                let status = host.load_listener(metering(if n % 2 == 0 { "999" } else { "1000" })).unwrap();
                assert_eq!(status.version, n + 2);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    for s in senders {
        s.join().unwrap();
    }
    swapper.join().unwrap();
    host.shutdown();
    assert_eq!(sent.load(Ordering::Relaxed), 100_000);
    let status = &host.status()[0];
    assert_eq!(status.version, 21);
    assert_eq!((status.counters.events, status.counters.delivered), (100_000, 100_000), "{:?}", status.counters);
    let metrics = host.metrics_text();
    let counted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("guest_access_tokens_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, 100_000, "the guest's own counts over 21 versions:\n{metrics}");
}

#[test]
fn a_sync_listener_swapped_20_times_under_load_counts_every_event_once() {
    swaps_under_load(Mode::Sync);
}

#[test]
fn an_async_listener_swapped_20_times_under_load_counts_every_event_once() {
    swaps_under_load(Mode::Async);
}

#[test]
fn a_log_sink_runs_after_the_call_so_it_is_not_charged_to_the_guest_and_may_call_the_host() {
    /// On every guest line: sleeps past the listener's deadline, reads the host's status,
    /// and dispatches one more event to the same listener (once).
    #[derive(Default)]
    struct Meddler(std::sync::OnceLock<std::sync::Weak<Host>>, std::sync::Mutex<Vec<String>>);
    impl tokenwatch::LogSink for Meddler {
        fn log(&self, _: &str, _: tokenwatch::LogLevel, message: &str) {
            std::thread::sleep(std::time::Duration::from_millis(120));
            let Some(host) = self.0.get().and_then(std::sync::Weak::upgrade) else { return };
            let statuses = host.status();
            self.1.lock().unwrap().push(format!("{message} ({} listener)", statuses.len()));
            if message == "id-token alice" {
                let outcome = &host.dispatch(&id_token("bob"))[0].outcome;
                self.1.lock().unwrap().push(format!("nested: {outcome:?}"));
            }
        }
    }
    let sink = Arc::new(Meddler::default());
    let slow_sink_fast_guest = probe("p", "record").with_limits(LimitsConfig { deadline_ms: Some(50), ..Default::default() });
    let host = Arc::new(Host::builder(Config::default().with_listener(slow_sink_fast_guest)).log_sink(sink.clone()).build().unwrap());
    sink.0.set(Arc::downgrade(&host)).unwrap();
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok, "the sink's 120 ms are not the guest's 50 ms");
    // The nested dispatch found the listener free (not `Busy` after waiting out a deadline),
    // and its line is emitted in order, after the line that caused it.
    assert_eq!(
        *sink.1.lock().unwrap(),
        ["id-token alice (1 listener)", "nested: Ok", "id-token bob (1 listener)"]
    );
    assert_eq!(host.status()[0].counters.traps_total(), 0);
    host.shutdown();
}

/// An async probe that records, with room to spin on a `spin-*` subject until a 50 ms
/// deadline (fuel is no limit), so the events pushed meanwhile wait in its queue and are
/// handed over in batches.
fn batching(name: &str) -> ListenerConfig {
    asynchronous(probe(name, "record")).with_limits(LimitsConfig { fuel: Some(u64::MAX / 2), deadline_ms: Some(50), ..Default::default() })
}

#[test]
fn a_trap_at_event_k_of_a_batch_loses_only_event_k() {
    let (host, rec) = with_dispatch(vec![batching("batched")], DispatchConfig { threads: Some(1), batch: Some(16), ..Default::default() });
    // The first event holds the dispatcher for the deadline: the 50 after it are queued by
    // then, and go 16 per call.
    host.dispatch(&id_token("spin-gate"));
    let subjects: Vec<String> = (0..50).map(|i| if i == 20 { "panic-20".to_owned() } else { format!("user-{i:02}") }).collect();
    for sub in &subjects {
        assert_eq!(host.dispatch(&id_token(sub))[0].outcome, Outcome::Queued);
    }
    host.shutdown();
    // A fresh instance (`init`) after each trap; every event but the trapping ones, in order.
    let expected: Vec<String> = ["init", "init"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..20).map(|i| format!("id-token user-{i:02}")))
        .chain(std::iter::once("init".to_owned()))
        .chain((21..50).map(|i| format!("id-token user-{i:02}")))
        .chain(std::iter::once("shutdown".to_owned()))
        .collect();
    // (The probe's panic hook logs the panic's message before the trap.)
    let lines: Vec<String> = rec.of("batched").into_iter().filter(|l| !l.starts_with("panicked at")).collect();
    assert_eq!(lines, expected);
    let c = &host.status()[0].counters;
    assert_eq!((c.events, c.delivered), (51, 49), "{c:?}");
    assert_eq!((c.traps_of(TrapCause::Deadline), c.traps_of(TrapCause::Panic)), (1, 1), "{c:?}");
    assert!(c.batch_calls >= 4, "50 queued events take at least 4 calls of 16: {c:?}");
    adds_up(c);
}

#[test]
fn each_event_of_a_batch_has_its_own_fuel_budget() {
    // What one recorded event costs, measured on a sync copy.
    let (sync, _) = host(vec![probe("measure", "record")]);
    for i in 0..20 {
        sync.dispatch(&id_token(&format!("user-{i:02}")));
    }
    let c = &sync.status()[0].counters;
    let per_event = c.fuel / c.delivered;
    drop(sync);
    // A budget of 3 events' fuel: a batch of 16 under one budget would run out at its 4th.
    let fuel = LimitsConfig { fuel: Some(per_event * 3), deadline_ms: Some(50), ..Default::default() };
    let (host, rec) = with_dispatch(
        vec![batching("gate"), asynchronous(probe("budgeted", "record")).with_limits(fuel)],
        DispatchConfig { threads: Some(1), batch: Some(16), ..Default::default() },
    );
    // `gate` spins on the first event, on the same dispatcher: the others queue meanwhile.
    host.dispatch(&id_token("spin-gate"));
    for i in 0..48 {
        host.dispatch(&id_token(&format!("user-{i:02}")));
    }
    host.shutdown();
    let c = &host.status()[1].counters;
    assert_eq!(c.traps_total(), 1, "only the spinning event runs out: {c:?}");
    assert_eq!(c.delivered, 48, "{c:?}");
    assert!(c.batch_calls >= 3, "{c:?}");
    assert_eq!(rec.of("budgeted").iter().filter(|l| l.starts_with("id-token user-")).count(), 48);
    adds_up(c);
}
