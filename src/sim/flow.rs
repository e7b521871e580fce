//! End-to-end latency per flow: from the first produce of a correlation id to each
//! processing of it by a service more than one service hop downstream. A flow is a pair
//! (origin producer, service): every message carries its origin producer and the time of
//! its first produce ([`Message::origin_at`]) across every hop it causes (follow-up
//! events, dead letters, redrives, pubsub copies), so the latency of a flow is
//! `ack time - origin_at` at that service, kept in an HDR histogram as per-hop latency
//! is (its mean and maximum exact).
//!
//! Which pairs are flows is decided once from the model: the services reachable from a
//! producer through at least one other service (its emits, dead letter, or its queue's
//! redrive policy). A service the producer writes to directly is its first hop, whose
//! latency is the per-hop latency already reported; it is a flow only when a cycle
//! reaches it again. At most [`MAX_FLOWS`] flows are kept, in producer then service
//! order, because each costs two histograms of about 300 KB.
//!
//! [`Message::origin_at`]: super::message::Message

use super::Engine;
use super::trace::NA32;
use crate::metrics::Latency;
use crate::model::{BusTarget, Channel, Model, SubTarget};

/// Most flows (origin producer, service) whose latency is tracked.
pub const MAX_FLOWS: usize = 64;

/// One flow's latencies.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub producer: u32,
    pub service: u32,
    /// Whether the service emits nothing further (a sink of the flow).
    pub sink: bool,
    pub lat_interval: Latency,
    pub lat_run: Latency,
}

/// The services that read `ch`, directly or through a pubsub's subscriptions.
fn readers(model: &Model, ch: Channel, out: &mut Vec<usize>) {
    match ch {
        Channel::Topic(t) => out.extend(&model.topics[t].readers),
        Channel::Queue(q) => out.extend(model.queues[q].reader),
        Channel::Pubsub(p) => {
            for s in &model.pubsubs[p].subscriptions {
                match s.target {
                    SubTarget::Queue(q) => out.extend(model.queues[q].reader),
                    SubTarget::Function(g) => out.push(g),
                }
            }
        }
        Channel::Exchange(x) => {
            for q in crate::broker::rabbit::exchange::reachable_queues(&model.router, x as u32) {
                out.extend(model.queues[q as usize].reader);
            }
        }
        Channel::Bus(b) => {
            for t in model.buses[b].rules.iter().flat_map(|r| &r.targets) {
                match *t {
                    BusTarget::Function(g) => out.push(g),
                    // Validation refuses a loop of buses.
                    other => {
                        if let Some(c) = other.channel() {
                            readers(model, c, out);
                        }
                    }
                }
            }
        }
    }
}

/// The channels service `g` writes to: its emits, its dead letter, and its source
/// queue's redrive dead-letter queue.
fn outputs(model: &Model, g: usize) -> Vec<Channel> {
    let s = &model.services[g];
    let mut out: Vec<Channel> = s.emits.iter().map(|&(_, c)| c).collect();
    out.extend(s.dead_letter);
    if let Channel::Queue(q) = s.source
        && let Some((dlq, _)) = model.queues[q].redrive
    {
        out.push(Channel::Queue(dlq));
    }
    out
}

/// The flows of `model`, and per service the flow index of each producer (`NA32` where
/// there is none; empty for a service in no flow).
pub(crate) fn plan(model: &Model) -> (Vec<Flow>, Vec<Vec<u32>>) {
    let ns = model.services.len();
    let np = model
        .producers
        .len()
        .min(super::message::MAX_FLOW_PRODUCERS);
    let mut flows = Vec::new();
    let mut index = vec![Vec::new(); ns];
    let mut scratch = Vec::new();
    for p in 0..np {
        // Services reached through at least one service: a breadth-first walk from
        // the outputs of the producer's first hop.
        let mut reached = vec![false; ns];
        let mut frontier = Vec::new();
        scratch.clear();
        readers(model, model.producers[p].target, &mut scratch);
        let mut first: Vec<usize> = scratch.clone();
        first.sort_unstable();
        first.dedup();
        let mut expanded = vec![false; ns];
        for &g in &first {
            expanded[g] = true;
            frontier.push(g);
        }
        while let Some(g) = frontier.pop() {
            for ch in outputs(model, g) {
                scratch.clear();
                readers(model, ch, &mut scratch);
                for &h in &scratch {
                    reached[h] = true;
                    if !expanded[h] {
                        expanded[h] = true;
                        frontier.push(h);
                    }
                }
            }
        }
        for (g, _) in reached.iter().enumerate().filter(|(_, r)| **r) {
            if flows.len() >= MAX_FLOWS {
                break;
            }
            if index[g].is_empty() {
                index[g] = vec![NA32; np];
            }
            index[g][p] = flows.len() as u32;
            flows.push(Flow {
                producer: p as u32,
                service: g as u32,
                sink: model.services[g].emits.is_empty(),
                lat_interval: Latency::new(),
                lat_run: Latency::new(),
            });
        }
    }
    (flows, index)
}

/// One flow's end-to-end latency so far, for reports and the TUI.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FlowSummary {
    /// The producer whose messages start the flow.
    pub producer: String,
    /// The service at its end.
    pub consumer: String,
    /// Whether that service emits nothing further.
    pub sink: bool,
    /// Processings recorded (duplicates included, as for per-hop latency).
    pub processed: u64,
    /// Mean latency from the first produce to processed, ms (exact).
    pub latency_mean_ms: f64,
    /// Median, ms.
    pub latency_p50_ms: f64,
    /// 95th percentile, ms.
    pub latency_p95_ms: f64,
    /// 99th percentile, ms.
    pub latency_p99_ms: f64,
    /// Maximum, ms (exact).
    pub latency_max_ms: f64,
}

impl FlowSummary {
    /// The CSV's component for this flow: `producer→consumer`.
    pub fn component(&self) -> String {
        format!("{}→{}", self.producer, self.consumer)
    }
}

impl Engine {
    /// Service `g` processed a message that producer `origin` first produced at
    /// `origin_at`: its flow's latency, if it is one. Called only for a service in a flow.
    #[inline]
    pub(crate) fn record_flow(&mut self, g: usize, origin: Option<usize>, origin_at: u64) {
        let Some(p) = origin else {
            return;
        };
        let Some(&f) = self.plan.flow_index[g].get(p) else {
            return;
        };
        if f == NA32 {
            return;
        }
        let latency = self.now.saturating_sub(origin_at);
        let flow = &mut self.flows[f as usize];
        if self.opts.record_rows {
            flow.lat_interval.record(latency);
        } else {
            flow.lat_run.record(latency);
        }
    }

    /// Every flow's end-to-end latency so far (empty when the scenario has no service
    /// behind another): what the summary's `flows` and the TUI's flow view show.
    pub fn flows(&self) -> Vec<FlowSummary> {
        self.flows
            .iter()
            .map(|f| {
                let mut lat = f.lat_run.clone();
                lat.merge(&f.lat_interval);
                let ms = |ns: f64| ns / 1e6;
                FlowSummary {
                    producer: self.model.producers[f.producer as usize].name.clone(),
                    consumer: self.model.services[f.service as usize].name.clone(),
                    sink: f.sink,
                    processed: lat.count(),
                    latency_mean_ms: ms(lat.mean_ns()),
                    latency_p50_ms: ms(lat.percentile_ns(50.0) as f64),
                    latency_p95_ms: ms(lat.percentile_ns(95.0) as f64),
                    latency_p99_ms: ms(lat.percentile_ns(99.0) as f64),
                    latency_max_ms: ms(lat.max_ns() as f64),
                }
            })
            .collect()
    }
}
