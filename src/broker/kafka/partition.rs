//! Which partition a record goes to: one function for every path that writes a record
//! (a producer, a service's dead letter, a service's follow-up event). Each writer is a
//! Kafka producer client with its own [`Partitioner`] state, and the target topic's
//! partitioner decides, as in Kafka's client:
//!
//! - `murmur2` (the default): a keyed record goes to `toPositive(murmur2(key)) % n`, the
//!   same partition a real client picks; an unkeyed one goes to the writer's sticky
//!   partition, which changes after `sticky_batch` records;
//! - `sticky`: every record to the sticky partition, keys ignored (Kafka's
//!   `UniformStickyPartitioner`);
//! - `round_robin`: every record to the next partition in turn, keys ignored (Kafka's
//!   `RoundRobinPartitioner`).

use crate::model::{KeyId, KeyTable, NO_KEY, PartitionerKind, TopicModel};
use crate::rng::Stream;

/// A writer's partitioning state for one target topic.
#[derive(Clone, Debug)]
pub(crate) struct Partitioner {
    rng: Stream,
    /// Round-robin position.
    rr: u32,
    /// The sticky partition and the records left in its batch.
    sticky_part: u32,
    sticky_left: u32,
}

impl Partitioner {
    /// The state of a writer to `topic`, its sticky partition drawn from `rng`.
    pub fn new(mut rng: Stream, topic: &TopicModel) -> Partitioner {
        let sticky_part = (rand::Rng::next_u64(&mut rng) % u64::from(topic.partitions)) as u32;
        Partitioner {
            rng,
            rr: 0,
            sticky_part,
            sticky_left: topic.sticky_batch,
        }
    }

    /// The partition of `topic` for the writer's next record, with key `key`.
    #[inline]
    pub fn choose(&mut self, topic: &TopicModel, keys: &KeyTable, key: KeyId) -> u32 {
        let n = topic.partitions;
        match topic.partitioner {
            PartitionerKind::Murmur2 if key != NO_KEY => keys.hashes[key as usize] % n,
            PartitionerKind::RoundRobin => {
                let part = self.rr % n;
                self.rr = self.rr.wrapping_add(1);
                part
            }
            PartitionerKind::Murmur2 | PartitionerKind::Sticky => {
                if self.sticky_left == 0 {
                    self.sticky_left = topic.sticky_batch;
                    if n > 1 {
                        // A new partition, different from the current one.
                        let r = (rand::Rng::next_u64(&mut self.rng) % u64::from(n - 1)) as u32;
                        self.sticky_part = if r >= self.sticky_part { r + 1 } else { r };
                    }
                }
                self.sticky_left -= 1;
                self.sticky_part
            }
        }
    }
}
