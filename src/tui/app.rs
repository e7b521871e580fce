//! The TUI's state and its one entry point for change, [`App::update`]. Views read the
//! state and never change it, so every screen renders the same under a test backend.

use std::collections::VecDeque;

use crate::metrics::{Metric, Row};
use crate::model::Model;
use crate::sim::trace::{NA32, NA64, TraceKind, TraceRec};
use crate::sim::{Engine, Options, RunStatus};

use super::query::{Filter, Goal, parse_goal};

/// Metric samples kept for the charts (one per metrics interval).
pub const HISTORY_LIMIT: usize = 600;
/// Trace records kept for the event log, its filter and the message inspector.
pub const JOURNAL_LIMIT: usize = 1_000_000;
/// Trace records the log is sure to hold after going back (when that many were
/// written): checkpoints do not carry the journal, so a rewind that would leave it
/// shorter re-simulates from an earlier checkpoint to rebuild them. A tenth of the
/// journal: enough for the log, its filter and most journeys, and cheap to rebuild.
pub const REWIND_LOG: u64 = JOURNAL_LIMIT as u64 / 10;
/// The most events a log rebuild may re-simulate (about 75 ms).
pub const REFILL_EVENTS: u64 = 300_000;
/// Events simulated in one slice of work; the shell runs slices until its frame budget
/// is spent, so input is never starved.
pub const SLICE_EVENTS: u64 = 20_000;
/// Events `s` and `B` may simulate at once (about 25 ms) before they carry on as a
/// run-until in slices.
pub const SYNC_EVENTS: u64 = 100_000;
/// Records the log moves by on a page (`h`/`l`).
pub const PAGE: usize = 10;
/// Samples the charts pan by on `h`/`l`.
pub const PAN: usize = 10;

/// Speeds offered by `+` and `-`: simulated seconds per wall-clock second.
/// One ladder of 1-2-5 steps, so that `+` and `-` step alike in both directions.
pub const SPEEDS: [f64; 17] = [
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1000.0,
    2000.0,
    5000.0,
    10000.0,
    f64::INFINITY,
];

/// What the user (or the clock) asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Run or pause (pausing also cancels a run-until).
    TogglePause,
    /// Process one event.
    Step,
    /// Run to the next metrics sample.
    StepInterval,
    /// Go back one event (restore a checkpoint, simulate forward).
    StepBack,
    /// Go back to the previous metrics sample.
    StepBackInterval,
    /// Open the run-until prompt.
    Goto,
    /// Open the log filter prompt.
    Filter,
    /// Show the journey of the selected message (or close it).
    Inspect,
    /// Close the prompt, the inspector, the help, or clear the filter.
    Close,
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
    /// Scroll the focused panel up (the log: select an older record).
    ScrollUp,
    /// Scroll the focused panel down (the log: select a newer record).
    ScrollDown,
    /// Page back (the log: older; the charts: back in time).
    PageBack,
    /// Page forward (the log: newer; the charts: forward in time).
    PageForward,
    /// Show or hide the key help.
    ToggleHelp,
    /// Leave.
    Quit,
    /// Wall-clock time passed (seconds): owe the simulation that much time at the
    /// current speed, and do one slice of work.
    Tick(f64),
    /// One more slice of owed work (the shell calls it while [`App::busy`] and its frame
    /// budget lasts).
    Work,
    /// A character typed into the open prompt.
    Char(char),
    /// Delete the prompt's last character.
    Backspace,
    /// Ctrl-U in a prompt: clears what was typed.
    ClearLine,
    /// Submit the prompt.
    Submit,
    /// Focus a panel (a mouse click).
    Focus(Panel),
    /// Select a log record by its trace sequence number (a mouse click).
    Select(u64),
    /// The terminal's size (columns, rows), so that a page of the charts is a screen.
    Resize(u16, u16),
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

/// The keymap: drives key handling, the help overlay, the status bar and the README.
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
        key: "g",
        action: Action::Goto,
        help: "run until a time, #event, msg, key or metric > x",
    },
    Binding {
        key: "/",
        action: Action::Filter,
        help: "filter the log by component, key or msg",
    },
    Binding {
        key: "enter",
        action: Action::Inspect,
        help: "journey of the selected message",
    },
    Binding {
        key: "esc",
        action: Action::Close,
        help: "close / clear the filter",
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
        help: "up: older log line (also ↑)",
    },
    Binding {
        key: "j",
        action: Action::ScrollDown,
        help: "down: newer log line (also ↓)",
    },
    Binding {
        key: "h",
        action: Action::PageBack,
        help: "page back in log / charts (also ←)",
    },
    Binding {
        key: "l",
        action: Action::PageForward,
        help: "page forward (also →)",
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
    /// Producers, topics, services.
    Topology,
    /// Charts.
    Charts,
    /// The anomalies explained (enter: the selected anomaly's journey).
    Anomalies,
    /// The event log.
    Log,
}

const PANELS: [Panel; 4] = [Panel::Topology, Panel::Charts, Panel::Anomalies, Panel::Log];

/// Shortest window over which a group's health is judged (ns): lag counted from
/// committed offsets moves in steps, so one sample says little.
pub const HEALTH_WINDOW_NS: u64 = 5_000_000_000;
/// A group whose lag stayed above this many records over its whole window is lagging.
pub const LAG_ENTER: u64 = 1_000;
/// A lagging group is healthy again once its lag fell below this within the window
/// (hysteresis: a lag hovering around [`LAG_ENTER`] does not flicker).
pub const LAG_EXIT: u64 = 500;

/// A consumer group's lag judged over a window of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Health {
    /// The lag stayed above [`LAG_ENTER`] over the whole window (and has not yet fallen
    /// below [`LAG_EXIT`]).
    pub lagging: bool,
    /// The smallest lag within the window: the backlog that is not only commits in
    /// flight.
    pub floor: u64,
    /// The lag's trend over the window, records per second (least squares).
    pub slope: f64,
}

impl Health {
    /// Why the group is healthy or lagging, in words: "lagging: lag 16.3k and growing
    /// 2.0k/s".
    pub fn explain(&self, lag: u64) -> String {
        let trend = if self.slope.abs() < 1.0 {
            "steady".to_string()
        } else if self.slope > 0.0 {
            format!("growing {}/s", super::ui::compact(self.slope))
        } else {
            let drain = lag as f64 / -self.slope;
            format!(
                "shrinking {}/s, drained in about {}",
                super::ui::compact(-self.slope),
                super::ui::short_duration((drain * 1e9) as u64)
            )
        };
        if self.lagging {
            format!(
                "lagging: lag {} and {trend} (above {} for the whole window)",
                super::ui::compact(lag as f64),
                LAG_ENTER
            )
        } else {
            format!(
                "healthy: lag {} and {trend} (lagging means above {} for the whole window)",
                super::ui::compact(lag as f64),
                LAG_ENTER
            )
        }
    }
}

/// One metrics sample of the whole system, reduced to what the screen draws.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Sample time, ns.
    pub time: u64,
    /// Records produced per second, all producers.
    pub rate_in: f64,
    /// Records processed per second, all services.
    pub rate_out: f64,
    /// Per service: (p50 ms, p99 ms, lag).
    pub services: Vec<(f64, f64, u64)>,
    /// Per service and partition: lag.
    pub partition_lag: Vec<Vec<u64>>,
    /// Per service: its lag judged over a window of samples up to this one.
    pub health: Vec<Health>,
    /// Per producer: records per second.
    pub producer_rate: Vec<f64>,
    /// Per topic: records appended per second.
    pub topic_rate: Vec<f64>,
    /// Messages in per second, per queue.
    pub queue_rate: Vec<f64>,
    /// Per queue: visible, in flight.
    pub queue_depth: Vec<(u64, u64)>,
    /// Per pubsub: messages published per second, and publishes no subscription took.
    pub pubsub_rate: Vec<(f64, u64)>,
    /// Per exchange: messages published per second, and publishes routed to no queue.
    pub exchange_rate: Vec<(f64, u64)>,
    /// Per bus: events in per second, events no rule matched, deliveries waiting for
    /// a retry.
    pub bus_rate: Vec<(f64, u64, u64)>,
    /// Per service: records delivered per second.
    pub service_in: Vec<f64>,
    /// Per service: records dead-lettered per second.
    pub service_dlq: Vec<f64>,
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
/// The journal is not copied: it is cut back to the restored engine's trace position.
#[derive(Clone)]
pub struct SimState {
    engine: Engine,
    history: VecDeque<Sample>,
    totals: [u64; 4],
    rows: usize,
}

/// Which prompt is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// `g`: run until.
    Goto,
    /// `/`: filter the log.
    Filter,
}

/// A one-line prompt in the status bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// Which.
    pub kind: PromptKind,
    /// What was typed.
    pub text: String,
    /// Why the last submission was refused.
    pub error: Option<String>,
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
    /// How many samples the charts are panned back from the newest.
    pub chart_pan: usize,
    /// The latest trace records, oldest first (the event log, its filter, journeys).
    pub journal: VecDeque<TraceRec>,
    /// The selected log record (trace seq); `None` follows the newest.
    pub selected: Option<u64>,
    /// The log filter.
    pub filter: Option<Filter>,
    /// The filter when the prompt opened, restored by esc.
    filter_before: Option<Filter>,
    /// The open prompt.
    pub prompt: Option<Prompt>,
    /// The message whose journey is shown.
    pub inspect: Option<u64>,
    /// Rows the journey is scrolled down by.
    pub journey_scroll: usize,
    /// The service selected in the topology (j/k while it has the focus).
    pub node: usize,
    /// The service whose inspector is open.
    pub inspect_node: Option<usize>,
    /// The anomaly selected in the anomalies panel, counted from the newest.
    pub anomaly: usize,
    /// The terminal's size, when the shell told it.
    screen: Option<(u16, u16)>,
    /// The model's capacity analysis (done once), for the service inspector.
    pub capacity: crate::capacity::Analysis,
    /// Where `g` is running to.
    pub goal: Option<Goal>,
    /// Trace records made by the last single step (first and last seq).
    pub step_mark: Option<(u64, u64)>,
    /// Component names, for the log.
    names: Vec<String>,
    /// Simulated time owed by the clock (ns); `u64::MAX` at full speed.
    owed_until: u64,
    /// Fractional nanoseconds owed, carried between ticks at slow speeds.
    debt_ns: f64,
    /// Cumulative anomaly counters.
    totals: [u64; 4],
    /// Every metric row so far, for export (a few hundred per sample).
    pub rows: Vec<Row>,
    /// Snapshots to step back to, by event count.
    checkpoints: Vec<SimState>,
    /// A checkpoint was restored: the log may be short of [`REWIND_LOG`] records once
    /// the rewind has arrived.
    log_check: bool,
    /// One line for the status bar (the export's file name, say).
    pub message: Option<String>,
}

impl App {
    /// A paused app at t = 0.
    pub fn new(model: Model) -> App {
        let capacity = crate::capacity::analyse(&model);
        let engine = Engine::new(
            model,
            Options {
                record_rows: true,
                trace: true,
                ..Default::default()
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
            chart_pan: 0,
            journal: VecDeque::new(),
            selected: None,
            filter: None,
            prompt: None,
            inspect: None,
            journey_scroll: 0,
            filter_before: None,
            node: 0,
            inspect_node: None,
            anomaly: 0,
            screen: None,
            capacity,
            goal: None,
            step_mark: None,
            names,
            owed_until: 0,
            debt_ns: 0.0,
            totals: [0; 4],
            rows: Vec::new(),
            checkpoints: Vec::new(),
            log_check: false,
            message: None,
        };
        app.checkpoint();
        app
    }

    /// Component names, indexed as in trace records.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn state(&self) -> SimState {
        SimState {
            engine: self.engine.clone(),
            history: self.history.clone(),
            totals: self.totals,
            rows: self.rows.len(),
        }
    }

    fn restore(&mut self, s: SimState) {
        self.log_check = true;
        self.engine = s.engine;
        self.history = s.history;
        self.totals = s.totals;
        self.rows.truncate(s.rows);
        let seq = self.engine.trace_seq();
        while self.journal.back().is_some_and(|r| r.seq > seq) {
            self.journal.pop_back();
        }
        // Selection and inspector are judged where the rewind arrives (`settle`).
        self.chart_pan = 0;
    }

    /// After a rewind has arrived: rebuilds a short log, then lets go of a selection
    /// or a journey that no longer exists there.
    fn settle(&mut self) {
        self.refill_log();
        if self.selected.is_some() && self.selected_record().is_none() {
            self.selected = None;
        }
        if let Some(m) = self.inspect
            && !self.journal.iter().any(|r| r.msg == m)
        {
            self.inspect = None;
        }
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
            // A run stopped at the backlog limit is over for the TUI.
            let status = match self.engine.run_until(until, chunk) {
                RunStatus::BacklogLimit => {
                    if let Some(stop) = self.engine.backlog_stop() {
                        self.message = Some(format!("stopped: {stop}"));
                    }
                    RunStatus::Finished
                }
                s => s,
            };
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

    /// After a rewind has arrived: when the log holds fewer than [`REWIND_LOG`] records
    /// (the ones before the restored checkpoint had left the journal), goes back to a
    /// checkpoint that many records earlier and simulates forward to the same state
    /// again, rebuilding the log on the way. Selection, inspector and chart pan stay.
    fn refill_log(&mut self) {
        self.log_check = false;
        let seq = self.engine.trace_seq();
        if self.journal.len() as u64 >= seq.min(REWIND_LOG) {
            return;
        }
        let (steps, now, finished) = (
            self.engine.steps(),
            self.engine.now(),
            self.engine.is_finished(),
        );
        let from = seq.saturating_sub(REWIND_LOG);
        let pan = self.chart_pan;
        // Where thinned checkpoints lie too far back, the log stays short rather than
        // the screen freezing for the re-run (earlier checkpoints lie further still).
        let fits =
            |e: &Engine| e.trace_seq() <= from && steps.saturating_sub(e.steps()) <= REFILL_EVENTS;
        if !self.restore_latest(fits) {
            return;
        }
        while self.engine.steps() < steps && !self.engine.is_finished() {
            let left = steps - self.engine.steps();
            self.advance(u64::MAX, left);
        }
        if finished {
            self.advance(u64::MAX, u64::MAX);
        } else if self.engine.now() < now {
            // The clock had moved past the last event (a time goal): every event before
            // `now` is already in, so this only moves the clock.
            self.advance(now, u64::MAX);
        }
        self.chart_pan = pan;
        self.log_check = false;
    }

    /// Goes to the state after exactly `target` events: when it lies behind, restores
    /// the nearest checkpoint at or before it; then simulates forward. The result is
    /// identical to having stopped there on the way forward.
    fn go_to_steps(&mut self, target: u64) {
        let behind = self.engine.steps() > target
            || (self.engine.steps() == target && self.engine.is_finished());
        if behind && !self.restore_latest(|e| e.steps() <= target && !e.is_finished()) {
            return;
        }
        while self.engine.steps() < target && !self.engine.is_finished() {
            let left = target - self.engine.steps();
            self.advance(u64::MAX, left);
        }
    }

    /// Goes back to just after the sample at `time` (ns).
    fn rewind_to_time(&mut self, time: u64) {
        if self.restore_latest(|e| e.now() < time || e.steps() == 0) {
            self.step_to_sample(time);
        }
    }

    /// Runs to just after the sample at `time`: at once when that takes a few frames'
    /// worth of events at most, else as a run-until in slices, so that input is never
    /// starved however busy an interval is.
    fn step_to_sample(&mut self, time: u64) {
        if !self.run_to_sample_within(time, SYNC_EVENTS) {
            let goal = Goal::Sample(time);
            self.message = Some(format!("running until {}", goal.describe()));
            self.goal = Some(goal);
        }
    }

    /// Runs until the metrics sample at `time` (ns) has been taken, and no further,
    /// within about `budget` events; true once there (or the run has finished). The
    /// state then ends on an event, so stepping back and forth lands on it again.
    fn run_to_sample_within(&mut self, time: u64, budget: u64) -> bool {
        if time >= self.model().duration.0 {
            return self.advance(u64::MAX, budget) == RunStatus::Finished;
        }
        let start = self.engine.steps();
        if self.advance(time, budget) == RunStatus::BudgetSpent {
            return false;
        }
        // At `time`: the sample is among the events scheduled at that instant.
        while self.engine.last_sample_time() < time && !self.engine.is_finished() {
            if self.engine.steps() - start >= budget {
                return false;
            }
            self.advance(u64::MAX, 1);
        }
        true
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

    /// Whether simulation work is owed: running behind the clock, or a run-until
    /// under way. The shell keeps sending [`Action::Work`] while this holds and its
    /// frame budget lasts.
    pub fn busy(&self) -> bool {
        // A goal is settled (reached, or "not reached") by the next slice of work,
        // even when the run has already finished.
        self.goal.is_some()
            || (!self.engine.is_finished() && !self.paused && self.engine.now() < self.owed_until)
    }

    /// Applies an action.
    pub fn update(&mut self, action: Action) {
        self.apply(action);
        if self.log_check && self.goal.is_none() {
            self.settle();
        }
    }

    fn apply(&mut self, action: Action) {
        if self.prompt.is_some() && self.prompt_action(action) {
            return;
        }
        match action {
            Action::TogglePause => {
                if self.goal.take().is_some() {
                    self.paused = true;
                    self.message = Some("run-until cancelled".to_string());
                } else {
                    // A finished run stays paused: there is nothing left to run.
                    self.paused = !self.paused || self.engine.is_finished();
                }
                if !self.paused {
                    self.step_mark = None;
                }
                self.owed_until = self.engine.now();
                self.debt_ns = 0.0;
            }
            Action::Step => {
                self.stop();
                self.step_one();
            }
            Action::StepInterval => {
                self.stop();
                let iv = self.model().metrics_interval.0;
                let next = self.engine.last_sample_time().saturating_add(iv);
                self.step_to_sample(next);
            }
            Action::StepBack => {
                self.stop();
                // Finished is one state past the last event, so `b` from there lands
                // just after it; otherwise one event back.
                let steps = self.engine.steps();
                let target = if self.engine.is_finished() {
                    steps
                } else {
                    steps.saturating_sub(1)
                };
                if target >= 1 {
                    // Marked as `n` into that state would have marked it.
                    self.go_to_steps(target - 1);
                    self.step_one();
                } else {
                    self.go_to_steps(0);
                }
            }
            Action::StepBackInterval => {
                self.stop();
                let iv = self.model().metrics_interval.0;
                let last = self.engine.last_sample_time();
                // Between two samples, back to the latest (50.5 s → 50 s); at a sample,
                // to the one before it (or to t = 0). The last sample, at the end of the
                // run, need not lie on the interval grid.
                let back_to = if self.engine.now() > last && !self.engine.is_finished() {
                    last
                } else {
                    last.saturating_sub(1) / iv * iv
                };
                match back_to {
                    t if t > 0 => self.rewind_to_time(t),
                    _ => self.go_to_steps(0),
                }
            }
            Action::Goto | Action::Filter => {
                let kind = if action == Action::Goto {
                    PromptKind::Goto
                } else {
                    PromptKind::Filter
                };
                self.filter_before = self.filter.clone();
                self.prompt = Some(Prompt {
                    kind,
                    text: String::new(),
                    error: None,
                });
            }
            Action::Inspect if self.inspect.is_none() && self.focus == Panel::Topology => {
                if self.inspect_node.take().is_none() && !self.model().services.is_empty() {
                    self.inspect_node = Some(self.node);
                }
            }
            Action::Inspect if self.inspect.is_none() && self.focus == Panel::Anomalies => {
                match self
                    .engine
                    .anomalies()
                    .rev()
                    .nth(self.anomaly)
                    .map(|a| a.msg)
                {
                    Some(m) if m != NA64 => {
                        self.inspect = Some(m);
                        self.journey_scroll = 0;
                    }
                    _ => self.message = Some("no anomaly to inspect yet".to_string()),
                }
            }
            Action::Inspect => {
                if self.inspect.take().is_none() {
                    let msg = self.selected_record().map(|r| r.msg);
                    match msg {
                        Some(m) if m != NA64 => {
                            self.inspect = Some(m);
                            self.journey_scroll = 0;
                        }
                        Some(_) => {
                            self.message = Some("this event carries no message".to_string());
                        }
                        None => self.message = Some("no event to inspect yet".to_string()),
                    }
                }
            }
            Action::Close => {
                if self.inspect.take().is_none()
                    && self.inspect_node.take().is_none()
                    && !std::mem::take(&mut self.show_help)
                {
                    self.filter = None;
                    self.selected = None;
                }
            }
            Action::Export => {
                // The file is written by the shell (`tui::run`); here only the request.
                self.message = Some("export requested".to_string());
            }
            Action::Faster | Action::Slower => {
                self.speed = if action == Action::Faster {
                    (self.speed + 1).min(SPEEDS.len() - 1)
                } else {
                    self.speed.saturating_sub(1)
                };
                // Time owed at the old speed (all of it, at "max") is forgiven.
                self.owed_until = self.engine.now();
                self.debt_ns = 0.0;
            }
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
            Action::Focus(p) => self.focus = p,
            Action::Resize(w, h) => self.screen = Some((w, h)),
            Action::Select(seq) => {
                self.focus = Panel::Log;
                self.selected = Some(seq);
            }
            Action::ScrollUp => self.scroll(1, true),
            Action::ScrollDown => self.scroll(1, false),
            Action::PageBack => self.scroll(PAGE, true),
            Action::PageForward => self.scroll(PAGE, false),
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::Quit => self.quit = true,
            Action::Tick(wall_s) => {
                if !self.paused && self.goal.is_none() {
                    let speed = self.speed();
                    if speed.is_infinite() {
                        self.owed_until = u64::MAX;
                    } else {
                        self.debt_ns += wall_s * speed * 1e9;
                        let step = self.debt_ns.floor();
                        self.debt_ns -= step;
                        self.owed_until = self
                            .owed_until
                            .max(self.engine.now())
                            .saturating_add(step as u64);
                    }
                }
                self.work();
            }
            Action::Work => self.work(),
            Action::Char(_) | Action::Backspace | Action::ClearLine | Action::Submit => {}
        }
    }

    /// Processes one event and marks the trace records it wrote.
    fn step_one(&mut self) {
        let first = self.engine.trace_seq() + 1;
        self.advance(u64::MAX, 1);
        let last = self.engine.trace_seq();
        self.step_mark = (last >= first).then_some((first, last));
    }

    /// Pauses and cancels a run-until (every debugger step does).
    fn stop(&mut self) {
        self.paused = true;
        self.goal = None;
        self.step_mark = None;
        self.owed_until = self.engine.now();
    }

    /// Keys while a prompt is open; true when the action was consumed.
    fn prompt_action(&mut self, action: Action) -> bool {
        let Some(p) = self.prompt.as_mut() else {
            return false;
        };
        match action {
            Action::Char(c) => {
                if p.text.chars().count() < 80 {
                    p.text.push(c);
                }
                p.error = None;
                self.filter_as_typed();
            }
            Action::Backspace => {
                p.text.pop();
                p.error = None;
                self.filter_as_typed();
            }
            Action::ClearLine => {
                p.text.clear();
                p.error = None;
                self.filter_as_typed();
            }
            Action::Close => {
                // Esc leaves the filter as it was before the prompt opened.
                if p.kind == PromptKind::Filter {
                    self.filter = self.filter_before.take();
                }
                self.prompt = None;
            }
            Action::Submit => {
                let (kind, text) = (p.kind, p.text.clone());
                match self.submit(kind, &text) {
                    Ok(()) => self.prompt = None,
                    Err(e) => {
                        if let Some(p) = self.prompt.as_mut() {
                            p.error = Some(e);
                        }
                    }
                }
            }
            Action::Quit
            | Action::Tick(_)
            | Action::Work
            | Action::Focus(_)
            | Action::Resize(..) => return false,
            _ => {}
        }
        true
    }

    /// The log filter follows what is typed: each text that parses filters at once (a
    /// partial one keeps the last that did); submitting keeps it, esc drops it.
    fn filter_as_typed(&mut self) {
        let Some(p) = self
            .prompt
            .as_ref()
            .filter(|p| p.kind == PromptKind::Filter)
        else {
            return;
        };
        let text = p.text.clone();
        if text.trim().is_empty() {
            self.filter = None;
        } else if let Ok(f) = Filter::parse(&text, self.engine.model(), &self.names) {
            self.filter = Some(f);
        }
        self.selected = None;
    }

    fn submit(&mut self, kind: PromptKind, text: &str) -> Result<(), String> {
        match kind {
            PromptKind::Filter => {
                self.filter = if text.trim().is_empty() {
                    None
                } else {
                    Some(Filter::parse(text, self.engine.model(), &self.names)?)
                };
                self.selected = None;
                self.focus = Panel::Log;
            }
            PromptKind::Goto => {
                let goal = parse_goal(text, self.engine.model(), &self.names)?;
                self.stop();
                match goal {
                    // Behind us: rewind now, like `b`.
                    Goal::Time(t) if t <= self.engine.now() => {
                        if self.restore_latest(|e| e.now() < t || e.steps() == 0) {
                            self.advance(t, u64::MAX);
                            self.finish_instant(t);
                        }
                        self.message = Some(format!("back at {}", goal.describe()));
                    }
                    Goal::Event(n) if n <= self.engine.steps() => {
                        self.go_to_steps(n);
                        self.message = Some(format!("back at {}", goal.describe()));
                    }
                    g => {
                        self.message = Some(format!("running until {}", g.describe()));
                        self.goal = Some(g);
                    }
                }
            }
        }
        Ok(())
    }

    /// One slice of owed work: the run-until, or running with the clock.
    fn work(&mut self) {
        if let Some(goal) = self.goal.clone() {
            self.work_goal(&goal);
            return;
        }
        if self.paused || self.engine.is_finished() || self.engine.now() >= self.owed_until {
            return;
        }
        if self.advance(self.owed_until, SLICE_EVENTS) == RunStatus::Finished {
            self.paused = true;
        }
    }

    /// Processes the events scheduled at exactly `t` (a metrics sample, say), so that
    /// "run until t" shows everything that happened at t.
    fn finish_instant(&mut self, t: u64) {
        while !self.engine.is_finished() && self.engine.next_event_time() == Some(t) {
            self.advance(u64::MAX, 1);
        }
    }

    /// One slice of a run-until; stops exactly at the goal.
    fn work_goal(&mut self, goal: &Goal) {
        let start = self.engine.steps();
        let reached = match goal {
            Goal::Time(t) => {
                self.advance(*t, SLICE_EVENTS);
                let there = self.engine.now() >= *t;
                if there {
                    self.finish_instant(*t);
                }
                there
            }
            Goal::Sample(t) => self.run_to_sample_within(*t, SLICE_EVENTS),
            Goal::Event(n) => {
                let left = n.saturating_sub(start).min(SLICE_EVENTS);
                self.advance(u64::MAX, left);
                self.engine.steps() >= *n
            }
            Goal::Msg(_) | Goal::Key(..) => {
                let seq0 = self.engine.trace_seq();
                self.advance(u64::MAX, SLICE_EVENTS);
                let hit = self
                    .journal
                    .iter()
                    .rev()
                    .take_while(|r| r.seq > seq0)
                    .any(|r| goal.hit_by(r));
                if hit {
                    // Back to the slice's start, then one event at a time to the hit.
                    self.go_to_steps(start);
                    loop {
                        let seq = self.engine.trace_seq();
                        let status = self.advance(u64::MAX, 1);
                        let found = self
                            .journal
                            .iter()
                            .rev()
                            .take_while(|r| r.seq > seq)
                            .any(|r| goal.hit_by(r));
                        if found {
                            self.step_mark = Some((seq + 1, self.engine.trace_seq()));
                            break;
                        }
                        if status == RunStatus::Finished {
                            break;
                        }
                    }
                }
                hit
            }
            Goal::Metric { .. } => {
                let iv = self.model().metrics_interval.0;
                let mut met = false;
                while !met && !self.engine.is_finished() {
                    let spent = self.engine.steps() - start;
                    if spent >= SLICE_EVENTS {
                        break;
                    }
                    // Only whole samples are judged; a slice may end mid-interval and
                    // the next one carries on from there.
                    let rows0 = self.rows.len();
                    let next = self.engine.last_sample_time().saturating_add(iv);
                    self.run_to_sample_within(next, SLICE_EVENTS - spent);
                    met = goal.met_by(&self.rows[rows0.min(self.rows.len())..]);
                }
                met
            }
        };
        if reached {
            self.goal = None;
            self.paused = true;
            self.owed_until = self.engine.now();
            if !matches!(goal, Goal::Sample(_)) {
                // A run-until shows its arrival; `s` and `B` keep the selection, in
                // slices as at once.
                self.selected = None;
            }
            let at = match goal {
                Goal::Time(_) | Goal::Sample(_) => format!("event #{}", self.engine.steps()),
                Goal::Event(_) => format!("t = {:.6} s", self.engine.now() as f64 / 1e9),
                _ => format!(
                    "t = {:.6} s, event #{}",
                    self.engine.now() as f64 / 1e9,
                    self.engine.steps()
                ),
            };
            self.message = Some(format!("reached {} ({at})", goal.describe()));
        } else if self.engine.is_finished() {
            self.goal = None;
            self.paused = true;
            self.message = Some(format!("{} not reached: the run finished", goal.describe()));
        }
    }

    /// Moves the selection (log) or pans the charts by `n`, towards the past if `back`.
    fn scroll(&mut self, n: usize, back: bool) {
        if let Some(msg) = self.inspect {
            let most = self.journey(msg).len();
            self.journey_scroll = if back {
                self.journey_scroll.saturating_sub(n)
            } else {
                (self.journey_scroll + n).min(most)
            };
            return;
        }
        match self.focus {
            Panel::Log => {
                for _ in 0..n {
                    self.selected = match (self.selected, back) {
                        (None, true) => self
                            .neighbour(None, true)
                            .and_then(|cur| self.neighbour(Some(cur), true).or(Some(cur))),
                        (None, false) => None,
                        (Some(s), true) => self.neighbour(Some(s), true).or(Some(s)),
                        (Some(s), false) => self.neighbour(Some(s), false),
                    };
                    // Reaching the newest record follows the log again.
                    if self.selected.is_some() && self.selected == self.neighbour(None, true) {
                        self.selected = None;
                    }
                }
            }
            Panel::Charts => {
                // A page is the charts' width in samples (PAN when the size is unknown).
                let page = self.screen.map_or(PAN, |(w, h)| {
                    let area = ratatui::layout::Rect::new(0, 0, w, h);
                    super::panels::charts::samples_shown(super::ui::layout(area, self).charts)
                        .max(1)
                });
                let by = if n >= PAGE {
                    page
                } else {
                    n.max(PAN).min(page)
                };
                let max = self.history.len().saturating_sub(1);
                self.chart_pan = if back {
                    (self.chart_pan + by).min(max)
                } else {
                    self.chart_pan.saturating_sub(by)
                };
            }
            Panel::Topology => {
                let count = self.model().services.len();
                if count > 0 {
                    let step = n % count;
                    self.node = if back {
                        (self.node + count - step) % count
                    } else {
                        (self.node + step) % count
                    };
                    if self.inspect_node.is_some() {
                        self.inspect_node = Some(self.node);
                    }
                }
            }
            Panel::Anomalies => {
                let count = self.engine.anomalies().count();
                self.anomaly = if back {
                    (self.anomaly + n).min(count.saturating_sub(1))
                } else {
                    self.anomaly.saturating_sub(n)
                };
            }
        }
    }

    /// Whether the filter passes a record.
    pub fn passes(&self, r: &TraceRec) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(r))
    }

    /// The nearest record passing the filter before (`back`) or after `from`; from the
    /// newest end when `from` is `None`.
    fn neighbour(&self, from: Option<u64>, back: bool) -> Option<u64> {
        let n = self.journal.len();
        match from {
            None => self
                .journal
                .iter()
                .rev()
                .find(|r| self.passes(r))
                .map(|r| r.seq),
            Some(seq) => {
                let i = self.journal.partition_point(|r| r.seq < seq);
                if back {
                    (0..i.min(n))
                        .rev()
                        .map(|j| &self.journal[j])
                        .find(|r| self.passes(r))
                        .map(|r| r.seq)
                } else {
                    let i = self.journal.partition_point(|r| r.seq <= seq);
                    (i..n)
                        .map(|j| &self.journal[j])
                        .find(|r| self.passes(r))
                        .map(|r| r.seq)
                }
            }
        }
    }

    /// The selected record, or the newest passing the filter.
    pub fn selected_record(&self) -> Option<&TraceRec> {
        match self.selected {
            Some(seq) => {
                let i = self.journal.partition_point(|r| r.seq < seq);
                self.journal.get(i).filter(|r| r.seq == seq)
            }
            None => self.journal.iter().rev().find(|r| self.passes(r)),
        }
    }

    /// The log lines to show in `height` rows: records passing the filter, oldest first,
    /// and the index of the selected one among them. The newest `height` records are
    /// shown unless the selection lies further back, in which case it is the last row.
    pub fn log_window(&self, height: usize) -> (Vec<&TraceRec>, Option<usize>) {
        if height == 0 {
            return (Vec::new(), None);
        }
        let mut back: Vec<&TraceRec> = Vec::new();
        let mut sel: Option<usize> = None;
        for r in self.journal.iter().rev() {
            if !self.passes(r) {
                continue;
            }
            if self.selected == Some(r.seq) {
                sel = Some(back.len());
            }
            back.push(r);
            let enough = match (self.selected, sel) {
                (None, _) => back.len() >= height,
                (Some(_), None) => false,
                (Some(_), Some(i)) => back.len() >= height.max(i + 1),
            };
            if enough {
                break;
            }
        }
        let sel = match (self.selected, sel) {
            (None, _) if !back.is_empty() => Some(0),
            (_, s) => s,
        };
        // `back` is newest first; pick the window and turn it oldest first.
        let (from, to) = match sel {
            Some(i) if i >= height => (i + 1 - height, i + 1),
            _ => (0, back.len().min(height)),
        };
        let mut window: Vec<&TraceRec> = back[from..to].to_vec();
        window.reverse();
        let sel = sel.map(|i| to - 1 - i);
        (window, sel)
    }

    /// Every kept trace record of message `msg` (its correlation id), in order.
    pub fn journey(&self, msg: u64) -> Vec<TraceRec> {
        self.journal
            .iter()
            .filter(|r| r.msg == msg)
            .copied()
            .collect()
    }

    /// Moves new metric rows and trace records into the history and the journal.
    fn absorb(&mut self) {
        let rows = self.engine.drain_rows();
        if !rows.is_empty() {
            self.absorb_rows(&rows);
            self.rows.extend(rows);
        }
        let recs = self.engine.drain_trace();
        let skip = recs.len().saturating_sub(JOURNAL_LIMIT);
        let over = (self.journal.len() + recs.len() - skip).saturating_sub(JOURNAL_LIMIT);
        self.journal.drain(..over.min(self.journal.len()));
        self.journal.extend(&recs[skip..]);
        // A selection that scrolled out of the journal falls back to the newest record.
        if let (Some(sel), Some(front)) = (self.selected, self.journal.front())
            && sel < front.seq
        {
            self.selected = None;
        }
    }

    fn absorb_rows(&mut self, rows: &[Row]) {
        let model = self.engine.model();
        let nservices = model.services.len();
        let mut i = 0;
        while i < rows.len() {
            let t = rows[i].time;
            let mut s = Sample {
                time: t,
                services: vec![(0.0, 0.0, 0); nservices],
                partition_lag: model
                    .services
                    .iter()
                    .map(|g| {
                        let parts = g.source.topic().map_or(0, |t| model.topics[t].partitions);
                        vec![0; parts as usize]
                    })
                    .collect(),
                producer_rate: vec![0.0; model.producers.len()],
                topic_rate: vec![0.0; model.topics.len()],
                queue_rate: vec![0.0; model.queues.len()],
                queue_depth: vec![(0, 0); model.queues.len()],
                pubsub_rate: vec![(0.0, 0); model.pubsubs.len()],
                exchange_rate: vec![(0.0, 0); model.exchanges.len()],
                bus_rate: vec![(0.0, 0, 0); model.buses.len()],
                service_in: vec![0.0; nservices],
                service_dlq: vec![0.0; nservices],
                ..Sample::default()
            };
            let iv = model.metrics_interval.as_secs_f64().max(1e-9);
            while i < rows.len() && rows[i].time == t {
                let r = &rows[i];
                i += 1;
                let v = r.value.as_f64();
                let Some(metric) = Metric::from_name(r.metric) else {
                    continue;
                };
                if r.component == "total" {
                    match metric {
                        Metric::DlqDepth => s.dlq_depth = v as u64,
                        Metric::OrderingViolations => self.totals[0] += v as u64,
                        Metric::Duplicates => self.totals[1] += v as u64,
                        Metric::Lost => self.totals[2] += v as u64,
                        Metric::Retries => self.totals[3] += v as u64,
                        _ => {}
                    }
                    continue;
                }
                if let Some(p) = model.producers.iter().position(|p| p.name == r.component) {
                    if metric == Metric::ThroughputOut {
                        s.rate_in += v;
                        s.producer_rate[p] = v;
                    }
                    continue;
                }
                if let Some(tp) = model.topics.iter().position(|x| x.name == r.component) {
                    if metric == Metric::ThroughputIn {
                        s.topic_rate[tp] = v;
                    }
                    continue;
                }
                if let Some(q) = model.queues.iter().position(|x| x.name == r.component) {
                    match metric {
                        Metric::ThroughputIn => s.queue_rate[q] = v,
                        Metric::QueueDepth => s.queue_depth[q].0 = v as u64,
                        Metric::InFlight => s.queue_depth[q].1 = v as u64,
                        _ => {}
                    }
                    continue;
                }
                if let Some(p) = model.pubsubs.iter().position(|x| x.name == r.component) {
                    match metric {
                        Metric::ThroughputIn => s.pubsub_rate[p].0 = v,
                        Metric::FilteredOut => s.pubsub_rate[p].1 = v as u64,
                        _ => {}
                    }
                    continue;
                }
                if let Some(x) = model.exchanges.iter().position(|x| x.name == r.component) {
                    match metric {
                        Metric::ThroughputIn => s.exchange_rate[x].0 = v,
                        Metric::Unroutable => s.exchange_rate[x].1 = v as u64,
                        _ => {}
                    }
                    continue;
                }
                if let Some(b) = model.buses.iter().position(|x| x.name == r.component) {
                    match metric {
                        Metric::ThroughputIn => s.bus_rate[b].0 = v,
                        Metric::Unmatched => s.bus_rate[b].1 = v as u64,
                        Metric::Retrying => s.bus_rate[b].2 = v as u64,
                        _ => {}
                    }
                    continue;
                }
                let (service, part) = match r.component.split_once('/') {
                    Some((g, p)) => (g, p.parse::<usize>().ok()),
                    None => (r.component.as_str(), None),
                };
                let Some(g) = model.services.iter().position(|x| x.name == service) else {
                    continue;
                };
                match (part, metric) {
                    (Some(p), Metric::Lag) => {
                        if let Some(slot) = s.partition_lag[g].get_mut(p) {
                            *slot = v as u64;
                        }
                    }
                    (None, Metric::ThroughputOut) => s.rate_out += v,
                    (None, Metric::ThroughputIn) => s.service_in[g] = v,
                    (None, Metric::DeadLettered) => s.service_dlq[g] = v / iv,
                    (None, Metric::LatencyP50) => s.services[g].0 = v,
                    (None, Metric::LatencyP99) => s.services[g].1 = v,
                    (None, Metric::Lag) => s.services[g].2 = v as u64,
                    _ => {}
                }
            }
            s.anomalies = self.totals;
            s.health = (0..nservices).map(|g| self.judge(g, &s)).collect();
            if self.history.len() >= HISTORY_LIMIT {
                self.history.pop_front();
            }
            self.history.push_back(s);
        }
    }

    /// Service `g`'s health at sample `s`, judged over the samples of its window (five
    /// seconds, or two auto-commit intervals when longer) that end with `s`.
    fn judge(&self, g: usize, s: &Sample) -> Health {
        let model = self.engine.model();
        let spec = &model.services[g];
        let mut window = HEALTH_WINDOW_NS;
        if spec.commit == crate::scenario::format::CommitMode::Auto {
            window = window.max(spec.commit_interval.0.saturating_mul(2));
        }
        let from = s.time.saturating_sub(window);
        let points: Vec<(f64, f64)> = self
            .history
            .iter()
            .rev()
            .take_while(|x| x.time >= from && x.time < s.time)
            .chain(std::iter::once(s))
            .filter_map(|x| x.services.get(g).map(|v| (x.time as f64 / 1e9, v.2 as f64)))
            .collect();
        let floor = points.iter().map(|p| p.1 as u64).min().unwrap_or(0);
        let n = points.len() as f64;
        let (mx, my) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
        let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), p| {
            (a + (p.0 - mx) * (p.1 - my), b + (p.0 - mx) * (p.0 - mx))
        });
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let was = self
            .history
            .back()
            .and_then(|x| x.health.get(g))
            .is_some_and(|h| h.lagging);
        let lagging = if was {
            floor >= LAG_EXIT
        } else {
            floor > LAG_ENTER
        };
        Health {
            lagging,
            floor,
            slope,
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
        if matches!(r.kind, TraceKind::Route | TraceKind::Filtered) {
            // A fan-out's record names its endpoint, not an instance (a bus's event
            // that no rule matched has none).
            if let Some(to) = self.names.get(r.instance as usize) {
                line.push_str(&format!(" → {to}"));
            }
        } else if r.instance != NA32 {
            line.push_str(&format!(" #{}", r.instance + 1));
        }
        if r.msg != NA64 {
            line.push_str(&format!(" msg {}", r.msg));
        }
        if let Some(k) = self.engine.model().keys.name(r.key) {
            line.push_str(&format!(" key {k}"));
        }
        if r.kind == TraceKind::SagaStep {
            // A saga's record: its step and what became of it.
            let step = self
                .engine
                .model()
                .sagas
                .iter()
                .find(|s| Some(&s.name) == self.names.get(r.component as usize))
                .and_then(|s| s.steps.get(r.partition as usize))
                .map_or("?", |st| st.name.as_str());
            let outcome =
                crate::sim::saga::SagaOutcome::from_code(r.offset).map_or("?", |o| o.name());
            line.push_str(&format!(" {step} {outcome}"));
            if r.attempt != NA32 && r.attempt > 1 {
                line.push_str(&format!(" send {}", r.attempt));
            }
            return line;
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

    /// The topology edges the last single step crossed, as (from, to) nodes.
    pub fn crossed(&self) -> Vec<(Node, Node)> {
        let Some((first, last)) = self.step_mark else {
            return Vec::new();
        };
        let m = self.engine.model();
        let plan_topic = m.producers.len() as u32;
        let plan_queue = plan_topic + m.topics.len() as u32;
        let plan_pubsub = plan_queue + m.queues.len() as u32;
        let plan_exchange = plan_pubsub + m.pubsubs.len() as u32;
        let plan_bus = plan_exchange + m.exchanges.len() as u32;
        let plan_service = plan_bus + m.buses.len() as u32;
        let node_of = |c: u32| {
            if c < plan_topic {
                Some(Node::Producer(c as usize))
            } else if c < plan_queue {
                Some(Node::Topic((c - plan_topic) as usize))
            } else if c < plan_pubsub {
                Some(Node::Queue((c - plan_queue) as usize))
            } else if c < plan_exchange {
                Some(Node::Pubsub((c - plan_pubsub) as usize))
            } else if c < plan_bus {
                Some(Node::Exchange((c - plan_exchange) as usize))
            } else if c < plan_service {
                Some(Node::Bus((c - plan_bus) as usize))
            } else {
                let g = (c - plan_service) as usize;
                (g < m.services.len()).then_some(Node::Service(g))
            }
        };
        let mut out = Vec::new();
        let mut prev: Option<Node> = None;
        let from = self.journal.partition_point(|r| r.seq < first);
        for r in self.journal.range(from..).take_while(|r| r.seq <= last) {
            let Some(node) = node_of(r.component) else {
                continue;
            };
            if let (TraceKind::Route, Some(to)) = (r.kind, node_of(r.instance)) {
                for e in [
                    prev.filter(|p| matches!(p, Node::Producer(_) | Node::Service(_)))
                        .map(|p| (p, node)),
                    Some((node, to)),
                ]
                .into_iter()
                .flatten()
                {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
                continue;
            }
            let edge = match (r.kind, node) {
                (TraceKind::Append, Node::Topic(_) | Node::Queue(_)) => prev
                    .filter(|p| matches!(p, Node::Producer(_) | Node::Service(_)))
                    .map(|p| (p, node)),
                (TraceKind::Deliver, Node::Service(g)) => {
                    Some((Node::of(m.services[g].source), node))
                }
                _ => None,
            };
            if let Some(e) = edge
                && !out.contains(&e)
            {
                out.push(e);
            }
            prev = Some(node);
        }
        out
    }

    /// Cumulative anomaly counters: ordering violations, duplicates, lost, retries.
    pub fn totals(&self) -> [u64; 4] {
        self.totals
    }
}

/// A node of the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A producer, by index.
    Producer(usize),
    /// A topic, by index.
    Topic(usize),
    /// A queue, by index.
    Queue(usize),
    /// A pubsub, by index.
    Pubsub(usize),
    /// An exchange, by index.
    Exchange(usize),
    /// An event bus, by index.
    Bus(usize),
    /// A service, by index.
    Service(usize),
}

impl Node {
    /// The node of a topic or queue.
    pub fn of(ch: crate::model::Channel) -> Node {
        match ch {
            crate::model::Channel::Topic(t) => Node::Topic(t),
            crate::model::Channel::Queue(q) => Node::Queue(q),
            crate::model::Channel::Pubsub(p) => Node::Pubsub(p),
            crate::model::Channel::Exchange(x) => Node::Exchange(x),
            crate::model::Channel::Bus(b) => Node::Bus(b),
        }
    }
}
