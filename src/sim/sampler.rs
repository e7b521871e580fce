//! The sampler: once per `metrics_interval` (and at the end) counters become interval
//! deltas and rates, broker gauges (depth, lag, age of the oldest message) are read,
//! and both become rows of the tidy table, per producer, broker component, service,
//! partition, and in total. Rows are kept only with `Options::record_rows`; the maxima
//! the summary reports are tracked either way.

use super::Engine;
use super::queue::Ev;
use crate::metrics::{Counters, Metric, Row, Value};
use crate::model::Channel;

/// Sampling state.
#[derive(Clone, Debug)]
pub(crate) struct Sampler {
    /// Rows not yet drained.
    pub rows: Vec<Row>,
    /// Counters at the previous sample, per component (and one for the total).
    prev: Vec<Counters>,
    /// Time of the latest sample, ns.
    pub last_sample: u64,
}

impl Sampler {
    /// A sampler for `components` components.
    pub fn new(components: usize) -> Sampler {
        Sampler {
            rows: Vec::new(),
            prev: vec![Counters::default(); components],
            last_sample: 0,
        }
    }

    /// The change of component `idx`'s counters since the previous sample.
    fn delta(&mut self, idx: usize, c: Counters) -> Counters {
        let d = delta(&c, &self.prev[idx]);
        self.prev[idx] = c;
        d
    }
}

/// Rows of one sample, collected only when rows are recorded.
struct Out {
    record: bool,
    now: u64,
    interval_s: f64,
    rows: Vec<Row>,
}

impl Out {
    fn push(&mut self, component: &str, metric: Metric, value: Value) {
        if self.record {
            self.rows.push(Row {
                time: self.now,
                component: component.to_string(),
                metric: metric.name(),
                value,
            });
        }
    }

    fn count(&mut self, component: &str, metric: Metric, v: u64) {
        self.push(component, metric, Value::Count(v));
    }

    fn rate(&mut self, component: &str, metric: Metric, n: u64) {
        let per_s = n as f64 / self.interval_s;
        self.push(component, metric, Value::Real(per_s));
    }

    fn secs(&mut self, component: &str, metric: Metric, ns: u64) {
        self.push(component, metric, Value::Real(ns as f64 / 1e9));
    }
}

/// The rows every kind of queue has: what came in, `gauges` (waiting, in flight, the
/// age of the oldest waiting, ns), what it dead-lettered, and its own counters, which
/// ride in the delta's spare fields `delivered`, `failures`, `retries` and
/// `duplicates`, as the metrics `spare` in that order.
fn queue_rows(
    out: &mut Out,
    name: &str,
    d: &Counters,
    gauges: (u64, u64, u64),
    spare: [Metric; 4],
) {
    let (waiting, in_flight, oldest) = gauges;
    out.count(name, Metric::Produced, d.produced + d.copies);
    out.rate(name, Metric::ThroughputIn, d.produced + d.copies);
    out.count(name, Metric::QueueDepth, waiting);
    out.count(name, Metric::InFlight, in_flight);
    out.secs(name, Metric::LagTime, oldest);
    for (metric, v) in spare
        .into_iter()
        .zip([d.delivered, d.failures, d.retries, d.duplicates])
    {
        out.count(name, metric, v);
    }
    out.count(name, Metric::DeadLettered, d.dead_lettered);
}

/// Sums over every service (and the DLQ depths) for the `total` rows.
#[derive(Default)]
struct Totals {
    c: Counters,
    lag: u64,
    in_flight: u64,
    dlq: u64,
    buffered: u64,
    breaker_open: u64,
}

impl Engine {
    /// Rows of every saga and of each of its steps.
    fn sample_sagas(&mut self, out: &mut Out) {
        for s in 0..self.sagas.stats.len() {
            let st = &mut self.sagas.stats[s];
            let now = [st.started, st.completed, st.compensated, st.failed];
            let d = [0, 1, 2, 3].map(|i| now[i] - st.prev[i]);
            st.prev = now;
            let lat = (st.duration_interval.count() > 0).then(|| {
                (
                    st.duration_interval.percentile_ns(50.0),
                    st.duration_interval.percentile_ns(99.0),
                )
            });
            st.duration_interval.reset();
            if !out.record {
                continue;
            }
            let name = &self.plan.component_names[self.plan.saga_comp as usize + s];
            let st = &self.sagas.stats[s];
            for (metric, v) in [
                (Metric::SagaStarted, d[0]),
                (Metric::SagaCompleted, d[1]),
                (Metric::SagaCompensated, d[2]),
                (Metric::SagaFailed, d[3]),
                (Metric::SagaInProgress, st.in_progress.iter().sum()),
                (Metric::SagaCompensating, st.compensating.iter().sum()),
            ] {
                out.count(name, metric, v);
            }
            if let Some((p50, p99)) = lat {
                out.push(name, Metric::SagaDurationP50, Value::Real(p50 as f64 / 1e6));
                out.push(name, Metric::SagaDurationP99, Value::Real(p99 as f64 / 1e6));
            }
            for (k, step) in self.plan.saga_step_names[s].iter().enumerate() {
                out.count(step, Metric::SagaInProgress, st.in_progress[k]);
                out.count(step, Metric::SagaCompensating, st.compensating[k]);
            }
        }
    }

    /// The `Sample` event: sample, and schedule the next one.
    pub(crate) fn on_sample(&mut self) {
        self.sample();
        let next = self.now + self.model.metrics_interval.0;
        if next < self.model.duration.0 {
            self.queue.push(next, Ev::Sample);
        }
    }

    /// Takes one sample.
    pub(crate) fn sample(&mut self) {
        let now = self.now;
        let interval_s = (now.saturating_sub(self.sampler.last_sample)).max(1) as f64 / 1e9;
        self.sampler.last_sample = now;
        let mut out = Out {
            record: self.opts.record_rows,
            now,
            interval_s,
            rows: Vec::new(),
        };
        let mut total = Totals::default();
        self.sample_producers(&mut out, &mut total);
        self.sample_topics(&mut out, &mut total);
        self.sample_queues(&mut out, &mut total);
        self.sample_pubsubs(&mut out);
        self.sample_exchanges(&mut out);
        self.sample_buses(&mut out, &mut total);
        for g in 0..self.services.len() {
            self.sample_service(g, &mut out, &mut total);
        }
        self.sample_flows(&mut out);
        if !self.model.sagas.is_empty() {
            self.sample_sagas(&mut out);
        }
        for (metric, v) in [
            (Metric::Produced, total.c.produced),
            (Metric::Processed, total.c.processed),
            (Metric::Duplicates, total.c.duplicates),
            (Metric::OrderingViolations, total.c.ordering_violations),
            (Metric::Lost, total.c.lost),
            (Metric::Expired, total.c.expired),
            (Metric::Retries, total.c.retries),
            (Metric::DeadLettered, total.c.dead_lettered),
            (Metric::Lag, total.lag),
            (Metric::InFlight, total.in_flight),
            (Metric::DlqDepth, total.dlq),
        ] {
            out.count("total", metric, v);
        }
        if !self.model.faults.is_empty() {
            out.count("total", Metric::FaultsActive, self.faults_active);
        }
        if self.model.services.iter().any(|s| s.dedup.is_some()) {
            out.count("total", Metric::DuplicatesSuppressed, total.c.suppressed);
        }
        if self.model.services.iter().any(|s| s.breaker.is_some()) {
            out.count("total", Metric::BreakerOpen, total.breaker_open);
        }
        if self.links.possible {
            out.count("total", Metric::Buffered, total.buffered);
            out.count("total", Metric::PublishLost, total.c.lost_buffer_full);
        }
        if out.record {
            let mut rows = out.rows;
            rows.sort_by(|a, b| a.component.cmp(&b.component).then(a.metric.cmp(b.metric)));
            self.sampler.rows.append(&mut rows);
        }
    }

    fn sample_producers(&mut self, out: &mut Out, total: &mut Totals) {
        for p in 0..self.producers.len() {
            let idx = self.plan.producer_comp as usize + p;
            let d = self.sampler.delta(idx, self.producers[p].c);
            total.c.produced += d.produced;
            let name = &self.plan.component_names[idx];
            out.count(name, Metric::Produced, d.produced);
            out.rate(name, Metric::ThroughputOut, d.produced);
            out.count(name, Metric::Duplicates, d.copies);
            if self.links.possible {
                let held = self.links.outboxes[p].len;
                let lost = d.lost_buffer_full + d.lost_delivery_timeout + d.lost_unconfirmed;
                total.buffered += held;
                total.c.lost_buffer_full += lost;
                out.count(name, Metric::Buffered, held);
                out.count(name, Metric::PublishLost, lost);
            }
        }
    }

    fn sample_topics(&mut self, out: &mut Out, total: &mut Totals) {
        let mut dlq_topics: Vec<usize> = self
            .model
            .services
            .iter()
            .filter_map(|g| g.dead_letter.and_then(Channel::topic))
            .collect();
        dlq_topics.sort_unstable();
        dlq_topics.dedup();
        for t in 0..self.kafka.topics.len() {
            let idx = self.plan.topic_comp as usize + t;
            let d = self.sampler.delta(idx, self.kafka.topics[t].c);
            let (depth, oldest) = self.topic_depth(t);
            if dlq_topics.binary_search(&t).is_ok() {
                total.dlq += depth;
            }
            let name = &self.plan.component_names[idx];
            out.count(name, Metric::Produced, d.produced + d.copies);
            out.rate(name, Metric::ThroughputIn, d.produced + d.copies);
            out.count(name, Metric::QueueDepth, depth);
            out.secs(name, Metric::LagTime, oldest);
            out.count(name, Metric::Expired, d.expired);
        }
    }

    /// Per queue: what came in, the depth by state, the age of the oldest message, and
    /// the receive counters.
    fn sample_queues(&mut self, out: &mut Out, total: &mut Totals) {
        for q in 0..self.sqs.queues.len() {
            if self.is_rabbit(q) {
                self.sample_rabbit_queue(q, out, total);
                continue;
            }
            let idx = self.plan.queue_comp as usize + q;
            let qs = &self.sqs.queues[q];
            let c = Counters {
                // The queue's own receive counters ride in spare fields of the delta.
                delivered: qs.q.receives,
                failures: qs.q.empty_receives,
                retries: qs.q.redeliveries,
                duplicates: qs.q.deduplicated,
                dead_lettered: qs.q.moved_to_dlq,
                ..qs.c
            };
            let d = self.sampler.delta(idx, c);
            let (visible, in_flight, delayed, oldest) = self.queue_gauges(q);
            if self.is_dead_letter_queue(q) {
                total.dlq += visible + in_flight + delayed;
            }
            let name = &self.plan.component_names[idx];
            let spare = [
                Metric::Receives,
                Metric::EmptyReceives,
                Metric::Redeliveries,
                Metric::Deduplicated,
            ];
            queue_rows(out, name, &d, (visible, in_flight, oldest), spare);
            out.count(name, Metric::Delayed, delayed);
            out.count(name, Metric::Expired, d.expired);
        }
    }

    /// A RabbitMQ-like queue: what came in, ready and unacknowledged messages, the age
    /// of the oldest ready one, and what it redelivered, dropped, expired, refused and
    /// dead-lettered.
    fn sample_rabbit_queue(&mut self, q: usize, out: &mut Out, total: &mut Totals) {
        let idx = self.plan.queue_comp as usize + q;
        let Some(st) = self.rabbit.rq.queues[q].as_ref() else {
            return;
        };
        let c = Counters {
            // Its own counters ride in spare fields of the delta.
            delivered: st.r.redelivered,
            failures: st.r.dropped_overflow,
            retries: st.r.expired_ttl,
            duplicates: st.r.rejected_publish,
            dead_lettered: st.r.dead_lettered,
            ..st.c
        };
        let d = self.sampler.delta(idx, c);
        let (ready, unacked, oldest) = self.rabbit_gauges(q);
        if self.is_dead_letter_queue(q) {
            total.dlq += ready + unacked;
        }
        let name = &self.plan.component_names[idx];
        let spare = [
            Metric::Redelivered,
            Metric::DroppedOverflow,
            Metric::ExpiredTtl,
            Metric::RejectedPublish,
        ];
        queue_rows(out, name, &d, (ready, unacked, oldest), spare);
    }

    /// Per pubsub: what was published, routed, filtered out and deduplicated.
    fn sample_pubsubs(&mut self, out: &mut Out) {
        for p in 0..self.pubsub.topics.len() {
            let st = &self.pubsub.topics[p];
            let c = Counters {
                // Its own counters ride in spare fields of the delta.
                delivered: st.p.routed,
                failures: st.p.filtered_out,
                duplicates: st.p.deduplicated,
                ..st.c
            };
            let idx = self.plan.pubsub_comp as usize + p;
            self.sample_fan_out(out, idx, c, Metric::FilteredOut, true);
        }
    }

    /// Per exchange: what was published, routed and unroutable.
    fn sample_exchanges(&mut self, out: &mut Out) {
        for x in 0..self.rabbit.exchanges.len() {
            let st = &self.rabbit.exchanges[x];
            let c = Counters {
                // Its own counters ride in spare fields of the delta.
                delivered: st.x.routed,
                failures: st.x.unroutable,
                ..st.c
            };
            let idx = self.plan.exchange_comp as usize + x;
            self.sample_fan_out(out, idx, c, Metric::Unroutable, false);
        }
    }

    /// Per bus: events in, matched, unmatched, routed, failed deliveries, retries
    /// waiting, dead letters, losses, the archive and replays; per rule (`bus/rule`):
    /// matched, routed, failed, dead-lettered and lost. A bus's dead letters and
    /// losses count in the totals.
    fn sample_buses(&mut self, out: &mut Out, total: &mut Totals) {
        for b in 0..self.bus.buses.len() {
            let st = &self.bus.buses[b];
            let c = Counters {
                // Its own counters ride in spare fields of the delta.
                produced: st.c.produced + st.c.copies + st.b.replayed,
                processed: st.b.matched,
                failures: st.b.unmatched,
                delivered: st.b.delivered,
                retries: st.b.failed_invocations,
                dead_lettered: st.b.dead_lettered,
                lost: st.b.lost,
                duplicates: st.b.replayed,
                ..Counters::default()
            };
            let (retrying, archived) = (st.retrying, self.bus_archive_len(b));
            let idx = self.plan.bus_comp as usize + b;
            let d = self.sampler.delta(idx, c);
            total.c.dead_lettered += d.dead_lettered;
            total.c.lost += d.lost;
            if !out.record {
                self.bus.sync_rules(b);
                continue;
            }
            let name = &self.plan.component_names[idx];
            out.count(name, Metric::Produced, d.produced);
            out.rate(name, Metric::ThroughputIn, d.produced);
            out.count(name, Metric::Matched, d.processed);
            out.count(name, Metric::Unmatched, d.failures);
            out.count(name, Metric::Routed, d.delivered);
            out.count(name, Metric::FailedInvocations, d.retries);
            out.count(name, Metric::Retrying, retrying);
            out.count(name, Metric::DeadLettered, d.dead_lettered);
            out.count(name, Metric::Lost, d.lost);
            if self.model.buses[b].archive.is_some() {
                out.count(name, Metric::Archived, archived);
                out.count(name, Metric::Replayed, d.duplicates);
            }
            let rules = self.bus.rule_deltas(b);
            for (r, d) in rules.iter().enumerate() {
                let name = &self.plan.rule_names[b][r];
                out.count(name, Metric::Matched, d.matched);
                out.count(name, Metric::Routed, d.delivered);
                out.count(name, Metric::FailedInvocations, d.failed_invocations);
                out.count(name, Metric::DeadLettered, d.dead_lettered);
                out.count(name, Metric::Lost, d.lost);
            }
        }
    }

    /// The rows of a broker that stores nothing and copies each publish to its
    /// endpoints (a pubsub, an exchange): publishes in, copies routed (`delivered`),
    /// publishes taken by none (`failures`, as `untaken`), and duplicates dropped.
    fn sample_fan_out(
        &mut self,
        out: &mut Out,
        idx: usize,
        c: Counters,
        untaken: Metric,
        dedup: bool,
    ) {
        let d = self.sampler.delta(idx, c);
        let name = &self.plan.component_names[idx];
        out.count(name, Metric::Produced, d.produced + d.copies);
        out.rate(name, Metric::ThroughputIn, d.produced + d.copies);
        out.count(name, Metric::Routed, d.delivered);
        out.count(name, untaken, d.failures);
        if dedup {
            out.count(name, Metric::Deduplicated, d.duplicates);
        }
    }

    fn sample_service(&mut self, g: usize, out: &mut Out, total: &mut Totals) {
        let mut c = self.services[g].c;
        c.produced = self.source_produced(g);
        let function = self.model.services[g].source.pubsub().is_some()
            || self.model.services[g].source.bus().is_some();
        if function {
            // A service counts no copies of its own: the field carries throttles.
            c.copies = self.pubsub.fns[g].throttled;
        }
        let idx = self.plan.service_comp as usize + g;
        let d = self.sampler.delta(idx, c);
        let (lag, lag_time, per) = self.service_backlog(g);
        let dlq_depth = self.dlq_depth(g);
        let open = self.breakers_open(g);
        let svc = &mut self.services[g];
        svc.max_lag = svc.max_lag.max(lag);
        svc.max_lag_time_ns = svc.max_lag_time_ns.max(lag_time);
        if d.delivered as f64 / out.interval_s > svc.peak_attempts.0 {
            svc.peak_attempts = (
                d.delivered as f64 / out.interval_s,
                d.produced as f64 / out.interval_s,
                d.retries as f64 / out.interval_s,
            );
        }
        let in_flight = u64::from(svc.running);
        total.lag += lag;
        total.in_flight += in_flight;
        for (field, v) in [
            (&mut total.c.processed, d.processed),
            (&mut total.c.duplicates, d.duplicates),
            (&mut total.c.ordering_violations, d.ordering_violations),
            (&mut total.c.lost, d.lost),
            (&mut total.c.expired, d.expired),
            (&mut total.c.retries, d.retries),
            (&mut total.c.dead_lettered, d.dead_lettered),
            (&mut total.c.delivered, d.delivered),
            (&mut total.c.suppressed, d.suppressed),
            (
                &mut total.c.lost_buffer_full,
                d.lost_buffer_full + d.lost_delivery_timeout,
            ),
        ] {
            *field += v;
        }
        let held = self.links.outboxes[self.model.producers.len() + g].len;
        total.buffered += held;
        total.breaker_open += open;
        let rate_out = d.processed as f64 / out.interval_s;
        let drain = if lag == 0 {
            0.0
        } else if d.processed == 0 {
            f64::INFINITY
        } else {
            lag as f64 / rate_out
        };
        let lat = &svc.lat_interval;
        let lat_rows = (out.record && lat.count() > 0).then(|| {
            [
                (Metric::LatencyMean, lat.mean_ns()),
                (Metric::LatencyP50, lat.percentile_ns(50.0) as f64),
                (Metric::LatencyP95, lat.percentile_ns(95.0) as f64),
                (Metric::LatencyP99, lat.percentile_ns(99.0) as f64),
                (Metric::LatencyMax, lat.max_ns() as f64),
            ]
        });
        if svc.lat_interval.count() > 0 {
            svc.lat_run.merge(&svc.lat_interval);
            svc.lat_interval.reset();
        }
        if !out.record {
            return;
        }
        let name = &self.plan.component_names[idx];
        for (metric, v) in [
            (Metric::Produced, d.produced),
            (Metric::Delivered, d.delivered),
            (Metric::Processed, d.processed),
            (Metric::Retries, d.retries),
            (Metric::Duplicates, d.duplicates),
            (Metric::OrderingViolations, d.ordering_violations),
            (Metric::Lost, d.lost),
            (Metric::Expired, d.expired),
            (Metric::DeadLettered, d.dead_lettered),
            (Metric::Lag, lag),
            (Metric::InFlight, in_flight),
            (Metric::DlqDepth, dlq_depth),
        ] {
            out.count(name, metric, v);
        }
        if function {
            out.count(name, Metric::Throttled, d.copies);
        }
        if self.model.services[g].dedup.is_some() {
            out.count(name, Metric::DuplicatesSuppressed, d.suppressed);
        }
        let spec = &self.model.services[g];
        if spec.breaker.is_some() {
            out.count(name, Metric::BreakerOpen, open);
        }
        if self.links.possible && (!spec.emits.is_empty() || spec.dead_letter.is_some()) {
            out.count(name, Metric::Buffered, held);
            out.count(
                name,
                Metric::PublishLost,
                d.lost_buffer_full + d.lost_delivery_timeout,
            );
        }
        out.rate(name, Metric::ThroughputIn, d.produced);
        out.push(name, Metric::ThroughputOut, Value::Real(rate_out));
        out.secs(name, Metric::LagTime, lag_time);
        out.push(name, Metric::DrainTime, Value::Real(drain));
        if let Some(lr) = lat_rows {
            for (metric, ns) in lr {
                out.push(name, metric, Value::Real(ns / 1e6));
            }
        }
        for (p, (lag, age)) in per.iter().enumerate() {
            let pname = format!("{name}/{p}");
            out.count(&pname, Metric::Lag, *lag);
            out.secs(&pname, Metric::LagTime, *age);
        }
    }
}

impl Engine {
    /// Per flow, the end-to-end latencies of the interval's processings (no rows when
    /// there were none), which then join the run's.
    fn sample_flows(&mut self, out: &mut Out) {
        for f in 0..self.flows.len() {
            let flow = &mut self.flows[f];
            let lat = &flow.lat_interval;
            if lat.count() == 0 {
                continue;
            }
            if out.record {
                let name = format!(
                    "{}→{}",
                    self.model.producers[flow.producer as usize].name,
                    self.model.services[flow.service as usize].name
                );
                for (metric, ns) in [
                    (Metric::E2eLatencyMean, lat.mean_ns()),
                    (Metric::E2eLatencyP50, lat.percentile_ns(50.0) as f64),
                    (Metric::E2eLatencyP95, lat.percentile_ns(95.0) as f64),
                    (Metric::E2eLatencyP99, lat.percentile_ns(99.0) as f64),
                    (Metric::E2eLatencyMax, lat.max_ns() as f64),
                ] {
                    out.push(&name, metric, Value::Real(ns / 1e6));
                }
            }
            flow.lat_run.merge(&flow.lat_interval);
            flow.lat_interval.reset();
        }
    }
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
        suppressed: now.suppressed - prev.suppressed,
        lost_buffer_full: now.lost_buffer_full - prev.lost_buffer_full,
        lost_delivery_timeout: now.lost_delivery_timeout - prev.lost_delivery_timeout,
        nacked: now.nacked - prev.nacked,
        lost_unconfirmed: now.lost_unconfirmed - prev.lost_unconfirmed,
    }
}
