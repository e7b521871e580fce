//! SNS subscription filter policies on message attributes, as the Amazon SNS developer
//! guide defines them: a policy names attributes, each with a list of conditions; a
//! message matches when every named attribute matches at least one of its conditions
//! (AND across names, OR within a list), or when one branch of `$or` matches.
//!
//! Conditions: an exact string or number; `prefix`, `suffix`; `anything-but` (values,
//! or a `prefix` / `suffix`); `numeric` comparisons and ranges; `exists`. Types matter:
//! a string condition never matches a `Number` attribute, a numeric one never matches a
//! `String` attribute; a `String.Array` attribute matches if one of its elements does
//! (`anything-but` if none of them is excluded). An attribute the policy does not name
//! is ignored; a named attribute the message lacks fails every condition but
//! `exists: false`, which in turn does not match a message without any attribute.
//!
//! [`Policy::parse`] refuses what SNS refuses: more than five keys, more than 150
//! combinations of values, numbers outside ±10⁹, unknown operators, empty lists.

use serde_json::Value;

/// An attribute value of a message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrValue<'a> {
    /// `String`.
    Str(&'a str),
    /// `Number`.
    Num(f64),
    /// `String.Array`: strings and numbers.
    Array(&'a [Scalar]),
}

/// One element of a `String.Array`.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// A string element.
    Str(String),
    /// A number element.
    Num(f64),
}

/// The attributes of one message: (name, value), any order, names unique.
pub type Attrs<'a> = [(&'a str, AttrValue<'a>)];

/// A numeric bound.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One condition on one attribute.
#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Str(String),
    Num(f64),
    Prefix(String),
    Suffix(String),
    AnythingBut(Vec<Exact>),
    AnythingButPrefix(String),
    AnythingButSuffix(String),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

/// An exact value in an `anything-but` list.
#[derive(Clone, Debug, PartialEq)]
enum Exact {
    Str(String),
    Num(f64),
}

/// A parsed filter policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// (attribute, conditions): all must match.
    keys: Vec<(String, Vec<Cond>)>,
    /// `$or` branches: one must match (besides `keys`).
    or: Vec<Policy>,
}

/// SNS's limits on a policy.
const MAX_KEYS: usize = 5;
const MAX_COMBINATIONS: usize = 150;
const MAX_NUMBER: f64 = 1e9;

impl Policy {
    /// Parses a policy written as JSON (or TOML turned into JSON), or says what SNS
    /// would refuse.
    pub fn parse(v: &Value) -> Result<Policy, String> {
        let p = parse_object(v)?;
        let keys = p.key_count();
        if keys > MAX_KEYS {
            return Err(format!(
                "a filter policy has at most {MAX_KEYS} keys, this one has {keys}"
            ));
        }
        let combos = p.combinations();
        if combos > MAX_COMBINATIONS {
            return Err(format!(
                "a filter policy has at most {MAX_COMBINATIONS} combinations of values, this one has {combos}"
            ));
        }
        Ok(p)
    }

    /// Keys counted as SNS counts them, over every `$or` branch.
    fn key_count(&self) -> usize {
        self.keys.len() + self.or.iter().map(Policy::key_count).sum::<usize>()
    }

    /// The product of the list lengths, summed over `$or` branches.
    fn combinations(&self) -> usize {
        let own: usize = self.keys.iter().map(|(_, c)| c.len().max(1)).product();
        if self.or.is_empty() {
            own
        } else {
            self.or
                .iter()
                .map(|b| own.saturating_mul(b.combinations()))
                .sum()
        }
    }

    /// Parses a policy of `FilterPolicyScope = MessageBody`: nested objects name nested
    /// fields of the JSON body (`{"order": {"total": [...]}}` is the field
    /// `order.total`), and the rules are those of [`Policy::parse`].
    pub fn parse_body(v: &Value) -> Result<Policy, String> {
        let mut flat = serde_json::Map::new();
        flatten_policy("", v, &mut flat)?;
        Policy::parse(&Value::Object(flat))
    }

    /// Whether a message with `attrs` passes the policy.
    pub fn matches(&self, attrs: &Attrs<'_>) -> bool {
        self.matches_with(
            &|name| attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            attrs.is_empty(),
        )
    }

    /// Whether a message passes the policy, its attributes (or body fields, by dotted
    /// path) read through `get`; `bare`: it has none at all.
    pub fn matches_with<'v, F: Fn(&str) -> Option<AttrValue<'v>>>(
        &self,
        get: &F,
        bare: bool,
    ) -> bool {
        let own = self.keys.iter().all(|(name, conds)| {
            let value = get(name);
            conds.iter().any(|c| cond_matches(c, value, bare))
        });
        own && (self.or.is_empty() || self.or.iter().any(|b| b.matches_with(get, bare)))
    }

    /// The attribute (or body field) names the policy reads, `$or` branches included.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.keys.iter().map(|(k, _)| k.as_str()).collect();
        for b in &self.or {
            out.extend(b.names());
        }
        out
    }
}

/// A body-scope policy with nested objects turned into dotted keys; `$or` branches are
/// flattened with the same prefix.
fn flatten_policy(
    prefix: &str,
    v: &Value,
    out: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let Value::Object(map) = v else {
        return Err("a filter policy is a table of field names".to_string());
    };
    for (k, v) in map {
        if k == "$or" {
            let Value::Array(branches) = v else {
                return Err("`$or` takes a list of policies".to_string());
            };
            let mut flat_branches = Vec::new();
            for b in branches {
                let mut m = serde_json::Map::new();
                flatten_policy(prefix, b, &mut m)?;
                flat_branches.push(Value::Object(m));
            }
            out.insert("$or".to_string(), Value::Array(flat_branches));
            continue;
        }
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(_) => flatten_policy(&path, v, out)?,
            _ => {
                out.insert(path, v.clone());
            }
        }
    }
    Ok(())
}

fn parse_object(v: &Value) -> Result<Policy, String> {
    let Value::Object(map) = v else {
        return Err("a filter policy is a table of attribute names".to_string());
    };
    let mut keys = Vec::new();
    let mut or = Vec::new();
    for (k, v) in map {
        if k == "$or" {
            let Value::Array(branches) = v else {
                return Err("`$or` takes a list of policies".to_string());
            };
            if branches.len() < 2 {
                return Err("`$or` takes at least two policies".to_string());
            }
            for b in branches {
                or.push(parse_object(b)?);
            }
            continue;
        }
        let Value::Array(items) = v else {
            return Err(format!(
                "`{k}` takes a list of conditions, such as [\"a\", \"b\"]"
            ));
        };
        if items.is_empty() {
            return Err(format!("`{k}` has an empty list of conditions"));
        }
        let conds = items
            .iter()
            .map(|c| parse_cond(c).map_err(|e| format!("`{k}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        keys.push((k.clone(), conds));
    }
    if keys.is_empty() && or.is_empty() {
        return Err("a filter policy names at least one attribute".to_string());
    }
    Ok(Policy { keys, or })
}

fn number(v: &Value) -> Result<f64, String> {
    let n = v
        .as_f64()
        .ok_or_else(|| format!("expected a number, found {v}"))?;
    if n.abs() > MAX_NUMBER {
        return Err(format!(
            "numbers range from -10^9 to 10^9 in SNS, found {n}"
        ));
    }
    Ok(n)
}

fn string(v: &Value, what: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} takes a string, found {v}"))
}

fn parse_cond(v: &Value) -> Result<Cond, String> {
    match v {
        Value::String(s) => Ok(Cond::Str(s.clone())),
        Value::Number(_) => Ok(Cond::Num(number(v)?)),
        Value::Object(m) if m.len() == 1 => {
            let (op, arg) = m.iter().next().ok_or("an empty condition")?;
            match op.as_str() {
                "prefix" => Ok(Cond::Prefix(string(arg, "prefix")?)),
                "suffix" => Ok(Cond::Suffix(string(arg, "suffix")?)),
                "exists" => arg
                    .as_bool()
                    .map(Cond::Exists)
                    .ok_or_else(|| "exists takes true or false".to_string()),
                "numeric" => parse_numeric(arg),
                "anything-but" => parse_anything_but(arg),
                other => Err(format!(
                    "unknown operator `{other}`: SNS knows prefix, suffix, anything-but, numeric and exists"
                )),
            }
        }
        _ => Err(format!(
            "a condition is a string, a number or one operator such as {{ prefix = \"a\" }}, found {v}"
        )),
    }
}

fn parse_anything_but(arg: &Value) -> Result<Cond, String> {
    let exact = |v: &Value| match v {
        Value::String(s) => Ok(Exact::Str(s.clone())),
        Value::Number(_) => number(v).map(Exact::Num),
        _ => Err(format!("anything-but takes strings or numbers, found {v}")),
    };
    match arg {
        Value::Array(items) if !items.is_empty() => Ok(Cond::AnythingBut(
            items.iter().map(exact).collect::<Result<_, _>>()?,
        )),
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, v)) if k == "prefix" => Ok(Cond::AnythingButPrefix(string(v, "prefix")?)),
            Some((k, v)) if k == "suffix" => Ok(Cond::AnythingButSuffix(string(v, "suffix")?)),
            _ => Err("anything-but takes values, a prefix or a suffix".to_string()),
        },
        Value::String(_) | Value::Number(_) => Ok(Cond::AnythingBut(vec![exact(arg)?])),
        _ => Err("anything-but takes values, a prefix or a suffix".to_string()),
    }
}

fn parse_numeric(arg: &Value) -> Result<Cond, String> {
    let Value::Array(items) = arg else {
        return Err("numeric takes a list such as [\">\", 0, \"<=\", 150]".to_string());
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err("numeric takes one or two (operator, number) pairs".to_string());
    }
    let mut bounds = Vec::new();
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => Cmp::Eq,
            Some("<") => Cmp::Lt,
            Some("<=") => Cmp::Le,
            Some(">") => Cmp::Gt,
            Some(">=") => Cmp::Ge,
            _ => return Err(format!("unknown numeric operator {}", pair[0])),
        };
        bounds.push((op, number(&pair[1])?));
    }
    if bounds.len() == 2 {
        let lower = matches!(bounds[0].0, Cmp::Gt | Cmp::Ge);
        let upper = matches!(bounds[1].0, Cmp::Lt | Cmp::Le);
        if !(lower && upper) || bounds[0].1 > bounds[1].1 {
            return Err(
                "a numeric range is a lower bound (> or >=) then a higher upper bound (< or <=)"
                    .to_string(),
            );
        }
    }
    Ok(Cond::Numeric(bounds))
}

/// Whether one condition matches the attribute's value (`None`: absent); `bare`: the
/// message has no attribute at all.
fn cond_matches(c: &Cond, value: Option<AttrValue<'_>>, bare: bool) -> bool {
    match (c, value) {
        (Cond::Exists(e), v) => {
            if *e {
                v.is_some()
            } else {
                v.is_none() && !bare
            }
        }
        (_, None) => false,
        (Cond::AnythingBut(list), Some(AttrValue::Array(items))) => {
            !items.iter().any(|x| list.iter().any(|e| exact_eq(e, x)))
        }
        (Cond::AnythingButPrefix(p), Some(AttrValue::Array(items))) => items
            .iter()
            .all(|x| matches!(x, Scalar::Str(s) if !s.starts_with(p.as_str()))),
        (Cond::AnythingButSuffix(p), Some(AttrValue::Array(items))) => items
            .iter()
            .all(|x| matches!(x, Scalar::Str(s) if !s.ends_with(p.as_str()))),
        (_, Some(AttrValue::Array(items))) => items.iter().any(|x| {
            let v = match x {
                Scalar::Str(s) => AttrValue::Str(s),
                Scalar::Num(n) => AttrValue::Num(*n),
            };
            scalar_matches(c, v)
        }),
        (_, Some(v)) => scalar_matches(c, v),
    }
}

fn exact_eq(e: &Exact, x: &Scalar) -> bool {
    match (e, x) {
        (Exact::Str(a), Scalar::Str(b)) => a == b,
        (Exact::Num(a), Scalar::Num(b)) => num_eq(*a, *b),
        _ => false,
    }
}

/// SNS compares numbers to five decimal places.
fn num_eq(a: f64, b: f64) -> bool {
    (a * 1e5).round() == (b * 1e5).round()
}

fn scalar_matches(c: &Cond, v: AttrValue<'_>) -> bool {
    match (c, v) {
        (Cond::Str(s), AttrValue::Str(x)) => s == x,
        (Cond::Num(n), AttrValue::Num(x)) => num_eq(*n, x),
        (Cond::Prefix(p), AttrValue::Str(x)) => x.starts_with(p.as_str()),
        (Cond::Suffix(p), AttrValue::Str(x)) => x.ends_with(p.as_str()),
        (Cond::AnythingBut(list), AttrValue::Str(x)) => {
            !list.iter().any(|e| matches!(e, Exact::Str(s) if s == x))
        }
        (Cond::AnythingBut(list), AttrValue::Num(x)) => !list
            .iter()
            .any(|e| matches!(e, Exact::Num(n) if num_eq(*n, x))),
        (Cond::AnythingButPrefix(p), AttrValue::Str(x)) => !x.starts_with(p.as_str()),
        (Cond::AnythingButSuffix(p), AttrValue::Str(x)) => !x.ends_with(p.as_str()),
        (Cond::Numeric(bounds), AttrValue::Num(x)) => bounds.iter().all(|&(op, n)| match op {
            Cmp::Eq => num_eq(x, n),
            Cmp::Lt => x < n,
            Cmp::Le => x <= n,
            Cmp::Gt => x > n,
            Cmp::Ge => x >= n,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: Value) -> Policy {
        Policy::parse(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    // The examples of the SNS developer guide's "String value matching", "Numeric
    // value matching", "Key matching" and "AND/OR logic" pages.

    #[test]
    fn exact_strings_match_strings_and_array_elements() {
        let p = policy(json!({"customer_interests": ["rugby", "tennis"]}));
        let arr = [Scalar::Str("rugby".into()), Scalar::Str("tennis".into())];
        assert!(p.matches(&[("customer_interests", AttrValue::Str("rugby"))]));
        assert!(p.matches(&[("customer_interests", AttrValue::Str("tennis"))]));
        assert!(p.matches(&[("customer_interests", AttrValue::Array(&arr))]));
        let base = [Scalar::Str("baseball".into())];
        assert!(!p.matches(&[("customer_interests", AttrValue::Str("baseball"))]));
        assert!(!p.matches(&[("customer_interests", AttrValue::Array(&base))]));
        assert!(!p.matches(&[]), "an absent attribute fails");
    }

    #[test]
    fn a_string_never_matches_a_number_nor_a_number_a_string() {
        let p = policy(json!({"price": [{"numeric": [">", 0]}]}));
        assert!(p.matches(&[("price", AttrValue::Num(5.0))]));
        assert!(!p.matches(&[("price", AttrValue::Str("5"))]));
        let q = policy(json!({"code": ["100"]}));
        assert!(!q.matches(&[("code", AttrValue::Num(100.0))]));
        assert!(q.matches(&[("code", AttrValue::Str("100"))]));
    }

    #[test]
    fn numeric_ranges_and_equality() {
        let p = policy(json!({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}));
        for (x, ok) in [(0.0, false), (0.1, true), (150.0, true), (150.01, false)] {
            assert_eq!(p.matches(&[("price_usd", AttrValue::Num(x))]), ok, "{x}");
        }
        let e = policy(json!({"price_usd": [{"numeric": ["=", 301.5]}]}));
        assert!(e.matches(&[("price_usd", AttrValue::Num(301.5))]));
        assert!(
            e.matches(&[("price_usd", AttrValue::Num(301.500001))]),
            "5 decimals"
        );
        assert!(!e.matches(&[("price_usd", AttrValue::Num(301.51))]));
    }

    #[test]
    fn prefix_suffix_and_anything_but() {
        let p = policy(json!({"event": [{"prefix": "order-"}]}));
        assert!(p.matches(&[("event", AttrValue::Str("order-placed"))]));
        assert!(!p.matches(&[("event", AttrValue::Str("payment-done"))]));
        let s = policy(json!({"image": [{"suffix": ".png"}]}));
        assert!(s.matches(&[("image", AttrValue::Str("a.png"))]));
        let ab = policy(json!({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}));
        assert!(ab.matches(&[("customer_interests", AttrValue::Str("baseball"))]));
        assert!(!ab.matches(&[("customer_interests", AttrValue::Str("rugby"))]));
        assert!(!ab.matches(&[]), "anything-but needs the attribute");
        let arr = [Scalar::Str("rugby".into()), Scalar::Str("golf".into())];
        assert!(!ab.matches(&[("customer_interests", AttrValue::Array(&arr))]));
        let abp = policy(json!({"event": [{"anything-but": {"prefix": "order-"}}]}));
        assert!(abp.matches(&[("event", AttrValue::Str("payment-done"))]));
        assert!(!abp.matches(&[("event", AttrValue::Str("order-placed"))]));
        let abn = policy(json!({"price": [{"anything-but": [100, 500]}]}));
        assert!(abn.matches(&[("price", AttrValue::Num(300.0))]));
        assert!(!abn.matches(&[("price", AttrValue::Num(100.0))]));
    }

    #[test]
    fn exists_true_and_false() {
        let t = policy(json!({"store": [{"exists": true}]}));
        assert!(t.matches(&[("store", AttrValue::Str("x"))]));
        assert!(!t.matches(&[("other", AttrValue::Str("x"))]));
        let f = policy(json!({"store": [{"exists": false}]}));
        assert!(f.matches(&[("other", AttrValue::Str("x"))]));
        assert!(!f.matches(&[("store", AttrValue::Str("x"))]));
        assert!(!f.matches(&[]), "exists: false needs some attribute");
    }

    #[test]
    fn and_across_keys_or_within_lists_and_dollar_or() {
        let p = policy(json!({
            "customer_interests": ["rugby"],
            "price_usd": [{"numeric": [">", 100]}]
        }));
        assert!(p.matches(&[
            ("customer_interests", AttrValue::Str("rugby")),
            ("price_usd", AttrValue::Num(150.0))
        ]));
        assert!(!p.matches(&[("customer_interests", AttrValue::Str("rugby"))]));
        let o = policy(json!({
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]
        }));
        assert!(o.matches(&[
            ("source", AttrValue::Str("aws.cloudwatch")),
            ("namespace", AttrValue::Str("AWS/EC2"))
        ]));
        assert!(!o.matches(&[("source", AttrValue::Str("aws.cloudwatch"))]));
    }

    #[test]
    fn what_sns_refuses() {
        for bad in [
            json!({"a": [1], "b": [1], "c": [1], "d": [1], "e": [1], "f": [1]}),
            json!({"a": []}),
            json!({"a": "x"}),
            json!({"a": [{"numeric": [">", 10_000_000_000.0]}]}),
            json!({"a": [{"numeric": ["<", 5, ">", 1]}]}),
            json!({"a": [{"wildcard": "x*"}]}),
            json!({"a": [1, 2, 3, 4, 5, 6], "b": [1, 2, 3, 4, 5, 6], "c": [1, 2, 3, 4, 5]}),
            json!({}),
        ] {
            assert!(Policy::parse(&bad).is_err(), "{bad}");
        }
    }
}
