//! Commit modes under a crash, checked against the trace message by message: with
//! `before` the crash loses exactly what the instance held, with `after` nothing is
//! lost or repeated, with `auto` exactly what it processed since its last commit is
//! processed again.

use std::collections::BTreeSet;

use crate::{bundled, run};
use edasim::sim::Options;
use edasim::sim::trace::{TraceKind, TraceRec};

const CRASHED: u32 = 1; // billing#2, 0-based

fn crash_time(trace: &[TraceRec]) -> u64 {
    trace
        .iter()
        .find(|r| r.kind == TraceKind::Crash)
        .map(|r| r.t)
        .expect("a crash")
}

#[test]
fn before_loses_exactly_the_in_flight_messages() {
    let mut e = run(
        bundled("commit-before.toml"),
        Options {
            record_rows: false,
            trace: true,
            ..Default::default()
        },
    );
    let trace = e.drain_trace();
    let t = crash_time(&trace);
    // In flight on billing#2 at the crash: started, not finished.
    let mut in_flight = BTreeSet::new();
    for r in trace.iter().filter(|r| r.t <= t && r.instance == CRASHED) {
        match r.kind {
            TraceKind::ProcessStart => {
                in_flight.insert(r.msg);
            }
            TraceKind::Ack | TraceKind::Fail => {
                in_flight.remove(&r.msg);
            }
            _ => {}
        }
    }
    let dropped: BTreeSet<u64> = trace
        .iter()
        .filter(|r| r.kind == TraceKind::Drop)
        .map(|r| r.msg)
        .collect();
    assert!(!in_flight.is_empty(), "the crash should hit work in flight");
    assert_eq!(dropped, in_flight);
    let s = e.summary();
    assert_eq!(s.services[0].counters.lost, in_flight.len() as u64);
    assert_eq!(s.services[0].counters.duplicates, 0);
    // Never processed afterwards either.
    for r in trace.iter().filter(|r| r.t > t && r.kind == TraceKind::Ack) {
        assert!(
            !in_flight.contains(&r.msg),
            "lost msg {} was processed later",
            r.msg
        );
    }
}

#[test]
fn after_neither_loses_nor_repeats() {
    let e = run(bundled("commit-after.toml"), Options::default());
    let s = e.summary();
    assert_eq!(s.services[0].counters.lost, 0);
    assert_eq!(s.services[0].counters.duplicates, 0);
    assert!(s.conservation.iter().all(|c| c.holds()));
}

#[test]
fn auto_repeats_exactly_what_was_processed_since_the_last_commit() {
    let mut e = run(
        bundled("commit-auto.toml"),
        Options {
            record_rows: false,
            trace: true,
            ..Default::default()
        },
    );
    let trace = e.drain_trace();
    let t = crash_time(&trace);
    let last_commit = trace
        .iter()
        .filter(|r| r.t < t && r.kind == TraceKind::Commit && r.instance == CRASHED)
        .map(|r| r.t)
        .max()
        .unwrap_or(0);
    let since_commit: BTreeSet<u64> = trace
        .iter()
        .filter(|r| {
            r.kind == TraceKind::Ack && r.instance == CRASHED && r.t > last_commit && r.t <= t
        })
        .map(|r| r.msg)
        .collect();
    let mut seen = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for r in trace.iter().filter(|r| r.kind == TraceKind::Ack) {
        if !seen.insert(r.msg) {
            repeated.insert(r.msg);
        }
    }
    assert!(!since_commit.is_empty());
    assert_eq!(repeated, since_commit);
    let s = e.summary();
    assert_eq!(s.services[0].counters.duplicates, since_commit.len() as u64);
    assert_eq!(s.services[0].counters.lost, 0);
}
