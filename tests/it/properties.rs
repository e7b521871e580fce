//! Property tests: random small scenarios, written out as TOML so that they go through
//! the real parser, run by the engine and checked against the invariants of the spec
//! (conservation, offset monotonicity, ownership, determinism, and the guarantees of
//! at-least-once delivery and per-partition / per-key ordering).
//!
//! A failing case prints its whole scenario (the seed included) as TOML: save it to a
//! file and `edasim run` it, or paste it into a test, to reproduce the failure.

use std::fmt::{self, Write as _};

use edasim::metrics::Row;
use edasim::model::{Channel, Model};
use edasim::sim::trace::TraceRec;
use edasim::sim::{Engine, Options, RunStatus};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

/// Cases per property: enough variety, small enough for the whole module to run in
/// well under a minute.
const CASES: u32 = 64;
/// Share of topics with a retention of 2 s, short enough to expire records.
const SHORT_RETENTION: f64 = 0.25;
/// Most messages one producer sends in a run (its rate is capped to fit), which keeps
/// every case well under a second.
const MAX_MESSAGES: u32 = 10_000;

/// `PROPTEST_CASES` raises the number of cases for a deeper local search, and
/// `PROPTEST_RNG_SEED` picks other cases; by default the seed is fixed, so `cargo test`
/// checks the same cases on every machine and a CI failure always reproduces.
#[allow(clippy::disallowed_methods)] // a test, not the sans-IO core
fn config() -> Config {
    let base = Config::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CASES),
    );
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => base.rng_seed,
        Err(_) => proptest::test_runner::RngSeed::Fixed(0x00ed_a51e),
    };
    Config {
        // No regression files next to the sources: a failure prints its TOML instead.
        failure_persistence: None,
        max_shrink_iters: 512,
        rng_seed,
        ..base
    }
}

// ----- the generated scenario --------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum KeyDist {
    Uniform,
    /// Zipf with s = tenths / 10.
    Zipf(u32),
    Sequential,
}

#[derive(Clone, Copy, Debug)]
struct KeysCase {
    count: u32,
    dist: KeyDist,
}

#[derive(Clone, Debug)]
struct ProducerCase {
    constant: bool,
    per_second: u32,
    keys: Option<KeysCase>,
    target: usize,
    ack_loss: bool,
    request_timeout_ms: u32,
}

#[derive(Clone, Debug)]
struct TopicCase {
    partitions: u32,
    partitioner: &'static str,
    short_retention: bool,
}

/// Processing time, in microseconds.
#[derive(Clone, Copy, Debug)]
enum Proc {
    Exponential(u32),
    /// Median, and p99 as a multiple of it.
    Lognormal(u32, u32),
    Constant(u32),
    Uniform(u32, u32),
    /// Scale, and shape in tenths.
    Pareto(u32, u32),
}

#[derive(Clone, Debug)]
struct RetryCase {
    max_attempts: u32,
    exponential: bool,
    initial_ms: u32,
    max_factor: u32,
    jitter: bool,
}

#[derive(Clone, Debug)]
struct ConsumerCase {
    source: usize,
    instances: u32,
    concurrency: u32,
    ordering: &'static str,
    processing: Proc,
    /// Per mille.
    failure_rate: u32,
    /// Per mille.
    poison_rate: u32,
    commit: &'static str,
    commit_interval_ms: u32,
    assignor: &'static str,
    session_timeout_s: u32,
    rebalance_time_ms: u32,
    retry: Option<RetryCase>,
    dead_letter: bool,
    emits: bool,
}

#[derive(Clone, Debug)]
struct FaultCase {
    consumer: usize,
    /// None crashes every instance of the consumer.
    instance: Option<u32>,
    /// Per mille of the run's duration.
    at_permille: u32,
    duration_ms: Option<u32>,
}

#[derive(Clone)]
struct Case {
    seed: u64,
    duration_s: u32,
    metrics_interval_ms: u32,
    topics: Vec<TopicCase>,
    producers: Vec<ProducerCase>,
    consumers: Vec<ConsumerCase>,
    faults: Vec<FaultCase>,
}

/// Proptest prints the minimal failing input with `Debug`: make that the TOML itself.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}", self.toml())
    }
}

fn us(v: u32) -> String {
    format!("{v}us")
}

fn permille(v: u32) -> String {
    format!("{:?}", f64::from(v) / 1000.0)
}

impl Case {
    fn consumer_name(&self, i: usize) -> String {
        format!("c{}", i % self.consumers.len())
    }

    fn has_dlq(&self) -> bool {
        self.consumers.iter().any(|c| c.dead_letter)
    }

    /// The scenario file.
    fn toml(&self) -> String {
        let mut s = String::new();
        let nt = self.topics.len();
        let _ = writeln!(
            s,
            "# Property-test case, scenario seed {}: save it to a file and `edasim run` it.",
            self.seed
        );
        let _ = writeln!(
            s,
            "[scenario]\nname = \"prop\"\nseed = {}\nduration = \"{}s\"\nmetrics_interval = \"{}ms\"",
            self.seed, self.duration_s, self.metrics_interval_ms
        );
        for (i, t) in self.topics.iter().enumerate() {
            let _ = writeln!(
                s,
                "\n[[topic]]\nname = \"t{i}\"\npartitions = {}\npartitioner = \"{}\"",
                t.partitions, t.partitioner
            );
            if t.short_retention {
                s.push_str("retention = \"2s\"\n");
            }
        }
        if self.has_dlq() {
            s.push_str("\n[[topic]]\nname = \"dlq\"\npartitions = 2\n");
        }
        for (i, p) in self.producers.iter().enumerate() {
            let _ = writeln!(
                s,
                "\n[[producer]]\nname = \"p{i}\"\ntarget = \"t{}\"\nrate = {{ dist = \"{}\", per_second = {}.0 }}",
                p.target % nt,
                if p.constant { "constant" } else { "poisson" },
                p.per_second.min(MAX_MESSAGES / self.duration_s)
            );
            if let Some(k) = p.keys {
                let dist = match k.dist {
                    KeyDist::Uniform => "dist = \"uniform\"".to_string(),
                    KeyDist::Zipf(t) => format!("dist = \"zipf\", s = {:?}", f64::from(t) / 10.0),
                    KeyDist::Sequential => "dist = \"sequential\"".to_string(),
                };
                let _ = writeln!(
                    s,
                    "keys = {{ format = \"p{i}-key-{{}}\", count = {}, {dist} }}",
                    k.count
                );
            }
            if p.ack_loss {
                let _ = writeln!(
                    s,
                    "ack_loss_rate = 0.05\nidempotent = false\nrequest_timeout = \"{}ms\"",
                    p.request_timeout_ms
                );
            }
        }
        for (i, c) in self.consumers.iter().enumerate() {
            let source = c.source % nt;
            let processing = match c.processing {
                Proc::Exponential(m) => {
                    format!("{{ dist = \"exponential\", mean = \"{}\" }}", us(m))
                }
                Proc::Lognormal(m, k) => format!(
                    "{{ dist = \"lognormal\", median = \"{}\", p99 = \"{}\" }}",
                    us(m),
                    us(m * k)
                ),
                Proc::Constant(v) => format!("{{ dist = \"constant\", value = \"{}\" }}", us(v)),
                Proc::Uniform(a, b) => format!(
                    "{{ dist = \"uniform\", min = \"{}\", max = \"{}\" }}",
                    us(a.min(b)),
                    us(a.max(b))
                ),
                Proc::Pareto(sc, sh) => format!(
                    "{{ dist = \"pareto\", scale = \"{}\", shape = {:?} }}",
                    us(sc),
                    f64::from(sh) / 10.0
                ),
            };
            let _ = writeln!(
                s,
                "\n[[consumer]]\nname = \"c{i}\"\nsource = \"t{source}\"\ninstances = {}\nconcurrency = {}\n\
                 ordering = \"{}\"\nprocessing = {processing}\nfailure_rate = {}\npoison_rate = {}\n\
                 commit = \"{}\"\nassignor = \"{}\"\nsession_timeout = \"{}s\"\nrebalance_time = \"{}ms\"",
                c.instances,
                c.concurrency,
                c.ordering,
                permille(c.failure_rate),
                permille(c.poison_rate),
                c.commit,
                c.assignor,
                c.session_timeout_s,
                c.rebalance_time_ms,
            );
            if c.commit == "auto" {
                let _ = writeln!(s, "commit_interval = \"{}ms\"", c.commit_interval_ms);
            }
            if let Some(r) = &c.retry {
                let _ = writeln!(
                    s,
                    "retry = {{ max_attempts = {}, backoff = \"{}\", initial = \"{}ms\", max = \"{}ms\", jitter = {} }}",
                    r.max_attempts,
                    if r.exponential {
                        "exponential"
                    } else {
                        "constant"
                    },
                    r.initial_ms,
                    r.initial_ms * r.max_factor,
                    r.jitter
                );
            }
            if c.dead_letter {
                s.push_str("dead_letter = \"dlq\"\n");
            }
            // Only t0's consumers emit, and only to t1: no cycles.
            if c.emits && source == 0 && nt > 1 {
                s.push_str("emits = [ { event = \"Next\", target = \"t1\" } ]\n");
            }
        }
        // Crashes of one instance that overlap are refused as contradictory: a case
        // keeps the first of them.
        let mut kept: Vec<(usize, Option<u32>, u64, u64)> = Vec::new();
        for f in &self.faults {
            let ci = f.consumer % self.consumers.len();
            let inst = f.instance.map(|i| i % self.consumers[ci].instances);
            let target = match inst {
                Some(i) => format!("{}#{}", self.consumer_name(ci), i + 1),
                None => self.consumer_name(ci),
            };
            let at_ms = u64::from(self.duration_s) * u64::from(f.at_permille);
            let end = f.duration_ms.map_or(u64::MAX, |d| at_ms + u64::from(d));
            if kept.iter().any(|&(c, i, a, e)| {
                c == ci && (i.is_none() || inst.is_none() || i == inst) && a < end && at_ms < e
            }) {
                continue;
            }
            kept.push((ci, inst, at_ms, end));
            let _ = writeln!(
                s,
                "\n[[fault]]\nkind = \"crash\"\ntarget = \"{target}\"\nat = \"{at_ms}ms\""
            );
            if let Some(d) = f.duration_ms {
                let _ = writeln!(s, "duration = \"{d}ms\"");
            }
        }
        s
    }

    // Restrictions for the properties that only hold in a calmer world.

    fn without_faults(mut self) -> Case {
        self.faults.clear();
        self
    }

    fn without_ack_loss(mut self) -> Case {
        for p in &mut self.producers {
            p.ack_loss = false;
        }
        self
    }

    /// No failures, no poison, no faults, no lost acks, commit after processing: the
    /// at-least-once world in which nothing should be processed twice or lost.
    fn calm(self) -> Case {
        let mut c = self.without_faults().without_ack_loss();
        for g in &mut c.consumers {
            g.failure_rate = 0;
            g.poison_rate = 0;
            g.commit = "after";
        }
        c
    }

    /// Ordered consumption: partition or key ordering, keys partitioned by murmur2 (the
    /// other partitioners scatter one key over several partitions, which legitimately
    /// reorders it), no faults and no lost acks.
    fn ordered(self) -> Case {
        let mut c = self.without_faults().without_ack_loss();
        for t in &mut c.topics {
            t.partitioner = "murmur2";
        }
        for g in &mut c.consumers {
            if g.ordering == "unordered" {
                g.ordering = "partition";
            }
        }
        c
    }
}

// ----- strategies --------------------------------------------------------------------

fn keys_strategy() -> impl Strategy<Value = KeysCase> {
    (
        1u32..=50,
        prop_oneof![
            Just(KeyDist::Uniform),
            (5u32..=20).prop_map(KeyDist::Zipf),
            Just(KeyDist::Sequential),
        ],
    )
        .prop_map(|(count, dist)| KeysCase { count, dist })
}

fn producer_strategy() -> impl Strategy<Value = ProducerCase> {
    (
        any::<bool>(),
        20u32..=2000,
        proptest::option::weighted(0.75, keys_strategy()),
        0usize..2,
        proptest::bool::weighted(0.25),
        100u32..=3000,
    )
        .prop_map(
            |(constant, per_second, keys, target, ack_loss, request_timeout_ms)| ProducerCase {
                constant,
                per_second,
                keys,
                target,
                ack_loss,
                request_timeout_ms,
            },
        )
}

fn topic_strategy() -> impl Strategy<Value = TopicCase> {
    (
        1u32..=8,
        prop_oneof![Just("murmur2"), Just("round_robin"), Just("sticky")],
        proptest::bool::weighted(SHORT_RETENTION),
    )
        .prop_map(|(partitions, partitioner, short_retention)| TopicCase {
            partitions,
            partitioner,
            short_retention,
        })
}

fn proc_strategy() -> impl Strategy<Value = Proc> {
    let t = 100u32..=20_000;
    prop_oneof![
        t.clone().prop_map(Proc::Exponential),
        (t.clone(), 2u32..=10).prop_map(|(m, k)| Proc::Lognormal(m, k)),
        t.clone().prop_map(Proc::Constant),
        (t.clone(), t.clone()).prop_map(|(a, b)| Proc::Uniform(a, b)),
        (t, 11u32..=30).prop_map(|(s, k)| Proc::Pareto(s, k)),
    ]
}

fn retry_strategy() -> impl Strategy<Value = RetryCase> {
    (
        1u32..=5,
        any::<bool>(),
        1u32..=200,
        1u32..=20,
        any::<bool>(),
    )
        .prop_map(
            |(max_attempts, exponential, initial_ms, max_factor, jitter)| RetryCase {
                max_attempts,
                exponential,
                initial_ms,
                max_factor,
                jitter,
            },
        )
}

fn consumer_strategy() -> impl Strategy<Value = ConsumerCase> {
    (
        (
            0usize..2,
            1u32..=4,
            1u32..=4,
            prop_oneof![Just("partition"), Just("key"), Just("unordered")],
            proc_strategy(),
            prop_oneof![Just(0u32), 0u32..=300],
            prop_oneof![Just(0u32), 0u32..=50],
        ),
        (
            prop_oneof![Just("before"), Just("after"), Just("auto")],
            50u32..=3000,
            prop_oneof![
                Just("range"),
                Just("roundrobin"),
                Just("cooperative-sticky")
            ],
            1u32..=5,
            10u32..=1000,
            proptest::option::of(retry_strategy()),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (source, instances, concurrency, ordering, processing, failure_rate, poison_rate),
                (
                    commit,
                    commit_interval_ms,
                    assignor,
                    session_timeout_s,
                    rebalance_time_ms,
                    retry,
                    dead_letter,
                    emits,
                ),
            )| ConsumerCase {
                source,
                instances,
                concurrency,
                ordering,
                processing,
                failure_rate,
                poison_rate,
                commit,
                commit_interval_ms,
                assignor,
                session_timeout_s,
                rebalance_time_ms,
                retry,
                dead_letter,
                emits,
            },
        )
}

fn fault_strategy() -> impl Strategy<Value = FaultCase> {
    (
        0usize..3,
        proptest::option::weighted(0.8, 0u32..4),
        0u32..=1000,
        proptest::option::weighted(0.85, 100u32..=10_000),
    )
        .prop_map(|(consumer, instance, at_permille, duration_ms)| FaultCase {
            consumer,
            instance,
            at_permille,
            duration_ms,
        })
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        5u32..=30,
        prop_oneof![Just(250u32), Just(500), Just(1000), Just(2000)],
        proptest::collection::vec(topic_strategy(), 1..=2),
        proptest::collection::vec(producer_strategy(), 1..=2),
        proptest::collection::vec(consumer_strategy(), 1..=3),
        proptest::collection::vec(fault_strategy(), 0..=3),
    )
        .prop_map(
            |(seed, duration_s, metrics_interval_ms, topics, producers, consumers, faults)| Case {
                seed,
                duration_s,
                metrics_interval_ms,
                topics,
                producers,
                consumers,
                faults,
            },
        )
}

// ----- helpers -----------------------------------------------------------------------

fn load(text: &str) -> Model {
    edasim::scenario::load_str("prop.toml", text).unwrap_or_else(|e| {
        panic!(
            "the generated scenario does not load:\n{}\n--- scenario ---\n{text}",
            e.to_plain()
        )
    })
}

fn engine(text: &str, opts: Options) -> Engine {
    Engine::new(load(text), opts)
}

fn check_conservation(e: &Engine, text: &str, when: &str) -> Result<(), TestCaseError> {
    for c in e.conservation() {
        prop_assert!(
            c.holds(),
            "conservation fails {when} (t = {} ns, step {}) for service `{}`: {c:?}\n\
             produced {} != processed_once {} + dead_lettered {} + pending {} + lost {} + expired {} = {}\n\
             --- scenario ---\n{text}",
            e.now(),
            e.steps(),
            c.service,
            c.produced,
            c.processed_once,
            c.dead_lettered,
            c.pending,
            c.lost,
            c.expired,
            c.processed_once + c.dead_lettered + c.pending + c.lost + c.expired,
        );
    }
    Ok(())
}

/// Every original record of a topic comes from somewhere: a producer, the first
/// successful processing of a record by a service that emits to it, or the first dead
/// letter of a service that dead-letters to it. Copies (lost acks, reprocessing) are
/// counted apart, and a topic's copies from producers match the producers' own count.
fn check_flow_balance(e: &Engine, text: &str) -> Result<(), TestCaseError> {
    let s = e.summary();
    let m = e.model();
    for (t, topic) in s.topics.iter().enumerate() {
        let t = Channel::Topic(t);
        let from_producers: u64 = m
            .producers
            .iter()
            .zip(&s.producers)
            .filter(|(pm, _)| pm.target == t)
            .map(|(_, ps)| ps.produced)
            .sum();
        let producer_copies: u64 = m
            .producers
            .iter()
            .zip(&s.producers)
            .filter(|(pm, _)| pm.target == t)
            .map(|(_, ps)| ps.copies)
            .sum();
        let from_services: u64 = m
            .services
            .iter()
            .zip(&s.services)
            .map(|(sm, ss)| {
                let emitted = sm.emits.iter().filter(|&&(_, to)| to == t).count() as u64
                    * ss.counters.processed_once;
                let dead = if sm.dead_letter == Some(t) {
                    ss.counters.dead_lettered
                } else {
                    0
                };
                emitted + dead
            })
            .sum();
        prop_assert_eq!(
            topic.appended - topic.copies,
            from_producers + from_services,
            "topic `{}`: originals appended vs produced {} + emitted or dead-lettered {}\n\
             --- scenario ---\n{}",
            topic.name,
            from_producers,
            from_services,
            text
        );
        let fed_by_services = m
            .services
            .iter()
            .any(|sm| sm.dead_letter == Some(t) || sm.emits.iter().any(|&(_, to)| to == t));
        prop_assert!(
            topic.copies == producer_copies || (fed_by_services && topic.copies > producer_copies),
            "topic `{}`: {} copies, but producers resent {}\n--- scenario ---\n{}",
            topic.name,
            topic.copies,
            producer_copies,
            text
        );
    }
    for (g, c) in s.conservation.iter().enumerate() {
        let Channel::Topic(t) = m.services[g].source else {
            continue;
        };
        prop_assert_eq!(
            c.produced,
            s.topics[t].appended - s.topics[t].copies,
            "service `{}` sees another number of originals than its topic has\n--- scenario ---\n{}",
            c.service,
            text
        );
    }
    Ok(())
}

/// Offsets and owners at one point: log end and committed never go back, committed
/// stays within the log, owners are real instances, and without faults every partition
/// has an owner.
fn check_offsets_and_owners(
    e: &Engine,
    prev: &mut [Vec<(u64, u64)>],
    require_owner: bool,
    text: &str,
) -> Result<(), TestCaseError> {
    for (g, prev) in prev.iter_mut().enumerate() {
        let name = &e.model().services[g].name;
        let offsets = e.partition_offsets(g);
        prop_assert_eq!(offsets.len(), prev.len());
        for (p, (&(end, committed, lag), old)) in offsets.iter().zip(prev.iter_mut()).enumerate() {
            let at = format!(
                "group `{name}` partition {p} at t = {} ns, step {}",
                e.now(),
                e.steps()
            );
            prop_assert!(
                end >= old.0,
                "log end went back from {} to {end}: {at}\n--- scenario ---\n{text}",
                old.0
            );
            prop_assert!(
                committed >= old.1,
                "committed offset went back from {} to {committed}: {at}\n--- scenario ---\n{text}",
                old.1
            );
            prop_assert!(
                committed <= end,
                "committed offset {committed} is beyond the log end {end}: {at}\n--- scenario ---\n{text}"
            );
            prop_assert_eq!(lag, end - committed, "lag: {}", at);
            *old = (end, committed);
        }
        let instances = e.model().services[g].instances;
        for (p, owner) in e.owners(g).into_iter().enumerate() {
            let at = format!(
                "group `{name}` partition {p} at t = {} ns, step {}",
                e.now(),
                e.steps()
            );
            match owner {
                Some(i) => prop_assert!(
                    i < instances,
                    "owner {i} is not one of the {instances} instances: {at}\n--- scenario ---\n{text}"
                ),
                None => prop_assert!(
                    !require_owner,
                    "no owner although nothing ever crashed: {at}\n--- scenario ---\n{text}"
                ),
            }
        }
    }
    Ok(())
}

/// Runs to the end in batches of `batch` events, collecting rows and trace.
fn drive(e: &mut Engine, batch: u64, rows: &mut Vec<Row>, trace: &mut Vec<TraceRec>) {
    loop {
        let status = e.run_until(u64::MAX, batch);
        rows.extend(e.drain_rows());
        trace.extend(e.drain_trace());
        if status == RunStatus::Finished {
            break;
        }
    }
    assert!(!e.trace_overflowed(), "trace overflowed");
}

struct Outcome {
    summary: String,
    rows: Vec<Row>,
    trace: Vec<TraceRec>,
}

fn compare(a: &Outcome, b: &Outcome, what: &str, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        a.summary == b.summary,
        "{what}: summaries differ\n{}\n{}\n--- scenario ---\n{text}",
        a.summary,
        b.summary
    );
    if a.rows != b.rows {
        let i = a.rows.iter().zip(&b.rows).position(|(x, y)| x != y);
        let first = i.map(|i| format!("row {i}: {:?} vs {:?}", a.rows[i], b.rows[i]));
        prop_assert!(
            false,
            "{what}: metric rows differ ({} vs {} rows; first difference {first:?})\n--- scenario ---\n{text}",
            a.rows.len(),
            b.rows.len()
        );
    }
    if a.trace != b.trace {
        let i = a.trace.iter().zip(&b.trace).position(|(x, y)| x != y);
        let first = i.map(|i| format!("record {i}: {:?} vs {:?}", a.trace[i], b.trace[i]));
        prop_assert!(
            false,
            "{what}: traces differ ({} vs {} records; first difference {first:?})\n--- scenario ---\n{text}",
            a.trace.len(),
            b.trace.len()
        );
    }
    Ok(())
}

const FULL: Options = Options {
    record_rows: true,
    trace: true,
    max_backlog: edasim::sim::DEFAULT_MAX_BACKLOG,
};

// ----- properties --------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// `produced = processed_once + dead_lettered + pending + lost + expired` for every
    /// service at the end of every run.
    #[test]
    fn conservation_holds_at_the_end(case in any_case()) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        e.run_to_end();
        prop_assert!(e.is_finished());
        check_conservation(&e, &text, "at the end")?;
        check_flow_balance(&e, &text)?;
    }

    /// Conservation also holds between events, wherever a shell pauses the run: after
    /// slices cut by time and by event budget.
    #[test]
    fn conservation_holds_between_slices(
        case in any_case(),
        cuts in proptest::collection::vec((1u32..=1000, 1u64..=20_000), 1..=8),
    ) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        let end = e.model().duration.0;
        let mut cuts = cuts;
        cuts.sort_unstable();
        for (permille, budget) in cuts {
            let until = end / 1000 * u64::from(permille);
            let status = e.run_until(until, budget);
            check_conservation(&e, &text, &format!("after run_until({until}, {budget}) -> {status:?}"))?;
        }
        while e.run_until(u64::MAX, 10_000) != RunStatus::Finished {
            check_conservation(&e, &text, "after a slice of 10000 events")?;
        }
        check_conservation(&e, &text, "at the end")?;
    }

    /// Stepping through a run: log end and committed offsets never decrease, committed
    /// never passes the log end, owners are instances of the group.
    #[test]
    fn offsets_are_monotonic_and_owners_valid(case in any_case(), every in 1u64..=50) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        let mut prev: Vec<Vec<(u64, u64)>> = (0..e.model().services.len())
            .map(|g| vec![(0, 0); e.partition_offsets(g).len()])
            .collect();
        check_offsets_and_owners(&e, &mut prev, false, &text)?;
        let mut n = 0u64;
        while e.step() {
            n += 1;
            if n.is_multiple_of(every) {
                check_offsets_and_owners(&e, &mut prev, false, &text)?;
            }
        }
        check_offsets_and_owners(&e, &mut prev, false, &text)?;
        for (g, ss) in e.summary().services.iter().enumerate() {
            let lag: u64 = e.partition_offsets(g).iter().map(|&(_, _, l)| l).sum();
            prop_assert_eq!(ss.lag, lag, "summary lag of `{}`\n--- scenario ---\n{}", ss.name, text);
        }
    }

    /// Without faults every partition of every group has an owner from the start.
    #[test]
    fn without_faults_every_partition_has_an_owner(case in any_case().prop_map(Case::without_faults)) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        let mut prev: Vec<Vec<(u64, u64)>> = (0..e.model().services.len())
            .map(|g| vec![(0, 0); e.partition_offsets(g).len()])
            .collect();
        let mut n = 0u64;
        while e.step() {
            n += 1;
            if n % 50 == 1 {
                check_offsets_and_owners(&e, &mut prev, true, &text)?;
            }
        }
        check_offsets_and_owners(&e, &mut prev, true, &text)?;
        prop_assert_eq!(e.rebalances(), 0, "rebalanced without faults\n{}", text);
    }

    /// Two runs of the same text give the same summary, rows and trace, whatever the
    /// batch size; a clone taken mid-run finishes exactly like the original.
    #[test]
    fn runs_are_deterministic_and_clones_finish_alike(
        case in any_case(),
        clone_at in 0u32..=1000,
        batch in 1u64..=100_000,
    ) {
        let text = case.toml();
        let mut a = engine(&text, FULL);
        let (mut rows_a, mut trace_a) = (Vec::new(), Vec::new());
        let cut = a.model().duration.0 / 1000 * u64::from(clone_at);
        while a.run_until(cut, 50_000) == RunStatus::BudgetSpent {
            rows_a.extend(a.drain_rows());
            trace_a.extend(a.drain_trace());
        }
        let mut b = a.clone();
        let (mut rows_b, mut trace_b) = (rows_a.clone(), trace_a.clone());
        drive(&mut a, 50_000, &mut rows_a, &mut trace_a);
        drive(&mut b, batch, &mut rows_b, &mut trace_b);
        let mut c = engine(&text, FULL);
        let (mut rows_c, mut trace_c) = (Vec::new(), Vec::new());
        drive(&mut c, 30_011, &mut rows_c, &mut trace_c);
        let outcome = |e: &Engine, rows, trace| Outcome {
            summary: serde_json::to_string(&e.summary()).expect("summary serialises"),
            rows,
            trace,
        };
        let oa = outcome(&a, rows_a, trace_a);
        let ob = outcome(&b, rows_b, trace_b);
        let oc = outcome(&c, rows_c, trace_c);
        compare(&oa, &oc, "two runs of the same scenario", &text)?;
        compare(&oa, &ob, &format!("a clone taken at {cut} ns"), &text)?;
    }

    /// At-least-once with nothing going wrong: no failures, no poison, no crashes, no
    /// lost acks, commit after processing. Nothing is processed twice or lost.
    #[test]
    fn calm_runs_have_no_duplicates_and_no_losses(case in any_case().prop_map(Case::calm)) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        e.run_to_end();
        check_conservation(&e, &text, "at the end")?;
        for g in e.summary().services {
            prop_assert_eq!(g.counters.duplicates, 0, "duplicates in service `{}`\n--- scenario ---\n{}", g.name, text);
            prop_assert_eq!(g.counters.lost, 0, "losses in service `{}`\n--- scenario ---\n{}", g.name, text);
            prop_assert_eq!(g.counters.dead_lettered, 0, "dead letters in service `{}`\n--- scenario ---\n{}", g.name, text);
        }
    }

    /// Partition or key ordering, keys partitioned by murmur2, no crashes and no lost
    /// acks: no key is ever processed out of order, retries and dead letters included.
    #[test]
    fn ordered_consumption_never_reorders_a_key(case in any_case().prop_map(Case::ordered)) {
        let text = case.toml();
        let mut e = engine(&text, Options::default());
        e.run_to_end();
        for g in e.summary().services {
            prop_assert_eq!(
                g.counters.ordering_violations, 0,
                "ordering violations in service `{}` (first: {:?})\n--- scenario ---\n{}",
                g.name,
                e.first_anomalies().iter().find(|a| a.kind == edasim::metrics::AnomalyKind::OrderingViolation),
                text
            );
        }
    }
}

// ----- plain tests -------------------------------------------------------------------

/// M/M/1 at utilisation 0.8: the queue is stable, so its length stays bounded, and the
/// mean number in system is close to rho / (1 - rho) = 4.
#[test]
fn mm1_queue_stays_bounded() {
    let text = r#"
[scenario]
name = "mm1-inline"
seed = 11
duration = "120s"

[[producer]]
name = "arrivals"
target = "queue"
rate = { dist = "poisson", per_second = 800 }

[[topic]]
name = "queue"

[[consumer]]
name = "server"
source = "queue"
processing = { dist = "exponential", mean = "1ms" }
"#;
    let mut e = engine(text, Options::default());
    let mut max_lag = 0;
    let mut n = 0u64;
    while e.step() {
        n += 1;
        if n.is_multiple_of(16) {
            let (_, _, lag) = e.partition_offsets(0)[0];
            max_lag = max_lag.max(lag);
        }
    }
    let s = e.summary();
    let g = &s.services[0];
    assert!(g.counters.produced > 90_000, "{:?}", g.counters);
    // P(N > n) = 0.8^n: over ~100k arrivals the longest queue is around 50.
    assert!(max_lag < 200, "queue length reached {max_lag}");
    assert!(g.max_lag < 200, "sampled lag reached {}", g.max_lag);
    assert!(
        (3.0..5.0).contains(&g.in_system_mean),
        "L = {} (theory: 4)",
        g.in_system_mean
    );
    assert!(
        (3.5..6.5).contains(&g.latency_mean_ms),
        "W = {} ms (theory: 5 ms)",
        g.latency_mean_ms
    );
    assert!(
        s.conservation.iter().all(|c| c.holds()),
        "{:?}",
        s.conservation
    );
}

/// A topic nobody reads: no service, so no conservation terms, and every record appended
/// is either still retained or expired.
#[test]
fn unconsumed_topic_conserves() {
    let text = r#"
[scenario]
name = "nobody-reads"
seed = 3
duration = "20s"

[[producer]]
name = "p"
target = "orphan"
rate = { per_second = 500 }
keys = { format = "k-{}", count = 20 }

[[topic]]
name = "orphan"
partitions = 4
retention = "2s"

[[topic]]
name = "read"

[[producer]]
name = "q"
target = "read"
rate = { per_second = 100 }

[[consumer]]
name = "c"
source = "read"
processing = { dist = "constant", value = "1ms" }
"#;
    let mut e = engine(text, Options::default());
    e.run_to_end();
    let s = e.summary();
    assert_eq!(s.conservation.len(), 1, "only the read topic has a reader");
    assert!(
        s.conservation.iter().all(|c| c.holds()),
        "{:?}",
        s.conservation
    );
    let orphan = &s.topics[0];
    assert_eq!(orphan.appended, s.producers[0].produced);
    assert!(orphan.appended > 5_000);
    assert!(
        orphan.expired > 0,
        "retention of 2s over 20s expires records"
    );
    assert_eq!(
        orphan.queue_depth + orphan.expired,
        orphan.appended,
        "{orphan:?}"
    );

    // With no consumer at all, conservation is empty.
    let only_orphan = text
        .split("\n[[topic]]\nname = \"read\"")
        .next()
        .unwrap_or(text);
    let mut e = engine(only_orphan, Options::default());
    e.run_to_end();
    assert!(e.conservation().is_empty());
    let s = e.summary();
    assert_eq!(
        s.topics[0].queue_depth + s.topics[0].expired,
        s.topics[0].appended
    );
}

// ----- regressions -------------------------------------------------------------------
//
// Minimal scenarios that the properties above shrank to, each once a real bug: they
// check conservation after every single event.

/// Steps `text` to the end, checking conservation after every event.
fn conserves_at_every_step(text: &str) -> Engine {
    let mut e = engine(text, Options::default());
    loop {
        let more = e.step();
        for c in e.conservation() {
            assert!(
                c.holds(),
                "conservation fails at t = {} ns, step {}: {c:?}\n{text}",
                e.now(),
                e.steps()
            );
        }
        if !more {
            return e;
        }
    }
}

/// Retention deletes a record while it is being processed (processing 2.5 s, retention
/// 2 s): it is still pending until it completes.
#[test]
fn regression_retention_deletes_a_record_in_flight() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "retention-in-flight"
duration = "10s"
metrics_interval = "100ms"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 1 }

[[topic]]
name = "t"
retention = "2s"

[[consumer]]
name = "slow"
source = "t"
processing = { dist = "constant", value = "2500ms" }
"#,
    );
    let c = &e.conservation()[0];
    assert!(c.processed_once >= 3 && c.expired > 0, "{c:?}");
}

/// Key ordering with one hot key parks the backlog behind the busy key; retention then
/// deletes parked records. They must count as expired, and the committed offset must
/// keep moving (it once froze, and parked records vanished from every count).
#[test]
fn regression_retention_deletes_records_parked_behind_their_key() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "key-waiting-retention"
duration = "8s"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 200 }
keys = { format = "k{}", count = 1 }

[[topic]]
name = "t"
retention = "2s"

[[consumer]]
name = "c"
source = "t"
concurrency = 2
ordering = "key"
processing = { dist = "constant", value = "10ms" }
"#,
    );
    let c = &e.conservation()[0];
    assert!(c.expired > 0, "{c:?}");
    // Capacity is 100 records/s for 8 s: the consumer must stay busy.
    assert!(c.processed_once > 700, "{c:?}");
    // Retention keeps about 2 s x 200/s of lag; a frozen commit leaves over 1000.
    let (end, committed, _) = e.partition_offsets(0)[0];
    assert!(
        end - committed < 700,
        "committed {committed} of {end}: it stopped moving"
    );
}

/// A record in flight on an instance that crashed, deleted by retention before the
/// rebalance: it expires (it once vanished).
#[test]
fn regression_retention_after_a_crash_before_the_rebalance() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "crash-then-retention"
duration = "4s"
metrics_interval = "100ms"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 10 }

[[topic]]
name = "t"
retention = "2s"

[[consumer]]
name = "c"
source = "t"
processing = { dist = "constant", value = "300ms" }
session_timeout = "5s"

[[fault]]
kind = "crash"
target = "c"
at = "500ms"
"#,
    );
    assert!(e.conservation()[0].expired > 0);
}

/// Commit before processing: a rebalance revokes a record waiting for its retry. Its
/// offset is committed, so it is lost, and counted so (it once vanished).
#[test]
fn regression_commit_before_rebalance_revokes_a_retry() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "before-revoke-backoff"
duration = "4s"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 10 }

[[topic]]
name = "t"

[[consumer]]
name = "c"
source = "t"
instances = 2
processing = { dist = "constant", value = "1ms" }
poison_rate = 1.0
commit = "before"
session_timeout = "1s"
retry = { max_attempts = 3, backoff = "constant", initial = "1200ms", max = "1200ms", jitter = false }

[[fault]]
kind = "crash"
target = "c#2"
at = "0ms"
"#,
    );
    assert!(e.conservation()[0].lost >= 1);
}

/// Commit before processing: a record revoked while running fails afterwards. Its
/// offset is committed, so it is lost, and counted so (it once vanished).
#[test]
fn regression_commit_before_revoked_record_fails() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "before-stale-failure"
duration = "6s"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 10 }

[[topic]]
name = "t"

[[consumer]]
name = "c"
source = "t"
instances = 2
processing = { dist = "constant", value = "3s" }
poison_rate = 1.0
commit = "before"
session_timeout = "1s"

[[fault]]
kind = "crash"
target = "c#2"
at = "0ms"
"#,
    );
    assert!(e.conservation()[0].lost >= 1);
}

/// A record revoked while running is redelivered, processed and committed, and the log
/// trimmed past it, before the revoked run ends: that late end is a duplicate, not a
/// second first processing (it was once counted twice, and as pending meanwhile).
#[test]
fn regression_revoked_run_ends_after_its_record_was_trimmed() {
    let e = conserves_at_every_step(
        r#"
[scenario]
name = "stale-work-after-trim"
seed = 7
duration = "5s"
metrics_interval = "100ms"

[[producer]]
name = "p"
target = "t"
rate = { dist = "constant", per_second = 5 }

[[topic]]
name = "t"

[[consumer]]
name = "c"
source = "t"
instances = 2
concurrency = 2
ordering = "unordered"
processing = { dist = "uniform", min = "10ms", max = "1500ms" }
session_timeout = "1s"
rebalance_time = "10ms"

[[fault]]
kind = "crash"
target = "c#2"
at = "0ms"
"#,
    );
    assert!(e.conservation()[0].duplicates >= 2);
}
