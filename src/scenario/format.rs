//! The scenario file as the user writes it: serde structs that mirror the TOML one to
//! one, and from which `edasim schema` derives the JSON Schema. Nothing here is checked
//! beyond its type; ranges and references are checked in [`super::validate`], which
//! turns these structs into the [`crate::model::Model`] the engine runs.
//!
//! Every struct refuses unknown keys: a typo such as `partitons = 12` must be an
//! error, never a silently ignored line.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::time::{SimDuration, parse_duration};

/// A duration written as a string with a unit: `"250us"`, `"20ms"`, `"1.5s"`, `"2m"`,
/// `"1h"`, `"7d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub SimDuration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"20ms\", \"1.5s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]*\\.?[0-9]+(ns|us|µs|ms|s|m|min|h|d)$",
            "description": "A duration with a unit: ns, us, ms, s, m, h or d, e.g. \"20ms\", \"1.5s\", \"2m\"."
        })
    }
}

/// The whole scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "edasim scenario")]
pub struct ScenarioFile {
    /// Name, seed, duration and sampling interval of the run.
    pub scenario: ScenarioSection,
    /// Sources of messages.
    #[serde(default)]
    pub producer: Vec<Producer>,
    /// Kafka-like partitioned logs.
    #[serde(default)]
    pub topic: Vec<Topic>,
    /// SQS-like queues, standard or FIFO.
    #[serde(default)]
    pub queue: Vec<Queue>,
    /// SNS-like pub/sub topics: one publish reaches every matching subscription.
    #[serde(default)]
    pub pubsub: Vec<Pubsub>,
    /// RabbitMQ-like exchanges: a publish goes to every queue whose binding matches.
    #[serde(default)]
    pub exchange: Vec<Exchange>,
    /// EventBridge-like event buses: each rule whose event pattern matches an event
    /// sends it to its targets.
    #[serde(default)]
    pub bus: Vec<Bus>,
    /// Services: each is one consumer group of one or more instances.
    #[serde(default)]
    pub consumer: Vec<Consumer>,
    /// Failures injected at given times.
    #[serde(default)]
    pub fault: Vec<Fault>,
    /// Operations run at given times (a dead-letter queue redrive).
    #[serde(default)]
    pub action: Vec<Action>,
    /// Sagas: a business transaction over several services, each step with its
    /// compensation.
    #[serde(default)]
    pub saga: Vec<Saga>,
}

/// `[[saga]]`: a sequence of local transactions in several services, each with a
/// compensation that undoes it, run by a coordinator (orchestrated) or by the services
/// reacting to each other's events (choreographed).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Saga {
    /// Unique component name.
    pub name: String,
    /// `orchestrated` (a coordinator sends each command and awaits its reply) or
    /// `choreographed` (each step reacts to the event of the one before).
    pub kind: SagaKind,
    /// Orchestrated: the consumer that runs it. Its source receives the replies, and
    /// each message it processes that is not a reply starts a saga.
    #[serde(default)]
    pub coordinator: Option<String>,
    /// Orchestrated: how long the coordinator waits for a step's reply, unless the
    /// step says (default "30s").
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// The steps, in order.
    #[serde(default)]
    pub step: Vec<SagaStep>,
}

/// How a saga is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SagaKind {
    /// A coordinator sends commands and awaits replies.
    Orchestrated,
    /// The services react to each other's events.
    Choreographed,
}

/// One step of a saga: a local transaction of one service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaStep {
    /// Step name, unique in its saga.
    pub name: String,
    /// The consumer that runs it; the saga's messages reach it through its source.
    pub service: String,
    /// Choreographed: the event it reacts to (the first step: any message its service
    /// receives that is not a saga event; a later step: the one before's `emits`).
    #[serde(default)]
    pub on: Option<String>,
    /// Orchestrated: the command's event name (default "<Name>Requested").
    #[serde(default)]
    pub command: Option<String>,
    /// The event of its success: the reply, or what the next step reacts to (default
    /// "<Name>Done").
    #[serde(default)]
    pub emits: Option<String>,
    /// The event of its failure (default "<Name>Failed").
    #[serde(default)]
    pub on_failure: Option<String>,
    /// The event that undoes it (omit: nothing to undo, as for a read).
    #[serde(default)]
    pub compensation: Option<String>,
    /// The event of its compensation's success (default "<Name>Compensated").
    #[serde(default)]
    pub compensated: Option<String>,
    /// Share of sagas in which this step declines (a business failure: out of stock,
    /// card refused), decided once per saga (default 0).
    #[serde(default)]
    pub reject: Option<f64>,
    /// Orchestrated: how long the coordinator waits for its reply (default: the
    /// saga's `timeout`).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Orchestrated: the coordinator sends the command again after a timeout, with
    /// this backoff, up to `max_attempts` sends in all (default: one send).
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Orchestrated: the same for its compensation, after a timeout or a failure; when
    /// the last one fails the saga is `failed` (default: 3 sends, 1 s doubling).
    #[serde(default)]
    pub compensation_retry: Option<Retry>,
}

/// `[[action]]`: an operation at a given time.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// What: `redrive` (SQS's StartMessageMoveTask) or `replay` (EventBridge's
    /// StartReplay).
    pub kind: ActionKind,
    /// When it starts.
    pub at: Dur,
    /// Redrive: the dead-letter queue whose messages move.
    #[serde(default)]
    pub queue: Option<String>,
    /// Replay: the bus whose archive is replayed (to the same bus).
    #[serde(default)]
    pub bus: Option<String>,
    /// Replay: the window's start, as a time of the run (events the bus received from
    /// then on).
    #[serde(default)]
    pub from: Option<Dur>,
    /// Replay: the window's end (default: when the replay starts).
    #[serde(default)]
    pub until: Option<Dur>,
    /// Replay: only these rules of the bus receive the replayed events (default: all).
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// Redrive: where they go (default: each message's source queue).
    #[serde(default)]
    pub to: Option<String>,
    /// Redrive: messages moved per second (`MaxNumberOfMessagesPerSecond`, at most
    /// 500; default: all at once). Replay: events replayed per second (default: all at
    /// once).
    #[serde(default)]
    pub rate: Option<f64>,
}

/// Kinds of action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Moves a dead-letter queue's messages back to their source queue (or `to`).
    Redrive,
    /// Sends a bus's archived events of a time window to the bus again.
    Replay,
}

/// `[scenario]`: the run as a whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSection {
    /// Shown in the summary and the TUI header.
    pub name: String,
    /// What the scenario teaches; free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The root seed: the same seed gives the same bytes every time.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Dur,
    /// How often metrics are sampled (default 1s).
    #[serde(default)]
    pub metrics_interval: Option<Dur>,
    /// Consumers compared side by side in a table of the summary and the TUI (a broker
    /// shoot-out: the same workload through different brokers, one consumer each).
    #[serde(default)]
    pub compare: Option<Vec<String>>,
}

fn default_seed() -> u64 {
    1
}

/// `[[producer]]`: a source of messages.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    /// Unique component name.
    pub name: String,
    /// The topic or queue it writes to.
    pub target: String,
    /// Base arrival process.
    pub rate: Rate,
    /// Rate changes over time (ramps, spikes); each holds until the next.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// Message keys; absent means unkeyed records.
    #[serde(default)]
    pub keys: Option<Keys>,
    /// Event name carried by every message (default "Event").
    #[serde(default)]
    pub event: Option<String>,
    /// Kafka `acks`: "0", "1" or "all" (default "all").
    #[serde(default)]
    pub acks: Option<Acks>,
    /// Kafka `enable.idempotence` (default true, as in Kafka 3.0 and later): the broker
    /// drops a retried batch it already wrote.
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// Kafka `retries` (default 2147483647).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Probability that the broker writes a record but its ack is lost, so the producer
    /// sends it again after `request_timeout` (default 0).
    #[serde(default)]
    pub ack_loss_rate: Option<f64>,
    /// Kafka `request.timeout.ms` (default "30s"); for a queue, how long the client
    /// waits before it sends again a message whose send it takes as failed.
    #[serde(default)]
    pub request_timeout: Option<Dur>,
    /// Queue targets: the SQS `DelaySeconds` of every message it sends (0 to 15
    /// minutes; standard queues only, FIFO queues take only a per-queue delay).
    #[serde(default)]
    pub delay: Option<Dur>,
    /// Queue targets: probability that the client sends a message again after
    /// `request_timeout` with the same deduplication id, as an SDK does when a response
    /// is lost (default 0). A FIFO queue drops it within its 5-minute window; a
    /// standard queue delivers it twice.
    #[serde(default)]
    pub duplicate_rate: Option<f64>,
    /// Message attributes, per name: a fixed value (string, number or list of them),
    /// `{ cycle = [...] }` (in order), `{ choose = [...], weights = [...] }` or
    /// `{ range = [min, max] }` (whole numbers when both bounds are).
    #[serde(default)]
    pub attributes: Option<serde_json::Value>,
    /// Exchange targets: each message's routing key: a string, `{ cycle = [...] }`,
    /// `{ choose = [...], weights = [...] }`, or `{ format = "order.{}.created" }`
    /// where `{}` is the message's key (default: the empty routing key).
    #[serde(default)]
    pub routing_key: Option<serde_json::Value>,
    /// Exchange targets: message headers, per name, generated as attributes are (a
    /// string or a number, fixed, cycled, chosen or in a range).
    #[serde(default)]
    pub headers: Option<serde_json::Value>,
    /// The message body: fields generated as attributes are (nested tables are nested
    /// objects), or `{ file = "events.jsonl" }`, sample events cycled in order.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// Messages the client holds while its target is unreachable (a broker or
    /// partition outage, a network partition), as Kafka's `buffer.memory` does
    /// (default 32768, 32 MiB of 1 KiB records). A send that finds it full is dropped.
    #[serde(default)]
    pub buffer: Option<u32>,
    /// Kafka `delivery.timeout.ms` (default "120s"): a held message not sent by then
    /// is dropped.
    #[serde(default)]
    pub delivery_timeout: Option<Dur>,
    /// Kafka `retry.backoff.ms` (default "100ms"): the wait before the first retry of
    /// held messages; it doubles at each failed retry (with ±20% jitter) up to
    /// `retry_backoff_max`.
    #[serde(default)]
    pub retry_backoff: Option<Dur>,
    /// Kafka `retry.backoff.max.ms` (default "1s").
    #[serde(default)]
    pub retry_backoff_max: Option<Dur>,
    /// Publisher confirms, to an exchange or a RabbitMQ-like queue (default false, as
    /// a RabbitMQ channel starts): with them a publish the broker refuses (an outage, a
    /// cut link) is held and sent again, and one a full queue rejects is nacked;
    /// without them both are lost, and nobody knows.
    #[serde(default)]
    pub confirms: Option<bool>,
    /// Publishing to an event bus: each event's `source` field (default: the
    /// producer's name), which rules' event patterns can match.
    #[serde(default)]
    pub source: Option<String>,
    /// Publishing to an event bus: each event's `detail-type` field (default: the
    /// producer's `event` name).
    #[serde(default)]
    pub detail_type: Option<String>,
}

/// Arrival process of a producer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// `poisson` (exponential gaps, the default) or `constant` (even gaps).
    #[serde(default)]
    pub dist: Option<RateDist>,
    /// Messages per second.
    pub per_second: f64,
}

/// The event name of a producer's messages when the scenario gives none.
pub const DEFAULT_EVENT: &str = "Event";

/// Shape of the gaps between messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateDist {
    /// Exponential gaps: a Poisson process.
    Poisson,
    /// Even gaps of 1/rate.
    Constant,
}

impl RateDist {
    /// The name as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            RateDist::Poisson => "poisson",
            RateDist::Constant => "constant",
        }
    }
}

/// From `at`, the rate moves to `per_second` (linearly over `ramp`, if given).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// When the change starts.
    pub at: Dur,
    /// The new rate; 0 pauses the producer.
    pub per_second: f64,
    /// How long the change takes (default: at once).
    #[serde(default)]
    pub ramp: Option<Dur>,
}

/// Message keys: `format` + `count` (+ `dist`), or an explicit `list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// A pattern where `{}` becomes 1..=count, e.g. "user-{}".
    #[serde(default)]
    pub format: Option<String>,
    /// How many distinct keys `format` makes.
    #[serde(default)]
    pub count: Option<u64>,
    /// How keys are drawn (default uniform).
    #[serde(default)]
    pub dist: Option<KeyDist>,
    /// Zipf exponent (default 1.0); larger means hotter hot keys.
    #[serde(default)]
    pub s: Option<f64>,
    /// An explicit list of keys instead of `format`; an empty string is a real (empty) key.
    #[serde(default)]
    pub list: Option<Vec<String>>,
}

/// How keys are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Key k with probability proportional to 1/k^s: a few hot keys.
    Zipf,
    /// 1, 2, 3, ... count, 1, 2, ...
    Sequential,
}

/// Kafka's `acks`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Acks {
    /// Fire and forget: no ack, so no retry and no duplicate.
    #[serde(rename = "0")]
    None,
    /// The leader acknowledges.
    #[serde(rename = "1")]
    Leader,
    /// All in-sync replicas acknowledge.
    #[serde(rename = "all")]
    All,
}

impl<'de> Deserialize<'de> for Acks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Acks;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("acks \"0\", \"1\" or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Acks, E> {
                match v {
                    0 => Ok(Acks::None),
                    1 => Ok(Acks::Leader),
                    -1 => Ok(Acks::All),
                    _ => Err(E::custom(format!(
                        "acks must be \"0\", \"1\" or \"all\", found {v}"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Acks, E> {
                match v {
                    "0" => Ok(Acks::None),
                    "1" => Ok(Acks::Leader),
                    "all" | "-1" => Ok(Acks::All),
                    _ => Err(E::custom(format!(
                        "acks must be \"0\", \"1\" or \"all\", found {v:?}"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[[topic]]`: a Kafka-like partitioned log.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// Unique component name.
    pub name: String,
    /// Number of partitions (default 1).
    #[serde(default)]
    pub partitions: Option<u32>,
    /// How producers pick a partition (default murmur2).
    #[serde(default)]
    pub partitioner: Option<PartitionerKind>,
    /// Records a sticky partitioner sends to one partition before it moves on
    /// (Kafka switches after `batch.size` bytes; default 100 records).
    #[serde(default)]
    pub sticky_batch: Option<u32>,
    /// Records older than this are deleted; those no group consumed count as expired
    /// (default "7d", Kafka's `retention.ms`).
    #[serde(default)]
    pub retention: Option<Dur>,
}

/// Kafka's partitioners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionerKind {
    /// Kafka's built-in partitioner: keyed records to murmur2(key) mod partitions,
    /// unkeyed records sticky.
    Murmur2,
    /// `RoundRobinPartitioner`: every record to the next partition, keys ignored.
    RoundRobin,
    /// `UniformStickyPartitioner`: every record sticky, keys ignored.
    Sticky,
}

/// `[[queue]]`: an SQS-like queue, standard (at-least-once, best-effort order) or FIFO
/// (strict order per message group, deduplication).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Unique component name.
    pub name: String,
    /// A FIFO queue (default false: a standard queue).
    #[serde(default)]
    pub fifo: Option<bool>,
    /// How long a received message stays invisible to other receives (default "30s",
    /// at most "12h").
    #[serde(default)]
    pub visibility_timeout: Option<Dur>,
    /// How long a message is kept (default "4d", from "60s" to "14d").
    #[serde(default)]
    pub retention: Option<Dur>,
    /// Delay before a sent message becomes visible (default 0, at most "15m").
    #[serde(default)]
    pub delay: Option<Dur>,
    /// `ReceiveMessageWaitTimeSeconds`: long polling when above 0 (default 0, short
    /// polling; at most "20s").
    #[serde(default)]
    pub wait_time: Option<Dur>,
    /// Redrive policy: the dead-letter queue and the receives after which a message
    /// moves there.
    #[serde(default)]
    pub dead_letter: Option<Redrive>,
    /// FIFO: deduplicate by a hash of the body instead of an explicit id (default false).
    #[serde(default)]
    pub content_based_deduplication: Option<bool>,
    /// FIFO: whether deduplication ids are unique per queue or per message group
    /// (default queue).
    #[serde(default)]
    pub deduplication_scope: Option<DedupScope>,
    /// A RabbitMQ-like queue: `classic` or `quorum` (absent: an SQS-like queue). Its
    /// consumers get messages pushed, up to their `prefetch`, and acknowledge them.
    #[serde(default, rename = "type")]
    pub queue_type: Option<RabbitQueueType>,
    /// RabbitMQ queues: `x-message-ttl`, how long a message may wait (a message that
    /// reaches the head later expires, to the dead-letter exchange).
    #[serde(default)]
    pub message_ttl: Option<Dur>,
    /// RabbitMQ queues: `x-max-length`, ready messages at most.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// RabbitMQ queues: what a full queue does, `drop-head` (default), `reject-publish`
    /// or `reject-publish-dlx` (classic queues only).
    #[serde(default)]
    pub overflow: Option<OverflowDef>,
    /// RabbitMQ queues: `x-dead-letter-exchange`, where rejected, expired and dropped
    /// messages are published.
    #[serde(default)]
    pub dead_letter_exchange: Option<String>,
    /// RabbitMQ queues: `x-dead-letter-routing-key` (default: the message's own).
    #[serde(default)]
    pub dead_letter_routing_key: Option<String>,
    /// Quorum queues: `x-delivery-limit`, failed deliveries before a message is
    /// dead-lettered (default 20, as RabbitMQ 4; -1: unlimited).
    #[serde(default)]
    pub delivery_limit: Option<i64>,
}

/// A RabbitMQ queue type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RabbitQueueType {
    /// Requeued messages go back to their position; no delivery limit.
    Classic,
    /// Replicated; requeued messages are served first; a delivery limit.
    Quorum,
}

/// `x-overflow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowDef {
    /// Drop (dead-letter) the oldest ready messages.
    DropHead,
    /// Refuse the new message.
    RejectPublish,
    /// Refuse it and dead-letter it.
    RejectPublishDlx,
}

/// What a RabbitMQ consumer sends after the last failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NegativeAckDef {
    /// `basic.reject`, requeue false: to the dead-letter exchange, or discarded.
    Reject,
    /// `basic.reject`, requeue true: back in the queue, a failed delivery.
    RejectRequeue,
    /// `basic.nack`, requeue true: back in the queue, not counted as failed.
    NackRequeue,
}

/// `[[pubsub]]`: an SNS-like topic.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pubsub {
    /// Unique component name.
    pub name: String,
    /// A FIFO topic: message group order to FIFO queues, deduplication within 5
    /// minutes (default false).
    #[serde(default)]
    pub fifo: Option<bool>,
    /// Subscriptions: each a queue or a function, with an optional filter policy.
    #[serde(default)]
    pub subscription: Vec<Subscription>,
}

/// `[[exchange]]`: a RabbitMQ-like exchange. It stores nothing: a publish is routed
/// at once to every queue one of its bindings leads to (through other exchanges too),
/// one copy per queue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// Unique component name.
    pub name: String,
    /// `direct` (the routing key equals the binding key), `fanout` (every binding),
    /// `topic` (binding keys are patterns: `*` one word, `#` zero or more, words split
    /// on `.`) or `headers` (the binding's `arguments` against the message's headers).
    pub kind: ExchangeKindDef,
    /// Where a message goes when this exchange's bindings take none (RabbitMQ's
    /// `alternate-exchange`): another exchange.
    #[serde(default)]
    pub alternate_exchange: Option<String>,
    /// Bindings, each to a queue or to another exchange.
    #[serde(default)]
    pub binding: Vec<BindingDef>,
}

/// `[[bus]]`: an EventBridge-like event bus. It stores nothing but its archive: an
/// event goes at once to the targets of every rule whose pattern matches it; a delivery
/// that fails is retried with backoff until the rule's retry policy gives up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Unique component name.
    pub name: String,
    /// Keep the bus's events (or those matching `pattern`) for `[[action]] kind =
    /// "replay"`.
    #[serde(default)]
    pub archive: Option<Archive>,
    /// Rules, each with an event pattern and up to 5 targets.
    #[serde(default)]
    pub rule: Vec<Rule>,
}

/// A bus's archive.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Archive only the events this event pattern matches (default: every event).
    #[serde(default)]
    pub pattern: Option<serde_json::Value>,
    /// How long an event is kept (default: indefinitely).
    #[serde(default)]
    pub retention: Option<Dur>,
}

/// One rule of an event bus.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Rule name, unique on its bus.
    pub name: String,
    /// An EventBridge event pattern, as a TOML table or a JSON string. The event's
    /// fields are `source`, `detail-type` and `detail` (the producer's payload).
    pub event_pattern: serde_json::Value,
    /// Where a matching event goes: 1 to 5 targets, each `{ queue = "..." }`,
    /// `{ pubsub = "..." }`, `{ function = "..." }` or `{ bus = "..." }`.
    pub targets: Vec<RuleTarget>,
    /// Retry policy: retries of a failed delivery, 0 to 185 (default 185).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Retry policy: the age of an event past which it is no longer retried, 60 s to
    /// 24 h (default "24h").
    #[serde(default)]
    pub max_age: Option<Dur>,
    /// The SQS-like queue that takes what the retries could not deliver (default:
    /// none, such events are lost).
    #[serde(default)]
    pub dead_letter: Option<String>,
}

/// One target of a rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTarget {
    /// An SQS-like queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// An SNS-like pubsub.
    #[serde(default)]
    pub pubsub: Option<String>,
    /// A function (a consumer with `kind = "function"` whose source is this bus).
    #[serde(default)]
    pub function: Option<String>,
    /// Another event bus.
    #[serde(default)]
    pub bus: Option<String>,
}

/// The type of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeKindDef {
    /// Exact routing key.
    Direct,
    /// Every binding.
    Fanout,
    /// Routing-key patterns.
    Topic,
    /// Header arguments.
    Headers,
}

impl ExchangeKindDef {
    /// As written in the file.
    pub fn name(self) -> &'static str {
        match self {
            ExchangeKindDef::Direct => "direct",
            ExchangeKindDef::Fanout => "fanout",
            ExchangeKindDef::Topic => "topic",
            ExchangeKindDef::Headers => "headers",
        }
    }
}

/// One binding of an exchange.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingDef {
    /// The queue it leads to.
    #[serde(default)]
    pub queue: Option<String>,
    /// Or the exchange it leads to (an exchange-to-exchange binding).
    #[serde(default)]
    pub exchange: Option<String>,
    /// Direct and topic exchanges: the binding key (default "", which matches only the
    /// empty routing key).
    #[serde(default)]
    pub key: Option<String>,
    /// Headers exchanges: `x-match` (`all`, the default, `any`, `all-with-x` or
    /// `any-with-x`) and the header values to compare (strings, integers, floats,
    /// booleans; `{ present = true }` asks only that the header be there).
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
}

/// One subscription of a pub/sub topic.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// A queue endpoint (durable: messages wait there).
    #[serde(default)]
    pub queue: Option<String>,
    /// A function endpoint (a consumer with `kind = "function"`), invoked per message.
    #[serde(default)]
    pub function: Option<String>,
    /// An SNS filter policy, as a TOML table or a JSON string.
    #[serde(default)]
    pub filter_policy: Option<serde_json::Value>,
    /// What the policy reads: `message_attributes` (default) or `message_body`.
    #[serde(default)]
    pub filter_policy_scope: Option<FilterScope>,
}

/// What a filter policy reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterScope {
    /// The message attributes.
    MessageAttributes,
    /// The JSON message body.
    MessageBody,
}

/// A queue's redrive policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redrive {
    /// The dead-letter queue (of the same kind: standard or FIFO).
    pub queue: String,
    /// Receives before the move (1 to 1000): the message is received this many times
    /// and moved on the next receive.
    pub max_receive_count: u32,
}

/// Where FIFO deduplication ids are unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupScope {
    /// One id space for the whole queue.
    Queue,
    /// One id space per message group.
    MessageGroup,
}

/// `[[consumer]]`: a service, i.e. one consumer group of `instances` instances.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// Unique component name; instances are `name#1` .. `name#N`.
    pub name: String,
    /// `service` (default: long-running instances) or `function` (Lambda-style: one
    /// invocation per message from a pub/sub subscription, per batch from a queue).
    #[serde(default)]
    pub kind: Option<ConsumerKind>,
    /// The topic or queue it consumes; a function subscribed to a pub/sub topic names
    /// the topic.
    pub source: String,
    /// Consumer group id (default: the consumer's name).
    #[serde(default)]
    pub group: Option<String>,
    /// Number of instances (default 1).
    #[serde(default)]
    pub instances: Option<u32>,
    /// Records processed in parallel inside one instance (default 1).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// With concurrency above 1: what may run in parallel (default partition).
    #[serde(default)]
    pub ordering: Option<Ordering>,
    /// Processing time of one record.
    pub processing: ServiceDist,
    /// Probability that an attempt fails and is retried (default 0).
    #[serde(default)]
    pub failure_rate: Option<f64>,
    /// Probability that a message always fails in this group (default 0).
    #[serde(default)]
    pub poison_rate: Option<f64>,
    /// An idempotent consumer: a dedup store remembers every message it processed, by
    /// correlation id and event, and a second delivery of one is acknowledged without
    /// its effect (no follow-up events), counted as `duplicates_suppressed` (default
    /// false).
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// How long the dedup store remembers a processed message (default: for the whole
    /// run); a redelivery after that is processed again, a duplicate.
    #[serde(default)]
    pub dedup_window: Option<Dur>,
    /// Non-blocking retries (Kafka's retry-topic pattern): a message whose attempts
    /// failed goes to a retry topic per delay, `<source>-retry-N`, read by a copy of
    /// this consumer, `<name>-retry-N`, that starts it no earlier than the delay after
    /// it arrived; after the last, to `dead_letter`. The source partition goes on
    /// meanwhile. A topic source only.
    #[serde(default)]
    pub retry_topics: Option<Vec<Dur>>,
    /// A circuit breaker in front of what its processing calls, one per instance.
    #[serde(default)]
    pub breaker: Option<Breaker>,
    /// When offsets are committed (default after).
    #[serde(default)]
    pub commit: Option<CommitMode>,
    /// Auto-commit period, Kafka's `auto.commit.interval.ms` (default "5s").
    #[serde(default)]
    pub commit_interval: Option<Dur>,
    /// Partition assignment strategy (default range, as Kafka's).
    #[serde(default)]
    pub assignor: Option<AssignorKind>,
    /// How long until the coordinator notices a crashed instance (default "45s").
    #[serde(default)]
    pub session_timeout: Option<Dur>,
    /// How long a rebalance pauses the partitions it moves (default "1s").
    #[serde(default)]
    pub rebalance_time: Option<Dur>,
    /// Retries of failed records; absent means one attempt.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Topic or queue that receives records whose last attempt failed.
    #[serde(default)]
    pub dead_letter: Option<String>,
    /// Queue sources: messages asked for in one receive (`MaxNumberOfMessages`, 1 to
    /// 10, default 1). They wait in the instance for a free slot, their visibility
    /// timeout running.
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// Queue sources: `WaitTimeSeconds` of each receive, overriding the queue's
    /// `wait_time` (0 is short polling, at most "20s").
    #[serde(default)]
    pub wait_time: Option<Dur>,
    /// Queue sources: after a short poll that found nothing, how long an instance waits
    /// before it asks again (default "1s").
    #[serde(default)]
    pub poll_interval: Option<Dur>,
    /// Queue sources: while a message is processed, extend its visibility every
    /// `every` to `timeout` from the call (`ChangeMessageVisibility`).
    #[serde(default)]
    pub visibility_heartbeat: Option<Heartbeat>,
    /// Follow-up events published after each successful processing.
    #[serde(default)]
    pub emits: Vec<Emit>,
    /// Functions: concurrent invocations at most (default 1000, the account's default
    /// limit; 2 to 1000 for a queue's event source mapping).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Functions invoked from a pub/sub topic: retries after an error (0 to 2, default
    /// 2), one minute and then two minutes apart.
    #[serde(default)]
    pub maximum_retry_attempts: Option<u32>,
    /// Functions invoked from a pub/sub topic: events older than this are dropped
    /// (default "6h", from "60s" to "6h").
    #[serde(default)]
    pub maximum_event_age: Option<Dur>,
    /// Functions invoked from a pub/sub topic: where an event goes after its last
    /// failed attempt (a queue, topic or pub/sub topic); without one it is lost.
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Functions invoked from a queue: how long the poller gathers records before it
    /// invokes with fewer than `batch_size` (default 0, at most "300s").
    #[serde(default)]
    pub batching_window: Option<Dur>,
    /// Functions invoked from a queue: the function reports which records failed, so a
    /// failure returns only them (default false: the whole batch returns).
    #[serde(default)]
    pub partial_batch_response: Option<bool>,
    /// RabbitMQ queues: `basic.qos` prefetch count, unacknowledged messages per
    /// instance at most (default 0: unlimited, as RabbitMQ's).
    #[serde(default)]
    pub prefetch: Option<u32>,
    /// RabbitMQ queues: what the consumer sends when the last attempt failed and it has
    /// no `dead_letter`: `reject` (default), `reject-requeue` or `nack-requeue`.
    #[serde(default)]
    pub negative_ack: Option<NegativeAckDef>,
}

/// What kind of consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerKind {
    /// Long-running instances.
    Service,
    /// A Lambda-style function.
    Function,
}

/// A visibility heartbeat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Period of the calls, from the start of processing.
    pub every: Dur,
    /// The visibility timeout each call sets, counted from the call.
    pub timeout: Dur,
}

/// What may run in parallel inside an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// One record at a time per partition.
    Partition,
    /// Parallel across keys, in order per key.
    Key,
    /// Any record at any time.
    Unordered,
}

/// When a consumer commits its offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommitMode {
    /// Before processing: at-most-once; a crash loses what was in flight.
    Before,
    /// After processing: at-least-once; a crash redelivers from the last commit.
    After,
    /// Every `commit_interval`: a crash reprocesses what came since the last commit.
    Auto,
}

/// Kafka's partition assignors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum AssignorKind {
    /// `RangeAssignor`.
    #[serde(rename = "range")]
    Range,
    /// `RoundRobinAssignor`.
    #[serde(rename = "roundrobin")]
    RoundRobin,
    /// `CooperativeStickyAssignor`, with the cooperative rebalance protocol.
    #[serde(rename = "cooperative-sticky")]
    CooperativeSticky,
}

/// A latency fault's delay: a constant duration, or a distribution.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Delay {
    /// Always this long.
    Fixed(Dur),
    /// Drawn from a distribution.
    Dist(ServiceDist),
}

/// A processing-time distribution.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceDist {
    /// Always `value`.
    Constant {
        /// The processing time.
        value: Dur,
    },
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest.
        min: Dur,
        /// Longest.
        max: Dur,
    },
    /// Exponential with the given mean (the M in M/M/c).
    Exponential {
        /// Mean processing time.
        mean: Dur,
    },
    /// Lognormal fitted to a median and a 99th percentile.
    Lognormal {
        /// Median processing time.
        median: Dur,
        /// 99th percentile; must exceed the median.
        p99: Dur,
    },
    /// Pareto with minimum `scale` and tail index `shape` (heavy tail below 2).
    Pareto {
        /// The minimum processing time.
        scale: Dur,
        /// Tail index alpha.
        shape: f64,
    },
}

/// Retry policy of a consumer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (default 3).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// `exponential` (default), `constant`, or `none` (retry at once).
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// Delay before the first retry (default "100ms").
    #[serde(default)]
    pub initial: Option<Dur>,
    /// Longest delay (default "10s").
    #[serde(default)]
    pub max: Option<Dur>,
    /// Growth per retry for exponential backoff (default 2).
    #[serde(default)]
    pub multiplier: Option<f64>,
    /// Full jitter: the delay is drawn uniformly from 0 to the computed delay (default true).
    #[serde(default)]
    pub jitter: Option<bool>,
}

/// A circuit breaker: it opens after `failures` consecutive failed attempts, or when
/// at least `failure_ratio` of the attempts that ended within `window` failed (with at
/// least `min_calls` of them); stays open for `cooldown`; then lets `probes` attempts
/// through (half-open) and closes if they succeed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    /// Consecutive failures that open it (Polly's consecutive-count breaker).
    #[serde(default)]
    pub failures: Option<u32>,
    /// Share of failed attempts within `window` that opens it (resilience4j's
    /// `failureRateThreshold`, 0 to 1).
    #[serde(default)]
    pub failure_ratio: Option<f64>,
    /// The sliding window of `failure_ratio` (default "60s").
    #[serde(default)]
    pub window: Option<Dur>,
    /// Attempts the window needs before its ratio counts (default 100, as resilience4j's
    /// `minimumNumberOfCalls`).
    #[serde(default)]
    pub min_calls: Option<u32>,
    /// How long it stays open (default "60s", resilience4j's
    /// `waitDurationInOpenState`).
    #[serde(default)]
    pub cooldown: Option<Dur>,
    /// Attempts let through half-open (default 10, resilience4j's
    /// `permittedNumberOfCallsInHalfOpenState`).
    #[serde(default)]
    pub probes: Option<u32>,
    /// While open: `wait` (default: no attempt starts, messages wait at the broker, a
    /// Kafka consumer's partitions pause) or `fail` (every attempt fails at once,
    /// without calling: retries and the dead letter take it from there).
    #[serde(default)]
    pub when_open: Option<WhenOpen>,
}

/// What a service does with work while its breaker is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenOpen {
    /// Start nothing until it half-opens.
    Wait,
    /// Fail every attempt at once.
    Fail,
}

/// How the retry delay grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// initial × multiplier^(retry − 1), capped at `max`.
    Exponential,
    /// Always `initial`.
    Constant,
    /// None: a failed attempt is retried at once (`initial`, `max`, `multiplier` and
    /// `jitter` are ignored). Allowed, and the way to watch a retry storm.
    None,
}

/// A follow-up event published after successful processing, with the same key and
/// correlation id.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    /// Event name.
    pub event: String,
    /// Topic or queue it is published to.
    pub target: String,
}

/// `[[fault]]`: a failure injected at a given time.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// What fails.
    pub kind: FaultKind,
    /// What it hits: `consumer#N` for one instance (1-based) or `consumer` for every
    /// instance (crash, errors, slowdown, latency); a topic, queue or pubsub
    /// (broker_outage); a topic with `partition` (partition_outage); a producer
    /// (poison); one end of a link with `peer` (network_partition, latency).
    pub target: String,
    /// The other end of a link: a broker and a producer or consumer that writes or
    /// reads it. Traffic from `target` to `peer` is hit (and back, for a
    /// network_partition without `one_way`).
    #[serde(default)]
    pub peer: Option<String>,
    /// network_partition: cut only the messages going from `target` to `peer`
    /// (default false: both ways).
    #[serde(default)]
    pub one_way: Option<bool>,
    /// partition_outage: the partition (0-based) whose leader is gone.
    #[serde(default)]
    pub partition: Option<u32>,
    /// poison: the share of messages the producer sends during the fault that fail
    /// every processing attempt, wherever they go (0 to 1).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// When it starts; with `mtbf`, when it may first start (default 0).
    #[serde(default)]
    pub at: Option<Dur>,
    /// Random faults: mean time between failures. The fault starts after an
    /// exponential time with this mean, lasts an exponential time with mean `mttr`,
    /// and starts again, until the end of the run, drawn from the fault's own stream.
    #[serde(default)]
    pub mtbf: Option<Dur>,
    /// Random faults: mean time to repair.
    #[serde(default)]
    pub mttr: Option<Dur>,
    /// How long until restart, or until the fault ends (default: never).
    #[serde(default)]
    pub duration: Option<Dur>,
    /// `slowdown`: every processing time is multiplied by this (2 = twice as slow).
    #[serde(default)]
    pub factor: Option<f64>,
    /// `latency`: delay added to every processing time (or to each message on a link):
    /// a duration (`"200ms"`), or a distribution as for `processing`, drawn from the
    /// target's own stream.
    #[serde(default)]
    pub delay: Option<Delay>,
}

/// Kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The instance stops at once, losing in-flight work, and restarts after `duration`.
    Crash,
    /// Every attempt that ends during the fault fails (a dependency is down, a bad
    /// deploy); the instances keep running.
    Errors,
    /// Every attempt started during the fault takes `delay` longer (a slow dependency,
    /// a congested network).
    Latency,
    /// Every attempt started during the fault takes `factor` times as long (a noisy
    /// neighbour, CPU throttling, a garbage-collection storm).
    Slowdown,
    /// A topic, queue or pubsub refuses every publish and delivery: publishers hold
    /// their messages and retry, consumers get nothing, queue deletes fail.
    BrokerOutage,
    /// One partition of a topic loses its leader: writes to it are held by their
    /// producers, its consumers cannot fetch it.
    PartitionOutage,
    /// The network between `target` and `peer` drops everything (one way or both).
    NetworkPartition,
    /// A share (`fraction`) of what a producer sends meanwhile always fails.
    Poison,
}

impl FaultKind {
    /// As a scenario spells it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Errors => "errors",
            FaultKind::Latency => "latency",
            FaultKind::Slowdown => "slowdown",
            FaultKind::BrokerOutage => "broker_outage",
            FaultKind::PartitionOutage => "partition_outage",
            FaultKind::NetworkPartition => "network_partition",
            FaultKind::Poison => "poison",
        }
    }
}

/// The JSON Schema of the scenario format, draft-07 so that editors' TOML language
/// servers (Taplo, "Even Better TOML") can complete and check scenario files.
pub fn json_schema() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ScenarioFile>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
