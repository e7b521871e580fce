//! From TOML text to a [`Model`], collecting every problem on the way.
//!
//! The document is parsed into toml's spanned tree first. Each section and each array
//! element is then deserialized on its own; when serde refuses an element (an unknown
//! key, a wrong type, a bad duration) the offending key is noted, removed from a copy
//! of the element, and the element deserialized again, so that one typo does not hide
//! the next. Range and reference checks run on whatever deserialized, with spans looked
//! up in the tree by key path. The model is built only when no problem was found.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Problem, ScenarioError, line_col, num};
use super::format::{self as f, Dur};
use super::overrides::{self, Flag, Overrides, Target, is_flag_span};
use crate::broker::kafka::partitioner::{murmur2, to_positive};
use crate::model::*;
use crate::time::{SimDuration, parse_duration};

/// Most keys in one producer's key space: keeps the key table (4 bytes a key, plus
/// ordering state per service) within memory.
pub const MAX_KEYS_PER_PRODUCER: u64 = 10_000_000;
/// Most partitions of one topic.
pub const MAX_PARTITIONS: u32 = 10_000;
/// Most instances of one service.
pub const MAX_INSTANCES: u32 = 1_000;
/// Most records processed in parallel by one instance.
pub const MAX_CONCURRENCY: u32 = 10_000;
/// Most services reading one topic (every append visits each of them).
pub const MAX_READERS_PER_TOPIC: usize = 1_000;
/// Most metric samples in a run (duration / metrics_interval).
pub const MAX_SAMPLES: u64 = 1_000_000;
/// Highest producer rate, messages per simulated second: beyond it a run of minutes
/// would take hours of real time.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most retry attempts.
pub const MAX_ATTEMPTS: u32 = 1_000;
/// Kafka's auto.commit.interval.ms is a Java int of milliseconds.
pub const KAFKA_MAX_COMMIT_INTERVAL_MS: u64 = i32::MAX as u64;

/// The sections a scenario file may have.
const SECTIONS: [&str; 11] = [
    "scenario", "producer", "topic", "queue", "pubsub", "exchange", "bus", "consumer", "fault",
    "action", "saga",
];

/// Parses and validates a scenario. `path` is only used in messages.
pub fn load_str(path: &str, text: &str) -> Result<Model, ScenarioError> {
    load_with(path, text, &Overrides::default())
}

/// Parses a scenario, applies the command line's `overrides` to it and validates the
/// result, so that an overridden value is checked like one written in the file. The
/// problems of an override name its flag (`--set consumer.payment.instances=0: ...`)
/// and come after those of the file.
pub fn load_with(path: &str, text: &str, overrides: &Overrides) -> Result<Model, ScenarioError> {
    load_files(path, text, overrides, &|_| {
        Err(
            "payload files are read by the command line; this caller gave no file reader"
                .to_string(),
        )
    })
}

/// Reads the file a scenario names (a producer's `payload = { file = ... }`), given its
/// path as written; returns its text or why it cannot be read.
pub type FileReader<'r> = &'r dyn Fn(&str) -> Result<String, String>;

/// As [`load_with`], with `read` to read the files the scenario names: the core does
/// no IO, the shell that calls it does.
pub fn load_files(
    path: &str,
    text: &str,
    overrides: &Overrides,
    read: FileReader<'_>,
) -> Result<Model, ScenarioError> {
    let flags = overrides.flags();
    let mut cx = Cx {
        problems: Vec::new(),
        broken: Vec::new(),
    };
    let model = load_inner(text, &flags, read, &mut cx);
    match model {
        Some(m) if cx.problems.is_empty() => Ok(m),
        _ => {
            cx.problems
                .sort_by_key(|p| p.span.map_or(0, |s| s.offset()));
            for p in &mut cx.problems {
                overrides::attribute(p, &flags);
            }
            Err(ScenarioError::new(path, text, cx.problems))
        }
    }
}

struct Cx {
    problems: Vec<Problem>,
    /// (section, name) of elements serde refused: their problems are reported already,
    /// so references to them are not reported again as dangling.
    broken: Vec<(String, String)>,
}

impl Cx {
    fn err(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.problems.push(Problem::new(message, span, None));
    }
    fn is_broken(&self, section: &str, name: &str) -> bool {
        self.broken.iter().any(|(s, n)| s == section && n == name)
    }
    fn err_help(
        &mut self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.problems
            .push(Problem::new(message, span, Some(help.into())));
    }
}

type Val<'i> = Spanned<DeValue<'i>>;

/// One deserialized element and the tree it came from, for span look-ups.
struct Elem<'a, 'i, T> {
    v: T,
    tree: &'a Val<'i>,
    /// Required keys that were missing or refused, given a placeholder so that the
    /// rest of the element is still checked (see [`lenient`]); checks that read them
    /// are skipped.
    stubbed: Vec<String>,
}

impl<'i, T> Elem<'_, 'i, T> {
    /// The span of the value at `path` inside this element, or of the element itself.
    fn span(&self, path: &[&str]) -> Option<Range<usize>> {
        let mut cur = self.tree;
        for key in path {
            match cur.get_ref().as_table().and_then(|t| t.get(*key)) {
                Some(next) => cur = next,
                None => return Some(self.tree.span()),
            }
        }
        Some(cur.span())
    }

    /// The span of `key` in element `i` of the array of tables `array` inside this
    /// element (`[[pubsub.subscription]]`, `[[exchange.binding]]`), else of that
    /// element, else of the array.
    fn item_span(&self, array: &str, i: usize, key: &str) -> Option<Range<usize>> {
        let item = self
            .tree
            .get_ref()
            .get(array)
            .and_then(|v| v.get_ref().as_array())
            .and_then(|a| a.get(i));
        item.and_then(|t| t.get_ref().get(key))
            .map(|v| v.span())
            .or_else(|| item.map(|t| t.span()))
            .or_else(|| self.span(&[array]))
    }
}

impl<T> Elem<'_, '_, T> {
    /// Whether required key `key` holds a placeholder.
    fn stub(&self, key: &str) -> bool {
        self.stubbed.iter().any(|k| k == key)
    }

    /// Reports each key of `keys` that is given (`true`) as one that does not apply
    /// here, at its own span, with `message` and `help` for that key.
    fn refuse(
        &self,
        cx: &mut Cx,
        keys: &[(&str, bool)],
        message: impl Fn(&str) -> String,
        help: impl Fn(&str) -> &'static str,
    ) {
        for &(key, given) in keys {
            if given {
                cx.err_help(self.span(&[key]), message(key), help(key));
            }
        }
    }
}

/// Parses, applies the overrides, checks every section and builds the model, or
/// returns None when something was wrong (the problems are in `cx`).
fn load_inner<'i>(
    text: &'i str,
    flags: &[Flag<'i>],
    read: FileReader<'_>,
    cx: &mut Cx,
) -> Option<Model> {
    let doc = parse_document(text, flags, cx)?;
    let root = &doc;
    check_sections(root, cx);

    let scenario = scenario_elem(root, cx);
    let producers: Vec<Elem<'_, '_, f::Producer>> = elements(root, "producer", cx);
    let topics: Vec<Elem<'_, '_, f::Topic>> = elements(root, "topic", cx);
    let queues: Vec<Elem<'_, '_, f::Queue>> = elements(root, "queue", cx);
    let pubsubs: Vec<Elem<'_, '_, f::Pubsub>> = elements(root, "pubsub", cx);
    let exchanges: Vec<Elem<'_, '_, f::Exchange>> = elements(root, "exchange", cx);
    let buses: Vec<Elem<'_, '_, f::Bus>> = elements(root, "bus", cx);
    let consumers: Vec<Elem<'_, '_, f::Consumer>> = elements(root, "consumer", cx);
    let faults: Vec<Elem<'_, '_, f::Fault>> = elements(root, "fault", cx);
    let actions: Vec<Elem<'_, '_, f::Action>> = elements(root, "action", cx);
    let sagas: Vec<Elem<'_, '_, f::Saga>> = elements(root, "saga", cx);

    claim_names(
        text, &producers, &topics, &queues, &pubsubs, &exchanges, &buses, &consumers, &sagas, cx,
    );
    let channels = Channels::new(&topics, &queues, &pubsubs, &exchanges, &buses);
    let until = flags.iter().find(|f| matches!(f.target, Target::Until));
    let times = run_times(scenario.as_ref(), until, cx);
    let mut events = Events::default();
    let mut topic_models = topic_models(&topics, cx);
    let mut queue_models = queue_models(&queues, &channels, cx);
    let (producer_models, keys) = producer_models(
        &producers,
        times.declared,
        &channels,
        &queue_models,
        &mut events,
        read,
        cx,
    );
    let mut service_models = service_models(
        &consumers,
        &channels,
        &mut topic_models,
        &mut queue_models,
        &mut events,
        cx,
    );
    let pubsub_models = pubsub_models(
        &pubsubs,
        &channels,
        &queue_models,
        &mut service_models,
        &consumers,
        cx,
    );
    let (exchange_models, router) = exchange_models(&exchanges, &channels, &queue_models, cx);
    let bus_models = bus_models(
        &buses,
        &channels,
        &queue_models,
        &service_models,
        &consumers,
        cx,
    );
    retry_topics(
        &consumers,
        &mut topic_models,
        &mut service_models,
        &producers,
        &queues,
        &pubsubs,
        cx,
    );
    let (saga_models, saga_roles) = saga_models(&sagas, &service_models, &mut events, cx);
    let scope = FaultScope {
        producers: &producer_models,
        topics: &topic_models,
        services: &service_models,
        sagas: &saga_models,
        buses: &bus_models,
        channels: &channels,
    };
    let fault_models = fault_models(&faults, &scope, times.declared, cx);
    let action_models = action_models(
        &actions,
        &channels,
        &queue_models,
        &buses,
        times.declared,
        cx,
    );
    note_flags(root, flags, &mut cx.problems);

    // No "producers but no [[topic]]" check: every producer's target already fails to
    // resolve then, with a help that says to declare the topic.
    let s = scenario?;
    let compare = compare_list(&s, &service_models, cx);
    Some(Model {
        compare,
        name: s.v.name.clone(),
        description: s.v.description.clone(),
        seed: s.v.seed,
        duration: times.end,
        metrics_interval: times.interval,
        producers: producer_models,
        topics: topic_models,
        queues: queue_models,
        pubsubs: pubsub_models,
        exchanges: exchange_models,
        router,
        buses: bus_models,
        services: service_models,
        faults: fault_models,
        actions: action_models,
        keys,
        events: events.names,
        sagas: saga_models,
        saga_roles,
    })
}

/// The document as toml's spanned tree, with the command line's values written in.
fn parse_document<'i>(text: &'i str, flags: &[Flag<'i>], cx: &mut Cx) -> Option<DeTable<'i>> {
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            cx.err(
                e.span(),
                format!("TOML syntax error: {}", e.message().trim()),
            );
            return None;
        }
    };
    let mut doc = doc.into_inner();
    let refused = overrides::apply(&mut doc, flags, &SECTIONS);
    cx.problems.extend(refused);
    Some(doc)
}

/// Reports top-level sections that are not [`SECTIONS`], and marks the elements of a
/// near miss (`[[topics]]`) broken so that references to them are not reported again.
fn check_sections(root: &DeTable<'_>, cx: &mut Cx) {
    let known = SECTIONS;
    for (k, v) in root.iter() {
        let name: &str = k.get_ref().as_ref();
        if known.contains(&name) {
            continue;
        }
        let expected = format!(
            "expected one of {}",
            known.map(|k| format!("`{k}`")).join(", ")
        );
        let singular = name.strip_suffix('s').filter(|n| known.contains(n));
        let meant = singular.or_else(|| suggest(name, &known));
        let help = match (singular, meant) {
            (Some(s), _) => format!("section names are singular: did you mean `{s}`?"),
            (None, Some(close)) => format!("did you mean `{close}`? {expected}"),
            (None, None) => expected,
        };
        cx.err_help(Some(k.span()), format!("unknown section `{name}`"), help);
        // `[[topics]]` meant `[[topic]]`: references to its elements are not reported
        // again as dangling.
        if let Some(meant) = meant {
            let items: Vec<&Val<'_>> = match v.get_ref().as_array() {
                Some(a) => a.iter().collect(),
                None => vec![v],
            };
            for item in items {
                if let Some(n) = item
                    .get_ref()
                    .get("name")
                    .and_then(|n| n.get_ref().as_str())
                {
                    cx.broken.push((meant.to_string(), n.to_string()));
                }
            }
        }
    }
}

/// `[scenario]`, deserialized; reports it missing.
fn scenario_elem<'a, 'i>(
    root: &'a DeTable<'i>,
    cx: &mut Cx,
) -> Option<Elem<'a, 'i, f::ScenarioSection>> {
    match root.get("scenario") {
        Some(t) => lenient::<f::ScenarioSection>(t, "scenario", cx).map(|(v, stubbed)| Elem {
            v,
            tree: t,
            stubbed,
        }),
        None => {
            cx.err_help(
                Some(0..0),
                "missing section `[scenario]`",
                "every scenario starts with [scenario] name, seed, duration",
            );
            None
        }
    }
}

/// Checks component names: valid, and unique across producers, topics and consumers,
/// since the CSV names them all in one column.
#[allow(clippy::too_many_arguments)]
fn claim_names(
    text: &str,
    producers: &[Elem<'_, '_, f::Producer>],
    topics: &[Elem<'_, '_, f::Topic>],
    queues: &[Elem<'_, '_, f::Queue>],
    pubsubs: &[Elem<'_, '_, f::Pubsub>],
    exchanges: &[Elem<'_, '_, f::Exchange>],
    buses: &[Elem<'_, '_, f::Bus>],
    consumers: &[Elem<'_, '_, f::Consumer>],
    sagas: &[Elem<'_, '_, f::Saga>],
    cx: &mut Cx,
) {
    let named = producers
        .iter()
        .map(|p| (p.v.name.as_str(), p.span(&["name"])))
        .chain(
            topics
                .iter()
                .map(|t| (t.v.name.as_str(), t.span(&["name"]))),
        )
        .chain(
            queues
                .iter()
                .map(|q| (q.v.name.as_str(), q.span(&["name"]))),
        )
        .chain(
            pubsubs
                .iter()
                .map(|p| (p.v.name.as_str(), p.span(&["name"]))),
        )
        .chain(
            exchanges
                .iter()
                .map(|x| (x.v.name.as_str(), x.span(&["name"]))),
        )
        .chain(buses.iter().map(|b| (b.v.name.as_str(), b.span(&["name"]))))
        .chain(
            consumers
                .iter()
                .map(|c| (c.v.name.as_str(), c.span(&["name"]))),
        )
        .chain(sagas.iter().map(|s| (s.v.name.as_str(), s.span(&["name"]))));
    let mut names: BTreeMap<&str, Option<Range<usize>>> = BTreeMap::new();
    for (name, span) in named {
        if name == STUB_NAME {
            continue;
        }
        if name.is_empty() || name.contains(['#', '/', ',', '"']) || name == "total" {
            cx.err_help(
                span.clone(),
                format!("invalid component name {name:?}"),
                "names are non-empty, not \"total\", and use no '#', '/', ',' or '\"'",
            );
        }
        if let Some(first) = names.get(name) {
            let help = match first {
                Some(f) if is_flag_span(f) => {
                    "it is first given by a --set; producers, topics, queues, pubsubs, exchanges, buses, consumers and sagas share one namespace"
                        .to_string()
                }
                _ => {
                    let line = first.as_ref().map_or(0, |f| line_col(text, f.start).0);
                    format!(
                        "it is first used on line {line}; producers, topics, queues, pubsubs, exchanges, buses, consumers and sagas share one namespace"
                    )
                }
            };
            cx.err_help(
                span.clone(),
                format!("component name `{name}` is used twice"),
                help,
            );
        }
        names.insert(name, span);
    }
}

/// Topic and queue names to channels, for the references of producers and consumers.
struct Channels<'a> {
    idx: BTreeMap<&'a str, Channel>,
    /// Per pubsub: FIFO or not.
    pubsub_fifo: Vec<bool>,
}

impl<'a> Channels<'a> {
    fn new(
        topics: &'a [Elem<'_, '_, f::Topic>],
        queues: &'a [Elem<'_, '_, f::Queue>],
        pubsubs: &'a [Elem<'_, '_, f::Pubsub>],
        exchanges: &'a [Elem<'_, '_, f::Exchange>],
        buses: &'a [Elem<'_, '_, f::Bus>],
    ) -> Channels<'a> {
        let topics = topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.v.name.as_str(), Channel::Topic(i)));
        let queues = queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.v.name.as_str(), Channel::Queue(i)));
        // A name used twice is reported by `claim_names`; the first one wins here.
        let pubsub_fifo = pubsubs.iter().map(|p| p.v.fifo.unwrap_or(false)).collect();
        let pubsubs = pubsubs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.v.name.as_str(), Channel::Pubsub(i)));
        let exchanges = exchanges
            .iter()
            .enumerate()
            .map(|(i, x)| (x.v.name.as_str(), Channel::Exchange(i)));
        let buses = buses
            .iter()
            .enumerate()
            .map(|(i, b)| (b.v.name.as_str(), Channel::Bus(i)));
        let mut idx = BTreeMap::new();
        for (name, ch) in topics
            .chain(queues)
            .chain(pubsubs)
            .chain(exchanges)
            .chain(buses)
        {
            idx.entry(name).or_insert(ch);
        }
        Channels { idx, pubsub_fifo }
    }

    /// The topic or queue `name` refers to (as its `what`, e.g. "target"); reports a
    /// dangling reference unless the element was refused already.
    fn find(
        &self,
        name: &str,
        span: Option<Range<usize>>,
        what: &str,
        cx: &mut Cx,
    ) -> Option<Channel> {
        match self.idx.get(name) {
            Some(&c) => Some(c),
            // A placeholder for a missing or refused reference, reported already.
            None if name == STUB_NAME => None,
            None if cx.is_broken("topic", name)
                || cx.is_broken("queue", name)
                || cx.is_broken("pubsub", name)
                || cx.is_broken("exchange", name)
                || cx.is_broken("bus", name) =>
            {
                None
            }
            None => {
                let names: Vec<&str> = self.idx.keys().copied().collect();
                let known: Vec<String> = names.iter().map(|k| format!("`{k}`")).collect();
                cx.err_help(
                    span,
                    format!("{what} `{name}` is not a topic, queue, pubsub, exchange or bus"),
                    match suggest(name, &names) {
                        _ if known.is_empty() => {
                            "declare it with [[topic]], [[queue]], [[pubsub]], [[exchange]] or [[bus]] name = ..."
                                .to_string()
                        }
                        Some(close) => format!(
                            "did you mean `{close}`? known topics, queues, pubsubs, exchanges and buses: {}",
                            known.join(", ")
                        ),
                        None => format!(
                            "known topics, queues, pubsubs, exchanges and buses: {}",
                            known.join(", ")
                        ),
                    },
                );
                None
            }
        }
    }

    /// The name of a channel.
    fn name_of(&self, c: Channel) -> &str {
        self.idx
            .iter()
            .find(|(_, v)| **v == c)
            .map_or("", |(k, _)| k)
    }

    /// The queue `name` refers to; reports a topic or an unknown name.
    fn find_queue(
        &self,
        name: &str,
        span: Option<Range<usize>>,
        what: &str,
        cx: &mut Cx,
    ) -> Option<QueueIdx> {
        match self.find(name, span.clone(), what, cx)? {
            Channel::Queue(q) => Some(q),
            other => {
                cx.err(
                    span,
                    format!("{what} `{name}` is a {}, not a queue", other.kind()),
                );
                None
            }
        }
    }
}

/// The run's times: the declared duration (what phases and faults are checked
/// against), where the run ends (`--until`, or the duration) and the sampling interval.
struct RunTimes {
    declared: SimDuration,
    end: SimDuration,
    interval: SimDuration,
}

/// Checks `[scenario]`'s duration and interval, and `--until`, against each other and
/// [`MAX_SAMPLES`].
fn run_times(
    scenario: Option<&Elem<'_, '_, f::ScenarioSection>>,
    until: Option<&Flag<'_>>,
    cx: &mut Cx,
) -> RunTimes {
    let Some(s) = scenario else {
        return RunTimes {
            declared: SimDuration(1),
            end: SimDuration(1),
            interval: SimDuration(1),
        };
    };
    // A duration that is missing or refused (reported already) holds a placeholder:
    // nothing is checked against it.
    let stubbed = s.stub("duration");
    let d = if stubbed {
        SimDuration(u64::MAX)
    } else {
        s.v.duration.0
    };
    if d.0 == 0 {
        cx.err(s.span(&["duration"]), "duration must be longer than 0");
    }
    let end = match until.map(|u| (u, parse_duration(u.value))) {
        None => d,
        Some((_, Ok(end))) if end.0 > 0 => end,
        Some((u, Ok(_))) => {
            cx.err(Some(u.span.clone()), "the run must be longer than 0");
            d
        }
        Some((u, Err(e))) => {
            cx.err(Some(u.span.clone()), e.to_string());
            d
        }
    };
    let iv =
        s.v.metrics_interval
            .map_or(SimDuration::from_secs(1), |d| d.0);
    if iv.0 == 0 {
        cx.err(
            s.span(&["metrics_interval"]),
            "metrics_interval must be longer than 0",
        );
    } else if end.0 / iv.0 > MAX_SAMPLES && !(stubbed && until.is_none()) {
        // Blamed on --until when it made the run long and the interval is the file's;
        // on the duration when the interval is the default.
        let given = s.v.metrics_interval.is_some();
        let span = if given {
            s.span(&["metrics_interval"])
        } else {
            s.span(&["duration"])
        };
        let (span, run, help) = match until {
            Some(u) if !(given && span.as_ref().is_some_and(is_flag_span)) => (
                Some(u.span.clone()),
                "the run",
                "use a shorter --until or a longer metrics_interval",
            ),
            _ => (
                span,
                "a duration",
                "use a longer metrics_interval or a shorter duration",
            ),
        };
        cx.err_help(
            span,
            format!(
                "{run} of {end} sampled every {iv} makes {} metric samples; the limit is {}",
                grouped(end.0 / iv.0),
                grouped(MAX_SAMPLES)
            ),
            help,
        );
    }
    RunTimes {
        declared: d,
        end,
        interval: iv,
    }
}

/// `n` with its thousands grouped: 3,153,600,000.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Event names, numbered in the order they are first met.
#[derive(Default)]
struct Events {
    names: Vec<String>,
}

impl Events {
    /// The number of event `name`, given a new one if it is new.
    fn id(&mut self, name: &str) -> EventIdx {
        match self.names.iter().position(|e| e == name) {
            Some(i) => i as EventIdx,
            None => {
                self.names.push(name.to_string());
                (self.names.len() - 1) as EventIdx
            }
        }
    }
}

/// `[[topic]]`: partitions, sticky batch and retention in range; defaults filled in.
/// Their reading services are added by [`service_models`].
fn topic_models(topics: &[Elem<'_, '_, f::Topic>], cx: &mut Cx) -> Vec<TopicModel> {
    let mut topic_models = Vec::new();
    for t in topics {
        let partitions = t.v.partitions.unwrap_or(1);
        if partitions == 0 || partitions > MAX_PARTITIONS {
            cx.err(
                t.span(&["partitions"]),
                format!("partitions must be between 1 and {MAX_PARTITIONS}, found {partitions}"),
            );
        }
        let sticky_batch = t.v.sticky_batch.unwrap_or(100);
        if sticky_batch == 0 {
            cx.err(t.span(&["sticky_batch"]), "sticky_batch must be at least 1");
        }
        let retention =
            t.v.retention
                .map_or(SimDuration::from_secs(7 * 86_400), |d| d.0);
        if retention.0 == 0 {
            cx.err(t.span(&["retention"]), "retention must be longer than 0");
        }
        topic_models.push(TopicModel {
            name: t.v.name.clone(),
            partitions: partitions.clamp(1, MAX_PARTITIONS),
            partitioner: t.v.partitioner.unwrap_or(PartitionerKind::Murmur2),
            sticky_batch: sticky_batch.max(1),
            retention,
            readers: Vec::new(),
        });
    }
    topic_models
}

/// SQS's limits on queue attributes, in nanoseconds.
const SQS_MAX_VISIBILITY: u64 = 12 * 3_600 * NS;
const SQS_MIN_RETENTION: u64 = 60 * NS;
const SQS_MAX_RETENTION: u64 = 14 * 86_400 * NS;
const SQS_MAX_DELAY: u64 = 15 * 60 * NS;
const SQS_MAX_WAIT: u64 = 20 * NS;
const SQS_MAX_BATCH: u32 = 10;
const SQS_MAX_RECEIVE_COUNT: u32 = 1_000;
const NS: u64 = 1_000_000_000;

/// Checks a duration against SQS's range for an attribute.
fn check_range(cx: &mut Cx, span: Option<Range<usize>>, what: &str, v: u64, min: u64, max: u64) {
    if v < min || v > max {
        cx.err(
            span,
            format!(
                "{what} must be between {} and {} (SQS's limits), found {}",
                SimDuration(min),
                SimDuration(max),
                SimDuration(v)
            ),
        );
    }
}

/// `[[queue]]`: SQS's attribute ranges, FIFO-only options, the redrive policy (a
/// dead-letter queue of the same kind). Readers are added by [`service_models`].
fn queue_models(
    queues: &[Elem<'_, '_, f::Queue>],
    channels: &Channels<'_>,
    cx: &mut Cx,
) -> Vec<QueueModel> {
    let mut models: Vec<QueueModel> = Vec::new();
    for q in queues {
        let rabbit = rabbit_queue_model(q, channels, cx);
        let fifo = q.v.fifo.unwrap_or(false);
        let visibility_timeout = q.v.visibility_timeout.map_or(30 * NS, |d| d.0.0);
        check_range(
            cx,
            q.span(&["visibility_timeout"]),
            "visibility_timeout",
            visibility_timeout,
            0,
            SQS_MAX_VISIBILITY,
        );
        let retention = q.v.retention.map_or(4 * 86_400 * NS, |d| d.0.0);
        check_range(
            cx,
            q.span(&["retention"]),
            "retention",
            retention,
            SQS_MIN_RETENTION,
            SQS_MAX_RETENTION,
        );
        let delay = q.v.delay.map_or(0, |d| d.0.0);
        check_range(cx, q.span(&["delay"]), "delay", delay, 0, SQS_MAX_DELAY);
        let wait_time = q.v.wait_time.map_or(0, |d| d.0.0);
        check_range(
            cx,
            q.span(&["wait_time"]),
            "wait_time",
            wait_time,
            0,
            SQS_MAX_WAIT,
        );
        if !fifo {
            q.refuse(
                cx,
                &[
                    (
                        "content_based_deduplication",
                        q.v.content_based_deduplication.is_some(),
                    ),
                    ("deduplication_scope", q.v.deduplication_scope.is_some()),
                ],
                |key| format!("{key} applies to FIFO queues only"),
                |_| "set fifo = true, or remove it",
            );
        }
        let redrive = q.v.dead_letter.as_ref().and_then(|r| {
            let span = q.span(&["dead_letter", "queue"]);
            let n = r.max_receive_count;
            if n == 0 || n > SQS_MAX_RECEIVE_COUNT {
                cx.err(
                    q.span(&["dead_letter", "max_receive_count"]),
                    format!(
                        "max_receive_count must be between 1 and {SQS_MAX_RECEIVE_COUNT}, found {n}"
                    ),
                );
            }
            let d = channels.find_queue(&r.queue, span.clone(), "dead_letter queue", cx)?;
            // The kinds are compared once every queue is known, below.
            if d == models.len() {
                cx.err(span, "a queue cannot be its own dead-letter queue");
                return None;
            }
            Some((d, n.clamp(1, SQS_MAX_RECEIVE_COUNT)))
        });
        models.push(QueueModel {
            name: q.v.name.clone(),
            fifo,
            visibility_timeout,
            retention,
            delay,
            wait_time,
            redrive,
            content_dedup: q.v.content_based_deduplication.unwrap_or(false),
            dedup_scope: q.v.deduplication_scope.unwrap_or(DedupScope::Queue),
            reader: None,
            dlq_of: Vec::new(),
            rabbit,
        });
    }
    // Kinds must match: SQS requires a FIFO queue's dead-letter queue to be FIFO, and a
    // standard queue's to be standard.
    for (i, q) in queues.iter().enumerate() {
        let Some((d, _)) = models[i].redrive else {
            continue;
        };
        if models[d].rabbit.is_some() {
            cx.err_help(
                q.span(&["dead_letter", "queue"]),
                format!("`{}` is a RabbitMQ queue, and a redrive policy moves messages to an SQS queue", models[d].name),
                "name an SQS-like [[queue]] (no type), or route dead letters through a RabbitMQ queue's dead_letter_exchange",
            );
            continue;
        }
        if models[d].fifo != models[i].fifo {
            let kind = |f: bool| if f { "FIFO" } else { "standard" };
            cx.err_help(
                q.span(&["dead_letter", "queue"]),
                format!(
                    "the dead-letter queue of a {} queue must be {} too, and `{}` is {}",
                    kind(models[i].fifo),
                    kind(models[i].fifo),
                    models[d].name,
                    kind(models[d].fifo)
                ),
                "SQS requires a dead-letter queue of the same kind as its source",
            );
        }
        models[d].dlq_of.push(i);
    }
    models
}

/// A `[[queue]]` with a `type`: a RabbitMQ-like queue, whose SQS settings are refused
/// (and an SQS-like queue's RabbitMQ settings), with RabbitMQ's rules: a quorum queue
/// has a delivery limit and no `reject-publish-dlx`, a classic queue no delivery limit.
fn rabbit_queue_model(
    q: &Elem<'_, '_, f::Queue>,
    channels: &Channels<'_>,
    cx: &mut Cx,
) -> Option<RabbitQueueModel> {
    use crate::broker::rabbit::queue::{DEFAULT_DELIVERY_LIMIT, Overflow, QueueConfig, QueueType};
    let v = &q.v;
    let Some(t) = v.queue_type else {
        q.refuse(
            cx,
            &[
                ("message_ttl", v.message_ttl.is_some()),
                ("max_length", v.max_length.is_some()),
                ("overflow", v.overflow.is_some()),
                ("dead_letter_exchange", v.dead_letter_exchange.is_some()),
                (
                    "dead_letter_routing_key",
                    v.dead_letter_routing_key.is_some(),
                ),
                ("delivery_limit", v.delivery_limit.is_some()),
            ],
            |key| {
                format!(
                    "{key} applies to RabbitMQ queues, and `{}` is an SQS-like queue",
                    v.name
                )
            },
            |_| "add type = \"classic\" or \"quorum\" to make it a RabbitMQ queue",
        );
        return None;
    };
    q.refuse(
        cx,
        &[
            ("fifo", v.fifo.is_some()),
            ("visibility_timeout", v.visibility_timeout.is_some()),
            ("retention", v.retention.is_some()),
            ("delay", v.delay.is_some()),
            ("wait_time", v.wait_time.is_some()),
            ("dead_letter", v.dead_letter.is_some()),
            (
                "content_based_deduplication",
                v.content_based_deduplication.is_some(),
            ),
            ("deduplication_scope", v.deduplication_scope.is_some()),
        ],
        |key| format!("{key} is an SQS setting, and `{}` is a RabbitMQ queue", v.name),
        |key| match key {
            "dead_letter" => "a RabbitMQ queue dead-letters to an exchange: dead_letter_exchange = ...",
            "visibility_timeout" => "a RabbitMQ consumer holds a message until it acknowledges it; prefetch bounds how many",
            _ => "remove it, or remove type to make it an SQS-like queue",
        },
    );
    let kind = match t {
        f::RabbitQueueType::Classic => QueueType::Classic,
        f::RabbitQueueType::Quorum => QueueType::Quorum,
    };
    let overflow = match v.overflow {
        None | Some(f::OverflowDef::DropHead) => Overflow::DropHead,
        Some(f::OverflowDef::RejectPublish) => Overflow::RejectPublish,
        Some(f::OverflowDef::RejectPublishDlx) => Overflow::RejectPublishDlx,
    };
    if kind == QueueType::Quorum && overflow == Overflow::RejectPublishDlx {
        cx.err_help(
            q.span(&["overflow"]),
            "a quorum queue does not support overflow = \"reject-publish-dlx\"",
            "RabbitMQ's quorum queues take drop-head or reject-publish",
        );
    }
    let delivery_limit = match (kind, v.delivery_limit) {
        (QueueType::Classic, Some(_)) => {
            cx.err_help(
                q.span(&["delivery_limit"]),
                "delivery_limit applies to quorum queues",
                "set type = \"quorum\", or remove it",
            );
            None
        }
        (QueueType::Classic, None) => None,
        (QueueType::Quorum, None) => Some(DEFAULT_DELIVERY_LIMIT),
        (QueueType::Quorum, Some(-1)) => None,
        (QueueType::Quorum, Some(n)) if (0..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
        (QueueType::Quorum, Some(n)) => {
            cx.err(
                q.span(&["delivery_limit"]),
                format!(
                    "delivery_limit must be -1 (unlimited) or from 0 to {}, found {n}",
                    u32::MAX
                ),
            );
            None
        }
    };
    let dead_letter_exchange = v.dead_letter_exchange.as_ref().and_then(|x| {
        let span = q.span(&["dead_letter_exchange"]);
        match channels.find(x, span.clone(), "dead_letter_exchange", cx)? {
            Channel::Exchange(e) => Some(e),
            other => {
                cx.err_help(
                    span,
                    format!(
                        "dead_letter_exchange `{x}` is a {}, not an exchange",
                        other.kind()
                    ),
                    "RabbitMQ dead-letters to an exchange, which routes to a queue bound to it",
                );
                None
            }
        }
    });
    if v.dead_letter_routing_key.is_some() && v.dead_letter_exchange.is_none() {
        cx.err_help(
            q.span(&["dead_letter_routing_key"]),
            "dead_letter_routing_key needs a dead_letter_exchange",
            "add dead_letter_exchange = ...",
        );
    }
    Some(RabbitQueueModel {
        config: QueueConfig {
            kind,
            message_ttl: v.message_ttl.map(|d| d.0.0),
            max_length: v.max_length,
            overflow,
            delivery_limit,
        },
        dead_letter_exchange,
        dead_letter_routing_key: v.dead_letter_routing_key.clone(),
    })
}

/// `[[producer]]`: target, rate, phases, keys (into one key table) and the producer
/// settings; the event each one emits is numbered in `events`.
fn producer_models(
    producers: &[Elem<'_, '_, f::Producer>],
    duration: SimDuration,
    channels: &Channels<'_>,
    queues: &[QueueModel],
    events: &mut Events,
    read: FileReader<'_>,
    cx: &mut Cx,
) -> (Vec<ProducerModel>, KeyTable) {
    let mut keys = KeyTable::default();
    let mut producer_models = Vec::new();
    for p in producers {
        let target = channels.find(&p.v.target, p.span(&["target"]), "target", cx);
        check_producer_keys(p, target, queues, &channels.pubsub_fifo, cx);
        let attributes = p.v.attributes.as_ref().map_or_else(Vec::new, |a| {
            super::attrs::attributes(a).unwrap_or_else(|(path, e)| {
                let mut full = vec!["attributes"];
                full.extend(path.iter().map(String::as_str));
                cx.err(p.span(&full), e);
                Vec::new()
            })
        });
        let routing_key = match (&p.v.routing_key, target) {
            (Some(v), Some(Channel::Exchange(_))) => {
                super::attrs::routing_key(v).unwrap_or_else(|e| {
                    cx.err(p.span(&["routing_key"]), e);
                    RoutingKeyGen::Empty
                })
            }
            _ => RoutingKeyGen::Empty,
        };
        if let (RoutingKeyGen::Format(_), None) = (&routing_key, &p.v.keys) {
            cx.err_help(
                p.span(&["routing_key"]),
                "the routing key's format puts the message's key in `{}`, and this producer has no keys",
                "give the producer keys, or a fixed routing key",
            );
        }
        let headers = match (&p.v.headers, target) {
            (Some(h), Some(Channel::Exchange(_))) => {
                super::attrs::headers(h).unwrap_or_else(|(path, e)| {
                    let mut full = vec!["headers"];
                    full.extend(path.iter().map(String::as_str));
                    cx.err(p.span(&full), e);
                    Vec::new()
                })
            }
            _ => Vec::new(),
        };
        let payload = p.v.payload.as_ref().map_or(Payload::None, |a| {
            super::attrs::payload(a, read).unwrap_or_else(|(path, e)| {
                let mut full = vec!["payload"];
                full.extend(path.iter().map(String::as_str));
                cx.err(p.span(&full), e);
                Payload::None
            })
        });
        let rate = p.v.rate.per_second;
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
            cx.err(
                p.span(&["rate", "per_second"]),
                format!(
                    "rate per_second must be above 0 and at most {MAX_RATE}, found {}",
                    num(rate)
                ),
            );
        }
        let phases = phase_models(p, duration, cx);
        let key_draw =
            p.v.keys
                .as_ref()
                .and_then(|k| key_space(p, k, &mut keys, cx));
        let ack_loss_rate = p.v.ack_loss_rate.unwrap_or(0.0);
        check_prob(
            cx,
            p.span(&["ack_loss_rate"]),
            "ack_loss_rate",
            ack_loss_rate,
        );
        let duplicate_rate = p.v.duplicate_rate.unwrap_or(0.0);
        check_prob(
            cx,
            p.span(&["duplicate_rate"]),
            "duplicate_rate",
            duplicate_rate,
        );
        let delay = p.v.delay.map_or(0, |d| d.0.0);
        check_range(cx, p.span(&["delay"]), "delay", delay, 0, SQS_MAX_DELAY);
        let event = events.id(p.v.event.as_deref().unwrap_or(super::format::DEFAULT_EVENT));
        producer_models.push(ProducerModel {
            name: p.v.name.clone(),
            target: target.unwrap_or(Channel::Topic(0)),
            dist: p.v.rate.dist.unwrap_or(RateDist::Poisson),
            base_rate: rate,
            phases,
            keys: key_draw,
            event,
            acks: p.v.acks.unwrap_or(Acks::All),
            idempotent: p.v.idempotent.unwrap_or(true),
            retries: p.v.retries.unwrap_or(i32::MAX as u32),
            ack_loss_rate,
            request_timeout: p
                .v
                .request_timeout
                .map_or(SimDuration::from_secs(30), |d| d.0),
            delay,
            duplicate_rate,
            attributes,
            routing_key,
            headers,
            payload,
            outbox: outbox_model(p, cx),
            confirms: p.v.confirms.unwrap_or(false),
            source: p.v.source.clone().unwrap_or_else(|| p.v.name.clone()),
            detail_type: p
                .v
                .detail_type
                .clone()
                .unwrap_or_else(|| events.names[usize::from(event)].clone()),
        });
    }
    (producer_models, keys)
}

/// A consumer's circuit breaker: what opens it, in range; defaults from resilience4j.
fn breaker_model(c: &Elem<'_, '_, f::Consumer>, b: &f::Breaker, cx: &mut Cx) -> BreakerModel {
    let span = |k: &str| c.span(&["breaker", k]);
    if b.failures.is_none() && b.failure_ratio.is_none() {
        cx.err_help(
            c.span(&["breaker"]),
            "a breaker needs `failures` (consecutive) or `failure_ratio` (within a window) to open",
            "add failures = 5, or failure_ratio = 0.5",
        );
    }
    if b.failures == Some(0) {
        cx.err(span("failures"), "failures must be at least 1");
    }
    if let Some(r) = b.failure_ratio
        && !(r > 0.0 && r <= 1.0)
    {
        cx.err(
            span("failure_ratio"),
            format!(
                "failure_ratio must be above 0 and at most 1, found {}",
                num(r)
            ),
        );
    }
    if b.failure_ratio.is_none() {
        for (k, given) in [
            ("window", b.window.is_some()),
            ("min_calls", b.min_calls.is_some()),
        ] {
            if given {
                cx.err_help(
                    span(k),
                    format!("{k} belongs to a breaker with a failure_ratio"),
                    "add failure_ratio = 0.5, or remove it",
                );
            }
        }
    }
    let ns = |d: Option<Dur>, dflt: u64| d.map_or(dflt, |x| x.0.0);
    let window = ns(b.window, 60 * NS);
    let cooldown = ns(b.cooldown, 60 * NS);
    for (k, v) in [("window", window), ("cooldown", cooldown)] {
        if v == 0 {
            cx.err(span(k), format!("{k} must be above 0"));
        }
    }
    let probes = b.probes.unwrap_or(10);
    if probes == 0 {
        cx.err(span("probes"), "probes must be at least 1");
    }
    BreakerModel {
        failures: b.failures.map(|n| n.max(1)),
        failure_ratio: b.failure_ratio,
        window: window.max(1),
        min_calls: b.min_calls.unwrap_or(100).max(1),
        cooldown: cooldown.max(1),
        probes: probes.max(1),
        fail_fast: b.when_open == Some(f::WhenOpen::Fail),
    }
}

/// A producer's buffer and retry settings for a target that refuses its sends; Kafka's
/// defaults where absent.
fn outbox_model(p: &Elem<'_, '_, f::Producer>, cx: &mut Cx) -> OutboxModel {
    let d = OutboxModel::default();
    let buffer = p.v.buffer.unwrap_or(d.buffer);
    if buffer > 100_000_000 {
        cx.err(
            p.span(&["buffer"]),
            format!("buffer must be at most 100000000 messages, found {buffer}"),
        );
    }
    let ns = |v: Option<Dur>, dflt: u64| v.map_or(dflt, |x| x.0.0);
    let delivery_timeout = ns(p.v.delivery_timeout, d.delivery_timeout);
    let retry_backoff = ns(p.v.retry_backoff, d.retry_backoff);
    let retry_backoff_max = ns(
        p.v.retry_backoff_max,
        d.retry_backoff_max.max(retry_backoff),
    );
    for (key, v) in [
        ("delivery_timeout", delivery_timeout),
        ("retry_backoff", retry_backoff),
    ] {
        if v == 0 {
            cx.err(p.span(&[key]), format!("{key} must be above 0"));
        }
    }
    if retry_backoff_max < retry_backoff {
        cx.err(
            p.span(&["retry_backoff_max"]),
            format!(
                "retry_backoff_max ({}) must be at least retry_backoff ({})",
                SimDuration(retry_backoff_max),
                SimDuration(retry_backoff)
            ),
        );
    }
    OutboxModel {
        buffer: buffer.min(100_000_000),
        delivery_timeout: delivery_timeout.max(1),
        retry_backoff: retry_backoff.max(1),
        retry_backoff_max: retry_backoff_max.max(retry_backoff.max(1)),
    }
}

/// A producer's keys that only one kind of target takes: Kafka's producer settings for
/// topics, SQS's send options for queues; a FIFO queue needs message group ids (keys)
/// and takes no per-message delay.
fn check_producer_keys(
    p: &Elem<'_, '_, f::Producer>,
    target: Option<Channel>,
    queues: &[QueueModel],
    pubsub_fifo: &[bool],
    cx: &mut Cx,
) {
    let v = &p.v;
    if !matches!(target, Some(Channel::Pubsub(_)) | None) {
        p.refuse(
            cx,
            &[
                ("attributes", v.attributes.is_some()),
                ("payload", v.payload.is_some() && target.and_then(Channel::bus).is_none()),
            ],
            |key| {
                format!(
                    "{key} are read by pubsub filter policies, and `{}` is not a pubsub",
                    v.target
                )
            },
            |key| match key {
                "attributes" if target.and_then(Channel::bus).is_some() => {
                    "an EventBridge event has no message attributes: put the fields in payload (the event's detail)"
                }
                _ => "publish to a [[pubsub]] whose subscriptions filter on them (or to a [[bus]], whose rules match the payload)",
            },
        );
    }
    if !matches!(target, Some(Channel::Bus(_)) | None) {
        p.refuse(
            cx,
            &[
                ("source", v.source.is_some()),
                ("detail_type", v.detail_type.is_some()),
            ],
            |key| {
                format!(
                    "{key} is a field of an EventBridge event, and `{}` is not an event bus",
                    v.target
                )
            },
            |_| "publish to a [[bus]] whose rules match on it",
        );
    }
    if !matches!(target, Some(Channel::Exchange(_)) | None) {
        p.refuse(
            cx,
            &[
                ("routing_key", v.routing_key.is_some()),
                ("headers", v.headers.is_some()),
            ],
            |key| {
                format!(
                    "{key} is read by an exchange's bindings, and `{}` is not an exchange",
                    v.target
                )
            },
            |_| "publish to an [[exchange]] whose bindings match on it",
        );
    }
    if let Some(kind @ (Channel::Exchange(_) | Channel::Pubsub(_) | Channel::Bus(_))) = target {
        let (a, help) = match kind {
            Channel::Exchange(_) => (
                "an exchange",
                "an exchange routes at once; duplicate_rate publishes a message twice (a lost confirm)",
            ),
            Channel::Bus(_) => (
                "an event bus",
                "a bus routes at once; duplicate_rate publishes an event twice",
            ),
            _ => (
                "a pubsub",
                "a pubsub delivers at once; duplicate_rate publishes a message twice",
            ),
        };
        p.refuse(
            cx,
            &[
                ("acks", v.acks.is_some()),
                ("idempotent", v.idempotent.is_some()),
                ("retries", v.retries.is_some()),
                ("ack_loss_rate", v.ack_loss_rate.is_some()),
                ("delay", v.delay.is_some()),
            ],
            |key| format!("{key} does not apply to {a}, and `{}` is one", v.target),
            |_| help,
        );
    }
    let rabbit_target = match target {
        Some(Channel::Exchange(_)) | None => true,
        Some(Channel::Queue(q)) => queues.get(q).is_none_or(|q| q.rabbit.is_some()),
        Some(Channel::Topic(_) | Channel::Pubsub(_) | Channel::Bus(_)) => false,
    };
    if !rabbit_target {
        p.refuse(
            cx,
            &[("confirms", v.confirms.is_some())],
            |_| format!("confirms are RabbitMQ's publisher confirms, and `{}` is not an exchange or a RabbitMQ queue", v.target),
            |_| "a topic's producer is confirmed by its acks; an SQS or pubsub send always answers",
        );
    }
    match target {
        Some(Channel::Pubsub(ps))
            if pubsub_fifo.get(ps).copied().unwrap_or(false) && v.keys.is_none() =>
        {
            cx.err_help(
                p.span(&["target"]),
                format!("`{}` is a FIFO pubsub, and every message published to it needs a message group id", v.target),
                "give the producer keys: the key is the message group id",
            );
        }
        Some(Channel::Topic(_)) => {
            p.refuse(
                cx,
                &[
                    ("delay", v.delay.is_some()),
                    ("duplicate_rate", v.duplicate_rate.is_some()),
                ],
                |key| format!("{key} applies to producers that write to a queue"),
                |_| {
                    "for a topic, a lost ack with idempotent = false duplicates a record: see ack_loss_rate"
                },
            );
        }
        Some(Channel::Queue(q)) => {
            p.refuse(
                cx,
                &[
                    ("acks", v.acks.is_some()),
                    ("idempotent", v.idempotent.is_some()),
                    ("retries", v.retries.is_some()),
                    ("ack_loss_rate", v.ack_loss_rate.is_some()),
                ],
                |key| {
                    format!(
                        "{key} is a Kafka producer setting, and `{}` is a queue",
                        v.target
                    )
                },
                |_| "for a queue, duplicate_rate sends a message twice",
            );
            let Some(qm) = queues.get(q) else { return };
            if qm.rabbit.is_some() && v.delay.is_some() {
                cx.err_help(
                    p.span(&["delay"]),
                    format!("delay is an SQS setting, and `{}` is a RabbitMQ queue", v.target),
                    "a RabbitMQ queue delivers at once; message_ttl bounds how long a message waits",
                );
            }
            if qm.fifo && v.keys.is_none() {
                cx.err_help(
                    p.span(&["target"]),
                    format!("`{}` is a FIFO queue, and every message sent to it needs a message group id", v.target),
                    "give the producer keys: the key is the message group id",
                );
            }
            if qm.fifo && v.delay.is_some() {
                cx.err_help(
                    p.span(&["delay"]),
                    "FIFO queues take no per-message delay",
                    "set the queue's delay instead",
                );
            }
        }
        _ => {}
    }
}

/// A producer's `phases`: rates in range, in order of `at`, within the run.
fn phase_models(
    p: &Elem<'_, '_, f::Producer>,
    duration: SimDuration,
    cx: &mut Cx,
) -> Vec<PhaseModel> {
    let mut phases = Vec::new();
    let mut last_at = 0u64;
    let phase_trees = p
        .tree
        .get_ref()
        .get("phases")
        .and_then(|v| v.get_ref().as_array());
    for (i, ph) in p.v.phases.iter().enumerate() {
        let span = phase_trees.and_then(|a| a.get(i)).map(|v| v.span());
        if !(ph.per_second.is_finite() && ph.per_second >= 0.0 && ph.per_second <= MAX_RATE) {
            cx.err(
                span.clone(),
                format!(
                    "phase per_second must be between 0 and {MAX_RATE}, found {}",
                    num(ph.per_second)
                ),
            );
        }
        if ph.at.0.0 < last_at && !p.stub("at") {
            cx.err_help(
                span.clone(),
                format!(
                    "phase at {} comes after a phase at {}",
                    ph.at.0,
                    SimDuration(last_at)
                ),
                "phases must be in order of `at`",
            );
        }
        if ph.at.0 > duration {
            cx.err(
                span.clone(),
                format!(
                    "phase at {} starts after the end of the run ({})",
                    ph.at.0, duration
                ),
            );
        }
        last_at = ph.at.0.0;
        phases.push(PhaseModel {
            at: ph.at.0.0,
            per_second: ph.per_second.max(0.0),
            ramp: ph.ramp.map_or(0, |d| d.0.0),
        });
    }
    phases
}

/// `[[consumer]]`: one service each, with its source, instances, concurrency, rates,
/// processing time, retry, dead letters, emits and commit settings; each service is added to
/// its source topic's readers in `topic_models`.
fn service_models(
    consumers: &[Elem<'_, '_, f::Consumer>],
    channels: &Channels<'_>,
    topic_models: &mut [TopicModel],
    queue_models: &mut [QueueModel],
    events: &mut Events,
    cx: &mut Cx,
) -> Vec<ServiceModel> {
    let mut service_models: Vec<ServiceModel> = Vec::new();
    let mut group_ids: BTreeMap<String, ()> = BTreeMap::new();
    for c in consumers {
        let source = channels.find(&c.v.source, c.span(&["source"]), "source", cx);
        let is_function = c.v.kind == Some(f::ConsumerKind::Function);
        if is_function {
            check_function_keys(c, source, cx);
        } else {
            check_consumer_keys(c, source, cx);
        }
        let rabbit = rabbit_consume_model(c, source, queue_models, is_function, cx);
        let mut receive = receive_model(c, source, queue_models, is_function, cx);
        let group_id = c.v.group.clone().unwrap_or_else(|| c.v.name.clone());
        if group_ids.insert(group_id.clone(), ()).is_some() && group_id != STUB_NAME {
            cx.err_help(
                c.span(&["group"]).or(c.span(&["name"])),
                format!("group `{group_id}` is used by two consumers"),
                "a consumer is one whole group; give each its own group id",
            );
        }
        let function = is_function.then(|| function_model(c, source, queue_models, cx));
        let mut instances = c.v.instances.unwrap_or(1);
        if is_function {
            let (lo, default) = match source {
                Some(Channel::Queue(_)) => (2, FN_MAX_CONCURRENCY),
                _ => (1, FN_MAX_CONCURRENCY),
            };
            let m = c.v.max_concurrency.unwrap_or(default);
            if m < lo || m > FN_MAX_CONCURRENCY {
                cx.err(
                    c.span(&["max_concurrency"]),
                    format!(
                        "max_concurrency must be between {lo} and {FN_MAX_CONCURRENCY}, found {m}"
                    ),
                );
            }
            instances = m.clamp(lo, FN_MAX_CONCURRENCY);
            // An event source mapping long-polls.
            receive.wait_time = SQS_MAX_WAIT;
        }
        if instances == 0 || instances > MAX_INSTANCES {
            cx.err(
                c.span(&["instances"]),
                format!("instances must be between 1 and {MAX_INSTANCES}, found {instances}"),
            );
        }
        let concurrency = c.v.concurrency.unwrap_or(1);
        if concurrency == 0 || concurrency > MAX_CONCURRENCY {
            cx.err(
                c.span(&["concurrency"]),
                format!("concurrency must be between 1 and {MAX_CONCURRENCY}, found {concurrency}"),
            );
        }
        let failure_rate = c.v.failure_rate.unwrap_or(0.0);
        check_prob(cx, c.span(&["failure_rate"]), "failure_rate", failure_rate);
        let poison_rate = c.v.poison_rate.unwrap_or(0.0);
        let dedup = match (c.v.idempotent.unwrap_or(false), c.v.dedup_window) {
            (true, w) => {
                if w.is_some_and(|w| w.0 == SimDuration::ZERO) {
                    cx.err(
                        c.span(&["dedup_window"]),
                        "dedup_window must be above 0 (omit it to remember for the whole run)",
                    );
                }
                Some(w.map(|w| w.0))
            }
            (false, Some(_)) => {
                cx.err_help(
                    c.span(&["dedup_window"]),
                    "dedup_window applies to an idempotent consumer only",
                    "add idempotent = true",
                );
                None
            }
            (false, None) => None,
        };
        check_prob(cx, c.span(&["poison_rate"]), "poison_rate", poison_rate);
        let breaker = c.v.breaker.as_ref().map(|b| breaker_model(c, b, cx));
        let processing = processing_model(c, cx);
        let retry = if is_function {
            function_retry(c, source, cx)
        } else {
            retry_model(c, cx)
        };
        let dead_letter = match (&c.v.dead_letter, &c.v.on_failure) {
            (Some(d), _) => channels.find(d, c.span(&["dead_letter"]), "dead_letter", cx),
            (None, Some(d)) => channels.find(d, c.span(&["on_failure"]), "on_failure", cx),
            (None, None) => None,
        };
        if let (Some(d), Some(t)) = (dead_letter, source)
            && d == t
        {
            cx.err(
                c.span(&["dead_letter"]),
                "dead_letter must differ from the source",
            );
        }
        let emits = emit_models(c, channels, events, cx);
        let commit_interval =
            c.v.commit_interval
                .map_or(SimDuration::from_secs(5), |d| d.0);
        // Kafka's auto.commit.interval.ms is an int of milliseconds; 0 there means a
        // commit at every poll, which a simulation without polls cannot mean. A
        // nanosecond period would also schedule a billion commits per simulated second.
        let ms = commit_interval.0 / 1_000_000;
        if !commit_interval.0.is_multiple_of(1_000_000)
            || ms == 0
            || ms > KAFKA_MAX_COMMIT_INTERVAL_MS
        {
            cx.err_help(
                c.span(&["commit_interval"]),
                format!(
                    "commit_interval must be a whole number of milliseconds from 1ms to {KAFKA_MAX_COMMIT_INTERVAL_MS}ms, found {commit_interval}"
                ),
                "it is Kafka's auto.commit.interval.ms, an int of milliseconds (default 5s)",
            );
        }
        let session_timeout =
            c.v.session_timeout
                .map_or(SimDuration::from_secs(45), |d| d.0);
        let g = service_models.len();
        match source {
            Some(Channel::Topic(t)) => {
                let readers = &mut topic_models[t].readers;
                readers.push(g);
                if readers.len() > MAX_READERS_PER_TOPIC {
                    cx.err(
                        c.span(&["source"]),
                        format!("at most {MAX_READERS_PER_TOPIC} consumers may read one topic"),
                    );
                }
            }
            Some(Channel::Queue(q)) => match queue_models[q].reader {
                Some(first) => cx.err_help(
                    c.span(&["source"]),
                    format!(
                        "queue `{}` is consumed by `{}` already",
                        queue_models[q].name, service_models[first].name
                    ),
                    "consumers of one queue compete for its messages: make them instances of one consumer, or fan out with a queue per consumer",
                ),
                None => queue_models[q].reader = Some(g),
            },
            Some(Channel::Pubsub(_)) if !is_function => cx.err_help(
                c.span(&["source"]),
                format!("`{}` is a pubsub, which a service does not read directly", c.v.source),
                "subscribe a queue to the pubsub and let the consumer read the queue, or make the consumer kind = \"function\"",
            ),
            Some(Channel::Exchange(_)) => cx.err_help(
                c.span(&["source"]),
                format!("`{}` is an exchange, which routes and stores nothing", c.v.source),
                "bind a queue to the exchange ([[exchange.binding]] queue = ...) and let the consumer read the queue",
            ),
            Some(Channel::Bus(_)) if !is_function => cx.err_help(
                c.span(&["source"]),
                format!("`{}` is an event bus, which a service does not read directly", c.v.source),
                "make a queue a target of one of the bus's rules and let the consumer read the queue, or make the consumer kind = \"function\"",
            ),
            _ => {}
        }
        let source = source.filter(|s| {
            !matches!(s, Channel::Exchange(_)) && (is_function || !matches!(s, Channel::Bus(_)))
        });
        service_models.push(ServiceModel {
            name: c.v.name.clone(),
            group_id,
            source: source.unwrap_or(Channel::Topic(0)),
            instances: instances.clamp(1, MAX_INSTANCES),
            concurrency: concurrency.clamp(1, MAX_CONCURRENCY),
            ordering: c.v.ordering.unwrap_or(Ordering::Partition),
            processing,
            failure_rate,
            poison_rate,
            dedup,
            breaker,
            fetch_delay: 0,
            retry_copies: Vec::new(),
            commit: c.v.commit.unwrap_or(CommitMode::After),
            commit_interval: SimDuration(commit_interval.0.max(1_000_000)),
            assignor: c.v.assignor.unwrap_or(AssignorKind::Range),
            session_timeout,
            rebalance_time: c
                .v
                .rebalance_time
                .map_or(SimDuration::from_secs(1), |d| d.0),
            retry,
            dead_letter,
            emits,
            receive,
            function,
            rabbit,
        });
    }
    service_models
}

/// A consumer of a RabbitMQ-like queue: its prefetch and negative acknowledgement; SQS
/// receive settings are refused there, and these two everywhere else.
fn rabbit_consume_model(
    c: &Elem<'_, '_, f::Consumer>,
    source: Option<Channel>,
    queues: &[QueueModel],
    is_function: bool,
    cx: &mut Cx,
) -> RabbitConsumeModel {
    let v = &c.v;
    let rabbit = source
        .and_then(Channel::queue)
        .and_then(|q| queues.get(q))
        .is_some_and(|q| q.rabbit.is_some());
    if rabbit && is_function {
        cx.err_help(
            c.span(&["source"]),
            format!("`{}` is a RabbitMQ queue, which a function does not read", v.source),
            "functions are invoked from SQS-like queues and pubsubs; make it a service (remove kind)",
        );
    } else if rabbit {
        c.refuse(
            cx,
            &[
                ("batch_size", v.batch_size.is_some()),
                ("wait_time", v.wait_time.is_some()),
                ("poll_interval", v.poll_interval.is_some()),
                ("visibility_heartbeat", v.visibility_heartbeat.is_some()),
            ],
            |key| {
                format!(
                    "{key} is an SQS receive setting, and `{}` is a RabbitMQ queue",
                    v.source
                )
            },
            |_| "a RabbitMQ queue pushes messages to its consumers, up to their prefetch",
        );
    } else {
        c.refuse(
            cx,
            &[
                ("prefetch", v.prefetch.is_some()),
                ("negative_ack", v.negative_ack.is_some()),
            ],
            |key| format!("{key} applies to consumers of a RabbitMQ queue (type = \"classic\" or \"quorum\")"),
            |_| "remove it, or read a [[queue]] with a type",
        );
    }
    RabbitConsumeModel {
        prefetch: v.prefetch.unwrap_or(0),
        negative_ack: match v.negative_ack {
            None | Some(f::NegativeAckDef::Reject) => NegativeAck::Reject,
            Some(f::NegativeAckDef::RejectRequeue) => NegativeAck::RejectRequeue,
            Some(f::NegativeAckDef::NackRequeue) => NegativeAck::NackRequeue,
        },
    }
}

/// Most retry topics of one consumer.
const MAX_RETRY_TOPICS: usize = 10;

/// `retry_topics`: per delay, a retry topic like the source and a copy of the consumer
/// reading it with that delay; each level dead-letters to the next, the last to the
/// consumer's own dead letter. Their names must be free.
#[allow(clippy::too_many_arguments)]
fn retry_topics(
    consumers: &[Elem<'_, '_, f::Consumer>],
    topics: &mut Vec<TopicModel>,
    services: &mut Vec<ServiceModel>,
    producers: &[Elem<'_, '_, f::Producer>],
    queues: &[Elem<'_, '_, f::Queue>],
    pubsubs: &[Elem<'_, '_, f::Pubsub>],
    cx: &mut Cx,
) {
    for (g, c) in consumers.iter().enumerate() {
        let Some(delays) = &c.v.retry_topics else {
            continue;
        };
        let span = c.span(&["retry_topics"]);
        if g >= services.len() {
            continue;
        }
        let Channel::Topic(src) = services[g].source else {
            cx.err_help(
                span,
                "retry_topics need a topic source",
                "a queue retries by its visibility timeout and redrive policy",
            );
            continue;
        };
        if services[g].function.is_some() {
            cx.err(span, "retry_topics belong to a service, not a function");
            continue;
        }
        if delays.is_empty() || delays.len() > MAX_RETRY_TOPICS {
            cx.err(
                span,
                format!(
                    "retry_topics takes 1 to {MAX_RETRY_TOPICS} delays, found {}",
                    delays.len()
                ),
            );
            continue;
        }
        if delays.iter().any(|d| d.0 == SimDuration::ZERO) {
            cx.err(span.clone(), "each retry topic's delay must be above 0");
        }
        let taken = |name: &str, topics: &[TopicModel], services: &[ServiceModel]| {
            topics.iter().any(|t| t.name == name)
                || services
                    .iter()
                    .any(|s| s.name == name || s.group_id == name)
                || producers.iter().any(|p| p.v.name == name)
                || queues.iter().any(|q| q.v.name == name)
                || pubsubs.iter().any(|p| p.v.name == name)
        };
        let last_dead = services[g].dead_letter;
        let mut prev = g;
        for (k, d) in delays.iter().enumerate() {
            let topic_name = format!("{}-retry-{}", topics[src].name, k + 1);
            let name = format!("{}-retry-{}", services[g].name, k + 1);
            if taken(&topic_name, topics, services) || taken(&name, topics, services) {
                cx.err_help(
                    span.clone(),
                    format!("retry_topics make `{topic_name}` and `{name}`, and a component has one of these names"),
                    "rename that component",
                );
                break;
            }
            let t = topics.len();
            topics.push(TopicModel {
                name: topic_name,
                readers: Vec::new(),
                ..topics[src].clone()
            });
            let copy = services.len();
            let mut spec = ServiceModel {
                name: name.clone(),
                group_id: name,
                source: Channel::Topic(t),
                fetch_delay: d.0.0,
                retry_copies: Vec::new(),
                dead_letter: last_dead,
                ..services[g].clone()
            };
            spec.breaker = services[g].breaker;
            services.push(spec);
            topics[t].readers.push(copy);
            services[prev].dead_letter = Some(Channel::Topic(t));
            services[g].retry_copies.push(copy);
            prev = copy;
        }
    }
}

/// Most bindings of one exchange (every publish may visit each of them).
const MAX_BINDINGS: usize = 1_000;

/// EventBridge's quota of targets per rule.
pub const BUS_MAX_TARGETS: usize = 5;
/// Rules on one bus here (EventBridge's default quota is 300; a replay names its rules
/// as bits of one word).
pub const BUS_MAX_RULES: usize = 64;
/// A rule's `RetryPolicy`: `MaximumRetryAttempts` 0 to 185 (default 185),
/// `MaximumEventAgeInSeconds` 60 s to 24 h (default 24 h).
const BUS_MAX_RETRIES: u32 = 185;
const BUS_MIN_EVENT_AGE: u64 = 60 * NS;
const BUS_MAX_EVENT_AGE: u64 = 86_400 * NS;

impl<T> Elem<'_, '_, T> {
    /// The span of `key` in the table `j` of the inline array `list` of element `i` of
    /// the array of tables `array` (`[[bus.rule]]`'s `targets`), else of the nearest
    /// enclosing value found.
    fn nested_span(
        &self,
        array: &str,
        i: usize,
        list: &str,
        j: usize,
        key: &str,
    ) -> Option<Range<usize>> {
        let item = self
            .tree
            .get_ref()
            .get(array)
            .and_then(|v| v.get_ref().as_array())
            .and_then(|a| a.get(i));
        let entry = item
            .and_then(|t| t.get_ref().get(list))
            .and_then(|v| v.get_ref().as_array())
            .and_then(|a| a.get(j));
        entry
            .and_then(|t| t.get_ref().get(key))
            .map(|v| v.span())
            .or_else(|| entry.map(|t| t.span()))
            .or_else(|| self.item_span(array, i, list))
    }
}

/// An event pattern, written as a TOML table or a JSON string, parsed as EventBridge
/// would, or reported at `span`.
fn event_pattern(
    v: &serde_json::Value,
    what: &str,
    span: Option<Range<usize>>,
    cx: &mut Cx,
) -> Option<Policy> {
    let v = json_or_table(v, what, span.clone(), cx)?;
    let p = Policy::parse_event_pattern(&v)
        .map_err(|e| {
            cx.err_help(
                span.clone(),
                format!("EventBridge would refuse this {what}: {e}"),
                "see the event pattern rules in the README",
            )
        })
        .ok()?;
    // EventBridge takes any field name; one an edasim event never has would quietly
    // match nothing (or, with `exists: false`, everything).
    let mut bad = false;
    for name in p.names() {
        let top = name.split('.').next().unwrap_or(name);
        match top {
            "source" | "detail-type" | "detail" | "version" | "replay-name" => {}
            "account" | "region" | "time" | "id" | "resources" => {
                bad = true;
                cx.err_help(
                    span.clone(),
                    format!("the {what} reads `{top}`, which edasim's events do not carry"),
                    "patterns read source, detail-type, detail (the payload), version and replay-name",
                );
            }
            _ => {
                bad = true;
                cx.err_help(
                    span.clone(),
                    format!("the {what} reads `{name}`, which is not a field of an event"),
                    format!("the payload is the event's detail: did you mean `detail.{name}`? (detail = {{ {top} = [...] }})"),
                );
            }
        }
    }
    (!bad).then_some(p)
}

/// `[[bus]]`: rules with unique names, each with an event pattern EventBridge would
/// accept, 1 to 5 targets (an SQS-like queue, a pubsub, a function that reads this bus,
/// another bus, with no loop of buses), a retry policy within EventBridge's limits and
/// a standard SQS-like dead-letter queue. Every function that reads a bus must be the
/// target of one of its rules.
fn bus_models(
    buses: &[Elem<'_, '_, f::Bus>],
    channels: &Channels<'_>,
    queues: &[QueueModel],
    services: &[ServiceModel],
    consumers: &[Elem<'_, '_, f::Consumer>],
    cx: &mut Cx,
) -> Vec<BusModel> {
    let mut out = Vec::new();
    let mut targeted = vec![false; services.len()];
    for (bi, b) in buses.iter().enumerate() {
        if b.v.rule.len() > BUS_MAX_RULES {
            cx.err(
                b.span(&["rule"]),
                format!("a bus has at most {BUS_MAX_RULES} rules here"),
            );
        }
        let mut rules = Vec::new();
        for (i, r) in b.v.rule.iter().enumerate() {
            let span_of = |key: &str| b.item_span("rule", i, key);
            if b.v.rule[..i].iter().any(|o| o.name == r.name) {
                cx.err(
                    span_of("name"),
                    format!("rule `{}` is declared twice on `{}`", r.name, b.v.name),
                );
            }
            let pattern = event_pattern(
                &r.event_pattern,
                "event pattern",
                span_of("event_pattern"),
                cx,
            );
            if r.targets.is_empty() || r.targets.len() > BUS_MAX_TARGETS {
                cx.err_help(
                    span_of("targets"),
                    format!(
                        "a rule has 1 to {BUS_MAX_TARGETS} targets, `{}` has {}",
                        r.name,
                        r.targets.len()
                    ),
                    "EventBridge's quota is 5 targets per rule: split them over two rules with the same pattern",
                );
            }
            let mut targets = Vec::new();
            for (j, t) in r.targets.iter().enumerate() {
                let tspan = |key: &str| b.nested_span("rule", i, "targets", j, key);
                let given: Vec<(&str, &String)> = [
                    ("queue", &t.queue),
                    ("pubsub", &t.pubsub),
                    ("function", &t.function),
                    ("bus", &t.bus),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                .collect();
                let (key, name) = match given.as_slice() {
                    [one] => *one,
                    [] => {
                        cx.err_help(
                            tspan("queue"),
                            "a target names no endpoint",
                            "write { queue = \"...\" }, { pubsub = \"...\" }, { function = \"...\" } or { bus = \"...\" }",
                        );
                        continue;
                    }
                    [_, (second, _), ..] => {
                        cx.err_help(
                            tspan(second),
                            "a target names one endpoint",
                            "give each endpoint its own entry in targets",
                        );
                        continue;
                    }
                };
                let span = tspan(key);
                let target = match key {
                    "function" => {
                        let found = services.iter().position(|s| &s.name == name);
                        match found {
                            None => {
                                if !cx.is_broken("consumer", name) {
                                    cx.err_help(
                                        span,
                                        format!("target function `{name}` is not a consumer"),
                                        "declare it with [[consumer]] kind = \"function\", source = the bus",
                                    );
                                }
                                None
                            }
                            Some(g) if services[g].function.is_none() => {
                                cx.err_help(
                                    span,
                                    format!("`{name}` is a service, not a function"),
                                    "make a queue the target and let the service read it, or set kind = \"function\"",
                                );
                                None
                            }
                            Some(g) if services[g].source != Channel::Bus(bi) => {
                                cx.err_help(
                                    span,
                                    format!(
                                        "function `{name}` reads `{}`, not `{}`",
                                        channels.name_of(services[g].source),
                                        b.v.name
                                    ),
                                    "set the function's source to this bus",
                                );
                                None
                            }
                            Some(g) => {
                                targeted[g] = true;
                                Some(BusTarget::Function(g))
                            }
                        }
                    }
                    _ => match channels.find(name, span.clone(), "rule target", cx) {
                        None => None,
                        Some(Channel::Queue(q)) if queues[q].rabbit.is_some() => {
                            cx.err_help(
                                span,
                                format!("`{name}` is a RabbitMQ queue, and a bus delivers to SQS-like queues"),
                                "target an SQS-like [[queue]] (no type)",
                            );
                            None
                        }
                        Some(Channel::Queue(q)) => Some(BusTarget::Queue(q)),
                        Some(Channel::Pubsub(p)) => Some(BusTarget::Pubsub(p)),
                        Some(Channel::Bus(x)) if x == bi => {
                            cx.err_help(
                                span,
                                format!("a rule of `{name}` targets its own bus"),
                                "every event it matches would come back to the same rule: target another bus",
                            );
                            None
                        }
                        Some(Channel::Bus(x)) => Some(BusTarget::Bus(x)),
                        Some(other) => {
                            cx.err_help(
                                span,
                                format!("`{name}` is a {}, which a rule does not target", other.kind()),
                                "a rule's targets are SQS-like queues, pubsubs, functions and other buses",
                            );
                            None
                        }
                    },
                };
                if let Some(t) = target {
                    if key != "function" && key != t.channel().map_or("function", Channel::kind) {
                        cx.err_help(
                            tspan(key),
                            format!(
                                "`{name}` is a {}, not a {key}",
                                t.channel().map_or("function", Channel::kind)
                            ),
                            "name the endpoint under the key of its kind",
                        );
                    }
                    if targets.contains(&t) {
                        cx.err(
                            tspan(key),
                            format!("`{name}` is a target of `{}` twice", r.name),
                        );
                    }
                    targets.push(t);
                }
            }
            let max_attempts = r.max_attempts.unwrap_or(BUS_MAX_RETRIES);
            if max_attempts > BUS_MAX_RETRIES {
                cx.err(
                    span_of("max_attempts"),
                    format!("max_attempts must be between 0 and {BUS_MAX_RETRIES} (EventBridge's MaximumRetryAttempts), found {max_attempts}"),
                );
            }
            let max_age = r.max_age.map_or(BUS_MAX_EVENT_AGE, |d| d.0.0);
            if !(BUS_MIN_EVENT_AGE..=BUS_MAX_EVENT_AGE).contains(&max_age) {
                cx.err(
                    span_of("max_age"),
                    format!(
                        "max_age must be between 60s and 24h (EventBridge's MaximumEventAgeInSeconds), found {}",
                        SimDuration(max_age)
                    ),
                );
            }
            let dead_letter = r.dead_letter.as_ref().and_then(|d| {
                let q = channels.find_queue(d, span_of("dead_letter"), "dead-letter queue", cx)?;
                if queues[q].rabbit.is_some() || queues[q].fifo {
                    cx.err_help(
                        span_of("dead_letter"),
                        format!("`{d}` is not a standard SQS-like queue"),
                        "EventBridge's dead-letter queues are standard SQS queues",
                    );
                    return None;
                }
                Some(q)
            });
            if let Some(pattern) = pattern {
                rules.push(RuleModel {
                    name: r.name.clone(),
                    pattern,
                    targets,
                    max_attempts: max_attempts.min(BUS_MAX_RETRIES),
                    max_age: max_age.clamp(BUS_MIN_EVENT_AGE, BUS_MAX_EVENT_AGE),
                    dead_letter,
                });
            }
        }
        let pairs: usize = b.v.rule.iter().map(|r| r.targets.len()).sum();
        if b.v.archive.is_some() && pairs > 64 {
            cx.err_help(
                b.span(&["archive"]),
                format!("a bus with an archive has at most 64 rule targets here, `{}` has {pairs}", b.v.name),
                "the archive remembers which targets each event reached in one 64-bit word: move some rules to another bus",
            );
        }
        let archive = b.v.archive.as_ref().map(|a| ArchiveModel {
            pattern: a.pattern.as_ref().and_then(|p| {
                event_pattern(p, "archive pattern", b.span(&["archive", "pattern"]), cx)
            }),
            retention: a.retention.map_or(0, |d| d.0.0),
        });
        rules.truncate(BUS_MAX_RULES);
        out.push(BusModel {
            name: b.v.name.clone(),
            rules,
            archive,
        });
    }
    // A loop of buses would pass an event round for ever.
    for (bi, b) in buses.iter().enumerate() {
        if let Some(path) = bus_loop(&out, bi) {
            let names: Vec<&str> = path.iter().map(|&x| out[x].name.as_str()).collect();
            cx.err_help(
                b.span(&["name"]),
                format!(
                    "buses target each other in a loop: {} → {}",
                    names.join(" → "),
                    b.v.name
                ),
                "an event matched on each would go round for ever: break the loop",
            );
            break;
        }
    }
    for (g, c) in consumers.iter().enumerate() {
        let Some(svc) = services.get(g) else { continue };
        if let (Some(_), Channel::Bus(b)) = (svc.function, svc.source)
            && !targeted[g]
            && let Some(bus) = buses.get(b)
        {
            cx.err_help(
                c.span(&["source"]),
                format!(
                    "function `{}` reads `{}`, and no rule of it targets the function",
                    svc.name, bus.v.name
                ),
                format!(
                    "add {{ function = \"{}\" }} to the targets of a [[bus.rule]] of `{}`",
                    svc.name, bus.v.name
                ),
            );
        }
    }
    out
}

/// The buses from `start` round to `start` again through bus targets, if they loop.
fn bus_loop(buses: &[BusModel], start: BusIdx) -> Option<Vec<BusIdx>> {
    fn walk(buses: &[BusModel], at: BusIdx, start: BusIdx, path: &mut Vec<BusIdx>) -> bool {
        if path.contains(&at) {
            return false;
        }
        path.push(at);
        for r in &buses[at].rules {
            for t in &r.targets {
                if let BusTarget::Bus(next) = *t
                    && (next == start || walk(buses, next, start, path))
                {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    walk(buses, start, start, &mut path).then_some(path)
}

/// `[[exchange]]`: each binding leads to one queue or exchange, with a binding key
/// for direct and topic exchanges and arguments for headers exchanges; an alternate
/// exchange is another exchange. Topic keys that RabbitMQ would take as literal words
/// although they look like patterns (`a#b`) are refused as typos.
fn exchange_models(
    exchanges: &[Elem<'_, '_, f::Exchange>],
    channels: &Channels<'_>,
    queues: &[QueueModel],
    cx: &mut Cx,
) -> (Vec<ExchangeModel>, Router) {
    use crate::broker::rabbit::routing::{self as r, Binding, Dest};
    let mut models = Vec::new();
    let mut defs = Vec::new();
    for (xi, x) in exchanges.iter().enumerate() {
        let kind = match x.v.kind {
            f::ExchangeKindDef::Direct => r::ExchangeKind::Direct,
            f::ExchangeKindDef::Fanout => r::ExchangeKind::Fanout,
            f::ExchangeKindDef::Topic => r::ExchangeKind::Topic,
            f::ExchangeKindDef::Headers => r::ExchangeKind::Headers,
        };
        let span_of = |i: usize, key: &str| x.item_span("binding", i, key);
        if x.v.binding.len() > MAX_BINDINGS {
            cx.err(
                x.span(&["binding"]),
                format!("an exchange has at most {MAX_BINDINGS} bindings here"),
            );
        }
        let alternate = x.v.alternate_exchange.as_ref().and_then(|name| {
            let span = x.span(&["alternate_exchange"]);
            match channels.find(name, span.clone(), "alternate_exchange", cx)? {
                Channel::Exchange(a) if a == xi => {
                    cx.err(span, "an exchange is not its own alternate exchange");
                    None
                }
                Channel::Exchange(a) => Some(a),
                other => {
                    cx.err_help(
                        span,
                        format!(
                            "alternate_exchange `{name}` is a {}, not an exchange",
                            other.kind()
                        ),
                        "an alternate exchange is an [[exchange]]; bind the queue to it",
                    );
                    None
                }
            }
        });
        let mut bindings = Vec::new();
        for (i, b) in x.v.binding.iter().enumerate() {
            let dest = match (&b.queue, &b.exchange) {
                (Some(_), Some(_)) => {
                    cx.err_help(
                        span_of(i, "exchange"),
                        "a binding leads to a queue or an exchange, not both",
                        "give each destination its own [[exchange.binding]]",
                    );
                    None
                }
                (None, None) => {
                    cx.err_help(
                        span_of(i, "queue"),
                        "a binding leads nowhere",
                        "set queue = \"...\" or exchange = \"...\"",
                    );
                    None
                }
                (Some(q), None) => {
                    let span = span_of(i, "queue");
                    match channels.find(q, span.clone(), "binding queue", cx) {
                        Some(Channel::Queue(qi)) if queues.get(qi).is_some_and(|q| q.fifo) => {
                            cx.err_help(
                                span,
                                format!("`{q}` is a FIFO queue, which takes messages with a group id from a producer or a FIFO pubsub"),
                                "bind a standard queue; each queue keeps the order the exchange routed in",
                            );
                            None
                        }
                        Some(Channel::Queue(qi)) => Some(Dest::Queue(qi as u32)),
                        Some(other) => {
                            cx.err_help(
                                span,
                                format!("binding queue `{q}` is a {}, not a queue", other.kind()),
                                "an exchange binds [[queue]]s, or other exchanges with exchange = ...",
                            );
                            None
                        }
                        None => None,
                    }
                }
                (None, Some(e)) => {
                    let span = span_of(i, "exchange");
                    match channels.find(e, span.clone(), "binding exchange", cx) {
                        Some(Channel::Exchange(ei)) => Some(Dest::Exchange(ei as u32)),
                        Some(other) => {
                            cx.err_help(
                                span,
                                format!(
                                    "binding exchange `{e}` is a {}, not an exchange",
                                    other.kind()
                                ),
                                "bind queues with queue = ..., exchanges with exchange = ...",
                            );
                            None
                        }
                        None => None,
                    }
                }
            };
            let key = b.key.clone().unwrap_or_default();
            match kind {
                r::ExchangeKind::Fanout | r::ExchangeKind::Headers if b.key.is_some() => {
                    cx.err_help(
                        span_of(i, "key"),
                        format!("a {} exchange ignores binding keys", x.v.kind.name()),
                        "route by key with a direct or topic exchange",
                    );
                }
                r::ExchangeKind::Topic => {
                    if let Some(problem) = r::topic_key_problem(&key) {
                        cx.err_help(
                            span_of(i, "key"),
                            problem,
                            "`*` matches one word and `#` zero or more, each as a whole word between dots (\"orders.*.created\", \"orders.#\")",
                        );
                    }
                }
                r::ExchangeKind::Direct if key.len() > 255 => {
                    cx.err(
                        span_of(i, "key"),
                        format!(
                            "a binding key has at most 255 bytes, this one has {}",
                            key.len()
                        ),
                    );
                }
                _ => {}
            }
            let headers = match (&b.arguments, kind) {
                (Some(_), k) if k != r::ExchangeKind::Headers => {
                    cx.err_help(
                        span_of(i, "arguments"),
                        format!("a {} exchange ignores binding arguments", x.v.kind.name()),
                        "match on headers with a headers exchange",
                    );
                    None
                }
                (Some(v), _) => match binding_arguments(v).and_then(r::HeadersMatch::new) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        cx.err(span_of(i, "arguments"), e);
                        None
                    }
                },
                (None, _) => None,
            };
            if let Some(dest) = dest {
                bindings.push(Binding::new(kind, dest, key, headers));
            }
        }
        models.push(ExchangeModel {
            name: x.v.name.clone(),
            kind,
            alternate,
        });
        defs.push(r::Exchange {
            kind,
            bindings,
            alternate: alternate.map(|a| a as u32),
        });
    }
    (models, Router::new(defs))
}

/// A headers binding's `arguments` table: strings, integers, floats, booleans, or
/// `{ present = true }` for a header that need only be there.
fn binding_arguments(
    v: &serde_json::Value,
) -> Result<Vec<(String, crate::broker::rabbit::routing::ArgValue)>, String> {
    use crate::broker::rabbit::routing::ArgValue;
    use serde_json::Value;
    let Value::Object(map) = v else {
        return Err(
            "arguments is a table, such as { \"x-match\" = \"any\", format = \"pdf\" }".to_string(),
        );
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let arg = match v {
            Value::String(s) => ArgValue::Str(s.clone()),
            Value::Bool(b) => ArgValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => ArgValue::Int(i),
                None => ArgValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Object(m) if m.len() == 1 && m.get("present") == Some(&Value::Bool(true)) => {
                ArgValue::Present
            }
            _ => {
                return Err(format!(
                    "argument `{k}` takes a string, a number, a boolean or {{ present = true }}"
                ));
            }
        };
        out.push((k.clone(), arg));
    }
    Ok(out)
}

/// Most subscriptions of one pubsub (every publish visits each of them).
pub const MAX_SUBSCRIPTIONS: usize = 1_000;

/// `[[pubsub]]`: each subscription names one queue or one function, FIFO topics deliver
/// to queues only and FIFO queues subscribe to FIFO topics only (as SNS requires), and
/// each filter policy is one SNS would accept. Every function that reads a pubsub must
/// be subscribed to it exactly once.
fn pubsub_models(
    pubsubs: &[Elem<'_, '_, f::Pubsub>],
    channels: &Channels<'_>,
    queues: &[QueueModel],
    services: &mut [ServiceModel],
    consumers: &[Elem<'_, '_, f::Consumer>],
    cx: &mut Cx,
) -> Vec<PubsubModel> {
    let mut out = Vec::new();
    let mut subscribed: Vec<u32> = vec![0; services.len()];
    for (pi, p) in pubsubs.iter().enumerate() {
        let fifo = p.v.fifo.unwrap_or(false);
        let span_of = |i: usize, key: &str| p.item_span("subscription", i, key);
        if p.v.subscription.len() > MAX_SUBSCRIPTIONS {
            cx.err(
                p.span(&["subscription"]),
                format!("a pubsub has at most {MAX_SUBSCRIPTIONS} subscriptions here"),
            );
        }
        let mut subs = Vec::new();
        for (i, sub) in p.v.subscription.iter().enumerate() {
            let target = match (&sub.queue, &sub.function) {
                (Some(_), Some(_)) => {
                    cx.err_help(
                        span_of(i, "function"),
                        "a subscription names a queue or a function, not both",
                        "give each endpoint its own [[pubsub.subscription]]",
                    );
                    None
                }
                (None, None) => {
                    cx.err_help(
                        span_of(i, "queue"),
                        "a subscription names no endpoint",
                        "set queue = \"...\" or function = \"...\"",
                    );
                    None
                }
                (Some(q), None) => channels
                    .find_queue(q, span_of(i, "queue"), "subscription queue", cx)
                    .and_then(|q| {
                        let qm = queues.get(q)?;
                        if qm.rabbit.is_some() {
                            cx.err_help(
                                span_of(i, "queue"),
                                format!("`{}` is a RabbitMQ queue, and a pubsub delivers to SQS-like queues", qm.name),
                                "bind it to an [[exchange]] instead, or subscribe an SQS-like [[queue]] (no type)",
                            );
                            return None;
                        }
                        if qm.fifo && !fifo {
                            cx.err_help(
                                span_of(i, "queue"),
                                format!("`{}` is a FIFO queue, and `{}` is a standard pubsub", qm.name, p.v.name),
                                "a FIFO queue subscribes to a FIFO pubsub only: set fifo = true on the pubsub",
                            );
                        }
                        Some(SubTarget::Queue(q))
                    }),
                (None, Some(fname)) => {
                    let span = span_of(i, "function");
                    let found = services.iter().position(|s| &s.name == fname);
                    if found.is_none() && !cx.is_broken("consumer", fname) {
                        cx.err_help(
                            span.clone(),
                            format!("subscription function `{fname}` is not a consumer"),
                            "declare it with [[consumer]] kind = \"function\", source = the pubsub",
                        );
                    }
                    found.and_then(|g| {
                        let name = &p.v.name;
                        match endpoint_problem(&services[g], pi, name, fifo, channels) {
                            Some((message, help)) => {
                                cx.err_help(span, message, help);
                                None
                            }
                            None => {
                                subscribed[g] += 1;
                                if subscribed[g] > 1 {
                                    cx.err(span, format!("function `{fname}` is subscribed twice"));
                                }
                                Some(SubTarget::Function(g))
                            }
                        }
                    })
                }
            };
            let body = sub.filter_policy_scope == Some(f::FilterScope::MessageBody);
            let filter = sub
                .filter_policy
                .as_ref()
                .and_then(|v| filter_policy(v, body, span_of(i, "filter_policy"), cx));
            if sub.filter_policy_scope.is_some() && sub.filter_policy.is_none() {
                cx.err(
                    span_of(i, "filter_policy_scope"),
                    "filter_policy_scope without a filter_policy",
                );
            }
            if let Some(target) = target {
                subs.push(SubscriptionModel {
                    target,
                    filter,
                    body,
                });
            }
        }
        out.push(PubsubModel {
            name: p.v.name.clone(),
            fifo,
            subscriptions: subs,
        });
    }
    for (g, c) in consumers.iter().enumerate() {
        let Some(svc) = services.get(g) else { continue };
        if let (Some(_), Channel::Pubsub(p)) = (svc.function, svc.source)
            && subscribed[g] == 0
            && !pubsubs.is_empty()
        {
            cx.err_help(
                c.span(&["source"]),
                format!(
                    "function `{}` reads `{}`, and no subscription of it names the function",
                    svc.name, pubsubs[p].v.name
                ),
                format!(
                    "add [[pubsub.subscription]] function = \"{}\" to `{}`",
                    svc.name, pubsubs[p].v.name
                ),
            );
        }
    }
    out
}

/// Why service `svc` cannot be an endpoint of pubsub `pi` (`name`, FIFO or not), as
/// (message, help); None if it can.
fn endpoint_problem(
    svc: &ServiceModel,
    pi: PubsubIdx,
    name: &str,
    fifo: bool,
    channels: &Channels<'_>,
) -> Option<(String, &'static str)> {
    let fname = &svc.name;
    if svc.function.is_none() {
        Some((
            format!("`{fname}` is a service, not a function"),
            "subscribe a queue and let the service read it, or set kind = \"function\"",
        ))
    } else if svc.source != Channel::Pubsub(pi) {
        Some((
            format!(
                "function `{fname}` reads `{}`, not `{name}`",
                channels.name_of(svc.source)
            ),
            "set the function's source to this pubsub",
        ))
    } else if fifo {
        Some((
            format!("`{name}` is a FIFO pubsub, which delivers to queues only"),
            "subscribe a FIFO queue, and let the function read it",
        ))
    } else {
        None
    }
}

/// A policy or pattern written as a TOML table, or as a JSON string (parsed here, or
/// reported at `span` as `what`).
fn json_or_table<'v>(
    v: &'v serde_json::Value,
    what: &str,
    span: Option<Range<usize>>,
    cx: &mut Cx,
) -> Option<std::borrow::Cow<'v, serde_json::Value>> {
    match v {
        serde_json::Value::String(text) => match serde_json::from_str(text) {
            Ok(x) => Some(std::borrow::Cow::Owned(x)),
            Err(e) => {
                cx.err(span, format!("{what} is not JSON: {e}"));
                None
            }
        },
        other => Some(std::borrow::Cow::Borrowed(other)),
    }
}

/// A subscription's filter policy, written as a TOML table or a JSON string, parsed as
/// SNS would for its scope (`body`: the message body), or reported at `span`.
fn filter_policy(
    v: &serde_json::Value,
    body: bool,
    span: Option<Range<usize>>,
    cx: &mut Cx,
) -> Option<Policy> {
    let v = json_or_table(v, "filter_policy", span.clone(), cx)?;
    let r = if body {
        Policy::parse_body(&v)
    } else {
        Policy::parse(&v)
    };
    r.map_err(|e| {
        cx.err_help(
            span,
            format!("SNS would refuse this filter policy: {e}"),
            "see the filter policy rules in the README",
        )
    })
    .ok()
}

/// Lambda's account-wide default concurrency, and the most an event source mapping's
/// `MaximumConcurrency` takes.
const FN_MAX_CONCURRENCY: u32 = 1_000;
/// Lambda's `MaximumRetryAttempts` for asynchronous invocations.
const FN_MAX_RETRIES: u32 = 2;
/// `MaximumEventAgeInSeconds`: 60 s to 6 h.
const FN_MIN_EVENT_AGE: u64 = 60 * NS;
const FN_MAX_EVENT_AGE: u64 = 6 * 3_600 * NS;
/// An SQS event source mapping: `MaximumBatchingWindowInSeconds` and batch sizes.
const FN_MAX_WINDOW: u64 = 300 * NS;
const FN_MAX_BATCH: u32 = 10_000;

/// The keys a function takes depend on how it is invoked: from a pubsub subscription
/// (asynchronously, per message) or by polling a queue (per batch).
fn check_function_keys(c: &Elem<'_, '_, f::Consumer>, source: Option<Channel>, cx: &mut Cx) {
    let v = &c.v;
    let scaling = [
        ("instances", v.instances.is_some()),
        ("concurrency", v.concurrency.is_some()),
    ];
    c.refuse(
        cx,
        &scaling,
        |key| format!("{key} does not apply to a function"),
        |_| "a function runs one invocation per unit of max_concurrency",
    );
    let kafka = [
        ("group", v.group.is_some()),
        ("ordering", v.ordering.is_some()),
        ("commit", v.commit.is_some()),
        ("commit_interval", v.commit_interval.is_some()),
        ("assignor", v.assignor.is_some()),
        ("session_timeout", v.session_timeout.is_some()),
        ("rebalance_time", v.rebalance_time.is_some()),
        ("wait_time", v.wait_time.is_some()),
        ("poll_interval", v.poll_interval.is_some()),
        ("visibility_heartbeat", v.visibility_heartbeat.is_some()),
        ("retry", v.retry.is_some()),
        ("dead_letter", v.dead_letter.is_some()),
    ];
    c.refuse(
        cx,
        &kafka,
        |key| format!("{key} does not apply to a function"),
        |key| match key {
            "retry" => {
                "an invocation from a pubsub is retried maximum_retry_attempts times; from a queue, a failed batch returns to the queue"
            }
            "dead_letter" => {
                "a function invoked from a pubsub sends failed events to on_failure; from a queue, use the queue's dead_letter"
            }
            _ => "Lambda manages polling and scaling",
        },
    );
    let (wrong, how): (Vec<(&str, bool)>, &str) = match source {
        Some(Channel::Pubsub(_) | Channel::Bus(_)) => (
            vec![
                ("batch_size", v.batch_size.is_some()),
                ("batching_window", v.batching_window.is_some()),
                ("partial_batch_response", v.partial_batch_response.is_some()),
            ],
            "invoked per message from a pubsub; batches are for functions that read a queue",
        ),
        Some(Channel::Queue(_)) => (
            vec![
                ("maximum_retry_attempts", v.maximum_retry_attempts.is_some()),
                ("maximum_event_age", v.maximum_event_age.is_some()),
                ("on_failure", v.on_failure.is_some()),
            ],
            "invoked from a queue: a failed batch returns to the queue, whose dead_letter takes what keeps failing",
        ),
        // Reported by `service_models`: nothing reads an exchange.
        Some(Channel::Exchange(_)) => return,
        Some(Channel::Topic(_)) => {
            cx.err_help(
                c.span(&["source"]),
                format!(
                    "a function reads a queue or a pubsub, and `{}` is a topic",
                    v.source
                ),
                "read the topic with a consumer (kind = \"service\")",
            );
            return;
        }
        None => return,
    };
    c.refuse(
        cx,
        &wrong,
        |key| format!("{key} does not apply to `{}`", v.name),
        |_| how,
    );
}

/// A function's invocation settings, in Lambda's ranges.
fn function_model(
    c: &Elem<'_, '_, f::Consumer>,
    source: Option<Channel>,
    queues: &[QueueModel],
    cx: &mut Cx,
) -> FunctionModel {
    let v = &c.v;
    let max_event_age = v.maximum_event_age.map_or(FN_MAX_EVENT_AGE, |d| d.0.0);
    check_range(
        cx,
        c.span(&["maximum_event_age"]),
        "maximum_event_age",
        max_event_age,
        FN_MIN_EVENT_AGE,
        FN_MAX_EVENT_AGE,
    );
    let batching_window = v.batching_window.map_or(0, |d| d.0.0);
    check_range(
        cx,
        c.span(&["batching_window"]),
        "batching_window",
        batching_window,
        0,
        FN_MAX_WINDOW,
    );
    if let Some(Channel::Queue(q)) = source
        && let Some(qm) = queues.get(q)
    {
        if qm.fifo && batching_window > 0 {
            cx.err_help(
                c.span(&["batching_window"]),
                "batching_window does not apply to a FIFO queue",
                "Lambda takes no batching window from FIFO queues",
            );
        }
        let batch = v.batch_size.unwrap_or(SQS_MAX_BATCH);
        if !qm.fifo && batch > SQS_MAX_BATCH && batching_window < NS {
            cx.err_help(
                c.span(&["batch_size"]),
                format!(
                    "a batch_size above {SQS_MAX_BATCH} needs a batching_window of at least 1s"
                ),
                "Lambda requires MaximumBatchingWindowInSeconds >= 1 for batches above 10",
            );
        }
    }
    FunctionModel {
        max_event_age: max_event_age.clamp(FN_MIN_EVENT_AGE, FN_MAX_EVENT_AGE),
        partial_batch: v.partial_batch_response.unwrap_or(false),
        batching_window: batching_window.min(FN_MAX_WINDOW),
    }
}

/// A function's retries: from a pubsub, Lambda's asynchronous retries (one minute, then
/// two minutes); from a queue, none (the batch returns to the queue).
fn function_retry(
    c: &Elem<'_, '_, f::Consumer>,
    source: Option<Channel>,
    cx: &mut Cx,
) -> RetryModel {
    let retries = match source {
        Some(Channel::Pubsub(_) | Channel::Bus(_)) => {
            let r = c.v.maximum_retry_attempts.unwrap_or(FN_MAX_RETRIES);
            if r > FN_MAX_RETRIES {
                cx.err(
                    c.span(&["maximum_retry_attempts"]),
                    format!(
                        "maximum_retry_attempts must be between 0 and {FN_MAX_RETRIES}, found {r}"
                    ),
                );
            }
            r.min(FN_MAX_RETRIES)
        }
        _ => 0,
    };
    RetryModel {
        max_attempts: retries + 1,
        backoff: Backoff::Exponential,
        initial: SimDuration::from_secs(60),
        max: SimDuration::from_secs(120),
        multiplier: 2.0,
        jitter: false,
    }
}

/// Keys of a consumer that only one kind of source takes: Kafka's group settings for a
/// topic, SQS's receive settings for a queue.
fn check_consumer_keys(c: &Elem<'_, '_, f::Consumer>, source: Option<Channel>, cx: &mut Cx) {
    let v = &c.v;
    c.refuse(
        cx,
        &[
            ("max_concurrency", v.max_concurrency.is_some()),
            ("maximum_retry_attempts", v.maximum_retry_attempts.is_some()),
            ("maximum_event_age", v.maximum_event_age.is_some()),
            ("on_failure", v.on_failure.is_some()),
            ("batching_window", v.batching_window.is_some()),
            ("partial_batch_response", v.partial_batch_response.is_some()),
        ],
        |key| format!("{key} applies to functions only"),
        |_| "set kind = \"function\", or remove it",
    );
    let (wrong, kind, help): (Vec<(&str, bool)>, &str, &str) = match source {
        Some(Channel::Topic(_)) => (
            vec![
                ("batch_size", v.batch_size.is_some()),
                ("wait_time", v.wait_time.is_some()),
                ("poll_interval", v.poll_interval.is_some()),
                ("visibility_heartbeat", v.visibility_heartbeat.is_some()),
            ],
            "an SQS receive setting",
            "it applies to consumers of a queue",
        ),
        Some(Channel::Queue(_)) => (
            vec![
                ("group", v.group.is_some()),
                ("ordering", v.ordering.is_some()),
                ("commit", v.commit.is_some()),
                ("commit_interval", v.commit_interval.is_some()),
                ("assignor", v.assignor.is_some()),
                ("session_timeout", v.session_timeout.is_some()),
                ("rebalance_time", v.rebalance_time.is_some()),
            ],
            "a Kafka consumer-group setting",
            "a queue consumer deletes each message it processed; a FIFO queue keeps order per message group",
        ),
        // Reported by `service_models`: a service does not read a pubsub.
        Some(Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_)) | None => return,
    };
    c.refuse(
        cx,
        &wrong,
        |key| {
            format!(
                "{key} is {kind}, and `{}` is a {}",
                v.source,
                source.map_or("", Channel::kind)
            )
        },
        |_| help,
    );
}

/// How a queue consumer receives: batch size, polling, heartbeat, in SQS's ranges.
fn receive_model(
    c: &Elem<'_, '_, f::Consumer>,
    source: Option<Channel>,
    queues: &[QueueModel],
    is_function: bool,
    cx: &mut Cx,
) -> ReceiveModel {
    let v = &c.v;
    // An event source mapping takes up to 10,000 records from a standard queue (it
    // receives several times to fill a batch), 10 from a FIFO queue.
    let fifo = source
        .and_then(Channel::queue)
        .and_then(|q| queues.get(q))
        .is_some_and(|q| q.fifo);
    let (default, max) = match (is_function, fifo) {
        (true, false) => (SQS_MAX_BATCH, FN_MAX_BATCH),
        (true, true) => (SQS_MAX_BATCH, SQS_MAX_BATCH),
        (false, _) => (1, SQS_MAX_BATCH),
    };
    let batch_size = v.batch_size.unwrap_or(default);
    if batch_size == 0 || batch_size > max {
        cx.err(
            c.span(&["batch_size"]),
            format!("batch_size must be between 1 and {max}, found {batch_size}"),
        );
    }
    let queue_wait = source
        .and_then(Channel::queue)
        .and_then(|q| queues.get(q))
        .map_or(0, |q| q.wait_time);
    let wait_time = v.wait_time.map_or(queue_wait, |d| d.0.0);
    check_range(
        cx,
        c.span(&["wait_time"]),
        "wait_time",
        wait_time,
        0,
        SQS_MAX_WAIT,
    );
    let poll_interval = v.poll_interval.map_or(NS, |d| d.0.0);
    if poll_interval == 0 {
        cx.err(
            c.span(&["poll_interval"]),
            "poll_interval must be longer than 0",
        );
    }
    let heartbeat = v.visibility_heartbeat.as_ref().map(|h| {
        if h.every.0.0 == 0 {
            cx.err(
                c.span(&["visibility_heartbeat", "every"]),
                "visibility_heartbeat every must be longer than 0",
            );
        }
        check_range(
            cx,
            c.span(&["visibility_heartbeat", "timeout"]),
            "visibility_heartbeat timeout",
            h.timeout.0.0,
            0,
            SQS_MAX_VISIBILITY,
        );
        (h.every.0.0.max(1), h.timeout.0.0)
    });
    ReceiveModel {
        batch_size: batch_size.clamp(1, max),
        wait_time,
        poll_interval: poll_interval.max(1),
        heartbeat,
    }
}

/// A consumer's `emits`: (event number, target topic) for each target that resolves.
fn emit_models(
    c: &Elem<'_, '_, f::Consumer>,
    channels: &Channels<'_>,
    events: &mut Events,
    cx: &mut Cx,
) -> Vec<(EventIdx, Channel)> {
    let emit_trees = c
        .tree
        .get_ref()
        .get("emits")
        .and_then(|v| v.get_ref().as_array());
    let mut emits = Vec::new();
    for (i, e) in c.v.emits.iter().enumerate() {
        let span = emit_trees
            .and_then(|a| a.get(i))
            .and_then(|v| v.get_ref().get("target"))
            .map(|v| v.span());
        if let Some(t) = channels.find(&e.target, span, "emits target", cx) {
            emits.push((events.id(&e.event), t));
        }
    }
    emits
}

/// What a fault's names may refer to.
struct FaultScope<'m> {
    producers: &'m [ProducerModel],
    topics: &'m [TopicModel],
    services: &'m [ServiceModel],
    sagas: &'m [SagaModel],
    buses: &'m [BusModel],
    channels: &'m Channels<'m>,
}

impl FaultScope<'_> {
    /// The component `name` names.
    fn node(&self, name: &str) -> Option<Node> {
        if let Some(g) = self.services.iter().position(|s| s.name == name) {
            return Some(Node::Service(g));
        }
        if let Some(&c) = self.channels.idx.get(name) {
            return Some(Node::Broker(c));
        }
        self.producers
            .iter()
            .position(|p| p.name == name)
            .map(Node::Producer)
    }

    /// Whether messages go from `from` to `to` directly: a publisher writes the
    /// broker (its events, dead letters or a saga's messages), or the broker delivers
    /// to the service.
    fn flows(&self, from: Node, to: Node) -> bool {
        match (from, to) {
            (Node::Producer(p), Node::Broker(c)) => self.producers[p].target == c,
            (Node::Service(g), Node::Broker(c)) => {
                let s = &self.services[g];
                s.emits.iter().any(|&(_, t)| t == c)
                    || s.dead_letter == Some(c)
                    || crate::model::saga_writes(self.sagas, self.services, g).contains(&c)
            }
            (Node::Broker(c), Node::Service(g)) => self.services[g].source == c,
            // A bus's deliveries to the targets of its rules.
            (Node::Broker(Channel::Bus(b)), Node::Broker(c)) => self.buses[b]
                .rules
                .iter()
                .flat_map(|r| &r.targets)
                .any(|t| t.channel() == Some(c)),
            _ => false,
        }
    }

    fn kinds(&self) -> String {
        let mut names: Vec<String> = self
            .services
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect();
        names.truncate(8);
        names.join(", ")
    }
}

/// `[[fault]]`: each target resolves to what its kind hits (a consumer or one of its
/// instances, a broker, a partition, a producer, a link), the fault starts within the
/// run, and two scheduled crashes of one instance do not overlap.
fn fault_models(
    faults: &[Elem<'_, '_, f::Fault>],
    scope: &FaultScope<'_>,
    duration: SimDuration,
    cx: &mut Cx,
) -> Vec<FaultModel> {
    let mut fault_models: Vec<FaultModel> = Vec::new();
    for fl in faults {
        if fl.v.target == STUB_NAME {
            continue;
        }
        let Some(target) = fault_target(fl, scope, cx) else {
            continue;
        };
        let at = fl.v.at.map_or(SimDuration::ZERO, |a| a.0);
        if at > duration {
            cx.err(
                fl.span(&["at"]),
                format!("fault at {at} is after the end of the run ({duration})"),
            );
        }
        let random = match (fl.v.mtbf, fl.v.mttr) {
            (None, None) => {
                if fl.v.at.is_none() {
                    cx.err_help(
                        fl.span(&["kind"]),
                        "a fault needs `at` (a scheduled fault) or `mtbf` and `mttr` (a random one)",
                        "add at = \"30s\" and duration = \"10s\", or mtbf = \"10m\" and mttr = \"30s\"",
                    );
                }
                None
            }
            (Some(b), Some(r)) => {
                if fl.v.duration.is_some() {
                    cx.err(
                        fl.span(&["duration"]),
                        "a random fault's length is drawn with mean `mttr`: drop `duration`",
                    );
                }
                for (d, key) in [(b, "mtbf"), (r, "mttr")] {
                    if d.0 == SimDuration::ZERO {
                        cx.err(fl.span(&[key]), format!("{key} must be above 0"));
                    }
                }
                Some((b.0.0.max(1), r.0.0.max(1)))
            }
            (Some(_), None) => {
                cx.err(
                    fl.span(&["mtbf"]),
                    "`mtbf` needs `mttr`, the mean time to repair",
                );
                None
            }
            (None, Some(_)) => {
                cx.err(
                    fl.span(&["mttr"]),
                    "`mttr` needs `mtbf`, the mean time between failures",
                );
                None
            }
        };
        let ordinal = fault_models
            .iter()
            .filter(|m| m.kind == fl.v.kind && m.target == target)
            .count() as u32;
        let (factor, delay) = fault_effect(fl, cx);
        let fraction = poison_fraction(fl, cx);
        let model = FaultModel {
            kind: fl.v.kind,
            at: at.0,
            target,
            duration: fl.v.duration.map(|d| d.0),
            factor,
            delay,
            fraction,
            random,
            ordinal,
        };
        if let Some(other) = overlapping_crash(&fault_models, &model).filter(|_| fl.v.at.is_some())
        {
            cx.err_help(
                fl.span(&["at"]).or(fl.span(&["target"])),
                format!(
                    "this crash of `{}` overlaps the crash of `{}` at {}: the first restart would end both",
                    crash_target(scope.services, &model),
                    crash_target(scope.services, &fault_models[other]),
                    SimDuration(fault_models[other].at)
                ),
                "start it after the other one has restarted, or give it another instance",
            );
        }
        fault_models.push(model);
    }
    fault_models
}

/// The instance or service a crash hits, as a scenario names it.
fn crash_target(services: &[ServiceModel], f: &FaultModel) -> String {
    match f.service() {
        Some((g, Some(i))) => services[g].member_id(i as usize),
        Some((g, None)) => services[g].name.clone(),
        None => String::new(),
    }
}

/// The first scheduled crash in `earlier` that is still under way when `f` (a
/// scheduled crash) starts, on an instance `f` also hits.
fn overlapping_crash(earlier: &[FaultModel], f: &FaultModel) -> Option<usize> {
    if f.kind != f::FaultKind::Crash || f.random.is_some() {
        return None;
    }
    let (g, inst) = f.service()?;
    let end = |m: &FaultModel| m.duration.map_or(u64::MAX, |d| m.at.saturating_add(d.0));
    earlier.iter().position(|m| {
        m.kind == f::FaultKind::Crash
            && m.random.is_none()
            && m.service()
                .is_some_and(|(h, j)| h == g && (j.is_none() || inst.is_none() || j == inst))
            && m.at < end(f)
            && f.at < end(m)
    })
}

/// What fault `fl` hits, as its kind requires; None (reported) when it names
/// nothing fit.
fn fault_target(
    fl: &Elem<'_, '_, f::Fault>,
    scope: &FaultScope<'_>,
    cx: &mut Cx,
) -> Option<FaultTarget> {
    use f::FaultKind as K;
    let kind = fl.v.kind;
    let span = fl.span(&["target"]);
    let spelled = kind.name();
    let link = fl.v.peer.is_some();
    if fl.v.peer.is_some() && !matches!(kind, K::Latency | K::NetworkPartition) {
        cx.err(
            fl.span(&["peer"]),
            format!("`peer` belongs to kind = \"latency\" (on a link) and kind = \"network_partition\" only, not {spelled}"),
        );
    }
    if fl.v.one_way.is_some() && kind != K::NetworkPartition {
        cx.err(
            fl.span(&["one_way"]),
            "`one_way` belongs to kind = \"network_partition\" only (a latency fault is always one way, from target to peer)",
        );
    }
    if fl.v.partition.is_some() && kind != K::PartitionOutage {
        cx.err(
            fl.span(&["partition"]),
            "`partition` belongs to kind = \"partition_outage\" only",
        );
    }
    if matches!(kind, K::NetworkPartition) || (kind == K::Latency && link) {
        let Some(peer) = fl.v.peer.as_deref() else {
            cx.err_help(
                fl.span(&["kind"]),
                "a network partition needs a `peer`, the other end of the link",
                "add peer = \"orders\": the broker the target reads or writes",
            );
            return None;
        };
        let from = resolve_node(&fl.v.target, span.clone(), scope, cx);
        let to = resolve_node(peer, fl.span(&["peer"]), scope, cx);
        let ((from, fi), (to, ti)) = (from?, to?);
        let instance = fi.or(ti);
        let both = kind == K::NetworkPartition && !fl.v.one_way.unwrap_or(false);
        let ok = if both {
            scope.flows(from, to) || scope.flows(to, from)
        } else {
            scope.flows(from, to)
        };
        if !ok {
            let (a, b) = (&fl.v.target, peer);
            let help = if scope.flows(to, from) {
                format!("messages go from `{b}` to `{a}`: swap target and peer")
            } else {
                "a link joins a broker and a producer or consumer that writes or reads it"
                    .to_string()
            };
            cx.err_help(
                fl.span(&["peer"]),
                format!("no messages go from `{a}` to `{b}`, so there is no link to hit"),
                help,
            );
            return None;
        }
        let bus_link = match (from, to) {
            (Node::Broker(Channel::Bus(_)), Node::Broker(_)) => true,
            (Node::Broker(_), Node::Broker(Channel::Bus(_))) if both => true,
            (Node::Broker(_), Node::Broker(_)) => {
                cx.err(
                    fl.span(&["peer"]),
                    "a link joins a broker and a producer or consumer, not two brokers (but a bus and a rule's target)",
                );
                return None;
            }
            (Node::Broker(Channel::Bus(_)), Node::Service(_)) => true,
            _ => false,
        };
        if bus_link && kind != K::NetworkPartition {
            cx.err_help(
                fl.span(&["kind"]),
                "a bus's deliveries to its targets are cut by a network_partition only",
                "EventBridge's deliveries fail or succeed; model a slow target with a latency on its consumer",
            );
            return None;
        }
        // Bus to target, whichever way round the fault names them.
        let (from, to) = match (from, to) {
            (Node::Broker(c), Node::Broker(b @ Channel::Bus(_))) => {
                (Node::Broker(b), Node::Broker(c))
            }
            pair => pair,
        };
        return Some(FaultTarget::Link {
            from,
            to,
            both,
            instance,
        });
    }
    match kind {
        K::BrokerOutage => match scope.channels.idx.get(fl.v.target.as_str()) {
            Some(&c) => Some(FaultTarget::Broker(c)),
            None => {
                cx.err_help(
                    span,
                    format!(
                        "fault target `{}` is not a topic, queue or pubsub",
                        fl.v.target
                    ),
                    "a broker_outage hits a broker; to stop a consumer, use kind = \"crash\"",
                );
                None
            }
        },
        K::PartitionOutage => {
            let Some(&Channel::Topic(t)) = scope.channels.idx.get(fl.v.target.as_str()) else {
                cx.err_help(
                    span,
                    format!("fault target `{}` is not a topic", fl.v.target),
                    "a partition_outage hits one partition of a [[topic]]",
                );
                return None;
            };
            let n = scope.topics[t].partitions;
            match fl.v.partition {
                Some(p) if p < n => Some(FaultTarget::Partition {
                    topic: t,
                    partition: p,
                }),
                Some(p) => {
                    cx.err(
                        fl.span(&["partition"]),
                        format!(
                            "`{}` has partitions 0 to {}, so partition {p} does not exist",
                            fl.v.target,
                            n.saturating_sub(1)
                        ),
                    );
                    None
                }
                None => {
                    cx.err_help(
                        fl.span(&["kind"]),
                        "a partition_outage needs a `partition`",
                        "add partition = 0 (partitions are numbered from 0)",
                    );
                    None
                }
            }
        }
        K::Poison => match scope.producers.iter().position(|p| p.name == fl.v.target) {
            Some(p) => Some(FaultTarget::Producer(p)),
            None => {
                let known: Vec<String> = scope
                    .producers
                    .iter()
                    .map(|p| format!("`{}`", p.name))
                    .collect();
                cx.err_help(
                    span,
                    format!("fault target `{}` is not a producer", fl.v.target),
                    format!(
                        "poison hits what a producer sends; producers: {}",
                        known.join(", ")
                    ),
                );
                None
            }
        },
        K::Crash | K::Errors | K::Latency | K::Slowdown | K::NetworkPartition => {
            let (name, inst) = match fl.v.target.split_once('#') {
                Some((n, i)) => (n, Some(i)),
                None => (fl.v.target.as_str(), None),
            };
            if cx.is_broken("consumer", name) {
                return None;
            }
            let Some(s) = scope.services.iter().position(|s| s.name == name) else {
                let help = if kind == K::Latency && scope.node(name).is_some() {
                    format!(
                        "a latency fault without `peer` slows a consumer's processing; to delay a link, add peer = \"...\"; consumers: {}",
                        scope.kinds()
                    )
                } else {
                    format!(
                        "expected `consumer` or `consumer#N`; consumers: {}",
                        scope.kinds()
                    )
                };
                cx.err_help(
                    span,
                    format!("fault target `{}` is not a consumer", fl.v.target),
                    help,
                );
                return None;
            };
            let services = scope.services;
            let instance = match inst {
                None => None,
                Some(i) => match i.parse::<u32>() {
                    Ok(n) if n >= 1 && n <= services[s].instances => Some(n - 1),
                    _ => {
                        cx.err(
                            span,
                            match services[s].instances {
                                n if services[s].function.is_some() => format!(
                                    "`{name}` is a function with execution environments #1 to #{n} (its max_concurrency), so `{}` does not exist",
                                    fl.v.target
                                ),
                                1 => format!(
                                    "`{name}` has one instance, #1, so `{}` does not exist",
                                    fl.v.target
                                ),
                                n => format!(
                                    "`{name}` has instances #1 to #{n}, so `{}` does not exist",
                                    fl.v.target
                                ),
                            },
                        );
                        return None;
                    }
                },
            };
            Some(FaultTarget::Service {
                service: s,
                instance,
            })
        }
    }
}

/// The component `name` names, for a link (`consumer#N`: one instance of it);
/// reported when it names none.
fn resolve_node(
    name: &str,
    span: Option<Range<usize>>,
    scope: &FaultScope<'_>,
    cx: &mut Cx,
) -> Option<(Node, Option<u32>)> {
    let (base, inst) = match name.split_once('#') {
        Some((n, i)) => (n, Some(i)),
        None => (name, None),
    };
    let Some(node) = scope.node(base) else {
        cx.err_help(
            span,
            format!("`{name}` is not a producer, consumer, topic, queue or pubsub"),
            "a link joins a broker and a producer or consumer that writes or reads it",
        );
        return None;
    };
    let Some(i) = inst else {
        return Some((node, None));
    };
    match (node, i.parse::<u32>()) {
        (Node::Service(g), Ok(n)) if n >= 1 && n <= scope.services[g].instances => {
            Some((node, Some(n - 1)))
        }
        (Node::Service(g), _) => {
            cx.err(
                span,
                format!(
                    "`{base}` has instances #1 to #{}, so `{name}` does not exist",
                    scope.services[g].instances
                ),
            );
            None
        }
        _ => {
            cx.err(
                span,
                format!("only a consumer has instances (`{base}#N`), and `{base}` is not one"),
            );
            None
        }
    }
}

/// A poison fault's `fraction`: it needs one, in (0, 1]; other kinds take none.
fn poison_fraction(fl: &Elem<'_, '_, f::Fault>, cx: &mut Cx) -> f64 {
    match (fl.v.kind, fl.v.fraction) {
        (f::FaultKind::Poison, Some(x)) if x > 0.0 && x <= 1.0 => x,
        (f::FaultKind::Poison, Some(x)) => {
            cx.err(
                fl.span(&["fraction"]),
                format!("fraction must be above 0 and at most 1, found {}", num(x)),
            );
            0.0
        }
        (f::FaultKind::Poison, None) => {
            cx.err_help(
                fl.span(&["kind"]),
                "a poison fault needs a `fraction`",
                "add fraction = 0.01 for one message in a hundred",
            );
            0.0
        }
        (_, Some(_)) => {
            cx.err(
                fl.span(&["fraction"]),
                "`fraction` belongs to kind = \"poison\" only",
            );
            0.0
        }
        (_, None) => 0.0,
    }
}

/// A fault's `factor` and `delay`: each belongs to its kind, and that kind needs it.
fn fault_effect(fl: &Elem<'_, '_, f::Fault>, cx: &mut Cx) -> (f64, Option<ProcessingModel>) {
    let kind = fl.v.kind;
    let mut factor = 1.0;
    match (kind, fl.v.factor) {
        (f::FaultKind::Slowdown, Some(x)) if x.is_finite() && x > 0.0 && x <= 1e6 => factor = x,
        (f::FaultKind::Slowdown, Some(x)) => cx.err(
            fl.span(&["factor"]),
            format!(
                "factor must be above 0 and at most 1000000, found {}",
                num(x)
            ),
        ),
        (f::FaultKind::Slowdown, None) => cx.err_help(
            fl.span(&["kind"]),
            "a slowdown needs a `factor`",
            "add factor = 3 for processing three times as slow",
        ),
        (_, Some(_)) => cx.err(
            fl.span(&["factor"]),
            "`factor` belongs to kind = \"slowdown\" only",
        ),
        (_, None) => {}
    }
    let delay = match (kind, &fl.v.delay) {
        (f::FaultKind::Latency, Some(f::Delay::Fixed(d))) => Some(ProcessingModel::Constant(d.0.0)),
        (f::FaultKind::Latency, Some(f::Delay::Dist(d))) => {
            Some(dist_model(d, |k| fl.span(&["delay", k]), cx))
        }
        (f::FaultKind::Latency, None) => {
            cx.err_help(
                fl.span(&["kind"]),
                "a latency fault needs a `delay`",
                "add delay = \"200ms\" (or any processing distribution, as delay = { dist = \"exponential\", mean = \"200ms\" })",
            );
            None
        }
        (_, Some(_)) => {
            cx.err(
                fl.span(&["delay"]),
                "`delay` belongs to kind = \"latency\" only",
            );
            None
        }
        (_, None) => None,
    };
    (factor, delay)
}

/// SQS's highest redrive rate, messages per second.
const SQS_MAX_REDRIVE_RATE: f64 = 500.0;

/// `[[action]]`: a redrive moves from a dead-letter queue (of some queue's redrive
/// policy, as SQS requires) to a queue of the same kind, at a rate SQS allows, within
/// the run.
fn action_models(
    actions: &[Elem<'_, '_, f::Action>],
    channels: &Channels<'_>,
    queues: &[QueueModel],
    buses: &[Elem<'_, '_, f::Bus>],
    duration: SimDuration,
    cx: &mut Cx,
) -> Vec<ActionModel> {
    let mut models = Vec::new();
    for a in actions {
        if a.v.at.0 > duration {
            cx.err(
                a.span(&["at"]),
                format!(
                    "action at {} is after the end of the run ({duration})",
                    a.v.at.0
                ),
            );
        }
        if a.v.kind == f::ActionKind::Replay {
            if let Some(m) = replay_model(a, channels, buses, cx) {
                models.push(m);
            }
            continue;
        }
        a.refuse(
            cx,
            &[
                ("bus", a.v.bus.is_some()),
                ("from", a.v.from.is_some()),
                ("until", a.v.until.is_some()),
                ("rules", a.v.rules.is_some()),
            ],
            |key| format!("{key} is a setting of a replay, not of a redrive"),
            |_| "a redrive names its dead-letter queue (queue) and maybe a destination (to)",
        );
        let Some(queue) = a.v.queue.as_deref() else {
            cx.err_help(
                a.span(&[]),
                "a redrive names the dead-letter queue whose messages move",
                "add queue = \"...\"",
            );
            continue;
        };
        let from = channels.find_queue(queue, a.span(&["queue"]), "redrive queue", cx);
        if let Some(q) = from
            && queues[q].dlq_of.is_empty()
        {
            cx.err_help(
                a.span(&["queue"]),
                format!("`{queue}` is no queue's dead-letter queue"),
                "a redrive moves messages from a queue that some queue's dead_letter names",
            );
        }
        let to =
            a.v.to
                .as_ref()
                .and_then(|t| channels.find_queue(t, a.span(&["to"]), "redrive destination", cx));
        if let Some(t) = to
            && queues[t].rabbit.is_some()
        {
            cx.err_help(
                a.span(&["to"]),
                format!(
                    "`{}` is a RabbitMQ queue, and a redrive moves messages between SQS queues",
                    queues[t].name
                ),
                "name an SQS-like [[queue]] (no type)",
            );
        }
        if let (Some(f), Some(t)) = (from, to)
            && queues[f].fifo != queues[t].fifo
        {
            cx.err_help(
                a.span(&["to"]),
                "a redrive destination must be of the dead-letter queue's kind (FIFO or standard)",
                "SQS moves messages between queues of the same type only",
            );
        }
        let gap = action_gap(a, SQS_MAX_REDRIVE_RATE, "messages", cx);
        if let Some(from) = from {
            models.push(ActionModel {
                at: a.v.at.0.0,
                kind: ActionModelKind::Redrive { from, to, gap },
            });
        }
    }
    models
}

/// `[scenario] compare`: consumers, each once, at least two.
fn compare_list(
    s: &Elem<'_, '_, f::ScenarioSection>,
    services: &[ServiceModel],
    cx: &mut Cx,
) -> Vec<ServiceIdx> {
    let Some(names) = &s.v.compare else {
        return Vec::new();
    };
    let span = s.span(&["compare"]);
    if names.len() < 2 {
        cx.err(
            span.clone(),
            "compare lists at least two consumers to put side by side",
        );
    }
    let mut out = Vec::new();
    for name in names {
        match services.iter().position(|x| &x.name == name) {
            Some(g) if out.contains(&g) => {
                cx.err(span.clone(), format!("compare lists `{name}` twice"));
            }
            Some(g) => out.push(g),
            None => {
                let known: Vec<&str> = services.iter().map(|x| x.name.as_str()).collect();
                cx.err_help(
                    span.clone(),
                    format!("compare lists `{name}`, which is not a consumer"),
                    match suggest(name, &known) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("consumers: {}", known.join(", ")),
                    },
                );
            }
        }
    }
    out
}

/// An action's `rate` (at most `max` `what` per second) as the gap between two of its
/// steps, ns; 0 (all at once) without one.
fn action_gap(a: &Elem<'_, '_, f::Action>, max: f64, what: &str, cx: &mut Cx) -> u64 {
    match a.v.rate {
        None => 0,
        Some(r) if r.is_finite() && r > 0.0 && r <= max => ((1e9 / r).round() as u64).max(1),
        Some(r) => {
            cx.err(
                a.span(&["rate"]),
                format!(
                    "rate must be above 0 and at most {max} {what} per second, found {}",
                    num(r)
                ),
            );
            0
        }
    }
}

/// Most events a replay sends per second here.
const REPLAY_MAX_RATE: f64 = 100_000.0;

/// `[[action]] kind = "replay"`: a bus with an archive, a window that ends no later
/// than the replay starts (EventBridge replays what is archived already), and rules of
/// that bus.
fn replay_model(
    a: &Elem<'_, '_, f::Action>,
    channels: &Channels<'_>,
    buses: &[Elem<'_, '_, f::Bus>],
    cx: &mut Cx,
) -> Option<ActionModel> {
    a.refuse(
        cx,
        &[("queue", a.v.queue.is_some()), ("to", a.v.to.is_some())],
        |key| format!("{key} is a setting of a redrive, not of a replay"),
        |_| "a replay names its bus, a window (from, until) and maybe rules",
    );
    let Some(name) = a.v.bus.as_deref() else {
        cx.err_help(
            a.span(&[]),
            "a replay names the bus whose archive it replays",
            "add bus = \"...\"",
        );
        return None;
    };
    let bus = match channels.find(name, a.span(&["bus"]), "replay bus", cx)? {
        Channel::Bus(b) => b,
        other => {
            cx.err(
                a.span(&["bus"]),
                format!("replay bus `{name}` is a {}, not a bus", other.kind()),
            );
            return None;
        }
    };
    let at = a.v.at.0.0;
    let from = a.v.from.map_or(0, |d| d.0.0);
    let until = a.v.until.map_or(at, |d| d.0.0);
    if buses.get(bus).is_some_and(|b| b.v.archive.is_none()) {
        cx.err_help(
            a.span(&["bus"]),
            format!("`{name}` has no archive to replay"),
            "give the bus an archive: archive = {} (every event) or archive = { pattern = {...} }",
        );
    }
    if until > at {
        cx.err_help(
            a.span(&["until"]),
            format!(
                "the window ends at {}, after the replay starts ({})",
                SimDuration(until),
                SimDuration(at)
            ),
            "a replay sends events archived already: end the window at or before `at`",
        );
    }
    if from >= until {
        cx.err(
            a.span(&["from"]),
            format!(
                "the window from {} until {} is empty",
                SimDuration(from),
                SimDuration(until)
            ),
        );
    }
    let mut rules = u64::MAX;
    if let (Some(names), Some(b)) = (&a.v.rules, buses.get(bus)) {
        rules = 0;
        for r in names {
            match b.v.rule.iter().position(|x| &x.name == r) {
                Some(i) if i < BUS_MAX_RULES => rules |= 1 << i,
                Some(_) => {}
                None => {
                    let known: Vec<&str> = b.v.rule.iter().map(|x| x.name.as_str()).collect();
                    cx.err_help(
                        a.span(&["rules"]),
                        format!("`{r}` is not a rule of `{name}`"),
                        match suggest(r, &known) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => format!("its rules: {}", known.join(", ")),
                        },
                    );
                }
            }
        }
        if names.is_empty() {
            cx.err(
                a.span(&["rules"]),
                "rules names no rule (leave it out for every rule)",
            );
        }
    }
    let gap = action_gap(a, REPLAY_MAX_RATE, "events", cx);
    Some(ActionModel {
        at,
        kind: ActionModelKind::Replay {
            bus,
            from,
            until,
            gap,
            rules,
        },
    })
}

fn check_prob(cx: &mut Cx, span: Option<Range<usize>>, what: &str, p: f64) {
    if !(0.0..=1.0).contains(&p) {
        cx.err(
            span,
            format!("{what} is a probability between 0 and 1, found {}", num(p)),
        );
    }
}

fn key_space(
    p: &Elem<'_, '_, f::Producer>,
    k: &f::Keys,
    table: &mut KeyTable,
    cx: &mut Cx,
) -> Option<KeyDraw> {
    let base = table.hashes.len() as u32;
    let names = match (&k.list, &k.format) {
        (Some(_), Some(_)) => {
            cx.err(
                p.span(&["keys"]),
                "keys take either `list` or `format` + `count`, not both",
            );
            return None;
        }
        (Some(list), None) => {
            if list.is_empty() {
                cx.err(p.span(&["keys", "list"]), "keys list is empty");
                return None;
            }
            if k.count.is_some() {
                cx.err(
                    p.span(&["keys", "count"]),
                    "`count` goes with `format`, not with `list`",
                );
            }
            for key in list {
                table.hashes.push(to_positive(murmur2(key.as_bytes())));
            }
            KeyNames::List(list.clone())
        }
        (None, Some(format)) => {
            let Some(count) = k.count else {
                cx.err_help(
                    p.span(&["keys"]),
                    "keys with `format` need a `count`",
                    "e.g. keys = { format = \"user-{}\", count = 10000 }",
                );
                return None;
            };
            if count == 0 || count > MAX_KEYS_PER_PRODUCER {
                cx.err(
                    p.span(&["keys", "count"]),
                    format!("count must be between 1 and {MAX_KEYS_PER_PRODUCER}, found {count}"),
                );
                return None;
            }
            if !format.contains("{}") && count > 1 {
                cx.err_help(
                    p.span(&["keys", "format"]),
                    format!(
                        "format {format:?} has no `{{}}`, so all {count} keys would be the same"
                    ),
                    "write e.g. \"user-{}\"",
                );
            }
            let mut buf = String::new();
            for n in 1..=count {
                buf.clear();
                for (i, part) in format.split("{}").enumerate() {
                    if i > 0 {
                        use std::fmt::Write;
                        let _ = write!(buf, "{n}");
                    }
                    buf.push_str(part);
                }
                table.hashes.push(to_positive(murmur2(buf.as_bytes())));
            }
            KeyNames::Format(format.clone())
        }
        (None, None) => {
            cx.err_help(
                p.span(&["keys"]),
                "keys need `format` + `count` or a `list`",
                "omit `keys` for unkeyed records",
            );
            return None;
        }
    };
    let count = table.hashes.len() as u32 - base;
    let dist = match k.dist.unwrap_or(f::KeyDist::Uniform) {
        f::KeyDist::Uniform => KeyDistModel::Uniform,
        f::KeyDist::Sequential => KeyDistModel::Sequential,
        f::KeyDist::Zipf => {
            let s = k.s.unwrap_or(1.0);
            if !(s.is_finite() && s > 0.0) {
                cx.err(
                    p.span(&["keys", "s"]),
                    format!("zipf exponent s must be above 0, found {}", num(s)),
                );
            }
            KeyDistModel::Zipf(s)
        }
    };
    if k.s.is_some() && !matches!(k.dist, Some(f::KeyDist::Zipf)) {
        cx.err(
            p.span(&["keys", "s"]),
            "`s` is the zipf exponent; set dist = \"zipf\" or remove it",
        );
    }
    table.spaces.push(KeySpace { base, count, names });
    Some(KeyDraw {
        space: table.spaces.len() - 1,
        dist,
    })
}

fn processing_model(c: &Elem<'_, '_, f::Consumer>, cx: &mut Cx) -> ProcessingModel {
    dist_model(&c.v.processing, |k| c.span(&["processing", k]), cx)
}

/// A duration distribution (`processing`, a latency fault's `delay`); `span` locates
/// one of its keys.
fn dist_model(
    dist: &f::ServiceDist,
    span: impl Fn(&str) -> Option<Range<usize>>,
    cx: &mut Cx,
) -> ProcessingModel {
    match *dist {
        f::ServiceDist::Constant { value } => ProcessingModel::Constant(value.0.0),
        f::ServiceDist::Uniform { min, max } => {
            if max.0 < min.0 {
                cx.err(
                    span("max"),
                    format!("uniform max {} is below min {}", max.0, min.0),
                );
            }
            ProcessingModel::Uniform(min.0.0, max.0.0.max(min.0.0))
        }
        f::ServiceDist::Exponential { mean } => {
            if mean.0.0 == 0 {
                cx.err(span("mean"), "exponential mean must be above 0");
            }
            ProcessingModel::Exponential(mean.0.0 as f64)
        }
        f::ServiceDist::Lognormal { median, p99 } => {
            if median.0.0 == 0 {
                cx.err(span("median"), "lognormal median must be above 0");
            }
            if p99.0 <= median.0 {
                cx.err(
                    span("p99"),
                    format!(
                        "lognormal p99 {} must exceed the median {}",
                        p99.0, median.0
                    ),
                );
            }
            let mu = median.0.as_secs_f64().max(1e-12).ln();
            // z of the 99th percentile of the standard normal.
            const Z99: f64 = 2.326_347_874_040_840_8;
            let sigma = ((p99.0.as_secs_f64().max(1e-12).ln() - mu) / Z99).max(1e-9);
            ProcessingModel::Lognormal { mu, sigma }
        }
        f::ServiceDist::Pareto { scale, shape } => {
            if scale.0.0 == 0 {
                cx.err(span("scale"), "pareto scale must be above 0");
            }
            if !(shape.is_finite() && shape > 0.0) {
                cx.err(
                    span("shape"),
                    format!("pareto shape must be above 0, found {}", num(shape)),
                );
            }
            ProcessingModel::Pareto {
                scale: scale.0.as_secs_f64().max(1e-9),
                shape: if shape > 0.0 { shape } else { 1.0 },
            }
        }
    }
}

fn retry_model(c: &Elem<'_, '_, f::Consumer>, cx: &mut Cx) -> RetryModel {
    let Some(r) = &c.v.retry else {
        return RetryModel {
            max_attempts: 1,
            backoff: Backoff::Constant,
            initial: SimDuration::ZERO,
            max: SimDuration::ZERO,
            multiplier: 1.0,
            jitter: false,
        };
    };
    retry_checked(
        r,
        |key| c.span(&["retry", key]),
        SimDuration::from_millis(100),
        SimDuration::from_secs(10),
        cx,
    )
}

/// A `retry` table, checked (attempts in range, multiplier at least 1, max not below
/// initial) with these defaults for `initial` and `max`; `span` locates a key in it.
fn retry_checked(
    r: &f::Retry,
    span: impl Fn(&str) -> Option<Range<usize>>,
    initial: SimDuration,
    max: SimDuration,
    cx: &mut Cx,
) -> RetryModel {
    let max_attempts = r.max_attempts.unwrap_or(3);
    if max_attempts == 0 || max_attempts > MAX_ATTEMPTS {
        cx.err(
            span("max_attempts"),
            format!("max_attempts must be between 1 and {MAX_ATTEMPTS}, found {max_attempts}"),
        );
    }
    let multiplier = r.multiplier.unwrap_or(2.0);
    if !(multiplier.is_finite() && multiplier >= 1.0) {
        cx.err(
            span("multiplier"),
            format!("multiplier must be 1 or more, found {}", num(multiplier)),
        );
    }
    let initial = r.initial.map_or(initial, |d| d.0);
    let max = r.max.map_or(max, |d| d.0);
    if max < initial {
        cx.err(
            span("max"),
            format!("retry max {max} is below initial {initial}"),
        );
    }
    RetryModel {
        max_attempts: max_attempts.clamp(1, MAX_ATTEMPTS),
        backoff: r.backoff.unwrap_or(Backoff::Exponential),
        initial,
        max: max.max(initial),
        multiplier: multiplier.max(1.0),
        jitter: r.jitter.unwrap_or(true),
    }
}

/// Deserializes every element of the array of tables `key` (or none if absent).
fn elements<'a, 'i, T: DeserializeOwned>(
    root: &'a DeTable<'i>,
    key: &str,
    cx: &mut Cx,
) -> Vec<Elem<'a, 'i, T>> {
    let Some(v) = root.get(key) else {
        return Vec::new();
    };
    let Some(arr) = v.get_ref().as_array() else {
        cx.err_help(
            Some(v.span()),
            format!("`{key}` must be an array of tables"),
            format!("write each one under a [[{key}]] header"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in arr {
        match lenient::<T>(item, key, cx) {
            Some((v, stubbed)) => out.push(Elem {
                v,
                tree: item,
                stubbed,
            }),
            None => {
                let name = item
                    .get_ref()
                    .get("name")
                    .and_then(|n| n.get_ref().as_str());
                if let Some(name) = name {
                    cx.broken.push((key.to_string(), name.to_string()));
                }
            }
        }
    }
    out
}

/// Deserializes `tree` into `T`, reporting every key serde refuses: after each refusal
/// the offending key is removed from a copy and deserialization is tried again. A key
/// that is a near miss of an expected one (`partitons`) is renamed instead, so that the
/// element still deserializes and the required key it stands for is not reported as
/// missing on top of the typo. A required key that is missing (or was just removed) is
/// given a placeholder that passes every check (see [`placeholder`]), so that the range
/// checks of the element's other keys still run: every problem of a file is reported
/// in one pass. Returns the value and the keys that hold placeholders.
fn lenient<T: DeserializeOwned>(
    tree: &Val<'_>,
    section: &str,
    cx: &mut Cx,
) -> Option<(T, Vec<String>)> {
    let mut work = tree.clone();
    let mut removed: Vec<String> = Vec::new();
    let mut stubbed: Vec<String> = Vec::new();
    for _ in 0..64 {
        match T::deserialize(ValueDeserializer::from(work.clone())) {
            Ok(v) => return Some((v, stubbed)),
            Err(e) => {
                let raw = e.message().trim().to_string();
                if let Some(key) = raw
                    .strip_prefix("missing field `")
                    .and_then(|r| r.strip_suffix('`'))
                {
                    // A key we removed for being wrong is now missing: already reported.
                    if !removed.iter().any(|k| k == key) {
                        let ex = explain(&raw, None);
                        cx.problems
                            .push(Problem::new(ex.message, e.span(), ex.help));
                    }
                    let span = e.span()?;
                    let stub = stub_at(&mut work, &span, section, key)?;
                    if stubbed.contains(&stub) {
                        return None;
                    }
                    stubbed.push(stub);
                    continue;
                }
                let span = e.span().map(|s| narrow(&work, s, &raw));
                let key = span.as_ref().and_then(|s| key_at(&work, s));
                let ex = explain(&raw, key.as_deref());
                cx.problems
                    .push(Problem::new(ex.message, span.clone(), ex.help));
                let span = span?;
                let fixed = ex
                    .rename
                    .and_then(|(from, to)| rename_at(&mut work, &span, &from, &to));
                match fixed.or_else(|| remove_at(&mut work, &span)) {
                    Some(k) => removed.push(k),
                    None => return None,
                }
            }
        }
    }
    None
}

/// The name every placeholder reference carries: `#` is refused in component names,
/// so it never resolves, and [`Channels::find`] passes over it without a word.
const STUB_NAME: &str = "#missing";

/// The TOML of a placeholder for required key `key` of `section`, and whether it
/// replaces the whole table that lacks the key (a processing-time distribution, whose
/// keys depend on each other) rather than filling in the key.
fn placeholder(section: &str, key: &str) -> Option<(&'static str, bool)> {
    const PROCESSING: &str = "{ dist = \"constant\", value = \"1ms\" }";
    Some(match key {
        "name" | "target" | "source" | "queue" => ("\"#missing\"", false),
        "duration" | "every" | "timeout" => ("\"1s\"", false),
        "at" => ("\"0s\"", false),
        "per_second" | "max_receive_count" => ("1", false),
        "rate" => ("{ per_second = 1 }", false),
        "event" => ("\"Event\"", false),
        "processing" => (PROCESSING, false),
        "dist" | "value" | "min" | "max" | "mean" | "median" | "p99" | "scale" | "shape" => {
            (PROCESSING, true)
        }
        "kind" if section == "fault" => ("\"errors\"", false),
        "kind" if section == "action" => ("\"redrive\"", false),
        _ => return None,
    })
}

/// Puts the placeholder of `key` into the table at `span` (or in place of it); returns
/// the key whose value it now stands for.
fn stub_at(work: &mut Val<'_>, span: &Range<usize>, section: &str, key: &str) -> Option<String> {
    let (text, whole) = placeholder(section, key)?;
    let value = DeValue::parse(text).ok()?;
    let node = find_node_mut(work, span)?;
    let at = node.span();
    let value = overrides::respan(value, &at);
    if whole {
        *node = value;
        // The table replaced is the processing distribution.
        return Some("processing".to_string());
    }
    let t = match node.get_mut() {
        DeValue::Table(t) => t,
        _ => return None,
    };
    t.insert(Spanned::new(at, key.to_string().into()), value);
    Some(key.to_string())
}

/// As [`find_node`], mutably.
fn find_node_mut<'a, 'i>(v: &'a mut Val<'i>, span: &Range<usize>) -> Option<&'a mut Val<'i>> {
    let inside = {
        let mut found = false;
        let children: Vec<&Val<'i>> = match v.get_ref() {
            DeValue::Table(t) => t.values().collect(),
            DeValue::Array(a) => a.iter().collect(),
            _ => Vec::new(),
        };
        for c in children {
            if find_node(c, span).is_some() {
                found = true;
                break;
            }
        }
        found
    };
    if inside {
        let children: Vec<&mut Val<'i>> = match v.get_mut() {
            DeValue::Table(t) => t.iter_mut().map(|(_, v)| v).collect(),
            DeValue::Array(a) => a.iter_mut().collect(),
            _ => Vec::new(),
        };
        for c in children {
            if find_node(c, span).is_some() {
                return find_node_mut(c, span);
            }
        }
        return None;
    }
    (v.span() == *span).then_some(v)
}

/// The key whose value is at `span`, if any.
fn key_at(v: &Val<'_>, span: &Range<usize>) -> Option<String> {
    match v.get_ref() {
        DeValue::Table(t) => t.iter().find_map(|(k, x)| {
            if x.span() == *span {
                Some(k.get_ref().to_string())
            } else {
                key_at(x, span)
            }
        }),
        DeValue::Array(a) => a.iter().find_map(|x| key_at(x, span)),
        _ => None,
    }
}

/// A serde message made readable for someone who writes TOML, not Rust.
struct Explained {
    message: String,
    help: Option<String>,
    /// An unknown key and the expected key it is a near miss of.
    rename: Option<(String, String)>,
}

/// Turns serde's "unknown field `x`, expected one of ..." into "unknown key `x`" and a
/// help that suggests the closest expected key; "missing field" into "missing key";
/// Rust's type names (`u32`, `i128`, `struct Rate`) into what a TOML writer knows
/// ("a whole number from 1 to 4294967295", "a table"). `key` is the key whose value
/// was refused, when known: it gives the lowest whole number the key takes.
fn explain(msg: &str, key: Option<&str>) -> Explained {
    let plain = |message: String, help: Option<String>| Explained {
        message,
        help,
        rename: None,
    };
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let key = rest.trim_matches('`');
        let example = match key {
            "duration" => Some("duration = \"60s\""),
            "name" => Some("name = \"orders\""),
            "rate" => Some("rate = { per_second = 100 }"),
            "per_second" => Some("per_second = 100"),
            "processing" => Some("processing = { dist = \"exponential\", mean = \"2ms\" }"),
            "source" => Some("source = \"<topic or queue>\""),
            "dist" => Some("dist = \"exponential\""),
            _ => None,
        };
        return plain(
            format!("missing required key {rest}"),
            example.map(|e| format!("add e.g. {e}")),
        );
    }
    for (marker, one_of) in [(", expected one of ", true), (", expected ", false)] {
        let Some((head, tail)) = msg.split_once(marker) else {
            continue;
        };
        let (kind, found) = if let Some(k) = head.strip_prefix("unknown field ") {
            ("key", k)
        } else if let Some(v) = head.strip_prefix("unknown variant ") {
            ("value", v)
        } else {
            continue;
        };
        let found = found.trim_matches('`');
        let expected: Vec<&str> = tail
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .collect();
        let list = format!("expected {}{tail}", if one_of { "one of " } else { "" });
        let close = suggest(found, &expected);
        return Explained {
            message: format!("unknown {kind} `{found}`"),
            help: Some(match close {
                Some(c) if expected.len() == 1 => format!("did you mean `{c}`?"),
                Some(c) => format!("did you mean `{c}`? {list}"),
                None => list,
            }),
            rename: close
                .filter(|_| kind == "key")
                .map(|c| (found.to_string(), c.to_string())),
        };
    }
    if msg.starts_with("expected a duration") && msg.contains("found \"-") {
        return plain(
            msg.to_string(),
            Some("a duration cannot be negative".to_string()),
        );
    }
    if let Some(e) = out_of_type(msg, key) {
        return plain(e, None);
    }
    plain(user_words(msg, key), None)
}

/// Keys whose whole numbers start at 1: their type message says so.
const FROM_ONE: [&str; 9] = [
    "partitions",
    "sticky_batch",
    "instances",
    "concurrency",
    "max_attempts",
    "batch_size",
    "max_receive_count",
    "max_concurrency",
    "count",
];

/// The whole numbers of Rust integer type `ty`, as a range a person reads.
fn whole_range(ty: &str, key: Option<&str>) -> Option<String> {
    let (lo, hi): (i128, i128) = match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    };
    let lo = if lo == 0 && key.is_some_and(|k| FROM_ONE.contains(&k)) {
        1
    } else {
        lo
    };
    Some(format!("a whole number from {lo} to {hi}"))
}

/// "invalid value: integer `-1`, expected u32" and "invalid type: integer `1e30` as
/// i128, expected ..." as "expected a whole number from 0 to 4294967295, found -1".
fn out_of_type(msg: &str, key: Option<&str>) -> Option<String> {
    let rest = msg
        .strip_prefix("invalid value: ")
        .or_else(|| msg.strip_prefix("invalid type: "))?;
    let (found, expected) = rest.split_once(", expected ")?;
    let value = found.split('`').nth(1)?;
    let expected = expected.trim();
    let range = whole_range(expected, key).or_else(|| {
        // The type was already put in words by toml ("a whole number").
        (expected == "a whole number")
            .then(|| whole_range("u32", key))
            .flatten()
    });
    let shown = match value.parse::<f64>() {
        Ok(v) if value.len() > 20 => num(v),
        _ => value.trim_end_matches(".0").to_string(),
    };
    match range {
        Some(r) if found.starts_with("integer") || found.starts_with("floating point") => {
            Some(format!("expected {r}, found {shown}"))
        }
        _ => None,
    }
}

/// Rust's words in a serde message replaced by a TOML writer's.
fn user_words(msg: &str, key: Option<&str>) -> String {
    let mut out = msg.to_string();
    for ty in [
        "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
    ] {
        if let Some(r) = whole_range(ty, key) {
            out = out.replace(&format!("expected {ty}"), &format!("expected {r}"));
        }
    }
    out = out
        .replace("expected f64", "expected a number")
        .replace("expected f32", "expected a number")
        .replace(" as i128", "")
        .replace(
            "internally tagged enum ServiceDist",
            "a table such as { dist = \"exponential\", mean = \"2ms\" }",
        )
        .replace("expected a sequence", "expected an array")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a map", "expected a table")
        .replace("invalid type: map", "invalid type: table");
    // "struct Rate", "enum Acks" and the like: Rust's names for a table and a value.
    for (word, plain) in [
        ("expected struct ", "a table"),
        ("expected enum ", "one of the listed values"),
    ] {
        while let Some(i) = out.find(word) {
            let end = out[i + word.len()..]
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .map_or(out.len(), |j| i + word.len() + j);
            out.replace_range(i + "expected ".len()..end, plain);
        }
    }
    // A float written out in hundreds of digits.
    let parts: Vec<String> = out
        .split('`')
        .enumerate()
        .map(|(i, p)| match p.parse::<f64>() {
            Ok(v) if i % 2 == 1 && p.len() > 20 => num(v),
            _ => p.to_string(),
        })
        .collect();
    parts.join("`")
}

/// The expected name closest to `found`, if it is a near miss (a typo, not another word).
fn suggest<'a>(found: &str, expected: &[&'a str]) -> Option<&'a str> {
    let found = found.to_lowercase();
    expected
        .iter()
        .map(|e| (edit_distance(&found, e), *e))
        .filter(|(d, e)| *d <= (e.chars().count() / 3).clamp(1, 2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

/// Edit distance in characters, a swap of two neighbours counting as one edit (optimal
/// string alignment), so that `vlaue` is one edit from `value`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Serde loses the spans inside internally tagged enums (`processing`), so its errors
/// there cover the whole table. Narrows such a span to the key the message names, or to
/// the one value the message quotes.
fn narrow(tree: &Val<'_>, span: Range<usize>, msg: &str) -> Range<usize> {
    let Some(table) = find_node(tree, &span).and_then(|v| v.get_ref().as_table()) else {
        return span;
    };
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        return table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() as &str == key)
            .map_or(span, |(k, _)| k.span());
    }
    let quoted: Vec<&str> = msg.split('"').skip(1).step_by(2).collect();
    let mut hits = table
        .iter()
        .filter(|(_, v)| v.get_ref().as_str().is_some_and(|s| quoted.contains(&s)));
    match (hits.next(), hits.next()) {
        (Some((_, v)), None) => v.span(),
        _ => span,
    }
}

/// The innermost node whose span is exactly `span`. Every node is visited: the span of
/// an array-of-tables element covers only its `[[header]]`, not its keys.
fn find_node<'a, 'i>(v: &'a Val<'i>, span: &Range<usize>) -> Option<&'a Val<'i>> {
    let children: Vec<&Val<'i>> = match v.get_ref() {
        DeValue::Table(t) => t.values().collect(),
        DeValue::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    };
    children
        .into_iter()
        .find_map(|c| find_node(c, span))
        .or((v.span() == *span).then_some(v))
}

/// Renames key `from` to `to` in the innermost table that holds `from` at `span`, unless
/// `to` is there already; returns `to`.
fn rename_at(v: &mut Val<'_>, span: &Range<usize>, from: &str, to: &str) -> Option<String> {
    let covers = |s: Range<usize>| s.start <= span.start && span.end <= s.end;
    match v.get_mut() {
        DeValue::Table(t) => {
            for (_, val) in t.iter_mut() {
                if (covers(val.span()) || holds_flag(val, span))
                    && let Some(k) = rename_at(val, span, from, to)
                {
                    return Some(k);
                }
            }
            let key = t.keys().find(|k| covers(k.span()) && k.get_ref() == from)?;
            let key_span = key.span();
            if t.contains_key(to) {
                return None;
            }
            let val = t.remove(from)?;
            t.insert(Spanned::new(key_span, to.to_string().into()), val);
            Some(to.to_string())
        }
        DeValue::Array(a) => a
            .iter_mut()
            .filter(|item| covers(item.span()) || holds_flag(item, span))
            .find_map(|item| rename_at(item, span, from, to)),
        _ => None,
    }
}

/// Removes the innermost key (or array element) whose key or value span covers `span`,
/// and returns the removed key's name (`""` for an array element).
fn remove_at(v: &mut Val<'_>, span: &Range<usize>) -> Option<String> {
    let covers = |s: Range<usize>| s.start <= span.start && span.end <= s.end && s != (0..0);
    match v.get_mut() {
        DeValue::Table(t) => {
            let mut hit: Option<String> = None;
            for (k, val) in t.iter_mut() {
                let in_val = covers(val.span()) || holds_flag(val, span);
                if in_val && let Some(k) = remove_at(val, span) {
                    return Some(k);
                }
                if in_val || covers(k.span()) {
                    hit = Some(k.get_ref().to_string());
                    break;
                }
            }
            let k = hit?;
            t.remove(k.as_str()).map(|_| k)
        }
        DeValue::Array(a) => {
            let mut idx = None;
            for (i, item) in a.iter_mut().enumerate() {
                if covers(item.span()) || holds_flag(item, span) {
                    if let Some(k) = remove_at(item, span) {
                        return Some(k);
                    }
                    idx = Some(i);
                    break;
                }
            }
            let i = idx?;
            let kept = a
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, x)| x.clone())
                .collect();
            *a = kept;
            Some(String::new())
        }
        _ => None,
    }
}

/// Whether `v` holds the command-line value whose stand-in span is `span`: such a value
/// lies inside its table in the tree, but not by its span.
fn holds_flag(v: &Val<'_>, span: &Range<usize>) -> bool {
    is_flag_span(span) && overrides::holds(v, span)
}

/// A problem placed on a part of the file that holds command-line values (a phase
/// whose `per_second` came from a --set) names their flags too.
fn note_flags(root: &DeTable<'_>, flags: &[Flag<'_>], problems: &mut [Problem]) {
    if flags.is_empty() {
        return;
    }
    for p in problems {
        let Some(s) = p.span else { continue };
        let span = s.offset()..s.offset() + s.len();
        if is_flag_span(&span) {
            continue;
        }
        let Some(node) = root.values().find_map(|v| find_node(v, &span)) else {
            continue;
        };
        let given: Vec<&str> = flags
            .iter()
            .filter(|f| overrides::holds(node, &f.span))
            .map(|f| f.shown.as_str())
            .collect();
        if !given.is_empty() {
            p.message = format!("{} (set by {})", p.message, given.join(", "));
        }
    }
}

/// A saga step's name in CamelCase, for its default event names: `reserve-stock` →
/// `ReserveStock`.
fn camel(name: &str) -> String {
    name.split(['-', '_', ' ', '.'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// A coordinator's re-send policy of a saga step: `max_attempts` sends in all, the
/// delays as a consumer's retries.
fn saga_retry(
    r: Option<&f::Retry>,
    span: impl Fn(&str) -> Option<Range<usize>>,
    default_attempts: u32,
    cx: &mut Cx,
) -> RetryModel {
    let Some(r) = r else {
        return RetryModel {
            max_attempts: default_attempts,
            backoff: Backoff::Exponential,
            initial: SimDuration::from_secs(1),
            max: SimDuration::from_secs(30),
            multiplier: 2.0,
            jitter: true,
        };
    };
    retry_checked(
        r,
        span,
        SimDuration::from_secs(1),
        SimDuration::from_secs(30),
        cx,
    )
}

/// Most steps in one saga (a step is a bit in a saga's masks).
pub const MAX_SAGA_STEPS: usize = 64;

/// `[[saga]]`: each step's service, its event names and what each event means to the
/// service that processes it; a coordinator for an orchestrated saga, a chain of
/// events for a choreographed one.
fn saga_models(
    sagas: &[Elem<'_, '_, f::Saga>],
    services: &[ServiceModel],
    events: &mut Events,
    cx: &mut Cx,
) -> (Vec<SagaModel>, Vec<ServiceSagaRoles>) {
    let mut out = Vec::new();
    let mut roles: Vec<ServiceSagaRoles> = vec![ServiceSagaRoles::default(); services.len()];
    // Who gave each (service, event) its meaning, to report a second one.
    let mut meaning: BTreeMap<(usize, EventIdx), String> = BTreeMap::new();
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for (si, sg) in sagas.iter().enumerate() {
        let s = si as u16;
        let step_span = |i: usize, key: &str| -> Option<Range<usize>> {
            let arr = sg
                .tree
                .get_ref()
                .as_table()
                .and_then(|t| t.get("step"))
                .and_then(|v| v.get_ref().as_array())
                .and_then(|a| a.get(i));
            match arr {
                Some(el) => match el.get_ref().as_table().and_then(|t| t.get(key)) {
                    Some(v) => Some(v.span()),
                    None => Some(el.span()),
                },
                None => sg.span(&["step"]),
            }
        };
        let find = |name: &str, span: Option<Range<usize>>, what: &str, cx: &mut Cx| match services
            .iter()
            .position(|x| x.name == name)
        {
            Some(g) => Some(g),
            None => {
                let help = match suggest(name, &names) {
                    Some(m) => format!("did you mean `{m}`? {what} names a [[consumer]]"),
                    None => format!(
                        "{what} names a [[consumer]]; consumers: {}",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                };
                cx.err_help(span, format!("`{name}` is not a consumer"), help);
                None
            }
        };
        let orchestrated = sg.v.kind == f::SagaKind::Orchestrated;
        let coordinator = match (&sg.v.coordinator, orchestrated) {
            (Some(c), true) => find(c, sg.span(&["coordinator"]), "coordinator", cx),
            (None, true) => {
                cx.err_help(
                    sg.span(&["kind"]),
                    format!("orchestrated saga `{}` has no coordinator", sg.v.name),
                    "set coordinator = \"<consumer>\": the service that sends the commands and receives the replies",
                );
                None
            }
            (Some(_), false) => {
                cx.err_help(
                    sg.span(&["coordinator"]),
                    "a choreographed saga has no coordinator",
                    "its steps react to each other's events; use kind = \"orchestrated\" for a coordinator",
                );
                None
            }
            (None, false) => None,
        };
        if !orchestrated && sg.v.timeout.is_some() {
            cx.err_help(
                sg.span(&["timeout"]),
                "a choreographed saga has no timeout",
                "nobody waits for a step in a choreography; use kind = \"orchestrated\"",
            );
        }
        if sg.v.step.is_empty() {
            cx.err_help(
                sg.span(&["name"]),
                format!("saga `{}` has no steps", sg.v.name),
                "add [[saga.step]] tables with name and service",
            );
        }
        if sg.v.step.len() > MAX_SAGA_STEPS {
            cx.err(
                sg.span(&["step"]),
                format!(
                    "saga `{}` has {} steps; at most {MAX_SAGA_STEPS}",
                    sg.v.name,
                    sg.v.step.len()
                ),
            );
        }
        let default_timeout = sg.v.timeout.map_or(30_000_000_000, |d| d.0.0);
        if default_timeout == 0 {
            cx.err(sg.span(&["timeout"]), "a saga's timeout must be above 0");
        }
        let mut steps: Vec<SagaStepModel> = Vec::new();
        let mut ok = coordinator.is_some() || !orchestrated;
        let mut step_names: BTreeMap<&str, usize> = BTreeMap::new();
        for (k, st) in sg.v.step.iter().enumerate() {
            if let Some(first) = step_names.insert(st.name.as_str(), k) {
                cx.err(
                    step_span(k, "name"),
                    format!(
                        "step `{}` is step {} of saga `{}` already",
                        st.name,
                        first + 1,
                        sg.v.name
                    ),
                );
            }
            let service = find(&st.service, step_span(k, "service"), "a step's service", cx);
            let reject = st.reject.unwrap_or(0.0);
            check_prob(cx, step_span(k, "reject"), "reject", reject);
            let only_orch = [
                ("command", st.command.is_some()),
                ("timeout", st.timeout.is_some()),
                ("retry", st.retry.is_some()),
                ("compensation_retry", st.compensation_retry.is_some()),
            ];
            let only_choreo = [("on", st.on.is_some())];
            for (key, given) in if orchestrated {
                &only_choreo[..]
            } else {
                &only_orch[..]
            } {
                if *given {
                    cx.err_help(
                        step_span(k, key),
                        format!(
                            "`{key}` does not apply to a step of a {} saga",
                            if orchestrated { "orchestrated" } else { "choreographed" }
                        ),
                        if orchestrated {
                            "the coordinator sends each step its command; `on` is for choreographies"
                        } else {
                            "a choreography has no coordinator to send commands, wait or re-send"
                        },
                    );
                }
            }
            let cam = camel(&st.name);
            // A choreography's step reacts to the event of the one before.
            let command_name = if orchestrated {
                st.command
                    .clone()
                    .unwrap_or_else(|| format!("{cam}Requested"))
            } else if k == 0 {
                st.on.clone().unwrap_or_default()
            } else {
                let before = &sg.v.step[k - 1];
                match (&st.on, &before.emits) {
                    (Some(on), Some(emits)) if on != emits => {
                        cx.err_help(
                            step_span(k, "on"),
                            format!(
                                "step `{}` reacts to `{on}`, but step `{}` before it emits `{emits}`",
                                st.name, before.name
                            ),
                            "in a choreography each step reacts to the event of the step before",
                        );
                        on.clone()
                    }
                    (Some(on), _) => on.clone(),
                    (None, Some(emits)) => emits.clone(),
                    (None, None) => format!("{}Done", camel(&before.name)),
                }
            };
            let done_name = match (&st.emits, sg.v.step.get(k + 1).and_then(|n| n.on.clone())) {
                (Some(e), _) => e.clone(),
                (None, Some(on)) if !orchestrated => on,
                _ => format!("{cam}Done"),
            };
            let failed = st
                .on_failure
                .clone()
                .unwrap_or_else(|| format!("{cam}Failed"));
            let compensated = st
                .compensated
                .clone()
                .unwrap_or_else(|| format!("{cam}Compensated"));
            let timeout = st.timeout.map_or(default_timeout, |d| d.0.0);
            if timeout == 0 {
                cx.err(step_span(k, "timeout"), "a step's timeout must be above 0");
            }
            let retry = saga_retry(st.retry.as_ref(), |key| step_span(k, key), 1, cx);
            let compensation_retry = saga_retry(
                st.compensation_retry.as_ref(),
                |key| step_span(k, key),
                3,
                cx,
            );
            let Some(service) = service else {
                ok = false;
                continue;
            };
            steps.push(SagaStepModel {
                name: st.name.clone(),
                service,
                command: if command_name.is_empty() {
                    EventIdx::MAX
                } else {
                    events.id(&command_name)
                },
                done: events.id(&done_name),
                failed: events.id(&failed),
                compensation: st.compensation.as_deref().map(|c| events.id(c)),
                compensated: events.id(&compensated),
                comp_failed: events.id(&format!("{cam}CompensationFailed")),
                reject,
                timeout,
                retry,
                compensation_retry,
            });
        }
        if !ok {
            continue;
        }
        // What each event means to the service that processes it.
        let mut give = |g: usize, e: EventIdx, role: SagaRole, cx: &mut Cx, what: String| {
            match meaning.get(&(g, e)) {
                Some(first) if *first != what => {
                    cx.err_help(
                        sg.span(&["name"]),
                        format!(
                            "event `{}` means two things to `{}`: {first}, and {what}",
                            events.names[e as usize], services[g].name
                        ),
                        "give the steps' events distinct names (command, emits, on_failure, compensation, compensated)",
                    );
                }
                Some(_) => {}
                None => {
                    meaning.insert((g, e), what);
                    roles[g].roles.push((e, s, role));
                }
            }
        };
        let name = &sg.v.name;
        let mut starts_at = None;
        match coordinator {
            Some(c) => {
                starts_at = Some(c);
                for (k, st) in steps.iter().enumerate() {
                    let k16 = k as u16;
                    let step = &st.name;
                    give(
                        st.service,
                        st.command,
                        SagaRole::Execute(k16),
                        cx,
                        format!("the command of step `{step}` of `{name}`"),
                    );
                    if let Some(comp) = st.compensation {
                        give(
                            st.service,
                            comp,
                            SagaRole::Compensate(k16),
                            cx,
                            format!("the compensation of step `{step}` of `{name}`"),
                        );
                    }
                    give(
                        c,
                        st.done,
                        SagaRole::Reply(k16, true),
                        cx,
                        format!("the success of step `{step}` of `{name}`"),
                    );
                    give(
                        c,
                        st.failed,
                        SagaRole::Reply(k16, false),
                        cx,
                        format!("the failure of step `{step}` of `{name}`"),
                    );
                    give(
                        c,
                        st.compensated,
                        SagaRole::CompReply(k16, true),
                        cx,
                        format!("the compensation of step `{step}` of `{name}` done"),
                    );
                    give(
                        c,
                        st.comp_failed,
                        SagaRole::CompReply(k16, false),
                        cx,
                        format!("the compensation of step `{step}` of `{name}` failed"),
                    );
                }
            }
            None => {
                for (k, st) in steps.iter().enumerate() {
                    let k16 = k as u16;
                    let step = &st.name;
                    if k == 0 {
                        if st.command == EventIdx::MAX {
                            starts_at = Some(st.service);
                        } else {
                            give(
                                st.service,
                                st.command,
                                SagaRole::Start,
                                cx,
                                format!("the start of `{name}`"),
                            );
                        }
                    } else {
                        give(
                            st.service,
                            st.command,
                            SagaRole::Execute(k16),
                            cx,
                            format!("the trigger of step `{step}` of `{name}`"),
                        );
                    }
                    // Its failure, and each compensation's success, make the step
                    // before (that has something to undo) compensate.
                    if let Some(j) = previous_compensable(&steps, k) {
                        let before = &steps[j];
                        give(
                            before.service,
                            st.failed,
                            SagaRole::Compensate(j as u16),
                            cx,
                            format!("the failure of step `{step}` of `{name}`"),
                        );
                        if st.compensation.is_some() {
                            give(
                                before.service,
                                st.compensated,
                                SagaRole::Compensate(j as u16),
                                cx,
                                format!("the compensation of step `{step}` of `{name}` done"),
                            );
                        }
                    }
                }
            }
        }
        if let Some(g) = starts_at {
            match roles[g].starts {
                Some(other) => cx.err_help(
                    sg.span(&["name"]),
                    format!(
                        "`{}` starts saga `{}` already, with every message that is not a saga event",
                        services[g].name, out_name(&out, other)
                    ),
                    "give this saga's first step `on = \"<event>\"` (or one coordinator per saga)",
                ),
                None => roles[g].starts = Some(s),
            }
        }
        out.push(SagaModel {
            name: sg.v.name.clone(),
            coordinator,
            steps,
        });
    }
    (out, roles)
}

fn out_name(sagas: &[SagaModel], s: u16) -> &str {
    sagas.get(s as usize).map_or("?", |x| x.name.as_str())
}

/// The last step before `k` that has a compensation.
pub fn previous_compensable(steps: &[SagaStepModel], k: usize) -> Option<usize> {
    (0..k).rev().find(|&j| steps[j].compensation.is_some())
}
