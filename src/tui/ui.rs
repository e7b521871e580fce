//! Drawing: pure functions from [`App`] to a frame. Panels collapse as the terminal
//! shrinks (the log first, then the charts, then the counters), and nothing here can
//! panic on a tiny area. [`layout`] is shared with the mouse's [`hit_test`].

use petgraph::graph::{DiGraph, NodeIndex};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Sparkline, Wrap};

use super::app::{App, KEYMAP, Node, Panel, PromptKind, Sample};
use super::graph::{self, EdgeView, NodeView};
use crate::model::Channel;
use crate::sim::trace::{NA32, NA64, TraceKind, TraceRec};

/// Colours, or none under `NO_COLOR` (bold and reverse are kept).
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Use colours.
    pub color: bool,
}

impl Theme {
    fn accent(self) -> Style {
        if self.color {
            Style::new().cyan()
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    fn warn(self) -> Style {
        if self.color {
            Style::new().yellow()
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    fn bad(self) -> Style {
        if self.color {
            Style::new().red().bold()
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    fn good(self) -> Style {
        if self.color {
            Style::new().green()
        } else {
            Style::new()
        }
    }
    fn dim(self) -> Style {
        if self.color {
            Style::new().dark_gray()
        } else {
            Style::new()
        }
    }
    /// What the last step touched: reversed in both themes.
    fn hot(self) -> Style {
        if self.color {
            Style::new()
                .magenta()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }
    fn border(self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().cyan().bold(),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            _ => Style::new(),
        }
    }
}

/// Where each panel goes; empty rectangles are collapsed panels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    /// Header line.
    pub header: Rect,
    /// Topology graph.
    pub topology: Rect,
    /// Charts.
    pub charts: Rect,
    /// Anomaly counters, explanations and next events.
    pub counters: Rect,
    /// Event log.
    pub log: Rect,
    /// Status bar.
    pub status: Rect,
}

/// Rows the charts want: two rates, per service p99 and lag, partition lag bars.
fn chart_rows(app: &App) -> u16 {
    let services = u16::try_from(app.model().services.len()).unwrap_or(u16::MAX);
    services.saturating_mul(2).saturating_add(3)
}

/// Rows the charts need at least: two rates and one row per service.
fn compact_chart_rows(app: &App) -> u16 {
    2 + app.model().services.len() as u16
}

/// Lays the screen out. Wide screens put the counters beside the charts; narrow ones
/// stack them. The log gets what is left, and goes first when there is too little.
pub fn layout(area: Rect, app: &App) -> Areas {
    let mut a = Areas::default();
    if area.width < 20 || area.height < 5 {
        return a;
    }
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    a.header = header;
    a.status = status;
    let h = body.height;
    let topo_want = topology_lines(app, body.width.saturating_sub(2), topo_cap(h)).len() as u16 + 2;
    let topo_h = topo_want.min(topo_cap(h)).min(h);
    let rest = h - topo_h;
    let wide = body.width >= 100;
    let counters_h = if wide {
        0
    } else if rest >= 10 {
        3
    } else {
        0
    };
    let mid_want = if wide {
        chart_rows(app).max(6) + 2
    } else {
        chart_rows(app) + 2
    };
    let min_log = 5;
    let mid_h = if rest.saturating_sub(counters_h) >= mid_want + min_log {
        mid_want
    } else if rest.saturating_sub(counters_h) >= compact_chart_rows(app) + 2 + min_log {
        rest - counters_h - min_log
    } else {
        rest - counters_h
    };
    let log_h = rest - counters_h - mid_h;
    let [topo, mid, counters, log] = Layout::vertical([
        Constraint::Length(topo_h),
        Constraint::Length(mid_h),
        Constraint::Length(counters_h),
        Constraint::Length(log_h),
    ])
    .areas(body);
    a.topology = topo;
    a.log = log;
    if wide {
        let [charts, side] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(mid);
        a.charts = charts;
        a.counters = side;
    } else {
        a.charts = mid;
        a.counters = counters;
    }
    a
}

/// Most rows the topology may take from a body of height `h`.
fn topo_cap(h: u16) -> u16 {
    match h {
        30.. => 12,
        18.. => 7,
        _ => h / 2,
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App, theme: Theme) {
    let area = frame.area();
    if area.width < 20 || area.height < 5 {
        frame.render_widget(Paragraph::new("edasim: window too small"), area);
        return;
    }
    let a = layout(area, app);
    draw_header(frame, a.header, app, theme);
    draw_status(frame, a.status, app, theme);
    if a.topology.height > 2 {
        draw_topology(frame, a.topology, app, theme);
    }
    if a.charts.height > 2 {
        draw_charts(frame, a.charts, app, theme);
    }
    if a.counters.height > 0 {
        draw_counters(frame, a.counters, app, theme);
    }
    if a.log.height > 2 {
        draw_log(frame, a.log, app, theme);
    }
    if let Some(msg) = app.inspect {
        draw_inspector(frame, area, app, msg, theme);
    }
    if app.show_help {
        draw_help(frame, area);
    }
}

/// What the mouse is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A panel.
    Panel(Panel),
    /// A record of the event log (its trace seq).
    LogRecord(u64),
}

/// What is at column `x`, row `y` of a screen of size `area`.
pub fn hit_test(area: Rect, app: &App, x: u16, y: u16) -> Option<Hit> {
    let a = layout(area, app);
    let inside = |r: Rect| x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
    if inside(a.log) {
        let inner = Block::bordered().inner(a.log);
        if inside(inner) {
            let (window, _) = app.log_window(inner.height as usize);
            if let Some(r) = window.get((y - inner.y) as usize) {
                return Some(Hit::LogRecord(r.seq));
            }
        }
        return Some(Hit::Panel(Panel::Log));
    }
    if inside(a.topology) {
        return Some(Hit::Panel(Panel::Topology));
    }
    if inside(a.charts) || inside(a.counters) {
        return Some(Hit::Panel(Panel::Charts));
    }
    None
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let m = app.model();
    let state = if app.engine.is_finished() {
        "finished".to_string()
    } else if let Some(g) = &app.goal {
        format!("running to {}", g.describe())
    } else if app.paused {
        "paused".to_string()
    } else {
        "running".to_string()
    };
    let speed = if app.speed().is_infinite() {
        "max".to_string()
    } else {
        format!("{}x", app.speed())
    };
    let line = Line::from(vec![
        Span::styled(" edasim ", theme.accent().add_modifier(Modifier::REVERSED)),
        Span::raw(format!(" {}  ", m.name)),
        Span::styled(
            format!(
                "t {:.3} / {:.0} s",
                app.engine.now() as f64 / 1e9,
                m.duration.as_secs_f64()
            ),
            Style::new().bold(),
        ),
        Span::raw(format!(
            "  {state}  {speed}  seed {}  events {}",
            m.seed,
            app.engine.steps()
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    if let Some(p) = &app.prompt {
        let label = match p.kind {
            PromptKind::Goto => " run until: ",
            PromptKind::Filter => " filter: ",
        };
        let mut spans = vec![
            Span::styled(label, theme.accent().add_modifier(Modifier::REVERSED)),
            Span::raw(format!(" {}", p.text)),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ];
        match &p.error {
            Some(e) => spans.push(Span::styled(format!("  {e}"), theme.bad())),
            None => spans.push(Span::styled(
                match p.kind {
                    PromptKind::Goto => {
                        "  90s · #5000 · msg 42 · key user-7 · payment.lag > 1k · p99 > 50ms"
                    }
                    PromptKind::Filter => "  payment · payment#2 · key user-7 · msg 42",
                },
                theme.dim(),
            )),
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    if let Some(m) = &app.message {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {m}"), theme.accent())),
            area,
        );
        return;
    }
    let mut spans = Vec::new();
    for b in KEYMAP.iter().filter(|b| {
        [
            "space", "n", "s", "b", "g", "/", "enter", "+", "-", "e", "?", "q",
        ]
        .contains(&b.key)
    }) {
        spans.push(Span::styled(
            format!(" {} ", b.key),
            theme.accent().add_modifier(Modifier::REVERSED),
        ));
        let short = b.help.split([' ', ':']).next().unwrap_or(b.help);
        let text = match b.key {
            "space" => "run",
            "n" => "step",
            "s" => "sample",
            "b" => "back",
            "g" => "go to",
            "/" => "filter",
            "enter" => "inspect",
            "+" => "faster",
            "-" => "slower",
            "e" => "export",
            "?" => "help",
            _ => short,
        };
        spans.push(Span::raw(format!("{text} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `1234` as `1234`, `12345` as `12.3k`, `1.2e6` as `1.2M`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Milliseconds as a short text: `0.8ms`, `12ms`, `17.1s`.
pub fn short_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms:.1}ms")
    }
}

/// A rate per second in at most four characters, for edge labels: `0.5`, `188`, `5.1k`,
/// `14k`, `2.3M`.
pub fn rate_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e7 {
        format!("{:.0}M", v / 1e6)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 9_999.5 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 999.5 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A duration in ns as a short text: `850us`, `12ms`, `3.2s`, `4m05s`.
pub fn short_duration(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if ns < 1_000_000 {
        format!("{}us", ns / 1000)
    } else if s < 1.0 {
        format!("{}ms", ns / 1_000_000)
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let m = (s / 60.0).floor();
        format!("{m:.0}m{:02.0}s", (s - m * 60.0).floor())
    }
}

/// A service's state in words and the style to draw it with.
fn service_state(app: &App, si: usize, theme: Theme) -> (String, Style) {
    let g = &app.model().services[si];
    let owners = app.engine.owners(si);
    let assigned = owners.iter().filter(|o| o.is_some()).count();
    let lag = app
        .history
        .back()
        .and_then(|s| s.services.get(si))
        .map_or(0, |x| x.2);
    let up = app.engine.instances_alive(si);
    let crashed = (g.instances as usize).saturating_sub(up);
    if crashed > 0 {
        (format!("✗{crashed} crashed"), theme.bad())
    } else if assigned < owners.len() {
        ("rebalancing".to_string(), theme.bad())
    } else if lag > 1_000 {
        ("lagging".to_string(), theme.warn())
    } else {
        ("healthy".to_string(), theme.good())
    }
}

/// The topology as a graph of views: producers → topics → services → DLQs and emitted
/// topics, with live rates on the edges.
fn topology_graph(app: &App, theme: Theme) -> DiGraph<NodeView, EdgeView> {
    let m = app.model();
    let last = app.history.back();
    let crossed = app.crossed();
    let mut g: DiGraph<NodeView, EdgeView> = DiGraph::new();
    let rate = rate_label;
    let producers: Vec<NodeIndex> = m
        .producers
        .iter()
        .map(|p| {
            g.add_node(NodeView {
                title: p.name.clone(),
                title_style: theme.accent(),
                // The event name when the scenario gives one, else the arrival process.
                detail: match m.events.get(p.event as usize) {
                    Some(e) if e != crate::scenario::format::DEFAULT_EVENT => e.clone(),
                    _ => p.dist.name().to_string(),
                },
                detail_style: theme.dim(),
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
            let (detail, style) = if dlq_topics.contains(&i) {
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
            })
        })
        .collect();
    let queues: Vec<NodeIndex> = m
        .queues
        .iter()
        .enumerate()
        .map(|(q, spec)| {
            let (visible, in_flight) = last
                .and_then(|s| s.queue_depth.get(q).copied())
                .unwrap_or((0, 0));
            let dead = !spec.dlq_of.is_empty()
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
                detail: format!(
                    "{} vis {} fly",
                    compact(visible as f64),
                    compact(in_flight as f64)
                ),
                detail_style: style,
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
                detail: if out > 0 {
                    format!("{} unrouted", compact(out as f64))
                } else {
                    format!("{} subs", spec.subscriptions.len())
                },
                detail_style: theme.dim(),
            })
        })
        .collect();
    let chan = |c: Channel| match c {
        Channel::Topic(t) => topics[t],
        Channel::Queue(q) => queues[q],
        Channel::Pubsub(p) => pubsubs[p],
    };
    let chan_rate = |s: &Sample, c: Channel| match c {
        Channel::Topic(t) => s.topic_rate[t],
        Channel::Queue(q) => s.queue_rate[q],
        Channel::Pubsub(p) => s.pubsub_rate[p].0,
    };
    let services: Vec<NodeIndex> = m
        .services
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (state, style) = service_state(app, i, theme);
            let lag = last.and_then(|s| s.services.get(i)).map_or(0, |v| v.2);
            g.add_node(NodeView {
                title: if x.function.is_some() {
                    format!("{} λ{}", x.name, x.instances)
                } else {
                    format!("{} ×{}", x.name, x.instances)
                },
                title_style: if style == theme.good() {
                    Style::new().add_modifier(Modifier::BOLD)
                } else {
                    style
                },
                detail: format!("lag {} {state}", compact(lag as f64)),
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
    for (i, x) in m.services.iter().enumerate() {
        if x.source.pubsub().is_some() {
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

fn topology_lines(app: &App, width: u16, height: u16) -> Vec<Line<'static>> {
    let g = topology_graph(app, Theme { color: false });
    graph::render_fit(&g, width, height.saturating_sub(2))
}

fn draw_topology(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let block = Block::bordered()
        .title(" topology · rates per second ")
        .border_style(theme.border(app.focus == Panel::Topology));
    let inner = block.inner(area);
    let g = topology_graph(app, theme);
    let lines = graph::render_fit(&g, inner.width, inner.height);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Width of the chart labels.
const LABEL: u16 = 25;

fn draw_charts(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let n = app.history.len();
    let end = n.saturating_sub(app.chart_pan);
    let last = end.checked_sub(1).and_then(|i| app.history.get(i));
    let span = last.map_or(0, |s| s.time);
    let title = if app.chart_pan > 0 {
        format!(
            " charts · panned back to t {:.0} s (l: forward) ",
            span as f64 / 1e9
        )
    } else {
        " throughput · latency · lag ".to_string()
    };
    let block = Block::bordered()
        .title(title)
        .border_style(theme.border(app.focus == Panel::Charts));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 1 {
        return;
    }
    let width = inner.width.saturating_sub(LABEL) as usize;
    let window: Vec<&Sample> = app
        .history
        .iter()
        .take(end)
        .skip(end.saturating_sub(width))
        .collect();
    let tail = |f: &dyn Fn(&Sample) -> u64| -> Vec<u64> { window.iter().map(|s| f(s)).collect() };
    let full = inner.height >= chart_rows(app);
    let mut rows: Vec<(String, Vec<u64>)> = vec![
        (
            format!(
                "produced {:>9}/s ",
                compact(last.map_or(0.0, |s| s.rate_in))
            ),
            tail(&|s| s.rate_in as u64),
        ),
        (
            format!(
                "processed {:>8}/s ",
                compact(last.map_or(0.0, |s| s.rate_out))
            ),
            tail(&|s| s.rate_out as u64),
        ),
    ];
    for (si, g) in app.model().services.iter().enumerate() {
        let (_, p99, lag) = last
            .and_then(|s| s.services.get(si).copied())
            .unwrap_or((0.0, 0.0, 0));
        if full {
            rows.push((
                format!("{:<9.9} p99 {:>9} ", g.name, short_ms(p99)),
                tail(&|s| s.services.get(si).map_or(0, |x| (x.1 * 1000.0) as u64)),
            ));
            rows.push((
                format!("{:<9.9} lag {:>9} ", g.name, compact(lag as f64)),
                tail(&|s| s.services.get(si).map_or(0, |x| x.2)),
            ));
        } else {
            rows.push((
                format!(
                    "{:<8.8}{:>6} lag {:>5} ",
                    g.name,
                    short_ms(p99),
                    compact(lag as f64)
                ),
                tail(&|s| s.services.get(si).map_or(0, |x| x.2)),
            ));
        }
    }
    for (i, (label, data)) in rows.iter().enumerate() {
        let Some(i) = u16::try_from(i).ok().filter(|i| *i < inner.height) else {
            break;
        };
        let y = inner.y + i;
        let label_area = Rect {
            x: inner.x,
            y,
            width: LABEL.min(inner.width),
            height: 1,
        };
        frame.render_widget(Paragraph::new(label.as_str()), label_area);
        if inner.width > LABEL {
            let spark_area = Rect {
                x: inner.x + LABEL,
                y,
                width: inner.width - LABEL,
                height: 1,
            };
            frame.render_widget(
                Sparkline::default().data(data).style(theme.accent()),
                spark_area,
            );
        }
    }
    // Lag per partition of the service lagging most: hot partitions stand out.
    let used = rows.len() as u16;
    if inner.height > used
        && let Some(s) = last
        && let Some((si, lags)) = s
            .partition_lag
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .max_by_key(|(_, l)| l.iter().sum::<u64>())
    {
        let y = inner.y + used;
        let max = lags.iter().copied().max().unwrap_or(0).max(1);
        let name = &app.model().services[si].name;
        let mut spans = vec![Span::raw(format!("{name:<9.9} lag/partition "))];
        let bars = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        for &l in lags.iter().take(inner.width.saturating_sub(LABEL) as usize) {
            let idx = ((l * 7) / max) as usize;
            let style = if l * 2 > max && l > 100 {
                theme.warn()
            } else {
                Style::new()
            };
            spans.push(Span::styled(bars[idx.min(7)].to_string(), style));
        }
        if let Some((p, hot)) = lags.iter().enumerate().max_by_key(|(_, l)| **l)
            && *hot > 0
        {
            spans.push(Span::raw(format!(
                " hottest p{p}: {}",
                compact(*hot as f64)
            )));
        }
        frame.render_widget(
            Paragraph::new(Line::from(spans)),
            Rect {
                x: inner.x,
                y,
                width: inner.width,
                height: 1,
            },
        );
    }
}

/// The counters line: anomalies so far and the dead-letter backlog.
fn counter_spans(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let [o, d, l, r] = app.totals();
    let m = app.model();
    let mut dlq_depth = 0;
    let mut dlq_age = 0;
    let mut dead: Vec<Channel> = m.services.iter().filter_map(|g| g.dead_letter).collect();
    dead.extend(
        m.queues
            .iter()
            .filter_map(|q| q.redrive)
            .map(|(d, _)| Channel::Queue(d)),
    );
    dead.sort_unstable();
    dead.dedup();
    for &t in &dead {
        let (depth, age) = app.engine.channel_backlog(t);
        dlq_depth += depth;
        dlq_age = dlq_age.max(age);
    }
    let pick = |v: u64, s: Style| if v > 0 { s } else { Style::new() };
    let mut spans = vec![
        Span::styled(format!(" ordering {o} "), pick(o, theme.warn())),
        Span::styled(format!(" duplicates {d} "), pick(d, theme.warn())),
        Span::styled(format!(" lost {l} "), pick(l, theme.bad())),
        Span::raw(format!(" retries {r} ")),
    ];
    if !dead.is_empty() {
        let text = if dlq_depth > 0 {
            format!(" dlq {dlq_depth} (oldest {}) ", short_duration(dlq_age))
        } else {
            " dlq 0 ".to_string()
        };
        spans.push(Span::styled(text, pick(dlq_depth, theme.warn())));
    }
    spans
}

fn next_events(app: &App, n: usize) -> Vec<String> {
    app.engine
        .upcoming(n)
        .into_iter()
        .map(|(t, ev)| format!("{:.6} {}", t as f64 / 1e9, describe_event(app, ev)))
        .collect()
}

fn draw_counters(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let bordered = area.height >= 5;
    let block = Block::bordered().title(" anomalies · next ");
    let inner = if bordered { block.inner(area) } else { area };
    let h = inner.height as usize;
    // The counters, as many to a line as fit.
    let mut lines: Vec<Line> = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    for s in counter_spans(app, theme) {
        if !cur.is_empty() && Line::from(cur.clone()).width() + s.width() > inner.width as usize {
            lines.push(Line::from(std::mem::take(&mut cur)));
        }
        cur.push(s);
    }
    lines.push(Line::from(cur));
    let counter_rows = lines.len();
    // Room for the next events: a line each when side by side, one line when stacked.
    let stacked = inner.width >= 60 && h <= 3;
    let next_rows = if stacked { 1 } else { (h / 3).clamp(1, 4) };
    let explain_rows = h.saturating_sub(counter_rows + next_rows);
    let latest: Vec<String> = app
        .engine
        .anomalies()
        .rev()
        .take(explain_rows)
        .map(|a| a.explain(app.model()))
        .collect();
    if latest.is_empty() && explain_rows > 0 {
        lines.push(Line::styled(" no anomalies yet", theme.dim()));
    }
    for text in latest.into_iter().rev() {
        lines.push(Line::from(format!(" {text}")));
    }
    while lines.len() < h.saturating_sub(next_rows) {
        lines.push(Line::from(""));
    }
    let next = next_events(app, if stacked { 4 } else { next_rows });
    if stacked {
        lines.push(Line::from(vec![
            Span::styled(" next: ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(next.join("  ·  ")),
        ]));
    } else {
        for (i, e) in next.into_iter().enumerate() {
            let label = if i == 0 { " next: " } else { "       " };
            lines.push(Line::from(vec![
                Span::styled(label, Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(e),
            ]));
        }
    }
    // Beside the charts explanations wrap; stacked, each keeps to its line.
    if bordered {
        let para = Paragraph::new(lines).wrap(Wrap { trim: false });
        frame.render_widget(para.block(block), area);
    } else {
        frame.render_widget(Paragraph::new(lines), area);
    }
}

/// A scheduled event in words, for the "next" line.
pub fn describe_event(app: &App, ev: crate::sim::queue::Ev) -> String {
    use crate::sim::queue::{Ev, KafkaTimer, SqsTimer};
    let m = app.model();
    let service = |g: u32| m.services.get(g as usize).map_or("?", |x| x.name.as_str());
    match ev {
        Ev::Produce { producer } | Ev::Resend { producer, .. } => {
            format!(
                "produce {}",
                m.producers
                    .get(producer as usize)
                    .map_or("?", |p| p.name.as_str())
            )
        }
        Ev::Done { service: g, .. } => format!("done {}", service(g)),
        Ev::RetryDue { service: g, .. } => format!("retry {}", service(g)),
        Ev::Kafka {
            timer: KafkaTimer::AutoCommit,
            group: g,
            instance,
            ..
        } => format!("commit {}#{}", service(g), instance + 1),
        Ev::FaultStart { .. } => "crash".to_string(),
        Ev::FaultEnd { .. } => "restart".to_string(),
        Ev::Action { action } => match m.actions.get(action as usize).map(|a| a.kind) {
            Some(crate::model::ActionModelKind::Redrive { from, .. }) => format!(
                "redrive {}",
                m.queues.get(from).map_or("?", |q| q.name.as_str())
            ),
            None => "action".to_string(),
        },
        Ev::Kafka {
            timer: KafkaTimer::Detect,
            group: g,
            instance,
            ..
        } => format!("detect {}#{} gone", service(g), instance + 1),
        Ev::Kafka {
            timer: KafkaTimer::RebalanceDone | KafkaTimer::AssignRevoked,
            group: g,
            ..
        } => format!("rebalance {}", service(g)),
        Ev::Kafka {
            timer: KafkaTimer::Retention,
            group: t,
            ..
        } => format!(
            "retention {}",
            m.topics.get(t as usize).map_or("?", |x| x.name.as_str())
        ),
        Ev::Sqs {
            timer: SqsTimer::Queue,
            a: q,
            ..
        } => format!(
            "deadline {}",
            m.queues.get(q as usize).map_or("?", |x| x.name.as_str())
        ),
        Ev::Sqs {
            timer: SqsTimer::Poll,
            a: g,
            b: instance,
            ..
        } => format!("poll {}#{}", service(g), instance + 1),
        Ev::Sqs {
            timer: SqsTimer::Heartbeat,
            a: g,
            ..
        } => format!("heartbeat {}", service(g)),
        Ev::Sample => "sample".to_string(),
    }
}

fn draw_log(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let title = match &app.filter {
        Some(f) => format!(" event log · filter: {} (esc clears) ", f.text),
        None => " event log ".to_string(),
    };
    let hint = if app.selected.is_some() {
        " enter: journey · j/k: move "
    } else {
        " enter: journey "
    };
    let block = Block::bordered()
        .title(title)
        .title_bottom(Line::from(hint).right_aligned())
        .border_style(theme.border(app.focus == Panel::Log));
    let h = area.height.saturating_sub(2) as usize;
    let (window, sel) = app.log_window(h);
    let mark = app.step_mark;
    let lines: Vec<Line> = window
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let stepped = mark.is_some_and(|(a, b)| r.seq >= a && r.seq <= b);
            let text = format!("{}{}", if stepped { "▸" } else { " " }, app.describe(r));
            if sel == Some(i) {
                Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
            } else if stepped {
                Line::styled(text, theme.hot().remove_modifier(Modifier::REVERSED))
            } else {
                Line::from(text)
            }
        })
        .collect();
    if lines.is_empty() {
        let text = if app.filter.is_some() {
            " nothing kept matches the filter"
        } else {
            " nothing has happened yet: n steps one event, space runs"
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Lane of a record in the journey chart: a component, and the instance for services
/// (a pubsub's `route` and `filtered` records name their endpoint instead).
fn lane_of(r: &TraceRec) -> (u32, u32) {
    match r.kind {
        TraceKind::Route | TraceKind::Filtered => (r.component, NA32),
        _ => (r.component, r.instance),
    }
}

/// The journey of one message as a small sequence chart: one column per component or
/// instance it visited, one row per trace record, arrows for hops.
pub fn journey_lines(app: &App, msg: u64, width: u16) -> Vec<Line<'static>> {
    let recs = app.journey(msg);
    let names = app.names();
    let m = app.model();
    let mut out = Vec::new();
    let Some(first) = recs.first() else {
        out.push(Line::from(format!(
            " no record of msg {msg} is kept (the log keeps the latest {} records)",
            super::app::JOURNAL_LIMIT
        )));
        return out;
    };
    let mut events: Vec<&str> = Vec::new();
    for r in &recs {
        if let Some(e) = m.events.get(r.name as usize)
            && !events.contains(&e.as_str())
        {
            events.push(e);
        }
    }
    out.push(Line::from(vec![
        Span::styled(
            format!(" msg {msg} "),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "· key {} · {}",
            m.keys
                .name(first.key)
                .unwrap_or_else(|| "(none)".to_string()),
            events.join(" → ")
        )),
    ]));
    if first.kind != TraceKind::Produce {
        out.push(Line::from(
            " (earlier hops are older than the records the log keeps)",
        ));
    }
    let mut lanes: Vec<(u32, u32)> = Vec::new();
    for r in &recs {
        let l = lane_of(r);
        if !lanes.contains(&l) {
            lanes.push(l);
        }
    }
    let lane_name = |(c, i): (u32, u32)| {
        let n = names.get(c as usize).map_or("?", String::as_str);
        if i == NA32 {
            n.to_string()
        } else {
            format!("{n}#{}", i + 1)
        }
    };
    const TIME_W: usize = 11;
    const DESC_MIN: usize = 22;
    let avail = (width as usize).saturating_sub(TIME_W + DESC_MIN);
    let lw = (avail / lanes.len().max(1)).clamp(3, 16);
    let chart_w = lw * lanes.len();
    let mut header = format!("{:>TIME_W$}", "time (s) ");
    for &l in &lanes {
        let n: String = lane_name(l).chars().take(lw - 1).collect();
        header.push_str(&format!("{n:<lw$}"));
    }
    out.push(Line::styled(
        header,
        Style::new().add_modifier(Modifier::BOLD),
    ));
    let produced_at = recs
        .iter()
        .find(|r| r.kind == TraceKind::Produce)
        .map(|r| r.t);
    let mut prev_lane: Option<usize> = None;
    // A delivery comes from the topic or queue its service reads.
    let topic_comp = m.producers.len() as u32;
    let queue_comp = topic_comp + m.topics.len() as u32;
    let pubsub_comp = queue_comp + m.queues.len() as u32;
    let service_comp = pubsub_comp + m.pubsubs.len() as u32;
    let source_lane = |r: &TraceRec| {
        let g = r.component.checked_sub(service_comp)? as usize;
        let t = match m.services.get(g)?.source {
            Channel::Topic(t) => topic_comp + t as u32,
            Channel::Queue(q) => queue_comp + q as u32,
            Channel::Pubsub(p) => pubsub_comp + p as u32,
        };
        lanes.iter().position(|&(c, _)| c == t)
    };
    for r in &recs {
        let li = lanes.iter().position(|&l| l == lane_of(r)).unwrap_or(0);
        let from = match r.kind {
            TraceKind::Append => prev_lane,
            TraceKind::Deliver => source_lane(r),
            _ => None,
        }
        .filter(|&f| f != li);
        let mut cells: Vec<char> = vec![' '; chart_w];
        for k in 0..lanes.len() {
            cells[k * lw] = '│';
        }
        if let Some(f) = from {
            let (a, b) = (f.min(li) * lw, f.max(li) * lw);
            for c in cells.iter_mut().take(b).skip(a + 1) {
                *c = '─';
            }
            if f < li {
                cells[b - 1] = '▶';
            } else {
                cells[a + 1] = '◀';
            }
        }
        cells[li * lw] = match r.kind {
            TraceKind::Produce => '○',
            TraceKind::Ack => '✓',
            TraceKind::Fail => '✗',
            TraceKind::Retry => '↻',
            TraceKind::DeadLetter | TraceKind::Drop | TraceKind::Expire => '☠',
            _ => '●',
        };
        let chart: String = cells.into_iter().collect();
        let mut desc = match r.kind {
            TraceKind::ProcessStart => "start".to_string(),
            TraceKind::DeadLetter => "dead letter".to_string(),
            TraceKind::Route | TraceKind::Filtered => format!(
                "{} → {}",
                r.kind.name(),
                names.get(r.instance as usize).map_or("?", String::as_str)
            ),
            k => k.name().to_string(),
        };
        let at = |d: &mut String| {
            if r.partition != NA32 {
                d.push_str(&format!(" p{}", r.partition));
                if r.offset != NA64 {
                    d.push_str(&format!("@{}", r.offset));
                }
            }
        };
        match r.kind {
            TraceKind::Produce | TraceKind::Append | TraceKind::Deliver => at(&mut desc),
            TraceKind::ProcessStart | TraceKind::Fail if r.attempt != NA32 => {
                desc.push_str(&format!(" (try {})", r.attempt));
            }
            TraceKind::Ack => {
                if let Some(p) = produced_at {
                    desc.push_str(&format!(" +{}", short_duration(r.t.saturating_sub(p))));
                }
            }
            _ => {}
        }
        let style = match r.kind {
            TraceKind::Fail | TraceKind::DeadLetter | TraceKind::Drop | TraceKind::Expire => {
                Style::new().add_modifier(Modifier::BOLD)
            }
            _ => Style::new(),
        };
        out.push(Line::from(vec![
            Span::raw(format!("{:>10.6} ", r.t as f64 / 1e9)),
            Span::raw(chart),
            Span::styled(desc, style),
        ]));
        prev_lane = Some(li);
    }
    // Outcome per service: acks (more than one is a duplicate), attempts, dead letters.
    for (si, g) in m.services.iter().enumerate() {
        let comp = service_comp + si as u32;
        let of_service: Vec<&TraceRec> = recs.iter().filter(|r| r.component == comp).collect();
        if of_service.is_empty() {
            continue;
        }
        let acks = of_service
            .iter()
            .filter(|r| r.kind == TraceKind::Ack)
            .count();
        let tries = of_service
            .iter()
            .filter(|r| r.kind == TraceKind::ProcessStart)
            .count();
        let dead = of_service.iter().any(|r| r.kind == TraceKind::DeadLetter);
        let lost = of_service.iter().any(|r| r.kind == TraceKind::Drop);
        let verdict = if dead {
            "dead-lettered".to_string()
        } else if lost {
            "lost".to_string()
        } else if acks > 1 {
            format!("processed {acks}× (duplicate)")
        } else if acks == 1 {
            "processed once".to_string()
        } else {
            "not processed yet".to_string()
        };
        let open = match of_service.last().map(|r| r.kind) {
            Some(TraceKind::Deliver | TraceKind::ProcessStart) => ", one attempt in flight",
            Some(TraceKind::Fail | TraceKind::Retry) => ", a retry pending",
            _ => "",
        };
        out.push(Line::from(format!(
            " {}: {verdict}, {tries} attempt{}{open}",
            g.name,
            if tries == 1 { "" } else { "s" }
        )));
    }
    out
}

fn draw_inspector(frame: &mut Frame, area: Rect, app: &App, msg: u64, _theme: Theme) {
    let w = area.width.saturating_sub(4).clamp(20, 110).min(area.width);
    let lines = journey_lines(app, msg, w.saturating_sub(2));
    let h = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    // When too long, keep the head (who produced it) and the tail (how it ended).
    let rows = h.saturating_sub(2) as usize;
    let shown: Vec<Line> = if lines.len() > rows && rows >= 3 {
        let head = rows / 2;
        let tail = rows - head - 1;
        let mut v: Vec<Line> = lines[..head].to_vec();
        v.push(Line::from(format!(
            " … {} more rows …",
            lines.len() - head - tail
        )));
        v.extend_from_slice(&lines[lines.len() - tail..]);
        v
    } else {
        lines
    };
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .title(" journey (enter/esc: close) ")
                .border_style(Style::new().add_modifier(Modifier::BOLD)),
        ),
        r,
    );
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 62.min(area.width);
    let h = (KEYMAP.len() as u16 + 3).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .map(|b| Line::from(format!(" {:<10} {}", b.key, b.help)))
        .collect();
    lines.push(Line::from(" mouse: click focuses / selects, wheel scrolls"));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}
