//! EventBridge-like event buses in a run: rules matched on source, detail-type and the
//! payload's fields with EventBridge's operators; targets of every kind; deliveries
//! refused by an outage retried with backoff until `max_attempts` or `max_age`, then
//! to the rule's dead-letter queue or lost; the archive and replays of a window, as
//! copies where the original had arrived and as originals where it had not. The
//! matcher itself is tested against EventBridge's documented cases in
//! `src/broker/pubsub/filter.rs`.

use edasim::metrics::Cause;
use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{BusSummary, Engine, Summary};

use crate::run_traced;

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("inline.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

fn bus<'a>(s: &'a Summary, name: &str) -> &'a BusSummary {
    s.buses
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("no bus {name}"))
}

fn rule_matched(s: &Summary, b: &str, rule: &str) -> u64 {
    bus(s, b)
        .rules
        .iter()
        .find(|r| r.name == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))
        .counters
        .matched
}

fn sent(s: &Summary, queue: &str) -> u64 {
    s.queues
        .iter()
        .find(|q| q.name == queue)
        .unwrap_or_else(|| panic!("no queue {queue}"))
        .sent
}

fn comp(e: &Engine, name: &str) -> u32 {
    e.component_names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no component {name}")) as u32
}

/// A producer `name` sending `n` events to `target`, ten a second from t = 0.
fn producer(name: &str, target: &str, n: u32, extra: &str) -> String {
    format!(
        r#"
[[producer]]
name = "{name}"
target = "{target}"
rate = {{ dist = "constant", per_second = 10 }}
phases = [{{ at = "{}s", per_second = 0 }}]
{extra}
"#,
        n / 10
    )
}

fn header(duration: &str) -> String {
    format!("[scenario]\nname = \"t\"\nseed = 3\nduration = \"{duration}\"\n")
}

/// Every bus's copies are accounted for, and every service's conservation holds.
fn assert_conserved(e: &Engine) {
    let s = e.summary();
    for b in &s.buses {
        assert!(b.conserved(), "bus {} does not conserve: {b:?}", b.name);
    }
    assert!(
        e.conservation().iter().all(|c| c.holds()),
        "{:?}",
        e.conservation()
    );
}

#[test]
fn rules_match_source_detail_type_and_detail_fields_with_eventbridge_operators() {
    // 120 events of each producer: every cycle below divides 120, so the counts do not
    // depend on where the message numbers start.
    let text = format!(
        r#"{}{}{}
[[bus]]
name = "bus"

[[bus.rule]]
name = "big"
event_pattern = {{ detail = {{ amount = [{{ numeric = [">=", 200] }}] }} }}
targets = [{{ queue = "q1" }}]

[[bus.rule]]
name = "eu"
event_pattern = {{ source = ["shop"], detail = {{ country = ["DE", "FR"] }} }}
targets = [{{ queue = "q2" }}]

[[bus.rule]]
name = "not-us"
event_pattern = {{ detail = {{ country = [{{ anything-but = ["US"] }}] }} }}
targets = [{{ queue = "q3" }}]

[[bus.rule]]
name = "no-country"
event_pattern = {{ detail = {{ country = [{{ exists = false }}] }} }}
targets = [{{ queue = "q4" }}]

[[bus.rule]]
name = "either"
event_pattern = {{ "$or" = [{{ source = ["other"] }}, {{ detail = {{ amount = [50] }} }}] }}
targets = [{{ queue = "q5" }}]

[[bus.rule]]
name = "orders"
event_pattern = {{ detail-type = [{{ prefix = "Order" }}] }}
targets = [{{ queue = "q6" }}]

[[bus.rule]]
name = "empty-note"
event_pattern = {{ detail = {{ note = [""] }} }}
targets = [{{ queue = "q7" }}]

[[bus.rule]]
name = "string-not-number"
event_pattern = {{ detail = {{ amount = ["50"] }} }}
targets = [{{ queue = "q8" }}]

[[bus.rule]]
name = "tier"
event_pattern = {{ detail = {{ customer = {{ tier = [{{ equals-ignore-case = "GOLD" }}] }} }} }}
targets = [{{ queue = "q9" }}]

[[queue]]
name = "q1"
[[queue]]
name = "q2"
[[queue]]
name = "q3"
[[queue]]
name = "q4"
[[queue]]
name = "q5"
[[queue]]
name = "q6"
[[queue]]
name = "q7"
[[queue]]
name = "q8"
[[queue]]
name = "q9"
"#,
        header("30s"),
        producer(
            "shop",
            "bus",
            120,
            r#"event = "OrderPlaced"
payload = { amount = { cycle = [50, 150, 250, 350] }, country = { cycle = ["DE", "US", "FR"] }, note = { cycle = ["", "x"] }, customer = { tier = { cycle = ["gold", "basic", "silver"] } } }"#
        ),
        producer("other", "bus", 120, "source = \"other\"\nevent = \"Ping\""),
    );
    let (e, trace) = run_traced(load(&text));
    let s = e.summary();
    // 120 of each: amounts cycle 4, countries and tiers 3, notes 2.
    assert_eq!(rule_matched(&s, "bus", "big"), 60);
    assert_eq!(rule_matched(&s, "bus", "eu"), 80);
    // anything-but needs the field: `other`'s events have no country.
    assert_eq!(rule_matched(&s, "bus", "not-us"), 80);
    assert_eq!(rule_matched(&s, "bus", "no-country"), 120);
    assert_eq!(rule_matched(&s, "bus", "either"), 120 + 30);
    assert_eq!(rule_matched(&s, "bus", "orders"), 120);
    // "" matches the empty string only, not an absent field.
    assert_eq!(rule_matched(&s, "bus", "empty-note"), 60);
    // A string never matches a number.
    assert_eq!(rule_matched(&s, "bus", "string-not-number"), 0);
    assert_eq!(rule_matched(&s, "bus", "tier"), 40);
    let b = bus(&s, "bus");
    assert_eq!(b.received, 240);
    // Every shop event matches `orders`, every other event `no-country`.
    assert_eq!(b.counters.unmatched, 0);
    assert_eq!(b.counters.matched + b.counters.unmatched, 240);
    // One route record per copy, naming its target queue.
    let routes = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Route && r.component == comp(&e, "bus"))
        .count() as u64;
    assert_eq!(routes, b.counters.delivered);
    assert_eq!(
        trace
            .iter()
            .filter(|r| r.kind == TraceKind::Route && r.instance == comp(&e, "q1"))
            .count(),
        60
    );
    assert_eq!(sent(&s, "q2"), 80);
    assert_conserved(&e);
}

/// A bus whose rule `r` targets queue `q` (read by `worker`), down from 10.05 s for
/// `outage`, with the rule's retry settings `retry`; 300 events, ten a second.
fn outage(outage: &str, retry: &str, extra: &str) -> String {
    format!(
        r#"{}{}
[[bus]]
name = "bus"
{extra}

[[bus.rule]]
name = "r"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "q" }}]
{retry}

[[queue]]
name = "q"

[[queue]]
name = "dlq"

[[consumer]]
name = "worker"
source = "q"
processing = {{ dist = "constant", value = "1ms" }}

[[fault]]
kind = "broker_outage"
target = "q"
at = "10.05s"
duration = "{outage}"
"#,
        header("20m"),
        producer("p", "bus", 300, ""),
    )
}

#[test]
fn without_retries_every_delivery_refused_by_an_outage_goes_to_the_dead_letter_queue() {
    let (e, _) = run_traced(load(&outage(
        "10s",
        "max_attempts = 0\ndead_letter = \"dlq\"",
        "",
    )));
    let s = e.summary();
    let b = bus(&s, "bus");
    // The events of 10.1 s to 20.0 s.
    assert_eq!(b.counters.failed_invocations, 100);
    assert_eq!(b.counters.dead_lettered, 100);
    assert_eq!(b.counters.delivered, 200);
    assert_eq!(sent(&s, "dlq"), 100);
    assert_eq!(sent(&s, "q"), 200);
    assert_conserved(&e);
}

#[test]
fn retries_back_off_exponentially_with_jitter_until_max_attempts() {
    let (e, trace) = run_traced(load(&outage(
        "10s",
        "max_attempts = 3\ndead_letter = \"dlq\"",
        "",
    )));
    let s = e.summary();
    let b = bus(&s, "bus");
    assert!(b.counters.dead_lettered > 0, "{b:?}");
    assert!(
        b.counters.dead_lettered < 100,
        "late events get through: {b:?}"
    );
    // An event that made it on a retry failed fewer than 4 times; one dead-lettered,
    // exactly 4 times, at gaps of 1, 2 and 4 s give or take 20%.
    let bus_comp = comp(&e, "bus");
    let fails = |m: u64| -> Vec<&TraceRec> {
        trace
            .iter()
            .filter(|r| r.kind == TraceKind::Fail && r.component == bus_comp && r.msg == m)
            .collect()
    };
    let dead: Vec<u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::DeadLetter && r.component == bus_comp)
        .map(|r| r.msg)
        .collect();
    assert_eq!(dead.len() as u64, b.counters.dead_lettered);
    for m in dead {
        let f = fails(m);
        assert_eq!(f.len(), 4, "msg {m}: {f:?}");
        for (k, w) in f.windows(2).enumerate() {
            let gap = (w[1].t - w[0].t) as f64 / 1e9;
            let base = f64::from(1u32 << k);
            assert!(
                (0.8 * base..1.2 * base).contains(&gap),
                "msg {m}: retry {} after {gap} s",
                k + 1
            );
            assert_eq!(w[1].attempt, w[0].attempt + 1);
        }
    }
    assert_eq!(
        b.counters.failed_invocations,
        trace
            .iter()
            .filter(|r| r.kind == TraceKind::Fail && r.component == bus_comp)
            .count() as u64
    );
    assert_conserved(&e);
}

#[test]
fn retries_stop_at_max_age_and_without_a_dead_letter_queue_the_events_are_lost() {
    // Down for the whole run: every event ages out after the retry past 60 s.
    let (e, _) = run_traced(load(&outage("30m", "max_age = \"60s\"", "")));
    let s = e.summary();
    let b = bus(&s, "bus");
    // The first event goes at 0.1 s: 100 before the outage, 200 during it.
    assert_eq!(b.counters.delivered, 100, "the events before the outage");
    assert_eq!(b.counters.lost, 200);
    assert_eq!(b.counters.lost_age, 200);
    assert_eq!(b.counters.lost_attempts, 0);
    assert_eq!(b.retrying, 0);
    assert_conserved(&e);
}

#[test]
fn an_event_past_max_age_gives_up_then_not_at_its_next_retry() {
    let (e, trace) = run_traced(load(&outage("30m", "max_age = \"60s\"", "")));
    let bus_comp = comp(&e, "bus");
    let first: std::collections::BTreeMap<u64, u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Fail && r.component == bus_comp && r.attempt == 1)
        .map(|r| (r.msg, r.t))
        .collect();
    let drops: Vec<&TraceRec> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Drop && r.component == bus_comp)
        .collect();
    assert_eq!(drops.len(), 200);
    for d in drops {
        assert_eq!(d.t - first[&d.msg], 60_000_000_001, "msg {}", d.msg);
    }
}

#[test]
fn retries_stop_at_max_attempts() {
    let (e, _) = run_traced(load(&outage("30m", "max_attempts = 2", "")));
    let s = e.summary();
    let b = bus(&s, "bus");
    assert_eq!(b.counters.lost_attempts, 200);
    assert_eq!(b.counters.failed_invocations, 3 * 200);
    assert_conserved(&e);
}

#[test]
fn a_replay_resends_the_window_as_copies_where_the_original_arrived() {
    let text = format!(
        r#"{}{}
[[bus]]
name = "bus"
archive = {{}}

[[bus.rule]]
name = "all"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "q" }}]

[[bus.rule]]
name = "audit"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "audit-q" }}]

[[queue]]
name = "q"

[[queue]]
name = "audit-q"

[[consumer]]
name = "worker"
source = "q"
processing = {{ dist = "constant", value = "1ms" }}

[[action]]
kind = "replay"
at = "40s"
bus = "bus"
from = "10.05s"
until = "20.05s"
rules = ["all"]
"#,
        header("60s"),
        producer("p", "bus", 300, ""),
    );
    let (e, trace) = run_traced(load(&text));
    let s = e.summary();
    let b = bus(&s, "bus");
    assert_eq!(b.counters.archived, 300);
    assert_eq!(b.counters.replayed, 100);
    assert_eq!(
        trace.iter().filter(|r| r.kind == TraceKind::Replay).count(),
        100
    );
    // Only the rule the replay names receives them.
    assert_eq!(sent(&s, "q"), 400);
    assert_eq!(sent(&s, "audit-q"), 300);
    let w = s.services.iter().find(|g| g.name == "worker").unwrap();
    assert_eq!(w.counters.duplicates, 100);
    let replayed = e.anomalies().filter(|a| a.cause == Cause::Replayed).count();
    assert!(replayed > 0, "duplicates carry the cause `replayed`");
    assert_conserved(&e);
}

#[test]
fn a_second_replay_and_a_rule_that_refuses_replays() {
    let text = format!(
        r#"{}{}
[[bus]]
name = "bus"
archive = {{}}

[[bus.rule]]
name = "all"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "q" }}]

[[bus.rule]]
name = "live-only"
event_pattern = {{ source = ["p"], replay-name = [{{ exists = false }}] }}
targets = [{{ queue = "live-q" }}]

[[queue]]
name = "q"

[[queue]]
name = "live-q"

[[consumer]]
name = "worker"
source = "q"
processing = {{ dist = "constant", value = "1ms" }}

[[action]]
kind = "replay"
at = "40s"
bus = "bus"
from = "0s"
until = "10.05s"

[[action]]
kind = "replay"
at = "45s"
bus = "bus"
from = "0s"
until = "10.05s"
"#,
        header("60s"),
        producer("p", "bus", 300, ""),
    );
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    assert_eq!(bus(&s, "bus").counters.replayed, 200);
    // Both replays of the first 100 events are copies where the originals arrived.
    let w = s.services.iter().find(|g| g.name == "worker").unwrap();
    assert_eq!(w.counters.duplicates, 200);
    assert_eq!(w.counters.processed_once, 300);
    // `replay-name` exists on replayed events only.
    assert_eq!(sent(&s, "live-q"), 300);
    assert_conserved(&e);
}

#[test]
fn a_replay_brings_what_the_outage_dead_lettered_as_originals() {
    let text = outage(
        "10s",
        "max_attempts = 0\ndead_letter = \"dlq\"",
        "archive = {}",
    )
    .replace("duration = \"20m\"", "duration = \"60s\"")
        + r#"
[[action]]
kind = "replay"
at = "40s"
bus = "bus"
from = "10.05s"
until = "20.05s"
"#;
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    let w = s.services.iter().find(|g| g.name == "worker").unwrap();
    // 200 first time, 100 by the replay: each processed once, no duplicate.
    assert_eq!(w.counters.processed, 300);
    assert_eq!(w.counters.duplicates, 0);
    let c = e
        .conservation()
        .into_iter()
        .find(|c| c.service == "worker")
        .unwrap();
    assert_eq!(c.produced, 300);
    assert_eq!(c.processed_once, 300);
    assert_conserved(&e);
}

#[test]
fn an_archive_keeps_what_its_pattern_matches_for_its_retention() {
    let text = format!(
        r#"{}{}
[[bus]]
name = "bus"
archive = {{ pattern = {{ detail = {{ amount = [{{ numeric = [">", 100] }}] }} }}, retention = "5s" }}

[[bus.rule]]
name = "all"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "q" }}]

[[queue]]
name = "q"
"#,
        header("40s"),
        producer(
            "p",
            "bus",
            300,
            "payload = { amount = { cycle = [50, 150] } }"
        ),
    );
    let mut e = Engine::new(load(&text), edasim::sim::Options::default());
    e.run_until(30_050_000_000, u64::MAX);
    // Five seconds' worth of matching events, five a second, at the last one (30 s).
    let kept = bus(&e.summary(), "bus").archive.unwrap();
    assert!((25..=26).contains(&kept), "{kept}");
    e.run_to_end();
    let s = e.summary();
    let b = bus(&s, "bus");
    assert_eq!(b.counters.archived, 150);
    // Ten seconds later every one of them is past its retention.
    assert_eq!(b.archive, Some(0));
}

#[test]
fn functions_and_other_buses_are_targets_too() {
    let text = format!(
        r#"{}{}
[[bus]]
name = "bus"

[[bus.rule]]
name = "fan"
event_pattern = {{ detail-type = ["Signup"] }}
targets = [{{ function = "welcome" }}, {{ bus = "crm" }}, {{ pubsub = "news" }}]

[[bus]]
name = "crm"

[[bus.rule]]
name = "keep"
event_pattern = {{ source = ["site"] }}
targets = [{{ queue = "crm-q" }}]

[[pubsub]]
name = "news"

[[pubsub.subscription]]
queue = "news-q"

[[queue]]
name = "crm-q"

[[queue]]
name = "news-q"

[[consumer]]
name = "welcome"
kind = "function"
source = "bus"
max_concurrency = 5
processing = {{ dist = "constant", value = "20ms" }}
"#,
        header("30s"),
        producer("site", "bus", 100, "event = \"Signup\""),
    );
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    let f = s.services.iter().find(|g| g.name == "welcome").unwrap();
    assert_eq!(f.counters.processed, 100);
    assert_eq!(bus(&s, "crm").received, 100);
    assert_eq!(sent(&s, "crm-q"), 100);
    assert_eq!(sent(&s, "news-q"), 100);
    assert_conserved(&e);
}

#[test]
fn a_network_partition_between_a_bus_and_a_target_fails_its_deliveries() {
    let text = outage("1s", "max_attempts = 0\ndead_letter = \"dlq\"", "")
        .replace(
            "kind = \"broker_outage\"\ntarget = \"q\"\nat = \"10.05s\"\nduration = \"1s\"",
            "kind = \"network_partition\"\ntarget = \"bus\"\npeer = \"q\"\none_way = true\nat = \"10.05s\"\nduration = \"10s\"",
        );
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    let b = bus(&s, "bus");
    assert_eq!(b.counters.failed_invocations, 100);
    assert_eq!(b.counters.dead_lettered, 100);
    let f = &s.faults[0];
    assert!(format!("{f:?}").contains("failed: 100"), "{f:?}");
    assert_conserved(&e);
}

#[test]
fn the_shootout_compares_each_broker_on_one_workload() {
    let e = crate::run(
        crate::bundled("broker-shootout.toml"),
        edasim::sim::Options::default(),
    );
    let s = e.summary();
    let rows: Vec<(&str, &str)> = s
        .comparison
        .iter()
        .map(|r| (r.name.as_str(), r.broker.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("kafka", "Kafka topic (6 partitions)"),
            ("sqs-fifo", "SQS FIFO queue"),
            ("sqs-standard", "SQS standard queue"),
            ("rabbit", "RabbitMQ quorum queue"),
            ("eventbridge", "EventBridge bus → SQS standard queue"),
        ]
    );
    for r in &s.comparison {
        // Every broker dead-letters about 1% poison orders of some 38,800 and loses none.
        assert!((300..500).contains(&r.dlq_depth), "{r:?}");
        assert_eq!(r.lost, 0, "{r:?}");
        assert!((150.0..170.0).contains(&r.processed_per_s), "{r:?}");
        // Kafka (per key) and FIFO (per group) keep order; the others do not.
        let ordered = matches!(r.name.as_str(), "kafka" | "sqs-fifo");
        assert_eq!(r.ordering_violations == 0, ordered, "{r:?}");
    }
    assert_conserved(&e);
}
