//! Reports of a run so far: the conservation terms per service and the summary of every
//! component. The types here are what `output::summary` prints and serialises.

use super::Engine;
use crate::broker::sqs::QueueCounters;
use crate::metrics::Counters;
use crate::model::Channel;

impl Engine {
    /// Originals that reached service `g`'s source (what its ledger counts in).
    pub(crate) fn source_produced(&self, g: usize) -> u64 {
        match self.model.services[g].source {
            Channel::Topic(t) => self.kafka.topics[t].c.produced,
            Channel::Queue(q) => match &self.rabbit.rq.queues[q] {
                Some(st) => st.c.produced,
                None => self.sqs.queues[q].c.produced,
            },
            Channel::Pubsub(_) | Channel::Bus(_) => self.pubsub.fns[g].entries,
            Channel::Exchange(_) => 0,
        }
    }

    /// Service `g`'s backlog: in total, the age of its oldest message, and per
    /// partition (lag, age). A topic: the group's lag from committed offsets. A queue:
    /// its messages not yet deleted (visible, in flight or delayed); no partitions.
    pub(crate) fn service_backlog(&self, g: usize) -> (u64, u64, Vec<(u64, u64)>) {
        match self.model.services[g].source {
            Channel::Topic(_) => self.group_lag(g),
            Channel::Queue(q) => {
                let (v, f, d, oldest) = self.queue_gauges(q);
                (v + f + d, oldest, Vec::new())
            }
            Channel::Pubsub(_) | Channel::Bus(_) => {
                let (n, age) = self.fn_backlog(g);
                (n, age, Vec::new())
            }
            Channel::Exchange(_) => (0, 0, Vec::new()),
        }
    }

    /// Messages waiting in `ch`: a topic's records not consumed by every reader, a
    /// queue's messages in any state.
    pub(crate) fn channel_depth(&self, ch: Channel) -> u64 {
        match ch {
            Channel::Topic(t) => self.topic_depth(t).0,
            Channel::Queue(q) => self.queue_depth(q),
            // A pubsub, an exchange or a bus stores nothing (a bus's archive is not a
            // backlog).
            Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_) => 0,
        }
    }

    /// Messages waiting in `ch` and the age in ns of the oldest (the TUI's dead-letter
    /// backlog).
    pub fn channel_backlog(&self, ch: Channel) -> (u64, u64) {
        match ch {
            Channel::Topic(t) => self.topic_backlog(t),
            Channel::Queue(q) => {
                let (v, f, d, oldest) = self.queue_gauges(q);
                (v + f + d, oldest)
            }
            Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_) => (0, 0),
        }
    }

    /// Depth of service `g`'s dead letters: its own `dead_letter`, else its source
    /// queue's redrive dead-letter queue.
    pub(crate) fn dlq_depth(&self, g: usize) -> u64 {
        let spec = &self.model.services[g];
        let redrive = spec
            .source
            .queue()
            .and_then(|q| self.model.queues[q].redrive)
            .map(|(d, _)| Channel::Queue(d));
        if spec.dead_letter.is_none()
            && let Some(q) = spec.source.queue()
            && !self.plan.rabbit_dlqs[q].is_empty()
        {
            // A RabbitMQ-like queue's dead letters: the queues its dead-letter
            // exchange routes to.
            return self.plan.rabbit_dlqs[q]
                .iter()
                .map(|&d| self.queue_depth(d))
                .sum();
        }
        spec.dead_letter
            .or(redrive)
            .map_or(0, |ch| self.channel_depth(ch))
    }

    /// Whether queue `q` holds dead letters: a redrive target or a consumer's
    /// `dead_letter`.
    pub(crate) fn is_dead_letter_queue(&self, q: usize) -> bool {
        !self.model.queues[q].dlq_of.is_empty()
            || self.plan.rabbit_dlqs.iter().any(|d| d.contains(&q))
            || self
                .model
                .services
                .iter()
                .any(|s| s.dead_letter == Some(Channel::Queue(q)))
    }

    /// Per service, the conservation terms counted by the engine, with the pending
    /// messages found by scanning what its broker still holds, and, as a cross-check,
    /// by scanning its ledger.
    pub fn conservation(&self) -> Vec<Conservation> {
        (0..self.services.len())
            .map(|g| {
                let spec = &self.model.services[g];
                let svc = &self.services[g];
                Conservation {
                    service: spec.name.clone(),
                    produced: self.source_produced(g),
                    processed_once: svc.c.processed_once,
                    dead_lettered: svc.c.dead_lettered,
                    pending: self.held_unaccounted(g),
                    ledger_pending: svc.ledger.scan_open(),
                    lost: svc.c.lost,
                    expired: svc.c.expired,
                    duplicates: svc.c.duplicates,
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
            .enumerate()
            .map(|(p, (m, s))| ProducerSummary {
                name: m.name.clone(),
                produced: s.c.produced,
                copies: s.c.copies,
                lost_buffer_full: s.c.lost_buffer_full,
                lost_delivery_timeout: s.c.lost_delivery_timeout,
                nacked: s.c.nacked,
                lost_unconfirmed: s.c.lost_unconfirmed,
                buffered: self.links.outboxes[p].len,
            })
            .collect();
        let topics = (0..self.kafka.topics.len())
            .map(|t| {
                let (depth, oldest) = self.topic_depth(t);
                TopicSummary {
                    name: self.model.topics[t].name.clone(),
                    appended: self.kafka.topics[t].c.produced + self.kafka.topics[t].c.copies,
                    copies: self.kafka.topics[t].c.copies,
                    queue_depth: depth,
                    oldest_s: oldest as f64 / 1e9,
                    expired: self.kafka.topics[t].c.expired,
                }
            })
            .collect();
        let services: Vec<ServiceSummary> = (0..self.services.len())
            .map(|g| {
                let svc = &self.services[g];
                let (lag, lag_time, _) = self.service_backlog(g);
                let mut lat = svc.lat_run.clone();
                lat.merge(&svc.lat_interval);
                let ms = |ns: f64| ns / 1e6;
                ServiceSummary {
                    name: self.model.services[g].name.clone(),
                    counters: Counters {
                        produced: self.source_produced(g),
                        ..svc.c
                    },
                    latency_mean_ms: ms(lat.mean_ns()),
                    latency_p50_ms: ms(lat.percentile_ns(50.0) as f64),
                    latency_p95_ms: ms(lat.percentile_ns(95.0) as f64),
                    latency_p99_ms: ms(lat.percentile_ns(99.0) as f64),
                    latency_max_ms: ms(lat.max_ns() as f64),
                    lag,
                    lag_time_s: lag_time as f64 / 1e9,
                    max_lag: svc.max_lag.max(lag),
                    max_lag_time_s: svc.max_lag_time_ns.max(lag_time) as f64 / 1e9,
                    in_flight: u64::from(svc.running),
                    peak_attempts_per_s: svc.peak_attempts.0,
                    peak_arrivals_per_s: svc.peak_attempts.1,
                    peak_retries_per_s: svc.peak_attempts.2,
                    in_system_mean: svc.ledger.mean_in_system(self.now),
                    dlq_depth: self.dlq_depth(g),
                    breaker: (!svc.breakers.is_empty()).then(|| BreakerSummary {
                        opened: svc.breakers.iter().map(|b| b.opened).sum(),
                        open_s: svc
                            .breakers
                            .iter()
                            .map(|b| b.open_time(self.now) as f64 / 1e9)
                            .sum(),
                        rejected: svc.breakers.iter().map(|b| b.rejected).sum(),
                        open_now: self.breakers_open(g),
                    }),
                }
            })
            .collect();
        let rabbit_queues = (0..self.sqs.queues.len())
            .filter_map(|q| {
                let st = self.rabbit.rq.queues[q].as_ref()?;
                let (ready, unacked, oldest) = self.rabbit_gauges(q);
                Some(RabbitQueueSummary {
                    name: self.model.queues[q].name.clone(),
                    kind: match st.q.config().kind {
                        crate::broker::rabbit::queue::QueueType::Classic => "classic",
                        crate::broker::rabbit::queue::QueueType::Quorum => "quorum",
                    },
                    sent: st.c.produced + st.c.copies,
                    copies: st.c.copies,
                    ready,
                    unacked,
                    oldest_s: oldest as f64 / 1e9,
                    counters: st.r,
                })
            })
            .collect();
        let queues = (0..self.sqs.queues.len())
            .filter(|&q| !self.is_rabbit(q))
            .map(|q| {
                let qs = &self.sqs.queues[q];
                let (visible, in_flight, delayed, oldest) = self.queue_gauges(q);
                QueueSummary {
                    name: self.model.queues[q].name.clone(),
                    fifo: self.model.queues[q].fifo,
                    sent: qs.c.produced + qs.c.copies,
                    copies: qs.c.copies,
                    visible,
                    in_flight,
                    delayed,
                    oldest_s: oldest as f64 / 1e9,
                    expired: qs.c.expired,
                    counters: qs.q,
                }
            })
            .collect();
        let pubsubs = (0..self.pubsub.topics.len())
            .map(|p| {
                let st = &self.pubsub.topics[p];
                PubsubSummary {
                    name: self.model.pubsubs[p].name.clone(),
                    fifo: self.model.pubsubs[p].fifo,
                    published: st.c.produced + st.c.copies,
                    copies: st.c.copies,
                    counters: st.p,
                }
            })
            .collect();
        let exchanges = (0..self.rabbit.exchanges.len())
            .map(|x| {
                let st = &self.rabbit.exchanges[x];
                ExchangeSummary {
                    name: self.model.exchanges[x].name.clone(),
                    kind: self.model.exchanges[x].kind.name(),
                    published: st.c.produced + st.c.copies,
                    copies: st.c.copies,
                    counters: st.x,
                }
            })
            .collect();
        let buses = self
            .bus
            .buses
            .iter()
            .enumerate()
            .map(|(b, st)| BusSummary {
                name: self.model.buses[b].name.clone(),
                received: st.c.produced + st.c.copies,
                counters: st.b,
                retrying: st.retrying,
                archive: self.model.buses[b]
                    .archive
                    .is_some()
                    .then(|| self.bus_archive_len(b)),
                rules: self.model.buses[b]
                    .rules
                    .iter()
                    .zip(&st.rules)
                    .map(|(r, c)| RuleSummary {
                        name: r.name.clone(),
                        targets: r.targets.len(),
                        counters: *c,
                    })
                    .collect(),
            })
            .collect();
        let throttled = (0..self.services.len())
            .filter(|&g| {
                let s = self.model.services[g].source;
                s.pubsub().is_some() || s.bus().is_some()
            })
            .map(|g| {
                (
                    self.model.services[g].name.clone(),
                    self.pubsub.fns[g].throttled,
                )
            })
            .collect();
        let secs = (self.now as f64 / 1e9).max(1e-9);
        let comparison = self
            .model
            .compare
            .iter()
            .filter_map(|&g| {
                let x: &ServiceSummary = services
                    .iter()
                    .find(|s: &&ServiceSummary| s.name == self.model.services[g].name)?;
                Some(ComparisonRow {
                    name: x.name.clone(),
                    broker: broker_label(&self.model, g),
                    processed_per_s: x.counters.processed as f64 / secs,
                    latency_p99_ms: x.latency_p99_ms,
                    ordering_violations: x.counters.ordering_violations,
                    duplicates: x.counters.duplicates,
                    dlq_depth: x.dlq_depth,
                    lost: x.counters.lost,
                })
            })
            .collect();
        Summary {
            comparison,
            scenario: self.model.name.clone(),
            seed: self.model.seed,
            time_s: self.now as f64 / 1e9,
            events: self.steps,
            rebalances: self.kafka.rebalances,
            producers,
            topics,
            queues,
            rabbit_queues,
            pubsubs,
            exchanges,
            buses,
            services,
            throttled,
            flows: self.flows(),
            conservation: self.conservation(),
            faults: self.fault_summaries(),
            sagas: self.saga_summaries(),
        }
    }

    /// What each fault caused so far, in scenario order.
    pub fn fault_summaries(&self) -> Vec<FaultSummary> {
        self.model
            .faults
            .iter()
            .enumerate()
            .map(|(f, fm)| {
                let mut effects = self.links.effects[f];
                if let Some(t) = self.links.since[f] {
                    effects.active_s += self.now.saturating_sub(t) as f64 / 1e9;
                }
                if let Some((g, _)) = fm.service().or(match fm.target {
                    crate::model::FaultTarget::Link {
                        to: crate::model::Node::Service(g),
                        ..
                    } => Some((g, None)),
                    _ => None,
                }) {
                    // Effects under way count their hits so far.
                    effects.delayed += self.services[g]
                        .effects
                        .iter()
                        .filter(|e| e.fault == f as u32)
                        .map(|e| e.hits)
                        .sum::<u64>();
                }
                FaultSummary {
                    kind: fm.kind_name(),
                    target: fm.target_name(&self.model),
                    effects,
                }
            })
            .collect()
    }
}

/// The terms of `produced = processed_once + dead_lettered + pending + lost + expired`
/// for one service; duplicates are counted apart.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conservation {
    /// Service name (its `[[consumer]]` name).
    #[serde(rename = "group")]
    pub service: String,
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
    /// Pending as the service's ledger has it: equal to `pending` unless a broker
    /// dropped a message that nobody accounted for.
    #[serde(skip)]
    pub ledger_pending: u64,
}

impl Conservation {
    /// Whether the terms add up, and the broker and the ledger agree on what is pending.
    pub fn holds(&self) -> bool {
        self.pending == self.ledger_pending
            && self.produced
                == self.processed_once
                    + self.dead_lettered
                    + self.pending
                    + self.lost
                    + self.expired
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
    /// Per queue (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueSummary>,
    /// Per RabbitMQ-like queue (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rabbit_queues: Vec<RabbitQueueSummary>,
    /// Per pubsub (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pubsubs: Vec<PubsubSummary>,
    /// Per exchange (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeSummary>,
    /// Per event bus (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buses: Vec<BusSummary>,
    /// Per service.
    #[serde(rename = "groups")]
    pub services: Vec<ServiceSummary>,
    /// The consumers `[scenario] compare` lists, side by side (absent from JSON when
    /// there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comparison: Vec<ComparisonRow>,
    /// Per function: invocations throttled (absent from JSON when there is no function).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub throttled: Vec<(String, u64)>,
    /// End-to-end latency per flow, from a producer's first produce of a correlation id
    /// to its processing by each service behind another (absent from JSON when no
    /// service reads what another writes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<super::flow::FlowSummary>,
    /// Conservation per service.
    pub conservation: Vec<Conservation>,
    /// Per fault, what it caused (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSummary>,
    /// Per saga (absent from JSON when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sagas: Vec<SagaSummary>,
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
    /// Sends dropped because its buffer was full while its broker refused them
    /// (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_buffer_full: u64,
    /// Held sends dropped after the delivery timeout (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_delivery_timeout: u64,
    /// Publishes a RabbitMQ-like broker refused, confirmed so (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub nacked: u64,
    /// Publishes lost without publisher confirms (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_unconfirmed: u64,
    /// Messages it holds now (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub buffered: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A service's circuit breakers, summed over its instances.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BreakerSummary {
    /// Times a breaker opened.
    pub opened: u64,
    /// Instance-seconds spent open.
    pub open_s: f64,
    /// Attempts failed at once while open (`when_open = "fail"`).
    pub rejected: u64,
    /// Instances whose breaker is open now.
    pub open_now: u64,
}

/// What one fault caused so far.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FaultSummary {
    /// Its kind, as the scenario spells it.
    pub kind: &'static str,
    /// What it hits.
    pub target: String,
    /// Counts of what it did.
    #[serde(flatten)]
    pub effects: super::link::FaultEffects,
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
    /// Records not yet consumed by every service that reads it.
    pub queue_depth: u64,
    /// Age of the oldest of those, seconds.
    pub oldest_s: f64,
    /// Records deleted by retention unconsumed.
    pub expired: u64,
}

/// A queue's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueSummary {
    /// Name.
    pub name: String,
    /// FIFO or standard.
    pub fifo: bool,
    /// Messages enqueued, copies included (deduplicated sends are not).
    pub sent: u64,
    /// Copies among them (a client's second send, a duplicate's follow-up).
    pub copies: u64,
    /// Visible at the end.
    pub visible: u64,
    /// In flight at the end.
    pub in_flight: u64,
    /// Delayed at the end.
    pub delayed: u64,
    /// Age of the oldest message at the end, seconds.
    pub oldest_s: f64,
    /// Deleted by retention.
    pub expired: u64,
    /// Receives, empty receives, redeliveries, deduplicated sends, moves to the DLQ.
    #[serde(flatten)]
    pub counters: QueueCounters,
}

/// A pubsub's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PubsubSummary {
    /// Name.
    pub name: String,
    /// FIFO or standard.
    pub fifo: bool,
    /// Publishes, copies included (deduplicated ones are not).
    pub published: u64,
    /// Copies among them.
    pub copies: u64,
    /// Routed, filtered, filtered out, deduplicated.
    #[serde(flatten)]
    pub counters: crate::broker::pubsub::PubsubCounters,
}

/// An exchange's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExchangeSummary {
    /// Name.
    pub name: String,
    /// Direct, fanout, topic or headers.
    pub kind: &'static str,
    /// Publishes, copies included.
    pub published: u64,
    /// Copies among them (a producer's resend after a lost confirm, an event emitted
    /// again).
    pub copies: u64,
    /// Routed, unroutable, through an alternate exchange.
    #[serde(flatten)]
    pub counters: crate::broker::rabbit::exchange::ExchangeCounters,
}

/// One consumer of a comparison (`[scenario] compare`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ComparisonRow {
    /// The consumer.
    pub name: String,
    /// The broker it reads, in words (`Kafka topic orders (6 partitions)`).
    pub broker: String,
    /// Successful processings per simulated second, duplicates included.
    pub processed_per_s: f64,
    /// 99th percentile latency, produce to processed, ms.
    pub latency_p99_ms: f64,
    /// Ordering violations.
    pub ordering_violations: u64,
    /// Duplicate processings.
    pub duplicates: u64,
    /// What its dead-letter topic or queue holds at the end.
    pub dlq_depth: u64,
    /// Lost, with cause.
    pub lost: u64,
}

/// The broker service `g` reads, in words, naming what stands before it (a bus, a
/// pubsub, an exchange).
fn broker_label(m: &crate::model::Model, g: usize) -> String {
    let s = &m.services[g];
    match s.source {
        Channel::Topic(t) => format!("Kafka topic ({} partitions)", m.topics[t].partitions),
        Channel::Queue(q) => {
            let qm = &m.queues[q];
            if let Some(r) = &qm.rabbit {
                let kind = match r.config.kind {
                    crate::broker::rabbit::queue::QueueType::Classic => "classic",
                    crate::broker::rabbit::queue::QueueType::Quorum => "quorum",
                };
                return format!("RabbitMQ {kind} queue");
            }
            let kind = if qm.fifo {
                "SQS FIFO queue"
            } else {
                "SQS standard queue"
            };
            let via_bus = m.buses.iter().any(|b| {
                b.rules
                    .iter()
                    .flat_map(|r| &r.targets)
                    .any(|t| *t == crate::model::BusTarget::Queue(q))
            });
            let via_sns = m.pubsubs.iter().any(|p| {
                p.subscriptions
                    .iter()
                    .any(|sub| sub.target == crate::model::SubTarget::Queue(q))
            });
            match (via_bus, via_sns) {
                (true, _) => format!("EventBridge bus → {kind}"),
                (_, true) => format!("SNS → {kind}"),
                _ => kind.to_string(),
            }
        }
        Channel::Pubsub(_) => "SNS → function".to_string(),
        Channel::Bus(_) => "EventBridge bus → function".to_string(),
        Channel::Exchange(_) => "exchange".to_string(),
    }
}

/// An event bus's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BusSummary {
    /// Name.
    pub name: String,
    /// Events received, copies included (replays apart).
    pub received: u64,
    /// Matched, unmatched, sent, delivered, failed, dead-lettered, lost, replayed.
    #[serde(flatten)]
    pub counters: crate::broker::bus::BusCounters,
    /// Deliveries waiting for a retry at the end.
    pub retrying: u64,
    /// Events the archive holds at the end (none: no archive).
    pub archive: Option<u64>,
    /// Per rule.
    pub rules: Vec<RuleSummary>,
}

impl BusSummary {
    /// Whether every copy a rule sent is accounted for: delivered, dead-lettered, lost
    /// or waiting for a retry.
    pub fn conserved(&self) -> bool {
        let c = &self.counters;
        c.sent == c.delivered + c.dead_lettered + c.lost + self.retrying
    }
}

/// One rule's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RuleSummary {
    /// Name.
    pub name: String,
    /// Its targets.
    pub targets: usize,
    /// Matched, delivered, failed, dead-lettered, lost.
    #[serde(flatten)]
    pub counters: crate::broker::bus::RuleCounters,
}

/// A RabbitMQ-like queue's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RabbitQueueSummary {
    /// Name.
    pub name: String,
    /// `classic` or `quorum`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Messages enqueued, copies included (refused publishes are not).
    pub sent: u64,
    /// Copies among them.
    pub copies: u64,
    /// Ready at the end.
    pub ready: u64,
    /// Unacknowledged at the end (pushed to consumers).
    pub unacked: u64,
    /// Age of the oldest ready message at the end, seconds.
    pub oldest_s: f64,
    /// Deliveries, acknowledgements, requeues, rejections, what was dropped, refused,
    /// expired and dead-lettered.
    #[serde(flatten)]
    pub counters: crate::broker::rabbit::consume::RabbitQueueCounters,
}

/// A service's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceSummary {
    /// Name.
    pub name: String,
    /// Its instances' circuit breakers, summed (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSummary>,
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
    /// Highest sampled rate of attempts started (first attempts and retries), per
    /// second.
    pub peak_attempts_per_s: f64,
    /// The rate of messages arriving in that interval.
    pub peak_arrivals_per_s: f64,
    /// The rate of retries scheduled in that interval.
    pub peak_retries_per_s: f64,
    /// Time-average number of records in the system (appended, not yet processed,
    /// dead-lettered, lost or expired): the L of Little's law.
    pub in_system_mean: f64,
    /// Depth of its dead-letter topic at the end.
    pub dlq_depth: u64,
}

/// One saga definition over the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SagaSummary {
    /// Name.
    pub name: String,
    /// `orchestrated` or `choreographed`.
    pub kind: &'static str,
    /// Sagas started.
    pub started: u64,
    /// Completed every step.
    pub completed: u64,
    /// Undid every completed step after a failure.
    pub compensated: u64,
    /// A compensation failed for good.
    pub failed: u64,
    /// Still under way at the end.
    pub in_progress: u64,
    /// Messages that would have started a second saga with a running one's id.
    pub duplicate_starts: u64,
    /// Steps or compensations run again for the same saga (participants that are not
    /// idempotent).
    pub duplicate_steps: u64,
    /// Saga messages that arrived after their saga ended or moved on.
    pub stale: u64,
    /// Steps that succeeded after a timeout with nothing left to undo them (their
    /// effect stays).
    pub orphaned: u64,
    /// Duration of the sagas that ended, start to end: median, ms.
    pub duration_p50_ms: f64,
    /// 99th percentile, ms.
    pub duration_p99_ms: f64,
    /// Mean, ms.
    pub duration_mean_ms: f64,
    /// Per step.
    pub steps: Vec<SagaStepSummary>,
}

/// One step of a saga over the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SagaStepSummary {
    /// Step name.
    pub name: String,
    /// The service that runs it.
    pub service: String,
    /// Successes.
    pub done: u64,
    /// Failures: declined, given up, or timed out on every send.
    pub failed: u64,
    /// Replies that did not come in time (orchestrated).
    pub timeouts: u64,
    /// Compensations that succeeded.
    pub compensated: u64,
    /// Sagas at this step at the end, running forward.
    pub in_progress: u64,
    /// Sagas compensating this step at the end.
    pub compensating: u64,
}

impl Engine {
    /// Each saga definition's counts.
    fn saga_summaries(&self) -> Vec<SagaSummary> {
        self.model
            .sagas
            .iter()
            .zip(&self.sagas.stats)
            .map(|(m, st)| {
                let ms = |ns: f64| ns / 1e6;
                SagaSummary {
                    name: m.name.clone(),
                    kind: if m.coordinator.is_some() {
                        "orchestrated"
                    } else {
                        "choreographed"
                    },
                    started: st.started,
                    completed: st.completed,
                    compensated: st.compensated,
                    failed: st.failed,
                    in_progress: st.in_progress.iter().sum::<u64>()
                        + st.compensating.iter().sum::<u64>(),
                    duplicate_starts: st.duplicate_starts,
                    duplicate_steps: st.duplicate_steps,
                    stale: st.stale,
                    orphaned: st.orphaned,
                    duration_p50_ms: ms(st.duration.percentile_ns(50.0) as f64),
                    duration_p99_ms: ms(st.duration.percentile_ns(99.0) as f64),
                    duration_mean_ms: ms(st.duration.mean_ns()),
                    steps: m
                        .steps
                        .iter()
                        .enumerate()
                        .map(|(k, step)| SagaStepSummary {
                            name: step.name.clone(),
                            service: self.model.services[step.service].name.clone(),
                            done: st.done[k],
                            failed: st.failed_steps[k],
                            timeouts: st.timeouts[k],
                            compensated: st.compensated_steps[k],
                            in_progress: st.in_progress[k],
                            compensating: st.compensating[k],
                        })
                        .collect(),
                }
            })
            .collect()
    }
}
