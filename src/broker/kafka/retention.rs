//! Retention, as scheduled events: each partition keeps one timer at the instant its
//! oldest record passes the topic's retention. When it fires, records older than
//! retention are deleted whatever their state, as Kafka does, and every service that
//! never got them counts them as expired; work in progress on a deleted record is
//! accounted for when it ends (the ledger outlives the log). Kafka deletes whole
//! segments, checked every 5 minutes; edasim deletes record by record at the exact
//! instant, so results do not depend on when anything else happens. (A producer's resend
//! keeps its original's time but is appended later; behind a younger record it is
//! deleted when it reaches the front, up to a request timeout late.)
//!
//! Compaction is apart from retention and changes no outcome: records below every
//! group's committed offset, and held by no work item, can never be read again and are
//! dropped, so memory follows lag, not duration. An append looks for such a prefix
//! whenever its partition has doubled since the last look (amortised O(1)).

use crate::broker::Lease;
use crate::metrics::{AnomalyKind, Cause};
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::queue::{Ev, KafkaTimer};
use crate::sim::service::{Work, WorkState};
use crate::sim::trace::{NA32, TraceKind};

/// A partition is not compacted before it holds this many records.
const COMPACT_MIN: usize = 256;

impl Engine {
    /// The retention timer of partition `p` of topic `t` fires.
    pub(crate) fn on_retention(&mut self, t: usize, p: usize) {
        self.kafka.topics[t].parts[p].retention_armed = false;
        self.retain(t, p, true);
        self.arm_retention(t, p);
    }

    /// Schedules partition `p`'s retention timer for its oldest record, unless one is
    /// pending or the partition is empty.
    pub(crate) fn arm_retention(&mut self, t: usize, p: usize) {
        let retention = self.model.topics[t].retention.0;
        let log = &mut self.kafka.topics[t].parts[p];
        if retention == 0 || log.retention_armed {
            return;
        }
        let Some(front) = log.recs.front() else {
            return;
        };
        // Deleted once strictly older than retention.
        let at = front
            .produced_at
            .saturating_add(retention)
            .saturating_add(1)
            .max(self.now);
        log.retention_armed = true;
        if at >= self.model.duration.0 {
            // Past the end of the run: it would never fire, so it takes no heap slot. The
            // partition stays armed: every later record is at least as young (but for a
            // resend, deleted at the front up to a request timeout late, as above).
            return;
        }
        self.queue.push(
            at,
            Ev::Kafka {
                timer: KafkaTimer::Retention,
                group: t as u32,
                instance: p as u32,
                stamp: 0,
            },
        );
    }

    /// Drops the consumed prefix of partition `p` of topic `t`.
    pub(crate) fn compact(&mut self, t: usize, p: usize) {
        self.retain(t, p, false);
        let log = &mut self.kafka.topics[t].parts[p];
        log.compact_at = (log.recs.len() * 2).max(COMPACT_MIN);
    }

    /// Drops the consumed prefix of partition `p`, and with `expire` deletes the records
    /// at its front that are older than retention.
    fn retain(&mut self, t: usize, p: usize, expire: bool) {
        let retention = self.model.topics[t].retention.0;
        let cutoff = self.now.saturating_sub(retention);
        let floor = self.model.topics[t]
            .readers
            .iter()
            .map(|&g| {
                let gp = &self.kafka.groups[g].parts[p];
                gp.committed.min(gp.base)
            })
            .min();
        let log = &self.kafka.topics[t].parts[p];
        let expire = expire
            && retention > 0
            && self.now >= retention
            && log.recs.front().is_some_and(|f| f.produced_at < cutoff);
        if !expire && floor.is_none_or(|k| k <= log.base) {
            return; // nothing to drop, nothing old: no need to look at the work items
        }
        if expire {
            self.index_holds(t);
        }
        let held = self.lowest_held(t, p);
        let keep_from = floor.map(|k| k.min(held));
        // Records every group has committed past can never be read again: drop them
        // in one go.
        if let Some(k) = keep_from {
            let log = &mut self.kafka.topics[t].parts[p];
            let n = k.saturating_sub(log.base).min(log.recs.len() as u64);
            if n > 0 {
                log.recs.drain(..n as usize);
                log.base += n;
            }
        }
        if expire {
            let mut deleted = false;
            loop {
                let log = &self.kafka.topics[t].parts[p];
                let Some(front) = log.recs.front().copied() else {
                    break;
                };
                if front.produced_at >= cutoff {
                    break;
                }
                let off = log.base;
                self.expire_record(t, p, off, &front);
                let log = &mut self.kafka.topics[t].parts[p];
                log.recs.pop_front();
                log.base += 1;
                deleted = true;
            }
            if deleted {
                self.skip_deleted(t, p);
            }
        }
    }

    /// Every reader of topic `t` keeps the index of the offsets its work items hold
    /// (from now on: retention deletes records, and may do so for every record).
    fn index_holds(&mut self, t: usize) {
        let parts = self.kafka.topics[t].parts.len();
        for &g in &self.model.topics[t].readers {
            let svc = &mut self.services[g];
            if svc.holds.is_on() {
                continue;
            }
            let held = svc.works.iter().filter_map(|w| match w.lease {
                Lease::Kafka { partition, offset } if w.state != WorkState::Free => {
                    Some((partition, offset))
                }
                _ => None,
            });
            svc.holds.switch_on(parts, held);
        }
    }

    /// The lowest offset of partition `p` of topic `t` that a live work item of any
    /// reader holds (`u64::MAX` if none), from the index where a reader keeps one and
    /// by looking at its work items where it does not.
    fn lowest_held(&self, t: usize, p: usize) -> u64 {
        let mut lowest = u64::MAX;
        for &g in &self.model.topics[t].readers {
            let svc = &self.services[g];
            let held = if svc.holds.is_on() {
                svc.holds.lowest(p)
            } else {
                svc.works
                    .iter()
                    .filter(|w| w.state != WorkState::Free)
                    .filter_map(|w| match w.lease {
                        Lease::Kafka { partition, offset } if partition as usize == p => {
                            Some(offset)
                        }
                        _ => None,
                    })
                    .min()
            };
            lowest = lowest.min(held.unwrap_or(u64::MAX));
        }
        lowest
    }

    /// Groups whose position fell below the log start of partition `p` move up to it
    /// (auto.offset.reset = earliest); parked records that retention deleted were
    /// counted as expired, so their offsets complete and the committed prefix can move
    /// on.
    fn skip_deleted(&mut self, t: usize, p: usize) {
        let start = self.kafka.topics[t].parts[p].base;
        for &g in &self.model.topics[t].readers {
            // The owner's fetch moves up to the new log start.
            self.kafka.groups[g].mark(p as u32);
            let gp = &mut self.kafka.groups[g].parts[p];
            if gp.waiting.front().is_some_and(|&o| o < start) {
                let base = gp.base;
                gp.parked_clean = false;
                gp.waiting.retain(|&o| {
                    if o < start {
                        if let Some(i) = o.checked_sub(base) {
                            gp.done.set(i);
                        }
                        false
                    } else {
                        true
                    }
                });
                gp.pop_completed();
            }
            if gp.next_fetch < start && gp.active == 0 && gp.waiting.is_empty() {
                gp.next_fetch = start;
                gp.base = start;
                gp.done.clear();
                gp.committed = gp.committed.max(start);
            }
        }
    }

    /// Retention deletes `rec`: every service that has not accounted for it and holds no
    /// work on it (unfetched, parked behind its key, or abandoned by a crashed
    /// instance) will never process it: expired. Work in progress on it is accounted
    /// for when it ends.
    fn expire_record(&mut self, t: usize, p: usize, off: u64, rec: &Message) {
        if rec.is_copy() {
            return;
        }
        for k in 0..self.model.topics[t].readers.len() {
            let g = self.model.topics[t].readers[k];
            // Readers keep the index while retention deletes ([`Self::index_holds`]).
            let held = self.services[g].holds.holds(p, off);
            if held || self.services[g].ledger.is_settled(rec.entry) {
                continue;
            }
            self.services[g].ledger.settle(rec.entry, self.now);
            self.services[g].c.expired += 1;
            let lease = Lease::Kafka {
                partition: p as u32,
                offset: off,
            };
            let work = Work::detached(lease, *rec);
            self.note(AnomalyKind::Expired, g, &work, 0, Cause::Retention);
            let comp = self.plan.service_comp + g as u32;
            self.tracer.rec(
                self.now,
                TraceKind::Expire,
                comp,
                NA32,
                Some(rec),
                p as u32,
                off,
                NA32,
            );
        }
        self.kafka.topics[t].c.expired += 1;
    }
}
