//! The simulation kernel: a deterministic discrete-event engine over Kafka-like topics
//! and consumer groups. It is sans-IO: no terminal, files, clock or threads. Shells
//! drive it with [`Engine::step`] and [`Engine::run_until`], and read its state, its
//! metric samples ([`Engine::drain_rows`]) and its trace ([`Engine::drain_trace`]).
//!
//! Data flow of one message: a producer fires, draws a key, picks a partition the way
//! Kafka's client does, and appends a record; the owning instance of every group that
//! reads the topic fetches it when it has a free slot, processes it for a sampled time,
//! and then acks (commit, follow-up events), retries after a backoff, or dead-letters
//! it. Crashes stop instances; the coordinator notices after the session timeout and
//! rebalances with Kafka's assignors. Every record keeps one bit per group that says
//! whether the group has accounted for it, which is how duplicates are recognised and
//! how conservation is checked.
//!
//! The state is plain data (vectors, a binary heap, seeded generators) behind one
//! `Arc` for the immutable model, so cloning an engine is cheap: the TUI checkpoints
//! clones to step backwards.

pub mod queue;
pub mod sample;
pub mod trace;

use std::collections::VecDeque;
use std::sync::Arc;

use rand::RngExt;

use crate::kafka::assignor::{self, MemberSpec, TopicPartition, TopicSpec};
use crate::metrics::{Anomaly, AnomalyKind, Cause, Counters, Latency, Row, Value};
use crate::model::*;
use crate::rng::{self, Stream};
use queue::{Ev, EventQueue};
use sample::KeySampler;
use trace::{NA32, NA64, TraceKind, TraceRec};

/// Most anomalies kept with their explanation (the counters count them all).
pub const ANOMALY_LOG_LIMIT: usize = 256;
/// Most records a key-ordered partition buffers while their keys are busy.
pub const KEY_BUFFER_LIMIT: usize = 4_096;
/// Most trace records kept between two drains; reaching it stops tracing and is reported.
pub const TRACE_BUFFER_LIMIT: usize = 1 << 20;

/// Record flag: a copy of a record that is already accounted for elsewhere.
const FLAG_COPY: u8 = 1;
/// Record flag: the copy was written by a consumer (an event emitted again, or a record
/// dead-lettered again, because its upstream message was processed twice).
const FLAG_FROM_DUPLICATE: u8 = 2;

/// What the engine should keep besides its state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Keep metric rows for [`Engine::drain_rows`].
    pub record_rows: bool,
    /// Keep trace records for [`Engine::drain_trace`].
    pub trace: bool,
}

/// Why [`Engine::run_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// The scenario's duration is over.
    Finished,
    /// The requested time was reached.
    TimeReached,
    /// The event budget was spent.
    BudgetSpent,
}

/// A record in a partition log.
#[derive(Clone, Copy, Debug)]
struct Record {
    msg: u64,
    produced_at: u64,
    key: KeyId,
    event: EventIdx,
    flags: u8,
    /// Bit per consuming group: the group has accounted for this record (processed,
    /// dead-lettered, lost or expired).
    accounted: u32,
}

#[derive(Clone, Debug, Default)]
struct PartLog {
    base: u64,
    recs: VecDeque<Record>,
}

impl PartLog {
    fn end(&self) -> u64 {
        self.base + self.recs.len() as u64
    }
    fn get(&self, off: u64) -> Option<&Record> {
        off.checked_sub(self.base)
            .and_then(|i| self.recs.get(i as usize))
    }
    fn get_mut(&mut self, off: u64) -> Option<&mut Record> {
        off.checked_sub(self.base)
            .and_then(|i| self.recs.get_mut(i as usize))
    }
}

#[derive(Clone, Debug, Default)]
struct TopicState {
    parts: Vec<PartLog>,
    c: Counters,
}

#[derive(Clone, Debug)]
struct Resend {
    partition: u32,
    rec: Record,
}

#[derive(Clone, Debug)]
struct ProducerState {
    arrivals: Stream,
    keys_rng: Stream,
    part_rng: Stream,
    ack_rng: Stream,
    keys: Option<(KeyId, KeySampler)>,
    rr: u32,
    sticky_part: u32,
    sticky_left: u32,
    resend: Vec<Option<Resend>>,
    resend_free: Vec<u32>,
    c: Counters,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkState {
    Free,
    Running,
    Backoff,
    Ready,
}

#[derive(Clone, Copy, Debug)]
struct Work {
    state: WorkState,
    token: u32,
    instance: u32,
    partition: u32,
    attempt: u32,
    /// The partition was revoked while this ran: its result is applied but not committed.
    stale: bool,
    offset: u64,
    rec: Record,
    /// Delivered before: why it comes again, if it does.
    redelivery: Option<Cause>,
}

#[derive(Clone, Debug)]
struct Inst {
    alive: bool,
    joined: bool,
    incarnation: u32,
    busy: u32,
    parts: Vec<u32>,
    cursor: usize,
    ready: VecDeque<u32>,
}

#[derive(Clone, Debug, Default)]
struct GPart {
    owner: Option<u32>,
    paused: bool,
    /// Owner-to-be after the second round of a cooperative rebalance.
    pending: Option<u32>,
    next_fetch: u64,
    committed: u64,
    /// First offset not yet completed; `done` covers [base, next_fetch).
    base: u64,
    done: VecDeque<bool>,
    /// Live work items of this partition (running, in backoff or ready).
    active: u32,
    /// Keys with a live work item (key ordering only).
    busy_keys: Vec<KeyId>,
    /// Fetched records waiting for their key (key ordering only).
    waiting: VecDeque<u64>,
    /// Keys of the records in `waiting`, each once; valid while `parked_clean`.
    parked_keys: Vec<KeyId>,
    /// No record in `waiting` can start until a busy key is released: the last scan
    /// found none, and `busy_keys` has not shrunk since.
    parked_clean: bool,
    /// Offsets below this were delivered before the last reset, for this reason.
    redeliver_until: u64,
    redeliver_cause: Option<Cause>,
}

#[derive(Clone, Debug)]
struct GroupState {
    insts: Vec<Inst>,
    parts: Vec<GPart>,
    works: Vec<Work>,
    free: Vec<u32>,
    running: u32,
    generation: u32,
    rebalancing: bool,
    service_rng: Stream,
    fail_rng: Stream,
    backoff_rng: Stream,
    poison_seed: u64,
    /// Per key: produced time and id of the newest message processed so far.
    key_last: Vec<(u64, u64)>,
    c: Counters,
    lat_interval: Latency,
    lat_run: Latency,
    max_lag: u64,
    max_lag_time_ns: u64,
    last_crash: u64,
    /// Original records appended and not yet accounted for: the number in system.
    in_system: u64,
    /// Integral of `in_system` over time (record-nanoseconds), for Little's law.
    area: u128,
    area_since: u64,
}

/// Immutable data derived from the model once.
#[derive(Debug)]
struct Plan {
    /// Rate segments per producer: (start ns, rate at start /s, end ns, rate at end /s).
    segments: Vec<Vec<(u64, f64, u64, f64)>>,
    component_names: Vec<String>,
    /// Component index of producer 0, topic 0, group 0.
    producer_comp: u32,
    topic_comp: u32,
    group_comp: u32,
}

/// The simulation state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    model: Arc<Model>,
    plan: Arc<Plan>,
    opts: Options,
    now: u64,
    steps: u64,
    queue: EventQueue,
    next_msg: u64,
    producers: Vec<ProducerState>,
    topics: Vec<TopicState>,
    groups: Vec<GroupState>,
    anomalies: VecDeque<Anomaly>,
    first_anomalies: Vec<Anomaly>,
    rows: Vec<Row>,
    prev: Vec<Counters>,
    last_sample: u64,
    tracer: Tracer,
    /// Records retention deleted while some work still held them: their accounted
    /// bits live on here until that work ends.
    orphans: Vec<Orphan>,
    finished: bool,
    rebalances: u64,
}

impl Engine {
    /// A new run of `model`, at t = 0 with nothing yet happened.
    pub fn new(model: Model, opts: Options) -> Engine {
        let model = Arc::new(model);
        let seed = model.seed;
        let mut names = Vec::new();
        let producer_comp = names.len() as u32;
        names.extend(model.producers.iter().map(|p| p.name.clone()));
        let topic_comp = names.len() as u32;
        names.extend(model.topics.iter().map(|t| t.name.clone()));
        let group_comp = names.len() as u32;
        names.extend(model.groups.iter().map(|g| g.name.clone()));
        let segments = model
            .producers
            .iter()
            .map(|p| rate_segments(p, model.duration.0))
            .collect();
        let plan = Arc::new(Plan {
            segments,
            component_names: names,
            producer_comp,
            topic_comp,
            group_comp,
        });
        let producers = model
            .producers
            .iter()
            .map(|p| {
                let keys = p.keys.and_then(|k| {
                    let space = model.keys.spaces.get(k.space)?;
                    Some((space.base, KeySampler::new(k.dist, space.count)))
                });
                let mut part_rng = rng::stream(seed, &p.name, "partition");
                let n = model.topics[p.topic].partitions;
                let sticky_part = (rand::Rng::next_u64(&mut part_rng) % u64::from(n)) as u32;
                ProducerState {
                    arrivals: rng::stream(seed, &p.name, "arrivals"),
                    keys_rng: rng::stream(seed, &p.name, "keys"),
                    part_rng,
                    ack_rng: rng::stream(seed, &p.name, "acks"),
                    keys,
                    rr: 0,
                    sticky_part,
                    sticky_left: model.topics[p.topic].sticky_batch,
                    resend: Vec::new(),
                    resend_free: Vec::new(),
                    c: Counters::default(),
                }
            })
            .collect();
        let topics = model
            .topics
            .iter()
            .map(|t| TopicState {
                parts: vec![PartLog::default(); t.partitions as usize],
                c: Counters::default(),
            })
            .collect();
        let groups = model
            .groups
            .iter()
            .map(|g| GroupState {
                insts: (0..g.instances)
                    .map(|_| Inst {
                        alive: true,
                        joined: true,
                        incarnation: 0,
                        busy: 0,
                        parts: Vec::new(),
                        cursor: 0,
                        ready: VecDeque::new(),
                    })
                    .collect(),
                parts: vec![GPart::default(); model.topics[g.topic].partitions as usize],
                works: Vec::new(),
                free: Vec::new(),
                running: 0,
                generation: 0,
                rebalancing: false,
                service_rng: rng::stream(seed, &g.name, "service"),
                fail_rng: rng::stream(seed, &g.name, "failures"),
                backoff_rng: rng::stream(seed, &g.name, "backoff"),
                poison_seed: rng::stream_seed(seed, &format!("{}/poison", g.name)),
                key_last: Vec::new(),
                c: Counters::default(),
                lat_interval: Latency::new(),
                lat_run: Latency::new(),
                max_lag: 0,
                max_lag_time_ns: 0,
                last_crash: 0,
                in_system: 0,
                area: 0,
                area_since: 0,
            })
            .collect();
        let ncomp = plan.component_names.len() + 1;
        let mut e = Engine {
            model,
            plan,
            opts,
            now: 0,
            steps: 0,
            queue: EventQueue::default(),
            next_msg: 1,
            producers,
            topics,
            groups,
            anomalies: VecDeque::new(),
            first_anomalies: Vec::new(),
            rows: Vec::new(),
            prev: vec![Counters::default(); ncomp],
            last_sample: 0,
            orphans: Vec::new(),
            tracer: Tracer {
                on: opts.trace,
                recs: Vec::new(),
                seq: 0,
                overflow: false,
            },
            finished: false,
            rebalances: 0,
        };
        e.init();
        e
    }

    fn init(&mut self) {
        // Initial assignment: every group joins at t = 0 with all its instances.
        for g in 0..self.groups.len() {
            self.complete_rebalance(g, true);
            if self.model.groups[g].commit == CommitMode::Auto {
                for i in 0..self.groups[g].insts.len() {
                    let at = self.model.groups[g].commit_interval.0;
                    self.queue.push(
                        at,
                        Ev::AutoCommit {
                            group: g as u32,
                            instance: i as u32,
                            incarnation: 0,
                        },
                    );
                }
            }
        }
        for p in 0..self.producers.len() {
            if let Some(t) = self.next_arrival(p, 0) {
                self.queue.push(t, Ev::Produce { producer: p as u32 });
            }
        }
        for (i, f) in self.model.faults.iter().enumerate() {
            self.queue.push(f.at, Ev::FaultStart { fault: i as u32 });
        }
        let iv = self.model.metrics_interval.0;
        if iv < self.model.duration.0 {
            self.queue.push(iv, Ev::Sample);
        }
    }

    /// The model being run.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Current simulated time, ns.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Events processed so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Names of components, indexed as in trace records.
    pub fn component_names(&self) -> &[String] {
        &self.plan.component_names
    }

    /// Number of pending events.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Time of the next scheduled event, if any (what `run_until` would take next).
    pub fn next_event_time(&mut self) -> Option<u64> {
        self.queue.peek_time()
    }

    /// The next `n` scheduled events as (time ns, description).
    pub fn upcoming(&self, n: usize) -> Vec<(u64, Ev)> {
        self.queue
            .upcoming(n)
            .into_iter()
            .map(|s| (s.time, s.ev))
            .collect()
    }

    /// Metric rows sampled since the last call (only with `Options::record_rows`).
    pub fn drain_rows(&mut self) -> Vec<Row> {
        std::mem::take(&mut self.rows)
    }

    /// Trace records since the last call (only with `Options::trace`).
    pub fn drain_trace(&mut self) -> Vec<TraceRec> {
        std::mem::take(&mut self.tracer.recs)
    }

    /// Sequence number of the last trace record made (0 before the first).
    pub fn trace_seq(&self) -> u64 {
        self.tracer.seq
    }

    /// Records retained in topic `t` that some consumer has yet to commit (all of them
    /// when nobody consumes it, as for a dead-letter topic), and the age in ns of the
    /// oldest of them since it was first produced.
    pub fn topic_backlog(&self, t: usize) -> (u64, u64) {
        if t >= self.topics.len() {
            return (0, 0);
        }
        self.topic_depth(t)
    }

    /// Stops recording trace records (a shell whose trace file is full).
    pub fn stop_tracing(&mut self) {
        self.tracer.on = false;
    }

    /// Whether trace records were dropped because nobody drained them.
    pub fn trace_overflowed(&self) -> bool {
        self.tracer.overflow
    }

    /// The latest anomalies (at most [`ANOMALY_LOG_LIMIT`]), oldest first.
    pub fn anomalies(&self) -> impl DoubleEndedIterator<Item = &Anomaly> {
        self.anomalies.iter()
    }

    /// The first anomaly of each kind and group, in time order.
    pub fn first_anomalies(&self) -> &[Anomaly] {
        &self.first_anomalies
    }

    /// Time of the latest metrics sample, ns (0 before the first).
    pub fn last_sample_time(&self) -> u64 {
        self.last_sample
    }

    /// Rebalances completed.
    pub fn rebalances(&self) -> u64 {
        self.rebalances
    }

    /// Processes one event. Returns false when the run is over.
    pub fn step(&mut self) -> bool {
        if self.finished {
            return false;
        }
        let end = self.model.duration.0;
        match self.queue.peek_time() {
            Some(t) if t < end => {}
            _ => {
                self.finish();
                return false;
            }
        }
        let Some(s) = self.queue.pop() else {
            self.finish();
            return false;
        };
        self.now = s.time;
        self.steps += 1;
        self.dispatch(s.ev);
        true
    }

    /// Runs until simulated time `until` (ns, exclusive) or `budget` events, whichever
    /// comes first.
    pub fn run_until(&mut self, until: u64, budget: u64) -> RunStatus {
        let end = self.model.duration.0;
        let mut spent = 0u64;
        loop {
            if self.finished {
                return RunStatus::Finished;
            }
            if spent >= budget {
                return RunStatus::BudgetSpent;
            }
            let next = self.queue.peek_time().unwrap_or(u64::MAX);
            if next >= end {
                if until >= end {
                    self.finish();
                    return RunStatus::Finished;
                }
                self.now = self.now.max(until);
                return RunStatus::TimeReached;
            }
            if next >= until {
                self.now = self.now.max(until);
                return RunStatus::TimeReached;
            }
            if let Some(s) = self.queue.pop() {
                self.now = s.time;
                self.steps += 1;
                self.dispatch(s.ev);
            }
            spent += 1;
        }
    }

    /// Runs to the end of the scenario.
    pub fn run_to_end(&mut self) {
        while self.run_until(u64::MAX, u64::MAX) != RunStatus::Finished {}
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.now = self.model.duration.0;
        self.sample();
        self.finished = true;
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Produce { producer } => self.on_produce(producer as usize),
            Ev::Resend { producer, slot } => self.on_resend(producer as usize, slot),
            Ev::Done { group, work, token } => self.on_done(group as usize, work, token),
            Ev::RetryDue { group, work, token } => self.on_retry_due(group as usize, work, token),
            Ev::AutoCommit {
                group,
                instance,
                incarnation,
            } => self.on_auto_commit(group as usize, instance as usize, incarnation),
            Ev::FaultStart { fault } => self.on_fault(fault as usize, true),
            Ev::FaultEnd { fault } => self.on_fault(fault as usize, false),
            Ev::Detect {
                group,
                instance,
                incarnation,
            } => self.on_detect(group as usize, instance as usize, incarnation),
            Ev::RebalanceDone { group, generation } => {
                if self.groups[group as usize].generation == generation {
                    self.complete_rebalance(group as usize, false);
                }
            }
            Ev::AssignRevoked { group, generation } => {
                if self.groups[group as usize].generation == generation {
                    self.assign_revoked(group as usize);
                }
            }
            Ev::Sample => {
                self.sample();
                let next = self.now + self.model.metrics_interval.0;
                if next < self.model.duration.0 {
                    self.queue.push(next, Ev::Sample);
                }
            }
        }
    }

    // ----- tracing -------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn tr(
        &mut self,
        kind: TraceKind,
        component: u32,
        instance: u32,
        rec: Option<&Record>,
        partition: u32,
        offset: u64,
        attempt: u32,
    ) {
        self.tracer.rec(
            self.now, kind, component, instance, rec, partition, offset, attempt,
        );
    }

    /// Traces what happened to a work item of group `g`.
    #[inline]
    fn tr_work(&mut self, kind: TraceKind, g: usize, work: &Work) {
        let comp = self.plan.group_comp + g as u32;
        self.tracer.rec(
            self.now,
            kind,
            comp,
            work.instance,
            Some(&work.rec),
            work.partition,
            work.offset,
            work.attempt,
        );
    }

    // ----- producers -----------------------------------------------------------

    /// The first arrival strictly after `t` (ns), or None past the end of the run.
    fn next_arrival(&mut self, p: usize, t: u64) -> Option<u64> {
        let end = self.model.duration.0;
        let dist = self.model.producers[p].dist;
        let segs = &self.plan.segments[p];
        let rng = &mut self.producers[p].arrivals;
        if let [(_, rate, _, _)] = segs[..]
            && dist == RateDist::Poisson
        {
            // The common case, a homogeneous Poisson process: one draw, no thinning.
            // Same arithmetic as the general path below, so the same numbers.
            if rate <= 0.0 {
                return None;
            }
            let cand = t as f64 + sample::exp_gap(rate * 1e-9, rng);
            let cand = if cand >= u64::MAX as f64 {
                u64::MAX
            } else {
                (cand + 0.5) as u64
            }
            .max(t + 1);
            return (cand < end).then_some(cand);
        }
        let mut t = t;
        // Segments are few and time only moves forward: a linear scan from the start
        // is cheaper than any index (one segment for a constant-rate producer).
        let mut i = segs.iter().position(|s| t < s.2)?;
        loop {
            let (a, ra, b, rb) = *segs.get(i)?;
            let lmax = ra.max(rb);
            if lmax <= 0.0 {
                t = b;
                i += 1;
                if t >= end {
                    return None;
                }
                continue;
            }
            let cand = match dist {
                RateDist::Poisson => t as f64 + sample::exp_gap(lmax * 1e-9, rng),
                RateDist::Constant => {
                    let r = rate_at(a, ra, b, rb, t);
                    if r <= 0.0 {
                        t = b;
                        i += 1;
                        continue;
                    }
                    t as f64 + 1e9 / r
                }
            };
            // + 0.5 and truncate: round half up without a libm call.
            let cand = if cand >= u64::MAX as f64 {
                u64::MAX
            } else {
                (cand + 0.5) as u64
            }
            .max(t + 1);
            if cand >= b && dist == RateDist::Poisson {
                // Memoryless: restart from the segment's end.
                t = b;
                i += 1;
                if t >= end {
                    return None;
                }
                continue;
            }
            if cand >= end {
                return None;
            }
            if dist == RateDist::Poisson && ra != rb {
                let r = rate_at(a, ra, b, rb, cand);
                if rng.random::<f64>() * lmax > r {
                    t = cand;
                    continue;
                }
            }
            return Some(cand);
        }
    }

    fn on_produce(&mut self, p: usize) {
        let msg = self.next_msg;
        self.next_msg += 1;
        let spec = &self.model.producers[p];
        let (topic, event, request_timeout) = (spec.topic, spec.event, spec.request_timeout);
        let resend_on_loss = spec.acks != Acks::None && spec.retries > 0 && !spec.idempotent;
        let ack_loss_rate = spec.ack_loss_rate;
        let ps = &mut self.producers[p];
        let key = match &mut ps.keys {
            Some((base, sampler)) => *base + sampler.draw(&mut ps.keys_rng),
            None => NO_KEY,
        };
        let partition = self.choose_partition(p, key);
        let rec = Record {
            msg,
            produced_at: self.now,
            key,
            event,
            flags: 0,
            accounted: 0,
        };
        let ps = &mut self.producers[p];
        ps.c.produced += 1;
        // With idempotence the broker drops the retried batch, so a lost ack changes
        // nothing and needs no draw.
        let lost_ack =
            resend_on_loss && ack_loss_rate > 0.0 && ps.ack_rng.random::<f64>() < ack_loss_rate;
        let comp = self.plan.producer_comp + p as u32;
        self.tr(
            TraceKind::Produce,
            comp,
            NA32,
            Some(&rec),
            partition,
            NA64,
            NA32,
        );
        self.append(topic, partition, rec);
        if lost_ack {
            // The broker wrote it, the ack was lost: the producer sends it again after
            // the request timeout and the broker, not deduplicating, writes it twice.
            let ps = &mut self.producers[p];
            let copy = Resend {
                partition,
                rec: Record {
                    flags: FLAG_COPY,
                    ..rec
                },
            };
            let slot = match ps.resend_free.pop() {
                Some(s) => {
                    ps.resend[s as usize] = Some(copy);
                    s
                }
                None => {
                    ps.resend.push(Some(copy));
                    (ps.resend.len() - 1) as u32
                }
            };
            let at = self.now.saturating_add(request_timeout.0);
            self.queue.push(
                at,
                Ev::Resend {
                    producer: p as u32,
                    slot,
                },
            );
        }
        if let Some(t) = self.next_arrival(p, self.now) {
            self.queue.push(t, Ev::Produce { producer: p as u32 });
        }
    }

    fn on_resend(&mut self, p: usize, slot: u32) {
        let ps = &mut self.producers[p];
        let Some(r) = ps.resend.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        ps.resend_free.push(slot);
        ps.c.copies += 1;
        let topic = self.model.producers[p].topic;
        self.append(topic, r.partition, r.rec);
    }

    fn choose_partition(&mut self, p: usize, key: KeyId) -> u32 {
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

    /// Appends `rec` to a partition and wakes the owners in every consuming group.
    fn append(&mut self, topic: TopicIdx, partition: u32, rec: Record) -> u64 {
        let ts = &mut self.topics[topic];
        let log = &mut ts.parts[partition as usize];
        let offset = log.end();
        log.recs.push_back(rec);
        if rec.flags & FLAG_COPY == 0 {
            ts.c.produced += 1;
        } else {
            ts.c.copies += 1;
        }
        let comp = self.plan.topic_comp + topic as u32;
        self.tr(
            TraceKind::Append,
            comp,
            NA32,
            Some(&rec),
            partition,
            offset,
            NA32,
        );
        for k in 0..self.model.topics[topic].groups.len() {
            let g = self.model.topics[topic].groups[k];
            if rec.flags & FLAG_COPY == 0 {
                self.occupancy(g, true);
            }
            if let Some(owner) = self.groups[g].parts[partition as usize].owner {
                self.try_dispatch(g, owner as usize);
            }
        }
        offset
    }

    // ----- consumers -----------------------------------------------------------

    /// Starts as much work on instance `i` of group `g` as its free slots allow.
    #[inline]
    fn try_dispatch(&mut self, g: usize, i: usize) {
        let inst = &self.groups[g].insts[i];
        if inst.alive && inst.busy < self.model.groups[g].concurrency {
            self.fill_slots(g, i);
        }
    }

    /// The dispatch path proper, on split borrows of the engine so that the hot loop
    /// indexes each vector once.
    fn fill_slots(&mut self, g: usize, i: usize) {
        let Engine {
            model,
            plan,
            groups,
            topics,
            queue,
            tracer,
            now,
            ..
        } = self;
        let cx = Cx {
            spec: &model.groups[g],
            logs: &topics[model.groups[g].topic].parts,
            now: *now,
            comp: plan.group_comp + g as u32,
            group: g as u32,
        };
        let gs = &mut groups[g];
        loop {
            let inst = &mut gs.insts[i];
            if !inst.alive || inst.busy >= cx.spec.concurrency {
                return;
            }
            let w = match inst.ready.pop_front() {
                Some(w) => {
                    let work = &gs.works[w as usize];
                    if work.state != WorkState::Ready || work.instance != i as u32 {
                        continue;
                    }
                    w
                }
                None => match fetch(&cx, gs, i, tracer) {
                    Some(w) => w,
                    None => return,
                },
            };
            start(&cx, gs, w, queue, tracer);
        }
    }

    #[inline]
    fn free_work(&mut self, g: usize, w: u32) {
        let work = &mut self.groups[g].works[w as usize];
        work.state = WorkState::Free;
        work.token = work.token.wrapping_add(1);
        self.groups[g].free.push(w);
    }

    #[inline]
    fn is_poison(&self, g: usize, msg: u64) -> bool {
        let rate = self.model.groups[g].poison_rate;
        rate > 0.0 && rng::unit_from_hash(self.groups[g].poison_seed ^ msg) < rate
    }

    #[inline]
    fn on_done(&mut self, g: usize, w: u32, token: u32) {
        let work = self.groups[g].works[w as usize];
        if work.token != token || work.state != WorkState::Running {
            return;
        }
        let spec = &self.model.groups[g];
        let (failure_rate, max_attempts) = (spec.failure_rate, spec.retry.max_attempts);
        let gs = &mut self.groups[g];
        let i = work.instance as usize;
        gs.insts[i].busy -= 1;
        gs.running -= 1;
        let failed = self.is_poison(g, work.rec.msg)
            || (failure_rate > 0.0 && self.groups[g].fail_rng.random::<f64>() < failure_rate);
        if failed {
            self.groups[g].c.failures += 1;
            self.tr_work(TraceKind::Fail, g, &work);
            if work.stale {
                self.free_work(g, w);
                let cause = work.redelivery.unwrap_or(Cause::Rebalance(self.now));
                self.abandon(g, &work, cause);
            } else if work.attempt < max_attempts {
                let retry = self.model.groups[g].retry;
                let gs = &mut self.groups[g];
                let delay = sample::backoff(&retry, work.attempt, &mut gs.backoff_rng);
                gs.c.retries += 1;
                gs.works[w as usize].state = WorkState::Backoff;
                self.queue.push(
                    self.now.saturating_add(delay),
                    Ev::RetryDue {
                        group: g as u32,
                        work: w,
                        token,
                    },
                );
                self.tr_work(TraceKind::Retry, g, &work);
            } else {
                self.give_up(g, &work);
                self.complete(g, w, &work);
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

    /// The last attempt failed: dead-letter the record, or lose it.
    fn give_up(&mut self, g: usize, work: &Work) {
        let first = self.account(g, work);
        match self.model.groups[g].dead_letter {
            Some(dlq) => {
                if first {
                    self.groups[g].c.dead_lettered += 1;
                }
                self.tr_work(TraceKind::DeadLetter, g, work);
                let rec = Record {
                    produced_at: self.now,
                    accounted: 0,
                    flags: if first {
                        0
                    } else {
                        FLAG_COPY | FLAG_FROM_DUPLICATE
                    },
                    ..work.rec
                };
                let n = self.model.topics[dlq].partitions;
                let part = if rec.key != NO_KEY {
                    self.model.keys.hashes[rec.key as usize] % n
                } else {
                    work.partition % n
                };
                self.append(dlq, part, rec);
            }
            None => {
                self.tr_work(TraceKind::Drop, g, work);
                if first {
                    self.groups[g].c.lost += 1;
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
    }

    /// Marks the record accounted for in group `g`; true if this is the first time
    /// (and the record is an original, not a copy).
    #[inline]
    fn account(&mut self, g: usize, work: &Work) -> bool {
        if work.rec.flags & FLAG_COPY != 0 {
            return false;
        }
        let spec = &self.model.groups[g];
        let bit = 1u32 << spec.topic_bit;
        let first =
            match self.topics[spec.topic].parts[work.partition as usize].get_mut(work.offset) {
                Some(r) => {
                    let first = r.accounted & bit == 0;
                    r.accounted |= bit;
                    first
                }
                // Deleted by retention while work held it: its bits are in `orphans`.
                None => match self.orphans.iter_mut().find(|o| {
                    o.topic == spec.topic as u32
                        && o.partition == work.partition
                        && o.offset == work.offset
                }) {
                    Some(o) => {
                        let first = o.rec.accounted & bit == 0;
                        o.rec.accounted |= bit;
                        first
                    }
                    None => true,
                },
            };
        if first {
            self.occupancy(g, false);
        }
        first
    }

    /// One record enters (`true`) or leaves group `g`'s system; keeps the time
    /// integral of the number in system.
    #[inline]
    fn occupancy(&mut self, g: usize, enter: bool) {
        let gs = &mut self.groups[g];
        gs.area += u128::from(gs.in_system) * u128::from(self.now - gs.area_since);
        gs.area_since = self.now;
        if enter {
            gs.in_system += 1;
        } else {
            gs.in_system = gs.in_system.saturating_sub(1);
        }
    }

    #[inline]
    fn apply_success(&mut self, g: usize, work: &Work) {
        let first = self.account(g, work);
        let latency = self.now.saturating_sub(work.rec.produced_at);
        let gs = &mut self.groups[g];
        gs.c.processed += 1;
        // Interval latencies exist only for metric rows; without rows, record straight
        // into the run's histogram and skip the per-interval merge.
        if self.opts.record_rows {
            gs.lat_interval.record(latency);
        } else {
            gs.lat_run.record(latency);
        }
        if first {
            gs.c.processed_once += 1;
        } else {
            gs.c.duplicates += 1;
            let cause = match work.redelivery {
                Some(c) => c,
                None if work.rec.flags & FLAG_COPY != 0 => copy_cause(&work.rec),
                None => Cause::Rebalance(self.now),
            };
            self.note(AnomalyKind::Duplicate, g, work, 0, cause);
        }
        // Ordering: same key and group, processed after a message produced later.
        if work.rec.key != NO_KEY {
            let nkeys = self.model.keys.len();
            let gs = &mut self.groups[g];
            if gs.key_last.len() < nkeys {
                gs.key_last.resize(nkeys, (0, 0));
            }
            let last = gs.key_last[work.rec.key as usize];
            if work.rec.produced_at < last.0 {
                gs.c.ordering_violations += 1;
                let cause = if let Some(c) = work.redelivery {
                    c
                } else if work.rec.flags & FLAG_COPY != 0 {
                    copy_cause(&work.rec)
                } else if work.attempt > 1 {
                    Cause::Retried(work.attempt)
                } else if self.model.groups[g].concurrency > 1
                    && self.model.groups[g].ordering == Ordering::Unordered
                {
                    Cause::Concurrent
                } else {
                    Cause::Upstream
                };
                self.note(AnomalyKind::OrderingViolation, g, work, last.1, cause);
            } else {
                gs.key_last[work.rec.key as usize] = (work.rec.produced_at, work.rec.msg);
            }
        }
        self.tr_work(TraceKind::Ack, g, work);
        // Follow-up events keep the key and the correlation id. Those of a duplicate
        // are copies: their originals were emitted the first time.
        for k in 0..self.model.groups[g].emits.len() {
            let (event, topic) = self.model.groups[g].emits[k];
            let model = &self.model;
            let rec = Record {
                msg: work.rec.msg,
                produced_at: self.now,
                key: work.rec.key,
                event,
                flags: if first {
                    0
                } else {
                    FLAG_COPY | FLAG_FROM_DUPLICATE
                },
                accounted: 0,
            };
            let n = model.topics[topic].partitions;
            let part = match model.topics[topic].partitioner {
                PartitionerKind::Murmur2 if rec.key != NO_KEY => {
                    model.keys.hashes[rec.key as usize] % n
                }
                _ => work.partition % n,
            };
            self.append(topic, part, rec);
        }
    }

    /// A work item finished for good (processed, dead-lettered or dropped): advance the
    /// partition's completed prefix and commit if the mode says so.
    #[inline]
    fn complete(&mut self, g: usize, w: u32, work: &Work) {
        let commit = self.model.groups[g].commit;
        let gp = &mut self.groups[g].parts[work.partition as usize];
        if let Some(slot) = work
            .offset
            .checked_sub(gp.base)
            .and_then(|i| gp.done.get_mut(i as usize))
        {
            *slot = true;
        }
        while gp.done.front() == Some(&true) {
            gp.done.pop_front();
            gp.base += 1;
        }
        gp.active = gp.active.saturating_sub(1);
        if !gp.busy_keys.is_empty()
            && let Some(pos) = gp.busy_keys.iter().position(|&k| k == work.rec.key)
        {
            gp.busy_keys.swap_remove(pos);
            gp.parked_clean = false;
        }
        if commit == CommitMode::After {
            gp.committed = gp.committed.max(gp.base);
        }
        self.free_work(g, w);
    }

    fn on_retry_due(&mut self, g: usize, w: u32, token: u32) {
        let work = &mut self.groups[g].works[w as usize];
        if work.token != token || work.state != WorkState::Backoff {
            return;
        }
        work.state = WorkState::Ready;
        let i = work.instance as usize;
        self.groups[g].insts[i].ready.push_back(w);
        self.try_dispatch(g, i);
    }

    fn on_auto_commit(&mut self, g: usize, i: usize, incarnation: u32) {
        let gs = &mut self.groups[g];
        let inst = &gs.insts[i];
        if !inst.alive || inst.incarnation != incarnation {
            return;
        }
        for &p in &inst.parts {
            let gp = &mut gs.parts[p as usize];
            if gp.owner == Some(i as u32) && !gp.paused {
                gp.committed = gp.committed.max(gp.base);
            }
        }
        let at = self
            .now
            .saturating_add(self.model.groups[g].commit_interval.0);
        self.queue.push(
            at,
            Ev::AutoCommit {
                group: g as u32,
                instance: i as u32,
                incarnation,
            },
        );
        let comp = self.plan.group_comp + g as u32;
        self.tr(TraceKind::Commit, comp, i as u32, None, NA32, NA64, NA32);
    }

    fn note(&mut self, kind: AnomalyKind, g: usize, work: &Work, other: u64, cause: Cause) {
        let a = Anomaly {
            time: self.now,
            kind,
            group: g as u32,
            msg: work.rec.msg,
            key: work.rec.key,
            other,
            partition: work.partition,
            offset: work.offset,
            cause,
        };
        if !self
            .first_anomalies
            .iter()
            .any(|f| f.kind == kind && f.group == g as u32)
        {
            self.first_anomalies.push(a);
        }
        if self.anomalies.len() >= ANOMALY_LOG_LIMIT {
            self.anomalies.pop_front();
        }
        self.anomalies.push_back(a);
    }

    // ----- faults and rebalances -------------------------------------------------

    fn on_fault(&mut self, f: usize, start: bool) {
        let fault = self.model.faults[f];
        let g = fault.group;
        let targets: Vec<usize> = match fault.instance {
            Some(i) => vec![i as usize],
            None => (0..self.groups[g].insts.len()).collect(),
        };
        if start {
            for &i in &targets {
                self.crash(g, i);
            }
            if let Some(d) = fault.duration {
                self.queue.push(
                    self.now.saturating_add(d.0),
                    Ev::FaultEnd { fault: f as u32 },
                );
            }
        } else {
            let mut any = false;
            for &i in &targets {
                let inst = &mut self.groups[g].insts[i];
                if inst.alive {
                    continue;
                }
                inst.alive = true;
                inst.joined = true;
                inst.incarnation = inst.incarnation.wrapping_add(1);
                any = true;
                let inc = inst.incarnation;
                if self.model.groups[g].commit == CommitMode::Auto {
                    let at = self
                        .now
                        .saturating_add(self.model.groups[g].commit_interval.0);
                    self.queue.push(
                        at,
                        Ev::AutoCommit {
                            group: g as u32,
                            instance: i as u32,
                            incarnation: inc,
                        },
                    );
                }
                let comp = self.plan.group_comp + g as u32;
                self.tr(TraceKind::Restart, comp, i as u32, None, NA32, NA64, NA32);
            }
            if any {
                // A restarted instance joins with a new member: the group rebalances.
                self.start_rebalance(g);
            }
        }
    }

    /// Instance `i` stops at once: its work is gone; with commit before processing,
    /// whatever it held is lost for good.
    fn crash(&mut self, g: usize, i: usize) {
        if !self.groups[g].insts[i].alive {
            return;
        }
        let comp = self.plan.group_comp + g as u32;
        self.tr(TraceKind::Crash, comp, i as u32, None, NA32, NA64, NA32);
        self.groups[g].last_crash = self.now;
        let cause = Cause::CommittedBeforeCrash(self.now);
        for w in 0..self.groups[g].works.len() as u32 {
            let work = self.groups[g].works[w as usize];
            if work.state == WorkState::Free || work.instance != i as u32 {
                continue;
            }
            if work.state == WorkState::Running {
                self.groups[g].running -= 1;
            }
            if !work.stale {
                let gp = &mut self.groups[g].parts[work.partition as usize];
                gp.active = gp.active.saturating_sub(1);
            }
            self.free_work(g, w);
            self.abandon(g, &work, cause);
        }
        // Records parked behind their key were fetched but never started.
        let owned: Vec<u32> = self.groups[g].insts[i].parts.clone();
        for &p in &owned {
            self.abandon_parked(g, p, cause);
            let gp = &mut self.groups[g].parts[p as usize];
            gp.busy_keys.clear();
            gp.parked_clean = false;
        }
        // Its position in each partition dies with it: whoever reads the partition
        // next, a new owner or this instance restarted, starts from the committed
        // offset, as a Kafka consumer does when it is assigned a partition.
        self.groups[g].insts[i].alive = false;
        for &p in &owned {
            if self.groups[g].parts[p as usize].owner == Some(i as u32) {
                self.revoke(g, p, Some(Cause::Crash(self.now)));
            }
        }
        let inst = &mut self.groups[g].insts[i];
        inst.alive = false;
        inst.busy = 0;
        inst.ready.clear();
        inst.incarnation = inst.incarnation.wrapping_add(1);
        let at = self
            .now
            .saturating_add(self.model.groups[g].session_timeout.0);
        self.queue.push(
            at,
            Ev::Detect {
                group: g as u32,
                instance: i as u32,
                incarnation: inst.incarnation,
            },
        );
    }

    /// Work dropped without an outcome (crash, revocation, a stale attempt that
    /// failed). If nobody will read its record again, because its offset is below the
    /// committed offset where the next owner starts (commit before processing) or
    /// because retention deleted it, it is lost (or expired); otherwise it will be
    /// redelivered and nothing is counted now.
    fn abandon(&mut self, g: usize, work: &Work, cause: Cause) {
        let topic = self.model.groups[g].topic;
        let in_log = self.topics[topic].parts[work.partition as usize]
            .get(work.offset)
            .is_some();
        let committed = self.groups[g].parts[work.partition as usize].committed;
        if in_log && work.offset >= committed {
            return;
        }
        // Another attempt of the same record still runs (on a revoked partition, say):
        // its end decides.
        let other = self.groups[g].works.iter().any(|o| {
            o.state != WorkState::Free && o.partition == work.partition && o.offset == work.offset
        });
        if other {
            return;
        }
        if !self.account(g, work) {
            return;
        }
        if in_log {
            self.groups[g].c.lost += 1;
            self.tr_work(TraceKind::Drop, g, work);
            self.note(AnomalyKind::Lost, g, work, 0, cause);
        } else {
            self.groups[g].c.expired += 1;
            self.tr_work(TraceKind::Expire, g, work);
            self.note(AnomalyKind::Expired, g, work, 0, Cause::Retention);
        }
    }

    /// Drops the records parked behind their key on partition `p`, as [`Self::abandon`].
    fn abandon_parked(&mut self, g: usize, p: u32, cause: Cause) {
        let topic = self.model.groups[g].topic;
        let gp = &mut self.groups[g].parts[p as usize];
        gp.parked_clean = false;
        let parked: Vec<u64> = gp.waiting.drain(..).collect();
        for off in parked {
            let rec = match self.topics[topic].parts[p as usize].get(off) {
                Some(r) => *r,
                None => continue, // deleted: counted as expired then
            };
            let work = Work {
                state: WorkState::Free,
                token: 0,
                instance: NA32,
                partition: p,
                attempt: 0,
                stale: false,
                offset: off,
                rec,
                redelivery: None,
            };
            self.abandon(g, &work, cause);
        }
    }

    fn on_detect(&mut self, g: usize, i: usize, incarnation: u32) {
        let inst = &mut self.groups[g].insts[i];
        if inst.incarnation != incarnation || inst.alive || !inst.joined {
            return;
        }
        inst.joined = false;
        self.start_rebalance(g);
    }

    fn start_rebalance(&mut self, g: usize) {
        let gs = &mut self.groups[g];
        gs.generation = gs.generation.wrapping_add(1);
        gs.rebalancing = true;
        if self.model.groups[g].assignor != AssignorKind::CooperativeSticky {
            // Eager protocol: every member stops fetching until the rebalance completes.
            for gp in &mut gs.parts {
                gp.paused = true;
            }
        }
        let generation = gs.generation;
        let at = self
            .now
            .saturating_add(self.model.groups[g].rebalance_time.0);
        self.queue.push(
            at,
            Ev::RebalanceDone {
                group: g as u32,
                generation,
            },
        );
        let comp = self.plan.group_comp + g as u32;
        self.tr(TraceKind::Rebalance, comp, NA32, None, NA32, NA64, NA32);
    }

    /// The rebalance completes: members that did not rejoin are out, the assignor
    /// computes the new assignment, moved partitions restart from their committed
    /// offsets.
    fn complete_rebalance(&mut self, g: usize, initial: bool) {
        let spec = &self.model.groups[g];
        let cooperative = spec.assignor == AssignorKind::CooperativeSticky;
        let gs = &mut self.groups[g];
        gs.rebalancing = false;
        for inst in &mut gs.insts {
            if !inst.alive {
                inst.joined = false;
            }
        }
        let members: Vec<usize> = (0..gs.insts.len())
            .filter(|&i| gs.insts[i].joined)
            .collect();
        let ids: Vec<String> = members.iter().map(|&i| spec.member_id(i)).collect();
        let owned: Vec<Vec<TopicPartition>> = members
            .iter()
            .map(|&i| {
                gs.insts[i]
                    .parts
                    .iter()
                    .filter(|&&p| gs.parts[p as usize].owner == Some(i as u32))
                    .map(|&p| TopicPartition {
                        topic: 0,
                        partition: p,
                    })
                    .collect()
            })
            .collect();
        let topic = &self.model.topics[spec.topic];
        let topics = [TopicSpec {
            name: &topic.name,
            partitions: topic.partitions,
        }];
        let sub = [0usize];
        let specs: Vec<MemberSpec> = ids
            .iter()
            .zip(&owned)
            .map(|(id, o)| MemberSpec {
                id,
                subscription: &sub,
                owned: o,
            })
            .collect();
        let kind = match spec.assignor {
            AssignorKind::Range => assignor::Assignor::Range,
            AssignorKind::RoundRobin => assignor::Assignor::RoundRobin,
            AssignorKind::CooperativeSticky => assignor::Assignor::CooperativeSticky,
        };
        let result = assignor::assign(kind, &topics, &specs);
        let mut target: Vec<Option<u32>> = vec![None; topic.partitions as usize];
        for (m, parts) in members.iter().zip(&result) {
            for tp in parts {
                if let Some(t) = target.get_mut(tp.partition as usize) {
                    *t = Some(*m as u32);
                }
            }
        }
        let cause = if initial {
            None
        } else {
            Some(Cause::Rebalance(self.now))
        };
        let generation = self.groups[g].generation;
        let mut second_round = false;
        for (p, &new) in target.iter().enumerate() {
            let old = self.groups[g].parts[p].owner;
            let old_alive = old.is_some_and(|o| self.groups[g].insts[o as usize].alive);
            if cooperative && !initial && old == new && old_alive {
                continue; // keeps its partition and never stopped
            }
            if cooperative && !initial && old_alive && old != new {
                // Cooperative protocol: revoke now, assign in a second round.
                self.revoke(g, p as u32, cause);
                let gp = &mut self.groups[g].parts[p];
                gp.owner = None;
                gp.paused = true;
                gp.pending = new;
                second_round = true;
                continue;
            }
            if !initial {
                self.revoke(g, p as u32, cause);
            }
            let gp = &mut self.groups[g].parts[p];
            gp.owner = new;
            gp.paused = false;
            gp.pending = None;
        }
        self.rebuild_instance_parts(g);
        if !initial {
            self.rebalances += 1;
            let comp = self.plan.group_comp + g as u32;
            self.tr(TraceKind::Rebalance, comp, NA32, None, NA32, NA64, NA32);
        }
        if second_round {
            let at = self
                .now
                .saturating_add(self.model.groups[g].rebalance_time.0);
            self.queue.push(
                at,
                Ev::AssignRevoked {
                    group: g as u32,
                    generation,
                },
            );
        }
        for i in 0..self.groups[g].insts.len() {
            self.try_dispatch(g, i);
        }
    }

    fn assign_revoked(&mut self, g: usize) {
        for gp in &mut self.groups[g].parts {
            if let Some(new) = gp.pending.take() {
                gp.owner = Some(new);
                gp.paused = false;
            }
        }
        self.rebuild_instance_parts(g);
        self.rebalances += 1;
        for i in 0..self.groups[g].insts.len() {
            self.try_dispatch(g, i);
        }
    }

    fn rebuild_instance_parts(&mut self, g: usize) {
        let gs = &mut self.groups[g];
        for inst in &mut gs.insts {
            inst.parts.clear();
        }
        for (p, gp) in gs.parts.iter().enumerate() {
            if let Some(o) = gp.owner.or(gp.pending) {
                gs.insts[o as usize].parts.push(p as u32);
            }
        }
        for inst in &mut gs.insts {
            if inst.cursor >= inst.parts.len() {
                inst.cursor = 0;
            }
        }
    }

    /// Partition `p` leaves its owner: a live owner commits what it completed (Kafka
    /// commits on revocation), running work turns stale, queued work is dropped, and the
    /// next owner starts from the committed offset.
    fn revoke(&mut self, g: usize, p: u32, cause: Option<Cause>) {
        let commit = self.model.groups[g].commit;
        let gs = &mut self.groups[g];
        let gp = &mut gs.parts[p as usize];
        let owner_alive = gp.owner.is_some_and(|o| gs.insts[o as usize].alive);
        if owner_alive && commit != CommitMode::Before {
            gp.committed = gp.committed.max(gp.base);
        }
        let cause = match (cause, owner_alive) {
            (Some(Cause::Rebalance(_)), false) => Some(Cause::Crash(gs.last_crash)),
            (c, _) => c,
        };
        if gp.next_fetch > gp.committed {
            gp.redeliver_until = gp.redeliver_until.max(gp.next_fetch);
            gp.redeliver_cause = cause;
        }
        gp.next_fetch = gp.committed;
        gp.base = gp.committed;
        gp.done.clear();
        gp.active = 0;
        gp.busy_keys.clear();
        gp.parked_clean = false;
        let revoked = Cause::Rebalance(self.now);
        self.abandon_parked(g, p, revoked);
        let gs = &mut self.groups[g];
        let gp = &mut gs.parts[p as usize];
        gp.waiting.clear();
        for w in 0..gs.works.len() as u32 {
            let work = self.groups[g].works[w as usize];
            if work.state == WorkState::Free || work.partition != p || work.stale {
                continue;
            }
            if work.state == WorkState::Running {
                self.groups[g].works[w as usize].stale = true;
            } else {
                self.free_work(g, w);
                self.abandon(g, &work, revoked);
            }
        }
    }

    // ----- metrics -------------------------------------------------------------

    fn group_lag(&self, g: usize) -> (u64, u64, Vec<(u64, u64)>) {
        let topic = self.model.groups[g].topic;
        let mut total = 0;
        let mut oldest = 0;
        let mut per = Vec::with_capacity(self.groups[g].parts.len());
        for (p, gp) in self.groups[g].parts.iter().enumerate() {
            let log = &self.topics[topic].parts[p];
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
    fn topic_depth(&self, t: usize) -> (u64, u64) {
        let groups = &self.model.topics[t].groups;
        let mut depth = 0;
        let mut oldest = 0;
        for (p, log) in self.topics[t].parts.iter().enumerate() {
            let from = groups
                .iter()
                .map(|&g| self.groups[g].parts[p].committed)
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

    /// Deletes records below every group's committed offset (they can never be read
    /// again), and those older than retention, counting unconsumed ones as expired.
    fn enforce_retention(&mut self) {
        if !self.orphans.is_empty() {
            let model = &self.model;
            let groups = &self.groups;
            self.orphans.retain(|o| {
                model.topics[o.topic as usize].groups.iter().any(|&g| {
                    groups[g].works.iter().any(|w| {
                        w.state != WorkState::Free
                            && w.partition == o.partition
                            && w.offset == o.offset
                    })
                })
            });
        }
        for t in 0..self.topics.len() {
            let retention = self.model.topics[t].retention.0;
            let cutoff = self.now.saturating_sub(retention);
            let groups = self.model.topics[t].groups.clone();
            // A consumed record some work item still holds (in flight on a revoked
            // partition, say) stays until that work ends: its outcome is accounted for
            // in the record itself. Retention deletes old records regardless, as Kafka
            // does; work on a deleted record is accounted for when it ends.
            let mut held = vec![u64::MAX; self.topics[t].parts.len()];
            let mut holds: Vec<Vec<(u32, u64)>> = Vec::with_capacity(groups.len());
            for &g in &groups {
                let mut mine = Vec::new();
                for w in self.groups[g]
                    .works
                    .iter()
                    .filter(|w| w.state != WorkState::Free)
                {
                    let h = &mut held[w.partition as usize];
                    *h = (*h).min(w.offset);
                    mine.push((w.partition, w.offset));
                }
                mine.sort_unstable();
                holds.push(mine);
            }
            // `p` indexes the logs, `held` and every group's partitions alike.
            #[allow(clippy::needless_range_loop)]
            for p in 0..self.topics[t].parts.len() {
                let keep_from = groups
                    .iter()
                    .map(|&g| {
                        let gp = &self.groups[g].parts[p];
                        gp.committed.min(gp.base)
                    })
                    .min()
                    .map(|k| k.min(held[p]));
                // Records every group has committed past can never be read again:
                // drop them in one go.
                if let Some(k) = keep_from {
                    let log = &mut self.topics[t].parts[p];
                    let n = k.saturating_sub(log.base).min(log.recs.len() as u64);
                    if n > 0 {
                        log.recs.drain(..n as usize);
                        log.base += n;
                    }
                }
                loop {
                    let log = &self.topics[t].parts[p];
                    let Some(mut front) = log.recs.front().copied() else {
                        break;
                    };
                    let off = log.base;
                    let consumed = keep_from.is_some_and(|k| off < k);
                    let old = retention > 0 && self.now >= retention && front.produced_at < cutoff;
                    if !consumed && !old {
                        break;
                    }
                    if !consumed {
                        self.expire_record(t, p, off, &mut front, &groups, &holds);
                        if holds
                            .iter()
                            .any(|h| h.binary_search(&(p as u32, off)).is_ok())
                        {
                            self.orphans.push(Orphan {
                                topic: t as u32,
                                partition: p as u32,
                                offset: off,
                                rec: front,
                            });
                        }
                    }
                    let log = &mut self.topics[t].parts[p];
                    log.recs.pop_front();
                    log.base += 1;
                }
                // Groups whose position fell below the log start move up to it
                // (auto.offset.reset = earliest).
                let start = self.topics[t].parts[p].base;
                for &g in &groups {
                    let gp = &mut self.groups[g].parts[p];
                    // Parked records that retention deleted were counted as expired:
                    // complete their offsets so the committed prefix can move on.
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
                        while gp.done.front() == Some(&true) {
                            gp.done.pop_front();
                            gp.base += 1;
                        }
                    }
                    if gp.next_fetch < start && gp.active == 0 && gp.waiting.is_empty() {
                        gp.next_fetch = start;
                        gp.base = start;
                        gp.done.clear();
                        gp.committed = gp.committed.max(start);
                    }
                }
            }
        }
    }

    /// Retention deletes `rec`: every group that has not accounted for it and holds no
    /// work on it (unfetched, parked behind its key, or abandoned by a crashed
    /// instance) will never process it: expired. Work in progress on it is accounted
    /// for when it ends.
    #[allow(clippy::too_many_arguments)]
    fn expire_record(
        &mut self,
        t: usize,
        p: usize,
        off: u64,
        rec: &mut Record,
        groups: &[GroupIdx],
        holds: &[Vec<(u32, u64)>],
    ) {
        if rec.flags & FLAG_COPY != 0 {
            return;
        }
        for (k, &g) in groups.iter().enumerate() {
            let bit = 1u32 << self.model.groups[g].topic_bit;
            let held = holds
                .get(k)
                .is_some_and(|h| h.binary_search(&(p as u32, off)).is_ok());
            if rec.accounted & bit == 0 && !held {
                rec.accounted |= bit;
                self.groups[g].c.expired += 1;
                self.occupancy(g, false);
                let work = Work {
                    state: WorkState::Free,
                    token: 0,
                    instance: NA32,
                    partition: p as u32,
                    attempt: 0,
                    stale: false,
                    offset: off,
                    rec: *rec,
                    redelivery: None,
                };
                self.note(AnomalyKind::Expired, g, &work, 0, Cause::Retention);
                let comp = self.plan.group_comp + g as u32;
                self.tr(
                    TraceKind::Expire,
                    comp,
                    NA32,
                    Some(&*rec),
                    p as u32,
                    off,
                    NA32,
                );
            }
        }
        self.topics[t].c.expired += 1;
    }

    fn sample(&mut self) {
        self.enforce_retention();
        let now = self.now;
        let interval_s = (now.saturating_sub(self.last_sample)).max(1) as f64 / 1e9;
        self.last_sample = now;
        let record = self.opts.record_rows;
        let mut rows: Vec<Row> = Vec::new();
        let push = |rows: &mut Vec<Row>, component: &str, metric: &'static str, value: Value| {
            if record {
                rows.push(Row {
                    time: now,
                    component: component.to_string(),
                    metric,
                    value,
                });
            }
        };
        let mut total = Counters::default();
        let mut total_lag = 0u64;
        let mut total_inflight = 0u64;
        let mut total_dlq = 0u64;
        for p in 0..self.producers.len() {
            let c = self.producers[p].c;
            let idx = self.plan.producer_comp as usize + p;
            let d = delta(&c, &self.prev[idx]);
            self.prev[idx] = c;
            total.produced += d.produced;
            let name = &self.plan.component_names[idx];
            push(&mut rows, name, "produced", Value::Count(d.produced));
            push(
                &mut rows,
                name,
                "throughput_out",
                Value::Real(d.produced as f64 / interval_s),
            );
            push(&mut rows, name, "duplicates", Value::Count(d.copies));
        }
        let mut dlq_topics: Vec<usize> = self
            .model
            .groups
            .iter()
            .filter_map(|g| g.dead_letter)
            .collect();
        dlq_topics.sort_unstable();
        dlq_topics.dedup();
        for t in 0..self.topics.len() {
            let c = self.topics[t].c;
            let idx = self.plan.topic_comp as usize + t;
            let d = delta(&c, &self.prev[idx]);
            self.prev[idx] = c;
            let (depth, oldest) = self.topic_depth(t);
            if dlq_topics.binary_search(&t).is_ok() {
                total_dlq += depth;
            }
            let name = &self.plan.component_names[idx];
            push(
                &mut rows,
                name,
                "produced",
                Value::Count(d.produced + d.copies),
            );
            push(
                &mut rows,
                name,
                "throughput_in",
                Value::Real((d.produced + d.copies) as f64 / interval_s),
            );
            push(&mut rows, name, "queue_depth", Value::Count(depth));
            push(
                &mut rows,
                name,
                "lag_time",
                Value::Real(oldest as f64 / 1e9),
            );
            push(&mut rows, name, "expired", Value::Count(d.expired));
        }
        for g in 0..self.groups.len() {
            let spec = &self.model.groups[g];
            let mut c = self.groups[g].c;
            c.produced = self.topics[spec.topic].c.produced;
            let idx = self.plan.group_comp as usize + g;
            let d = delta(&c, &self.prev[idx]);
            self.prev[idx] = c;
            let (lag, lag_time, per) = self.group_lag(g);
            let dlq_depth = spec.dead_letter.map_or(0, |t| self.topic_depth(t).0);
            let gs = &mut self.groups[g];
            gs.max_lag = gs.max_lag.max(lag);
            gs.max_lag_time_ns = gs.max_lag_time_ns.max(lag_time);
            let in_flight = u64::from(gs.running);
            total_lag += lag;
            total_inflight += in_flight;
            for (field, v) in [
                (&mut total.processed, d.processed),
                (&mut total.duplicates, d.duplicates),
                (&mut total.ordering_violations, d.ordering_violations),
                (&mut total.lost, d.lost),
                (&mut total.expired, d.expired),
                (&mut total.retries, d.retries),
                (&mut total.dead_lettered, d.dead_lettered),
                (&mut total.delivered, d.delivered),
            ] {
                *field += v;
            }
            let rate_out = d.processed as f64 / interval_s;
            let drain = if lag == 0 {
                0.0
            } else if d.processed == 0 {
                f64::INFINITY
            } else {
                lag as f64 / rate_out
            };
            let lat = &gs.lat_interval;
            let lat_rows = (record && lat.count() > 0).then(|| {
                [
                    ("latency_mean", lat.mean_ns()),
                    ("latency_p50", lat.percentile_ns(50.0) as f64),
                    ("latency_p95", lat.percentile_ns(95.0) as f64),
                    ("latency_p99", lat.percentile_ns(99.0) as f64),
                    ("latency_max", lat.max_ns() as f64),
                ]
            });
            if gs.lat_interval.count() > 0 {
                gs.lat_run.merge(&gs.lat_interval);
                gs.lat_interval.reset();
            }
            let name = self.plan.component_names[idx].clone();
            for (metric, v) in [
                ("produced", d.produced),
                ("delivered", d.delivered),
                ("processed", d.processed),
                ("retries", d.retries),
                ("duplicates", d.duplicates),
                ("ordering_violations", d.ordering_violations),
                ("lost", d.lost),
                ("expired", d.expired),
                ("dead_lettered", d.dead_lettered),
                ("lag", lag),
                ("in_flight", in_flight),
                ("dlq_depth", dlq_depth),
            ] {
                push(&mut rows, &name, metric, Value::Count(v));
            }
            push(
                &mut rows,
                &name,
                "throughput_in",
                Value::Real(d.produced as f64 / interval_s),
            );
            push(&mut rows, &name, "throughput_out", Value::Real(rate_out));
            push(
                &mut rows,
                &name,
                "lag_time",
                Value::Real(lag_time as f64 / 1e9),
            );
            push(&mut rows, &name, "drain_time", Value::Real(drain));
            if let Some(lr) = lat_rows {
                for (metric, ns) in lr {
                    push(&mut rows, &name, metric, Value::Real(ns / 1e6));
                }
            }
            if record {
                for (p, (lag, age)) in per.iter().enumerate() {
                    let pname = format!("{name}/{p}");
                    push(&mut rows, &pname, "lag", Value::Count(*lag));
                    push(
                        &mut rows,
                        &pname,
                        "lag_time",
                        Value::Real(*age as f64 / 1e9),
                    );
                }
            }
        }
        for (metric, v) in [
            ("produced", total.produced),
            ("processed", total.processed),
            ("duplicates", total.duplicates),
            ("ordering_violations", total.ordering_violations),
            ("lost", total.lost),
            ("expired", total.expired),
            ("retries", total.retries),
            ("dead_lettered", total.dead_lettered),
            ("lag", total_lag),
            ("in_flight", total_inflight),
            ("dlq_depth", total_dlq),
        ] {
            push(&mut rows, "total", metric, Value::Count(v));
        }
        if record {
            rows.sort_by(|a, b| a.component.cmp(&b.component).then(a.metric.cmp(b.metric)));
            self.rows.append(&mut rows);
        }
    }

    // ----- end of run ------------------------------------------------------------

    /// Per group, the conservation terms counted by the engine and the pending records
    /// found by scanning the logs and the in-flight work.
    pub fn conservation(&self) -> Vec<Conservation> {
        (0..self.groups.len())
            .map(|g| {
                let spec = &self.model.groups[g];
                let bit = 1u32 << spec.topic_bit;
                let gs = &self.groups[g];
                // Deleted records still held by work in progress are pending too.
                let held = self
                    .orphans
                    .iter()
                    .filter(|o| {
                        o.topic as usize == spec.topic
                            && o.rec.flags & FLAG_COPY == 0
                            && o.rec.accounted & bit == 0
                    })
                    .count() as u64;
                let pending: u64 = held
                    + self.topics[spec.topic]
                        .parts
                        .iter()
                        .map(|log| {
                            log.recs
                                .iter()
                                .filter(|r| r.flags & FLAG_COPY == 0 && r.accounted & bit == 0)
                                .count() as u64
                        })
                        .sum::<u64>();
                Conservation {
                    group: spec.name.clone(),
                    produced: self.topics[spec.topic].c.produced,
                    processed_once: gs.c.processed_once,
                    dead_lettered: gs.c.dead_lettered,
                    pending,
                    lost: gs.c.lost,
                    expired: gs.c.expired,
                    duplicates: gs.c.duplicates,
                }
            })
            .collect()
    }

    /// Aggregates of the whole run so far, per component.
    pub fn summary(&self) -> Summary {
        let producers = self
            .model
            .producers
            .iter()
            .zip(&self.producers)
            .map(|(m, s)| ProducerSummary {
                name: m.name.clone(),
                produced: s.c.produced,
                copies: s.c.copies,
            })
            .collect();
        let topics = (0..self.topics.len())
            .map(|t| {
                let (depth, oldest) = self.topic_depth(t);
                TopicSummary {
                    name: self.model.topics[t].name.clone(),
                    appended: self.topics[t].c.produced + self.topics[t].c.copies,
                    copies: self.topics[t].c.copies,
                    queue_depth: depth,
                    oldest_s: oldest as f64 / 1e9,
                    expired: self.topics[t].c.expired,
                }
            })
            .collect();
        let groups = (0..self.groups.len())
            .map(|g| {
                let gs = &self.groups[g];
                let (lag, lag_time, _) = self.group_lag(g);
                let mut lat = gs.lat_run.clone();
                lat.merge(&gs.lat_interval);
                let ms = |ns: f64| ns / 1e6;
                GroupSummary {
                    name: self.model.groups[g].name.clone(),
                    counters: Counters {
                        produced: self.topics[self.model.groups[g].topic].c.produced,
                        ..gs.c
                    },
                    latency_mean_ms: ms(lat.mean_ns()),
                    latency_p50_ms: ms(lat.percentile_ns(50.0) as f64),
                    latency_p95_ms: ms(lat.percentile_ns(95.0) as f64),
                    latency_p99_ms: ms(lat.percentile_ns(99.0) as f64),
                    latency_max_ms: ms(lat.max_ns() as f64),
                    lag,
                    lag_time_s: lag_time as f64 / 1e9,
                    max_lag: gs.max_lag.max(lag),
                    max_lag_time_s: gs.max_lag_time_ns.max(lag_time) as f64 / 1e9,
                    in_flight: u64::from(gs.running),
                    in_system_mean: {
                        let area = gs.area
                            + u128::from(gs.in_system) * u128::from(self.now - gs.area_since);
                        if self.now == 0 {
                            0.0
                        } else {
                            area as f64 / self.now as f64
                        }
                    },
                    dlq_depth: self.model.groups[g]
                        .dead_letter
                        .map_or(0, |t| self.topic_depth(t).0),
                }
            })
            .collect();
        Summary {
            scenario: self.model.name.clone(),
            seed: self.model.seed,
            time_s: self.now as f64 / 1e9,
            events: self.steps,
            rebalances: self.rebalances,
            producers,
            topics,
            groups,
            conservation: self.conservation(),
        }
    }

    /// Per partition of group `g`: (log end, committed, lag). For tests and the TUI.
    pub fn partition_offsets(&self, g: usize) -> Vec<(u64, u64, u64)> {
        let topic = self.model.groups[g].topic;
        self.groups[g]
            .parts
            .iter()
            .enumerate()
            .map(|(p, gp)| {
                let end = self.topics[topic].parts[p].end();
                (end, gp.committed, end.saturating_sub(gp.committed))
            })
            .collect()
    }

    /// How many instances of group `g` are running (not crashed).
    pub fn instances_alive(&self, g: usize) -> usize {
        self.groups[g].insts.iter().filter(|i| i.alive).count()
    }

    /// Which instance owns each partition of group `g` (None while unassigned).
    pub fn owners(&self, g: usize) -> Vec<Option<u32>> {
        self.groups[g].parts.iter().map(|gp| gp.owner).collect()
    }
}

/// The terms of `produced = processed_once + dead_lettered + pending + lost + expired`
/// for one group; duplicates are counted apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conservation {
    /// Group (consumer) name.
    pub group: String,
    /// Original records appended to its source topic.
    pub produced: u64,
    /// Processed at least once.
    pub processed_once: u64,
    /// Sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Still in the log, in flight or waiting for a retry.
    pub pending: u64,
    /// Lost, with cause.
    pub lost: u64,
    /// Deleted by retention unconsumed.
    pub expired: u64,
    /// Extra processings (not part of the sum).
    pub duplicates: u64,
}

impl Conservation {
    /// Whether the terms add up.
    pub fn holds(&self) -> bool {
        self.produced
            == self.processed_once + self.dead_lettered + self.pending + self.lost + self.expired
    }
}

/// Run aggregates for reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Simulated time reached, seconds.
    pub time_s: f64,
    /// Events processed.
    pub events: u64,
    /// Rebalances completed.
    pub rebalances: u64,
    /// Per producer.
    pub producers: Vec<ProducerSummary>,
    /// Per topic.
    pub topics: Vec<TopicSummary>,
    /// Per consumer group.
    pub groups: Vec<GroupSummary>,
    /// Conservation per group.
    pub conservation: Vec<Conservation>,
}

/// A producer's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProducerSummary {
    /// Name.
    pub name: String,
    /// Messages created.
    pub produced: u64,
    /// Records written twice after a lost ack.
    pub copies: u64,
}

/// A topic's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TopicSummary {
    /// Name.
    pub name: String,
    /// Records appended, copies included.
    pub appended: u64,
    /// Copies among them.
    pub copies: u64,
    /// Records not yet consumed by every group.
    pub queue_depth: u64,
    /// Age of the oldest of those, seconds.
    pub oldest_s: f64,
    /// Records deleted by retention unconsumed.
    pub expired: u64,
}

/// A group's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GroupSummary {
    /// Name.
    pub name: String,
    /// Event counts.
    #[serde(flatten)]
    pub counters: Counters,
    /// Mean end-to-end latency (produce to processed), ms.
    pub latency_mean_ms: f64,
    /// Median, ms.
    pub latency_p50_ms: f64,
    /// 95th percentile, ms.
    pub latency_p95_ms: f64,
    /// 99th percentile, ms.
    pub latency_p99_ms: f64,
    /// Maximum, ms.
    pub latency_max_ms: f64,
    /// Lag at the end.
    pub lag: u64,
    /// Age of the oldest unconsumed record at the end, s.
    pub lag_time_s: f64,
    /// Highest sampled lag.
    pub max_lag: u64,
    /// Highest sampled lag time, s.
    pub max_lag_time_s: f64,
    /// Records being processed at the end.
    pub in_flight: u64,
    /// Time-average number of records in the system (appended, not yet processed,
    /// dead-lettered, lost or expired): the L of Little's law.
    pub in_system_mean: f64,
    /// Depth of its dead-letter topic at the end.
    pub dlq_depth: u64,
}

/// A deleted record still held by work in progress.
#[derive(Clone, Copy, Debug)]
struct Orphan {
    topic: u32,
    partition: u32,
    offset: u64,
    rec: Record,
}

/// Trace records collected while tracing is on.
#[derive(Clone, Debug)]
struct Tracer {
    on: bool,
    recs: Vec<TraceRec>,
    seq: u64,
    overflow: bool,
}

impl Tracer {
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn rec(
        &mut self,
        now: u64,
        kind: TraceKind,
        component: u32,
        instance: u32,
        rec: Option<&Record>,
        partition: u32,
        offset: u64,
        attempt: u32,
    ) {
        if !self.on {
            return;
        }
        if self.recs.len() >= TRACE_BUFFER_LIMIT {
            self.overflow = true;
            return;
        }
        self.seq += 1;
        self.recs.push(TraceRec {
            t: now,
            seq: self.seq,
            kind,
            component,
            instance,
            msg: rec.map_or(NA64, |r| r.msg),
            key: rec.map_or(NO_KEY, |r| r.key),
            name: rec.map_or(trace::NA16, |r| r.event),
            partition,
            offset,
            attempt,
        });
    }
}

/// What the dispatch path of one group reads.
struct Cx<'a> {
    spec: &'a GroupModel,
    logs: &'a [PartLog],
    now: u64,
    comp: u32,
    group: u32,
}

impl GPart {
    /// The fetch position fell below the log start (retention deleted those records,
    /// already counted as expired): move it up, marking the skipped offsets complete.
    fn skip_to(&mut self, start: u64, commit: CommitMode) {
        while self.next_fetch < start {
            self.next_fetch += 1;
            self.done.push_back(true);
        }
        while self.done.front() == Some(&true) {
            self.done.pop_front();
            self.base += 1;
        }
        if commit != CommitMode::Auto {
            self.committed = self.committed.max(self.base);
        }
    }

    /// Key ordering: the first parked record whose key is free, else the next records
    /// of the log (parking those whose key is busy or already has a parked record).
    /// A hot key can park thousands of records, so the parked list is scanned only
    /// when a busy key was released since the last scan.
    fn fetch_by_key(&mut self, log: &PartLog) -> Option<u64> {
        if !self.parked_clean {
            self.parked_keys.clear();
            for (j, &off) in self.waiting.iter().enumerate() {
                let key = log.get(off).map_or(NO_KEY, |r| r.key);
                let busy = key != NO_KEY
                    && (self.busy_keys.contains(&key) || self.parked_keys.contains(&key));
                if !busy {
                    self.waiting.remove(j);
                    return Some(off);
                }
                if !self.parked_keys.contains(&key) {
                    self.parked_keys.push(key);
                }
            }
            self.parked_clean = true;
        }
        while self.next_fetch < log.end() && self.waiting.len() < KEY_BUFFER_LIMIT {
            let off = self.next_fetch;
            let key = log.get(off).map_or(NO_KEY, |r| r.key);
            if key != NO_KEY && (self.busy_keys.contains(&key) || self.parked_keys.contains(&key)) {
                // Fetched but parked behind its key.
                self.next_fetch += 1;
                self.done.push_back(false);
                self.waiting.push_back(off);
                if !self.parked_keys.contains(&key) {
                    self.parked_keys.push(key);
                }
                continue;
            }
            return Some(off);
        }
        None
    }
}

/// Takes the next record instance `i` may start, round robin over its partitions, and
/// makes a work item of it.
fn fetch(cx: &Cx<'_>, gs: &mut GroupState, i: usize, tracer: &mut Tracer) -> Option<u32> {
    let n = gs.insts[i].parts.len();
    let mut idx = gs.insts[i].cursor;
    for _ in 0..n {
        if idx >= n {
            idx = 0;
        }
        let p = gs.insts[i].parts[idx];
        idx += 1;
        let log = &cx.logs[p as usize];
        let gp = &mut gs.parts[p as usize];
        if gp.paused || gp.owner != Some(i as u32) {
            continue;
        }
        if gp.next_fetch < log.base {
            gp.skip_to(log.base, cx.spec.commit);
        }
        let offset = match cx.spec.ordering {
            Ordering::Partition => {
                if gp.active > 0 || gp.next_fetch >= log.end() {
                    continue;
                }
                gp.next_fetch
            }
            Ordering::Unordered => {
                if gp.next_fetch >= log.end() {
                    continue;
                }
                gp.next_fetch
            }
            Ordering::Key => match gp.fetch_by_key(log) {
                Some(o) => o,
                None => continue,
            },
        };
        gs.insts[i].cursor = idx;
        return make_work(cx, gs, i, p, offset, tracer);
    }
    None
}

fn make_work(
    cx: &Cx<'_>,
    gs: &mut GroupState,
    i: usize,
    p: u32,
    offset: u64,
    tracer: &mut Tracer,
) -> Option<u32> {
    let rec = *cx.logs[p as usize].get(offset)?;
    let gp = &mut gs.parts[p as usize];
    if offset == gp.next_fetch {
        gp.next_fetch += 1;
        gp.done.push_back(false);
    }
    if cx.spec.commit == CommitMode::Before {
        gp.committed = gp.committed.max(gp.next_fetch);
    }
    gp.active += 1;
    if rec.key != NO_KEY && cx.spec.ordering == Ordering::Key {
        gp.busy_keys.push(rec.key);
    }
    let redelivery = if offset < gp.redeliver_until {
        gp.redeliver_cause
    } else {
        None
    };
    let work = Work {
        state: WorkState::Ready,
        token: 0,
        instance: i as u32,
        partition: p,
        attempt: 0,
        stale: false,
        offset,
        rec,
        redelivery,
    };
    let w = match gs.free.pop() {
        Some(w) => {
            let slot = &mut gs.works[w as usize];
            *slot = Work {
                token: slot.token,
                ..work
            };
            w
        }
        None => {
            gs.works.push(work);
            (gs.works.len() - 1) as u32
        }
    };
    tracer.rec(
        cx.now,
        TraceKind::Deliver,
        cx.comp,
        i as u32,
        Some(&rec),
        p,
        offset,
        NA32,
    );
    Some(w)
}

fn start(cx: &Cx<'_>, gs: &mut GroupState, w: u32, queue: &mut EventQueue, tracer: &mut Tracer) {
    let work = &mut gs.works[w as usize];
    work.state = WorkState::Running;
    work.attempt += 1;
    let (i, rec, p, off, attempt, token) = (
        work.instance,
        work.rec,
        work.partition,
        work.offset,
        work.attempt,
        work.token,
    );
    gs.insts[i as usize].busy += 1;
    gs.running += 1;
    gs.c.delivered += 1;
    let d = sample::service_time(&cx.spec.service, &mut gs.service_rng);
    queue.push(
        cx.now.saturating_add(d),
        Ev::Done {
            group: cx.group,
            work: w,
            token,
        },
    );
    tracer.rec(
        cx.now,
        TraceKind::ProcessStart,
        cx.comp,
        i,
        Some(&rec),
        p,
        off,
        attempt,
    );
}

fn delta(now: &Counters, prev: &Counters) -> Counters {
    Counters {
        produced: now.produced - prev.produced,
        delivered: now.delivered - prev.delivered,
        processed: now.processed - prev.processed,
        processed_once: now.processed_once - prev.processed_once,
        duplicates: now.duplicates - prev.duplicates,
        ordering_violations: now.ordering_violations - prev.ordering_violations,
        lost: now.lost - prev.lost,
        expired: now.expired - prev.expired,
        retries: now.retries - prev.retries,
        failures: now.failures - prev.failures,
        dead_lettered: now.dead_lettered - prev.dead_lettered,
        copies: now.copies - prev.copies,
    }
}

fn copy_cause(rec: &Record) -> Cause {
    if rec.flags & FLAG_FROM_DUPLICATE != 0 {
        Cause::UpstreamDuplicate
    } else {
        Cause::ProducerRetry
    }
}

fn rate_at(a: u64, ra: f64, b: u64, rb: f64, t: u64) -> f64 {
    if b <= a || ra == rb {
        return ra;
    }
    let x = (t.saturating_sub(a)) as f64 / (b - a) as f64;
    ra + (rb - ra) * x.clamp(0.0, 1.0)
}

/// Piecewise-linear rate segments covering [0, end).
fn rate_segments(p: &ProducerModel, end: u64) -> Vec<(u64, f64, u64, f64)> {
    let mut segs = Vec::new();
    let mut t = 0u64;
    let mut rate = p.base_rate;
    for (i, ph) in p.phases.iter().enumerate() {
        let at = ph.at.min(end);
        if at > t {
            segs.push((t, rate, at, rate));
            t = at;
        }
        let next_at = p.phases.get(i + 1).map_or(end, |n| n.at.min(end));
        let ramp_end = at.saturating_add(ph.ramp).min(next_at);
        if ph.ramp > 0 && ramp_end > t {
            let full = at.saturating_add(ph.ramp);
            let reached = rate_at(at, rate, full, ph.per_second, ramp_end);
            segs.push((t, rate, ramp_end, reached));
            rate = reached;
            t = ramp_end;
        } else {
            rate = ph.per_second;
        }
    }
    if t < end {
        segs.push((t, rate, end, rate));
    }
    segs
}
