//! Values given on the command line instead of the file's: `--set PATH=VALUE`,
//! `--interval` and `--until`. `--set` and `--interval` are written into the parsed TOML
//! tree before it is deserialized, so they are checked exactly like the file; `--until`
//! is checked with `[scenario]`. Each value gets a span past the end of any text, by
//! which its problems are recognised afterwards and reported under the flag's name
//! instead of a line of the file.
//!
//! A path names a section, then, inside an array of tables (`producer`, `topic`,
//! `consumer`, `fault`) or an array, an element by its `name` or its number counted
//! from 1, then keys: `consumer.payment.instances`, `consumer.payment.retry.max_attempts`,
//! `producer.checkout.phases.2.per_second`, `fault.1.at`. Missing tables on the way are
//! created (`retry`, when the consumer has none); a missing element or section is an
//! error. A value is read as TOML (`8`, `1.5`, `true`, `["a", "b"]`, `{ per_second = 5 }`)
//! unless it replaces a string, or is not valid TOML: then it is the string as written,
//! so that `scenario.duration=90s` needs no quotes.

use std::borrow::Cow;
use std::ops::Range;
use std::str::FromStr;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::Problem;

/// Values that replace or extend the scenario file's, as the command line gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--until`: where the run stops instead of at `scenario.duration`. Phases and
    /// faults are still checked against the duration the scenario declares: a shorter
    /// run simply does not reach them.
    pub until: Option<String>,
    /// `--interval`: replaces `scenario.metrics_interval`.
    pub interval: Option<String>,
    /// `--set PATH=VALUE`, applied in order (a later one wins).
    pub set: Vec<Setting>,
}

/// One `--set PATH=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Dotted path, e.g. `consumer.payment.instances`.
    pub path: String,
    /// The value as typed, e.g. `8` or `90s`.
    pub value: String,
}

impl FromStr for Setting {
    type Err = String;

    /// Splits `PATH=VALUE` at its first `=`.
    fn from_str(arg: &str) -> Result<Setting, String> {
        match arg.split_once('=') {
            Some((path, value)) if !path.trim().is_empty() => Ok(Setting {
                path: path.trim().to_string(),
                value: value.to_string(),
            }),
            _ => Err("expected PATH=VALUE, e.g. consumer.payment.instances=8".to_string()),
        }
    }
}

/// First span offset given to command-line values: no scenario file is that long.
const FLAG_SPAN_BASE: usize = usize::MAX / 2;

/// The span that stands for command-line value number `i`.
fn flag_span(i: usize) -> Range<usize> {
    FLAG_SPAN_BASE + i..FLAG_SPAN_BASE + i + 1
}

/// Whether `span` stands for a command-line value rather than a place in the file.
pub(super) fn is_flag_span(span: &Range<usize>) -> bool {
    span.start >= FLAG_SPAN_BASE
}

/// Where a command-line value goes.
pub(super) enum Target<'o> {
    /// `--until`: not a scenario key, read by the `[scenario]` checks.
    Until,
    /// A key of the tree, by dotted path.
    Path(Vec<&'o str>),
}

/// One command-line value, with the name problems give it.
pub(super) struct Flag<'o> {
    /// As messages name it: `--until 90s`, `--interval 500ms`, `--set a.b=c`.
    pub shown: String,
    /// Where it goes.
    pub target: Target<'o>,
    /// The value as typed.
    pub value: &'o str,
    /// Its stand-in span (see [`is_flag_span`]).
    pub span: Range<usize>,
}

impl Overrides {
    /// The values in the order they are applied, each with its span.
    pub(super) fn flags(&self) -> Vec<Flag<'_>> {
        let mut given: Vec<(String, Target<'_>, &str)> = Vec::new();
        if let Some(v) = &self.until {
            given.push((format!("--until {v}"), Target::Until, v));
        }
        if let Some(v) = &self.interval {
            let path = vec!["scenario", "metrics_interval"];
            given.push((format!("--interval {v}"), Target::Path(path), v));
        }
        for s in &self.set {
            let path = s.path.split('.').map(str::trim).collect();
            given.push((
                format!("--set {}={}", s.path, s.value),
                Target::Path(path),
                &s.value,
            ));
        }
        given
            .into_iter()
            .enumerate()
            .map(|(i, (shown, target, value))| Flag {
                shown,
                target,
                value,
                span: flag_span(i),
            })
            .collect()
    }
}

/// The flag a problem came from, if its span stands for one: the message then names
/// the flag and the problem has no place in the file.
pub(super) fn attribute(problem: &mut Problem, flags: &[Flag<'_>]) {
    let Some(offset) = problem.span.map(|s| s.offset()) else {
        return;
    };
    if let Some(flag) = flags.iter().find(|f| f.span.start == offset) {
        problem.message = format!("{}: {}", flag.shown, problem.message);
        problem.span = None;
    }
}

/// Writes every `--set` and `--interval` into the document; returns the problems of
/// paths that lead nowhere.
pub(super) fn apply<'i>(
    root: &mut DeTable<'i>,
    flags: &[Flag<'i>],
    sections: &[&str],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for flag in flags {
        let Target::Path(path) = &flag.target else {
            continue;
        };
        if let Err((message, help)) = apply_one(root, path, flag.value, &flag.span, sections) {
            problems.push(Problem::new(message, Some(flag.span.clone()), help));
        }
    }
    problems
}

type Val<'i> = Spanned<DeValue<'i>>;
type Refusal = (String, Option<String>);

fn apply_one<'i>(
    root: &mut DeTable<'i>,
    path: &[&'i str],
    value: &'i str,
    span: &Range<usize>,
    sections: &[&str],
) -> Result<(), Refusal> {
    let shown = path.join(".");
    if path.iter().any(|s| s.is_empty()) {
        return Err((
            format!("`{shown}` has an empty part"),
            Some(PATH_HELP.into()),
        ));
    }
    let Some((&section, rest)) = path.split_first() else {
        return Err(("an empty path".to_string(), Some(PATH_HELP.into())));
    };
    if !sections.contains(&section) {
        let expected: Vec<String> = sections.iter().map(|s| format!("`{s}`")).collect();
        return Err((
            format!("there is no section `{section}`"),
            Some(format!("a path starts with one of {}", expected.join(", "))),
        ));
    }
    let Some(top) = root.get_mut(section) else {
        return Err((
            format!("the scenario has no `{section}` section to set `{shown}` in"),
            None,
        ));
    };
    let whole = match rest.len() {
        0 => Some("section"),
        1 if top.get_ref().is_array() => Some("element"),
        _ => None,
    };
    if let Some(what) = whole {
        return Err((
            format!("`{shown}` is a whole {what}, not a value"),
            Some(PATH_HELP.into()),
        ));
    }
    set_in(top, rest, path, 1, value, span)
}

const PATH_HELP: &str = "write e.g. consumer.payment.instances=8 or scenario.duration=90s";

/// Sets `rest` (the part of `path` after its first `done` parts) inside `node`.
fn set_in<'i>(
    node: &mut Val<'i>,
    rest: &[&'i str],
    path: &[&'i str],
    done: usize,
    value: &'i str,
    span: &Range<usize>,
) -> Result<(), Refusal> {
    let Some((&key, tail)) = rest.split_first() else {
        return Ok(());
    };
    let here = path[..done].join(".");
    match node.get_mut() {
        DeValue::Table(t) => {
            if tail.is_empty() {
                let new = read_value(value, t.get(key).map(|v| v.get_ref()), span);
                match t.get_mut(key) {
                    Some(old) => *old = new,
                    None => {
                        t.insert(Spanned::new(span.clone(), Cow::Borrowed(key)), new);
                    }
                }
                return Ok(());
            }
            if !t.contains_key(key) {
                t.insert(
                    Spanned::new(span.clone(), Cow::Borrowed(key)),
                    Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
                );
            }
            match t.get_mut(key) {
                Some(next) => set_in(next, tail, path, done + 1, value, span),
                None => Err((format!("cannot create `{key}` in `{here}`"), None)),
            }
        }
        DeValue::Array(items) => {
            let i = pick(items, key, &path[..done])?;
            if tail.is_empty() {
                let old = items[i].get_ref().clone();
                items.as_mut()[i] = read_value(value, Some(&old), span);
                return Ok(());
            }
            set_in(&mut items.as_mut()[i], tail, path, done + 1, value, span)
        }
        other => Err((
            format!("`{here}` is a {}, so it has no `{key}`", other.type_str()),
            Some(PATH_HELP.into()),
        )),
    }
}

/// The element of an array that `seg` names: the one whose `name` is `seg`, else the
/// `seg`-th (counted from 1).
fn pick(items: &[Val<'_>], seg: &str, array_path: &[&str]) -> Result<usize, Refusal> {
    let name_of = |v: &Val<'_>| {
        v.get_ref()
            .get("name")
            .and_then(|n| n.get_ref().as_str().map(str::to_string))
    };
    if let Some(i) = items
        .iter()
        .position(|v| name_of(v).as_deref() == Some(seg))
    {
        return Ok(i);
    }
    if let Ok(n) = seg.parse::<usize>()
        && (1..=items.len()).contains(&n)
    {
        return Ok(n - 1);
    }
    let array = array_path.join(".");
    let names: Vec<String> = items
        .iter()
        .filter_map(name_of)
        .map(|n| format!("`{n}`"))
        .collect();
    let count = match items.len() {
        0 => "it is empty".to_string(),
        1 => "1 for its only element".to_string(),
        n => format!("a number from 1 to {n}"),
    };
    let help = if names.is_empty() {
        format!("`{array}` takes {count}")
    } else {
        format!("`{array}` takes a name ({}) or {count}", names.join(", "))
    };
    Err((format!("`{array}` has no element `{seg}`"), Some(help)))
}

/// The tree value for `raw`: TOML if it reads as TOML and does not replace a string,
/// the text as written otherwise; every span inside is `span`.
fn read_value<'i>(raw: &'i str, old: Option<&DeValue<'_>>, span: &Range<usize>) -> Val<'i> {
    let quoted = raw.trim_start().starts_with(['"', '\'']);
    let as_string = || Spanned::new(span.clone(), DeValue::String(Cow::Borrowed(raw)));
    if old.is_some_and(DeValue::is_str) && !quoted {
        return as_string();
    }
    match DeValue::parse(raw) {
        Ok(v) => respan(v, span),
        Err(_) => as_string(),
    }
}

/// `v` with every span inside it replaced by `span`.
pub(super) fn respan<'i>(v: Val<'i>, span: &Range<usize>) -> Val<'i> {
    let inner = match v.into_inner() {
        DeValue::Array(a) => DeValue::Array(a.into_iter().map(|x| respan(x, span)).collect()),
        DeValue::Table(t) => DeValue::Table(
            t.into_iter()
                .map(|(k, x)| (Spanned::new(span.clone(), k.into_inner()), respan(x, span)))
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.clone(), inner)
}

/// Whether `span` is the span of `v`, of a key in it, or of anything below: how a
/// command-line value, whose span lies past the text, is found inside its table.
pub(super) fn holds(v: &Val<'_>, span: &Range<usize>) -> bool {
    if v.span() == *span {
        return true;
    }
    match v.get_ref() {
        DeValue::Table(t) => t.iter().any(|(k, x)| k.span() == *span || holds(x, span)),
        DeValue::Array(a) => a.iter().any(|x| holds(x, span)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_with;

    const TEXT: &str = r#"
[scenario]
name = "t"
duration = "10s"

[[producer]]
name = "p"
target = "t1"
rate = { per_second = 10 }
phases = [{ at = "1s", per_second = 20 }, { at = "2s", per_second = 30 }]

[[topic]]
name = "t1"
partitions = 2

[[consumer]]
name = "c"
source = "t1"
processing = { dist = "constant", value = "1ms" }
"#;

    fn with(set: &[&str]) -> Overrides {
        Overrides {
            set: set.iter().map(|s| s.parse().expect("PATH=VALUE")).collect(),
            ..Overrides::default()
        }
    }

    fn plain(set: &[&str]) -> String {
        match load_with("t.toml", TEXT, &with(set)) {
            Ok(_) => String::new(),
            Err(e) => e.to_plain(),
        }
    }

    #[test]
    fn values_land_where_their_paths_say() {
        let m = load_with(
            "t.toml",
            TEXT,
            &with(&[
                "scenario.duration=20s",
                "topic.t1.partitions=4",
                "consumer.1.retry.max_attempts=5",
                "producer.p.phases.2.per_second=0",
                "scenario.name=\"quoted\"",
            ]),
        )
        .unwrap_or_else(|e| panic!("{}", e.to_plain()));
        assert_eq!(m.duration, crate::time::SimDuration::from_secs(20));
        assert_eq!(m.topics[0].partitions, 4);
        assert_eq!(m.services[0].retry.max_attempts, 5);
        assert_eq!(m.producers[0].phases[1].per_second, 0.0);
        assert_eq!(m.name, "quoted");
        // A later --set wins.
        let m = load_with(
            "t.toml",
            TEXT,
            &with(&["topic.t1.partitions=4", "topic.t1.partitions=6"]),
        )
        .unwrap_or_else(|e| panic!("{}", e.to_plain()));
        assert_eq!(m.topics[0].partitions, 6);
    }

    #[test]
    fn until_changes_the_run_not_the_checks() {
        let load = |until: &str| {
            let o = Overrides {
                until: Some(until.to_string()),
                ..Overrides::default()
            };
            load_with("t.toml", TEXT, &o)
        };
        let m = load("1500ms").unwrap_or_else(|e| panic!("{}", e.to_plain()));
        assert_eq!(m.duration, crate::time::SimDuration::from_millis(1500));
        assert_eq!(m.producers[0].phases.len(), 2, "phases past --until stay");
        assert!(load("0s").is_err());
    }

    #[test]
    fn problems_name_their_flag_and_come_after_the_file() {
        assert_eq!(
            plain(&["consumer.c.instances=0"]),
            "t.toml: --set consumer.c.instances=0: instances must be between 1 and 1000, \
             found 0\n"
        );
        assert_eq!(
            plain(&["consumer.d.instances=2"]),
            "t.toml: --set consumer.d.instances=2: `consumer` has no element `d` \
             (`consumer` takes a name (`c`) or 1 for its only element)\n"
        );
        assert_eq!(
            plain(&["producer.p.phases.3.at=1s"]),
            "t.toml: --set producer.p.phases.3.at=1s: `producer.p.phases` has no element `3` \
             (`producer.p.phases` takes a number from 1 to 2)\n"
        );
        let both = plain(&["producer.p.phases.1.per_second=-1", "scenario.seed=x"]);
        let lines: Vec<&str> = both.lines().collect();
        assert_eq!(lines.len(), 2, "{both}");
        assert!(
            lines[0].starts_with("t.toml:10:")
                && lines[0].ends_with("(set by --set producer.p.phases.1.per_second=-1)"),
            "{both}"
        );
        assert!(
            lines[1].starts_with("t.toml: --set scenario.seed=x: invalid type"),
            "{both}"
        );
    }

    #[test]
    fn a_setting_needs_an_equals_sign() {
        assert!("a.b".parse::<Setting>().is_err());
        assert!("=3".parse::<Setting>().is_err());
        let s: Setting = "a.b=c=d".parse().expect("setting");
        assert_eq!((s.path.as_str(), s.value.as_str()), ("a.b", "c=d"));
    }
}
