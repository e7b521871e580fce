//! Sagas, orchestrated and choreographed, checked saga by saga against the trace: every
//! started saga ends completed, compensated or failed, or is still under way; a failed
//! step makes the completed steps compensate in reverse order, never a step that did
//! not complete; a compensation that keeps failing leaves the saga failed; timeouts
//! re-send; an idempotent participant runs each step once however often it is
//! delivered. The property test draws failure rates, declines, timeouts and slow
//! links, on Kafka-like topics and SQS-like queues.

use std::collections::BTreeMap;

use edasim::sim::saga::SagaOutcome;
use edasim::sim::trace::{TraceKind, TraceRec};
use edasim::sim::{Engine, Options};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn load(text: &str) -> edasim::model::Model {
    edasim::scenario::load_str("saga.toml", text)
        .unwrap_or_else(|e| panic!("{}\n{text}", e.to_plain()))
}

fn run(text: &str) -> (Engine, Vec<TraceRec>) {
    let mut e = Engine::new(
        load(text),
        Options {
            trace: true,
            ..Default::default()
        },
    );
    let mut trace = Vec::new();
    while !e.is_finished() {
        e.run_until(e.model().duration.0, 50_000);
        trace.extend(e.drain_trace());
    }
    for c in e.conservation() {
        assert!(c.holds(), "{c:?}\n{text}");
    }
    (e, trace)
}

/// Per saga id, its (step, outcome, time) records in order.
fn per_saga(
    e: &Engine,
    trace: &[TraceRec],
    saga: &str,
) -> BTreeMap<u64, Vec<(u32, SagaOutcome, u64)>> {
    let comp = e
        .component_names()
        .iter()
        .position(|n| n == saga)
        .expect("saga component") as u32;
    let mut out: BTreeMap<u64, Vec<(u32, SagaOutcome, u64)>> = BTreeMap::new();
    for r in trace
        .iter()
        .filter(|r| r.kind == TraceKind::SagaStep && r.component == comp)
    {
        let o = SagaOutcome::from_code(r.offset).expect("an outcome");
        out.entry(r.msg).or_default().push((r.partition, o, r.t));
    }
    out
}

/// What a scenario's sagas have in common: `kind` is `orchestrated` or
/// `choreographed`; `broker` is `topic` or `queue`; each step's extra keys, and the
/// services' extra keys, are appended.
struct Case {
    kind: &'static str,
    broker: &'static str,
    rate: u32,
    duration: &'static str,
    steps: [&'static str; 3],
    services: [&'static str; 4],
    saga: &'static str,
    faults: String,
}

impl Case {
    fn new(kind: &'static str, broker: &'static str) -> Case {
        Case {
            kind,
            broker,
            rate: 20,
            duration: "20s",
            steps: ["", "", ""],
            services: ["", "", "", ""],
            saga: "",
            faults: String::new(),
        }
    }

    fn toml(&self) -> String {
        let names = ["coord", "inventory", "payment", "shipping"];
        let mut t = format!(
            "[scenario]\nname = \"s\"\nseed = 4\nduration = \"{}\"\n\n\
             [[producer]]\nname = \"checkout\"\ntarget = \"{}-in\"\nrate = {{ per_second = {} }}\n\
             keys = {{ format = \"o{{}}\", count = 1000 }}\nevent = \"OrderPlaced\"\n\n",
            self.duration,
            if self.kind == "orchestrated" {
                "coord"
            } else {
                "inventory"
            },
            self.rate
        );
        for (i, n) in names.iter().enumerate() {
            if i == 0 && self.kind != "orchestrated" {
                continue;
            }
            let _ = std::fmt::Write::write_fmt(
                &mut t,
                format_args!(
                    "[[{b}]]\nname = \"{n}-in\"\n{part}\n\
                     [[consumer]]\nname = \"{n}\"\nsource = \"{n}-in\"\ninstances = 2\nconcurrency = 4\n\
                     processing = {{ dist = \"exponential\", mean = \"5ms\" }}\n{extra}\n\n",
                    b = self.broker,
                    part = if self.broker == "topic" {
                        "partitions = 4\n"
                    } else {
                        "wait_time = \"20s\"\n"
                    },
                    extra = self.services[i],
                ),
            );
        }
        let _ = std::fmt::Write::write_fmt(
            &mut t,
            format_args!(
                "[[saga]]\nname = \"order\"\nkind = \"{}\"\n{}{}\n\n",
                self.kind,
                if self.kind == "orchestrated" {
                    "coordinator = \"coord\"\n"
                } else {
                    ""
                },
                self.saga
            ),
        );
        for (k, (step, comp)) in [("reserve", true), ("charge", true), ("ship", false)]
            .iter()
            .enumerate()
        {
            let _ = std::fmt::Write::write_fmt(
                &mut t,
                format_args!(
                    "[[saga.step]]\nname = \"{step}\"\nservice = \"{}\"\n{}{}\n\n",
                    names[k + 1],
                    if *comp {
                        format!("compensation = \"Undo{step}\"\n")
                    } else {
                        String::new()
                    },
                    self.steps[k]
                ),
            );
        }
        t.push_str(&self.faults);
        t
    }
}

/// The invariants every saga's records keep, whatever happened to its messages.
fn check_invariants(e: &Engine, trace: &[TraceRec], text: &str) -> Result<(), String> {
    let s = e.summary();
    let sg = &s.sagas[0];
    if sg.started != sg.completed + sg.compensated + sg.failed + sg.in_progress {
        return Err(format!("{sg:?}"));
    }
    for (id, recs) in per_saga(e, trace, "order") {
        let started = recs.iter().filter(|r| r.1 == SagaOutcome::Started).count();
        if started != 1 {
            return Err(format!("saga {id} started {started} times: {recs:?}"));
        }
        let ends = recs
            .iter()
            .filter(|r| {
                matches!(
                    r.1,
                    SagaOutcome::Completed | SagaOutcome::RolledBack | SagaOutcome::Aborted
                )
            })
            .count();
        if ends > 1
            || (ends == 1
                && !matches!(recs.last().map(|r| r.1), Some(o) if matches!(o, SagaOutcome::Completed | SagaOutcome::RolledBack | SagaOutcome::Aborted)))
        {
            return Err(format!(
                "saga {id} ended {ends} times or went on after: {recs:?}"
            ));
        }
        // Completed steps, in the order they completed; each compensation undoes the
        // latest completed step not yet undone.
        let mut done: Vec<u32> = Vec::new();
        let mut compensating = None;
        for &(step, o, _) in &recs {
            match o {
                SagaOutcome::Done => {
                    if done.contains(&step) {
                        return Err(format!("saga {id}: step {step} done twice: {recs:?}"));
                    }
                    done.push(step);
                }
                SagaOutcome::Compensate => {
                    let undoable: Vec<u32> = done.iter().copied().filter(|&d| d != 2).collect();
                    let latest = undoable.iter().copied().max();
                    if compensating != Some(step) && latest != Some(step) {
                        return Err(format!(
                            "saga {id}: compensates step {step}, but the latest completed step with a compensation is {latest:?}: {recs:?}"
                        ));
                    }
                    compensating = Some(step);
                }
                SagaOutcome::Compensated => {
                    let Some(pos) = done.iter().position(|&d| d == step) else {
                        return Err(format!(
                            "saga {id}: step {step} compensated but never done: {recs:?}"
                        ));
                    };
                    done.remove(pos);
                    compensating = None;
                }
                SagaOutcome::Completed if done.len() != 3 => {
                    return Err(format!(
                        "saga {id}: completed with steps {done:?} done: {recs:?}"
                    ));
                }
                SagaOutcome::RolledBack if done.iter().any(|&d| d != 2) => {
                    return Err(format!(
                        "saga {id}: compensated with steps {done:?} still done: {recs:?}"
                    ));
                }
                _ => {}
            }
        }
    }
    let _ = text;
    Ok(())
}

#[test]
fn every_saga_of_a_healthy_system_completes_with_each_step_once() {
    for kind in ["orchestrated", "choreographed"] {
        for broker in ["topic", "queue"] {
            let text = Case::new(kind, broker).toml();
            let (e, trace) = run(&text);
            let s = e.summary();
            let sg = &s.sagas[0];
            assert!(sg.started > 350, "{kind} {broker}: {sg:?}");
            // Those started in the last moments may still run.
            assert!(sg.in_progress <= 3, "{kind} {broker}: {sg:?}");
            assert_eq!(sg.completed + sg.in_progress, sg.started, "{kind} {broker}");
            assert_eq!((sg.compensated, sg.failed, sg.duplicate_steps), (0, 0, 0));
            for (id, recs) in per_saga(&e, &trace, "order") {
                let outcomes: Vec<(u32, SagaOutcome)> = recs.iter().map(|r| (r.0, r.1)).collect();
                if outcomes.last().map(|o| o.1) != Some(SagaOutcome::Completed) {
                    continue;
                }
                let expected: Vec<(u32, SagaOutcome)> = match kind {
                    // The coordinator sends each command and hears each reply.
                    "orchestrated" => vec![
                        (0, SagaOutcome::Started),
                        (0, SagaOutcome::Sent),
                        (0, SagaOutcome::Done),
                        (1, SagaOutcome::Sent),
                        (1, SagaOutcome::Done),
                        (2, SagaOutcome::Sent),
                        (2, SagaOutcome::Done),
                        (2, SagaOutcome::Completed),
                    ],
                    // The first step runs where the saga starts; each emits the next.
                    _ => vec![
                        (0, SagaOutcome::Started),
                        (0, SagaOutcome::Done),
                        (1, SagaOutcome::Sent),
                        (1, SagaOutcome::Done),
                        (2, SagaOutcome::Sent),
                        (2, SagaOutcome::Done),
                        (2, SagaOutcome::Completed),
                    ],
                };
                assert_eq!(outcomes, expected, "{kind} {broker} saga {id}");
            }
            check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
        }
    }
}

#[test]
fn a_network_partition_between_the_coordinator_and_a_command_topic_holds_its_commands() {
    // The coordinator's link to payment's topic is cut from 5 s to 8 s: the charge
    // commands it sends meanwhile wait in its buffer and arrive when the link heals,
    // within the step's 10 s timeout, so every saga still completes, later.
    let mut case = Case::new("orchestrated", "topic");
    case.steps[1] = "timeout = \"10s\"\n";
    case.faults = "[[fault]]\nkind = \"network_partition\"\ntarget = \"coord\"\n\
                   peer = \"payment-in\"\nat = \"5s\"\nduration = \"3s\"\n"
        .to_string();
    let text = case.toml();
    let (e, trace) = run(&text);
    let s = e.summary();
    let sg = &s.sagas[0];
    assert_eq!((sg.compensated, sg.failed), (0, 0), "{sg:?}");
    let (cut, heal) = (5_000_000_000, 8_000_000_000);
    let mut held = 0;
    for (id, recs) in per_saga(&e, &trace, "order") {
        let sent = recs.iter().find(|r| (r.0, r.1) == (1, SagaOutcome::Sent));
        let done = recs.iter().find(|r| (r.0, r.1) == (1, SagaOutcome::Done));
        if let (Some(sent), Some(done)) = (sent, done)
            && (cut..heal).contains(&sent.2)
        {
            held += 1;
            assert!(
                done.2 >= heal,
                "saga {id}: charge sent at {} done at {} during the cut",
                sent.2,
                done.2
            );
        }
    }
    assert!(held > 40, "about 3 s of 20 sagas/s wait: {held}");
    let f = &s.faults[0];
    assert!(f.effects.held >= held as u64, "{f:?}");
    check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
}

#[test]
fn a_declined_step_compensates_the_completed_steps_in_reverse_order() {
    for kind in ["orchestrated", "choreographed"] {
        let mut case = Case::new(kind, "queue");
        case.steps[2] = "reject = 1.0";
        let text = case.toml();
        let (e, trace) = run(&text);
        let sg = &e.summary().sagas[0];
        assert_eq!(sg.completed, 0, "{kind}");
        assert!(
            sg.compensated + sg.in_progress == sg.started && sg.compensated > 350,
            "{kind}: {sg:?}"
        );
        for (id, recs) in per_saga(&e, &trace, "order") {
            if recs.last().map(|r| r.1) != Some(SagaOutcome::RolledBack) {
                continue;
            }
            // Shipping (step 2) failed and has no compensation; payment (1) is undone
            // first, then inventory (0).
            let undo: Vec<(u32, SagaOutcome)> = recs
                .iter()
                .filter(|r| {
                    matches!(
                        r.1,
                        SagaOutcome::Compensate | SagaOutcome::Compensated | SagaOutcome::Failed
                    )
                })
                .map(|r| (r.0, r.1))
                .collect();
            assert_eq!(
                undo,
                vec![
                    (2, SagaOutcome::Failed),
                    (1, SagaOutcome::Compensate),
                    (1, SagaOutcome::Compensated),
                    (0, SagaOutcome::Compensate),
                    (0, SagaOutcome::Compensated),
                ],
                "{kind} saga {id}: {recs:?}"
            );
        }
        let steps = &sg.steps;
        assert_eq!(
            steps[2].failed + steps[2].in_progress,
            steps[1].done,
            "{kind}: {steps:?}"
        );
        assert_eq!(steps[2].compensated, 0);
        check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
    }
}

#[test]
fn a_compensation_that_keeps_failing_leaves_the_saga_failed() {
    // Payment declines every card, 2 s late; inventory fails everything from 5 s on
    // and dead-letters it. Sagas that reserved stock before 5 s need their release
    // after it: the coordinator sends each compensation three times, a second and
    // then about two apart, and then gives the saga up.
    let mut case = Case::new("orchestrated", "queue");
    case.steps[1] = "reject = 1.0";
    case.services[1] = "dead_letter = \"inventory-dlq\"";
    case.faults = "[[queue]]\nname = \"inventory-dlq\"\n\n\
        [[fault]]\nkind = \"latency\"\ntarget = \"payment\"\nat = \"0s\"\ndelay = \"2s\"\n\n\
        [[fault]]\nkind = \"errors\"\ntarget = \"inventory\"\nat = \"5s\"\n"
        .to_string();
    let text = case.toml();
    let (e, trace) = run(&text);
    let sg = &e.summary().sagas[0];
    assert!(sg.compensated > 40, "{sg:?}");
    assert!(sg.failed > 30, "{sg:?}");
    for (id, recs) in per_saga(&e, &trace, "order") {
        if recs.last().map(|r| r.1) != Some(SagaOutcome::Aborted) {
            continue;
        }
        let fails = recs
            .iter()
            .filter(|r| r.1 == SagaOutcome::CompensationFailed)
            .count();
        let sends = recs
            .iter()
            .filter(|r| r.1 == SagaOutcome::Compensate)
            .count();
        assert_eq!((fails, sends), (3, 3), "saga {id}: {recs:?}");
    }
    check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
}

#[test]
fn a_timed_out_command_is_sent_again_and_then_counts_as_failed() {
    // Payment answers 3 s late, its timeout is 1 s, sent twice in all: every saga
    // times out twice at payment, is compensated, and each late success finds the
    // saga compensating or ended.
    let mut case = Case::new("orchestrated", "queue");
    case.duration = "10s";
    case.rate = 5;
    case.steps[1] = "timeout = \"1s\"\nretry = { max_attempts = 2, backoff = \"constant\", initial = \"500ms\", jitter = false }";
    case.faults =
        "[[fault]]\nkind = \"latency\"\ntarget = \"payment\"\nat = \"0s\"\ndelay = \"3s\"\n"
            .to_string();
    let text = case.toml();
    let (e, trace) = run(&text);
    let sg = &e.summary().sagas[0];
    let ended = sg.completed + sg.compensated + sg.failed;
    assert_eq!(sg.completed, 0, "{sg:?}");
    assert!(sg.compensated > 30, "{sg:?}");
    // Two timeouts per failure; a saga at its first timeout at the end has one.
    let (timeouts, failed) = (sg.steps[1].timeouts, sg.steps[1].failed);
    assert!(
        timeouts >= 2 * failed && timeouts <= 2 * failed + sg.in_progress,
        "{sg:?}"
    );
    for (id, recs) in per_saga(&e, &trace, "order") {
        if recs.last().map(|r| r.1) != Some(SagaOutcome::RolledBack) {
            continue;
        }
        let t = |o: SagaOutcome| {
            recs.iter()
                .filter(|r| r.1 == o && r.0 == 1)
                .map(|r| r.2)
                .collect::<Vec<_>>()
        };
        let (sent, timed_out) = (t(SagaOutcome::Sent), t(SagaOutcome::TimedOut));
        assert_eq!(sent.len(), 2, "saga {id}: {recs:?}");
        // Each send waits its timeout; the second goes 500 ms after the first timed out.
        assert_eq!(timed_out[0] - sent[0], 1_000_000_000);
        assert_eq!(sent[1] - timed_out[0], 500_000_000);
        assert_eq!(timed_out[1] - sent[1], 1_000_000_000);
    }
    // A late success of payment while its saga undoes inventory is undone too; one
    // after the saga ended is orphaned. Either way each shows in the counts.
    assert!(sg.stale + sg.steps[1].done > 0, "{sg:?} of {ended}");
    check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
}

#[test]
fn an_idempotent_participant_runs_each_step_once_despite_redeliveries() {
    // Payment takes about 1.2 s and its queue's visibility timeout is 1 s: many
    // commands are received twice. Without idempotency payment charges twice; with a
    // dedup store the second delivery is suppressed and no step runs twice.
    for idempotent in [false, true] {
        let mut case = Case::new("choreographed", "queue");
        case.duration = "30s";
        case.rate = 10;
        case.services[2] = if idempotent { "idempotent = true" } else { "" };
        let mut text = case.toml();
        text = text.replace(
            "name = \"payment-in\"\n",
            "name = \"payment-in\"\nvisibility_timeout = \"1s\"\n",
        );
        text = text.replace(
            "name = \"payment\"\nsource = \"payment-in\"\ninstances = 2\nconcurrency = 4\nprocessing = { dist = \"exponential\", mean = \"5ms\" }",
            "name = \"payment\"\nsource = \"payment-in\"\ninstances = 2\nconcurrency = 64\nprocessing = { dist = \"uniform\", min = \"900ms\", max = \"1500ms\" }",
        );
        let (e, trace) = run(&text);
        let s = e.summary();
        let sg = &s.sagas[0];
        let pay = s.services.iter().find(|x| x.name == "payment").unwrap();
        if idempotent {
            assert_eq!(sg.duplicate_steps, 0, "{sg:?}");
            assert!(pay.counters.suppressed > 20, "{:?}", pay.counters);
        } else {
            assert!(sg.duplicate_steps > 20, "{sg:?}");
        }
        check_invariants(&e, &trace, &text).unwrap_or_else(|m| panic!("{m}\n{text}"));
    }
}

#[test]
fn bad_sagas_are_refused_with_a_location() {
    let ok = Case::new("orchestrated", "queue").toml();
    for (from, to, expect) in [
        ("coordinator = \"coord\"\n", "", "has no coordinator"),
        (
            "service = \"payment\"",
            "service = \"paymnt\"",
            "did you mean `payment`?",
        ),
        (
            "compensation = \"Undoreserve\"\n",
            "compensation = \"Undoreserve\"\non = \"X\"\n",
            "`on` does not apply",
        ),
        (
            "name = \"charge\"",
            "name = \"reserve\"",
            "step `reserve` is step 1",
        ),
    ] {
        assert!(ok.contains(from), "{from}");
        let text = ok.replacen(from, to, 1);
        let err = edasim::scenario::load_str("s.toml", &text)
            .err()
            .map(|e| e.to_plain())
            .unwrap_or_default();
        assert!(
            err.contains(expect) && err.contains("s.toml:"),
            "{expect}: {err}"
        );
    }
    let choreo = Case::new("choreographed", "queue").toml().replacen(
        "name = \"charge\"\nservice = \"payment\"\n",
        "name = \"charge\"\nservice = \"payment\"\non = \"Elsewhere\"\n",
        1,
    );
    let text = choreo.replacen(
        "name = \"reserve\"\nservice = \"inventory\"\n",
        "name = \"reserve\"\nservice = \"inventory\"\nemits = \"Reserved\"\n",
        1,
    );
    let err = edasim::scenario::load_str("s.toml", &text)
        .err()
        .map(|e| e.to_plain())
        .unwrap_or_default();
    assert!(err.contains("reacts to `Elsewhere`"), "{err}");
}

fn saga_case() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("orchestrated"), Just("choreographed")],
        prop_oneof![Just("topic"), Just("queue")],
        0u32..40,
        0u32..40,
        0u32..30,
        prop_oneof![Just(""), Just("timeout = \"300ms\""), Just("timeout = \"2s\"\nretry = { max_attempts = 3 }")],
        0u32..3,
        any::<bool>(),
    )
        .prop_map(|(kind, broker, r1, r2, fail, timeout, fault, idem)| {
            let mut c = Case::new(kind, broker);
            c.duration = "15s";
            c.rate = 15;
            c.steps[1] = Box::leak(format!("reject = {}", f64::from(r1) / 100.0).into_boxed_str());
            c.steps[2] = Box::leak(format!("reject = {}", f64::from(r2) / 100.0).into_boxed_str());
            if kind == "orchestrated" {
                c.steps[1] = Box::leak(format!("{}\n{timeout}", c.steps[1]).into_boxed_str());
            }
            let retry = "retry = { max_attempts = 2, backoff = \"constant\", initial = \"50ms\" }";
            let fail_line: &'static str = Box::leak(
                format!(
                    "failure_rate = {}\n{retry}\n{}",
                    f64::from(fail) / 100.0,
                    if idem { "idempotent = true" } else { "" }
                )
                .into_boxed_str(),
            );
            c.services[1] = fail_line;
            c.services[2] = fail_line;
            c.faults = match fault {
                1 => "[[fault]]\nkind = \"latency\"\ntarget = \"payment\"\nat = \"3s\"\nduration = \"4s\"\ndelay = \"700ms\"\n".to_string(),
                2 => "[[fault]]\nkind = \"errors\"\ntarget = \"inventory\"\nat = \"4s\"\nduration = \"5s\"\n".to_string(),
                _ => String::new(),
            };
            c.toml()
        })
}

proptest! {
    #![proptest_config(Config { cases: 24, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5a6a), ..Config::default() })]

    /// Whatever fails, is declined, times out or runs slow: every saga started once
    /// and ended at most once, completed only with every step done, and compensations
    /// undo only completed steps, latest first.
    #[test]
    fn saga_invariants_hold(text in saga_case()) {
        let (e, trace) = run(&text);
        if let Err(m) = check_invariants(&e, &trace, &text) {
            return Err(proptest::test_runner::TestCaseError::fail(format!("{m}\n{text}")));
        }
    }
}
