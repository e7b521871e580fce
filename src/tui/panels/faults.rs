//! The fault timeline: the faults under way with their targets and the time they have
//! left, the next one to start, their spans on the charts' time axis (a letter per
//! fault), and the words the topology writes on a component a fault hits.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::super::app::{App, Sample};
use super::super::ui::{Theme, short_duration};
use crate::model::{Channel, FaultKind, FaultModel, FaultTarget, Node};

/// Fault `f`'s letter on the time axis and in the list: `a`..`z`, then `A`..`Z`, then
/// `*` for the rest.
pub(crate) fn letter(f: usize) -> char {
    match f {
        0..26 => (b'a' + f as u8) as char,
        26..52 => (b'A' + (f - 26) as u8) as char,
        _ => '*',
    }
}

/// A fault under way: its index, since when, and its planned end (none: it lasts to
/// the end of the run).
pub(crate) struct Active {
    pub fault: usize,
    pub since: u64,
    pub until: Option<u64>,
}

/// The faults under way now, in scenario order.
pub(crate) fn active(app: &App) -> Vec<Active> {
    let end = app.model().duration.0;
    (0..app.model().faults.len())
        .filter_map(|f| {
            let (since, turn) = app.engine.fault_now(f);
            since.map(|since| Active {
                fault: f,
                since,
                until: turn.filter(|&t| t < end),
            })
        })
        .collect()
}

/// Whether fault `f` is under way now.
fn is_active(app: &App, f: usize) -> bool {
    app.engine.fault_now(f).0.is_some()
}

/// The fault that starts next, and when.
fn next(app: &App) -> Option<(usize, u64)> {
    let end = app.model().duration.0;
    (0..app.model().faults.len())
        .filter_map(|f| match app.engine.fault_now(f) {
            (None, Some(t)) if t < end && t >= app.engine.now() => Some((f, t)),
            _ => None,
        })
        .min_by_key(|&(f, t)| (t, f))
}

/// What is left of a fault: `25.0s left`, or `to the end`.
fn left(app: &App, a: &Active) -> String {
    match a.until {
        Some(t) => format!(
            "{} left",
            short_duration(t.saturating_sub(app.engine.now()))
        ),
        None => "to the end".to_string(),
    }
}

/// A fault in words: `crash payment#2`, `latency shipping-commands -> shipping +30ms`,
/// `slowdown shipping ×8`, `poison checkout 5%`.
pub(crate) fn describe(app: &App, f: usize) -> String {
    let m = app.model();
    let fm = &m.faults[f];
    let mut s = format!("{} {}", fm.kind_name(), fm.target_name(m));
    match fm.kind {
        FaultKind::Slowdown => s.push_str(&format!(" ×{}", fm.factor)),
        FaultKind::Poison => s.push_str(&format!(" {}%", fm.fraction * 100.0)),
        FaultKind::Latency => {
            if let Some(mean) = fm.delay.as_ref().and_then(|d| d.mean_secs()) {
                s.push_str(&format!(" +{}", short_duration((mean * 1e9) as u64)));
            }
        }
        _ => {}
    }
    s
}

/// The fault lines of the side panel: one per fault under way (`a crash payment#2
/// 25.0s left`), or, with none under way, the next one to start. Empty when the
/// scenario has no faults, or none is under way or to come.
pub(crate) fn fault_lines(app: &App, theme: Theme, width: usize) -> Vec<Line<'static>> {
    let head = Span::styled(" faults ", Style::new().add_modifier(Modifier::BOLD));
    let now = active(app);
    if now.is_empty() {
        return next(app)
            .map(|(f, t)| {
                let text = format!(
                    "next {} {} in {}",
                    letter(f),
                    describe(app, f),
                    short_duration(t.saturating_sub(app.engine.now()))
                );
                Line::from(vec![
                    head.clone(),
                    Span::styled(cut(&text, width, 8), theme.dim()),
                ])
            })
            .into_iter()
            .collect();
    }
    now.iter()
        .enumerate()
        .map(|(k, a)| {
            let tail = format!("  {}", left(app, a));
            let text = format!("{} {}", letter(a.fault), describe(app, a.fault));
            let room = width.saturating_sub(8 + tail.chars().count());
            Line::from(vec![
                if k == 0 {
                    head.clone()
                } else {
                    Span::raw(" ".repeat(8))
                },
                Span::styled(cut(&text, room + 8, 8), theme.bad()),
                Span::raw(tail),
            ])
        })
        .collect()
}

/// All faults under way on one line, for a short panel: ` faults a 25.0s · b 5.0s left`.
pub(crate) fn fault_summary(app: &App, theme: Theme, width: usize) -> Option<Line<'static>> {
    let now = active(app);
    if now.is_empty() {
        return fault_lines(app, theme, width).into_iter().next();
    }
    // As much of each fault as fits for all of them: what and where, what, or only
    // its letter.
    let m = app.model();
    let forms: [&dyn Fn(&Active) -> String; 3] = [
        &|a| {
            format!(
                "{} {} {}",
                letter(a.fault),
                describe(app, a.fault),
                left(app, a)
            )
        },
        &|a| {
            format!(
                "{} {} {}",
                letter(a.fault),
                m.faults[a.fault].kind_name(),
                left(app, a)
            )
        },
        &|a| format!("{} {}", letter(a.fault), left(app, a)),
    ];
    let text = forms
        .iter()
        .map(|form| now.iter().map(form).collect::<Vec<_>>().join(" · "))
        .find(|t| t.chars().count() + 8 <= width)
        .unwrap_or_else(|| now.iter().map(forms[2]).collect::<Vec<_>>().join(" · "));
    Some(Line::from(vec![
        Span::styled(" faults ", Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(cut(&text, width, 8), theme.bad()),
    ]))
}

/// `text` cut to `width - used` columns, with `…` when cut.
fn cut(text: &str, width: usize, used: usize) -> String {
    let room = width.saturating_sub(used).max(1);
    if text.chars().count() <= room {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(room.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The charts' fault row: a label with the letters of the faults under way, and per
/// sample of `window` the letter of the fault under way during it (`+` for several,
/// blank for none). `before`: the time of the sample before the window's first.
pub(crate) fn axis(app: &App, window: &[&Sample], before: u64) -> (String, String) {
    let spans = app.engine.fault_spans();
    let now = app.engine.now();
    let mut marks = String::with_capacity(window.len());
    let mut from = before;
    for s in window {
        let hit: Vec<usize> = spans
            .iter()
            .filter(|sp| {
                sp.from < s.time.max(from + 1) && sp.until.unwrap_or(now.max(s.time)) > from
            })
            .map(|sp| sp.fault)
            .collect();
        marks.push(match hit.as_slice() {
            [] => ' ',
            [f] => letter(*f),
            [f, rest @ ..] if rest.iter().all(|g| g == f) => letter(*f),
            _ => '+',
        });
        from = s.time;
    }
    let letters: String = active(app).iter().map(|a| letter(a.fault)).collect();
    let label = if letters.is_empty() {
        "faults none under way".to_string()
    } else {
        format!("faults {letters} under way")
    };
    (label, marks)
}

/// What a fault under way does to a component, in a word that fits a node's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Its instances or its function's runtime are down.
    Down,
    /// Every attempt fails.
    Failing,
    /// A network partition cuts it off.
    CutOff,
    /// A breaker of one of its instances is open.
    BreakerOpen,
    /// Slower: a slowdown, a latency on it or on its delivery link.
    Slow,
}

impl Mark {
    /// The word (at most 9 columns).
    pub fn word(self) -> &'static str {
        match self {
            Mark::Down => "down",
            Mark::Failing => "failing",
            Mark::CutOff => "cut off",
            Mark::BreakerOpen => "brk open",
            Mark::Slow => "slow",
        }
    }
    /// Its symbol and word, for the topology's legend.
    pub fn legend(self) -> &'static str {
        match self {
            Mark::Down => "✗ down",
            Mark::Failing => "! failing",
            Mark::CutOff => "⊘ cut off",
            Mark::BreakerOpen => "◐ breaker open",
            Mark::Slow => "≈ slow",
        }
    }
    /// The symbol of narrow screens.
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Down => "✗",
            Mark::Failing => "!",
            Mark::CutOff => "⊘",
            Mark::BreakerOpen => "◐",
            Mark::Slow => "≈",
        }
    }
}

/// Whether fault `fm` hits service `g` (itself, an instance of it, or a link that ends
/// or starts at it).
fn hits_service(fm: &FaultModel, g: usize) -> bool {
    match fm.target {
        FaultTarget::Service { service, .. } => service == g,
        FaultTarget::Link { from, to, .. } => from == Node::Service(g) || to == Node::Service(g),
        _ => false,
    }
}

/// The gravest mark on service `g` from the faults under way and its breakers, with
/// why in a sentence.
pub(crate) fn service_mark(app: &App, g: usize) -> Option<(Mark, String)> {
    let m = app.model();
    let mut best: Option<(Mark, String)> = None;
    let mut consider = |mark: Mark, why: String| {
        if best
            .as_ref()
            .is_none_or(|(b, _)| mark_rank(mark) < mark_rank(*b))
        {
            best = Some((mark, why));
        }
    };
    for a in active(app) {
        let fm = &m.faults[a.fault];
        if !hits_service(fm, g) {
            continue;
        }
        let why = format!(
            "fault {}: {} since {:.1} s, {}",
            letter(a.fault),
            describe(app, a.fault),
            a.since as f64 / 1e9,
            left(app, &a)
        );
        match fm.kind {
            FaultKind::Crash => consider(Mark::Down, why),
            FaultKind::Errors => consider(Mark::Failing, why),
            FaultKind::NetworkPartition => consider(Mark::CutOff, why),
            FaultKind::Slowdown | FaultKind::Latency => {
                // Latency on a publish from it slows what it sends, not its work.
                let publish =
                    matches!(fm.target, FaultTarget::Link { from: Node::Service(s), .. } if s == g);
                if !publish || fm.kind == FaultKind::Slowdown {
                    consider(Mark::Slow, why);
                }
            }
            _ => {}
        }
    }
    let open = app.engine.breakers_open(g);
    if open > 0 {
        consider(
            Mark::BreakerOpen,
            format!(
                "breaker open on {open} of {} instances: work waits or fails fast",
                m.services[g].instances
            ),
        );
    }
    best
}

fn mark_rank(m: Mark) -> u8 {
    match m {
        Mark::Down => 0,
        Mark::CutOff => 1,
        Mark::BreakerOpen => 2,
        Mark::Failing => 3,
        Mark::Slow => 4,
    }
}

/// What the faults under way do to broker `c`: `down` (an outage), `p3 down` (a
/// partition's outage), or nothing.
pub(crate) fn channel_mark(app: &App, c: Channel) -> Option<String> {
    let m = app.model();
    let mut parts: Vec<String> = Vec::new();
    for a in active(app) {
        match (m.faults[a.fault].kind, m.faults[a.fault].target) {
            (FaultKind::BrokerOutage, FaultTarget::Broker(x)) if x == c => {
                return Some(format!("down {}", left(app, &a)));
            }
            (FaultKind::PartitionOutage, FaultTarget::Partition { topic, partition })
                if Channel::Topic(topic) == c =>
            {
                parts.push(format!("p{partition}"));
            }
            _ => {}
        }
    }
    (!parts.is_empty()).then(|| format!("{} down", parts.join(",")))
}

/// What the faults under way do to producer `p`: `poison 5%`, `cut off`, `slow link`.
pub(crate) fn producer_mark(app: &App, p: usize) -> Option<String> {
    let m = app.model();
    for a in active(app) {
        let fm = &m.faults[a.fault];
        match (fm.kind, fm.target) {
            (FaultKind::Poison, FaultTarget::Producer(x)) if x == p => {
                return Some(format!("poison {}%", fm.fraction * 100.0));
            }
            (FaultKind::NetworkPartition, FaultTarget::Link { from, to, .. })
                if from == Node::Producer(p) || to == Node::Producer(p) =>
            {
                return Some("cut off".to_string());
            }
            (FaultKind::Latency, FaultTarget::Link { from, .. }) if from == Node::Producer(p) => {
                return Some("slow link".to_string());
            }
            _ => {}
        }
    }
    None
}

/// Whether any fault of the scenario is under way now.
pub(crate) fn any_active(app: &App) -> bool {
    (0..app.model().faults.len()).any(|f| is_active(app, f))
}
