//! Drawing: pure functions from [`App`] to a frame. Panels collapse as the terminal
//! shrinks (log first, then charts), and nothing here can panic on a tiny area.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Sparkline, Wrap};

use super::app::{App, KEYMAP, Panel};

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
    fn border(self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().cyan().bold(),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            _ => Style::new(),
        }
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App, theme: Theme) {
    let area = frame.area();
    if area.width < 20 || area.height < 5 {
        frame.render_widget(Paragraph::new("edasim: window too small"), area);
        return;
    }
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, theme);
    draw_status(frame, status, app, theme);
    let counters_h = if body.height >= 14 { 5 } else { 0 };
    let log_h = if body.height >= 24 {
        body.height / 3
    } else {
        0
    };
    let [main, counters, log] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(counters_h),
        Constraint::Length(log_h),
    ])
    .areas(body);
    if main.width >= 70 {
        let [topo, charts] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(main);
        draw_topology(frame, topo, app, theme);
        draw_charts(frame, charts, app, theme);
    } else {
        draw_topology(frame, main, app, theme);
    }
    if counters_h > 0 {
        draw_counters(frame, counters, app, theme);
    }
    if log_h > 0 {
        draw_log(frame, log, app, theme);
    }
    if app.show_help {
        draw_help(frame, area);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let m = app.model();
    let state = if app.engine.is_finished() {
        "finished"
    } else if app.paused {
        "paused"
    } else {
        "running"
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
    if let Some(m) = &app.message {
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {m}"), theme.accent())),
            area,
        );
        return;
    }
    let mut spans = Vec::new();
    for b in KEYMAP
        .iter()
        .filter(|b| ["space", "n", "s", "b", "+", "-", "e", "?", "q"].contains(&b.key))
    {
        spans.push(Span::styled(
            format!(" {} ", b.key),
            theme.accent().add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(format!(" {} ", b.help)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_topology(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let m = app.model();
    let last = app.history.back();
    let mut lines: Vec<Line> = Vec::new();
    for p in &m.producers {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", p.name), theme.accent()),
            Span::raw(format!("→ {}", m.topics[p.topic].name)),
        ]));
    }
    for (gi, g) in m.groups.iter().enumerate() {
        let owners = app.engine.owners(gi);
        let alive = owners.iter().filter(|o| o.is_some()).count();
        let lag = last.and_then(|s| s.groups.get(gi)).map_or(0, |x| x.2);
        let up = app.engine.instances_alive(gi);
        let crashed = g.instances as usize - up;
        let crashed_text = format!("{crashed} crashed");
        let (state, style) = if crashed > 0 {
            (crashed_text.as_str(), theme.bad())
        } else if alive < owners.len() {
            ("unassigned partitions", theme.bad())
        } else if lag > 1_000 {
            ("lagging", theme.warn())
        } else {
            ("healthy", Style::new())
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{} → ", m.topics[g.topic].name)),
            Span::styled(g.name.clone(), Style::new().bold()),
            Span::raw(format!(" ×{} lag {lag} ", g.instances)),
            Span::styled(format!("[{state}]"), style),
        ]));
        if let Some(d) = g.dead_letter {
            lines.push(Line::from(format!(
                "  {} ⇢ {} (dead letters)",
                g.name, m.topics[d].name
            )));
        }
        for (e, t) in &g.emits {
            lines.push(Line::from(format!(
                "  {} ⇢ {} ({})",
                g.name, m.topics[*t].name, m.events[*e as usize]
            )));
        }
    }
    let block = Block::bordered()
        .title(" topology ")
        .border_style(theme.border(app.focus == Panel::Topology));
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

/// Width of the chart labels.
const LABEL: u16 = 21;

fn draw_charts(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let block = Block::bordered()
        .title(" throughput · latency · lag ")
        .border_style(theme.border(app.focus == Panel::Charts));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let width = inner.width.saturating_sub(LABEL) as usize;
    let tail = |f: &dyn Fn(&super::app::Sample) -> u64| -> Vec<u64> {
        let n = app.history.len();
        app.history
            .iter()
            .skip(n.saturating_sub(width))
            .map(f)
            .collect()
    };
    let last = app.history.back();
    let mut rows: Vec<(String, Vec<u64>)> = vec![
        (
            format!("produced {:>9.0}/s ", last.map_or(0.0, |s| s.rate_in)),
            tail(&|s| s.rate_in as u64),
        ),
        (
            format!("processed {:>8.0}/s ", last.map_or(0.0, |s| s.rate_out)),
            tail(&|s| s.rate_out as u64),
        ),
    ];
    for (gi, g) in app.model().groups.iter().enumerate() {
        let (_, p99, lag) = last
            .and_then(|s| s.groups.get(gi).copied())
            .unwrap_or((0.0, 0.0, 0));
        rows.push((
            format!("{:<7.7} p99 {:>6.0}ms ", g.name, p99),
            tail(&|s| s.groups.get(gi).map_or(0, |x| (x.1 * 1000.0) as u64)),
        ));
        rows.push((
            format!("{:<7.7} lag {lag:>8} ", g.name),
            tail(&|s| s.groups.get(gi).map_or(0, |x| x.2)),
        ));
    }
    rows.push((
        format!("dlq depth {:>10} ", last.map_or(0, |s| s.dlq_depth)),
        tail(&|s| s.dlq_depth),
    ));
    for (i, (label, data)) in rows.iter().enumerate() {
        let y = inner.y + i as u16;
        if y >= inner.y + inner.height {
            break;
        }
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
    // Lag per partition of the group lagging most: hot partitions stand out.
    let used = rows.len() as u16;
    if inner.height > used + 1
        && let Some(s) = last
        && let Some((gi, lags)) = s
            .partition_lag
            .iter()
            .enumerate()
            .max_by_key(|(_, l)| l.iter().sum::<u64>())
    {
        let y = inner.y + used;
        let max = lags.iter().copied().max().unwrap_or(0).max(1);
        let name = &app.model().groups[gi].name;
        let mut spans = vec![Span::raw(format!("{name:<7.7} lag/part     "))];
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

fn draw_counters(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let [o, d, l, r] = app.totals();
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(" ordering {o} "),
            if o > 0 { theme.warn() } else { Style::new() },
        ),
        Span::styled(
            format!(" duplicates {d} "),
            if d > 0 { theme.warn() } else { Style::new() },
        ),
        Span::styled(
            format!(" lost {l} "),
            if l > 0 { theme.bad() } else { Style::new() },
        ),
        Span::raw(format!(" retries {r} ")),
    ])];
    let latest: Vec<String> = app
        .engine
        .anomalies()
        .rev()
        .take(1)
        .map(|a| a.explain(app.model()))
        .collect();
    for text in latest {
        lines.push(Line::from(format!(" {text}")));
    }
    let next: Vec<String> = app
        .engine
        .upcoming(4)
        .into_iter()
        .map(|(t, ev)| format!("{:.6} {}", t as f64 / 1e9, describe_event(app, ev)))
        .collect();
    lines.push(Line::from(vec![
        Span::styled(" next: ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(next.join("  ·  ")),
    ]));
    let block = Block::bordered().title(" anomalies ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A scheduled event in words, for the "next" line.
pub fn describe_event(app: &App, ev: crate::sim::queue::Ev) -> String {
    use crate::sim::queue::Ev;
    let m = app.model();
    let group = |g: u32| m.groups.get(g as usize).map_or("?", |x| x.name.as_str());
    match ev {
        Ev::Produce { producer } | Ev::Resend { producer, .. } => {
            format!(
                "produce {}",
                m.producers
                    .get(producer as usize)
                    .map_or("?", |p| p.name.as_str())
            )
        }
        Ev::Done { group: g, .. } => format!("done {}", group(g)),
        Ev::RetryDue { group: g, .. } => format!("retry {}", group(g)),
        Ev::AutoCommit {
            group: g, instance, ..
        } => format!("commit {}#{}", group(g), instance + 1),
        Ev::FaultStart { .. } => "crash".to_string(),
        Ev::FaultEnd { .. } => "restart".to_string(),
        Ev::Detect {
            group: g, instance, ..
        } => format!("detect {}#{} gone", group(g), instance + 1),
        Ev::RebalanceDone { group: g, .. } | Ev::AssignRevoked { group: g, .. } => {
            format!("rebalance {}", group(g))
        }
        Ev::Sample => "sample".to_string(),
    }
}

fn draw_log(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let block = Block::bordered()
        .title(" event log ")
        .border_style(theme.border(app.focus == Panel::Log));
    let h = area.height.saturating_sub(2) as usize;
    let end = app.log.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(start)
        .take(end - start)
        .enumerate()
        .map(|(i, l)| {
            if i + start + 1 == end && app.log_scroll == 0 {
                Line::styled(l.clone(), Style::new().add_modifier(Modifier::REVERSED))
            } else {
                Line::from(l.clone())
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 44.min(area.width);
    let h = (KEYMAP.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = KEYMAP
        .iter()
        .map(|b| Line::from(format!(" {:<10} {}", b.key, b.help)))
        .collect();
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}
