//! The metric table (`edasim::metrics::Metric`) is the one list of metric names: the
//! README's metric table shows exactly its names and components, and the rows bundled
//! scenarios produce use only its names, each from a component it lists.

use std::collections::BTreeSet;

use crate::{bundled, run};
use edasim::metrics::{Metric, Scope};
use edasim::model::Model;
use edasim::sim::Options;

/// The README's metric table as (metric names, component cell), one entry per row.
fn readme_rows() -> Vec<(Vec<String>, String)> {
    let path = format!("{}/README.md", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut lines = readme
        .lines()
        .skip_while(|l| *l != "| metric | component | meaning |")
        .skip(2);
    let mut rows = Vec::new();
    for line in lines.by_ref().take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split(" | ").collect();
        assert!(
            cells.len() >= 3,
            "README metric row with too few cells: {line}"
        );
        let names = cells[0]
            .trim_start_matches("| ")
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        rows.push((names, cells[1].to_string()));
    }
    assert!(!rows.is_empty(), "README has no metric table");
    rows
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn the_readme_metric_table_lists_exactly_the_metric_table() {
    let mut listed = Vec::new();
    for (names, components) in readme_rows() {
        for name in names {
            let m = Metric::from_name(&name)
                .unwrap_or_else(|| panic!("the README lists `{name}`, which is not a metric"));
            assert_eq!(
                components,
                scope_list(m.scopes()),
                "README components of `{name}`"
            );
            listed.push(m);
        }
    }
    let unique: BTreeSet<Metric> = listed.iter().copied().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "the README lists a metric twice"
    );
    let all: BTreeSet<Metric> = Metric::ALL.iter().copied().collect();
    assert_eq!(unique, all, "README metric table against Metric::ALL");
}

/// The kind of component a CSV `component` names in `model`.
fn scope_of(model: &Model, component: &str) -> Option<Scope> {
    if component == "total" {
        return Some(Scope::Total);
    }
    if model.producers.iter().any(|p| p.name == component) {
        return Some(Scope::Producer);
    }
    if model.topics.iter().any(|t| t.name == component) {
        return Some(Scope::Topic);
    }
    if model.queues.iter().any(|q| q.name == component) {
        return Some(Scope::Queue);
    }
    if model.pubsubs.iter().any(|p| p.name == component) {
        return Some(Scope::Pubsub);
    }
    if model.exchanges.iter().any(|x| x.name == component) {
        return Some(Scope::Exchange);
    }
    if model.buses.iter().any(|b| b.name == component) {
        return Some(Scope::Bus);
    }
    if model.services.iter().any(|g| g.name == component) {
        return Some(Scope::Service);
    }
    if let Some((producer, service)) = component.split_once('→') {
        let known = model.producers.iter().any(|p| p.name == producer)
            && model.services.iter().any(|g| g.name == service);
        return known.then_some(Scope::Flow);
    }
    if model.sagas.iter().any(|s| s.name == component) {
        return Some(Scope::Saga);
    }
    let (service, partition) = component.split_once('/')?;
    if let Some(b) = model.buses.iter().find(|b| b.name == service) {
        return b
            .rules
            .iter()
            .any(|r| r.name == partition)
            .then_some(Scope::Rule);
    }
    if let Some(s) = model.sagas.iter().find(|s| s.name == service) {
        return s
            .steps
            .iter()
            .any(|st| st.name == partition)
            .then_some(Scope::SagaStep);
    }
    let g = model.services.iter().find(|g| g.name == service)?;
    let p: u32 = partition.parse().ok()?;
    let t = g.source.topic()?;
    (p < model.topics[t].partitions).then_some(Scope::Partition)
}

#[test]
fn bundled_scenarios_report_only_metrics_of_the_table() {
    let mut seen: BTreeSet<(Metric, Scope)> = BTreeSet::new();
    for name in [
        "mm1.toml",
        "flash-sale.toml",
        "commit-auto.toml",
        "sqs-visibility-timeout.toml",
        "fifo-vs-standard.toml",
        "sns-fanout.toml",
        "sns-fifo-fanout.toml",
        "idempotent-consumer.toml",
        "network-partition.toml",
        "circuit-breaker.toml",
        "saga-orchestration-vs-choreography.toml",
        "rabbit-topic-routing.toml",
        "eventbridge-rules-and-replay.toml",
    ] {
        let model = bundled(name);
        let mut engine = run(
            model.clone(),
            Options {
                record_rows: true,
                ..Default::default()
            },
        );
        let rows = engine.drain_rows();
        assert!(!rows.is_empty(), "{name}: no rows");
        for r in &rows {
            let m = Metric::parse(r.metric)
                .unwrap_or_else(|| panic!("{name}: row metric `{}` is not in the table", r.metric));
            assert_eq!(m.name(), r.metric, "{name}: rows use the CSV spelling");
            let scope = scope_of(&model, &r.component)
                .unwrap_or_else(|| panic!("{name}: unknown component `{}`", r.component));
            assert!(
                m.scopes().contains(&scope),
                "{name}: `{m}` reported by {} ({scope:?}), the table says {}",
                r.component,
                scope_list(m.scopes())
            );
            seen.insert((m, scope));
        }
    }
    // Every metric appears, from every kind of component the table names for it.
    let missing: Vec<String> = Metric::ALL
        .iter()
        .flat_map(|&m| m.scopes().iter().map(move |&s| (m, s)))
        .filter(|pair| !seen.contains(pair))
        .map(|(m, s)| format!("{m} by {}", s.name()))
        .collect();
    assert!(missing.is_empty(), "never reported: {missing:?}");
}
