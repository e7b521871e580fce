//! The charts panel: produced and processed rates, per service p99 and lag as
//! sparklines, and the lag per partition of the service lagging most.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};

use super::super::app::{App, Panel, Sample};
use super::super::ui::{Theme, chart_rows, compact, short_ms};

/// Width of the chart labels.
const LABEL: u16 = 25;
/// Width of the scale at a sparkline's right end (`↑31.7k`).
const SCALE: u16 = 7;

/// How many samples the charts in `area` show side by side.
pub(crate) fn samples_shown(area: Rect) -> usize {
    let inner = area.width.saturating_sub(2);
    let scale_w = if inner >= LABEL + SCALE + 10 {
        SCALE
    } else {
        0
    };
    usize::from(inner.saturating_sub(LABEL + scale_w))
}

pub(crate) fn draw_charts(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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
    // Each sparkline scales from 0 to its window's largest value, written at its right
    // end, so that a lag of 5 does not look like one of 31.7k.
    let scaled = inner.width >= LABEL + SCALE + 10;
    let scale_w = if scaled { SCALE } else { 0 };
    let width = samples_shown(area);
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
    // What each row's values are: a rate, a latency in µs, a count.
    let scale = |i: usize, data: &[u64]| -> String {
        let max = data.iter().copied().max().unwrap_or(0);
        let text = match i {
            0 | 1 => compact(max as f64),
            _ if full && i.is_multiple_of(2) => short_ms(max as f64 / 1000.0),
            _ => compact(max as f64),
        };
        format!("{:>w$}", format!("↑{text}"), w = usize::from(SCALE))
    };
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
        if inner.width > LABEL + scale_w {
            let spark_area = Rect {
                x: inner.x + LABEL,
                y,
                width: inner.width - LABEL - scale_w,
                height: 1,
            };
            frame.render_widget(
                Sparkline::default().data(data).style(theme.accent()),
                spark_area,
            );
        }
        if scaled {
            frame.render_widget(
                Paragraph::new(scale(usize::from(i), data)).style(theme.dim()),
                Rect {
                    x: inner.x + inner.width - SCALE,
                    y,
                    width: SCALE,
                    height: 1,
                },
            );
        }
    }
    // The fault timeline on the same time axis: a letter per sample while a fault is
    // under way (see the side panel for what each letter is).
    let mut used = rows.len() as u16;
    if !app.model().faults.is_empty() && inner.height > used {
        let first = end.saturating_sub(width);
        let before = first
            .checked_sub(1)
            .and_then(|i| app.history.get(i))
            .map_or(0, |s| s.time);
        let (label, marks) = super::faults::axis(app, &window, before);
        let y = inner.y + used;
        let style = if super::faults::any_active(app) {
            theme.bad()
        } else {
            theme.dim()
        };
        frame.render_widget(
            Paragraph::new(format!("{label:<w$.w$}", w = usize::from(LABEL))).style(style),
            Rect {
                x: inner.x,
                y,
                width: LABEL.min(inner.width),
                height: 1,
            },
        );
        if inner.width > LABEL + scale_w {
            frame.render_widget(
                Paragraph::new(marks).style(theme.bad()),
                Rect {
                    x: inner.x + LABEL,
                    y,
                    width: inner.width - LABEL - scale_w,
                    height: 1,
                },
            );
        }
        used += 1;
    }
    // Lag per partition of the service lagging most: hot partitions stand out.
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
