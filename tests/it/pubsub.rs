//! SNS-like pubsubs and Lambda-style functions against the behaviour the SNS and Lambda
//! developer guides document: a publish reaches every subscription whose filter policy
//! matches (attributes or body), the rest is counted; a FIFO pubsub deduplicates; a
//! function invoked asynchronously is retried twice, one and then two minutes apart,
//! before its event goes to `on_failure` or is lost; events past `maximum_event_age`
//! are dropped; a function reading a queue fails whole batches unless it reports
//! partial batch failures.

use edasim::metrics::Cause;
use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{Engine, Options, Summary};

const S: u64 = 1_000_000_000;

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("inline.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

fn run_traced(text: &str) -> (Engine, Vec<TraceRec>) {
    crate::run_traced(load(text))
}

fn comp(e: &Engine, name: &str) -> u32 {
    e.component_names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no component {name}")) as u32
}

fn svc<'a>(s: &'a Summary, name: &str) -> &'a edasim::sim::ServiceSummary {
    s.services
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// `n` messages, one per second from t = 1 s, from producer `p` (with `producer`
/// lines) to pubsub `topic`.
fn scenario(n: u32, duration: &str, producer: &str, rest: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 3
duration = "{duration}"

[[producer]]
name = "p"
target = "topic"
rate = {{ dist = "constant", per_second = 1 }}
phases = [{{ at = "{n}s", per_second = 0 }}]
{producer}

{rest}
"#
    )
}

#[test]
fn a_publish_reaches_every_matching_subscription_and_the_rest_is_counted() {
    let text = scenario(
        12,
        "30s",
        r#"attributes = { kind = { cycle = ["a", "b", "c"] }, n = { cycle = [1, 50, 500] } }"#,
        r#"
[[pubsub]]
name = "topic"

[[pubsub.subscription]]
queue = "qa"
filter_policy = { kind = ["a"] }

[[pubsub.subscription]]
queue = "qbig"
filter_policy = { n = [{ numeric = [">=", 50] }] }

[[queue]]
name = "qa"

[[queue]]
name = "qbig"

[[consumer]]
name = "wa"
source = "qa"
processing = { dist = "constant", value = "1ms" }

[[consumer]]
name = "wbig"
source = "qbig"
processing = { dist = "constant", value = "1ms" }
"#,
    );
    let (e, trace) = run_traced(&text);
    let s = e.summary();
    // Messages 0..12 cycle a/1, b/50, c/500: kind a → 4; n >= 50 → 8; kind a is n = 1,
    // so every message goes somewhere.
    assert_eq!(svc(&s, "wa").counters.processed, 4);
    assert_eq!(svc(&s, "wbig").counters.processed, 8);
    let p = &s.pubsubs[0];
    assert_eq!(p.published, 12);
    assert_eq!(p.counters.routed, 12);
    assert_eq!(p.counters.filtered, 12);
    assert_eq!(p.counters.filtered_out, 0);
    let topic = comp(&e, "topic");
    let qa = comp(&e, "qa");
    let routes: Vec<&TraceRec> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Route && r.component == topic)
        .collect();
    assert_eq!(routes.len(), 12);
    // The first message (kind a) is routed to qa and refused by qbig's filter.
    let first = routes[0].msg;
    let of_first: Vec<(TraceKind, u32)> = trace
        .iter()
        .filter(|r| r.msg == first && r.component == topic)
        .map(|r| (r.kind, r.instance))
        .collect();
    assert_eq!(
        of_first,
        vec![
            (TraceKind::Route, qa),
            (TraceKind::Filtered, comp(&e, "qbig"))
        ]
    );
}

#[test]
fn messages_no_subscription_takes_are_filtered_out() {
    let text = scenario(
        10,
        "20s",
        r#"attributes = { kind = { cycle = ["a", "b"] } }"#,
        r#"
[[pubsub]]
name = "topic"

[[pubsub.subscription]]
queue = "q"
filter_policy = '{"kind": [{"anything-but": ["b"]}]}'

[[queue]]
name = "q"

[[consumer]]
name = "w"
source = "q"
processing = { dist = "constant", value = "1ms" }
"#,
    );
    let (e, _) = run_traced(&text);
    let s = e.summary();
    assert_eq!(s.pubsubs[0].counters.filtered_out, 5);
    assert_eq!(svc(&s, "w").counters.processed, 5);
}

#[test]
fn weighted_choices_and_ranges_follow_their_distribution() {
    let text = r#"
[scenario]
name = "t"
seed = 9
duration = "100s"

[[producer]]
name = "p"
target = "topic"
rate = { per_second = 200 }
attributes = { channel = { choose = ["web", "app"], weights = [3, 1] }, amount = { range = [1, 100] } }

[[pubsub]]
name = "topic"

[[pubsub.subscription]]
queue = "web"
filter_policy = { channel = ["web"] }

[[pubsub.subscription]]
queue = "big"
filter_policy = { amount = [{ numeric = [">", 90] }] }

[[queue]]
name = "web"

[[queue]]
name = "big"
"#;
    let (e, _) = run_traced(text);
    let s = e.summary();
    let sent = |name: &str| {
        s.queues
            .iter()
            .find(|q| q.name == name)
            .map_or(0, |q| q.sent)
    };
    let n = s.producers[0].produced as f64;
    let web = sent("web") as f64 / n;
    let big = sent("big") as f64 / n;
    // 20,000 draws: 0.75 and 0.10 within 4 standard deviations.
    assert!(
        (web - 0.75).abs() < 4.0 * (0.75f64 * 0.25 / n).sqrt(),
        "{web}"
    );
    assert!(
        (big - 0.10).abs() < 4.0 * (0.10f64 * 0.90 / n).sqrt(),
        "{big}"
    );
}

#[test]
fn body_policies_read_nested_payload_fields_and_sample_files_cycle_in_order() {
    let text = scenario(
        9,
        "20s",
        r#"payload = { file = "events.jsonl" }"#,
        r#"
[[pubsub]]
name = "topic"

[[pubsub.subscription]]
queue = "eu"
filter_policy = { order = { region = [{ prefix = "eu-" }] } }
filter_policy_scope = "message_body"

[[pubsub.subscription]]
queue = "tagged"
filter_policy = { order = { items = { sku = ["gift-card"] } } }
filter_policy_scope = "message_body"

[[queue]]
name = "eu"

[[queue]]
name = "tagged"
"#,
    );
    let lines = concat!(
        "{\"order\": {\"region\": \"eu-west-1\", \"items\": [{\"sku\": \"book\"}]}}\n",
        "{\"order\": {\"region\": \"us-east-1\", \"items\": [{\"sku\": \"gift-card\"}, {\"sku\": \"pen\"}]}}\n",
        "{\"order\": {\"region\": \"eu-central-1\", \"items\": []}}\n",
    );
    let read = |name: &str| -> Result<String, String> {
        assert_eq!(name, "events.jsonl");
        Ok(lines.to_string())
    };
    let model = edasim::scenario::load_files(
        "inline.toml",
        &text,
        &edasim::scenario::Overrides::default(),
        &read,
    )
    .unwrap_or_else(|e| panic!("{}", e.to_plain()));
    let (e, _) = crate::run_traced(model);
    let s = e.summary();
    let sent = |name: &str| {
        s.queues
            .iter()
            .find(|q| q.name == name)
            .map_or(0, |q| q.sent)
    };
    // Nine messages over three lines: lines 1 and 3 are in the EU, line 2 holds a gift card.
    assert_eq!(sent("eu"), 6);
    assert_eq!(sent("tagged"), 3);
    // Without a reader (the library's load_str) the file is refused, with its place.
    let err = edasim::scenario::load_str("inline.toml", &text)
        .err()
        .map(|e| e.to_plain())
        .unwrap_or_default();
    assert!(err.contains("cannot read payload file"), "{err}");
}

/// A function subscribed to `topic`, failing during an errors fault of `fault`.
fn function_scenario(n: u32, function: &str, fault: &str, extra: &str) -> String {
    scenario(
        n,
        "20m",
        "",
        &format!(
            r#"
[[pubsub]]
name = "topic"

[[pubsub.subscription]]
function = "fn"

[[consumer]]
name = "fn"
kind = "function"
source = "topic"
processing = {{ dist = "constant", value = "100ms" }}
{function}

{fault}
{extra}
"#
        ),
    )
}

#[test]
fn an_async_function_is_retried_after_one_then_two_minutes_and_then_lost() {
    let text = function_scenario(
        1,
        "",
        r#"
[[fault]]
kind = "errors"
target = "fn"
at = "0s"
duration = "10m"
"#,
        "",
    );
    let (e, trace) = run_traced(&text);
    let fn_comp = comp(&e, "fn");
    let starts: Vec<u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::ProcessStart && r.component == fn_comp)
        .map(|r| r.t)
        .collect();
    assert_eq!(starts.len(), 3, "one attempt and two retries");
    // Each attempt runs 100 ms; the retries wait 60 s and then 120 s after a failure.
    assert_eq!(starts[1] - starts[0], 60 * S + S / 10);
    assert_eq!(starts[2] - starts[1], 120 * S + S / 10);
    let s = e.summary();
    assert_eq!(svc(&s, "fn").counters.lost, 1);
    let a = e
        .first_anomalies()
        .iter()
        .find(|a| a.cause == Cause::RetriesExhausted(3))
        .unwrap_or_else(|| panic!("no lost anomaly: {:?}", e.first_anomalies()));
    let text = a.explain(e.model());
    assert!(text.contains("no on_failure destination"), "{text}");
}

#[test]
fn an_outage_shorter_than_the_retries_loses_nothing_and_on_failure_keeps_the_rest() {
    // The outage ends at 2:30: an event of t = 1 s fails at 1 s and 61 s, and its third
    // attempt at 181 s succeeds.
    let text = function_scenario(
        1,
        "",
        r#"
[[fault]]
kind = "errors"
target = "fn"
at = "0s"
duration = "150s"
"#,
        "",
    );
    let (e, _) = run_traced(&text);
    let s = e.summary();
    assert_eq!(svc(&s, "fn").counters.lost, 0);
    assert_eq!(svc(&s, "fn").counters.processed, 1);
    assert_eq!(svc(&s, "fn").counters.retries, 2);
    // No retries, an on-failure queue: the event is kept there.
    let text = function_scenario(
        3,
        "maximum_retry_attempts = 0\non_failure = \"failed\"",
        r#"
[[fault]]
kind = "errors"
target = "fn"
at = "0s"
duration = "1h"
"#,
        "[[queue]]\nname = \"failed\"",
    );
    let (e, _) = run_traced(&text);
    let s = e.summary();
    assert_eq!(svc(&s, "fn").counters.lost, 0);
    assert_eq!(svc(&s, "fn").counters.dead_lettered, 3);
    assert_eq!(svc(&s, "fn").counters.retries, 0);
    assert_eq!(s.queues[0].visible, 3);
}

#[test]
fn events_past_the_maximum_event_age_are_dropped_and_busy_invocations_throttle() {
    // One invocation at a time, 50 s each, a maximum age of 60 s: of five events a
    // second apart, the first runs at once; the second waits 49 s and runs; the
    // others are older than 60 s when their turn comes at 100 s.
    let text = scenario(
        5,
        "10m",
        "",
        r#"
[[pubsub]]
name = "topic"

[[pubsub.subscription]]
function = "fn"

[[consumer]]
name = "fn"
kind = "function"
source = "topic"
max_concurrency = 1
maximum_event_age = "60s"
processing = { dist = "constant", value = "50s" }
"#,
    );
    let (e, _) = run_traced(&text);
    let s = e.summary();
    assert_eq!(svc(&s, "fn").counters.processed, 2);
    assert_eq!(svc(&s, "fn").counters.lost, 3);
    assert_eq!(s.throttled, vec![("fn".to_string(), 4)]);
    assert!(
        e.first_anomalies()
            .iter()
            .any(|a| matches!(a.cause, Cause::EventTooOld(age) if age == 60 * S)),
        "{:?}",
        e.first_anomalies()
    );
}

/// A function reading a queue of 50 messages (10 per batch); some always fail.
fn batch_scenario(partial: bool) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = 4
duration = "5m"

[[producer]]
name = "p"
target = "q"
rate = {{ dist = "constant", per_second = 100 }}
phases = [{{ at = "0.5s", per_second = 0 }}]

[[queue]]
name = "q"
visibility_timeout = "10s"
dead_letter = {{ queue = "dlq", max_receive_count = 3 }}

[[queue]]
name = "dlq"

[[consumer]]
name = "fn"
kind = "function"
source = "q"
max_concurrency = 2
batch_size = 10
batching_window = "1s"
partial_batch_response = {partial}
poison_rate = 0.15
processing = {{ dist = "constant", value = "10ms" }}
"#
    )
}

#[test]
fn a_failed_record_returns_its_whole_batch_unless_the_function_reports_partial_failures() {
    let (e, _) = run_traced(&batch_scenario(true));
    let s = e.summary();
    let f = svc(&s, "fn");
    let poison = f.counters.produced - f.counters.processed_once;
    assert!(poison > 0, "the seed gives no poison message");
    // Partial batch response: only the failing records return, so nothing is processed
    // twice, and each of them reaches the dead-letter queue after three receives.
    assert_eq!(f.counters.duplicates, 0);
    assert_eq!(s.queues[1].visible, poison);
    let (e, _) = run_traced(&batch_scenario(false));
    let s = e.summary();
    let g = svc(&s, "fn");
    // Without it, every batch holding a poison message comes back whole after the
    // visibility timeout: its good records are processed again.
    assert!(g.counters.duplicates > 0, "{:?}", g.counters);
    assert_eq!(g.counters.produced, f.counters.produced);
    assert!(s.queues[0].counters.redeliveries > f.counters.duplicates);
}

#[test]
fn a_batching_window_gathers_a_batch_before_the_invocation() {
    let text = r#"
[scenario]
name = "t"
seed = 4
duration = "60s"

[[producer]]
name = "p"
target = "q"
rate = { dist = "constant", per_second = 4 }

[[queue]]
name = "q"

[[consumer]]
name = "fn"
kind = "function"
source = "q"
max_concurrency = 2
batch_size = 10
batching_window = "2s"
processing = { dist = "constant", value = "1ms" }
"#;
    let (e, _) = run_traced(text);
    let s = e.summary();
    // About 4 × 2 = 8 records per receive instead of one each.
    let receives = s.queues[0].counters.receives;
    let sent = s.queues[0].sent;
    assert!(
        receives * 5 < sent,
        "{receives} receives for {sent} messages"
    );
    // No record waits much longer than the window.
    assert!(
        svc(&s, "fn").latency_max_ms < 2_500.0,
        "{}",
        svc(&s, "fn").latency_max_ms
    );
}

#[test]
fn a_fifo_pubsub_drops_republished_ids_and_its_fifo_queue_keeps_group_order() {
    let text = r#"
[scenario]
name = "t"
seed = 5
duration = "60s"

[[producer]]
name = "p"
target = "topic"
rate = { per_second = 100 }
keys = { format = "k{}", count = 20 }
duplicate_rate = 0.1
request_timeout = "1s"

[[pubsub]]
name = "topic"
fifo = true

[[pubsub.subscription]]
queue = "ordered"

[[queue]]
name = "ordered"
fifo = true

[[consumer]]
name = "w"
source = "ordered"
instances = 4
concurrency = 2
batch_size = 10
wait_time = "20s"
processing = { dist = "exponential", mean = "20ms" }
"#;
    let (e, _) = run_traced(text);
    let s = e.summary();
    let copies = s.producers[0].copies;
    assert!(copies > 100);
    assert_eq!(s.pubsubs[0].counters.deduplicated, copies);
    let w = svc(&s, "w");
    assert_eq!(w.counters.duplicates, 0);
    assert_eq!(w.counters.ordering_violations, 0);
}

#[test]
fn the_sns_fanout_scenario_loses_only_where_nothing_durable_catches_it() {
    let e = crate::run(crate::bundled("sns-fanout.toml"), Options::default());
    let s = e.summary();
    assert_eq!(
        svc(&s, "billing").counters.lost,
        0,
        "the queue holds through the crash"
    );
    assert!(
        svc(&s, "notifier").counters.lost > 1_000,
        "retries end inside the outage"
    );
    assert_eq!(svc(&s, "audit").counters.lost, 0);
    assert!(
        svc(&s, "audit").counters.dead_lettered > 1_000,
        "on_failure keeps them"
    );
    assert!(e.conservation().iter().all(|c| c.holds()));
}

#[test]
fn a_crashed_function_fails_its_invocations_at_once_and_retries_them_later() {
    // Events at 0 s .. 4 s, 100 ms each. The crash from 2.05 s to 4.05 s ends the
    // invocation of the 2 s event at once, and those of 3 s and 4 s fail as they
    // start; Lambda retries each a minute later, when the function is back.
    let text = function_scenario(
        5,
        "",
        r#"
[[fault]]
kind = "crash"
target = "fn"
at = "2050ms"
duration = "2s"
"#,
        "",
    );
    let (e, trace) = run_traced(&text);
    let fn_comp = comp(&e, "fn");
    let of = |kind: TraceKind| -> Vec<u64> {
        trace
            .iter()
            .filter(|r| r.kind == kind && r.component == fn_comp)
            .map(|r| r.t)
            .collect()
    };
    let ms = S / 1000;
    let fails = of(TraceKind::Fail);
    assert_eq!(fails, vec![2050 * ms, 3000 * ms, 4000 * ms], "{trace:?}");
    assert_eq!(of(TraceKind::Crash), vec![2050 * ms]);
    assert_eq!(of(TraceKind::Restart), vec![4050 * ms]);
    let starts = of(TraceKind::ProcessStart);
    assert!(starts.contains(&(62_050 * ms)), "{starts:?}");
    let s = e.summary();
    let f = svc(&s, "fn");
    assert_eq!(
        (f.counters.processed, f.counters.retries, f.counters.lost),
        (5, 3, 0)
    );
    let effects = &s.faults[0].effects;
    assert_eq!((effects.interrupted, effects.failed), (1, 3));
}
