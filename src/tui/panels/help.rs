//! The key help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::app::KEYMAP;

pub(crate) fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 62.min(area.width);
    let h = (KEYMAP.len() as u16 + 4).min(area.height);
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
    lines.push(Line::from(
        " in a prompt: enter submits, esc cancels, ctrl-u clears",
    ));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}
