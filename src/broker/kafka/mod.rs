//! The Kafka-like broker: topics of partitioned, append-only logs, read by the consumer
//! group of every service whose source the topic is.
//!
//! - `partitioner.rs`, `assignor.rs`: Kafka's own algorithms, ported from the Java
//!   client so that records and partitions land exactly where a real client puts them
//!   (murmur2, Range, RoundRobin, CooperativeSticky);
//! - `partition.rs`: which partition a record goes to, on every path that writes one;
//! - `group.rs`: a service's consumer group: per partition its owner, fetch position,
//!   committed offset and the window of completed offsets (commits cover only the
//!   contiguous processed prefix), and key ordering;
//! - `rebalance.rs`: joins, crashes detected after the session timeout, eager and
//!   cooperative rebalances, revocation, auto-commit;
//! - `retention.rs`: deleting records nobody can read again, and old ones (expired).
//!
//! This file holds the logs and the broker operations the engine calls: publish
//! (`append`), `fetch`, `fate`, and the gauges (lag, depth).

pub mod assignor;
mod group;
pub(crate) mod holds;
mod partition;
pub mod partitioner;
mod rebalance;
mod retention;

use std::collections::VecDeque;

use crate::broker::Fate;
use crate::metrics::Counters;
use crate::model::{Model, TopicIdx};
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::trace::{NA32, TraceKind};
pub(crate) use group::Group;
pub use group::KEY_BUFFER_LIMIT;
pub(crate) use partition::Partitioner;

/// One partition's log: records from offset `base` on.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartLog {
    pub base: u64,
    pub recs: VecDeque<Message>,
    /// Length at which the next append looks for a consumed prefix to drop.
    pub compact_at: usize,
    /// A retention timer is pending for this partition.
    pub retention_armed: bool,
    /// Outages under way on it (its leader is gone): no fetch, no append.
    pub down: u32,
}

impl PartLog {
    /// The offset the next record gets.
    #[inline]
    pub fn end(&self) -> u64 {
        self.base + self.recs.len() as u64
    }

    /// The record at `off`, if it is still retained.
    #[inline]
    pub fn get(&self, off: u64) -> Option<&Message> {
        off.checked_sub(self.base)
            .and_then(|i| self.recs.get(i as usize))
    }
}

/// One topic.
#[derive(Clone, Debug, Default)]
pub(crate) struct Topic {
    pub parts: Vec<PartLog>,
    /// `produced` counts originals (and numbers them: a record's ledger entry),
    /// `copies` the rest, `expired` records retention deleted unconsumed.
    pub c: Counters,
}

/// Every topic, and the consumer group of every service (indexed by service).
#[derive(Clone, Debug)]
pub(crate) struct Kafka {
    pub topics: Vec<Topic>,
    pub groups: Vec<Group>,
    /// Rebalances completed, over every group.
    pub rebalances: u64,
}

impl Kafka {
    /// Empty topics and groups for `model`.
    pub fn new(model: &Model) -> Kafka {
        Kafka {
            topics: model
                .topics
                .iter()
                .map(|t| Topic {
                    parts: vec![PartLog::default(); t.partitions as usize],
                    c: Counters::default(),
                })
                .collect(),
            groups: model
                .services
                .iter()
                .map(|g| {
                    // A service that reads a queue has an empty group.
                    let parts = g.source.topic().map_or(0, |t| model.topics[t].partitions);
                    Group::new(g.instances, parts)
                })
                .collect(),
            rebalances: 0,
        }
    }

    /// What becomes of the record at (`partition`, `offset`) when service `g` drops it:
    /// a record still in the log at or above the committed offset is read again by
    /// whoever owns the partition next; one below it is lost; one retention deleted
    /// expired.
    pub fn fate(&self, model: &Model, g: usize, partition: u32, offset: u64) -> Fate {
        let Some(topic) = model.services[g].source.topic() else {
            return Fate::Deleted;
        };
        let in_log = self.topics[topic].parts[partition as usize]
            .get(offset)
            .is_some();
        let committed = self.groups[g].parts[partition as usize].committed;
        match (in_log, offset >= committed) {
            (true, true) => Fate::Redelivered,
            (true, false) => Fate::Lost,
            (false, _) => Fate::Deleted,
        }
    }
}

impl Engine {
    /// Publishes `msg` to a partition of `topic`: appends it, enters an original in the
    /// ledger of every service that reads the topic, and wakes the partition's owners.
    pub(crate) fn append(&mut self, topic: TopicIdx, partition: u32, msg: Message) -> u64 {
        let ts = &mut self.kafka.topics[topic];
        let copy = msg.is_copy();
        let msg = if copy {
            ts.c.copies += 1;
            msg
        } else {
            ts.c.produced += 1;
            Message {
                entry: ts.c.produced - 1,
                ..msg
            }
        };
        let log = &mut ts.parts[partition as usize];
        let offset = log.end();
        log.recs.push_back(msg);
        let (compact, arm) = (log.recs.len() >= log.compact_at, !log.retention_armed);
        let comp = self.plan.topic_comp + topic as u32;
        self.tracer.rec(
            self.now,
            TraceKind::Append,
            comp,
            NA32,
            Some(&msg),
            partition,
            offset,
            NA32,
        );
        for k in 0..self.model.topics[topic].readers.len() {
            let g = self.model.topics[topic].readers[k];
            if !copy {
                self.services[g].ledger.enter(msg.entry, self.now);
            }
            if let Some(owner) = self.kafka.groups[g].parts[partition as usize].owner {
                self.kafka.groups[g].mark(partition);
                self.try_dispatch(g, owner as usize);
            }
        }
        if compact {
            self.compact(topic, partition as usize);
        }
        if arm {
            self.arm_retention(topic, partition as usize);
        }
        offset
    }

    /// Service `g`'s lag in its topic: in total, the age of its oldest uncompleted
    /// record, and per partition (lag, age).
    pub(crate) fn group_lag(&self, g: usize) -> (u64, u64, Vec<(u64, u64)>) {
        let Some(topic) = self.model.services[g].source.topic() else {
            return (0, 0, Vec::new());
        };
        let mut total = 0;
        let mut oldest = 0;
        let mut per = Vec::with_capacity(self.kafka.groups[g].parts.len());
        for (p, gp) in self.kafka.groups[g].parts.iter().enumerate() {
            let log = &self.kafka.topics[topic].parts[p];
            let lag = log.end().saturating_sub(gp.committed);
            let first_open = gp.base.max(log.base);
            let age = match log.get(first_open) {
                Some(r) if first_open < log.end() => self.now.saturating_sub(r.produced_at),
                _ => 0,
            };
            total += lag;
            oldest = oldest.max(age);
            per.push((lag, age));
        }
        (total, oldest, per)
    }

    /// Records not yet consumed by every group (or still retained, for a topic nobody
    /// reads), and the age of the oldest.
    pub(crate) fn topic_depth(&self, t: usize) -> (u64, u64) {
        let readers = &self.model.topics[t].readers;
        let mut depth = 0;
        let mut oldest = 0;
        for (p, log) in self.kafka.topics[t].parts.iter().enumerate() {
            let from = readers
                .iter()
                .map(|&g| self.kafka.groups[g].parts[p].committed)
                .min()
                .unwrap_or(log.base)
                .max(log.base);
            depth += log.end().saturating_sub(from);
            if let Some(r) = log.get(from) {
                oldest = oldest.max(self.now.saturating_sub(r.produced_at));
            }
        }
        (depth, oldest)
    }

    /// Per partition of service `g`'s topic: (log end, committed, lag). For tests and
    /// the TUI.
    pub fn partition_offsets(&self, g: usize) -> Vec<(u64, u64, u64)> {
        let Some(topic) = self.model.services[g].source.topic() else {
            return Vec::new();
        };
        self.kafka.groups[g]
            .parts
            .iter()
            .enumerate()
            .map(|(p, gp)| {
                let end = self.kafka.topics[topic].parts[p].end();
                (end, gp.committed, end.saturating_sub(gp.committed))
            })
            .collect()
    }

    /// Which instance of service `g` owns each partition (None while unassigned).
    pub fn owners(&self, g: usize) -> Vec<Option<u32>> {
        self.kafka.groups[g]
            .parts
            .iter()
            .map(|gp| gp.owner)
            .collect()
    }

    /// Unaccounted originals the broker still holds for service `g`: in its topic's
    /// logs, or deleted from them while a work item still holds them. Conservation's
    /// `pending`, found by looking; equal to the ledger's count whenever nothing was
    /// dropped unaccounted.
    pub(crate) fn held_unaccounted(&self, g: usize) -> u64 {
        let topic = match self.model.services[g].source {
            crate::model::Channel::Topic(t) => t,
            crate::model::Channel::Queue(_) => return self.sqs_held_unaccounted(g),
            crate::model::Channel::Pubsub(_) | crate::model::Channel::Bus(_) => {
                return self.fn_held_unaccounted(g);
            }
            // No service reads an exchange.
            crate::model::Channel::Exchange(_) => return 0,
        };
        let ledger = &self.services[g].ledger;
        let open = |m: &Message| !m.is_copy() && !ledger.is_settled(m.entry);
        let in_logs: u64 = self.kafka.topics[topic]
            .parts
            .iter()
            .map(|log| log.recs.iter().filter(|m| open(m)).count() as u64)
            .sum();
        let mut deleted: Vec<u64> = self.services[g]
            .works
            .iter()
            .filter(|w| w.state != crate::sim::service::WorkState::Free && open(&w.msg))
            .filter(|w| {
                let (p, off) = w.lease.position();
                self.kafka.topics[topic].parts[p as usize]
                    .get(off)
                    .is_none()
            })
            .map(|w| w.msg.entry)
            .collect();
        deleted.sort_unstable();
        deleted.dedup();
        in_logs + deleted.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::{Engine, Options};

    /// Runs `text` to its end and returns its trace bytes; with `scan` every fetch
    /// looks at each partition its instance owns instead of following the ready set.
    fn trace_of(text: &str, scan: bool) -> Vec<u8> {
        let model = crate::scenario::load_str("t.toml", text)
            .unwrap_or_else(|e| panic!("{}", e.to_plain()));
        let mut e = Engine::new(
            model,
            Options {
                trace: true,
                ..Default::default()
            },
        );
        if scan {
            for g in &mut e.kafka.groups {
                g.scan_all = usize::MAX;
                g.reindex();
            }
        }
        e.run_to_end();
        assert!(!e.trace_overflowed());
        let names = e.component_names().to_vec();
        let recs = e.drain_trace();
        let mut out = Vec::new();
        crate::output::trace::write(&mut out, e.model(), &names, &recs).expect("trace");
        out
    }

    /// The ready set changes nothing but speed: with crashes, cooperative and eager
    /// rebalances, key ordering, retention deleting unconsumed records and retries,
    /// every event is the same as with a fetch that scans every partition.
    #[test]
    fn ready_set_fetches_what_a_full_scan_fetches() {
        let text = r#"
[scenario]
name = "ready"
seed = 11
duration = "8s"

[[producer]]
name = "p"
target = "t"
rate = { dist = "poisson", per_second = 4000 }
keys = { format = "k{}", count = 300, dist = "zipf", s = 1.1 }

[[topic]]
name = "t"
partitions = 150
retention = "400ms"

[[consumer]]
name = "keyed"
source = "t"
instances = 3
concurrency = 4
ordering = "key"
processing = { dist = "exponential", mean = "900us" }
commit = "auto"
failure_rate = 0.02
retry = { max_attempts = 3, backoff = "exponential", initial = "5ms", max = "50ms" }
emits = [{ event = "U", target = "u" }]

[[topic]]
name = "u"
partitions = 64

[[consumer]]
name = "serial"
source = "u"
instances = 2
ordering = "partition"
assignor = "cooperative-sticky"
processing = { dist = "exponential", mean = "400us" }

[[consumer]]
name = "slow"
source = "t"
instances = 4
concurrency = 8
ordering = "unordered"
processing = { dist = "exponential", mean = "20ms" }

[[fault]]
kind = "crash"
target = "keyed#1"
at = "2s"
duration = "1500ms"

[[fault]]
kind = "crash"
target = "serial#2"
at = "3s"
duration = "1s"
"#;
        let fast = trace_of(text, false);
        let scan = trace_of(text, true);
        assert!(
            fast.len() > 100_000,
            "too little happened: {} bytes",
            fast.len()
        );
        assert!(fast == scan, "the ready set changed the trace");
    }
}
