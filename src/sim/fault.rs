//! Scheduled faults on services: an instance (or every instance) crashes at once and
//! restarts after the fault's duration, or (`errors`) keeps running while every attempt
//! it ends fails. What a crash does to the service runtime is
//! generic (its work is gone); what the broker does about it (a Kafka group notices
//! after the session timeout and rebalances) is the broker's.

use super::Engine;
use super::queue::Ev;
use super::service::{Effect, WorkState};
use super::trace::TraceKind;
use crate::metrics::Cause;
use crate::model::{Channel, FaultKind};

impl Engine {
    /// Fault `f` starts (`start`) or ends.
    pub(crate) fn on_fault(&mut self, f: usize, start: bool) {
        let fault = self.model.faults[f];
        let g = fault.service;
        let targets = match fault.instance {
            Some(i) => i as usize..i as usize + 1,
            None => 0..self.services[g].insts.len(),
        };
        if start {
            self.faults_active += 1;
        } else {
            self.faults_active = self.faults_active.saturating_sub(1);
        }
        if matches!(fault.kind, FaultKind::Latency | FaultKind::Slowdown) {
            let kind = if start {
                TraceKind::FaultStart
            } else {
                TraceKind::FaultEnd
            };
            let svc = &mut self.services[g];
            if start {
                svc.effects.push(Effect {
                    fault: f as u32,
                    instance: fault.instance,
                    factor: fault.factor,
                    delay: fault.delay,
                });
            } else {
                svc.effects.retain(|e| e.fault != f as u32);
            }
            for i in targets {
                let inst = &mut self.services[g].insts[i];
                if start {
                    inst.degraded += 1;
                } else {
                    inst.degraded = inst.degraded.saturating_sub(1);
                }
                self.tr_instance(kind, g, i as u32);
            }
        } else if fault.kind == FaultKind::Errors {
            let kind = if start {
                TraceKind::FaultStart
            } else {
                TraceKind::FaultEnd
            };
            for i in targets {
                let inst = &mut self.services[g].insts[i];
                if start {
                    inst.erroring += 1;
                } else {
                    inst.erroring = inst.erroring.saturating_sub(1);
                }
                self.tr_instance(kind, g, i as u32);
            }
        } else if start {
            for i in targets {
                self.crash(g, i);
            }
        } else {
            let mut any = false;
            for i in targets {
                let inst = &mut self.services[g].insts[i];
                if inst.alive {
                    continue;
                }
                inst.alive = true;
                inst.incarnation = inst.incarnation.wrapping_add(1);
                any = true;
                let incarnation = inst.incarnation;
                match self.model.services[g].source {
                    Channel::Topic(_) => {
                        self.kafka_member_up(g, i, incarnation);
                        self.tr_instance(TraceKind::Restart, g, i as u32);
                    }
                    Channel::Queue(_) | Channel::Pubsub(_) => {
                        self.tr_instance(TraceKind::Restart, g, i as u32);
                        self.try_dispatch(g, i);
                    }
                }
            }
            if any && self.model.services[g].source.topic().is_some() {
                self.kafka_members_changed(g);
            }
        }
        match fault.random {
            // A random fault lasts Exp(mttr), then comes back after Exp(mtbf).
            Some((mtbf, mttr)) => {
                let (mean, ev) = if start {
                    (mttr, Ev::FaultEnd { fault: f as u32 })
                } else {
                    (mtbf, Ev::FaultStart { fault: f as u32 })
                };
                if let Some(at) = self.fault_gap(f, mean, self.now) {
                    self.queue.push(at, ev);
                }
            }
            None => {
                if start && let Some(d) = fault.duration {
                    self.queue.push(
                        self.now.saturating_add(d.0),
                        Ev::FaultEnd { fault: f as u32 },
                    );
                }
            }
        }
    }

    /// `from` plus an exponential time of mean `mean_ns` from fault `f`'s stream, or
    /// `None` past the end of the run (nothing more happens to it).
    pub(crate) fn fault_gap(&mut self, f: usize, mean_ns: u64, from: u64) -> Option<u64> {
        let gap = super::draw::exp_gap(1.0 / mean_ns as f64, &mut self.fault_rngs[f]);
        let at = if gap >= u64::MAX as f64 {
            u64::MAX
        } else {
            from.saturating_add(gap.ceil() as u64)
        };
        (at < self.model.duration.0).then_some(at)
    }

    /// Instance `i` of service `g` stops at once: its work is gone (lost for good if
    /// the broker will not deliver it again), and the broker is told.
    fn crash(&mut self, g: usize, i: usize) {
        if !self.services[g].insts[i].alive {
            return;
        }
        self.tr_instance(TraceKind::Crash, g, i as u32);
        let cause = Cause::CommittedBeforeCrash(self.now);
        for w in 0..self.services[g].works.len() as u32 {
            let work = self.services[g].works[w as usize];
            if work.state == WorkState::Free || work.instance != i as u32 {
                continue;
            }
            if work.state == WorkState::Running {
                self.services[g].running -= 1;
            }
            if !work.stale {
                self.release(g, &work);
            }
            self.free_work(g, w);
            self.abandon(g, &work, cause);
        }
        let inst = &mut self.services[g].insts[i];
        inst.alive = false;
        inst.busy = 0;
        inst.ready.clear();
        inst.incarnation = inst.incarnation.wrapping_add(1);
        let incarnation = inst.incarnation;
        match self.model.services[g].source {
            Channel::Topic(_) => self.kafka_member_down(g, i, incarnation, cause),
            Channel::Queue(_) => self.sqs_member_down(g, i),
            Channel::Pubsub(_) => {}
        }
    }
}
