//! Broker semantics checked event by event against the trace: where records land, who
//! owns what after a rebalance, what pauses, head-of-line blocking, retries and dead
//! letters, producer retries, retention.

use std::collections::BTreeMap;

use edasim::kafka::partitioner::partition_for_key;
use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{Engine, Options};

fn engine(text: &str) -> Engine {
    let model = edasim::scenario::load_str("inline.toml", text)
        .unwrap_or_else(|e| panic!("{}", e.to_plain()));
    Engine::new(
        model,
        Options {
            record_rows: false,
            trace: true,
            ..Default::default()
        },
    )
}

fn run_traced(text: &str) -> (Engine, Vec<TraceRec>) {
    let mut e = engine(text);
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

const S: u64 = 1_000_000_000;

fn group_of(base: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 5
duration = "60s"

[[producer]]
name = "p"
target = "t"
rate = {{ per_second = 300 }}
keys = {{ format = "k{{}}", count = 64 }}

[[topic]]
name = "t"
partitions = 6

[[consumer]]
name = "c"
source = "t"
instances = 3
concurrency = 2
processing = {{ dist = "exponential", mean = "2ms" }}
session_timeout = "5s"
rebalance_time = "1s"
{base}
{extra}
"#
    )
}

#[test]
fn keyed_records_land_where_kafka_puts_them() {
    let (e, trace) = run_traced(&group_of("", ""));
    let model = e.model();
    let mut checked = 0;
    for r in trace.iter().filter(|r| r.kind == TraceKind::Append) {
        let key = model.keys.name(r.key).expect("keyed");
        assert_eq!(
            r.partition,
            partition_for_key(key.as_bytes(), 6),
            "key {key}"
        );
        checked += 1;
    }
    assert!(checked > 10_000);
}

/// Partitions of the records appended to topic `topic`, in append order.
fn appended_to(e: &Engine, trace: &[TraceRec], topic: &str) -> Vec<TraceRec> {
    let comp = e
        .component_names()
        .iter()
        .position(|n| n == topic)
        .expect("topic") as u32;
    trace
        .iter()
        .filter(|r| r.kind == TraceKind::Append && r.component == comp)
        .copied()
        .collect()
}

/// A scenario whose service `c` (reading `in`) emits to `out` and dead-letters to
/// `dlq`, with the partitioners given; `keyed` decides whether its records have keys.
fn writer_scenario(partitioner: &str, keyed: bool) -> String {
    let keys = if keyed {
        "keys = { format = \"k{}\", count = 40 }"
    } else {
        ""
    };
    format!(
        r#"
[scenario]
name = "writers"
seed = 3
duration = "20s"
[[producer]]
name = "p"
target = "in"
rate = {{ per_second = 200 }}
{keys}
[[topic]]
name = "in"
partitions = 4
partitioner = "{partitioner}"
sticky_batch = 8
[[topic]]
name = "out"
partitions = 5
partitioner = "{partitioner}"
sticky_batch = 8
[[topic]]
name = "dlq"
partitions = 3
partitioner = "{partitioner}"
sticky_batch = 8
[[consumer]]
name = "c"
source = "in"
instances = 2
processing = {{ dist = "constant", value = "1ms" }}
failure_rate = 0.3
retry = {{ max_attempts = 1 }}
dead_letter = "dlq"
emits = [ {{ event = "Done", target = "out" }} ]
"#
    )
}

/// Every path that writes a record (producer, follow-up event, dead letter) follows the
/// target topic's partitioner, as a Kafka producer client does.
#[test]
fn every_writer_follows_the_target_topics_partitioner() {
    for path in ["in", "out", "dlq"] {
        // murmur2 with keys: the partition a real client picks.
        let (e, trace) = run_traced(&writer_scenario("murmur2", true));
        let recs = appended_to(&e, &trace, path);
        let n = if path == "in" {
            4
        } else if path == "out" {
            5
        } else {
            3
        };
        assert!(recs.len() > 500, "{path}: {}", recs.len());
        for r in &recs {
            let key = e.model().keys.name(r.key).expect("keyed");
            assert_eq!(
                r.partition,
                partition_for_key(key.as_bytes(), n),
                "{path} {key}"
            );
        }
        // round_robin: every partition in turn, keys ignored.
        let (e, trace) = run_traced(&writer_scenario("round_robin", true));
        let parts: Vec<u32> = appended_to(&e, &trace, path)
            .iter()
            .map(|r| r.partition)
            .collect();
        let expected: Vec<u32> = (0..parts.len() as u32).map(|i| i % n).collect();
        assert_eq!(parts, expected, "{path} round robin");
        // murmur2 without keys: sticky batches of 8, each on another partition.
        let (e, trace) = run_traced(&writer_scenario("murmur2", false));
        let parts: Vec<u32> = appended_to(&e, &trace, path)
            .iter()
            .map(|r| r.partition)
            .collect();
        assert!(parts.len() > 500, "{path}");
        for batch in parts.chunks(8) {
            assert!(batch.iter().all(|&q| q == batch[0]), "{path}: {batch:?}");
        }
        for w in parts.chunks(8).collect::<Vec<_>>().windows(2) {
            assert_ne!(w[0][0], w[1][0], "{path}: a new batch moves");
        }
    }
}

#[test]
fn a_crashed_member_is_noticed_after_the_session_timeout_and_its_partitions_move() {
    let text = group_of(
        r#"assignor = "range""#,
        "[[fault]]\nkind = \"crash\"\ntarget = \"c#2\"\nat = \"10s\"\n",
    );
    let mut e = engine(&text);
    e.run_until(10 * S, u64::MAX);
    // Range with c#1..c#3 over 6 partitions: two each, contiguous.
    assert_eq!(
        e.owners(0),
        vec![Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
    );
    e.run_until(14 * S, u64::MAX);
    // Before the session timeout the coordinator still believes in c#2.
    assert_eq!(e.owners(0)[2], Some(1));
    let stalled = e.partition_offsets(0)[2];
    e.run_until(15 * S + S / 2, u64::MAX);
    // Detected at 15 s, rebalanced after 1 s: range over c#1, c#3.
    assert_eq!(
        e.partition_offsets(0)[2].1,
        stalled.1,
        "partition 2 moved before the rebalance completed"
    );
    e.run_until(16 * S + S / 10, u64::MAX);
    assert_eq!(
        e.owners(0),
        vec![Some(0), Some(0), Some(0), Some(2), Some(2), Some(2)]
    );
}

/// Acks per instance inside [from, to).
fn acks_between(trace: &[TraceRec], from: u64, to: u64) -> BTreeMap<u32, usize> {
    let mut m = BTreeMap::new();
    for r in trace
        .iter()
        .filter(|r| r.kind == TraceKind::Ack && r.t >= from && r.t < to)
    {
        *m.entry(r.instance).or_insert(0) += 1;
    }
    m
}

#[test]
fn eager_rebalance_pauses_everyone_cooperative_only_the_moved_partitions() {
    let crash = "[[fault]]\nkind = \"crash\"\ntarget = \"c#2\"\nat = \"10s\"\n";
    // Detection at 15 s; the rebalance runs from 15 s to 16 s.
    let (_, eager) = run_traced(&group_of(r#"assignor = "range""#, crash));
    let during = acks_between(&eager, 15 * S + 1, 16 * S);
    assert!(
        during.is_empty(),
        "eager: members processed during the rebalance: {during:?}"
    );
    let (_, coop) = run_traced(&group_of(r#"assignor = "cooperative-sticky""#, crash));
    let during = acks_between(&coop, 15 * S + 1, 16 * S);
    assert!(
        during.get(&0).copied().unwrap_or(0) > 50 && during.get(&2).copied().unwrap_or(0) > 50,
        "cooperative: survivors should keep working: {during:?}"
    );
}

#[test]
fn a_failing_head_blocks_its_partition_until_it_is_retried() {
    let text = group_of(
        "failure_rate = 0.05\nretry = { max_attempts = 5, initial = \"50ms\", max = \"1s\" }",
        "",
    );
    let (_, trace) = run_traced(&text);
    let mut blocked: BTreeMap<u32, u64> = BTreeMap::new(); // partition -> offset in retry
    let mut retries = 0;
    for r in &trace {
        match r.kind {
            TraceKind::Retry => {
                blocked.insert(r.partition, r.offset);
                retries += 1;
            }
            TraceKind::Ack | TraceKind::DeadLetter if r.component == 1 => {
                if let Some(&o) = blocked.get(&r.partition) {
                    assert_eq!(
                        r.offset, o,
                        "partition {} moved past its failing head {o}",
                        r.partition
                    );
                    blocked.remove(&r.partition);
                }
            }
            _ => {}
        }
    }
    assert!(retries > 100);
}

#[test]
fn poison_messages_take_max_attempts_then_go_to_the_dead_letter_topic() {
    let text = group_of(
        "poison_rate = 0.02\nretry = { max_attempts = 3, initial = \"10ms\", max = \"100ms\" }\ndead_letter = \"dlq\"",
        "[[topic]]\nname = \"dlq\"\n",
    );
    let (e, trace) = run_traced(&text);
    let mut attempts: BTreeMap<u64, u32> = BTreeMap::new();
    for r in trace.iter().filter(|r| r.kind == TraceKind::Fail) {
        let a = attempts.entry(r.msg).or_insert(0);
        *a = (*a).max(r.attempt);
    }
    let dead: Vec<&TraceRec> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::DeadLetter)
        .collect();
    assert!(dead.len() > 50);
    for d in &dead {
        assert_eq!(d.attempt, 3);
        assert_eq!(attempts.get(&d.msg), Some(&3));
    }
    let s = e.summary();
    assert_eq!(s.services[0].counters.dead_lettered, dead.len() as u64);
    assert_eq!(s.services[0].dlq_depth, dead.len() as u64);
    assert_eq!(s.services[0].counters.lost, 0);
}

#[test]
fn without_a_dead_letter_topic_exhausted_messages_are_lost_with_a_cause() {
    let text = group_of(
        "poison_rate = 0.02\nretry = { max_attempts = 2, initial = \"10ms\" }",
        "",
    );
    let (e, _) = run_traced(&text);
    let s = e.summary();
    assert!(s.services[0].counters.lost > 50);
    let first = e
        .first_anomalies()
        .iter()
        .find(|a| a.kind == edasim::metrics::AnomalyKind::Lost)
        .expect("explained");
    assert!(
        first
            .explain(e.model())
            .contains("failed 2 attempts and no dead_letter is set")
    );
}

fn producer_scenario(idempotent: bool) -> String {
    format!(
        r#"
[scenario]
name = "acks"
duration = "60s"
[[producer]]
name = "p"
target = "t"
rate = {{ per_second = 200 }}
keys = {{ format = "k{{}}", count = 10 }}
ack_loss_rate = 0.01
idempotent = {idempotent}
request_timeout = "2s"
[[topic]]
name = "t"
partitions = 2
[[consumer]]
name = "c"
source = "t"
processing = {{ dist = "constant", value = "1ms" }}
"#
    )
}

#[test]
fn a_lost_ack_duplicates_a_record_only_without_idempotence() {
    let (e, _) = run_traced(&producer_scenario(false));
    let s = e.summary();
    let copies = s.producers[0].copies;
    assert!(copies > 50, "copies {copies}");
    assert_eq!(s.services[0].counters.duplicates, copies);
    // The copy arrives 2 s late, after newer records of its key: out of order.
    assert!(s.services[0].counters.ordering_violations > 0);
    let (e, _) = run_traced(&producer_scenario(true));
    let s = e.summary();
    assert_eq!(s.producers[0].copies, 0);
    assert_eq!(s.services[0].counters.duplicates, 0);
    assert_eq!(s.services[0].counters.ordering_violations, 0);
}

#[test]
fn retention_expires_what_a_slow_service_did_not_consume() {
    let text = r#"
[scenario]
name = "ret"
duration = "60s"
[[producer]]
name = "p"
target = "t"
rate = { per_second = 200 }
[[topic]]
name = "t"
retention = "5s"
[[consumer]]
name = "slow"
source = "t"
processing = { dist = "constant", value = "10ms" }
"#;
    let (e, _) = run_traced(text);
    let s = e.summary();
    // Capacity 100/s against 200/s: half of everything can never be read in time.
    assert!(
        s.services[0].counters.expired > 3_000,
        "{:?}",
        s.services[0].counters
    );
    assert!(s.services[0].lag_time_s <= 6.0);
}

/// Retention is a scheduled event: a record is deleted at the instant it passes the
/// topic's retention, so neither the outcome nor the trace depends on how often metrics
/// are sampled.
#[test]
fn retention_expires_at_its_instant_whatever_the_metrics_interval() {
    let text = |interval: &str| {
        format!(
            r#"
[scenario]
name = "ret-interval"
duration = "30s"
metrics_interval = "{interval}"
[[producer]]
name = "p"
target = "t"
rate = {{ per_second = 200 }}
keys = {{ format = "k{{}}", count = 50 }}
[[topic]]
name = "t"
partitions = 3
retention = "2s"
[[consumer]]
name = "slow"
source = "t"
processing = {{ dist = "exponential", mean = "8ms" }}
failure_rate = 0.05
"#
        )
    };
    let (fine, fine_trace) = run_traced(&text("100ms"));
    let (coarse, coarse_trace) = run_traced(&text("7s"));
    assert!(fine.summary().services[0].counters.expired > 500);
    assert_eq!(fine.conservation(), coarse.conservation());
    assert_eq!(fine_trace, coarse_trace);
    // Each record expires 2 s and 1 ns after it was written, to the nanosecond.
    let written: BTreeMap<u64, u64> = fine_trace
        .iter()
        .filter(|r| r.kind == TraceKind::Append)
        .map(|r| (r.msg, r.t))
        .collect();
    let expired: Vec<&TraceRec> = fine_trace
        .iter()
        .filter(|r| r.kind == TraceKind::Expire && r.instance == u32::MAX)
        .collect();
    assert!(!expired.is_empty());
    for r in expired {
        assert_eq!(r.t, written[&r.msg] + 2 * S + 1, "{r:?}");
    }
}

#[test]
fn key_ordering_keeps_per_key_order_and_beats_partition_ordering() {
    let base = |ordering: &str| {
        format!(
            r#"
[scenario]
name = "ord"
duration = "30s"
[[producer]]
name = "p"
target = "t"
rate = {{ per_second = 900 }}
keys = {{ format = "k{{}}", count = 200 }}
[[topic]]
name = "t"
partitions = 2
[[consumer]]
name = "c"
source = "t"
concurrency = 16
ordering = "{ordering}"
processing = {{ dist = "exponential", mean = "5ms" }}
"#
        )
    };
    let (k, _) = run_traced(&base("key"));
    let (p, _) = run_traced(&base("partition"));
    let (u, _) = run_traced(&base("unordered"));
    let ks = &k.summary().services[0];
    let ps = &p.summary().services[0];
    let us = &u.summary().services[0];
    assert_eq!(ks.counters.ordering_violations, 0);
    assert_eq!(ps.counters.ordering_violations, 0);
    assert!(
        us.counters.ordering_violations > 0,
        "unordered processing of hot keys reorders them"
    );
    // Two partitions at 200/s each one at a time cannot keep up with 900/s; by key they can.
    assert!(
        ks.lag < 100 && ps.lag > 1_000,
        "key lag {}, partition lag {}",
        ks.lag,
        ps.lag
    );
}

/// Accounting lives in one ledger per service, so a topic may have many readers (the
/// old per-record mask stopped at 32): 40 services read one topic, each processes
/// everything once, and conservation holds for each.
#[test]
fn forty_services_read_one_topic_each_exactly_once() {
    let mut text = String::from(
        r#"
[scenario]
name = "many-readers"
duration = "5s"
[[producer]]
name = "p"
target = "t"
rate = { per_second = 400 }
[[topic]]
name = "t"
partitions = 3
"#,
    );
    for i in 0..40 {
        text.push_str(&format!(
            "[[consumer]]\nname = \"s{i}\"\nsource = \"t\"\nprocessing = {{ dist = \"constant\", value = \"1ms\" }}\n"
        ));
    }
    let (e, _) = run_traced(&text);
    let s = e.summary();
    let produced = s.producers[0].produced;
    assert_eq!(s.services.len(), 40);
    for c in &s.conservation {
        assert!(c.holds(), "{c:?}");
        assert_eq!(c.duplicates, 0);
        assert!(c.processed_once + c.pending == produced, "{c:?}");
    }
}
