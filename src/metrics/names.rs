//! The one table of metric names: every metric the CSV can contain, with its spelling,
//! unit, kind, the components that report it and a one-line meaning. The sampler, the
//! TUI's `g` prompt and the README's metric table all follow it; a test checks the
//! README and the rows of bundled scenarios against [`Metric::ALL`].

/// A metric of the tidy CSV (`time_s,component,metric,value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Messages created (producer) or records appended (topic, service's source).
    Produced,
    /// Records in per second.
    ThroughputIn,
    /// Records out per second.
    ThroughputOut,
    /// Successful processings, duplicates included.
    Processed,
    /// Attempts started.
    Delivered,
    /// Records being processed.
    InFlight,
    /// Log end offset minus committed offset.
    Lag,
    /// Age of the oldest unconsumed record.
    LagTime,
    /// Records not yet consumed by every service that reads them.
    QueueDepth,
    /// Median latency, produce to processed.
    LatencyP50,
    /// 95th percentile latency.
    LatencyP95,
    /// 99th percentile latency.
    LatencyP99,
    /// Largest latency.
    LatencyMax,
    /// Mean latency.
    LatencyMean,
    /// Retries scheduled.
    Retries,
    /// Records sent to the dead-letter topic.
    DeadLettered,
    /// Depth of the dead-letter topic.
    DlqDepth,
    /// Effects applied more than once.
    Duplicates,
    /// Records never processed nor dead-lettered.
    Lost,
    /// Records deleted by retention before being consumed.
    Expired,
    /// Same key and service, processed after a message produced later.
    OrderingViolations,
    /// Time to clear the lag at the current processing rate.
    DrainTime,
    /// Messages of a queue not visible yet (delay).
    Delayed,
    /// Receive calls that returned messages.
    Receives,
    /// Receive calls that returned nothing.
    EmptyReceives,
    /// Messages visible again after their visibility timeout expired.
    Redeliveries,
    /// Sends a FIFO queue dropped as duplicates.
    Deduplicated,
    /// Copies a pubsub delivered to its subscriptions.
    Routed,
    /// Publishes no subscription took.
    FilteredOut,
    /// Publishes an exchange routed to no queue.
    Unroutable,
    /// Deliveries of a RabbitMQ queue with the redelivered flag.
    Redelivered,
    /// Messages a RabbitMQ queue's drop-head length limit pushed out.
    DroppedOverflow,
    /// Messages whose TTL passed in a RabbitMQ queue.
    ExpiredTtl,
    /// Publishes a full RabbitMQ queue refused.
    RejectedPublish,
    /// Function events that found every invocation busy.
    Throttled,
    /// Events a bus's rule (or at least one rule of a bus) matched.
    Matched,
    /// Events no rule of a bus matched.
    Unmatched,
    /// Deliveries of a bus a target refused.
    FailedInvocations,
    /// Deliveries of a bus waiting for a retry.
    Retrying,
    /// Events a bus's archive holds.
    Archived,
    /// Events a bus replayed from its archive.
    Replayed,
    /// Mean end-to-end latency of a flow, first produce to processed.
    E2eLatencyMean,
    /// Median end-to-end latency of a flow.
    E2eLatencyP50,
    /// 95th percentile end-to-end latency of a flow.
    E2eLatencyP95,
    /// 99th percentile end-to-end latency of a flow.
    E2eLatencyP99,
    /// Largest end-to-end latency of a flow.
    E2eLatencyMax,
    /// Faults under way.
    FaultsActive,
    /// Second deliveries an idempotent consumer acknowledged without their effect.
    DuplicatesSuppressed,
    /// Messages a publisher holds because its broker refuses them.
    Buffered,
    /// Publishes dropped: buffer full or delivery timeout.
    PublishLost,
    /// Instances whose circuit breaker is open.
    BreakerOpen,
    /// Sagas started.
    SagaStarted,
    /// Sagas under way (a step: those at it, running forward).
    SagaInProgress,
    /// Sagas compensating (a step: those undoing it).
    SagaCompensating,
    /// Sagas that completed every step.
    SagaCompleted,
    /// Sagas that undid every completed step.
    SagaCompensated,
    /// Sagas whose compensation failed for good.
    SagaFailed,
    /// Median saga duration, start to end.
    SagaDurationP50,
    /// 99th percentile saga duration.
    SagaDurationP99,
}

/// How a metric's value relates to the sampling interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Counts the events of one interval.
    Counter,
    /// Read at the sample's instant.
    Gauge,
    /// Events of the interval divided by its length, per second.
    Rate,
    /// A statistic of the latencies recorded in the interval; no row when none was.
    Latency,
}

/// The kind of component a row is about, as the CSV's `component` column names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A producer, by its name.
    Producer,
    /// A topic, by its name.
    Topic,
    /// A queue, by its name.
    Queue,
    /// A pubsub, by its name.
    Pubsub,
    /// An exchange, by its name.
    Exchange,
    /// A service (a `[[consumer]]`), by its name.
    Service,
    /// One partition of a service's source topic, as `consumer/P`.
    Partition,
    /// A flow from a producer to a service behind another, as `producer→consumer`.
    Flow,
    /// An event bus, by its name.
    Bus,
    /// One rule of an event bus, as `bus/rule`.
    Rule,
    /// A saga.
    Saga,
    /// One step of a saga, as `saga/step`.
    SagaStep,
    /// The whole system, as `total`.
    Total,
}

impl Scope {
    /// As the README's metric table writes it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Producer => "producer",
            Scope::Topic => "topic",
            Scope::Queue => "queue",
            Scope::Pubsub => "pubsub",
            Scope::Exchange => "exchange",
            Scope::Service => "consumer",
            Scope::Partition => "`consumer/P`",
            Scope::Flow => "`producer→consumer`",
            Scope::Bus => "bus",
            Scope::Rule => "`bus/rule`",
            Scope::Saga => "saga",
            Scope::SagaStep => "`saga/step`",
            Scope::Total => "total",
        }
    }
}

/// Short names the TUI's `g` prompt accepts besides the CSV's.
const ALIASES: &[(&str, Metric)] = &[
    ("p50", Metric::LatencyP50),
    ("p95", Metric::LatencyP95),
    ("p99", Metric::LatencyP99),
    ("dlq", Metric::DlqDepth),
    ("rate", Metric::ThroughputOut),
    ("ordering", Metric::OrderingViolations),
];

impl Metric {
    /// Every metric, in the order the TUI lists them.
    pub const ALL: &[Metric] = &[
        Metric::Produced,
        Metric::ThroughputIn,
        Metric::ThroughputOut,
        Metric::Processed,
        Metric::Delivered,
        Metric::InFlight,
        Metric::Lag,
        Metric::LagTime,
        Metric::QueueDepth,
        Metric::LatencyP50,
        Metric::LatencyP95,
        Metric::LatencyP99,
        Metric::LatencyMax,
        Metric::LatencyMean,
        Metric::Retries,
        Metric::DeadLettered,
        Metric::DlqDepth,
        Metric::Duplicates,
        Metric::Lost,
        Metric::Expired,
        Metric::OrderingViolations,
        Metric::DrainTime,
        Metric::Delayed,
        Metric::Receives,
        Metric::EmptyReceives,
        Metric::Redeliveries,
        Metric::Deduplicated,
        Metric::Routed,
        Metric::FilteredOut,
        Metric::Unroutable,
        Metric::Redelivered,
        Metric::DroppedOverflow,
        Metric::ExpiredTtl,
        Metric::RejectedPublish,
        Metric::Throttled,
        Metric::Matched,
        Metric::Unmatched,
        Metric::FailedInvocations,
        Metric::Retrying,
        Metric::Archived,
        Metric::Replayed,
        Metric::E2eLatencyP50,
        Metric::E2eLatencyP95,
        Metric::E2eLatencyP99,
        Metric::E2eLatencyMax,
        Metric::E2eLatencyMean,
        Metric::FaultsActive,
        Metric::DuplicatesSuppressed,
        Metric::Buffered,
        Metric::PublishLost,
        Metric::BreakerOpen,
        Metric::SagaStarted,
        Metric::SagaInProgress,
        Metric::SagaCompensating,
        Metric::SagaCompleted,
        Metric::SagaCompensated,
        Metric::SagaFailed,
        Metric::SagaDurationP50,
        Metric::SagaDurationP99,
    ];

    /// The name exactly as in the CSV's `metric` column.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Produced => "produced",
            Metric::ThroughputIn => "throughput_in",
            Metric::ThroughputOut => "throughput_out",
            Metric::Processed => "processed",
            Metric::Delivered => "delivered",
            Metric::InFlight => "in_flight",
            Metric::Lag => "lag",
            Metric::LagTime => "lag_time",
            Metric::QueueDepth => "queue_depth",
            Metric::LatencyP50 => "latency_p50",
            Metric::LatencyP95 => "latency_p95",
            Metric::LatencyP99 => "latency_p99",
            Metric::LatencyMax => "latency_max",
            Metric::LatencyMean => "latency_mean",
            Metric::Retries => "retries",
            Metric::DeadLettered => "dead_lettered",
            Metric::DlqDepth => "dlq_depth",
            Metric::Duplicates => "duplicates",
            Metric::Lost => "lost",
            Metric::Expired => "expired",
            Metric::OrderingViolations => "ordering_violations",
            Metric::DrainTime => "drain_time",
            Metric::Delayed => "delayed",
            Metric::Receives => "receives",
            Metric::EmptyReceives => "empty_receives",
            Metric::Redeliveries => "redeliveries",
            Metric::Deduplicated => "deduplicated",
            Metric::Routed => "routed",
            Metric::FilteredOut => "filtered_out",
            Metric::Unroutable => "unroutable",
            Metric::Redelivered => "redelivered",
            Metric::DroppedOverflow => "dropped_overflow",
            Metric::ExpiredTtl => "expired_ttl",
            Metric::RejectedPublish => "rejected_publish",
            Metric::Throttled => "throttled",
            Metric::Matched => "matched",
            Metric::Unmatched => "unmatched",
            Metric::FailedInvocations => "failed_invocations",
            Metric::Retrying => "retrying",
            Metric::Archived => "archived",
            Metric::Replayed => "replayed",
            Metric::E2eLatencyMean => "e2e_latency_mean",
            Metric::E2eLatencyP50 => "e2e_latency_p50",
            Metric::FaultsActive => "faults_active",
            Metric::DuplicatesSuppressed => "duplicates_suppressed",
            Metric::Buffered => "buffered",
            Metric::PublishLost => "publish_lost",
            Metric::BreakerOpen => "breaker_open",
            Metric::SagaStarted => "saga_started",
            Metric::SagaInProgress => "saga_in_progress",
            Metric::SagaCompensating => "saga_compensating",
            Metric::SagaCompleted => "saga_completed",
            Metric::SagaCompensated => "saga_compensated",
            Metric::SagaFailed => "saga_failed",
            Metric::SagaDurationP50 => "saga_duration_p50",
            Metric::SagaDurationP99 => "saga_duration_p99",
            Metric::E2eLatencyP95 => "e2e_latency_p95",
            Metric::E2eLatencyP99 => "e2e_latency_p99",
            Metric::E2eLatencyMax => "e2e_latency_max",
        }
    }

    /// The unit of the CSV's `value`: `messages`, `ms`, `s` or `/s`.
    pub fn unit(self) -> &'static str {
        match self.kind() {
            MetricKind::Rate => "/s",
            MetricKind::Latency => "ms",
            MetricKind::Gauge if matches!(self, Metric::LagTime | Metric::DrainTime) => "s",
            MetricKind::Gauge if self == Metric::FaultsActive => "faults",
            MetricKind::Gauge if self == Metric::BreakerOpen => "instances",
            MetricKind::Gauge
                if matches!(self, Metric::SagaInProgress | Metric::SagaCompensating) =>
            {
                "sagas"
            }
            MetricKind::Counter
                if matches!(
                    self,
                    Metric::SagaStarted
                        | Metric::SagaCompleted
                        | Metric::SagaCompensated
                        | Metric::SagaFailed
                ) =>
            {
                "sagas"
            }
            MetricKind::Counter | MetricKind::Gauge => "messages",
        }
    }

    /// How the value relates to the sampling interval.
    pub fn kind(self) -> MetricKind {
        match self {
            Metric::Produced
            | Metric::Processed
            | Metric::Delivered
            | Metric::Retries
            | Metric::DeadLettered
            | Metric::Duplicates
            | Metric::Lost
            | Metric::Expired
            | Metric::OrderingViolations
            | Metric::Receives
            | Metric::EmptyReceives
            | Metric::Redeliveries
            | Metric::Deduplicated
            | Metric::Routed
            | Metric::FilteredOut
            | Metric::Unroutable
            | Metric::Redelivered
            | Metric::DroppedOverflow
            | Metric::ExpiredTtl
            | Metric::RejectedPublish
            | Metric::Throttled
            | Metric::Matched
            | Metric::Unmatched
            | Metric::FailedInvocations
            | Metric::Replayed
            | Metric::DuplicatesSuppressed
            | Metric::SagaStarted
            | Metric::SagaCompleted
            | Metric::SagaCompensated
            | Metric::SagaFailed
            | Metric::PublishLost => MetricKind::Counter,
            Metric::Delayed
            | Metric::InFlight
            | Metric::Lag
            | Metric::LagTime
            | Metric::QueueDepth
            | Metric::DlqDepth
            | Metric::FaultsActive
            | Metric::Buffered
            | Metric::BreakerOpen
            | Metric::SagaInProgress
            | Metric::SagaCompensating
            | Metric::Retrying
            | Metric::Archived
            | Metric::DrainTime => MetricKind::Gauge,
            Metric::ThroughputIn | Metric::ThroughputOut => MetricKind::Rate,
            Metric::LatencyP50
            | Metric::LatencyP95
            | Metric::LatencyP99
            | Metric::LatencyMax
            | Metric::LatencyMean
            | Metric::E2eLatencyMean
            | Metric::E2eLatencyP50
            | Metric::E2eLatencyP95
            | Metric::E2eLatencyP99
            | Metric::E2eLatencyMax
            | Metric::SagaDurationP50
            | Metric::SagaDurationP99 => MetricKind::Latency,
        }
    }

    /// The kinds of component that report it.
    pub fn scopes(self) -> &'static [Scope] {
        use Scope::*;
        match self {
            Metric::Produced => &[
                Producer, Topic, Queue, Pubsub, Exchange, Bus, Service, Total,
            ],
            Metric::ThroughputIn => &[Topic, Queue, Pubsub, Exchange, Bus, Service],
            Metric::ThroughputOut => &[Producer, Service],
            Metric::Lag => &[Service, Partition, Total],
            Metric::LagTime => &[Service, Partition, Topic, Queue],
            Metric::QueueDepth => &[Topic, Queue],
            Metric::Duplicates => &[Producer, Service, Total],
            Metric::Expired => &[Topic, Queue, Service, Total],
            Metric::InFlight => &[Queue, Service, Total],
            Metric::DeadLettered => &[Queue, Bus, Rule, Service, Total],
            Metric::Delayed | Metric::Receives | Metric::EmptyReceives | Metric::Redeliveries => {
                &[Queue]
            }
            Metric::Deduplicated => &[Queue, Pubsub],
            Metric::Routed => &[Pubsub, Exchange, Bus, Rule],
            Metric::Matched | Metric::FailedInvocations => &[Bus, Rule],
            Metric::Unmatched | Metric::Retrying | Metric::Archived | Metric::Replayed => &[Bus],
            Metric::FilteredOut => &[Pubsub],
            Metric::Unroutable => &[Exchange],
            Metric::Redelivered
            | Metric::DroppedOverflow
            | Metric::ExpiredTtl
            | Metric::RejectedPublish => &[Queue],
            Metric::Throttled => &[Service],
            Metric::FaultsActive => &[Total],
            Metric::DuplicatesSuppressed => &[Service, Total],
            Metric::Buffered | Metric::PublishLost => &[Producer, Service, Total],
            Metric::BreakerOpen => &[Service, Total],
            Metric::SagaInProgress | Metric::SagaCompensating => &[Saga, SagaStep],
            Metric::SagaStarted
            | Metric::SagaCompleted
            | Metric::SagaCompensated
            | Metric::SagaFailed
            | Metric::SagaDurationP50
            | Metric::SagaDurationP99 => &[Saga],
            Metric::E2eLatencyMean
            | Metric::E2eLatencyP50
            | Metric::E2eLatencyP95
            | Metric::E2eLatencyP99
            | Metric::E2eLatencyMax => &[Flow],
            Metric::Delivered
            | Metric::DrainTime
            | Metric::LatencyP50
            | Metric::LatencyP95
            | Metric::LatencyP99
            | Metric::LatencyMax
            | Metric::LatencyMean => &[Service],
            Metric::Processed | Metric::Retries | Metric::DlqDepth | Metric::OrderingViolations => {
                &[Service, Total]
            }
            Metric::Lost => &[Bus, Rule, Service, Total],
        }
    }

    /// What it measures, in one line.
    pub fn description(self) -> &'static str {
        match self {
            Metric::Produced => {
                "messages created / records appended or sent (a consumer sees its source's originals)"
            }
            Metric::ThroughputIn => {
                "records appended or sent per second (a consumer sees its source's originals)"
            }
            Metric::ThroughputOut => {
                "messages sent per second by a producer; processings per second of a consumer"
            }
            Metric::Processed => "successful processings, duplicates included",
            Metric::Delivered => "attempts started",
            Metric::InFlight => "records being processed (a queue: received, not yet deleted)",
            Metric::FaultsActive => "faults under way (rows only in scenarios with faults)",
            Metric::BreakerOpen => {
                "instances whose circuit breaker is open (rows only for consumers with a breaker)"
            }
            Metric::SagaStarted => "sagas started",
            Metric::SagaInProgress => {
                "sagas under way, running forward (a step `saga/step`: those at that step)"
            }
            Metric::SagaCompensating => {
                "sagas undoing their completed steps (a step: those compensating it)"
            }
            Metric::SagaCompleted => "sagas that completed every step",
            Metric::SagaCompensated => "sagas that undid every completed step after a failure",
            Metric::SagaFailed => "sagas left inconsistent: a compensation failed for good",
            Metric::SagaDurationP50 => "median duration of the sagas that ended, start to end",
            Metric::SagaDurationP99 => "99th percentile duration of the sagas that ended",
            Metric::Buffered => {
                "messages held by a publisher while its broker or the link refuses them (rows only in scenarios with outages or network partitions)"
            }
            Metric::PublishLost => {
                "publishes dropped: the publisher's buffer was full, a held message outlived its delivery timeout, or a refused publish had no publisher confirms (rows as for buffered)"
            }
            Metric::DuplicatesSuppressed => {
                "second deliveries an idempotent consumer acknowledged without their effect (rows only for idempotent consumers)"
            }
            Metric::Lag => {
                "log end offset minus committed offset, summed over partitions (a queue's consumer: messages not yet deleted)"
            }
            Metric::LagTime => "age of the oldest unconsumed record",
            Metric::QueueDepth => {
                "records not yet consumed by every group (a queue: visible messages)"
            }
            Metric::LatencyP50 => "median latency, produce to processed",
            Metric::LatencyP95 => "95th percentile latency, produce to processed",
            Metric::LatencyP99 => "99th percentile latency, produce to processed",
            Metric::LatencyMax => "largest latency, produce to processed",
            Metric::LatencyMean => "mean latency, produce to processed",
            Metric::Retries => "retries scheduled",
            Metric::DeadLettered => {
                "records sent to the DLQ (a queue: moved by its redrive policy)"
            }
            Metric::DlqDepth => "depth of the consumer's DLQ topic or queue",
            Metric::Duplicates => {
                "an effect applied twice in a group (for a producer: records written twice)"
            }
            Metric::Lost => "never processed nor dead-lettered, with a cause",
            Metric::Expired => "deleted by retention before being consumed",
            Metric::OrderingViolations => {
                "same key and group, processed after a message produced later"
            }
            Metric::DrainTime => "lag / current processing rate (`inf` when nothing progresses)",
            Metric::Delayed => "messages of a queue not visible yet (queue or message delay)",
            Metric::Receives => "receive calls that returned messages",
            Metric::EmptyReceives => {
                "receive calls that returned nothing (what SQS bills without work to show)"
            }
            Metric::Redeliveries => "messages visible again after their visibility timeout expired",
            Metric::Deduplicated => {
                "sends a FIFO queue (or publishes a FIFO pubsub) dropped within its 5-minute window"
            }
            Metric::Routed => {
                "copies a pubsub delivered to the subscriptions whose filter took them, an exchange to the queues its bindings led to, or a bus's rules to their targets"
            }
            Metric::FilteredOut => "publishes that no subscription's filter policy took",
            Metric::Unroutable => {
                "publishes an exchange routed to no queue (dropped, with its alternate exchanges tried)"
            }
            Metric::Redelivered => {
                "deliveries of a RabbitMQ queue with the redelivered flag (requeued by a nack, a reject or a consumer that went away)"
            }
            Metric::DroppedOverflow => {
                "messages a RabbitMQ queue's max_length pushed out (drop-head), to its dead-letter exchange or discarded"
            }
            Metric::ExpiredTtl => {
                "messages whose message_ttl passed at the head of a RabbitMQ queue, to its dead-letter exchange or discarded"
            }
            Metric::RejectedPublish => {
                "publishes a full RabbitMQ queue refused (reject-publish: nacked with confirms, lost without)"
            }
            Metric::Throttled => {
                "events that found every invocation of a function busy and waited in its event queue"
            }
            Metric::Matched => {
                "events a rule's event pattern matched (a bus: events at least one rule matched)"
            }
            Metric::Unmatched => "events no rule of a bus matched",
            Metric::FailedInvocations => {
                "deliveries of a bus a target refused (down, or its link cut); each retry counts"
            }
            Metric::Retrying => "deliveries of a bus waiting for their next retry",
            Metric::Archived => "events a bus's archive holds",
            Metric::Replayed => "archived events a replay sent to the bus again",
            Metric::E2eLatencyMean => "mean latency of a flow, first produce to processed",
            Metric::E2eLatencyP50 => "median latency of a flow, first produce to processed",
            Metric::E2eLatencyP95 => {
                "95th percentile latency of a flow, first produce to processed"
            }
            Metric::E2eLatencyP99 => {
                "99th percentile latency of a flow, first produce to processed"
            }
            Metric::E2eLatencyMax => "largest latency of a flow, first produce to processed",
        }
    }

    /// The metric with exactly this CSV name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// A CSV name or one of the TUI's short aliases (`p50`, `p95`, `p99`, `dlq`,
    /// `rate`, `ordering`).
    pub fn parse(name: &str) -> Option<Metric> {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map(|&(_, m)| m)
            .or_else(|| Metric::from_name(name))
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(Metric::from_name(m.name()), Some(*m));
            assert_eq!(Metric::parse(m.name()), Some(*m));
            assert!(
                !Metric::ALL[..i].iter().any(|o| o.name() == m.name()),
                "{m} twice"
            );
            assert!(!m.scopes().is_empty(), "{m} has no component");
        }
        for (alias, m) in ALIASES {
            assert_eq!(Metric::parse(alias), Some(*m));
            assert_eq!(Metric::from_name(alias), None, "{alias} is not a CSV name");
        }
        assert_eq!(Metric::parse("lagg"), None);
        assert_eq!(Metric::LatencyP99.unit(), "ms");
        assert_eq!(Metric::DrainTime.unit(), "s");
        assert_eq!(Metric::ThroughputOut.unit(), "/s");
        assert_eq!(Metric::DlqDepth.unit(), "messages");
    }
}
