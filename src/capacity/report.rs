//! The capacity analysis in words and as data: the warnings, the lines `edasim check`
//! prints after the topology, the lines of one node for the TUI's inspector, and the
//! JSON of `edasim check --format json`.
//!
//! `check --format json` prints one object:
//!
//! ```text
//! { "scenario":  { "name", "seed", "duration_s", "metrics_interval_s" },
//!   "topology":  { "producers": [...], "topics": [...], "queues": [...],
//!                  "pubsubs": [...], "exchanges": [...], "services": [...],
//!                  "faults": [...] },
//!   "capacity":  [ { "service", "source", "instances", "concurrency",
//!                    "usable_instances", "idle_instances", "slots", "limit",
//!                    "mean_processing_ms", "attempts_per_message",
//!                    "capacity_per_second", "capacity_messages_per_second",
//!                    "offered": [ { "from_s", "until_s", "per_second" } ],
//!                    "peak": { "from_s", "offered_per_second", "utilisation" },
//!                    "backlogs": [ { "from_s", "peak_s", "peak_messages", "drain_s" } ],
//!                    "filtered", "erlang_c" } ],
//!   "warnings":  [ { "kind", "service", "channel", "message" } ] }
//! ```
//!
//! Rates are messages per second, times seconds. A number JSON cannot hold (an infinite
//! rate or utilisation, an infinite mean) is `null`; `drain_s` is `null` when the
//! backlog never drains.

use serde_json::{Value, json};

use super::{Analysis, Limit, ServiceLoad, Warning, WarningKind};
use crate::model::{Channel, Model, ProcessingModel, ServiceIdx, SubTarget};
use crate::time::SimDuration;

/// A rate or count in few characters: 0.5, 250, 1.2k, 12.5k, 10M.
pub(crate) fn num(v: f64) -> String {
    if v.is_nan() {
        return "?".to_string();
    }
    if v.is_infinite() {
        return "unbounded".to_string();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e12 {
        format!("{v:.2e}")
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.3}"))
    }
}

/// A length of time in seconds, in a unit that keeps it short.
pub(crate) fn secs(s: f64) -> String {
    if !s.is_finite() {
        return "forever".to_string();
    }
    let one = |v: f64, unit: &str| {
        let t = format!("{v:.1}");
        format!("{}{unit}", t.strip_suffix(".0").unwrap_or(&t))
    };
    if s < 1e-3 {
        one(s * 1e6, "us")
    } else if s < 1.0 {
        one(s * 1e3, "ms")
    } else if s < 120.0 {
        one(s, "s")
    } else if s < 7_200.0 {
        one(s / 60.0, "min")
    } else if s < 172_800.0 {
        one(s / 3_600.0, "h")
    } else {
        one(s / 86_400.0, "d")
    }
}

fn at(ns: u64) -> String {
    SimDuration(ns).to_string()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "3 instances × concurrency 2" (or "max concurrency 10" for a function).
fn slots_phrase(model: &Model, s: &ServiceLoad) -> String {
    if model.services[s.service].function.is_some() {
        format!("max concurrency {}", s.instances)
    } else {
        format!(
            "{} × concurrency {}",
            plural(u64::from(s.instances), "instance", "instances"),
            s.concurrency
        )
    }
}

/// Offered load per phase: "200 msg/s, 5k from 60s, 200 from 3m".
fn offered_phrase(a: &Analysis, s: &ServiceLoad) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut last: Option<f64> = None;
    for (i, v) in s.offered.iter().enumerate() {
        if last.is_some_and(|l| super::relative(l, *v) < 1e-9) {
            continue;
        }
        let from = a.segments.get(i).map_or(0, |x| x.0);
        parts.push(if i == 0 {
            if v.is_infinite() {
                "unbounded (a loop)".to_string()
            } else {
                format!("{} msg/s", num(*v))
            }
        } else {
            format!("{} from {}", num(*v), at(from))
        });
        last = Some(*v);
        if parts.len() == 6 {
            parts.push("...".to_string());
            break;
        }
    }
    parts.join(", ")
}

fn mean_phrase(model: &Model, s: &ServiceLoad) -> String {
    match s.mean_processing_s {
        Some(0.0) => "zero processing time".to_string(),
        Some(m) => format!("mean processing {}", secs(m)),
        None => match model.services[s.service].processing {
            ProcessingModel::Pareto { shape, .. } => {
                format!("pareto shape {} (infinite mean)", num(shape))
            }
            _ => "infinite mean processing".to_string(),
        },
    }
}

fn backlog_phrase(b: &super::Backlog) -> String {
    let drain = match b.drain_s {
        Some(d) => format!("drains {} later", secs(d)),
        None => "never drains (the later load is over capacity too)".to_string(),
    };
    format!(
        "backlog of {} messages from {} to {}, {drain}",
        num(b.peak_messages),
        at(b.from_ns),
        at(b.peak_ns)
    )
}

/// The lines of one service: sizing, load, peak and backlogs.
fn service_lines(model: &Model, a: &Analysis, s: &ServiceLoad) -> Vec<String> {
    let svc = &model.services[s.service];
    let limit = match s.limit {
        Limit::Slots => String::new(),
        Limit::Partitions(p) => format!(
            ", {} usable",
            plural(u64::from(p), "partition", "partitions")
        ),
        Limit::Groups(g) => format!(", {} usable", plural(g, "message group", "message groups")),
        Limit::Keys(k) => format!(
            ", {} usable (one at a time per key)",
            plural(k, "key", "keys")
        ),
    };
    let retries = if s.attempts_per_message > 1.0 + 1e-9 {
        format!(", {} attempts per message", num(s.attempts_per_message))
    } else {
        String::new()
    };
    let mut lines = vec![
        format!(
            "{} <- {} {}: {}{limit}, {}{retries}",
            svc.name,
            svc.source.kind(),
            svc.source.name(model),
            slots_phrase(model, s),
            mean_phrase(model, s)
        ),
        format!(
            "  capacity {}; offered {}{}",
            if s.capacity_messages_per_second.is_infinite() {
                "unbounded".to_string()
            } else {
                format!("{} msg/s", num(s.capacity_messages_per_second))
            },
            offered_phrase(a, s),
            if s.filtered {
                " (filter policies counted as matching every message)"
            } else {
                ""
            }
        ),
    ];
    // Unbounded load on unbounded capacity (a zero-time loop) has no utilisation.
    if !s.peak_utilisation.is_nan() {
        lines.push(format!(
            "  peak utilisation {} at {}{}",
            num(s.peak_utilisation),
            at(a.segments.get(s.peak_segment).map_or(0, |x| x.0)),
            if s.peak_utilisation >= 1.0 {
                " (over capacity)"
            } else {
                ""
            }
        ));
    }
    if let Some(p) = super::erlang_c_prediction(model, s.service) {
        lines.push(format!(
            "  M/M/{} queue: Erlang C predicts a mean wait of {} and a mean latency of {}",
            p.servers,
            secs(p.mean_wait_s),
            secs(p.mean_latency_s)
        ));
    }
    let rabbit = svc
        .source
        .queue()
        .and_then(|q| model.queues.get(q))
        .and_then(|q| q.rabbit.as_ref());
    for b in &s.backlogs {
        lines.push(format!("  {}", backlog_phrase(b)));
        if let Some(r) = rabbit {
            lines.extend(rabbit_backlog_lines(r, b, s.capacity_messages_per_second));
        }
    }
    lines
}

/// What a RabbitMQ-like queue's length limit and message TTL make of a backlog: the
/// part beyond `max_length` is dropped or refused, and a message that waits longer
/// than the TTL (the backlog over the capacity) expires.
fn rabbit_backlog_lines(
    r: &crate::model::RabbitQueueModel,
    b: &super::Backlog,
    capacity: f64,
) -> Vec<String> {
    use crate::broker::rabbit::queue::Overflow;
    let mut lines = Vec::new();
    if let Some(max) = r.config.max_length
        && b.peak_messages > max as f64
    {
        let over = b.peak_messages - max as f64;
        let what = match r.config.overflow {
            Overflow::DropHead => "dropped, the oldest first (drop-head)",
            Overflow::RejectPublish => "refused as they arrive (reject-publish)",
            Overflow::RejectPublishDlx => "refused and dead-lettered (reject-publish-dlx)",
        };
        lines.push(format!(
            "  max_length {} caps it: about {} messages {what}",
            num(max as f64),
            num(over)
        ));
    }
    if let Some(ttl) = r.config.message_ttl
        && capacity > 0.0
        && b.peak_messages / capacity > ttl as f64 / 1e9
    {
        lines.push(format!(
            "  message_ttl {}: at its peak a message would wait about {}, so what waits beyond about {} messages expires",
            crate::time::SimDuration(ttl),
            secs(b.peak_messages / capacity),
            num(capacity * ttl as f64 / 1e9)
        ));
    }
    lines
}

/// The text `edasim check` prints after the topology: a capacity block per service,
/// then the warnings (which do not change the exit code).
pub fn text(model: &Model, a: &Analysis) -> String {
    let mut o = String::new();
    if !a.services.is_empty() {
        o.push_str("capacity (from the model alone, before running):\n");
        for s in &a.services {
            for l in service_lines(model, a, s) {
                o.push_str("  ");
                o.push_str(&l);
                o.push('\n');
            }
        }
    }
    if a.warnings.is_empty() {
        o.push_str("no capacity warnings\n");
    } else {
        o.push_str(&format!(
            "{}:\n",
            plural(a.warnings.len() as u64, "warning", "warnings")
        ));
        for w in &a.warnings {
            o.push_str(&format!("  warning: {}\n", w.message));
        }
    }
    o
}

/// The capacity lines and warnings of the component named `name` (a service, topic,
/// queue or pubsub), for the TUI's inspector; empty for a producer or an unknown name.
pub fn node_lines(model: &Model, a: &Analysis, name: &str) -> Vec<String> {
    if let Some(g) = model.services.iter().position(|s| s.name == name) {
        let mut lines = a
            .services
            .get(g)
            .map(|s| service_lines(model, a, s))
            .unwrap_or_default();
        lines.extend(
            a.warnings
                .iter()
                .filter(|w| w.service == g)
                .map(|w| format!("warning: {}", w.message)),
        );
        return lines;
    }
    let Some((c, load)) = a.channels.iter().find(|(c, _)| c.name(model) == name) else {
        return Vec::new();
    };
    let peak = load.iter().copied().fold(0.0, f64::max);
    let mut lines = vec![format!("offered up to {} msg/s", num(peak))];
    lines.extend(
        a.warnings
            .iter()
            .filter(|w| w.channel == Some(*c))
            .map(|w| format!("warning: {}", w.message)),
    );
    lines
}

/// Every warning of the analysis, services in order.
pub(super) fn warnings(model: &Model, a: &Analysis, loops: &[Vec<ServiceIdx>]) -> Vec<Warning> {
    let mut out = Vec::new();
    for s in &a.services {
        let g = s.service;
        let svc = &model.services[g];
        let name = &svc.name;
        let source = svc.source.name(model);
        if let ProcessingModel::Pareto { shape, .. } = svc.processing
            && shape <= 1.0
        {
            out.push(Warning {
                kind: WarningKind::InfiniteMean,
                service: g,
                channel: None,
                message: format!(
                    "`{name}` has a pareto processing time with shape {} (at most 1): its mean is infinite, so no number of instances keeps up in the long run; use a shape above 1",
                    num(shape)
                ),
            });
        } else if s.peak_utilisation >= 1.0 {
            let from = a.segments.get(s.peak_segment).map_or(0, |x| x.0);
            let backlog = s
                .backlogs
                .iter()
                .max_by(|x, y| x.peak_messages.total_cmp(&y.peak_messages))
                .map(|b| format!("; {}", backlog_phrase(b)))
                .unwrap_or_default();
            out.push(Warning {
                kind: WarningKind::OverCapacity,
                service: g,
                channel: None,
                message: format!(
                    "`{name}` cannot keep up at its peak: {} msg/s offered from {} against a capacity of {} msg/s ({}, {}): utilisation {}{backlog}",
                    num(s.peak_offered()),
                    at(from),
                    num(s.capacity_messages_per_second),
                    slots_phrase(model, s),
                    mean_phrase(model, s),
                    num(s.peak_utilisation)
                ),
            });
        }
        if s.idle_instances > 0 {
            let idle = plural(u64::from(s.idle_instances), "instance", "instances");
            let message = match svc.source {
                Channel::Topic(t) => format!(
                    "`{name}` has {} and `{source}` has {}: {idle} get no partition and stay idle",
                    plural(u64::from(s.instances), "instance", "instances"),
                    plural(
                        u64::from(model.topics[t].partitions),
                        "partition",
                        "partitions"
                    )
                ),
                _ => format!(
                    "`{name}` has {} and the FIFO queue `{source}` has {}: at most {} in flight, so {idle} stay idle",
                    slots_phrase(model, s),
                    plural(s.slots, "message group", "message groups"),
                    plural(s.slots, "message is", "messages are")
                ),
            };
            out.push(Warning {
                kind: WarningKind::IdleInstances,
                service: g,
                channel: Some(svc.source),
                message,
            });
        }
        if let Some(l) = loops.iter().find(|l| l.first() == Some(&g)) {
            out.push(loop_warning(model, s, l));
        }
    }
    out
}

fn loop_warning(model: &Model, s: &ServiceLoad, members: &[ServiceIdx]) -> Warning {
    let svc = &model.services[s.service];
    let source = svc.source.name(model);
    if members.len() == 1 {
        let back: Vec<String> = svc
            .emits
            .iter()
            .filter(|(_, t)| super::reaches(model, *t, svc.source))
            .map(|(e, t)| {
                format!(
                    "`{}` into `{}`",
                    model.events.get(*e as usize).map_or("?", String::as_str),
                    t.name(model)
                )
            })
            .collect();
        let gain = back.len() as f64 * s.success;
        let what = if back.is_empty() {
            format!(
                "`{}` dead-letters into `{source}`, its own source",
                svc.name
            )
        } else {
            format!(
                "`{}` emits {}, its own source",
                svc.name,
                back.join(" and ")
            )
        };
        let effect = if gain >= 1.0 {
            "every message it processes comes back, so the load never ends (an unbounded loop)"
                .to_string()
        } else {
            format!(
                "{}% of the messages it processes come back",
                num(gain * 100.0)
            )
        };
        Warning {
            kind: WarningKind::Loop,
            service: s.service,
            channel: Some(svc.source),
            message: format!("{what}: {effect}"),
        }
    } else {
        let names: Vec<String> = members
            .iter()
            .map(|g| format!("`{}`", model.services[*g].name))
            .collect();
        Warning {
            kind: WarningKind::Loop,
            service: s.service,
            channel: Some(svc.source),
            message: format!(
                "messages loop through {}: the events each one emits come back to where they started, so the load may never end",
                names.join(", ")
            ),
        }
    }
}

/// A float as JSON, `null` when JSON cannot hold it.
fn f(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

fn ns_s(ns: u64) -> Value {
    json!(ns as f64 / 1e9)
}

/// The topology as data.
fn topology_json(m: &Model) -> Value {
    let producers: Vec<Value> = m
        .producers
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "target": p.target.name(m),
                "target_kind": p.target.kind(),
                "dist": p.dist.name(),
                "per_second": f(p.base_rate),
                "phases": p.phases.iter().map(|ph| json!({
                    "at_s": ns_s(ph.at), "per_second": f(ph.per_second), "ramp_s": ns_s(ph.ramp)
                })).collect::<Vec<_>>(),
                "keys": p.keys.and_then(|k| m.keys.spaces.get(k.space)).map(|s| s.count),
                "event": m.events.get(p.event as usize),
            })
        })
        .collect();
    let topics: Vec<Value> = m
        .topics
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "partitions": t.partitions,
                "retention_s": ns_s(t.retention.0),
                "readers": t.readers.iter().map(|g| &m.services[*g].name).collect::<Vec<_>>(),
            })
        })
        .collect();
    let queues: Vec<Value> = m
        .queues
        .iter()
        .map(|q| {
            json!({
                "name": q.name,
                "fifo": q.fifo,
                "visibility_timeout_s": ns_s(q.visibility_timeout),
                "retention_s": ns_s(q.retention),
                "dead_letter": q.redrive.map(|(d, n)| json!({
                    "queue": m.queues[d].name, "max_receive_count": n
                })),
                "reader": q.reader.map(|g| &m.services[g].name),
            })
        })
        .collect();
    let pubsubs: Vec<Value> = m
        .pubsubs
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "fifo": p.fifo,
                "subscriptions": p.subscriptions.iter().map(|s| {
                    let (kind, name) = match s.target {
                        SubTarget::Queue(q) => ("queue", &m.queues[q].name),
                        SubTarget::Function(g) => ("function", &m.services[g].name),
                    };
                    json!({ "kind": kind, "endpoint": name, "filtered": s.filter.is_some() })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    let exchanges: Vec<Value> = m
        .exchanges
        .iter()
        .enumerate()
        .map(|(x, ex)| {
            use crate::broker::rabbit::routing::Dest;
            let bindings: Vec<Value> = m
                .router
                .exchanges()
                .get(x)
                .map_or(&[][..], |e| &e.bindings[..])
                .iter()
                .map(|b| {
                    let (kind, name) = match b.dest {
                        Dest::Queue(q) => ("queue", &m.queues[q as usize].name),
                        Dest::Exchange(e) => ("exchange", &m.exchanges[e as usize].name),
                    };
                    json!({ "kind": kind, "destination": name, "key": b.key })
                })
                .collect();
            json!({
                "name": ex.name,
                "kind": ex.kind.name(),
                "alternate_exchange": ex.alternate.map(|a| &m.exchanges[a].name),
                "bindings": bindings,
            })
        })
        .collect();
    let services: Vec<Value> = m
        .services
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": if s.function.is_some() { "function" } else { "service" },
                "source": s.source.name(m),
                "source_kind": s.source.kind(),
                "group": s.group_id,
                "instances": s.instances,
                "concurrency": s.concurrency,
                "max_attempts": s.retry.max_attempts,
                "dead_letter": s.dead_letter.map(|d| d.name(m)),
                "emits": s.emits.iter().map(|(e, t)| json!({
                    "event": m.events.get(*e as usize), "target": t.name(m)
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let faults: Vec<Value> = m
        .faults
        .iter()
        .map(|fl| {
            json!({
                "kind": fl.kind_name(),
                "target": fl.target_name(m),
                "at_s": ns_s(fl.at),
                "duration_s": fl.duration.map(|d| d.0 as f64 / 1e9),
            })
        })
        .collect();
    json!({
        "producers": producers,
        "topics": topics,
        "queues": queues,
        "pubsubs": pubsubs,
        "exchanges": exchanges,
        "services": services,
        "faults": faults,
    })
}

fn service_json(m: &Model, a: &Analysis, s: &ServiceLoad) -> Value {
    let svc = &m.services[s.service];
    let (limit, limit_n) = match s.limit {
        Limit::Slots => ("slots", None),
        Limit::Partitions(p) => ("partitions", Some(u64::from(p))),
        Limit::Groups(g) => ("message_groups", Some(g)),
        Limit::Keys(k) => ("keys", Some(k)),
    };
    let offered: Vec<Value> = a
        .segments
        .iter()
        .zip(&s.offered)
        .map(|((from, until), v)| {
            json!({ "from_s": ns_s(*from), "until_s": ns_s(*until), "per_second": f(*v) })
        })
        .collect();
    let backlogs: Vec<Value> = s
        .backlogs
        .iter()
        .map(|b| {
            json!({
                "from_s": ns_s(b.from_ns),
                "peak_s": ns_s(b.peak_ns),
                "peak_messages": f(b.peak_messages),
                "drain_s": b.drain_s.and_then(|d| d.is_finite().then_some(d)),
            })
        })
        .collect();
    let erlang = super::erlang_c_prediction(m, s.service).map(|p| {
        json!({
            "servers": p.servers,
            "utilisation": p.utilisation,
            "wait_probability": p.wait_probability,
            "mean_wait_ms": p.mean_wait_s * 1e3,
            "mean_latency_ms": p.mean_latency_s * 1e3,
        })
    });
    json!({
        "service": svc.name,
        "source": svc.source.name(m),
        "instances": s.instances,
        "concurrency": s.concurrency,
        "usable_instances": s.usable_instances,
        "idle_instances": s.idle_instances,
        "slots": s.slots,
        "limit": { "by": limit, "count": limit_n },
        "mean_processing_ms": s.mean_processing_s.map(|v| v * 1e3),
        "attempts_per_message": f(s.attempts_per_message),
        "capacity_per_second": f(s.capacity_per_second),
        "capacity_messages_per_second": f(s.capacity_messages_per_second),
        "offered": offered,
        "peak": {
            "from_s": ns_s(a.segments.get(s.peak_segment).map_or(0, |x| x.0)),
            "offered_per_second": f(s.peak_offered()),
            "utilisation": f(s.peak_utilisation),
        },
        "backlogs": backlogs,
        "filtered": s.filtered,
        "erlang_c": erlang,
    })
}

/// The JSON of `edasim check --format json`: scenario, topology, capacity per service
/// and warnings (see the module documentation for its shape).
pub fn check_json(m: &Model, a: &Analysis) -> Value {
    json!({
        "scenario": {
            "name": m.name,
            "seed": m.seed,
            "duration_s": ns_s(m.duration.0),
            "metrics_interval_s": ns_s(m.metrics_interval.0),
        },
        "topology": topology_json(m),
        "capacity": a.services.iter().map(|s| service_json(m, a, s)).collect::<Vec<_>>(),
        "warnings": a.warnings.iter().map(|w| json!({
            "kind": w.kind.name(),
            "service": m.services[w.service].name,
            "channel": w.channel.map(|c| c.name(m)),
            "message": w.message,
        })).collect::<Vec<_>>(),
    })
}
