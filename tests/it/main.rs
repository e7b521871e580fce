//! The integration tests: one binary, one module per behaviour.

mod cli;
mod commit_modes;
mod determinism;
mod fidelity;
mod invalid;
mod metrics_table;
mod properties;
mod pubsub;
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

/// Runs a model to its end.
pub fn run(model: Model, opts: Options) -> Engine {
    let mut e = Engine::new(model, opts);
    e.run_to_end();
    e
}
