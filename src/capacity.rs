//! Capacity before running: from the model alone, the load each consuming service will
//! be offered at each phase of the producers' rate schedules (fan-out through pubsubs
//! and events emitted by upstream services counted), what it can process, its
//! utilisation at the peak, the instances that partitions or message groups leave idle,
//! and how long the backlog of a spike takes to drain. `edasim check` prints it after
//! the topology, and the TUI shows a node's lines in its inspector.
//!
//! The arithmetic is a fluid model: rates are averaged over the segments between two
//! rate changes, a service passes on at most its capacity (so a slow service shields the
//! ones after it), and a backlog grows at offered − capacity and drains at capacity −
//! offered. It ignores what only a run can show: key skew across partitions, retry
//! backoff that blocks a partition, rebalances and faults. A pubsub filter policy is
//! counted as matching every message (an upper bound); what an event bus's rules pass
//! to each target is the share of a sample of the producers' events their patterns
//! match (see [`crate::broker::bus`]). [`erlang_c_prediction`] gives the
//! exact queueing answer where a service is a plain M/M/c queue.

use std::collections::BTreeSet;

use crate::model::{Channel, EventIdx, Model, Ordering, ServiceIdx, SubTarget};
use crate::sim::producer::rate_segments;

mod erlang;
mod report;

pub use erlang::{MmcPrediction, erlang_c, erlang_c_prediction, mmc};
pub use report::{check_json, node_lines, text};

/// Iterations of the fixed point that carries load around loops (emits that come back
/// to a source); a chain without loops settles in as many iterations as it is deep.
const MAX_ITERATIONS: usize = 2_000;
/// Relative change below which the fixed point has settled.
const SETTLED: f64 = 1e-9;

/// The capacity analysis of a whole model.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The segments of simulated time between two rate changes, `[start, end)` in
    /// nanoseconds, covering the run.
    pub segments: Vec<(u64, u64)>,
    /// One per service, in the model's order.
    pub services: Vec<ServiceLoad>,
    /// Offered load per channel (topics, then queues, then pubsubs, in the model's
    /// order), messages per second per segment.
    pub channels: Vec<(Channel, Vec<f64>)>,
    /// Everything worth a warning, services in the model's order.
    pub warnings: Vec<Warning>,
}

/// What limits how many messages a service processes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Instances × concurrency: every slot can be used.
    Slots,
    /// Partitions of the topic (one owner each, one record at a time per partition
    /// with `ordering = "partition"`), or only those its keys land on.
    Partitions(u32),
    /// Message groups of a FIFO queue (one message in flight per group).
    Groups(u64),
    /// Distinct keys (`ordering = "key"`: one record at a time per key).
    Keys(u64),
}

/// A backlog: offered load above capacity for a while, then (perhaps) drained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backlog {
    /// When it starts to build, ns.
    pub from_ns: u64,
    /// When it is largest (the end of the spike), ns.
    pub peak_ns: u64,
    /// Messages waiting at its largest.
    pub peak_messages: f64,
    /// Seconds from its largest to empty, the load after the run taken to go on at the
    /// last phase's rate; None: never (the later load is over capacity too).
    pub drain_s: Option<f64>,
}

/// The load and capacity of one consuming service.
#[derive(Clone, Debug)]
pub struct ServiceLoad {
    /// The service.
    pub service: ServiceIdx,
    /// Offered load per segment of [`Analysis::segments`], messages per second
    /// (infinite when a loop with no bound feeds it).
    pub offered: Vec<f64>,
    /// What it processes per segment (offered, or capacity with a backlog), messages
    /// per second: what it passes on.
    pub throughput: Vec<f64>,
    /// Mean processing time of one attempt, seconds; None when infinite (a Pareto
    /// shape ≤ 1).
    pub mean_processing_s: Option<f64>,
    /// Expected attempts per message (failures and retries).
    pub attempts_per_message: f64,
    /// Share of messages that end in success.
    pub success: f64,
    /// Instances (for a function, its maximum concurrency).
    pub instances: u32,
    /// Records in parallel per instance.
    pub concurrency: u32,
    /// Instances that can get work: as many as partitions (or message groups) allow.
    pub usable_instances: u32,
    /// Instances beyond the partitions (or message groups): they never get work.
    pub idle_instances: u32,
    /// Messages processed at once at most.
    pub slots: u64,
    /// What bounds `slots`.
    pub limit: Limit,
    /// Attempts per second at full use: slots / mean processing time (0 with an
    /// infinite mean, infinite with a zero one).
    pub capacity_per_second: f64,
    /// Messages per second at full use: capacity / attempts per message.
    pub capacity_messages_per_second: f64,
    /// The segment with the highest offered load (the first of equals).
    pub peak_segment: usize,
    /// Offered work at the peak over capacity (1 or more: it cannot keep up).
    pub peak_utilisation: f64,
    /// Backlogs, in time order.
    pub backlogs: Vec<Backlog>,
    /// Some of its load comes through a filter policy, counted as matching everything.
    pub filtered: bool,
}

impl ServiceLoad {
    /// Offered load at the peak, messages per second.
    pub fn peak_offered(&self) -> f64 {
        self.offered.get(self.peak_segment).copied().unwrap_or(0.0)
    }
}

/// Kinds of warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// Utilisation at the peak is 1 or more.
    OverCapacity,
    /// Instances beyond partitions or message groups.
    IdleInstances,
    /// A Pareto shape ≤ 1: the mean processing time is infinite.
    InfiniteMean,
    /// A service's output comes back to its own source, directly or through others.
    Loop,
}

impl WarningKind {
    /// The kind as JSON names it.
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::OverCapacity => "over_capacity",
            WarningKind::IdleInstances => "idle_instances",
            WarningKind::InfiniteMean => "infinite_mean",
            WarningKind::Loop => "loop",
        }
    }
}

/// A capacity warning: printed by `check`, never an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// What kind.
    pub kind: WarningKind,
    /// The service it is about.
    pub service: ServiceIdx,
    /// The channel it is about too, if any (the topic with too few partitions, the
    /// source a loop comes back to).
    pub channel: Option<Channel>,
    /// In the user's words.
    pub message: String,
}

/// Dense numbering of channels: topics, then queues, then pubsubs, then exchanges.
struct Nodes {
    topics: usize,
    queues: usize,
    pubsubs: usize,
    exchanges: usize,
    buses: usize,
    /// Per bus, what each target of its rules receives per event (computed once).
    bus_shares: Vec<Vec<(Channel, f64)>>,
    /// Per service, the share of its bus's inflow its rules invoke it with (a function
    /// that reads a bus; 1 for the others).
    fn_shares: Vec<f64>,
}

impl Nodes {
    fn new(m: &Model) -> Nodes {
        Nodes {
            topics: m.topics.len(),
            queues: m.queues.len(),
            pubsubs: m.pubsubs.len(),
            exchanges: m.exchanges.len(),
            buses: m.buses.len(),
            bus_shares: Vec::new(),
            fn_shares: vec![1.0; m.services.len()],
        }
        .with_shares(m)
    }
    fn with_shares(mut self, m: &Model) -> Nodes {
        for b in 0..m.buses.len() {
            let (to, fns) = crate::broker::bus::target_shares(m, b);
            self.bus_shares.push(to);
            for (g, w) in fns {
                self.fn_shares[g] = w;
            }
        }
        self
    }
    fn len(&self) -> usize {
        self.topics + self.queues + self.pubsubs + self.exchanges + self.buses
    }
    fn idx(&self, c: Channel) -> Option<usize> {
        let (i, base, n) = match c {
            Channel::Topic(t) => (t, 0, self.topics),
            Channel::Queue(q) => (q, self.topics, self.queues),
            Channel::Pubsub(p) => (p, self.topics + self.queues, self.pubsubs),
            Channel::Exchange(x) => (x, self.topics + self.queues + self.pubsubs, self.exchanges),
            Channel::Bus(b) => (
                b,
                self.topics + self.queues + self.pubsubs + self.exchanges,
                self.buses,
            ),
        };
        (i < n).then_some(base + i)
    }
    fn channel(&self, i: usize) -> Channel {
        if i < self.topics {
            Channel::Topic(i)
        } else if i < self.topics + self.queues {
            Channel::Queue(i - self.topics)
        } else if i < self.topics + self.queues + self.pubsubs {
            Channel::Pubsub(i - self.topics - self.queues)
        } else if i < self.topics + self.queues + self.pubsubs + self.exchanges {
            Channel::Exchange(i - self.topics - self.queues - self.pubsubs)
        } else {
            Channel::Bus(i - self.topics - self.queues - self.pubsubs - self.exchanges)
        }
    }
}

/// Where each service's output goes: the channel nodes that receive one message per
/// processed message, successes to emits and final failures to the dead letters (an
/// exchange and every queue it routes the event to).
struct Outputs {
    emits: Vec<usize>,
    dead_letter: Vec<usize>,
}

/// The nodes a service's message with event `event` written to `c` reaches: `c`, and
/// for an exchange the queues it routes the event's name to.
fn written(model: &Model, nodes: &Nodes, c: Channel, event: Option<EventIdx>) -> Vec<usize> {
    let mut out: Vec<usize> = nodes.idx(c).into_iter().collect();
    if let Channel::Exchange(x) = c {
        let key = event
            .and_then(|e| model.events.get(e as usize))
            .map_or("", String::as_str);
        let mut scratch = crate::broker::rabbit::routing::RouteScratch::default();
        let mut queues = Vec::new();
        model
            .router
            .route(x as u32, key, &[], &mut scratch, &mut queues);
        out.extend(
            queues
                .iter()
                .filter_map(|&q| nodes.idx(Channel::Queue(q as usize))),
        );
    }
    out
}

/// Analyses `model`: offered load, capacity, utilisation, idle instances, backlogs and
/// warnings of every service.
pub fn analyse(model: &Model) -> Analysis {
    let nodes = Nodes::new(model);
    let segments = segments(model);
    let secs: Vec<f64> = segments.iter().map(|(a, b)| (b - a) as f64 / 1e9).collect();
    let external = external_load(model, &nodes, &segments);
    let reach = key_reach(model, &nodes);
    let mut services: Vec<ServiceLoad> = model
        .services
        .iter()
        .enumerate()
        .map(|(g, _)| static_load(model, &nodes, &reach, g, segments.len()))
        .collect();
    let outputs: Vec<Outputs> = model
        .services
        .iter()
        .map(|s| Outputs {
            emits: s
                .emits
                .iter()
                .flat_map(|(e, t)| written(model, &nodes, *t, Some(*e)))
                .collect(),
            // A dead letter keeps its event; the source's may vary, so a dead letter
            // to an exchange is routed as the service's first emitted event would be.
            dead_letter: s.dead_letter.map_or_else(Vec::new, |d| {
                written(model, &nodes, d, s.emits.first().map(|(e, _)| *e))
            }),
        })
        .collect();

    // The fixed point: channel inflow from producers and from services' output, each
    // service's throughput from its source's inflow, until nothing changes.
    let mut inflow = external.clone();
    let mut settled = false;
    for _ in 0..MAX_ITERATIONS {
        let mut next = external.clone();
        for (g, out) in outputs.iter().enumerate() {
            let s = &services[g];
            for (i, t) in s.throughput.iter().enumerate() {
                for &e in &out.emits {
                    next[e][i] += t * s.success;
                }
                for &d in &out.dead_letter {
                    next[d][i] += t * (1.0 - s.success);
                }
            }
        }
        fan_out(model, &nodes, &mut next);
        saga_flows(model, &nodes, &services, &mut next);
        let mut change = 0.0f64;
        for (g, svc) in model.services.iter().enumerate() {
            let Some(src) = nodes.idx(svc.source) else {
                continue;
            };
            let s = &mut services[g];
            let share = nodes.fn_shares[g];
            s.offered = next[src].iter().map(|v| v * share).collect();
            let (through, _) = fluid(&s.offered, s.capacity_messages_per_second, &secs);
            for (a, b) in s.throughput.iter().zip(&through) {
                change = change.max(relative(*a, *b));
            }
            s.throughput = through;
        }
        for (a, b) in inflow.iter().zip(&next) {
            for (x, y) in a.iter().zip(b) {
                change = change.max(relative(*x, *y));
            }
        }
        inflow = next;
        if change < SETTLED {
            settled = true;
            break;
        }
    }
    if !settled {
        // Load that still grows goes round a loop that nothing bounds (processing that
        // takes no time): call it infinite.
        for s in &mut services {
            if s.capacity_messages_per_second.is_infinite() {
                for v in s.offered.iter_mut().chain(s.throughput.iter_mut()) {
                    if *v > 0.0 {
                        *v = f64::INFINITY;
                    }
                }
            }
        }
    }
    for s in &mut services {
        finish(s, &segments, &secs);
    }
    let channels = (0..nodes.len())
        .map(|i| (nodes.channel(i), inflow[i].clone()))
        .collect();
    let mut analysis = Analysis {
        segments,
        services,
        channels,
        warnings: Vec::new(),
    };
    analysis.warnings = report::warnings(model, &analysis, &loops(model));
    analysis
}

fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else if !(a.is_finite() && b.is_finite()) {
        1.0
    } else {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
    }
}

/// The boundaries of every producer's rate segments, merged: `[start, end)` pairs
/// covering `[0, duration)`.
fn segments(model: &Model) -> Vec<(u64, u64)> {
    let end = model.duration.0.max(1);
    let mut cuts: BTreeSet<u64> = BTreeSet::from([0, end]);
    for p in &model.producers {
        for (a, _, b, _) in rate_segments(p, end) {
            cuts.insert(a.min(end));
            cuts.insert(b.min(end));
        }
    }
    let cuts: Vec<u64> = cuts.into_iter().collect();
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Producers' rates per channel and segment: each segment lies inside one of a
/// producer's linear pieces, so its mean rate is the rate at its middle.
fn external_load(model: &Model, nodes: &Nodes, segments: &[(u64, u64)]) -> Vec<Vec<f64>> {
    let mut load = vec![vec![0.0; segments.len()]; nodes.len()];
    let end = model.duration.0.max(1);
    for p in &model.producers {
        let Some(c) = nodes.idx(p.target) else {
            continue;
        };
        // An exchange: its own inflow, and each queue's share of the producer's
        // messages, from a sample of them routed as the run routes them.
        let mut shares = vec![(c, 1.0)];
        if let Channel::Exchange(x) = p.target {
            shares.extend(
                crate::broker::rabbit::exchange::route_shares(model, p, x)
                    .into_iter()
                    .filter_map(|(q, f)| Some((nodes.idx(Channel::Queue(q))?, f))),
            );
        }
        let pieces = rate_segments(p, end);
        for (i, &(a, b)) in segments.iter().enumerate() {
            let mid = a + (b - a) / 2;
            if let Some(&(pa, ra, pb, rb)) =
                pieces.iter().find(|(pa, _, pb, _)| *pa <= mid && mid < *pb)
            {
                let x = if pb > pa {
                    (mid - pa) as f64 / (pb - pa) as f64
                } else {
                    0.0
                };
                for &(n, f) in &shares {
                    load[n][i] += (ra + (rb - ra) * x) * f;
                }
            }
        }
    }
    load
}

/// Adds each bus's own inflow to its rules' targets (each target's share estimated from
/// a sample of the producers' events, see [`crate::broker::bus::target_shares`]; a bus
/// target passes it on), then each pubsub's inflow to the queues
/// subscribed to it (functions read the pubsub or bus itself). A queue's inflow does
/// not flow on to other channels, so one pass is enough.
fn fan_out(model: &Model, nodes: &Nodes, load: &mut [Vec<f64>]) {
    fn push(
        nodes: &Nodes,
        shares: &[Vec<(Channel, f64)>],
        b: usize,
        from: &[f64],
        load: &mut [Vec<f64>],
    ) {
        for &(c, w) in &shares[b] {
            let Some(dst) = nodes.idx(c) else { continue };
            let part: Vec<f64> = from.iter().map(|v| v * w).collect();
            for (d, v) in load[dst].iter_mut().zip(&part) {
                *d += v;
            }
            // Validation refuses a loop of buses.
            if let Channel::Bus(x) = c {
                push(nodes, shares, x, &part, load);
            }
        }
    }
    let shares = &nodes.bus_shares;
    let own: Vec<Vec<f64>> = (0..model.buses.len())
        .map(|b| {
            nodes
                .idx(Channel::Bus(b))
                .map_or_else(Vec::new, |i| load[i].clone())
        })
        .collect();
    for (b, from) in own.iter().enumerate() {
        push(nodes, shares, b, from, load);
    }
    for (p, ps) in model.pubsubs.iter().enumerate() {
        let Some(src) = nodes.idx(Channel::Pubsub(p)) else {
            continue;
        };
        let from = load[src].clone();
        for sub in &ps.subscriptions {
            if let SubTarget::Queue(q) = sub.target
                && let Some(dst) = nodes.idx(Channel::Queue(q))
            {
                for (d, v) in load[dst].iter_mut().zip(&from) {
                    *d += v;
                }
            }
        }
    }
}

/// Adds the messages of each saga to the channels its members read, from the saga's
/// starts (what reaches the coordinator's source, or the first step's, from elsewhere):
/// a step's command for each saga that reaches it (each step before it succeeded and
/// was not declined), its reply to an orchestrator, and, for each saga that fails at a
/// later step, the compensation of each earlier step that has one (and its reply).
/// Commands sent again after a timeout are not counted.
fn saga_flows(model: &Model, nodes: &Nodes, services: &[ServiceLoad], next: &mut [Vec<f64>]) {
    let mut extra: Vec<Vec<f64>> = next.iter().map(|v| vec![0.0; v.len()]).collect();
    for sg in &model.sagas {
        let Some(first) = sg.steps.first() else {
            continue;
        };
        let start = sg.coordinator.unwrap_or(first.service);
        let Some(src) = nodes.idx(model.services[start].source) else {
            continue;
        };
        let n = sg.steps.len();
        // Per saga started: the share that reaches step k, and that fails there.
        let (mut reach, mut fail) = (vec![0.0; n], vec![0.0; n]);
        let mut p = 1.0;
        for (k, st) in sg.steps.iter().enumerate() {
            let ok = (1.0 - st.reject) * services[st.service].success;
            reach[k] = p;
            fail[k] = p * (1.0 - ok);
            p *= ok;
        }
        // Per saga started: messages into each step's source and the coordinator's.
        let mut to_step = vec![0.0; n];
        let mut to_coordinator = 0.0;
        for k in 0..n {
            if sg.coordinator.is_some() {
                to_step[k] += reach[k];
                to_coordinator += reach[k];
            } else if k > 0 {
                to_step[k] += reach[k];
            }
            for (j, earlier) in sg.steps.iter().enumerate().take(k) {
                if earlier.compensation.is_some() {
                    to_step[j] += fail[k];
                    if sg.coordinator.is_some() {
                        to_coordinator += fail[k];
                    }
                }
            }
        }
        let starts = next[src].clone();
        let mut add = |c: Channel, per_start: f64| {
            if let Some(dst) = nodes.idx(c) {
                for (d, v) in extra[dst].iter_mut().zip(&starts) {
                    *d += v * per_start;
                }
            }
        };
        for (k, st) in sg.steps.iter().enumerate() {
            add(model.services[st.service].source, to_step[k]);
        }
        if sg.coordinator.is_some() {
            add(model.services[start].source, to_coordinator);
        }
    }
    fan_out(model, nodes, &mut extra);
    for (row, add) in next.iter_mut().zip(&extra) {
        for (v, a) in row.iter_mut().zip(add) {
            *v += a;
        }
    }
}

/// The key spaces (producers' keys) that reach each channel, and whether unkeyed
/// messages do: emitted events keep their key, so keys flow along every edge.
struct KeyReach {
    spaces: Vec<BTreeSet<usize>>,
    unkeyed: Vec<bool>,
}

fn key_reach(model: &Model, nodes: &Nodes) -> KeyReach {
    let mut r = KeyReach {
        spaces: vec![BTreeSet::new(); nodes.len()],
        unkeyed: vec![false; nodes.len()],
    };
    for p in &model.producers {
        let Some(c) = nodes.idx(p.target) else {
            continue;
        };
        match p.keys {
            Some(k) => {
                r.spaces[c].insert(k.space);
            }
            None => r.unkeyed[c] = true,
        }
    }
    // Every pass adds something or ends it; at most one space per producer per node.
    for _ in 0..=(nodes.len() * (model.producers.len() + 1)) {
        let mut changed = false;
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for s in &model.services {
            let Some(src) = nodes.idx(s.source) else {
                continue;
            };
            for t in s.emits.iter().map(|(_, t)| *t).chain(s.dead_letter) {
                if let Some(dst) = nodes.idx(t) {
                    edges.push((src, dst));
                }
            }
        }
        for (p, ps) in model.pubsubs.iter().enumerate() {
            let Some(src) = nodes.idx(Channel::Pubsub(p)) else {
                continue;
            };
            for sub in &ps.subscriptions {
                if let SubTarget::Queue(q) = sub.target
                    && let Some(dst) = nodes.idx(Channel::Queue(q))
                {
                    edges.push((src, dst));
                }
            }
        }
        for (b, bus) in model.buses.iter().enumerate() {
            let Some(src) = nodes.idx(Channel::Bus(b)) else {
                continue;
            };
            for t in bus.rules.iter().flat_map(|r| &r.targets) {
                if let Some(dst) = t.channel().and_then(|c| nodes.idx(c)) {
                    edges.push((src, dst));
                }
            }
        }
        for x in 0..model.exchanges.len() {
            let Some(src) = nodes.idx(Channel::Exchange(x)) else {
                continue;
            };
            for q in crate::broker::rabbit::exchange::reachable_queues(&model.router, x as u32) {
                if let Some(dst) = nodes.idx(Channel::Queue(q as usize)) {
                    edges.push((src, dst));
                }
            }
        }
        for (src, dst) in edges {
            let add: Vec<usize> = r.spaces[src].difference(&r.spaces[dst]).copied().collect();
            if !add.is_empty() {
                r.spaces[dst].extend(add);
                changed = true;
            }
            if r.unkeyed[src] && !r.unkeyed[dst] {
                r.unkeyed[dst] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    r
}

/// How many keys reach channel node `c`.
fn key_count(model: &Model, reach: &KeyReach, c: usize) -> u64 {
    reach.spaces[c]
        .iter()
        .filter_map(|&s| model.keys.spaces.get(s))
        .map(|s| u64::from(s.count))
        .sum()
}

/// The partitions of topic `t` its records land on: with keys only and Kafka's default
/// partitioner, those of the keys' hashes; otherwise every partition.
fn active_partitions(model: &Model, reach: &KeyReach, t: usize, c: usize) -> u32 {
    let topic = &model.topics[t];
    let n = topic.partitions.max(1);
    if reach.unkeyed[c]
        || reach.spaces[c].is_empty()
        || topic.partitioner != crate::model::PartitionerKind::Murmur2
    {
        return n;
    }
    let mut hit = vec![false; n as usize];
    let mut count = 0u32;
    for s in reach.spaces[c]
        .iter()
        .filter_map(|&s| model.keys.spaces.get(s))
    {
        let base = s.base as usize;
        for h in model.keys.hashes.iter().skip(base).take(s.count as usize) {
            let p = (h % n) as usize;
            if !hit[p] {
                hit[p] = true;
                count += 1;
                if count == n {
                    return n;
                }
            }
        }
    }
    count.max(1)
}

/// What does not depend on the load: slots, what limits them, idle instances, mean
/// processing time, attempts, capacity.
fn static_load(
    model: &Model,
    nodes: &Nodes,
    reach: &KeyReach,
    g: ServiceIdx,
    segments: usize,
) -> ServiceLoad {
    let s = &model.services[g];
    let src = nodes.idx(s.source);
    let keys = src.map_or(0, |c| key_count(model, reach, c));
    let keyed_only = src.is_some_and(|c| !reach.unkeyed[c] && !reach.spaces[c].is_empty());
    let (instances, concurrency) = (u64::from(s.instances), u64::from(s.concurrency));
    let all = instances * concurrency;
    let (usable, slots, limit) = match s.source {
        Channel::Topic(t) if t < model.topics.len() => {
            let parts = u64::from(model.topics[t].partitions.max(1));
            let owners = instances.min(parts);
            let active = src.map_or(parts, |c| u64::from(active_partitions(model, reach, t, c)));
            let mut slots = owners * concurrency;
            let mut limit = if owners < instances {
                Limit::Partitions(parts as u32)
            } else {
                Limit::Slots
            };
            match s.ordering {
                Ordering::Partition if active < slots => {
                    slots = active;
                    limit = Limit::Partitions(active as u32);
                }
                Ordering::Key if keyed_only && keys < slots => {
                    slots = keys;
                    limit = Limit::Keys(keys);
                }
                _ => {}
            }
            (owners, slots, limit)
        }
        Channel::Queue(q) if model.queues.get(q).is_some_and(|q| q.fifo) => {
            // One message in flight per message group.
            let groups = keys.max(1);
            if groups < all {
                let usable = groups.div_ceil(concurrency).min(instances);
                (usable, groups, Limit::Groups(groups))
            } else {
                (instances, all, Limit::Slots)
            }
        }
        _ => (instances, all, Limit::Slots),
    };
    let mean = s.processing.mean_secs();
    let p = s.failure_rate.clamp(0.0, 1.0);
    let q = s.poison_rate.clamp(0.0, 1.0);
    let m = f64::from(s.retry.max_attempts.max(1));
    let tries = if p >= 1.0 {
        m
    } else {
        (1.0 - p.powf(m)) / (1.0 - p)
    };
    let attempts = q * m + (1.0 - q) * tries;
    let success = (1.0 - q) * (1.0 - p.powf(m));
    let capacity = match mean {
        None => 0.0,
        Some(v) if v <= 0.0 => f64::INFINITY,
        Some(v) => slots as f64 / v,
    };
    ServiceLoad {
        service: g,
        offered: vec![0.0; segments],
        throughput: vec![0.0; segments],
        mean_processing_s: mean,
        attempts_per_message: attempts,
        success,
        instances: s.instances,
        concurrency: s.concurrency,
        usable_instances: usable as u32,
        idle_instances: (instances - usable) as u32,
        slots,
        limit,
        capacity_per_second: capacity,
        capacity_messages_per_second: capacity / attempts.max(1.0),
        peak_segment: 0,
        peak_utilisation: 0.0,
        backlogs: Vec::new(),
        filtered: filtered(model, s.source),
    }
}

/// Whether a filter policy stands between a pubsub and `source` (what a bus's rules
/// pass on is estimated, see [`fan_out`]).
fn filtered(model: &Model, source: Channel) -> bool {
    model.pubsubs.iter().enumerate().any(|(p, ps)| {
        ps.subscriptions.iter().any(|sub| {
            sub.filter.is_some()
                && match sub.target {
                    SubTarget::Queue(q) => source == Channel::Queue(q),
                    SubTarget::Function(_) => source == Channel::Pubsub(p),
                }
        })
    })
}

/// The fluid queue: per segment, what is processed given the offered rate `offered`,
/// a capacity `mu` (messages per second) and the segments' lengths `secs`; and the
/// backlogs. After the last segment the load is taken to go on at its rate.
fn fluid(offered: &[f64], mu: f64, secs: &[f64]) -> (Vec<f64>, Vec<Backlog>) {
    let mut out = Vec::with_capacity(offered.len());
    let mut backlogs = Vec::new();
    let mut b = 0.0f64;
    let mut t = 0.0f64;
    let mut open: Option<Backlog> = None;
    for (&lambda, &d) in offered.iter().zip(secs) {
        let net = lambda - mu;
        let through;
        if mu.is_infinite() {
            through = lambda;
        } else if net >= 0.0 && lambda > 0.0 {
            through = mu;
            if net > 0.0 {
                let bl = open.get_or_insert(Backlog {
                    from_ns: secs_to_ns(t),
                    peak_ns: 0,
                    peak_messages: 0.0,
                    drain_s: None,
                });
                b += net * d;
                if b > bl.peak_messages {
                    bl.peak_messages = b;
                    bl.peak_ns = secs_to_ns(t + d);
                }
            }
        } else if b > 0.0 {
            let empty_in = b / -net;
            if empty_in >= d {
                through = mu;
                b += net * d;
            } else {
                through = if d > 0.0 {
                    (mu * empty_in + lambda * (d - empty_in)) / d
                } else {
                    lambda
                };
                b = 0.0;
                if let Some(mut bl) = open.take() {
                    bl.drain_s = Some(t + empty_in - bl.peak_ns as f64 / 1e9);
                    backlogs.push(bl);
                }
            }
        } else {
            through = lambda;
        }
        out.push(through);
        t += d;
    }
    if let Some(mut bl) = open.take() {
        let last = offered.last().copied().unwrap_or(0.0);
        bl.drain_s =
            (last < mu && b.is_finite()).then(|| t + b / (mu - last) - bl.peak_ns as f64 / 1e9);
        backlogs.push(bl);
    }
    (out, backlogs)
}

fn secs_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e9).round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Peak, utilisation and backlogs, once the offered load is known.
fn finish(s: &mut ServiceLoad, segments: &[(u64, u64)], secs: &[f64]) {
    let mut peak = 0;
    for (i, v) in s.offered.iter().enumerate() {
        if *v > s.offered[peak] {
            peak = i;
        }
    }
    s.peak_segment = peak;
    let top = s.peak_offered();
    s.peak_utilisation = if top <= 0.0 {
        0.0
    } else if s.capacity_messages_per_second <= 0.0 {
        f64::INFINITY
    } else {
        top / s.capacity_messages_per_second
    };
    let (_, mut backlogs) = fluid(&s.offered, s.capacity_messages_per_second, secs);
    // Times from the fluid's running sum are rounded: pin them to the segments' ends.
    for b in &mut backlogs {
        b.from_ns = snap(b.from_ns, segments);
        b.peak_ns = snap(b.peak_ns, segments);
    }
    s.backlogs = backlogs;
}

fn snap(ns: u64, segments: &[(u64, u64)]) -> u64 {
    segments
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .min_by_key(|c| c.abs_diff(ns))
        .unwrap_or(ns)
}

/// Loops among services: each as the services on it, in order, starting from the one
/// declared first; a service that emits into its own source is a loop of one.
fn loops(model: &Model) -> Vec<Vec<ServiceIdx>> {
    // Service a feeds service b when a's output reaches b's source.
    let feeds = |a: &crate::model::ServiceModel, b: &crate::model::ServiceModel| -> bool {
        a.emits
            .iter()
            .map(|(_, t)| *t)
            .chain(a.dead_letter)
            .any(|t| reaches(model, t, b.source))
    };
    let mut g = petgraph::graph::DiGraph::<ServiceIdx, ()>::new();
    let ids: Vec<_> = (0..model.services.len()).map(|i| g.add_node(i)).collect();
    for (i, a) in model.services.iter().enumerate() {
        for (j, b) in model.services.iter().enumerate() {
            if feeds(a, b) {
                g.add_edge(ids[i], ids[j], ());
            }
        }
    }
    let mut out: Vec<Vec<ServiceIdx>> = petgraph::algo::tarjan_scc(&g)
        .into_iter()
        .filter(|c| c.len() > 1 || g.contains_edge(c[0], c[0]))
        .map(|c| {
            let mut v: Vec<ServiceIdx> = c.iter().map(|n| g[*n]).collect();
            v.sort_unstable();
            v
        })
        .collect();
    out.sort();
    out
}

/// Whether a message written to `from` reaches `to` (itself, or a queue subscribed to a
/// pubsub).
fn reaches(model: &Model, from: Channel, to: Channel) -> bool {
    from == to
        || match from {
            Channel::Pubsub(p) => model.pubsubs.get(p).is_some_and(|ps| {
                ps.subscriptions
                    .iter()
                    .any(|s| matches!(s.target, SubTarget::Queue(q) if Channel::Queue(q) == to))
            }),
            Channel::Exchange(x) => {
                crate::broker::rabbit::exchange::reachable_queues(&model.router, x as u32)
                    .into_iter()
                    .any(|q| Channel::Queue(q as usize) == to)
            }
            // Validation refuses a loop of buses.
            Channel::Bus(b) => model.buses.get(b).is_some_and(|bus| {
                bus.rules
                    .iter()
                    .flat_map(|r| &r.targets)
                    .filter_map(|t| t.channel())
                    .any(|c| reaches(model, c, to))
            }),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_builds_a_backlog_that_drains_at_the_spare_capacity() {
        // 10 s at 150/s into 100/s: 500 messages; then 50/s: drains at 50/s in 10 s.
        let (through, b) = fluid(&[150.0, 50.0], 100.0, &[10.0, 100.0]);
        assert_eq!(b.len(), 1);
        assert!((b[0].peak_messages - 500.0).abs() < 1e-9);
        assert_eq!(b[0].peak_ns, 10_000_000_000);
        assert!((b[0].drain_s.unwrap_or(0.0) - 10.0).abs() < 1e-9);
        assert_eq!(through[0], 100.0);
        // 10 s at 100/s then 90 s at 50/s: 5500 in 100 s.
        assert!((through[1] * 100.0 - 5500.0).abs() < 1e-6);
    }

    #[test]
    fn a_backlog_never_drains_when_the_later_load_is_over_capacity_too() {
        let (_, b) = fluid(&[150.0, 120.0], 100.0, &[10.0, 10.0]);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].drain_s, None);
        assert!((b[0].peak_messages - 700.0).abs() < 1e-9);
    }

    #[test]
    fn a_backlog_at_the_end_drains_at_the_last_rate_after_the_run() {
        let (_, b) = fluid(&[150.0, 150.0, 50.0], 100.0, &[10.0, 0.0, 5.0]);
        // 500 at 10 s, 250 left at the end, then 5 s more at 50/s.
        assert!((b[0].drain_s.unwrap_or(0.0) - 10.0).abs() < 1e-9);
    }
}
