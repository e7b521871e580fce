//! A RabbitMQ-like queue's bookkeeping, pure (no engine, no time of its own): what is
//! ready in which order, what consumers hold unacknowledged, what a requeue, a
//! message TTL, a length limit or a delivery limit does, as rabbitmq-server's classic
//! queues (`rabbit_amqqueue_process`, `rabbit_variable_queue`) and quorum queues
//! (`rabbit_fifo`) do. The engine will drive it: it hands a message to a consumer with
//! room, acknowledges or returns it, and routes what this queue gives up on to the
//! queue's dead-letter exchange with the reason.
//!
//! - **Order and requeue.** A classic queue keeps ready messages by their publish
//!   sequence, so a requeued message goes back to its original position
//!   (`requeue_merge`); a quorum queue puts returns in a queue of their own, served
//!   before the others, in the order they came back.
//! - **TTL.** A message's expiry is fixed when it is published (`min` of the queue's
//!   and the message's TTL) and kept across requeues. Only the head expires (what
//!   waits behind a live head stays, and counts in the length, until it reaches the
//!   head); an unacknowledged message never expires. A message published with TTL 0
//!   can still be taken at the instant it arrives, and expires after.
//! - **Length limits** count ready messages only. `drop-head` enqueues, then drops the
//!   oldest while over the limit (dead-lettered as `maxlen`); `reject-publish` refuses
//!   the new message when it would go over (the publisher gets a nack with confirms,
//!   and nothing otherwise); `reject-publish-dlx` also dead-letters it. A requeue may
//!   go over the limit: drop-head then trims the head, reject-publish keeps it.
//! - **Delivery limit** (quorum queues, RabbitMQ 4.x, default 20): a message whose
//!   failed deliveries (a `basic.reject` with requeue) exceed the limit is
//!   dead-lettered as `delivery_limit`; a `basic.nack` with requeue, and a consumer
//!   that went away, do not count (4.3's `delivery-count`, not `acquired-count`: "only
//!   when pretty sure the processing failed").

use std::collections::VecDeque;

/// Classic or quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueType {
    /// Requeue to the original position; no delivery limit.
    Classic,
    /// Returns served first; a delivery limit.
    Quorum,
}

/// What a full queue does with a new message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Enqueue, then drop (dead-letter) the oldest.
    DropHead,
    /// Refuse the new message.
    RejectPublish,
    /// Refuse it and dead-letter it (classic queues only).
    RejectPublishDlx,
}

/// Why a queue gave a message up (RabbitMQ's `x-death` reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Rejected or nacked without requeue.
    Rejected,
    /// Its TTL passed while it was at the head.
    Expired,
    /// Dropped by a length limit.
    Maxlen,
    /// Failed deliveries beyond the delivery limit.
    DeliveryLimit,
}

impl Reason {
    /// As RabbitMQ spells it.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Rejected => "rejected",
            Reason::Expired => "expired",
            Reason::Maxlen => "maxlen",
            Reason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// A queue's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Classic or quorum.
    pub kind: QueueType,
    /// `x-message-ttl`, ns.
    pub message_ttl: Option<u64>,
    /// `x-max-length`: most ready messages.
    pub max_length: Option<u64>,
    /// `x-overflow`.
    pub overflow: Overflow,
    /// `x-delivery-limit` (quorum queues; `None`: unlimited).
    pub delivery_limit: Option<u32>,
}

impl Default for QueueConfig {
    /// A classic queue without limits.
    fn default() -> QueueConfig {
        QueueConfig {
            kind: QueueType::Classic,
            message_ttl: None,
            max_length: None,
            overflow: Overflow::DropHead,
            delivery_limit: None,
        }
    }
}

/// RabbitMQ 4's default delivery limit of a quorum queue.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 20;

/// A message in the queue and what the queue knows of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry<T> {
    /// The engine's message.
    pub item: T,
    /// Publish sequence: its position.
    pub seq: u64,
    /// When it expires (`u64::MAX`: never).
    pub expires_at: u64,
    /// Delivered before (the `redelivered` flag of its next delivery).
    pub redelivered: bool,
    /// Failed deliveries so far (quorum's `delivery-count`).
    pub failed: u32,
}

/// What became of a publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Published {
    /// Enqueued (maybe dropping older messages: see the `dropped` list).
    Enqueued,
    /// Refused by `reject-publish`: nacked with confirms, silently lost without.
    Rejected,
    /// Refused by `reject-publish-dlx`: nacked, and dead-lettered as `maxlen`.
    RejectedDeadLettered,
}

/// A delivery tag: an unacknowledged message's handle.
pub type Tag = u32;

/// One queue.
#[derive(Clone, Debug)]
pub struct RabbitQueue<T> {
    cfg: QueueConfig,
    next_seq: u64,
    /// Classic: every ready message, by position (publish sequence, ascending).
    /// Quorum: the ready messages never returned, in order. A deque: publishes append,
    /// deliveries take the front, and a classic requeue goes back near the front (it
    /// was delivered recently), where an insert shifts only the few before it.
    ready: VecDeque<Entry<T>>,
    /// Quorum: returned messages, served first, in the order they came back.
    returns: VecDeque<Entry<T>>,
    /// Unacknowledged messages, by tag (a slab: freed tags are reused).
    unacked: Vec<Option<Entry<T>>>,
    /// Per tag, bumped when it is settled: an older holder's tag is stale.
    gens: Vec<u32>,
    free: Vec<Tag>,
    n_unacked: u64,
}

impl<T: Copy> RabbitQueue<T> {
    /// An empty queue.
    pub fn new(cfg: QueueConfig) -> RabbitQueue<T> {
        RabbitQueue {
            cfg,
            next_seq: 0,
            ready: VecDeque::new(),
            returns: VecDeque::new(),
            unacked: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            n_unacked: 0,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    /// Ready messages (what the length limit counts).
    pub fn ready_len(&self) -> u64 {
        (self.ready.len() + self.returns.len()) as u64
    }

    /// Messages consumers hold unacknowledged.
    pub fn unacked_len(&self) -> u64 {
        self.n_unacked
    }

    /// Publishes `item` at `now` (with the message's own TTL, if any). Messages a
    /// drop-head limit pushes out are appended to `dropped` (to dead-letter as
    /// [`Reason::Maxlen`]).
    pub fn publish(
        &mut self,
        item: T,
        now: u64,
        ttl: Option<u64>,
        dropped: &mut Vec<Entry<T>>,
    ) -> Published {
        if let Some(max) = self.cfg.max_length
            && self.cfg.overflow != Overflow::DropHead
            && self.ready_len() + 1 > max
        {
            return match self.cfg.overflow {
                Overflow::RejectPublishDlx => Published::RejectedDeadLettered,
                _ => Published::Rejected,
            };
        }
        let ttl = match (self.cfg.message_ttl, ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ready.push_back(Entry {
            item,
            seq,
            expires_at: ttl.map_or(u64::MAX, |t| now.saturating_add(t)),
            redelivered: false,
            failed: 0,
        });
        self.trim(dropped);
        Published::Enqueued
    }

    /// Drop-head: the oldest ready messages out while over the limit (returns first,
    /// as quorum queues take them first).
    fn trim(&mut self, dropped: &mut Vec<Entry<T>>) {
        let Some(max) = self.cfg.max_length else {
            return;
        };
        if self.cfg.overflow != Overflow::DropHead {
            return;
        }
        while self.ready_len() > max {
            match self.pop_head() {
                Some(e) => dropped.push(e),
                None => break,
            }
        }
    }

    fn pop_head(&mut self) -> Option<Entry<T>> {
        if let Some(e) = self.returns.pop_front() {
            return Some(e);
        }
        self.ready.pop_front()
    }

    fn head(&self) -> Option<&Entry<T>> {
        self.returns.front().or_else(|| self.ready.front())
    }

    /// Moves expired messages at the head to `expired` (to dead-letter as
    /// [`Reason::Expired`]): only the head expires.
    pub fn expire(&mut self, now: u64, expired: &mut Vec<Entry<T>>) {
        while self.head().is_some_and(|e| e.expires_at < now) {
            if let Some(e) = self.pop_head() {
                expired.push(e);
            }
        }
    }

    /// When the head expires, for the engine's timer (`None`: it never does, or the
    /// queue is empty).
    pub fn head_expiry(&self) -> Option<u64> {
        self.head().map(|e| e.expires_at).filter(|&t| t != u64::MAX)
    }

    /// Hands the head to a consumer at `now` (after expiring what is due into
    /// `expired`): its tag and entry, or `None` when nothing is ready.
    pub fn take(&mut self, now: u64, expired: &mut Vec<Entry<T>>) -> Option<(Tag, Entry<T>)> {
        self.expire(now, expired);
        let e = self.pop_head()?;
        let tag = match self.free.pop() {
            Some(t) => {
                self.unacked[t as usize] = Some(e);
                t
            }
            None => {
                self.unacked.push(Some(e));
                self.gens.push(0);
                (self.unacked.len() - 1) as Tag
            }
        };
        self.n_unacked += 1;
        Some((tag, e))
    }

    fn release(&mut self, tag: Tag) -> Option<Entry<T>> {
        let e = self.unacked.get_mut(tag as usize)?.take()?;
        self.gens[tag as usize] = self.gens[tag as usize].wrapping_add(1);
        self.free.push(tag);
        self.n_unacked -= 1;
        Some(e)
    }

    /// `basic.ack`: the message is done. `None` for an unknown or settled tag.
    pub fn ack(&mut self, tag: Tag) -> Option<T> {
        self.release(tag).map(|e| e.item)
    }

    /// `basic.reject`/`basic.nack` without requeue: the message leaves, to be
    /// dead-lettered as [`Reason::Rejected`].
    pub fn reject(&mut self, tag: Tag) -> Option<Entry<T>> {
        self.release(tag)
    }

    /// Puts an unacknowledged message back (a nack or reject with requeue, or its
    /// consumer went away). `failed` says whether it counts as a failed delivery (a
    /// reject does; a nack or a lost consumer does not). Returns the entry when the
    /// delivery limit is passed instead (to dead-letter as
    /// [`Reason::DeliveryLimit`]); messages a drop-head limit then pushes out go to
    /// `dropped`.
    pub fn requeue(
        &mut self,
        tag: Tag,
        failed: bool,
        dropped: &mut Vec<Entry<T>>,
    ) -> Option<Entry<T>> {
        let mut e = self.release(tag)?;
        e.redelivered = true;
        if failed {
            e.failed += 1;
        }
        match self.cfg.kind {
            QueueType::Classic => {
                let at = self.ready.partition_point(|r| r.seq < e.seq);
                self.ready.insert(at, e);
            }
            QueueType::Quorum => {
                if let Some(limit) = self.cfg.delivery_limit
                    && e.failed > limit
                {
                    return Some(e);
                }
                self.returns.push_back(e);
            }
        }
        self.trim(dropped);
        None
    }

    /// Every ready message, in the order they would be delivered (for gauges and
    /// tests).
    pub fn ready_items(&self) -> impl Iterator<Item = &Entry<T>> {
        self.returns.iter().chain(self.ready.iter())
    }

    /// Every unacknowledged message, by tag.
    pub fn unacked_items(&self) -> impl Iterator<Item = &Entry<T>> {
        self.unacked.iter().flatten()
    }

    /// The generation of `tag`: bumped each time the message behind it is settled, so
    /// that a holder of an older delivery cannot settle a newer one.
    pub fn generation(&self, tag: Tag) -> u32 {
        self.gens.get(tag as usize).copied().unwrap_or(0)
    }

    /// Whether `tag` of generation `generation` is still unacknowledged.
    pub fn holds(&self, tag: Tag, generation: u32) -> bool {
        self.unacked(tag).is_some() && self.generation(tag) == generation
    }

    /// The unacknowledged message behind `tag`.
    pub fn unacked(&self, tag: Tag) -> Option<&Entry<T>> {
        self.unacked.get(tag as usize)?.as_ref()
    }

    /// The head's entry (the next to be delivered), if any.
    pub fn peek(&self) -> Option<&Entry<T>> {
        self.head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(cfg: QueueConfig) -> RabbitQueue<u32> {
        RabbitQueue::new(cfg)
    }

    fn limited(max: u64, overflow: Overflow) -> QueueConfig {
        QueueConfig {
            max_length: Some(max),
            overflow,
            ..QueueConfig::default()
        }
    }

    fn ready(q: &RabbitQueue<u32>) -> Vec<u32> {
        q.ready_items().map(|e| e.item).collect()
    }

    /// queue_length_limits_SUITE:check_max_length_drops_head: max-length 1, publish 1,
    /// 2, 3: only 3 is left; 1 and 2 are dropped (dead_letter_max_length_drop_head:
    /// they reach the DLX).
    #[test]
    fn drop_head_keeps_the_newest() {
        let mut q = q(limited(1, Overflow::DropHead));
        let mut dropped = Vec::new();
        for m in 1..=3 {
            assert_eq!(q.publish(m, 0, None, &mut dropped), Published::Enqueued);
        }
        assert_eq!(ready(&q), vec![3]);
        assert_eq!(
            dropped.iter().map(|e| e.item).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    /// check_max_length_drops_publish: max-length 1, publish 1, 2, 3: only 1 is left;
    /// with reject-publish-dlx the refused ones are dead-lettered.
    #[test]
    fn reject_publish_keeps_the_oldest() {
        for (overflow, refused) in [
            (Overflow::RejectPublish, Published::Rejected),
            (Overflow::RejectPublishDlx, Published::RejectedDeadLettered),
        ] {
            let mut q = q(limited(1, overflow));
            let mut dropped = Vec::new();
            assert_eq!(q.publish(1, 0, None, &mut dropped), Published::Enqueued);
            assert_eq!(q.publish(2, 0, None, &mut dropped), refused);
            assert_eq!(q.publish(3, 0, None, &mut dropped), refused);
            assert_eq!(ready(&q), vec![1]);
            assert!(dropped.is_empty());
            // check_max_length_rejects: once a get made room, the next publish is
            // accepted.
            let (tag, e) = q.take(0, &mut Vec::new()).expect("1 is ready");
            assert_eq!(e.item, 1);
            assert_eq!(q.publish(4, 0, None, &mut dropped), Published::Enqueued);
            assert_eq!(q.ack(tag), Some(1));
        }
    }

    /// Unacknowledged messages do not count toward the limit.
    #[test]
    fn the_limit_counts_ready_messages_only() {
        let mut q = q(limited(1, Overflow::RejectPublish));
        let mut dropped = Vec::new();
        q.publish(1, 0, None, &mut dropped);
        let (_, _) = q.take(0, &mut Vec::new()).expect("ready");
        assert_eq!(q.publish(2, 0, None, &mut dropped), Published::Enqueued);
        assert_eq!((q.ready_len(), q.unacked_len()), (1, 1));
    }

    /// check_max_length_requeue: msg1 taken, msg2 published, msg1 nacked with
    /// requeue: the next gets return msg1 then msg2, and under reject-publish the
    /// queue holds 2 with max-length 1; under drop-head the head is trimmed.
    #[test]
    fn a_requeue_goes_back_to_its_position_and_may_pass_the_limit() {
        let mut q = q(limited(1, Overflow::RejectPublish));
        let mut dropped = Vec::new();
        q.publish(1, 0, None, &mut dropped);
        let (tag, _) = q.take(0, &mut Vec::new()).expect("1");
        q.publish(2, 0, None, &mut dropped);
        assert_eq!(q.requeue(tag, false, &mut dropped), None);
        assert_eq!(ready(&q), vec![1, 2]);
        let (_, first) = q.take(0, &mut Vec::new()).expect("1 again");
        assert_eq!((first.item, first.redelivered), (1, true));

        let mut q = q_drop_head_one();
        let (tag, _) = q.take(0, &mut Vec::new()).expect("1");
        q.publish(2, 0, None, &mut dropped);
        q.requeue(tag, false, &mut dropped);
        assert_eq!(ready(&q), vec![2], "drop-head trims the requeued head");
    }

    fn q_drop_head_one() -> RabbitQueue<u32> {
        let mut q = q(limited(1, Overflow::DropHead));
        q.publish(1, 0, None, &mut Vec::new());
        q
    }

    /// Classic queues requeue to the original position, behind older ready ones and
    /// ahead of newer; quorum queues serve returns first, in the order they came back.
    #[test]
    fn classic_and_quorum_requeue_orders() {
        let mut dropped = Vec::new();
        let mut c = q(QueueConfig::default());
        for m in 1..=4 {
            c.publish(m, 0, None, &mut dropped);
        }
        let (t1, _) = c.take(0, &mut dropped).expect("1");
        let (t2, _) = c.take(0, &mut dropped).expect("2");
        c.requeue(t2, false, &mut dropped);
        c.requeue(t1, false, &mut dropped);
        assert_eq!(ready(&c), vec![1, 2, 3, 4]);

        let mut qq = q(QueueConfig {
            kind: QueueType::Quorum,
            ..QueueConfig::default()
        });
        for m in 1..=4 {
            qq.publish(m, 0, None, &mut dropped);
        }
        let (t1, _) = qq.take(0, &mut dropped).expect("1");
        let (t2, _) = qq.take(0, &mut dropped).expect("2");
        qq.requeue(t2, false, &mut dropped);
        qq.requeue(t1, false, &mut dropped);
        assert_eq!(ready(&qq), vec![2, 1, 3, 4]);
    }

    /// Only the head expires: an expired message behind a live head waits (and counts)
    /// until it reaches the head; a requeue keeps the expiry; an unacknowledged message
    /// does not expire; the shorter of the queue's and the message's TTL applies.
    #[test]
    fn only_the_head_expires_and_a_requeue_keeps_the_expiry() {
        let mut dropped = Vec::new();
        let mut q = q(QueueConfig {
            message_ttl: Some(100),
            ..QueueConfig::default()
        });
        q.publish(1, 0, None, &mut dropped); // expires at 100
        q.publish(2, 0, Some(10), &mut dropped); // at 10: behind a live head
        let mut expired = Vec::new();
        q.expire(50, &mut expired);
        assert!(expired.is_empty());
        assert_eq!(q.ready_len(), 2);
        let (t1, _) = q.take(50, &mut expired).expect("1");
        // 2 is the head now, long expired.
        assert_eq!(q.take(50, &mut expired), None);
        assert_eq!(expired.iter().map(|e| e.item).collect::<Vec<_>>(), vec![2]);
        // 1, unacknowledged, survives its TTL; requeued, it keeps its expiry.
        expired.clear();
        q.requeue(t1, false, &mut dropped);
        assert_eq!(q.head_expiry(), Some(100));
        q.expire(100, &mut expired);
        assert!(expired.is_empty(), "due at 100, expired after it");
        q.expire(101, &mut expired);
        assert_eq!(expired.len(), 1);
        assert_eq!(q.head_expiry(), None);
    }

    /// A TTL of 0: taken at the instant it arrives, or expired right after.
    #[test]
    fn a_zero_ttl_message_is_taken_at_once_or_expires() {
        let mut q = q(QueueConfig {
            message_ttl: Some(0),
            ..QueueConfig::default()
        });
        let (mut dropped, mut expired) = (Vec::new(), Vec::new());
        q.publish(1, 5, None, &mut dropped);
        assert!(q.take(5, &mut expired).is_some());
        q.publish(2, 5, None, &mut dropped);
        assert!(q.take(6, &mut expired).is_none());
        assert_eq!(expired.len(), 1);
    }

    /// rabbit_fifo_SUITE (delivery_limit 1): two plain returns keep the message; a
    /// consumer going away twice (failed deliveries 2 > 1) removes it. The default of
    /// 20 removes it at the 21st failed delivery.
    #[test]
    fn the_delivery_limit_counts_failed_deliveries_only() {
        let mut dropped = Vec::new();
        let mut q = q(QueueConfig {
            kind: QueueType::Quorum,
            delivery_limit: Some(1),
            ..QueueConfig::default()
        });
        q.publish(7, 0, None, &mut dropped);
        for _ in 0..2 {
            let (t, _) = q.take(0, &mut dropped).expect("ready");
            assert_eq!(
                q.requeue(t, false, &mut dropped),
                None,
                "a nack is no failure"
            );
        }
        let (t, _) = q.take(0, &mut dropped).expect("ready");
        assert_eq!(
            q.requeue(t, true, &mut dropped),
            None,
            "1 failure is within 1"
        );
        let (t, _) = q.take(0, &mut dropped).expect("ready");
        let out = q
            .requeue(t, true, &mut dropped)
            .expect("2 failures pass the limit");
        assert_eq!((out.item, out.failed), (7, 2));
        assert_eq!(q.ready_len() + q.unacked_len(), 0);

        let mut q = q_quorum_default();
        q.publish(8, 0, None, &mut dropped);
        let mut n = 0;
        loop {
            let (t, _) = q.take(0, &mut dropped).expect("ready");
            n += 1;
            if q.requeue(t, true, &mut dropped).is_some() {
                break;
            }
        }
        assert_eq!(n, DEFAULT_DELIVERY_LIMIT + 1);
    }

    fn q_quorum_default() -> RabbitQueue<u32> {
        q(QueueConfig {
            kind: QueueType::Quorum,
            delivery_limit: Some(DEFAULT_DELIVERY_LIMIT),
            ..QueueConfig::default()
        })
    }

    /// Tags are reused, a settled tag settles nothing, reject hands the entry back.
    #[test]
    fn tags_settle_once() {
        let mut q = q(QueueConfig::default());
        let mut v = Vec::new();
        q.publish(1, 0, None, &mut v);
        q.publish(2, 0, None, &mut v);
        let (a, _) = q.take(0, &mut v).expect("1");
        assert_eq!(q.ack(a), Some(1));
        assert_eq!(q.ack(a), None);
        let (b, e) = q.take(0, &mut v).expect("2");
        assert_eq!(b, a, "the freed tag is reused");
        assert_eq!(q.reject(b).map(|e| e.item), Some(e.item));
        assert_eq!(q.unacked_len(), 0);
    }
}
