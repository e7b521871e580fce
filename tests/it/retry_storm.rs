//! Retries without backoff: a failed attempt is retried at the instant it fails, so
//! during an outage the attempts fill every slot (a retry storm) and each message
//! spends its attempts before the dependency is back; with backoff the same budget
//! outlasts the outage.

use crate::bundled;
use edasim::sim::trace::TraceKind;
use edasim::sim::{Engine, Options};

fn engine(model: edasim::model::Model, trace: bool) -> Engine {
    let mut e = Engine::new(
        model,
        Options {
            record_rows: true,
            trace,
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
fn without_backoff_a_retry_starts_when_its_attempt_fails() {
    let text = "[scenario]\nname = \"r\"\nseed = 1\nduration = \"5s\"\n\n\
        [[producer]]\nname = \"p\"\ntarget = \"q\"\nrate = { dist = \"constant\", per_second = 10 }\n\n\
        [[queue]]\nname = \"q\"\nvisibility_timeout = \"1m\"\n\n\
        [[consumer]]\nname = \"c\"\nsource = \"q\"\n\
        processing = { dist = \"constant\", value = \"5ms\" }\nfailure_rate = 0.5\n\
        retry = { max_attempts = 4, backoff = \"none\", initial = \"3s\" }\n";
    let model =
        edasim::scenario::load_str("r.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()));
    let mut e = engine(model, true);
    let trace = e.drain_trace();
    let mut checked = 0;
    for (i, r) in trace.iter().enumerate() {
        if r.kind != TraceKind::Retry {
            continue;
        }
        // The next start of that message is its retry, at the same nanosecond
        // (`initial` is ignored without backoff).
        let next = trace[i + 1..]
            .iter()
            .find(|n| n.msg == r.msg && n.kind == TraceKind::ProcessStart)
            .expect("the retry starts");
        assert_eq!(next.t, r.t, "{r:?} then {next:?}");
        assert_eq!(next.attempt, r.attempt + 1);
        checked += 1;
    }
    assert!(checked > 10, "{checked} retries");
}

#[test]
fn the_retry_storm_fills_every_slot_and_dead_letters_what_backoff_saves() {
    let mut e = engine(bundled("retry-storm.toml"), false);
    let rows = e.drain_rows();
    let s = e.summary();
    let by = |name: &str| s.services.iter().find(|x| x.name == name).unwrap();
    let (storm, backoff) = (by("payment-storm"), by("payment-backoff"));
    let attempts = |name: &str, at: u64| {
        rows.iter()
            .find(|r| {
                r.component == name && r.metric == "delivered" && r.time == at * 1_000_000_000
            })
            .map(|r| r.value.as_f64())
            .unwrap()
    };
    // In the first second of the outage (30 s to 31 s), the storm's 32 slots run
    // nothing but attempts of about 25 ms each: about 1,300/s against 300 arriving;
    // with backoff the first retries are still waiting.
    let (a, b) = (
        attempts("payment-storm", 31),
        attempts("payment-backoff", 31),
    );
    assert!(a > 1_200.0 && a > 2.5 * b, "storm {a}/s, backoff {b}/s");
    // Every order of the 20 s outage (about 6,000) spends its six attempts in about
    // 150 ms: those that got a slot are dead-lettered, those still queued at 50 s wait
    // it out. With backoff nearly all outlast it.
    assert!(
        storm.counters.dead_lettered > 4_000,
        "{}",
        storm.counters.dead_lettered
    );
    assert!(
        backoff.counters.dead_lettered * 50 < storm.counters.dead_lettered,
        "{} vs {}",
        backoff.counters.dead_lettered,
        storm.counters.dead_lettered
    );
    // The summary says what the retries cost.
    let text = edasim::output::summary::text(&e);
    assert!(
        text.contains("payment-storm's load:") && text.contains("retries/s"),
        "{text}"
    );
    assert!(storm.peak_attempts_per_s > 4.0 * storm.peak_arrivals_per_s);
}
