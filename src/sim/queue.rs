//! The event queue: a binary heap ordered by `(time, seq)`. The sequence number makes
//! events at the same instant leave in the order they were scheduled (FIFO), which is
//! what makes a run deterministic: no tie is ever broken by memory layout.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What happens at a scheduled instant. Kept to 16 bytes: everything else lives in the
/// engine's arenas, addressed by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A producer sends its next message.
    Produce {
        /// Producer index.
        producer: u32,
    },
    /// A producer re-sends a record whose ack was lost.
    Resend {
        /// Producer index.
        producer: u32,
        /// Slot in the producer's resend arena.
        slot: u32,
    },
    /// Processing of a work item ends.
    Done {
        /// Group index.
        group: u32,
        /// Work item.
        work: u32,
        /// Guards against a work item that was cancelled and reused meanwhile.
        token: u32,
    },
    /// A failed work item's backoff has elapsed.
    RetryDue {
        /// Group index.
        group: u32,
        /// Work item.
        work: u32,
        /// As in `Done`.
        token: u32,
    },
    /// An instance auto-commits its offsets.
    AutoCommit {
        /// Group index.
        group: u32,
        /// Instance index.
        instance: u32,
        /// Incarnation of the instance that scheduled it.
        incarnation: u32,
    },
    /// A fault starts.
    FaultStart {
        /// Fault index.
        fault: u32,
    },
    /// A fault ends (the instance restarts).
    FaultEnd {
        /// Fault index.
        fault: u32,
    },
    /// The coordinator's session timeout for a crashed instance expires.
    Detect {
        /// Group index.
        group: u32,
        /// Instance index.
        instance: u32,
        /// Incarnation that crashed.
        incarnation: u32,
    },
    /// A rebalance completes.
    RebalanceDone {
        /// Group index.
        group: u32,
        /// Generation that started it; a newer rebalance makes it moot.
        generation: u32,
    },
    /// Second round of a cooperative rebalance: revoked partitions are assigned.
    AssignRevoked {
        /// Group index.
        group: u32,
        /// As above.
        generation: u32,
    },
    /// Metrics are sampled (and retention enforced).
    Sample,
}

/// A scheduled event.
#[derive(Clone, Copy, Debug)]
pub struct Scheduled {
    /// When, in nanoseconds.
    pub time: u64,
    /// Order of scheduling; breaks ties.
    pub seq: u64,
    /// What.
    pub ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first. One u128
        // comparison is cheaper than a tuple's two.
        let key = |s: &Scheduled| (u128::from(s.time) << 64) | u128::from(s.seq);
        key(other).cmp(&key(self))
    }
}

/// Future events, earliest first.
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    next_seq: u64,
}

impl EventQueue {
    /// Schedules `ev` at `time`.
    pub fn push(&mut self, time: u64, ev: Ev) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled { time, seq, ev });
    }

    /// The earliest event, removed.
    pub fn pop(&mut self) -> Option<Scheduled> {
        self.heap.pop()
    }

    /// The earliest event, left in place.
    pub fn peek(&self) -> Option<&Scheduled> {
        self.heap.peek()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Pending events in firing order (for display; sorts a copy).
    pub fn upcoming(&self, n: usize) -> Vec<Scheduled> {
        let mut v: Vec<Scheduled> = self.heap.iter().copied().collect();
        v.sort_by(|a, b| b.cmp(a));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_fifo_among_equal_times() {
        let mut q = EventQueue::default();
        q.push(5, Ev::Sample);
        q.push(3, Ev::Produce { producer: 1 });
        q.push(3, Ev::Produce { producer: 2 });
        q.push(1, Ev::Produce { producer: 3 });
        let order: Vec<(u64, Ev)> =
            std::iter::from_fn(|| q.pop().map(|s| (s.time, s.ev))).collect();
        assert_eq!(
            order,
            vec![
                (1, Ev::Produce { producer: 3 }),
                (3, Ev::Produce { producer: 1 }),
                (3, Ev::Produce { producer: 2 }),
                (5, Ev::Sample)
            ]
        );
    }

    #[test]
    fn event_is_small() {
        assert!(std::mem::size_of::<Ev>() <= 16);
        assert!(std::mem::size_of::<Scheduled>() <= 32);
    }
}
