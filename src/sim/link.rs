//! Links and outages: what stands between a publisher (a producer, or a service
//! writing its follow-up events and dead letters) and a broker, and between a broker
//! and the services it delivers to.
//!
//! - A **broker outage** refuses every publish to a topic, queue or pubsub; a topic's
//!   partitions cannot be fetched, a queue's consumers receive nothing and their
//!   deletes fail (the messages come back after their visibility timeout).
//! - A **partition outage** does the same to one partition of a topic.
//! - A **network partition** cuts a link one way or both: a publisher's sends to the
//!   broker are refused, or the broker's deliveries to a consumer stop (a Kafka member
//!   that cannot reach its group for a session timeout is removed from it, and its
//!   partitions go to the others while its running attempts go on as zombies).
//! - A **latency** fault on a link delays every message on it, in order (a link is one
//!   connection: what is sent first arrives first).
//!
//! A refused publish is held in the publisher's outbox, as Kafka's producer holds
//! records in its accumulator: per (broker, partition) in order, at most
//! [`OutboxModel::buffer`] messages (a send beyond is dropped: `lost_buffer_full`),
//! retried after an exponential backoff with ±20% jitter (Kafka's
//! `retry.backoff.ms` to `retry.backoff.max.ms`), and dropped once older than the
//! delivery timeout (`lost_delivery_timeout`). While a (broker, partition) has held
//! messages, new ones to it queue behind them, so a link's order survives the outage.
//!
//! None of this costs the hot path anything while no such fault is under way: the
//! publish paths test [`Links::active`] once and take their direct route.

use std::collections::{BTreeMap, VecDeque};

use rand::RngExt;

use super::Engine;
use super::message::Message;
use super::queue::Ev;
use super::trace::{NA32, NA64, TraceKind};
use crate::broker::sqs::NO_ORIGIN;
use crate::model::{Channel, FaultKind, FaultTarget, Model, Node, OutboxModel};
use crate::rng::{self, Stream};

/// A message on its way from a publisher to a broker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    pub msg: Message,
    pub target: Channel,
    /// A topic's partition (chosen when it was sent).
    pub partition: u32,
    /// The publisher: a producer, or `producers + service`.
    pub from: u32,
    /// A service's instance that sent it (`NA32` for a producer).
    pub inst: u32,
    /// A producer's number for the message (its attributes derive from it).
    pub n: u64,
    /// A dead letter sent to a queue: the queue it came from ([`NO_ORIGIN`]: none).
    pub origin: u32,
}

/// Where held messages wait: a (broker, partition, sending instance) triple.
type Lane = (Channel, u32, u32);

/// One held message: since when, the fault that refused it, and the message.
#[derive(Clone, Copy, Debug)]
struct Held {
    since: u64,
    fault: u32,
    out: Outgoing,
}

/// A publisher's held messages.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outbox {
    lanes: BTreeMap<Lane, VecDeque<Held>>,
    /// Messages held, over every lane (the `buffered` gauge).
    pub len: u64,
    /// Failed retries in a row (the backoff's exponent).
    attempts: u32,
    /// A retry is scheduled.
    armed: bool,
}

/// A link's latency fault under way.
#[derive(Clone, Copy, Debug)]
struct Delay {
    fault: u32,
    from: Node,
    to: Node,
    /// When the last message sent on it arrives: the next one arrives no earlier.
    last: u64,
}

/// A network partition under way, one direction of it.
#[derive(Clone, Copy, Debug)]
struct Cut {
    fault: u32,
    from: Node,
    to: Node,
    /// The service end's one instance, or every one.
    instance: Option<u32>,
}

/// What a fault caused, for the summary.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FaultEffects {
    /// Times it started.
    pub started: u64,
    /// Simulated seconds it was under way.
    pub active_s: f64,
    /// Attempts it slowed (latency, slowdown) or messages it delayed on a link.
    pub delayed: u64,
    /// Publishes it made a publisher hold.
    pub held: u64,
    /// Held publishes dropped (buffer full or delivery timeout) while it refused them.
    pub dropped: u64,
    /// Attempts that failed because of it (errors, poison).
    pub failed: u64,
    /// Attempts it cut short (a crash).
    pub interrupted: u64,
    /// Consumers it removed from their group (a network partition past the session
    /// timeout).
    #[serde(skip_serializing_if = "is_zero")]
    pub evicted: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The state of every link and outage.
#[derive(Clone, Debug)]
pub(crate) struct Links {
    /// Outages, cuts and link delays under way: while 0, publishes go straight to
    /// their broker.
    pub active: u32,
    /// Per queue and per pubsub: outages under way (a topic's are its partitions').
    queue_down: Vec<u32>,
    pubsub_down: Vec<u32>,
    exchange_down: Vec<u32>,
    bus_down: Vec<u32>,
    /// Per topic and partition, the fault that took it down last (for the summary).
    cuts: Vec<Cut>,
    delays: Vec<Delay>,
    /// Per publisher (producers, then services).
    pub outboxes: Vec<Outbox>,
    /// Per publisher: the backoff's jitter.
    jitter: Vec<Stream>,
    /// Per fault: the delays of a link latency fault.
    delay_rngs: Vec<Stream>,
    /// Messages in flight on a delayed link.
    flights: Vec<Option<Outgoing>>,
    flight_free: Vec<u32>,
    /// Per fault: what it caused so far, and since when it is under way.
    pub effects: Vec<FaultEffects>,
    pub since: Vec<Option<u64>>,
    /// Per fault: when it next starts (while idle) or ends (while under way), if it
    /// does within the run.
    pub turn: Vec<Option<u64>>,
    /// Every span of time a fault was under way, in order of start.
    pub spans: Vec<super::fault::FaultSpan>,
    /// Whether the model has a fault that can refuse a publish (its gauges get rows).
    pub possible: bool,
}

impl Links {
    /// Nothing under way yet.
    pub fn new(model: &Model) -> Links {
        let names = model
            .producers
            .iter()
            .map(|p| p.name.as_str())
            .chain(model.services.iter().map(|s| s.name.as_str()));
        Links {
            active: 0,
            queue_down: vec![0; model.queues.len()],
            pubsub_down: vec![0; model.pubsubs.len()],
            exchange_down: vec![0; model.exchanges.len()],
            bus_down: vec![0; model.buses.len()],
            cuts: Vec::new(),
            delays: Vec::new(),
            outboxes: vec![Outbox::default(); model.producers.len() + model.services.len()],
            jitter: names
                .map(|n| rng::stream(model.seed, n, "outbox"))
                .collect(),
            delay_rngs: model
                .faults
                .iter()
                .map(|f| {
                    rng::stream(
                        model.seed,
                        &f.target_name(model),
                        &format!("link-latency>{}", f.ordinal),
                    )
                })
                .collect(),
            flights: Vec::new(),
            flight_free: Vec::new(),
            effects: vec![FaultEffects::default(); model.faults.len()],
            since: vec![None; model.faults.len()],
            turn: vec![None; model.faults.len()],
            spans: Vec::new(),
            possible: model.faults.iter().any(|f| {
                matches!(
                    f.kind,
                    FaultKind::BrokerOutage
                        | FaultKind::PartitionOutage
                        | FaultKind::NetworkPartition
                )
            }),
        }
    }
}

impl Links {
    /// Whether a rule's target is a broker under an outage.
    pub(crate) fn is_down(&self, t: crate::model::BusTarget) -> bool {
        use crate::model::BusTarget;
        match t {
            BusTarget::Queue(q) => self.queue_down[q] > 0,
            BusTarget::Pubsub(p) => self.pubsub_down[p] > 0,
            BusTarget::Bus(b) => self.bus_down[b] > 0,
            BusTarget::Function(_) => false,
        }
    }

    /// The network partition that cuts the link from `from` to `to`, if any.
    pub(crate) fn cut_by(&self, from: Node, to: Node) -> Option<u32> {
        self.cuts
            .iter()
            .find(|c| c.from == from && c.to == to)
            .map(|c| c.fault)
    }
}

/// Kafka's `ExponentialBackoff`: `initial × 2^min(attempts, log2(max / initial))`,
/// times a jitter factor uniform in [0.8, 1.2), capped at `max`.
fn backoff(o: &OutboxModel, attempts: u32, rng: &mut Stream) -> u64 {
    let initial = o.retry_backoff as f64;
    let max = o.retry_backoff_max as f64;
    let exp_max = if max > initial {
        (max / initial).log2()
    } else {
        0.0
    };
    let exp = f64::from(attempts).min(exp_max);
    let term = initial * exp.exp2();
    let factor = 0.8 + 0.4 * rng.random::<f64>();
    let v = (term * factor) as u64;
    v.min(o.retry_backoff_max).max(1)
}

impl Engine {
    /// The node publisher `from` is.
    fn publisher_node(&self, from: u32) -> Node {
        let np = self.model.producers.len() as u32;
        if from < np {
            Node::Producer(from as usize)
        } else {
            Node::Service((from - np) as usize)
        }
    }

    /// The outbox settings of publisher `from` (services take Kafka's defaults).
    fn outbox_model(&self, from: u32) -> OutboxModel {
        self.model
            .producers
            .get(from as usize)
            .map_or_else(OutboxModel::default, |p| p.outbox)
    }

    /// Whether `out` is a producer's publish to an exchange or a RabbitMQ-like queue
    /// without publisher confirms.
    fn unconfirmed(&self, out: &Outgoing) -> bool {
        let rabbit = match out.target {
            Channel::Exchange(_) => true,
            Channel::Queue(q) => self.model.queues[q].rabbit.is_some(),
            Channel::Topic(_) | Channel::Pubsub(_) | Channel::Bus(_) => false,
        };
        rabbit
            && self
                .model
                .producers
                .get(out.from as usize)
                .is_some_and(|p| !p.confirms)
    }

    /// The fault refusing `out` now, if any: its broker (or partition) is down, or the
    /// link from its publisher to it is cut.
    fn refused_by(&self, out: &Outgoing) -> Option<u32> {
        let down = match out.target {
            Channel::Topic(t) => self.kafka.topics[t].parts[out.partition as usize].down > 0,
            Channel::Queue(q) => self.links.queue_down[q] > 0,
            Channel::Pubsub(p) => self.links.pubsub_down[p] > 0,
            Channel::Exchange(x) => self.links.exchange_down[x] > 0,
            Channel::Bus(b) => self.links.bus_down[b] > 0,
        };
        let node = self.publisher_node(out.from);
        if down {
            return Some(self.down_fault(out.target, out.partition));
        }
        self.links
            .cuts
            .iter()
            .find(|c| {
                c.from == node
                    && c.to == Node::Broker(out.target)
                    && c.instance.is_none_or(|i| i == out.inst)
            })
            .map(|c| c.fault)
    }

    /// The latest outage under way on `target` (its partition `partition`).
    pub(crate) fn down_fault(&self, target: Channel, partition: u32) -> u32 {
        let mut found = 0;
        for (f, fm) in self.model.faults.iter().enumerate() {
            if self.links.since[f].is_none() {
                continue;
            }
            let hits = match fm.target {
                FaultTarget::Broker(c) => c == target,
                FaultTarget::Partition {
                    topic,
                    partition: p,
                } => target == Channel::Topic(topic) && p == partition,
                _ => false,
            };
            if hits {
                found = f as u32;
            }
        }
        found
    }

    /// Service `g`'s member was removed from its group by a network partition.
    pub(crate) fn note_evicted(&mut self, g: usize) {
        if let Some(c) = self.links.cuts.iter().find(|c| c.to == Node::Service(g)) {
            self.links.effects[c.fault as usize].evicted += 1;
        }
    }

    /// Publisher `from` sends `out` while some link fault is under way: delayed on its
    /// link, held, or written at once.
    #[inline(never)]
    pub(crate) fn send_slow(&mut self, out: Outgoing) {
        let node = self.publisher_node(out.from);
        let to = Node::Broker(out.target);
        if let Some(k) = self
            .links
            .delays
            .iter()
            .position(|d| d.from == node && d.to == to)
        {
            let f = self.links.delays[k].fault as usize;
            let d = match &self.model.faults[f].delay {
                Some(dist) => super::draw::processing_time(dist, &mut self.links.delay_rngs[f]),
                None => 0,
            };
            let at = self.now.saturating_add(d).max(self.links.delays[k].last);
            self.links.delays[k].last = at;
            self.links.effects[f].delayed += 1;
            let slot = match self.links.flight_free.pop() {
                Some(s) => {
                    self.links.flights[s as usize] = Some(out);
                    s
                }
                None => {
                    self.links.flights.push(Some(out));
                    (self.links.flights.len() - 1) as u32
                }
            };
            self.queue.push(at, Ev::Arrive { slot });
            return;
        }
        self.arrive(out);
    }

    /// A message delayed on its link reaches the end of it.
    pub(crate) fn on_arrive(&mut self, slot: u32) {
        let Some(out) = self
            .links
            .flights
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.links.flight_free.push(slot);
        self.arrive(out);
    }

    /// `out` reaches its broker's door: written, or held if refused (or if messages
    /// of its lane are held already).
    fn arrive(&mut self, out: Outgoing) {
        let lane = (out.target, out.partition, out.inst);
        let ob = &self.links.outboxes[out.from as usize];
        let queued = ob.len > 0 && ob.lanes.get(&lane).is_some_and(|l| !l.is_empty());
        let refused = self.refused_by(&out);
        match (refused, queued) {
            (None, false) => self.write_now(&out),
            (Some(f), _) => self.hold(out, f),
            (None, true) => {
                let f = self.links.outboxes[out.from as usize].lanes[&lane]
                    .back()
                    .map_or(0, |h| h.fault);
                self.hold(out, f)
            }
        }
    }

    /// Publisher `out.from` holds `out` (refused by fault `fault`), or drops it when
    /// its buffer is full.
    fn hold(&mut self, out: Outgoing, fault: u32) {
        let cfg = self.outbox_model(out.from);
        let comp = self.publisher_comp(out.from);
        if self.unconfirmed(&out) {
            // Without publisher confirms nothing tells the producer: the publish is
            // gone.
            self.links.effects[fault as usize].dropped += 1;
            self.publisher_counters(out.from).lost_unconfirmed += 1;
            self.tr_outgoing(TraceKind::Unsent, comp, &out);
            return;
        }
        let ob = &mut self.links.outboxes[out.from as usize];
        if ob.len >= u64::from(cfg.buffer) {
            self.links.effects[fault as usize].dropped += 1;
            self.publisher_counters(out.from).lost_buffer_full += 1;
            self.tr_outgoing(TraceKind::Unsent, comp, &out);
            return;
        }
        ob.lanes
            .entry((out.target, out.partition, out.inst))
            .or_default()
            .push_back(Held {
                since: self.now,
                fault,
                out,
            });
        ob.len += 1;
        self.links.effects[fault as usize].held += 1;
        self.tr_outgoing(TraceKind::Held, comp, &out);
        if !self.links.outboxes[out.from as usize].armed {
            self.arm_outbox(out.from);
        }
    }

    /// Schedules publisher `from`'s next retry: after its backoff, or earlier when a
    /// held message's delivery timeout comes first.
    fn arm_outbox(&mut self, from: u32) {
        let cfg = self.outbox_model(from);
        let ob = &mut self.links.outboxes[from as usize];
        let wait = backoff(&cfg, ob.attempts, &mut self.links.jitter[from as usize]);
        let oldest = ob
            .lanes
            .values()
            .filter_map(|l| l.front())
            .map(|h| h.since.saturating_add(cfg.delivery_timeout))
            .min()
            .unwrap_or(u64::MAX);
        ob.armed = true;
        let at = self.now.saturating_add(wait).min(oldest.max(self.now));
        self.queue.push(at, Ev::Outbox { publisher: from });
    }

    /// Publisher `from` retries what it holds: messages past the delivery timeout are
    /// dropped, every lane whose broker takes them again is sent in order.
    pub(crate) fn on_outbox(&mut self, from: u32) {
        let cfg = self.outbox_model(from);
        let comp = self.publisher_comp(from);
        self.links.outboxes[from as usize].armed = false;
        let lanes: Vec<Lane> = self.links.outboxes[from as usize]
            .lanes
            .keys()
            .copied()
            .collect();
        let mut sent_any = false;
        for lane in lanes {
            // Expired first, as Kafka's sender expires batches before it drains them.
            loop {
                let ob = &mut self.links.outboxes[from as usize];
                let Some(l) = ob.lanes.get_mut(&lane) else {
                    break;
                };
                let Some(h) = l.front().copied() else {
                    break;
                };
                if h.since.saturating_add(cfg.delivery_timeout) > self.now {
                    break;
                }
                l.pop_front();
                ob.len -= 1;
                self.links.effects[h.fault as usize].dropped += 1;
                self.publisher_counters(from).lost_delivery_timeout += 1;
                self.tr_outgoing(TraceKind::Unsent, comp, &h.out);
            }
            let Some(front) = self.links.outboxes[from as usize]
                .lanes
                .get(&lane)
                .and_then(|l| l.front().copied())
            else {
                self.links.outboxes[from as usize].lanes.remove(&lane);
                continue;
            };
            if self.refused_by(&front.out).is_some() {
                continue;
            }
            let held = self.links.outboxes[from as usize]
                .lanes
                .remove(&lane)
                .unwrap_or_default();
            self.links.outboxes[from as usize].len -= held.len() as u64;
            sent_any = true;
            for h in held {
                self.write_now(&h.out);
            }
        }
        let ob = &mut self.links.outboxes[from as usize];
        if ob.len == 0 {
            ob.attempts = 0;
            return;
        }
        ob.attempts = if sent_any {
            0
        } else {
            ob.attempts.saturating_add(1)
        };
        self.arm_outbox(from);
    }

    /// A trace record of publisher component `comp` about `out`.
    fn tr_outgoing(&mut self, kind: TraceKind, comp: u32, out: &Outgoing) {
        self.tracer.rec(
            self.now,
            kind,
            comp,
            NA32,
            Some(&out.msg),
            out.partition,
            NA64,
            NA32,
        );
    }

    /// The trace component of publisher `from`.
    fn publisher_comp(&self, from: u32) -> u32 {
        match self.publisher_node(from) {
            Node::Producer(p) => self.plan.producer_comp + p as u32,
            Node::Service(g) => self.plan.service_comp + g as u32,
            Node::Broker(_) => NA32,
        }
    }

    /// The counters of publisher `from`.
    fn publisher_counters(&mut self, from: u32) -> &mut crate::metrics::Counters {
        let np = self.producers.len();
        let from = from as usize;
        if from < np {
            &mut self.producers[from].c
        } else {
            &mut self.services[from - np].c
        }
    }

    /// Writes `out` to its broker now.
    pub(crate) fn write_now(&mut self, out: &Outgoing) {
        let np = self.model.producers.len() as u32;
        let m = out.msg;
        match out.target {
            Channel::Topic(t) => {
                self.append(t, out.partition, m);
            }
            Channel::Queue(q) if out.from < np => {
                let delay = self.model.producers[out.from as usize].delay;
                self.queue_send(q, m, delay, Some((out.from, out.n)));
            }
            Channel::Queue(q) if out.origin != NO_ORIGIN => {
                self.sqs_send_dead_letter(q, m, out.origin);
            }
            Channel::Queue(q) => self.sqs_send(q, m, 0),
            Channel::Pubsub(p) if out.from < np => {
                self.pubsub_publish(p, m, Some((out.from, out.n)))
            }
            Channel::Pubsub(p) => self.pubsub_publish(p, m, None),
            Channel::Exchange(x) if out.from < np => {
                self.exchange_publish(x, m, Some((out.from, out.n)))
            }
            Channel::Exchange(x) => self.exchange_publish(x, m, None),
            Channel::Bus(b) => self.bus_publish(b, m, out.from, out.n),
        }
    }

    /// A link or outage fault starts or ends.
    pub(crate) fn on_link_fault(&mut self, f: usize, start: bool) {
        let fault = self.model.faults[f];
        if start {
            self.links.active += 1;
        } else {
            self.links.active = self.links.active.saturating_sub(1);
        }
        match (fault.kind, fault.target) {
            (FaultKind::BrokerOutage, FaultTarget::Broker(c)) => self.set_down(c, None, start),
            (FaultKind::PartitionOutage, FaultTarget::Partition { topic, partition }) => {
                self.set_down(Channel::Topic(topic), Some(partition), start);
            }
            (FaultKind::Latency, FaultTarget::Link { from, to, .. }) => {
                if start {
                    self.links.delays.push(Delay {
                        fault: f as u32,
                        from,
                        to,
                        last: 0,
                    });
                } else {
                    self.links.delays.retain(|d| d.fault != f as u32);
                }
            }
            (
                FaultKind::NetworkPartition,
                FaultTarget::Link {
                    from,
                    to,
                    both,
                    instance,
                },
            ) => {
                let mut dirs = vec![(from, to)];
                if both {
                    dirs.push((to, from));
                }
                for (a, b) in dirs {
                    if start {
                        self.links.cuts.push(Cut {
                            fault: f as u32,
                            from: a,
                            to: b,
                            instance,
                        });
                    } else if let Some(k) = self
                        .links
                        .cuts
                        .iter()
                        .position(|c| c.fault == f as u32 && c.from == a && c.to == b)
                    {
                        self.links.cuts.remove(k);
                    }
                    // A bus's function is not cut off: the bus's deliveries to it fail
                    // and are retried (broker::bus).
                    if let (Node::Broker(c), Node::Service(g)) = (a, b)
                        && self.model.services[g].source == c
                        && c.bus().is_none()
                    {
                        self.cut_deliveries(g, instance, start);
                    }
                }
            }
            _ => {}
        }
        let comp = match fault.target {
            FaultTarget::Broker(c)
            | FaultTarget::Link {
                to: Node::Broker(c),
                ..
            } => self.channel_comp(c),
            FaultTarget::Partition { topic, .. } => self.plan.topic_comp + topic as u32,
            FaultTarget::Link {
                from: Node::Broker(c),
                ..
            } => self.channel_comp(c),
            _ => NA32,
        };
        let partition = match fault.target {
            FaultTarget::Partition { partition, .. } => partition,
            _ => NA32,
        };
        let kind = if start {
            TraceKind::FaultStart
        } else {
            TraceKind::FaultEnd
        };
        self.tracer
            .rec(self.now, kind, comp, NA32, None, partition, NA64, NA32);
    }

    /// The trace component of broker `c`.
    pub(crate) fn channel_comp(&self, c: Channel) -> u32 {
        match c {
            Channel::Topic(t) => self.plan.topic_comp + t as u32,
            Channel::Queue(q) => self.plan.queue_comp + q as u32,
            Channel::Pubsub(p) => self.plan.pubsub_comp + p as u32,
            Channel::Exchange(x) => self.plan.exchange_comp + x as u32,
            Channel::Bus(b) => self.plan.bus_comp + b as u32,
        }
    }

    /// Broker `c` (its partition `partition` only, for a topic) goes down or comes
    /// back. Coming back, its consumers are woken.
    fn set_down(&mut self, c: Channel, partition: Option<u32>, down: bool) {
        let bump = |v: &mut u32| {
            if down {
                *v += 1;
            } else {
                *v = v.saturating_sub(1);
            }
        };
        match c {
            Channel::Topic(t) => {
                let n = self.kafka.topics[t].parts.len() as u32;
                let parts = match partition {
                    Some(p) => p..p + 1,
                    None => 0..n,
                };
                for p in parts.clone() {
                    bump(&mut self.kafka.topics[t].parts[p as usize].down);
                }
                if !down {
                    for k in 0..self.model.topics[t].readers.len() {
                        let g = self.model.topics[t].readers[k];
                        for p in parts.clone() {
                            self.kafka.groups[g].mark(p);
                        }
                        for i in 0..self.services[g].insts.len() {
                            self.try_dispatch(g, i);
                        }
                    }
                }
            }
            Channel::Queue(q) => {
                bump(&mut self.links.queue_down[q]);
                if let Some(g) = self.model.queues[q].reader {
                    for i in 0..self.services[g].insts.len() {
                        bump(&mut self.services[g].insts[i].cut);
                    }
                    if !down {
                        self.sqs_serve_waiters(q);
                        for i in 0..self.services[g].insts.len() {
                            self.try_dispatch(g, i);
                        }
                    }
                }
            }
            Channel::Pubsub(p) => bump(&mut self.links.pubsub_down[p]),
            Channel::Exchange(x) => bump(&mut self.links.exchange_down[x]),
            Channel::Bus(b) => bump(&mut self.links.bus_down[b]),
        }
    }

    /// A fault cuts (or stops cutting) the deliveries to service `g` from its
    /// source. A Kafka member cut off for its session timeout is removed from its
    /// group; healed, it joins again.
    fn cut_deliveries(&mut self, g: usize, instance: Option<u32>, start: bool) {
        let kafka = self.model.services[g].source.topic().is_some();
        let rabbit = self.model.services[g]
            .source
            .queue()
            .is_some_and(|q| self.is_rabbit(q));
        let mut rejoined = false;
        let targets = match instance {
            Some(i) => i as usize..i as usize + 1,
            None => 0..self.services[g].insts.len(),
        };
        for i in targets {
            let inst = &mut self.services[g].insts[i];
            if start {
                inst.cut += 1;
                inst.cut_since.get_or_insert(self.now);
                if rabbit && inst.cut == 1 {
                    self.rabbit_cut(g, i, true);
                    continue;
                }
                let inst = &mut self.services[g].insts[i];
                if kafka && inst.alive {
                    let incarnation = inst.incarnation;
                    self.kafka_member_unreachable(g, i, incarnation);
                }
            } else {
                inst.cut = inst.cut.saturating_sub(1);
                if inst.cut == 0 {
                    inst.cut_since = None;
                    if rabbit {
                        self.rabbit_cut(g, i, false);
                    }
                }
                let inst = &self.services[g].insts[i];
                if inst.cut > 0 || !inst.alive {
                    continue;
                }
                if kafka && !self.kafka.groups[g].members[i].joined {
                    let inst = &mut self.services[g].insts[i];
                    inst.incarnation = inst.incarnation.wrapping_add(1);
                    let incarnation = inst.incarnation;
                    self.kafka_member_up(g, i, incarnation);
                    rejoined = true;
                } else {
                    self.try_dispatch(g, i);
                }
            }
        }
        if rejoined {
            self.kafka_members_changed(g);
        }
        if !start && let Some(q) = self.model.services[g].source.queue() {
            self.sqs_serve_waiters(q);
        }
    }
}
