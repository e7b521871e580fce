//! The idempotent consumer: a dedup store turns second deliveries into
//! `duplicates_suppressed` without changing anything else the run does, and keeps
//! their follow-up events from reaching the next service.

use crate::bundled;
use edasim::model::Model;
use edasim::sim::{Engine, Options, Summary};
use edasim::time::SimDuration;

fn summary(model: Model) -> Summary {
    let mut e = Engine::new(model, Options::default());
    e.run_to_end();
    assert!(
        e.conservation().iter().all(|c| c.holds()),
        "{:?}",
        e.conservation()
    );
    e.summary()
}

fn service<'a>(s: &'a Summary, name: &str) -> &'a edasim::sim::ServiceSummary {
    s.services
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// The service of `s` that processed something twice.
fn with_duplicates(s: &Summary) -> String {
    s.services
        .iter()
        .find(|x| x.counters.duplicates > 0)
        .map(|x| x.name.clone())
        .expect("a service with duplicates")
}

fn with_dedup(mut m: Model, name: &str, window: Option<SimDuration>) -> Model {
    let g = m
        .services
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"));
    m.services[g].dedup = Some(window);
    m
}

/// commit-auto's crash makes the new owner process again what the crashed instance
/// processed since its last commit. The same run with an idempotent consumer makes
/// exactly those deliveries, and suppresses every one of them.
#[test]
fn every_redelivery_is_suppressed_and_nothing_else_changes() {
    let plain = summary(bundled("commit-auto.toml"));
    let name = with_duplicates(&plain);
    let p = service(&plain, &name);
    let idem = summary(with_dedup(bundled("commit-auto.toml"), &name, None));
    let i = service(&idem, &name);
    assert_eq!(i.counters.duplicates, 0, "{:?}", i.counters);
    assert_eq!(i.counters.suppressed, p.counters.duplicates);
    assert_eq!(i.counters.processed_once, p.counters.processed_once);
    assert_eq!(
        i.counters.delivered, p.counters.delivered,
        "the same deliveries"
    );
    assert_eq!(
        i.counters.processed + i.counters.suppressed,
        p.counters.processed
    );
}

/// A dedup store that forgets at once suppresses nothing.
#[test]
fn a_window_shorter_than_any_redelivery_suppresses_nothing() {
    let plain = summary(bundled("commit-auto.toml"));
    let name = with_duplicates(&plain);
    let short = summary(with_dedup(
        bundled("commit-auto.toml"),
        &name,
        Some(SimDuration(1)),
    ));
    let p = service(&plain, &name);
    let s = service(&short, &name);
    assert_eq!(s.counters.suppressed, 0);
    assert_eq!(s.counters.duplicates, p.counters.duplicates);
}

/// In the Kafka flash sale, payment's redeliveries after its crash emit PaymentCompleted
/// again, and notification notifies twice. An idempotent payment emits nothing for a
/// second delivery: notification sees no duplicate.
#[test]
fn an_idempotent_upstream_stops_duplicates_downstream() {
    let mut m = bundled("flash-sale-kafka.toml");
    m.duration = SimDuration::from_secs(150);
    let plain = summary(m.clone());
    assert!(service(&plain, "payment").counters.duplicates > 0);
    assert!(service(&plain, "notification").counters.duplicates > 0);
    let idem = summary(with_dedup(m, "payment", None));
    let pay = service(&idem, "payment");
    assert_eq!(pay.counters.duplicates, 0);
    assert_eq!(
        pay.counters.suppressed,
        service(&plain, "payment").counters.duplicates
    );
    assert_eq!(service(&idem, "notification").counters.duplicates, 0);
}
