//! Metrics: counters and latency histograms updated in O(1) per event, sampled once per
//! `metrics_interval` into rows of the tidy long format (`time_s,component,metric,value`),
//! and the anomalies the live checker found, each with its explanation.
//!
//! Units: latencies in milliseconds; `lag_time` and `drain_time` in seconds; rates per
//! second; counters (`produced`, `processed`, `duplicates`, ...) count the events of one
//! interval; gauges (`lag`, `in_flight`, `dlq_depth`, `queue_depth`) are read at the
//! sample's instant. [`names::Metric`] is the table of every metric name with its unit
//! and kind.

pub mod anomaly;
pub mod names;

use hdrhistogram::Histogram;

pub use anomaly::{Anomaly, AnomalyKind, Cause};
pub use names::{Metric, MetricKind, Scope};

/// Largest latency a histogram records exactly (one day); larger ones are clamped.
pub const MAX_TRACKED_LATENCY_NS: u64 = 86_400_000_000_000;

/// Cumulative event counts of one component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Messages created (producers) or original records appended (topics, and the
    /// service's view of its source topic).
    pub produced: u64,
    /// Records handed to an instance for an attempt.
    pub delivered: u64,
    /// Successful processings, duplicates included.
    pub processed: u64,
    /// First successful processing of a record in this service.
    pub processed_once: u64,
    /// Effects applied more than once in this service.
    pub duplicates: u64,
    /// Same key and service: processed after a message produced later.
    pub ordering_violations: u64,
    /// Never processed, never dead-lettered, and not pending any more.
    pub lost: u64,
    /// Deleted by retention before this service consumed them.
    pub expired: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Failed attempts.
    pub failures: u64,
    /// Records sent to the dead-letter topic (first time for each record).
    pub dead_lettered: u64,
    /// Copies of records: producer retries without idempotence, or events emitted again.
    pub copies: u64,
    /// Second deliveries an idempotent consumer's dedup store recognised and
    /// acknowledged without applying them.
    #[serde(rename = "duplicates_suppressed")]
    pub suppressed: u64,
    /// Publishes dropped because the publisher's buffer was full while its broker
    /// refused them (absent from JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_buffer_full: u64,
    /// Held publishes dropped after the delivery timeout (absent from JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_delivery_timeout: u64,
    /// Publishes a RabbitMQ-like broker refused, confirmed as such to a publisher with
    /// confirms (absent from JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub nacked: u64,
    /// Publishes a RabbitMQ-like broker refused or never got, from a publisher without
    /// confirms: lost, and nobody knows (absent from JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub lost_unconfirmed: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Latency recorder: exact sum and count for the mean, an HDR histogram (3 significant
/// digits) for percentiles.
#[derive(Clone, Debug)]
pub struct Latency {
    hist: Histogram<u64>,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty recorder.
    pub fn new() -> Latency {
        // Bounds are constants that satisfy hdrhistogram's preconditions.
        let hist = Histogram::new_with_bounds(1_000, MAX_TRACKED_LATENCY_NS, 3)
            .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_hist()));
        Latency {
            hist,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist
            .saturating_record(ns.clamp(1_000, MAX_TRACKED_LATENCY_NS));
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Number recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Exact mean in nanoseconds.
    pub fn mean_ns(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            self.sum_ns as f64 / n as f64
        }
    }

    /// Percentile `q` (0..=100) in nanoseconds, to 3 significant digits, and never
    /// above the exact maximum (the histogram reports the top of a value's bucket, and
    /// counts anything under 1 µs as 1 µs).
    pub fn percentile_ns(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q / 100.0).min(self.max_ns)
    }

    /// Exact maximum.
    pub fn max_ns(&self) -> u64 {
        self.max_ns
    }

    /// Adds everything `other` recorded.
    pub fn merge(&mut self, other: &Latency) {
        // Both histograms have the same bounds, so adding cannot fail; if it ever did,
        // percentiles would miss that interval but mean and max stay exact.
        let _ = self.hist.add(&other.hist);
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.sum_ns = 0;
        self.max_ns = 0;
    }
}

fn unreachable_hist() -> Histogram<u64> {
    // Histogram::new(3) cannot fail (3 significant digits is within 0..=5); this exists
    // only so that no `unwrap` sits in library code.
    panic!("hdrhistogram refused 3 significant digits")
}

/// A sampled value: a count or a real number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Count(u64),
    /// A real number (written with 3 decimals); may be infinite (drain time with no
    /// progress).
    Real(f64),
}

impl Value {
    /// As a float.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Count(c) => c as f64,
            Value::Real(r) => r,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::Count(c) => write!(f, "{c}"),
            Value::Real(r) if r.is_infinite() => {
                write!(f, "{}", if r > 0.0 { "inf" } else { "-inf" })
            }
            Value::Real(r) if r.is_nan() => write!(f, "nan"),
            Value::Real(r) => write!(f, "{r:.3}"),
        }
    }
}

/// One row of the tidy metrics table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Sample time, nanoseconds.
    pub time: u64,
    /// Component name (`payment`, `orders`, `payment/3` for a partition, `total`).
    pub component: String,
    /// Metric name, as [`Metric::name`] spells it.
    pub metric: &'static str,
    /// Value.
    pub value: Value,
}
