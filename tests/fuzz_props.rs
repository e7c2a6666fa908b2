//! The fuzz targets as property tests, so `make test` checks their invariants without a
//! fuzzer: each target's checked-in seeds (`fuzz/seeds/<target>/`, crashing inputs included
//! once found), then a bounded number of mutations of them (flipped, inserted, removed and
//! duplicated bytes, truncations), each through the same check the fuzz target runs
//! (tokenwatch_tests::fuzz_checks). docs/fuzzing.md has the fuzz targets themselves.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokenwatch_tests::fuzz_checks;
use tokenwatch_tests::{guest, root};

/// A target's checked-in seeds.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.expect("a seed").path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| std::fs::read(f).expect("a seed reads")).collect()
}

/// The components `component_bytes` starts from (built by `make guests`; scripts/fuzz.sh
/// seeds the fuzzer with the same ones).
fn components() -> Vec<Vec<u8>> {
    ["unknown-import", "wasi-import", "sign-in-audit", "c-sign-in-audit", "probe"]
        .iter()
        .map(|name| std::fs::read(guest(name)).expect("a bundled guest"))
        .chain(seeds("component_bytes"))
        .collect()
}

/// One edit of a byte string, as a fuzzer's mutators make them.
#[derive(Clone, Debug)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    /// Copy a run of up to 64 bytes to another place.
    Duplicate(prop::sample::Index, prop::sample::Index, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    use prop::sample::Index;
    // Bytes that break parsers more often than others: line ends, NUL, quotes, brackets,
    // a lone UTF-8 lead byte, the BOM's first byte.
    let byte = prop_oneof![any::<u8>(), prop::sample::select(b"\n\r\0\"\\{}[]:,=\xc3\xef\xff".to_vec())];
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Edit::Flip(i, bit)),
        (any::<Index>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), 1u8..32).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), any::<Index>(), 1u8..64).prop_map(|(from, to, n)| Edit::Duplicate(from, to, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len();
        match e {
            Edit::Flip(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
            Edit::Flip(..) => {}
            Edit::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Edit::Remove(i, n) => {
                let at = i.index(len + 1);
                bytes.drain(at..(at + usize::from(*n)).min(len));
            }
            Edit::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Edit::Duplicate(from, to, n) if len > 0 => {
                let from = from.index(len);
                let run = bytes[from..(from + usize::from(*n)).min(len)].to_vec();
                let to = to.index(len + 1);
                bytes.splice(to..to, run);
            }
            Edit::Duplicate(..) => {}
        }
    }
    bytes
}

/// A seed with up to `max_edits` edits, or (one case in eight) random bytes.
fn mutated(seeds: Vec<Vec<u8>>, max_edits: usize) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "no seeds");
    let from_seed = (prop::sample::select(seeds), prop::collection::vec(edit(), 1..=max_edits)).prop_map(|(seed, edits)| apply(seed, &edits));
    prop_oneof![7 => from_seed, 1 => prop::collection::vec(any::<u8>(), 0..256)]
}

/// Run `check` on `input`; a panic is the property's failure (proptest then shrinks).
fn holds(check: fn(&[u8]), input: &[u8]) -> Result<(), TestCaseError> {
    check(input);
    Ok(())
}

/// Every checked-in seed passes its target's check.
#[test]
fn every_seed_passes_its_check() {
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 6] = [
        ("event_line", fuzz_checks::event_line),
        ("event_stream", fuzz_checks::event_stream),
        ("config_toml", fuzz_checks::config_toml),
        ("signing_keys", fuzz_checks::signing_keys),
        ("set_content", fuzz_checks::set_content),
        ("component_bytes", fuzz_checks::component_bytes),
    ];
    for (target, check) in targets {
        let seeds = if target == "component_bytes" { components() } else { seeds(target) };
        assert!(!seeds.is_empty(), "{target} has no seeds");
        for seed in seeds {
            check(&seed);
        }
    }
}

/// What the checks lean on is pinned: where the good line goes, the oracle's verdicts, and
/// a signature check that fails on a bad signature.
#[test]
fn the_stream_oracle_and_the_verifier_are_pinned() {
    let stream = fuzz_checks::Stream::from_fuzz(b"\x10bad\nalso bad");
    assert_eq!(stream.good, 1);
    assert_eq!(stream.lines.len(), 3);
    assert_eq!(fuzz_checks::expect_line(&stream.lines[stream.good]), fuzz_checks::Expected::Event(r#"{"sub":"good-neighbour","aud":"app"}"#.into()));
    assert!(matches!(fuzz_checks::expect_line(b"{\"kind\":\"id_token\",\"claims\":{}}\xff"), fuzz_checks::Expected::Bad(e) if e == "invalid UTF-8 at byte offset 31"));
    let broken = std::panic::catch_unwind(|| fuzz_checks::verify(&serde_json::json!({"alg": "EdDSA", "x": "AAAA"}), b"m", b"s"));
    assert!(broken.is_err(), "a signature that does not verify fails the check");
}

proptest! {
    // Bounded so the whole module runs in seconds in release; PROPTEST_CASES raises every
    // count at once for a longer local run.
    #![proptest_config(ProptestConfig { cases: cases(512), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn event_line_mutations(input in mutated(seeds("event_line"), 6)) {
        holds(fuzz_checks::event_line, &input)?;
    }

    #[test]
    fn config_toml_mutations(input in mutated(seeds("config_toml"), 6)) {
        holds(fuzz_checks::config_toml, &input)?;
    }

    #[test]
    fn set_content_mutations(input in mutated(seeds("set_content"), 6)) {
        holds(fuzz_checks::set_content, &input)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(192), failure_persistence: None, ..ProptestConfig::default() })]

    /// A host (without listeners) is built per case for `replay`.
    #[test]
    fn event_stream_mutations(input in mutated(seeds("event_stream"), 8)) {
        holds(fuzz_checks::event_stream, &input)?;
    }

    /// RSA keys take a few milliseconds to check.
    #[test]
    fn signing_keys_mutations(input in mutated(seeds("signing_keys"), 4)) {
        holds(fuzz_checks::signing_keys, &input)?;
    }
}

proptest! {
    // A component that still parses is compiled: tens of milliseconds each.
    #![proptest_config(ProptestConfig { cases: cases(64), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn component_bytes_mutations(input in mutated(components(), 4)) {
        holds(fuzz_checks::component_bytes, &input)?;
    }
}

/// `default` cases, or `PROPTEST_CASES` when set.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
