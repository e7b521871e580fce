//! The command line: a thin shell that reads files, drives the engine and writes
//! outputs. Every user mistake becomes a message and exit code 2; output files are
//! written to a temporary name and renamed only when complete.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::{Channel, Model};
use crate::output;
use crate::scenario;
use crate::sim::{Engine, Options, RunStatus};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the run finished but a check failed.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: internal error.
pub const EXIT_INTERNAL: u8 = 3;
/// Exit code: interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Events simulated between two progress updates and output drains.
const BATCH_EVENTS: u64 = 200_000;
/// Most lines a trace file gets (about 2 GB); past it the file ends with a
/// `trace_truncated` line and stderr says so.
pub const DEFAULT_TRACE_LINES: u64 = 10_000_000;

/// Simulate event-driven systems from a TOML scenario.
#[derive(Debug, Parser)]
#[command(
    name = "edasim",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: Option<RunArgs>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario (headless when stdout is not a terminal or with --headless).
    Run(RunArgs),
    /// Parse and validate a scenario, and print its topology.
    Check {
        /// Scenario file.
        file: PathBuf,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
}

/// Options of `edasim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file.
    file: PathBuf,
    /// Run without the TUI.
    #[arg(long)]
    headless: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at this simulated time instead of the scenario's duration (e.g. "90s").
    #[arg(long)]
    until: Option<String>,
    /// Override the metrics interval (e.g. "500ms").
    #[arg(long)]
    interval: Option<String>,
    /// Override any scenario value by its dotted path, checked like the file
    /// (e.g. consumer.payment.instances=8); may be repeated.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<scenario::Setting>,
    /// Write metrics as tidy CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the event trace as JSON Lines to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Most lines in the trace file; past it the file ends with a `trace_truncated` line.
    #[arg(long, default_value_t = DEFAULT_TRACE_LINES)]
    trace_limit: u64,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Parses arguments and runs; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    let code = match (cli.command, cli.run) {
        (Some(Command::Run(a)), _) | (None, Some(a)) => run(a),
        (Some(Command::Check { file }), _) => check(&file),
        (Some(Command::Schema), _) => {
            print!("{}", scenario::format::json_schema());
            EXIT_OK
        }
        (None, None) => {
            eprintln!(
                "edasim: give a scenario file, e.g. `edasim scenarios/flash-sale.toml`; see --help"
            );
            EXIT_BAD_INPUT
        }
    };
    ExitCode::from(code)
}

/// Reads a scenario, applies `overrides` and validates it; prints the problems and
/// returns None if any.
fn load(path: &Path, overrides: &scenario::Overrides) -> Option<Model> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("edasim: cannot read {shown}: {e}");
            return None;
        }
    };
    // Files a scenario names (payload samples) are relative to the scenario's folder.
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let read = |name: &str| -> Result<String, String> {
        std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string())
    };
    match scenario::load_files(&shown, &text, overrides, &read) {
        Ok(m) => Some(m),
        Err(e) => {
            #[allow(clippy::disallowed_methods)] // the shell may read the environment
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            eprint!("{}", e.render(100, color));
            None
        }
    }
}

fn check(path: &Path) -> u8 {
    let Some(m) = load(path, &scenario::Overrides::default()) else {
        return EXIT_BAD_INPUT;
    };
    print!("{}", topology(&m));
    EXIT_OK
}

/// A text summary of the topology, for `check`.
pub fn topology(m: &Model) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {} (seed {}, duration {}, metrics every {})",
        m.name, m.seed, m.duration, m.metrics_interval
    );
    for p in &m.producers {
        let keys = p
            .keys
            .and_then(|k| m.keys.spaces.get(k.space))
            .map_or("unkeyed".to_string(), |s| format!("{} keys", s.count));
        let _ = writeln!(
            o,
            "  producer {} -> {} {} ({} /s, {} phases, {keys})",
            p.name,
            p.target.kind(),
            p.target.name(m),
            p.base_rate,
            p.phases.len()
        );
    }
    for t in &m.topics {
        let _ = writeln!(
            o,
            "  topic {} ({} partitions, retention {})",
            t.name, t.partitions, t.retention
        );
    }
    for q in &m.queues {
        let _ = write!(
            o,
            "  queue {} ({}, visibility timeout {}, retention {}",
            q.name,
            if q.fifo { "FIFO" } else { "standard" },
            crate::time::SimDuration(q.visibility_timeout),
            crate::time::SimDuration(q.retention)
        );
        if let Some((d, n)) = q.redrive {
            let _ = write!(
                o,
                ", dead letters -> {} after {n} receives",
                m.queues[d].name
            );
        }
        o.push_str(")\n");
    }
    for svc in &m.services {
        match svc.source {
            Channel::Topic(t) => {
                let _ = write!(
                    o,
                    "  consumer {} <- topic {} (group {}, {} x {} instances x concurrency)",
                    svc.name, m.topics[t].name, svc.group_id, svc.instances, svc.concurrency
                );
            }
            Channel::Queue(q) => {
                let _ = write!(
                    o,
                    "  consumer {} <- queue {} ({} x {} instances x concurrency, batch {})",
                    svc.name,
                    m.queues[q].name,
                    svc.instances,
                    svc.concurrency,
                    svc.receive.batch_size
                );
            }
            Channel::Pubsub(p) => {
                let _ = write!(
                    o,
                    "  function {} <- pubsub {} (max concurrency {}, {} attempts)",
                    svc.name, m.pubsubs[p].name, svc.instances, svc.retry.max_attempts
                );
            }
        }
        if let Some(d) = svc.dead_letter {
            let _ = write!(o, ", dead letters -> {}", d.name(m));
        }
        for (e, t) in &svc.emits {
            let _ = write!(o, ", emits {} -> {}", m.events[*e as usize], t.name(m));
        }
        o.push('\n');
    }
    for f in &m.faults {
        let who = match f.instance {
            Some(i) => m.services[f.service].member_id(i as usize),
            None => m.services[f.service].name.clone(),
        };
        let _ = writeln!(
            o,
            "  fault crash {who} at {}",
            crate::time::SimDuration(f.at)
        );
    }
    o
}

/// An output file written under a temporary name and renamed when complete.
struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    w: Option<BufWriter<File>>,
}

impl AtomicFile {
    fn create(dest: &Path) -> std::io::Result<AtomicFile> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let f = File::create(&tmp)?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            w: Some(BufWriter::new(f)),
        })
    }
    fn commit(mut self) -> std::io::Result<()> {
        if let Some(w) = self.w.take() {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.w.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `edasim run`: the TUI when a person is watching, otherwise a headless run.
fn run(a: RunArgs) -> u8 {
    let Some(model) = load_for_run(&a) else {
        return EXIT_BAD_INPUT;
    };
    // The TUI when a person is watching; headless for pipes, CI and output files.
    if !a.headless && a.csv.is_none() && a.trace.is_none() && std::io::stdout().is_terminal() {
        return run_tui(model);
    }
    match run_headless(&a, model) {
        Ok(code) | Err(code) => code,
    }
}

/// Loads the scenario with the run's overrides (`--until`, `--interval`, `--set`),
/// then applies `--seed`.
fn load_for_run(a: &RunArgs) -> Option<Model> {
    let overrides = scenario::Overrides {
        until: a.until.clone(),
        interval: a.interval.clone(),
        set: a.set.clone(),
    };
    let mut model = load(&a.file, &overrides)?;
    if let Some(s) = a.seed {
        model.seed = s;
    }
    Some(model)
}

/// Runs the interactive TUI until the user quits.
fn run_tui(model: Model) -> u8 {
    match crate::tui::run(model) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("edasim: terminal error: {e}");
            EXIT_INTERNAL
        }
    }
}

/// Runs without the TUI: opens the output files, runs to the end, commits the files
/// and reports. An error is the exit code, its message already printed.
fn run_headless(a: &RunArgs, model: Model) -> Result<u8, u8> {
    let mut csv_file = create_output(a.csv.as_deref())?;
    let mut trace_file = create_output(a.trace.as_deref())?;
    let opts = Options {
        record_rows: csv_file.is_some(),
        trace: trace_file.is_some(),
        ..Default::default()
    };
    let mut engine = Engine::new(model, opts);
    let mut csv_writer = match csv_file
        .as_mut()
        .and_then(|f| f.w.as_mut())
        .map(output::csv::CsvWriter::new)
        .transpose()
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("edasim: writing CSV: {e}");
            return Err(EXIT_INTERNAL);
        }
    };
    let mut trace = trace_file
        .as_mut()
        .and_then(|f| f.w.as_mut())
        .map(|w| TraceOut {
            w,
            limit: a.trace_limit,
            lines: 0,
            truncated: false,
        });
    run_batches(&mut engine, csv_writer.as_mut(), trace.as_mut(), a.quiet)?;
    let trace_truncated = trace.is_some_and(|t| t.truncated);
    if let Some(w) = csv_writer.take()
        && let Err(e) = w.finish().and_then(|w| w.flush())
    {
        eprintln!("edasim: writing CSV: {e}");
        return Err(EXIT_INTERNAL);
    }
    drop(csv_writer);
    for f in [csv_file, trace_file].into_iter().flatten() {
        let dest = f.dest.display().to_string();
        if let Err(e) = f.commit() {
            eprintln!("edasim: cannot write {dest}: {e}");
            return Err(EXIT_INTERNAL);
        }
    }
    Ok(report(a, &engine, trace_truncated))
}

/// The output file at `path`, if one was asked for, under its temporary name.
fn create_output(path: Option<&Path>) -> Result<Option<AtomicFile>, u8> {
    path.map(AtomicFile::create).transpose().map_err(|e| {
        eprintln!(
            "edasim: cannot create {}: {e}",
            path.map_or(String::new(), |p| p.display().to_string())
        );
        EXIT_BAD_INPUT
    })
}

/// The trace file while the run goes: how many lines it has, and whether it reached
/// `--trace-limit`.
struct TraceOut<'a> {
    w: &'a mut BufWriter<File>,
    limit: u64,
    lines: u64,
    truncated: bool,
}

impl TraceOut<'_> {
    /// Writes the records traced since the last batch, up to the limit; at the limit,
    /// stops tracing and ends the file with a `trace_truncated` line.
    fn write_batch(&mut self, engine: &mut Engine, names: &[String]) -> std::io::Result<()> {
        let recs = engine.drain_trace();
        let room = (self.limit.saturating_sub(self.lines)) as usize;
        let take = recs.len().min(room);
        let mut result = output::trace::write(self.w, engine.model(), names, &recs[..take]);
        self.lines += take as u64;
        if take < recs.len() && !self.truncated {
            // Say so in the file itself, not only on stderr.
            self.truncated = true;
            engine.stop_tracing();
            result = result.and_then(|_| {
                writeln!(
                    self.w,
                    "{{\"t\":{:.9},\"seq\":null,\"event\":\"trace_truncated\",\"limit\":{}}}",
                    recs[take].t as f64 / 1e9,
                    self.limit
                )
            });
        }
        result
    }
}

/// Runs `engine` to its end in batches of [`BATCH_EVENTS`], writing rows and trace
/// records between batches and showing progress; stops early on Ctrl-C.
fn run_batches(
    engine: &mut Engine,
    mut csv: Option<&mut output::csv::CsvWriter<&mut BufWriter<File>>>,
    mut trace: Option<&mut TraceOut<'_>>,
    quiet: bool,
) -> Result<(), u8> {
    let duration = engine.model().duration.0;
    let bar = progress_bar(quiet);
    let names = engine.component_names().to_vec();
    let interrupted = interrupt_flag();
    loop {
        let status = engine.run_until(u64::MAX, BATCH_EVENTS);
        if let Some(w) = csv.as_mut()
            && let Err(e) = w.write(&engine.drain_rows())
        {
            eprintln!("edasim: writing CSV: {e}");
            return Err(EXIT_INTERNAL);
        }
        if let Some(t) = trace.as_mut()
            && let Err(e) = t.write_batch(engine, &names)
        {
            eprintln!("edasim: writing trace: {e}");
            return Err(EXIT_INTERNAL);
        }
        bar.set_position(engine.now().saturating_mul(1000) / duration.max(1));
        bar.set_message(format!(
            "{:.1} s simulated, {} events",
            engine.now() as f64 / 1e9,
            engine.steps()
        ));
        if status == RunStatus::Finished {
            break;
        }
        if status == RunStatus::BacklogLimit {
            if let Some(stop) = engine.backlog_stop() {
                bar.suspend(|| eprintln!("edasim: {stop}"));
            }
            break;
        }
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            bar.finish_and_clear();
            eprintln!(
                "edasim: interrupted at {:.3} s simulated; no output file was written",
                engine.now() as f64 / 1e9
            );
            return Err(EXIT_INTERRUPTED);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The progress bar on stderr, hidden with `--quiet`.
fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::with_draw_target(
        Some(1000),
        indicatif::ProgressDrawTarget::stderr(),
    );
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// A flag that Ctrl-C raises. It stops the run between two batches; the temporary
/// files are removed when they are dropped, so no output file is left behind,
/// complete-looking or not.
fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&interrupted);
    // If a handler is already installed (a test harness), runs are simply not
    // interruptible this way; nothing else depends on it.
    let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    interrupted
}

/// After a finished run: warns of an incomplete trace, prints the summary and checks
/// conservation; returns the exit code.
fn report(a: &RunArgs, engine: &Engine, trace_truncated: bool) -> u8 {
    if engine.trace_overflowed() || trace_truncated {
        eprintln!(
            "edasim: the trace reached its limit of {} lines and is incomplete; use --until for a shorter window",
            a.trace_limit
        );
    }
    if !a.quiet {
        let out = match a.format {
            Format::Text => output::summary::text(engine),
            Format::Json => output::summary::json(engine),
        };
        print!("{out}");
    }
    let conservation = engine.conservation();
    if let Some(c) = conservation.iter().find(|c| !c.holds()) {
        eprintln!(
            "edasim: internal error: conservation violated for {} ({c:?}); reproduce with `edasim run {} --seed {}`",
            c.service,
            a.file.display(),
            engine.model().seed
        );
        return EXIT_INTERNAL;
    }
    EXIT_OK
}
