//! The SQS-like broker: standard and FIFO queues, following the Amazon SQS developer
//! guide.
//!
//! - A sent message is *delayed* (the queue's or the message's `DelaySeconds`), then
//!   *visible*. A receive returns up to `batch_size` visible messages and makes them *in
//!   flight* for the visibility timeout; each receive adds one to the message's receive
//!   count. A message not deleted in time becomes visible again and is received again
//!   (`redeliveries`); a delete with the receipt of an older receive does nothing.
//! - With a redrive policy, a receive that finds a message already received
//!   `max_receive_count` times moves it to the dead-letter queue instead of returning it;
//!   the move keeps the enqueue time on a standard queue (retention counts from the first
//!   send) and resets it on a FIFO queue.
//! - Retention deletes a message `retention` after it was enqueued, whatever its state.
//! - Short polling (`wait_time` 0) answers at once, empty or not, and the instance asks
//!   again after `poll_interval`; long polling waits up to `wait_time` for a message.
//!   Both count empty receives, which is what SQS bills for.
//! - FIFO (`fifo.rs`): messages of one group (the key) are received in order, and nothing
//!   more of a group is received while one of its messages is in flight; a send whose
//!   deduplication id was seen in the last five minutes is accepted and dropped.
//!
//! Messages live in a slab per queue; deadlines (`deadlines.rs`) are kept per queue and
//! served by one engine timer per queue, so that a message in flight costs no event.

mod deadlines;
pub(crate) mod fifo;

use std::collections::VecDeque;

use deadlines::Deadlines;
use fifo::{DedupKey, Fifo};

use crate::broker::{Fate, Lease};
use crate::metrics::{AnomalyKind, Cause, Counters};
use crate::model::{Channel, KeyId, Model, QueueIdx};
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::queue::{Ev, SqsTimer};
use crate::sim::service::{Delivery, Work, WorkState};
use crate::sim::trace::{NA32, NA64, TraceKind};

/// Where a message of a queue stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QState {
    /// The slot is free.
    Free,
    /// Sent, not visible yet.
    Delayed,
    /// May be received.
    Visible,
    /// Received, invisible until its deadline.
    InFlight,
}

/// One message of a queue.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QMsg {
    pub msg: Message,
    /// Enqueue time: retention counts from it.
    pub sent_at: u64,
    /// In flight: when it becomes visible again; delayed: when it becomes visible.
    pub deadline: u64,
    /// Receives so far (SQS's `ApproximateReceiveCount`).
    pub receives: u32,
    /// When it was last received (a visibility timeout can reach 12 hours from it).
    pub received_at: u64,
    /// Bumped when the slot is freed: stale leases and deadlines name an older one.
    pub generation: u32,
    pub state: QState,
    /// When its visibility timeout last expired (the cause of the next delivery).
    pub expired_at: Option<u64>,
    /// The queue it was dead-lettered from ([`NO_ORIGIN`]: none), where a redrive
    /// returns it by default.
    pub origin: u32,
}

/// No source queue: the message was sent to this queue directly.
pub(crate) const NO_ORIGIN: u32 = u32::MAX;

/// Counters of one queue beyond the common ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounters {
    /// Receive calls that returned at least one message.
    pub receives: u64,
    /// Receive calls that returned nothing (short polls, and long polls that timed out).
    pub empty_receives: u64,
    /// Messages that became visible again because their visibility timeout expired.
    pub redeliveries: u64,
    /// Sends dropped as duplicates within the deduplication window (FIFO).
    pub deduplicated: u64,
    /// Messages moved to the dead-letter queue by the redrive policy.
    pub moved_to_dlq: u64,
    /// Messages a redrive moved out of this queue.
    pub redriven: u64,
}

/// One queue's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueueState {
    pub slots: Vec<QMsg>,
    free: Vec<u32>,
    /// Standard queues: visible messages in the order they became visible.
    visible: VecDeque<(u32, u32)>,
    /// FIFO queues: message groups and the deduplication window.
    pub fifo: Fifo,
    visibility: Deadlines,
    delays: Deadlines,
    retention: Deadlines,
    /// Time of the pending queue timer (`u64::MAX`: none) and its stamp.
    timer_at: u64,
    timer_stamp: u32,
    /// Long-polling instances of the reading service, in the order they started
    /// waiting: (instance, poll stamp).
    waiters: VecDeque<(u32, u32)>,
    pub n_visible: u64,
    pub n_in_flight: u64,
    pub n_delayed: u64,
    /// `produced` numbers originals (a message's ledger entry), `copies` counts the
    /// rest, `expired` messages retention deleted.
    pub c: Counters,
    pub q: QueueCounters,
}

/// What an instance of a queue-reading service is doing about receiving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    /// Nothing outstanding: it receives when it has room.
    Idle,
    /// A long poll is waiting for a message.
    Waiting,
    /// A short poll found nothing; it asks again after the poll interval.
    Sleeping,
}

/// One instance of a service reading a queue.
#[derive(Clone, Debug)]
pub(crate) struct ReaderInst {
    /// Received messages waiting for a free slot (their visibility timeout runs).
    pub inbox: VecDeque<Delivery>,
    pub poll: Poll,
    /// Bumped whenever `poll` changes: a waiter entry of an older stamp is moot.
    pub stamp: u32,
    /// When the current wait or pause ends.
    pub wake_at: u64,
    /// Time of its pending poll timer (`u64::MAX`: none). One timer per instance at a
    /// time: a wait that ends later than the pending timer is re-armed when it fires,
    /// so waits answered early leave no event behind each.
    pub timer_at: u64,
    /// FIFO: groups (keys) with a live work item in this instance.
    pub busy_keys: Vec<KeyId>,
    /// A function's invocation: receipts of the records it processed, deleted when the
    /// invocation ends (slot, generation, receives).
    pub held: Vec<(u32, u32, u32)>,
    /// A function's invocation: a record of the batch failed.
    pub batch_failed: bool,
    /// A function's poller: the end of the batching window it is gathering (0: none).
    pub window_until: u64,
}

/// Every queue, and the receive state of every service (empty for services that read
/// a topic).
#[derive(Clone, Debug, Default)]
pub(crate) struct Sqs {
    pub queues: Vec<QueueState>,
    pub readers: Vec<Vec<ReaderInst>>,
}

impl Sqs {
    /// Empty queues and idle readers for `model`.
    pub fn new(model: &Model) -> Sqs {
        Sqs {
            queues: model
                .queues
                .iter()
                .map(|_| QueueState {
                    timer_at: u64::MAX,
                    ..QueueState::default()
                })
                .collect(),
            readers: model
                .services
                .iter()
                .map(|s| match s.source {
                    Channel::Queue(_) => (0..s.instances)
                        .map(|_| ReaderInst {
                            inbox: VecDeque::new(),
                            poll: Poll::Idle,
                            stamp: 0,
                            wake_at: 0,
                            timer_at: u64::MAX,
                            busy_keys: Vec::new(),
                            held: Vec::new(),
                            batch_failed: false,
                            window_until: 0,
                        })
                        .collect(),
                    Channel::Topic(_)
                    | Channel::Pubsub(_)
                    | Channel::Exchange(_)
                    | Channel::Bus(_) => Vec::new(),
                })
                .collect(),
        }
    }
}

impl QueueState {
    /// A slot for `m`, from the free list if it can.
    fn alloc(&mut self, m: QMsg) -> u32 {
        match self.free.pop() {
            Some(s) => {
                let generation = self.slots[s as usize].generation;
                self.slots[s as usize] = QMsg { generation, ..m };
                s
            }
            None => {
                self.slots.push(m);
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Frees slot `s`, keeping the gauges right.
    fn release_slot(&mut self, s: u32) {
        let m = &mut self.slots[s as usize];
        match m.state {
            QState::Free => return,
            QState::Delayed => self.n_delayed -= 1,
            QState::Visible => self.n_visible -= 1,
            QState::InFlight => self.n_in_flight -= 1,
        }
        m.state = QState::Free;
        m.generation = m.generation.wrapping_add(1);
        self.free.push(s);
    }

    /// Slot `s` leaves the queue (deleted, expired, dead-lettered, redriven): out of its
    /// FIFO group, which may get its turn again, and freed.
    fn take_out(&mut self, s: u32, fifo: bool) {
        let m = self.slots[s as usize];
        if fifo {
            self.fifo.remove(s, m.msg.key, m.state == QState::InFlight);
        }
        self.release_slot(s);
        if fifo {
            self.fifo.refresh(m.msg.key, &self.slots);
        }
    }

    /// The message behind a lease, if the lease is its latest receipt.
    fn leased(&self, slot: u32, generation: u32, receives: u32) -> Option<&QMsg> {
        self.slots.get(slot as usize).filter(|m| {
            m.state != QState::Free && m.generation == generation && m.receives == receives
        })
    }

    /// Whether the slot still holds the message of generation `generation`.
    fn holds(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|m| m.state != QState::Free && m.generation == generation)
    }

    /// The earliest live deadline of any kind.
    fn next_deadline(&mut self) -> Option<u64> {
        let slots = &self.slots;
        self.visibility.prune(|&(at, s, r)| {
            let m = &slots[s as usize];
            m.state == QState::InFlight && m.receives == r && m.deadline == at
        });
        self.delays.prune(|&(_, s, g)| {
            let m = &slots[s as usize];
            m.state == QState::Delayed && m.generation == g
        });
        self.retention.prune(|&(_, s, g)| {
            let m = &slots[s as usize];
            m.state != QState::Free && m.generation == g
        });
        [
            self.visibility.next(),
            self.delays.next(),
            self.retention.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Engine {
    /// Traces a happening of queue `q` to `msg` (`attempt`: its receive count, where it
    /// matters).
    fn tr_queue(&mut self, kind: TraceKind, q: QueueIdx, msg: &Message, attempt: u32) {
        let comp = self.plan.queue_comp + q as u32;
        self.tracer
            .rec(self.now, kind, comp, NA32, Some(msg), NA32, NA64, attempt);
    }

    /// SendMessage: queue `q` takes `msg` (delayed by `delay` beyond the queue's own
    /// delay). An original is numbered and enters its reader's ledger; a FIFO queue drops
    /// a message whose deduplication id it saw in the last five minutes.
    pub(crate) fn sqs_send(&mut self, q: QueueIdx, msg: Message, delay: u64) {
        if self.is_rabbit(q) {
            // A service's write to a RabbitMQ-like queue (through the default exchange).
            let item = crate::broker::rabbit::consume::Item::direct(msg, None);
            return self.rabbit_publish(q, item);
        }
        self.sqs_enqueue(q, msg, delay, self.now, true, NO_ORIGIN);
    }

    /// A consumer of queue `origin` sends a message it gave up on to queue `q`, its
    /// `dead_letter`: a redrive of `q` returns it to `origin`.
    pub(crate) fn sqs_send_dead_letter(&mut self, q: QueueIdx, msg: Message, origin: u32) {
        if self.is_rabbit(q) {
            return self.sqs_send(q, msg, 0);
        }
        self.sqs_enqueue(q, msg, 0, self.now, true, origin);
    }

    /// Enqueues `msg` with enqueue time `sent_at` (a standard dead-letter queue keeps the
    /// original one); `dedup`: a send, which a FIFO queue deduplicates (a move to a
    /// dead-letter queue is not).
    fn sqs_enqueue(
        &mut self,
        q: QueueIdx,
        msg: Message,
        delay: u64,
        sent_at: u64,
        dedup: bool,
        origin: u32,
    ) {
        let spec = &self.model.queues[q];
        let (fifo, scope, retention) = (spec.fifo, spec.dedup_scope, spec.retention);
        let delay = delay.max(spec.delay);
        let now = self.now;
        if fifo && dedup {
            let key = DedupKey::new(&msg, scope);
            if !self.sqs.queues[q].fifo.admit(key, now) {
                self.sqs.queues[q].q.deduplicated += 1;
                self.tr_queue(TraceKind::Deduplicated, q, &msg, NA32);
                return;
            }
        }
        let qs = &mut self.sqs.queues[q];
        let msg = if msg.is_copy() {
            qs.c.copies += 1;
            msg
        } else {
            qs.c.produced += 1;
            Message {
                entry: qs.c.produced - 1,
                ..msg
            }
        };
        let state = if delay > 0 {
            QState::Delayed
        } else {
            QState::Visible
        };
        let slot = qs.alloc(QMsg {
            msg,
            sent_at,
            deadline: now.saturating_add(delay),
            receives: 0,
            received_at: 0,
            generation: 0,
            state,
            expired_at: None,
            origin,
        });
        let generation = qs.slots[slot as usize].generation;
        qs.retention
            .push((sent_at.saturating_add(retention), slot, generation));
        if fifo {
            qs.fifo.push(slot, msg.key);
        }
        if delay > 0 {
            qs.n_delayed += 1;
            qs.delays
                .push((now.saturating_add(delay), slot, generation));
        } else {
            qs.n_visible += 1;
            if fifo {
                qs.fifo.refresh(msg.key, &qs.slots);
            } else {
                qs.visible.push_back((slot, generation));
            }
        }
        self.tr_queue(TraceKind::Append, q, &msg, NA32);
        if !msg.is_copy()
            && let Some(g) = self.model.queues[q].reader
        {
            self.services[g].ledger.enter(msg.entry, now);
        }
        let first = if delay > 0 {
            now.saturating_add(delay)
        } else {
            u64::MAX
        };
        self.sqs_arm_at(q, first.min(sent_at.saturating_add(retention)));
        if delay == 0 {
            self.sqs_serve_waiters(q);
        }
    }

    /// A deadline at `at` was added to queue `q`: a pending timer no later than it
    /// will see to it when it fires (and prune what went stale meanwhile), so only an
    /// earlier deadline re-arms.
    #[inline]
    fn sqs_arm_at(&mut self, q: QueueIdx, at: u64) {
        let qs = &self.sqs.queues[q];
        if qs.timer_at != u64::MAX && qs.timer_at > self.now && qs.timer_at <= at {
            return;
        }
        self.sqs_arm(q);
    }

    /// Makes sure queue `q`'s timer fires at its earliest live deadline.
    fn sqs_arm(&mut self, q: QueueIdx) {
        let qs = &mut self.sqs.queues[q];
        let Some(next) = qs.next_deadline() else {
            return;
        };
        if next >= qs.timer_at && qs.timer_at > self.now {
            return;
        }
        qs.timer_stamp = qs.timer_stamp.wrapping_add(1);
        qs.timer_at = next.max(self.now);
        let ev = Ev::Sqs {
            timer: SqsTimer::Queue,
            a: q as u32,
            b: 0,
            stamp: qs.timer_stamp,
        };
        self.queue.push(qs.timer_at, ev);
    }

    /// A timer of the SQS-like broker fires.
    pub(crate) fn on_sqs_timer(&mut self, timer: SqsTimer, a: u32, b: u32, stamp: u32) {
        match timer {
            SqsTimer::Queue => self.on_queue_timer(a as usize, stamp),
            SqsTimer::Poll => self.on_poll_timer(a as usize, b as usize),
            SqsTimer::Heartbeat => self.on_heartbeat(a as usize, b, stamp),
        }
    }

    /// ChangeMessageVisibility from work item `w` of service `g`, still alive: its
    /// message becomes invisible for the heartbeat's timeout from now (at most 12
    /// hours from its receive), if the work's receipt is still the latest; then the
    /// next heartbeat.
    fn on_heartbeat(&mut self, g: usize, w: u32, token: u32) {
        let work = self.services[g].works[w as usize];
        if work.token != token || work.state == WorkState::Free {
            return;
        }
        let (Channel::Queue(q), Some((every, timeout))) = (
            self.model.services[g].source,
            self.model.services[g].receive.heartbeat,
        ) else {
            return;
        };
        let now = self.now;
        if let Lease::Sqs {
            slot,
            generation,
            receives,
        } = work.lease
            && let Some(m) = self.sqs.queues[q]
                .leased(slot, generation, receives)
                .copied()
            && m.state == QState::InFlight
        {
            let limit = m.received_at.saturating_add(MAX_VISIBILITY_NS);
            let deadline = now.saturating_add(timeout).min(limit);
            let qs = &mut self.sqs.queues[q];
            qs.slots[slot as usize].deadline = deadline;
            qs.visibility.push((deadline, slot, receives));
            self.sqs_arm_at(q, deadline);
        }
        self.queue.push(
            now.saturating_add(every),
            Ev::Sqs {
                timer: SqsTimer::Heartbeat,
                a: g as u32,
                b: w,
                stamp: token,
            },
        );
    }

    /// Queue `q`'s deadlines that are due: delayed messages become visible, expired
    /// visibility timeouts make messages visible again, retention deletes messages.
    fn on_queue_timer(&mut self, q: QueueIdx, stamp: u32) {
        if self.sqs.queues[q].timer_stamp != stamp {
            return;
        }
        self.sqs.queues[q].timer_at = u64::MAX;
        let now = self.now;
        let mut woke = false;
        while let Some((_, s, g)) = self.sqs.queues[q].delays.pop_due(now) {
            let qs = &mut self.sqs.queues[q];
            let m = &mut qs.slots[s as usize];
            if m.state != QState::Delayed || m.generation != g {
                continue;
            }
            m.state = QState::Visible;
            qs.n_delayed -= 1;
            self.sqs_make_visible(q, s);
            woke = true;
        }
        while let Some((at, s, r)) = self.sqs.queues[q].visibility.pop_due(now) {
            let qs = &mut self.sqs.queues[q];
            let m = &mut qs.slots[s as usize];
            if m.state != QState::InFlight || m.receives != r || m.deadline != at {
                continue;
            }
            m.state = QState::Visible;
            m.expired_at = Some(now);
            qs.n_in_flight -= 1;
            qs.q.redeliveries += 1;
            let msg = m.msg;
            if self.model.queues[q].fifo {
                qs.fifo.unflight(msg.key);
            }
            self.sqs_make_visible(q, s);
            self.tr_queue(TraceKind::VisibilityExpired, q, &msg, r);
            woke = true;
        }
        while let Some((_, s, g)) = self.sqs.queues[q].retention.pop_due(now) {
            if self.sqs.queues[q].holds(s, g) {
                self.sqs_expire(q, s);
            }
        }
        self.sqs_arm(q);
        if woke {
            self.sqs_serve_waiters(q);
        }
    }

    /// Slot `s` of queue `q` just turned visible (its state is set): it joins the
    /// visible list or its group's turn.
    fn sqs_make_visible(&mut self, q: QueueIdx, s: u32) {
        let qs = &mut self.sqs.queues[q];
        qs.n_visible += 1;
        if self.model.queues[q].fifo {
            let key = qs.slots[s as usize].msg.key;
            qs.fifo.refresh(key, &qs.slots);
        } else {
            let generation = qs.slots[s as usize].generation;
            qs.visible.push_back((s, generation));
        }
    }

    /// Retention deletes slot `s` of queue `q`. Its reader accounts for it as expired
    /// now, unless an instance holds it (received, in its inbox or being processed):
    /// then the outcome of that work decides.
    fn sqs_expire(&mut self, q: QueueIdx, s: u32) {
        let m = self.sqs.queues[q].slots[s as usize];
        let fifo = self.model.queues[q].fifo;
        let qs = &mut self.sqs.queues[q];
        qs.take_out(s, fifo);
        qs.c.expired += 1;
        self.tr_queue(TraceKind::Expire, q, &m.msg, NA32);
        let Some(g) = self.model.queues[q].reader else {
            return;
        };
        if m.msg.is_copy() || self.sqs_held(g, s, m.generation) {
            return;
        }
        if self.account(g, &m.msg) {
            self.services[g].c.expired += 1;
            let work = Work::detached(
                Lease::Sqs {
                    slot: s,
                    generation: m.generation,
                    receives: m.receives,
                },
                m.msg,
            );
            self.note(AnomalyKind::Expired, g, &work, 0, Cause::Retention);
        }
    }

    /// Whether an instance of service `g` holds the message in slot `s` of generation
    /// `generation`: in its inbox, or as a live work item.
    fn sqs_held(&self, g: usize, s: u32, generation: u32) -> bool {
        let same = |l: &Lease| matches!(*l, Lease::Sqs { slot, generation: lg, .. } if slot == s && lg == generation);
        self.sqs.readers[g]
            .iter()
            .any(|r| r.inbox.iter().any(|d| same(&d.lease)))
            || self.services[g]
                .works
                .iter()
                .any(|w| w.state != WorkState::Free && same(&w.lease))
    }

    /// ReceiveMessage by instance `i` of service `g`: up to `batch_size` messages into
    /// its inbox, counted as a receive or an empty receive. Returns how many.
    fn sqs_receive(&mut self, g: usize, i: usize) -> usize {
        let Channel::Queue(q) = self.model.services[g].source else {
            return 0;
        };
        let got = self.sqs_take_batch(g, i, q);
        let qs = &mut self.sqs.queues[q];
        if got > 0 {
            qs.q.receives += 1;
        } else {
            qs.q.empty_receives += 1;
        }
        got
    }

    /// The messages of one receive from queue `q` into instance `i`'s inbox. A message
    /// already received `max_receive_count` times moves to the dead-letter queue instead.
    fn sqs_take_batch(&mut self, g: usize, i: usize, q: QueueIdx) -> usize {
        let inst = &self.services[g].insts[i];
        if inst.cut > 0 || inst.gate {
            // The queue is down, or the network between it and this consumer, or its
            // circuit breaker is open.
            return 0;
        }
        let batch = self.model.services[g].receive.batch_size as usize;
        let (fifo, vt, redrive) = {
            let spec = &self.model.queues[q];
            (spec.fifo, spec.visibility_timeout, spec.redrive)
        };
        let now = self.now;
        let comp = self.plan.service_comp + g as u32;
        if fifo {
            self.sqs.queues[q].fifo.begin_batch();
        }
        let mut got = 0;
        while got < batch {
            let Some(s) = self.sqs_next_visible(q, fifo) else {
                break;
            };
            let m = self.sqs.queues[q].slots[s as usize];
            if let Some((dlq, max)) = redrive
                && m.receives >= max
            {
                self.sqs_move_to_dlq(q, s, dlq);
                continue;
            }
            let qs = &mut self.sqs.queues[q];
            let slot = &mut qs.slots[s as usize];
            slot.state = QState::InFlight;
            slot.receives += 1;
            slot.received_at = now;
            slot.deadline = now.saturating_add(vt);
            let (receives, generation, msg, expired_at) =
                (slot.receives, slot.generation, slot.msg, slot.expired_at);
            qs.n_visible -= 1;
            qs.n_in_flight += 1;
            qs.visibility.push((now.saturating_add(vt), s, receives));
            if fifo {
                qs.fifo.take(s, msg.key);
            }
            self.sqs.readers[g][i].inbox.push_back(Delivery {
                lease: Lease::Sqs {
                    slot: s,
                    generation,
                    receives,
                },
                msg,
                redelivery: expired_at.map(Cause::VisibilityExpired),
            });
            self.tracer.rec(
                now,
                TraceKind::Deliver,
                comp,
                i as u32,
                Some(&msg),
                NA32,
                NA64,
                receives,
            );
            got += 1;
        }
        if fifo {
            let qs = &mut self.sqs.queues[q];
            qs.fifo.end_batch(&qs.slots);
        }
        if got > 0 {
            self.sqs_arm_at(q, now.saturating_add(vt));
        }
        got
    }

    /// The next message a receive may take: the front of the visible list, or the next
    /// message of the group whose turn it is.
    fn sqs_next_visible(&mut self, q: QueueIdx, fifo: bool) -> Option<u32> {
        let qs = &mut self.sqs.queues[q];
        if fifo {
            return qs.fifo.next(&qs.slots);
        }
        while let Some((s, generation)) = qs.visible.pop_front() {
            let m = &qs.slots[s as usize];
            if m.state == QState::Visible && m.generation == generation {
                return Some(s);
            }
        }
        None
    }

    /// The redrive policy moves slot `s` of queue `q` to dead-letter queue `dlq`: the
    /// reader accounts for it as dead-lettered.
    fn sqs_move_to_dlq(&mut self, q: QueueIdx, s: u32, dlq: QueueIdx) {
        let m = self.sqs.queues[q].slots[s as usize];
        let fifo = self.model.queues[q].fifo;
        let qs = &mut self.sqs.queues[q];
        // It was visible and taken off the visible list (or its group's turn).
        qs.take_out(s, fifo);
        qs.q.moved_to_dlq += 1;
        let first = match self.model.queues[q].reader {
            Some(g) => {
                let first = self.account(g, &m.msg);
                if first {
                    self.services[g].c.dead_lettered += 1;
                }
                let work = Work::detached(
                    Lease::Sqs {
                        slot: s,
                        generation: m.generation,
                        receives: m.receives,
                    },
                    m.msg,
                );
                self.tr_work(TraceKind::DeadLetter, g, &work);
                first
            }
            None => !m.msg.is_copy(),
        };
        // SQS keeps the enqueue time when the dead-letter queue is standard and resets
        // it when it is FIFO.
        let sent_at = if self.model.queues[dlq].fifo {
            self.now
        } else {
            m.sent_at
        };
        let moved = Message {
            flags: m.msg.written_flags(first),
            ..m.msg
        };
        self.sqs_enqueue(dlq, moved, 0, sent_at, false, q as u32);
    }

    /// Whether queue `q` has visible messages.
    pub(crate) fn sqs_has_visible(&self, q: QueueIdx) -> bool {
        if self.is_rabbit(q) {
            return self.rabbit_gauges(q).0 > 0;
        }
        self.sqs.queues[q].n_visible > 0
    }

    /// A redrive step: moves up to `limit` visible messages of dead-letter queue `from`,
    /// oldest first (a FIFO queue: group by group, in the order their turn came), to
    /// `to` or each one's source queue. Each arrives as a new message (receive count 0,
    /// retention counted from now); the dead-letter queue's own reader, if any, accounts
    /// for it as dead-lettered. A message with no source queue and no `to` stops the
    /// task. Returns how many moved.
    pub(crate) fn sqs_redrive(
        &mut self,
        from: QueueIdx,
        to: Option<QueueIdx>,
        limit: usize,
    ) -> usize {
        let fifo = self.model.queues[from].fifo;
        if fifo {
            self.sqs.queues[from].fifo.begin_batch();
        }
        let mut moved = 0;
        while moved < limit {
            let Some(s) = self.sqs_next_visible(from, fifo) else {
                break;
            };
            let m = self.sqs.queues[from].slots[s as usize];
            let dest = to.or((m.origin != NO_ORIGIN).then_some(m.origin as usize));
            let Some(dest) = dest else {
                if !fifo {
                    // Back where it was, at the front.
                    let qs = &mut self.sqs.queues[from];
                    qs.visible.push_front((s, m.generation));
                }
                break;
            };
            let qs = &mut self.sqs.queues[from];
            qs.take_out(s, fifo);
            qs.q.redriven += 1;
            self.tr_queue(TraceKind::Redrive, from, &m.msg, m.receives);
            let first = match self.model.queues[from].reader {
                Some(g) => {
                    let first = self.account(g, &m.msg);
                    if first {
                        self.services[g].c.dead_lettered += 1;
                    }
                    first
                }
                None => !m.msg.is_copy(),
            };
            let back = Message {
                flags: m.msg.written_flags(first),
                ..m.msg
            };
            self.sqs_enqueue(dest, back, 0, self.now, false, NO_ORIGIN);
            moved += 1;
        }
        if fifo {
            let qs = &mut self.sqs.queues[from];
            qs.fifo.end_batch(&qs.slots);
        }
        moved
    }

    /// DeleteMessage with the lease of a work item of service `g`. It deletes only with
    /// the message's latest receipt: after the visibility timeout expired and another
    /// receive happened, the old receipt deletes nothing.
    pub(crate) fn sqs_delete(&mut self, g: usize, slot: u32, generation: u32, receives: u32) {
        let Channel::Queue(q) = self.model.services[g].source else {
            return;
        };
        if self.sqs.queues[q]
            .leased(slot, generation, receives)
            .is_none()
        {
            return;
        }
        let fifo = self.model.queues[q].fifo;
        self.sqs.queues[q].take_out(slot, fifo);
        if fifo {
            self.sqs_serve_waiters(q);
        }
    }

    /// What becomes of the message behind an SQS lease that service `g` dropped: the
    /// queue delivers it again after its visibility timeout, unless retention deleted it.
    pub(crate) fn sqs_fate(&self, g: usize, slot: u32, generation: u32) -> Fate {
        let Channel::Queue(q) = self.model.services[g].source else {
            return Fate::Deleted;
        };
        if self.sqs.queues[q].holds(slot, generation) {
            Fate::Redelivered
        } else {
            Fate::Deleted
        }
    }

    /// FIFO: the work item on `key` of instance `i` of service `g` is over.
    pub(crate) fn sqs_release_key(&mut self, g: usize, i: u32, key: KeyId) {
        let Some(r) = self.sqs.readers[g].get_mut(i as usize) else {
            return;
        };
        if let Some(pos) = r.busy_keys.iter().position(|&k| k == key) {
            r.busy_keys.swap_remove(pos);
        }
    }

    /// FIFO: the last attempt on `key` failed and the message stays in the queue; the
    /// instance drops the group's later messages from its inbox (they come back after
    /// their visibility timeout, behind it), so that the group keeps its order.
    pub(crate) fn sqs_drop_group(&mut self, g: usize, i: u32, key: KeyId) {
        let Some(r) = self.sqs.readers[g].get_mut(i as usize) else {
            return;
        };
        let mut dropped = Vec::new();
        r.inbox.retain(|d| {
            let keep = d.msg.key != key;
            if !keep {
                dropped.push(*d);
            }
            keep
        });
        for d in dropped {
            self.sqs_discard(g, i, &d);
        }
    }

    /// An instance drops a received message it never started. The queue delivers it
    /// again after its visibility timeout; if retention deleted it meanwhile, it is
    /// expired now (the expiry left it to this instance).
    fn sqs_discard(&mut self, g: usize, i: u32, d: &Delivery) {
        let Lease::Sqs {
            slot, generation, ..
        } = d.lease
        else {
            return;
        };
        if self.sqs_fate(g, slot, generation) == Fate::Deleted
            && !self.sqs_held(g, slot, generation)
            && self.account(g, &d.msg)
        {
            self.services[g].c.expired += 1;
            let mut work = Work::detached(d.lease, d.msg);
            work.instance = i;
            self.note(AnomalyKind::Expired, g, &work, 0, Cause::Retention);
        }
    }

    /// The next received message instance `i` of service `g` may start, receiving
    /// (or starting a poll) when its inbox is empty. FIFO: not one whose group already
    /// has a work item in this instance or an earlier message in the inbox.
    pub(crate) fn sqs_fetch(&mut self, g: usize, i: usize) -> Option<Delivery> {
        let Channel::Queue(q) = self.model.services[g].source else {
            return None;
        };
        let fifo = self.model.queues[q].fifo;
        if self.sqs.readers[g][i].inbox.is_empty() {
            if self.sqs.readers[g][i].poll != Poll::Idle {
                return None;
            }
            if let Some(f) = self.model.services[g].function {
                // The invocation is over: its receipts are deleted (all of them, or only
                // the successes' with a partial batch response, unless a record failed).
                self.sqs_end_invocation(g, i, f.partial_batch);
                if f.batching_window > 0 && self.sqs_gather(g, i, q, f.batching_window) {
                    return None;
                }
            }
            let wait = self.model.services[g].receive.wait_time;
            let got = if wait > 0 {
                // A long poll is counted when it answers (serve_waiters) or times out.
                let got = self.sqs_take_batch(g, i, q);
                if got > 0 {
                    self.sqs.queues[q].q.receives += 1;
                }
                got
            } else {
                self.sqs_receive(g, i)
            };
            if got == 0 {
                self.sqs_wait(g, i, q, wait);
                return None;
            }
        }
        let r = &mut self.sqs.readers[g][i];
        let pos = if fifo {
            let inbox = &r.inbox;
            (0..inbox.len()).find(|&j| {
                let key = inbox[j].msg.key;
                !r.busy_keys.contains(&key) && !inbox.iter().take(j).any(|d| d.msg.key == key)
            })?
        } else {
            0
        };
        let d = r.inbox.remove(pos)?;
        if fifo {
            r.busy_keys.push(d.msg.key);
        }
        Some(d)
    }

    /// A function's invocation on instance `i` ends: the records it processed are
    /// deleted, unless one failed and the function reports no partial batch response,
    /// in which case the whole batch returns after its visibility timeout.
    fn sqs_end_invocation(&mut self, g: usize, i: usize, partial: bool) {
        let r = &mut self.sqs.readers[g][i];
        if r.held.is_empty() && !r.batch_failed {
            return;
        }
        let mut held = std::mem::take(&mut r.held);
        let failed = std::mem::replace(&mut r.batch_failed, false);
        if !failed || partial {
            for &(slot, generation, receives) in &held {
                self.sqs_delete(g, slot, generation, receives);
            }
        }
        // The buffer serves the next invocation.
        held.clear();
        self.sqs.readers[g][i].held = held;
    }

    /// A function's record succeeded: its receipt waits for the end of the invocation.
    pub(crate) fn sqs_hold_delete(
        &mut self,
        g: usize,
        i: u32,
        slot: u32,
        generation: u32,
        receives: u32,
    ) {
        if let Some(r) = self.sqs.readers[g].get_mut(i as usize) {
            r.held.push((slot, generation, receives));
        }
    }

    /// A function's record failed for good: without a partial batch response the
    /// invocation ends with an error, and the records it has not started return to the
    /// queue with the rest of the batch.
    pub(crate) fn sqs_batch_failed(&mut self, g: usize, i: u32) {
        let partial = self.model.services[g]
            .function
            .is_some_and(|f| f.partial_batch);
        let Some(r) = self.sqs.readers[g].get_mut(i as usize) else {
            return;
        };
        r.batch_failed = true;
        if !partial {
            self.sqs_drop_inbox(g, i as usize);
        }
    }

    /// Instance `i` drops every received message it has not started (they come back
    /// after their visibility timeout).
    fn sqs_drop_inbox(&mut self, g: usize, i: usize) {
        let r = &mut self.sqs.readers[g][i];
        let dropped: Vec<Delivery> = r.inbox.drain(..).collect();
        r.busy_keys.clear();
        for d in dropped {
            self.sqs_discard(g, i as u32, &d);
        }
    }

    /// A function's poller with a batching window: with fewer than a batch visible it
    /// waits until the window ends before it receives. True while it waits.
    fn sqs_gather(&mut self, g: usize, i: usize, q: QueueIdx, window: u64) -> bool {
        let batch = u64::from(self.model.services[g].receive.batch_size);
        let now = self.now;
        let r = &mut self.sqs.readers[g][i];
        if r.window_until != 0 && now >= r.window_until {
            r.window_until = 0;
            return false;
        }
        if self.sqs.queues[q].n_visible >= batch || self.sqs.queues[q].n_visible == 0 {
            // A full batch now, or nothing to gather yet (the long poll waits for it).
            r.window_until = 0;
            return false;
        }
        if r.window_until == 0 {
            r.window_until = now.saturating_add(window);
        }
        let at = r.window_until;
        r.poll = Poll::Sleeping;
        r.stamp = r.stamp.wrapping_add(1);
        r.wake_at = at;
        if r.timer_at > at {
            self.poll_timer(g, i, at);
        }
        true
    }

    /// An empty receive: a long poll waits for a message, a short poll sleeps.
    fn sqs_wait(&mut self, g: usize, i: usize, q: QueueIdx, wait: u64) {
        let r = &mut self.sqs.readers[g][i];
        r.stamp = r.stamp.wrapping_add(1);
        let stamp = r.stamp;
        let at = if wait > 0 {
            r.poll = Poll::Waiting;
            self.sqs.queues[q].waiters.push_back((i as u32, stamp));
            self.now.saturating_add(wait)
        } else {
            r.poll = Poll::Sleeping;
            self.now
                .saturating_add(self.model.services[g].receive.poll_interval)
        };
        r.wake_at = at;
        if r.timer_at > at {
            self.poll_timer(g, i, at);
        }
    }

    /// Arms instance `i`'s poll timer at `at` (nothing past the end of the run).
    fn poll_timer(&mut self, g: usize, i: usize, at: u64) {
        if at >= self.model.duration.0 {
            return;
        }
        self.sqs.readers[g][i].timer_at = at;
        self.queue.push(
            at,
            Ev::Sqs {
                timer: SqsTimer::Poll,
                a: g as u32,
                b: i as u32,
                stamp: 0,
            },
        );
    }

    /// A long poll timed out (an empty receive) or a short poll's pause is over: the
    /// instance receives again when it has room.
    fn on_poll_timer(&mut self, g: usize, i: usize) {
        let Channel::Queue(q) = self.model.services[g].source else {
            return;
        };
        let now = self.now;
        let r = &mut self.sqs.readers[g][i];
        if r.timer_at != now {
            return;
        }
        r.timer_at = u64::MAX;
        if r.poll == Poll::Idle {
            return;
        }
        if r.wake_at > now {
            // A later wait than the one this timer was set for.
            let at = r.wake_at;
            self.poll_timer(g, i, at);
            return;
        }
        if r.poll == Poll::Waiting {
            self.sqs.queues[q].q.empty_receives += 1;
        }
        r.poll = Poll::Idle;
        r.stamp = r.stamp.wrapping_add(1);
        self.try_dispatch(g, i);
    }

    /// Messages became visible in queue `q`: long-polling instances receive them, in
    /// the order they started waiting.
    pub(crate) fn sqs_serve_waiters(&mut self, q: QueueIdx) {
        if self.is_rabbit(q) {
            return self.rabbit_push(q);
        }
        let Some(g) = self.model.queues[q].reader else {
            return;
        };
        while let Some(&(i, stamp)) = self.sqs.queues[q].waiters.front() {
            let r = &self.sqs.readers[g][i as usize];
            if r.stamp != stamp || r.poll != Poll::Waiting {
                self.sqs.queues[q].waiters.pop_front();
                continue;
            }
            if self.sqs.queues[q].n_visible == 0 {
                return;
            }
            // A function's poller with a batching window gathers a batch first.
            if let Some(f) = self.model.services[g].function
                && f.batching_window > 0
                && self.sqs_gather(g, i as usize, q, f.batching_window)
            {
                self.sqs.queues[q].waiters.pop_front();
                continue;
            }
            // The waiting receive answers now. Visible messages that a FIFO queue cannot
            // hand out yet (their groups are in flight) leave it waiting.
            if self.sqs_take_batch(g, i as usize, q) == 0 {
                return;
            }
            self.sqs.queues[q].waiters.pop_front();
            self.sqs.queues[q].q.receives += 1;
            let r = &mut self.sqs.readers[g][i as usize];
            r.poll = Poll::Idle;
            r.stamp = r.stamp.wrapping_add(1);
            self.try_dispatch(g, i as usize);
        }
    }

    /// Instance `i` of service `g` crashed: its inbox is gone (those messages come back
    /// after their visibility timeout) and its poll is cancelled.
    pub(crate) fn sqs_member_down(&mut self, g: usize, i: usize) {
        let Some(r) = self.sqs.readers[g].get_mut(i) else {
            return;
        };
        r.poll = Poll::Idle;
        r.stamp = r.stamp.wrapping_add(1);
        self.sqs_drop_inbox(g, i);
    }

    /// Unaccounted originals queue-reading service `g` has yet to see an outcome for:
    /// in its queue, or deleted by retention while an instance held them.
    pub(crate) fn sqs_held_unaccounted(&self, g: usize) -> u64 {
        let Channel::Queue(q) = self.model.services[g].source else {
            return 0;
        };
        if self.is_rabbit(q) {
            return self.rabbit_held_unaccounted(g, q);
        }
        let ledger = &self.services[g].ledger;
        let open = |m: &Message| !m.is_copy() && !ledger.is_settled(m.entry);
        let qs = &self.sqs.queues[q];
        let in_queue = qs
            .slots
            .iter()
            .filter(|m| m.state != QState::Free && open(&m.msg))
            .count() as u64;
        let held = |l: &Lease| match *l {
            Lease::Sqs {
                slot, generation, ..
            } => !qs.holds(slot, generation),
            Lease::Kafka { .. } | Lease::Async | Lease::Rabbit { .. } => false,
        };
        let mut deleted: Vec<u64> = self.services[g]
            .works
            .iter()
            .filter(|w| w.state != WorkState::Free && open(&w.msg) && held(&w.lease))
            .map(|w| w.msg.entry)
            .chain(
                self.sqs.readers[g]
                    .iter()
                    .flat_map(|r| r.inbox.iter())
                    .filter(|d| open(&d.msg) && held(&d.lease))
                    .map(|d| d.msg.entry),
            )
            .collect();
        deleted.sort_unstable();
        deleted.dedup();
        in_queue + deleted.len() as u64
    }

    /// Queue `q`'s depth (visible, in flight, delayed) and the age of its oldest message.
    pub(crate) fn queue_gauges(&self, q: QueueIdx) -> (u64, u64, u64, u64) {
        if self.is_rabbit(q) {
            // Ready, unacknowledged; nothing is delayed.
            let (ready, unacked, oldest) = self.rabbit_gauges(q);
            return (ready, unacked, 0, oldest);
        }
        let qs = &self.sqs.queues[q];
        // The oldest message is the one whose retention ends first.
        let retention = self.model.queues[q].retention;
        let oldest = qs
            .retention
            .first_live(|&(_, s, g)| {
                let m = &qs.slots[s as usize];
                m.state != QState::Free && m.generation == g
            })
            .map_or(0, |end| {
                self.now.saturating_sub(end.saturating_sub(retention))
            });
        (qs.n_visible, qs.n_in_flight, qs.n_delayed, oldest)
    }

    /// Messages in queue `q` in any state.
    pub(crate) fn queue_depth(&self, q: QueueIdx) -> u64 {
        if self.is_rabbit(q) {
            let (ready, unacked, _) = self.rabbit_gauges(q);
            return ready + unacked;
        }
        let qs = &self.sqs.queues[q];
        qs.n_visible + qs.n_in_flight + qs.n_delayed
    }
}

/// The longest a message can stay invisible after one receive (SQS: 12 hours).
pub(crate) const MAX_VISIBILITY_NS: u64 = 12 * 3_600 * 1_000_000_000;
