//! The fuzzer: every bundled scenario, its text mutated (lines deleted, duplicated or
//! replaced; numbers flipped to 0, -1, huge or 1e308; durations to "0s", "1ns" or
//! "36500d"; strings swapped), must load without a panic; when it validates, its
//! capacity analysis must not panic either, and a short run (simulated time and events
//! capped) must not panic and must conserve messages.
//!
//! `PROPTEST_CASES` raises the number of cases for a deeper local search; by default
//! the seed is fixed, so `cargo test` checks the same cases everywhere.

use edasim::sim::{Engine, Options};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases by default: a few seconds in all.
const CASES: u32 = 300;
/// Simulated time a valid mutant runs for at most, ns.
const RUN_NS: u64 = 2_000_000_000;
/// Events a valid mutant runs for at most.
const RUN_EVENTS: u64 = 50_000;

#[allow(clippy::disallowed_methods)] // a test, not the sans-IO core
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    Config {
        failure_persistence: None,
        rng_seed: match std::env::var("PROPTEST_RNG_SEED") {
            Ok(_) => Config::default().rng_seed,
            Err(_) => proptest::test_runner::RngSeed::Fixed(0x00f0_22ed),
        },
        max_shrink_iters: 256,
        ..Config::with_cases(cases)
    }
}

/// The bundled scenarios, sorted, as (name, text).
fn bundled() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("reading a scenario");
            (p.display().to_string(), text)
        })
        .collect()
}

/// One change to a scenario's text; indices are taken modulo what they index.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Replace(usize, usize),
    Number(usize, usize, usize),
    Duration(usize, usize),
    Swap(usize, usize),
}

const NUMBERS: [&str; 7] = [
    "0",
    "-1",
    "4294967296",
    "1e308",
    "-1e308",
    "99999999999999999999999",
    "0.5",
];
const DURATIONS: [&str; 5] = [
    "\"0s\"",
    "\"1ns\"",
    "\"36500d\"",
    "\"-1s\"",
    "\"99999999d\"",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        (any::<usize>(), any::<usize>(), 0..NUMBERS.len())
            .prop_map(|(a, b, c)| Mutation::Number(a, b, c)),
        (any::<usize>(), 0..DURATIONS.len()).prop_map(|(a, b)| Mutation::Duration(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
    ]
}

/// Byte ranges of the numbers in `line` (digits, with a sign, a point or an exponent).
fn numbers(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        if b[i] == b'"' {
            in_string = !in_string;
        }
        if !in_string && b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'_')) {
                i += 1;
            }
            out.push((start, i));
            continue;
        }
        i += 1;
    }
    out
}

/// Byte ranges of the quoted strings in `line`, quotes included.
fn strings(line: &str) -> Vec<(usize, usize)> {
    let quotes: Vec<usize> = line.match_indices('"').map(|(i, _)| i).collect();
    quotes
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1] + 1))
        .collect()
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in muts {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *m {
            Mutation::Delete(a) => {
                lines.remove(a % n);
            }
            Mutation::Duplicate(a) => {
                let l = lines[a % n].clone();
                lines.insert(a % n, l);
            }
            Mutation::Replace(a, b) => lines[a % n] = lines[b % n].clone(),
            Mutation::Number(a, b, c) => {
                let l = &mut lines[a % n];
                let found = numbers(l);
                if !found.is_empty() {
                    let (s, e) = found[b % found.len()];
                    l.replace_range(s..e, NUMBERS[c]);
                }
            }
            Mutation::Duration(a, b) => {
                // The a-th line holding a duration string, if any.
                let with: Vec<usize> = (0..n)
                    .filter(|&i| {
                        strings(&lines[i]).iter().any(|&(s, e)| {
                            edasim::time::parse_duration(&lines[i][s + 1..e - 1]).is_ok()
                        })
                    })
                    .collect();
                if !with.is_empty() {
                    let l = &mut lines[with[a % with.len()]];
                    if let Some(&(s, e)) = strings(l)
                        .iter()
                        .find(|&&(s, e)| edasim::time::parse_duration(&l[s + 1..e - 1]).is_ok())
                    {
                        l.replace_range(s..e, DURATIONS[b]);
                    }
                }
            }
            Mutation::Swap(a, b) => {
                let all: Vec<(usize, usize, usize)> = (0..n)
                    .flat_map(|i| strings(&lines[i]).into_iter().map(move |(s, e)| (i, s, e)))
                    .collect();
                if all.len() >= 2 {
                    let (li, ls, le) = all[a % all.len()];
                    let (ri, rs, re) = all[b % all.len()];
                    let right = lines[ri][rs..re].to_string();
                    lines[li].replace_range(ls..le, &right);
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_scenarios_never_panic_and_valid_ones_conserve(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..=4),
    ) {
        let files = bundled();
        let (name, text) = &files[pick % files.len()];
        let text = apply(text, &muts);
        let model = match edasim::scenario::load_str(name, &text) {
            Ok(m) => m,
            Err(e) => {
                // Every problem has a message; rendering it does not panic either.
                prop_assert!(!e.problems.is_empty());
                let _ = e.render(100, false);
                return Ok(());
            }
        };
        let analysis = edasim::capacity::analyse(&model);
        let _ = edasim::capacity::text(&model, &analysis);
        let _ = edasim::capacity::check_json(&model, &analysis);
        let mut e = Engine::new(model, Options { record_rows: true, trace: true, ..Options::default() });
        let end = e.model().duration.0.min(RUN_NS);
        let _ = e.run_until(end, RUN_EVENTS);
        let _ = e.drain_trace();
        let _ = e.drain_rows();
        for c in e.conservation() {
            prop_assert!(c.holds(), "{name} mutated by {muts:?}: {c:?}\n--- scenario ---\n{text}");
        }
    }
}

#[test]
fn the_mutations_change_what_they_say() {
    let text = "a = 1\nb = \"5s\"\nc = \"x\"\n";
    assert_eq!(
        apply(text, &[Mutation::Delete(0)]),
        "b = \"5s\"\nc = \"x\"\n"
    );
    assert_eq!(
        apply(text, &[Mutation::Number(0, 0, 3)]),
        "a = 1e308\nb = \"5s\"\nc = \"x\"\n"
    );
    assert_eq!(
        apply(text, &[Mutation::Duration(0, 1)]),
        "a = 1\nb = \"1ns\"\nc = \"x\"\n"
    );
    assert_eq!(
        apply(text, &[Mutation::Swap(0, 1)]),
        "a = 1\nb = \"x\"\nc = \"x\"\n"
    );
    assert_eq!(
        numbers("x = { per_second = 200, at = \"60s\" }"),
        vec![(19, 22)]
    );
}
