//! The anomalies panel: counters, the latest anomalies explained, and the next events.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::app::{App, Panel};
use super::super::ui::{Theme, short_duration};
use crate::model::Channel;

/// The counters line: anomalies so far and the dead-letter backlog.
pub(crate) fn counter_spans(app: &App, theme: Theme) -> Vec<Span<'static>> {
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

pub(crate) fn next_events(app: &App, n: usize) -> Vec<String> {
    app.engine
        .upcoming(n)
        .into_iter()
        .map(|(t, ev)| {
            format!(
                "{:.6} {}",
                t as f64 / 1e9,
                super::log::describe_event(app, ev)
            )
        })
        .collect()
}

pub(crate) fn draw_counters(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let bordered = area.height >= 5;
    let focused = app.focus == Panel::Anomalies;
    let mut block = Block::bordered()
        .title(
            match (app.model().sagas.is_empty(), app.model().faults.is_empty()) {
                (true, true) => " anomalies · next ",
                (true, false) => " faults · anomalies · next ",
                (false, true) => " sagas · anomalies · next ",
                (false, false) => " sagas · faults · anomalies · next ",
            },
        )
        .border_style(theme.border(focused));
    if focused {
        block = block.title_bottom(Line::from(" j/k: select · enter: journey ").right_aligned());
    }
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
    // The sagas first: a line per saga, then a line per step while room is left for
    // the counters, an anomaly and the next events.
    // The faults under way (or the next one), a line each when there is room for them
    // and the counters, an anomaly and the next events; else on one line.
    // (They may take the room of all but one next event and one anomaly.)
    let base = lines.len() + 3;
    let fault_all = super::faults::fault_lines(app, theme, usize::from(inner.width));
    let fault_sel: Vec<Line<'static>> = if lines.len() + 2 + fault_all.len() <= h {
        fault_all
    } else if base < h {
        super::faults::fault_summary(app, theme, usize::from(inner.width))
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let saga_room = h.saturating_sub(base + fault_sel.len());
    let all_sagas = saga_lines(app, theme, usize::from(inner.width));
    let saga_total = all_sagas
        .iter()
        .find(|(step, _)| !step)
        .map(|(_, l)| l.clone());
    let mut saga_lines = all_sagas;
    if saga_lines.len() > saga_room {
        // Keep the saga totals; drop step lines from the end.
        let totals: Vec<Line<'static>> = saga_lines
            .iter()
            .filter(|(step, _)| !step)
            .map(|(_, l)| l.clone())
            .collect();
        saga_lines = if totals.len() <= saga_room {
            let mut keep = Vec::new();
            let mut room = saga_room - totals.len();
            for (step, l) in saga_lines {
                if !step {
                    keep.push((false, l));
                } else if room > 0 {
                    room -= 1;
                    keep.push((true, l));
                }
            }
            keep
        } else {
            totals
                .into_iter()
                .take(saga_room)
                .map(|l| (false, l))
                .collect()
        };
    }
    let shown_sagas = saga_lines.len();
    for (k, (_, l)) in saga_lines.into_iter().enumerate() {
        lines.insert(k, l);
    }
    for (k, l) in fault_sel.into_iter().enumerate() {
        lines.insert(shown_sagas + k, l);
    }
    let counter_rows = lines.len();
    let width = usize::from(inner.width);
    // Room for the next events: a line each when side by side, one line when stacked.
    let stacked = inner.width >= 60 && h <= 3;
    let next_rows = if stacked {
        1
    } else {
        (h / 3)
            .clamp(1, 4)
            .min(h.saturating_sub(counter_rows + 1).max(1))
    };
    let explain_rows = h.saturating_sub(counter_rows + next_rows);
    // The latest anomalies that fit, each wrapped at word boundaries (never cut), oldest
    // first.
    // With the focus here the selected anomaly is the newest shown (marked).
    let skip = if focused { app.anomaly } else { 0 };
    let mut explained: Vec<Vec<String>> = Vec::new();
    let mut rows = 0;
    for a in app.engine.anomalies().rev().skip(skip) {
        let wrapped =
            // The first row is indented by one column, the others by three.
            super::super::ui::wrap_hanging(
                &a.explain(app.model()),
                width.saturating_sub(1).max(10),
                width.saturating_sub(3).max(10),
            );
        if rows + wrapped.len() > explain_rows {
            break;
        }
        rows += wrapped.len();
        explained.push(wrapped);
    }
    if explained.is_empty() && explain_rows > 0 {
        match app.engine.anomalies().rev().nth(skip) {
            // Too little room to wrap it: its first rows, the rest in the log.
            Some(a) => {
                let (first, rest) = (
                    width.saturating_sub(1).max(10),
                    width.saturating_sub(3).max(10),
                );
                let mut wrapped =
                    super::super::ui::wrap_hanging(&a.explain(app.model()), first, rest);
                wrapped.truncate(explain_rows);
                let room = if wrapped.len() == 1 { first } else { rest };
                if let Some(last) = wrapped.last_mut() {
                    // Room for the ellipsis: drop the last word if the row is full.
                    if last.chars().count() + 1 > room
                        && let Some(cut) = last.rfind(' ')
                    {
                        last.truncate(cut);
                    }
                    last.push('…');
                }
                explained.push(wrapped);
            }
            None => lines.push(Line::styled(" no anomalies yet", theme.dim())),
        }
    }
    let count = explained.len();
    for (k, wrapped) in explained.into_iter().rev().enumerate() {
        let marked = focused && k + 1 == count;
        for (i, part) in wrapped.into_iter().enumerate() {
            let text = format!("{}{part}", if i == 0 { " " } else { "   " });
            lines.push(if marked {
                Line::styled(text, Style::new().add_modifier(Modifier::REVERSED))
            } else {
                Line::from(text)
            });
        }
    }
    while lines.len() < h.saturating_sub(next_rows) {
        lines.push(Line::from(""));
    }
    let label = Span::styled(" next: ", Style::new().add_modifier(Modifier::BOLD));
    let fault_now = super::faults::any_active(app)
        .then(|| super::faults::fault_summary(app, theme, width))
        .flatten()
        .filter(|_| base >= h);
    if stacked
        && h <= 3
        && let Some(f) = fault_now
    {
        // Collapsed: the faults under way matter most, then the sagas' progress, then
        // the next events.
        lines.push(f);
    } else if stacked
        && h <= 3
        && let Some(total) = saga_total.filter(|_| saga_room == 0)
    {
        lines.push(total);
    } else if stacked {
        // As many upcoming events as fit on the line, whole.
        let mut text = String::new();
        for e in next_events(app, 4) {
            let more = if text.is_empty() {
                e
            } else {
                format!("{text}  ·  {e}")
            };
            if Span::raw(more.as_str()).width() + label.width() > width && !text.is_empty() {
                break;
            }
            text = more;
        }
        lines.push(Line::from(vec![label, Span::raw(text)]));
    } else {
        for (i, e) in next_events(app, next_rows).into_iter().enumerate() {
            let label = if i == 0 {
                label.clone()
            } else {
                Span::raw("       ")
            };
            lines.push(Line::from(vec![label, Span::raw(e)]));
        }
    }
    let para = Paragraph::new(lines);
    if bordered {
        frame.render_widget(para.block(block), area);
    } else {
        frame.render_widget(para, area);
    }
}

/// The saga panel's lines: per saga its totals (started, then ✓ completed, ↩ compensated,
/// ✗ failed, ▶ under way), then per step a bar of its states and their counts: ▶ running
/// forward at it, ✓ done, ↺ compensating it, ↩ compensated, ✗ failed; the bar shows
/// done █, compensated ▒ and failed ░ as shares of what reached the step. (true: a
/// step line, dropped first when room is short.)
pub(crate) fn saga_lines(app: &App, theme: Theme, width: usize) -> Vec<(bool, Line<'static>)> {
    use super::super::ui::compact;
    let mut out = Vec::new();
    for sg in app.engine.saga_views() {
        let running: u64 = sg
            .steps
            .iter()
            .map(|s| s.in_progress + s.compensating)
            .sum();
        out.push((
            false,
            Line::from(vec![
                Span::styled(
                    format!(" {} ", sg.name),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!("{} ", compact(sg.started as f64))),
                Span::styled(format!("✓{} ", compact(sg.completed as f64)), theme.good()),
                Span::styled(
                    format!("↩{} ", compact(sg.compensated as f64)),
                    if sg.compensated > 0 {
                        theme.warn()
                    } else {
                        Style::new()
                    },
                ),
                Span::styled(
                    format!("✗{} ", compact(sg.failed as f64)),
                    if sg.failed > 0 {
                        theme.bad()
                    } else {
                        Style::new()
                    },
                ),
                Span::raw(format!("▶{}", compact(running as f64))),
            ]),
        ));
        let name_w = sg
            .steps
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(10);
        for st in &sg.steps {
            let counts = format!(
                " ▶{} ✓{} ↺{} ↩{} ✗{}",
                compact(st.in_progress as f64),
                compact(st.done as f64),
                compact(st.compensating as f64),
                compact(st.compensated as f64),
                compact(st.failed as f64)
            );
            let name: String = st.name.chars().take(name_w).collect();
            let bar_w = width
                .saturating_sub(name_w + 3 + counts.chars().count())
                .min(12);
            // The bar: the share of done, compensated and failed among what the step
            // has seen, and a mark while some sagas are at it.
            let total = (st.done + st.failed).max(1) as f64;
            let cells = |v: u64| ((v as f64 / total) * bar_w as f64).round() as usize;
            let (c, f) = (
                cells(st.compensated).min(bar_w),
                cells(st.failed).min(bar_w),
            );
            let d = bar_w.saturating_sub(c + f);
            let mut spans = vec![Span::raw(format!("  {name:<name_w$} "))];
            if bar_w > 0 {
                // Distinct glyphs, so that the bar reads without colour too.
                spans.push(Span::styled("█".repeat(d), theme.good()));
                spans.push(Span::styled("▒".repeat(c), theme.warn()));
                spans.push(Span::styled("░".repeat(f), theme.bad()));
            }
            spans.push(Span::raw(counts));
            out.push((true, Line::from(spans)));
        }
    }
    out
}
