//! Retention: records below every group's committed offset (and held by no work item)
//! can never be read again and are dropped, so memory follows lag, not duration; records
//! older than the topic's retention are deleted whatever their state, as Kafka does, and
//! every service that never got them counts them as expired. Work in progress on a
//! deleted record is accounted for when it ends: the ledger outlives the log.

use crate::broker::Lease;
use crate::metrics::{AnomalyKind, Cause};
use crate::model::GroupIdx;
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::service::{Work, WorkState};
use crate::sim::trace::{NA32, TraceKind};

impl Engine {
    /// Deletes what retention deletes, in every topic.
    pub(crate) fn enforce_retention(&mut self) {
        for t in 0..self.kafka.topics.len() {
            self.enforce_topic_retention(t);
        }
    }

    fn enforce_topic_retention(&mut self, t: usize) {
        let retention = self.model.topics[t].retention.0;
        let cutoff = self.now.saturating_sub(retention);
        let groups = self.model.topics[t].groups.clone();
        let holds = self.holds(&groups);
        // A consumed record some work item still holds (in flight on a revoked
        // partition, say) stays until that work ends.
        let mut held = vec![u64::MAX; self.kafka.topics[t].parts.len()];
        for &(hp, off) in holds.iter().flatten() {
            let h = &mut held[hp as usize];
            *h = (*h).min(off);
        }
        // `p` indexes the logs, `held` and every group's partitions alike.
        #[allow(clippy::needless_range_loop)]
        for p in 0..self.kafka.topics[t].parts.len() {
            let held = held[p];
            let keep_from = groups
                .iter()
                .map(|&g| {
                    let gp = &self.kafka.groups[g].parts[p];
                    gp.committed.min(gp.base)
                })
                .min()
                .map(|k| k.min(held));
            // Records every group has committed past can never be read again:
            // drop them in one go.
            if let Some(k) = keep_from {
                let log = &mut self.kafka.topics[t].parts[p];
                let n = k.saturating_sub(log.base).min(log.recs.len() as u64);
                if n > 0 {
                    log.recs.drain(..n as usize);
                    log.base += n;
                }
            }
            loop {
                let log = &self.kafka.topics[t].parts[p];
                let Some(front) = log.recs.front().copied() else {
                    break;
                };
                let off = log.base;
                let consumed = keep_from.is_some_and(|k| off < k);
                let old = retention > 0 && self.now >= retention && front.produced_at < cutoff;
                if !consumed && !old {
                    break;
                }
                if !consumed {
                    self.expire_record(t, p, off, &front, &groups, &holds);
                }
                let log = &mut self.kafka.topics[t].parts[p];
                log.recs.pop_front();
                log.base += 1;
            }
            self.skip_deleted(t, p, &groups);
        }
    }

    /// Per group, the (partition, offset) of every live work item, sorted.
    fn holds(&self, groups: &[GroupIdx]) -> Vec<Vec<(u32, u64)>> {
        groups
            .iter()
            .map(|&g| {
                let mut mine: Vec<(u32, u64)> = self.services[g]
                    .works
                    .iter()
                    .filter(|w| w.state != WorkState::Free)
                    .map(|w| w.lease.position())
                    .collect();
                mine.sort_unstable();
                mine
            })
            .collect()
    }

    /// Groups whose position fell below the log start of partition `p` move up to it
    /// (auto.offset.reset = earliest); parked records that retention deleted were
    /// counted as expired, so their offsets complete and the committed prefix can move
    /// on.
    fn skip_deleted(&mut self, t: usize, p: usize, groups: &[GroupIdx]) {
        let start = self.kafka.topics[t].parts[p].base;
        for &g in groups {
            let gp = &mut self.kafka.groups[g].parts[p];
            if gp.waiting.front().is_some_and(|&o| o < start) {
                let base = gp.base;
                gp.parked_clean = false;
                gp.waiting.retain(|&o| {
                    if o < start {
                        if let Some(d) = o
                            .checked_sub(base)
                            .and_then(|i| gp.done.get_mut(i as usize))
                        {
                            *d = true;
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

    /// Retention deletes `rec`: every group that has not accounted for it and holds no
    /// work on it (unfetched, parked behind its key, or abandoned by a crashed
    /// instance) will never process it: expired. Work in progress on it is accounted
    /// for when it ends.
    fn expire_record(
        &mut self,
        t: usize,
        p: usize,
        off: u64,
        rec: &Message,
        groups: &[GroupIdx],
        holds: &[Vec<(u32, u64)>],
    ) {
        if rec.is_copy() {
            return;
        }
        for (k, &g) in groups.iter().enumerate() {
            let held = holds
                .get(k)
                .is_some_and(|h| h.binary_search(&(p as u32, off)).is_ok());
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
