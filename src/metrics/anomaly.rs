//! Anomalies found while the run goes, each kept with the facts needed to explain it in
//! one line: "key user-17: msg 9912 processed after 9915, redelivered after rebalance
//! at 91.200 s". They are observations, never errors.

use crate::model::{KeyId, Model};

/// What kind of anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Same key and service: processed after a message produced later.
    OrderingViolation,
    /// An effect applied twice in a service.
    Duplicate,
    /// Never processed nor dead-lettered.
    Lost,
    /// Deleted by retention before the service consumed it.
    Expired,
}

impl AnomalyKind {
    /// The metric that counts it.
    pub fn metric(self) -> super::Metric {
        use super::Metric;
        match self {
            AnomalyKind::OrderingViolation => Metric::OrderingViolations,
            AnomalyKind::Duplicate => Metric::Duplicates,
            AnomalyKind::Lost => Metric::Lost,
            AnomalyKind::Expired => Metric::Expired,
        }
    }

    /// Name as used in metrics.
    pub fn name(self) -> &'static str {
        self.metric().name()
    }
}

/// Why it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Delivered again after a rebalance at this time (ns).
    Rebalance(u64),
    /// Redelivered after the instance crashed at this time (ns) and its partitions moved.
    Crash(u64),
    /// A copy written by a producer retry whose ack was lost, without idempotence.
    ProducerRetry,
    /// A copy emitted again because the upstream message was processed twice.
    UpstreamDuplicate,
    /// Retried after a failure (attempt number).
    Retried(u32),
    /// Processed in parallel with other records of the partition.
    Concurrent,
    /// In flight on an instance that crashed at this time (ns) after the offset had been
    /// committed (commit before processing).
    CommittedBeforeCrash(u64),
    /// Every attempt failed and no dead-letter topic is set.
    RetriesExhausted(u32),
    /// Retention deleted it.
    Retention,
    /// Arrived out of order from upstream.
    Upstream,
    /// Received again after its visibility timeout expired at this time (ns).
    VisibilityExpired(u64),
    /// Read from a standard queue by parallel consumers, which keeps no order.
    CompetingConsumers,
    /// Processed after its visibility timeout expired, when another receive had
    /// processed it already.
    OutlivedVisibility,
    /// An asynchronous event waited in a function's event queue longer than its
    /// maximum event age (ns).
    EventTooOld(u64),
    /// Redelivered after the group evicted an instance that a network partition cut
    /// off at this time (ns), its last offsets uncommitted.
    Evicted(u64),
    /// A RabbitMQ-like queue delivers it again: it was requeued (a nack or reject with
    /// requeue, or its consumer went away).
    Requeued,
    /// A RabbitMQ-like queue's message TTL passed, and the queue has no dead-letter
    /// exchange.
    MessageTtl,
    /// A RabbitMQ-like queue's length limit dropped it (drop-head), and the queue has
    /// no dead-letter exchange.
    Overflow,
    /// A quorum queue's delivery limit (this many) was passed, and the queue has no
    /// dead-letter exchange.
    DeliveryLimit(u32),
    /// Its consumer rejected it after this many attempts, and the queue has no
    /// dead-letter exchange.
    Rejected(u32),
    /// A copy an event bus replayed from its archive.
    Replayed,
}

impl Cause {
    /// `c` as a tag (0 for none) and a value, for a work item that must stay small.
    #[inline]
    pub(crate) fn pack(c: Option<Cause>) -> (u8, u64) {
        match c {
            None => (0, 0),
            Some(Cause::Rebalance(t)) => (1, t),
            Some(Cause::Crash(t)) => (2, t),
            Some(Cause::ProducerRetry) => (3, 0),
            Some(Cause::UpstreamDuplicate) => (4, 0),
            Some(Cause::Retried(n)) => (5, u64::from(n)),
            Some(Cause::Concurrent) => (6, 0),
            Some(Cause::CommittedBeforeCrash(t)) => (7, t),
            Some(Cause::RetriesExhausted(n)) => (8, u64::from(n)),
            Some(Cause::Retention) => (9, 0),
            Some(Cause::Upstream) => (10, 0),
            Some(Cause::VisibilityExpired(t)) => (11, t),
            Some(Cause::CompetingConsumers) => (12, 0),
            Some(Cause::OutlivedVisibility) => (13, 0),
            Some(Cause::EventTooOld(t)) => (14, t),
            Some(Cause::Evicted(t)) => (15, t),
            Some(Cause::Requeued) => (16, 0),
            Some(Cause::MessageTtl) => (17, 0),
            Some(Cause::Overflow) => (18, 0),
            Some(Cause::DeliveryLimit(n)) => (19, u64::from(n)),
            Some(Cause::Rejected(n)) => (20, u64::from(n)),
            Some(Cause::Replayed) => (21, 0),
        }
    }

    /// The cause [`Cause::pack`] made `(tag, val)` of.
    #[inline]
    pub(crate) fn unpack(tag: u8, val: u64) -> Option<Cause> {
        let n = val as u32;
        Some(match tag {
            1 => Cause::Rebalance(val),
            2 => Cause::Crash(val),
            3 => Cause::ProducerRetry,
            4 => Cause::UpstreamDuplicate,
            5 => Cause::Retried(n),
            6 => Cause::Concurrent,
            7 => Cause::CommittedBeforeCrash(val),
            8 => Cause::RetriesExhausted(n),
            9 => Cause::Retention,
            10 => Cause::Upstream,
            11 => Cause::VisibilityExpired(val),
            12 => Cause::CompetingConsumers,
            13 => Cause::OutlivedVisibility,
            14 => Cause::EventTooOld(val),
            15 => Cause::Evicted(val),
            16 => Cause::Requeued,
            17 => Cause::MessageTtl,
            18 => Cause::Overflow,
            19 => Cause::DeliveryLimit(n),
            20 => Cause::Rejected(n),
            21 => Cause::Replayed,
            _ => return None,
        })
    }
}

/// One anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// When, ns.
    pub time: u64,
    /// What.
    pub kind: AnomalyKind,
    /// Service index.
    pub service: u32,
    /// Message (correlation id).
    pub msg: u64,
    /// Its key.
    pub key: KeyId,
    /// For an ordering violation, the later message processed before it.
    pub other: u64,
    /// Partition and offset.
    pub partition: u32,
    /// Offset in the partition.
    pub offset: u64,
    /// Why.
    pub cause: Cause,
}

impl Cause {
    fn describe(self, model: &Model, service: u32) -> String {
        let s = model.services.get(service as usize);
        let commit = s.map_or("after", |s| match s.commit {
            crate::model::CommitMode::Before => "before",
            crate::model::CommitMode::After => "after",
            crate::model::CommitMode::Auto => "auto",
        });
        match self {
            Cause::Rebalance(t) => format!(
                "redelivered after rebalance at {:.3} s (commit = {commit})",
                t as f64 / 1e9
            ),
            Cause::Crash(t) => format!(
                "redelivered after a crash at {:.3} s (commit = {commit})",
                t as f64 / 1e9
            ),
            Cause::Evicted(t) => format!(
                "redelivered after its instance was cut off from the group at {:.3} s and evicted, its commits lost (commit = {commit})",
                t as f64 / 1e9
            ),
            Cause::ProducerRetry => {
                "copy from a producer retry after a lost ack (idempotent = false)".to_string()
            }
            Cause::UpstreamDuplicate => "copy emitted again by an upstream duplicate".to_string(),
            Cause::Retried(a) => format!("retried, attempt {a}"),
            Cause::Concurrent => {
                let o = s.map_or("unordered", |s| match s.ordering {
                    crate::model::Ordering::Partition => "partition",
                    crate::model::Ordering::Key => "key",
                    crate::model::Ordering::Unordered => "unordered",
                });
                format!(
                    "processed in parallel (concurrency {}, ordering = {o})",
                    s.map_or(1, |s| s.concurrency)
                )
            }
            Cause::CommittedBeforeCrash(t) => {
                format!(
                    "in flight when its instance crashed at {:.3} s; offset committed before processing",
                    t as f64 / 1e9
                )
            }
            Cause::RetriesExhausted(n) if s.is_some_and(|s| s.function.is_some()) => {
                format!("the function failed {n} attempts and has no on_failure destination")
            }
            Cause::RetriesExhausted(n) => format!("failed {n} attempts and no dead_letter is set"),
            Cause::EventTooOld(age) => format!(
                "waited in the function's event queue past its maximum_event_age ({}) and has no on_failure destination",
                crate::time::SimDuration(age)
            ),
            Cause::Retention => "deleted by retention before it was consumed".to_string(),
            Cause::Requeued => {
                "requeued by the queue and delivered again (redelivered flag set)".to_string()
            }
            Cause::MessageTtl => {
                "its message_ttl passed at the head of the queue, which has no dead_letter_exchange"
                    .to_string()
            }
            Cause::Overflow => {
                "dropped by the queue's max_length (drop-head), which has no dead_letter_exchange"
                    .to_string()
            }
            Cause::DeliveryLimit(n) => format!(
                "failed more deliveries than the quorum queue's delivery_limit ({n}), which has no dead_letter_exchange"
            ),
            Cause::Rejected(n) => format!(
                "rejected by the consumer after {n} attempts (requeue false), and the queue has no dead_letter_exchange"
            ),
            Cause::Replayed => {
                "replayed from an event bus's archive after its original had reached this service"
                    .to_string()
            }
            Cause::Upstream => "arrived out of order from upstream".to_string(),
            Cause::CompetingConsumers
                if s.and_then(|s| s.source.queue())
                    .and_then(|q| model.queues.get(q))
                    .is_some_and(|q| q.rabbit.is_some()) =>
            {
                format!(
                    "a RabbitMQ queue delivers in order, but its {} parallel consumers finish out of order (a single consumer, or a consistent-hash exchange per key, would keep it)",
                    s.map_or(1, |s| s.instances * s.concurrency)
                )
            }
            Cause::CompetingConsumers => format!(
                "a standard queue keeps no order across its {} parallel consumers (a FIFO queue with the key as message group would)",
                s.map_or(1, |s| s.instances * s.concurrency)
            ),
            Cause::OutlivedVisibility => {
                let vt = s
                    .and_then(|s| s.source.queue())
                    .and_then(|q| model.queues.get(q))
                    .map_or(0, |q| q.visibility_timeout);
                format!(
                    "processing outlasted the visibility timeout ({}), and another receive processed it first",
                    crate::time::SimDuration(vt)
                )
            }
            Cause::VisibilityExpired(t) => {
                let vt = s
                    .and_then(|s| s.source.queue())
                    .and_then(|q| model.queues.get(q))
                    .map_or(0, |q| q.visibility_timeout);
                format!(
                    "received again after its visibility timeout ({}) expired at {:.3} s",
                    crate::time::SimDuration(vt),
                    t as f64 / 1e9
                )
            }
        }
    }
}

impl Anomaly {
    /// One line for people: what, to which message, and why.
    pub fn explain(&self, model: &Model) -> String {
        let service = model
            .services
            .get(self.service as usize)
            .map_or("?", |s| s.name.as_str());
        let key = model
            .keys
            .name(self.key)
            .map_or_else(|| "unkeyed".to_string(), |k| format!("key {k}"));
        let cause = self.cause.describe(model, self.service);
        let what = match self.kind {
            AnomalyKind::OrderingViolation => {
                format!("msg {} processed after {}", self.msg, self.other)
            }
            AnomalyKind::Duplicate => format!("msg {} processed again", self.msg),
            AnomalyKind::Lost => format!("msg {} lost", self.msg),
            AnomalyKind::Expired => format!("msg {} expired", self.msg),
        };
        let at = if self.partition == u32::MAX {
            String::new()
        } else {
            format!(" (partition {}, offset {})", self.partition, self.offset)
        };
        format!(
            "{:.3} s {service}: {key}: {what}{at}, {cause}",
            self.time as f64 / 1e9,
        )
    }
}
