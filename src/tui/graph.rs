//! A left-to-right layered drawing of a directed graph for the topology panel: a pure
//! function from a petgraph [`DiGraph`] of labelled nodes and edges to ratatui [`Line`]s.
//!
//! Nodes sit in columns (layers): cycles are broken by a depth-first search in node-index
//! order, every node goes to the end of its longest path from a source, and sources are
//! then pulled right to just before their first successor (producers sit next to their
//! topic). Within a column nodes are ordered by the mean row of their predecessors.
//! Edges between adjacent columns are drawn as box-drawing connectors on a cell grid
//! (one vertical trunk per source in each gap, so fan-out reads `─┬─▶ a` / ` └─▶ b`)
//! with each label on whichever end of its edge is not shared (the target's, if both);
//! back edges, edges spanning several columns and parallel duplicates are listed under
//! the drawing as `from ─label─▶ to`.
//!
//! ```text
//! checkout ───190/s─▶ orders ──┬─190/s─▶ inventory ×4
//! 200/s               12 part  │         lag 0 · healthy
//!                              │
//!                              └─190/s─▶ payment ×6
//! ```
//!
//! Everything is deterministic (output depends only on insertion order and content) and
//! nothing here panics, whatever the graph and the width.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::DiGraph;
use petgraph::visit::EdgeRef;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// A node: a title line and an optional detail line drawn under it.
#[derive(Clone, Debug, Default)]
pub struct NodeView {
    /// The node's name, drawn on its first row.
    pub title: String,
    /// Style of the title.
    pub title_style: Style,
    /// A detail (lag, health, …) drawn under the title when details are on; empty for none.
    pub detail: String,
    /// Style of the detail.
    pub detail_style: Style,
    /// A shorter detail (symbols, fewer words) drawn instead of `detail` when space is
    /// short; empty means the same as `detail`.
    pub short: String,
}

/// An edge: a label drawn on its connector (a live rate, say) and a style for connector+label
/// (used to highlight the edge the last step crossed).
#[derive(Clone, Debug, Default)]
pub struct EdgeView {
    /// Text drawn on the connector; empty for none.
    pub label: String,
    /// Style of the connector, its arrow and its label.
    pub style: Style,
}

/// Drawing options, tried from richest to plainest by `render_fit`.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Draw each node's detail line under its title.
    pub details: bool,
    /// Draw edge labels on the connectors.
    pub labels: bool,
    /// Draw each node's short detail instead of its detail.
    pub short: bool,
}

/// Connection bits of a grid cell: north, east, south, west.
const N: u8 = 1;
const E: u8 = 2;
const S: u8 = 4;
const W: u8 = 8;

/// Display width of one character (control characters are replaced before this is asked).
fn char_width(c: char) -> usize {
    let mut buf = [0u8; 4];
    Span::raw(&*c.encode_utf8(&mut buf)).width()
}

/// Display width of a string as the grid lays it out (the sum of its characters' widths).
fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Replaces control characters (newlines, tabs, escapes) by spaces so a line stays a line.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The style a shared cell keeps: a styled (highlighted) edge wins over a plain one,
/// otherwise the later one.
fn merge(old: Style, new: Style) -> Style {
    if new == Style::default() { old } else { new }
}

/// A node with its text sanitised and measured.
struct Node {
    title: String,
    tw: usize,
    title_style: Style,
    detail: String,
    dw: usize,
    detail_style: Style,
}

/// An edge with its endpoints as plain indices and its label sanitised and measured.
struct Edge {
    s: usize,
    t: usize,
    label: String,
    lw: usize,
    style: Style,
}

/// Nodes and edges of `g` in index order; `short` picks each node's short detail.
fn collect(g: &DiGraph<NodeView, EdgeView>, short: bool) -> (Vec<Node>, Vec<Edge>) {
    let nodes: Vec<Node> = g
        .node_weights()
        .map(|v| {
            let title = sanitize(&v.title);
            let detail = sanitize(if short && !v.short.is_empty() {
                &v.short
            } else {
                &v.detail
            });
            Node {
                tw: text_width(&title),
                dw: text_width(&detail),
                title,
                detail,
                title_style: v.title_style,
                detail_style: v.detail_style,
            }
        })
        .collect();
    let n = nodes.len();
    let edges = g
        .edge_references()
        .filter(|e| e.source().index() < n && e.target().index() < n)
        .map(|e| {
            let label = sanitize(&e.weight().label);
            Edge {
                s: e.source().index(),
                t: e.target().index(),
                lw: text_width(&label),
                label,
                style: e.weight().style,
            }
        })
        .collect();
    (nodes, edges)
}

/// Columns: which edges close a cycle, and each node's layer.
struct Layering {
    /// Per edge: a back edge of the depth-first search (closes a cycle; self-loops too).
    back: Vec<bool>,
    /// Per node: its column, 0-based, without empty columns.
    layer: Vec<usize>,
    /// Number of columns.
    count: usize,
}

/// Breaks cycles (DFS back edges), layers by longest path, pulls sources right.
fn layering(n: usize, edges: &[Edge]) -> Layering {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        if let Some(o) = out.get_mut(e.s) {
            o.push(i);
        }
    }
    // Iterative DFS in node-index order, successors in edge-index order.
    // state: 0 unvisited, 1 on the stack, 2 finished.
    let mut state = vec![0u8; n];
    let mut back = vec![false; edges.len()];
    let mut finish = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, i) = *top;
            if let Some(&e) = out[v].get(i) {
                top.1 += 1;
                let t = edges[e].t;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                finish.push(v);
                stack.pop();
            }
        }
    }
    // Reverse finishing order is a topological order of the forward edges.
    let mut layer = vec![0usize; n];
    for &v in finish.iter().rev() {
        for &e in &out[v] {
            if !back[e] {
                let t = edges[e].t;
                layer[t] = layer[t].max(layer[v] + 1);
            }
        }
    }
    // Sources move right to just before their nearest successor.
    let mut has_pred = vec![false; n];
    for (i, e) in edges.iter().enumerate() {
        if !back[i] {
            has_pred[e.t] = true;
        }
    }
    for v in 0..n {
        if has_pred[v] {
            continue;
        }
        let nearest = out[v]
            .iter()
            .filter(|&&e| !back[e])
            .map(|&e| layer[edges[e].t])
            .min();
        if let Some(m) = nearest {
            layer[v] = layer[v].max(m.saturating_sub(1));
        }
    }
    // Renumber without gaps (defensive: longest-path layering leaves none).
    let mut used = layer.clone();
    used.sort_unstable();
    used.dedup();
    for l in &mut layer {
        *l = used.binary_search(l).unwrap_or(0);
    }
    Layering {
        back,
        layer,
        count: used.len(),
    }
}

/// Per edge: drawn as a connector (forward, between adjacent columns, first of its pair).
fn drawn_edges(edges: &[Edge], lay: &Layering) -> Vec<bool> {
    let mut seen = BTreeSet::new();
    edges
        .iter()
        .enumerate()
        .map(|(i, e)| {
            !lay.back[i] && lay.layer[e.t] == lay.layer[e.s] + 1 && seen.insert((e.s, e.t))
        })
        .collect()
}

/// Floor of the mean of the known rows, if any.
fn mean_row(list: &[usize], row: &[Option<usize>]) -> Option<usize> {
    let (sum, count) = list
        .iter()
        .filter_map(|&u| row.get(u).copied().flatten())
        .fold((0usize, 0usize), |(s, c), r| (s.saturating_add(r), c + 1));
    sum.checked_div(count)
}

/// Places `items` top to bottom in order of (wanted row, index), one blank row apart.
fn greedy(items: &mut [usize], want: &[usize], heights: &[usize], row: &mut [Option<usize>]) {
    items.sort_by_key(|&v| (want[v], v));
    let mut next = 0;
    for &v in items.iter() {
        let r = want[v].max(next);
        row[v] = Some(r);
        next = r + heights[v] + 1;
    }
}

/// Each node's first row.
fn place(
    n: usize,
    edges: &[Edge],
    lay: &Layering,
    drawn: &[bool],
    heights: &[usize],
) -> Vec<usize> {
    let mut dpred = vec![Vec::new(); n];
    let mut apred = vec![Vec::new(); n];
    let mut dsucc = vec![Vec::new(); n];
    let mut asucc = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        if lay.back[i] {
            continue;
        }
        apred[e.t].push(e.s);
        asucc[e.s].push(e.t);
        if drawn[i] {
            dpred[e.t].push(e.s);
            dsucc[e.s].push(e.t);
        }
    }
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); lay.count];
    for (v, &l) in lay.layer.iter().enumerate() {
        if let Some(members) = layers.get_mut(l) {
            members.push(v);
        }
    }
    let source = |v: usize| apred[v].is_empty();
    let mut row: Vec<Option<usize>> = vec![None; n];
    let mut want = vec![0usize; n];
    for (k, members) in layers.iter().enumerate() {
        let mut items = Vec::new();
        for &v in members {
            if k > 0 {
                if source(v) {
                    continue; // placed by its successors below
                }
                want[v] = mean_row(&dpred[v], &row)
                    .or_else(|| mean_row(&apred[v], &row))
                    .unwrap_or(0);
            }
            items.push(v);
        }
        greedy(&mut items, &want, heights, &mut row);
    }
    for members in layers.iter().skip(1).rev() {
        if !members.iter().any(|&v| source(v)) {
            continue;
        }
        for &v in members {
            if source(v) {
                want[v] = mean_row(&dsucc[v], &row)
                    .or_else(|| mean_row(&asucc[v], &row))
                    .unwrap_or(0);
            }
        }
        let mut items = members.clone();
        greedy(&mut items, &want, heights, &mut row);
    }
    row.into_iter().map(|r| r.unwrap_or(0)).collect()
}

/// One cell of the drawing.
#[derive(Clone, Debug)]
enum Cell {
    Empty,
    /// A character (plus any zero-width characters following it).
    Text(String, Style),
    /// Connector bits, turned into a box-drawing character at the end.
    Bits(u8, Style),
    /// Right half of a wide character.
    Cont,
}

/// The box-drawing character for a set of connection bits.
fn box_char(bits: u8) -> char {
    match bits & (N | E | S | W) {
        0 => ' ',
        b if b & (N | S) == 0 => '─',
        b if b & (E | W) == 0 => '│',
        b if b == E | S => '┌',
        b if b == W | S => '┐',
        b if b == N | E => '└',
        b if b == N | W => '┘',
        b if b == N | E | S => '├',
        b if b == N | W | S => '┤',
        b if b == E | W | S => '┬',
        b if b == N | E | W => '┴',
        _ => '┼',
    }
}

/// A cell grid; writes outside it are ignored.
struct Grid {
    cells: Vec<Vec<Cell>>,
}

impl Grid {
    fn new(rows: usize, cols: usize) -> Self {
        Grid {
            cells: vec![vec![Cell::Empty; cols]; rows],
        }
    }

    fn cell(&mut self, r: usize, c: usize) -> Option<&mut Cell> {
        self.cells.get_mut(r).and_then(|row| row.get_mut(c))
    }

    /// Adds connection bits to a cell (text cells keep their text).
    fn bits(&mut self, r: usize, c: usize, bits: u8, style: Style) {
        if let Some(cell) = self.cell(r, c) {
            match cell {
                Cell::Empty => *cell = Cell::Bits(bits, style),
                Cell::Bits(b, st) => {
                    *b |= bits;
                    *st = merge(*st, style);
                }
                Cell::Text(..) | Cell::Cont => {}
            }
        }
    }

    /// A horizontal run from column `c0` to `c1` (inclusive, `c0 < c1`) on row `r`.
    fn hline(&mut self, r: usize, c0: usize, c1: usize, style: Style) {
        for c in c0..c1 {
            self.bits(r, c, E, style);
            self.bits(r, c + 1, W, style);
        }
    }

    /// A vertical run from row `r0` to `r1` (inclusive, `r0 < r1`) in column `c`.
    fn vline(&mut self, c: usize, r0: usize, r1: usize, style: Style) {
        for r in r0..r1 {
            self.bits(r, c, S, style);
            self.bits(r + 1, c, N, style);
        }
    }

    /// Blanks whatever wide character covers cell (r, c), so it can be overwritten.
    fn unwide(&mut self, r: usize, c: usize) {
        match self.cell(r, c) {
            Some(Cell::Cont) => {
                if let Some(cell) = self.cell(r, c) {
                    *cell = Cell::Empty;
                }
                if let Some(prev) = c.checked_sub(1).and_then(|p| self.cell(r, p)) {
                    *prev = Cell::Empty;
                }
            }
            Some(Cell::Text(..)) => {
                if let Some(next @ Cell::Cont) = self.cell(r, c + 1) {
                    *next = Cell::Empty;
                }
            }
            _ => {}
        }
    }

    /// Writes `s` from column `c` on row `r`; returns the column after it.
    fn text(&mut self, r: usize, c: usize, s: &str, style: Style) -> usize {
        let mut col = c;
        let mut last: Option<usize> = None;
        for ch in s.chars() {
            let w = char_width(ch);
            if w == 0 {
                if let Some(Some(Cell::Text(t, _))) = last.map(|p| self.cell(r, p)) {
                    t.push(ch);
                }
                continue;
            }
            let fits = self.cells.get(r).is_some_and(|row| col + w <= row.len());
            if fits {
                for k in 0..w {
                    self.unwide(r, col + k);
                }
                if let Some(cell) = self.cell(r, col) {
                    *cell = Cell::Text(ch.to_string(), style);
                }
                for k in 1..w {
                    if let Some(cell) = self.cell(r, col + k) {
                        *cell = Cell::Cont;
                    }
                }
                last = Some(col);
            } else {
                last = None;
            }
            col += w;
        }
        col
    }

    /// An arrowhead; a highlighted incoming edge keeps its style.
    fn arrow(&mut self, r: usize, c: usize, style: Style) {
        let style = match self.cell(r, c) {
            Some(Cell::Text(_, old) | Cell::Bits(_, old)) => merge(*old, style),
            _ => style,
        };
        self.text(r, c, "▶", style);
    }

    /// The grid as lines: runs of same-styled cells become spans, trailing blanks go.
    fn into_lines(self) -> Vec<Line<'static>> {
        self.cells
            .into_iter()
            .map(|row| {
                let end = row
                    .iter()
                    .rposition(|c| !matches!(c, Cell::Empty))
                    .map_or(0, |p| p + 1);
                let mut spans: Vec<Span<'static>> = Vec::new();
                let mut text = String::new();
                let mut style = Style::default();
                for cell in row.into_iter().take(end) {
                    let (piece, st) = match cell {
                        Cell::Empty => (" ".to_string(), Style::default()),
                        Cell::Text(t, st) => (t, st),
                        Cell::Bits(b, st) => (box_char(b).to_string(), st),
                        Cell::Cont => continue,
                    };
                    if st != style && !text.is_empty() {
                        spans.push(Span::styled(std::mem::take(&mut text), style));
                    }
                    style = st;
                    text.push_str(&piece);
                }
                if !text.is_empty() {
                    spans.push(Span::styled(text, style));
                }
                Line::from(spans)
            })
            .collect()
    }
}

/// The gap between column k and column k+1.
#[derive(Default)]
struct Gap {
    /// Drawn edges from column k, in edge order.
    edges: Vec<usize>,
    /// Sources with edges into the gap, one trunk each, in this order (top to bottom).
    trunks: Vec<usize>,
    /// Width of the source-side label zone.
    ls: usize,
    /// Width of the target-side label zone.
    lt: usize,
    /// Per target: its target-side labels (edge indices), drawn joined by commas.
    tgt_labels: BTreeMap<usize, Vec<usize>>,
    /// Total width of the gap.
    width: usize,
}

/// Orders the trunks of a gap (one per source): top to bottom, except that when a target
/// sits on the row of another source, that source's trunk goes left of the target's
/// source's trunk; otherwise the source's line would run into the target's and read as
/// connected to it. Conflicting demands fall back to top-to-bottom order.
fn order_trunks(
    mut srcs: Vec<usize>,
    gap_edges: &[usize],
    edges: &[Edge],
    rows: &[usize],
) -> Vec<usize> {
    srcs.sort_by_key(|&s| (rows[s], s));
    let pos_at_row: BTreeMap<usize, usize> = srcs
        .iter()
        .enumerate()
        .map(|(p, &s)| (rows[s], p))
        .collect();
    let pos_of: BTreeMap<usize, usize> = srcs.iter().enumerate().map(|(p, &s)| (s, p)).collect();
    let pairs: BTreeSet<(usize, usize)> = gap_edges
        .iter()
        .map(|&i| (edges[i].s, edges[i].t))
        .collect();
    // before[a] lists the positions that must come after position a.
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); srcs.len()];
    for &i in gap_edges {
        let e = &edges[i];
        let (Some(&a), Some(&b)) = (pos_at_row.get(&rows[e.t]), pos_of.get(&e.s)) else {
            continue;
        };
        // A source that feeds the same target may merge into its line: that is a fan-in.
        if a != b && !pairs.contains(&(srcs[a], e.t)) {
            before[a].insert(b);
        }
    }
    let mut indeg = vec![0usize; srcs.len()];
    for after in &before {
        for &b in after {
            indeg[b] += 1;
        }
    }
    let mut done = vec![false; srcs.len()];
    let mut order = Vec::with_capacity(srcs.len());
    while order.len() < srcs.len() {
        let free = (0..srcs.len()).find(|&p| !done[p] && indeg[p] == 0);
        let Some(p) = free.or_else(|| (0..srcs.len()).find(|&p| !done[p])) else {
            break;
        };
        done[p] = true;
        order.push(srcs[p]);
        for &b in &before[p] {
            indeg[b] = indeg[b].saturating_sub(1);
        }
    }
    order
}

/// `  from ─label─▶ to` (or `  from ──▶ to`) for an edge that is not drawn as a connector.
fn list_line(nodes: &[Node], e: &Edge, labels: bool, indent: &str) -> Line<'static> {
    let (Some(s), Some(t)) = (nodes.get(e.s), nodes.get(e.t)) else {
        return Line::default();
    };
    let mut spans = vec![
        Span::raw(indent.to_string()),
        Span::styled(s.title.clone(), s.title_style),
        Span::raw(" "),
    ];
    if labels && !e.label.is_empty() {
        spans.push(Span::styled(format!("─{}─▶", e.label), e.style));
    } else {
        spans.push(Span::styled("──▶", e.style));
    }
    spans.push(Span::raw(" "));
    spans.push(Span::styled(t.title.clone(), t.title_style));
    Line::from(spans)
}

/// Draws the graph in `width` columns; None when it does not fit in `width`.
///
/// Columns are laid out left to right; each node takes one row (title), or two with
/// `opts.details` and a non-empty detail, and nodes in a column are one blank row apart.
/// Edges that cannot be drawn as connectors between adjacent columns (cycles, long
/// edges, parallel duplicates) follow the drawing as `  from ─label─▶ to` lines.
/// An empty graph draws as no lines.
pub fn render(
    g: &DiGraph<NodeView, EdgeView>,
    width: u16,
    opts: Options,
) -> Option<Vec<Line<'static>>> {
    let width = usize::from(width);
    let (nodes, edges) = collect(g, opts.short);
    let n = nodes.len();
    let lay = layering(n, &edges);
    let drawn = drawn_edges(&edges, &lay);
    let heights: Vec<usize> = nodes
        .iter()
        .map(|v| if opts.details && v.dw > 0 { 2 } else { 1 })
        .collect();
    let rows = place(n, &edges, &lay, &drawn, &heights);

    // Unconnected edges first: the cheapest reason not to fit.
    let extra: Vec<Line<'static>> = edges
        .iter()
        .zip(&drawn)
        .filter(|(_, d)| !**d)
        .map(|(e, _)| list_line(&nodes, e, opts.labels, "  "))
        .collect();
    if extra.iter().any(|l| l.width() > width) {
        return None;
    }

    // Column widths.
    let mut colw = vec![0usize; lay.count];
    for (v, node) in nodes.iter().enumerate() {
        let w = if heights[v] == 2 {
            node.tw.max(node.dw)
        } else {
            node.tw
        };
        if let Some(c) = colw.get_mut(lay.layer[v]) {
            *c = (*c).max(w);
        }
    }

    // Gaps: trunks, label sides, zone widths.
    let mut gaps: Vec<Gap> = (0..lay.count.saturating_sub(1))
        .map(|_| Gap::default())
        .collect();
    for (i, e) in edges.iter().enumerate() {
        if drawn[i]
            && let Some(gap) = gaps.get_mut(lay.layer[e.s])
        {
            gap.edges.push(i);
        }
    }
    let mut src_side = vec![false; edges.len()];
    for gap in &mut gaps {
        let mut outc: BTreeMap<usize, usize> = BTreeMap::new();
        let mut inc: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in &gap.edges {
            *outc.entry(edges[i].s).or_default() += 1;
            *inc.entry(edges[i].t).or_default() += 1;
        }
        gap.trunks = order_trunks(outc.keys().copied().collect(), &gap.edges, &edges, &rows);
        gap.ls = 1;
        gap.lt = 1;
        for &i in &gap.edges {
            let e = &edges[i];
            let single_in = inc.get(&e.t) == Some(&1);
            let single_out = outc.get(&e.s) == Some(&1);
            src_side[i] = !single_in && single_out;
            if !opts.labels || e.label.is_empty() {
                continue;
            }
            if src_side[i] {
                gap.ls = gap.ls.max(e.lw + 2);
            } else {
                gap.tgt_labels.entry(e.t).or_default().push(i);
            }
        }
        for list in gap.tgt_labels.values() {
            let joined: usize = list.iter().map(|&i| edges[i].lw).sum::<usize>() + list.len() - 1;
            gap.lt = gap.lt.max(joined + 2);
        }
        gap.width = if gap.trunks.is_empty() {
            2
        } else {
            gap.ls + gap.trunks.len() + gap.lt + 3
        };
    }

    // Column positions and the total width.
    let mut col_x = Vec::with_capacity(lay.count);
    let mut x = 0usize;
    for (k, &w) in colw.iter().enumerate() {
        col_x.push(x);
        x += w + gaps.get(k).map_or(0, |g| g.width);
    }
    if x > width {
        return None;
    }

    // Nodes.
    let height = (0..n).map(|v| rows[v] + heights[v]).max().unwrap_or(0);
    let mut grid = Grid::new(height, x);
    for (v, node) in nodes.iter().enumerate() {
        let cx = col_x[lay.layer[v]];
        grid.text(rows[v], cx, &node.title, node.title_style);
        if heights[v] == 2 {
            grid.text(rows[v] + 1, cx, &node.detail, node.detail_style);
        }
    }

    // Connectors, then arrows and labels over them.
    for (k, gap) in gaps.iter().enumerate() {
        let gx = col_x[k] + colw[k];
        let trunk0 = gx + 1 + gap.ls;
        let arrow = trunk0 + gap.trunks.len() + gap.lt;
        for &i in &gap.edges {
            let e = &edges[i];
            let Some(j) = gap.trunks.iter().position(|&s| s == e.s) else {
                continue;
            };
            let tc = trunk0 + j;
            let (rs, rt) = (rows[e.s], rows[e.t]);
            grid.hline(rs, col_x[k] + nodes[e.s].tw + 1, tc, e.style);
            grid.vline(tc, rs.min(rt), rs.max(rt), e.style);
            grid.hline(rt, tc, arrow, e.style);
        }
        for &i in &gap.edges {
            let e = &edges[i];
            grid.arrow(rows[e.t], arrow, e.style);
            if opts.labels && src_side[i] && !e.label.is_empty() {
                grid.text(rows[e.s], gx + 2, &e.label, e.style);
            }
        }
        for (&t, list) in &gap.tgt_labels {
            let joined: usize = list.iter().map(|&i| edges[i].lw).sum::<usize>() + list.len() - 1;
            let mut c = arrow.saturating_sub(1 + joined);
            for (pos, &i) in list.iter().enumerate() {
                if pos > 0 {
                    c = grid.text(rows[t], c, ",", edges[i].style);
                }
                c = grid.text(rows[t], c, &edges[i].label, edges[i].style);
            }
        }
    }

    let mut lines = grid.into_lines();
    lines.extend(extra);
    if lines.iter().any(|l| l.width() > width) {
        return None;
    }
    Some(lines)
}

/// Cuts a line to at most `width` display columns.
pub fn clip_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    'outer: for span in line.spans {
        let mut text = String::new();
        for ch in span.content.chars() {
            let w = char_width(ch);
            if used + w > width {
                if !text.is_empty() {
                    spans.push(Span::styled(text, span.style));
                }
                break 'outer;
            }
            used += w;
            text.push(ch);
        }
        if !text.is_empty() {
            spans.push(Span::styled(text, span.style));
        }
    }
    let mut out = Line::from(spans);
    // Strings can measure wider than their characters (emoji sequences): trim until it fits.
    while out.width() > width {
        let Some(last) = out.spans.last_mut() else {
            break;
        };
        let mut s = last.content.to_string();
        s.pop();
        if s.is_empty() {
            out.spans.pop();
        } else {
            last.content = s.into();
        }
    }
    out
}

/// The plainest drawing: one line per edge, then nodes without edges, one per line.
fn plain_list(g: &DiGraph<NodeView, EdgeView>) -> Vec<Line<'static>> {
    let (nodes, edges) = collect(g, false);
    let mut touched = vec![false; nodes.len()];
    let mut lines = Vec::with_capacity(edges.len());
    for e in &edges {
        touched[e.s] = true;
        touched[e.t] = true;
        lines.push(list_line(&nodes, e, true, ""));
    }
    for (node, _) in nodes.iter().zip(&touched).filter(|(_, t)| !**t) {
        lines.push(Line::from(Span::styled(
            node.title.clone(),
            node.title_style,
        )));
    }
    lines
}

/// Marks the end of a band whose last column continues in the next band.
const CONTINUES: &str = " ↴";
/// Marks a node repeated at the start of a band from the end of the band above.
const CONTINUED: &str = "↳ ";

/// Draws a graph too wide for one drawing as bands of consecutive columns, one under
/// the other: each band is as wide as fits, and the nodes of a band's last column that
/// have successors further right end with ` ↴` and start the next band again as
/// `↳ name`. Edges that no band holds (a cycle or a long edge across bands) follow as
/// `  from ─label─▶ to` lines. None when even two columns do not fit in `width`, or when
/// one drawing would do (fewer than three columns).
pub fn render_banded(
    g: &DiGraph<NodeView, EdgeView>,
    width: u16,
    opts: Options,
) -> Option<Vec<Line<'static>>> {
    let (nodes, edges) = collect(g, opts.short);
    let lay = layering(nodes.len(), &edges);
    if lay.count < 3 {
        return None;
    }
    let mut held = vec![false; edges.len()];
    let mut out = Vec::new();
    let mut s = 0;
    while s + 1 < lay.count {
        let mut best: Option<(usize, Vec<Line<'static>>, Vec<usize>)> = None;
        for e in s + 1..lay.count {
            match band(g, &edges, &lay, s, e, width, opts) {
                Some((lines, used)) => best = Some((e, lines, used)),
                None => break,
            }
        }
        let (e, lines, used) = best?;
        for i in used {
            held[i] = true;
        }
        out.extend(lines);
        s = e;
    }
    for (i, e) in edges.iter().enumerate() {
        if !held[i] {
            out.push(list_line(&nodes, e, opts.labels, "  "));
        }
    }
    if out.iter().any(|l| l.width() > usize::from(width)) {
        return None;
    }
    Some(out)
}

/// One band of [`render_banded`]: columns `s..=e` drawn alone, and the edges it holds.
fn band(
    g: &DiGraph<NodeView, EdgeView>,
    edges: &[Edge],
    lay: &Layering,
    s: usize,
    e: usize,
    width: u16,
    opts: Options,
) -> Option<(Vec<Line<'static>>, Vec<usize>)> {
    let n = lay.layer.len();
    let forward = |i: usize| !lay.back[i];
    // Nodes of the first column of a later band are there only to start their edges.
    let member: Vec<bool> = (0..n)
        .map(|v| {
            let l = lay.layer[v];
            (l > s && l <= e)
                || (l == s
                    && (s == 0
                        || edges.iter().enumerate().any(|(i, x)| {
                            forward(i) && x.s == v && lay.layer[x.t] > s && lay.layer[x.t] <= e
                        })))
        })
        .collect();
    let continues = |v: usize| {
        e + 1 < lay.count
            && lay.layer[v] == e
            && edges
                .iter()
                .enumerate()
                .any(|(i, x)| forward(i) && x.s == v && lay.layer[x.t] > e)
    };
    let mut sub: DiGraph<NodeView, EdgeView> = DiGraph::new();
    let mut index = vec![None; n];
    for (v, w) in g.node_weights().enumerate().take(n) {
        if !member[v] {
            continue;
        }
        let mut view = w.clone();
        if s > 0 && lay.layer[v] == s {
            view.title = format!("{CONTINUED}{}", view.title);
        }
        if continues(v) {
            view.title.push_str(CONTINUES);
        }
        index[v] = Some(sub.add_node(view));
    }
    let mut used = Vec::new();
    for (i, x) in edges.iter().enumerate() {
        if let (Some(a), Some(b)) = (index[x.s], index[x.t])
            && let Some(w) = g.edge_weights().nth(i)
        {
            sub.add_edge(a, b, w.clone());
            used.push(i);
        }
    }
    render(&sub, width, opts).map(|lines| (lines, used))
}

/// Drawings with node details, richest first: long details with labels, short details
/// with labels, short details without labels.
pub const WITH_DETAILS: [Options; 3] = [
    Options {
        details: true,
        labels: true,
        short: false,
    },
    Options {
        details: true,
        labels: true,
        short: true,
    },
    Options {
        details: true,
        labels: false,
        short: true,
    },
];
/// Drawings without node details: with labels, then without.
pub const WITHOUT_DETAILS: [Options; 2] = [
    Options {
        details: false,
        labels: true,
        short: false,
    },
    Options {
        details: false,
        labels: false,
        short: false,
    },
];

/// The first of `tries` that fits in width × height, drawn in one piece or else in
/// bands, with the options it used.
pub fn render_first(
    g: &DiGraph<NodeView, EdgeView>,
    width: u16,
    height: u16,
    tries: &[Options],
) -> Option<(Vec<Line<'static>>, Options)> {
    let fits = |lines: &Vec<Line<'static>>| lines.len() <= usize::from(height);
    tries.iter().find_map(|&opts| {
        render(g, width, opts)
            .filter(fits)
            .or_else(|| render_banded(g, width, opts).filter(fits))
            .map(|lines| (lines, opts))
    })
}

/// The richest drawing that fits in width × height, or None when only a plain list
/// would: [`WITH_DETAILS`], then [`WITHOUT_DETAILS`].
pub fn render_graph(
    g: &DiGraph<NodeView, EdgeView>,
    width: u16,
    height: u16,
) -> Option<(Vec<Line<'static>>, Options)> {
    render_first(g, width, height, &WITH_DETAILS)
        .or_else(|| render_first(g, width, height, &WITHOUT_DETAILS))
}

/// The richest drawing that fits in width × height (see [`render_graph`]); if none fits,
/// a plain list with one line per edge ("from ─label─▶ to", nodes without edges on their
/// own line), clipped to the area (never panics).
pub fn render_fit(g: &DiGraph<NodeView, EdgeView>, width: u16, height: u16) -> Vec<Line<'static>> {
    let lines = render_graph(g, width, height).map_or_else(|| plain_list(g), |(l, _)| l);
    lines
        .into_iter()
        .take(usize::from(height))
        .map(|l| clip_line(l, usize::from(width)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use petgraph::graph::NodeIndex;

    fn node(title: &str, detail: &str) -> NodeView {
        NodeView {
            title: title.into(),
            detail: detail.into(),
            ..NodeView::default()
        }
    }

    fn edge(label: &str) -> EdgeView {
        EdgeView {
            label: label.into(),
            style: Style::default(),
        }
    }

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    /// Display column of the first occurrence of `needle` in `line`.
    fn col_of(line: &str, needle: &str) -> Option<usize> {
        line.find(needle).map(|i| Span::raw(&line[..i]).width())
    }

    const FULL: Options = Options {
        details: true,
        labels: true,
        short: false,
    };

    fn chain(names: &[&str]) -> (DiGraph<NodeView, EdgeView>, Vec<NodeIndex>) {
        let mut g = DiGraph::new();
        let ix: Vec<NodeIndex> = names.iter().map(|n| g.add_node(node(n, ""))).collect();
        (g, ix)
    }

    fn flash_sale() -> DiGraph<NodeView, EdgeView> {
        let mut g = DiGraph::new();
        let checkout = g.add_node(node("checkout", "200/s"));
        let orders = g.add_node(node("orders", "12 part"));
        let inventory = g.add_node(node("inventory ×4", "lag 0 · healthy"));
        let payment = g.add_node(node("payment ×6", "lag 1 · ✗1"));
        let payments = g.add_node(node("payments", "6 part"));
        let dlq = g.add_node(node("payment-dlq", "3 · oldest 12s"));
        let notification = g.add_node(node("notification ×2", "lag 0 · healthy"));
        g.add_edge(checkout, orders, edge("190/s"));
        g.add_edge(orders, inventory, edge("190/s"));
        g.add_edge(orders, payment, edge("190/s"));
        g.add_edge(payment, payments, edge("188/s"));
        g.add_edge(payment, dlq, edge("0/s"));
        g.add_edge(payments, notification, edge("188/s"));
        g
    }

    /// The narrowest width at which `render` succeeds.
    fn min_width(g: &DiGraph<NodeView, EdgeView>, opts: Options) -> u16 {
        (0..=u16::MAX)
            .find(|&w| render(g, w, opts).is_some())
            .unwrap_or(u16::MAX)
    }

    #[test]
    fn flash_sale_full_drawing() {
        let g = flash_sale();
        let lines = render(&g, 200, FULL).unwrap_or_default();
        let t = text(&lines);
        let all = t.join("\n");
        println!("{all}");
        // Every node title appears exactly once.
        assert_eq!(all.matches("checkout").count(), 1);
        assert_eq!(all.matches("orders").count(), 1);
        assert_eq!(all.matches("inventory ×4").count(), 1);
        assert_eq!(all.matches("payment ×6").count(), 1);
        assert_eq!(all.matches("payment-dlq").count(), 1);
        assert_eq!(all.matches("notification ×2").count(), 1);
        assert_eq!(all.matches("payments").count(), 1);
        // Every target is preceded by an arrow; sources are not.
        for target in [
            "orders",
            "inventory ×4",
            "payment ×6",
            "payments",
            "payment-dlq",
            "notification ×2",
        ] {
            assert!(
                all.contains(&format!("▶ {target}")),
                "no arrow into {target}"
            );
        }
        assert!(!all.contains("▶ checkout"));
        assert_eq!(all.matches('▶').count(), 6);
        // Fan-outs from orders and payment.
        assert_eq!(all.matches('┬').count(), 2);
        assert_eq!(all.matches('└').count(), 2);
        assert!(all.contains("─190/s─▶ orders"));
        assert!(all.contains("─190/s─▶ inventory ×4"));
        assert!(all.contains("─190/s─▶ payment ×6"));
        assert!(all.contains("─188/s─▶ payments"));
        assert!(all.contains("─0/s─▶ payment-dlq"));
        assert!(all.contains("─188/s─▶ notification ×2"));
        // Layout: first row holds the main path, siblings share a column.
        assert!(t[0].starts_with("checkout "));
        assert!(t[0].contains("inventory ×4"));
        assert_eq!(t[1].trim_end(), t[1]);
        assert!(t[1].starts_with("200/s"));
        let pay_row = t.iter().position(|l| l.contains("payment ×6")).unwrap_or(0);
        assert_eq!(pay_row, 3);
        assert_eq!(col_of(&t[0], "inventory"), col_of(&t[3], "payment ×6"));
        assert!(t[3].contains("payments"));
        assert!(t[3].contains("notification ×2"));
        let dlq_row = t
            .iter()
            .position(|l| l.contains("payment-dlq"))
            .unwrap_or(0);
        assert_eq!(dlq_row, 6);
        assert_eq!(col_of(&t[3], "payments"), col_of(&t[6], "payment-dlq"));
        assert_eq!(t[7].trim(), "3 · oldest 12s");
        assert_eq!(lines.len(), 8, "no unconnected edges");
        // The trunk from orders runs straight down to payment.
        let trunk = col_of(&t[0], "┬");
        assert_eq!(col_of(&t[1], "│"), trunk);
        assert_eq!(col_of(&t[2], "│"), trunk);
        assert_eq!(col_of(&t[3], "└"), trunk);
    }

    #[test]
    fn chain_draws_straight() {
        let (mut g, ix) = chain(&["a", "b", "c"]);
        g.add_edge(ix[0], ix[1], edge("1/s"));
        g.add_edge(ix[1], ix[2], edge("2/s"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].starts_with("a ─"));
        assert!(t[0].contains("─1/s─▶ b ─"));
        assert!(t[0].contains("─2/s─▶ c"));
        let plain = Options {
            details: true,
            labels: false,
            short: false,
        };
        let t = text(&render(&g, 80, plain).unwrap_or_default());
        assert_eq!(t, ["a ───▶ b ───▶ c"]);
    }

    #[test]
    fn deep_chain_folds_into_bands() {
        let names = [
            "checkout",
            "orders",
            "orders-svc",
            "validated",
            "payment",
            "paid",
            "shipping",
            "shipped",
            "notification",
        ];
        let (mut g, ix) = chain(&names);
        for w in ix.windows(2) {
            g.add_edge(w[0], w[1], edge("400"));
        }
        let flat = min_width(&g, FULL);
        assert!(flat > 80, "{flat}");
        let t = text(&render_fit(&g, 80, 10));
        println!("{}", t.join("\n"));
        assert!(t.len() >= 2 && t.iter().all(|l| Span::raw(l.as_str()).width() <= 80));
        // Every node is drawn; a band's end is repeated at the start of the next.
        for n in names {
            assert!(t.iter().any(|l| l.contains(n)), "{n} missing: {t:?}");
        }
        for (k, pair) in t.windows(2).enumerate() {
            let end = pair[0].rsplit(' ').nth(1).unwrap_or_default().to_string();
            if pair[0].ends_with(" ↴") {
                assert!(pair[1].starts_with(&format!("↳ {end} ")), "band {k}: {t:?}");
            }
        }
        assert!(t[0].ends_with(" ↴"), "{t:?}");
        // No edge is lost: eight arrows in all.
        let arrows: usize = t.iter().map(|l| l.matches('▶').count()).sum();
        assert_eq!(arrows, 8, "{t:?}");
    }

    #[test]
    fn fan_in_pulls_producers_next_to_their_topic() {
        // a → b → t, and two producers p, q straight into t.
        let (mut g, ix) = chain(&["a", "b", "topic", "p", "q"]);
        g.add_edge(ix[0], ix[1], edge(""));
        g.add_edge(ix[1], ix[2], edge("x"));
        g.add_edge(ix[3], ix[2], edge("y"));
        g.add_edge(ix[4], ix[2], edge("z"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        println!("{}", t.join("\n"));
        assert_eq!(t.len(), 5, "{t:?}");
        let b = col_of(&t[0], "b");
        assert!(b.is_some());
        assert_eq!(col_of(&t[2], "p"), b, "p pulled into b's column");
        assert_eq!(col_of(&t[4], "q"), b, "q pulled into b's column");
        assert!(t[0].contains("▶ topic"));
        assert_eq!(t.join("\n").matches('▶').count(), 2);
        // Target with several inputs: labels on the source side, one trunk per source.
        assert!(t[0].contains("b ─x─"));
        assert!(t[2].contains("p ─y─"));
        assert!(t[4].contains("q ─z─"));
        assert!(t[2].contains('┘') && t[4].contains('┘'));
    }

    #[test]
    fn cycle_lists_its_back_edge() {
        let (mut g, ix) = chain(&["a", "b"]);
        g.add_edge(ix[0], ix[1], edge("go"));
        g.add_edge(ix[1], ix[0], edge("back"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t, ["a ───go─▶ b", "  b ─back─▶ a"]);
        let plain = Options {
            details: false,
            labels: false,
            short: false,
        };
        let t = text(&render(&g, 80, plain).unwrap_or_default());
        assert_eq!(t[1], "  b ──▶ a");
        // A self-loop is a back edge too.
        let (mut g, ix) = chain(&["solo"]);
        g.add_edge(ix[0], ix[0], edge("again"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t, ["solo", "  solo ─again─▶ solo"]);
    }

    #[test]
    fn long_edge_is_listed_under_the_graph() {
        let (mut g, ix) = chain(&["a", "b", "c"]);
        g.add_edge(ix[0], ix[1], edge(""));
        g.add_edge(ix[1], ix[2], edge(""));
        g.add_edge(ix[0], ix[2], edge("skip"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].contains("▶ b") && t[0].contains("▶ c"));
        assert_eq!(t[1], "  a ─skip─▶ c");
        // A parallel duplicate is listed rather than drawn over the first.
        g.add_edge(ix[0], ix[1], edge("again"));
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t.len(), 3);
        assert_eq!(t[2], "  a ─again─▶ b");
    }

    #[test]
    fn lines_sharing_a_row_do_not_merge() {
        // s1 fans out to ta and tb; tb lands on s2's row, so s2's trunk goes left of
        // s1's and s2's line stops before s1's line to tb begins.
        let (mut g, ix) = chain(&["s1", "s2", "ta", "tb", "tc"]);
        g.add_edge(ix[0], ix[2], edge("1"));
        g.add_edge(ix[0], ix[3], edge("2"));
        g.add_edge(ix[1], ix[4], edge("3"));
        let plain = Options {
            details: false,
            labels: true,
            short: false,
        };
        let t = text(&render(&g, 80, plain).unwrap_or_default());
        assert_eq!(
            t,
            [
                "s1 ──┬─1─▶ ta",
                "     │",
                "s2 ─┐└─2─▶ tb",
                "    │",
                "    └──3─▶ tc",
            ]
        );
    }

    #[test]
    fn empty_graph_draws_nothing() {
        let g: DiGraph<NodeView, EdgeView> = DiGraph::new();
        assert_eq!(render(&g, 0, FULL).map(|l| l.len()), Some(0));
        assert!(render_fit(&g, 0, 0).is_empty());
        assert!(render_fit(&g, 80, 10).is_empty());
    }

    #[test]
    fn isolated_nodes_stack_in_one_column() {
        let (g, _) = chain(&["x", "y"]);
        let t = text(&render(&g, 80, FULL).unwrap_or_default());
        assert_eq!(t, ["x", "", "y"]);
    }

    #[test]
    fn falls_back_from_richest_to_plainest() {
        let g = flash_sale();
        let full = min_width(&g, FULL);
        let nolabels = Options {
            details: true,
            labels: false,
            short: false,
        };
        let bare = min_width(&g, nolabels);
        assert!(bare < full, "{bare} < {full}");
        assert!(render(&g, full - 1, FULL).is_none());
        // One column too narrow: the same drawing in bands, labels kept.
        let fit = text(&render_fit(&g, full - 1, 40));
        assert_eq!(
            fit,
            text(&render_banded(&g, full - 1, FULL).unwrap_or_default())
        );
        println!("at {}:\n{}", full - 1, fit.join("\n"));
        assert!(fit.iter().any(|l| l.contains(" ↴")), "{fit:?}");
        assert!(fit.iter().any(|l| l.starts_with("↳ ")), "{fit:?}");
        // Too short for bands: details without labels in one drawing.
        let fit = text(&render_fit(&g, full - 1, 8));
        assert_eq!(
            fit,
            text(&render(&g, full - 1, nolabels).unwrap_or_default())
        );
        // Too short for details: labels without details.
        let fit = text(&render_fit(&g, 200, 7));
        let nodetails = Options {
            details: false,
            labels: true,
            short: false,
        };
        assert_eq!(fit, text(&render(&g, 200, nodetails).unwrap_or_default()));
        assert!(fit.len() <= 7);
        // Too narrow for any drawing: the list, clipped.
        let fit = text(&render_fit(&g, 30, 40));
        println!("at 30:\n{}", fit.join("\n"));
        assert_eq!(fit.len(), 6);
        assert_eq!(fit[0], "checkout ─190/s─▶ orders");
        assert_eq!(fit[4], "payment ×6 ─0/s─▶ payment-dlq");
        let fit = text(&render_fit(&g, 12, 2));
        assert_eq!(fit, ["checkout ─19", "orders ─190/"]);
    }

    #[test]
    fn list_shows_lonely_nodes() {
        let (mut g, ix) = chain(&["a", "b", "lonely"]);
        g.add_edge(ix[0], ix[1], edge("1"));
        let fit = text(&render_fit(&g, 5, 10));
        assert_eq!(fit, ["a ─1─", "lonel"]);
    }

    fn styled_example() -> DiGraph<NodeView, EdgeView> {
        let mut g = flash_sale();
        let (x, y) = (
            g.add_node(node("宽字符标题", "détail̃")),
            g.add_node(node("", "")),
        );
        g.add_edge(x, y, edge("速率"));
        g.add_edge(y, x, edge("\tctl\n"));
        if let Some(e) = g.edge_weight_mut(petgraph::graph::EdgeIndex::new(2)) {
            e.style = Style::new().red();
        }
        g
    }

    #[test]
    fn fits_every_area_without_panicking() {
        let (mut cyc, ix) = chain(&["a", "b", "c"]);
        cyc.add_edge(ix[0], ix[1], edge("x"));
        cyc.add_edge(ix[1], ix[2], edge("y"));
        cyc.add_edge(ix[2], ix[0], edge("z"));
        let empty: DiGraph<NodeView, EdgeView> = DiGraph::new();
        for g in [flash_sale(), styled_example(), cyc, empty] {
            for w in 0..=120u16 {
                for h in 0..=12u16 {
                    let lines = render_fit(&g, w, h);
                    assert!(lines.len() <= usize::from(h), "{w}×{h}");
                    for l in &lines {
                        assert!(l.width() <= usize::from(w), "{w}×{h}: {l:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn random_graphs_never_panic() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % m.max(1)).unwrap_or(0)
        };
        let words = ["", "a", "topic-long-name", "宽", "x\ny", "e\u{301}", "👩‍👩‍👧"];
        for _ in 0..300 {
            let mut g = DiGraph::new();
            let n = next(9);
            let ix: Vec<NodeIndex> = (0..n)
                .map(|_| g.add_node(node(words[next(7)], words[next(7)])))
                .collect();
            if n > 0 {
                for _ in 0..next(14) {
                    let mut e = edge(words[next(7)]);
                    if next(3) == 0 {
                        e.style = Style::new().bold();
                    }
                    g.add_edge(ix[next(n as u64)], ix[next(n as u64)], e);
                }
            }
            for w in [0u16, 1, 7, 20, 60, 200] {
                for h in [0u16, 1, 5, 30] {
                    let lines = render_fit(&g, w, h);
                    assert!(lines.len() <= usize::from(h));
                    assert!(lines.iter().all(|l| l.width() <= usize::from(w)));
                }
                for opts in [
                    FULL,
                    Options {
                        details: false,
                        labels: false,
                        short: false,
                    },
                ] {
                    if let Some(lines) = render(&g, w, opts) {
                        assert!(lines.iter().all(|l| l.width() <= usize::from(w)));
                    }
                }
            }
        }
    }

    #[test]
    fn deterministic_and_styled() {
        let g = styled_example();
        let a = render(&g, 200, FULL);
        let b = render(&g, 200, FULL);
        assert_eq!(a, b);
        assert_eq!(render_fit(&g, 50, 9), render_fit(&g, 50, 9));
        // The highlighted edge (orders → payment) keeps its style on connector and label.
        let lines = render(&flash_sale_highlighted(), 200, FULL).unwrap_or_default();
        let red: String = lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .filter(|s| s.style == Style::new().red())
            .map(|s| s.content.as_ref())
            .collect();
        assert!(red.contains("190/s"), "{red:?}");
        assert!(red.contains('└'), "{red:?}");
        assert!(red.contains('▶'), "{red:?}");
        let titles: String = lines[0]
            .spans
            .iter()
            .filter(|s| s.style == Style::new().bold())
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(titles, "checkout");
    }

    fn flash_sale_highlighted() -> DiGraph<NodeView, EdgeView> {
        let mut g = flash_sale();
        if let Some(e) = g.edge_weight_mut(petgraph::graph::EdgeIndex::new(2)) {
            e.style = Style::new().red();
        }
        if let Some(v) = g.node_weight_mut(NodeIndex::new(0)) {
            v.title_style = Style::new().bold();
        }
        g
    }
}
