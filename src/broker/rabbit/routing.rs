//! How one published message finds its queues, as rabbitmq-server 4.x routes it
//! (`rabbit_exchange:route/3` and the exchange type modules). A direct exchange compares
//! the routing key byte for byte. A fanout exchange takes every binding. A topic exchange
//! matches dot-separated words, where a whole word `*` stands for exactly one word and a
//! whole word `#` for zero or more. A headers exchange compares binding arguments with the
//! message's headers under `x-match` and ignores the routing key. A binding may lead to
//! another exchange, which applies its own type to the original routing key and headers;
//! an exchange whose own bindings matched nothing hands the message to its alternate
//! exchange. Every exchange is evaluated at most once per publish, so cycles end, and each
//! queue receives one copy however many paths lead to it.

/// The longest binding or routing key AMQP 0-9-1 carries (a shortstr), in bytes.
pub const KEY_BYTES_MAX: usize = 255;

/// The type of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKind {
    /// Binding key and routing key are equal, byte for byte.
    Direct,
    /// Every binding, whatever its key and arguments.
    Fanout,
    /// Dot-separated words with the wildcards `*` and `#`.
    Topic,
    /// Binding arguments against message headers; the routing key is ignored.
    Headers,
}

/// Where a binding leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A queue, by index.
    Queue(u32),
    /// An exchange of the same [`Router`], by index.
    Exchange(u32),
}

/// A message header value (AMQP field types reduced to what matters for matching:
/// integers of any width compare by value, an integer never equals a float or a string).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HeaderValue<'a> {
    /// A string (longstr or shortstr).
    Str(&'a str),
    /// An integer of any width.
    Int(i64),
    /// A float or a double.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A binding argument of a headers exchange.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// The header must be this string.
    Str(String),
    /// The header must be an integer of this value.
    Int(i64),
    /// The header must be a float of this value.
    Float(f64),
    /// The header must be this boolean.
    Bool(bool),
    /// void: the header must only be present
    Present,
}

impl ArgValue {
    /// Whether a header holding `got` satisfies this argument. Types are compared as
    /// Erlang's `=:=` compares the decoded values: an integer never equals a float or a
    /// string, and floats compare by value.
    fn accepts(&self, got: HeaderValue<'_>) -> bool {
        match (self, got) {
            (ArgValue::Present, _) => true,
            (ArgValue::Str(want), HeaderValue::Str(got)) => want == got,
            (ArgValue::Int(want), HeaderValue::Int(got)) => *want == got,
            (ArgValue::Float(want), HeaderValue::Float(got)) => *want == got,
            (ArgValue::Bool(want), HeaderValue::Bool(got)) => *want == got,
            _ => false,
        }
    }

    /// The value in words, for messages.
    fn describe(&self) -> String {
        match self {
            ArgValue::Str(s) => format!("\"{s}\""),
            ArgValue::Int(i) => format!("the integer {i}"),
            ArgValue::Float(f) => format!("the float {f}"),
            ArgValue::Bool(b) => format!("the boolean {b}"),
            ArgValue::Present => "void (no value)".to_string(),
        }
    }
}

/// x-match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XMatch {
    /// Every argument matches; arguments named `x-…` are skipped.
    All,
    /// At least one argument matches; arguments named `x-…` are skipped.
    Any,
    /// Every argument but `x-match` itself matches.
    AllWithX,
    /// At least one argument but `x-match` itself matches.
    AnyWithX,
}

/// The values `x-match` accepts, for messages.
const XMATCH_VALUES: &str = "\"all\", \"any\", \"all-with-x\" or \"any-with-x\"";

impl XMatch {
    /// Reads an `x-match` argument as `rabbit_exchange_type_headers:validate_binding/2`
    /// does: one of four strings, nothing else.
    fn parse(value: &ArgValue) -> Result<XMatch, String> {
        match value {
            ArgValue::Str(s) => match s.as_str() {
                "all" => Ok(XMatch::All),
                "any" => Ok(XMatch::Any),
                "all-with-x" => Ok(XMatch::AllWithX),
                "any-with-x" => Ok(XMatch::AnyWithX),
                other => Err(format!(
                    "x-match must be {XMATCH_VALUES}, not \"{other}\"; RabbitMQ refuses the binding"
                )),
            },
            other => Err(format!(
                "x-match must be a string, {XMATCH_VALUES}, not {}; RabbitMQ refuses the binding",
                other.describe()
            )),
        }
    }

    /// Whether a binding argument named `name` is compared with the headers under this
    /// mode (`match/2` skips every `x-` argument, `match_x/2` only `x-match`).
    fn compares(self, name: &str) -> bool {
        match self {
            XMatch::All | XMatch::Any => !name.starts_with("x-"),
            XMatch::AllWithX | XMatch::AnyWithX => name != "x-match",
        }
    }
}

/// The arguments of a headers binding.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadersMatch {
    /// How the arguments combine.
    mode: XMatch,
    /// The arguments compared under `mode`, in the binding's order (skipped ones dropped).
    args: Vec<(String, ArgValue)>,
}

impl HeadersMatch {
    /// From the binding's arguments, `x-match` among them (absent: all). Err with a message
    /// in the user's words if x-match is not one of the four strings (RabbitMQ refuses the
    /// bind). With several `x-match` arguments the first one counts, as
    /// `rabbit_misc:table_lookup/2` finds it.
    pub fn new(args: Vec<(String, ArgValue)>) -> Result<HeadersMatch, String> {
        let mode = match args.iter().find(|(name, _)| name == "x-match") {
            None => XMatch::All,
            Some((_, value)) => XMatch::parse(value)?,
        };
        let args = args
            .into_iter()
            .filter(|(name, _)| mode.compares(name))
            .collect();
        Ok(HeadersMatch { mode, args })
    }

    /// How the arguments combine.
    pub fn mode(&self) -> XMatch {
        self.mode
    }

    /// Whether a message with these headers (any order; a later duplicate name wins)
    /// matches. No argument left to compare means every message under all and
    /// all-with-x, and none under any and any-with-x.
    pub fn matches(&self, headers: &[(&str, HeaderValue<'_>)]) -> bool {
        let ok = |(name, want): &(String, ArgValue)| {
            header(headers, name).is_some_and(|got| want.accepts(got))
        };
        match self.mode {
            XMatch::All | XMatch::AllWithX => self.args.iter().all(ok),
            XMatch::Any | XMatch::AnyWithX => self.args.iter().any(ok),
        }
    }
}

/// The value of header `name`: the last one of that name, as a map built from the headers
/// in order keeps it.
fn header<'h>(headers: &[(&str, HeaderValue<'h>)], name: &str) -> Option<HeaderValue<'h>> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| *value)
}

/// One word of a topic binding key.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Word {
    /// `#`: zero or more words.
    Hash,
    /// `*`: exactly one word, possibly empty.
    Star,
    /// Any other word, `a#b` and `**` included: itself only.
    Lit(Box<str>),
}

/// A parsed topic binding key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPattern {
    /// The binding key as given.
    key: Box<str>,
    /// Its words, as `split_topic_key_binary/1` splits it.
    words: Vec<Word>,
    /// No word is a wildcard, so the key matches only the identical routing key.
    literal: bool,
}

impl TopicPattern {
    /// Splits a binding key into words: the empty key has none, any other key is split on
    /// every dot, empty words kept. Never fails: RabbitMQ accepts any key.
    pub fn parse(binding_key: &str) -> TopicPattern {
        let words: Vec<Word> = if binding_key.is_empty() {
            Vec::new()
        } else {
            binding_key.split('.').map(Word::of).collect()
        };
        let literal = words.iter().all(|w| matches!(w, Word::Lit(_)));
        TopicPattern {
            key: binding_key.into(),
            words,
            literal,
        }
    }

    /// The binding key this pattern was parsed from.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the routing key matches, as the suite's `ref_match/2` decides. It walks the
    /// routing key's words by byte offsets and allocates nothing. A `#` is matched
    /// greedily with backtracking to the latest `#` only (the two-pointer technique of
    /// wildcard matching, which is exact because `*` and literal words each take exactly
    /// one word), so a match costs at most (pattern words × routing words) word steps.
    pub fn matches(&self, routing_key: &str) -> bool {
        if self.literal {
            // Equal words in equal order are equal keys, and "" is zero words on both sides.
            return *self.key == *routing_key;
        }
        let rk = routing_key.as_bytes();
        let mut cursor = Cursor::start(rk);
        let mut p = 0;
        // After a `#`: the pattern index after it and the word it currently stops before.
        let mut retry: Option<(usize, Cursor)> = None;
        while let Some(word_end) = cursor.word_end(rk) {
            let word = &rk[cursor.0..word_end];
            match self.words.get(p) {
                Some(Word::Hash) => {
                    p += 1;
                    retry = Some((p, cursor));
                    continue;
                }
                Some(Word::Star) => {
                    p += 1;
                    cursor = Cursor(word_end + 1);
                    continue;
                }
                Some(Word::Lit(lit)) if lit.as_bytes() == word => {
                    p += 1;
                    cursor = Cursor(word_end + 1);
                    continue;
                }
                _ => {}
            }
            // A mismatch: the latest `#` takes one more word, or nothing can match.
            let Some((after_hash, stop)) = retry else {
                return false;
            };
            let next = stop.next(rk);
            retry = Some((after_hash, next));
            p = after_hash;
            cursor = next;
        }
        self.words.iter().skip(p).all(|w| *w == Word::Hash)
    }
}

impl Word {
    /// A word of a binding key: a wildcard only when it is exactly `*` or `#`.
    fn of(word: &str) -> Word {
        match word {
            "#" => Word::Hash,
            "*" => Word::Star,
            other => Word::Lit(other.into()),
        }
    }
}

/// The byte offset where a word of a routing key starts; one past the key's length means
/// past the last word (a key ending in a dot has an empty last word starting at its
/// length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor(usize);

impl Cursor {
    /// The first word of `rk`: past the end at once for the empty key, which has no words.
    fn start(rk: &[u8]) -> Cursor {
        Cursor(usize::from(rk.is_empty()))
    }

    /// Where the current word ends (its dot or the key's end), or None past the last word.
    fn word_end(self, rk: &[u8]) -> Option<usize> {
        let rest = rk.get(self.0..)?;
        Some(
            rest.iter()
                .position(|&b| b == b'.')
                .map_or(rk.len(), |i| self.0 + i),
        )
    }

    /// The next word's start (past the end stays past the end).
    fn next(self, rk: &[u8]) -> Cursor {
        self.word_end(rk)
            .map_or(Cursor(rk.len() + 1), |end| Cursor(end + 1))
    }
}

/// A likely typo in a topic binding key, in words, or None: a word that mixes `*` or `#`
/// with other characters (`a#b`, `*x`, `##`) is a literal word to RabbitMQ and matches only
/// itself, which is almost never what was meant; also a key longer than 255 bytes (AMQP
/// shortstr).
pub fn topic_key_problem(binding_key: &str) -> Option<String> {
    if binding_key.len() > KEY_BYTES_MAX {
        return Some(format!(
            "the binding key is {} bytes long, but AMQP 0-9-1 keys hold at most \
             {KEY_BYTES_MAX} bytes",
            binding_key.len()
        ));
    }
    let word = binding_key
        .split('.')
        .find(|w| w.len() > 1 && w.contains(['*', '#']))?;
    Some(format!(
        "the word \"{word}\" of binding key \"{binding_key}\" is not a wildcard: '*' and '#' \
         are wildcards only as a whole word between dots, so it matches only the word \
         \"{word}\" itself"
    ))
}

/// One binding of an exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Where matching messages go.
    pub dest: Dest,
    /// The binding key (ignored by fanout and headers exchanges).
    pub key: String,
    /// The arguments of a headers binding; None behaves as an empty table (x-match all,
    /// which matches every message). Ignored by the other exchange types.
    pub headers: Option<HeadersMatch>,
    /// The parsed key, for a topic exchange's binding.
    topic: Option<TopicPattern>,
}

impl Binding {
    /// A binding of an exchange of type `kind` (a topic binding parses its key here).
    pub fn new(
        kind: ExchangeKind,
        dest: Dest,
        key: String,
        headers: Option<HeadersMatch>,
    ) -> Binding {
        let topic = (kind == ExchangeKind::Topic).then(|| TopicPattern::parse(&key));
        Binding {
            dest,
            key,
            headers,
            topic,
        }
    }

    /// Parses the key for a topic exchange unless the pattern at hand is this key's (the
    /// binding was made for another type, or its public key was changed since).
    fn prepare(&mut self, kind: ExchangeKind) {
        let fresh = self.topic.as_ref().is_some_and(|p| p.key() == self.key);
        if kind == ExchangeKind::Topic && !fresh {
            self.topic = Some(TopicPattern::parse(&self.key));
        }
    }

    /// Whether a message matches this binding of an exchange of type `kind`.
    fn matches(
        &self,
        kind: ExchangeKind,
        routing_key: &str,
        headers: &[(&str, HeaderValue<'_>)],
    ) -> bool {
        match kind {
            ExchangeKind::Direct => self.key == routing_key,
            ExchangeKind::Fanout => true,
            ExchangeKind::Topic => self.topic.as_ref().is_some_and(|p| p.matches(routing_key)),
            ExchangeKind::Headers => self.headers.as_ref().is_none_or(|h| h.matches(headers)),
        }
    }
}

/// One exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// Its type.
    pub kind: ExchangeKind,
    /// Its bindings, in the order they were made.
    pub bindings: Vec<Binding>,
    /// Its alternate exchange, by index: where a message goes that none of its bindings
    /// matched.
    pub alternate: Option<u32>,
}

/// Reusable scratch space for routing, so that a route allocates nothing in steady state.
#[derive(Clone, Debug, Default)]
pub struct RouteScratch {
    /// Per exchange, the last route (epoch) that reached it.
    seen: Vec<u32>,
    /// The current route's number; 0 is never current, so fresh entries read as unseen.
    epoch: u32,
    /// Exchanges reached but not evaluated yet.
    work: Vec<u32>,
    /// Every exchange the current route reached, in the order it reached them.
    reached: Vec<u32>,
}

impl RouteScratch {
    /// Starts a route over `exchanges` exchanges: nothing seen, nothing to do.
    fn begin(&mut self, exchanges: usize) {
        self.work.clear();
        self.reached.clear();
        if self.seen.len() != exchanges {
            self.seen.clear();
            self.seen.resize(exchanges, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.fill(0);
            self.epoch = 1;
        }
    }

    /// The exchanges the last route reached (the one published to first), each once,
    /// through bindings or as alternates.
    pub fn reached(&self) -> &[u32] {
        &self.reached
    }

    /// Queues exchange `x` for evaluation unless this route has seen it already or it does
    /// not exist (`process_route/2` and `cons_if_present/2`); whether it was queued.
    fn reach(&mut self, x: u32) -> bool {
        match self.seen.get_mut(x as usize) {
            Some(seen) if *seen != self.epoch => {
                *seen = self.epoch;
                self.work.push(x);
                self.reached.push(x);
                true
            }
            _ => false,
        }
    }
}

/// What a route found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Routed {
    /// at least one alternate exchange was used
    pub via_alternate: bool,
}

/// Every exchange of a scenario, by index.
#[derive(Clone, Debug)]
pub struct Router {
    /// The exchanges, topic bindings parsed.
    exchanges: Vec<Exchange>,
    /// Per exchange, whether a headers exchange can be reached from it.
    reads_headers: Vec<bool>,
}

impl Router {
    /// A router over these exchanges; bindings and alternates refer to them by index (an
    /// index with no exchange behaves as a deleted exchange: skipped).
    pub fn new(mut exchanges: Vec<Exchange>) -> Router {
        for exchange in &mut exchanges {
            let kind = exchange.kind;
            exchange.bindings.iter_mut().for_each(|b| b.prepare(kind));
        }
        let reads_headers = headers_readers(&exchanges);
        Router {
            exchanges,
            reads_headers,
        }
    }

    /// The exchanges, by index.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Routes a message published to exchange `x` with `routing_key` and `headers` as
    /// rabbit_exchange:route/3 does: a worklist starting at x with a seen-set (each
    /// exchange evaluated at most once per publish: cycles are cut), each exchange applying
    /// its own type to the ORIGINAL routing key and headers; an exchange's alternate
    /// exchange is pushed only when that exchange's own type routing returned no
    /// destination at all (queues or exchanges); AE chains followed, visited ones skipped.
    /// `out` is cleared and receives each destination queue once, sorted ascending
    /// (determinism). An empty `out` means unroutable.
    pub fn route(
        &self,
        x: u32,
        routing_key: &str,
        headers: &[(&str, HeaderValue<'_>)],
        scratch: &mut RouteScratch,
        out: &mut Vec<u32>,
    ) -> Routed {
        out.clear();
        scratch.begin(self.exchanges.len());
        scratch.reach(x);
        let mut routed = Routed::default();
        while let Some(at) = scratch.work.pop() {
            let Some(exchange) = self.exchanges.get(at as usize) else {
                continue;
            };
            let mut found = false;
            for binding in &exchange.bindings {
                if !binding.matches(exchange.kind, routing_key, headers) {
                    continue;
                }
                found = true;
                match binding.dest {
                    Dest::Queue(q) => out.push(q),
                    Dest::Exchange(next) => {
                        scratch.reach(next);
                    }
                }
            }
            if !found && let Some(alternate) = exchange.alternate {
                routed.via_alternate |= scratch.reach(alternate);
            }
        }
        out.sort_unstable();
        out.dedup();
        routed
    }

    /// Whether a headers exchange can be reached from `x` (through bindings or alternates),
    /// i.e. whether the route depends on more than the routing key (callers may then not
    /// cache routes by routing key).
    pub fn reads_headers(&self, x: u32) -> bool {
        self.reads_headers.get(x as usize).copied().unwrap_or(false)
    }
}

/// The exchanges a message at `exchange` may go on to: its bindings' exchanges and its
/// alternate.
fn leads_to(exchange: &Exchange) -> impl Iterator<Item = u32> + '_ {
    let bound = exchange.bindings.iter().filter_map(|b| match b.dest {
        Dest::Exchange(x) => Some(x),
        Dest::Queue(_) => None,
    });
    bound.chain(exchange.alternate)
}

/// Per exchange, whether a headers exchange can be reached from it: one walk backwards
/// from every headers exchange, over bindings and alternates reversed.
fn headers_readers(exchanges: &[Exchange]) -> Vec<bool> {
    let mut from: Vec<Vec<u32>> = vec![Vec::new(); exchanges.len()];
    for (x, exchange) in (0u32..).zip(exchanges) {
        for next in leads_to(exchange) {
            if let Some(list) = from.get_mut(next as usize) {
                list.push(x);
            }
        }
    }
    let mut reads: Vec<bool> = exchanges
        .iter()
        .map(|e| e.kind == ExchangeKind::Headers)
        .collect();
    let mut work: Vec<u32> = (0u32..)
        .zip(&reads)
        .filter(|(_, r)| **r)
        .map(|(x, _)| x)
        .collect();
    while let Some(x) = work.pop() {
        for &prev in &from[x as usize] {
            if !reads[prev as usize] {
                reads[prev as usize] = true;
                work.push(prev);
            }
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    /// A headers binding's arguments from (name, value) pairs.
    fn table(args: &[(&str, ArgValue)]) -> Vec<(String, ArgValue)> {
        args.iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect()
    }

    /// A string argument.
    fn s(value: &str) -> ArgValue {
        ArgValue::Str(value.to_string())
    }

    /// A valid headers binding's arguments.
    fn headers_match(args: &[(&str, ArgValue)]) -> HeadersMatch {
        HeadersMatch::new(table(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// An exchange of type `kind` with (destination, key) bindings.
    fn exchange(kind: ExchangeKind, bindings: &[(Dest, &str)], alternate: Option<u32>) -> Exchange {
        let bindings = bindings
            .iter()
            .map(|&(dest, key)| Binding::new(kind, dest, key.to_string(), None))
            .collect();
        Exchange {
            kind,
            bindings,
            alternate,
        }
    }

    /// The queues and the outcome of one route, with a fresh scratch.
    fn route(
        router: &Router,
        x: u32,
        rk: &str,
        headers: &[(&str, HeaderValue<'_>)],
    ) -> (Vec<u32>, Routed) {
        let mut out = Vec::new();
        let routed = router.route(x, rk, headers, &mut RouteScratch::default(), &mut out);
        (out, routed)
    }

    // routing_SUITE:topic1, verbatim: (binding key, queue tN, the foo argument if any).
    const TOPIC1_BINDINGS: [(&str, u32, Option<&str>); 27] = [
        ("a.b.c", 1, None),
        ("a.*.c", 2, None),
        ("a.#.b", 3, None),
        ("a.b.b.c", 4, None),
        ("#", 5, None),
        ("#.#", 6, None),
        ("#.b", 7, None),
        ("*.*", 8, None),
        ("a.*", 9, None),
        ("*.b.c", 10, None),
        ("a.#", 11, None),
        ("a.#.#", 12, None),
        ("b.b.c", 13, None),
        ("a.b.b", 14, None),
        ("a.b", 15, None),
        ("b.c", 16, None),
        ("", 17, None),
        ("*.*.*", 18, None),
        ("vodka.martini", 19, None),
        ("a.b.c", 20, None),
        ("*.#", 21, None),
        ("#.*.#", 22, None),
        ("*.#.#", 23, None),
        ("*", 25, None),
        ("#.b.#", 26, None),
        ("args-test", 27, Some("bar")),
        ("args-test", 27, Some("baz")),
    ];

    const TOPIC1_EXPECTED: [(&str, &[u32]); 12] = [
        ("a.b.c", &[1, 2, 5, 6, 10, 11, 12, 18, 20, 21, 22, 23, 26]),
        ("a.b", &[3, 5, 6, 7, 8, 9, 11, 12, 15, 21, 22, 23, 26]),
        ("a.b.b", &[3, 5, 6, 7, 11, 12, 14, 18, 21, 22, 23, 26]),
        ("", &[5, 6, 17]),
        ("b.c.c", &[5, 6, 18, 21, 22, 23, 26]),
        ("a.a.a.a.a", &[5, 6, 11, 12, 21, 22, 23]),
        ("vodka.gin", &[5, 6, 8, 21, 22, 23]),
        ("vodka.martini", &[5, 6, 8, 19, 21, 22, 23]),
        ("b.b.c", &[5, 6, 10, 13, 18, 21, 22, 23, 26]),
        ("nothing.here.at.all", &[5, 6, 21, 22, 23]),
        ("oneword", &[5, 6, 21, 22, 23, 25]),
        ("args-test", &[5, 6, 21, 22, 23, 25, 27]),
    ];

    /// The bindings topic1 removes, numbered from 1 in TOPIC1_BINDINGS.
    const TOPIC1_REMOVED: [usize; 6] = [1, 5, 11, 19, 21, 27];

    const TOPIC1_EXPECTED_AFTER: [(&str, &[u32]); 12] = [
        ("a.b.c", &[2, 6, 10, 12, 18, 20, 22, 23, 26]),
        ("a.b", &[3, 6, 7, 8, 9, 12, 15, 22, 23, 26]),
        ("a.b.b", &[3, 6, 7, 12, 14, 18, 22, 23, 26]),
        ("", &[6, 17]),
        ("b.c.c", &[6, 18, 22, 23, 26]),
        ("a.a.a.a.a", &[6, 12, 22, 23]),
        ("vodka.gin", &[6, 8, 22, 23]),
        ("vodka.martini", &[6, 8, 22, 23]),
        ("b.b.c", &[6, 10, 13, 18, 22, 23, 26]),
        ("nothing.here.at.all", &[6, 22, 23]),
        ("oneword", &[6, 22, 23, 25]),
        ("args-test", &[6, 22, 23, 25, 27]),
    ];

    /// One topic exchange with the topic1 bindings whose number is not in `removed`.
    fn topic1_router(removed: &[usize]) -> Router {
        let bindings = (1..)
            .zip(TOPIC1_BINDINGS)
            .filter(|(n, _)| !removed.contains(n))
            .map(|(_, (key, queue, foo))| {
                let args = foo.map(|v| headers_match(&[("foo", s(v))]));
                Binding::new(
                    ExchangeKind::Topic,
                    Dest::Queue(queue),
                    key.to_string(),
                    args,
                )
            })
            .collect();
        Router::new(vec![Exchange {
            kind: ExchangeKind::Topic,
            bindings,
            alternate: None,
        }])
    }

    /// Routes every key of `expected` through exchange 0 and compares the queues.
    fn check_topic1(router: &Router, expected: &[(&str, &[u32])], stage: &str) {
        for &(rk, queues) in expected {
            let (out, routed) = route(router, 0, rk, &[]);
            assert_eq!(out, queues, "topic1 {stage}: routing key {rk:?}");
            assert!(!routed.via_alternate, "topic1 {stage}: routing key {rk:?}");
        }
    }

    #[test]
    fn routing_suite_topic1() {
        check_topic1(&topic1_router(&[]), &TOPIC1_EXPECTED, "all bindings");
        let after = topic1_router(&TOPIC1_REMOVED);
        assert_eq!(
            after.exchanges()[0].bindings.len(),
            21,
            "topic1: six bindings removed"
        );
        check_topic1(&after, &TOPIC1_EXPECTED_AFTER, "after removals");
        // The exchange deleted: exchange 0 no longer exists.
        let deleted = Router::new(Vec::new());
        for (rk, _) in TOPIC1_EXPECTED {
            let (out, _) = route(&deleted, 0, rk, &[]);
            assert!(
                out.is_empty(),
                "topic1 deleted exchange: routing key {rk:?}"
            );
        }
    }

    // rabbit_db_topic_exchange_SUITE (§1.4) and the edge cases of §1.2: (binding, routing
    // key, match).
    const TOPIC_CASES: &[(&str, &str, bool)] = &[
        // topic_match_basic
        ("foo.bar", "foo.bar", true),
        ("foo.baz", "foo.bar", false),
        ("other.key", "foo.bar", false),
        ("foo.bar", "foo.baz", false),
        ("foo.baz", "foo.baz", true),
        ("other.key", "foo.baz", false),
        ("foo.bar", "other.key", false),
        ("foo.baz", "other.key", false),
        ("other.key", "other.key", true),
        ("foo.bar", "no.match", false),
        ("foo.baz", "no.match", false),
        ("other.key", "no.match", false),
        // topic_match_wildcards
        ("foo.*", "foo.bar", true),
        ("foo.#", "foo.bar", true),
        ("foo.bar", "foo.bar", true),
        ("foo.*.baz", "foo.bar", false),
        ("#", "foo.bar", true),
        ("foo.*", "foo.bar.baz", false),
        ("foo.#", "foo.bar.baz", true),
        ("foo.bar", "foo.bar.baz", false),
        ("foo.*.baz", "foo.bar.baz", true),
        ("#", "foo.bar.baz", true),
        ("foo.*", "foo.bar.baz.qux", false),
        ("foo.#", "foo.bar.baz.qux", true),
        ("foo.bar", "foo.bar.baz.qux", false),
        ("foo.*.baz", "foo.bar.baz.qux", false),
        ("#", "foo.bar.baz.qux", true),
        ("foo.*", "foo.qux", true),
        ("foo.#", "foo.qux", true),
        ("foo.bar", "foo.qux", false),
        ("foo.*.baz", "foo.qux", false),
        ("#", "foo.qux", true),
        ("foo.*", "bar.foo", false),
        ("foo.#", "bar.foo", false),
        ("foo.bar", "bar.foo", false),
        ("foo.*.baz", "bar.foo", false),
        ("#", "bar.foo", true),
        // topic_match_hash_middle
        ("#.c", "a.b.c", true),
        ("#.b.c", "a.b.c", true),
        ("a.#.d", "a.b.c", false),
        ("#.*.#", "a.b.c", true),
        ("#.c", "c", true),
        ("#.b.c", "c", false),
        ("a.#.d", "c", false),
        ("#.*.#", "c", true),
        ("#.c", "x.y.b.c", true),
        ("#.b.c", "x.y.b.c", true),
        ("a.#.d", "x.y.b.c", false),
        ("#.*.#", "x.y.b.c", true),
        ("#.c", "a.d", false),
        ("#.b.c", "a.d", false),
        ("a.#.d", "a.d", true),
        ("#.*.#", "a.d", true),
        ("#.c", "a.b.c.d", false),
        ("#.b.c", "a.b.c.d", false),
        ("a.#.d", "a.b.c.d", true),
        ("#.*.#", "a.b.c.d", true),
        ("#.c", "x", false),
        ("#.b.c", "x", false),
        ("a.#.d", "x", false),
        ("#.*.#", "x", true),
        ("#.c", "x.c", true),
        ("#.b.c", "x.c", false),
        ("a.#.d", "x.c", false),
        ("#.*.#", "x.c", true),
        // topic_match_empty_routing_key
        ("#", "", true),
        ("foo.bar", "", false),
        ("#", "foo.bar", true),
        ("foo.bar", "foo.bar", true),
        // topic_match_overlapping_filters
        ("a.b", "a.b.c", false),
        ("a.b.#", "a.b.c", true),
        ("a.b.c", "a.b.c", true),
        ("a.b.*", "a.b.c", true),
        ("a.b.d", "a.b.c", false),
        ("a.*.*", "a.b.c", true),
        ("a.*.#", "a.b.c", true),
        ("*.b.c", "a.b.c", true),
        ("a.b", "a.b", true),
        ("a.b.#", "a.b", true),
        ("a.b.c", "a.b", false),
        ("a.b.*", "a.b", false),
        ("a.b.d", "a.b", false),
        ("a.*.*", "a.b", false),
        ("a.*.#", "a.b", true),
        ("*.b.c", "a.b", false),
        // topic_match_empty_segments
        (".#", ".0.a.b.c", true),
        (".*", ".0.a.b.c", false),
        (".*.a.b.c", ".0.a.b.c", true),
        // topic_match_exchange_to_exchange
        ("events.*.critical", "events.app.critical", true),
        ("events.#", "events.app.critical", true),
        ("events.app.critical", "events.app.critical", true),
        ("events.*.critical", "events.db.info", false),
        ("events.#", "events.db.info", true),
        ("events.app.critical", "events.db.info", false),
        // §1.2 edge cases
        ("", "", true),
        ("", ".", false),
        ("#", "", true),
        ("#.#", "", true),
        ("*", "", false),
        ("*.#", "", false),
        ("a.*", "a.", true),
        ("a.#", "a", true),
        ("a.*.b", "a..b", true),
        ("*.*", ".", true),
        ("simply#carrots", "simplycarrots", false),
        ("#.noclue", "#.noclue", true),
        ("#.noclue", "#.bla", false),
        ("this.*.rules", "*.queue.rules", false),
    ];

    const ALPHABET: &str = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z";

    /// The deep and long keys of §1.4, built: (case, binding, routing key, match).
    fn deep_cases() -> Vec<(&'static str, String, String, bool)> {
        let t = ALPHABET.to_string();
        let stars = format!("{}.#", ["*"; 26].join("."));
        let hashes = ["#"; 15].join(".");
        let a31 = ["a"; 31].join(".");
        // Not in the suite: a pattern that makes naive backtracking exponential.
        let many_hashes = ["#", "a"].repeat(12).join(".") + ".b";
        let a127 = ["a"; 127].join(".");
        vec![
            ("# vs T", "#".into(), t.clone(), true),
            ("T.# vs T", format!("{t}.#"), t.clone(), true),
            ("T.* vs T", format!("{t}.*"), t.clone(), false),
            ("T.# vs T.1", format!("{t}.#"), format!("{t}.1"), true),
            ("T.* vs T.1", format!("{t}.*"), format!("{t}.1"), true),
            ("26 stars and # vs T", stars, t.clone(), true),
            (
                "alternating vs T",
                "a.*.c.*.e.*.g.*.i.*.k.*.m.*.o.*.q.*.s.*.u.*.w.*.y.*.#".into(),
                t,
                true,
            ),
            ("15 # vs 31 a", hashes, a31, true),
            ("(#.a)x12.b vs 127 a", many_hashes, a127, false),
        ]
    }

    #[test]
    fn topic_suite_cases_and_edge_cases() {
        for &(binding, rk, want) in TOPIC_CASES {
            let got = TopicPattern::parse(binding).matches(rk);
            assert_eq!(got, want, "topic binding {binding:?}, routing key {rk:?}");
        }
        for (case, binding, rk, want) in deep_cases() {
            let got = TopicPattern::parse(&binding).matches(&rk);
            assert_eq!(got, want, "topic deep case {case}");
        }
    }

    /// `split_topic_key_binary/1`, for the reference matcher.
    fn split(key: &str) -> Vec<&str> {
        if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        }
    }

    /// A direct port of rabbit_db_topic_exchange_SUITE's `ref_match/2`.
    fn ref_match(filter: &[&str], topic: &[&str]) -> bool {
        match (filter, topic) {
            ([], []) => true,
            (["#"], _) => true,
            (["#", rest @ ..], _) => ref_match_hash(rest, topic),
            (["*", f_rest @ ..], [_, t_rest @ ..]) => ref_match(f_rest, t_rest),
            ([w, f_rest @ ..], [v, t_rest @ ..]) if w == v => ref_match(f_rest, t_rest),
            _ => false,
        }
    }

    /// `ref_match_hash/2`: the `#` takes zero words, or one more.
    fn ref_match_hash(filter: &[&str], topic: &[&str]) -> bool {
        ref_match(filter, topic)
            || match topic {
                [_, t_rest @ ..] => ref_match_hash(filter, t_rest),
                [] => false,
            }
    }

    /// Words of random keys; `*` and `#` in a routing key are literal words.
    const WORDS: [&str; 7] = ["a", "b", "c", "foo", "", "*", "#"];

    fn key() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&WORDS[..]), 0..7).prop_map(|w| w.join("."))
    }

    proptest! {
        #![proptest_config(Config {
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x7ab_b17),
            ..Config::with_cases(2_000)
        })]

        #[test]
        fn topic_matches_as_ref_match(binding in key(), rk in key()) {
            let want = ref_match(&split(&binding), &split(&rk));
            prop_assert_eq!(TopicPattern::parse(&binding).matches(&rk), want,
                "binding {:?}, routing key {:?}", binding, rk);
        }
    }

    /// (case, binding arguments, message headers, match).
    type HeadersCase = (
        &'static str,
        Vec<(&'static str, ArgValue)>,
        Vec<(&'static str, HeaderValue<'static>)>,
        bool,
    );

    /// exchanges_SUITE and dead_lettering_SUITE (§2), then what follows from the code.
    fn headers_cases() -> Vec<HeadersCase> {
        use ArgValue::{Float as F, Int as I, Present};
        use HeaderValue::{Bool as HB, Float as HF, Int as HI, Str as HS};
        let all = || ("x-match", s("all"));
        let any = || ("x-match", s("any"));
        let all_x = || ("x-match", s("all-with-x"));
        let any_x = || ("x-match", s("any-with-x"));
        let foo_fuu = |m: (&'static str, ArgValue)| vec![m, ("foo", s("bar")), ("fuu", s("ber"))];
        let presence = |m: (&'static str, ArgValue)| vec![m, ("foo", Present), ("x-foo", Present)];
        let both = || vec![("foo", HS("bar")), ("fuu", HS("ber"))];
        let first_death = |q: &'static str| {
            vec![
                ("x-first-death-reason", HS("expired")),
                ("x-first-death-queue", HS(q)),
            ]
        };
        vec![
            // headers_exchange
            ("all: both", foo_fuu(all()), both(), true),
            ("all: one", foo_fuu(all()), vec![("foo", HS("bar"))], false),
            ("all: none", foo_fuu(all()), vec![], false),
            ("any: both", foo_fuu(any()), both(), true),
            ("any: one", foo_fuu(any()), vec![("foo", HS("bar"))], true),
            ("any: none", foo_fuu(any()), vec![], false),
            // headers_exchange_key_presence_only
            (
                "all-with-x void: both",
                presence(all_x()),
                vec![("foo", HS("anything")), ("x-foo", HI(42))],
                true,
            ),
            (
                "all-with-x void: foo",
                presence(all_x()),
                vec![("foo", HS("whatever"))],
                false,
            ),
            (
                "all-with-x void: x-foo",
                presence(all_x()),
                vec![("x-foo", HS("something"))],
                false,
            ),
            (
                "all-with-x void: other",
                presence(all_x()),
                vec![("other", HS("value"))],
                false,
            ),
            ("all-with-x void: none", presence(all_x()), vec![], false),
            (
                "any-with-x void: both",
                presence(any_x()),
                vec![("foo", HS("anything")), ("x-foo", HI(42))],
                true,
            ),
            (
                "any-with-x void: foo",
                presence(any_x()),
                vec![("foo", HS("whatever"))],
                true,
            ),
            (
                "any-with-x void: x-foo",
                presence(any_x()),
                vec![("x-foo", HS("something"))],
                true,
            ),
            (
                "any-with-x void: other",
                presence(any_x()),
                vec![("other", HS("value"))],
                false,
            ),
            ("any-with-x void: none", presence(any_x()), vec![], false),
            (
                "void: any type",
                vec![("b", Present)],
                vec![("b", HB(false))],
                true,
            ),
            // dead_letter_headers_first_death_route
            (
                "first death Q1",
                vec![
                    all_x(),
                    ("x-first-death-reason", s("expired")),
                    ("x-first-death-queue", s("Q1")),
                ],
                first_death("Q1"),
                true,
            ),
            (
                "first death Q2",
                vec![
                    all_x(),
                    ("x-first-death-reason", s("expired")),
                    ("x-first-death-queue", s("Q1")),
                ],
                first_death("Q2"),
                false,
            ),
            (
                "first death rejected",
                vec![any_x(), ("x-first-death-reason", s("rejected"))],
                vec![
                    ("x-first-death-reason", HS("rejected")),
                    ("x-first-death-queue", HS("Q2")),
                ],
                true,
            ),
            // From the code: empty tables.
            (
                "only x-match all",
                vec![all()],
                vec![("foo", HS("bar"))],
                true,
            ),
            ("only x-match all, no headers", vec![all()], vec![], true),
            (
                "only x-match any",
                vec![any()],
                vec![("foo", HS("bar"))],
                false,
            ),
            ("only x-match all-with-x", vec![all_x()], vec![], true),
            (
                "only x-match any-with-x",
                vec![any_x()],
                vec![("foo", HS("bar"))],
                false,
            ),
            ("empty table", vec![], vec![("foo", HS("bar"))], true),
            ("empty table, no headers", vec![], vec![], true),
            // From the code: x- arguments skipped under all/any, compared with -with-x.
            (
                "all skips x-foo",
                vec![all(), ("x-foo", I(1))],
                vec![],
                true,
            ),
            (
                "absent x-match skips x-foo",
                vec![("x-foo", I(1))],
                vec![("x-foo", HI(2))],
                true,
            ),
            (
                "any skips x-foo",
                vec![any(), ("x-foo", I(1))],
                vec![("x-foo", HI(1))],
                false,
            ),
            (
                "all-with-x compares x-foo: absent",
                vec![all_x(), ("x-foo", I(1))],
                vec![],
                false,
            ),
            (
                "all-with-x compares x-foo: equal",
                vec![all_x(), ("x-foo", I(1))],
                vec![("x-foo", HI(1))],
                true,
            ),
            (
                "any-with-x compares x-foo",
                vec![any_x(), ("x-foo", I(1))],
                vec![("x-foo", HI(1))],
                true,
            ),
            (
                "any-with-x, x-foo differs",
                vec![any_x(), ("x-foo", I(1))],
                vec![("x-foo", HI(2))],
                false,
            ),
            (
                "x-match header ignored",
                vec![all(), ("foo", s("bar"))],
                vec![("x-match", HS("any")), ("foo", HS("bar"))],
                true,
            ),
            // From the code: types.
            (
                "long vs signedint",
                vec![all(), ("n", I(1))],
                vec![("n", HI(1))],
                true,
            ),
            (
                "int vs string",
                vec![all(), ("n", I(1))],
                vec![("n", HS("1"))],
                false,
            ),
            (
                "string vs int",
                vec![("n", s("1"))],
                vec![("n", HI(1))],
                false,
            ),
            (
                "int vs float",
                vec![("n", I(1))],
                vec![("n", HF(1.0))],
                false,
            ),
            (
                "float vs int",
                vec![("n", F(1.0))],
                vec![("n", HI(1))],
                false,
            ),
            (
                "float vs float",
                vec![("n", F(1.5))],
                vec![("n", HF(1.5))],
                true,
            ),
            (
                "bool vs bool",
                vec![("b", ArgValue::Bool(true))],
                vec![("b", HB(true))],
                true,
            ),
            (
                "bool vs string",
                vec![("b", ArgValue::Bool(true))],
                vec![("b", HS("true"))],
                false,
            ),
            ("int differs", vec![("n", I(1))], vec![("n", HI(2))], false),
            // From the code: duplicate header names, the later wins.
            (
                "later duplicate matches",
                vec![("foo", s("bar"))],
                vec![("foo", HS("baz")), ("foo", HS("bar"))],
                true,
            ),
            (
                "later duplicate differs",
                vec![("foo", s("bar"))],
                vec![("foo", HS("bar")), ("foo", HS("baz"))],
                false,
            ),
            (
                "any order",
                vec![all(), ("foo", s("bar")), ("fuu", s("ber"))],
                vec![("fuu", HS("ber")), ("zzz", HI(0)), ("foo", HS("bar"))],
                true,
            ),
        ]
    }

    #[test]
    fn headers_suite_cases_and_cases_from_the_code() {
        for (case, args, headers, want) in headers_cases() {
            let m = headers_match(&args);
            assert_eq!(m.matches(&headers), want, "headers case {case}");
        }
    }

    #[test]
    fn headers_modes_and_invalid_x_match() {
        let modes: [(&str, Option<ArgValue>, XMatch); 5] = [
            ("absent", None, XMatch::All),
            ("all", Some(s("all")), XMatch::All),
            ("any", Some(s("any")), XMatch::Any),
            ("all-with-x", Some(s("all-with-x")), XMatch::AllWithX),
            ("any-with-x", Some(s("any-with-x")), XMatch::AnyWithX),
        ];
        for (case, value, want) in modes {
            let args: Vec<_> = value.into_iter().map(|v| ("x-match", v)).collect();
            assert_eq!(headers_match(&args).mode(), want, "x-match {case}");
        }
        let invalid: [(&str, ArgValue); 5] = [
            ("unknown string", s("none")),
            ("wrong case", s("ALL")),
            ("empty string", s("")),
            ("an integer", ArgValue::Int(1)),
            ("void", ArgValue::Present),
        ];
        for (case, value) in invalid {
            let got = HeadersMatch::new(table(&[("x-match", value), ("foo", s("bar"))]));
            let err = got
                .err()
                .unwrap_or_else(|| panic!("x-match {case}: accepted"));
            assert!(err.contains("x-match must be"), "x-match {case}: {err}");
        }
    }

    /// One routing check: (case, exchange published to, routing key, headers, queues,
    /// via an alternate).
    type RouteCase<'a> = (
        &'a str,
        u32,
        &'a str,
        &'a [(&'a str, HeaderValue<'a>)],
        &'a [u32],
        bool,
    );

    fn check_routes(router: &Router, cases: &[RouteCase<'_>]) {
        for &(case, x, rk, headers, queues, via) in cases {
            let (out, routed) = route(router, x, rk, headers);
            assert_eq!(out, queues, "route case {case}: queues");
            assert_eq!(
                routed.via_alternate, via,
                "route case {case}: via_alternate"
            );
        }
    }

    use Dest::{Exchange as X, Queue as Q};
    use ExchangeKind::{Direct, Fanout, Headers, Topic};

    #[test]
    fn direct_and_fanout() {
        let router = Router::new(vec![
            exchange(
                Direct,
                &[
                    (Q(1), "a"),
                    (Q(2), ""),
                    (Q(3), "a"),
                    (Q(4), "A"),
                    (Q(1), "a"),
                ],
                None,
            ),
            exchange(Fanout, &[(Q(2), "x"), (Q(1), ""), (Q(2), "y")], None),
        ]);
        check_routes(
            &router,
            &[
                ("direct a", 0, "a", &[], &[1, 3], false),
                ("direct empty key", 0, "", &[], &[2], false),
                ("direct is case-sensitive", 0, "A", &[], &[4], false),
                ("direct no prefix match", 0, "a.b", &[], &[], false),
                ("direct no wildcards", 0, "*", &[], &[], false),
                ("direct unbound key", 0, "b", &[], &[], false),
                ("fanout any key", 1, "whatever", &[], &[1, 2], false),
                (
                    "fanout empty key",
                    1,
                    "",
                    &[("foo", HeaderValue::Int(1))],
                    &[1, 2],
                    false,
                ),
                ("missing exchange", 7, "a", &[], &[], false),
            ],
        );
    }

    #[test]
    fn headers_exchange_ignores_the_routing_key() {
        let mut any_foo = Binding::new(Headers, Q(2), "ignored".into(), None);
        any_foo.headers = Some(headers_match(&[("x-match", s("any")), ("foo", s("bar"))]));
        let router = Router::new(vec![Exchange {
            kind: Headers,
            bindings: vec![Binding::new(Headers, Q(1), "k".into(), None), any_foo],
            alternate: None,
        }]);
        let foo = [("foo", HeaderValue::Str("bar"))];
        check_routes(
            &router,
            &[
                (
                    "None arguments match all, no headers",
                    0,
                    "k",
                    &[],
                    &[1],
                    false,
                ),
                ("any foo=bar", 0, "other", &foo, &[1, 2], false),
                ("any foo=bar, empty key", 0, "", &foo, &[1, 2], false),
            ],
        );
    }

    #[test]
    fn exchange_to_exchange() {
        // topic_match_exchange_to_exchange: "events.#" leads to a fanout exchange.
        let router = Router::new(vec![
            exchange(
                Topic,
                &[
                    (Q(3), "events.*.critical"),
                    (X(1), "events.#"),
                    (Q(4), "events.app.critical"),
                ],
                None,
            ),
            exchange(Fanout, &[(Q(1), ""), (Q(2), "")], None),
            // A downstream direct exchange applies its own type to the original key.
            exchange(Topic, &[(X(3), "events.#")], None),
            exchange(
                Direct,
                &[(Q(5), "events.app.critical"), (Q(6), "events.#")],
                None,
            ),
        ]);
        check_routes(
            &router,
            &[
                (
                    "e2e critical",
                    0,
                    "events.app.critical",
                    &[],
                    &[1, 2, 3, 4],
                    false,
                ),
                ("e2e info", 0, "events.db.info", &[], &[1, 2], false),
                ("e2e no match", 0, "other.app.critical", &[], &[], false),
                (
                    "downstream direct, original key",
                    2,
                    "events.app.critical",
                    &[],
                    &[5],
                    false,
                ),
                (
                    "downstream direct, no match",
                    2,
                    "events.db.info",
                    &[],
                    &[],
                    false,
                ),
            ],
        );
    }

    #[test]
    fn cycles_and_paths_give_one_copy() {
        let router = Router::new(vec![
            // A -> B -> A, A -> A.
            exchange(Fanout, &[(X(1), ""), (X(0), ""), (Q(1), "")], None),
            exchange(Fanout, &[(X(0), ""), (Q(2), "")], None),
            // Three paths to queue 7: directly, through 3 and through 4 (and 3 -> 4).
            exchange(Fanout, &[(X(3), ""), (X(4), ""), (Q(7), "")], None),
            exchange(Fanout, &[(Q(7), ""), (X(4), "")], None),
            exchange(Direct, &[(Q(7), "k"), (Q(8), "k")], None),
        ]);
        check_routes(
            &router,
            &[
                ("cycle from A", 0, "k", &[], &[1, 2], false),
                ("cycle from B", 1, "k", &[], &[1, 2], false),
                ("three paths", 2, "k", &[], &[7, 8], false),
                ("paths, direct unmatched", 2, "z", &[], &[7], false),
            ],
        );
    }

    #[test]
    fn alternate_exchanges() {
        let router = Router::new(vec![
            // 0: direct "k" -> q1, AE 1.
            exchange(Direct, &[(Q(1), "k")], Some(1)),
            // 1: fanout -> q2.
            exchange(Fanout, &[(Q(2), "")], None),
            // 2: direct "k" -> exchange 3, AE 1; 3 matches nothing but "other", AE 4.
            exchange(Direct, &[(X(3), "k")], Some(1)),
            exchange(Direct, &[(Q(3), "other")], Some(4)),
            exchange(Fanout, &[(Q(8), "")], None),
            // 5: like 2, but its exchange 6 has no AE.
            exchange(Direct, &[(X(6), "k")], Some(1)),
            exchange(Direct, &[(Q(3), "other")], None),
            // 7 -> AE 8 -> AE 9 (fanout q9): a chain.
            exchange(Direct, &[], Some(8)),
            exchange(Topic, &[(Q(5), "a.*")], Some(9)),
            exchange(Fanout, &[(Q(9), "")], None),
            // 10 <-> 11: an AE cycle, nothing matches.
            exchange(Direct, &[(Q(10), "k")], Some(11)),
            exchange(Direct, &[(Q(11), "k")], Some(10)),
            // 12: a missing AE.
            exchange(Direct, &[], Some(99)),
            // 13 -> 14 by binding; 14's AE is 13, visited already.
            exchange(Fanout, &[(X(14), "")], None),
            exchange(Direct, &[(Q(14), "k")], Some(13)),
            // 15: a self-binding counts as a match, so AE 1 is not used.
            exchange(Direct, &[(X(15), "k")], Some(1)),
        ]);
        check_routes(
            &router,
            &[
                ("own match, AE unused", 0, "k", &[], &[1], false),
                ("no match, AE used", 0, "z", &[], &[2], true),
                (
                    "only match an exchange that matches nothing: its AE, not ours",
                    2,
                    "k",
                    &[],
                    &[8],
                    true,
                ),
                ("no match at 2: AE 1", 2, "z", &[], &[2], true),
                (
                    "only match an exchange without AE: unroutable",
                    5,
                    "k",
                    &[],
                    &[],
                    false,
                ),
                ("AE chain to its end", 7, "k", &[], &[9], true),
                (
                    "AE chain stops where one matches",
                    7,
                    "a.b",
                    &[],
                    &[5],
                    true,
                ),
                ("AE cycle terminates", 10, "z", &[], &[], true),
                ("AE cycle, own match", 10, "k", &[], &[10], false),
                ("missing AE skipped", 12, "k", &[], &[], false),
                ("AE already visited skipped", 13, "z", &[], &[], false),
                ("AE not needed downstream", 13, "k", &[], &[14], false),
                ("self-binding is a match", 15, "k", &[], &[], false),
                ("self-binding unmatched: AE", 15, "z", &[], &[2], true),
            ],
        );
    }

    #[test]
    fn reads_headers_through_bindings_and_alternates() {
        let router = Router::new(vec![
            exchange(Topic, &[(X(1), "a.#")], None),
            exchange(Headers, &[(Q(1), "")], None),
            exchange(Direct, &[(Q(2), "k")], None),
            exchange(Direct, &[(Q(2), "k")], Some(0)),
            exchange(Fanout, &[(X(2), "")], Some(2)),
        ]);
        let cases: [(&str, u32, bool); 6] = [
            ("topic bound to headers", 0, true),
            ("headers itself", 1, true),
            ("direct alone", 2, false),
            ("AE leads to headers", 3, true),
            ("only direct downstream", 4, false),
            ("missing exchange", 9, false),
        ];
        for (case, x, want) in cases {
            assert_eq!(router.reads_headers(x), want, "reads_headers case {case}");
        }
    }

    #[test]
    fn topic_key_problems() {
        let long = "a".repeat(256);
        let cases: [(&str, &str, bool); 11] = [
            ("hash inside a word", "a#b", true),
            ("star before letters", "*x", true),
            ("double hash", "##", true),
            ("star inside a word", "orders.*created", true),
            ("256 bytes", &long, true),
            ("255 bytes", &long[..255], false),
            ("empty", "", false),
            ("hash", "#", false),
            ("star in the middle", "a.*.b", false),
            ("two hashes", "#.#", false),
            ("empty word", "a..b", false),
        ];
        for (case, key, problem) in cases {
            let got = topic_key_problem(key);
            assert_eq!(got.is_some(), problem, "topic key case {case}: {got:?}");
        }
    }

    #[test]
    fn a_warm_route_allocates_nothing() {
        let router = Router::new(vec![
            exchange(
                Topic,
                &[(X(1), "a.#"), (Q(1), "a.*"), (Q(2), "#"), (X(2), "#")],
                Some(2),
            ),
            exchange(Fanout, &[(Q(1), ""), (Q(3), ""), (X(0), "")], None),
            exchange(Fanout, &[(Q(4), ""), (Q(2), "")], None),
        ]);
        let mut scratch = RouteScratch::default();
        let mut out = Vec::new();
        for rk in ["a.b", "zzz", ""] {
            router.route(0, rk, &[], &mut scratch, &mut out);
        }
        let before = (
            out.capacity(),
            scratch.seen.capacity(),
            scratch.work.capacity(),
        );
        for rk in ["a.b", "zzz", "", "a.b"] {
            router.route(0, rk, &[], &mut scratch, &mut out);
            let after = (
                out.capacity(),
                scratch.seen.capacity(),
                scratch.work.capacity(),
            );
            assert_eq!(
                after, before,
                "warm route {rk:?}: capacities (out, seen, work)"
            );
        }
        assert_eq!(out, [1, 2, 3, 4], "warm route a.b: queues");
    }
}
