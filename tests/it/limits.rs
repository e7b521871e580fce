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
