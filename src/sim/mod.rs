//! The simulation kernel: a deterministic discrete-event engine. It is sans-IO: no
//! terminal, files, clock or threads. Shells drive it with [`Engine::step`] and
//! [`Engine::run_until`], and read its state, its metric samples
//! ([`Engine::drain_rows`]) and its trace ([`Engine::drain_trace`]).
//!
//! The engine is the generic part every broker kind shares; the brokers themselves live
//! in [`crate::broker`]. Data flow of one message: a producer ([`producer`]) fires and
//! publishes to its target broker; the broker stores it and wakes the instances of the
//! services that read it; the service runtime ([`service`]) asks the broker for work
//! when an instance has a free slot, processes it for a sampled time, and then acks
//! (follow-up events), retries after a backoff, or dead-letters it, telling the broker
//! the outcome. Every original message enters the [`ledger`] of each service that
//! consumes it and leaves it with exactly one outcome, which is how duplicates are
//! recognised and conservation is checked; the [`checker`] explains anomalies;
//! [`sampler`] turns counters and broker gauges into metric rows; [`report`] sums up.
//!
//! The state is plain data (vectors, a binary heap, seeded generators) behind one
//! `Arc` for the immutable model, so cloning an engine is cheap: the TUI checkpoints
//! clones to step backwards.

mod action;
pub(crate) mod breaker;
pub mod checker;
mod dedup;
pub mod draw;
mod fault;
pub mod flow;
pub(crate) mod ledger;
pub(crate) mod link;
pub(crate) mod message;
pub mod producer;
pub mod queue;
pub mod report;
pub mod saga;
pub mod sampler;
pub mod service;
pub mod trace;

use std::sync::Arc;

use crate::broker::bus::Buses;
use crate::broker::kafka::Kafka;
use crate::broker::pubsub::Pubsub;
use crate::broker::rabbit::exchange::Rabbit;
use crate::broker::sqs::Sqs;
use crate::metrics::{Anomaly, Row};
use crate::model::*;
use checker::Checker;
use producer::ProducerState;
use queue::{Ev, EventQueue};
use sampler::Sampler;
use service::Service;
use trace::{TraceRec, Tracer};

pub use crate::broker::kafka::KEY_BUFFER_LIMIT;
pub use checker::ANOMALY_LOG_LIMIT;
pub use fault::FaultSpan;
pub use flow::{FlowSummary, MAX_FLOWS};
pub use message::MAX_FLOW_PRODUCERS;
pub use report::{
    BusSummary, ComparisonRow, Conservation, ExchangeSummary, ProducerSummary, RabbitQueueSummary,
    RuleSummary, ServiceSummary, Summary, TopicSummary,
};
pub use trace::TRACE_BUFFER_LIMIT;

/// The default of [`Options::max_backlog`], in messages: what the engine may hold at
/// once, counting records retained in topics, messages in queues and function event
/// queues, work items in use and pending events. Each costs about 40 to 80 bytes, so
/// the default keeps a run below about 1 GB whatever the scenario.
pub const DEFAULT_MAX_BACKLOG: u64 = 10_000_000;

/// The backlog is checked every this many events (a power of two), so that the check
/// costs nothing per event; a run stops at most this many events (times the largest
/// fan-out of one event) past the limit.
const BACKLOG_CHECK_EVERY: u64 = 1 << 16;

/// What the engine should keep besides its state, and how much it may hold.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Keep metric rows for [`Engine::drain_rows`].
    pub record_rows: bool,
    /// Keep trace records for [`Engine::drain_trace`].
    pub trace: bool,
    /// Most messages the engine holds (see [`DEFAULT_MAX_BACKLOG`] for what counts);
    /// past it the run stops with [`RunStatus::BacklogLimit`] instead of running out of
    /// memory.
    pub max_backlog: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            record_rows: false,
            trace: false,
            max_backlog: DEFAULT_MAX_BACKLOG,
        }
    }
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
    /// The run stopped early: what the engine holds passed [`Options::max_backlog`]
    /// ([`Engine::backlog_stop`] says when). It stays stopped.
    BacklogLimit,
}

/// Where and why a run stopped at [`Options::max_backlog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BacklogStop {
    /// Simulated time of the stop, ns.
    pub at: u64,
    /// Messages held then.
    pub held: u64,
    /// The limit.
    pub limit: u64,
    /// What passed the limit.
    pub kind: StopKind,
}

/// What passed [`Options::max_backlog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// The messages the engine holds.
    Backlog,
    /// The events at one instant: simulated time stood still (a loop of zero-time
    /// steps, such as a service with zero processing time emitting into its own
    /// source), so the run would never reach its end.
    Stalled {
        /// Events at `at` when the run stopped.
        events: u64,
    },
}

impl std::fmt::Display for BacklogStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.at as f64 / 1e9;
        match self.kind {
            StopKind::Backlog => write!(
                f,
                "the backlog passed {} records at t = {at:.3} s ({} held); raise --max-backlog",
                self.limit, self.held
            ),
            StopKind::Stalled { events } => write!(
                f,
                "simulated time stood still at t = {at:.3} s for {events} events (more than \
                 --max-backlog {}): a loop of steps that take no time, such as a service \
                 with zero processing time emitting into its own source; give it a \
                 processing time",
                self.limit
            ),
        }
    }
}

/// Immutable data derived from the model once.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Rate segments per producer: (start ns, rate at start /s, end ns, rate at end /s).
    pub segments: Vec<Vec<(u64, f64, u64, f64)>>,
    pub component_names: Vec<String>,
    /// Component index of producer 0, topic 0, queue 0, pubsub 0, service 0.
    pub producer_comp: u32,
    pub topic_comp: u32,
    pub queue_comp: u32,
    pub pubsub_comp: u32,
    pub exchange_comp: u32,
    pub bus_comp: u32,
    pub service_comp: u32,
    /// Component index of saga 0.
    pub saga_comp: u32,
    /// Per saga, per step, the component name of its rows: `saga/step`.
    pub saga_step_names: Vec<Vec<String>>,
    /// Per bus, per rule, the component name of its rows: `bus/rule`.
    pub rule_names: Vec<Vec<String>>,
    /// Per service, the flow index of each origin producer (see [`flow::plan`]).
    pub flow_index: Vec<Vec<u32>>,
    /// Per queue, the queues its dead-letter exchange can route to (a RabbitMQ-like
    /// queue's dead letters; empty for the others).
    pub rabbit_dlqs: Vec<Vec<usize>>,
}

/// The simulation state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) model: Arc<Model>,
    pub(crate) plan: Arc<Plan>,
    pub(crate) opts: Options,
    pub(crate) now: u64,
    steps: u64,
    pub(crate) queue: EventQueue,
    /// The next message (correlation) id.
    pub(crate) next_msg: u64,
    pub(crate) producers: Vec<ProducerState>,
    /// Kafka-like topics and the consumer groups of the services that read them.
    pub(crate) kafka: Kafka,
    /// SQS-like queues and the receive state of the services that read them.
    pub(crate) sqs: Sqs,
    /// SNS-like pubsubs and the event queues of the functions they invoke.
    pub(crate) pubsub: Pubsub,
    /// RabbitMQ-like exchanges.
    pub(crate) rabbit: Rabbit,
    /// EventBridge-like event buses.
    pub(crate) bus: Buses,
    /// One per consuming service (`[[consumer]]`), in model order.
    pub(crate) services: Vec<Service>,
    /// End-to-end latency per flow (origin producer, service behind another).
    pub(crate) flows: Vec<flow::Flow>,
    pub(crate) checker: Checker,
    pub(crate) sampler: Sampler,
    pub(crate) tracer: Tracer,
    finished: bool,
    /// Set when the run stopped at the backlog limit.
    backlog_stop: Option<BacklogStop>,
    /// Faults under way (the `faults_active` gauge).
    pub(crate) faults_active: u64,
    /// Each fault's own random stream (random faults draw their times from it).
    pub(crate) fault_rngs: Vec<crate::rng::Stream>,
    /// Simulated time at the last backlog check that saw it change, and the step
    /// count then (see [`StopKind::Stalled`]).
    stall: (u64, u64),
    /// Outages, network partitions and link delays, and the publishers' outboxes.
    pub(crate) links: link::Links,
    /// Poison windows opened so far.
    pub(crate) poison: Vec<fault::Poison>,
    /// The sagas under way, and each definition's counts.
    pub(crate) sagas: saga::Sagas,
}

impl Engine {
    /// A new run of `model`, at t = 0 with nothing yet happened.
    pub fn new(model: Model, opts: Options) -> Engine {
        let fault_rngs: Vec<crate::rng::Stream> = model
            .faults
            .iter()
            .map(|f| {
                let target = f.target_name(&model);
                crate::rng::stream(
                    model.seed,
                    &target,
                    &format!("fault>{:?}>{}", f.kind, f.ordinal),
                )
            })
            .collect();
        let model = Arc::new(model);
        let mut names = Vec::new();
        let producer_comp = names.len() as u32;
        names.extend(model.producers.iter().map(|p| p.name.clone()));
        let topic_comp = names.len() as u32;
        names.extend(model.topics.iter().map(|t| t.name.clone()));
        let queue_comp = names.len() as u32;
        names.extend(model.queues.iter().map(|q| q.name.clone()));
        let pubsub_comp = names.len() as u32;
        names.extend(model.pubsubs.iter().map(|p| p.name.clone()));
        let exchange_comp = names.len() as u32;
        names.extend(model.exchanges.iter().map(|x| x.name.clone()));
        let bus_comp = names.len() as u32;
        names.extend(model.buses.iter().map(|b| b.name.clone()));
        let service_comp = names.len() as u32;
        names.extend(model.services.iter().map(|g| g.name.clone()));
        let saga_comp = names.len() as u32;
        names.extend(model.sagas.iter().map(|s| s.name.clone()));
        let saga_step_names = model
            .sagas
            .iter()
            .map(|s| {
                s.steps
                    .iter()
                    .map(|st| format!("{}/{}", s.name, st.name))
                    .collect()
            })
            .collect();
        let rule_names = model
            .buses
            .iter()
            .map(|b| {
                b.rules
                    .iter()
                    .map(|r| format!("{}/{}", b.name, r.name))
                    .collect()
            })
            .collect();
        let segments = model
            .producers
            .iter()
            .map(|p| producer::rate_segments(p, model.duration.0))
            .collect();
        let ncomp = names.len() + 1;
        let (flows, flow_index) = flow::plan(&model);
        let rabbit_dlqs = model
            .queues
            .iter()
            .map(|q| {
                q.rabbit
                    .as_ref()
                    .and_then(|r| r.dead_letter_exchange)
                    .map_or_else(Vec::new, |x| {
                        crate::broker::rabbit::exchange::reachable_queues(&model.router, x as u32)
                            .into_iter()
                            .map(|q| q as usize)
                            .collect()
                    })
            })
            .collect();
        let plan = Arc::new(Plan {
            rabbit_dlqs,
            flow_index,
            segments,
            component_names: names,
            producer_comp,
            topic_comp,
            queue_comp,
            pubsub_comp,
            exchange_comp,
            bus_comp,
            service_comp,
            saga_comp,
            saga_step_names,
            rule_names,
        });
        let sagas = saga::Sagas::new(&model);
        let mut e = Engine {
            links: link::Links::new(&model),
            producers: producer::states(&model),
            kafka: Kafka::new(&model),
            sqs: Sqs::new(&model),
            pubsub: Pubsub::new(&model),
            rabbit: Rabbit::new(&model),
            bus: Buses::new(&model),
            services: model
                .services
                .iter()
                .map(|s| Service::new(s, &model))
                .collect(),
            flows,
            model,
            plan,
            opts,
            now: 0,
            steps: 0,
            queue: EventQueue::default(),
            next_msg: 1,
            checker: Checker::default(),
            sampler: Sampler::new(ncomp),
            tracer: Tracer::new(opts.trace),
            finished: false,
            backlog_stop: None,
            faults_active: 0,
            fault_rngs,
            stall: (0, 0),
            poison: Vec::new(),
            sagas,
        };
        e.init();
        e
    }

    fn init(&mut self) {
        for g in 0..self.services.len() {
            match self.model.services[g].source {
                crate::model::Channel::Topic(_) => self.kafka_join(g),
                crate::model::Channel::Queue(_)
                | crate::model::Channel::Pubsub(_)
                | crate::model::Channel::Bus(_) => {
                    for i in 0..self.services[g].insts.len() {
                        self.try_dispatch(g, i);
                    }
                }
                // Validation refuses a service reading an exchange.
                crate::model::Channel::Exchange(_) => {}
            }
        }
        for p in 0..self.producers.len() {
            if let Some(t) = self.next_arrival(p, 0) {
                self.queue.push(t, Ev::Produce { producer: p as u32 });
            }
        }
        for i in 0..self.model.faults.len() {
            let f = self.model.faults[i];
            let at = match f.random {
                Some((mtbf, _)) => self.fault_gap(i, mtbf, f.at),
                None => Some(f.at),
            };
            if let Some(at) = at {
                self.queue.push(at, Ev::FaultStart { fault: i as u32 });
            }
            self.links.turn[i] = at;
        }
        for (i, a) in self.model.actions.iter().enumerate() {
            self.queue.push(a.at, Ev::Action { action: i as u32 });
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
        std::mem::take(&mut self.sampler.rows)
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
        if t >= self.kafka.topics.len() {
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
        self.checker.anomalies.iter()
    }

    /// The first anomaly of each kind and service, in time order.
    pub fn first_anomalies(&self) -> &[Anomaly] {
        &self.checker.first
    }

    /// Time of the latest metrics sample, ns (0 before the first).
    pub fn last_sample_time(&self) -> u64 {
        self.sampler.last_sample
    }

    /// Rebalances completed.
    pub fn rebalances(&self) -> u64 {
        self.kafka.rebalances
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
        !self.check_backlog()
    }

    /// Every [`BACKLOG_CHECK_EVERY`] events: stops the run if it holds more than
    /// [`Options::max_backlog`] messages, or if more than that many events happened at
    /// the present instant. Returns whether the run stopped.
    #[inline(always)]
    fn check_backlog(&mut self) -> bool {
        if self.steps & (BACKLOG_CHECK_EVERY - 1) != 0 {
            return false;
        }
        self.check_limits()
    }

    #[inline(never)]
    fn check_limits(&mut self) -> bool {
        // Time never goes back, so if it is the same as at an earlier check, every
        // event since then happened at this instant.
        if self.now != self.stall.0 {
            self.stall = (self.now, self.steps);
        }
        let still = self.steps - self.stall.1;
        let held = self.held();
        let kind = if held > self.opts.max_backlog {
            StopKind::Backlog
        } else if still > self.opts.max_backlog {
            StopKind::Stalled { events: still }
        } else {
            return false;
        };
        self.backlog_stop = Some(BacklogStop {
            at: self.now,
            held,
            limit: self.opts.max_backlog,
            kind,
        });
        self.sample();
        self.finished = true;
        true
    }

    /// Messages the engine holds: records retained in topics, messages in queues and
    /// function event queues, work items in use, and pending events.
    pub fn held(&self) -> u64 {
        let records: usize = self
            .kafka
            .topics
            .iter()
            .flat_map(|t| &t.parts)
            .map(|p| p.recs.len())
            .sum();
        let queued: u64 = (0..self.sqs.queues.len())
            .map(|q| self.queue_depth(q))
            .sum();
        let events: usize = self.pubsub.fns.iter().map(|f| f.events.len()).sum();
        let works: usize = self
            .services
            .iter()
            .map(|s| s.works.len() - s.free.len())
            .sum();
        records as u64 + queued + events as u64 + works as u64 + self.queue.len() as u64
    }

    /// Why the run stopped early, if it stopped at the backlog limit.
    pub fn backlog_stop(&self) -> Option<BacklogStop> {
        self.backlog_stop
    }

    /// Runs until simulated time `until` (ns, exclusive) or `budget` events, whichever
    /// comes first.
    pub fn run_until(&mut self, until: u64, budget: u64) -> RunStatus {
        let end = self.model.duration.0;
        let mut spent = 0u64;
        loop {
            if self.finished {
                if self.backlog_stop.is_some() {
                    return RunStatus::BacklogLimit;
                }
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
                if self.check_backlog() {
                    return RunStatus::BacklogLimit;
                }
            }
            spent += 1;
        }
    }

    /// Runs to the end of the scenario (or to the backlog limit).
    pub fn run_to_end(&mut self) {
        while !matches!(
            self.run_until(u64::MAX, u64::MAX),
            RunStatus::Finished | RunStatus::BacklogLimit
        ) {}
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.now = self.model.duration.0;
        self.sample();
        self.finished = true;
    }

    /// Hands each event to the module that owns it.
    #[inline(always)]
    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Produce { producer } => self.on_produce(producer as usize),
            Ev::Resend { producer, slot } => self.on_resend(producer as usize, slot),
            Ev::Done {
                service,
                work,
                token,
            } => self.on_done(service as usize, work, token),
            Ev::RetryDue {
                service,
                work,
                token,
            } => self.on_retry_due(service as usize, work, token),
            Ev::FaultStart { fault } => self.on_fault(fault as usize, true),
            Ev::FaultEnd { fault } => self.on_fault(fault as usize, false),
            Ev::Action { action } => self.on_action(action as usize),
            Ev::Outbox { publisher } => self.on_outbox(publisher),
            Ev::Breaker {
                service,
                instance,
                stamp,
            } => self.on_breaker(service as usize, instance as usize, stamp),
            Ev::Arrive { slot } => self.on_arrive(slot),
            Ev::Saga { slot, stamp } => self.on_saga_timer(slot, stamp),
            Ev::Kafka {
                timer,
                group,
                instance,
                stamp,
            } => self.on_kafka_timer(timer, group as usize, instance as usize, stamp),
            Ev::Sqs { timer, a, b, stamp } => self.on_sqs_timer(timer, a, b, stamp),
            Ev::RabbitTtl { queue, stamp } => self.on_rabbit_ttl(queue as usize, stamp),
            Ev::RabbitHeartbeat {
                service,
                instance,
                stamp,
            } => self.on_rabbit_heartbeat(service as usize, instance as usize, stamp),
            Ev::BusRetry { slot } => self.on_bus_retry(slot),
            Ev::Sample => self.on_sample(),
        }
    }
}
