//! The topology panel: producers, topics, queues, pubsubs and services as a graph of
//! views with live rates on the edges and each node's state under it, laid out by
//! [`graph`](super::super::graph).

use petgraph::graph::{DiGraph, NodeIndex};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::app::{App, Node, Panel, Sample};
use super::super::graph::{self, EdgeView, NodeView};
use super::super::ui::{Theme, compact, rate_label, short_duration};
use super::faults;
use crate::model::Channel;

/// Width of a state word in a node's detail, so that a change of state does not move
/// the drawing sideways.
const STATE_W: usize = 9;
/// Width of a lag in a node's detail (`compact` gives at most five characters).
const LAG_W: usize = 5;
/// The symbols of the short details, explained in the panel's title.
pub(crate) const LEGEND: &str = "✓ ok ▲ lagging ↻ rebalancing ✗ down";

/// A service's state: a word, a symbol for narrow screens, the style to draw it with,
/// and why, in a sentence.
pub(crate) struct State {
    /// `healthy`, `lagging`, `rebalance`, `✗2 down`.
    pub word: String,
    /// `✓`, `▲`, `↻`, `✗2`.
    pub symbol: String,
    /// Style of the word and symbol.
    pub style: Style,
    /// Why: "lagging: lag 16.3k and growing 2.0k/s (...)".
    pub why: String,
    /// The lag at the latest sample.
    pub lag: u64,
}

/// A service's state at the latest sample: instances down and partitions unassigned are
/// seen at once; lag is judged over a window (see [`Health`](super::super::app::Health)).
pub(crate) fn service_state(app: &App, si: usize, theme: Theme) -> State {
    let g = &app.model().services[si];
    let owners = app.engine.owners(si);
    let assigned = owners.iter().filter(|o| o.is_some()).count();
    let last = app.history.back();
    let lag = last.and_then(|s| s.services.get(si)).map_or(0, |x| x.2);
    let health = last
        .and_then(|s| s.health.get(si))
        .copied()
        .unwrap_or_default();
    let up = app.engine.instances_alive(si);
    let crashed = (g.instances as usize).saturating_sub(up);
    let mark = super::faults::service_mark(app, si);
    let (word, symbol, style, why) = if crashed > 0 {
        (
            format!("✗{crashed} down"),
            format!("✗{crashed}"),
            theme.bad(),
            format!(
                "down: {crashed} of {} instances crashed; {}",
                g.instances,
                health.explain(lag)
            ),
        )
    } else if let Some((mark, cause)) = mark {
        (
            mark.word().to_string(),
            mark.symbol().to_string(),
            if mark == super::faults::Mark::Slow {
                theme.warn()
            } else {
                theme.bad()
            },
            format!("{}: {cause}; {}", mark.word(), health.explain(lag)),
        )
    } else if assigned < owners.len() {
        (
            "rebalance".to_string(),
            "↻".to_string(),
            theme.bad(),
            format!(
                "rebalancing: {} of {} partitions have no owner yet; {}",
                owners.len() - assigned,
                owners.len(),
                health.explain(lag)
            ),
        )
    } else if health.lagging {
        (
            "lagging".to_string(),
            "▲".to_string(),
            theme.warn(),
            health.explain(lag),
        )
    } else {
        (
            "healthy".to_string(),
            "✓".to_string(),
            theme.good(),
            health.explain(lag),
        )
    };
    State {
        word,
        symbol,
        style,
        why,
        lag,
    }
}

/// The topology as a graph of views: producers → topics → services → DLQs and emitted
/// topics, with live rates on the edges.
pub(crate) fn topology_graph(app: &App, theme: Theme) -> DiGraph<NodeView, EdgeView> {
    let m = app.model();
    let last = app.history.back();
    let crossed = app.crossed();
    let mut g: DiGraph<NodeView, EdgeView> = DiGraph::new();
    let rate = rate_label;
    let producers: Vec<NodeIndex> = m
        .producers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            g.add_node(NodeView {
                title: p.name.clone(),
                title_style: theme.accent(),
                // A fault's mark, else the event name when the scenario gives one, else
                // the arrival process.
                detail: match (
                    faults::producer_mark(app, i),
                    m.events.get(p.event as usize),
                ) {
                    (Some(mark), _) => mark,
                    (None, Some(e)) if e != crate::scenario::format::DEFAULT_EVENT => e.clone(),
                    _ => p.dist.name().to_string(),
                },
                detail_style: if faults::producer_mark(app, i).is_some() {
                    theme.bad()
                } else {
                    theme.dim()
                },
                ..NodeView::default()
            })
        })
        .collect();
    let dlq_topics: Vec<usize> = m
        .services
        .iter()
        .filter_map(|x| x.dead_letter.and_then(Channel::topic))
        .collect();
    let topics: Vec<NodeIndex> = m
        .topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (detail, style) = if let Some(mark) = faults::channel_mark(app, Channel::Topic(i)) {
                (mark, theme.bad())
            } else if dlq_topics.contains(&i) {
                let (depth, age) = app.engine.topic_backlog(i);
                if depth > 0 {
                    (
                        format!("{depth} · oldest {}", short_duration(age)),
                        theme.warn(),
                    )
                } else {
                    ("empty".to_string(), theme.dim())
                }
            } else {
                (format!("{} part", t.partitions), theme.dim())
            };
            g.add_node(NodeView {
                title: t.name.clone(),
                title_style: Style::new().add_modifier(Modifier::BOLD),
                detail,
                detail_style: style,
                ..NodeView::default()
            })
        })
        .collect();
    // The queues a RabbitMQ-like queue's dead-letter exchange routes to.
    let mut rabbit_dlq = vec![false; m.queues.len()];
    for x in m
        .queues
        .iter()
        .filter_map(|q| q.rabbit.as_ref()?.dead_letter_exchange)
    {
        for d in crate::broker::rabbit::exchange::reachable_queues(&m.router, x as u32) {
            if let Some(f) = rabbit_dlq.get_mut(d as usize) {
                *f = true;
            }
        }
    }
    let queues: Vec<NodeIndex> = m
        .queues
        .iter()
        .enumerate()
        .map(|(q, spec)| {
            let (visible, in_flight) = last
                .and_then(|s| s.queue_depth.get(q).copied())
                .unwrap_or((0, 0));
            // A RabbitMQ-like queue's messages are ready or unacknowledged.
            let (vis, fly) = if spec.rabbit.is_some() {
                ("rdy", "unack")
            } else {
                ("vis", "fly")
            };
            let dead = !spec.dlq_of.is_empty()
                || rabbit_dlq[q]
                || m.services
                    .iter()
                    .any(|x| x.dead_letter == Some(Channel::Queue(q)));
            let style = if dead && visible + in_flight > 0 {
                theme.warn()
            } else {
                theme.dim()
            };
            g.add_node(NodeView {
                title: format!("{}{}", spec.name, if spec.fifo { " fifo" } else { "" }),
                title_style: Style::new().add_modifier(Modifier::BOLD),
                detail: faults::channel_mark(app, Channel::Queue(q)).unwrap_or_else(|| {
                    format!(
                        "{} {vis} {} {fly}",
                        compact(visible as f64),
                        compact(in_flight as f64)
                    )
                }),
                detail_style: if faults::channel_mark(app, Channel::Queue(q)).is_some() {
                    theme.bad()
                } else {
                    style
                },
                ..NodeView::default()
            })
        })
        .collect();
    let pubsubs: Vec<NodeIndex> = m
        .pubsubs
        .iter()
        .enumerate()
        .map(|(p, spec)| {
            let out = last
                .and_then(|s| s.pubsub_rate.get(p).map(|r| r.1))
                .unwrap_or(0);
            g.add_node(NodeView {
                title: format!("{}{}", spec.name, if spec.fifo { " fifo" } else { "" }),
                title_style: Style::new().add_modifier(Modifier::BOLD),
                detail: if let Some(mark) = faults::channel_mark(app, Channel::Pubsub(p)) {
                    mark
                } else if out > 0 {
                    format!("{} unrouted", compact(out as f64))
                } else {
                    format!("{} subs", spec.subscriptions.len())
                },
                detail_style: if faults::channel_mark(app, Channel::Pubsub(p)).is_some() {
                    theme.bad()
                } else {
                    theme.dim()
                },
                ..NodeView::default()
            })
        })
        .collect();
    let exchanges: Vec<NodeIndex> = m
        .exchanges
        .iter()
        .enumerate()
        .map(|(x, spec)| {
            let unroutable = last
                .and_then(|s| s.exchange_rate.get(x).map(|r| r.1))
                .unwrap_or(0);
            let mark = faults::channel_mark(app, Channel::Exchange(x));
            g.add_node(NodeView {
                title: format!("{} {}", spec.name, spec.kind.name()),
                title_style: Style::new().add_modifier(Modifier::BOLD),
                detail_style: if mark.is_some() || unroutable > 0 {
                    theme.bad()
                } else {
                    theme.dim()
                },
                detail: match mark {
                    Some(mark) => mark,
                    None if unroutable > 0 => format!("{} unroutable", compact(unroutable as f64)),
                    None => "exchange".to_string(),
                },
                ..NodeView::default()
            })
        })
        .collect();
    let buses: Vec<NodeIndex> = m
        .buses
        .iter()
        .enumerate()
        .map(|(b, spec)| {
            let (unmatched, retrying) = last
                .and_then(|s| s.bus_rate.get(b).map(|r| (r.1, r.2)))
                .unwrap_or((0, 0));
            let mark = faults::channel_mark(app, Channel::Bus(b));
            g.add_node(NodeView {
                title: format!("{} bus", spec.name),
                title_style: Style::new().add_modifier(Modifier::BOLD),
                detail_style: if mark.is_some() || retrying > 0 {
                    theme.bad()
                } else {
                    theme.dim()
                },
                detail: match mark {
                    Some(mark) => mark,
                    None if retrying > 0 => format!("{} retrying", compact(retrying as f64)),
                    None if unmatched > 0 => format!("{} unmatched", compact(unmatched as f64)),
                    None => format!("{} rules", spec.rules.len()),
                },
                ..NodeView::default()
            })
        })
        .collect();
    let chan = |c: Channel| match c {
        Channel::Topic(t) => topics[t],
        Channel::Queue(q) => queues[q],
        Channel::Pubsub(p) => pubsubs[p],
        Channel::Exchange(x) => exchanges[x],
        Channel::Bus(b) => buses[b],
    };
    let chan_rate = |s: &Sample, c: Channel| match c {
        Channel::Topic(t) => s.topic_rate[t],
        Channel::Queue(q) => s.queue_rate[q],
        Channel::Pubsub(p) => s.pubsub_rate[p].0,
        Channel::Exchange(x) => s.exchange_rate[x].0,
        Channel::Bus(b) => s.bus_rate[b].0,
    };
    let services: Vec<NodeIndex> = m
        .services
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let st = service_state(app, i, theme);
            let style = st.style;
            let lag = compact(st.lag as f64);
            g.add_node(NodeView {
                title: if x.function.is_some() {
                    format!("{} λ{}", x.name, x.instances)
                } else {
                    format!("{} ×{}", x.name, x.instances)
                },
                title_style: {
                    let base = if style == theme.good() {
                        Style::new().add_modifier(Modifier::BOLD)
                    } else {
                        style
                    };
                    if app.focus == Panel::Topology && app.node == i {
                        base.add_modifier(Modifier::REVERSED)
                    } else {
                        base
                    }
                },
                detail: format!("lag {lag:>LAG_W$} {:<STATE_W$}", st.word),
                short: format!("{lag:>LAG_W$} {:<2}", st.symbol),
                detail_style: style,
            })
        })
        .collect();
    let edge_style = |from: Node, to: Node| {
        if crossed.contains(&(from, to)) {
            theme.hot()
        } else {
            theme.dim()
        }
    };
    // Writers per topic or queue, to tell its whole input rate from one writer's share.
    let mut writers: std::collections::BTreeMap<Channel, usize> = Default::default();
    for p in &m.producers {
        *writers.entry(p.target).or_default() += 1;
    }
    for x in &m.services {
        if let Some(d) = x.dead_letter {
            *writers.entry(d).or_default() += 1;
        }
        for (_, t) in &x.emits {
            *writers.entry(*t).or_default() += 1;
        }
    }
    for (i, p) in m.producers.iter().enumerate() {
        g.add_edge(
            producers[i],
            chan(p.target),
            EdgeView {
                label: rate(last.map_or(0.0, |s| s.producer_rate[i])),
                style: edge_style(Node::Producer(i), Node::of(p.target)),
            },
        );
    }
    // Subscriptions: a pubsub to each endpoint; a function's own edge is this one.
    for (p, spec) in m.pubsubs.iter().enumerate() {
        for sub in &spec.subscriptions {
            let (to, node) = match sub.target {
                crate::model::SubTarget::Queue(q) => (queues[q], Node::Queue(q)),
                crate::model::SubTarget::Function(f) => (services[f], Node::Service(f)),
            };
            g.add_edge(
                pubsubs[p],
                to,
                EdgeView {
                    label: match (&sub.filter, sub.target) {
                        (_, crate::model::SubTarget::Function(f)) => {
                            rate(last.map_or(0.0, |s| s.service_in[f]))
                        }
                        (Some(_), _) => "filter".to_string(),
                        (None, _) => "all".to_string(),
                    },
                    style: edge_style(Node::Pubsub(p), node),
                },
            );
        }
    }
    // Bindings: an exchange to each queue or exchange, labelled with the binding key
    // (or what a fanout or headers binding matches); its alternate exchange.
    for (x, ex) in m.router.exchanges().iter().enumerate() {
        use crate::broker::rabbit::routing::{Dest, ExchangeKind, XMatch};
        for b in &ex.bindings {
            let (to, node) = match b.dest {
                Dest::Queue(q) => (queues[q as usize], Node::Queue(q as usize)),
                Dest::Exchange(e) => (exchanges[e as usize], Node::Exchange(e as usize)),
            };
            let label = match ex.kind {
                ExchangeKind::Direct | ExchangeKind::Topic if b.key.is_empty() => {
                    "\"\"".to_string()
                }
                ExchangeKind::Direct | ExchangeKind::Topic => b.key.clone(),
                ExchangeKind::Fanout => "all".to_string(),
                ExchangeKind::Headers => match b.headers.as_ref().map(|h| h.mode()) {
                    Some(XMatch::Any | XMatch::AnyWithX) => "any".to_string(),
                    _ => "all".to_string(),
                },
            };
            g.add_edge(
                exchanges[x],
                to,
                EdgeView {
                    label,
                    style: edge_style(Node::Exchange(x), node),
                },
            );
        }
        if let Some(a) = ex.alternate {
            g.add_edge(
                exchanges[x],
                exchanges[a as usize],
                EdgeView {
                    label: "alternate".to_string(),
                    style: edge_style(Node::Exchange(x), Node::Exchange(a as usize)),
                },
            );
        }
    }
    // Rules: a bus to each target, labelled with the rule's name; a function's own
    // edge is this one.
    for (b, spec) in m.buses.iter().enumerate() {
        for r in &spec.rules {
            for t in &r.targets {
                let (to, node) = match *t {
                    crate::model::BusTarget::Queue(q) => (queues[q], Node::Queue(q)),
                    crate::model::BusTarget::Pubsub(p) => (pubsubs[p], Node::Pubsub(p)),
                    crate::model::BusTarget::Bus(x) => (buses[x], Node::Bus(x)),
                    crate::model::BusTarget::Function(f) => (services[f], Node::Service(f)),
                };
                g.add_edge(
                    buses[b],
                    to,
                    EdgeView {
                        label: r.name.clone(),
                        style: edge_style(Node::Bus(b), node),
                    },
                );
            }
        }
    }
    for (i, x) in m.services.iter().enumerate() {
        if x.source.pubsub().is_some() || x.source.bus().is_some() {
            continue;
        }
        g.add_edge(
            chan(x.source),
            services[i],
            EdgeView {
                label: rate(last.map_or(0.0, |s| s.service_in[i])),
                style: edge_style(Node::of(x.source), Node::Service(i)),
            },
        );
    }
    for (i, x) in m.services.iter().enumerate() {
        for (_, t) in &x.emits {
            let v = last.map_or(0.0, |s| {
                if writers.get(t) == Some(&1) {
                    chan_rate(s, *t)
                } else {
                    s.service_in[i]
                }
            });
            g.add_edge(
                services[i],
                chan(*t),
                EdgeView {
                    label: rate(v),
                    style: edge_style(Node::Service(i), Node::of(*t)),
                },
            );
        }
        if let Some(d) = x.dead_letter {
            g.add_edge(
                services[i],
                chan(d),
                EdgeView {
                    label: rate(last.map_or(0.0, |s| s.service_dlq[i])),
                    style: edge_style(Node::Service(i), Node::of(d)),
                },
            );
        }
    }
    for (g_from, to) in saga_edges(m) {
        g.add_edge(
            services[g_from],
            chan(to),
            EdgeView {
                label: "saga".to_string(),
                style: edge_style(Node::Service(g_from), Node::of(to)),
            },
        );
    }
    // Redrive policies: a queue's dead letters go to its dead-letter queue.
    for (q, spec) in m.queues.iter().enumerate() {
        if let Some((d, n)) = spec.redrive {
            g.add_edge(
                queues[q],
                queues[d],
                EdgeView {
                    label: format!("after {n}"),
                    style: edge_style(Node::Queue(q), Node::Queue(d)),
                },
            );
        }
    }
    g
}

/// The topology in `width` × `height`: the richest graph drawing that fits, else one
/// line per producer and per service that keeps every service's lag and state
/// (`validated ─400─▶ payment ×3 lag 1.2k lagging ─▶ paid, payment-dlq`), clipped.
/// The flag says whether the short details (symbols of [`LEGEND`]) are in use.
pub(crate) fn topology_fit(
    app: &App,
    theme: Theme,
    width: u16,
    height: u16,
) -> (Vec<Line<'static>>, bool) {
    let g = topology_graph(app, theme);
    // A drawing with details, else the list (which keeps lag and state), else a drawing
    // without details, else the list cut to the height.
    let list = || service_list(app, theme, width);
    let (lines, short) = match graph::render_first(&g, width, height, &graph::WITH_DETAILS) {
        Some((lines, opts)) => (lines, opts.short),
        None => {
            let l = list();
            if l.len() <= usize::from(height) {
                (l, true)
            } else {
                graph::render_first(&g, width, height, &graph::WITHOUT_DETAILS)
                    .map_or((l, true), |(lines, _)| (lines, false))
            }
        }
    };
    let lines = lines
        .into_iter()
        .take(usize::from(height))
        .map(|l| graph::clip_line(l, usize::from(width)))
        .collect();
    (lines, short)
}

/// The plainest topology: a line per producer (`checkout ─400─▶ orders`) and per service
/// (its source, rate in, instances, lag and state, and where it writes); states as
/// words when the line fits, as symbols otherwise.
fn service_list(app: &App, theme: Theme, width: u16) -> Vec<Line<'static>> {
    let m = app.model();
    let last = app.history.back();
    let chan_name = |c: Channel| c.name(m).to_string();
    let mut out = Vec::new();
    for (i, p) in m.producers.iter().enumerate() {
        out.push(Line::from(vec![
            Span::styled(p.name.clone(), theme.accent()),
            Span::styled(
                format!(
                    " ─{}─▶ ",
                    rate_label(last.map_or(0.0, |s| s.producer_rate[i]))
                ),
                theme.dim(),
            ),
            Span::styled(
                chan_name(p.target),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ]));
    }
    // Per exchange: where its bindings lead (`orders ─▶ eu, us, audit; else unrouted`).
    for (x, ex) in m.router.exchanges().iter().enumerate() {
        use crate::broker::rabbit::routing::Dest;
        let mut dests: Vec<String> = ex
            .bindings
            .iter()
            .map(|b| match b.dest {
                Dest::Queue(q) => chan_name(Channel::Queue(q as usize)),
                Dest::Exchange(e) => chan_name(Channel::Exchange(e as usize)),
            })
            .collect();
        dests.dedup();
        let mut tail = format!(" ─▶ {}", dests.join(", "));
        if let Some(a) = ex.alternate {
            tail.push_str(&format!(
                "; else {}",
                chan_name(Channel::Exchange(a as usize))
            ));
        }
        let unroutable = last.map_or(0, |s| s.exchange_rate[x].1);
        let mut spans = vec![
            Span::styled(
                m.exchanges[x].name.clone(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(tail, theme.dim()),
        ];
        if unroutable > 0 {
            spans.push(Span::styled(
                format!(" {} unroutable", compact(unroutable as f64)),
                theme.bad(),
            ));
        }
        out.push(Line::from(spans));
    }
    for (i, x) in m.services.iter().enumerate() {
        let st = service_state(app, i, theme);
        let rate = rate_label(last.map_or(0.0, |s| s.service_in[i]));
        let mut outs: Vec<String> = x.emits.iter().map(|(_, t)| chan_name(*t)).collect();
        outs.extend(x.dead_letter.map(chan_name));
        outs.extend(
            saga_edges(m)
                .into_iter()
                .filter(|&(g, _)| g == i)
                .map(|(_, t)| chan_name(t)),
        );
        outs.dedup();
        let head = vec![
            Span::raw(chan_name(x.source)),
            Span::styled(format!(" ─{rate}─▶ "), theme.dim()),
            Span::styled(
                format!(
                    "{} {}{}",
                    x.name,
                    if x.function.is_some() { "λ" } else { "×" },
                    x.instances
                ),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ];
        let tail: Vec<Span<'static>> = if outs.is_empty() {
            Vec::new()
        } else {
            vec![Span::styled(
                format!(" ─▶ {}", outs.join(", ")),
                theme.dim(),
            )]
        };
        let lag = compact(st.lag as f64);
        let long = Span::styled(
            format!(" lag {lag:>LAG_W$} {:<STATE_W$}", st.word),
            st.style,
        );
        let mut spans = head.clone();
        spans.push(long);
        spans.extend(tail.clone());
        let line = Line::from(spans);
        if line.width() <= usize::from(width) {
            out.push(line);
        } else {
            let mut spans = head;
            spans.push(Span::styled(format!(" {lag} {}", st.symbol), st.style));
            spans.extend(tail);
            out.push(Line::from(spans));
        }
    }
    // Per bus, after the services: where its rules lead, and what waits for a retry.
    for (b, bus) in m.buses.iter().enumerate() {
        let mut dests: Vec<String> = Vec::new();
        for t in bus.rules.iter().flat_map(|r| &r.targets) {
            let name = match *t {
                crate::model::BusTarget::Function(g) => m.services[g].name.clone(),
                other => other.channel().map(chan_name).unwrap_or_default(),
            };
            if !dests.contains(&name) {
                dests.push(name);
            }
        }
        let retrying = last.map_or(0, |s| s.bus_rate[b].2);
        let mut spans = vec![
            Span::styled(bus.name.clone(), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(format!(" ─▶ {}", dests.join(", ")), theme.dim()),
        ];
        if retrying > 0 {
            spans.push(Span::styled(
                format!(" {} retrying", compact(retrying as f64)),
                theme.bad(),
            ));
        }
        out.push(Line::from(spans));
    }
    out
}

/// The inspector of the selected service: what it is, its state and why, its rates and
/// latency at the latest sample.
pub(crate) fn node_lines(app: &App, si: usize, width: u16) -> Vec<Line<'static>> {
    let m = app.model();
    let Some(x) = m.services.get(si) else {
        return Vec::new();
    };
    let st = service_state(app, si, Theme { color: false });
    let last = app.history.back();
    let (p50, p99, _) = last
        .and_then(|s| s.services.get(si).copied())
        .unwrap_or_default();
    let up = app.engine.instances_alive(si);
    let w = usize::from(width).saturating_sub(2).max(20);
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!(" {} ", x.name),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "· {} {} of {} up × concurrency {} · reads {}",
            if x.function.is_some() {
                "function,"
            } else {
                "service,"
            },
            up,
            x.instances,
            x.concurrency,
            x.source.name(m)
        )),
    ])];
    for part in super::super::ui::wrap_words(&st.why, w) {
        out.push(Line::from(format!(" {part}")));
    }
    out.push(Line::from(format!(
        " in {}/s · hop latency p50 {} p99 {} · dead-lettered {}/s",
        rate_label(last.map_or(0.0, |s| s.service_in[si])),
        super::super::ui::short_ms(p50),
        super::super::ui::short_ms(p99),
        rate_label(last.map_or(0.0, |s| s.service_dlq[si])),
    )));
    // End to end: from the first produce of each message to this service, so far.
    for f in app.engine.flows().iter().filter(|f| f.consumer == x.name) {
        out.push(Line::from(format!(
            " end to end from {}: mean {} p50 {} p99 {} max {} ({} processed)",
            f.producer,
            super::super::ui::short_ms(f.latency_mean_ms),
            super::super::ui::short_ms(f.latency_p50_ms),
            super::super::ui::short_ms(f.latency_p99_ms),
            super::super::ui::short_ms(f.latency_max_ms),
            compact(f.processed as f64)
        )));
    }
    // What the model alone predicts (capacity, utilisation, warnings).
    for text in crate::capacity::node_lines(m, &app.capacity, &x.name) {
        for part in super::super::ui::wrap_words(&text, w) {
            out.push(Line::from(format!(" {part}")));
        }
    }
    out
}

/// Draws the inspector of service `si` over the screen.
pub(crate) fn draw_node_inspector(frame: &mut Frame, area: Rect, app: &App, si: usize) {
    let w = area.width.saturating_sub(4).clamp(20, 100).min(area.width);
    let lines = node_lines(app, si, w.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(ratatui::widgets::Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" service (j/k: next · enter/esc: close) ")
                .border_style(Style::new().add_modifier(Modifier::BOLD)),
        ),
        r,
    );
}

pub(crate) fn topology_lines(app: &App, width: u16, height: u16) -> Vec<Line<'static>> {
    topology_fit(app, Theme { color: false }, width, height.saturating_sub(2)).0
}

pub(crate) fn draw_topology(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let inner = Block::bordered().inner(area);
    let (lines, short) = topology_fit(app, theme, inner.width, inner.height);
    let title = if short {
        let marks: std::collections::BTreeSet<&str> = (0..app.model().services.len())
            .filter_map(|g| faults::service_mark(app, g))
            .filter(|(m, _)| *m != faults::Mark::Down)
            .map(|(m, _)| m.legend())
            .collect();
        let extra: Vec<&str> = marks.into_iter().collect();
        if extra.is_empty() {
            format!(" topology · /s · lag {LEGEND} ")
        } else {
            format!(" topology · /s · lag {LEGEND} {} ", extra.join(" "))
        }
    } else {
        " topology · rates per second ".to_string()
    };
    let mut block = Block::bordered()
        .title(title)
        .border_style(theme.border(app.focus == Panel::Topology));
    if app.focus == Panel::Topology {
        block = block.title_bottom(Line::from(" j/k: select · enter: inspect ").right_aligned());
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The forward edges of the sagas: a coordinator to each step's source, a
/// choreography's step to the next step's source. (Replies and failure events go back
/// the same ways; drawn, they would make every saga a cycle.)
pub fn saga_edges(m: &crate::model::Model) -> std::collections::BTreeSet<(usize, Channel)> {
    let mut out = std::collections::BTreeSet::new();
    for sg in &m.sagas {
        match sg.coordinator {
            Some(c) => {
                for st in &sg.steps {
                    out.insert((c, m.services[st.service].source));
                }
            }
            None => {
                for w in sg.steps.windows(2) {
                    out.insert((w[0].service, m.services[w[1].service].source));
                }
            }
        }
    }
    out
}
