//! Brokers: where messages wait between producers and services. Each broker kind is a
//! module of its own behind the same few operations, which the engine's generic parts
//! (producers, the service runtime, faults, the sampler) call and which dispatch over
//! broker kinds with `match`, never `dyn`:
//!
//! - **publish**: store a message and wake the services that read it;
//! - **fetch**: hand a free slot of a service instance the next message it may start,
//!   with the broker's [`Lease`] on it;
//! - **settle**: the work item finished for good (processed, dead-lettered or lost);
//! - **release**: the work item was dropped without an outcome (its instance crashed);
//! - **fate**: what becomes of a message dropped without an outcome ([`Fate`]);
//! - **gauges**: depth, lag and the age of the oldest message, for the sampler;
//! - its own timers (`Ev::Kafka`, ...) and its own reaction to instances going down
//!   and coming back.
//!
//! [`kafka`] is the Kafka-like broker: partitioned logs, consumer groups, offsets,
//! assignors and rebalances, retention. [`sqs`] holds SQS-like queues, standard and
//! FIFO; [`pubsub`] SNS-like topics with filtered subscriptions and the asynchronous
//! event queues of the functions they invoke; [`rabbit`] RabbitMQ-like exchanges
//! (direct, fanout, topic, headers; exchange-to-exchange bindings, alternate
//! exchanges), which route into queues and store nothing; [`bus`] EventBridge-like
//! event buses: rules with event patterns, targets, retries with backoff, an archive
//! and replays. Redis-like streams get a sibling module and a variant of [`Lease`].

pub mod bus;
pub mod kafka;
pub mod pubsub;
pub mod rabbit;
pub mod sqs;

use crate::sim::Engine;

/// A broker's handle on a message it handed to a work item: what it needs to settle or
/// take back that delivery. Small and `Copy`, so that a work item stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lease {
    /// A record of a Kafka-like partition.
    Kafka {
        /// Partition.
        partition: u32,
        /// Offset in the partition.
        offset: u64,
    },
    /// A message of an SQS-like queue: its receipt.
    Sqs {
        /// Slot in the queue.
        slot: u32,
        /// The slot's generation.
        generation: u32,
        /// The receive this lease came from (only the latest receipt deletes).
        receives: u32,
    },
    /// An event of a function's asynchronous event queue: Lambda holds nothing once
    /// the invocation has it.
    Async,
    /// A message of a RabbitMQ-like queue: its delivery tag.
    Rabbit {
        /// The delivery tag.
        tag: u32,
        /// The tag's generation (a tag is reused once settled; a delivery whose
        /// channel closed holds an older one).
        generation: u32,
    },
}

impl Lease {
    /// Partition and offset for traces and anomalies (`NA` where they do not apply).
    #[inline]
    pub fn position(&self) -> (u32, u64) {
        match *self {
            Lease::Kafka { partition, offset } => (partition, offset),
            Lease::Sqs { .. } | Lease::Async | Lease::Rabbit { .. } => {
                (crate::sim::trace::NA32, crate::sim::trace::NA64)
            }
        }
    }

    /// The partition, where there is one (a dead letter without a key keeps it).
    #[inline]
    pub fn partition(&self) -> Option<u32> {
        match *self {
            Lease::Kafka { partition, .. } => Some(partition),
            Lease::Sqs { .. } | Lease::Async | Lease::Rabbit { .. } => None,
        }
    }
}

/// What becomes of a message whose work item was dropped without an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The broker will deliver it again: nothing to count now.
    Redelivered,
    /// Nobody will read it again (a Kafka offset committed before processing): lost.
    Lost,
    /// The broker deleted it (retention): expired.
    Deleted,
}

impl Engine {
    /// The broker settles a work item of service `g` that finished for good.
    #[inline]
    pub(crate) fn settle(&mut self, g: usize, work: &crate::sim::service::Work) {
        match work.lease {
            Lease::Kafka { partition, offset } => {
                let commit = self.model.services[g].commit;
                self.kafka.groups[g].complete(partition, offset, work.msg.key, commit);
            }
            Lease::Sqs {
                slot,
                generation,
                receives,
            } => {
                self.sqs_release_key(g, work.instance, work.msg.key);
                if self.services[g].insts[work.instance as usize].cut > 0 {
                    // The delete cannot reach the queue: the message stays in flight
                    // and comes back after its visibility timeout.
                    return;
                }
                if self.model.services[g].function.is_some() {
                    self.sqs_hold_delete(g, work.instance, slot, generation, receives);
                } else {
                    self.sqs_delete(g, slot, generation, receives);
                }
            }
            Lease::Async => {}
            Lease::Rabbit { tag, generation } => self.rabbit_ack(g, work.instance, tag, generation),
        }
    }

    /// The broker hears that a work item of service `g` was dropped without an outcome.
    #[inline]
    pub(crate) fn release(&mut self, g: usize, work: &crate::sim::service::Work) {
        match work.lease {
            Lease::Kafka { partition, .. } => {
                let grp = &mut self.kafka.groups[g];
                grp.mark(partition);
                let gp = &mut grp.parts[partition as usize];
                gp.active = gp.active.saturating_sub(1);
            }
            // The message stays in flight until its visibility timeout.
            Lease::Sqs { .. } => self.sqs_release_key(g, work.instance, work.msg.key),
            Lease::Async => {}
            // It returns to the queue when the instance's channel closes.
            Lease::Rabbit { tag, generation } => {
                self.rabbit_release(g, work.instance, tag, generation)
            }
        }
    }

    /// What becomes of the message behind `lease`, dropped by service `g`.
    pub(crate) fn fate(&self, g: usize, lease: &Lease) -> Fate {
        match *lease {
            Lease::Kafka { partition, offset } => {
                self.kafka.fate(&self.model, g, partition, offset)
            }
            Lease::Sqs {
                slot, generation, ..
            } => self.sqs_fate(g, slot, generation),
            // An invocation dropped without an outcome takes its event with it.
            Lease::Async => Fate::Lost,
            // The queue takes back what a consumer held: it delivers it again, or its
            // dead-lettering accounts for it.
            Lease::Rabbit { .. } => Fate::Redelivered,
        }
    }
}
