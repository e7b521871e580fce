//! The validated model: what the engine runs. Every reference is resolved to a dense
//! index, every duration is integer nanoseconds, every default is filled in. Building
//! one is the job of [`crate::scenario`]; once built, a model cannot be wrong.

use crate::time::SimDuration;

pub use crate::scenario::format::{
    Acks, AssignorKind, Backoff, CommitMode, DedupScope, FaultKind, Ordering, PartitionerKind,
    RateDist,
};

/// Index of a producer in [`Model::producers`].
pub type ProducerIdx = usize;
/// Index of a topic in [`Model::topics`].
pub type TopicIdx = usize;
/// Index of a queue in [`Model::queues`].
pub type QueueIdx = usize;
/// Index of a pub/sub topic in [`Model::pubsubs`].
pub type PubsubIdx = usize;
/// Index of an exchange in [`Model::exchanges`] (and in [`Model::router`]).
pub type ExchangeIdx = usize;
/// Index of an event bus in [`Model::buses`].
pub type BusIdx = usize;
/// Index of a service in [`Model::services`].
pub type ServiceIdx = usize;
/// Index of an event name in [`Model::events`].
pub type EventIdx = u16;
/// A key, as an index into the global key table; [`NO_KEY`] for unkeyed records.
pub type KeyId = u32;
/// The key of an unkeyed record (Kafka's null key, distinct from the empty key).
pub const NO_KEY: KeyId = u32::MAX;

/// A broker component messages are written to or read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// A Kafka-like topic.
    Topic(TopicIdx),
    /// An SQS-like queue.
    Queue(QueueIdx),
    /// An SNS-like pub/sub topic.
    Pubsub(PubsubIdx),
    /// A RabbitMQ-like exchange: it routes, and stores nothing.
    Exchange(ExchangeIdx),
    /// An EventBridge-like event bus: its rules route, and only its archive stores.
    Bus(BusIdx),
}

impl Channel {
    /// The topic, if this is one.
    pub fn topic(self) -> Option<TopicIdx> {
        match self {
            Channel::Topic(t) => Some(t),
            _ => None,
        }
    }

    /// The queue, if this is one.
    pub fn queue(self) -> Option<QueueIdx> {
        match self {
            Channel::Queue(q) => Some(q),
            _ => None,
        }
    }

    /// The pub/sub topic, if this is one.
    pub fn pubsub(self) -> Option<PubsubIdx> {
        match self {
            Channel::Pubsub(p) => Some(p),
            _ => None,
        }
    }

    /// The exchange, if this is one.
    pub fn exchange(self) -> Option<ExchangeIdx> {
        match self {
            Channel::Exchange(x) => Some(x),
            _ => None,
        }
    }

    /// The event bus, if this is one.
    pub fn bus(self) -> Option<BusIdx> {
        match self {
            Channel::Bus(b) => Some(b),
            _ => None,
        }
    }

    /// "topic", "queue", "pubsub", "exchange" or "bus".
    pub fn kind(self) -> &'static str {
        match self {
            Channel::Topic(_) => "topic",
            Channel::Queue(_) => "queue",
            Channel::Pubsub(_) => "pubsub",
            Channel::Exchange(_) => "exchange",
            Channel::Bus(_) => "bus",
        }
    }

    /// Its component name.
    pub fn name(self, model: &Model) -> &str {
        match self {
            Channel::Topic(t) => &model.topics[t].name,
            Channel::Queue(q) => &model.queues[q].name,
            Channel::Pubsub(p) => &model.pubsubs[p].name,
            Channel::Exchange(x) => &model.exchanges[x].name,
            Channel::Bus(b) => &model.buses[b].name,
        }
    }
}

/// A whole scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Model {
    /// Scenario name.
    pub name: String,
    /// What it teaches.
    pub description: Option<String>,
    /// Root seed of every random stream.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Metrics sampling period.
    pub metrics_interval: SimDuration,
    /// Sources.
    pub producers: Vec<ProducerModel>,
    /// Partitioned logs.
    pub topics: Vec<TopicModel>,
    /// SQS-like queues.
    pub queues: Vec<QueueModel>,
    /// SNS-like pub/sub topics.
    pub pubsubs: Vec<PubsubModel>,
    /// RabbitMQ-like exchanges: names and kinds (their bindings live in `router`).
    pub exchanges: Vec<ExchangeModel>,
    /// Every exchange's bindings, by exchange index, and how a message is routed.
    pub router: Router,
    /// EventBridge-like event buses.
    pub buses: Vec<BusModel>,
    /// Services (one per `[[consumer]]`).
    pub services: Vec<ServiceModel>,
    /// Scheduled failures.
    pub faults: Vec<FaultModel>,
    /// Scheduled operations.
    pub actions: Vec<ActionModel>,
    /// Every key of every producer.
    pub keys: KeyTable,
    /// Event names.
    pub events: Vec<String>,
    /// Sagas.
    pub sagas: Vec<SagaModel>,
    /// Consumers compared side by side (`[scenario] compare`), in the order given.
    pub compare: Vec<ServiceIdx>,
    /// Per service, what each saga event means when it processes one (empty for a
    /// service in no saga).
    pub saga_roles: Vec<ServiceSagaRoles>,
}

/// A saga, resolved.
#[derive(Clone, Debug)]
pub struct SagaModel {
    /// Component name.
    pub name: String,
    /// The coordinator of an orchestrated saga; `None`: choreographed.
    pub coordinator: Option<ServiceIdx>,
    /// The steps, in order.
    pub steps: Vec<SagaStepModel>,
}

/// The brokers service `g` may write a saga's messages to: the source of every member
/// of each saga it takes part in (a coordinator writes its steps' sources, a step its
/// coordinator's or, choreographed, its neighbours'). Link faults and the writers'
/// partitioners know these writes.
pub fn saga_writes(sagas: &[SagaModel], services: &[ServiceModel], g: ServiceIdx) -> Vec<Channel> {
    let mut out = Vec::new();
    for saga in sagas {
        let mut members = saga
            .coordinator
            .into_iter()
            .chain(saga.steps.iter().map(|s| s.service));
        if members.any(|m| m == g) {
            out.extend(
                saga.coordinator
                    .into_iter()
                    .chain(saga.steps.iter().map(|s| s.service))
                    .map(|m| services[m].source),
            );
        }
    }
    out
}

/// A saga step, resolved.
#[derive(Clone, Debug)]
pub struct SagaStepModel {
    /// Step name.
    pub name: String,
    /// The service that runs it.
    pub service: ServiceIdx,
    /// Orchestrated: the command; choreographed: the event it reacts to (for the first
    /// step, the first event of a saga).
    pub command: EventIdx,
    /// Its success.
    pub done: EventIdx,
    /// Its failure.
    pub failed: EventIdx,
    /// Its compensation, if it has one.
    pub compensation: Option<EventIdx>,
    /// Its compensation's success.
    pub compensated: EventIdx,
    /// Orchestrated: its compensation failed for good at its service.
    pub comp_failed: EventIdx,
    /// Share of sagas it declines.
    pub reject: f64,
    /// Orchestrated: how long the coordinator waits for a reply, ns.
    pub timeout: u64,
    /// Orchestrated: re-sends of the command after a timeout.
    pub retry: RetryModel,
    /// Orchestrated: re-sends of the compensation.
    pub compensation_retry: RetryModel,
}

/// What a saga message means to the service that processes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaRole {
    /// Starts a saga: the coordinator sends the first command; in a choreography the
    /// first step's service runs the first step.
    Start,
    /// Run a step's local transaction, and say how it went.
    Execute(u16),
    /// The coordinator hears how a step went.
    Reply(u16, bool),
    /// Undo a step.
    Compensate(u16),
    /// The coordinator hears how a compensation went.
    CompReply(u16, bool),
}

/// A service's part in the sagas.
#[derive(Clone, Debug, Default)]
pub struct ServiceSagaRoles {
    /// (event, saga, role), for the events it processes as a saga message.
    pub roles: Vec<(EventIdx, u16, SagaRole)>,
    /// The saga whose other messages start one here (a coordinator, or the first
    /// step of a choreography).
    pub starts: Option<u16>,
}

impl ServiceSagaRoles {
    /// What `event` means here: (saga, role).
    #[inline]
    pub fn role(&self, event: EventIdx) -> Option<(u16, SagaRole)> {
        for &(e, s, r) in &self.roles {
            if e == event {
                return Some((s, r));
            }
        }
        self.starts.map(|s| (s, SagaRole::Start))
    }
}

/// All keys, numbered densely; each producer owns one contiguous range.
#[derive(Clone, Debug, Default)]
pub struct KeyTable {
    /// One entry per key space.
    pub spaces: Vec<KeySpace>,
    /// `to_positive(murmur2(key bytes))` of every key, so that the partition of a key
    /// in any topic is one modulo away, with no string in the hot path.
    pub hashes: Vec<u32>,
}

/// The keys of one producer.
#[derive(Clone, Debug)]
pub struct KeySpace {
    /// Global id of its first key.
    pub base: KeyId,
    /// Number of keys.
    pub count: u32,
    /// How to spell them.
    pub names: KeyNames,
}

/// How a key space spells its keys.
#[derive(Clone, Debug)]
pub enum KeyNames {
    /// `format` with `{}` replaced by 1..=count.
    Format(String),
    /// An explicit list.
    List(Vec<String>),
}

impl KeyTable {
    /// Total number of keys.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The key's text (for traces, explanations and the TUI; never on the hot path).
    pub fn name(&self, key: KeyId) -> Option<String> {
        if key == NO_KEY {
            return None;
        }
        let space = self
            .spaces
            .iter()
            .rev()
            .find(|s| s.base <= key && key - s.base < s.count)?;
        let idx = (key - space.base) as usize;
        Some(match &space.names {
            KeyNames::Format(f) => key_from_format(f, idx as u64 + 1),
            KeyNames::List(l) => l.get(idx)?.clone(),
        })
    }
}

impl KeyTable {
    /// The id of the key spelled `text`, if some producer has it (the TUI's filter and
    /// run-until prompt; never on the hot path).
    pub fn find(&self, text: &str) -> Option<KeyId> {
        self.spaces.iter().rev().find_map(|s| {
            let idx = match &s.names {
                KeyNames::List(l) => l.iter().position(|k| k == text)? as u64,
                KeyNames::Format(f) => {
                    let (pre, post) = f.split_once("{}")?;
                    let mid = text.strip_prefix(pre)?.strip_suffix(post)?;
                    let n: u64 = mid.parse().ok()?;
                    if n == 0 || n > u64::from(s.count) || key_from_format(f, n) != text {
                        return None;
                    }
                    n - 1
                }
            };
            (idx < u64::from(s.count)).then(|| s.base + idx as KeyId)
        })
    }
}

/// `format` with every `{}` replaced by `n`.
pub fn key_from_format(format: &str, n: u64) -> String {
    format.replace("{}", &n.to_string())
}

/// A producer after validation.
#[derive(Clone, Debug)]
pub struct ProducerModel {
    /// Component name.
    pub name: String,
    /// Topic or queue written to.
    pub target: Channel,
    /// Gap distribution.
    pub dist: RateDist,
    /// Rate from t = 0.
    pub base_rate: f64,
    /// Rate changes, sorted by time.
    pub phases: Vec<PhaseModel>,
    /// Keys, or `None` for unkeyed records.
    pub keys: Option<KeyDraw>,
    /// Event name of its messages.
    pub event: EventIdx,
    /// Kafka `acks`.
    pub acks: Acks,
    /// Kafka `enable.idempotence`.
    pub idempotent: bool,
    /// Kafka `retries`.
    pub retries: u32,
    /// Probability that an ack is lost after the write.
    pub ack_loss_rate: f64,
    /// Wait before a send whose ack was lost is retried.
    pub request_timeout: SimDuration,
    /// Queue targets: per-message delay, ns.
    pub delay: u64,
    /// Queue targets: probability of a second send with the same deduplication id.
    pub duplicate_rate: f64,
    /// Message attributes, generated per message.
    pub attributes: Vec<(String, AttrGen)>,
    /// Exchange targets: the routing key of each message.
    pub routing_key: RoutingKeyGen,
    /// Exchange targets: message headers, generated per message.
    pub headers: Vec<(String, AttrGen)>,
    /// Body fields by dotted path: generated per message, or lines of sample events.
    pub payload: Payload,
    /// How it holds messages its target refuses.
    pub outbox: OutboxModel,
    /// Publisher confirms, to an exchange or a RabbitMQ-like queue: a publish the
    /// broker refuses (an outage, a cut link) is held and sent again, and a publish a
    /// full queue rejects is known (`nacked`). Without them both are lost
    /// (`lost_unconfirmed`). Other targets always confirm.
    pub confirms: bool,
    /// Publishing to an event bus: the events' `source` (default: the producer's name).
    pub source: String,
    /// Publishing to an event bus: the events' `detail-type` (default: the event name).
    pub detail_type: String,
}

/// A circuit breaker, resolved (see [`crate::scenario::format::Breaker`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerModel {
    /// Consecutive failures that open it, or none.
    pub failures: Option<u32>,
    /// Failure share within `window` that opens it, or none.
    pub failure_ratio: Option<f64>,
    /// The ratio's sliding window, ns.
    pub window: u64,
    /// Attempts the window needs before its ratio counts.
    pub min_calls: u32,
    /// Time open, ns.
    pub cooldown: u64,
    /// Attempts let through half-open.
    pub probes: u32,
    /// Fail fast while open (else wait).
    pub fail_fast: bool,
}

/// How a publisher holds the messages its target refuses (an outage, a network
/// partition) and retries them, as Kafka's producer does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutboxModel {
    /// Messages held at most; a send beyond is dropped (`buffer.memory`).
    pub buffer: u32,
    /// A held message not sent by then is dropped (`delivery.timeout.ms`), ns.
    pub delivery_timeout: u64,
    /// First retry after this, ns (`retry.backoff.ms`).
    pub retry_backoff: u64,
    /// Retries back off exponentially up to this, ns (`retry.backoff.max.ms`).
    pub retry_backoff_max: u64,
}

impl Default for OutboxModel {
    /// Kafka's producer defaults: 32 MiB of 1 KiB records, 120 s, 100 ms, 1 s.
    fn default() -> OutboxModel {
        OutboxModel {
            buffer: 32_768,
            delivery_timeout: 120_000_000_000,
            retry_backoff: 100_000_000,
            retry_backoff_max: 1_000_000_000,
        }
    }
}

/// An attribute or body value as the model keeps it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrOwned {
    /// A string.
    Str(String),
    /// A number.
    Num(f64),
    /// A list of strings and numbers (SNS's `String.Array`).
    Array(Vec<Scalar>),
}

impl AttrOwned {
    /// As a filter policy reads it.
    pub fn as_value(&self) -> AttrValue<'_> {
        match self {
            AttrOwned::Str(s) => AttrValue::Str(s),
            AttrOwned::Num(n) => AttrValue::Num(*n),
            AttrOwned::Array(a) => AttrValue::Array(a),
        }
    }
}

/// How one attribute or body field of a producer's messages is generated from the
/// message's number `n` among the producer's messages (a resend keeps its number, so
/// its values).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrGen {
    /// Always this value.
    Fixed(AttrOwned),
    /// The list in order: value `n mod len`.
    Cycle(Vec<AttrOwned>),
    /// One of the values, with the cumulative probabilities `cum` (last is 1).
    Choose(Vec<AttrOwned>, Vec<f64>),
    /// A number drawn uniformly from [min, max]; `integer`: a whole number.
    Range {
        /// Lowest.
        min: f64,
        /// Highest.
        max: f64,
        /// Whole numbers only.
        integer: bool,
    },
}

/// A producer's message bodies.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Payload {
    /// No body fields.
    #[default]
    None,
    /// Fields generated per message, by dotted path.
    Fields(Vec<(String, AttrGen)>),
    /// Sample events (one JSON object per line of a file), cycled in order; each line
    /// flattened to (dotted path, value), and as written (an event bus's patterns read
    /// the JSON itself: nulls, booleans, arrays of objects).
    Lines(Vec<Vec<(String, AttrOwned)>>, Vec<serde_json::Value>),
}

pub use crate::broker::pubsub::filter::{AttrValue, Policy, Scalar};
pub use crate::broker::rabbit::routing::{ExchangeKind, Router};

/// A RabbitMQ-like exchange after validation.
#[derive(Clone, Debug)]
pub struct ExchangeModel {
    /// Component name.
    pub name: String,
    /// Direct, fanout, topic or headers.
    pub kind: ExchangeKind,
    /// Where a message nothing else takes goes (an index into `exchanges`).
    pub alternate: Option<ExchangeIdx>,
}

/// How a producer that publishes to an exchange sets each message's routing key.
#[derive(Clone, Debug, PartialEq)]
pub enum RoutingKeyGen {
    /// No routing key (the empty one).
    Empty,
    /// Always this one.
    Fixed(String),
    /// The list in order: key `n mod len` for message number `n`.
    Cycle(Vec<String>),
    /// One of the keys, with the cumulative probabilities `cum` (the last is 1).
    Choose(Vec<String>, Vec<f64>),
    /// A format in which `{}` stands for the message's key (its empty string when the
    /// message has none).
    Format(String),
}

/// An EventBridge-like event bus after validation.
#[derive(Clone, Debug)]
pub struct BusModel {
    /// Component name.
    pub name: String,
    /// Rules, in declaration order: each event is matched against every one.
    pub rules: Vec<RuleModel>,
    /// The archive, if the bus keeps its events for replays.
    pub archive: Option<ArchiveModel>,
}

/// One rule of an event bus.
#[derive(Clone, Debug)]
pub struct RuleModel {
    /// Rule name, unique on its bus.
    pub name: String,
    /// The event pattern (every rule has one).
    pub pattern: Policy,
    /// Where a matching event goes: 1 to 5 targets.
    pub targets: Vec<BusTarget>,
    /// Retry policy: `MaximumRetryAttempts` (0 to 185).
    pub max_attempts: u32,
    /// Retry policy: `MaximumEventAgeInSeconds` (60 s to 24 h), ns.
    pub max_age: u64,
    /// The dead-letter queue of what could not be delivered (an SQS-like queue).
    pub dead_letter: Option<QueueIdx>,
}

/// A target of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusTarget {
    /// An SQS-like queue.
    Queue(QueueIdx),
    /// An SNS-like pubsub.
    Pubsub(PubsubIdx),
    /// A function (its source is the bus), invoked asynchronously.
    Function(ServiceIdx),
    /// Another event bus.
    Bus(BusIdx),
}

impl BusTarget {
    /// The broker it is, or `None` for a function.
    pub fn channel(self) -> Option<Channel> {
        match self {
            BusTarget::Queue(q) => Some(Channel::Queue(q)),
            BusTarget::Pubsub(p) => Some(Channel::Pubsub(p)),
            BusTarget::Bus(b) => Some(Channel::Bus(b)),
            BusTarget::Function(_) => None,
        }
    }
}

/// A bus's archive.
#[derive(Clone, Debug)]
pub struct ArchiveModel {
    /// Only events that match this pattern are archived (none: every event).
    pub pattern: Option<Policy>,
    /// How long an event is kept, ns (0: indefinitely).
    pub retention: u64,
}

/// An SNS-like topic after validation.
#[derive(Clone, Debug)]
pub struct PubsubModel {
    /// Component name.
    pub name: String,
    /// FIFO: group order to FIFO queues, deduplication within five minutes.
    pub fifo: bool,
    /// Subscriptions, in declaration order.
    pub subscriptions: Vec<SubscriptionModel>,
}

/// One subscription of a pub/sub topic.
#[derive(Clone, Debug)]
pub struct SubscriptionModel {
    /// Where matching messages go.
    pub target: SubTarget,
    /// The filter policy, if any (no policy: every message).
    pub filter: Option<Policy>,
    /// The policy reads the message body, not its attributes.
    pub body: bool,
}

/// A subscription's endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubTarget {
    /// An SQS-like queue (durable).
    Queue(QueueIdx),
    /// A function, invoked asynchronously per message.
    Function(ServiceIdx),
}

/// What makes a service a function (Lambda-style) rather than a long-running consumer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FunctionModel {
    /// Invoked from a pub/sub topic: events older than this are dropped (to the
    /// on-failure destination), ns.
    pub max_event_age: u64,
    /// Invoked from a queue: one bad message returns only itself (partial batch
    /// response), not its whole batch.
    pub partial_batch: bool,
    /// Invoked from a queue: how long a poller gathers a batch before it invokes, ns.
    pub batching_window: u64,
}

/// A rate change.
#[derive(Clone, Copy, Debug)]
pub struct PhaseModel {
    /// When the change starts, in nanoseconds.
    pub at: u64,
    /// Target rate, messages per second.
    pub per_second: f64,
    /// Length of the linear ramp, in nanoseconds (0: a step).
    pub ramp: u64,
}

/// How a producer draws keys.
#[derive(Clone, Copy, Debug)]
pub struct KeyDraw {
    /// Index into [`KeyTable::spaces`].
    pub space: usize,
    /// Distribution over the space.
    pub dist: KeyDistModel,
}

/// Key distribution.
#[derive(Clone, Copy, Debug)]
pub enum KeyDistModel {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent `s`.
    Zipf(f64),
    /// In turn.
    Sequential,
}

/// A topic after validation.
#[derive(Clone, Debug)]
pub struct TopicModel {
    /// Component name.
    pub name: String,
    /// Partition count.
    pub partitions: u32,
    /// Partitioner.
    pub partitioner: PartitionerKind,
    /// Records per sticky batch.
    pub sticky_batch: u32,
    /// Retention.
    pub retention: SimDuration,
    /// Services that read it, in declaration order.
    pub readers: Vec<ServiceIdx>,
}

/// An SQS-like queue after validation. Times in nanoseconds.
#[derive(Clone, Debug)]
pub struct QueueModel {
    /// Component name.
    pub name: String,
    /// FIFO (strict order per message group, deduplication) or standard.
    pub fifo: bool,
    /// Visibility timeout.
    pub visibility_timeout: u64,
    /// Retention period.
    pub retention: u64,
    /// Delay of every message.
    pub delay: u64,
    /// Long-polling wait of receives (0: short polling).
    pub wait_time: u64,
    /// Redrive policy: dead-letter queue and `maxReceiveCount`.
    pub redrive: Option<(QueueIdx, u32)>,
    /// FIFO: deduplication by body hash.
    pub content_dedup: bool,
    /// FIFO: where deduplication ids are unique.
    pub dedup_scope: DedupScope,
    /// The service that consumes it, if any (a queue has at most one).
    pub reader: Option<ServiceIdx>,
    /// Queues whose redrive policy names this one as their dead-letter queue.
    pub dlq_of: Vec<QueueIdx>,
    /// A RabbitMQ-like queue (`type = "classic" | "quorum"`): its settings. `None`: an
    /// SQS-like queue, whose settings are the fields above.
    pub rabbit: Option<RabbitQueueModel>,
}

/// A RabbitMQ-like queue's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RabbitQueueModel {
    /// Type, TTL, length and delivery limits.
    pub config: crate::broker::rabbit::queue::QueueConfig,
    /// `x-dead-letter-exchange`: where rejected, expired and dropped messages go.
    pub dead_letter_exchange: Option<ExchangeIdx>,
    /// `x-dead-letter-routing-key`: their routing key there (default: their own).
    pub dead_letter_routing_key: Option<String>,
}

/// What a consumer of a RabbitMQ-like queue sends when the last attempt on a message
/// failed (and it has no `dead_letter` of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegativeAck {
    /// `basic.reject` without requeue: to the queue's dead-letter exchange, or
    /// discarded.
    Reject,
    /// `basic.reject` with requeue: back in the queue, a failed delivery (a quorum
    /// queue's delivery limit counts it).
    RejectRequeue,
    /// `basic.nack` with requeue: back in the queue, not counted as a failed delivery.
    NackRequeue,
}

/// How a service consumes a RabbitMQ-like queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RabbitConsumeModel {
    /// `basic.qos` prefetch count: unacknowledged messages per instance at most (0:
    /// unlimited, RabbitMQ's default).
    pub prefetch: u32,
    /// What it sends after the last failed attempt.
    pub negative_ack: NegativeAck,
}

/// The FIFO deduplication window (SQS: five minutes).
pub const DEDUP_WINDOW_NS: u64 = 300_000_000_000;

/// How a service receives from a queue. Times in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct ReceiveModel {
    /// Messages per receive (1-10).
    pub batch_size: u32,
    /// Long-polling wait (0: short polling).
    pub wait_time: u64,
    /// Pause after an empty short poll.
    pub poll_interval: u64,
    /// Visibility heartbeat: (period, timeout set by each call).
    pub heartbeat: Option<(u64, u64)>,
}

/// Processing-time distribution, parameters in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub enum ProcessingModel {
    /// Fixed.
    Constant(u64),
    /// Uniform on [min, max].
    Uniform(u64, u64),
    /// Exponential with this mean.
    Exponential(f64),
    /// Lognormal with these log-space parameters (of seconds).
    Lognormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Pareto with minimum `scale` seconds and tail index `shape`.
    Pareto {
        /// Minimum, seconds.
        scale: f64,
        /// Tail index.
        shape: f64,
    },
}

impl ProcessingModel {
    /// The mean in seconds, where it is finite.
    pub fn mean_secs(&self) -> Option<f64> {
        match *self {
            ProcessingModel::Constant(v) => Some(v as f64 / 1e9),
            ProcessingModel::Uniform(a, b) => Some((a + b) as f64 / 2e9),
            ProcessingModel::Exponential(m) => Some(m / 1e9),
            ProcessingModel::Lognormal { mu, sigma } => Some((mu + sigma * sigma / 2.0).exp()),
            ProcessingModel::Pareto { scale, shape } => {
                (shape > 1.0).then(|| shape * scale / (shape - 1.0))
            }
        }
    }
}

/// Retry policy, resolved.
#[derive(Clone, Copy, Debug)]
pub struct RetryModel {
    /// Attempts in all (1 means no retry).
    pub max_attempts: u32,
    /// Growth of the delay.
    pub backoff: Backoff,
    /// First delay.
    pub initial: SimDuration,
    /// Cap.
    pub max: SimDuration,
    /// Growth factor.
    pub multiplier: f64,
    /// Full jitter.
    pub jitter: bool,
}

/// A service after validation.
#[derive(Clone, Debug)]
pub struct ServiceModel {
    /// Component name (the `[[consumer]]` name).
    pub name: String,
    /// Kafka group id.
    pub group_id: String,
    /// Source topic or queue.
    pub source: Channel,
    /// Instance count.
    pub instances: u32,
    /// Parallel records per instance.
    pub concurrency: u32,
    /// What may run in parallel.
    pub ordering: Ordering,
    /// Processing time.
    pub processing: ProcessingModel,
    /// Transient failure probability per attempt.
    pub failure_rate: f64,
    /// Probability that a message always fails here.
    pub poison_rate: f64,
    /// An idempotent consumer: `Some(window)` (`None` inside: remembered for the whole
    /// run), or not idempotent.
    pub dedup: Option<Option<SimDuration>>,
    /// Its instances' circuit breaker.
    pub breaker: Option<BreakerModel>,
    /// A retry topic's consumer: no record starts before its append time plus this, ns
    /// (0 otherwise).
    pub fetch_delay: u64,
    /// The consumers of its retry topics, in order (empty without them); a fault on
    /// this consumer hits them too (they run in the same instances).
    pub retry_copies: Vec<ServiceIdx>,
    /// Commit mode.
    pub commit: CommitMode,
    /// Auto-commit period.
    pub commit_interval: SimDuration,
    /// Assignor.
    pub assignor: AssignorKind,
    /// Failure detection delay.
    pub session_timeout: SimDuration,
    /// Pause of a rebalance.
    pub rebalance_time: SimDuration,
    /// Retries.
    pub retry: RetryModel,
    /// Dead-letter topic or queue.
    pub dead_letter: Option<Channel>,
    /// Follow-up events: (event, target).
    pub emits: Vec<(EventIdx, Channel)>,
    /// How it receives, for a queue source.
    pub receive: ReceiveModel,
    /// A function: one instance per unit of `max_concurrency`, concurrency 1.
    pub function: Option<FunctionModel>,
    /// A RabbitMQ-like queue's consumer: prefetch and negative acknowledgements.
    pub rabbit: RabbitConsumeModel,
}

impl ServiceModel {
    /// The member id of instance `i` (0-based): `name#(i+1)`. Kafka compares member
    /// ids as strings, so `payment#10` sorts before `payment#2`.
    pub fn member_id(&self, i: usize) -> String {
        format!("{}#{}", self.name, i + 1)
    }
}

/// A scheduled operation, resolved.
#[derive(Clone, Copy, Debug)]
pub struct ActionModel {
    /// Start, nanoseconds.
    pub at: u64,
    /// What.
    pub kind: ActionModelKind,
}

/// What an action does.
#[derive(Clone, Copy, Debug)]
pub enum ActionModelKind {
    /// A dead-letter queue redrive.
    Redrive {
        /// The dead-letter queue.
        from: QueueIdx,
        /// The destination, or each message's source queue.
        to: Option<QueueIdx>,
        /// Gap between two moves, ns; 0: all at once.
        gap: u64,
    },
    /// An event bus replays the events its archive holds from a time window.
    Replay {
        /// The bus (its archive is the source and the bus the destination).
        bus: BusIdx,
        /// Events first received from this time, ns.
        from: u64,
        /// Up to (not including) this time, ns.
        until: u64,
        /// Gap between two replayed events, ns; 0: all at once.
        gap: u64,
        /// Only these rules of the bus receive them (a bit per rule; all ones: every rule).
        rules: u64,
    },
}

/// A scheduled fault, resolved.
#[derive(Clone, Copy, Debug)]
pub struct FaultModel {
    /// What fails.
    pub kind: FaultKind,
    /// Start, nanoseconds.
    pub at: u64,
    /// What it hits.
    pub target: FaultTarget,
    /// Time to restart (or to the fault's end), or never.
    pub duration: Option<SimDuration>,
    /// `slowdown`: processing times are multiplied by this (1 otherwise).
    pub factor: f64,
    /// `latency`: the delay added to each processing time, or to each message on the
    /// link.
    pub delay: Option<ProcessingModel>,
    /// `poison`: the share of messages sent meanwhile that always fail (0 otherwise).
    pub fraction: f64,
    /// Random faults: (mean time between failures, mean time to repair), ns. The
    /// first start is drawn after `at`.
    pub random: Option<(u64, u64)>,
    /// Its number among the faults of its kind on its target (names its random
    /// stream, so that a fault elsewhere moves nothing).
    pub ordinal: u32,
}

/// What a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    /// A service, or one of its instances (0-based).
    Service {
        /// The service.
        service: ServiceIdx,
        /// One instance, or every one.
        instance: Option<u32>,
    },
    /// A whole broker: a topic, queue or pubsub.
    Broker(Channel),
    /// One partition of a topic.
    Partition {
        /// The topic.
        topic: TopicIdx,
        /// The partition.
        partition: u32,
    },
    /// A producer (what it sends meanwhile).
    Producer(usize),
    /// The link between two components: messages from `from` to `to` (and back when
    /// `both`).
    Link {
        /// One end.
        from: Node,
        /// The other.
        to: Node,
        /// Both directions.
        both: bool,
        /// The one instance of the service end it hits, or every one.
        instance: Option<u32>,
    },
}

/// One end of a link: a publisher or consumer, or a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A producer.
    Producer(usize),
    /// A service.
    Service(ServiceIdx),
    /// A broker.
    Broker(Channel),
}

impl Node {
    /// Its name in `m`.
    pub fn name(self, m: &Model) -> String {
        match self {
            Node::Producer(p) => m.producers[p].name.clone(),
            Node::Service(g) => m.services[g].name.clone(),
            Node::Broker(c) => c.name(m).to_string(),
        }
    }
}

impl FaultModel {
    /// The service it hits and its instance, for a fault on a service.
    pub fn service(&self) -> Option<(ServiceIdx, Option<u32>)> {
        match self.target {
            FaultTarget::Service { service, instance } => Some((service, instance)),
            _ => None,
        }
    }

    /// What it hits, as a scenario names it: `consumer#N`, `orders[3]`, `a -> b`.
    pub fn target_name(&self, m: &Model) -> String {
        match self.target {
            FaultTarget::Service { service, instance } => match instance {
                Some(i) => m.services[service].member_id(i as usize),
                None => m.services[service].name.clone(),
            },
            FaultTarget::Broker(c) => c.name(m).to_string(),
            FaultTarget::Partition { topic, partition } => {
                format!("{}[{partition}]", m.topics[topic].name)
            }
            FaultTarget::Producer(p) => m.producers[p].name.clone(),
            FaultTarget::Link {
                from,
                to,
                both,
                instance,
            } => {
                let arrow = if both { "<->" } else { "->" };
                let name = |n: Node| match (n, instance) {
                    (Node::Service(g), Some(i)) => m.services[g].member_id(i as usize),
                    _ => n.name(m),
                };
                format!("{} {arrow} {}", name(from), name(to))
            }
        }
    }

    /// Its kind as a scenario spells it.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}
