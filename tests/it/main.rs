//! The integration tests: one binary, one module per behaviour.

mod breaker;
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
