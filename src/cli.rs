//! The command line: a thin shell that reads files, drives the engine and writes
//! outputs. Every user mistake becomes a message and exit code 2; output files are
//! written to a temporary name and renamed only when complete.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

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
/// Exit code: an output could not be written (a full disk, stdout on `/dev/full`); the
/// same code as an internal error, told apart by its message.
pub const EXIT_IO: u8 = 3;
/// Exit code: interrupted by Ctrl-C, SIGTERM or SIGHUP (128 + SIGINT, as shells
/// report Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Most events simulated between two output drains, so that the trace records and
/// metric rows the engine holds stay bounded.
const BATCH_EVENTS: u64 = 200_000;
/// Wall time one slice of a headless run aims at; the interrupt flag is looked at
/// between slices, so Ctrl-C is answered within a few of them.
const SLICE_TARGET: std::time::Duration = std::time::Duration::from_millis(5);
/// Longest wall time between two progress updates and output drains.
const DRAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// How long after a signal the run may take to stop by itself; past it (one event that
/// takes longer), the signal handler removes the temporary files and exits.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_millis(50);
/// Trace records written between two looks at the interrupt flag.
const TRACE_CHUNK: usize = 4096;
/// Most lines a trace file gets (about 2 GB); past it the file ends with a
/// `trace_truncated` line and stderr says so.
pub const DEFAULT_TRACE_LINES: u64 = 10_000_000;

/// Writes a line to stderr. A stderr that cannot be written is ignored: there is
/// nowhere left to say so, and it must not panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes `text` to stdout. A closed pipe (`edasim ... | head`) ends the output
/// quietly; any other failure (a full disk) is reported and gives [`EXIT_IO`].
fn write_stdout(text: &str) -> Result<(), u8> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            say!("edasim: cannot write to stdout: {e}");
            Err(EXIT_IO)
        }
    }
}

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
    /// Parse and validate a scenario, and print its topology and capacity warnings.
    Check {
        /// Scenario file.
        file: PathBuf,
        /// Output format on stdout: text, or JSON (topology, capacity per service and
        /// warnings).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
    /// Most messages the engine may hold at once (records in topics, queued messages,
    /// work in flight, pending events); past it the run stops with exit code 1.
    #[arg(long, default_value_t = crate::sim::DEFAULT_MAX_BACKLOG)]
    max_backlog: u64,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// No progress bar and no text summary (`--format json` still prints its JSON).
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
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(code) = mistyped_command(&args) {
        return ExitCode::from(code);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to stdout: a full disk there is an I/O error.
            if let Err(err) = e.print()
                && !e.use_stderr()
                && err.kind() != std::io::ErrorKind::BrokenPipe
            {
                say!("edasim: cannot write to stdout: {err}");
                return ExitCode::from(EXIT_IO);
            }
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    let code = match (cli.command, cli.run) {
        (Some(Command::Run(a)), _) | (None, Some(a)) => run(a),
        (Some(Command::Check { file, format }), _) => check(&file, format),
        (Some(Command::Schema), _) => match write_stdout(&scenario::format::json_schema()) {
            Ok(()) => EXIT_OK,
            Err(code) => code,
        },
        (None, None) => {
            say!(
                "edasim: give a scenario file, e.g. `edasim scenarios/flash-sale.toml`; see --help"
            );
            EXIT_BAD_INPUT
        }
    };
    ExitCode::from(code)
}

/// A first argument that is neither an option, a command nor an existing file, but a
/// near miss of a command (`chek`): says which command was meant and gives
/// [`EXIT_BAD_INPUT`]. Without it, clap would take `chek` for the scenario file and
/// complain about the next argument instead.
fn mistyped_command(args: &[OsString]) -> Option<u8> {
    let first = args.get(1)?.to_str()?;
    if first.starts_with('-') || Path::new(first).exists() {
        return None;
    }
    let mut names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names.push("help".to_string());
    if names.iter().any(|n| n == first) {
        return None;
    }
    let lower = first.to_lowercase();
    let close = names
        .iter()
        .map(|n| (strsim::osa_distance(&lower, n), n))
        .filter(|(d, n)| *d <= (n.chars().count() / 3).clamp(1, 2))
        .min_by_key(|(d, _)| *d)?
        .1;
    say!("edasim: unknown command '{first}'; did you mean '{close}'? (see edasim --help)");
    Some(EXIT_BAD_INPUT)
}

/// Reads a scenario, applies `overrides` and validates it; prints the problems and
/// returns None if any.
fn load(path: &Path, overrides: &scenario::Overrides) -> Option<Model> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            say!("edasim: cannot read {shown}: {e}");
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
            let _ = std::io::stderr().write_all(e.render(100, color).as_bytes());
            None
        }
    }
}

/// `edasim check`: the topology, then the capacity analysis and its warnings, as text
/// or JSON. Warnings never change the exit code: only an invalid scenario does.
fn check(path: &Path, format: Format) -> u8 {
    let Some(m) = load(path, &scenario::Overrides::default()) else {
        return EXIT_BAD_INPUT;
    };
    let analysis = crate::capacity::analyse(&m);
    let out = match format {
        Format::Text => format!("{}{}", topology(&m), crate::capacity::text(&m, &analysis)),
        Format::Json => {
            let v = crate::capacity::check_json(&m, &analysis);
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
    };
    match write_stdout(&out) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// `n` and the noun, singular for one: `1 partition`, `12 partitions`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
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
            .map_or("unkeyed".to_string(), |s| count(s.count, "key", "keys"));
        let _ = writeln!(
            o,
            "  producer {} -> {} {} ({} /s, {}, {keys})",
            p.name,
            p.target.kind(),
            p.target.name(m),
            p.base_rate,
            count(p.phases.len() as u64, "phase", "phases")
        );
    }
    for t in &m.topics {
        let _ = writeln!(
            o,
            "  topic {} ({}, retention {})",
            t.name,
            count(t.partitions, "partition", "partitions"),
            t.retention
        );
    }
    for q in &m.queues {
        if let Some(r) = &q.rabbit {
            queue_line_rabbit(&mut o, m, &q.name, r);
            continue;
        }
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
                ", dead letters -> {} after {}",
                m.queues[d].name,
                count(n, "receive", "receives")
            );
        }
        o.push_str(")\n");
    }
    for (x, ex) in m.exchanges.iter().enumerate() {
        let _ = write!(o, "  exchange {} ({}", ex.name, ex.kind.name());
        if let Some(a) = ex.alternate {
            let _ = write!(o, ", alternate {}", m.exchanges[a].name);
        }
        o.push(')');
        for b in m
            .router
            .exchanges()
            .get(x)
            .map_or(&[][..], |e| &e.bindings[..])
        {
            let dest = match b.dest {
                crate::broker::rabbit::routing::Dest::Queue(q) => &m.queues[q as usize].name,
                crate::broker::rabbit::routing::Dest::Exchange(e) => &m.exchanges[e as usize].name,
            };
            match ex.kind {
                crate::model::ExchangeKind::Direct | crate::model::ExchangeKind::Topic => {
                    let _ = write!(o, ", {:?} -> {dest}", b.key);
                }
                _ => {
                    let _ = write!(o, ", -> {dest}");
                }
            }
        }
        o.push('\n');
    }
    for bus in &m.buses {
        let _ = write!(
            o,
            "  bus {} ({})",
            bus.name,
            count(bus.rules.len() as u32, "rule", "rules")
        );
        if let Some(a) = &bus.archive {
            let _ = write!(
                o,
                ", archive of {}{}",
                if a.pattern.is_some() {
                    "the events its pattern matches"
                } else {
                    "every event"
                },
                match a.retention {
                    0 => String::new(),
                    r => format!(" for {}", crate::time::SimDuration(r)),
                }
            );
        }
        o.push('\n');
        for r in &bus.rules {
            let targets: Vec<String> = r
                .targets
                .iter()
                .map(|t| match *t {
                    crate::model::BusTarget::Function(g) => {
                        format!("function {}", m.services[g].name)
                    }
                    other => other
                        .channel()
                        .map(|c| format!("{} {}", c.kind(), c.name(m)))
                        .unwrap_or_default(),
                })
                .collect();
            let _ = write!(
                o,
                "    rule {} -> {} (retries: {} within {}",
                r.name,
                targets.join(", "),
                r.max_attempts,
                crate::time::SimDuration(r.max_age)
            );
            match r.dead_letter {
                Some(q) => {
                    let _ = write!(o, ", then dead letters -> {})", m.queues[q].name);
                }
                None => o.push_str(", then lost)"),
            }
            o.push('\n');
        }
    }
    for svc in &m.services {
        let pool = format!(
            "{} × concurrency {}",
            count(svc.instances, "instance", "instances"),
            svc.concurrency
        );
        match svc.source {
            Channel::Topic(t) => {
                let _ = write!(
                    o,
                    "  consumer {} <- topic {} (group {}, {pool})",
                    svc.name, m.topics[t].name, svc.group_id
                );
            }
            Channel::Queue(q) if m.queues[q].rabbit.is_some() => {
                let prefetch = match svc.rabbit.prefetch {
                    0 => "prefetch unlimited".to_string(),
                    n => format!("prefetch {n}"),
                };
                let nack = match svc.rabbit.negative_ack {
                    crate::model::NegativeAck::Reject => "reject",
                    crate::model::NegativeAck::RejectRequeue => "reject-requeue",
                    crate::model::NegativeAck::NackRequeue => "nack-requeue",
                };
                let _ = write!(
                    o,
                    "  consumer {} <- queue {} ({pool}, {prefetch}, negative ack {nack})",
                    svc.name, m.queues[q].name
                );
            }
            Channel::Queue(q) => {
                let _ = write!(
                    o,
                    "  consumer {} <- queue {} ({pool}, batch {})",
                    svc.name, m.queues[q].name, svc.receive.batch_size
                );
            }
            // A function invoked asynchronously.
            c @ (Channel::Pubsub(_) | Channel::Bus(_)) => {
                let _ = write!(
                    o,
                    "  function {} <- {} {} (max concurrency {}, {})",
                    svc.name,
                    c.kind(),
                    c.name(m),
                    svc.instances,
                    count(svc.retry.max_attempts, "attempt", "attempts")
                );
            }
            // Validation refuses a service reading an exchange.
            Channel::Exchange(_) => {}
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
        let who = f.target_name(m);
        let kind = f.kind_name();
        match f.random {
            Some((mtbf, mttr)) => {
                let _ = write!(
                    o,
                    "  fault {kind} {who} at random from {}: every {} on average, for {} on average",
                    crate::time::SimDuration(f.at),
                    crate::time::SimDuration(mtbf),
                    crate::time::SimDuration(mttr)
                );
            }
            None => {
                let _ = write!(
                    o,
                    "  fault {kind} {who} at {}",
                    crate::time::SimDuration(f.at)
                );
                if let Some(d) = f.duration {
                    let _ = write!(o, " for {d}");
                }
            }
        }
        if f.kind == crate::scenario::format::FaultKind::Slowdown {
            let _ = write!(o, ", processing × {}", crate::scenario::diag::num(f.factor));
        }
        if let Some(d) = f.delay {
            let what = if f.service().is_some() {
                "processing"
            } else {
                "each message"
            };
            let _ = write!(
                o,
                ", {what} + {} on average",
                crate::time::SimDuration::from_secs_f64(d.mean_secs().unwrap_or(f64::INFINITY))
            );
        }
        if f.kind == crate::scenario::format::FaultKind::Poison {
            let _ = write!(
                o,
                ", {}% of its messages always fail",
                crate::scenario::diag::num(f.fraction * 100.0)
            );
        }
        o.push('\n');
    }
    for a in &m.actions {
        let at = crate::time::SimDuration(a.at);
        match a.kind {
            crate::model::ActionModelKind::Redrive { from, to, gap } => {
                let _ = write!(
                    o,
                    "  action redrive {} at {at} -> {}",
                    m.queues[from].name,
                    to.map_or("each message's source queue", |t| m.queues[t].name.as_str())
                );
                if gap > 0 {
                    let _ = write!(o, ", one message per {}", crate::time::SimDuration(gap));
                }
            }
            crate::model::ActionModelKind::Replay {
                bus,
                from,
                until,
                gap,
                rules,
            } => {
                let b = &m.buses[bus];
                let _ = write!(
                    o,
                    "  action replay {} at {at}: events of {} to {}",
                    b.name,
                    crate::time::SimDuration(from),
                    crate::time::SimDuration(until)
                );
                if rules != u64::MAX {
                    let names: Vec<&str> = b
                        .rules
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| rules & (1 << i) != 0)
                        .map(|(_, r)| r.name.as_str())
                        .collect();
                    let _ = write!(o, " to rules {}", names.join(", "));
                }
                if gap > 0 {
                    let _ = write!(o, ", one event per {}", crate::time::SimDuration(gap));
                }
            }
        }
        o.push('\n');
    }
    o
}

/// Temporary output files not yet renamed into place. A signal handler that gives up
/// waiting for the run to stop removes them before it exits.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// [`PENDING`], also after a panic while it was held.
fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// An output path checked before the run: what the user wrote, and the file it names.
struct OutputPath<'a> {
    flag: &'static str,
    path: &'a Path,
    /// The path with its directory resolved (`./m.csv` and `m.csv` are one file).
    identity: PathBuf,
    /// An existing file that is not a regular file (`/dev/stdout`, a named pipe): written
    /// directly, since renaming a temporary file over it would replace the device.
    direct: bool,
}

/// Checks that `path` can name the output of `flag`: not a directory, in a directory
/// that exists. Whether it can be written is found when its temporary file is created.
fn check_output<'a>(flag: &'static str, path: &'a Path) -> Result<OutputPath<'a>, String> {
    let shown = path.display();
    let text = path.to_string_lossy();
    let example = if flag == "--csv" {
        "metrics.csv"
    } else {
        "trace.jsonl"
    };
    if text.is_empty() {
        return Err(format!("{flag}: the file name is empty"));
    }
    let meta = std::fs::metadata(path);
    let dir_name = text.ends_with('/')
        || text.ends_with(std::path::MAIN_SEPARATOR)
        || text.ends_with("/.")
        || meta.as_ref().is_ok_and(|m| m.is_dir());
    let name = match path.file_name() {
        Some(n) if !dir_name => n,
        _ => {
            let dir = text.trim_end_matches('/');
            return Err(format!(
                "{flag} {shown}: names a directory; name a file in it, e.g. {flag} {}/{example}",
                if dir.is_empty() { "" } else { dir }
            ));
        }
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "{flag} {shown}: {} is not a directory",
                parent.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{flag} {shown}: there is no directory {}",
                parent.display()
            ));
        }
        Err(e) => return Err(format!("{flag} {shown}: {}: {e}", parent.display())),
    }
    let identity = match &meta {
        Ok(_) => std::fs::canonicalize(path),
        Err(_) => std::fs::canonicalize(parent).map(|p| p.join(name)),
    }
    .unwrap_or_else(|_| path.to_path_buf());
    Ok(OutputPath {
        flag,
        path,
        identity,
        direct: meta.is_ok_and(|m| !m.is_file()),
    })
}

/// An output file written under a temporary name of its own in the destination's
/// directory, and renamed when complete. Dropped before [`AtomicFile::rename`], it
/// removes its temporary file, so a failed or interrupted run leaves no file.
struct AtomicFile {
    /// The temporary file; None when writing to the destination directly.
    tmp: Option<PathBuf>,
    dest: PathBuf,
    w: BufWriter<File>,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file of `out` (or opens `out` itself when it is direct).
    fn create(out: &OutputPath<'_>) -> std::io::Result<AtomicFile> {
        let dest = out.path.to_path_buf();
        if out.direct {
            let f = std::fs::OpenOptions::new().write(true).open(&dest)?;
            return Ok(AtomicFile {
                tmp: None,
                dest,
                w: BufWriter::new(f),
                committed: false,
            });
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        // Registered under the lock, so a signal handler that removes the pending files
        // sees this one as soon as it exists.
        let mut pending = pending();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let suffix = if attempt == 1 {
                String::new()
            } else {
                format!("-{attempt}")
            };
            let tmp = dest.with_file_name(format!(".{name}.tmp-{}{suffix}", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => {
                    pending.push(tmp.clone());
                    return Ok(AtomicFile {
                        tmp: Some(tmp),
                        dest,
                        w: BufWriter::new(f),
                        committed: false,
                    });
                }
                // A leftover of an earlier run with the same process id: never touched.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes out the buffer and makes the bytes durable.
    fn finish(&mut self) -> std::io::Result<()> {
        self.w.flush()?;
        if self.tmp.is_some() {
            self.w.get_ref().sync_all()?;
        }
        Ok(())
    }

    /// Renames the finished temporary file to its destination.
    fn rename(mut self) -> std::io::Result<()> {
        if let Some(tmp) = &self.tmp {
            let mut pending = pending();
            std::fs::rename(tmp, &self.dest)?;
            pending.retain(|p| p != tmp);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(tmp) = &self.tmp {
            let mut pending = pending();
            let _ = std::fs::remove_file(tmp);
            pending.retain(|p| p != tmp);
        }
    }
}

/// Checks the output paths of a run (each a file in an existing directory, no two the
/// same file, none the scenario) and creates their temporary files; a problem is a
/// message and [`EXIT_BAD_INPUT`], with no file left.
fn open_outputs(a: &RunArgs) -> Result<(Option<AtomicFile>, Option<AtomicFile>), u8> {
    let refuse = |msg: String| {
        say!("edasim: {msg}");
        EXIT_BAD_INPUT
    };
    let csv = a
        .csv
        .as_deref()
        .map(|p| check_output("--csv", p))
        .transpose()
        .map_err(refuse)?;
    let trace = a
        .trace
        .as_deref()
        .map(|p| check_output("--trace", p))
        .transpose()
        .map_err(refuse)?;
    let scenario = std::fs::canonicalize(&a.file).ok();
    for out in csv.iter().chain(trace.iter()) {
        if scenario.as_ref() == Some(&out.identity) {
            return Err(refuse(format!(
                "{} {}: is the scenario file; name another file",
                out.flag,
                out.path.display()
            )));
        }
    }
    if let (Some(c), Some(t)) = (&csv, &trace)
        && c.identity == t.identity
        && !(c.direct && t.direct)
    {
        return Err(refuse(format!(
            "--csv {} and --trace {} name the same file; give each its own",
            c.path.display(),
            t.path.display()
        )));
    }
    let create = |out: &OutputPath<'_>| {
        AtomicFile::create(out).map_err(|e| {
            refuse(format!(
                "cannot write {} {}: {e}",
                out.flag,
                out.path.display()
            ))
        })
    };
    let csv_file = csv.as_ref().map(create).transpose()?;
    let trace_file = trace.as_ref().map(create).transpose()?;
    Ok((csv_file, trace_file))
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
            say!("edasim: terminal error: {e}");
            EXIT_INTERNAL
        }
    }
}

/// Runs without the TUI: opens the output files, runs to the end, commits the files
/// and reports. An error is the exit code, its message already printed; every
/// temporary file is removed on the way out.
fn run_headless(a: &RunArgs, model: Model) -> Result<u8, u8> {
    // Before any temporary file exists, so that a signal never leaves one behind.
    let interrupted = interrupt_flag();
    let (mut csv_file, mut trace_file) = open_outputs(a)?;
    let opts = Options {
        record_rows: csv_file.is_some(),
        trace: trace_file.is_some(),
        max_backlog: a.max_backlog,
    };
    let mut engine = Engine::new(model, opts);
    let shown = |p: Option<&Path>| p.map(|p| p.display().to_string()).unwrap_or_default();
    let (csv_dest, trace_dest) = (shown(a.csv.as_deref()), shown(a.trace.as_deref()));
    let mut csv_writer = match csv_file
        .as_mut()
        .map(|f| output::csv::CsvWriter::new(&mut f.w))
        .transpose()
    {
        Ok(w) => w,
        Err(e) => {
            say!("edasim: writing {csv_dest}: {e}");
            return Err(EXIT_IO);
        }
    };
    let mut trace = trace_file.as_mut().map(|f| TraceOut {
        w: &mut f.w,
        limit: a.trace_limit,
        lines: 0,
        truncated: false,
    });
    let outs = Outs {
        csv: csv_writer.as_mut(),
        trace: trace.as_mut(),
        csv_dest: csv_dest.clone(),
        trace_dest,
        interrupted: &interrupted,
    };
    run_batches(&mut engine, outs, a.quiet)?;
    let trace_truncated = trace.is_some_and(|t| t.truncated);
    if let Some(w) = csv_writer.take()
        && let Err(e) = w.finish()
    {
        say!("edasim: writing {csv_dest}: {e}");
        return Err(EXIT_IO);
    }
    drop(csv_writer);
    // Every file complete and on disk before the first is renamed into place.
    let mut files: Vec<AtomicFile> = [csv_file, trace_file].into_iter().flatten().collect();
    for f in &mut files {
        if let Err(e) = f.finish() {
            say!("edasim: writing {}: {e}", f.dest.display());
            return Err(EXIT_IO);
        }
    }
    for f in files {
        let dest = f.dest.display().to_string();
        if let Err(e) = f.rename() {
            say!("edasim: cannot write {dest}: {e}");
            return Err(EXIT_IO);
        }
    }
    Ok(report(a, &engine, trace_truncated))
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
    /// Gives up early, leaving the file incomplete, once `interrupted` is raised: the
    /// file is about to be removed.
    fn write_batch(
        &mut self,
        engine: &mut Engine,
        names: &[String],
        interrupted: &std::sync::atomic::AtomicBool,
    ) -> std::io::Result<()> {
        let recs = engine.drain_trace();
        let room = (self.limit.saturating_sub(self.lines)) as usize;
        let take = recs.len().min(room);
        // Formatting a record takes about a microsecond: in chunks, so that an
        // interrupt is not kept waiting behind a large batch.
        for chunk in recs[..take].chunks(TRACE_CHUNK) {
            if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(());
            }
            output::trace::write(self.w, engine.model(), names, chunk)?;
        }
        let mut result = Ok(());
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

/// Where a headless run's rows and trace records go while it runs.
struct Outs<'a, 'b> {
    csv: Option<&'a mut output::csv::CsvWriter<&'b mut BufWriter<File>>>,
    trace: Option<&'a mut TraceOut<'b>>,
    csv_dest: String,
    trace_dest: String,
    interrupted: &'a std::sync::atomic::AtomicBool,
}

impl Outs<'_, '_> {
    /// Writes the rows and trace records the engine holds.
    fn drain(&mut self, engine: &mut Engine, names: &[String]) -> Result<(), u8> {
        if let Some(w) = self.csv.as_mut()
            && let Err(e) = w.write(&engine.drain_rows())
        {
            say!("edasim: writing {}: {e}", self.csv_dest);
            return Err(EXIT_IO);
        }
        if let Some(t) = self.trace.as_mut()
            && let Err(e) = t.write_batch(engine, names, self.interrupted)
        {
            say!("edasim: writing {}: {e}", self.trace_dest);
            return Err(EXIT_IO);
        }
        Ok(())
    }
}

/// Runs `engine` to its end in slices of about [`SLICE_TARGET`] of wall time, looking
/// at the interrupt flag between two; writes rows and trace records every
/// [`BATCH_EVENTS`] events or [`DRAIN_EVERY`], and shows progress. Stops early, with
/// [`EXIT_INTERRUPTED`], on Ctrl-C, SIGTERM or SIGHUP.
#[allow(clippy::disallowed_methods)] // the shell measures wall time to pace itself
fn run_batches(engine: &mut Engine, mut outs: Outs<'_, '_>, quiet: bool) -> Result<(), u8> {
    use std::time::Instant;
    let duration = engine.model().duration.0;
    let bar = progress_bar(quiet);
    let names = engine.component_names().to_vec();
    let mut budget = 1_000;
    let mut undrained = 0;
    let mut drained_at = Instant::now();
    loop {
        let started = Instant::now();
        let before = engine.steps();
        let status = engine.run_until(u64::MAX, budget);
        budget = next_budget(budget, started.elapsed());
        undrained += engine.steps() - before;
        // A run stopped at the backlog limit is over too: what it did is written.
        let finished = matches!(status, RunStatus::Finished | RunStatus::BacklogLimit);
        if finished || undrained >= BATCH_EVENTS || drained_at.elapsed() >= DRAIN_EVERY {
            outs.drain(engine, &names)?;
            bar.set_position(engine.now().saturating_mul(1000) / duration.max(1));
            bar.set_message(format!(
                "{:.1} s simulated, {} events",
                engine.now() as f64 / 1e9,
                engine.steps()
            ));
            undrained = 0;
            drained_at = Instant::now();
        }
        if finished {
            break;
        }
        if outs.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            bar.finish_and_clear();
            say!(
                "edasim: interrupted at {:.3} s simulated; no output file was written",
                engine.now() as f64 / 1e9
            );
            return Err(EXIT_INTERRUPTED);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The event budget of the next slice: doubled while slices are quick, halved while
/// they are slow, so that a slice takes about [`SLICE_TARGET`] whatever an event costs.
fn next_budget(budget: u64, took: std::time::Duration) -> u64 {
    if took < SLICE_TARGET / 2 {
        (budget * 2).min(BATCH_EVENTS)
    } else if took > SLICE_TARGET * 2 {
        (budget / 2).max(1)
    } else {
        budget
    }
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

/// A flag that Ctrl-C, SIGTERM and SIGHUP raise. The run stops at the end of its
/// slice and its temporary files are removed when they are dropped, so no output file
/// is left behind, complete-looking or not. Should the run not stop within
/// [`INTERRUPT_GRACE`] (a single event that takes long), the handler removes the
/// temporary files itself and exits.
fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&interrupted);
    // If a handler is already installed (a test harness), runs are simply not
    // interruptible this way; nothing else depends on it.
    let _ = ctrlc::set_handler(move || {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        // ctrlc runs this on a thread of its own: waiting here does not hold the run.
        std::thread::sleep(INTERRUPT_GRACE);
        let mut pending = pending();
        for tmp in pending.drain(..) {
            let _ = std::fs::remove_file(tmp);
        }
        say!("edasim: interrupted; no output file was written");
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
    interrupted
}

/// After a finished run: warns of an incomplete trace, prints the summary and checks
/// conservation; returns the exit code.
fn report(a: &RunArgs, engine: &Engine, trace_truncated: bool) -> u8 {
    if engine.trace_overflowed() || trace_truncated {
        say!(
            "edasim: the trace reached its limit of {} lines and is incomplete; use --until for a shorter window",
            a.trace_limit
        );
    }
    // --quiet silences what is for people; JSON asked for is data, and is printed.
    let out = match a.format {
        Format::Text if a.quiet => None,
        Format::Text => Some(output::summary::text(engine)),
        Format::Json => Some(output::summary::json(engine)),
    };
    if let Some(out) = out
        && let Err(code) = write_stdout(&out)
    {
        return code;
    }
    let conservation = engine.conservation();
    if let Some(c) = conservation.iter().find(|c| !c.holds()) {
        say!(
            "edasim: internal error: conservation violated for {} ({c:?}); reproduce with `edasim run {} --seed {}`",
            c.service,
            a.file.display(),
            engine.model().seed
        );
        return EXIT_INTERNAL;
    }
    if let Some(stop) = engine.backlog_stop() {
        say!("edasim: stopped early: {stop}");
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}

/// The topology line of a RabbitMQ-like queue: its type and limits.
fn queue_line_rabbit(o: &mut String, m: &Model, name: &str, r: &crate::model::RabbitQueueModel) {
    use std::fmt::Write as _;

    use crate::broker::rabbit::queue::{Overflow, QueueType};
    let c = &r.config;
    let mut parts = vec![match c.kind {
        QueueType::Classic => "RabbitMQ classic".to_string(),
        QueueType::Quorum => "RabbitMQ quorum".to_string(),
    }];
    if let Some(t) = c.message_ttl {
        parts.push(format!("message TTL {}", crate::time::SimDuration(t)));
    }
    if let Some(max) = c.max_length {
        let mode = match c.overflow {
            Overflow::DropHead => "drop-head",
            Overflow::RejectPublish => "reject-publish",
            Overflow::RejectPublishDlx => "reject-publish-dlx",
        };
        parts.push(format!("max length {max} {mode}"));
    }
    if c.kind == QueueType::Quorum {
        parts.push(match c.delivery_limit {
            Some(n) => format!("delivery limit {n}"),
            None => "no delivery limit".to_string(),
        });
    }
    if let Some(x) = r.dead_letter_exchange {
        let key = r
            .dead_letter_routing_key
            .as_deref()
            .map_or_else(String::new, |k| format!(" as \"{k}\""));
        parts.push(format!(
            "dead letters -> exchange {}{key}",
            m.exchanges.get(x).map_or("?", |e| e.name.as_str())
        ));
    }
    let _ = writeln!(o, "  queue {name} ({})", parts.join(", "));
}
