//! Same seed, same bytes: the CSV and the trace of a run are a pure function of the
//! scenario and the seed. Another seed gives other bytes.

use crate::bundled;
use edasim::model::Model;
use edasim::output;
use edasim::sim::{Engine, Options, RunStatus};

/// Runs `model` the way the CLI does (in batches, draining as it goes) and returns
/// the CSV and trace bytes.
fn outputs(model: Model, batch: u64) -> (Vec<u8>, Vec<u8>) {
    let mut e = Engine::new(
        model,
        Options {
            record_rows: true,
            trace: true,
            ..Default::default()
        },
    );
    let names = e.component_names().to_vec();
    let mut csv = output::csv::CsvWriter::new(Vec::new()).expect("csv header");
    let mut trace = Vec::new();
    loop {
        let status = e.run_until(u64::MAX, batch);
        csv.write(&e.drain_rows()).expect("csv rows");
        let recs = e.drain_trace();
        output::trace::write(&mut trace, e.model(), &names, &recs).expect("trace");
        if status == RunStatus::Finished {
            break;
        }
    }
    assert!(!e.trace_overflowed());
    (csv.finish().expect("csv flush"), trace)
}

#[test]
fn same_seed_same_bytes() {
    let (csv_a, trace_a) = outputs(bundled("commit-auto.toml"), 10_000);
    // A different batch size must not change anything either.
    let (csv_b, trace_b) = outputs(bundled("commit-auto.toml"), 7_777);
    assert!(csv_a == csv_b, "CSV differs between identical runs");
    assert!(trace_a == trace_b, "trace differs between identical runs");
    assert!(csv_a.len() > 10_000 && trace_a.len() > 10_000);
}

#[test]
fn same_seed_same_bytes_for_queues() {
    for name in [
        "sqs-visibility-timeout.toml",
        "fifo-vs-standard.toml",
        "sns-fanout.toml",
        "sns-fifo-fanout.toml",
        "order-chain.toml",
        "rabbit-topic-routing.toml",
        "rabbit-overflow.toml",
        "eventbridge-rules-and-replay.toml",
        "broker-shootout.toml",
    ] {
        let (csv_a, trace_a) = outputs(bundled(name), 10_000);
        let (csv_b, trace_b) = outputs(bundled(name), 3_333);
        assert!(csv_a == csv_b, "{name}: CSV differs between identical runs");
        assert!(
            trace_a == trace_b,
            "{name}: trace differs between identical runs"
        );
        assert!(trace_a.len() > 10_000, "{name}");
    }
}

#[test]
fn a_cloned_queue_engine_continues_like_the_original() {
    let mut a = Engine::new(bundled("sqs-visibility-timeout.toml"), Options::default());
    a.run_until(123 * 1_000_000_000, u64::MAX);
    let mut b = a.clone();
    a.run_to_end();
    b.run_to_end();
    assert_eq!(
        format!("{:?}", a.summary().services),
        format!("{:?}", b.summary().services)
    );
}

#[test]
fn another_seed_other_bytes() {
    let (csv_a, trace_a) = outputs(bundled("commit-auto.toml"), 10_000);
    let mut m = bundled("commit-auto.toml");
    m.seed += 1;
    let (csv_b, trace_b) = outputs(m, 10_000);
    assert_ne!(csv_a, csv_b);
    assert_ne!(trace_a, trace_b);
}

#[test]
fn csv_matches_the_golden_file() {
    // The golden file pins the exact bytes across versions; if a deliberate change to
    // the simulation alters it, regenerate it with
    // `cargo run --release -- run scenarios/commit-auto.toml --csv tests/golden/commit-auto.csv --quiet`.
    let (csv, _) = outputs(bundled("commit-auto.toml"), 50_000);
    let golden_path = format!(
        "{}/tests/golden/commit-auto.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let golden = std::fs::read(&golden_path).expect("golden file");
    assert!(csv == golden, "CSV differs from {golden_path}");
}

#[test]
fn csv_is_tidy_and_sorted() {
    let (csv, _) = outputs(bundled("commit-before.toml"), 50_000);
    let text = String::from_utf8(csv).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time_s,component,metric,value"));
    let mut prev: Option<(u64, String, String)> = None;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 4, "{line}");
        let (s, ms) = f[0].split_once('.').expect("fixed decimals");
        assert_eq!(ms.len(), 3, "{line}");
        let t: u64 = s.parse::<u64>().expect("secs") * 1000 + ms.parse::<u64>().expect("ms");
        assert!(f[3] == "inf" || f[3].parse::<f64>().is_ok(), "{line}");
        let key = (t, f[1].to_string(), f[2].to_string());
        if let Some(p) = &prev {
            assert!(p < &key, "rows out of order: {p:?} then {key:?}");
        }
        prev = Some(key);
    }
}

#[test]
fn a_clone_continues_identically() {
    let model = bundled("flash-sale.toml");
    let mut a = Engine::new(model, Options::default());
    a.run_until(110_000_000_000, u64::MAX);
    let mut b = a.clone();
    a.run_to_end();
    b.run_to_end();
    let sa = serde_json::to_string(&a.summary()).expect("json");
    let sb = serde_json::to_string(&b.summary()).expect("json");
    assert_eq!(sa, sb);
}
