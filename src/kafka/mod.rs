//! Kafka's own algorithms, ported from the Java client so that edasim puts records and
//! partitions exactly where a real Kafka client would: the default partitioner's murmur2
//! and the consumer group assignors.

pub mod assignor;
pub mod partitioner;
