//! Latency and slowdown faults: each moves processing times (and so latencies) the
//! documented way, only while it lasts and only on its target; `faults_active` counts
//! the faults under way, and the trace marks each start and end.

use edasim::metrics::Value;
use edasim::sim::{Engine, Options};

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("faults.toml", text).unwrap_or_else(|e| panic!("{}", e.to_plain()))
}

/// One message every 500 ms into a service whose processing takes exactly 1 ms: no
/// message ever waits, so each latency is its processing time. `fault` is appended.
fn scenario(instances: u32, fault: &str) -> String {
    format!(
        "[scenario]\nname = \"f\"\nseed = 1\nduration = \"30s\"\n\n\
         [[producer]]\nname = \"p\"\ntarget = \"t\"\nrate = {{ dist = \"constant\", per_second = 2 }}\nkeys = {{ format = \"k{{}}\", count = 100 }}\n\n\
         [[topic]]\nname = \"t\"\npartitions = {instances}\n\n\
         [[consumer]]\nname = \"c\"\nsource = \"t\"\ninstances = {instances}\n\
         processing = {{ dist = \"constant\", value = \"1ms\" }}\n\n{fault}"
    )
}

/// Every sampled value of `metric` for `component`, by whole second.
fn series(e: &mut Engine, component: &str, metric: &str) -> Vec<(u64, f64)> {
    e.drain_rows()
        .into_iter()
        .filter(|r| r.component == component && r.metric == metric)
        .map(|r| (r.time / 1_000_000_000, r.value.as_f64()))
        .collect()
}

fn run(text: &str) -> Engine {
    let mut e = Engine::new(
        load(text),
        Options {
            record_rows: true,
            trace: true,
            ..Default::default()
        },
    );
    e.run_to_end();
    e
}

#[test]
fn a_slowdown_multiplies_processing_while_it_lasts() {
    let mut e = run(&scenario(
        1,
        "[[fault]]\nkind = \"slowdown\"\ntarget = \"c\"\nat = \"10s\"\nduration = \"10s\"\nfactor = 3.0\n",
    ));
    let max = series(&mut e, "c", "latency_max");
    for (t, ms) in max {
        // The sample at t covers (t - 1 s, t].
        let want = if (11..=20).contains(&t) { 3.0 } else { 1.0 };
        assert!(
            (ms - want).abs() < 1e-9,
            "t = {t} s: latency max {ms} ms, want {want}"
        );
    }
}

#[test]
fn a_latency_fault_adds_its_delay_and_counts_as_active() {
    let mut e = run(&scenario(
        1,
        "[[fault]]\nkind = \"latency\"\ntarget = \"c\"\nat = \"5s\"\nduration = \"5s\"\n\
         delay = { dist = \"constant\", value = \"200ms\" }\n",
    ));
    let rows = e.drain_rows();
    let get = |metric: &str, component: &str, t: u64| {
        rows.iter()
            .find(|r| r.metric == metric && r.component == component && r.time == t * 1_000_000_000)
            .map(|r| r.value)
    };
    assert_eq!(get("latency_max", "c", 8), Some(Value::Real(201.0)));
    assert_eq!(get("latency_max", "c", 12), Some(Value::Real(1.0)));
    assert_eq!(get("faults_active", "total", 4), Some(Value::Count(0)));
    assert_eq!(get("faults_active", "total", 7), Some(Value::Count(1)));
    assert_eq!(get("faults_active", "total", 11), Some(Value::Count(0)));
    let kinds: Vec<_> = e
        .drain_trace()
        .into_iter()
        .filter(|r| {
            matches!(
                r.kind,
                edasim::sim::trace::TraceKind::FaultStart | edasim::sim::trace::TraceKind::FaultEnd
            )
        })
        .map(|r| (r.t, r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (5_000_000_000, edasim::sim::trace::TraceKind::FaultStart),
            (10_000_000_000, edasim::sim::trace::TraceKind::FaultEnd)
        ]
    );
}

#[test]
fn a_fault_on_one_instance_leaves_the_others_alone_and_faults_stack() {
    // Two instances, one partition each; the slowdown hits #2 only, and a latency
    // fault on the whole service overlaps it: #2 is slowed then delayed.
    let mut e = run(&scenario(
        2,
        "[[fault]]\nkind = \"slowdown\"\ntarget = \"c#2\"\nat = \"0s\"\nfactor = 10.0\n\n\
         [[fault]]\nkind = \"latency\"\ntarget = \"c\"\nat = \"10s\"\nduration = \"10s\"\n\
         delay = { dist = \"constant\", value = \"5ms\" }\n",
    ));
    let trace = e.drain_trace();
    let mut seen = std::collections::BTreeSet::new();
    // Each processing's length, from its start and its end.
    let mut started = std::collections::BTreeMap::new();
    for r in &trace {
        match r.kind {
            edasim::sim::trace::TraceKind::ProcessStart => {
                started.insert(r.msg, (r.t, r.instance));
            }
            edasim::sim::trace::TraceKind::Ack => {
                if let Some((t0, inst)) = started.remove(&r.msg) {
                    let in_latency = (10_000_000_000..20_000_000_000).contains(&t0);
                    let want = match (inst, in_latency) {
                        (0, false) => 1_000_000,
                        (0, true) => 6_000_000,
                        (_, false) => 10_000_000,
                        (_, true) => 15_000_000,
                    };
                    assert_eq!(r.t - t0, want, "instance {inst} at {t0}");
                    seen.insert((inst, in_latency));
                }
            }
            _ => {}
        }
    }
    assert_eq!(seen.len(), 4, "every case happened: {seen:?}");
}

/// The fault trace records of component `name`, as (time, started).
fn fault_times(e: &mut Engine, name: &str) -> Vec<(u64, bool)> {
    let comp = e
        .component_names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no component {name}")) as u32;
    e.drain_trace()
        .into_iter()
        .filter(|r| r.component == comp)
        .filter_map(|r| match r.kind {
            edasim::sim::trace::TraceKind::FaultStart => Some((r.t, true)),
            edasim::sim::trace::TraceKind::FaultEnd => Some((r.t, false)),
            _ => None,
        })
        .collect()
}

fn with_duration(text: &str, secs: u64) -> String {
    text.replace("duration = \"30s\"", &format!("duration = \"{secs}s\""))
}

/// A random fault alternates exponential up times (mean mtbf) and down times (mean
/// mttr): over many cycles it is active mttr / (mtbf + mttr) of the time, and its
/// periods average what was asked.
#[test]
fn a_random_fault_is_active_for_its_share_of_the_time() {
    let text = with_duration(
        &scenario(
            1,
            "[[fault]]\nkind = \"errors\"\ntarget = \"c\"\nmtbf = \"10s\"\nmttr = \"2s\"\n",
        ),
        4000,
    );
    let mut e = Engine::new(
        load(&text),
        Options {
            record_rows: true,
            trace: true,
            ..Default::default()
        },
    );
    e.run_to_end();
    let active: Vec<f64> = e
        .drain_rows()
        .into_iter()
        .filter(|r| r.metric == "faults_active")
        .map(|r| r.value.as_f64())
        .collect();
    let share = active.iter().sum::<f64>() / active.len() as f64;
    assert!(
        (share - 1.0 / 6.0).abs() < 0.03,
        "active {share:.3} of the time"
    );
    let times = fault_times(&mut e, "c");
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for w in times.windows(2) {
        let gap = (w[1].0 - w[0].0) as f64 / 1e9;
        match (w[0].1, w[1].1) {
            (true, false) => down.push(gap),
            (false, true) => up.push(gap),
            _ => panic!("starts and ends alternate: {w:?}"),
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // About 333 cycles: the means are within 15% (more than 2.5 standard errors).
    assert!(up.len() > 250, "{} cycles", up.len());
    assert!(
        (mean(&up) - 10.0).abs() < 1.5,
        "mean time between failures {}",
        mean(&up)
    );
    assert!(
        (mean(&down) - 2.0).abs() < 0.3,
        "mean time to repair {}",
        mean(&down)
    );
}

/// A random fault draws from its own stream, named by its target and kind: a fault
/// added elsewhere (before it in the file, so its index moves) changes none of its
/// times.
#[test]
fn a_fault_elsewhere_does_not_move_a_random_fault() {
    let random = "[[fault]]\nkind = \"slowdown\"\ntarget = \"c#1\"\nfactor = 2.0\nmtbf = \"3s\"\nmttr = \"1s\"\n";
    let other = "[[fault]]\nkind = \"errors\"\ntarget = \"c#2\"\nmtbf = \"2s\"\nmttr = \"1s\"\n\n";
    let alone = with_duration(&scenario(2, random), 120);
    let beside = with_duration(&scenario(2, &format!("{other}{random}")), 120);
    let starts = |text: &str| -> Vec<u64> {
        let mut e = Engine::new(
            load(text),
            Options {
                trace: true,
                ..Default::default()
            },
        );
        e.run_to_end();
        let comp = e
            .component_names()
            .iter()
            .position(|n| n == "c")
            .expect("c") as u32;
        e.drain_trace()
            .into_iter()
            .filter(|r| {
                r.component == comp
                    && r.instance == 0
                    && r.kind == edasim::sim::trace::TraceKind::FaultStart
            })
            .map(|r| r.t)
            .collect()
    };
    let a = starts(&alone);
    assert!(a.len() > 10, "{a:?}");
    assert_eq!(a, starts(&beside));
}
