//! The SQS-like queues against the behaviour the Amazon SQS developer guide documents:
//! the receive on which a message moves to the dead-letter queue, visibility expiry and
//! the heartbeat that prevents it, FIFO group blocking, the deduplication window's
//! edges, delays, the retention of dead letters, short and long polling.

use edasim::metrics::Cause;
use edasim::sim::Engine;
use edasim::sim::trace::{TraceKind, TraceRec};

const S: u64 = 1_000_000_000;

fn run_traced(text: &str) -> (Engine, Vec<TraceRec>) {
    let model = edasim::scenario::load_str("inline.toml", text)
        .unwrap_or_else(|e| panic!("{}", e.to_plain()));
    crate::run_traced(model)
}

/// One message at t = 1 s into queue `q`, read by `worker`.
fn one_message(queues: &str, consumer: &str, duration: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 2
duration = "{duration}"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 1 }}
phases = [{{ at = "1s", per_second = 0 }}]
keys = {{ list = ["a"] }}

{queues}

[[consumer]]
name = "worker"
source = "q"
{consumer}
"#
    )
}

fn of_kind(trace: &[TraceRec], kind: TraceKind) -> Vec<&TraceRec> {
    trace.iter().filter(|r| r.kind == kind).collect()
}

#[test]
fn a_message_moves_to_the_dlq_on_the_receive_after_max_receive_count() {
    // maxReceiveCount = 3: received three times (each attempt fails and the message
    // comes back after the visibility timeout), moved on the fourth receive.
    let text = one_message(
        r#"
[[queue]]
name = "q"
visibility_timeout = "1s"
dead_letter = { queue = "dlq", max_receive_count = 3 }

[[queue]]
name = "dlq"
"#,
        r#"wait_time = "20s"
failure_rate = 1.0
processing = { dist = "constant", value = "10ms" }"#,
        "30s",
    );
    let (e, trace) = run_traced(&text);
    let delivers = of_kind(&trace, TraceKind::Deliver);
    assert_eq!(delivers.len(), 3, "three receives");
    let counts: Vec<u32> = delivers.iter().map(|r| r.attempt).collect();
    assert_eq!(counts, vec![1, 2, 3], "receive counts");
    // Each receive comes when the previous visibility timeout expired.
    for w in delivers.windows(2) {
        assert_eq!(w[1].t - w[0].t, S, "one visibility timeout apart");
    }
    let dead = of_kind(&trace, TraceKind::DeadLetter);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].t, delivers[2].t + S, "moved on the fourth receive");
    let s = e.summary();
    assert_eq!(s.queues[1].sent, 1, "the dead-letter queue holds it");
    assert_eq!(s.queues[1].visible, 1);
    assert_eq!(s.queues[0].counters.moved_to_dlq, 1);
    assert_eq!(s.conservation[0].dead_lettered, 1);
    assert_eq!(s.services[0].dlq_depth, 1);
}

#[test]
fn without_a_dlq_a_failing_message_comes_back_until_retention_deletes_it() {
    let text = one_message(
        r#"
[[queue]]
name = "q"
visibility_timeout = "10s"
retention = "60s"
"#,
        r#"wait_time = "20s"
failure_rate = 1.0
processing = { dist = "constant", value = "10ms" }"#,
        "120s",
    );
    let (e, trace) = run_traced(&text);
    // Received at 1, 11, 21, 31, 41, 51 s; deleted by retention at 61 s.
    assert_eq!(of_kind(&trace, TraceKind::Deliver).len(), 6);
    let expired = of_kind(&trace, TraceKind::Expire);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].t, 61 * S);
    let c = &e.conservation()[0];
    assert_eq!((c.expired, c.pending, c.processed_once), (1, 0, 0));
}

#[test]
fn processing_longer_than_the_visibility_timeout_is_done_twice() {
    let text = one_message(
        r#"
[[queue]]
name = "q"
visibility_timeout = "1s"
"#,
        r#"instances = 2
wait_time = "20s"
processing = { dist = "constant", value = "1500ms" }"#,
        "20s",
    );
    let (e, trace) = run_traced(&text);
    let expired = of_kind(&trace, TraceKind::VisibilityExpired);
    assert!(!expired.is_empty());
    assert_eq!(expired[0].t, 2 * S, "invisible for exactly the timeout");
    let delivers = of_kind(&trace, TraceKind::Deliver);
    assert_eq!(
        delivers[1].t,
        2 * S,
        "the waiting instance receives it at once"
    );
    assert_ne!(delivers[0].instance, delivers[1].instance);
    let s = e.summary();
    assert!(
        s.services[0].counters.duplicates >= 1,
        "{:?}",
        s.services[0]
    );
    let dup = e
        .first_anomalies()
        .iter()
        .find(|a| a.kind == edasim::metrics::AnomalyKind::Duplicate)
        .expect("a duplicate anomaly");
    assert_eq!(dup.cause, Cause::VisibilityExpired(2 * S));
    assert!(
        dup.explain(e.model())
            .contains("visibility timeout (1s) expired"),
        "{}",
        dup.explain(e.model())
    );
}

#[test]
fn a_visibility_heartbeat_keeps_a_long_processing_invisible() {
    let text = one_message(
        r#"
[[queue]]
name = "q"
visibility_timeout = "1s"
"#,
        r#"instances = 2
wait_time = "20s"
processing = { dist = "constant", value = "5s" }
visibility_heartbeat = { every = "500ms", timeout = "1s" }"#,
        "20s",
    );
    let (e, trace) = run_traced(&text);
    assert!(of_kind(&trace, TraceKind::VisibilityExpired).is_empty());
    assert_eq!(of_kind(&trace, TraceKind::Deliver).len(), 1);
    let s = e.summary();
    assert_eq!(s.services[0].counters.duplicates, 0);
    assert_eq!(s.conservation[0].processed_once, 1);
    assert_eq!(s.queues[0].visible + s.queues[0].in_flight, 0, "deleted");
}

#[test]
fn a_heartbeat_slower_than_the_timeout_does_not_save_it() {
    // Each call sets 1 s from the call; calls 2 s apart leave a gap.
    let text = one_message(
        r#"
[[queue]]
name = "q"
visibility_timeout = "1s"
"#,
        r#"instances = 2
wait_time = "20s"
processing = { dist = "constant", value = "5s" }
visibility_heartbeat = { every = "2s", timeout = "1s" }"#,
        "20s",
    );
    let (_, trace) = run_traced(&text);
    let expired = of_kind(&trace, TraceKind::VisibilityExpired);
    assert_eq!(expired[0].t, 2 * S, "expires before the first heartbeat");
}

/// Messages of two groups, 20 per second for 20 s, processed by four instances.
fn order_workload(fifo: bool) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 9
duration = "20s"

[[producer]]
name = "p"
target = "q"
rate = {{ per_second = 20 }}
keys = {{ list = ["a", "b"], dist = "sequential" }}

[[queue]]
name = "q"
fifo = {fifo}

[[consumer]]
name = "worker"
source = "q"
instances = 4
wait_time = "20s"
processing = {{ dist = "exponential", mean = "20ms" }}
"#
    )
}

#[test]
fn a_fifo_group_delivers_nothing_while_one_of_its_messages_is_in_flight() {
    let (e, trace) = run_traced(&order_workload(true));
    // Per group, every receive comes after the previous message was processed.
    for key in [0u32, 1] {
        let mut last_ack = 0u64;
        let mut in_flight = false;
        for r in trace.iter().filter(|r| r.key == key) {
            match r.kind {
                TraceKind::Deliver => {
                    assert!(!in_flight, "group {key} delivered twice at {}", r.t);
                    assert!(r.t >= last_ack);
                    in_flight = true;
                }
                TraceKind::Ack => {
                    in_flight = false;
                    last_ack = r.t;
                }
                _ => {}
            }
        }
    }
    let s = e.summary();
    assert_eq!(s.services[0].counters.ordering_violations, 0);
    assert!(s.services[0].counters.processed > 300);
}

#[test]
fn a_standard_queue_breaks_per_key_order_under_parallel_consumers() {
    let (e, _) = run_traced(&order_workload(false));
    let s = e.summary();
    assert!(
        s.services[0].counters.ordering_violations > 0,
        "{:?}",
        s.services[0]
    );
}

/// A producer that sends every message twice, the second time after `gap`.
fn duplicated_sends(gap: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 4
duration = "400s"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 0.1 }}
phases = [{{ at = "30s", per_second = 0 }}]
keys = {{ list = ["a", "b", "c"] }}
duplicate_rate = 1.0
request_timeout = "{gap}"

[[queue]]
name = "q"
fifo = true

[[consumer]]
name = "worker"
source = "q"
wait_time = "20s"
processing = {{ dist = "constant", value = "10ms" }}
"#
    )
}

#[test]
fn fifo_deduplication_holds_for_five_minutes_and_not_longer() {
    // Sent at 10, 20, 30 s, and again 4:59 later: dropped.
    let (e, trace) = run_traced(&duplicated_sends("299s"));
    let s = e.summary();
    assert_eq!(s.queues[0].counters.deduplicated, 3);
    assert_eq!(of_kind(&trace, TraceKind::Deduplicated).len(), 3);
    assert_eq!(s.services[0].counters.duplicates, 0);
    assert_eq!(s.conservation[0].processed_once, 3);
    // Again 5:01 later: a new message as far as the queue knows, processed twice.
    let (e, _) = run_traced(&duplicated_sends("301s"));
    let s = e.summary();
    assert_eq!(s.queues[0].counters.deduplicated, 0);
    assert_eq!(s.services[0].counters.duplicates, 3);
    // A standard queue never deduplicates.
    let standard = duplicated_sends("299s").replace("fifo = true", "fifo = false");
    let (e, _) = run_traced(&standard);
    assert_eq!(e.summary().services[0].counters.duplicates, 3);
}

#[test]
fn a_delay_queue_hides_messages_for_its_delay() {
    let text = one_message(
        r#"
[[queue]]
name = "q"
delay = "5s"
"#,
        r#"wait_time = "20s"
processing = { dist = "constant", value = "10ms" }"#,
        "20s",
    );
    let (_, trace) = run_traced(&text);
    let sent = of_kind(&trace, TraceKind::Append)[0].t;
    let received = of_kind(&trace, TraceKind::Deliver)[0].t;
    assert_eq!(received - sent, 5 * S);
}

/// A message dead-lettered at about 30 s into a dead-letter queue of `fifo` kind with
/// a 60-second retention.
fn dlq_retention(fifo: bool) -> String {
    let text = format!(
        r#"
[scenario]
name = "t"
seed = 2
duration = "200s"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 1 }}
phases = [{{ at = "1s", per_second = 0 }}]
keys = {{ list = ["a"] }}

[[queue]]
name = "q"
fifo = {fifo}
visibility_timeout = "10s"
dead_letter = {{ queue = "dlq", max_receive_count = 3 }}

[[queue]]
name = "dlq"
fifo = {fifo}
retention = "60s"

[[consumer]]
name = "worker"
source = "q"
wait_time = "20s"
failure_rate = 1.0
processing = {{ dist = "constant", value = "10ms" }}
"#
    );
    text
}

#[test]
fn a_standard_dlq_keeps_the_enqueue_time_and_a_fifo_dlq_resets_it() {
    // Sent at 1 s; received at 1, 11, 21 s; moved at 31 s.
    let (_, trace) = run_traced(&dlq_retention(false));
    let moved = of_kind(&trace, TraceKind::DeadLetter)[0].t;
    assert_eq!(moved, 31 * S);
    let expired = of_kind(&trace, TraceKind::Expire);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].t, 61 * S, "60 s after the first send");
    let (_, trace) = run_traced(&dlq_retention(true));
    let expired = of_kind(&trace, TraceKind::Expire);
    assert_eq!(expired[0].t, 91 * S, "60 s after the move");
}

/// An idle queue read by two instances for 60 s.
fn idle(consumer: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
duration = "60s"

[[producer]]
name = "p"
target = "q"
rate = {{ per_second = 1 }}
phases = [{{ at = "0s", per_second = 0 }}]

[[queue]]
name = "q"

[[consumer]]
name = "worker"
source = "q"
instances = 2
processing = {{ dist = "constant", value = "10ms" }}
{consumer}
"#
    )
}

#[test]
fn short_polling_pays_for_many_more_empty_receives_than_long_polling() {
    let (e, _) = run_traced(&idle(r#"poll_interval = "1s""#));
    // At 0, 1, ..., 59 s per instance.
    assert_eq!(e.summary().queues[0].counters.empty_receives, 120);
    let (e, _) = run_traced(&idle(r#"wait_time = "20s""#));
    // Timed out at 20 and 40 s per instance; the third is still waiting at the end.
    assert_eq!(e.summary().queues[0].counters.empty_receives, 4);
}

#[test]
fn a_batch_holds_its_messages_invisible_while_they_wait_for_a_slot() {
    // Ten messages at once, one slot: the last of the batch waits 9 × 1 s with its
    // visibility timeout (5 s) running, so it is received again meanwhile.
    let text = r#"
[scenario]
name = "t"
seed = 1
duration = "60s"

[[producer]]
name = "p"
target = "q"
rate = { dist = "constant", per_second = 100 }
phases = [{ at = "0.1s", per_second = 0 }]

[[queue]]
name = "q"
visibility_timeout = "5s"

[[consumer]]
name = "worker"
source = "q"
instances = 2
batch_size = 10
wait_time = "20s"
processing = { dist = "constant", value = "1s" }
"#;
    let (e, trace) = run_traced(text);
    let first = of_kind(&trace, TraceKind::Deliver);
    assert!(first.len() > 10, "some were received again");
    let s = e.summary();
    assert!(s.queues[0].counters.redeliveries > 0);
    assert!(s.services[0].counters.duplicates > 0);
}

/// Five messages that always fail in `q` (one receive each, then the DLQ), and a
/// redrive at 30 s with `action`.
fn redrive(action: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 3
duration = "60s"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 1 }}
phases = [{{ at = "5s", per_second = 0 }}]

[[queue]]
name = "q"
visibility_timeout = "1s"
dead_letter = {{ queue = "dlq", max_receive_count = 1 }}

[[queue]]
name = "dlq"

[[queue]]
name = "retry"

[[consumer]]
name = "failing"
source = "q"
wait_time = "20s"
failure_rate = 1.0
processing = {{ dist = "constant", value = "10ms" }}

[[consumer]]
name = "healthy"
source = "retry"
wait_time = "20s"
processing = {{ dist = "constant", value = "10ms" }}

[[action]]
kind = "redrive"
at = "30s"
queue = "dlq"
{action}
"#
    )
}

#[test]
fn a_redrive_moves_dead_letters_oldest_first_at_its_rate() {
    let (e, trace) = run_traced(&redrive("to = \"retry\"\nrate = 2"));
    let moves = of_kind(&trace, TraceKind::Redrive);
    assert_eq!(moves.len(), 5);
    let times: Vec<u64> = moves.iter().map(|r| r.t).collect();
    let expected: Vec<u64> = (0..5).map(|i| 30 * S + i * S / 2).collect();
    assert_eq!(times, expected, "two per second from 30 s");
    let ids: Vec<u64> = moves.iter().map(|r| r.msg).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "oldest first");
    let s = e.summary();
    assert_eq!(s.queues[1].counters.redriven, 5);
    assert_eq!(s.queues[1].visible, 0);
    assert_eq!(s.conservation[0].dead_lettered, 5);
    assert_eq!(
        s.conservation[1].processed_once, 5,
        "{:?}",
        s.conservation[1]
    );
}

#[test]
fn a_redrive_without_a_destination_returns_messages_to_their_source_queue() {
    // Back to `q`, where they fail again and return to the dead-letter queue: a redrive
    // before the cause is fixed only goes round.
    let (e, trace) = run_traced(&redrive(""));
    assert_eq!(of_kind(&trace, TraceKind::Redrive).len(), 5);
    assert!(
        of_kind(&trace, TraceKind::Redrive)
            .iter()
            .all(|r| r.t == 30 * S)
    );
    let s = e.summary();
    assert_eq!(s.queues[0].sent, 10, "five sent, five redriven");
    assert_eq!(s.queues[0].counters.moved_to_dlq, 10);
    assert_eq!(s.queues[1].visible, 5);
    assert_eq!(s.conservation[0].dead_lettered, 10);
}
