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
    };
    let mut s =
        serde_json::to_string_pretty(&out).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// The summary as a text report.
pub fn text(engine: &Engine) -> String {
    let s = engine.summary();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  simulated {:.3} s  events {}  rebalances {}",
        s.scenario, s.seed, s.time_s, s.events, s.rebalances
    );
    if !s.producers.is_empty() {
        let _ = writeln!(o, "\n{:<18} {:>10} {:>8}", "producer", "produced", "copies");
        for p in &s.producers {
            let _ = writeln!(o, "{:<18} {:>10} {:>8}", p.name, p.produced, p.copies);
        }
    }
    if !s.topics.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<18} {:>10} {:>8} {:>10} {:>10} {:>8}",
            "topic", "appended", "copies", "depth", "oldest s", "expired"
        );
        for t in &s.topics {
            let _ = writeln!(
                o,
                "{:<18} {:>10} {:>8} {:>10} {:>10.3} {:>8}",
                t.name, t.appended, t.copies, t.queue_depth, t.oldest_s, t.expired
            );
        }
    }
    if !s.queues.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<18} {:>8} {:>7} {:>6} {:>8} {:>8} {:>6} {:>7} {:>6} {:>6} {:>7} {:>7}",
            "queue",
            "sent",
            "visible",
            "flight",
            "oldest s",
            "receives",
            "empty",
            "redeliv",
            "dedup",
            "to dlq",
            "redrive",
            "expired"
        );
        for q in &s.queues {
            let name = if q.fifo {
                format!("{} (fifo)", q.name)
            } else {
                q.name.clone()
            };
            let c = &q.counters;
            let _ = writeln!(
                o,
                "{:<18} {:>8} {:>7} {:>6} {:>8.3} {:>8} {:>6} {:>7} {:>6} {:>6} {:>7} {:>7}",
                name,
                q.sent,
                q.visible + q.delayed,
                q.in_flight,
                q.oldest_s,
                c.receives,
                c.empty_receives,
                c.redeliveries,
                c.deduplicated,
                c.moved_to_dlq,
                c.redriven,
                q.expired
            );
        }
    }
    if !s.pubsubs.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<18} {:>9} {:>8} {:>8} {:>9} {:>6}",
            "pubsub", "published", "routed", "filtered", "unrouted", "dedup"
        );
        for p in &s.pubsubs {
            let name = if p.fifo {
                format!("{} (fifo)", p.name)
            } else {
                p.name.clone()
            };
            let c = &p.counters;
            let _ = writeln!(
                o,
                "{:<18} {:>9} {:>8} {:>8} {:>9} {:>6}",
                name, p.published, c.routed, c.filtered, c.filtered_out, c.deduplicated
            );
        }
    }
    if !s.services.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<14} {:>9} {:>9} {:>7} {:>6} {:>6} {:>6} {:>7} {:>8}",
            "consumer",
            "produced",
            "processed",
            "dups",
            "order",
            "lost",
            "dlq",
            "retries",
            "max lag"
        );
        for svc in &s.services {
            let c = &svc.counters;
            let _ = writeln!(
                o,
                "{:<14} {:>9} {:>9} {:>7} {:>6} {:>6} {:>6} {:>7} {:>8}",
                svc.name,
                c.produced,
                c.processed,
                c.duplicates,
                c.ordering_violations,
                c.lost,
                c.dead_lettered,
                c.retries,
                svc.max_lag
            );
        }
        let _ = writeln!(
            o,
            "\n{:<14} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8}",
            "latency ms", "mean", "p50", "p95", "p99", "max", "lag", "lag s"
        );
        for svc in &s.services {
            let _ = writeln!(
                o,
                "{:<14} {:>9.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>8} {:>8.3}",
                svc.name,
                svc.latency_mean_ms,
                svc.latency_p50_ms,
                svc.latency_p95_ms,
                svc.latency_p99_ms,
                svc.latency_max_ms,
                svc.lag,
                svc.lag_time_s
            );
        }
        for (name, n) in &s.throttled {
            let _ = writeln!(
                o,
                "\nfunction {name}: {n} events throttled (waited for a free invocation)"
            );
        }
    }
    flows_section(&mut o, &s);
    if !s.conservation.is_empty() {
        let _ = writeln!(
            o,
            "\nconservation: produced = processed once + dlq + pending + lost + expired"
        );
        for c in &s.conservation {
            let _ = writeln!(
                o,
                "  {:<14} {} = {} + {} + {} + {} + {}  {}, duplicates apart: {}",
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
                    "  {:<14} the broker holds {} pending, the ledger counts {}",
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
    let rows: Vec<(String, &crate::sim::FlowSummary)> =
        s.flows.iter().map(|f| (f.component(), f)).collect();
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("end to end ms".len());
    let _ = writeln!(
        o,
        "\n{:<width$} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9}",
        "end to end ms", "processed", "mean", "p50", "p95", "p99", "max"
    );
    for (name, f) in rows {
        let pad = width - name.chars().count();
        let _ = writeln!(
            o,
            "{name}{:pad$} {:>9} {:>9.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2}",
            "",
            f.processed,
            f.latency_mean_ms,
            f.latency_p50_ms,
            f.latency_p95_ms,
            f.latency_p99_ms,
            f.latency_max_ms
        );
    }
}
