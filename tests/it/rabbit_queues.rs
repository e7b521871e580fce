//! RabbitMQ-like queues in a run: push to consumers up to their prefetch, round robin;
//! negative acknowledgements and requeues with the redelivered flag; a crashed
//! consumer's messages returned; message TTL, length limits and the quorum delivery
//! limit, each to the dead-letter exchange with the right routing key; dead-letter
//! cycles; publisher confirms. The queue's bookkeeping itself is tested against
//! rabbitmq-server's suites in `src/broker/rabbit/queue.rs`.

use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{Engine, RabbitQueueSummary, Summary};

use crate::run_traced;

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("inline.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

fn rq<'a>(s: &'a Summary, name: &str) -> &'a RabbitQueueSummary {
    s.rabbit_queues
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no rabbit queue {name}"))
}

fn comp(e: &Engine, name: &str) -> u32 {
    e.component_names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no component {name}")) as u32
}

fn service<'a>(s: &'a Summary, name: &str) -> &'a edasim::sim::ServiceSummary {
    s.services
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no consumer {name}"))
}

/// `n` messages to `target`, `per_second` a second from t = 0, then the other lines.
fn scenario(n: u32, per_second: u32, target: &str, rest: &str) -> String {
    let end = n.div_ceil(per_second);
    format!(
        r##"
[scenario]
name = "t"
seed = 7
duration = "{}s"

[[producer]]
name = "p"
target = "{target}"
rate = {{ dist = "constant", per_second = {per_second} }}
phases = [{{ at = "{end}s", per_second = 0 }}]
keys = {{ format = "k{{}}", count = 1000, dist = "sequential" }}
{rest}
"##,
        end + 60
    )
}

fn deliveries_by_instance(trace: &[TraceRec], service: u32) -> [u64; 2] {
    let mut n = [0u64; 2];
    for r in trace {
        if r.kind == TraceKind::Deliver && r.component == service {
            n[r.instance as usize] += 1;
        }
    }
    n
}

/// RabbitMQ's default, an unlimited prefetch, pushes round robin however busy each
/// consumer is; `prefetch = 1` gives the next message to whichever consumer is free
/// ("fair dispatch"). One of two instances is 10 times slower.
#[test]
fn prefetch_zero_spreads_round_robin_and_prefetch_one_dispatches_fairly() {
    let run = |prefetch: u32| {
        let text = scenario(
            400,
            100,
            "jobs",
            &format!(
                r##"
[[queue]]
name = "jobs"
type = "classic"

[[consumer]]
name = "worker"
source = "jobs"
instances = 2
prefetch = {prefetch}
processing = {{ dist = "constant", value = "8ms" }}

[[fault]]
kind = "slowdown"
target = "worker#2"
at = "0s"
factor = 10.0
"##
            ),
        );
        let (e, trace) = run_traced(load(&text));
        let n = deliveries_by_instance(&trace, comp(&e, "worker"));
        let s = e.summary();
        assert_eq!(service(&s, "worker").counters.processed_once, 400);
        (n, s)
    };
    let (unlimited, s) = run(0);
    // Round robin: 200 each, the slow one builds a backlog of pushed messages.
    assert_eq!(unlimited, [200, 200]);
    assert_eq!(rq(&s, "jobs").counters.delivered, 400);
    let (fair, _) = run(1);
    assert_eq!(fair[0] + fair[1], 400);
    // The fast instance (8 ms) takes what arrives while the slow one (80 ms) works:
    // several times its share, where round robin gave both the same.
    assert!(fair[0] > 5 * fair[1], "{fair:?}");
}

/// A consumer with `prefetch = P` never holds more than P unacknowledged messages:
/// deliveries minus acknowledgements per instance stay within P.
#[test]
fn an_instance_holds_at_most_its_prefetch() {
    let text = scenario(
        600,
        300,
        "jobs",
        r##"
[[queue]]
name = "jobs"
type = "quorum"

[[consumer]]
name = "worker"
source = "jobs"
instances = 2
concurrency = 2
prefetch = 3
processing = { dist = "exponential", mean = "10ms" }
"##,
    );
    let (e, trace) = run_traced(load(&text));
    let w = comp(&e, "worker");
    let mut held = [0i64; 2];
    let mut most = 0;
    for r in &trace {
        if r.component != w {
            continue;
        }
        match r.kind {
            TraceKind::Deliver => held[r.instance as usize] += 1,
            TraceKind::Ack => held[r.instance as usize] -= 1,
            _ => {}
        }
        most = most.max(held[0]).max(held[1]);
    }
    assert_eq!(most, 3);
    assert_eq!(held, [0, 0]);
}

/// A quorum queue counts a `reject-requeue` as a failed delivery: a poison message is
/// delivered `delivery_limit + 1` times, then dead-lettered with its own routing key
/// (the queue's name: it was sent to the queue directly). A `nack-requeue` does not
/// count (RabbitMQ 4.3): the same message comes back for ever.
#[test]
fn the_delivery_limit_counts_rejects_not_nacks() {
    let run = |nack: &str| {
        let text = scenario(
            200,
            100,
            "payments",
            &format!(
                r##"
[[queue]]
name = "payments"
type = "quorum"
delivery_limit = 3
dead_letter_exchange = "dlx"

[[exchange]]
name = "dlx"
kind = "direct"

[[exchange.binding]]
queue = "payments-dlq"
key = "payments"

[[queue]]
name = "payments-dlq"
type = "classic"

[[consumer]]
name = "payment"
source = "payments"
prefetch = 1
poison_rate = 0.05
negative_ack = "{nack}"
processing = {{ dist = "constant", value = "1ms" }}
"##
            ),
        );
        let (e, _) = run_traced(load(&text));
        e.summary()
    };
    let s = run("reject-requeue");
    let q = &rq(&s, "payments").counters;
    let poison = q.delivery_limit;
    assert!(poison > 0);
    assert_eq!(
        q.redelivered,
        3 * poison,
        "three returns before the fourth failure"
    );
    assert_eq!(q.dead_lettered, poison);
    assert_eq!(rq(&s, "payments-dlq").sent, poison);
    let g = &service(&s, "payment").counters;
    assert_eq!(g.dead_lettered, poison);
    assert_eq!(g.processed_once + poison, 200);
    assert_eq!(service(&s, "payment").dlq_depth, poison);

    let s = run("nack-requeue");
    let q = &rq(&s, "payments").counters;
    assert_eq!(q.delivery_limit, 0);
    assert_eq!(q.dead_lettered, 0);
    assert!(q.redelivered > 1000, "{}", q.redelivered);
}

/// `reject` without requeue: the message goes to the dead-letter exchange at once
/// with reason rejected; without one it is discarded, and counted lost with the cause.
#[test]
fn a_reject_dead_letters_or_loses_with_the_cause() {
    let text = scenario(
        100,
        100,
        "payments",
        r##"
[[queue]]
name = "payments"
type = "classic"

[[consumer]]
name = "payment"
source = "payments"
poison_rate = 0.1
retry = { max_attempts = 2, backoff = "none" }
processing = { dist = "constant", value = "1ms" }
"##,
    );
    let (e, trace) = run_traced(load(&text));
    let s = e.summary();
    let g = &service(&s, "payment").counters;
    assert!(g.lost > 0);
    assert_eq!(g.lost, rq(&s, "payments").counters.rejected);
    assert_eq!(g.lost, rq(&s, "payments").counters.discarded);
    assert_eq!(g.processed_once + g.lost, 100);
    let q = comp(&e, "payments");
    let drops = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Drop && r.component == q)
        .count() as u64;
    assert_eq!(drops, g.lost);
    let why = e
        .anomalies()
        .find(|a| a.kind == edasim::metrics::AnomalyKind::Lost)
        .map(|a| a.explain(e.model()))
        .unwrap_or_default();
    assert!(
        why.contains("rejected by the consumer after 2 attempts"),
        "{why}"
    );
}

/// A crashed instance's channel closes: what it held returns to the queue,
/// redelivered, and is processed by the others; in RabbitMQ 4.3 that is not a failed
/// delivery, so even a delivery limit of 0 dead-letters nothing.
#[test]
fn a_crashed_consumer_returns_what_it_held_without_counting_failures() {
    let text = scenario(
        1000,
        200,
        "orders",
        r##"
[[queue]]
name = "orders"
type = "quorum"
delivery_limit = 0

[[consumer]]
name = "shipper"
source = "orders"
instances = 2
prefetch = 20
processing = { dist = "exponential", mean = "9ms" }

[[fault]]
kind = "crash"
target = "shipper#1"
at = "2s"
duration = "1s"
"##,
    );
    let (e, trace) = run_traced(load(&text));
    let s = e.summary();
    let q = &rq(&s, "orders").counters;
    assert!(q.requeued > 0);
    assert_eq!(q.redelivered, q.requeued);
    assert_eq!(q.delivery_limit, 0);
    assert_eq!(q.dead_lettered + q.discarded, 0);
    let g = &service(&s, "shipper").counters;
    assert_eq!(g.processed_once, 1000);
    // Redelivered messages go to the surviving instance while the other is down.
    let w = comp(&e, "shipper");
    let crash = trace
        .iter()
        .find(|r| r.kind == TraceKind::Crash && r.component == w)
        .map(|r| r.t)
        .expect("a crash");
    assert!(
        trace
            .iter()
            .filter(|r| r.kind == TraceKind::Deliver && r.component == w && r.t == crash)
            .all(|r| r.instance == 1)
    );
}

/// Message TTL: with nobody reading, every message expires one TTL after it entered
/// (only the head expires, and here every message reaches the head in time) and goes
/// to the dead-letter exchange with the dead-letter routing key.
#[test]
fn expired_messages_go_to_the_dead_letter_exchange_with_its_routing_key() {
    let text = scenario(
        10,
        10,
        "fresh",
        r##"
[[queue]]
name = "fresh"
type = "classic"
message_ttl = "2s"
dead_letter_exchange = "dlx"
dead_letter_routing_key = "stale"

[[exchange]]
name = "dlx"
kind = "direct"

[[exchange.binding]]
queue = "stale"
key = "stale"

[[queue]]
name = "stale"
type = "classic"
"##,
    );
    let (e, trace) = run_traced(load(&text));
    let s = e.summary();
    assert_eq!(rq(&s, "fresh").counters.expired_ttl, 10);
    assert_eq!(rq(&s, "fresh").ready, 0);
    assert_eq!(rq(&s, "stale").ready, 10);
    let fresh = comp(&e, "fresh");
    let appended: Vec<u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Append && r.component == fresh)
        .map(|r| r.t)
        .collect();
    let dead: Vec<u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::DeadLetter && r.component == fresh)
        .map(|r| r.t)
        .collect();
    assert_eq!(appended.len(), 10);
    let expected: Vec<u64> = appended.iter().map(|t| t + 2_000_000_000 + 1).collect();
    assert_eq!(dead, expected);
}

/// Length limits, ten publishes into a queue of three with nobody reading:
/// drop-head keeps the newest three and dead-letters the rest; reject-publish keeps
/// the oldest three and refuses the rest (nacked with confirms, lost unknowingly
/// without); reject-publish-dlx dead-letters what it refuses.
#[test]
fn overflow_modes_keep_the_newest_or_the_oldest() {
    let run = |overflow: &str, confirms: bool| {
        let text = scenario(
            10,
            10,
            "x",
            &format!(
                r##"
confirms = {confirms}

[[exchange]]
name = "x"
kind = "fanout"

[[exchange.binding]]
queue = "small"

[[queue]]
name = "small"
type = "classic"
max_length = 3
overflow = "{overflow}"
dead_letter_exchange = "dlx"

[[exchange]]
name = "dlx"
kind = "fanout"

[[exchange.binding]]
queue = "dlq"

[[queue]]
name = "dlq"
type = "classic"
"##
            ),
        );
        let (e, trace) = run_traced(load(&text));
        (e.summary(), trace)
    };
    let (s, _) = run("drop-head", false);
    assert_eq!(rq(&s, "small").ready, 3);
    assert_eq!(rq(&s, "small").counters.dropped_overflow, 7);
    assert_eq!(rq(&s, "dlq").ready, 7);
    assert_eq!(s.producers[0].lost_unconfirmed, 0);

    let (s, _) = run("reject-publish", false);
    assert_eq!(rq(&s, "small").ready, 3);
    assert_eq!(rq(&s, "small").counters.rejected_publish, 7);
    assert_eq!(rq(&s, "dlq").ready, 0);
    assert_eq!(s.producers[0].lost_unconfirmed, 7);
    assert_eq!(s.producers[0].nacked, 0);

    let (s, _) = run("reject-publish", true);
    assert_eq!(s.producers[0].nacked, 7);
    assert_eq!(s.producers[0].lost_unconfirmed, 0);

    let (s, _) = run("reject-publish-dlx", true);
    assert_eq!(rq(&s, "small").ready, 3);
    assert_eq!(rq(&s, "dlq").ready, 7);
    assert_eq!(rq(&s, "small").counters.dropped_overflow, 0);
}

/// A message whose dead-letter exchange routes it back to a queue it expired from is
/// dropped: a cycle with no rejection in it.
#[test]
fn a_dead_letter_cycle_without_a_rejection_is_dropped() {
    let text = scenario(
        5,
        5,
        "a",
        r##"
[[queue]]
name = "a"
type = "classic"
message_ttl = "1s"
dead_letter_exchange = "to-b"

[[queue]]
name = "b"
type = "classic"
message_ttl = "1s"
dead_letter_exchange = "to-a"

[[exchange]]
name = "to-b"
kind = "fanout"

[[exchange.binding]]
queue = "b"

[[exchange]]
name = "to-a"
kind = "fanout"

[[exchange.binding]]
queue = "a"
"##,
    );
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    // a → b (expired in a), b → a would reach a queue it died in: dropped there.
    assert_eq!(rq(&s, "a").counters.expired_ttl, 5);
    assert_eq!(rq(&s, "b").counters.expired_ttl, 5);
    assert_eq!(rq(&s, "a").counters.discarded, 5);
    assert_eq!(rq(&s, "a").ready + rq(&s, "b").ready, 0);
}

/// A producer's dead letter keeps its own routing key when the queue sets none.
#[test]
fn a_dead_letter_keeps_its_routing_key() {
    let text = scenario(
        30,
        10,
        "orders",
        r##"
routing_key = { cycle = ["order.eu", "order.us", "order.apac"] }

[[exchange]]
name = "orders"
kind = "topic"

[[exchange.binding]]
queue = "all"
key = "order.*"

[[queue]]
name = "all"
type = "classic"
message_ttl = "0s"
dead_letter_exchange = "dlx"

[[exchange]]
name = "dlx"
kind = "direct"

[[exchange.binding]]
queue = "eu-dead"
key = "order.eu"

[[queue]]
name = "eu-dead"
type = "classic"
"##,
    );
    let (e, _) = run_traced(load(&text));
    let s = e.summary();
    // TTL 0 with no consumer: every message expires; only EU keys reach eu-dead.
    assert_eq!(rq(&s, "all").counters.expired_ttl, 30);
    assert_eq!(rq(&s, "eu-dead").ready, 10);
}

/// Publisher confirms during an exchange's outage: with them the producer holds what
/// is refused and sends it when the exchange is back; without them it is lost.
#[test]
fn publisher_confirms_decide_whether_an_outage_loses_publishes() {
    let run = |confirms: bool| {
        let text = scenario(
            100,
            10,
            "x",
            &format!(
                r##"
confirms = {confirms}

[[exchange]]
name = "x"
kind = "fanout"

[[exchange.binding]]
queue = "q"

[[queue]]
name = "q"
type = "classic"

[[consumer]]
name = "reader"
source = "q"
processing = {{ dist = "constant", value = "1ms" }}

[[fault]]
kind = "broker_outage"
target = "x"
at = "2s"
duration = "3s"
"##
            ),
        );
        let (e, _) = run_traced(load(&text));
        e.summary()
    };
    let s = run(false);
    assert_eq!(s.producers[0].lost_unconfirmed, 30);
    assert_eq!(service(&s, "reader").counters.processed_once, 70);
    let s = run(true);
    assert_eq!(s.producers[0].lost_unconfirmed, 0);
    assert_eq!(service(&s, "reader").counters.processed_once, 100);
}

/// `edasim check` caps a RabbitMQ queue's backlog at its `max_length` and says what
/// the excess becomes; the run drops or refuses about that many (the fluid model
/// against the simulated burst of rabbit-overflow, within 3%).
#[test]
fn the_capacity_check_predicts_what_a_length_limit_drops() {
    let model = crate::bundled("rabbit-overflow.toml");
    let a = edasim::capacity::analyse(&model);
    let text = edasim::capacity::text(&model, &a);
    assert!(
        text.contains("max_length 5000 caps it: about 55k messages dropped, the oldest first"),
        "{text}"
    );
    assert!(
        text.contains("max_length 5000 caps it: about 55k messages refused as they arrive"),
        "{text}"
    );
    let predicted = a
        .services
        .iter()
        .find(|s| model.services[s.service].name == "newest-first")
        .and_then(|s| s.backlogs.first())
        .map(|b| b.peak_messages - 5000.0)
        .expect("a backlog");
    let e = crate::run(model, edasim::sim::Options::default());
    let s = e.summary();
    for (queue, got) in [
        ("drop-head", rq(&s, "drop-head").counters.dropped_overflow),
        (
            "reject-publish",
            rq(&s, "reject-publish").counters.rejected_publish,
        ),
    ] {
        let err = (got as f64 - predicted).abs() / predicted;
        assert!(err < 0.03, "{queue}: {got} against {predicted}");
    }
}

/// A consumer cut off from its queue gets no pushes and its acknowledgements wait. Healed
/// within the heartbeat timeout (60 s), they arrive: nothing is delivered twice. Cut
/// off longer, the broker closes its connection at 60 s: what it held, including what
/// it processed meanwhile, returns to the queue and the other instance processes it
/// again (duplicates, redelivered).
#[test]
fn a_cut_off_consumer_keeps_its_messages_until_the_heartbeat_timeout() {
    let run = |cut_s: u32| {
        let text = format!(
            r##"
[scenario]
name = "t"
seed = 9
duration = "200s"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 20 }}
phases = [{{ at = "120s", per_second = 0 }}]

[[queue]]
name = "q"
type = "classic"

[[consumer]]
name = "c"
source = "q"
instances = 2
prefetch = 5
processing = {{ dist = "constant", value = "90ms" }}

[[fault]]
kind = "network_partition"
target = "q"
peer = "c#1"
at = "10s"
duration = "{cut_s}s"
"##
        );
        let (e, _) = run_traced(load(&text));
        e.summary()
    };
    let s = run(10);
    let g = &service(&s, "c").counters;
    assert_eq!(g.duplicates, 0);
    assert_eq!(g.processed_once, 2400);
    assert_eq!(rq(&s, "q").counters.requeued, 0);
    let s = run(90);
    let g = &service(&s, "c").counters;
    let q = &rq(&s, "q").counters;
    assert_eq!(g.processed_once, 2400);
    // What the cut-off instance held returns at 60 s: the one it was processing when
    // cut off (done since, its acknowledgement lost with the connection) is processed
    // again by the other instance, a duplicate.
    assert!(q.requeued >= 1, "{q:?}");
    assert_eq!(q.redelivered, q.requeued);
    assert!(
        g.duplicates >= 1 && g.duplicates <= q.requeued,
        "{g:?} {q:?}"
    );
}
