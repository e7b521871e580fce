//! RabbitMQ-like queues in the engine: [`super::queue::RabbitQueue`] holds the
//! bookkeeping, this module drives it as rabbitmq-server's queue process does.
//!
//! - **Push, prefetch.** A queue pushes its head to the next consumer (an instance of
//!   the reading service) with room, round robin, as `rabbit_queue_consumers` does: an
//!   instance has room while it holds fewer unacknowledged messages than its
//!   `prefetch` (`basic.qos`; 0 is unlimited, RabbitMQ's default, which spreads
//!   messages round robin however busy each consumer is). Pushed messages wait in the
//!   instance for a free slot.
//! - **Ack, nack, reject.** A processed message is acknowledged (it leaves the queue).
//!   After the last failed attempt a consumer without a `dead_letter` of its own sends
//!   its `negative_ack`: `reject` (to the dead-letter exchange, or discarded),
//!   `reject-requeue` or `nack-requeue` (back in the queue with the redelivered flag;
//!   only a reject counts toward a quorum queue's delivery limit).
//! - **Consumers that go away.** A crashed instance's channel closes: every message it
//!   held returns to the queue, in delivery order, redelivered (not a failed delivery).
//! - **Dead-lettering.** A message rejected, expired (`message_ttl`), dropped by a
//!   length limit or over the delivery limit is published to the queue's
//!   `dead_letter_exchange` with its own routing key (or `dead_letter_routing_key`):
//!   a producer's message keeps its routing key and headers; one sent to the queue
//!   directly has the queue's name as its key (the default exchange's). A message that
//!   would reach a queue it was dead-lettered from, through a cycle with no rejection
//!   in it, is dropped, as `rabbit_dead_letter` drops it.
//! - **Publisher confirms.** A publish a full queue refuses is nacked to a producer
//!   with `confirms`, and lost without a word otherwise.

use std::collections::VecDeque;

use super::queue::{Entry, Published, RabbitQueue, Reason, Tag};
use crate::broker::Lease;
use crate::broker::pubsub::Origin;
use crate::metrics::{AnomalyKind, Cause, Counters};
use crate::model::{Channel, Model, NegativeAck, QueueIdx};
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::queue::Ev;
use crate::sim::service::{Delivery, Work};
use crate::sim::trace::{NA32, NA64, TraceKind};

/// No exchange: the message was sent to its queue directly.
pub(crate) const NO_EXCHANGE: u32 = u32::MAX;

/// A message in a RabbitMQ-like queue, with what dead-lettering needs to publish it
/// again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub msg: Message,
    /// A producer's message: the producer and its number for the message (its routing
    /// key and headers derive from them).
    pub origin: Origin,
    /// The exchange it was published to, or [`NO_EXCHANGE`].
    pub via: u32,
    /// The queues it was dead-lettered from, a bit per queue (queue index mod 64).
    pub died: u64,
    /// Whether one of those dead-letterings was a rejection (a cycle with one is
    /// allowed).
    pub rejected: bool,
}

impl Item {
    /// A message sent to a queue directly.
    pub fn direct(msg: Message, origin: Origin) -> Item {
        Item {
            msg,
            origin,
            via: NO_EXCHANGE,
            died: 0,
            rejected: false,
        }
    }
}

/// The bit of queue `q` in [`Item::died`].
#[inline]
fn died_bit(q: QueueIdx) -> u64 {
    1 << (q % 64)
}

/// Counters of one RabbitMQ-like queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RabbitQueueCounters {
    /// Messages pushed to consumers.
    pub delivered: u64,
    /// Among them, with the redelivered flag.
    pub redelivered: u64,
    /// Acknowledged.
    pub acked: u64,
    /// Put back: a nack or reject with requeue, or a consumer that went away.
    pub requeued: u64,
    /// Rejected without requeue.
    pub rejected: u64,
    /// Pushed out by a drop-head length limit.
    pub dropped_overflow: u64,
    /// Publishes refused by reject-publish or reject-publish-dlx.
    pub rejected_publish: u64,
    /// Messages whose TTL passed.
    pub expired_ttl: u64,
    /// Messages over the delivery limit.
    pub delivery_limit: u64,
    /// Published to the dead-letter exchange, whatever the reason.
    pub dead_lettered: u64,
    /// Given up without a dead-letter exchange, or dropped by a dead-letter cycle.
    pub discarded: u64,
}

/// One RabbitMQ-like queue's state.
#[derive(Clone, Debug)]
pub(crate) struct RabbitQueueState {
    pub q: RabbitQueue<Item>,
    /// `produced` numbers originals (a message's ledger entry), `copies` the rest.
    pub c: Counters,
    pub r: RabbitQueueCounters,
    /// Round robin: the instance to try first for the next push.
    next: u32,
    /// The pending TTL timer (`u64::MAX`: none) and its stamp.
    timer_at: u64,
    timer_stamp: u32,
    /// A push is under way: a fetch from one of its consumers does not start another
    /// (a dead letter it makes may still push from another queue).
    pushing: bool,
}

/// One instance of a service reading a RabbitMQ-like queue: a consumer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Consumer {
    /// Pushed messages waiting for a free slot.
    pub inbox: VecDeque<Delivery>,
    /// Messages it holds unacknowledged (in the inbox or being worked on).
    pub unacked: u32,
    /// Tags (and generations) of work dropped by a crash, returned when its channel
    /// closes.
    returns: Vec<(Tag, u32)>,
    /// Acknowledgements made while cut off from the queue, in order: tag, generation,
    /// and [`LATE_ACK`] or a negative acknowledgement's attempts.
    late: Vec<(Tag, u32, u32)>,
    /// Bumped when the instance is cut off, heals or its channel closes: a heartbeat
    /// timeout of another stamp is moot.
    stamp: u32,
}

/// A late operation that is an acknowledgement (others are negative ones, by their
/// attempts).
const LATE_ACK: u32 = u32::MAX;

/// RabbitMQ's default heartbeat timeout (60 s): a connection silent that long is
/// closed, and its channels' unacknowledged messages return to their queues.
pub(crate) const HEARTBEAT_TIMEOUT: u64 = 60_000_000_000;

/// Every RabbitMQ-like queue (`None` for SQS-like ones) and their consumers.
#[derive(Clone, Debug, Default)]
pub(crate) struct RabbitQueues {
    pub queues: Vec<Option<RabbitQueueState>>,
    /// Per service: its consumers (empty unless it reads a RabbitMQ-like queue).
    pub consumers: Vec<Vec<Consumer>>,
    /// Entries a queue gave up on, to dead-letter (scratch).
    gone: Vec<Entry<Item>>,
}

impl RabbitQueues {
    /// Empty queues and consumers for `model`.
    pub fn new(model: &Model) -> RabbitQueues {
        RabbitQueues {
            queues: model
                .queues
                .iter()
                .map(|q| {
                    q.rabbit.as_ref().map(|r| RabbitQueueState {
                        q: RabbitQueue::new(r.config),
                        c: Counters::default(),
                        r: RabbitQueueCounters::default(),
                        next: 0,
                        timer_at: u64::MAX,
                        timer_stamp: 0,
                        pushing: false,
                    })
                })
                .collect(),
            consumers: model
                .services
                .iter()
                .map(|s| match s.source {
                    Channel::Queue(q) if model.queues[q].rabbit.is_some() => {
                        vec![Consumer::default(); s.instances as usize]
                    }
                    _ => Vec::new(),
                })
                .collect(),
            gone: Vec::new(),
        }
    }
}

impl Engine {
    /// Whether queue `q` is RabbitMQ-like.
    #[inline]
    pub(crate) fn is_rabbit(&self, q: QueueIdx) -> bool {
        self.model.queues[q].rabbit.is_some()
    }

    /// Sends `msg` to queue `q` directly (a producer's message, with its `origin`).
    #[inline(never)]
    pub(crate) fn queue_send(&mut self, q: QueueIdx, msg: Message, delay: u64, origin: Origin) {
        if self.is_rabbit(q) {
            self.rabbit_publish(q, Item::direct(msg, origin));
        } else {
            self.sqs_send(q, msg, delay);
        }
    }

    fn tr_rabbit(&mut self, kind: TraceKind, q: QueueIdx, msg: &Message) {
        let comp = self.plan.queue_comp + q as u32;
        self.tracer
            .rec(self.now, kind, comp, NA32, Some(msg), NA32, NA64, NA32);
    }

    /// Queue `q` takes `item`: enqueued (an original is numbered and enters its
    /// reader's ledger), or refused by a full queue's reject-publish.
    #[inline(never)]
    pub(crate) fn rabbit_publish(&mut self, q: QueueIdx, item: Item) {
        let now = self.now;
        let mut gone = std::mem::take(&mut self.rabbit.rq.gone);
        let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
            return;
        };
        let original = !item.msg.is_copy();
        let mut item = item;
        if original {
            item.msg.entry = st.c.produced;
        }
        match st.q.publish(item, now, None, &mut gone) {
            Published::Enqueued => {
                if original {
                    st.c.produced += 1;
                } else {
                    st.c.copies += 1;
                }
                self.tr_rabbit(TraceKind::Append, q, &item.msg);
                if original && let Some(g) = self.model.queues[q].reader {
                    self.services[g].ledger.enter(item.msg.entry, now);
                }
            }
            refused => {
                st.r.rejected_publish += 1;
                self.tr_rabbit(TraceKind::Drop, q, &item.msg);
                if let Some((p, _)) = item.origin
                    && let Some(ps) = self.producers.get_mut(p as usize)
                {
                    if self.model.producers[p as usize].confirms {
                        ps.c.nacked += 1;
                    } else {
                        ps.c.lost_unconfirmed += 1;
                    }
                }
                if refused == Published::RejectedDeadLettered {
                    let e = Entry {
                        item,
                        seq: 0,
                        expires_at: u64::MAX,
                        redelivered: false,
                        failed: 0,
                    };
                    self.rabbit_dead_letter(q, e, Reason::Maxlen, false, 0);
                }
            }
        }
        self.rabbit_give_back(q, gone, Reason::Maxlen);
        self.rabbit_arm(q);
        self.rabbit_push(q);
    }

    /// Queue `q` pushes ready messages to consumers with room, round robin, until it
    /// has none or they have no room.
    #[inline(never)]
    pub(crate) fn rabbit_push(&mut self, q: QueueIdx) {
        let Some(g) = self.model.queues[q].reader else {
            return;
        };
        match self.rabbit.rq.queues[q].as_mut() {
            Some(st) if !st.pushing => st.pushing = true,
            _ => return,
        }
        let prefetch = self.model.services[g].rabbit.prefetch;
        let n = self.services[g].insts.len();
        let now = self.now;
        let comp = self.plan.service_comp + g as u32;
        while let Some(st) = self.rabbit.rq.queues[q].as_ref() {
            if st.q.ready_len() == 0 {
                break;
            }
            let start = st.next as usize % n.max(1);
            let consumers = &self.rabbit.rq.consumers[g];
            let insts = &self.services[g].insts;
            let Some(i) = (0..n).map(|k| (start + k) % n).find(|&i| {
                let inst = &insts[i];
                inst.alive
                    && inst.cut == 0
                    && !inst.gate
                    && (prefetch == 0 || consumers[i].unacked < prefetch)
            }) else {
                break;
            };
            let mut gone = std::mem::take(&mut self.rabbit.rq.gone);
            let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
                break;
            };
            let got = st.q.take(now, &mut gone);
            self.rabbit_give_back(q, gone, Reason::Expired);
            let Some((tag, e)) = got else {
                break;
            };
            let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
                break;
            };
            let gen_of_tag = st.q.generation(tag);
            st.next = (i + 1) as u32;
            st.r.delivered += 1;
            if e.redelivered {
                st.r.redelivered += 1;
            }
            let c = &mut self.rabbit.rq.consumers[g][i];
            c.unacked += 1;
            c.inbox.push_back(Delivery {
                lease: Lease::Rabbit {
                    tag,
                    generation: gen_of_tag,
                },
                msg: e.item.msg,
                redelivery: e.redelivered.then_some(Cause::Requeued),
            });
            self.tracer.rec(
                now,
                TraceKind::Deliver,
                comp,
                i as u32,
                Some(&e.item.msg),
                NA32,
                NA64,
                NA32,
            );
            self.try_dispatch(g, i);
        }
        if let Some(st) = self.rabbit.rq.queues[q].as_mut() {
            st.pushing = false;
        }
        self.rabbit_arm(q);
    }

    /// The next pushed message instance `i` of service `g` may start (after asking its
    /// queue to push, when it holds none).
    #[inline(never)]
    pub(crate) fn rabbit_fetch(&mut self, g: usize, i: usize) -> Option<Delivery> {
        if let Some(d) = self.rabbit.rq.consumers[g][i].inbox.pop_front() {
            return Some(d);
        }
        let Channel::Queue(q) = self.model.services[g].source else {
            return None;
        };
        self.rabbit_push(q);
        self.rabbit.rq.consumers[g][i].inbox.pop_front()
    }

    /// `basic.ack` for a work item of service `g`: the message leaves, the consumer
    /// has room again. An acknowledgement from a consumer cut off from the queue waits
    /// for the network to heal; one for a delivery whose channel has closed since (a
    /// stale tag) is ignored.
    #[inline(never)]
    pub(crate) fn rabbit_ack(&mut self, g: usize, instance: u32, tag: Tag, generation: u32) {
        let Channel::Queue(q) = self.model.services[g].source else {
            return;
        };
        if !self.rabbit_holds(q, tag, generation) {
            return;
        }
        if self.rabbit_late(g, instance, tag, generation, LATE_ACK) {
            return;
        }
        self.rabbit_apply_ack(g, q, instance, tag);
    }

    fn rabbit_holds(&self, q: QueueIdx, tag: Tag, generation: u32) -> bool {
        self.rabbit.rq.queues[q]
            .as_ref()
            .is_some_and(|st| st.q.holds(tag, generation))
    }

    /// Keeps an acknowledgement (`op`: [`LATE_ACK`] or a negative one's attempts) of
    /// instance `i` while it is cut off from its queue. True if kept.
    fn rabbit_late(&mut self, g: usize, i: u32, tag: Tag, generation: u32, op: u32) -> bool {
        if self.services[g].insts[i as usize].cut == 0 {
            return false;
        }
        if let Some(c) = self.rabbit.rq.consumers[g].get_mut(i as usize) {
            c.late.push((tag, generation, op));
        }
        true
    }

    fn rabbit_apply_ack(&mut self, g: usize, q: QueueIdx, instance: u32, tag: Tag) {
        let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
            return;
        };
        if st.q.ack(tag).is_some() {
            st.r.acked += 1;
            if let Some(c) = self.rabbit.rq.consumers[g].get_mut(instance as usize) {
                c.unacked = c.unacked.saturating_sub(1);
            }
        }
        self.rabbit_push(q);
    }

    /// A work item of service `g` was dropped by its instance's crash: its message
    /// returns when the instance's channel closes ([`Engine::rabbit_member_down`]).
    #[inline(never)]
    pub(crate) fn rabbit_release(&mut self, g: usize, instance: u32, tag: Tag, generation: u32) {
        if let Some(c) = self.rabbit.rq.consumers[g].get_mut(instance as usize) {
            c.returns.push((tag, generation));
        }
    }

    /// Instance `i` of service `g` crashed: its channel closes and every message it
    /// held returns to the queue (in delivery order), redelivered.
    #[inline(never)]
    pub(crate) fn rabbit_member_down(&mut self, g: usize, i: usize) {
        self.rabbit_close_channel(g, i, false);
    }

    /// Instance `i`'s channel closes: every message it holds (pushed, being processed
    /// when `running`, acknowledged while cut off, or dropped by a crash) returns to
    /// the queue in delivery order, redelivered, not as a failed delivery (RabbitMQ
    /// 4.3). Work still running keeps going, and its acknowledgement will find a stale
    /// tag.
    fn rabbit_close_channel(&mut self, g: usize, i: usize, running: bool) {
        let Channel::Queue(q) = self.model.services[g].source else {
            return;
        };
        let c = &mut self.rabbit.rq.consumers[g][i];
        c.stamp = c.stamp.wrapping_add(1);
        let mut tags = std::mem::take(&mut c.returns);
        tags.extend(c.inbox.drain(..).filter_map(|d| match d.lease {
            Lease::Rabbit { tag, generation } => Some((tag, generation)),
            _ => None,
        }));
        tags.extend(c.late.drain(..).map(|(t, g2, _)| (t, g2)));
        c.unacked = 0;
        if running {
            tags.extend(self.services[g].works.iter().filter_map(|w| {
                match (
                    w.state != crate::sim::service::WorkState::Free,
                    w.instance == i as u32,
                    w.lease,
                ) {
                    (true, true, Lease::Rabbit { tag, generation }) => Some((tag, generation)),
                    _ => None,
                }
            }));
        }
        let mut gone = std::mem::take(&mut self.rabbit.rq.gone);
        let mut over = Vec::new();
        if let Some(st) = self.rabbit.rq.queues[q].as_mut() {
            tags.retain(|&(t, g2)| st.q.holds(t, g2));
            tags.sort_by_key(|&(t, _)| st.q.unacked(t).map_or(u64::MAX, |e| e.seq));
            tags.dedup();
            for &(t, _) in &tags {
                st.r.requeued += 1;
                // Not a failed delivery: never newly over the limit.
                if let Some(e) = st.q.requeue(t, false, &mut gone) {
                    st.r.delivery_limit += 1;
                    over.push(e);
                }
            }
        }
        for e in over {
            self.rabbit_dead_letter(q, e, Reason::DeliveryLimit, true, 0);
        }
        self.rabbit_give_back(q, gone, Reason::Maxlen);
        tags.clear();
        self.rabbit.rq.consumers[g][i].returns = tags;
        self.rabbit_arm(q);
        self.rabbit_push(q);
    }

    /// A fault cuts instance `i` of service `g` off from its queue (`start`), or the
    /// network heals. Cut off, it gets no pushes and its acknowledgements wait; if the
    /// cut lasts the heartbeat timeout, the broker closes its connection and its
    /// messages return to the queue. Healed in time, the waiting acknowledgements
    /// arrive.
    pub(crate) fn rabbit_cut(&mut self, g: usize, i: usize, start: bool) {
        let Some(c) = self.rabbit.rq.consumers[g].get_mut(i) else {
            return;
        };
        c.stamp = c.stamp.wrapping_add(1);
        let stamp = c.stamp;
        if start {
            let at = self.now.saturating_add(HEARTBEAT_TIMEOUT);
            if at < self.model.duration.0 {
                self.queue.push(
                    at,
                    Ev::RabbitHeartbeat {
                        service: g as u32,
                        instance: i as u32,
                        stamp,
                    },
                );
            }
            return;
        }
        let late = std::mem::take(&mut c.late);
        let Channel::Queue(q) = self.model.services[g].source else {
            return;
        };
        for &(tag, generation, op) in &late {
            if !self.rabbit_holds(q, tag, generation) {
                continue;
            }
            if op == LATE_ACK {
                self.rabbit_apply_ack(g, q, i as u32, tag);
            } else {
                self.rabbit_apply_nack(g, q, i as u32, tag, op);
            }
        }
    }

    /// The heartbeat timeout of instance `i`'s connection, cut off since: the broker
    /// closes it.
    pub(crate) fn on_rabbit_heartbeat(&mut self, g: usize, i: usize, stamp: u32) {
        let live = self.rabbit.rq.consumers[g]
            .get(i)
            .is_some_and(|c| c.stamp == stamp);
        if live && self.services[g].insts[i].cut > 0 {
            self.rabbit_close_channel(g, i, true);
        }
    }

    /// The last attempt on `work` failed and service `g` has no dead letter of its
    /// own: it sends its negative acknowledgement.
    #[inline(never)]
    pub(crate) fn rabbit_give_up(&mut self, g: usize, work: &Work) {
        let (Channel::Queue(q), Lease::Rabbit { tag, generation }) =
            (self.model.services[g].source, work.lease)
        else {
            return;
        };
        if !self.rabbit_holds(q, tag, generation) {
            return;
        }
        if self.rabbit_late(g, work.instance, tag, generation, work.attempt) {
            return;
        }
        self.rabbit_apply_nack(g, q, work.instance, tag, work.attempt);
    }

    /// The negative acknowledgement of `tag` by instance `instance` of service `g`,
    /// after `attempts` attempts.
    fn rabbit_apply_nack(&mut self, g: usize, q: QueueIdx, instance: u32, tag: Tag, attempts: u32) {
        if let Some(c) = self.rabbit.rq.consumers[g].get_mut(instance as usize) {
            c.unacked = c.unacked.saturating_sub(1);
        }
        let nack = self.model.services[g].rabbit.negative_ack;
        let mut gone = std::mem::take(&mut self.rabbit.rq.gone);
        let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
            self.rabbit.rq.gone = gone;
            return;
        };
        let out = match nack {
            NegativeAck::Reject => {
                let e = st.q.reject(tag);
                if e.is_some() {
                    st.r.rejected += 1;
                }
                e.map(|e| (e, Reason::Rejected))
            }
            NegativeAck::RejectRequeue | NegativeAck::NackRequeue => {
                let failed = nack == NegativeAck::RejectRequeue;
                let live = st.q.unacked(tag).is_some();
                match st.q.requeue(tag, failed, &mut gone) {
                    Some(e) => {
                        st.r.delivery_limit += 1;
                        Some((e, Reason::DeliveryLimit))
                    }
                    None => {
                        if live {
                            st.r.requeued += 1;
                        }
                        None
                    }
                }
            }
        };
        if let Some((e, reason)) = out {
            self.rabbit_dead_letter(q, e, reason, true, attempts);
        }
        self.rabbit_give_back(q, gone, Reason::Maxlen);
        self.rabbit_arm(q);
        self.rabbit_push(q);
    }

    /// Dead-letters every entry queue `q` gave up on into `gone` (for `reason`), and
    /// keeps the emptied buffer for the next operation.
    fn rabbit_give_back(&mut self, q: QueueIdx, mut gone: Vec<Entry<Item>>, reason: Reason) {
        for e in gone.drain(..) {
            self.rabbit_dead_letter(q, e, reason, true, 0);
        }
        self.rabbit.rq.gone = gone;
    }

    /// Queue `q` gives `e` up for `reason`: its reader accounts for it (dead-lettered
    /// with a dead-letter exchange; otherwise expired, or lost with the reason), and
    /// the dead-letter exchange, if any, routes it on. `entered`: it was in the queue
    /// (and its reader's ledger); a publish refused by reject-publish-dlx was not.
    /// `attempts`: a rejection's, for its cause.
    pub(crate) fn rabbit_dead_letter(
        &mut self,
        q: QueueIdx,
        e: Entry<Item>,
        reason: Reason,
        entered: bool,
        attempts: u32,
    ) {
        let Some(spec) = self.model.queues[q].rabbit.as_ref() else {
            return;
        };
        let dlx = spec.dead_letter_exchange;
        let limit = spec.config.delivery_limit.unwrap_or(0);
        let msg = e.item.msg;
        if let Some(st) = self.rabbit.rq.queues[q].as_mut() {
            match reason {
                Reason::Expired => st.r.expired_ttl += 1,
                Reason::Maxlen if entered => st.r.dropped_overflow += 1,
                _ => {}
            }
            if dlx.is_some() {
                st.r.dead_lettered += 1;
            } else {
                st.r.discarded += 1;
            }
            if reason == Reason::Expired && dlx.is_none() {
                st.c.expired += 1;
            }
        }
        let reader = self.model.queues[q].reader;
        let first = match reader {
            Some(g) if entered => self.account(g, &msg),
            _ => !msg.is_copy(),
        };
        if let (Some(g), true, true) = (reader, entered, first) {
            let work = Work::detached(
                Lease::Rabbit {
                    tag: NA32,
                    generation: 0,
                },
                msg,
            );
            match (dlx, reason) {
                (Some(_), _) => self.services[g].c.dead_lettered += 1,
                (None, Reason::Expired) => {
                    self.services[g].c.expired += 1;
                    self.note(AnomalyKind::Expired, g, &work, 0, Cause::MessageTtl);
                }
                (None, r) => {
                    self.services[g].c.lost += 1;
                    let cause = match r {
                        Reason::Maxlen => Cause::Overflow,
                        Reason::DeliveryLimit => Cause::DeliveryLimit(limit),
                        _ => Cause::Rejected(attempts),
                    };
                    self.note(AnomalyKind::Lost, g, &work, 0, cause);
                }
            }
        }
        let kind = match (dlx, reason) {
            (Some(_), _) => TraceKind::DeadLetter,
            (None, Reason::Expired) => TraceKind::Expire,
            (None, _) => TraceKind::Drop,
        };
        self.tr_rabbit(kind, q, &msg);
        let Some(x) = dlx else {
            return;
        };
        let item = Item {
            msg: Message {
                produced_at: self.now,
                flags: msg.written_flags(first),
                ..msg
            },
            died: e.item.died | died_bit(q),
            rejected: e.item.rejected || reason == Reason::Rejected,
            ..e.item
        };
        self.exchange_dead_letter(x, q, item);
    }

    /// A dead letter routed to queue `q` reaches it, unless it was dead-lettered from
    /// `q` before through a cycle without a rejection: then it is dropped. True if it
    /// was dropped.
    pub(crate) fn rabbit_cycle_drop(&mut self, q: QueueIdx, item: &Item) -> bool {
        if item.died & died_bit(q) == 0 || item.rejected {
            return false;
        }
        if let Some(st) = self.rabbit.rq.queues[q].as_mut() {
            st.r.discarded += 1;
        }
        self.tr_rabbit(TraceKind::Drop, q, &item.msg);
        true
    }

    /// Makes sure queue `q`'s TTL timer fires just after its head expires.
    fn rabbit_arm(&mut self, q: QueueIdx) {
        let now = self.now;
        let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
            return;
        };
        if st.q.config().message_ttl.is_none() {
            return;
        }
        let Some(at) = st.q.head_expiry() else {
            return;
        };
        // A message expires once the time is past its expiry.
        let at = at.saturating_add(1).max(now);
        if st.timer_at != u64::MAX && st.timer_at > now && st.timer_at <= at {
            return;
        }
        if at >= self.model.duration.0 {
            return;
        }
        st.timer_stamp = st.timer_stamp.wrapping_add(1);
        st.timer_at = at;
        let stamp = st.timer_stamp;
        self.queue.push(
            at,
            Ev::RabbitTtl {
                queue: q as u32,
                stamp,
            },
        );
    }

    /// Queue `q`'s TTL timer: the expired head goes to the dead-letter exchange.
    pub(crate) fn on_rabbit_ttl(&mut self, q: QueueIdx, stamp: u32) {
        let now = self.now;
        let mut gone = std::mem::take(&mut self.rabbit.rq.gone);
        let Some(st) = self.rabbit.rq.queues[q].as_mut() else {
            return;
        };
        if st.timer_stamp != stamp {
            self.rabbit.rq.gone = gone;
            return;
        }
        st.timer_at = u64::MAX;
        st.q.expire(now, &mut gone);
        self.rabbit_give_back(q, gone, Reason::Expired);
        self.rabbit_arm(q);
    }

    /// Unaccounted originals service `g` (reading RabbitMQ-like queue `q`) has yet to
    /// see an outcome for: ready or unacknowledged.
    pub(crate) fn rabbit_held_unaccounted(&self, g: usize, q: QueueIdx) -> u64 {
        let Some(st) = self.rabbit.rq.queues[q].as_ref() else {
            return 0;
        };
        let ledger = &self.services[g].ledger;
        let open = |e: &&Entry<Item>| !e.item.msg.is_copy() && !ledger.is_settled(e.item.msg.entry);
        (st.q.ready_items().filter(open).count() + st.q.unacked_items().filter(open).count()) as u64
    }

    /// Queue `q`'s ready and unacknowledged messages, and the age of the oldest ready
    /// one.
    pub(crate) fn rabbit_gauges(&self, q: QueueIdx) -> (u64, u64, u64) {
        let Some(st) = self.rabbit.rq.queues[q].as_ref() else {
            return (0, 0, 0);
        };
        let oldest =
            st.q.peek()
                .map_or(0, |e| self.now.saturating_sub(e.item.msg.produced_at));
        (st.q.ready_len(), st.q.unacked_len(), oldest)
    }
}
