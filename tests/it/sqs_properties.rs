//! Invariants of the SQS-like queues over random scenarios: conservation holds at every
//! slice and at the end (every message sent to a queue is processed once, moved to a
//! dead-letter queue, pending, lost or expired), runs are deterministic, and a clone
//! finishes like the original, whatever the visibility timeouts, batches, polling,
//! redrive policies, heartbeats, FIFO groups, duplicate sends and crashes.

use std::fmt::Write as _;

use edasim::sim::RunStatus;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct QueueCase {
    fifo: bool,
    visibility_ms: u32,
    delay_ms: u32,
    wait_ms: u32,
    redrive: Option<u32>,
    short_retention: bool,
}

#[derive(Clone, Debug)]
struct ConsumerCase {
    instances: u32,
    concurrency: u32,
    batch: u32,
    mean_ms: u32,
    lognormal: bool,
    failure_permille: u32,
    poison_permille: u32,
    attempts: u32,
    heartbeat: Option<(u32, u32)>,
    own_dlq: bool,
    emits: bool,
}

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    rate: u32,
    keys: u32,
    duplicate_permille: u32,
    request_timeout_ms: u32,
    queue: QueueCase,
    consumer: ConsumerCase,
    crash: Option<(u32, u32, u32)>,
}

impl Case {
    fn toml(&self) -> String {
        let q = &self.queue;
        let c = &self.consumer;
        let mut t = String::new();
        let _ = write!(
            t,
            r#"[scenario]
name = "prop"
seed = {seed}
duration = "90s"

[[producer]]
name = "p"
target = "q"
rate = {{ per_second = {rate} }}
keys = {{ format = "k{{}}", count = {keys} }}
duplicate_rate = {dup}
request_timeout = "{rt}ms"

[[queue]]
name = "q"
fifo = {fifo}
visibility_timeout = "{vt}ms"
wait_time = "{wait}ms"
retention = "{ret}"
"#,
            seed = self.seed,
            rate = self.rate,
            keys = self.keys,
            dup = f64::from(self.duplicate_permille) / 1000.0,
            rt = self.request_timeout_ms,
            fifo = q.fifo,
            vt = q.visibility_ms,
            wait = q.wait_ms,
            ret = if q.short_retention { "60s" } else { "4d" },
        );
        if q.delay_ms > 0 {
            let _ = writeln!(t, "delay = \"{}ms\"", q.delay_ms);
        }
        if let Some(n) = q.redrive {
            let _ = writeln!(
                t,
                "dead_letter = {{ queue = \"dlq\", max_receive_count = {n} }}"
            );
        }
        let _ = write!(
            t,
            "\n[[queue]]\nname = \"dlq\"\nfifo = {}\n\n[[queue]]\nname = \"out\"\nfifo = {}\n",
            q.fifo, q.fifo
        );
        let processing = if c.lognormal {
            format!(
                "{{ dist = \"lognormal\", median = \"{}ms\", p99 = \"{}ms\" }}",
                c.mean_ms,
                c.mean_ms * 8
            )
        } else {
            format!("{{ dist = \"exponential\", mean = \"{}ms\" }}", c.mean_ms)
        };
        let _ = write!(
            t,
            r#"
[[consumer]]
name = "c"
source = "q"
instances = {inst}
concurrency = {conc}
batch_size = {batch}
processing = {processing}
failure_rate = {fail}
poison_rate = {poison}
retry = {{ max_attempts = {att}, initial = "20ms", max = "200ms" }}
"#,
            inst = c.instances,
            conc = c.concurrency,
            batch = c.batch,
            fail = f64::from(c.failure_permille) / 1000.0,
            poison = f64::from(c.poison_permille) / 1000.0,
            att = c.attempts,
        );
        if let Some((every, timeout)) = c.heartbeat {
            let _ = writeln!(
                t,
                "visibility_heartbeat = {{ every = \"{every}ms\", timeout = \"{timeout}ms\" }}"
            );
        }
        if c.own_dlq {
            let _ = writeln!(t, "dead_letter = \"dlq\"");
        }
        if c.emits {
            let _ = writeln!(t, "emits = [ {{ event = \"Done\", target = \"out\" }} ]");
            let _ = write!(
                t,
                "\n[[consumer]]\nname = \"d\"\nsource = \"out\"\nwait_time = \"1s\"\nprocessing = {{ dist = \"exponential\", mean = \"1ms\" }}\n"
            );
        }
        if let Some((at, inst, dur)) = self.crash {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"crash\"\ntarget = \"c#{}\"\nat = \"{at}s\"\nduration = \"{dur}s\"\n",
                inst.min(c.instances - 1) + 1
            );
        }
        t
    }
}

fn queue_case() -> impl Strategy<Value = QueueCase> {
    (
        any::<bool>(),
        50u32..3_000,
        prop_oneof![Just(0u32), 1u32..500],
        prop_oneof![Just(0u32), 1u32..3_000],
        prop::option::of(1u32..6),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(fifo, visibility_ms, delay_ms, wait_ms, redrive, short_retention)| QueueCase {
                fifo,
                visibility_ms,
                delay_ms,
                wait_ms,
                redrive,
                short_retention,
            },
        )
}

fn consumer_case() -> impl Strategy<Value = ConsumerCase> {
    (
        (1u32..4, 1u32..4, 1u32..11, 1u32..200, any::<bool>()),
        (0u32..300, 0u32..50, 1u32..4),
        prop::option::of((50u32..1_000, 50u32..2_000)),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(
                (instances, concurrency, batch, mean_ms, lognormal),
                (failure_permille, poison_permille, attempts),
                heartbeat,
                own_dlq,
                emits,
            )| ConsumerCase {
                instances,
                concurrency,
                batch,
                mean_ms,
                lognormal,
                failure_permille,
                poison_permille,
                attempts,
                heartbeat,
                own_dlq,
                emits,
            },
        )
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        1u32..60,
        1u32..30,
        prop_oneof![Just(0u32), 1u32..300],
        100u32..400_000,
        queue_case(),
        consumer_case(),
        prop::option::of((1u32..80, 0u32..4, 1u32..30)),
    )
        .prop_map(
            |(seed, rate, keys, duplicate_permille, request_timeout_ms, queue, consumer, crash)| {
                Case {
                    seed,
                    rate,
                    keys,
                    duplicate_permille,
                    request_timeout_ms,
                    queue,
                    consumer,
                    crash,
                }
            },
        )
}

proptest! {
    #![proptest_config(crate::prop_config(0x5a5))]

    #[test]
    fn queues_conserve_at_every_slice_and_at_the_end(case in any_case(), slice in 50u64..5_000) {
        let text = case.toml();
        let mut e = crate::prop_engine(&text);
        loop {
            let status = e.run_until(u64::MAX, slice);
            for c in e.conservation() {
                prop_assert!(c.holds(), "at {} s: {:?}\n--- scenario ---\n{}", e.now() as f64 / 1e9, c, text);
            }
            if status == RunStatus::Finished {
                break;
            }
        }
        let s = e.summary();
        // Whatever a queue holds is counted once among its states.
        for (q, qs) in s.queues.iter().enumerate() {
            prop_assert!(qs.visible + qs.in_flight + qs.delayed <= qs.sent, "queue {q}: {qs:?}");
        }
    }

    #[test]
    fn queue_runs_are_deterministic_and_clones_finish_alike(case in any_case(), cut in 1u64..60) {
        let text = case.toml();
        let mut a = crate::prop_engine(&text);
        a.run_until(cut * 1_000_000_000, u64::MAX);
        let mut b = a.clone();
        a.run_to_end();
        b.run_to_end();
        let mut c = crate::prop_engine(&text);
        c.run_to_end();
        let (ra, rb, rc) = (a.drain_rows(), b.drain_rows(), c.drain_rows());
        prop_assert_eq!(format!("{:?}", a.summary().services), format!("{:?}", c.summary().services));
        prop_assert_eq!(format!("{:?}", b.summary().services), format!("{:?}", c.summary().services));
        // The clone holds the rows sampled before the cut as the original did.
        prop_assert_eq!(&ra, &rb);
        prop_assert!(ra == rc, "rows differ from a run without a clone\n--- scenario ---\n{}", text);
    }
}
