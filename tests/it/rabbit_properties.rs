//! Invariants of the RabbitMQ-like queues over random scenarios: conservation holds at
//! every slice and at the end; every message a queue took is ready, unacknowledged,
//! or left it exactly once (acknowledged, rejected, dropped by a length limit,
//! expired, or over the delivery limit); nothing a consumer holds exceeds its
//! prefetch; runs are deterministic and a clone finishes like the original; whatever
//! the queue type, limits, TTL, overflow mode, prefetch, negative acknowledgement,
//! failures, poison messages and crashes.

use std::fmt::Write as _;

use edasim::sim::RunStatus;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    rate: u32,
    quorum: bool,
    ttl_ms: Option<u32>,
    max_length: Option<u32>,
    overflow: u8,
    delivery_limit: Option<u32>,
    dlx: bool,
    dlrk: bool,
    instances: u32,
    concurrency: u32,
    prefetch: u32,
    mean_ms: u32,
    failure_permille: u32,
    poison_permille: u32,
    attempts: u32,
    nack: u8,
    own_dlq: bool,
    confirms: bool,
    crash: Option<(u32, u32, u32)>,
    outage: Option<(u32, u32)>,
    cut: Option<(u32, u32, u32)>,
}

impl Case {
    fn toml(&self) -> String {
        let mut t = String::new();
        let _ = write!(
            t,
            r#"[scenario]
name = "prop"
seed = {seed}
duration = "120s"

[[producer]]
name = "p"
target = "x"
rate = {{ per_second = {rate} }}
keys = {{ format = "k{{}}", count = 50 }}
routing_key = {{ cycle = ["a", "b"] }}
confirms = {confirms}

[[exchange]]
name = "x"
kind = "direct"

[[exchange.binding]]
queue = "q"
key = "a"

[[exchange.binding]]
queue = "q"
key = "b"

[[exchange]]
name = "dlx"
kind = "fanout"

[[exchange.binding]]
queue = "dead"

[[queue]]
name = "dead"
type = "classic"

[[queue]]
name = "own-dlq"

[[queue]]
name = "q"
type = "{kind}"
"#,
            seed = self.seed,
            rate = self.rate,
            confirms = self.confirms,
            kind = if self.quorum { "quorum" } else { "classic" },
        );
        if let Some(ms) = self.ttl_ms {
            let _ = writeln!(t, "message_ttl = \"{ms}ms\"");
        }
        if let Some(n) = self.max_length {
            let overflow = match (self.overflow % 3, self.quorum) {
                (0, _) => "drop-head",
                (2, false) => "reject-publish-dlx",
                _ => "reject-publish",
            };
            let _ = writeln!(t, "max_length = {n}\noverflow = \"{overflow}\"");
        }
        if self.quorum
            && let Some(n) = self.delivery_limit
        {
            let _ = writeln!(t, "delivery_limit = {n}");
        }
        if self.dlx {
            let _ = writeln!(t, "dead_letter_exchange = \"dlx\"");
            if self.dlrk {
                let _ = writeln!(t, "dead_letter_routing_key = \"dead\"");
            }
        }
        let nack = ["reject", "reject-requeue", "nack-requeue"][self.nack as usize % 3];
        let _ = write!(
            t,
            r#"
[[consumer]]
name = "c"
source = "q"
instances = {inst}
concurrency = {conc}
prefetch = {prefetch}
processing = {{ dist = "exponential", mean = "{mean}ms" }}
failure_rate = {fail}
poison_rate = {poison}
negative_ack = "{nack}"
retry = {{ max_attempts = {att}, initial = "5ms", max = "50ms" }}
"#,
            inst = self.instances,
            conc = self.concurrency,
            prefetch = self.prefetch,
            mean = self.mean_ms,
            fail = f64::from(self.failure_permille) / 1000.0,
            poison = f64::from(self.poison_permille) / 1000.0,
            att = self.attempts,
        );
        if self.own_dlq {
            let _ = writeln!(t, "dead_letter = \"own-dlq\"");
        }
        if let Some((at, inst, dur)) = self.crash {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"crash\"\ntarget = \"c#{}\"\nat = \"{at}s\"\nduration = \"{dur}s\"\n",
                inst % self.instances + 1
            );
        }
        if let Some((at, inst, dur)) = self.cut {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"network_partition\"\ntarget = \"q\"\npeer = \"c#{}\"\nat = \"{at}s\"\nduration = \"{dur}s\"\n",
                inst % self.instances + 1
            );
        }
        if let Some((at, dur)) = self.outage {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"broker_outage\"\ntarget = \"x\"\nat = \"{at}s\"\nduration = \"{dur}s\"\n"
            );
        }
        t
    }
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        (
            any::<u64>(),
            1u32..300,
            any::<bool>(),
            prop::option::of(0u32..3_000),
            prop::option::of(1u32..200),
            any::<u8>(),
            prop::option::of(0u32..5),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            1u32..4,
            1u32..4,
            0u32..6,
            1u32..40,
            0u32..300,
            0u32..100,
            1u32..4,
            any::<u8>(),
            prop::bool::weighted(0.2),
            any::<bool>(),
        ),
        prop::option::of((1u32..50, 0u32..4, 1u32..20)),
        prop::option::of((1u32..50, 1u32..10)),
        prop::option::of((1u32..30, 0u32..4, prop_oneof![1u32..20, 55u32..80])),
    )
        .prop_map(
            |(
                (seed, rate, quorum, ttl_ms, max_length, overflow, delivery_limit, dlx, dlrk),
                (
                    instances,
                    concurrency,
                    prefetch,
                    mean_ms,
                    failure_permille,
                    poison_permille,
                    attempts,
                    nack,
                    own_dlq,
                    confirms,
                ),
                crash,
                outage,
                cut,
            )| Case {
                seed,
                rate,
                quorum,
                ttl_ms,
                max_length,
                overflow,
                delivery_limit,
                dlx,
                dlrk,
                instances,
                concurrency,
                prefetch,
                mean_ms,
                failure_permille,
                poison_permille,
                attempts,
                nack,
                own_dlq,
                confirms,
                crash,
                outage,
                cut,
            },
        )
}

proptest! {
    #![proptest_config(crate::prop_config(0x7ab))]

    #[test]
    fn rabbit_queues_conserve_and_account_for_every_message(case in any_case(), slice in 50u64..5_000) {
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
        let q = s.rabbit_queues.iter().find(|q| q.name == "q").expect("q");
        let c = &q.counters;
        // Every message the queue took is still there or left it once.
        prop_assert_eq!(
            q.sent,
            q.ready + q.unacked + c.acked + c.rejected + c.dropped_overflow + c.expired_ttl + c.delivery_limit,
            "{:?}\n--- scenario ---\n{}", q, text
        );
        // What left for a reason other than an acknowledgement went to the dead-letter
        // exchange, or was discarded.
        prop_assert_eq!(
            c.rejected + c.dropped_overflow + c.expired_ttl + c.delivery_limit
                + if case.max_length.is_some() && case.overflow % 3 == 2 && !case.quorum { c.rejected_publish } else { 0 },
            c.dead_lettered + c.discarded,
            "{:?}\n--- scenario ---\n{}", q, text
        );
        if case.dlx {
            prop_assert_eq!(c.discarded, 0);
        } else {
            prop_assert_eq!(c.dead_lettered, 0);
        }
        // A redelivery is a requeue delivered again: never more than the requeues.
        prop_assert!(c.redelivered <= c.requeued, "{:?}", q);
        if case.prefetch > 0 {
            prop_assert!(q.unacked <= u64::from(case.prefetch * case.instances), "{:?}", q);
        }
    }

    #[test]
    fn rabbit_runs_are_deterministic_and_clones_finish_alike(case in any_case(), cut in 1u64..40) {
        let text = case.toml();
        let mut a = crate::prop_engine(&text);
        a.run_until(cut * 1_000_000_000, u64::MAX);
        let mut b = a.clone();
        a.run_to_end();
        b.run_to_end();
        let mut c = crate::prop_engine(&text);
        c.run_to_end();
        prop_assert_eq!(format!("{:?}", a.summary().rabbit_queues), format!("{:?}", c.summary().rabbit_queues));
        prop_assert_eq!(format!("{:?}", b.summary().services), format!("{:?}", c.summary().services));
        let (ra, rb, rc) = (a.drain_rows(), b.drain_rows(), c.drain_rows());
        prop_assert_eq!(&ra, &rb);
        prop_assert!(ra == rc, "rows differ from a run without a clone\n--- scenario ---\n{}", text);
    }
}
