//! The service runtime, shared by every broker kind: a service (one `[[consumer]]`) runs
//! `instances` instances with `concurrency` slots each. A free slot asks the service's
//! broker for work; a work item holds a copy of the message and the broker's lease on
//! it, runs for a sampled processing time, and then succeeds (the ledger accounts for
//! it, the checker looks for duplicates and ordering violations, follow-up events are
//! published), fails transiently (retried after a backoff with jitter), or exhausts its
//! attempts (dead-lettered, or lost with a cause). The broker hears the final outcome
//! through `settle`, and decides through `fate` what becomes of work dropped without
//! one (an instance crash, a revoked partition).
//!
//! Work items live in a per-service slab; events carry `(work, token)` and a stale
//! token (the item was dropped and reused meanwhile) makes an event a no-op.

use std::collections::VecDeque;

use rand::RngExt;

use super::Engine;
use super::dedup::DedupStore;
use super::draw;
use super::ledger::Ledger;
use super::message::Message;
use super::queue::{Ev, EventQueue};
use super::trace::{NA32, TraceKind, Tracer};
use crate::broker::kafka::Partitioner;
use crate::broker::kafka::holds::Holds;
use crate::broker::{Fate, Lease};
use crate::metrics::{AnomalyKind, Cause, Counters, Latency};
use crate::model::*;
use crate::rng::{self, Stream};

/// Where a work item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkState {
    /// In the free list.
    Free,
    /// An attempt is running.
    Running,
    /// Waiting for its retry's backoff.
    Backoff,
    /// Waiting for a free slot of its instance.
    Ready,
}

/// One message being worked on by one instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    pub state: WorkState,
    /// The broker took the message back while this ran (a revoked partition): its
    /// result is applied but not settled with the broker.
    pub stale: bool,
    /// Why it is delivered again ([`Work::redelivery`]), as [`Cause::pack`] makes it:
    /// two fields, so that the tag sits beside the state and a work item stays 80
    /// bytes with a 40-byte message.
    redelivery_tag: u8,
    /// [`super::breaker`]'s flags for the running attempt.
    pub gate: u8,
    pub token: u32,
    pub instance: u32,
    pub attempt: u32,
    redelivery_val: u64,
    /// The broker's handle on the message.
    pub lease: Lease,
    pub msg: Message,
}

impl Work {
    /// A work item that never ran, to account for a message the broker held for an
    /// instance but never handed out (parked behind its key, deleted by retention).
    pub fn detached(lease: Lease, msg: Message) -> Work {
        Work {
            state: WorkState::Free,
            stale: false,
            token: 0,
            instance: NA32,
            attempt: 0,
            lease,
            msg,
            redelivery_tag: 0,
            redelivery_val: 0,
            gate: 0,
        }
    }

    /// Delivered before: why it comes again, if it does.
    #[inline]
    pub fn redelivery(&self) -> Option<Cause> {
        Cause::unpack(self.redelivery_tag, self.redelivery_val)
    }
}

/// What a broker hands a free slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delivery {
    pub lease: Lease,
    pub msg: Message,
    pub redelivery: Option<Cause>,
}

/// One instance of a service.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub alive: bool,
    /// Bumped at every crash and restart: timers of an older incarnation are moot.
    pub incarnation: u32,
    /// Slots in use.
    pub busy: u32,
    /// Work items whose backoff has elapsed, waiting for a slot.
    pub ready: VecDeque<u32>,
    /// Error faults under way on it: while above 0, every attempt fails.
    pub erroring: u32,
    /// Latency and slowdown faults under way on it ([`Service::effects`]), and
    /// crashes of a function's environment (`crashed`).
    pub degraded: u32,
    /// A function's crashes under way on it: each attempt fails as it starts (the
    /// runtime exits during its init).
    pub crashed: u32,
    /// Faults cutting it off from its source (an outage of its queue, a network
    /// partition): while above 0 it fetches nothing new.
    pub cut: u32,
    /// Since when it is cut off, while it is.
    pub cut_since: Option<u64>,
    /// The errors fault that started last on it.
    pub erroring_fault: u32,
    /// Its circuit breaker lets no attempt start now.
    pub gate: bool,
}

/// A latency or slowdown fault under way on a service.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Effect {
    /// The fault's index.
    pub fault: u32,
    /// The instance it hits, or every one.
    pub instance: Option<u32>,
    /// Processing times are multiplied by this.
    pub factor: f64,
    /// And this is added.
    pub delay: Option<ProcessingModel>,
    /// Only to a delivery's first attempt (latency on the link from the broker).
    pub first_only: bool,
    /// Attempts it slowed so far.
    pub hits: u64,
}

/// One service's state.
#[derive(Clone, Debug)]
pub(crate) struct Service {
    pub insts: Vec<Instance>,
    pub works: Vec<Work>,
    pub free: Vec<u32>,
    /// Attempts running now (the `in_flight` gauge).
    pub running: u32,
    processing_rng: Stream,
    fail_rng: Stream,
    backoff_rng: Stream,
    poison_seed: u64,
    /// Per key: produced time and id of the newest message processed so far.
    pub key_last: Vec<(u64, u64)>,
    pub c: Counters,
    pub lat_interval: Latency,
    pub lat_run: Latency,
    pub max_lag: u64,
    pub max_lag_time_ns: u64,
    /// The sampled interval with the most attempts started: (attempts, arrivals,
    /// retries) per second.
    pub peak_attempts: (f64, f64, f64),
    /// What the service has yet to account for, and Little's L.
    pub ledger: Ledger,
    /// The offsets its live work items hold, once retention needs them.
    pub holds: Holds,
    /// Latency and slowdown faults under way, in the order they started.
    pub effects: Vec<Effect>,
    /// Per instance, its circuit breaker (empty without one).
    pub breakers: Vec<super::breaker::Breaker>,
    /// An idempotent consumer's dedup store.
    dedup: Option<Box<DedupStore>>,
    /// Draws the delays of latency faults (its own stream, so that a fault's delays
    /// move nothing else).
    effect_rng: Stream,
    /// One producer client's partitioner per topic it writes (follow-up events, dead
    /// letters), and which of them each emit and the dead-letter topic use.
    writers: Vec<Partitioner>,
    /// The topic of each writer, in order.
    writer_topics: Vec<TopicIdx>,
    emit_writers: Vec<usize>,
    dlq_writer: usize,
}

/// The channels the service named `name` may write saga messages to: the sources of
/// every service of every saga it takes part in.
fn saga_targets(model: &Model, name: &str) -> Vec<Channel> {
    match model.services.iter().position(|s| s.name == name) {
        Some(g) => crate::model::saga_writes(&model.sagas, &model.services, g),
        None => Vec::new(),
    }
}

impl Service {
    /// A service at t = 0, every instance up.
    pub fn new(spec: &ServiceModel, model: &Model) -> Service {
        let seed = model.seed;
        let mut targets: Vec<TopicIdx> =
            spec.emits.iter().filter_map(|&(_, t)| t.topic()).collect();
        targets.extend(spec.dead_letter.and_then(Channel::topic));
        targets.extend(
            saga_targets(model, &spec.name)
                .into_iter()
                .filter_map(Channel::topic),
        );
        targets.sort_unstable();
        targets.dedup();
        // Writers exist for topics only; a queue target needs no partitioner, and its
        // index here is never used.
        let writer_of = |c: Channel| {
            c.topic()
                .and_then(|t| targets.binary_search(&t).ok())
                .unwrap_or(0)
        };
        let emit_writers = spec.emits.iter().map(|&(_, t)| writer_of(t)).collect();
        let dlq_writer = spec.dead_letter.map(writer_of).unwrap_or(0);
        let writers = targets
            .iter()
            .map(|&t| {
                let topic = &model.topics[t];
                // Service names are unique, so (name, purpose) names one stream.
                let stream = rng::stream(seed, &spec.name, &format!("partition>{}", topic.name));
                Partitioner::new(stream, topic)
            })
            .collect();
        Service {
            insts: (0..spec.instances)
                .map(|_| Instance {
                    alive: true,
                    incarnation: 0,
                    busy: 0,
                    ready: VecDeque::new(),
                    erroring: 0,
                    degraded: 0,
                    crashed: 0,
                    cut: 0,
                    cut_since: None,
                    erroring_fault: 0,
                    gate: false,
                })
                .collect(),
            works: Vec::new(),
            free: Vec::new(),
            running: 0,
            processing_rng: rng::stream(seed, &spec.name, "service"),
            fail_rng: rng::stream(seed, &spec.name, "failures"),
            backoff_rng: rng::stream(seed, &spec.name, "backoff"),
            poison_seed: rng::stream_seed(seed, &format!("{}/poison", spec.name)),
            key_last: Vec::new(),
            c: Counters::default(),
            lat_interval: Latency::new(),
            lat_run: Latency::new(),
            max_lag: 0,
            max_lag_time_ns: 0,
            peak_attempts: (0.0, 0.0, 0.0),
            ledger: Ledger::default(),
            holds: Holds::default(),
            effects: Vec::new(),
            breakers: if spec.breaker.is_some() {
                (0..spec.instances)
                    .map(|_| super::breaker::Breaker::new())
                    .collect()
            } else {
                Vec::new()
            },
            dedup: spec
                .dedup
                .map(|w| Box::new(DedupStore::new(w.map(|d| d.0)))),
            effect_rng: rng::stream(seed, &spec.name, "fault-latency"),
            writers,
            writer_topics: targets,
            emit_writers,
            dlq_writer,
        }
    }

    /// The partition of `topic` for the next record `m` of writer `writer` (an index
    /// from `emit_writers` or `dlq_writer`).
    #[inline]
    fn partition_for(&mut self, model: &Model, writer: usize, topic: TopicIdx, m: &Message) -> u32 {
        self.writers[writer].choose(&model.topics[topic], &model.keys, m.key)
    }

    /// A work item for a fresh delivery to instance `i`, from the free list if it can.
    #[inline(always)]
    pub(crate) fn new_work(&mut self, i: usize, d: Delivery) -> u32 {
        let (redelivery_tag, redelivery_val) = Cause::pack(d.redelivery);
        let work = Work {
            state: WorkState::Ready,
            stale: false,
            token: 0,
            instance: i as u32,
            attempt: 0,
            lease: d.lease,
            msg: d.msg,
            redelivery_tag,
            redelivery_val,
            gate: 0,
        };
        if self.holds.is_on()
            && let Lease::Kafka { partition, offset } = d.lease
        {
            self.holds.add(partition, offset);
        }
        match self.free.pop() {
            Some(w) => {
                let slot = &mut self.works[w as usize];
                *slot = Work {
                    token: slot.token,
                    ..work
                };
                w
            }
            None => {
                self.works.push(work);
                (self.works.len() - 1) as u32
            }
        }
    }

    /// Starts an attempt of work item `w`: a slot is taken, a processing time drawn.
    #[inline(always)]
    pub(crate) fn start(
        &mut self,
        cx: &Cx<'_>,
        w: u32,
        queue: &mut EventQueue,
        tracer: &mut Tracer,
    ) {
        let work = &mut self.works[w as usize];
        work.state = WorkState::Running;
        work.attempt += 1;
        let (i, msg, lease, attempt, token) = (
            work.instance,
            work.msg,
            work.lease,
            work.attempt,
            work.token,
        );
        self.insts[i as usize].busy += 1;
        self.running += 1;
        self.c.delivered += 1;
        let gate = if self.breakers.is_empty() {
            0
        } else {
            self.breaker_admit(i as usize)
        };
        self.works[w as usize].gate = gate;
        let d = if gate & super::breaker::REJECTED != 0 {
            // An open breaker fails it at once, without calling.
            0
        } else {
            let mut d = draw::processing_time(&cx.spec.processing, &mut self.processing_rng);
            if self.insts[i as usize].degraded > 0 {
                d = self.degrade(i, d, attempt);
            }
            d
        };
        queue.push(
            cx.now.saturating_add(d),
            Ev::Done {
                service: cx.service,
                work: w,
                token,
            },
        );
        let (p, off) = lease.position();
        tracer.rec(
            cx.now,
            TraceKind::ProcessStart,
            cx.comp,
            i,
            Some(&msg),
            p,
            off,
            attempt,
        );
    }

    /// Processing time `d` of instance `i` under the latency and slowdown faults on it:
    /// multiplied by every factor, then every delay added, in the order the faults
    /// started.
    #[inline(never)]
    fn degrade(&mut self, i: u32, d: u64, attempt: u32) -> u64 {
        if self.insts[i as usize].crashed > 0 {
            return 0;
        }
        let mut t = d as f64;
        let mut extra = 0u64;
        for e in &mut self.effects {
            if e.instance.is_some_and(|x| x != i) || (e.first_only && attempt > 1) {
                continue;
            }
            e.hits += 1;
            t *= e.factor;
            if let Some(delay) = &e.delay {
                extra = extra.saturating_add(draw::processing_time(delay, &mut self.effect_rng));
            }
        }
        let scaled = if t >= u64::MAX as f64 {
            u64::MAX
        } else {
            t.round() as u64
        };
        scaled.saturating_add(extra)
    }

    /// The writer of `target` (a topic it writes; 0, unused, for another channel).
    pub fn writer_for(&self, target: Channel) -> usize {
        target
            .topic()
            .and_then(|t| self.writer_topics.binary_search(&t).ok())
            .unwrap_or(0)
    }

    /// Whether a live work item (other than a free one) holds `lease`.
    pub fn holds(&self, lease: &Lease) -> bool {
        self.works
            .iter()
            .any(|o| o.state != WorkState::Free && o.lease == *lease)
    }
}

/// What the dispatch path of one service reads.
pub(crate) struct Cx<'a> {
    pub spec: &'a ServiceModel,
    pub now: u64,
    pub comp: u32,
    pub service: u32,
}

impl<'a> Cx<'a> {
    /// The context of service `g` at `now`.
    #[inline(always)]
    fn new(model: &'a Model, plan: &super::Plan, g: usize, now: u64) -> Cx<'a> {
        Cx {
            spec: &model.services[g],
            now,
            comp: plan.service_comp + g as u32,
            service: g as u32,
        }
    }
}

impl Engine {
    /// Starts as much work on instance `i` of service `g` as its free slots allow.
    #[inline]
    pub(crate) fn try_dispatch(&mut self, g: usize, i: usize) {
        // Both paths look first whether the instance can start anything.
        match self.model.services[g].source {
            Channel::Topic(_) => self.fill_slots(g, i),
            Channel::Queue(_) | Channel::Pubsub(_) | Channel::Bus(_) => {
                self.fill_slots_from_queue(g, i);
            }
            // No service reads an exchange.
            Channel::Exchange(_) => {}
        }
    }

    /// The dispatch path of a service reading a queue (or of a function invoked from a
    /// pubsub): retries waiting for a slot first, then received messages, receiving more
    /// when the inbox is empty (or the next event of the function's event queue). Kept
    /// out of line, so that the Kafka path of `try_dispatch` stays small.
    #[inline(never)]
    fn fill_slots_from_queue(&mut self, g: usize, i: usize) {
        loop {
            let inst = &mut self.services[g].insts[i];
            if !inst.alive || inst.gate || inst.busy >= self.model.services[g].concurrency {
                return;
            }
            let w = match inst.ready.pop_front() {
                Some(w) => {
                    let work = &self.services[g].works[w as usize];
                    if work.state != WorkState::Ready || work.instance != i as u32 {
                        continue;
                    }
                    w
                }
                None => {
                    if self.services[g].insts[i].cut > 0 {
                        return;
                    }
                    let d = match self.model.services[g].source {
                        Channel::Pubsub(_) | Channel::Bus(_) => self.fn_fetch(g, i),
                        Channel::Queue(q) if self.is_rabbit(q) => self.rabbit_fetch(g, i),
                        _ => self.sqs_fetch(g, i),
                    };
                    let Some(d) = d else {
                        return;
                    };
                    self.services[g].new_work(i, d)
                }
            };
            let Engine {
                model,
                plan,
                services,
                queue,
                tracer,
                now,
                ..
            } = self;
            let cx = Cx::new(model, plan, g, *now);
            services[g].start(&cx, w, queue, tracer);
            // One heartbeat per work item, from its first attempt on; it stops when the
            // item is freed (its token changes).
            if let Some((every, _)) = cx.spec.receive.heartbeat
                && services[g].works[w as usize].attempt == 1
            {
                let token = services[g].works[w as usize].token;
                queue.push(
                    cx.now.saturating_add(every),
                    Ev::Sqs {
                        timer: crate::sim::queue::SqsTimer::Heartbeat,
                        a: g as u32,
                        b: w,
                        stamp: token,
                    },
                );
            }
        }
    }

    /// The dispatch path proper, on split borrows of the engine so that the hot loop
    /// indexes each vector once.
    fn fill_slots(&mut self, g: usize, i: usize) {
        let Engine {
            model,
            plan,
            services,
            kafka,
            queue,
            tracer,
            now,
            ..
        } = self;
        let cx = Cx::new(model, plan, g, *now);
        let svc = &mut services[g];
        let Channel::Topic(topic) = cx.spec.source else {
            return;
        };
        let logs = &kafka.topics[topic].parts;
        let group = &mut kafka.groups[g];
        group.now = cx.now;
        loop {
            let inst = &mut svc.insts[i];
            if !inst.alive || inst.gate || inst.busy >= cx.spec.concurrency {
                return;
            }
            let w = match inst.ready.pop_front() {
                Some(w) => {
                    let work = &svc.works[w as usize];
                    if work.state != WorkState::Ready || work.instance != i as u32 {
                        continue;
                    }
                    w
                }
                None => {
                    if svc.insts[i].cut > 0 {
                        return;
                    }
                    let Some(d) = group.fetch(cx.spec, logs, i) else {
                        if group.wake_at < group.wake_armed {
                            // A delayed record: look again when it is due.
                            group.wake_armed = group.wake_at;
                            queue.push(
                                group.wake_at,
                                Ev::Kafka {
                                    timer: crate::sim::queue::KafkaTimer::Due,
                                    group: g as u32,
                                    instance: 0,
                                    stamp: 0,
                                },
                            );
                        }
                        return;
                    };
                    let w = svc.new_work(i, d);
                    let (p, off) = d.lease.position();
                    tracer.rec(
                        cx.now,
                        TraceKind::Deliver,
                        cx.comp,
                        i as u32,
                        Some(&d.msg),
                        p,
                        off,
                        NA32,
                    );
                    w
                }
            };
            svc.start(&cx, w, queue, tracer);
        }
    }

    /// Work item `w` goes back to the free list; events still naming it are moot.
    #[inline(always)]
    pub(crate) fn free_work(&mut self, g: usize, w: u32) {
        let svc = &mut self.services[g];
        let work = &mut svc.works[w as usize];
        work.state = WorkState::Free;
        work.token = work.token.wrapping_add(1);
        if svc.holds.is_on()
            && let Lease::Kafka { partition, offset } = work.lease
        {
            svc.holds.remove(partition, offset);
        }
        svc.free.push(w);
    }

    #[inline]
    fn is_poison(&self, g: usize, msg: u64) -> bool {
        let rate = self.model.services[g].poison_rate;
        rate > 0.0 && rng::unit_from_hash(self.services[g].poison_seed ^ msg) < rate
    }

    /// Whether `msg` belongs to a poison window (counted on its fault).
    #[inline(never)]
    fn poison_fails(&mut self, msg: &Message) -> bool {
        match self.poisoned(msg) {
            Some(f) => {
                self.links.effects[f as usize].failed += 1;
                true
            }
            None => false,
        }
    }

    /// An attempt ends: success, a retry, or the last failure.
    #[inline]
    pub(crate) fn on_done(&mut self, g: usize, w: u32, token: u32) {
        let work = self.services[g].works[w as usize];
        if work.token != token || work.state != WorkState::Running {
            return;
        }
        let spec = &self.model.services[g];
        let (failure_rate, max_attempts) = (spec.failure_rate, spec.retry.max_attempts);
        let svc = &mut self.services[g];
        let i = work.instance as usize;
        svc.insts[i].busy -= 1;
        svc.running -= 1;
        let erroring = svc.insts[i].erroring > 0;
        let rejected = work.gate & super::breaker::REJECTED != 0;
        let failed = rejected
            || erroring
            || self.is_poison(g, work.msg.msg)
            || (!self.poison.is_empty() && self.poison_fails(&work.msg))
            || (failure_rate > 0.0 && self.services[g].fail_rng.random::<f64>() < failure_rate);
        if !self.services[g].breakers.is_empty() && !rejected {
            self.breaker_record(g, i, work.gate, failed);
        }
        if failed {
            if erroring && !rejected {
                let f = self.services[g].insts[i].erroring_fault as usize;
                self.links.effects[f].failed += 1;
            }
            self.services[g].c.failures += 1;
            self.tr_work(TraceKind::Fail, g, &work);
            if work.stale {
                self.free_work(g, w);
                let cause = work.redelivery().unwrap_or(Cause::Rebalance(self.now));
                self.abandon(g, &work, cause);
            } else if work.attempt < max_attempts {
                let retry = self.model.services[g].retry;
                let svc = &mut self.services[g];
                let delay = draw::backoff(&retry, work.attempt, &mut svc.backoff_rng);
                svc.c.retries += 1;
                if delay == 0 {
                    // Retried at once, in the slot it just freed, before anything new.
                    svc.works[w as usize].state = WorkState::Ready;
                    svc.insts[i].ready.push_back(w);
                } else {
                    svc.works[w as usize].state = WorkState::Backoff;
                    self.queue.push(
                        self.now.saturating_add(delay),
                        Ev::RetryDue {
                            service: g as u32,
                            work: w,
                            token,
                        },
                    );
                }
                self.tr_work(TraceKind::Retry, g, &work);
            } else if self.give_up(g, &work) {
                self.complete(g, w, &work);
            } else {
                self.free_work(g, w);
            }
        } else {
            self.apply_success(g, &work);
            if work.stale {
                self.free_work(g, w);
            } else {
                self.complete(g, w, &work);
            }
        }
        self.try_dispatch(g, i);
    }

    /// A failed work item's backoff is over: it waits for a slot of its instance.
    pub(crate) fn on_retry_due(&mut self, g: usize, w: u32, token: u32) {
        let svc = &mut self.services[g];
        let work = &mut svc.works[w as usize];
        if work.token != token || work.state != WorkState::Backoff {
            return;
        }
        work.state = WorkState::Ready;
        let i = work.instance as usize;
        svc.insts[i].ready.push_back(w);
        self.try_dispatch(g, i);
    }

    /// The last attempt failed: dead-letter the message, or lose it. A queue consumer
    /// without a dead letter of its own leaves the message in the queue: it comes back
    /// after its visibility timeout (and the queue's redrive policy may move it).
    /// Returns whether the broker should settle the work item (delete the message).
    fn give_up(&mut self, g: usize, work: &Work) -> bool {
        let spec = &self.model.services[g];
        if let (None, Lease::Rabbit { .. }) = (spec.dead_letter, work.lease) {
            // A negative acknowledgement: the queue dead-letters it (and accounts for
            // it) or delivers it again.
            self.tr_work(TraceKind::Fail, g, work);
            if !self.sagas.stats.is_empty()
                && self.model.services[g].rabbit.negative_ack == NegativeAck::Reject
            {
                self.saga_gave_up(g, work);
            }
            self.rabbit_give_up(g, work);
            return false;
        }
        if let (None, Channel::Queue(q)) = (spec.dead_letter, spec.source) {
            let fifo = self.model.queues[q].fifo;
            self.tr_work(TraceKind::Fail, g, work);
            if self.fate(g, &work.lease) == Fate::Deleted {
                // Retention deleted it meanwhile: nobody will receive it again.
                if self.account(g, &work.msg) {
                    self.services[g].c.expired += 1;
                    self.note(AnomalyKind::Expired, g, work, 0, Cause::Retention);
                }
            }
            if fifo {
                self.sqs_drop_group(g, work.instance, work.msg.key);
            }
            self.release(g, work);
            if self.model.services[g].function.is_some() {
                self.sqs_batch_failed(g, work.instance);
            }
            return false;
        }
        let first = self.account(g, &work.msg);
        if !self.sagas.stats.is_empty() {
            self.saga_gave_up(g, work);
        }
        match self.model.services[g].dead_letter {
            Some(_) => {
                if first {
                    self.services[g].c.dead_lettered += 1;
                }
                self.dead_letter_detached(g, work, first);
            }
            None => {
                self.tr_work(TraceKind::Drop, g, work);
                if first {
                    self.services[g].c.lost += 1;
                    self.note(
                        AnomalyKind::Lost,
                        g,
                        work,
                        0,
                        Cause::RetriesExhausted(work.attempt),
                    );
                }
            }
        }
        true
    }

    /// Service `g` sends the message of `work` to its dead letter (a function: its
    /// on-failure destination), as an original if `first`, else as a copy.
    pub(crate) fn dead_letter_detached(&mut self, g: usize, work: &Work, first: bool) {
        let Some(dlq) = self.model.services[g].dead_letter else {
            return;
        };
        self.tr_work(TraceKind::DeadLetter, g, work);
        let m = Message {
            produced_at: self.now,
            flags: work.msg.written_flags(first),
            ..work.msg
        };
        let writer = self.services[g].dlq_writer;
        self.write(g, work.instance, writer, dlq, m, true);
    }

    /// Service `g` writes `m` to `target` (a follow-up event, or a dead letter when
    /// `dead`), through its writer `writer` for a topic. A dead letter sent to a queue
    /// remembers the service's source queue, where a redrive returns it.
    #[inline]
    pub(crate) fn write(
        &mut self,
        g: usize,
        instance: u32,
        writer: usize,
        target: Channel,
        m: Message,
        dead: bool,
    ) {
        if self.links.active > 0 {
            let partition = match target {
                Channel::Topic(t) => {
                    let svc = &mut self.services[g];
                    svc.partition_for(&self.model, writer, t, &m)
                }
                _ => NA32,
            };
            let origin = match (target, self.model.services[g].source) {
                (Channel::Queue(_), Channel::Queue(origin)) if dead => origin as u32,
                _ => crate::broker::sqs::NO_ORIGIN,
            };
            self.send_slow(super::link::Outgoing {
                msg: m,
                target,
                partition,
                from: (self.model.producers.len() + g) as u32,
                inst: instance,
                n: super::trace::NA64,
                origin,
            });
            return;
        }
        match target {
            Channel::Topic(t) => {
                let svc = &mut self.services[g];
                let part = svc.partition_for(&self.model, writer, t, &m);
                self.append(t, part, m);
            }
            Channel::Queue(q) => match self.model.services[g].source {
                Channel::Queue(origin) if dead => self.sqs_send_dead_letter(q, m, origin as u32),
                _ => self.sqs_send(q, m, 0),
            },
            // A service's message carries no attributes and no body fields.
            Channel::Pubsub(p) => self.pubsub_publish(p, m, None),
            // Routed by its event's name.
            Channel::Exchange(x) => self.exchange_publish(x, m, None),
            // Its source is the service's name, its detail-type the event's.
            Channel::Bus(b) => {
                let from = (self.model.producers.len() + g) as u32;
                self.bus_publish(b, m, from, 0);
            }
        }
    }

    /// Service `g`'s ledger accounts for `msg`; true if this is the first time (and the
    /// message is an original, not a copy).
    #[inline]
    pub(crate) fn account(&mut self, g: usize, msg: &Message) -> bool {
        if msg.is_copy() {
            return false;
        }
        self.services[g].ledger.settle(msg.entry, self.now)
    }

    /// A success: the ledger, latency, the duplicate and ordering checks, the trace,
    /// and the follow-up events.
    #[inline]
    fn apply_success(&mut self, g: usize, work: &Work) {
        if let Some(store) = &mut self.services[g].dedup
            && store.seen_or_insert(self.now, work.msg.msg, work.msg.event)
        {
            self.suppress(g, work);
            return;
        }
        let first = self.account(g, &work.msg);
        let latency = self.now.saturating_sub(work.msg.produced_at);
        let svc = &mut self.services[g];
        svc.c.processed += 1;
        // Interval latencies exist only for metric rows; without rows, record straight
        // into the run's histogram and skip the per-interval merge.
        if self.opts.record_rows {
            svc.lat_interval.record(latency);
        } else {
            svc.lat_run.record(latency);
        }
        if first {
            svc.c.processed_once += 1;
        } else {
            svc.c.duplicates += 1;
            let cause = match work.redelivery() {
                Some(c) => c,
                None if work.msg.is_copy() => work.msg.copy_cause(),
                // A queue's message received once here and processed elsewhere first:
                // its visibility timeout expired while this attempt ran.
                None if self.model.services[g].source.queue().is_some() => {
                    Cause::OutlivedVisibility
                }
                None => Cause::Rebalance(self.now),
            };
            self.note(AnomalyKind::Duplicate, g, work, 0, cause);
        }
        if !self.plan.flow_index[g].is_empty() {
            self.record_flow(g, work.msg.origin(), work.msg.origin_at);
        }
        self.check_order(g, work);
        self.tr_work(TraceKind::Ack, g, work);
        // Follow-up events keep the key and the correlation id. Those of a duplicate
        // are copies: their originals were emitted the first time.
        for k in 0..self.model.services[g].emits.len() {
            let (event, topic) = self.model.services[g].emits[k];
            let m = Message {
                msg: work.msg.msg,
                produced_at: self.now,
                origin_at: work.msg.origin_at,
                entry: 0,
                key: work.msg.key,
                event,
                flags: work.msg.written_flags(first),
            };
            let writer = self.services[g].emit_writers[k];
            self.write(g, work.instance, writer, topic, m, false);
        }
        if !self.sagas.stats.is_empty() {
            self.saga_processed(g, work, first);
        }
    }

    /// An idempotent consumer's attempt succeeded on a message its dedup store already
    /// holds: acknowledged without its effect (no follow-up events, no latency, no
    /// ordering check). Its ledger entry is settled if it is still open (the store's
    /// entry came from a copy processed first), as processed once.
    #[inline(never)]
    fn suppress(&mut self, g: usize, work: &Work) {
        let first = self.account(g, &work.msg);
        let svc = &mut self.services[g];
        svc.c.suppressed += 1;
        if first {
            svc.c.processed_once += 1;
        }
        self.tr_work(TraceKind::Deduplicated, g, work);
    }

    /// A work item finished for good (processed, dead-lettered or dropped): the broker
    /// settles it, and the item is freed.
    #[inline(always)]
    fn complete(&mut self, g: usize, w: u32, work: &Work) {
        self.settle(g, work);
        self.free_work(g, w);
    }

    /// Work dropped without an outcome (crash, revocation, a stale attempt that
    /// failed). If the broker will deliver it again nothing is counted now; otherwise,
    /// unless another attempt of the same message still runs (its end decides), it is
    /// lost (or expired, when the broker deleted it).
    pub(crate) fn abandon(&mut self, g: usize, work: &Work, cause: Cause) {
        let fate = self.fate(g, &work.lease);
        if fate == Fate::Redelivered {
            return;
        }
        if self.services[g].holds(&work.lease) {
            return;
        }
        if !self.account(g, &work.msg) {
            return;
        }
        if fate == Fate::Lost {
            self.services[g].c.lost += 1;
            self.tr_work(TraceKind::Drop, g, work);
            self.note(AnomalyKind::Lost, g, work, 0, cause);
        } else {
            self.services[g].c.expired += 1;
            self.tr_work(TraceKind::Expire, g, work);
            self.note(AnomalyKind::Expired, g, work, 0, Cause::Retention);
        }
    }

    /// The broker takes back the messages of service `g` whose lease matches (a revoked
    /// partition): running attempts turn stale (their result is applied but not
    /// settled), work waiting for a retry or a slot is dropped.
    pub(crate) fn take_back(&mut self, g: usize, matches: impl Fn(&Lease) -> bool, cause: Cause) {
        for w in 0..self.services[g].works.len() as u32 {
            let work = self.services[g].works[w as usize];
            if work.state == WorkState::Free || work.stale || !matches(&work.lease) {
                continue;
            }
            if work.state == WorkState::Running {
                self.services[g].works[w as usize].stale = true;
            } else {
                self.free_work(g, w);
                self.abandon(g, &work, cause);
            }
        }
    }

    /// How many instances of service `g` are running (not crashed).
    pub fn instances_alive(&self, g: usize) -> usize {
        self.services[g].insts.iter().filter(|i| i.alive).count()
    }

    /// Traces what happened to a work item of service `g`.
    #[inline]
    pub(crate) fn tr_work(&mut self, kind: TraceKind, g: usize, work: &Work) {
        let comp = self.plan.service_comp + g as u32;
        let (p, off) = work.lease.position();
        self.tracer.rec(
            self.now,
            kind,
            comp,
            work.instance,
            Some(&work.msg),
            p,
            off,
            work.attempt,
        );
    }

    /// Traces an instance-level happening of service `g` (crash, restart, commit).
    pub(crate) fn tr_instance(&mut self, kind: TraceKind, g: usize, instance: u32) {
        let comp = self.plan.service_comp + g as u32;
        self.tracer.rec(
            self.now,
            kind,
            comp,
            instance,
            None,
            NA32,
            super::trace::NA64,
            NA32,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn work_and_lease_stay_small() {
        // A work item is copied by value on every outcome: keep it as small as it was
        // when it carried a partition and an offset itself.
        assert!(std::mem::size_of::<crate::broker::Lease>() <= 16);
        assert!(std::mem::size_of::<super::Work>() <= 80);
        assert!(std::mem::size_of::<super::Delivery>() <= 72);
    }
}
