//! Every bundled scenario runs, conserves messages, and gives the summary it gave
//! before (snapshots under tests/it/snapshots/).

use crate::{bundled, run};
use edasim::sim::Options;

fn scenario_names() -> Vec<String> {
    let dir = format!("{}/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_bundled_scenario_runs_and_conserves() {
    let names = scenario_names();
    assert!(names.len() >= 6, "{names:?}");
    for name in names {
        let e = run(bundled(&name), Options::default());
        let s = e.summary();
        for c in &s.conservation {
            assert!(c.holds(), "{name}: conservation violated: {c:?}");
        }
        let summary = edasim::output::summary::text(&e);
        insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("summary-{}", name.trim_end_matches(".toml")), summary);
        });
    }
}

#[test]
fn every_bundled_scenario_declares_its_schema_and_lesson() {
    for name in scenario_names() {
        let text =
            std::fs::read_to_string(format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR")))
                .expect("read");
        assert!(
            text.starts_with("#:schema ../assets/edasim.schema.json\n"),
            "{name}"
        );
        assert!(
            text.contains("What it teaches"),
            "{name} should open with what it teaches"
        );
    }
}

#[test]
fn the_committed_schema_is_up_to_date() {
    let path = format!("{}/assets/edasim.schema.json", env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == edasim::scenario::format::json_schema(),
        "assets/edasim.schema.json is stale: run `cargo run -- schema > assets/edasim.schema.json`"
    );
}

#[test]
fn flash_sale_tells_its_story() {
    let e = run(bundled("flash-sale.toml"), Options::default());
    let s = e.summary();
    let payment = s
        .services
        .iter()
        .find(|g| g.name == "payment")
        .expect("payment");
    let inventory = s
        .services
        .iter()
        .find(|g| g.name == "inventory")
        .expect("inventory");
    // Lag builds during the spike and drains afterwards.
    assert!(payment.max_lag > 10_000, "max lag {}", payment.max_lag);
    assert!(payment.lag < 1_000, "lag at the end {}", payment.lag);
    // Auto-commit and the crash give duplicates and ordering violations.
    assert!(payment.counters.duplicates > 0);
    assert!(payment.counters.ordering_violations > 0);
    // Poison orders reach the DLQ; transient failures are retried.
    assert!(payment.counters.dead_lettered > 0 && payment.dlq_depth > 0);
    assert!(payment.counters.retries > payment.counters.dead_lettered);
    // Commit after, no crash: inventory neither loses nor repeats.
    assert_eq!(inventory.counters.duplicates + inventory.counters.lost, 0);
    assert!(s.rebalances >= 2);
}
