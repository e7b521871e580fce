//! The TUI's state and its one entry point for change, [`App::update`]. Views read the
//! state and never change it, so every screen renders the same under a test backend.

use std::collections::VecDeque;

use crate::metrics::Row;
use crate::model::Model;
use crate::sim::trace::{NA32, NA64, TraceRec};
use crate::sim::{Engine, Options, RunStatus};

/// Metric samples kept for the charts (one per metrics interval).
pub const HISTORY_LIMIT: usize = 240;
/// Lines kept in the event log.
pub const LOG_LIMIT: usize = 2_000;
/// Most events simulated between two frames, so input is never starved.
pub const EVENTS_PER_FRAME: u64 = 400_000;

/// Speeds offered by `+` and `-`: simulated seconds per wall-clock second.
pub const SPEEDS: [f64; 10] = [
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    100.0,
    1000.0,
    f64::INFINITY,
];

/// What the user (or the clock) asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Run or pause.
    TogglePause,
    /// Process one event.
    Step,
    /// Run to the next metrics sample.
    StepInterval,
    /// Go back one event (restore a checkpoint, simulate forward).
    StepBack,
    /// Go back to the previous metrics sample.
    StepBackInterval,
    /// Write the metrics so far as CSV.
    Export,
    /// Faster.
    Faster,
    /// Slower.
    Slower,
    /// Next panel.
    FocusNext,
    /// Previous panel.
    FocusPrev,
    /// Scroll the focused panel up.
    ScrollUp,
    /// Scroll the focused panel down.
    ScrollDown,
    /// Show or hide the key help.
    ToggleHelp,
    /// Leave.
    Quit,
    /// Wall-clock time passed (seconds): advance the simulation if running.
    Tick(f64),
}

/// One key binding: the key as shown, the action, and what it does.
pub struct Binding {
    /// Key label (also what the key handler matches).
    pub key: &'static str,
    /// Action.
    pub action: Action,
    /// Help text.
    pub help: &'static str,
}

/// The keymap: drives key handling, the help overlay and the status bar.
pub const KEYMAP: &[Binding] = &[
    Binding {
        key: "space",
        action: Action::TogglePause,
        help: "run / pause",
    },
    Binding {
        key: "n",
        action: Action::Step,
        help: "step one event",
    },
    Binding {
        key: "s",
        action: Action::StepInterval,
        help: "step to the next sample",
    },
    Binding {
        key: "b",
        action: Action::StepBack,
        help: "step back one event",
    },
    Binding {
        key: "B",
        action: Action::StepBackInterval,
        help: "back to the previous sample",
    },
    Binding {
        key: "e",
        action: Action::Export,
        help: "export metrics so far as CSV",
    },
    Binding {
        key: "+",
        action: Action::Faster,
        help: "faster",
    },
    Binding {
        key: "-",
        action: Action::Slower,
        help: "slower",
    },
    Binding {
        key: "tab",
        action: Action::FocusNext,
        help: "next panel",
    },
    Binding {
        key: "shift-tab",
        action: Action::FocusPrev,
        help: "previous panel",
    },
    Binding {
        key: "k",
        action: Action::ScrollUp,
        help: "scroll up (also ↑)",
    },
    Binding {
        key: "j",
        action: Action::ScrollDown,
        help: "scroll down (also ↓)",
    },
    Binding {
        key: "?",
        action: Action::ToggleHelp,
        help: "help",
    },
    Binding {
        key: "q",
        action: Action::Quit,
        help: "quit (also ctrl-c)",
    },
];

/// Panels that take focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    /// Producers, topics, groups.
    Topology,
    /// Charts.
    Charts,
    /// The event log.
    Log,
}

const PANELS: [Panel; 3] = [Panel::Topology, Panel::Charts, Panel::Log];

/// One metrics sample of the whole system, reduced to what the charts draw.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Sample time, ns.
    pub time: u64,
    /// Records produced per second, all producers.
    pub rate_in: f64,
    /// Records processed per second, all groups.
    pub rate_out: f64,
    /// Per group: (p50 ms, p99 ms, lag).
    pub groups: Vec<(f64, f64, u64)>,
    /// Per group and partition: lag.
    pub partition_lag: Vec<Vec<u64>>,
    /// Total dead-letter depth.
    pub dlq_depth: u64,
    /// Cumulative counters: ordering violations, duplicates, lost, retries.
    pub anomalies: [u64; 4],
}

/// Most checkpoints kept for stepping back; when full, every other one is dropped so
/// they thin out towards the past.
pub const CHECKPOINT_LIMIT: usize = 48;
/// Events between two checkpoints (before thinning).
pub const CHECKPOINT_EVERY: u64 = 50_000;

/// Everything that stepping back must restore: the engine and what was derived from it.
#[derive(Clone)]
pub struct SimState {
    engine: Engine,
    history: VecDeque<Sample>,
    log: VecDeque<String>,
    totals: [u64; 4],
    rows: usize,
}

/// The application state.
pub struct App {
    /// The simulation.
    pub engine: Engine,
    /// Paused (opens paused at t = 0).
    pub paused: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// Focused panel.
    pub focus: Panel,
    /// Help overlay shown.
    pub show_help: bool,
    /// Quit requested.
    pub quit: bool,
    /// Metric samples, oldest first.
    pub history: VecDeque<Sample>,
    /// Event log lines, oldest first.
    pub log: VecDeque<String>,
    /// Scroll offset of the log from its end.
    pub log_scroll: usize,
    /// Component names, for the log.
    names: Vec<String>,
    /// Simulated time owed to the clock (ns) when running slower than real time.
    debt_ns: f64,
    /// Cumulative anomaly counters.
    totals: [u64; 4],
    /// Every metric row so far, for export (a few hundred per sample).
    pub rows: Vec<Row>,
    /// Snapshots to step back to, by event count.
    checkpoints: Vec<SimState>,
    /// One line for the status bar (the export's file name, say).
    pub message: Option<String>,
}

impl App {
    /// A paused app at t = 0.
    pub fn new(model: Model) -> App {
        let engine = Engine::new(
            model,
            Options {
                record_rows: true,
                trace: true,
            },
        );
        let names = engine.component_names().to_vec();
        let mut app = App {
            engine,
            paused: true,
            speed: 6,
            focus: Panel::Charts,
            show_help: false,
            quit: false,
            history: VecDeque::new(),
            log: VecDeque::new(),
            log_scroll: 0,
            names,
            debt_ns: 0.0,
            totals: [0; 4],
            rows: Vec::new(),
            checkpoints: Vec::new(),
            message: None,
        };
        app.checkpoint();
        app
    }

    fn state(&self) -> SimState {
        SimState {
            engine: self.engine.clone(),
            history: self.history.clone(),
            log: self.log.clone(),
            totals: self.totals,
            rows: self.rows.len(),
        }
    }

    fn restore(&mut self, s: SimState) {
        self.engine = s.engine;
        self.history = s.history;
        self.log = s.log;
        self.totals = s.totals;
        self.rows.truncate(s.rows);
        self.log_scroll = 0;
    }

    /// Keeps a checkpoint of the current state (thinning old ones when full).
    fn checkpoint(&mut self) {
        let steps = self.engine.steps();
        if self
            .checkpoints
            .last()
            .is_some_and(|c| c.engine.steps() >= steps)
        {
            return;
        }
        if self.checkpoints.len() >= CHECKPOINT_LIMIT {
            // Keep the first (t = 0) and every other one after it.
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i == 1 || i % 2 == 0
            });
        }
        let st = self.state();
        self.checkpoints.push(st);
    }

    /// Runs forward to `until` (ns) or `budget` events, stopping at checkpoint
    /// boundaries to take checkpoints.
    fn advance(&mut self, until: u64, budget: u64) -> RunStatus {
        let mut left = budget;
        loop {
            let to_boundary = CHECKPOINT_EVERY - self.engine.steps() % CHECKPOINT_EVERY;
            let chunk = left.min(to_boundary);
            let status = self.engine.run_until(until, chunk);
            left -= chunk.min(left);
            self.absorb();
            if self.engine.steps().is_multiple_of(CHECKPOINT_EVERY) {
                self.checkpoint();
            }
            if status != RunStatus::BudgetSpent || left == 0 {
                return status;
            }
        }
    }

    /// Restores the latest checkpoint that `fits` and forgets the later ones; false if
    /// none fits (the first checkpoint, t = 0, always does for sensible targets).
    fn restore_latest(&mut self, fits: impl Fn(&Engine) -> bool) -> bool {
        let Some(i) = self.checkpoints.iter().rposition(|c| fits(&c.engine)) else {
            return false;
        };
        self.checkpoints.truncate(i + 1);
        let cp = self.checkpoints[i].clone();
        self.restore(cp);
        true
    }

    /// Goes back to the state after exactly `target` events: restores the nearest
    /// checkpoint at or before it and simulates forward. The result is identical to
    /// having stopped there on the way forward.
    fn rewind_to_steps(&mut self, target: u64) {
        if !self.restore_latest(|e| e.steps() <= target) {
            return;
        }
        while self.engine.steps() < target {
            let left = target - self.engine.steps();
            self.engine.run_until(u64::MAX, left);
            self.absorb();
        }
    }

    /// Goes back to just after the sample at `time` (ns).
    fn rewind_to_time(&mut self, time: u64) {
        if self.restore_latest(|e| e.now() <= time) {
            self.run_to_sample(time);
        }
    }

    /// Runs until the metrics sample at `time` (ns) has been taken, and no further:
    /// the state then ends on an event, so stepping back and forth lands on it again.
    fn run_to_sample(&mut self, time: u64) {
        if time >= self.model().duration.0 {
            self.advance(u64::MAX, u64::MAX);
            return;
        }
        self.advance(time, u64::MAX);
        while self.engine.last_sample_time() < time && !self.engine.is_finished() {
            self.advance(u64::MAX, 1);
        }
    }

    /// The CSV of every metric row so far.
    pub fn export_csv(&self) -> std::io::Result<Vec<u8>> {
        let mut w =
            crate::output::csv::CsvWriter::new(Vec::new()).map_err(std::io::Error::other)?;
        w.write(&self.rows).map_err(std::io::Error::other)?;
        w.finish()
    }

    /// The model.
    pub fn model(&self) -> &Model {
        self.engine.model()
    }

    /// Current speed, simulated seconds per second (infinite: as fast as possible).
    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed]
    }

    /// Applies an action.
    pub fn update(&mut self, action: Action) {
        match action {
            Action::TogglePause => {
                self.paused = !self.paused;
                self.debt_ns = 0.0;
            }
            Action::Step => {
                self.paused = true;
                self.advance(u64::MAX, 1);
            }
            Action::StepInterval => {
                self.paused = true;
                let iv = self.model().metrics_interval.0;
                let next = self.engine.last_sample_time().saturating_add(iv);
                self.run_to_sample(next);
            }
            Action::StepBack => {
                self.paused = true;
                let steps = self.engine.steps();
                if steps > 0 {
                    self.rewind_to_steps(steps - 1);
                }
            }
            Action::StepBackInterval => {
                self.paused = true;
                let iv = self.model().metrics_interval.0;
                let last = self.engine.last_sample_time();
                // Back to the sample before the current one (or to t = 0).
                match last.checked_sub(iv) {
                    Some(t) if t > 0 && last > 0 => self.rewind_to_time(t),
                    _ => self.rewind_to_steps(0),
                }
            }
            Action::Export => {
                // The file is written by the shell (`tui::run`); here only the request.
                self.message = Some("export requested".to_string());
            }
            Action::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
            Action::Slower => self.speed = self.speed.saturating_sub(1),
            Action::FocusNext | Action::FocusPrev => {
                let i = PANELS.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = PANELS.len();
                let j = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = PANELS[j];
            }
            Action::ScrollUp => {
                if self.focus == Panel::Log {
                    self.log_scroll = (self.log_scroll + 1).min(self.log.len().saturating_sub(1));
                }
            }
            Action::ScrollDown => {
                if self.focus == Panel::Log {
                    self.log_scroll = self.log_scroll.saturating_sub(1);
                }
            }
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::Quit => self.quit = true,
            Action::Tick(wall_s) => {
                if self.paused || self.engine.is_finished() {
                    return;
                }
                let speed = self.speed();
                let until = if speed.is_infinite() {
                    u64::MAX
                } else {
                    self.debt_ns += wall_s * speed * 1e9;
                    let step = self.debt_ns.floor();
                    self.debt_ns -= step;
                    self.engine.now().saturating_add(step as u64)
                };
                let status = self.advance(until, EVENTS_PER_FRAME);
                if status == RunStatus::Finished {
                    self.paused = true;
                }
            }
        }
    }

    /// Moves new metric rows and trace records into the history and the log.
    fn absorb(&mut self) {
        let rows = self.engine.drain_rows();
        self.absorb_rows(&rows);
        self.rows.extend(rows);
        let recs = self.engine.drain_trace();
        let skip = recs.len().saturating_sub(LOG_LIMIT);
        for r in &recs[skip..] {
            let line = self.describe(r);
            if self.log.len() >= LOG_LIMIT {
                self.log.pop_front();
            }
            self.log.push_back(line);
        }
    }

    fn absorb_rows(&mut self, rows: &[Row]) {
        let model = self.engine.model();
        let ngroups = model.groups.len();
        let mut i = 0;
        while i < rows.len() {
            let t = rows[i].time;
            let mut s = Sample {
                time: t,
                groups: vec![(0.0, 0.0, 0); ngroups],
                partition_lag: model
                    .groups
                    .iter()
                    .map(|g| vec![0; model.topics[g.topic].partitions as usize])
                    .collect(),
                ..Sample::default()
            };
            while i < rows.len() && rows[i].time == t {
                let r = &rows[i];
                i += 1;
                let v = r.value.as_f64();
                if r.component == "total" {
                    match r.metric {
                        "dlq_depth" => s.dlq_depth = v as u64,
                        "processed" => {}
                        "ordering_violations" => self.totals[0] += v as u64,
                        "duplicates" => self.totals[1] += v as u64,
                        "lost" => self.totals[2] += v as u64,
                        "retries" => self.totals[3] += v as u64,
                        _ => {}
                    }
                    continue;
                }
                if model.producers.iter().any(|p| p.name == r.component) {
                    if r.metric == "throughput_out" {
                        s.rate_in += v;
                    }
                    continue;
                }
                let (gname, part) = match r.component.split_once('/') {
                    Some((g, p)) => (g, p.parse::<usize>().ok()),
                    None => (r.component.as_str(), None),
                };
                let Some(g) = model.groups.iter().position(|x| x.name == gname) else {
                    continue;
                };
                match (part, r.metric) {
                    (Some(p), "lag") => {
                        if let Some(slot) = s.partition_lag[g].get_mut(p) {
                            *slot = v as u64;
                        }
                    }
                    (None, "throughput_out") => s.rate_out += v,
                    (None, "latency_p50") => s.groups[g].0 = v,
                    (None, "latency_p99") => s.groups[g].1 = v,
                    (None, "lag") => s.groups[g].2 = v as u64,
                    _ => {}
                }
            }
            s.anomalies = self.totals;
            if self.history.len() >= HISTORY_LIMIT {
                self.history.pop_front();
            }
            self.history.push_back(s);
        }
    }

    /// One log line for a trace record.
    pub fn describe(&self, r: &TraceRec) -> String {
        let comp = self
            .names
            .get(r.component as usize)
            .map_or("?", String::as_str);
        let mut line = format!(
            "{:>10.6} {:<13} {:<12}",
            r.t as f64 / 1e9,
            r.kind.name(),
            comp
        );
        if r.instance != NA32 {
            line.push_str(&format!(" #{}", r.instance + 1));
        }
        if r.msg != NA64 {
            line.push_str(&format!(" msg {}", r.msg));
        }
        if let Some(k) = self.engine.model().keys.name(r.key) {
            line.push_str(&format!(" key {k}"));
        }
        if r.partition != NA32 {
            line.push_str(&format!(" p{}", r.partition));
        }
        if r.offset != NA64 {
            line.push_str(&format!("@{}", r.offset));
        }
        if r.attempt != NA32 && r.attempt > 1 {
            line.push_str(&format!(" attempt {}", r.attempt));
        }
        line
    }

    /// Cumulative anomaly counters: ordering violations, duplicates, lost, retries.
    pub fn totals(&self) -> [u64; 4] {
        self.totals
    }
}
