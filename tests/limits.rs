//! The limits hold against every Wasm feature and every grow: 32- and 64-bit memories,
//! several memories, grows of any size, the module's own maximum, limit values at the edge;
//! and what can be known at load is refused at load, with the limit it breaks.

use tokenwatch::LimitsConfig;
use tokenwatch::{Config, ListenerConfig, Outcome, TrapCause};
use tokenwatch_tests::*;

/// Deliver two events to `hostile` beside a healthy listener; check the healthy one got both
/// and return the hostile one's two outcomes.
fn beside_a_canary(hostile: ListenerConfig) -> Vec<Outcome> {
    let (host, rec) = host(vec![hostile, probe("canary", "record")]);
    let mut outcomes = Vec::new();
    for sub in ["alice", "bob"] {
        let d = host.dispatch(&id_token(sub));
        assert_eq!(d[1].outcome, Outcome::Ok, "the canary ran: {d:?}");
        outcomes.push(d[0].outcome.clone());
    }
    assert_eq!(rec.of("canary"), ["init", "id-token alice", "id-token bob"]);
    outcomes
}

fn memory_mb(l: &mut ListenerConfig, mb: u64) {
    l.limits = LimitsConfig { memory_mb: Some(mb), ..Default::default() };
}

fn is_memory_trap(o: &Outcome) -> bool {
    matches!(o, Outcome::Trap { cause: TrapCause::Memory, .. })
}

#[test]
fn grows_of_any_size_are_held_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // One page at start, a 16 MiB limit (256 pages): up to 255 more pages fit. A grow past
    // what a 32-bit memory can address fails with -1, as the spec says; one within it but over
    // the limit traps. Either way the guest then checks it holds no more than 256 pages.
    enum Expect { Fits, Trap, MinusOne }
    for (delta, expect) in [
        (1u32, Expect::Fits),
        (255, Expect::Fits),
        (256, Expect::Trap),
        (0x7fff, Expect::Trap),
        (0xffff, Expect::Trap),      // exactly 4 GiB in all
        (0x1_0000, Expect::MinusOne), // past 4 GiB
        (0xffff_ffff, Expect::MinusOne), // -1 as i32: the largest request there is
    ] {
        let guest = WatListener::with_handler(&format!(
            "(drop (memory.grow (i32.const {})))
             (if (i32.gt_u (memory.size) (i32.const 256)) (then unreachable))",
            delta as i32
        ));
        let mut l = guest.listener(dir.path(), "grower");
        memory_mb(&mut l, 16);
        let outcomes = beside_a_canary(l);
        match expect {
            // The instance keeps its memory: the second event's grow may no longer fit.
            Expect::Fits => assert_eq!(outcomes[0], Outcome::Ok, "grow by {delta} pages: {outcomes:?}"),
            Expect::Trap => assert!(outcomes.iter().all(is_memory_trap), "grow by {delta} pages: {outcomes:?}"),
            Expect::MinusOne => assert_eq!(outcomes, [Outcome::Ok, Outcome::Ok], "grow by {delta} pages"),
        }
    }
}

#[test]
fn many_small_grows_add_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let guest = WatListener::with_handler(
        "(local $n i32) (local.set $n (i32.const 300))
         (loop $again
           (drop (memory.grow (i32.const 1)))
           (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
           (br_if $again))",
    );
    let mut l = guest.listener(dir.path(), "creeper");
    memory_mb(&mut l, 16);
    let outcomes = beside_a_canary(l);
    assert!(outcomes.iter().all(is_memory_trap), "{outcomes:?}");
}

/// A second core module with its own memory and a function that grows it.
fn second_memory() -> WatListener {
    WatListener {
        before: r#"(core module $m2
              (memory 1)
              (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
            (core instance $i2 (instantiate $m2))"#
            .into(),
        imports: r#"(import "m2" "grow" (func $grow2 (param i32) (result i32)))"#.into(),
        with: r#"(with "m2" (instance $i2))"#.into(),
        // 100 pages (6.25 MiB) in each memory: 12.6 MiB in all with the first pages.
        handler: "(drop (memory.grow (i32.const 100))) (drop (call $grow2 (i32.const 100)))".into(),
        ..Default::default()
    }
}

#[test]
fn several_memories_share_one_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut over = second_memory().listener(dir.path(), "two-memories");
    memory_mb(&mut over, 10);
    assert!(beside_a_canary(over).iter().all(is_memory_trap));
    let mut within = second_memory().listener(dir.path(), "two-memories");
    memory_mb(&mut within, 16);
    assert_eq!(beside_a_canary(within)[0], Outcome::Ok);
}

#[test]
fn a_grow_past_the_modules_own_maximum_fails_gracefully_and_costs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A memory of at most 2 pages; the guest asks for 2 more a thousand times, checks for the
    // -1 the Wasm spec promises, and carries on. Refused grows used to be counted: 1000 × 128
    // KiB went over the 4 MiB limit and the well-behaved guest was killed.
    let guest = WatListener {
        memory: "(memory (export \"memory\") 1 2)".into(),
        handler: "(local $n i32) (local.set $n (i32.const 1000))
            (loop $again
              (if (i32.ne (memory.grow (i32.const 2)) (i32.const -1)) (then unreachable))
              (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
              (br_if $again))"
            .into(),
        ..Default::default()
    };
    let mut l = guest.listener(dir.path(), "polite");
    memory_mb(&mut l, 4);
    assert_eq!(beside_a_canary(l), [Outcome::Ok, Outcome::Ok]);
}

#[test]
fn proposals_the_host_does_not_need_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (module, words) in [
        // A 64-bit memory in a module of its own, where the canonical ABI never looks.
        ("(core module $x (memory i64 1)) (core instance (instantiate $x))", "memory64"),
        ("(core module $x (memory 1) (memory 1)) (core instance (instantiate $x))", "multi-memory"),
        ("(core module $x (memory 1 1 shared)) (core instance (instantiate $x))", "threads"),
    ] {
        let guest = WatListener { before: module.into(), ..Default::default() };
        let e = build_error(vec![guest.listener(dir.path(), "proposal")]);
        assert!(e.contains(words) && e.contains("tokenwatch turns off"), "{module}: {e}");
    }
}

#[test]
fn limit_values_that_would_overflow_are_config_errors() {
    for (toml, key) in [
        ("[limits]\nmemory_mb = 17592186044416\n", "memory_mb"), // 2^44: wrapped to 0 bytes
        ("[limits]\nmemory_mb = 4097\n", "memory_mb"),
        ("[limits]\ndeadline_ms = 18446744073709551615\n", "deadline_ms"),
        ("[limits]\ntable_elements = 10000001\n", "table_elements"),
        ("[limits]\nmodule_mb = 1025\n", "module_mb"),
    ] {
        let e = Config::from_toml(toml, std::path::Path::new(".")).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("over the maximum"), "{toml}: {e}");
    }
    let ok = Config::from_toml("[limits]\nmemory_mb = 4096\n", std::path::Path::new(".")).unwrap();
    assert_eq!(ok.limits.memory_mb, Some(4096));
}

#[test]
fn static_needs_over_the_limits_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let load = |guest: WatListener| build_error(vec![guest.listener(dir.path(), "greedy")]);
    // An initial memory over `memory_mb`.
    let e = load(WatListener { memory: "(memory (export \"memory\") 1025)".into(), ..Default::default() });
    assert!(e.contains("at start, over the memory limit of 64 MiB (`memory_mb`)"), "{e}");
    // An initial table over `table_elements`.
    let e = load(WatListener {
        before: "(core module $t (table 200000 funcref)) (core instance (instantiate $t))".into(),
        ..Default::default()
    });
    assert!(e.contains("table of 200000 elements") && e.contains("table_elements"), "{e}");
    // More memories, tables and core instances than one instance may have.
    let many = |module: &str, n: usize| WatListener {
        before: format!("(core module $x {module}) {}", "(core instance (instantiate $x))".repeat(n)),
        ..Default::default()
    };
    let e = load(many("(memory 1)", 16));
    assert!(e.contains("17 linear memories") && e.contains("limit of 16"), "{e}");
    let e = load(WatListener {
        before: format!("(core module $x {}) (core instance (instantiate $x))", "(table 1 funcref)".repeat(65)),
        ..Default::default()
    });
    assert!(e.contains("65 tables") && e.contains("limit of 64"), "{e}");
    let e = load(many("", 64));
    assert!(e.contains("65 core instances") && e.contains("limit of 64"), "{e}");
}

#[test]
fn export_signatures_are_checked_at_load_and_named() {
    let dir = tempfile::tempdir().unwrap();
    // `init` returning a bool: the same core signature, another WIT type.
    let bad_init = WatListener { init_result: "(result bool)".into(), ..Default::default() };
    let e = build_error(vec![bad_init.listener(dir.path(), "bad-init")]);
    assert!(e.contains("tokenwatch:listener/lifecycle@0.1.0#init has the wrong signature"), "{e}");
    assert!(e.contains("expected `func(properties: list<tuple<string, string>>) -> result<_, string>`"), "{e}");
    assert!(e.contains("found `func(properties: list<tuple<string, string>>) -> bool`"), "{e}");
    // The access-token handler's signature exported as the ID-token handler.
    let bad_handler = WatListener {
        handler_params: "(param \"claims\" (borrow {claims})) (param \"context\" (borrow {context}))".into(),
        handler_core_params: "(param i32 i32)".into(),
        context_local: 1,
        ..Default::default()
    };
    let e = build_error(vec![bad_handler.listener(dir.path(), "bad-handler")]);
    assert!(e.contains("id-token-listener@0.1.0#id-token-issued has the wrong signature"), "{e}");
    assert!(e.contains("found `func(claims: borrow<claims>, context: borrow<event-context>)`"), "{e}");
    // The template itself is a working listener.
    let good = WatListener::default().listener(dir.path(), "good");
    assert_eq!(beside_a_canary(good), [Outcome::Ok, Outcome::Ok]);
}

#[test]
fn a_module_over_the_size_limit_is_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.wasm");
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.resize(2 << 20, 0);
    std::fs::write(&path, bytes).unwrap();
    let mut l = ListenerConfig::new(&path);
    l.limits = LimitsConfig { module_mb: Some(1), ..Default::default() };
    let e = build_error(vec![l]);
    assert!(e.contains("2 MiB, over the module size limit of 1 MiB"), "{e}");
}

#[test]
fn what_loading_cost_is_in_the_status() {
    let (host, _) = host(vec![listener("audit", "sign-in-audit")]);
    let status = &host.status()[0];
    assert_eq!(status.module_bytes, std::fs::metadata(guest("sign-in-audit")).unwrap().len());
}
