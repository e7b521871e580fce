//! The integration tests: one binary, one module per behaviour.

mod breaker;
mod bus_properties;
mod buses;
mod capacity;
mod cli;
mod commit_modes;
mod determinism;
mod faults;
mod fidelity;
mod flows;
mod fuzz;
mod idempotent;
mod invalid;
mod limits;
mod links;
mod metrics_table;
mod properties;
mod pubsub;
mod rabbit;
mod rabbit_properties;
mod rabbit_queues;
mod retry_storm;
mod sagas;
mod scenarios;
mod semantics;
mod sqs;
mod sqs_properties;
mod tui;

use edasim::model::Model;
use edasim::sim::{Engine, Options};

/// Loads a bundled scenario by file name.
pub fn bundled(name: &str) -> Model {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    edasim::scenario::load_str(&format!("scenarios/{name}"), &text)
        .unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

/// Runs a model to its end with tracing on, returning the engine and every trace
/// record; asserts conservation for every service.
pub fn run_traced(model: Model) -> (Engine, Vec<edasim::sim::trace::TraceRec>) {
    let mut e = Engine::new(
        model,
        Options {
            record_rows: false,
            trace: true,
            ..Default::default()
        },
    );
    let mut trace = Vec::new();
    while e.run_until(u64::MAX, 100_000) != edasim::sim::RunStatus::Finished {
        trace.extend(e.drain_trace());
    }
    trace.extend(e.drain_trace());
    assert!(
        e.conservation().iter().all(|c| c.holds()),
        "{:?}",
        e.conservation()
    );
    (e, trace)
}

/// Runs a model to its end.
pub fn run(model: Model, opts: Options) -> Engine {
    let mut e = Engine::new(model, opts);
    e.run_to_end();
    e
}

/// An engine recording rows (no trace) for a property test's generated scenario.
pub fn prop_engine(text: &str) -> Engine {
    let model = edasim::scenario::load_str("prop.toml", text)
        .unwrap_or_else(|e| panic!("{}\n--- scenario ---\n{text}", e.to_plain()));
    Engine::new(
        model,
        Options {
            record_rows: true,
            trace: false,
            ..Default::default()
        },
    )
}

/// A property test's configuration: 48 cases with the fixed seed `seed` by default;
/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` search deeper, as in `properties.rs`.
#[allow(clippy::disallowed_methods)] // a test, not the sans-IO core
pub fn prop_config(seed: u64) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let base = Config::with_cases(cases);
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => base.rng_seed,
        Err(_) => RngSeed::Fixed(seed),
    };
    Config {
        failure_persistence: None,
        max_shrink_iters: 256,
        rng_seed,
        ..base
    }
}
