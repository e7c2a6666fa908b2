//! Containment: whatever a guest does, the trap is caught with its cause, the host serves
//! the next listener and the next event, and a listener that keeps trapping is quarantined.

use tokenwatch::LimitsConfig;
use tokenwatch::{Health, ListenerConfig, Outcome, TrapCause};
use tokenwatch_tests::*;

/// Run one hostile probe before a healthy one; return the hostile outcome after checking
/// that the healthy listener got the event and the host serves the next one.
fn contain(hostile: ListenerConfig) -> Outcome {
    let (host, rec) = host(vec![hostile, probe("healthy", "record")]);
    let d = host.dispatch(&id_token("alice"));
    assert_eq!(d[1].outcome, Outcome::Ok, "the healthy listener still ran");
    let again = host.dispatch(&id_token("bob"));
    assert_eq!(again[1].outcome, Outcome::Ok);
    assert_eq!(rec.of("healthy"), ["init", "id-token alice", "id-token bob"]);
    let status = &host.status()[0];
    let counted = status.counters.traps_total();
    assert!(counted >= 1, "the trap is counted: {status:?}");
    d[0].outcome.clone()
}

fn cause(outcome: &Outcome) -> TrapCause {
    match outcome {
        Outcome::Trap { cause, .. } => *cause,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn an_infinite_loop_is_stopped_by_fuel() {
    let mut l = probe("looper", "loop");
    l.limits = LimitsConfig { fuel: Some(5_000_000), deadline_ms: Some(10_000), ..Default::default() };
    assert_eq!(cause(&contain(l)), TrapCause::Fuel);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_deadline_when_fuel_is_plentiful() {
    let mut l = probe("looper", "loop");
    // 10^15 fuel is days of work: only the deadline can stop it.
    l.limits = LimitsConfig { fuel: Some(1_000_000_000_000_000), deadline_ms: Some(50), ..Default::default() };
    assert_eq!(cause(&contain(l)), TrapCause::Deadline);
}

/// Every host shares the process's engine and its one epoch thread, which parks while no host
/// lives: deadlines must fire in hosts built side by side and in one built after all others
/// were dropped.
#[test]
fn deadlines_fire_in_every_host_however_many_came_and_went() {
    let looper = || {
        let mut l = probe("looper", "loop");
        // 2e9 fuel is about 100 ms of looping here (`ns_per_fuel`): without a ticking epoch
        // the call ends in a fuel trap, and the test fails instead of hanging.
        l.limits = LimitsConfig { fuel: Some(2_000_000_000), deadline_ms: Some(20), ..Default::default() };
        l
    };
    let deadline_trap = |host: &tokenwatch::Host| cause(&host.dispatch(&id_token("alice"))[0].outcome);
    let (a, _) = host(vec![looper()]);
    let (b, _) = host(vec![looper()]);
    assert_eq!(deadline_trap(&a), TrapCause::Deadline);
    drop(a);
    assert_eq!(deadline_trap(&b), TrapCause::Deadline);
    drop(b);
    let (c, _) = host(vec![looper()]);
    assert_eq!(deadline_trap(&c), TrapCause::Deadline);
}

#[test]
fn a_memory_grow_bomb_hits_the_memory_limit() {
    let mut l = probe("bomb", "memory-bomb");
    l.limits = LimitsConfig { memory_mb: Some(16), ..Default::default() };
    let outcome = contain(l);
    assert_eq!(cause(&outcome), TrapCause::Memory, "{outcome:?}");
}

#[test]
fn a_stack_overflow_is_contained() {
    assert_eq!(cause(&contain(probe("deep", "stack-overflow"))), TrapCause::Stack);
}

#[test]
fn a_panic_is_contained() {
    assert_eq!(cause(&contain(probe("panicky", "panic"))), TrapCause::Panic);
}

#[test]
fn a_panic_is_reported_with_its_message_and_where_it_happened() {
    // The SDK logs the panic at `error` before the trap; the trap record carries that line
    // instead of "wasm `unreachable` instruction executed".
    let (host, rec) = host(vec![probe("panicky", "panic")]);
    let d = host.dispatch(&id_token("alice"));
    let Outcome::Trap { cause: TrapCause::Panic, message } = &d[0].outcome else {
        panic!("{d:?}");
    };
    assert!(message.starts_with("panicked at ") && message.contains("probe/src/lib.rs:") && message.ends_with(": probe panic"), "{message}");
    assert!(rec.of("panicky").contains(message), "{:?}", rec.of("panicky"));
}

#[test]
fn after_a_trap_the_next_event_gets_a_fresh_instance_with_init_again() {
    let (host, rec) = host(vec![probe("flaky", "panic-every-2")]);
    let outcomes: Vec<Outcome> = (0..4)
        .map(|i| host.dispatch(&id_token(&format!("u{i}"))).remove(0).outcome)
        .collect();
    assert_eq!(outcomes[0], Outcome::Ok);
    assert_eq!(cause(&outcomes[1]), TrapCause::Panic);
    assert_eq!(outcomes[2], Outcome::Ok, "a fresh instance serves the next event");
    assert_eq!(cause(&outcomes[3]), TrapCause::Panic);
    let inits = rec.of("flaky").iter().filter(|l| *l == "init").count();
    assert_eq!(inits, 2, "init ran again on the fresh instance: {:?}", rec.of("flaky"));
    let status = &host.status()[0];
    assert_eq!(status.health, Health::Active, "traps not in a row: no quarantine");
    assert_eq!(status.counters.instantiations, 2);
}

#[test]
fn repeated_traps_quarantine_the_listener_and_nothing_else() {
    let mut bad = probe("bad", "panic");
    bad.limits = LimitsConfig { max_consecutive_traps: Some(3), ..Default::default() };
    let (host, rec) = host(vec![bad, probe("good", "record")]);
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let d = host.dispatch(&id_token(&format!("u{i}")));
        assert_eq!(d[1].outcome, Outcome::Ok);
        outcomes.push(d[0].outcome.clone());
    }
    assert!(outcomes[..3].iter().all(|o| matches!(o, Outcome::Trap { .. })), "{outcomes:?}");
    assert_eq!(outcomes[3..], [Outcome::Quarantined, Outcome::Quarantined]);
    let status = &host.status()[0];
    assert!(matches!(&status.health, Health::Quarantined(r) if r.contains("3 traps in a row")), "{status:?}");
    assert_eq!(status.counters.dropped_quarantined, 2);
    assert_eq!(status.counters.traps_of(TrapCause::Panic), 3);
    assert_eq!(status.counters.events, 5);
    assert_eq!(rec.of("good").len(), 6);
}

#[test]
fn a_log_flood_is_capped_in_count_and_size() {
    let (host, rec) = host(vec![probe("noisy", "log-flood")]);
    assert_eq!(host.dispatch(&id_token("alice"))[0].outcome, Outcome::Ok);
    let lines = rec.of("noisy");
    let flood = &lines[1..];
    assert_eq!(flood.len(), tokenwatch::imports::log::MAX_LINES_PER_CALL as usize);
    assert!(flood.iter().all(|l| l.len() <= tokenwatch::imports::log::MAX_MESSAGE_BYTES));
    assert_eq!(host.status()[0].counters.logs_dropped, 1000 - flood.len() as u64);
}

#[test]
fn the_fuel_of_a_trapped_call_is_its_budget_or_marked_as_a_lower_bound() {
    let mut fuel_trap = probe("fuel", "loop");
    fuel_trap.limits = LimitsConfig { fuel: Some(5_000_000), deadline_ms: Some(10_000), ..Default::default() };
    let mut deadline_trap = probe("deadline", "loop");
    deadline_trap.limits = LimitsConfig { fuel: Some(1_000_000_000_000_000), deadline_ms: Some(20), ..Default::default() };
    let mut memory_trap = probe("memory", "memory-bomb");
    memory_trap.limits = LimitsConfig { memory_mb: Some(16), ..Default::default() };
    let (host, _) = host(vec![fuel_trap, deadline_trap, memory_trap, probe("panicky", "panic")]);
    let d = host.dispatch(&id_token("alice"));
    // Out of fuel: exactly the budget.
    assert_eq!((cause(&d[0].outcome), d[0].fuel, d[0].fuel_is_lower_bound()), (TrapCause::Fuel, 5_000_000, false));
    // Stopped inside a loop: what was written back at the last call, said to be a lower bound
    // (it once read `fuel=148` after 22 ms of looping, as if exact).
    assert_eq!(cause(&d[1].outcome), TrapCause::Deadline);
    assert!(d[1].fuel_is_lower_bound(), "{:?}", d[1]);
    assert_eq!(cause(&d[2].outcome), TrapCause::Memory);
    assert!(d[2].fuel_is_lower_bound(), "{:?}", d[2]);
    // A panic writes its fuel back: exact, and more than nothing.
    assert_eq!(cause(&d[3].outcome), TrapCause::Panic);
    assert!(!d[3].fuel_is_lower_bound() && d[3].fuel > 0, "{:?}", d[3]);
}

#[test]
fn replay_marks_fuel_that_is_only_a_lower_bound() {
    use tokenwatch::cli::replay::{replay, BufferedLog, Format};
    let mut looper = probe("looper", "loop");
    looper.limits = LimitsConfig { fuel: Some(1_000_000_000_000_000), deadline_ms: Some(20), ..Default::default() };
    let mut fueled = probe("fueled", "loop");
    fueled.limits = LimitsConfig { fuel: Some(5_000_000), deadline_ms: Some(10_000), ..Default::default() };
    let logs = std::sync::Arc::new(BufferedLog::default());
    let host = tokenwatch::Host::builder(tokenwatch::Config { listeners: vec![looper, fueled], ..Default::default() })
        .log_sink(logs.clone())
        .build()
        .unwrap();
    let input = "{\"kind\":\"id_token\",\"claims\":{\"sub\":\"alice\"}}\n";
    let (mut out, mut err) = (Vec::new(), Vec::new());
    replay(&host, &logs, input.as_bytes(), Format::Json, &mut out, &mut err).unwrap();
    let records: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcome = |name: &str| records.iter().find(|r| r["type"] == "outcome" && r["listener"] == name).cloned().unwrap();
    assert_eq!(outcome("looper")["fuel_exact"], false, "{records:?}");
    assert_eq!(outcome("fueled")["fuel_exact"], true);
    assert_eq!(outcome("fueled")["fuel"], 5_000_000);
}
