//! Circuit breakers, one per service instance, in front of what its processing calls.
//!
//! Closed, a breaker records each attempt's outcome. It opens after
//! [`BreakerModel::failures`] consecutive failures (Polly's consecutive-count breaker)
//! or when at least [`BreakerModel::failure_ratio`] of the attempts that ended within
//! the sliding `window` failed, once the window holds `min_calls` of them
//! (resilience4j's time-based window). Open, for `cooldown`, no attempt reaches the
//! dependency: the instance starts none (`when_open = "wait"`, so the messages wait in
//! the broker and a Kafka consumer's partitions pause) or fails each one at once
//! without calling (`"fail"`, counted `rejected`; retries and the dead letter follow).
//! Then it half-opens and lets `probes` attempts through: with a ratio, it closes if
//! their failure share stays under it and opens again otherwise; without one, the first
//! failed probe opens it again and `probes` successes close it. Outcomes of attempts
//! started before it opened are not recorded (their calls are already made).

use std::collections::VecDeque;

use super::Engine;
use super::queue::Ev;
use super::trace::TraceKind;
use crate::model::BreakerModel;

/// Work flag: the attempt was failed at once by an open breaker.
pub(crate) const REJECTED: u8 = 1;
/// Work flag: the attempt is one of a half-open breaker's probes.
pub(crate) const PROBE: u8 = 2;

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Open,
    HalfOpen,
}

/// One instance's breaker.
#[derive(Clone, Debug)]
pub(crate) struct Breaker {
    pub state: State,
    consecutive: u32,
    /// Outcomes within the window: (end time, failed).
    window: VecDeque<(u64, bool)>,
    window_fails: u32,
    /// Half-open: probes still to start, probes ended, probes failed.
    permits: u32,
    probes_done: u32,
    probes_failed: u32,
    /// Bumped at each opening: an older half-open timer is moot.
    pub stamp: u32,
    /// Times it opened.
    pub opened: u64,
    /// Since when it is open, while it is.
    open_since: u64,
    /// Time spent open before the current opening, ns.
    pub open_ns: u64,
    /// Attempts failed at once while open.
    pub rejected: u64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new() -> Breaker {
        Breaker {
            state: State::Closed,
            consecutive: 0,
            window: VecDeque::new(),
            window_fails: 0,
            permits: 0,
            probes_done: 0,
            probes_failed: 0,
            stamp: 0,
            opened: 0,
            open_since: 0,
            open_ns: 0,
            rejected: 0,
        }
    }

    /// Closed afresh at `now` (a restarted process), its totals kept; a pending
    /// half-open timer becomes moot.
    pub fn reset(&mut self, now: u64) {
        *self = Breaker {
            opened: self.opened,
            open_ns: self.open_time(now),
            rejected: self.rejected,
            stamp: self.stamp.wrapping_add(1),
            ..Breaker::new()
        };
    }

    /// Time open so far at `now`, ns.
    pub fn open_time(&self, now: u64) -> u64 {
        match self.state {
            State::Open => self.open_ns + now.saturating_sub(self.open_since),
            _ => self.open_ns,
        }
    }

    /// A closed breaker records an outcome at `now`: whether it trips.
    fn record_closed(&mut self, spec: &BreakerModel, now: u64, failed: bool) -> bool {
        self.consecutive = if failed { self.consecutive + 1 } else { 0 };
        if spec.failures.is_some_and(|n| self.consecutive >= n) {
            return true;
        }
        let Some(ratio) = spec.failure_ratio else {
            return false;
        };
        self.window.push_back((now, failed));
        self.window_fails += u32::from(failed);
        let from = now.saturating_sub(spec.window);
        while let Some(&(t, f)) = self.window.front() {
            if t > from {
                break;
            }
            self.window.pop_front();
            self.window_fails -= u32::from(f);
        }
        let n = self.window.len() as u32;
        n >= spec.min_calls && f64::from(self.window_fails) >= ratio * f64::from(n)
    }

    /// A half-open breaker records a probe's outcome: `Some(true)` to open again,
    /// `Some(false)` to close, `None` to wait for more probes.
    fn record_probe(&mut self, spec: &BreakerModel, failed: bool) -> Option<bool> {
        self.probes_done += 1;
        self.probes_failed += u32::from(failed);
        match spec.failure_ratio {
            None if failed => Some(true),
            None => (self.probes_done >= spec.probes).then_some(false),
            Some(r) => (self.probes_done >= spec.probes)
                .then(|| f64::from(self.probes_failed) >= r * f64::from(self.probes_done)),
        }
    }
}

impl super::service::Service {
    /// An attempt starts on instance `i`, which has a breaker: the work flags it gets
    /// (rejected at once, or a probe).
    #[inline(never)]
    pub(crate) fn breaker_admit(&mut self, i: usize) -> u8 {
        let b = &mut self.breakers[i];
        match b.state {
            State::Closed => 0,
            State::Open => {
                b.rejected += 1;
                REJECTED
            }
            State::HalfOpen => {
                b.permits = b.permits.saturating_sub(1);
                if b.permits == 0 {
                    // Every probe is out: nothing more starts until they end.
                    self.insts[i].gate = true;
                }
                PROBE
            }
        }
    }
}

impl Engine {
    /// An attempt that ran ends on instance `i` of service `g`: its breaker records it.
    #[inline(never)]
    pub(crate) fn breaker_record(&mut self, g: usize, i: usize, flags: u8, failed: bool) {
        let Some(spec) = self.model.services[g].breaker else {
            return;
        };
        let now = self.now;
        let b = &mut self.services[g].breakers[i];
        let verdict = match b.state {
            State::Closed => b.record_closed(&spec, now, failed).then_some(true),
            State::HalfOpen if flags & PROBE != 0 => b.record_probe(&spec, failed),
            State::HalfOpen | State::Open => None,
        };
        match verdict {
            Some(true) => self.breaker_open(g, i),
            Some(false) => self.breaker_close(g, i),
            None => {}
        }
    }

    /// Instance `i`'s breaker opens for its cooldown.
    fn breaker_open(&mut self, g: usize, i: usize) {
        let Some(spec) = self.model.services[g].breaker else {
            return;
        };
        let now = self.now;
        let b = &mut self.services[g].breakers[i];
        b.state = State::Open;
        b.stamp = b.stamp.wrapping_add(1);
        b.opened += 1;
        b.open_since = now;
        let stamp = b.stamp;
        self.services[g].insts[i].gate = !spec.fail_fast;
        self.queue.push(
            now.saturating_add(spec.cooldown),
            Ev::Breaker {
                service: g as u32,
                instance: i as u32,
                stamp,
            },
        );
        self.tr_instance(TraceKind::BreakerOpen, g, i as u32);
    }

    /// Instance `i`'s breaker closes: its counts start afresh.
    fn breaker_close(&mut self, g: usize, i: usize) {
        let now = self.now;
        self.services[g].breakers[i].reset(now);
        self.services[g].insts[i].gate = false;
        self.tr_instance(TraceKind::BreakerClose, g, i as u32);
        self.try_dispatch(g, i);
    }

    /// The cooldown of instance `i`'s breaker is over: it half-opens.
    pub(crate) fn on_breaker(&mut self, g: usize, i: usize, stamp: u32) {
        let Some(spec) = self.model.services[g].breaker else {
            return;
        };
        let now = self.now;
        let b = &mut self.services[g].breakers[i];
        if b.stamp != stamp || b.state != State::Open {
            return;
        }
        b.open_ns += now.saturating_sub(b.open_since);
        b.state = State::HalfOpen;
        b.permits = spec.probes;
        b.probes_done = 0;
        b.probes_failed = 0;
        self.services[g].insts[i].gate = false;
        self.tr_instance(TraceKind::BreakerHalfOpen, g, i as u32);
        self.try_dispatch(g, i);
        if let Some(q) = self.model.services[g].source.queue() {
            self.sqs_serve_waiters(q);
        }
    }

    /// Instances of service `g` whose breaker is open now (the `breaker_open` gauge).
    pub(crate) fn breakers_open(&self, g: usize) -> u64 {
        self.services[g]
            .breakers
            .iter()
            .filter(|b| b.state == State::Open)
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(failures: Option<u32>, ratio: Option<f64>) -> BreakerModel {
        BreakerModel {
            failures,
            failure_ratio: ratio,
            window: 10,
            min_calls: 4,
            cooldown: 100,
            probes: 3,
            fail_fast: false,
        }
    }

    #[test]
    fn consecutive_failures_trip_and_a_success_resets_the_count() {
        let s = spec(Some(3), None);
        let mut b = Breaker::new();
        assert!(!b.record_closed(&s, 1, true));
        assert!(!b.record_closed(&s, 2, true));
        assert!(!b.record_closed(&s, 3, false));
        assert!(!b.record_closed(&s, 4, true));
        assert!(!b.record_closed(&s, 5, true));
        assert!(b.record_closed(&s, 6, true));
    }

    #[test]
    fn a_ratio_needs_its_minimum_calls_within_the_window() {
        let s = spec(None, Some(0.5));
        let mut b = Breaker::new();
        // Three failures: under min_calls.
        for t in 1..=3 {
            assert!(!b.record_closed(&s, t, true));
        }
        // The fourth call, a success: 3 of 4 failed.
        assert!(b.record_closed(&s, 4, false));
        // Far later the old outcomes left the window (10 ns): 1 of 4 failed.
        let mut b = Breaker::new();
        for t in 1..=3 {
            b.record_closed(&s, t, true);
        }
        for t in 20..=22 {
            assert!(!b.record_closed(&s, t, false));
        }
        assert!(
            !b.record_closed(&s, 23, true),
            "1 failure in 4 is under 0.5"
        );
    }

    #[test]
    fn probes_close_or_reopen() {
        let s = spec(Some(3), None);
        let mut b = Breaker::new();
        assert_eq!(b.record_probe(&s, false), None);
        assert_eq!(b.record_probe(&s, false), None);
        assert_eq!(
            b.record_probe(&s, false),
            Some(false),
            "three successes close"
        );
        let mut b = Breaker::new();
        assert_eq!(b.record_probe(&s, false), None);
        assert_eq!(
            b.record_probe(&s, true),
            Some(true),
            "a failed probe reopens"
        );
        let r = spec(None, Some(0.5));
        let mut b = Breaker::new();
        assert_eq!(b.record_probe(&r, true), None);
        assert_eq!(b.record_probe(&r, false), None);
        assert_eq!(
            b.record_probe(&r, false),
            Some(false),
            "1 of 3 is under 0.5"
        );
        let mut b = Breaker::new();
        b.record_probe(&r, true);
        b.record_probe(&r, true);
        assert_eq!(b.record_probe(&r, false), Some(true), "2 of 3 reopens");
    }
}
