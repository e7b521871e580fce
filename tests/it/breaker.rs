//! Circuit breakers: while the dependency fails, an open breaker stops the attempts
//! (`wait`) or fails them at once (`fail`); it half-opens after its cooldown, and closes
//! once the dependency is back. `breaker_open` counts the open instances.

use edasim::sim::{Engine, Options};

fn scenario(breaker: &str) -> String {
    format!(
        "[scenario]\nname = \"b\"\nseed = 2\nduration = \"60s\"\n\n\
         [[producer]]\nname = \"p\"\ntarget = \"t\"\nrate = {{ dist = \"constant\", per_second = 100 }}\n\n\
         [[topic]]\nname = \"t\"\npartitions = 2\n\n[[topic]]\nname = \"dlq\"\n\n\
         [[consumer]]\nname = \"c\"\nsource = \"t\"\ninstances = 1\nconcurrency = 2\nordering = \"unordered\"\n\
         processing = {{ dist = \"constant\", value = \"2ms\" }}\n\
         retry = {{ max_attempts = 2, backoff = \"constant\", initial = \"10ms\" }}\ndead_letter = \"dlq\"\n{breaker}\n\
         [[fault]]\nkind = \"errors\"\ntarget = \"c\"\nat = \"10s\"\nduration = \"20s\"\n"
    )
}

fn run(text: &str) -> Engine {
    let model =
        edasim::scenario::load_str("b.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()));
    let mut e = Engine::new(
        model,
        Options {
            record_rows: true,
            ..Default::default()
        },
    );
    e.run_to_end();
    for c in e.conservation() {
        assert!(c.holds(), "{c:?}");
    }
    e
}

#[test]
fn an_open_breaker_stops_calling_and_the_messages_wait() {
    let plain = run(&scenario("")).summary();
    let mut e = run(&scenario(
        "breaker = { failures = 5, cooldown = \"2s\", probes = 2 }\n",
    ));
    let rows = e.drain_rows();
    let s = e.summary();
    let (p, b) = (&plain.services[0], &s.services[0]);
    // Without a breaker every message of the 20 s fault fails twice and is
    // dead-lettered; with one, a few attempts per cooldown reach the dependency.
    assert!(
        p.counters.dead_lettered >= 1_990,
        "plain dead-lettered {}",
        p.counters.dead_lettered
    );
    assert!(
        b.counters.failures < 40,
        "breaker failures {}",
        b.counters.failures
    );
    assert!(
        b.counters.dead_lettered < 30,
        "breaker dead-lettered {}",
        b.counters.dead_lettered
    );
    // Once the dependency is back it closes and drains what waited.
    let br = b.breaker.as_ref().expect("breaker summary");
    assert_eq!(br.open_now, 0);
    assert_eq!(br.rejected, 0);
    // Open 2 s at a time for most of the 20 s: between 8 and 10 openings.
    assert!((8..=11).contains(&br.opened), "opened {}", br.opened);
    assert!((16.0..=20.5).contains(&br.open_s), "open {} s", br.open_s);
    assert_eq!(
        b.counters.processed_once + b.counters.dead_lettered + b.lag,
        b.counters.produced
    );
    let open_at = |t: u64| {
        rows.iter()
            .find(|r| {
                r.component == "c" && r.metric == "breaker_open" && r.time == t * 1_000_000_000
            })
            .map(|r| r.value.as_f64())
    };
    assert_eq!(open_at(5), Some(0.0));
    assert_eq!(open_at(45), Some(0.0));
    let during = (11..30).filter(|&t| open_at(t) == Some(1.0)).count();
    assert!(
        during >= 12,
        "open in {during} of 19 samples during the fault"
    );
}

#[test]
fn a_fail_fast_breaker_rejects_without_calling() {
    let e = run(&scenario(
        "breaker = { failures = 5, cooldown = \"2s\", probes = 2, when_open = \"fail\" }\n",
    ));
    let s = e.summary();
    let b = &s.services[0];
    let br = b.breaker.as_ref().expect("breaker summary");
    // Rejected attempts fail at once and go to the dead letter like failures do.
    assert!(br.rejected > 3_000, "rejected {}", br.rejected);
    assert!(
        b.counters.dead_lettered >= 1_990,
        "dead-lettered {}",
        b.counters.dead_lettered
    );
    let f = &s.faults[0].effects;
    // Only the attempts that reached the dependency failed because of the fault.
    assert!(f.failed < 40, "fault failures {}", f.failed);
    assert_eq!(b.counters.failures, f.failed + br.rejected);
}

#[test]
fn a_ratio_breaker_waits_for_its_minimum_calls() {
    // The window holds the last 10 s of outcomes, 1000 successes when the fault
    // starts. Failures come at 200/s (two attempts per message) while the successes
    // leave the window at 100/s: failures reach half the window after t with
    // 200 t = 1000 - 100 t, t = 3.33 s, 667 failures.
    let e = run(&scenario(
        "breaker = { failure_ratio = 0.5, window = \"10s\", min_calls = 20, cooldown = \"30s\", probes = 1 }\n",
    ));
    let s = e.summary();
    let b = &s.services[0];
    let br = b.breaker.as_ref().expect("breaker summary");
    assert_eq!(
        br.opened, 1,
        "one opening: its 30 s cooldown outlasts the fault"
    );
    assert!(
        (660..=675).contains(&b.counters.failures),
        "failures {}",
        b.counters.failures
    );
}
