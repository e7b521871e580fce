//! The event queue: a binary heap ordered by `(time, seq)`. The sequence number makes
//! events at the same instant leave in the order they were scheduled (FIFO), which is
//! what makes a run deterministic: no tie is ever broken by memory layout.

/// What happens at a scheduled instant. Kept to 16 bytes: everything else lives in the
/// engine's arenas, addressed by index. The enum is flat (nesting would cost a tag
/// word), and its variants are grouped by the module that owns them: the engine hands
/// each group to its module ([`crate::sim::Engine`]'s `dispatch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    // ----- producers (sim::producer)
    /// A producer sends its next message.
    Produce {
        /// Producer index.
        producer: u32,
    },
    /// A producer re-sends a message whose ack was lost.
    Resend {
        /// Producer index.
        producer: u32,
        /// Slot in the producer's resend arena.
        slot: u32,
    },
    // ----- the service runtime (sim::service)
    /// Processing of a work item ends.
    Done {
        /// Service index.
        service: u32,
        /// Work item.
        work: u32,
        /// Guards against a work item that was cancelled and reused meanwhile.
        token: u32,
    },
    /// A failed work item's backoff has elapsed.
    RetryDue {
        /// Service index.
        service: u32,
        /// Work item.
        work: u32,
        /// As in `Done`.
        token: u32,
    },
    // ----- faults (sim::fault)
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
    // ----- circuit breakers (sim::breaker)
    /// An instance's open breaker half-opens.
    Breaker {
        /// Service index.
        service: u32,
        /// Instance.
        instance: u32,
        /// The opening that set it.
        stamp: u32,
    },
    // ----- links (sim::link)
    /// A publisher retries the messages it holds.
    Outbox {
        /// Publisher: a producer, or producers + service.
        publisher: u32,
    },
    /// A message delayed on its link reaches its broker.
    Arrive {
        /// Slot in the links' flight arena.
        slot: u32,
    },
    // ----- sagas (sim::saga)
    /// A coordinator's timer: a step's reply is overdue, or a send is due again.
    Saga {
        /// The saga's slot.
        slot: u32,
        /// The saga's stamp when set (its high bit: a send again).
        stamp: u32,
    },
    // ----- actions (sim::action)
    /// A scheduled action starts or takes its next step.
    Action {
        /// Action index.
        action: u32,
    },
    // ----- brokers: each kind's own timers (broker::*)
    /// A timer of the Kafka-like broker (broker::kafka).
    Kafka {
        /// Which.
        timer: KafkaTimer,
        /// Service index (its consumer group), or topic index for `Retention`.
        group: u32,
        /// Instance index where the timer is an instance's, partition for `Retention`.
        instance: u32,
        /// The instance's incarnation or the group's generation that set the timer: a
        /// newer one makes it moot.
        stamp: u32,
    },
    /// A timer of the SQS-like broker (broker::sqs).
    Sqs {
        /// Which.
        timer: SqsTimer,
        /// Queue index (`Queue`) or service index (`Poll`, `Heartbeat`).
        a: u32,
        /// Instance (`Poll`) or work item (`Heartbeat`).
        b: u32,
        /// The stamp that set it: the queue's timer stamp, the instance's poll stamp or
        /// the work item's token; another one makes it moot.
        stamp: u32,
    },
    /// A RabbitMQ-like queue's message TTL: the head expires (broker::rabbit).
    RabbitTtl {
        /// Queue index.
        queue: u32,
        /// The queue's timer stamp that set it; another one makes it moot.
        stamp: u32,
    },
    /// A RabbitMQ-like consumer cut off from its queue reaches the heartbeat timeout:
    /// its connection closes (broker::rabbit).
    RabbitHeartbeat {
        /// Service index.
        service: u32,
        /// Instance.
        instance: u32,
        /// The consumer's stamp when it was cut off; another one makes it moot.
        stamp: u32,
    },
    /// A failed delivery of an event bus is due for its next attempt (broker::bus).
    BusRetry {
        /// Its slot among the bus deliveries waiting for a retry.
        slot: u32,
    },
    // ----- metrics (sim::sampler)
    /// Metrics are sampled.
    Sample,
}

/// The timers of a Kafka consumer group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaTimer {
    /// An instance auto-commits its offsets (stamp: incarnation).
    AutoCommit,
    /// The coordinator's session timeout for a crashed instance expires (stamp:
    /// incarnation that crashed).
    Detect,
    /// A rebalance completes (stamp: generation that started it).
    RebalanceDone,
    /// Second round of a cooperative rebalance: revoked partitions are assigned (stamp:
    /// generation).
    AssignRevoked,
    /// The oldest record of a partition passes the topic's retention.
    Retention,
    /// A record a retry topic's consumer waited for is due.
    Due,
}

/// The timers of the SQS-like broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqsTimer {
    /// A queue's earliest deadline: a delay, a visibility timeout or retention.
    Queue,
    /// An instance's long poll times out, or its pause after a short poll ends.
    Poll,
    /// A work item extends its message's visibility (`ChangeMessageVisibility`).
    Heartbeat,
}

/// A scheduled event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduled {
    /// When, in nanoseconds.
    pub time: u64,
    /// Order of scheduling; breaks ties.
    pub seq: u64,
    /// What.
    pub ev: Ev,
}

/// A heap entry: the sort key (time in the high 64 bits, scheduling order in the low
/// ones) stored once, so that every comparison is a plain 128-bit compare. Keys are
/// unique, so the order of events is fully determined whatever the heap's shape.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u128,
    ev: Ev,
}

impl Entry {
    #[inline]
    fn time(&self) -> u64 {
        (self.key >> 64) as u64
    }

    #[inline]
    fn scheduled(&self) -> Scheduled {
        Scheduled {
            time: self.time(),
            seq: self.key as u64,
            ev: self.ev,
        }
    }
}

/// Future events, earliest first: a binary min-heap in a vector with a lazy pop. A pop
/// leaves a hole at the root; the next push fills it and sifts down once, so the usual
/// step (take an event, schedule its successor) costs one sift instead of three.
#[derive(Clone, Debug, Default)]
pub struct EventQueue {
    heap: Vec<Entry>,
    /// `heap[0]` was popped and awaits replacement.
    hole: bool,
    next_seq: u64,
}

impl EventQueue {
    /// Schedules `ev` at `time`.
    #[inline]
    pub fn push(&mut self, time: u64, ev: Ev) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let item = Entry {
            key: (u128::from(time) << 64) | u128::from(seq),
            ev,
        };
        if self.hole {
            self.hole = false;
            sift_down(&mut self.heap, item);
        } else {
            self.heap.push(item);
            sift_up(&mut self.heap);
        }
    }

    /// The earliest event, removed.
    #[inline]
    pub fn pop(&mut self) -> Option<Scheduled> {
        self.fill_hole();
        let top = *self.heap.first()?;
        self.hole = true;
        Some(top.scheduled())
    }

    /// Time of the earliest event.
    #[inline]
    pub fn peek_time(&mut self) -> Option<u64> {
        self.fill_hole();
        self.heap.first().map(Entry::time)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() - usize::from(self.hole)
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pending events in firing order (for display; sorts a copy).
    pub fn upcoming(&self, n: usize) -> Vec<Scheduled> {
        if n == 0 {
            return Vec::new();
        }
        let skip = usize::from(self.hole);
        let mut v: Vec<Entry> = self.heap.iter().skip(skip).copied().collect();
        // The n earliest first (linear), then only those sorted.
        if n < v.len() {
            v.select_nth_unstable_by_key(n - 1, |e| e.key);
            v.truncate(n);
        }
        v.sort_by_key(|e| e.key);
        v.iter().map(Entry::scheduled).collect()
    }

    #[inline(always)]
    fn fill_hole(&mut self) {
        if self.hole {
            self.close_hole();
        }
    }

    /// A pop's hole that no push filled: the last entry takes the root's place.
    #[cold]
    #[inline(never)]
    fn close_hole(&mut self) {
        self.hole = false;
        if let Some(last) = self.heap.pop()
            && !self.heap.is_empty()
        {
            sift_down(&mut self.heap, last);
        }
    }
}

/// Restores the heap after its last element was pushed.
#[inline]
fn sift_up(heap: &mut [Entry]) {
    let Some(mut i) = heap.len().checked_sub(1) else {
        return;
    };
    let item = heap[i];
    while i > 0 {
        let parent = (i - 1) / 2;
        if heap[parent].key <= item.key {
            break;
        }
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

/// Puts `item` at the root (replacing it) and restores the heap: the classic sift, which
/// stops as soon as the item is no later than both children (a new event often belongs
/// near the top: the next arrival is soon).
#[inline]
fn sift_down(heap: &mut [Entry], item: Entry) {
    let len = heap.len();
    let mut i = 0;
    loop {
        let left = 2 * i + 1;
        if left >= len {
            break;
        }
        // The earlier child, picked without a branch (which child is earlier is a coin
        // toss, so a branch would mispredict half the time).
        let right = (left + 1).min(len - 1);
        let c = left + usize::from(heap[right].key < heap[left].key);
        if heap[c].key >= item.key {
            break;
        }
        heap[i] = heap[c];
        i = c;
    }
    debug_assert!(i < len);
    heap[i] = item;
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
    fn pops_in_key_order_under_mixed_pushes_and_pops() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(9);
        let mut q = EventQueue::default();
        let mut model: Vec<(u64, u64)> = Vec::new(); // (time, seq) still pending
        let mut seq = 0u64;
        for _ in 0..20_000 {
            if rng.next_u64() % 3 != 0 || model.is_empty() {
                let t = rng.next_u64() % 500;
                q.push(t, Ev::Sample);
                model.push((t, seq));
                seq += 1;
            } else {
                let s = q.pop().expect("pending");
                let min = *model.iter().min().expect("pending");
                assert_eq!((s.time, s.seq), min);
                model.retain(|&m| m != min);
            }
            assert_eq!(q.len(), model.len());
        }
    }

    #[test]
    fn event_is_small() {
        assert!(std::mem::size_of::<Ev>() <= 16);
        assert!(std::mem::size_of::<Scheduled>() <= 32);
    }
}
