//! Content filters of two AWS dialects sharing one matcher: SNS subscription filter
//! policies on message attributes (or on the message body), as the Amazon SNS developer
//! guide defines them, and EventBridge event patterns on JSON events, as the Amazon
//! EventBridge user guide ("Event patterns", "Content filtering in Amazon EventBridge
//! event patterns") defines them and aws/event-ruler implements them.
//!
//! Both dialects read a policy the same way: it names fields, each with a list of
//! conditions; a message matches when every named field matches at least one of its
//! conditions (AND across names, OR within a list), and when one branch of each `$or`
//! matches. They share the conditions — an exact string or number; `prefix`, `suffix`;
//! `anything-but` (values, or a `prefix` / `suffix`); `numeric` comparisons and ranges;
//! `exists` — and one evaluator of a condition on one value. Types matter in both: a
//! string condition never matches a number, a numeric one never matches a string.
//!
//! Where they differ, [`Dialect`] decides, in one place each:
//!
//! - *Where the fields live.* SNS attributes are flat `String`, `Number` and
//!   `String.Array` values read by name; an EventBridge pattern is a nested object that
//!   names nested fields of the event (`{"detail": {"state": [...]}}`), and an array in
//!   the event is "crushed": its elements, objects included, are values of the field.
//! - *Arrays of objects.* EventBridge (event-ruler's `rulesForJSONEvent`) only accepts a
//!   match whose fields inside one array come from the same element of that array.
//! - *Arrays and `anything-but`.* SNS: a `String.Array` passes `anything-but` when none
//!   of its elements is excluded; EventBridge: when one of them is not excluded (each
//!   element is a value of its own).
//! - *`exists: false`.* SNS: matches an absent attribute, but not a message without any
//!   attribute; EventBridge: matches when no value (leaf) is at the path.
//! - *Numbers.* SNS compares to five decimal places within ±10⁹; EventBridge compares
//!   IEEE-754 doubles exactly (event-ruler's `ComparableNumber` encodes a double's bits).
//! - *Operators.* EventBridge adds `null`, `true`, `false` as values, `equals-ignore-case`,
//!   `wildcard`, and the ignore-case / wildcard / list forms of `anything-but`.
//!
//! [`Policy::parse`] refuses what SNS refuses: more than five keys, more than 150
//! combinations of values, numbers outside ±10⁹, unknown operators, empty lists.
//! [`Policy::parse_event_pattern`] refuses what EventBridge refuses in pattern syntax: a
//! pattern that is not an object, an empty object, a field whose match values are not in
//! an array, an empty array, an unknown operator, an operand of the wrong type.

use serde_json::Value;

/// Which service's rules a [`Policy`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SNS subscription filter policies ([`Policy::parse`], [`Policy::parse_body`]).
    Sns,
    /// EventBridge event patterns ([`Policy::parse_event_pattern`]).
    EventBridge,
}

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

/// One scalar value a condition is tested on: an SNS attribute (or array element), or
/// a leaf of an EventBridge event.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Val<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
}

impl<'a> Val<'a> {
    fn of_scalar(x: &'a Scalar) -> Val<'a> {
        match x {
            Scalar::Str(s) => Val::Str(s),
            Scalar::Num(n) => Val::Num(*n),
        }
    }

    /// A JSON leaf; `None` for an object or an array (not leaves), or a number that is
    /// not a finite double.
    fn of_json(v: &'a Value) -> Option<Val<'a>> {
        match v {
            Value::String(s) => Some(Val::Str(s)),
            Value::Number(n) => n.as_f64().filter(|x| x.is_finite()).map(Val::Num),
            Value::Bool(b) => Some(Val::Bool(*b)),
            Value::Null => Some(Val::Null),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// A numeric bound.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One condition on one field, in either dialect. The ignore-case forms hold their
/// operand in lower case.
#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Str(String),
    Num(f64),
    /// EventBridge only: JSON `null` (never `""`).
    Null,
    /// EventBridge only: JSON `true` / `false`.
    Bool(bool),
    Prefix(String),
    Suffix(String),
    PrefixIgnoreCase(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(Vec<Exact>),
    AnythingButPrefix(Vec<String>),
    AnythingButSuffix(Vec<String>),
    AnythingButIgnoreCase(Vec<String>),
    AnythingButWildcard(Vec<Wildcard>),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

impl Cond {
    fn is_anything_but(&self) -> bool {
        matches!(
            self,
            Cond::AnythingBut(_)
                | Cond::AnythingButPrefix(_)
                | Cond::AnythingButSuffix(_)
                | Cond::AnythingButIgnoreCase(_)
                | Cond::AnythingButWildcard(_)
        )
    }
}

/// An exact value in an `anything-but` list.
#[derive(Clone, Debug, PartialEq)]
enum Exact {
    Str(String),
    Num(f64),
}

/// An EventBridge `wildcard` operand: the literal pieces between its unescaped `*`s
/// (`"a*b"` is `["a", "b"]`, `"*x"` is `["", "x"]`).
#[derive(Clone, Debug, PartialEq)]
struct Wildcard {
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses a wildcard as event-ruler does: `\*` is a literal star, `\\` a literal
    /// backslash, any other escape and two consecutive `*` are refused.
    fn parse(s: &str) -> Result<Wildcard, String> {
        let mut pieces = vec![String::new()];
        let mut chars = s.chars();
        let mut last_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' if last_star => {
                    return Err(format!(
                        "wildcard `{s}` has consecutive `*`, which EventBridge does not allow"
                    ));
                }
                '*' => {
                    pieces.push(String::new());
                    last_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push_last(&mut pieces, e),
                    _ => {
                        return Err(format!(
                            "wildcard `{s}`: a backslash escapes only `*` or another backslash"
                        ));
                    }
                },
                c => push_last(&mut pieces, c),
            }
            last_star = false;
        }
        Ok(Wildcard { pieces })
    }

    fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(x) => x,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) {
            return false;
        }
        if !s.ends_with(last.as_str()) {
            return false;
        }
        let mut inner = &s[first.len()..s.len() - last.len()];
        // Leftmost matching of each middle piece is optimal when `*` is the only
        // metacharacter.
        for piece in middle {
            match inner.find(piece.as_str()) {
                Some(i) => inner = &inner[i + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push_last(pieces: &mut [String], c: char) {
    if let Some(p) = pieces.last_mut() {
        p.push(c);
    }
}

/// One named field with its conditions (any of which may match).
#[derive(Clone, Debug, PartialEq)]
struct Key {
    /// The name as [`Policy::names`] gives it: an SNS attribute, a dotted body path,
    /// or an EventBridge path joined with dots.
    name: String,
    /// The path of nested field names EventBridge follows; SNS: just `name`.
    path: Vec<String>,
    conds: Vec<Cond>,
}

/// A parsed filter policy or event pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    dialect: Dialect,
    /// Fields: all must match.
    keys: Vec<Key>,
    /// `$or` groups: in each, one branch must match (besides `keys`). SNS has at most
    /// one; an EventBridge pattern may have one per nested object.
    or: Vec<Vec<Policy>>,
}

/// SNS's limits on a policy.
const MAX_KEYS: usize = 5;
const MAX_COMBINATIONS: usize = 150;
const MAX_NUMBER: f64 = 1e9;

/// Field names event-ruler refuses inside a `$or` branch (its
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`).
const RESERVED_IN_OR: [&str; 9] = [
    "equals",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
];

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
        self.keys.len()
            + self
                .or
                .iter()
                .flatten()
                .map(Policy::key_count)
                .sum::<usize>()
    }

    /// The product of the list lengths, times the sum over the branches of each `$or`.
    fn combinations(&self) -> usize {
        let own: usize = self.keys.iter().map(|k| k.conds.len().max(1)).product();
        self.or.iter().fold(own, |acc, group| {
            let branches = group
                .iter()
                .map(Policy::combinations)
                .fold(0usize, usize::saturating_add);
            acc.saturating_mul(branches)
        })
    }

    /// Parses a policy of `FilterPolicyScope = MessageBody`: nested objects name nested
    /// fields of the JSON body (`{"order": {"total": [...]}}` is the field
    /// `order.total`), and the rules are those of [`Policy::parse`].
    pub fn parse_body(v: &Value) -> Result<Policy, String> {
        let mut flat = serde_json::Map::new();
        flatten_policy("", v, &mut flat)?;
        Policy::parse(&Value::Object(flat))
    }

    /// Parses an EventBridge event pattern: nested objects name nested fields of the
    /// event (`{"detail": {"state": ["running"]}}`), every field's match values are in
    /// an array, and `$or` takes at least two patterns. Says what EventBridge would
    /// refuse. EventBridge's size limits are not applied; `cidr` is refused as not
    /// modelled.
    pub fn parse_event_pattern(v: &Value) -> Result<Policy, String> {
        let Value::Object(map) = v else {
            return Err(format!(
                "an event pattern is a JSON object such as {{\"source\": [\"aws.ec2\"]}}, found {v}"
            ));
        };
        let mut p = Policy::empty(Dialect::EventBridge);
        parse_pattern_object(map, &mut Vec::new(), &mut p, false)?;
        Ok(p)
    }

    fn empty(dialect: Dialect) -> Policy {
        Policy {
            dialect,
            keys: Vec::new(),
            or: Vec::new(),
        }
    }

    /// Whether a message with `attrs` passes the policy.
    pub fn matches(&self, attrs: &Attrs<'_>) -> bool {
        self.matches_with(
            &|name| attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
            attrs.is_empty(),
        )
    }

    /// Whether a message passes the policy, its attributes (or body fields, by dotted
    /// path) read through `get`; `bare`: it has none at all. SNS's flat reading: a
    /// field is one value or one array of scalars.
    pub fn matches_with<'v, F: Fn(&str) -> Option<AttrValue<'v>>>(
        &self,
        get: &F,
        bare: bool,
    ) -> bool {
        let own = self.keys.iter().all(|k| {
            let value = get(&k.name);
            k.conds
                .iter()
                .any(|c| attr_matches(c, value, bare, self.dialect))
        });
        own && self
            .or
            .iter()
            .all(|group| group.iter().any(|b| b.matches_with(get, bare)))
    }

    /// Whether a JSON event matches the policy, read as EventBridge reads an event:
    /// each key's path leads through nested objects, arrays on the way are crushed
    /// (every element is a value of the field), and all the values a match uses from
    /// inside one array come from the same element of that array (event-ruler's array
    /// consistency). Meant for [`Policy::parse_event_pattern`]; an SNS policy's names
    /// are read as top-level fields, with its own value rules.
    pub fn matches_event(&self, event: &Value) -> bool {
        self.conjunctions().into_iter().any(|mut conj| {
            // `exists: false` asks that no value be consistent with the elements the
            // other keys chose, so it is tried once they have chosen.
            conj.sort_by_key(|k| k.conds.contains(&Cond::Exists(false)));
            search(&conj, event, &mut Vec::new(), self.dialect)
        })
    }

    /// The policy as alternatives of keys that must all match (`$or` expanded).
    fn conjunctions(&self) -> Vec<Vec<&Key>> {
        let mut acc: Vec<Vec<&Key>> = vec![self.keys.iter().collect()];
        for group in &self.or {
            let alternatives: Vec<Vec<&Key>> =
                group.iter().flat_map(Policy::conjunctions).collect();
            acc = acc
                .iter()
                .flat_map(|a| {
                    alternatives.iter().map(move |b| {
                        let mut c = a.clone();
                        c.extend(b.iter().copied());
                        c
                    })
                })
                .collect();
        }
        acc
    }

    /// The attribute (or body field) names the policy reads, `$or` branches included.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.keys.iter().map(|k| k.name.as_str()).collect();
        for b in self.or.iter().flatten() {
            out.extend(b.names());
        }
        out
    }
}

/// Where an event's array elements were taken from: (array identity, element index).
/// The identity is the array's address in the event being matched, compared only for
/// equality, so matching stays deterministic.
type Membership = Vec<(usize, usize)>;

/// Whether `mem` picks the same element as `chosen` in every array both go through.
fn consistent(chosen: &Membership, mem: &Membership) -> bool {
    mem.iter()
        .all(|&(a, i)| chosen.iter().all(|&(b, j)| a != b || i == j))
}

/// The leaves of `v` at `path`, with the array elements each was reached through.
/// Objects and empty arrays are not leaves.
fn leaves<'a>(
    v: &'a Value,
    path: &[String],
    mem: &mut Membership,
    out: &mut Vec<(Val<'a>, Membership)>,
) {
    match v {
        Value::Array(items) => {
            let id = std::ptr::from_ref(v) as usize;
            for (i, x) in items.iter().enumerate() {
                mem.push((id, i));
                leaves(x, path, mem, out);
                mem.pop();
            }
        }
        Value::Object(m) => {
            if let Some((first, rest)) = path.split_first()
                && let Some(x) = m.get(first)
            {
                leaves(x, rest, mem, out);
            }
        }
        _ if path.is_empty() => {
            if let Some(val) = Val::of_json(v) {
                out.push((val, mem.clone()));
            }
        }
        _ => {}
    }
}

/// Backtracking over the keys of one conjunction: each key takes a value consistent
/// with the array elements chosen so far.
fn search(keys: &[&Key], event: &Value, chosen: &mut Membership, d: Dialect) -> bool {
    let Some((key, rest)) = keys.split_first() else {
        return true;
    };
    let mut found = Vec::new();
    leaves(event, &key.path, &mut Vec::new(), &mut found);
    found.retain(|(_, mem)| consistent(chosen, mem));
    if found.is_empty()
        && key.conds.contains(&Cond::Exists(false))
        && search(rest, event, chosen, d)
    {
        return true;
    }
    found.iter().any(|(val, mem)| {
        if !key.conds.iter().any(|c| value_matches(c, *val, d)) {
            return false;
        }
        let before = chosen.len();
        for e in mem {
            if !chosen.contains(e) {
                chosen.push(*e);
            }
        }
        let ok = search(rest, event, chosen, d);
        chosen.truncate(before);
        ok
    })
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
            let mut group = Vec::new();
            for b in branches {
                group.push(parse_object(b)?);
            }
            or.push(group);
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
        keys.push(Key {
            name: k.clone(),
            path: vec![k.clone()],
            conds,
        });
    }
    if keys.is_empty() && or.is_empty() {
        return Err("a filter policy names at least one attribute".to_string());
    }
    Ok(Policy {
        dialect: Dialect::Sns,
        keys,
        or,
    })
}

/// One level of an event pattern, its keys (paths under `prefix`) and `$or` groups
/// added to `p`; `in_or`: inside a `$or` branch, where operator names are refused as
/// field names.
fn parse_pattern_object(
    map: &serde_json::Map<String, Value>,
    prefix: &mut Vec<String>,
    p: &mut Policy,
    in_or: bool,
) -> Result<(), String> {
    if map.is_empty() {
        return Err(match prefix.is_empty() {
            true => "an event pattern names at least one field".to_string(),
            false => format!("`{}` is an empty object", prefix.join(".")),
        });
    }
    for (k, v) in map {
        // event-ruler reads `$or` as a field name unless an array follows it.
        if k == "$or"
            && let Value::Array(branches) = v
        {
            if branches.len() < 2 {
                return Err("`$or` takes at least two patterns".to_string());
            }
            let mut group = Vec::new();
            for b in branches {
                let Value::Object(bm) = b else {
                    return Err(format!("each `$or` branch is an object, found {b}"));
                };
                let mut branch = Policy::empty(Dialect::EventBridge);
                parse_pattern_object(bm, prefix, &mut branch, true)?;
                group.push(branch);
            }
            p.or.push(group);
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&k.as_str()) {
            return Err(format!(
                "`{k}` is an operator and cannot be a field name inside `$or`"
            ));
        }
        prefix.push(k.clone());
        let name = prefix.join(".");
        match v {
            Value::Object(m) => parse_pattern_object(m, prefix, p, in_or)?,
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(format!("`{name}` has an empty array of match values"));
                }
                let conds = items
                    .iter()
                    .map(|c| parse_pattern_cond(c).map_err(|e| format!("`{name}`: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                p.keys.push(Key {
                    name,
                    path: prefix.clone(),
                    conds,
                });
            }
            _ => {
                return Err(format!(
                    "`{name}` takes its match values in an array, such as [{v}]"
                ));
            }
        }
        prefix.pop();
    }
    Ok(())
}

fn number(v: &Value, d: Dialect) -> Result<f64, String> {
    let n = v
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("expected a number, found {v}"))?;
    // SNS bounds its numbers; EventBridge takes any double (event-ruler's README).
    if d == Dialect::Sns && n.abs() > MAX_NUMBER {
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

/// A string, or (EventBridge's value sets) a non-empty array of strings.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(|x| string(x, what)).collect(),
        _ => Err(format!(
            "{what} takes a string or a list of strings, found {v}"
        )),
    }
}

fn parse_cond(v: &Value) -> Result<Cond, String> {
    match v {
        Value::String(s) => Ok(Cond::Str(s.clone())),
        Value::Number(_) => Ok(Cond::Num(number(v, Dialect::Sns)?)),
        Value::Object(m) if m.len() == 1 => {
            let (op, arg) = m.iter().next().ok_or("an empty condition")?;
            match op.as_str() {
                "prefix" => Ok(Cond::Prefix(string(arg, "prefix")?)),
                "suffix" => Ok(Cond::Suffix(string(arg, "suffix")?)),
                "exists" => parse_exists(arg),
                "numeric" => parse_numeric(arg, Dialect::Sns),
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

/// One match value of an event pattern, as event-ruler's `JsonRuleCompiler` reads it.
fn parse_pattern_cond(v: &Value) -> Result<Cond, String> {
    let ignore_case = |arg: &Value, what: &str| -> Result<Option<String>, String> {
        match arg {
            Value::String(_) => Ok(None),
            Value::Object(m) if m.len() == 1 => match m.get("equals-ignore-case") {
                Some(s) => Ok(Some(string(s, "equals-ignore-case")?.to_lowercase())),
                None => Err(format!(
                    "{what} takes a string or {{\"equals-ignore-case\": \"...\"}}, found {arg}"
                )),
            },
            _ => Err(format!(
                "{what} takes a string or {{\"equals-ignore-case\": \"...\"}}, found {arg}"
            )),
        }
    };
    match v {
        Value::String(s) => Ok(Cond::Str(s.clone())),
        Value::Number(_) => Ok(Cond::Num(number(v, Dialect::EventBridge)?)),
        Value::Bool(b) => Ok(Cond::Bool(*b)),
        Value::Null => Ok(Cond::Null),
        Value::Array(_) => Err(format!(
            "a match value is a string, a number, true, false, null or an operator, not an array: {v}"
        )),
        Value::Object(m) => {
            let mut ops = m.iter();
            let (Some((op, arg)), None) = (ops.next(), ops.next()) else {
                return Err(format!(
                    "a match expression has exactly one operator, found {v}"
                ));
            };
            match op.as_str() {
                "prefix" => Ok(match ignore_case(arg, "prefix")? {
                    Some(p) => Cond::PrefixIgnoreCase(p),
                    None => Cond::Prefix(string(arg, "prefix")?),
                }),
                "suffix" => Ok(match ignore_case(arg, "suffix")? {
                    Some(p) => Cond::SuffixIgnoreCase(p),
                    None => Cond::Suffix(string(arg, "suffix")?),
                }),
                "equals-ignore-case" => Ok(Cond::EqualsIgnoreCase(
                    string(arg, "equals-ignore-case")?.to_lowercase(),
                )),
                "wildcard" => Ok(Cond::Wildcard(Wildcard::parse(&string(arg, "wildcard")?)?)),
                "exists" => parse_exists(arg),
                "numeric" => parse_numeric(arg, Dialect::EventBridge),
                "anything-but" => parse_pattern_anything_but(arg),
                "cidr" => {
                    Err("`cidr` is an EventBridge operator edasim does not model".to_string())
                }
                other => Err(format!(
                    "unknown operator `{other}`: EventBridge knows prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and cidr"
                )),
            }
        }
    }
}

fn parse_exists(arg: &Value) -> Result<Cond, String> {
    arg.as_bool()
        .map(Cond::Exists)
        .ok_or_else(|| "exists takes true or false".to_string())
}

fn parse_anything_but(arg: &Value) -> Result<Cond, String> {
    let exact = |v: &Value| match v {
        Value::String(s) => Ok(Exact::Str(s.clone())),
        Value::Number(_) => number(v, Dialect::Sns).map(Exact::Num),
        _ => Err(format!("anything-but takes strings or numbers, found {v}")),
    };
    match arg {
        Value::Array(items) if !items.is_empty() => Ok(Cond::AnythingBut(
            items.iter().map(exact).collect::<Result<_, _>>()?,
        )),
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, v)) if k == "prefix" => {
                Ok(Cond::AnythingButPrefix(vec![string(v, "prefix")?]))
            }
            Some((k, v)) if k == "suffix" => {
                Ok(Cond::AnythingButSuffix(vec![string(v, "suffix")?]))
            }
            _ => Err("anything-but takes values, a prefix or a suffix".to_string()),
        },
        Value::String(_) | Value::Number(_) => Ok(Cond::AnythingBut(vec![exact(arg)?])),
        _ => Err("anything-but takes values, a prefix or a suffix".to_string()),
    }
}

/// EventBridge's `anything-but`: a string, a number, a list of only strings or only
/// numbers, or one of `prefix`, `suffix`, `equals-ignore-case`, `wildcard` with a
/// string or a list of strings.
fn parse_pattern_anything_but(arg: &Value) -> Result<Cond, String> {
    let exact = |v: &Value| match v {
        Value::String(s) => Ok(Exact::Str(s.clone())),
        Value::Number(_) => number(v, Dialect::EventBridge).map(Exact::Num),
        _ => Err(format!("anything-but takes strings or numbers, found {v}")),
    };
    match arg {
        Value::String(_) | Value::Number(_) => Ok(Cond::AnythingBut(vec![exact(arg)?])),
        Value::Array(items) if !items.is_empty() => {
            let list: Vec<Exact> = items.iter().map(exact).collect::<Result<_, _>>()?;
            let strings = list.iter().filter(|e| matches!(e, Exact::Str(_))).count();
            if strings != 0 && strings != list.len() {
                return Err("anything-but takes a list of only strings or only numbers".to_string());
            }
            Ok(Cond::AnythingBut(list))
        }
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, v)) if k == "prefix" => Ok(Cond::AnythingButPrefix(strings(v, "prefix")?)),
            Some((k, v)) if k == "suffix" => Ok(Cond::AnythingButSuffix(strings(v, "suffix")?)),
            Some((k, v)) if k == "equals-ignore-case" => Ok(Cond::AnythingButIgnoreCase(
                strings(v, "equals-ignore-case")?
                    .iter()
                    .map(|s| s.to_lowercase())
                    .collect(),
            )),
            Some((k, v)) if k == "wildcard" => Ok(Cond::AnythingButWildcard(
                strings(v, "wildcard")?
                    .iter()
                    .map(|s| Wildcard::parse(s))
                    .collect::<Result<_, _>>()?,
            )),
            _ => Err(
                "anything-but takes values, or a prefix, suffix, equals-ignore-case or wildcard"
                    .to_string(),
            ),
        },
        _ => Err(format!(
            "anything-but takes a string, a number, a list of them, or an operator, found {arg}"
        )),
    }
}

fn parse_numeric(arg: &Value, d: Dialect) -> Result<Cond, String> {
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
        bounds.push((op, number(&pair[1], d)?));
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

/// Whether one condition matches an SNS attribute's value (`None`: absent); `bare`: the
/// message has no attribute at all.
fn attr_matches(c: &Cond, value: Option<AttrValue<'_>>, bare: bool, d: Dialect) -> bool {
    match (c, value) {
        // SNS: `exists: false` does not match a message without any attribute.
        (Cond::Exists(e), v) => {
            if *e {
                v.is_some()
            } else {
                v.is_none() && !bare
            }
        }
        (_, None) => false,
        (_, Some(AttrValue::Str(s))) => value_matches(c, Val::Str(s), d),
        (_, Some(AttrValue::Num(n))) => value_matches(c, Val::Num(n), d),
        // SNS: an array passes `anything-but` when every element does (none is
        // excluded), any other condition when one element does. (EventBridge's arrays
        // are crushed into one value per element, so one passing element is enough
        // there, `anything-but` included; see `search`.)
        (_, Some(AttrValue::Array(items))) => {
            let mut vals = items.iter().map(Val::of_scalar);
            if c.is_anything_but() && d == Dialect::Sns {
                vals.all(|v| value_matches(c, v, d))
            } else {
                vals.any(|v| value_matches(c, v, d))
            }
        }
    }
}

fn exact_eq(e: &Exact, v: Val<'_>, d: Dialect) -> bool {
    match (e, v) {
        (Exact::Str(a), Val::Str(b)) => a == b,
        (Exact::Num(a), Val::Num(b)) => num_eq(*a, b, d),
        _ => false,
    }
}

/// SNS compares numbers to five decimal places; EventBridge compares doubles exactly
/// (event-ruler's `ComparableNumber` encodes all 64 bits).
fn num_eq(a: f64, b: f64, d: Dialect) -> bool {
    match d {
        Dialect::Sns => (a * 1e5).round() == (b * 1e5).round(),
        Dialect::EventBridge => a == b,
    }
}

/// The one evaluator of a condition on one present value, for both dialects.
fn value_matches(c: &Cond, v: Val<'_>, d: Dialect) -> bool {
    let lower = |x: &str| x.to_lowercase();
    match (c, v) {
        (Cond::Exists(e), _) => *e,
        (Cond::Str(s), Val::Str(x)) => s == x,
        (Cond::Num(n), Val::Num(x)) => num_eq(*n, x, d),
        (Cond::Null, Val::Null) => true,
        (Cond::Bool(b), Val::Bool(x)) => *b == x,
        (Cond::Prefix(p), Val::Str(x)) => x.starts_with(p.as_str()),
        (Cond::Suffix(p), Val::Str(x)) => x.ends_with(p.as_str()),
        (Cond::PrefixIgnoreCase(p), Val::Str(x)) => lower(x).starts_with(p.as_str()),
        (Cond::SuffixIgnoreCase(p), Val::Str(x)) => lower(x).ends_with(p.as_str()),
        (Cond::EqualsIgnoreCase(p), Val::Str(x)) => lower(x) == *p,
        (Cond::Wildcard(w), Val::Str(x)) => w.matches(x),
        (Cond::Numeric(bounds), Val::Num(x)) => bounds.iter().all(|&(op, n)| match op {
            Cmp::Eq => num_eq(x, n, d),
            Cmp::Lt => x < n,
            Cmp::Le => x <= n,
            Cmp::Gt => x > n,
            Cmp::Ge => x >= n,
        }),
        // A value of another type is never excluded by an exact list.
        (Cond::AnythingBut(list), v) => !list.iter().any(|e| exact_eq(e, v, d)),
        (Cond::AnythingButPrefix(ps), Val::Str(x)) => !ps.iter().any(|p| x.starts_with(p.as_str())),
        (Cond::AnythingButSuffix(ps), Val::Str(x)) => !ps.iter().any(|p| x.ends_with(p.as_str())),
        (Cond::AnythingButIgnoreCase(ps), Val::Str(x)) => !ps.contains(&lower(x)),
        (Cond::AnythingButWildcard(ws), Val::Str(x)) => !ws.iter().any(|w| w.matches(x)),
        // A non-string under a string `anything-but`: SNS does not match it; event-ruler
        // does (its anything-but prefix / suffix / ignore-case / wildcard exclude only
        // strings, and anything else is "anything but" them).
        (
            Cond::AnythingButPrefix(_)
            | Cond::AnythingButSuffix(_)
            | Cond::AnythingButIgnoreCase(_)
            | Cond::AnythingButWildcard(_),
            _,
        ) => d == Dialect::EventBridge,
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

    // EventBridge event patterns. Each row: (pattern, event, expected match); the
    // comment above a group names where its cases come from: the EventBridge user
    // guide's pages ("Creating event patterns", "Content filtering in Amazon
    // EventBridge event patterns", "Arrays in Amazon EventBridge event patterns",
    // "Matching null values and empty strings") or aws/event-ruler's README.

    /// The sample event of event-ruler's README ("Ruler by Example").
    fn ec2() -> Value {
        json!({
            "version": "0",
            "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "account": "012345679012",
            "time": "2017-10-02T16:24:49Z",
            "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
            "detail": {
                "c-count": 5,
                "d-count": 3,
                "x-limit": 301.8,
                "source-ip": "10.0.0.33",
                "instance-id": "i-000000aaaaaa00000",
                "state": "running"
            }
        })
    }

    /// The sample event of the user guide's "Matching null values and empty strings".
    fn null_event() -> Value {
        json!({
            "version": "0",
            "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
            "detail-type": "EC2 Instance Launch Successful",
            "source": "aws.autoscaling",
            "account": "123456789012",
            "time": "2015-11-11T21:31:47Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"eventVersion": "", "responseElements": null}
        })
    }

    /// The array-of-objects event of event-ruler's README ("JSON Array Matching").
    fn employees() -> Value {
        json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}
        ]})
    }

    fn event_cases() -> Vec<(Value, Value, bool)> {
        let arn = "arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000";
        vec![
            // event-ruler README, "Simple matching".
            (
                json!({"detail-type": ["EC2 Instance State-change Notification"],
                       "resources": [arn], "detail": {"state": ["initializing", "running"]}}),
                ec2(),
                true,
            ),
            (json!({"detail": {"state": ["initializing"]}}), ec2(), false),
            // User guide, "Creating event patterns": the EC2 termination pattern; and
            // fields must appear with the same nesting.
            (
                json!({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
                       "detail": {"state": ["terminated"]}}),
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
                       "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}}),
                true,
            ),
            (
                json!({"detail": {"state": ["running"]}}),
                json!({"state": "running"}),
                false,
            ),
            // event-ruler README, "Prefix matching" / "Suffix matching"; user guide,
            // "Content filtering": prefix / suffix with equals-ignore-case.
            (json!({"time": [{"prefix": "2017-10-02"}]}), ec2(), true),
            (json!({"time": [{"prefix": "2017-10-03"}]}), ec2(), false),
            (json!({"source": [{"suffix": "ec2"}]}), ec2(), true),
            (
                json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}),
                json!({"detail": {"service": "EVENTBRIDGE"}}),
                true,
            ),
            (
                json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}),
                json!({"detail": {"FileName": "photo.PNG"}}),
                true,
            ),
            (
                json!({"FileName": [{"suffix": ".png"}]}),
                json!({"FileName": "photo.PNG"}),
                false,
            ),
            // event-ruler README, "Equals-ignore-case matching": strings only.
            (
                json!({"source": [{"equals-ignore-case": "AWS.EC2"}]}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"equals-ignore-case": "5"}]}}),
                ec2(),
                false,
            ),
            // event-ruler README, "Wildcard matching" (`*` matches zero or more
            // characters, `\*` a star); user guide, "Content filtering": wildcard ARN.
            (
                json!({"source": [{"wildcard": "Simple*Service"}]}),
                json!({"source": "SimpleNotificationService"}),
                true,
            ),
            (
                json!({"source": [{"wildcard": "Simple*Service"}]}),
                json!({"source": "SimpleService"}),
                true,
            ),
            (
                json!({"source": [{"wildcard": "Simple*Service"}]}),
                json!({"source": "SimpleServiceX"}),
                false,
            ),
            (
                json!({"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}),
                json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"}),
                true,
            ),
            (
                json!({"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}),
                json!({"EventBusArn": "arn:aws:events:us-west-2:123456789012:event-bus/myEventBus"}),
                false,
            ),
            (
                json!({"a": [{"wildcard": "x\\*y"}]}),
                json!({"a": "x*y"}),
                true,
            ),
            (
                json!({"a": [{"wildcard": "x\\*y"}]}),
                json!({"a": "xzy"}),
                false,
            ),
            // event-ruler README, "Anything-but matching", each form.
            (
                json!({"detail": {"state": [{"anything-but": "initializing"}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": "running"}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"x-limit": [{"anything-but": 123}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"x-limit": [{"anything-but": [301.8]}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"prefix": ["init", "error"]}}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"instance-id": [{"anything-but": {"suffix": "0000"}}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"instance-id": [{"anything-but": {"suffix": ["1234", "6789"]}}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": "RUNNING"}}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}}),
                ec2(),
                true,
            ),
            // User guide, "Comparison operators": anything-but with a wildcard.
            (
                json!({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}),
                json!({"FilePath": "/usr/lib/x.so"}),
                false,
            ),
            (
                json!({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}),
                json!({"FilePath": "/usr/bin/x"}),
                true,
            ),
            // anything-but needs the field (event-ruler matches values, an absent
            // field has none), and a number is never the string "5".
            (
                json!({"detail": {"nothing": [{"anything-but": "x"}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"c-count": [{"anything-but": "5"}]}}),
                ec2(),
                true,
            ),
            // An event array is one value per element (event-ruler flattens arrays),
            // so anything-but passes when one element is not excluded.
            (
                json!({"resources": [{"anything-but": "a"}]}),
                json!({"resources": ["a", "b"]}),
                true,
            ),
            (
                json!({"resources": [{"anything-but": "a"}]}),
                json!({"resources": ["a"]}),
                false,
            ),
            // event-ruler README, "Numeric matching": ranges, `<`, `=` with 3.018e2.
            (
                json!({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}],
                                  "d-count": [{"numeric": ["<", 10]}],
                                  "x-limit": [{"numeric": ["=", 3.018e2]}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"numeric": [">", 5]}]}}),
                ec2(),
                false,
            ),
            (
                json!({"price": [{"numeric": [">", 0]}]}),
                json!({"price": "5"}),
                false,
            ),
            // Exact numbers compare as numbers (event-ruler adds a numericEquals
            // pattern for each number), exactly as doubles (ComparableNumber).
            (json!({"detail": {"x-limit": [3.018e2]}}), ec2(), true),
            (
                json!({"a": [{"numeric": ["=", 0.3]}]}),
                json!({"a": 0.300_000_000_000_000_04}),
                false,
            ),
            (json!({"a": [5]}), json!({"a": 5.0}), true),
            // A string is not a number, nor a number a string.
            (json!({"detail": {"c-count": ["5"]}}), ec2(), false),
            (json!({"account": [12_345_679_012_u64]}), ec2(), false),
            (json!({"account": ["012345679012"]}), ec2(), true),
            // event-ruler README, "Exists matching", the non-leaf note included.
            (
                json!({"detail": {"c-count": [{"exists": true}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"exists": false}]}}),
                ec2(),
                false,
            ),
            (
                json!({"detail": {"no-such": [{"exists": false}]}}),
                ec2(),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"exists": false}]}}),
                json!({"detail": {"state": "running", "c-count": {"c1": 100}}}),
                true,
            ),
            (
                json!({"detail": {"c-count": [{"exists": true}]}}),
                json!({"detail": {"c-count": {"c1": 100}}}),
                false,
            ),
            (json!({"a": [{"exists": false}]}), json!({}), true),
            (
                json!({"detail": {"responseElements": [{"exists": true}]}}),
                null_event(),
                true,
            ),
            (
                json!({"resources": [{"exists": true}]}),
                null_event(),
                false,
            ),
            // User guide, "Matching null values and empty strings": not interchangeable.
            (
                json!({"detail": {"eventVersion": [""]}}),
                null_event(),
                true,
            ),
            (
                json!({"detail": {"responseElements": [null]}}),
                null_event(),
                true,
            ),
            (
                json!({"detail": {"eventVersion": [null]}}),
                null_event(),
                false,
            ),
            (
                json!({"detail": {"responseElements": [""]}}),
                null_event(),
                false,
            ),
            // User guide, "Arrays in Amazon EventBridge event patterns": a non-empty
            // intersection matches.
            (
                json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                                     "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
                                     "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}),
                json!({"resources": ["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
                                     "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}),
                true,
            ),
            (
                json!({"resources": ["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}),
                json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}),
                false,
            ),
            // event-ruler README, "JSON Array Matching": objects in an array are values
            // of the parent field, but one match takes its fields from one element.
            (
                json!({"employees": {"firstName": ["Anna"]}}),
                employees(),
                true,
            ),
            (
                json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
                employees(),
                false,
            ),
            (
                json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}),
                employees(),
                true,
            ),
            (
                json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
                json!({"employees": [[{"firstName": "John", "lastName": "Doe"},
                                      {"firstName": "Anna", "lastName": "Smith"}],
                                     [{"firstName": "Peter", "lastName": "Jones"}]]}),
                false,
            ),
            (
                json!({"employees": {"firstName": ["John"], "lastName": ["Doe"]}}),
                json!({"employees": [[{"firstName": "John", "lastName": "Doe"},
                                      {"firstName": "Anna", "lastName": "Smith"}],
                                     [{"firstName": "Peter", "lastName": "Jones"}]]}),
                true,
            ),
            // The same-element rule with `exists: false`: Anna's element has no age,
            // John's has one.
            (
                json!({"employees": {"firstName": ["Anna"], "age": [{"exists": false}]}}),
                json!({"employees": [{"firstName": "John", "age": 40}, {"firstName": "Anna"}]}),
                true,
            ),
            (
                json!({"employees": {"firstName": ["John"], "age": [{"exists": false}]}}),
                json!({"employees": [{"firstName": "John", "age": 40}, {"firstName": "Anna"}]}),
                false,
            ),
            // event-ruler README, "$or": normal, parallel, with an AND inside, nested.
            (
                json!({"source": ["aws.cloudwatch"], "$or": [
                    {"metricName": ["CPUUtilization", "ReadLatency"]},
                    {"namespace": ["AWS/EC2", "AWS/ES"]}]}),
                json!({"source": "aws.cloudwatch", "namespace": "AWS/EC2"}),
                true,
            ),
            (
                json!({"source": ["aws.cloudwatch"], "$or": [
                    {"metricName": ["CPUUtilization", "ReadLatency"]},
                    {"namespace": ["AWS/EC2", "AWS/ES"]}]}),
                json!({"source": "aws.cloudwatch", "metricName": "Other"}),
                false,
            ),
            (
                json!({"$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                               {"namespace": ["AWS/EC2", "AWS/ES"]}],
                       "detail": {"$or": [{"source": ["aws.cloudwatch"]},
                                          {"detail-type": ["CloudWatch Alarm State Change"]}]}}),
                json!({"metricName": "CPUUtilization",
                       "detail": {"detail-type": "CloudWatch Alarm State Change"}}),
                true,
            ),
            (
                json!({"$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                               {"namespace": ["AWS/EC2", "AWS/ES"]}],
                       "detail": {"$or": [{"source": ["aws.cloudwatch"]},
                                          {"detail-type": ["CloudWatch Alarm State Change"]}]}}),
                json!({"metricName": "CPUUtilization", "detail": {"source": "aws.ec2"}}),
                false,
            ),
            (
                json!({"source": ["aws.cloudwatch"], "$or": [
                    {"metricName": ["CPUUtilization", "ReadLatency"]},
                    {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"],
                     "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
                    {"scope": ["Service"]}]}),
                json!({"source": "aws.cloudwatch", "metricType": "MetricType",
                       "namespace": "AWS/EC2", "spaceId": 1000}),
                true,
            ),
            (
                json!({"source": ["aws.cloudwatch"], "$or": [
                    {"metricName": ["CPUUtilization", "ReadLatency"]},
                    {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"],
                     "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
                    {"scope": ["Service"]}]}),
                json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}),
                false,
            ),
            // event-ruler README, "backward compatibility": `$or` followed by an
            // object is a field name.
            (
                json!({"source": ["aws.cloudwatch"], "$or": {"metricType": ["MetricType"]}}),
                json!({"source": "aws.cloudwatch", "$or": {"metricType": "MetricType"}}),
                true,
            ),
            // event-ruler's JsonRuleCompiler: true / false are match values too.
            (
                json!({"detail": {"enabled": [true]}}),
                json!({"detail": {"enabled": true}}),
                true,
            ),
            (
                json!({"detail": {"enabled": [true]}}),
                json!({"detail": {"enabled": "true"}}),
                false,
            ),
        ]
    }

    #[test]
    fn event_patterns_match_as_eventbridge_does() {
        let cases = event_cases();
        assert!(cases.len() >= 40, "{} cases", cases.len());
        for (pattern, event, expected) in &cases {
            let p =
                Policy::parse_event_pattern(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(
                p.matches_event(event),
                *expected,
                "pattern {pattern}\nevent {event}"
            );
        }
    }

    #[test]
    fn what_eventbridge_refuses() {
        // Sources: event-ruler's JsonRuleCompiler messages ("must be an object or an
        // array", "Empty arrays are not allowed", "Unrecognized match type", "Only one
        // key allowed in match expression", "There must have at least 2 Objects in
        // $or", reserved names inside $or), its README (wildcards, anything-but lists
        // of one type) and the user guide ("the value to match is in a JSON array").
        let refused = [
            json!([{"source": ["aws.ec2"]}]),
            json!("aws.ec2"),
            json!({}),
            json!({"detail": {}}),
            json!({"source": "aws.ec2"}),
            json!({"detail": {"state": "running"}}),
            json!({"source": []}),
            json!({"source": [["aws.ec2"]]}),
            json!({"source": [{"contains": "ec2"}]}),
            json!({"source": [{"prefix": "a", "suffix": "b"}]}),
            json!({"source": [{}]}),
            json!({"a": [{"prefix": 5}]}),
            json!({"a": [{"prefix": {"equals-ignore-case": 5}}]}),
            json!({"a": [{"suffix": {"wildcard": "x"}}]}),
            json!({"a": [{"equals-ignore-case": 1}]}),
            json!({"a": [{"numeric": "5"}]}),
            json!({"a": [{"numeric": [">", "5"]}]}),
            json!({"a": [{"numeric": ["<", 5, ">", 1]}]}),
            json!({"a": [{"numeric": ["~", 5]}]}),
            json!({"a": [{"numeric": [">", 0, "<"]}]}),
            json!({"a": [{"exists": "yes"}]}),
            json!({"a": [{"anything-but": ["x", 1]}]}),
            json!({"a": [{"anything-but": []}]}),
            json!({"a": [{"anything-but": null}]}),
            json!({"a": [{"anything-but": {"contains": "x"}}]}),
            json!({"a": [{"anything-but": {"prefix": 1}}]}),
            json!({"a": [{"wildcard": "a**b"}]}),
            json!({"a": [{"wildcard": "a\\b"}]}),
            json!({"a": [{"wildcard": 3}]}),
            json!({"$or": [{"a": ["x"]}]}),
            json!({"$or": [{"a": ["x"]}, "b"]}),
            json!({"$or": [{"prefix": ["x"]}, {"b": ["y"]}]}),
            json!({"a": [{"cidr": "10.0.0.0/24"}]}),
        ];
        for bad in &refused {
            assert!(Policy::parse_event_pattern(bad).is_err(), "{bad}");
        }
        let e = Policy::parse_event_pattern(&json!({"source": "aws.ec2"}));
        assert!(
            e.is_err_and(|m| m.contains("array")),
            "the message says why"
        );
    }

    #[test]
    fn where_the_dialects_differ() {
        // exists: false on a message without any attribute: SNS no, EventBridge yes.
        let sns = policy(json!({"store": [{"exists": false}]}));
        let eb = Policy::parse_event_pattern(&json!({"store": [{"exists": false}]}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!sns.matches(&[]));
        assert!(eb.matches_event(&json!({})));
        // anything-but on an array: SNS wants no element excluded, EventBridge one
        // element not excluded.
        let arr = [Scalar::Str("rugby".into()), Scalar::Str("golf".into())];
        let sns = policy(json!({"sport": [{"anything-but": ["rugby"]}]}));
        let eb = Policy::parse_event_pattern(&json!({"sport": [{"anything-but": ["rugby"]}]}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!sns.matches(&[("sport", AttrValue::Array(&arr))]));
        assert!(eb.matches_event(&json!({"sport": ["rugby", "golf"]})));
        // Numbers: SNS to five decimals within ±1e9, EventBridge exact doubles.
        let sns = policy(json!({"p": [301.5]}));
        let eb =
            Policy::parse_event_pattern(&json!({"p": [301.5]})).unwrap_or_else(|e| panic!("{e}"));
        assert!(sns.matches(&[("p", AttrValue::Num(301.500_001))]));
        assert!(!eb.matches_event(&json!({"p": 301.500_001})));
        assert!(Policy::parse(&json!({"p": [2e9]})).is_err());
        assert!(Policy::parse_event_pattern(&json!({"p": [2e9]})).is_ok());
        // Names: EventBridge paths are dotted in `names`.
        let eb = Policy::parse_event_pattern(&json!({"detail": {"state": ["x"]}, "source": ["y"]}))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut names = eb.names();
        names.sort_unstable();
        assert_eq!(names, ["detail.state", "source"]);
    }
}
