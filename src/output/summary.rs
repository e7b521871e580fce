//! The end-of-run summary: a text table for people, or one JSON object for machines
//! (`--format json`): per component the run's aggregate of each metric, the anomaly
//! counts, the conservation terms, and the first anomaly of each kind explained.

use std::fmt::Write;

use crate::sim::{Engine, Summary};

/// The summary as one JSON object.
pub fn json(engine: &Engine) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        summary: &'a Summary,
        conservation_holds: bool,
        anomalies: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        theory: Vec<Theory>,
    }
    let summary = engine.summary();
    let out = Out {
        conservation_holds: summary.conservation.iter().all(|c| c.holds()),
        anomalies: engine
            .first_anomalies()
            .iter()
            .map(|a| a.explain(engine.model()))
            .collect(),
        summary: &summary,
        theory: theory(engine),
    };
    let mut s =
        serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// A service that is a plain M/M/c queue: Erlang C's prediction beside the run's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Theory {
    /// The service.
    pub service: String,
    /// Servers c (instances × concurrency).
    pub servers: u32,
    /// Utilisation ρ = λ / (c μ).
    pub utilisation: f64,
    /// Erlang C: the probability that a message waits.
    pub wait_probability: f64,
    /// Predicted mean latency (time in system), ms.
    pub predicted_mean_ms: f64,
    /// Simulated mean latency, ms.
    pub simulated_mean_ms: f64,
    /// (simulated − predicted) / predicted.
    pub relative_error: f64,
}

/// The Erlang C predictions for the services that are plain M/M/c queues and processed
/// something.
pub fn theory(engine: &Engine) -> Vec<Theory> {
    let model = engine.model();
    let summary = engine.summary();
    (0..model.services.len())
        .filter_map(|si| {
            let p = crate::capacity::erlang_c_prediction(model, si)?;
            let svc = summary
                .services
                .iter()
                .find(|x| x.name == model.services[si].name)?;
            if svc.counters.processed == 0 {
                return None;
            }
            let predicted = p.mean_latency_s * 1e3;
            Some(Theory {
                service: svc.name.clone(),
                servers: p.servers,
                utilisation: p.utilisation,
                wait_probability: p.wait_probability,
                predicted_mean_ms: predicted,
                simulated_mean_ms: svc.latency_mean_ms,
                relative_error: (svc.latency_mean_ms - predicted) / predicted,
            })
        })
        .collect()
}

/// A text table: the first column left-aligned, the others right-aligned, each column
/// as wide as its widest cell and at least its minimum, so that long component names
/// and large numbers never push a row out of line.
struct Table {
    min: Vec<usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with the header `columns`, each with its minimum width.
    fn new(columns: &[(&str, usize)]) -> Table {
        Table {
            min: columns.iter().map(|(_, w)| *w).collect(),
            rows: vec![columns.iter().map(|(h, _)| h.to_string()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Appends the table to `o`, after a blank line.
    fn write(&self, o: &mut String) {
        let mut widths = self.min.clone();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        o.push('\n');
        for row in &self.rows {
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                let _ = if i == 0 {
                    write!(o, "{cell:<w$}")
                } else {
                    write!(o, " {cell:>w$}")
                };
            }
            o.push('\n');
        }
    }
}

/// A latency for people, in the unit that reads best: seconds from 10 s (`12.4 s`),
/// milliseconds from 1 ms (`4.14 ms`), microseconds below (`850 µs`).
pub fn latency(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

/// A table of the sagas (started, how they ended, durations) and a line per step.
fn sagas_section(o: &mut String, s: &crate::sim::Summary) {
    if s.sagas.is_empty() {
        return;
    }
    o.push('\n');
    let mut t = Table::new(&[
        ("saga", 14),
        ("kind", 13),
        ("started", 8),
        ("completed", 9),
        ("compensated", 11),
        ("failed", 6),
        ("running", 7),
        ("p50", 9),
        ("p99", 9),
    ]);
    for sg in &s.sagas {
        let ended = sg.completed + sg.compensated + sg.failed;
        let shown = |ms: f64| {
            if ended == 0 {
                "-".to_string()
            } else {
                latency(ms)
            }
        };
        t.row(vec![
            sg.name.clone(),
            sg.kind.to_string(),
            sg.started.to_string(),
            sg.completed.to_string(),
            sg.compensated.to_string(),
            sg.failed.to_string(),
            sg.in_progress.to_string(),
            shown(sg.duration_p50_ms),
            shown(sg.duration_p99_ms),
        ]);
    }
    t.write(o);
    for sg in &s.sagas {
        for st in &sg.steps {
            let mut parts = vec![format!("{} done", st.done)];
            if st.failed > 0 {
                parts.push(format!("{} failed", st.failed));
            }
            if st.timeouts > 0 {
                parts.push(format!("{} timed out", st.timeouts));
            }
            if st.compensated > 0 {
                parts.push(format!("{} compensated", st.compensated));
            }
            if st.in_progress + st.compensating > 0 {
                parts.push(format!(
                    "{} at it, {} compensating it at the end",
                    st.in_progress, st.compensating
                ));
            }
            let _ = writeln!(
                o,
                "  {}/{} ({}): {}",
                sg.name,
                st.name,
                st.service,
                parts.join(", ")
            );
        }
        if sg.orphaned > 0 {
            let _ = writeln!(
                o,
                "  {}: {} steps succeeded after their timeout with nothing left to undo them: their effect stays",
                sg.name, sg.orphaned
            );
        }
        if sg.duplicate_starts + sg.duplicate_steps > 0 {
            let _ = writeln!(
                o,
                "  {}: {} steps or compensations ran twice for one saga, {} second starts (participants that are not idempotent)",
                sg.name, sg.duplicate_steps, sg.duplicate_starts
            );
        }
    }
}

/// One line per fault: what it hit, how long it lasted, what it caused; and the
/// publishes lost to outages, per producer and service.
fn faults_section(o: &mut String, s: &crate::sim::Summary) {
    if s.faults.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nfaults: what each caused");
    for f in &s.faults {
        let e = &f.effects;
        let mut parts = Vec::new();
        for (n, one, many) in [
            (e.interrupted, "attempt interrupted", "attempts interrupted"),
            (e.failed, "attempt failed", "attempts failed"),
            (e.delayed, "delayed", "delayed"),
            (e.held, "publish held", "publishes held"),
            (e.dropped, "publish dropped", "publishes dropped"),
            (e.evicted, "member evicted", "members evicted"),
        ] {
            match n {
                0 => {}
                1 => parts.push(format!("1 {one}")),
                n => parts.push(format!("{n} {many}")),
            }
        }
        if parts.is_empty() {
            parts.push("no effect seen".to_string());
        }
        let times = match e.started {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        let _ = writeln!(
            o,
            "  {} {}: {times}, {:.1} s under way; {}",
            f.kind,
            f.target,
            e.active_s,
            parts.join(", ")
        );
    }
    for p in &s.producers {
        if p.lost_buffer_full + p.lost_delivery_timeout + p.buffered > 0 {
            let _ = writeln!(
                o,
                "  {} lost {} sends to a refusing broker ({} buffer full, {} past the delivery timeout), holds {}",
                p.name,
                p.lost_buffer_full + p.lost_delivery_timeout,
                p.lost_buffer_full,
                p.lost_delivery_timeout,
                p.buffered
            );
        }
    }
    for g in &s.services {
        let c = &g.counters;
        if c.lost_buffer_full + c.lost_delivery_timeout > 0 {
            let _ = writeln!(
                o,
                "  {} lost {} publishes to a refusing broker ({} buffer full, {} past the delivery timeout)",
                g.name,
                c.lost_buffer_full + c.lost_delivery_timeout,
                c.lost_buffer_full,
                c.lost_delivery_timeout
            );
        }
    }
}

/// The summary as a text report.
pub fn text(engine: &Engine) -> String {
    let s = engine.summary();
    let m = engine.model();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  simulated {:.3} s  events {}  rebalances {}",
        s.scenario, s.seed, s.time_s, s.events, s.rebalances
    );
    if !s.producers.is_empty() {
        let mut t = Table::new(&[("producer", 18), ("produced", 10), ("copies", 8)]);
        for p in &s.producers {
            t.row(vec![
                p.name.clone(),
                p.produced.to_string(),
                p.copies.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.topics.is_empty() {
        let mut t = Table::new(&[
            ("topic", 18),
            ("appended", 10),
            ("copies", 8),
            ("depth", 10),
            ("oldest s", 10),
            ("expired", 8),
        ]);
        for p in &s.topics {
            t.row(vec![
                p.name.clone(),
                p.appended.to_string(),
                p.copies.to_string(),
                p.queue_depth.to_string(),
                format!("{:.3}", p.oldest_s),
                p.expired.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.queues.is_empty() {
        let mut t = Table::new(&[
            ("queue", 18),
            ("sent", 8),
            ("visible", 7),
            ("flight", 6),
            ("oldest s", 8),
            ("receives", 8),
            ("empty", 6),
            ("redeliv", 7),
            ("dedup", 6),
            ("to dlq", 6),
            ("redrive", 7),
            ("expired", 7),
        ]);
        for q in &s.queues {
            let name = if q.fifo {
                format!("{} (fifo)", q.name)
            } else {
                q.name.clone()
            };
            let c = &q.counters;
            t.row(vec![
                name,
                q.sent.to_string(),
                (q.visible + q.delayed).to_string(),
                q.in_flight.to_string(),
                format!("{:.3}", q.oldest_s),
                c.receives.to_string(),
                c.empty_receives.to_string(),
                c.redeliveries.to_string(),
                c.deduplicated.to_string(),
                c.moved_to_dlq.to_string(),
                c.redriven.to_string(),
                q.expired.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.rabbit_queues.is_empty() {
        let mut t = Table::new(&[
            ("rabbit queue", 18),
            ("type", 7),
            ("sent", 8),
            ("ready", 6),
            ("unacked", 7),
            ("delivered", 9),
            ("redeliv", 7),
            ("requeued", 8),
            ("rejected", 8),
            ("overflow", 8),
            ("refused", 7),
            ("ttl", 6),
            ("limit", 6),
            ("to dlx", 6),
            ("discarded", 9),
        ]);
        for q in &s.rabbit_queues {
            let c = &q.counters;
            t.row(vec![
                q.name.clone(),
                q.kind.to_string(),
                q.sent.to_string(),
                q.ready.to_string(),
                q.unacked.to_string(),
                c.delivered.to_string(),
                c.redelivered.to_string(),
                c.requeued.to_string(),
                c.rejected.to_string(),
                c.dropped_overflow.to_string(),
                c.rejected_publish.to_string(),
                c.expired_ttl.to_string(),
                c.delivery_limit.to_string(),
                c.dead_lettered.to_string(),
                c.discarded.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    for p in &s.producers {
        if p.nacked + p.lost_unconfirmed > 0 {
            let _ = writeln!(
                o,
                "{} had {} publishes refused by a RabbitMQ-like broker: {} nacked to it (publisher confirms), {} lost without its knowing (no confirms)\n",
                p.name,
                p.nacked + p.lost_unconfirmed,
                p.nacked,
                p.lost_unconfirmed
            );
        }
    }
    if !s.pubsubs.is_empty() {
        let mut t = Table::new(&[
            ("pubsub", 18),
            ("published", 9),
            ("routed", 8),
            ("filtered", 8),
            ("unrouted", 9),
            ("dedup", 6),
        ]);
        for p in &s.pubsubs {
            let name = if p.fifo {
                format!("{} (fifo)", p.name)
            } else {
                p.name.clone()
            };
            let c = &p.counters;
            t.row(vec![
                name,
                p.published.to_string(),
                c.routed.to_string(),
                c.filtered.to_string(),
                c.filtered_out.to_string(),
                c.deduplicated.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.exchanges.is_empty() {
        let mut t = Table::new(&[
            ("exchange", 18),
            ("kind", 7),
            ("published", 9),
            ("received", 8),
            ("routed", 8),
            ("unroutable", 10),
            ("alternate", 9),
        ]);
        for x in &s.exchanges {
            let c = &x.counters;
            t.row(vec![
                x.name.clone(),
                x.kind.to_string(),
                x.published.to_string(),
                c.received.to_string(),
                c.routed.to_string(),
                c.unroutable.to_string(),
                c.via_alternate.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.comparison.is_empty() {
        let mut t = Table::new(&[
            ("compare", 14),
            ("broker", 30),
            ("processed/s", 11),
            ("p99 ms", 9),
            ("order", 6),
            ("dups", 6),
            ("dlq", 6),
            ("lost", 6),
        ]);
        for r in &s.comparison {
            t.row(vec![
                r.name.clone(),
                r.broker.clone(),
                format!("{:.1}", r.processed_per_s),
                format!("{:.1}", r.latency_p99_ms),
                r.ordering_violations.to_string(),
                r.duplicates.to_string(),
                r.dlq_depth.to_string(),
                r.lost.to_string(),
            ]);
        }
        t.write(&mut o);
    }
    if !s.buses.is_empty() {
        let mut t = Table::new(&[
            ("bus / rule", 22),
            ("received", 8),
            ("matched", 8),
            ("unmatched", 9),
            ("delivered", 9),
            ("failed", 7),
            ("retrying", 8),
            ("to dlq", 7),
            ("lost", 6),
            ("replayed", 8),
        ]);
        for b in &s.buses {
            let c = &b.counters;
            t.row(vec![
                b.name.clone(),
                (b.received + c.replayed).to_string(),
                c.matched.to_string(),
                c.unmatched.to_string(),
                c.delivered.to_string(),
                c.failed_invocations.to_string(),
                b.retrying.to_string(),
                c.dead_lettered.to_string(),
                c.lost.to_string(),
                c.replayed.to_string(),
            ]);
            for r in &b.rules {
                let c = &r.counters;
                t.row(vec![
                    format!("  {}", r.name),
                    "-".to_string(),
                    c.matched.to_string(),
                    "-".to_string(),
                    c.delivered.to_string(),
                    c.failed_invocations.to_string(),
                    "-".to_string(),
                    c.dead_lettered.to_string(),
                    c.lost.to_string(),
                    "-".to_string(),
                ]);
            }
        }
        t.write(&mut o);
        for b in &s.buses {
            let c = &b.counters;
            let _ = writeln!(
                o,
                "bus {}: sent {} = delivered {} + dead-lettered {} + lost {} + retrying {}  {}{}",
                b.name,
                c.sent,
                c.delivered,
                c.dead_lettered,
                c.lost,
                b.retrying,
                if b.conserved() {
                    "holds"
                } else {
                    "DOES NOT HOLD"
                },
                {
                    let mut extra = String::new();
                    if c.lost > 0 {
                        extra += &format!(
                            "; lost: {} past max_attempts, {} past max_age ({} refused by the dead-letter queue too)",
                            c.lost_attempts, c.lost_age, c.lost_dlq
                        );
                    }
                    if let Some(a) = b.archive {
                        extra += &format!(
                            "; archive holds {a} of {} events, {} replayed",
                            c.archived, c.replayed
                        );
                    }
                    extra
                },
            );
        }
    }
    if !s.services.is_empty() {
        // `dead-lettered` counts the moves, `dlq depth` is what the dead-letter topic or
        // queue holds at the end: the TUI's `dlq`.
        let mut t = Table::new(&[
            ("consumer", 14),
            ("produced", 9),
            ("processed", 9),
            ("dups", 7),
            ("order", 6),
            ("lost", 6),
            ("dead-lettered", 6),
            ("dlq depth", 6),
            ("retries", 7),
            ("max lag", 8),
        ]);
        for (g, svc) in s.services.iter().enumerate() {
            let c = &svc.counters;
            let has_dlq = m.services.get(g).is_some_and(|spec| {
                spec.dead_letter.is_some()
                    || spec
                        .source
                        .queue()
                        .and_then(|q| m.queues.get(q))
                        .is_some_and(|q| {
                            q.redrive.is_some()
                                || q.rabbit
                                    .as_ref()
                                    .is_some_and(|r| r.dead_letter_exchange.is_some())
                        })
            });
            t.row(vec![
                svc.name.clone(),
                c.produced.to_string(),
                c.processed.to_string(),
                c.duplicates.to_string(),
                c.ordering_violations.to_string(),
                c.lost.to_string(),
                c.dead_lettered.to_string(),
                if has_dlq {
                    svc.dlq_depth.to_string()
                } else {
                    "-".to_string()
                },
                c.retries.to_string(),
                svc.max_lag.to_string(),
            ]);
        }
        t.write(&mut o);
        retry_load(&mut o, &s);
        for svc in &s.services {
            let Some(b) = &svc.breaker else {
                continue;
            };
            let _ = writeln!(
                o,
                "{}'s circuit breakers opened {} times, {:.1} instance-seconds open, {} attempts failed fast, {} open now",
                svc.name, b.opened, b.open_s, b.rejected, b.open_now
            );
        }
        for (g, svc) in s.services.iter().enumerate() {
            let Some(window) = m.services.get(g).and_then(|spec| spec.dedup) else {
                continue;
            };
            let _ = writeln!(
                o,
                "{} is idempotent: its dedup store ({}) suppressed {} second deliveries",
                svc.name,
                match window {
                    Some(w) => format!("window {w}"),
                    None => "for the whole run".to_string(),
                },
                svc.counters.suppressed
            );
        }
        let mut t = Table::new(&[
            ("latency", 14),
            ("mean", 9),
            ("p50", 8),
            ("p95", 8),
            ("p99", 9),
            ("max", 9),
            ("lag", 8),
            ("lag s", 8),
        ]);
        for svc in &s.services {
            let shown = |ms: f64| {
                if svc.counters.processed == 0 {
                    "-".to_string()
                } else {
                    latency(ms)
                }
            };
            t.row(vec![
                svc.name.clone(),
                shown(svc.latency_mean_ms),
                shown(svc.latency_p50_ms),
                shown(svc.latency_p95_ms),
                shown(svc.latency_p99_ms),
                shown(svc.latency_max_ms),
                svc.lag.to_string(),
                format!("{:.3}", svc.lag_time_s),
            ]);
        }
        t.write(&mut o);
        let predicted = theory(engine);
        if !predicted.is_empty() {
            o.push('\n');
        }
        for th in &predicted {
            let _ = writeln!(
                o,
                "theory: {} is an M/M/{} queue at utilisation {:.3}: Erlang C predicts a mean latency of {} (P(wait) {:.3}); simulated {} ({:+.2}%)",
                th.service,
                th.servers,
                th.utilisation,
                latency(th.predicted_mean_ms),
                th.wait_probability,
                latency(th.simulated_mean_ms),
                th.relative_error * 100.0
            );
        }
        if !s.throttled.is_empty() {
            o.push('\n');
        }
        for (name, n) in &s.throttled {
            let _ = writeln!(
                o,
                "function {name}: {n} events throttled (waited for a free invocation)"
            );
        }
    }
    flows_section(&mut o, &s);
    faults_section(&mut o, &s);
    sagas_section(&mut o, &s);
    if !s.conservation.is_empty() {
        let _ = writeln!(
            o,
            "\nconservation: produced = processed once + dead-lettered + pending + lost + expired"
        );
        let w = s
            .conservation
            .iter()
            .map(|c| c.service.chars().count())
            .max()
            .unwrap_or(0)
            .max(14);
        for c in &s.conservation {
            let _ = writeln!(
                o,
                "  {:<w$} {} = {} + {} + {} + {} + {}  {}, duplicates apart: {}",
                c.service,
                c.produced,
                c.processed_once,
                c.dead_lettered,
                c.pending,
                c.lost,
                c.expired,
                if c.holds() { "holds" } else { "VIOLATED" },
                c.duplicates
            );
            if c.pending != c.ledger_pending {
                let _ = writeln!(
                    o,
                    "  {:<w$} the broker holds {} pending, the ledger counts {}",
                    "", c.pending, c.ledger_pending
                );
            }
        }
    }
    let firsts = engine.first_anomalies();
    if !firsts.is_empty() {
        let _ = writeln!(o, "\nfirst anomalies:");
        for a in firsts {
            // "what happened, to which message" on one line, "why" on the next.
            let text = a.explain(engine.model());
            match text.split_once("), ") {
                Some((what, why)) => {
                    let _ = writeln!(o, "  {what})\n      {why}");
                }
                None => {
                    let _ = writeln!(o, "  {text}");
                }
            }
        }
    }
    o
}

/// The end-to-end latency of each flow (first produce to processed by a service behind
/// another), one row per `producer→consumer`; nothing when there is no flow.
fn flows_section(o: &mut String, s: &Summary) {
    if s.flows.is_empty() {
        return;
    }
    let mut t = Table::new(&[
        ("end to end", 14),
        ("processed", 9),
        ("mean", 9),
        ("p50", 8),
        ("p95", 8),
        ("p99", 9),
        ("max", 9),
    ]);
    for f in &s.flows {
        t.row(vec![
            f.component(),
            f.processed.to_string(),
            latency(f.latency_mean_ms),
            latency(f.latency_p50_ms),
            latency(f.latency_p95_ms),
            latency(f.latency_p99_ms),
            latency(f.latency_max_ms),
        ]);
    }
    t.write(o);
}

/// A line per service whose busiest interval started at least twice as many attempts
/// as messages arrived in it, at least half of them retries (a retry storm shows as a
/// large multiple; a backlog drained after an outage does not count): attempts per
/// message over the run, and that interval's rates.
fn retry_load(o: &mut String, s: &Summary) {
    for svc in &s.services {
        let c = &svc.counters;
        let (attempts, arrivals) = (svc.peak_attempts_per_s, svc.peak_arrivals_per_s);
        if c.produced == 0
            || attempts < 2.0 * arrivals.max(1.0)
            || svc.peak_retries_per_s < attempts / 2.0
        {
            continue;
        }
        let _ = writeln!(
            o,
            "{}'s load: {} attempts for {} messages ({:.2} per message); busiest interval {:.0} attempts/s for {:.0} arriving ({:.1}x), {:.0} retries/s",
            svc.name,
            c.delivered,
            c.produced,
            c.delivered as f64 / c.produced as f64,
            attempts,
            arrivals,
            attempts / arrivals.max(1.0),
            svc.peak_retries_per_s,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(latency(12_400.0), "12.4 s");
        assert_eq!(latency(10_000.0), "10.0 s");
        assert_eq!(latency(9_999.0), "9999.00 ms");
        assert_eq!(latency(4.14), "4.14 ms");
        assert_eq!(latency(0.85), "850 µs");
    }

    #[test]
    fn columns_fit_their_widest_cell() {
        let mut t = Table::new(&[("consumer", 4), ("n", 3)]);
        t.row(vec!["a-name-longer-than-fourteen".into(), "1".into()]);
        t.row(vec!["b".into(), "123456".into()]);
        let mut o = String::new();
        t.write(&mut o);
        assert_eq!(
            o,
            "\nconsumer                         n\n\
             a-name-longer-than-fourteen      1\n\
             b                           123456\n"
        );
    }
}
