//! Sagas: a business transaction over several services, each step a local transaction
//! with a compensation that undoes it. The saga's messages are ordinary messages on the
//! configured brokers (they queue, fail, retry, get lost and duplicated like any other);
//! what a message means to the service that processes it comes from the model
//! ([`crate::model::ServiceSagaRoles`]), and this module acts when the service runtime
//! ends one: after a success ([`Engine::saga_processed`]) or after its last attempt
//! failed ([`Engine::saga_gave_up`]).
//!
//! - Orchestrated: the coordinator, a service, processes a message that starts a saga
//!   and sends the first step's command to that step's service; the step's service
//!   runs it and replies (its success, or its failure when it declines or gives up);
//!   the coordinator sends the next command, or on a failure or a timeout compensates
//!   the completed steps one by one in reverse order. A timed-out command is sent
//!   again per the step's `retry`; a compensation that fails or times out is sent
//!   again per its `compensation_retry`, and when its last send fails the saga is
//!   `failed`.
//! - Choreographed: each step's service reacts to the event of the step before and
//!   emits its own; a failure event makes the step before compensate, whose
//!   compensated event makes the one before it compensate, down to the first. Nobody
//!   waits, so a lost event leaves its saga in progress.
//!
//! Each saga's state is kept here as a tracing system would see it (for the metrics
//! and the invariants); the participants decide only from what they were sent. A
//! saga is keyed by its correlation id, and forgotten when it ends: a message for a
//! saga that ended is stale and changes nothing.

use indexmap::IndexMap;

use super::Engine;
use super::message::Message;
use super::queue::Ev;
use super::service::Work;
use super::trace::{NA32, TraceKind};
use crate::metrics::Latency;
use crate::model::{Channel, EventIdx, KeyId, SagaRole};
use crate::rng::{self, Stream};

/// The high bit of a saga timer's stamp: the timer sends again (after a backoff);
/// without it, it is a timeout.
const RESEND: u32 = 1 << 31;
/// The next bit: the timer serves a step's deadline queue (`slot` is the queue).
const DEADLINES: u32 = 1 << 30;
/// The bits of a saga's stamp.
const STAMP: u32 = DEADLINES - 1;

/// A saga's next stamp.
#[inline]
fn next_stamp(s: u32) -> u32 {
    s.wrapping_add(1) & STAMP
}

/// A hasher for the saga index's (saga, id) keys: a multiply and a rotate. Nothing
/// iterates the index, so the hash never reaches output; SipHash's resistance to
/// chosen keys buys nothing here.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdBuild = std::hash::BuildHasherDefault<IdHasher>;

/// Where a saga stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Its steps run forward; `step` is the one under way.
    Running,
    /// It undoes its completed steps; `step` is the one being compensated.
    Compensating,
}

/// One saga under way.
#[derive(Clone, Copy, Debug)]
struct SagaInst {
    id: u64,
    origin_at: u64,
    started: u64,
    /// Steps completed and not compensated (bit per step).
    done: u64,
    /// Steps whose local transaction ran at least once (bit per step).
    executed: u64,
    key: KeyId,
    /// The origin bits of the message that started it (flow latency follows it).
    flags: u16,
    def: u16,
    step: u16,
    /// Sends of the current command or compensation so far.
    attempt: u16,
    /// The instance that started it: the coordinator's sends on a timer come from it.
    owner: u32,
    phase: Phase,
    /// Bumped at every change: an older timer is moot.
    stamp: u32,
}

impl SagaInst {
    /// A message of this saga carrying `event`, written at `now`.
    fn message(&self, event: EventIdx, now: u64) -> Message {
        Message {
            msg: self.id,
            produced_at: now,
            origin_at: self.origin_at,
            entry: 0,
            key: self.key,
            event,
            flags: self.flags,
        }
    }
}

/// Counts of one saga definition.
#[derive(Clone, Debug, Default)]
pub(crate) struct SagaStats {
    pub started: u64,
    pub completed: u64,
    pub compensated: u64,
    pub failed: u64,
    /// Messages that would have started a second saga with a running one's id (a
    /// coordinator or first step that is not idempotent processed a message twice).
    pub duplicate_starts: u64,
    /// A step's local transaction, or a compensation, run again for the same saga.
    pub duplicate_steps: u64,
    /// Messages for a saga that had ended, or for a step it no longer waited for.
    pub stale: u64,
    /// Steps that succeeded after the coordinator gave up on them (a timeout) with
    /// nothing left to undo them: the saga ended, or the step has no compensation.
    /// Their effect stays: the inconsistency a timeout can leave.
    pub orphaned: u64,
    /// Per step: sagas at it now, running forward.
    pub in_progress: Vec<u64>,
    /// Per step: sagas compensating it now.
    pub compensating: Vec<u64>,
    /// Per step: successes.
    pub done: Vec<u64>,
    /// Per step: failures (declined, given up, or timed out for good).
    pub failed_steps: Vec<u64>,
    /// Per step: compensations that succeeded.
    pub compensated_steps: Vec<u64>,
    /// Per step: replies that did not come in time.
    pub timeouts: Vec<u64>,
    /// Start to end of the sagas that ended (completed, compensated or failed).
    pub duration: Latency,
    /// The same, for this sampling interval.
    pub duration_interval: Latency,
    /// Started, completed, compensated and failed at the previous sample.
    pub prev: [u64; 4],
}

/// Every saga of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sagas {
    index: IndexMap<(u16, u64), u32, IdBuild>,
    /// Per saga definition and step (`first_step[def] + step`), the coordinator's
    /// deadlines for that step's replies: (time, slot, stamp). A step's timeout is
    /// the same for every send, so they come in order and one engine timer per queue
    /// serves them, instead of one pending event per send.
    deadlines: Vec<std::collections::VecDeque<(u64, u32, u32)>>,
    /// Per deadline queue, the time its engine timer is set for (`u64::MAX`: none).
    armed: Vec<u64>,
    /// Per saga definition, the index of its first step's deadline queue.
    first_step: Vec<u32>,
    slab: Vec<SagaInst>,
    free: Vec<u32>,
    pub stats: Vec<SagaStats>,
    /// Per saga definition, the coordinator's backoff stream.
    rngs: Vec<Stream>,
    /// Per saga definition and step, the seed of its decisions to decline.
    reject_seeds: Vec<Vec<u64>>,
}

impl Sagas {
    /// The sagas of `model`, none started.
    pub fn new(model: &crate::model::Model) -> Sagas {
        Sagas {
            stats: model
                .sagas
                .iter()
                .map(|s| {
                    let n = s.steps.len();
                    SagaStats {
                        in_progress: vec![0; n],
                        compensating: vec![0; n],
                        done: vec![0; n],
                        failed_steps: vec![0; n],
                        compensated_steps: vec![0; n],
                        timeouts: vec![0; n],
                        ..SagaStats::default()
                    }
                })
                .collect(),
            rngs: model
                .sagas
                .iter()
                .map(|s| rng::stream(model.seed, &s.name, "saga-backoff"))
                .collect(),
            reject_seeds: model
                .sagas
                .iter()
                .map(|s| {
                    s.steps
                        .iter()
                        .map(|st| {
                            rng::stream_seed(model.seed, &format!("{}/{}/reject", s.name, st.name))
                        })
                        .collect()
                })
                .collect(),
            deadlines: vec![
                std::collections::VecDeque::new();
                model.sagas.iter().map(|s| s.steps.len()).sum()
            ],
            armed: vec![u64::MAX; model.sagas.iter().map(|s| s.steps.len()).sum()],
            first_step: model
                .sagas
                .iter()
                .scan(0u32, |n, s| {
                    let first = *n;
                    *n += s.steps.len() as u32;
                    Some(first)
                })
                .collect(),
            ..Sagas::default()
        }
    }

    /// Moves saga `slot` to (`step`, `phase`) in the gauges.
    fn set(&mut self, slot: u32, step: u16, phase: Phase) {
        let inst = &mut self.slab[slot as usize];
        let st = &mut self.stats[inst.def as usize];
        match inst.phase {
            Phase::Running => st.in_progress[inst.step as usize] -= 1,
            Phase::Compensating => st.compensating[inst.step as usize] -= 1,
        }
        match phase {
            Phase::Running => st.in_progress[step as usize] += 1,
            Phase::Compensating => st.compensating[step as usize] += 1,
        }
        inst.step = step;
        inst.phase = phase;
        inst.attempt = 1;
        inst.stamp = next_stamp(inst.stamp);
    }
}

/// A saga trace record's outcome (its `offset` field carries the code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaOutcome {
    /// A saga started.
    Started,
    /// A step's command was sent (orchestrated) or its event emitted.
    Sent,
    /// A step succeeded.
    Done,
    /// A step failed: declined, or its service gave up.
    Failed,
    /// The coordinator's wait for a reply timed out.
    TimedOut,
    /// A step's compensation was sent.
    Compensate,
    /// A step's compensation succeeded.
    Compensated,
    /// A step's compensation failed.
    CompensationFailed,
    /// The saga completed every step.
    Completed,
    /// The saga undid every completed step.
    RolledBack,
    /// The saga could not undo a step: it is failed.
    Aborted,
    /// A step ran again for the same saga (a participant that is not idempotent).
    Duplicate,
}

impl SagaOutcome {
    const ALL: [SagaOutcome; 12] = [
        SagaOutcome::Started,
        SagaOutcome::Sent,
        SagaOutcome::Done,
        SagaOutcome::Failed,
        SagaOutcome::TimedOut,
        SagaOutcome::Compensate,
        SagaOutcome::Compensated,
        SagaOutcome::CompensationFailed,
        SagaOutcome::Completed,
        SagaOutcome::RolledBack,
        SagaOutcome::Aborted,
        SagaOutcome::Duplicate,
    ];

    /// Its name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            SagaOutcome::Started => "started",
            SagaOutcome::Sent => "sent",
            SagaOutcome::Done => "done",
            SagaOutcome::Failed => "failed",
            SagaOutcome::TimedOut => "timed_out",
            SagaOutcome::Compensate => "compensate",
            SagaOutcome::Compensated => "compensated",
            SagaOutcome::CompensationFailed => "compensation_failed",
            SagaOutcome::Completed => "saga_completed",
            SagaOutcome::RolledBack => "saga_compensated",
            SagaOutcome::Aborted => "saga_failed",
            SagaOutcome::Duplicate => "duplicate",
        }
    }

    /// The outcome a trace record's code stands for.
    pub fn from_code(code: u64) -> Option<SagaOutcome> {
        SagaOutcome::ALL.get(code as usize).copied()
    }

    fn code(self) -> u64 {
        SagaOutcome::ALL
            .iter()
            .position(|o| *o == self)
            .unwrap_or(0) as u64
    }
}

impl Engine {
    /// Service `g` processed `work` (a success, not suppressed): if the message is a
    /// saga's, the saga moves on. `first`: the service's first outcome for it.
    #[inline(never)]
    pub(crate) fn saga_processed(&mut self, g: usize, work: &Work, first: bool) {
        let Some((s, role)) = self.model.saga_roles[g].role(work.msg.event) else {
            return;
        };
        match role {
            SagaRole::Start if first => self.saga_start(s, g, work, true),
            SagaRole::Start => {
                if self.saga_slot(s, work.msg.msg).is_some() {
                    self.sagas.stats[s as usize].duplicate_starts += 1;
                }
            }
            SagaRole::Execute(k) => self.saga_execute(s, k, g, work, first, true),
            SagaRole::Compensate(k) => self.saga_compensate(s, k, g, work, first, true),
            SagaRole::Reply(k, ok) => self.saga_reply(s, k, ok, work, first),
            SagaRole::CompReply(k, ok) => self.saga_comp_reply(s, k, ok, work),
        }
    }

    /// Service `g` gave up on `work` for good (dead-lettered or lost): a step's
    /// command becomes the step's failure, a compensation's its failure.
    #[inline(never)]
    pub(crate) fn saga_gave_up(&mut self, g: usize, work: &Work) {
        let Some((s, role)) = self.model.saga_roles[g].role(work.msg.event) else {
            return;
        };
        match role {
            SagaRole::Start => {
                // The first step of a choreography gave up on the message that would
                // start it: the saga starts and fails at once at its first step. (A
                // coordinator that gives up starts nothing.)
                if self.model.sagas[s as usize].coordinator.is_none() {
                    self.saga_start(s, g, work, false);
                }
            }
            SagaRole::Execute(k) => self.saga_execute(s, k, g, work, true, false),
            SagaRole::Compensate(k) => self.saga_compensate(s, k, g, work, true, false),
            // The coordinator lost a reply: its timeout will notice.
            SagaRole::Reply(..) | SagaRole::CompReply(..) => {}
        }
    }

    fn saga_slot(&self, s: u16, id: u64) -> Option<u32> {
        self.sagas.index.get(&(s, id)).copied()
    }

    /// A saga of definition `s` starts from `work` at service `g` (its coordinator, or
    /// the first step of a choreography, which then runs that step).
    fn saga_start(&mut self, s: u16, g: usize, work: &Work, ok: bool) {
        let id = work.msg.msg;
        if self.saga_slot(s, id).is_some() {
            self.sagas.stats[s as usize].duplicate_starts += 1;
            return;
        }
        let inst = SagaInst {
            id,
            origin_at: work.msg.origin_at,
            started: self.now,
            done: 0,
            executed: 0,
            key: work.msg.key,
            flags: work.msg.written_flags(true),
            def: s,
            step: 0,
            attempt: 1,
            owner: work.instance,
            phase: Phase::Running,
            stamp: 0,
        };
        let slot = match self.sagas.free.pop() {
            Some(slot) => {
                // The stamp goes on from the slot's last saga, so that its timers stay
                // moot.
                let stamp = self.sagas.slab[slot as usize].stamp;
                self.sagas.slab[slot as usize] = SagaInst { stamp, ..inst };
                slot
            }
            None => {
                self.sagas.slab.push(inst);
                (self.sagas.slab.len() - 1) as u32
            }
        };
        self.sagas.index.insert((s, id), slot);
        let st = &mut self.sagas.stats[s as usize];
        st.started += 1;
        st.in_progress[0] += 1;
        self.tr_saga(slot, 0, SagaOutcome::Started, 1);
        if self.model.sagas[s as usize].coordinator.is_some() {
            self.saga_send(slot, g);
        } else if ok {
            self.saga_run_step(slot, 0, g, work.instance);
        } else {
            self.saga_step_failed(slot, 0, g, work.instance, true);
        }
    }

    /// The coordinator `g` sends saga `slot`'s current command (or, compensating, its
    /// current compensation), and waits.
    fn saga_send(&mut self, slot: u32, g: usize) {
        let inst = self.sagas.slab[slot as usize];
        let step = &self.model.sagas[inst.def as usize].steps[inst.step as usize];
        let (event, timeout) = match inst.phase {
            Phase::Running => (step.command, step.timeout),
            Phase::Compensating => match step.compensation {
                Some(c) => (c, step.timeout),
                None => return,
            },
        };
        let target = self.model.services[step.service].source;
        let outcome = match inst.phase {
            Phase::Running => SagaOutcome::Sent,
            Phase::Compensating => SagaOutcome::Compensate,
        };
        self.tr_saga(slot, inst.step, outcome, u32::from(inst.attempt));
        self.saga_write(g, inst.owner, &inst, event, target, true);
        let q = (self.sagas.first_step[inst.def as usize] + u32::from(inst.step)) as usize;
        let at = self.now.saturating_add(timeout);
        self.sagas.deadlines[q].push_back((at, slot, inst.stamp));
        if self.sagas.armed[q] == u64::MAX {
            self.sagas.armed[q] = at;
            self.queue.push(
                at,
                Ev::Saga {
                    slot: q as u32,
                    stamp: DEADLINES,
                },
            );
        }
    }

    /// Deadline queue `q`'s timer: the replies due by now that did not come time out;
    /// the timer is set again for the next deadline still awaited.
    fn on_saga_deadlines(&mut self, q: usize) {
        self.sagas.armed[q] = u64::MAX;
        while let Some(&(at, slot, stamp)) = self.sagas.deadlines[q].front() {
            let live = {
                let inst = &self.sagas.slab[slot as usize];
                inst.stamp == stamp && self.saga_slot(inst.def, inst.id) == Some(slot)
            };
            if !live {
                self.sagas.deadlines[q].pop_front();
                continue;
            }
            if at > self.now {
                self.sagas.armed[q] = at;
                self.queue.push(
                    at,
                    Ev::Saga {
                        slot: q as u32,
                        stamp: DEADLINES,
                    },
                );
                return;
            }
            self.sagas.deadlines[q].pop_front();
            self.saga_timed_out(slot);
        }
    }

    /// Service `g` writes the saga message `event` of `inst` to `target`: an original
    /// when `first`, else a copy.
    fn saga_write(
        &mut self,
        g: usize,
        instance: u32,
        inst: &SagaInst,
        event: EventIdx,
        target: Channel,
        first: bool,
    ) {
        let m = inst.message(event, self.now);
        let m = Message {
            flags: m.written_flags(first),
            ..m
        };
        let writer = self.services[g].writer_for(target);
        self.write(g, instance, writer, target, m, false);
    }

    /// Step `k` of saga definition `s` ran at service `g` (`ok`: processed; else its
    /// service gave up on it).
    fn saga_execute(&mut self, s: u16, k: u16, g: usize, work: &Work, first: bool, ok: bool) {
        let slot = self.saga_slot(s, work.msg.msg);
        if ok {
            // Its local transaction runs again (a second delivery, or a command sent
            // again whose first send ran too): a participant that is not idempotent
            // applies it twice.
            let again = slot.is_some_and(|x| self.sagas.slab[x as usize].executed & (1 << k) != 0);
            if !first || again {
                self.sagas.stats[s as usize].duplicate_steps += 1;
                if let Some(x) = slot {
                    self.tr_saga(x, k, SagaOutcome::Duplicate, work.attempt);
                }
            }
            if let Some(x) = slot {
                self.sagas.slab[x as usize].executed |= 1 << k;
            }
        }
        let declined = ok && self.saga_declines(s, k, work.msg.msg);
        match self.model.sagas[s as usize].coordinator {
            Some(c) => {
                // The participant replies to the coordinator from what it was sent,
                // whether or not the coordinator still waits for it.
                let step = &self.model.sagas[s as usize].steps[k as usize];
                let event = if ok && !declined {
                    step.done
                } else {
                    step.failed
                };
                let target = self.model.services[c].source;
                self.saga_reply_write(g, work, event, target, first);
            }
            None => {
                let Some(slot) = slot else {
                    // The saga ended: a second delivery after the end changes nothing
                    // more than its effect, counted above.
                    self.sagas.stats[s as usize].stale += 1;
                    return;
                };
                let inst = self.sagas.slab[slot as usize];
                if inst.phase != Phase::Running || inst.step != k {
                    self.sagas.stats[s as usize].stale += 1;
                    return;
                }
                if !ok || declined {
                    self.saga_step_failed(slot, k, g, work.instance, first);
                } else {
                    self.saga_step_done(slot, k, g, work.instance);
                }
            }
        }
    }

    /// Whether step `k` of saga definition `s` declines saga `id` (decided once per
    /// saga: a redelivery gets the same answer).
    fn saga_declines(&self, s: u16, k: u16, id: u64) -> bool {
        let p = self.model.sagas[s as usize].steps[k as usize].reject;
        p > 0.0 && rng::unit_from_hash(self.sagas.reject_seeds[s as usize][k as usize] ^ id) < p
    }

    /// Participant `g` replies `event` to `target` about the saga message of `work`.
    fn saga_reply_write(
        &mut self,
        g: usize,
        work: &Work,
        event: EventIdx,
        target: Channel,
        first: bool,
    ) {
        let m = Message {
            produced_at: self.now,
            entry: 0,
            event,
            flags: work.msg.written_flags(first),
            ..work.msg
        };
        let writer = self.services[g].writer_for(target);
        self.write(g, work.instance, writer, target, m, false);
    }

    /// A choreography's step `k` of saga `slot` runs at service `g` (the first step,
    /// from the message that started it).
    fn saga_run_step(&mut self, slot: u32, k: u16, g: usize, instance: u32) {
        let inst = self.sagas.slab[slot as usize];
        self.sagas.slab[slot as usize].executed |= 1 << k;
        if self.saga_declines(inst.def, k, inst.id) {
            self.saga_step_failed(slot, k, g, instance, true);
        } else {
            self.saga_step_done(slot, k, g, instance);
        }
    }

    /// Step `k` of saga `slot` succeeded (a choreography: at its service `g`; an
    /// orchestration: its reply reached the coordinator `g`): the next step, or the end.
    fn saga_step_done(&mut self, slot: u32, k: u16, g: usize, instance: u32) {
        let inst = self.sagas.slab[slot as usize];
        let s = inst.def as usize;
        let n = self.model.sagas[s].steps.len() as u16;
        self.sagas.stats[s].done[k as usize] += 1;
        self.sagas.slab[slot as usize].done |= 1 << k;
        self.tr_saga(slot, k, SagaOutcome::Done, u32::from(inst.attempt));
        if k + 1 == n {
            self.saga_end(slot, SagaOutcome::Completed);
            return;
        }
        self.sagas.set(slot, k + 1, Phase::Running);
        match self.model.sagas[s].coordinator {
            Some(_) => self.saga_send(slot, g),
            None => {
                // Emit the step's event to the next step's service.
                let next = &self.model.sagas[s].steps[k as usize + 1];
                let target = self.model.services[next.service].source;
                let event = self.model.sagas[s].steps[k as usize].done;
                let inst = self.sagas.slab[slot as usize];
                self.tr_saga(slot, k + 1, SagaOutcome::Sent, 1);
                self.saga_write(g, instance, &inst, event, target, true);
            }
        }
    }

    /// Step `k` of saga `slot` failed: compensation starts.
    fn saga_step_failed(&mut self, slot: u32, k: u16, g: usize, instance: u32, first: bool) {
        let inst = self.sagas.slab[slot as usize];
        let s = inst.def as usize;
        let _ = first;
        if inst.phase != Phase::Running || inst.step != k {
            self.sagas.stats[s].stale += 1;
            return;
        }
        self.sagas.stats[s].failed_steps[k as usize] += 1;
        self.tr_saga(slot, k, SagaOutcome::Failed, u32::from(inst.attempt));
        self.saga_compensate_next(slot, g, instance, Some(k));
    }

    /// Saga `slot` compensates its latest completed step that has something to undo
    /// (below `failed`, in a choreography, whose failure event goes to it), or, with
    /// none left, ends as compensated.
    fn saga_compensate_next(&mut self, slot: u32, g: usize, instance: u32, failed: Option<u16>) {
        let inst = self.sagas.slab[slot as usize];
        let s = inst.def as usize;
        let steps = &self.model.sagas[s].steps;
        let undoable = (0..steps.len())
            .rev()
            .find(|&j| inst.done & (1 << j) != 0 && steps[j].compensation.is_some());
        let Some(j) = undoable else {
            self.saga_end(slot, SagaOutcome::RolledBack);
            return;
        };
        self.sagas.set(slot, j as u16, Phase::Compensating);
        match self.model.sagas[s].coordinator {
            Some(_) => self.saga_send(slot, g),
            None => {
                // The failure event (or the compensated event of the step after)
                // reaches the step's service, which undoes it.
                let event = match failed {
                    Some(k) => steps[k as usize].failed,
                    None => steps[inst.step as usize].compensated,
                };
                let target = self.model.services[steps[j].service].source;
                let inst = self.sagas.slab[slot as usize];
                self.tr_saga(slot, j as u16, SagaOutcome::Compensate, 1);
                self.saga_write(g, instance, &inst, event, target, true);
            }
        }
    }

    /// Step `k`'s compensation ran at service `g` (`ok`: processed; else its service
    /// gave up on it).
    fn saga_compensate(&mut self, s: u16, k: u16, g: usize, work: &Work, first: bool, ok: bool) {
        if let Some(c) = self.model.sagas[s as usize].coordinator {
            let step = &self.model.sagas[s as usize].steps[k as usize];
            let event = if ok {
                step.compensated
            } else {
                step.comp_failed
            };
            let target = self.model.services[c].source;
            self.saga_reply_write(g, work, event, target, first);
            return;
        }
        let Some(slot) = self.saga_slot(s, work.msg.msg) else {
            let st = &mut self.sagas.stats[s as usize];
            st.stale += 1;
            // In a choreography a compensation reaches a step only once its saga
            // undoes it: after the end it is a second delivery.
            st.duplicate_steps += u64::from(ok);
            return;
        };
        let inst = self.sagas.slab[slot as usize];
        match self.model.sagas[s as usize].coordinator {
            Some(_) => {}
            None => {
                if inst.phase != Phase::Compensating || inst.step != k {
                    self.sagas.stats[s as usize].stale += 1;
                    if ok {
                        self.sagas.stats[s as usize].duplicate_steps += 1;
                        self.tr_saga(slot, k, SagaOutcome::Duplicate, work.attempt);
                    }
                    return;
                }
                if ok {
                    self.saga_undone(slot, k, g, work.instance);
                } else {
                    self.tr_saga(slot, k, SagaOutcome::CompensationFailed, work.attempt);
                    self.saga_end(slot, SagaOutcome::Aborted);
                }
            }
        }
    }

    /// Step `k` of saga `slot` is undone: the next compensation, or the end.
    fn saga_undone(&mut self, slot: u32, k: u16, g: usize, instance: u32) {
        let s = self.sagas.slab[slot as usize].def as usize;
        self.sagas.stats[s].compensated_steps[k as usize] += 1;
        self.sagas.slab[slot as usize].done &= !(1 << k);
        let attempt = self.sagas.slab[slot as usize].attempt;
        self.tr_saga(slot, k, SagaOutcome::Compensated, u32::from(attempt));
        self.saga_compensate_next(slot, g, instance, None);
    }

    /// The coordinator hears how step `k` went.
    fn saga_reply(&mut self, s: u16, k: u16, ok: bool, work: &Work, first: bool) {
        let Some(slot) = self.saga_slot(s, work.msg.msg) else {
            let st = &mut self.sagas.stats[s as usize];
            st.stale += 1;
            // The first success of a step whose saga ended meanwhile (a copy is a
            // duplicate of a reply already counted).
            st.orphaned += u64::from(ok && first && !work.msg.is_copy());
            return;
        };
        let inst = self.sagas.slab[slot as usize];
        let c = self.model.sagas[s as usize].coordinator.unwrap_or(0);
        if inst.phase == Phase::Running && inst.step == k {
            if ok {
                self.saga_step_done(slot, k, c, work.instance);
            } else {
                self.saga_step_failed(slot, k, c, work.instance, true);
            }
        } else if ok
            && inst.phase == Phase::Compensating
            && inst.done & (1 << k) == 0
            && k > inst.step
        {
            // A success after its timeout, while the saga undoes what came before:
            // the step did complete, so it is undone too (if it can be).
            self.sagas.stats[s as usize].done[k as usize] += 1;
            self.tr_saga(slot, k, SagaOutcome::Done, u32::from(inst.attempt));
            if self.model.sagas[s as usize].steps[k as usize]
                .compensation
                .is_some()
            {
                self.sagas.slab[slot as usize].done |= 1 << k;
            } else {
                self.sagas.stats[s as usize].orphaned += 1;
            }
        } else {
            self.sagas.stats[s as usize].stale += 1;
        }
    }

    /// The coordinator hears how step `k`'s compensation went.
    fn saga_comp_reply(&mut self, s: u16, k: u16, ok: bool, work: &Work) {
        let Some(slot) = self.saga_slot(s, work.msg.msg) else {
            self.sagas.stats[s as usize].stale += 1;
            return;
        };
        let inst = self.sagas.slab[slot as usize];
        if inst.phase != Phase::Compensating || inst.step != k {
            self.sagas.stats[s as usize].stale += 1;
            return;
        }
        let c = self.model.sagas[s as usize].coordinator.unwrap_or(0);
        if ok {
            self.saga_undone(slot, k, c, work.instance);
        } else {
            self.tr_saga(
                slot,
                k,
                SagaOutcome::CompensationFailed,
                u32::from(inst.attempt),
            );
            self.saga_retry_or(slot, c, work.instance);
        }
    }

    /// The coordinator's current send of saga `slot` failed or timed out: it sends
    /// again after its backoff while sends remain; then a command counts as failed
    /// (compensation starts) and a compensation leaves the saga failed.
    fn saga_retry_or(&mut self, slot: u32, c: usize, instance: u32) {
        let inst = self.sagas.slab[slot as usize];
        let s = inst.def as usize;
        let step = &self.model.sagas[s].steps[inst.step as usize];
        let policy = match inst.phase {
            Phase::Running => step.retry,
            Phase::Compensating => step.compensation_retry,
        };
        if u32::from(inst.attempt) < policy.max_attempts {
            let delay =
                super::draw::backoff(&policy, u32::from(inst.attempt), &mut self.sagas.rngs[s]);
            let i = &mut self.sagas.slab[slot as usize];
            i.attempt += 1;
            i.stamp = next_stamp(i.stamp);
            let stamp = i.stamp | RESEND;
            self.queue
                .push(self.now.saturating_add(delay), Ev::Saga { slot, stamp });
            return;
        }
        match inst.phase {
            Phase::Running => {
                self.sagas.stats[s].failed_steps[inst.step as usize] += 1;
                self.tr_saga(
                    slot,
                    inst.step,
                    SagaOutcome::Failed,
                    u32::from(inst.attempt),
                );
                self.saga_compensate_next(slot, c, instance, Some(inst.step));
            }
            Phase::Compensating => self.saga_end(slot, SagaOutcome::Aborted),
        }
    }

    /// A coordinator's timer: a timeout, or a send again after a backoff.
    pub(crate) fn on_saga_timer(&mut self, slot: u32, stamp: u32) {
        if stamp & DEADLINES != 0 {
            self.on_saga_deadlines(slot as usize);
            return;
        }
        let Some(inst) = self.sagas.slab.get(slot as usize).copied() else {
            return;
        };
        if inst.stamp != stamp & STAMP || self.saga_slot(inst.def, inst.id) != Some(slot) {
            return;
        }
        let Some(c) = self.model.sagas[inst.def as usize].coordinator else {
            return;
        };
        self.saga_send(slot, c);
    }

    /// The reply saga `slot` waits for did not come in time.
    fn saga_timed_out(&mut self, slot: u32) {
        let inst = self.sagas.slab[slot as usize];
        let Some(c) = self.model.sagas[inst.def as usize].coordinator else {
            return;
        };
        self.sagas.stats[inst.def as usize].timeouts[inst.step as usize] += 1;
        self.tr_saga(
            slot,
            inst.step,
            SagaOutcome::TimedOut,
            u32::from(inst.attempt),
        );
        self.saga_retry_or(slot, c, inst.owner);
    }

    /// Saga `slot` ends: completed, compensated or failed.
    fn saga_end(&mut self, slot: u32, outcome: SagaOutcome) {
        let inst = self.sagas.slab[slot as usize];
        let s = inst.def as usize;
        let st = &mut self.sagas.stats[s];
        match inst.phase {
            Phase::Running => st.in_progress[inst.step as usize] -= 1,
            Phase::Compensating => st.compensating[inst.step as usize] -= 1,
        }
        match outcome {
            SagaOutcome::Completed => st.completed += 1,
            SagaOutcome::RolledBack => st.compensated += 1,
            _ => st.failed += 1,
        }
        let d = self.now.saturating_sub(inst.started);
        st.duration.record(d);
        if self.opts.record_rows {
            st.duration_interval.record(d);
        }
        self.tr_saga(slot, inst.step, outcome, u32::from(inst.attempt));
        self.sagas.index.swap_remove(&(inst.def, inst.id));
        let i = &mut self.sagas.slab[slot as usize];
        i.stamp = next_stamp(i.stamp);
        self.sagas.free.push(slot);
    }

    /// Traces a saga's step `step` and what became of it.
    fn tr_saga(&mut self, slot: u32, step: u16, outcome: SagaOutcome, attempt: u32) {
        if !self.tracer.on {
            return;
        }
        let inst = self.sagas.slab[slot as usize];
        let event = {
            let st = &self.model.sagas[inst.def as usize].steps[step as usize];
            match outcome {
                SagaOutcome::Compensate
                | SagaOutcome::Compensated
                | SagaOutcome::CompensationFailed => st.compensation.unwrap_or(st.compensated),
                SagaOutcome::Failed => st.failed,
                SagaOutcome::Done | SagaOutcome::Completed => st.done,
                _ => st.command,
            }
        };
        let m = inst.message(event, self.now);
        let comp = self.plan.saga_comp + u32::from(inst.def);
        self.tracer.rec(
            self.now,
            TraceKind::SagaStep,
            comp,
            NA32,
            Some(&m),
            u32::from(step),
            outcome.code(),
            attempt,
        );
    }
}

/// A saga definition's counts now, for a live view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaView {
    /// Name.
    pub name: String,
    /// Started so far.
    pub started: u64,
    /// Completed so far.
    pub completed: u64,
    /// Compensated so far.
    pub compensated: u64,
    /// Failed so far.
    pub failed: u64,
    /// Per step.
    pub steps: Vec<SagaStepView>,
}

/// One step's counts now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaStepView {
    /// Step name.
    pub name: String,
    /// Sagas at it, running forward.
    pub in_progress: u64,
    /// Successes so far.
    pub done: u64,
    /// Sagas compensating it.
    pub compensating: u64,
    /// Compensations done so far.
    pub compensated: u64,
    /// Failures so far.
    pub failed: u64,
}

impl Engine {
    /// Each saga definition's counts now (cheap: no percentiles).
    pub fn saga_views(&self) -> Vec<SagaView> {
        self.model
            .sagas
            .iter()
            .zip(&self.sagas.stats)
            .map(|(m, st)| SagaView {
                name: m.name.clone(),
                started: st.started,
                completed: st.completed,
                compensated: st.compensated,
                failed: st.failed,
                steps: m
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(k, s)| SagaStepView {
                        name: s.name.clone(),
                        in_progress: st.in_progress[k],
                        done: st.done[k],
                        compensating: st.compensating[k],
                        compensated: st.compensated_steps[k],
                        failed: st.failed_steps[k],
                    })
                    .collect(),
            })
            .collect()
    }
}
