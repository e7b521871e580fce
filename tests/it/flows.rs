//! End-to-end latency per flow, checked against the trace: in a three-service chain,
//! for every acknowledgement by a service behind another, the time since the first
//! produce of its correlation id; the engine's count, mean and maximum must equal those
//! computed from the trace exactly, and its percentiles within the HDR histogram's 3
//! significant digits.

use std::collections::BTreeMap;

use edasim::sim::trace::TraceKind;
use edasim::sim::{Engine, Options};

use crate::run_traced;

fn chain() -> edasim::model::Model {
    let path = format!(
        "{}/tests/scenarios/order-chain.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    edasim::scenario::load_str("tests/scenarios/order-chain.toml", &text)
        .unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

/// The `q` quantile of sorted `v` as HDR's `value_at_quantile` picks it (the value at
/// rank ceil(q * n)).
fn quantile(v: &[u64], q: f64) -> u64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[test]
fn e2e_latency_of_a_three_service_chain_matches_the_trace() {
    let (engine, trace) = run_traced(chain());
    let names = engine.component_names().to_vec();
    let mut first_produce: BTreeMap<u64, u64> = BTreeMap::new();
    let mut per_service: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &trace {
        match r.kind {
            TraceKind::Produce => {
                first_produce.entry(r.msg).or_insert(r.t);
            }
            TraceKind::Ack => {
                let origin = first_produce[&r.msg];
                per_service
                    .entry(names[r.component as usize].clone())
                    .or_default()
                    .push(r.t - origin);
            }
            _ => {}
        }
    }
    let flows = engine.flows();
    let got: Vec<(String, bool)> = flows.iter().map(|f| (f.component(), f.sink)).collect();
    assert_eq!(
        got,
        [
            ("checkout→shipping".to_string(), false),
            ("checkout→email".to_string(), true)
        ],
        "payment is the first hop, not a flow"
    );
    for f in &flows {
        let mut lat = per_service.remove(&f.consumer).expect("acks in the trace");
        lat.sort_unstable();
        assert!(lat.len() > 5_000, "{}: {} acks", f.consumer, lat.len());
        assert_eq!(f.processed, lat.len() as u64, "{}", f.consumer);
        let mean_ms = lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64 / 1e6;
        assert!(
            (f.latency_mean_ms - mean_ms).abs() < 1e-9 * mean_ms,
            "{}: mean {} against {mean_ms}",
            f.consumer,
            f.latency_mean_ms
        );
        let max_ms = *lat.last().unwrap() as f64 / 1e6;
        assert_eq!(f.latency_max_ms, max_ms, "{}: max", f.consumer);
        for (q, v) in [
            (0.50, f.latency_p50_ms),
            (0.95, f.latency_p95_ms),
            (0.99, f.latency_p99_ms),
        ] {
            let exact = quantile(&lat, q) as f64 / 1e6;
            assert!(
                (v - exact).abs() <= exact * 2e-3,
                "{}: p{} {v} against {exact}",
                f.consumer,
                q * 100.0
            );
        }
        // End to end is at least the last hop.
        let svc = engine
            .summary()
            .services
            .into_iter()
            .find(|s| s.name == f.consumer)
            .unwrap();
        assert!(f.latency_mean_ms > svc.latency_mean_ms);
    }
}

#[test]
fn flows_reach_the_summary_json_and_the_csv_rows() {
    let mut e = Engine::new(
        chain(),
        Options {
            record_rows: true,
            ..Default::default()
        },
    );
    e.run_to_end();
    let rows = e.drain_rows();
    for comp in ["checkout→shipping", "checkout→email"] {
        for m in [
            "e2e_latency_mean",
            "e2e_latency_p50",
            "e2e_latency_p95",
            "e2e_latency_p99",
            "e2e_latency_max",
        ] {
            assert!(
                rows.iter().any(|r| r.component == comp && r.metric == m),
                "no {m} row for {comp}"
            );
        }
    }
    // Rows recorded per interval or not, the run's numbers are the same.
    let (plain, _) = run_traced(chain());
    let a = serde_json::to_value(e.summary().flows).unwrap();
    let b = serde_json::to_value(plain.summary().flows).unwrap();
    assert_eq!(a, b);
    let json = edasim::output::summary::json(&e);
    assert!(json.contains("\"flows\""), "{json}");
    let text = edasim::output::summary::text(&e);
    assert!(text.contains("checkout→email"), "{text}");
    // A single-hop scenario has no flows key at all.
    let single =
        edasim::output::summary::json(&crate::run(crate::bundled("mm1.toml"), Options::default()));
    assert!(!single.contains("\"flows\""));
}
