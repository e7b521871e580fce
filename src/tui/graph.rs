//! Temporary stand-in for the layered graph renderer (replaced before commit).

use petgraph::graph::DiGraph;
use petgraph::visit::EdgeRef;
use ratatui::style::Style;
use ratatui::text::Line;

/// A node.
#[derive(Clone, Debug, Default)]
pub struct NodeView {
    /// Title.
    pub title: String,
    /// Title style.
    pub title_style: Style,
    /// Detail.
    pub detail: String,
    /// Detail style.
    pub detail_style: Style,
}
/// An edge.
#[derive(Clone, Debug, Default)]
pub struct EdgeView {
    /// Label.
    pub label: String,
    /// Style.
    pub style: Style,
}
/// Options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Details.
    pub details: bool,
    /// Labels.
    pub labels: bool,
}
/// Render.
pub fn render(
    _g: &DiGraph<NodeView, EdgeView>,
    _width: u16,
    _opts: Options,
) -> Option<Vec<Line<'static>>> {
    None
}
/// Render fit.
pub fn render_fit(g: &DiGraph<NodeView, EdgeView>, _width: u16, height: u16) -> Vec<Line<'static>> {
    g.edge_references()
        .map(|e| {
            Line::from(format!(
                "{} ─{}─▶ {}",
                g[e.source()].title,
                e.weight().label,
                g[e.target()].title
            ))
        })
        .take(height as usize)
        .collect()
}
