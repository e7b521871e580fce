//! A producer's `attributes` and `payload`: from the values written in the scenario to
//! the generators of the model ([`AttrGen`]), and a file of sample events to flattened
//! bodies. Errors carry the key path inside `attributes` / `payload` that is wrong.

use serde_json::Value;

use super::validate::FileReader;
use crate::model::{AttrGen, AttrOwned, Payload, RoutingKeyGen, Scalar};

/// A problem: the key path below `attributes` or `payload`, and what is wrong.
pub(crate) type AttrError = (Vec<String>, String);

/// SNS's limit on message attributes.
const MAX_ATTRIBUTES: usize = 10;
/// Most lines of a payload file.
const MAX_LINES: usize = 100_000;

/// `attributes = { name = value-or-generator, ... }`.
pub(crate) fn attributes(v: &Value) -> Result<Vec<(String, AttrGen)>, AttrError> {
    generators(v, "attributes", "attribute", MAX_ATTRIBUTES, "in SNS")
}

/// Most headers of a message here (AMQP sets no limit; a frame does).
const MAX_HEADERS: usize = 32;

/// `headers = { name = value-or-generator, ... }`: as attributes, of strings and
/// numbers only (a list is not a header value here).
pub(crate) fn headers(v: &Value) -> Result<Vec<(String, AttrGen)>, AttrError> {
    let out = generators(v, "headers", "header", MAX_HEADERS, "here")?;
    for (k, g) in &out {
        let lists = match g {
            AttrGen::Fixed(v) => matches!(v, AttrOwned::Array(_)),
            AttrGen::Cycle(l) | AttrGen::Choose(l, _) => {
                l.iter().any(|v| matches!(v, AttrOwned::Array(_)))
            }
            AttrGen::Range { .. } => false,
        };
        if lists {
            return Err((
                vec![k.clone()],
                format!("header `{k}` takes strings and numbers, not lists"),
            ));
        }
    }
    Ok(out)
}

/// A table of named generators (`what`: the key, `one`: one of its entries).
fn generators(
    v: &Value,
    what: &str,
    one: &str,
    limit: usize,
    whose: &str,
) -> Result<Vec<(String, AttrGen)>, AttrError> {
    let Value::Object(map) = v else {
        return Err((
            Vec::new(),
            format!("{what} is a table of names, such as {{ type = \"order\" }}"),
        ));
    };
    if map.len() > limit {
        return Err((
            Vec::new(),
            format!(
                "a message has at most {limit} {what} {whose}, this one has {}",
                map.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (k, v) in map {
        let generator = match generator(v) {
            Some(r) => r.map_err(|e| (vec![k.clone()], format!("{one} `{k}`: {e}")))?,
            None => {
                return Err((
                    vec![k.clone()],
                    format!(
                        "{one} `{k}` takes a string, a number, a list, or a table with cycle, choose or range"
                    ),
                ));
            }
        };
        out.push((k.clone(), generator));
    }
    Ok(out)
}

/// `routing_key = "a.b"`, `{ cycle = [...] }`, `{ choose = [...], weights = [...] }`
/// or `{ format = "order.{}" }`, of strings of at most 255 bytes (AMQP's shortstr).
pub(crate) fn routing_key(v: &Value) -> Result<RoutingKeyGen, String> {
    let strings = |l: &[AttrOwned]| -> Result<Vec<String>, String> {
        l.iter()
            .map(|v| match v {
                AttrOwned::Str(s) => short(s).map(|()| s.clone()),
                _ => Err("routing keys are strings".to_string()),
            })
            .collect()
    };
    match v {
        Value::String(s) => short(s).map(|()| RoutingKeyGen::Fixed(s.clone())),
        Value::Object(m) if m.contains_key("format") => {
            if let Some(extra) = m.keys().find(|k| *k != "format") {
                return Err(format!("`{extra}` does not go with `format`"));
            }
            match m.get("format") {
                Some(Value::String(f)) if f.contains("{}") => Ok(RoutingKeyGen::Format(f.clone())),
                Some(Value::String(f)) => Err(format!(
                    "the format {f:?} has no `{{}}` where the message's key goes"
                )),
                _ => Err("format is a string with `{}` where the message's key goes".to_string()),
            }
        }
        Value::Object(m) if m.contains_key("cycle") || m.contains_key("choose") => {
            match generator_table(m)? {
                AttrGen::Cycle(l) => Ok(RoutingKeyGen::Cycle(strings(&l)?)),
                AttrGen::Choose(l, cum) => Ok(RoutingKeyGen::Choose(strings(&l)?, cum)),
                _ => Err(
                    "a routing key is a string or a table with cycle, choose or format".to_string(),
                ),
            }
        }
        _ => Err(
            "a routing key is a string, or a table with cycle, choose (and weights) or format"
                .to_string(),
        ),
    }
}

/// AMQP routing keys are short strings: at most 255 bytes.
fn short(s: &str) -> Result<(), String> {
    if s.len() > 255 {
        Err(format!(
            "a routing key has at most 255 bytes, this one has {}",
            s.len()
        ))
    } else {
        Ok(())
    }
}

/// `payload = { file = "events.jsonl" }`, or a table of body fields (nested tables are
/// nested objects, each leaf a value or a generator).
pub(crate) fn payload(v: &Value, read: FileReader<'_>) -> Result<Payload, AttrError> {
    let Value::Object(map) = v else {
        return Err((
            Vec::new(),
            "payload is a table of fields, or { file = \"events.jsonl\" }".to_string(),
        ));
    };
    if let (1, Some(Value::String(path))) = (map.len(), map.get("file")) {
        let err = |e: String| (vec!["file".to_string()], e);
        let text =
            read(path).map_err(|e| err(format!("cannot read payload file {path:?}: {e}")))?;
        return lines(&text)
            .map(|(flat, json)| Payload::Lines(flat, json))
            .map_err(err);
    }
    let mut out = Vec::new();
    fields("", v, &mut Vec::new(), &mut out)?;
    Ok(Payload::Fields(out))
}

/// The fields below `prefix`, depth first in key order.
fn fields(
    prefix: &str,
    v: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(String, AttrGen)>,
) -> Result<(), AttrError> {
    let Value::Object(map) = v else {
        return Err((path.clone(), "expected a table of fields".to_string()));
    };
    for (k, v) in map {
        path.push(k.clone());
        let full = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match generator(v) {
            Some(r) => {
                let g = r.map_err(|e| (path.clone(), format!("field `{full}`: {e}")))?;
                out.push((full, g));
            }
            None => fields(&full, v, path, out)?,
        }
        path.pop();
    }
    Ok(())
}

/// A value or generator; `None` for a table that is neither (a nested object).
fn generator(v: &Value) -> Option<Result<AttrGen, String>> {
    match v {
        Value::Object(m) => {
            let has = |k: &str| m.contains_key(k);
            if !(has("cycle") || has("choose") || has("range")) {
                return None;
            }
            Some(generator_table(m))
        }
        _ => Some(value(v).map(AttrGen::Fixed)),
    }
}

fn generator_table(m: &serde_json::Map<String, Value>) -> Result<AttrGen, String> {
    let allowed: &[&str] = if m.contains_key("cycle") {
        &["cycle"]
    } else if m.contains_key("choose") {
        &["choose", "weights"]
    } else {
        &["range"]
    };
    if let Some(extra) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "`{extra}` does not go with `{}`",
            allowed.first().copied().unwrap_or_default()
        ));
    }
    if let Some(c) = m.get("cycle") {
        return Ok(AttrGen::Cycle(list(c, "cycle")?));
    }
    if let Some(c) = m.get("choose") {
        let values = list(c, "choose")?;
        let weights: Vec<f64> = match m.get("weights") {
            None => vec![1.0; values.len()],
            Some(Value::Array(w)) => w
                .iter()
                .map(|x| {
                    x.as_f64()
                        .filter(|w| w.is_finite() && *w >= 0.0)
                        .ok_or_else(|| format!("weights are numbers of at least 0, found {x}"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("weights is a list of numbers, found {other}")),
        };
        if weights.len() != values.len() {
            return Err(format!(
                "choose has {} values and {} weights",
                values.len(),
                weights.len()
            ));
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err("the weights add up to 0".to_string());
        }
        let mut acc = 0.0;
        let mut cum: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cum.last_mut() {
            *last = 1.0;
        }
        return Ok(AttrGen::Choose(values, cum));
    }
    let Some(Value::Array(r)) = m.get("range") else {
        return Err("range is [min, max]".to_string());
    };
    let (Some(lo), Some(hi)) = (
        r.first().and_then(Value::as_f64),
        r.get(1).and_then(Value::as_f64),
    ) else {
        return Err("range is [min, max], two numbers".to_string());
    };
    if r.len() != 2 || !lo.is_finite() || !hi.is_finite() || hi < lo {
        return Err(format!("range is [min, max] with min <= max, found {r:?}"));
    }
    let integer = r.iter().all(|x| x.is_i64() || x.is_u64());
    Ok(AttrGen::Range {
        min: lo,
        max: hi,
        integer,
    })
}

/// A non-empty list of values.
fn list(v: &Value, what: &str) -> Result<Vec<AttrOwned>, String> {
    match v {
        Value::Array(items) if !items.is_empty() => items.iter().map(value).collect(),
        _ => Err(format!("{what} takes a non-empty list of values")),
    }
}

/// A string, a number, or a list of them.
fn value(v: &Value) -> Result<AttrOwned, String> {
    match v {
        Value::String(s) => Ok(AttrOwned::Str(s.clone())),
        Value::Number(n) => n
            .as_f64()
            .map(AttrOwned::Num)
            .ok_or_else(|| format!("{n} is not a number edasim can hold")),
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(Scalar::Str(s.clone())),
                Value::Number(n) => n
                    .as_f64()
                    .map(Scalar::Num)
                    .ok_or_else(|| format!("{n} is not a number edasim can hold")),
                other => Err(format!(
                    "a list value holds strings and numbers, found {other}"
                )),
            })
            .collect::<Result<_, _>>()
            .map(AttrOwned::Array),
        other => Err(format!(
            "values are strings, numbers or lists of them, found {other}"
        )),
    }
}

/// The lines of a JSON Lines file, each flattened. Blank lines are skipped.
type Lines = (Vec<Vec<(String, AttrOwned)>>, Vec<Value>);

fn lines(text: &str) -> Result<Lines, String> {
    let mut out = Vec::new();
    let mut json = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a JSON object: {e}", i + 1))?;
        if !v.is_object() {
            return Err(format!("line {}: not a JSON object", i + 1));
        }
        let mut flat = Vec::new();
        flatten("", &v, &mut flat);
        out.push(flat);
        json.push(v);
        if out.len() > MAX_LINES {
            return Err(format!("more than {MAX_LINES} sample events"));
        }
    }
    if out.is_empty() {
        return Err("the file holds no event".to_string());
    }
    Ok((out, json))
}

/// A JSON body as (dotted path, value), sorted by path: nested objects become dotted
/// paths; an array of scalars is an array value; the fields of objects inside an array
/// become arrays of their values (a policy matches if any element matches). Booleans
/// are kept as the strings `true` / `false`; nulls are left out.
pub(crate) fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, AttrOwned)>) {
    let mut acc: Vec<(String, Vec<Scalar>, bool)> = Vec::new();
    walk(prefix, v, false, &mut acc);
    acc.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, mut vals, in_array) in acc {
        let v = if !in_array && vals.len() == 1 {
            match vals.pop() {
                Some(Scalar::Str(s)) => AttrOwned::Str(s),
                Some(Scalar::Num(n)) => AttrOwned::Num(n),
                None => continue,
            }
        } else {
            AttrOwned::Array(vals)
        };
        out.push((path, v));
    }
}

fn walk(prefix: &str, v: &Value, in_array: bool, acc: &mut Vec<(String, Vec<Scalar>, bool)>) {
    let mut push = |s: Scalar, arr: bool| match acc.iter_mut().find(|(p, _, _)| p == prefix) {
        Some((_, vals, a)) => {
            vals.push(s);
            *a |= arr;
        }
        None => acc.push((prefix.to_string(), vec![s], arr)),
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&p, x, in_array, acc);
            }
        }
        Value::Array(items) => {
            for x in items {
                walk(prefix, x, true, acc);
            }
        }
        Value::String(s) => push(Scalar::Str(s.clone()), in_array),
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                push(Scalar::Num(f), in_array);
            }
        }
        Value::Bool(b) => push(Scalar::Str(b.to_string()), in_array),
        Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generators_parse() {
        let a = attributes(&json!({
            "store": "eu-1",
            "kind": {"cycle": ["a", "b"]},
            "channel": {"choose": ["web", "app"], "weights": [3, 1]},
            "amount": {"range": [1, 500]},
            "tags": ["x", 2],
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(a.len(), 5);
        assert!(a.iter().any(|(k, g)| k == "channel"
            && matches!(g, AttrGen::Choose(v, c) if v.len() == 2 && (c[0] - 0.75).abs() < 1e-12 && c[1] == 1.0)));
        assert!(
            a.iter()
                .any(|(k, g)| k == "amount" && matches!(g, AttrGen::Range { integer: true, .. }))
        );
    }

    #[test]
    fn bad_generators_say_where() {
        let e = attributes(&json!({"x": {"choose": ["a"], "weights": [1, 2]}}))
            .err()
            .unwrap_or_default();
        assert_eq!(e.0, vec!["x".to_string()]);
        assert!(e.1.contains("1 values and 2 weights"), "{}", e.1);
        let e = attributes(&json!({"x": {"range": [5, 1]}}))
            .err()
            .unwrap_or_default();
        assert!(e.1.contains("min <= max"), "{}", e.1);
        let e = attributes(&json!({"x": true})).err().unwrap_or_default();
        assert!(e.1.contains("strings, numbers"), "{}", e.1);
    }

    #[test]
    fn payload_fields_nest_and_files_flatten() {
        let read = |_: &str| -> Result<String, String> {
            Ok("{\"order\": {\"total\": 12.5, \"items\": [{\"sku\": \"a\"}, {\"sku\": \"b\"}]}, \"ok\": true}\n\n{\"order\": {\"total\": 3}}\n".to_string())
        };
        let Ok(Payload::Lines(l, _)) = payload(&json!({"file": "x.jsonl"}), &read) else {
            panic!("file payload");
        };
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0],
            vec![
                ("ok".to_string(), AttrOwned::Str("true".into())),
                (
                    "order.items.sku".to_string(),
                    AttrOwned::Array(vec![Scalar::Str("a".into()), Scalar::Str("b".into())])
                ),
                ("order.total".to_string(), AttrOwned::Num(12.5)),
            ]
        );
        let Ok(Payload::Fields(f)) =
            payload(&json!({"order": {"total": {"range": [1, 9]}}}), &read)
        else {
            panic!("fields payload");
        };
        assert_eq!(f[0].0, "order.total");
        let bad = |_: &str| -> Result<String, String> { Ok("{\"a\": 1}\nnot json\n".to_string()) };
        let e = payload(&json!({"file": "x"}), &bad)
            .err()
            .unwrap_or_default();
        assert!(e.1.contains("line 2"), "{}", e.1);
    }
}
