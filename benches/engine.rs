//! Simulated events per second: edasim on `bench-mmc` (M/M/10 at rho = 0.9, about a
//! million messages), on `bench-sqs` (the same M/M/10 through a standard queue with ten
//! competing consumers), on `rabbit-topic-routing` (a topic exchange with an
//! exchange-to-exchange binding and an alternate), on `rabbit-overflow` (RabbitMQ
//! queues under a burst: prefetch, overflow, TTL, requeues, dead-lettering) and on
//! `flash-sale`, tracing off,
//! beside a minimal hand-written M/M/10 loop (binary heap of (time, seq, event), a
//! VecDeque, the same generator) as the baseline, and the first 2 s of two stress scenarios (`tests/scenarios`) whose cost
//! was once quadratic. divan prints each as items (events) per second.
//!
//! Run: `cargo bench`.

use divan::Bencher;
use divan::counter::ItemsCount;
use edasim::model::Model;
use edasim::sim::{Engine, Options};

#[path = "../examples/mmc_loop.rs"]
mod mmc_loop;
use mmc_loop::baseline_mmc;

fn main() {
    divan::main();
}

fn bundled(name: &str) -> Model {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario");
    edasim::scenario::load_str(&path, &text).expect("valid scenario")
}

fn events_of(model: &Model) -> u64 {
    let mut e = Engine::new(model.clone(), Options::default());
    e.run_to_end();
    e.steps()
}

/// A whole run of bundled scenario `name`, counted in simulated events.
fn whole_run(b: Bencher, name: &str) {
    let model = bundled(name);
    let events = events_of(&model);
    b.counter(ItemsCount::new(events)).bench(|| {
        let mut e = Engine::new(model.clone(), Options::default());
        e.run_to_end();
        e.steps()
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_bench_mmc(b: Bencher) {
    whole_run(b, "bench-mmc.toml");
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_bench_sqs(b: Bencher) {
    whole_run(b, "bench-sqs.toml");
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_flash_sale(b: Bencher) {
    whole_run(b, "flash-sale.toml");
}

/// Exchange routing on the publish path (kept routes per routing key).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_rabbit_topic_routing(b: Bencher) {
    whole_run(b, "rabbit-topic-routing.toml");
}

/// RabbitMQ queues under a burst: push with prefetch, drop-head, reject-publish, TTL
/// and a quorum queue's requeues, dead-lettered through an exchange.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_rabbit_overflow(b: Bencher) {
    whole_run(b, "rabbit-overflow.toml");
}

/// An event bus: rule patterns on generated payloads, four targets, retries through a
/// target's outage, an archive and a replay.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_eventbridge(b: Bencher) {
    whole_run(b, "eventbridge-rules-and-replay.toml");
}

/// The broker shoot-out: one workload through Kafka, SQS FIFO, SQS standard,
/// RabbitMQ and EventBridge at once, with crashes and poison messages.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn edasim_broker_shootout(b: Bencher) {
    whole_run(b, "broker-shootout.toml");
}

/// The first 2 s of a stress scenario from `tests/scenarios`.
fn stress(name: &str) -> Model {
    let path = format!("{}/tests/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario");
    let mut model = edasim::scenario::load_str(&path, &text).expect("valid scenario");
    model.duration.0 = model.duration.0.min(2_000_000_000);
    model
}

/// 10,000 partitions over two instances that keep up: a fetch must not look at every
/// partition its instance owns (the ready set).
#[divan::bench(sample_count = 3, sample_size = 1)]
fn edasim_many_partitions(b: Bencher) {
    let model = stress("many-partitions.toml");
    let events = events_of(&model);
    b.counter(ItemsCount::new(events)).bench(|| {
        let mut e = Engine::new(model.clone(), Options::default());
        e.run_to_end();
        e.steps()
    });
}

/// Retention deleting every record unconsumed while 40,000 work items are live: it
/// must not look at every work item per deleted record (the holds index).
#[divan::bench(sample_count = 3, sample_size = 1)]
fn edasim_retention_lag(b: Bencher) {
    let model = stress("retention-lag.toml");
    let events = events_of(&model);
    b.counter(ItemsCount::new(events)).bench(|| {
        let mut e = Engine::new(model.clone(), Options::default());
        e.run_to_end();
        e.steps()
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn baseline_mmc_loop(b: Bencher) {
    let (events, _) = baseline_mmc(11);
    b.counter(ItemsCount::new(events))
        .bench(|| baseline_mmc(divan::black_box(11)));
}
