//! A listener granted WASI cannot hold the calling thread past its deadline: every wait
//! (`pollable.block`, `poll`) is cut at the deadline of the call it belongs to, in `init`,
//! handlers and `shutdown` alike, and random bytes are capped per call.
//!
//! The property is wall-clock time, so these tests time the calls: a 2 s wait under a 100 ms
//! deadline must return in well under 1 s. (Before the waits were cut, the guest slept its
//! 2 s and the epoch check on its return made it look like an ordinary deadline trap.)

use std::time::{Duration, Instant};
use tokenwatch::LimitsConfig;
use tokenwatch::{ListenerConfig, Outcome, TrapCause};
use tokenwatch_tests::*;

/// The `wasi-env` guest, granted WASI, with `properties` and a 100 ms deadline.
fn wasi_guest(properties: &[(&str, &str)]) -> ListenerConfig {
    let mut l = listener("waiter", "wasi-env");
    l.wasi = true;
    l.limits = LimitsConfig { deadline_ms: Some(100), ..Default::default() };
    for (k, v) in properties {
        l.properties.insert((*k).into(), (*v).into());
    }
    l
}

fn cause(o: &Outcome) -> Option<TrapCause> {
    match o {
        Outcome::Trap { cause, .. } => Some(*cause),
        _ => None,
    }
}

/// Ten times the deadline: far more than any wait cut at the deadline can take, far less
/// than the 2 s the guest asks for.
const BOUND: Duration = Duration::from_secs(1);

/// `f`, which must return within `BOUND`.
fn bounded<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let result = f();
    assert!(started.elapsed() < BOUND, "{what} took {:?}", started.elapsed());
    result
}

/// Two events to the waiter beside a canary: the waiter's outcomes; the canary got both.
fn beside_a_canary(waiter: ListenerConfig) -> (tokenwatch::Host, Vec<Outcome>) {
    let (host, rec) = bounded("building the host", || host(vec![waiter, probe("canary", "record")]));
    let mut outcomes = Vec::new();
    for sub in ["alice", "bob"] {
        let d = bounded("a dispatch", || host.dispatch(&id_token(sub)));
        assert_eq!(d[1].outcome, Outcome::Ok, "{d:?}");
        outcomes.push(d[0].outcome.clone());
    }
    assert_eq!(rec.of("canary"), ["init", "id-token alice", "id-token bob"]);
    assert!(!rec.of("waiter").iter().any(|l| l.starts_with("woke up")), "a wait outlived its deadline: {:?}", rec.of("waiter"));
    (host, outcomes)
}

#[test]
fn a_sleep_in_a_handler_ends_at_the_deadline() {
    for mode in ["sleep", "poll"] {
        let (_, outcomes) = beside_a_canary(wasi_guest(&[("mode", mode), ("sleep_ms", "2000")]));
        assert!(outcomes.iter().all(|o| cause(o) == Some(TrapCause::Deadline)), "{mode}: {outcomes:?}");
    }
}

#[test]
fn a_sleep_in_init_ends_at_the_deadline() {
    let (_, outcomes) = beside_a_canary(wasi_guest(&[("mode", "sleep"), ("sleep_in", "init")]));
    assert!(outcomes.iter().all(|o| cause(o) == Some(TrapCause::Deadline)), "{outcomes:?}");
}

#[test]
fn a_sleep_in_shutdown_ends_at_the_deadline() {
    let (host, outcomes) = beside_a_canary(wasi_guest(&[("mode", "sleep"), ("sleep_in", "shutdown")]));
    assert_eq!(outcomes, [Outcome::Ok, Outcome::Ok]);
    bounded("shutdown", || host.shutdown());
    let counters = &host.status()[0].counters;
    assert_eq!(counters.shutdown_traps, 1, "counted apart from events");
    assert_eq!(counters.traps_total(), 0, "{counters:?}");
}

#[test]
fn a_short_sleep_within_the_deadline_is_served() {
    let (host, rec) = host(vec![wasi_guest(&[("mode", "sleep"), ("sleep_ms", "5")])]);
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok);
    assert_eq!(rec.of("waiter"), ["woke up in handler"]);
}

#[test]
fn random_bytes_are_capped_per_call() {
    let (_, outcomes) = beside_a_canary(wasi_guest(&[("mode", "random")]));
    for o in &outcomes {
        assert!(matches!(o, Outcome::Trap { message, .. } if message.contains("exceeds limit 65536")), "{o:?}");
    }
    let (host, rec) = host(vec![wasi_guest(&[("mode", "random"), ("random_bytes", "32")])]);
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok);
    assert_eq!(rec.of("waiter"), ["random 32"]);
}
