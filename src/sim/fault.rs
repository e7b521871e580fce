//! Faults, scheduled or random. On services: an instance (or every instance) crashes at
//! once and restarts after the fault's duration, or (`errors`) keeps running while every
//! attempt it ends fails, or runs slower (`slowdown`, `latency`). On producers: a
//! `poison` window. On brokers and links: see [`super::link`]. What a crash does to the service runtime is
//! generic (its work is gone); what the broker does about it (a Kafka group notices
//! after the session timeout and rebalances) is the broker's.

use super::Engine;
use super::message::Message;
use super::queue::Ev;
use super::service::{Effect, WorkState};
use super::trace::{NA32, NA64, TraceKind};
use crate::metrics::Cause;
use crate::model::{Channel, FaultKind, FaultTarget, Node};

/// A span of time a fault was under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSpan {
    /// The fault, by its place in the scenario.
    pub fault: usize,
    /// When it started, ns.
    pub from: u64,
    /// When it ended, ns, or none while it is under way.
    pub until: Option<u64>,
}

/// A poison window of a producer: messages it first sent in [from, until) fail
/// every attempt when their hash falls under `fraction`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Poison {
    pub fault: u32,
    pub producer: u32,
    pub from: u64,
    pub until: u64,
    pub fraction: f64,
    pub seed: u64,
}

impl Engine {
    /// Fault `f` starts (`start`) or ends.
    pub(crate) fn on_fault(&mut self, f: usize, start: bool) {
        let fault = self.model.faults[f];
        if start {
            self.faults_active += 1;
            self.links.effects[f].started += 1;
            self.links.since[f] = Some(self.now);
            self.links.spans.push(FaultSpan {
                fault: f,
                from: self.now,
                until: None,
            });
        } else {
            self.faults_active = self.faults_active.saturating_sub(1);
            if let Some(t) = self.links.since[f].take() {
                self.links.effects[f].active_s += self.now.saturating_sub(t) as f64 / 1e9;
            }
            if let Some(s) = self
                .links
                .spans
                .iter_mut()
                .rev()
                .find(|s| s.fault == f && s.until.is_none())
            {
                s.until = Some(self.now);
            }
        }
        match fault.target {
            FaultTarget::Service { service, instance } => {
                self.on_service_fault(f, service, instance, start);
                // Its retry topics' consumers run in the same instances.
                for k in 0..self.model.services[service].retry_copies.len() {
                    let copy = self.model.services[service].retry_copies[k];
                    self.on_service_fault(f, copy, instance, start);
                }
            }
            FaultTarget::Link {
                from: Node::Broker(c),
                to: Node::Service(g),
                instance,
                ..
            } if fault.kind == FaultKind::Latency && self.model.services[g].source == c => {
                // Latency on the delivery link: each fresh delivery's attempt waits for
                // it (a retry runs where the message already is).
                self.service_effect(f, g, instance, start, true);
            }
            FaultTarget::Producer(p) => self.on_poison(f, p, start),
            _ => self.on_link_fault(f, start),
        }
        self.schedule_fault_turn(f, start);
    }

    /// A latency or slowdown effect of fault `f` on service `g` (one instance, or
    /// every one) starts or ends; `first_only`: it delays a delivery's first attempt
    /// only.
    fn service_effect(
        &mut self,
        f: usize,
        g: usize,
        instance: Option<u32>,
        start: bool,
        first_only: bool,
    ) {
        let fault = self.model.faults[f];
        let targets = match instance {
            Some(i) => i as usize..i as usize + 1,
            None => 0..self.services[g].insts.len(),
        };
        let kind = if start {
            TraceKind::FaultStart
        } else {
            TraceKind::FaultEnd
        };
        let svc = &mut self.services[g];
        if start {
            svc.effects.push(Effect {
                fault: f as u32,
                instance,
                factor: fault.factor,
                delay: fault.delay,
                first_only,
                hits: 0,
            });
        } else if let Some(k) = svc.effects.iter().position(|e| e.fault == f as u32) {
            let e = svc.effects.remove(k);
            self.links.effects[f].delayed += e.hits;
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
    }

    /// A poison window of producer `p` opens or closes: while open, `fraction` of
    /// what it sends fails every attempt, wherever it goes.
    fn on_poison(&mut self, f: usize, p: usize, start: bool) {
        let kind = if start {
            TraceKind::FaultStart
        } else {
            TraceKind::FaultEnd
        };
        if start {
            let seed = crate::rng::stream_seed(
                self.model.seed,
                &format!(
                    "{}/poison>{}",
                    self.model.producers[p].name, self.model.faults[f].ordinal
                ),
            );
            self.poison.push(Poison {
                fault: f as u32,
                producer: p as u32,
                from: self.now,
                until: u64::MAX,
                fraction: self.model.faults[f].fraction,
                seed,
            });
        } else if let Some(w) = self
            .poison
            .iter_mut()
            .rev()
            .find(|w| w.fault == f as u32 && w.until == u64::MAX)
        {
            w.until = self.now;
        }
        let comp = self.plan.producer_comp + p as u32;
        self.tracer
            .rec(self.now, kind, comp, NA32, None, NA32, NA64, NA32);
    }

    /// The poison fault whose window `msg` was first sent in and whose share it falls
    /// in, if any.
    #[inline(never)]
    pub(crate) fn poisoned(&self, msg: &Message) -> Option<u32> {
        let p = msg.origin()? as u32;
        self.poison
            .iter()
            .find(|w| {
                w.producer == p
                    && w.from <= msg.origin_at
                    && msg.origin_at < w.until
                    && crate::rng::unit_from_hash(w.seed ^ msg.msg) < w.fraction
            })
            .map(|w| w.fault)
    }

    /// A fault on service `g` (`instance`, or every one) starts or ends.
    fn on_service_fault(&mut self, f: usize, g: usize, instance: Option<u32>, start: bool) {
        let fault = self.model.faults[f];
        let targets = match instance {
            Some(i) => i as usize..i as usize + 1,
            None => 0..self.services[g].insts.len(),
        };
        if fault.kind == FaultKind::Crash && self.model.services[g].function.is_some() {
            self.function_crash(f, g, instance, start);
        } else if matches!(fault.kind, FaultKind::Latency | FaultKind::Slowdown) {
            self.service_effect(f, g, instance, start, false);
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
                    inst.erroring_fault = f as u32;
                } else {
                    inst.erroring = inst.erroring.saturating_sub(1);
                }
                self.tr_instance(kind, g, i as u32);
            }
        } else if start {
            for i in targets {
                self.crash(g, i, f);
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
                inst.gate = false;
                any = true;
                let now = self.now;
                if let Some(b) = self.services[g].breakers.get_mut(i) {
                    // A restarted process starts with a closed breaker.
                    b.reset(now);
                }
                let inst = &mut self.services[g].insts[i];
                let incarnation = inst.incarnation;
                match self.model.services[g].source {
                    Channel::Topic(_) => {
                        self.kafka_member_up(g, i, incarnation);
                        self.tr_instance(TraceKind::Restart, g, i as u32);
                    }
                    Channel::Queue(_)
                    | Channel::Pubsub(_)
                    | Channel::Exchange(_)
                    | Channel::Bus(_) => {
                        self.tr_instance(TraceKind::Restart, g, i as u32);
                        self.try_dispatch(g, i);
                    }
                }
            }
            if any && self.model.services[g].source.topic().is_some() {
                self.kafka_members_changed(g);
            }
        }
    }

    /// Fault `f` crashes the execution environments `targets` of function `g`, or
    /// they come back. A function has no process to stop: its invocations under way
    /// end at once with an error (Lambda's `Runtime.ExitError`), and while the crash
    /// lasts every invocation fails as it starts. The failures take the function's
    /// usual road: its retries, its batch's failure, its on-failure destination. The
    /// trace has one crash and one restart for the function (instance n/a), or for
    /// the one environment hit.
    fn function_crash(&mut self, f: usize, g: usize, instance: Option<u32>, start: bool) {
        let kind = if start {
            TraceKind::Crash
        } else {
            TraceKind::Restart
        };
        self.tr_instance(kind, g, instance.unwrap_or(NA32));
        let targets = match instance {
            Some(i) => i as usize..i as usize + 1,
            None => 0..self.services[g].insts.len(),
        };
        for i in targets.clone() {
            let inst = &mut self.services[g].insts[i];
            if start {
                inst.erroring += 1;
                inst.erroring_fault = f as u32;
                inst.degraded += 1;
                inst.crashed += 1;
            } else {
                inst.erroring = inst.erroring.saturating_sub(1);
                inst.degraded = inst.degraded.saturating_sub(1);
                inst.crashed = inst.crashed.saturating_sub(1);
            }
        }
        if !start {
            return;
        }
        for w in 0..self.services[g].works.len() as u32 {
            let work = &mut self.services[g].works[w as usize];
            if work.state != WorkState::Running || !targets.contains(&(work.instance as usize)) {
                continue;
            }
            // Its pending end is moot: it ends now.
            work.token = work.token.wrapping_add(1);
            let token = work.token;
            self.links.effects[f].interrupted += 1;
            self.queue.push(
                self.now,
                Ev::Done {
                    service: g as u32,
                    work: w,
                    token,
                },
            );
        }
    }

    /// After fault `f` started or ended: its end (a scheduled fault with a duration),
    /// or its next turn (a random fault).
    fn schedule_fault_turn(&mut self, f: usize, start: bool) {
        let fault = self.model.faults[f];
        match fault.random {
            // A random fault lasts Exp(mttr), then comes back after Exp(mtbf).
            Some((mtbf, mttr)) => {
                let (mean, ev) = if start {
                    (mttr, Ev::FaultEnd { fault: f as u32 })
                } else {
                    (mtbf, Ev::FaultStart { fault: f as u32 })
                };
                let at = self.fault_gap(f, mean, self.now);
                if let Some(at) = at {
                    self.queue.push(at, ev);
                }
                self.links.turn[f] = at;
            }
            None => {
                let end = fault
                    .duration
                    .filter(|_| start)
                    .map(|d| self.now.saturating_add(d.0));
                if let Some(at) = end {
                    self.queue.push(at, Ev::FaultEnd { fault: f as u32 });
                }
                self.links.turn[f] = end;
            }
        }
    }

    /// Every span of time a fault was under way so far, in order of start (one still
    /// under way has no end yet).
    pub fn fault_spans(&self) -> &[FaultSpan] {
        &self.links.spans
    }

    /// Fault `f` now: under way since a time, or not; and when it next ends (under
    /// way) or starts (idle), if it does before the run ends.
    pub fn fault_now(&self, f: usize) -> (Option<u64>, Option<u64>) {
        (
            self.links.since.get(f).copied().flatten(),
            self.links.turn.get(f).copied().flatten(),
        )
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
    fn crash(&mut self, g: usize, i: usize, f: usize) {
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
                self.links.effects[f].interrupted += 1;
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
            Channel::Queue(q) if self.is_rabbit(q) => self.rabbit_member_down(g, i),
            Channel::Queue(_) => self.sqs_member_down(g, i),
            Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_) => {}
        }
    }
}
