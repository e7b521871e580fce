//! The engine's limits: a backlog that outgrows `Options::max_backlog` stops the run
//! cleanly with `RunStatus::BacklogLimit` (never an out-of-memory abort), also when a
//! consumer emits into its own source topic.

use edasim::sim::{Engine, Options, RunStatus};

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("limits.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

/// Runs with a small limit until the engine says why it returned for good.
fn run_limited(text: &str, limit: u64) -> (Engine, RunStatus) {
    let mut e = Engine::new(
        load(text),
        Options {
            max_backlog: limit,
            ..Default::default()
        },
    );
    let status = loop {
        match e.run_until(u64::MAX, 1_000_000) {
            RunStatus::BudgetSpent | RunStatus::TimeReached => {}
            s => break s,
        }
    };
    (e, status)
}

fn flood() -> String {
    let mut s = String::from(
        "[scenario]\nname = \"flood\"\nseed = 1\nduration = \"2s\"\n\n\
         [[topic]]\nname = \"in\"\npartitions = 8\n\n\
         [[consumer]]\nname = \"slow\"\nsource = \"in\"\ninstances = 1\n\
         processing = { dist = \"constant\", value = \"10ms\" }\n",
    );
    for p in 0..8 {
        s.push_str(&format!(
            "\n[[producer]]\nname = \"p{p}\"\ntarget = \"in\"\nrate = {{ dist = \"poisson\", per_second = 10000000 }}\n"
        ));
    }
    s
}

#[test]
fn a_backlog_past_the_limit_stops_the_run_cleanly() {
    let (e, status) = run_limited(&flood(), 200_000);
    assert_eq!(status, RunStatus::BacklogLimit);
    let stop = e.backlog_stop().expect("a stop reason");
    assert!(
        stop.held > 200_000 && stop.held < 200_000 + 2 * 65_536,
        "{stop:?}"
    );
    assert!(stop.at < 10_000_000, "stopped at {} ns", stop.at);
    assert_eq!(e.now(), stop.at);
    assert!(e.is_finished());
    let msg = stop.to_string();
    assert!(
        msg.starts_with("the backlog passed 200000 records at t = 0.00")
            && msg.ends_with("raise --max-backlog"),
        "{msg}"
    );
    // It stays stopped, and what it holds still adds up.
    let mut e = e;
    assert_eq!(e.run_until(u64::MAX, 10), RunStatus::BacklogLimit);
    assert!(!e.step());
    assert!(
        e.conservation().iter().all(|c| c.holds()),
        "{:?}",
        e.conservation()
    );
}

#[test]
fn a_consumer_emitting_into_its_own_source_is_bounded() {
    // Every processing writes two more records to the topic it reads: the backlog
    // doubles with every round and the run stops at the limit.
    let text = "[scenario]\nname = \"loop\"\nseed = 3\nduration = \"1h\"\n\n\
        [[producer]]\nname = \"seed\"\ntarget = \"work\"\nrate = { dist = \"constant\", per_second = 10 }\n\n\
        [[topic]]\nname = \"work\"\npartitions = 2\n\n\
        [[consumer]]\nname = \"echo\"\nsource = \"work\"\ninstances = 2\nconcurrency = 4\n\
        processing = { dist = \"exponential\", mean = \"1ms\" }\n\
        emits = [{ event = \"Again\", target = \"work\" }, { event = \"AgainToo\", target = \"work\" }]\n";
    let (e, status) = run_limited(text, 100_000);
    assert_eq!(status, RunStatus::BacklogLimit);
    assert!(e.backlog_stop().unwrap().at < 3_600_000_000_000);
}

/// The first `secs` seconds of a stress scenario from `tests/scenarios`.
fn stress(name: &str, secs: u64) -> edasim::model::Model {
    let path = format!("{}/tests/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut model = load(&text);
    model.duration.0 = secs * 1_000_000_000;
    model
}

/// Retention deletes records under 40,000 live work items (held: accounted for when
/// they end) and then every record that waits a second for a slot (expired): both
/// kinds are told apart record by record, and conservation holds. Its cost per
/// deleted record is measured by the `edasim_retention_lag` benchmark.
#[test]
fn retention_under_many_live_work_items_tells_held_from_expired() {
    let mut e = Engine::new(stress("retention-lag.toml", 3), Options::default());
    e.run_to_end();
    let c = e.conservation();
    assert!(c.iter().all(|c| c.holds()), "{c:?}");
    let slow = &c[0];
    // 20 partitions keep 20 of the 50 instances busy: 40,000 slots, full at 0.4 s.
    // What arrives later waits and expires a second after it was produced: by 3 s
    // the records of [0.4 s, 2 s), about 160,000.
    assert!(
        (150_000..170_000).contains(&slow.expired),
        "expired {} of {}",
        slow.expired,
        slow.produced
    );
    assert_eq!(slow.processed_once, 0, "processing takes 10 s");
    assert!(
        slow.pending >= 40_000,
        "the work items in flight: {}",
        slow.pending
    );
}

/// 10,000 partitions read by two instances that keep up: nearly everything produced
/// is processed within the run, whichever partition it lands on. Its cost per fetch is
/// measured by the `edasim_many_partitions` benchmark.
#[test]
fn many_partitions_are_all_read() {
    let mut e = Engine::new(stress("many-partitions.toml", 1), Options::default());
    e.run_to_end();
    let c = e.conservation();
    assert!(c.iter().all(|c| c.holds()), "{c:?}");
    let counter = &c[0];
    assert!(counter.produced > 190_000, "{counter:?}");
    assert!(
        counter.pending < 1_000,
        "lag {} of {}",
        counter.pending,
        counter.produced
    );
}

/// A service with zero processing time that emits into its own source never lets
/// simulated time move: the run stops once more events than the limit happened at one
/// instant, and says so.
#[test]
fn a_loop_of_zero_time_steps_stops_with_a_reason() {
    let text = "[scenario]\nname = \"spin\"\nseed = 3\nduration = \"10s\"\n\n\
        [[producer]]\nname = \"seed\"\ntarget = \"work\"\nrate = { dist = \"constant\", per_second = 10 }\n\n\
        [[topic]]\nname = \"work\"\n\n\
        [[consumer]]\nname = \"echo\"\nsource = \"work\"\n\
        processing = { dist = \"constant\", value = \"0s\" }\n\
        emits = [{ event = \"Again\", target = \"work\" }]\n";
    let (e, status) = run_limited(text, 100_000);
    assert_eq!(status, RunStatus::BacklogLimit);
    let stop = e.backlog_stop().unwrap();
    assert!(
        matches!(stop.kind, edasim::sim::StopKind::Stalled { events } if events > 100_000),
        "{stop:?}"
    );
    assert!(stop.held < 100, "the backlog stays small: {stop:?}");
    assert!(
        stop.to_string().contains("stood still at t = 0.100 s"),
        "{stop}"
    );
}
