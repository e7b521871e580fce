//! The event log panel, and scheduled events in words for the "next" lines.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::super::app::{App, Panel};
use super::super::ui::Theme;

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
        Ev::FaultStart { fault } => match m.faults.get(fault as usize) {
            Some(f) => format!("{} {}", f.kind_name(), f.target_name(m)),
            None => "fault".to_string(),
        },
        Ev::FaultEnd { fault } => match m.faults.get(fault as usize) {
            Some(f) if f.kind == crate::scenario::format::FaultKind::Crash => {
                format!("restart {}", f.target_name(m))
            }
            Some(f) => format!("end {} {}", f.kind_name(), f.target_name(m)),
            None => "fault end".to_string(),
        },
        Ev::Outbox { publisher } => {
            let np = m.producers.len();
            let p = publisher as usize;
            let name = if p < np {
                m.producers[p].name.as_str()
            } else {
                service((p - np) as u32)
            };
            format!("retry held sends of {name}")
        }
        Ev::Arrive { .. } => "arrive over a slow link".to_string(),
        Ev::Saga { stamp, .. } if stamp & (1 << 31) != 0 => "saga sends again".to_string(),
        Ev::Saga { .. } => "saga step timeout".to_string(),
        Ev::Breaker {
            service: g,
            instance,
            ..
        } => format!("breaker half-opens {}#{}", service(g), instance + 1),
        Ev::Action { action } => match m.actions.get(action as usize).map(|a| a.kind) {
            Some(crate::model::ActionModelKind::Redrive { from, .. }) => format!(
                "redrive {}",
                m.queues.get(from).map_or("?", |q| q.name.as_str())
            ),
            Some(crate::model::ActionModelKind::Replay { bus, .. }) => format!(
                "replay {}",
                m.buses.get(bus).map_or("?", |b| b.name.as_str())
            ),
            None => "action".to_string(),
        },
        Ev::BusRetry { .. } => "bus retries a delivery".to_string(),
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
            timer: KafkaTimer::Due,
            group: g,
            ..
        } => format!("retry due {}", service(g)),
        Ev::Kafka {
            timer: KafkaTimer::Retention,
            group: t,
            ..
        } => format!(
            "retention {}",
            m.topics.get(t as usize).map_or("?", |x| x.name.as_str())
        ),
        Ev::RabbitHeartbeat {
            service: g,
            instance,
            ..
        } => format!("heartbeat timeout {}#{}", service(g), instance + 1),
        Ev::RabbitTtl { queue: q, .. } => format!(
            "ttl {}",
            m.queues.get(q as usize).map_or("?", |x| x.name.as_str())
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

pub(crate) fn draw_log(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
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
