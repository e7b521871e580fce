//! Invariants of the EventBridge-like buses over random scenarios: every copy a rule
//! sends is delivered, dead-lettered, lost or waiting for a retry, at every slice and
//! at the end; every service's conservation holds; failed deliveries are at least the
//! copies that gave up, times one plus their retries when they gave up on attempts;
//! a replay sends exactly the archived events of its window; runs are deterministic and
//! a clone finishes like the original; whatever the outages, cuts, retry policies,
//! dead-letter queues, archive patterns and replays.

use std::fmt::Write as _;

use edasim::sim::RunStatus;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    rate: u32,
    attempts: u32,
    max_age_s: u32,
    dlq: bool,
    outage: Option<(u32, u32)>,
    cut: Option<(u32, u32)>,
    dlq_outage: bool,
    pattern_archive: bool,
    replay: Option<(u32, u32, bool)>,
    function: bool,
}

impl Case {
    fn toml(&self) -> String {
        let mut t = format!(
            r#"[scenario]
name = "prop"
seed = {}
duration = "90s"

[[producer]]
name = "p"
target = "bus"
rate = {{ per_second = {} }}
phases = [{{ at = "40s", per_second = 0 }}]
keys = {{ format = "k{{}}", count = 50 }}
payload = {{ amount = {{ range = [0, 100] }}, tier = {{ choose = ["gold", "basic"] }} }}

[[bus]]
name = "bus"
"#,
            self.seed, self.rate
        );
        if self.pattern_archive {
            t.push_str("archive = { pattern = { detail = { tier = [\"gold\"] } } }\n");
        } else {
            t.push_str("archive = {}\n");
        }
        let _ = write!(
            t,
            r#"
[[bus.rule]]
name = "main"
event_pattern = {{ detail = {{ amount = [{{ numeric = [">=", 30] }}] }} }}
targets = [{{ queue = "q" }}, {{ bus = "side" }}{}]
max_attempts = {}
max_age = "{}s"
{}
[[bus.rule]]
name = "gold"
event_pattern = {{ detail = {{ tier = ["gold"] }} }}
targets = [{{ queue = "gold-q" }}]

[[bus]]
name = "side"

[[bus.rule]]
name = "all"
event_pattern = {{ source = ["p"] }}
targets = [{{ queue = "side-q" }}]

[[queue]]
name = "q"
[[queue]]
name = "gold-q"
[[queue]]
name = "side-q"
[[queue]]
name = "dlq"

[[consumer]]
name = "worker"
source = "q"
instances = 2
processing = {{ dist = "exponential", mean = "20ms" }}

[[consumer]]
name = "gold-worker"
source = "gold-q"
processing = {{ dist = "exponential", mean = "5ms" }}
"#,
            if self.function {
                ", { function = \"fn\" }"
            } else {
                ""
            },
            self.attempts,
            self.max_age_s,
            if self.dlq {
                "dead_letter = \"dlq\"\n"
            } else {
                ""
            },
        );
        if self.function {
            t.push_str(
                "\n[[consumer]]\nname = \"fn\"\nkind = \"function\"\nsource = \"bus\"\nmax_concurrency = 4\nprocessing = { dist = \"exponential\", mean = \"50ms\" }\n",
            );
        }
        if let Some((at, len)) = self.outage {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"broker_outage\"\ntarget = \"q\"\nat = \"{at}s\"\nduration = \"{len}s\"\n"
            );
            if self.dlq_outage {
                let _ = write!(
                    t,
                    "\n[[fault]]\nkind = \"broker_outage\"\ntarget = \"dlq\"\nat = \"{at}s\"\nduration = \"{len}s\"\n"
                );
            }
        }
        if let Some((at, len)) = self.cut {
            let _ = write!(
                t,
                "\n[[fault]]\nkind = \"network_partition\"\ntarget = \"bus\"\npeer = \"side\"\nat = \"{at}s\"\nduration = \"{len}s\"\n"
            );
        }
        if let Some((from, len, only_gold)) = self.replay {
            let _ = write!(
                t,
                "\n[[action]]\nkind = \"replay\"\nat = \"60s\"\nbus = \"bus\"\nfrom = \"{from}s\"\nuntil = \"{}s\"\n{}",
                from + len,
                if only_gold {
                    "rules = [\"gold\"]\n"
                } else {
                    ""
                }
            );
        }
        t
    }
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        (any::<u64>(), 5u32..60, 0u32..8, 60u32..300, any::<bool>()),
        (
            prop::option::of((0u32..40, 1u32..40)),
            prop::option::of((0u32..40, 1u32..40)),
            any::<bool>(),
            any::<bool>(),
            prop::option::of((0u32..30, 1u32..30, any::<bool>())),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (seed, rate, attempts, max_age_s, dlq),
                (outage, cut, dlq_outage, pattern_archive, replay, function),
            )| Case {
                seed,
                rate,
                attempts,
                max_age_s,
                dlq,
                outage,
                cut,
                dlq_outage,
                pattern_archive,
                replay,
                function,
            },
        )
}

proptest! {
    #![proptest_config(crate::prop_config(0xb05))]

    #[test]
    fn buses_account_for_every_copy_at_every_slice(case in any_case(), slice in 50u64..5_000) {
        let text = case.toml();
        let mut e = crate::prop_engine(&text);
        loop {
            let status = e.run_until(u64::MAX, slice);
            for b in &e.summary().buses {
                prop_assert!(b.conserved(), "at {} s: {:?}\n--- scenario ---\n{}", e.now() as f64 / 1e9, b, text);
            }
            for c in e.conservation() {
                prop_assert!(c.holds(), "at {} s: {:?}\n--- scenario ---\n{}", e.now() as f64 / 1e9, c, text);
            }
            if status == RunStatus::Finished {
                break;
            }
        }
        let s = e.summary();
        let b = s.buses.iter().find(|b| b.name == "bus").expect("bus");
        let c = &b.counters;
        let main = &b.rules[0].counters;
        // Each copy that gave up failed at least once; on attempts, 1 + max_attempts.
        prop_assert!(c.failed_invocations >= c.dead_lettered + c.lost, "{:?}", b);
        prop_assert!(c.failed_invocations >= c.lost_attempts * (1 + u64::from(case.attempts)), "{:?}", b);
        prop_assert_eq!(c.lost, c.lost_attempts + c.lost_age);
        if !case.dlq {
            prop_assert_eq!(c.dead_lettered, 0);
        } else if !case.dlq_outage {
            prop_assert_eq!(c.lost, 0, "{:?}", b);
        }
        if case.outage.is_none() && case.cut.is_none() {
            prop_assert_eq!(c.failed_invocations, 0);
        }
        // The gold rule's one target never fails: nothing refuses gold-q.
        prop_assert_eq!(b.rules[1].counters.delivered, b.rules[1].counters.matched);
        prop_assert!(main.delivered <= main.matched * b.rules[0].targets as u64);
        // A replay sends the archived events of its window and nothing else.
        if case.replay.is_none() {
            prop_assert_eq!(c.replayed, 0);
        }
        prop_assert!(c.replayed <= c.archived);
        prop_assert_eq!(c.matched + c.unmatched, b.received + c.replayed);
    }

    #[test]
    fn bus_runs_are_deterministic_and_clones_finish_alike(case in any_case(), cut in 1u64..80) {
        let text = case.toml();
        let mut a = crate::prop_engine(&text);
        a.run_until(cut * 1_000_000_000, u64::MAX);
        let mut b = a.clone();
        a.run_to_end();
        b.run_to_end();
        let mut c = crate::prop_engine(&text);
        c.run_to_end();
        prop_assert_eq!(format!("{:?}", a.summary().buses), format!("{:?}", c.summary().buses));
        prop_assert_eq!(format!("{:?}", b.summary().services), format!("{:?}", c.summary().services));
        let (ra, rb, rc) = (a.drain_rows(), b.drain_rows(), c.drain_rows());
        prop_assert_eq!(&ra, &rb);
        prop_assert!(ra == rc, "rows differ from a run without a clone\n--- scenario ---\n{}", text);
    }
}
