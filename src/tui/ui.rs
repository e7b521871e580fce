//! Drawing: pure functions from [`App`] to a frame. Panels collapse as the terminal
//! shrinks (the log first, then the charts, then the counters), and nothing here can
//! panic on a tiny area. [`layout`] is shared with the mouse's [`hit_test`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::app::{App, KEYMAP, Panel, PromptKind};
pub use super::panels::journey::journey_lines;
pub use super::panels::log::describe_event;
use super::panels::{charts, counters, help, journey, log, topology};

/// Colours, or none under `NO_COLOR` (bold and reverse are kept).
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Use colours.
    pub color: bool,
}

impl Theme {
    pub(crate) fn accent(self) -> Style {
        if self.color {
            Style::new().cyan()
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub(crate) fn warn(self) -> Style {
        if self.color {
            Style::new().yellow()
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub(crate) fn bad(self) -> Style {
        if self.color {
            Style::new().red().bold()
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    pub(crate) fn good(self) -> Style {
        if self.color {
            Style::new().green()
        } else {
            Style::new()
        }
    }
    pub(crate) fn dim(self) -> Style {
        if self.color {
            Style::new().dark_gray()
        } else {
            Style::new()
        }
    }
    /// What the last step touched: reversed in both themes.
    pub(crate) fn hot(self) -> Style {
        if self.color {
            Style::new()
                .magenta()
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }
    pub(crate) fn border(self, focused: bool) -> Style {
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

/// Rows the charts want: two rates, per service p99 and lag, the faults' timeline (when
/// the scenario has faults), partition lag bars.
pub(crate) fn chart_rows(app: &App) -> u16 {
    let services = u16::try_from(app.model().services.len()).unwrap_or(u16::MAX);
    let faults = u16::from(!app.model().faults.is_empty());
    services.saturating_mul(2).saturating_add(3 + faults)
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
    let wide = body.width >= 100;
    let cap = topo_cap(h, app, wide);
    let topo_want =
        topology::topology_lines(app, body.width.saturating_sub(2), cap).len() as u16 + 2;
    let topo_h = topo_want.min(cap).min(h);
    let rest = h - topo_h;
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

/// Most rows the topology may take from a body of height `h`: on a tall screen a fixed
/// share; on a short one whatever the compact charts (and, stacked, the counters) leave,
/// so that lag and state stay drawn.
fn topo_cap(h: u16, app: &App, wide: bool) -> u16 {
    let others = compact_chart_rows(app) + 2 + if wide { 0 } else { 3 };
    let spare = h.saturating_sub(others).max(h / 2);
    match h {
        36.. => spare.min(16),
        30.. => spare.min(12),
        _ => spare,
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
        topology::draw_topology(frame, a.topology, app, theme);
    }
    if a.charts.height > 2 {
        charts::draw_charts(frame, a.charts, app, theme);
    }
    if a.counters.height > 0 {
        counters::draw_counters(frame, a.counters, app, theme);
    }
    if a.log.height > 2 {
        log::draw_log(frame, a.log, app, theme);
    }
    if let Some(si) = app.inspect_node {
        topology::draw_node_inspector(frame, area, app, si);
    }
    if let Some(msg) = app.inspect {
        journey::draw_inspector(frame, area, app, msg, theme);
    }
    if app.show_help {
        help::draw_help(frame, area);
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
    if inside(a.charts) {
        return Some(Hit::Panel(Panel::Charts));
    }
    if inside(a.counters) {
        return Some(Hit::Panel(Panel::Anomalies));
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
            // Cut, not rounded: 111.999952 s is still 111.999.
            format!(
                "t {}.{:03} / {:.0} s",
                app.engine.now() / 1_000_000_000,
                app.engine.now() / 1_000_000 % 1000,
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
            // The reason fits the line: cut at a word with `…` when it would not.
            Some(e) => {
                let room = usize::from(area.width).saturating_sub(Line::from(spans.clone()).width() + 3);
                let mut text = e.clone();
                if Span::raw(text.as_str()).width() > room {
                    let mut cut = String::new();
                    for word in e.split(' ') {
                        let next = if cut.is_empty() { word.to_string() } else { format!("{cut} {word}") };
                        if Span::raw(next.as_str()).width() + 1 > room {
                            break;
                        }
                        cut = next;
                    }
                    text = format!("{cut}…");
                }
                spans.push(Span::styled(format!("  {text}"), theme.bad()));
            }
            None => spans.push(Span::styled(
                match p.kind {
                    PromptKind::Goto => {
                        "  90s · #5000 · msg 42 · key user-7 · payment.lag > 1k (first sample where it holds)"
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
    // The hints in keymap order; when they do not all fit, the least important go
    // first, so `? help` and `q quit` always show.
    const PRIORITY: [&str; 12] = [
        "q", "?", "space", "n", "enter", "g", "b", "/", "s", "e", "+", "-",
    ];
    let hint = |key: &str| -> String {
        let text = match key {
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
            "q" => "quit",
            _ => "",
        };
        format!(" {key} {text} ")
    };
    let width = usize::from(area.width);
    let mut used = 0;
    let mut shown: Vec<&str> = Vec::new();
    for key in PRIORITY {
        let w = Span::raw(hint(key)).width();
        if used + w <= width {
            used += w;
            shown.push(key);
        }
    }
    let mut spans = Vec::new();
    for b in KEYMAP.iter().filter(|b| shown.contains(&b.key)) {
        spans.push(Span::styled(
            format!(" {} ", b.key),
            theme.accent().add_modifier(Modifier::REVERSED),
        ));
        let text = hint(b.key);
        let text = text.trim_start().trim_start_matches(b.key).trim_start();
        spans.push(Span::raw(text.to_string()));
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

/// Milliseconds as a short text: `0.8ms`, `12ms`, `5.5s`, `17.1s`.
pub fn short_ms(ms: f64) -> String {
    if ms >= 1_000.0 {
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

/// `text` cut into lines of at most `width` columns at spaces (a word longer than the
/// width gets a line of its own, cut).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, width)
}

/// As [`wrap_words`], the first line at most `first` wide and the others `rest` (a
/// hanging indent).
pub fn wrap_hanging(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = Span::raw(word).width();
        let cw = Span::raw(cur.as_str()).width();
        let width = if out.is_empty() { first } else { rest };
        if !cur.is_empty() && cw + 1 + w > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}
