//! The journey inspector: one message's trace records as a small sequence chart.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::app::App;
use super::super::ui::{Theme, short_duration};
use crate::model::Channel;
use crate::sim::saga::SagaOutcome;
use crate::sim::trace::{NA32, NA64, TraceKind, TraceRec};

/// Lane of a record in the journey chart: a component, and the instance for services
/// (a pubsub's `route` and `filtered` records name their endpoint instead).
fn lane_of(r: &TraceRec) -> (u32, u32) {
    match r.kind {
        TraceKind::Route | TraceKind::Filtered => (r.component, NA32),
        _ => (r.component, r.instance),
    }
}

/// Column headers of at most `w` columns for the lanes named `names`, all different:
/// whole names when they fit; else shortened with `…`, keeping an instance's `#n`;
/// else letters, with a legend ("A payment#2 · B payments").
pub fn lane_labels(names: &[String], w: usize) -> (Vec<String>, Option<String>) {
    let width = |s: &str| Span::raw(s).width();
    let cut = |s: &str, n: usize| -> String {
        let mut out = String::new();
        for c in s.chars() {
            if width(&out) + width(c.encode_utf8(&mut [0; 4])) > n {
                break;
            }
            out.push(c);
        }
        out
    };
    let short: Vec<String> = names
        .iter()
        .map(|n| {
            if width(n) <= w {
                return n.clone();
            }
            let (base, suffix) = match n.rfind('#') {
                Some(i) if n[i + 1..].chars().all(|c| c.is_ascii_digit()) => n.split_at(i),
                _ => (n.as_str(), ""),
            };
            let room = w.saturating_sub(width(suffix) + 1);
            if room == 0 {
                return cut(n, w);
            }
            format!("{}…{suffix}", cut(base, room))
        })
        .collect();
    let distinct = short
        .iter()
        .enumerate()
        .all(|(i, a)| short.iter().skip(i + 1).all(|b| b != a));
    if distinct {
        return (short, None);
    }
    let letter = |i: usize| -> String {
        let a = (b'A' + (i % 26) as u8) as char;
        if i < 26 {
            a.to_string()
        } else {
            format!("{a}{}", i / 26)
        }
    };
    let legend = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{} {n}", letter(i)))
        .collect::<Vec<_>>()
        .join(" · ");
    ((0..names.len()).map(letter).collect(), Some(legend))
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
            super::super::app::JOURNAL_LIMIT
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
    let full: Vec<String> = lanes.iter().map(|&l| lane_name(l)).collect();
    let (labels, legend) = lane_labels(&full, lw - 1);
    let mut header = format!("{:>TIME_W$}", "time (s) ");
    for n in &labels {
        header.push_str(&format!("{n:<lw$}"));
    }
    out.push(Line::styled(
        header,
        Style::new().add_modifier(Modifier::BOLD),
    ));
    if let Some(legend) = legend {
        out.push(Line::from(format!(" {legend}")));
    }
    let produced_at = recs
        .iter()
        .find(|r| r.kind == TraceKind::Produce)
        .map(|r| r.t);
    let mut prev_lane: Option<usize> = None;
    // A delivery comes from the topic or queue its service reads.
    let topic_comp = m.producers.len() as u32;
    let queue_comp = topic_comp + m.topics.len() as u32;
    let pubsub_comp = queue_comp + m.queues.len() as u32;
    let exchange_comp = pubsub_comp + m.pubsubs.len() as u32;
    let bus_comp = exchange_comp + m.exchanges.len() as u32;
    let service_comp = bus_comp + m.buses.len() as u32;
    let source_lane = |r: &TraceRec| {
        let g = r.component.checked_sub(service_comp)? as usize;
        let t = match m.services.get(g)?.source {
            Channel::Topic(t) => topic_comp + t as u32,
            Channel::Queue(q) => queue_comp + q as u32,
            Channel::Pubsub(p) => pubsub_comp + p as u32,
            Channel::Exchange(x) => exchange_comp + x as u32,
            Channel::Bus(b) => bus_comp + b as u32,
        };
        lanes.iter().position(|&(c, _)| c == t)
    };
    // A saga's record: its definition, its step's name and its outcome.
    let saga_comp = service_comp + m.services.len() as u32;
    let saga_of = |r: &TraceRec| -> Option<(usize, &str, SagaOutcome)> {
        if r.kind != TraceKind::SagaStep {
            return None;
        }
        let d = r.component.checked_sub(saga_comp)? as usize;
        let step = m.sagas.get(d)?.steps.get(r.partition as usize)?;
        Some((d, step.name.as_str(), SagaOutcome::from_code(r.offset)?))
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
        let saga = saga_of(r);
        cells[li * lw] = match r.kind {
            TraceKind::SagaStep => saga.map_or('●', |(_, _, o)| saga_mark(o)),
            TraceKind::Produce => '○',
            TraceKind::Ack => '✓',
            TraceKind::Fail => '✗',
            TraceKind::Retry => '↻',
            TraceKind::DeadLetter | TraceKind::Drop | TraceKind::Expire => '☠',
            _ => '●',
        };
        let chart: String = cells.into_iter().collect();
        let mut desc = match r.kind {
            TraceKind::SagaStep => match saga {
                Some((_, step, o)) => saga_words(step, o, r.attempt),
                None => "saga_step".to_string(),
            },
            TraceKind::ProcessStart => "start".to_string(),
            TraceKind::DeadLetter => "dead letter".to_string(),
            TraceKind::Route | TraceKind::Filtered => match names.get(r.instance as usize) {
                Some(to) => format!("{} → {to}", r.kind.name()),
                None => r.kind.name().to_string(),
            },
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
        let style = match (r.kind, saga.map(|(_, _, o)| o)) {
            (TraceKind::Fail | TraceKind::DeadLetter | TraceKind::Drop | TraceKind::Expire, _)
            | (
                TraceKind::SagaStep,
                Some(
                    SagaOutcome::Failed
                    | SagaOutcome::TimedOut
                    | SagaOutcome::CompensationFailed
                    | SagaOutcome::Aborted
                    | SagaOutcome::RolledBack
                    | SagaOutcome::Completed,
                ),
            ) => Style::new().add_modifier(Modifier::BOLD),
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
        // A saga's message comes back to a service as other events (a reply, a
        // compensation): only the same event processed again is a duplicate.
        let mut by_event: Vec<(u16, usize)> = Vec::new();
        for r in of_service.iter().filter(|r| r.kind == TraceKind::Ack) {
            match by_event.iter_mut().find(|(e, _)| *e == r.name) {
                Some((_, n)) => *n += 1,
                None => by_event.push((r.name, 1)),
            }
        }
        let again = by_event.iter().find(|(_, n)| *n > 1);
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
        } else if let Some(&(e, n)) = again {
            if by_event.len() > 1 {
                let name = m.events.get(e as usize).map_or("?", String::as_str);
                format!("processed {name} {n}× (duplicate)")
            } else {
                format!("processed {n}× (duplicate)")
            }
        } else if by_event.len() > 1 {
            format!("processed {} events once each", by_event.len())
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
        // End to end: the first time this service finished it, after the first produce.
        let e2e = match (
            produced_at,
            of_service.iter().find(|r| r.kind == TraceKind::Ack),
        ) {
            (Some(p), Some(a)) => format!(
                ", {} after the produce",
                short_duration(a.t.saturating_sub(p))
            ),
            _ => String::new(),
        };
        out.push(Line::from(format!(
            " {}: {verdict}, {tries} attempt{}{open}{e2e}",
            g.name,
            if tries == 1 { "" } else { "s" }
        )));
    }
    // The saga it belongs to, step by step: forward steps, then the compensations in
    // the order they ran, and how it ended.
    let saga_recs: Vec<(&TraceRec, usize, &str, SagaOutcome)> = recs
        .iter()
        .filter_map(|r| saga_of(r).map(|(d, st, o)| (r, d, st, o)))
        .collect();
    if let Some(&(_, d, _, _)) = saga_recs.first() {
        let started = saga_recs
            .iter()
            .find(|x| x.3 == SagaOutcome::Started)
            .map(|x| x.0.t);
        let mut parts: Vec<String> = Vec::new();
        let mut end = None;
        for &(r, _, step, o) in &saga_recs {
            let took = || {
                started.map_or(String::new(), |t| {
                    format!(" in {}", short_duration(r.t.saturating_sub(t)))
                })
            };
            match o {
                SagaOutcome::Done => parts.push(format!("{step} ✓")),
                SagaOutcome::Failed => parts.push(format!("{step} ✗")),
                SagaOutcome::TimedOut => parts.push(format!("{step} timed out")),
                SagaOutcome::Compensated => parts.push(format!("undo {step} ↩")),
                SagaOutcome::CompensationFailed => parts.push(format!("undo {step} ✗")),
                SagaOutcome::Duplicate => parts.push(format!("{step} again")),
                SagaOutcome::Completed => end = Some(format!("completed{}", took())),
                SagaOutcome::RolledBack => end = Some(format!("compensated{}", took())),
                SagaOutcome::Aborted => end = Some(format!("failed{}", took())),
                SagaOutcome::Started | SagaOutcome::Sent | SagaOutcome::Compensate => {}
            }
        }
        let last = saga_recs.last().map(|x| x.2).unwrap_or("?");
        parts.push(end.unwrap_or_else(|| format!("under way at {last}")));
        let text = format!("saga {}: {}", m.sagas[d].name, parts.join(" → "));
        let w = usize::from(width).saturating_sub(4).max(20);
        for (i, l) in super::super::ui::wrap_words(&text, w)
            .into_iter()
            .enumerate()
        {
            out.push(Line::from(if i == 0 {
                format!(" {l}")
            } else {
                format!("   {l}")
            }));
        }
    }
    out
}

/// The mark of a saga record in the journey chart.
fn saga_mark(o: SagaOutcome) -> char {
    match o {
        SagaOutcome::Started => '◆',
        SagaOutcome::Sent => '●',
        SagaOutcome::Done | SagaOutcome::Completed => '✓',
        SagaOutcome::Failed | SagaOutcome::CompensationFailed => '✗',
        SagaOutcome::TimedOut => '!',
        SagaOutcome::Compensate => '↺',
        SagaOutcome::Compensated | SagaOutcome::RolledBack => '↩',
        SagaOutcome::Aborted => '☠',
        SagaOutcome::Duplicate => '≡',
    }
}

/// A saga record in words: `charge sent`, `reserve compensate (send 2)`, `saga
/// compensated`.
fn saga_words(step: &str, o: SagaOutcome, attempt: u32) -> String {
    let mut d = match o {
        SagaOutcome::Started => "saga started".to_string(),
        SagaOutcome::Sent => format!("{step} sent"),
        SagaOutcome::Done => format!("{step} done"),
        SagaOutcome::Failed => format!("{step} failed"),
        SagaOutcome::TimedOut => format!("{step} timed out"),
        SagaOutcome::Compensate => format!("undo {step} sent"),
        SagaOutcome::Compensated => format!("undo {step} done"),
        SagaOutcome::CompensationFailed => format!("undo {step} failed"),
        SagaOutcome::Completed => "saga completed".to_string(),
        SagaOutcome::RolledBack => "saga compensated".to_string(),
        SagaOutcome::Aborted => "saga failed".to_string(),
        SagaOutcome::Duplicate => format!("{step} ran again"),
    };
    if attempt != NA32 && attempt > 1 {
        d.push_str(&format!(" (send {attempt})"));
    }
    d
}

pub(crate) fn draw_inspector(frame: &mut Frame, area: Rect, app: &App, msg: u64, _theme: Theme) {
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
    // The title and the column headers stay; the rows below scroll with j/k (h/l by a
    // page), with a line saying what is above and below.
    let rows = h.saturating_sub(2) as usize;
    let head = lines
        .iter()
        .position(|l| l.spans.iter().any(|s| s.content.starts_with("  time (s)")))
        .map_or(1, |p| p + 1)
        .min(rows);
    let body = &lines[head.min(lines.len())..];
    let room = rows - head;
    let shown: Vec<Line> = if body.len() > room && room >= 3 {
        let top = app.journey_scroll.min(body.len() - room + 2);
        let mut v: Vec<Line> = lines[..head].to_vec();
        let mut window = room;
        if top > 0 {
            v.push(Line::from(format!(" ↑ {top} rows above (k)")));
            window -= 1;
        }
        let below = body.len().saturating_sub(top + window);
        if below > 0 {
            window -= 1;
        }
        let below = body.len().saturating_sub(top + window);
        v.extend_from_slice(&body[top..(top + window).min(body.len())]);
        if below > 0 {
            v.push(Line::from(format!(" ↓ {below} more rows (j)")));
        }
        v
    } else {
        lines
    };
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .title(" journey (j/k scroll · enter/esc close) ")
                .border_style(Style::new().add_modifier(Modifier::BOLD)),
        ),
        r,
    );
}
