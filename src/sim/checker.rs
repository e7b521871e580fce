//! The live checker: anomalies are noticed as they happen (a duplicate processing, an
//! ordering violation, a lost or expired message) and kept with the facts that explain
//! them. They are observations, never errors.

use std::collections::VecDeque;

use super::Engine;
use super::service::Work;
use crate::metrics::{Anomaly, AnomalyKind, Cause};
use crate::model::{NO_KEY, Ordering};

/// Most anomalies kept with their explanation (the counters count them all).
pub const ANOMALY_LOG_LIMIT: usize = 256;

/// Anomalies found so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Checker {
    /// The latest, at most [`ANOMALY_LOG_LIMIT`].
    pub anomalies: VecDeque<Anomaly>,
    /// The first of each kind and service, in time order.
    pub first: Vec<Anomaly>,
}

impl Engine {
    /// Keeps an anomaly of service `g` about `work`'s message.
    pub(crate) fn note(
        &mut self,
        kind: AnomalyKind,
        g: usize,
        work: &Work,
        other: u64,
        cause: Cause,
    ) {
        let (partition, offset) = work.lease.position();
        let a = Anomaly {
            time: self.now,
            kind,
            service: g as u32,
            msg: work.msg.msg,
            key: work.msg.key,
            other,
            partition,
            offset,
            cause,
        };
        let ch = &mut self.checker;
        if !ch
            .first
            .iter()
            .any(|f| f.kind == kind && f.service == g as u32)
        {
            ch.first.push(a);
        }
        if ch.anomalies.len() >= ANOMALY_LOG_LIMIT {
            ch.anomalies.pop_front();
        }
        ch.anomalies.push_back(a);
    }

    /// Ordering: same key and service, processed after a message produced later.
    #[inline]
    pub(crate) fn check_order(&mut self, g: usize, work: &Work) {
        if work.msg.key == NO_KEY {
            return;
        }
        let nkeys = self.model.keys.len();
        let svc = &mut self.services[g];
        if svc.key_last.len() < nkeys {
            svc.key_last.resize(nkeys, (0, 0));
        }
        let last = svc.key_last[work.msg.key as usize];
        if work.msg.produced_at < last.0 {
            svc.c.ordering_violations += 1;
            let spec = &self.model.services[g];
            let cause = if let Some(c) = work.redelivery() {
                c
            } else if work.msg.is_copy() {
                work.msg.copy_cause()
            } else if work.attempt > 1 {
                Cause::Retried(work.attempt)
            } else if spec.concurrency > 1 && spec.ordering == Ordering::Unordered {
                Cause::Concurrent
            } else if let Some(q) = spec.source.queue()
                && !self.model.queues[q].fifo
                && spec.instances * spec.concurrency > 1
            {
                Cause::CompetingConsumers
            } else {
                Cause::Upstream
            };
            self.note(AnomalyKind::OrderingViolation, g, work, last.1, cause);
        } else {
            svc.key_last[work.msg.key as usize] = (work.msg.produced_at, work.msg.msg);
        }
    }
}
