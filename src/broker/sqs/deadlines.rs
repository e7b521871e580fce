//! Deadlines of one kind (visibility, delay, retention) for the messages of one queue,
//! without an engine event per message. Deadlines mostly arrive in increasing order
//! (every receive of a queue gets the same visibility timeout, every send the same
//! retention), so they go to the back of a deque; the few that do not (a heartbeat that
//! shortens a deadline, a dead-lettered message that keeps its old enqueue time) go to a
//! small heap. Entries are never removed when their message moves on: the owner tells
//! stale from live when it meets them, and prunes stale ones from the front.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One deadline: when, which slot, and the stamp that makes it live (the slot's
/// generation or receive count when it was set).
pub(crate) type Deadline = (u64, u32, u32);

/// A set of deadlines, earliest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deadlines {
    ordered: VecDeque<Deadline>,
    late: BinaryHeap<Reverse<Deadline>>,
}

impl Deadlines {
    /// Adds a deadline.
    #[inline]
    pub fn push(&mut self, d: Deadline) {
        match self.ordered.back() {
            Some(b) if d.0 < b.0 => self.late.push(Reverse(d)),
            _ => self.ordered.push_back(d),
        }
    }

    /// The earliest deadline, live or not.
    #[inline]
    pub fn next(&self) -> Option<u64> {
        let a = self.ordered.front().map(|d| d.0);
        let b = self.late.peek().map(|d| d.0.0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the earliest deadline if it is at or before `now`.
    #[inline]
    pub fn pop_due(&mut self, now: u64) -> Option<Deadline> {
        let a = self.ordered.front().copied().filter(|d| d.0 <= now);
        let b = self.late.peek().map(|d| d.0).filter(|d| d.0 <= now);
        match (a, b) {
            (Some(x), Some(y)) if y.0 < x.0 => self.late.pop().map(|d| d.0),
            (Some(_), _) => self.ordered.pop_front(),
            (None, Some(_)) => self.late.pop().map(|d| d.0),
            (None, None) => None,
        }
    }

    /// Drops stale deadlines from the front of both lists, so that `next` is live.
    pub fn prune(&mut self, live: impl Fn(&Deadline) -> bool) {
        while self.ordered.front().is_some_and(|d| !live(d)) {
            self.ordered.pop_front();
        }
        while self.late.peek().is_some_and(|d| !live(&d.0)) {
            self.late.pop();
        }
    }

    /// The earliest live deadline, without pruning (for gauges, which only read).
    pub fn first_live(&self, live: impl Fn(&Deadline) -> bool) -> Option<u64> {
        let a = self.ordered.iter().find(|d| live(d)).map(|d| d.0);
        let b = self.late.iter().filter(|d| live(&d.0)).map(|d| d.0.0).min();
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every deadline, live or not (for scans that are not on the hot path).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ordered.len() + self.late.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_whatever_the_push_order() {
        let mut d = Deadlines::default();
        for (i, t) in [5u64, 7, 3, 9, 9, 1, 8].into_iter().enumerate() {
            d.push((t, i as u32, 0));
        }
        assert_eq!(d.len(), 7);
        assert_eq!(d.next(), Some(1));
        let mut got = Vec::new();
        while let Some(x) = d.pop_due(8) {
            got.push(x.0);
        }
        assert_eq!(got, vec![1, 3, 5, 7, 8]);
        assert_eq!(d.next(), Some(9));
        d.prune(|x| x.1 != 3);
        assert_eq!(d.pop_due(100).map(|x| x.1), Some(4));
        assert_eq!(d.pop_due(100), None);
    }
}
