//! Which partition a record goes to. A producer's records follow the topic's
//! partitioner (murmur2 for keyed records as Kafka's default partitioner, sticky or
//! round robin otherwise); a service's dead letters and follow-up events follow the
//! rules below.

use crate::broker::Lease;
use crate::model::{KeyId, NO_KEY, PartitionerKind, TopicIdx};
use crate::sim::Engine;
use crate::sim::message::Message;

impl Engine {
    /// The partition of producer `p`'s next record with key `key`.
    pub(crate) fn producer_partition(&mut self, p: usize, key: KeyId) -> u32 {
        let topic = &self.model.topics[self.model.producers[p].topic];
        let n = topic.partitions;
        let ps = &mut self.producers[p];
        let keyed = key != NO_KEY;
        match topic.partitioner {
            PartitionerKind::Murmur2 if keyed => self.model.keys.hashes[key as usize] % n,
            PartitionerKind::RoundRobin => {
                let part = ps.rr % n;
                ps.rr = ps.rr.wrapping_add(1);
                part
            }
            PartitionerKind::Murmur2 | PartitionerKind::Sticky => {
                if ps.sticky_left == 0 {
                    ps.sticky_left = topic.sticky_batch;
                    if n > 1 {
                        // A new partition, different from the current one.
                        let r = (rand::Rng::next_u64(&mut ps.part_rng) % u64::from(n - 1)) as u32;
                        ps.sticky_part = if r >= ps.sticky_part { r + 1 } else { r };
                    }
                }
                ps.sticky_left -= 1;
                ps.sticky_part
            }
        }
    }

    /// The partition of dead-letter topic `dlq` for `m`, taken from `lease`: keyed
    /// records by their key's hash, others by their source partition.
    pub(crate) fn dead_letter_partition(&self, dlq: TopicIdx, m: &Message, lease: &Lease) -> u32 {
        let n = self.model.topics[dlq].partitions;
        if m.key != NO_KEY {
            self.model.keys.hashes[m.key as usize] % n
        } else {
            lease.partition().unwrap_or(0) % n
        }
    }

    /// The partition of `topic` for a follow-up event `m` of the record behind `lease`:
    /// by key hash under murmur2, else the source partition.
    pub(crate) fn emitted_partition(&self, topic: TopicIdx, m: &Message, lease: &Lease) -> u32 {
        let t = &self.model.topics[topic];
        let n = t.partitions;
        match t.partitioner {
            PartitionerKind::Murmur2 if m.key != NO_KEY => {
                self.model.keys.hashes[m.key as usize] % n
            }
            _ => lease.partition().unwrap_or(0) % n,
        }
    }
}
