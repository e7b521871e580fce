//! Outages, network partitions, slow links and poison: each moves the metrics the
//! documented way. Publishers hold what a broker refuses and lose only what their buffer
//! or delivery timeout cannot keep; a Kafka member cut off past its session timeout is
//! evicted and its uncommitted work is processed again; a slow link delays every
//! message on it; a poison window fails its share of messages everywhere.

use edasim::metrics::AnomalyKind;
use edasim::sim::{Engine, Options, Summary};

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("links.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

fn run(text: &str) -> Engine {
    let mut e = Engine::new(
        load(text),
        Options {
            record_rows: true,
            trace: false,
            ..Default::default()
        },
    );
    e.run_to_end();
    for c in e.conservation() {
        assert!(c.holds(), "conservation: {c:?}\n{text}");
    }
    e
}

/// A constant 100 messages/s producer into a topic of 4 partitions, read by one fast
/// consumer; `producer` and `extra` are appended to their sections.
fn kafka(producer: &str, extra: &str) -> String {
    format!(
        "[scenario]\nname = \"l\"\nseed = 7\nduration = \"60s\"\n\n\
         [[producer]]\nname = \"p\"\ntarget = \"t\"\nrate = {{ dist = \"constant\", per_second = 100 }}\n\
         keys = {{ format = \"k{{}}\", count = 400 }}\n{producer}\n\
         [[topic]]\nname = \"t\"\npartitions = 4\n\n\
         [[consumer]]\nname = \"c\"\nsource = \"t\"\ninstances = 2\n\
         processing = {{ dist = \"constant\", value = \"1ms\" }}\n\n{extra}"
    )
}

fn producer(s: &Summary) -> &edasim::sim::ProducerSummary {
    &s.producers[0]
}

fn service<'a>(s: &'a Summary, name: &str) -> &'a edasim::sim::ServiceSummary {
    s.services.iter().find(|x| x.name == name).expect("service")
}

const OUTAGE: &str =
    "[[fault]]\nkind = \"broker_outage\"\ntarget = \"t\"\nat = \"10s\"\nduration = \"5s\"\n";

#[test]
fn a_broker_outage_is_held_and_sent_after_it_without_loss() {
    let e = run(&kafka("", OUTAGE));
    let s = e.summary();
    let p = producer(&s);
    assert_eq!(p.lost_buffer_full + p.lost_delivery_timeout, 0);
    assert_eq!(p.buffered, 0, "everything held was sent");
    // Every message reached the topic and was processed once.
    assert_eq!(s.topics[0].appended, p.produced);
    assert_eq!(service(&s, "c").counters.processed_once, p.produced);
    let f = &s.faults[0].effects;
    // 5 s at 100/s: 500 sends held (give or take the two edges).
    assert!((499..=501).contains(&f.held), "held {}", f.held);
    assert_eq!(f.dropped, 0);
    // The held messages waited: the worst latency is about the outage plus a backoff.
    let max = service(&s, "c").latency_max_ms;
    assert!((5_000.0..7_000.0).contains(&max), "latency max {max} ms");
}

#[test]
fn a_full_buffer_drops_and_counts_what_it_cannot_hold() {
    let e = run(&kafka("buffer = 100\n", OUTAGE));
    let s = e.summary();
    let p = producer(&s);
    assert_eq!(p.lost_buffer_full, s.faults[0].effects.dropped);
    assert!(
        (399..=401).contains(&p.lost_buffer_full),
        "dropped {}",
        p.lost_buffer_full
    );
    // What was dropped never reached the broker: the producer's sends add up.
    assert_eq!(s.topics[0].appended + p.lost_buffer_full, p.produced);
}

#[test]
fn held_messages_past_the_delivery_timeout_are_dropped() {
    let e = run(&kafka("delivery_timeout = \"2s\"\n", OUTAGE));
    let s = e.summary();
    let p = producer(&s);
    assert_eq!(p.lost_buffer_full, 0);
    // Only what was sent in the outage's last 2 s (about 200) survives it.
    let kept = 500 - p.lost_delivery_timeout;
    assert!(
        (180..=220).contains(&kept),
        "kept {kept}, dropped {}",
        p.lost_delivery_timeout
    );
    assert_eq!(s.topics[0].appended + p.lost_delivery_timeout, p.produced);
}

#[test]
fn retries_back_off_exponentially_to_the_maximum() {
    // After a 20 s outage with retry_backoff 100 ms and a 1 s maximum, the first send
    // after the end waits for the next retry: at most 1.2 s (the jitter) later.
    let text = kafka(
        "",
        "[[fault]]\nkind = \"broker_outage\"\ntarget = \"t\"\nat = \"10s\"\nduration = \"20s\"\n",
    );
    let mut e = Engine::new(
        load(&text),
        Options {
            trace: true,
            ..Default::default()
        },
    );
    e.run_to_end();
    let appends: Vec<f64> = e
        .drain_trace()
        .iter()
        .filter(|r| r.kind.name() == "append")
        .map(|r| r.t as f64 / 1e9)
        .filter(|t| *t >= 30.0)
        .collect();
    let first = appends.first().copied().expect("appends after the outage");
    assert!(
        (30.0..=31.2).contains(&first),
        "first append after the outage at {first} s"
    );
}

#[test]
fn a_partition_outage_holds_only_that_partition() {
    let e = run(&kafka(
        "",
        "[[fault]]\nkind = \"partition_outage\"\ntarget = \"t\"\npartition = 1\nat = \"10s\"\nduration = \"5s\"\n",
    ));
    let s = e.summary();
    let held = s.faults[0].effects.held;
    // A quarter of 500 sends, by key: 400 keys murmur2-spread over 4 partitions.
    assert!((80..=170).contains(&held), "held {held}");
    assert_eq!(
        service(&s, "c").counters.processed_once,
        producer(&s).produced
    );
}

#[test]
fn a_consumer_cut_off_past_its_session_timeout_is_evicted_and_repeats_its_uncommitted_work() {
    let text = kafka(
        "",
        "[[fault]]\nkind = \"network_partition\"\ntarget = \"c#1\"\npeer = \"t\"\nat = \"12s\"\nduration = \"20s\"\n",
    )
    .replace(
        "instances = 2\n",
        "instances = 2\ncommit = \"auto\"\ncommit_interval = \"5s\"\nsession_timeout = \"10s\"\n",
    );
    let e = run(&text);
    let s = e.summary();
    assert_eq!(s.faults[0].effects.evicted, 1);
    // Evicted at 22 s (one rebalance), back at 32 s (another).
    assert_eq!(s.rebalances, 2);
    // What c#1 processed between its last commit (10 s) and the cut (12 s), about
    // 2 s × 50/s, is processed again by its partitions' new owner.
    let dups = service(&s, "c").counters.duplicates;
    assert!((80..=120).contains(&dups), "duplicates {dups}");
    let first = e
        .first_anomalies()
        .iter()
        .find(|a| a.kind == AnomalyKind::Duplicate)
        .expect("a duplicate");
    assert!(matches!(first.cause, edasim::metrics::Cause::Evicted(t) if t == 12_000_000_000));
}

#[test]
fn a_cut_shorter_than_the_session_timeout_only_pauses() {
    let text = kafka(
        "",
        "[[fault]]\nkind = \"network_partition\"\ntarget = \"c#1\"\npeer = \"t\"\nat = \"12s\"\nduration = \"5s\"\n",
    )
    .replace("instances = 2\n", "instances = 2\nsession_timeout = \"10s\"\n");
    let e = run(&text);
    let s = e.summary();
    assert_eq!(s.rebalances, 0);
    assert_eq!(s.faults[0].effects.evicted, 0);
    assert_eq!(service(&s, "c").counters.duplicates, 0);
    // Its partitions waited: latencies up to the cut's length.
    let max = service(&s, "c").latency_max_ms;
    assert!((4_900.0..5_100.0).contains(&max), "latency max {max} ms");
}

#[test]
fn a_slow_publish_link_delays_every_message_by_its_delay() {
    let base = run(&kafka("", "")).summary();
    let slow = run(&kafka(
        "",
        "[[fault]]\nkind = \"latency\"\ntarget = \"p\"\npeer = \"t\"\nat = \"0s\"\n\
         delay = { dist = \"constant\", value = \"40ms\" }\n",
    ))
    .summary();
    let (b, s) = (service(&base, "c"), service(&slow, "c"));
    assert!(
        (s.latency_mean_ms - b.latency_mean_ms - 40.0).abs() < 0.01,
        "mean {} vs {}",
        s.latency_mean_ms,
        b.latency_mean_ms
    );
    assert_eq!(s.counters.ordering_violations, 0, "a link keeps its order");
}

#[test]
fn a_slow_delivery_link_delays_first_attempts_only() {
    let text = kafka(
        "",
        "[[fault]]\nkind = \"latency\"\ntarget = \"t\"\npeer = \"c\"\nat = \"0s\"\n\
         delay = { dist = \"constant\", value = \"10ms\" }\n",
    );
    let s = run(&text).summary();
    // 1 ms of processing plus 10 ms on the link, nothing waits (100/s, 2 instances).
    let c = service(&s, "c");
    assert!(
        (c.latency_p50_ms - 11.0).abs() < 0.1,
        "p50 {}",
        c.latency_p50_ms
    );
    assert_eq!(s.faults[0].effects.delayed, c.counters.delivered);
}

#[test]
fn a_queue_outage_fails_deletes_and_its_messages_come_back() {
    let text = "[scenario]\nname = \"q\"\nseed = 3\nduration = \"60s\"\n\n\
         [[producer]]\nname = \"p\"\ntarget = \"q\"\nrate = { dist = \"constant\", per_second = 50 }\n\n\
         [[queue]]\nname = \"q\"\nvisibility_timeout = \"5s\"\nwait_time = \"20s\"\n\n\
         [[consumer]]\nname = \"c\"\nsource = \"q\"\ninstances = 2\nconcurrency = 4\n\
         processing = { dist = \"constant\", value = \"50ms\" }\n\n\
         [[fault]]\nkind = \"broker_outage\"\ntarget = \"q\"\nat = \"10s\"\nduration = \"10s\"\n";
    let e = run(text);
    let s = e.summary();
    let c = service(&s, "c");
    // The attempts in flight at 10 s (about 50/s × 50 ms) ended during the outage:
    // their deletes failed, their messages came back after the visibility timeout.
    assert!(
        (1..=5).contains(&c.counters.duplicates),
        "duplicates {}",
        c.counters.duplicates
    );
    assert!(s.queues[0].counters.redeliveries >= c.counters.duplicates);
    // Nothing was lost: the sends were held and came after the outage.
    assert_eq!(c.counters.lost, 0);
    assert_eq!(s.queues[0].sent, producer(&s).produced);
}

#[test]
fn a_poison_window_fails_its_share_of_messages_and_nothing_else() {
    let text = kafka(
        "",
        "[[fault]]\nkind = \"poison\"\ntarget = \"p\"\nat = \"20s\"\nduration = \"10s\"\nfraction = 0.1\n",
    )
    .replace(
        "instances = 2\n",
        "instances = 2\ndead_letter = \"dlq\"\nretry = { max_attempts = 3, backoff = \"constant\", initial = \"10ms\" }\n",
    )
    .replace("[[consumer]]", "[[topic]]\nname = \"dlq\"\n\n[[consumer]]");
    let s = run(&text).summary();
    let c = service(&s, "c");
    // 10 s × 100/s × 0.1: about 100 poison messages, each failing all 3 attempts.
    let dead = c.counters.dead_lettered;
    assert!((70..=130).contains(&dead), "dead-lettered {dead}");
    assert_eq!(c.counters.failures, 3 * dead);
    assert_eq!(s.faults[0].effects.failed, c.counters.failures);
}

#[test]
fn faults_on_links_are_deterministic() {
    let text = crate::bundled("network-partition.toml");
    let a = serde_json::to_string(&run_model(text.clone()).summary()).expect("json");
    let b = serde_json::to_string(&run_model(text).summary()).expect("json");
    assert_eq!(a, b);
}

fn run_model(m: edasim::model::Model) -> Engine {
    let mut e = Engine::new(m, Options::default());
    e.run_to_end();
    e
}
