//! The two small languages of the TUI's prompts: the log filter (`/`) and the run-until
//! target (`g`). Both are parsed once against the model, then matched cheaply per
//! trace record or metric row.

use crate::metrics::{Metric, Row};
use crate::model::{KeyId, Model};
use crate::sim::trace::TraceRec;
use crate::time::parse_duration;

/// A comparison in a metric threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `>`
    Above,
    /// `>=`
    AtLeast,
    /// `<`
    Below,
    /// `<=`
    AtMost,
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Above => a > b,
            Cmp::AtLeast => a >= b,
            Cmp::Below => a < b,
            Cmp::AtMost => a <= b,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Above => ">",
            Cmp::AtLeast => ">=",
            Cmp::Below => "<",
            Cmp::AtMost => "<=",
        }
    }
}

/// Where `g` runs to.
#[derive(Clone, Debug, PartialEq)]
pub enum Goal {
    /// Simulated time, ns.
    Time(u64),
    /// Just after the metrics sample at this time, ns (where `s` and `B` stop; not
    /// typed at the prompt).
    Sample(u64),
    /// Number of events processed.
    Event(u64),
    /// The next trace record of this message (correlation id).
    Msg(u64),
    /// The next trace record with this key (id, text).
    Key(KeyId, String),
    /// The first metrics sample where the metric crosses the threshold.
    Metric {
        /// Component (`payment`, `payment/3`, `total`), or any.
        component: Option<String>,
        /// The metric.
        metric: Metric,
        /// Comparison.
        cmp: Cmp,
        /// Threshold, in the CSV's unit (ms for latencies, seconds for other times).
        value: f64,
    },
}

impl Goal {
    /// The goal in words, for the header and the status bar.
    pub fn describe(&self) -> String {
        match self {
            Goal::Time(t) => format!("t = {:.6} s", *t as f64 / 1e9),
            Goal::Sample(t) => format!("the sample at {:.3} s", *t as f64 / 1e9),
            Goal::Event(n) => format!("event #{n}"),
            Goal::Msg(m) => format!("msg {m}"),
            Goal::Key(_, k) => format!("key {k}"),
            Goal::Metric {
                component,
                metric,
                cmp,
                value,
            } => format!(
                "{}{metric} {} {value}{}",
                component
                    .as_ref()
                    .map_or(String::new(), |c| format!("{c}.")),
                cmp.symbol(),
                if metric.unit() == "ms" { " ms" } else { "" }
            ),
        }
    }

    /// Whether a trace record reaches a message or key goal.
    pub fn hit_by(&self, r: &TraceRec) -> bool {
        match self {
            Goal::Msg(m) => r.msg == *m,
            Goal::Key(k, _) => r.key == *k,
            _ => false,
        }
    }

    /// Whether the rows of one sample satisfy a metric goal.
    pub fn met_by(&self, rows: &[Row]) -> bool {
        let Goal::Metric {
            component,
            metric,
            cmp,
            value,
        } = self
        else {
            return false;
        };
        rows.iter().any(|r| {
            r.metric == metric.name()
                && component.as_ref().is_none_or(|c| *c == r.component)
                && cmp.holds(r.value.as_f64(), *value)
        })
    }
}

const GOAL_HELP: &str = "expected a time (90s), #event, msg N, key K, or a threshold such as \
                         payment.lag > 1000 or p99 > 200ms";

/// A number with an optional `k`/`M`/`G` suffix (`1.5k`); `_` and `,` are ignored.
fn parse_number(text: &str) -> Option<f64> {
    let t: String = text.chars().filter(|c| *c != '_' && *c != ',').collect();
    let (num, mult) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        'M' => (&t[..t.len() - 1], 1e6),
        'G' => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.parse().ok()?;
    v.is_finite().then_some(v * mult)
}

fn parse_count(text: &str) -> Result<u64, String> {
    match parse_number(text) {
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => Ok(v as u64),
        _ => Err(format!("'{text}' is not a whole number")),
    }
}

/// Parses a run-until target.
pub fn parse_goal(text: &str, model: &Model, names: &[String]) -> Result<Goal, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(GOAL_HELP.to_string());
    }
    if let Some(n) = text.strip_prefix('#') {
        return parse_count(n.trim()).map(Goal::Event);
    }
    for op in [">=", "<=", ">", "<"] {
        if let Some((lhs, rhs)) = text.split_once(op) {
            return parse_threshold(lhs.trim(), op, rhs.trim(), model, names);
        }
    }
    let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    match head.to_ascii_lowercase().as_str() {
        "t" | "time" | "at" => parse_time(rest),
        "event" | "events" | "e" | "step" => parse_count(rest).map(Goal::Event),
        "msg" | "message" | "m" => parse_count(rest).map(Goal::Msg),
        "key" | "k" => {
            let id = model
                .keys
                .find(rest)
                .ok_or_else(|| format!("no producer has the key '{rest}'"))?;
            Ok(Goal::Key(id, rest.to_string()))
        }
        _ => parse_time(text).map_err(|_| format!("'{text}': {GOAL_HELP}")),
    }
}

/// `; did you mean a, b?` with the (at most three) candidates closest to `word`, so that
/// an error fits the status line; empty when none is close.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let lower = word.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), *c))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let best: Vec<&str> = scored.iter().take(3).map(|(_, c)| *c).collect();
    if best.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", best.join(", "))
    }
}

fn parse_time(text: &str) -> Result<Goal, String> {
    parse_duration(text)
        .map(|d| Goal::Time(d.0))
        .map_err(|e| e.to_string())
}

fn parse_threshold(
    lhs: &str,
    op: &str,
    rhs: &str,
    model: &Model,
    names: &[String],
) -> Result<Goal, String> {
    let cmp = match op {
        ">=" => Cmp::AtLeast,
        "<=" => Cmp::AtMost,
        ">" => Cmp::Above,
        _ => Cmp::Below,
    };
    let (component, metric) = match lhs.rsplit_once('.') {
        Some((c, m)) => (Some(c.trim()), m.trim()),
        None => (None, lhs),
    };
    let Some(metric) = Metric::parse(metric) else {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.extend(["p50", "p99", "dlq"]);
        return Err(format!(
            "unknown metric '{metric}'{} (the CSV's names)",
            did_you_mean(metric, &names)
        ));
    };
    if let Some(c) = component {
        let base = c.split_once('/').map_or(c, |(g, _)| g);
        let known = c == "total"
            || names.iter().any(|n| n == base)
                && c.split_once('/').is_none_or(|(_, p)| {
                    p.parse::<u32>().is_ok()
                        || model
                            .sagas
                            .iter()
                            .any(|s| s.name == base && s.steps.iter().any(|st| st.name == p))
                });
        if !known {
            let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
            all.push("total");
            return Err(format!("unknown component '{c}'{}", did_you_mean(c, &all)));
        }
    }
    // A duration on the right is converted to the metric's unit: milliseconds for
    // latencies, seconds for the other times (as in the CSV).
    let unit = if metric.unit() == "ms" { 1e6 } else { 1e9 };
    let value = match parse_number(rhs) {
        Some(v) => v,
        None => parse_duration(rhs)
            .map(|d| d.0 as f64 / unit)
            .map_err(|_| format!("'{rhs}' is neither a number nor a duration"))?,
    };
    Ok(Goal::Metric {
        component: component.map(str::to_string),
        metric,
        cmp,
        value,
    })
}

/// The event log's filter: records of some components (and instances), of one key, or
/// of one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// What the user typed.
    pub text: String,
    /// (component index, instance or any).
    comps: Vec<(u32, Option<u32>)>,
    key: Option<KeyId>,
    msg: Option<u64>,
}

impl Filter {
    /// Parses `msg N`, `key K`, a component (`payment`, `payment#2`, or part of a name),
    /// or a bare word matched against all three.
    pub fn parse(text: &str, model: &Model, names: &[String]) -> Result<Filter, String> {
        let text = text.trim();
        let mut f = Filter {
            text: text.to_string(),
            comps: Vec::new(),
            key: None,
            msg: None,
        };
        let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        match head.to_ascii_lowercase().as_str() {
            "msg" | "message" | "m" if !rest.is_empty() => {
                f.msg = Some(parse_count(rest)?);
                return Ok(f);
            }
            "key" | "k" if !rest.is_empty() => {
                f.key = Some(
                    model
                        .keys
                        .find(rest)
                        .ok_or_else(|| format!("no producer has the key '{rest}'"))?,
                );
                return Ok(f);
            }
            _ => {}
        }
        let (name, instance) = match text.rsplit_once('#') {
            Some((n, i)) => match i.parse::<u32>() {
                Ok(i) if i > 0 => (n, Some(i - 1)),
                _ => (text, None),
            },
            None => (text, None),
        };
        let lower = name.to_lowercase();
        let exact: Vec<u32> = (0..names.len() as u32)
            .filter(|&i| names[i as usize].to_lowercase() == lower)
            .collect();
        let found = if exact.is_empty() {
            (0..names.len() as u32)
                .filter(|&i| names[i as usize].to_lowercase().contains(&lower))
                .collect()
        } else {
            exact
        };
        f.comps = found.into_iter().map(|c| (c, instance)).collect();
        f.key = model.keys.find(text);
        f.msg = text.parse().ok();
        if f.comps.is_empty() && f.key.is_none() && f.msg.is_none() {
            let all: Vec<&str> = names.iter().map(String::as_str).collect();
            return Err(format!(
                "no component, key or message matches '{text}'{}",
                did_you_mean(text, &all)
            ));
        }
        Ok(f)
    }

    /// Whether the record passes.
    #[inline]
    pub fn matches(&self, r: &TraceRec) -> bool {
        self.msg == Some(r.msg)
            || self.key.is_some_and(|k| k == r.key)
            || self
                .comps
                .iter()
                .any(|&(c, i)| c == r.component && i.is_none_or(|i| i == r.instance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load_str;

    fn model() -> Model {
        let text = include_str!("../../scenarios/flash-sale.toml");
        match load_str("flash-sale.toml", text) {
            Ok(m) => m,
            Err(e) => panic!("{}", e.to_plain()),
        }
    }

    fn names(m: &Model) -> Vec<String> {
        crate::sim::Engine::new(m.clone(), crate::sim::Options::default())
            .component_names()
            .to_vec()
    }

    #[test]
    fn goals_parse() {
        let m = model();
        let n = names(&m);
        let g = |t: &str| parse_goal(t, &m, &n);
        assert_eq!(g("90s"), Ok(Goal::Time(90_000_000_000)));
        assert!(g("t 1m30s").is_err(), "one unit per duration");
        assert_eq!(g("t 1.5s"), Ok(Goal::Time(1_500_000_000)));
        assert_eq!(g("#1k"), Ok(Goal::Event(1000)));
        assert_eq!(g("event 12_000"), Ok(Goal::Event(12_000)));
        assert_eq!(g("msg 7"), Ok(Goal::Msg(7)));
        let Ok(Goal::Key(id, k)) = g("key user-13") else {
            panic!("key goal")
        };
        assert_eq!(
            (m.keys.name(id).as_deref(), k.as_str()),
            (Some("user-13"), "user-13")
        );
        assert!(g("key user-0").is_err(), "keys count from 1");
        assert!(g("key nobody").is_err());
        assert_eq!(
            g("payment.lag > 1k"),
            Ok(Goal::Metric {
                component: Some("payment".into()),
                metric: Metric::Lag,
                cmp: Cmp::Above,
                value: 1000.0
            })
        );
        let Ok(Goal::Metric { metric, value, .. }) = g("p99 >= 200ms") else {
            panic!("p99 goal")
        };
        assert_eq!((metric, value), (Metric::LatencyP99, 200.0));
        let described = |text| g(text).map(|goal| goal.describe());
        assert_eq!(
            described("payment.p99 > 10s"),
            Ok("payment.latency_p99 > 10000 ms".to_string())
        );
        assert_eq!(described("dlq > 0"), Ok("dlq_depth > 0".to_string()));
        assert!(g("payment/3.lag < 5").is_ok());
        assert!(g("nobody.lag > 1").is_err());
        assert!(g("lagg > 1").is_err());
        assert!(g("lag > many").is_err());
        assert!(g("").is_err());
        assert!(g("soon").is_err());
    }

    #[test]
    fn metric_goals_read_rows() {
        use crate::metrics::Value;
        let m = model();
        let n = names(&m);
        let goal = parse_goal("payment.lag > 10", &m, &n).expect("goal");
        let row = |c: &str, v: u64| Row {
            time: 1,
            component: c.to_string(),
            metric: "lag",
            value: Value::Count(v),
        };
        assert!(!goal.met_by(&[row("payment", 10), row("inventory", 50)]));
        assert!(goal.met_by(&[row("payment", 11)]));
        let any = parse_goal("lag > 10", &m, &n).expect("goal");
        assert!(any.met_by(&[row("payment", 1), row("inventory", 50)]));
    }

    #[test]
    fn filters_match_components_keys_and_messages() {
        let m = model();
        let n = names(&m);
        let rec = |component: u32, instance: u32, msg: u64, key: KeyId| TraceRec {
            t: 0,
            seq: 0,
            kind: crate::sim::trace::TraceKind::Ack,
            component,
            instance,
            msg,
            key,
            partition: 0,
            offset: 0,
            attempt: 1,
            name: 0,
        };
        let payment = n.iter().position(|x| x == "payment").expect("payment") as u32;
        let payments = n
            .iter()
            .position(|x| x == "payment-dlq")
            .expect("payment-dlq") as u32;
        let f = Filter::parse("payment", &m, &n).expect("filter");
        assert!(f.matches(&rec(payment, 0, 1, 1)));
        assert!(!f.matches(&rec(payments, 0, 1, 1)), "exact name wins");
        let f = Filter::parse("payment#2", &m, &n).expect("filter");
        assert!(f.matches(&rec(payment, 1, 1, 1)));
        assert!(!f.matches(&rec(payment, 0, 1, 1)));
        let f = Filter::parse("pay", &m, &n).expect("filter");
        assert!(f.matches(&rec(payments, 0, 1, 1)), "part of a name");
        let f = Filter::parse("msg 42", &m, &n).expect("filter");
        assert!(f.matches(&rec(payment, 0, 42, 1)));
        assert!(!f.matches(&rec(payment, 0, 41, 1)));
        let key = m.keys.find("user-5").expect("key");
        let f = Filter::parse("key user-5", &m, &n).expect("filter");
        assert!(f.matches(&rec(payment, 0, 1, key)));
        assert!(!f.matches(&rec(payment, 0, 1, key + 1)));
        let f = Filter::parse("user-5", &m, &n).expect("bare key");
        assert!(f.matches(&rec(payment, 0, 1, key)));
        assert!(Filter::parse("zzz", &m, &n).is_err());
        assert!(Filter::parse("key zzz", &m, &n).is_err());
    }
}
