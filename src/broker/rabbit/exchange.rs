//! Publishing to a RabbitMQ-like exchange: the message's routing key and headers come
//! from its producer (or, for a service's follow-up event or dead letter, the event's
//! name is the routing key and there are no headers), [`Router::route`] finds the
//! queues, and each queue gets one copy, traced as `route`. A publish that reaches no
//! queue is counted `unroutable` and traced so.
//!
//! A route that depends only on the routing key (no headers exchange can be reached
//! from the target) is computed once per producer and routing key and kept, so that a
//! publish in steady state allocates nothing and matches no pattern.
//!
//! [`Router::route`]: crate::broker::rabbit::routing::Router::route

use std::fmt::Write as _;

use super::consume::{Item, NO_EXCHANGE};
use super::routing::{HeaderValue, RouteScratch};
use crate::broker::pubsub::{Origin, generate};
use crate::metrics::Counters;
use crate::model::{AttrValue, ExchangeIdx, Model, NO_KEY, ProducerModel, QueueIdx, RoutingKeyGen};
use crate::rng;
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::trace::{NA32, NA64, TraceKind};

/// Most headers a message carries here (see `scenario::attrs::headers`).
pub(crate) const MAX_HEADERS: usize = 32;

/// Counters of one exchange beyond the common ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExchangeCounters {
    /// Copies delivered to queues.
    pub routed: u64,
    /// Publishes that reached no queue (dropped, as RabbitMQ drops an unroutable
    /// message published without `mandatory`).
    pub unroutable: u64,
    /// Publishes that reached a queue only through an alternate exchange.
    pub via_alternate: u64,
    /// Messages that reached this exchange from another one: through an
    /// exchange-to-exchange binding, or as its alternate.
    pub received: u64,
}

/// One exchange's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExchangeState {
    /// `produced` counts original publishes, `copies` the rest.
    pub c: Counters,
    pub x: ExchangeCounters,
}

/// A kept route: where in [`Rabbit::kept`] its queues are, and whether it needed an
/// alternate exchange.
#[derive(Clone, Copy, Debug)]
struct Kept {
    start: u32,
    len: u32,
    /// The exchanges it reached beyond the first, in [`Rabbit::kept_reached`].
    reached_start: u32,
    reached_len: u32,
    via_alternate: bool,
}

/// The routes one producer has needed so far, by routing key number (see
/// [`key_number`]).
#[derive(Clone, Debug, Default)]
struct ProducerRoutes {
    by_key: Vec<Option<Kept>>,
}

/// Every exchange's state, and the scratch space of routing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rabbit {
    pub exchanges: Vec<ExchangeState>,
    /// Per producer: routes by routing key, for producers whose target reads no
    /// headers.
    routes: Vec<ProducerRoutes>,
    /// The queues of every kept route, back to back.
    kept: Vec<u32>,
    /// The exchanges every kept route reached beyond the first, back to back.
    kept_reached: Vec<u32>,
    /// The exchanges the route under way reached beyond the first.
    reached: Vec<u32>,
    scratch: RouteScratch,
    /// The queues of the route under way.
    out: Vec<u32>,
    /// A formatted routing key.
    key: String,
    /// The RabbitMQ-like queues and their consumers.
    pub rq: super::consume::RabbitQueues,
}

impl Rabbit {
    /// Keeps the exchanges the last route reached beyond the first.
    fn note_reached(&mut self) {
        self.reached.clear();
        let beyond = self.scratch.reached().get(1..).unwrap_or(&[]);
        self.reached.extend_from_slice(beyond);
    }

    /// Idle exchanges for `model`.
    pub fn new(model: &Model) -> Rabbit {
        Rabbit {
            exchanges: vec![ExchangeState::default(); model.exchanges.len()],
            routes: vec![ProducerRoutes::default(); model.producers.len()],
            rq: super::consume::RabbitQueues::new(model),
            ..Rabbit::default()
        }
    }
}

/// The number of message `n`'s routing key among its producer's routing keys: what a
/// kept route is filed under. `key` is the message's key.
fn key_number(g: &RoutingKeyGen, seed: u64, n: u64, key: u32, nkeys: usize) -> usize {
    match g {
        RoutingKeyGen::Empty | RoutingKeyGen::Fixed(_) => 0,
        RoutingKeyGen::Cycle(list) => (n % list.len() as u64) as usize,
        RoutingKeyGen::Choose(list, cum) => {
            let u = rng::unit_from_hash(rng::splitmix64(seed ^ rng::splitmix64(n)));
            cum.iter().position(|&c| u < c).unwrap_or(list.len() - 1)
        }
        RoutingKeyGen::Format(_) if key == NO_KEY => nkeys,
        RoutingKeyGen::Format(_) => key as usize,
    }
}

/// The routing key number of message `n` (`msg`) of producer `p`.
fn message_key_number(
    model: &Model,
    producers: &[crate::sim::producer::ProducerState],
    p: usize,
    n: u64,
    msg: &Message,
) -> usize {
    key_number(
        &model.producers[p].routing_key,
        producers[p].routing_seed,
        n,
        msg.key,
        model.keys.len(),
    )
}

/// Writes routing key number `i` of generator `g` into `buf` (a format's `{}` becomes
/// the key's name, or nothing).
fn write_key(g: &RoutingKeyGen, i: usize, model: &Model, buf: &mut String) {
    buf.clear();
    match g {
        RoutingKeyGen::Empty => {}
        RoutingKeyGen::Fixed(k) => buf.push_str(k),
        RoutingKeyGen::Cycle(list) | RoutingKeyGen::Choose(list, _) => {
            buf.push_str(list.get(i).map_or("", String::as_str));
        }
        RoutingKeyGen::Format(f) => {
            let name = model.keys.name(i as u32).unwrap_or_default();
            let (head, tail) = f.split_once("{}").unwrap_or((f, ""));
            let _ = write!(buf, "{head}{name}{tail}");
        }
    }
}

/// A generated value as a header: a whole number is an integer, any other number a
/// float (the scenario's numbers do not keep TOML's distinction).
fn header_value(v: AttrValue<'_>) -> HeaderValue<'_> {
    match v {
        AttrValue::Str(s) => HeaderValue::Str(s),
        AttrValue::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => HeaderValue::Int(x as i64),
        AttrValue::Num(x) => HeaderValue::Float(x),
        // Refused by validation: a header is not a list.
        AttrValue::Array(_) => HeaderValue::Str(""),
    }
}

/// Fills `buf` with message `n`'s headers from producer `p`; returns how many.
fn fill_headers<'m>(
    p: &'m ProducerModel,
    seeds: &[u64],
    n: u64,
    buf: &mut [(&'m str, HeaderValue<'m>); MAX_HEADERS],
) -> usize {
    let mut len = 0;
    for ((name, g), &seed) in p.headers.iter().zip(seeds).take(MAX_HEADERS) {
        let v: AttrValue<'m> = generate(g, seed, n);
        buf[len] = (name.as_str(), header_value(v));
        len += 1;
    }
    len
}

/// The seed of each header generator of producer `p` (its own stream per header).
pub(crate) fn header_seeds(model: &Model, p: &ProducerModel) -> Vec<u64> {
    p.headers
        .iter()
        .map(|(n, _)| rng::stream_seed(model.seed, &format!("{}/header/{n}", p.name)))
        .collect()
}

/// The seed of producer `p`'s weighted routing key choice.
pub(crate) fn routing_seed(model: &Model, p: &ProducerModel) -> u64 {
    rng::stream_seed(model.seed, &format!("{}/routing_key", p.name))
}

/// Routes a message by the routing key in `rabbit.key` and, for message `n` of
/// producer `p` (`producer`), that producer's headers; the queues land in
/// `rabbit.out`. Whether an alternate exchange took it.
fn route_keyed(
    model: &Model,
    rabbit: &mut Rabbit,
    producers: &[crate::sim::producer::ProducerState],
    x: ExchangeIdx,
    producer: Option<(u32, u64)>,
) -> bool {
    let mut buf = [("", HeaderValue::Int(0)); MAX_HEADERS];
    let len = match producer {
        Some((p, n)) => {
            let p = p as usize;
            fill_headers(&model.producers[p], &producers[p].header_seeds, n, &mut buf)
        }
        None => 0,
    };
    let r = model.router.route(
        x as u32,
        &rabbit.key,
        &buf[..len],
        &mut rabbit.scratch,
        &mut rabbit.out,
    );
    rabbit.note_reached();
    r.via_alternate
}

impl Engine {
    /// Publish: exchange `x` routes `msg` (from `origin`, or a service's event) and
    /// every queue it reaches gets a copy.
    pub(crate) fn exchange_publish(&mut self, x: ExchangeIdx, msg: Message, origin: Origin) {
        let st = &mut self.rabbit.exchanges[x];
        if msg.is_copy() {
            st.c.copies += 1;
        } else {
            st.c.produced += 1;
        }
        let via_alternate = match origin {
            Some((p, n)) if !self.model.router.reads_headers(x as u32) => {
                self.route_kept(x, p as usize, n, &msg)
            }
            Some((p, n)) => self.route_with_headers(x, p as usize, n, &msg),
            None => {
                let Engine { model, rabbit, .. } = self;
                let key = model
                    .events
                    .get(msg.event as usize)
                    .map_or("", String::as_str);
                let r =
                    model
                        .router
                        .route(x as u32, key, &[], &mut rabbit.scratch, &mut rabbit.out);
                rabbit.note_reached();
                r.via_alternate
            }
        };
        let item = Item {
            msg,
            origin,
            via: x as u32,
            died: 0,
            rejected: false,
        };
        self.deliver_routed(x, &item, via_alternate);
    }

    /// Dead-lettering: queue `from` publishes `item` to its dead-letter exchange `x`,
    /// with its dead-letter routing key, or the message's own routing key (a
    /// producer's, from its generator; a service's event name; the queue's name for a
    /// message sent to it directly) and a producer's message's headers.
    pub(crate) fn exchange_dead_letter(&mut self, x: ExchangeIdx, from: QueueIdx, item: Item) {
        let st = &mut self.rabbit.exchanges[x];
        if item.msg.is_copy() {
            st.c.copies += 1;
        } else {
            st.c.produced += 1;
        }
        let Engine {
            model,
            rabbit,
            producers,
            ..
        } = self;
        let spec = model.queues[from].rabbit.as_ref();
        rabbit.key.clear();
        let producer = item
            .origin
            .filter(|&(p, _)| (p as usize) < model.producers.len());
        match (
            spec.and_then(|s| s.dead_letter_routing_key.as_deref()),
            producer,
        ) {
            (Some(k), _) => rabbit.key.push_str(k),
            _ if item.via == NO_EXCHANGE => rabbit.key.push_str(&model.queues[from].name),
            (None, Some((p, n))) => {
                let i = message_key_number(model, producers, p as usize, n, &item.msg);
                write_key(
                    &model.producers[p as usize].routing_key,
                    i,
                    model,
                    &mut rabbit.key,
                );
            }
            (None, None) => rabbit.key.push_str(
                model
                    .events
                    .get(item.msg.event as usize)
                    .map_or("", String::as_str),
            ),
        }
        let via_alternate = route_keyed(model, rabbit, producers, x, producer);
        let item = Item {
            via: x as u32,
            ..item
        };
        self.deliver_routed(x, &item, via_alternate);
    }

    /// Routes a message of producer `p` by its routing key alone, from the kept routes
    /// (computing and keeping the route the first time); the queues land in `out`.
    fn route_kept(&mut self, x: ExchangeIdx, p: usize, n: u64, msg: &Message) -> bool {
        let Engine {
            model,
            rabbit,
            producers,
            ..
        } = self;
        let spec = &model.producers[p];
        let i = message_key_number(model, producers, p, n, msg);
        let routes = &mut rabbit.routes[p].by_key;
        if routes.len() <= i {
            routes.resize(i + 1, None);
        }
        let kept = match routes[i] {
            Some(k) => k,
            None => {
                write_key(&spec.routing_key, i, model, &mut rabbit.key);
                let r = model.router.route(
                    x as u32,
                    &rabbit.key,
                    &[],
                    &mut rabbit.scratch,
                    &mut rabbit.out,
                );
                let beyond = rabbit.scratch.reached().get(1..).unwrap_or(&[]);
                let k = Kept {
                    start: rabbit.kept.len() as u32,
                    len: rabbit.out.len() as u32,
                    reached_start: rabbit.kept_reached.len() as u32,
                    reached_len: beyond.len() as u32,
                    via_alternate: r.via_alternate,
                };
                rabbit.kept.extend_from_slice(&rabbit.out);
                rabbit.kept_reached.extend_from_slice(beyond);
                routes[i] = Some(k);
                k
            }
        };
        rabbit.out.clear();
        let (a, b) = (kept.start as usize, (kept.start + kept.len) as usize);
        rabbit.out.extend_from_slice(&rabbit.kept[a..b]);
        let (a, b) = (
            kept.reached_start as usize,
            (kept.reached_start + kept.reached_len) as usize,
        );
        rabbit.reached.clear();
        rabbit.reached.extend_from_slice(&rabbit.kept_reached[a..b]);
        kept.via_alternate
    }

    /// Routes a message of producer `p` whose route may depend on its headers.
    fn route_with_headers(&mut self, x: ExchangeIdx, p: usize, n: u64, msg: &Message) -> bool {
        let Engine {
            model,
            rabbit,
            producers,
            ..
        } = self;
        let i = message_key_number(model, producers, p, n, msg);
        write_key(&model.producers[p].routing_key, i, model, &mut rabbit.key);
        route_keyed(model, rabbit, producers, x, Some((p as u32, n)))
    }

    /// Sends a copy of `item` to each queue of the route in `out`.
    fn deliver_routed(&mut self, x: ExchangeIdx, item: &Item, via_alternate: bool) {
        let msg = &item.msg;
        let comp = self.plan.exchange_comp + x as u32;
        let Rabbit {
            exchanges, reached, ..
        } = &mut self.rabbit;
        for &e in reached.iter() {
            if let Some(st) = exchanges.get_mut(e as usize) {
                st.x.received += 1;
            }
        }
        let mut out = std::mem::take(&mut self.rabbit.out);
        if out.is_empty() {
            self.rabbit.exchanges[x].x.unroutable += 1;
            self.tracer.rec(
                self.now,
                TraceKind::Unroutable,
                comp,
                NA32,
                Some(msg),
                NA32,
                NA64,
                NA32,
            );
        } else if via_alternate {
            self.rabbit.exchanges[x].x.via_alternate += 1;
        }
        for &q in &out {
            self.rabbit.exchanges[x].x.routed += 1;
            let target = self.plan.queue_comp + q;
            self.tracer.rec(
                self.now,
                TraceKind::Route,
                comp,
                target,
                Some(msg),
                NA32,
                NA64,
                NA32,
            );
            let copy = Message {
                produced_at: self.now,
                ..*msg
            };
            let q = q as usize;
            if !self.is_rabbit(q) {
                self.sqs_send(q, copy, 0);
            } else if !self.rabbit_cycle_drop(q, item) {
                self.rabbit_publish(q, Item { msg: copy, ..*item });
            }
        }
        out.clear();
        self.rabbit.out = out;
    }
}

/// Every queue a message published to exchange `x` could reach, through any binding
/// or alternate exchange, ascending (the services behind an exchange, capacity's
/// upper bound, the topology's edges).
pub(crate) fn reachable_queues(router: &super::routing::Router, x: u32) -> Vec<u32> {
    use super::routing::Dest;
    let xs = router.exchanges();
    let mut seen = vec![false; xs.len()];
    let mut work = vec![x];
    let mut out = Vec::new();
    while let Some(e) = work.pop() {
        let Some(ex) = xs.get(e as usize) else {
            continue;
        };
        if std::mem::replace(&mut seen[e as usize], true) {
            continue;
        }
        for b in &ex.bindings {
            match b.dest {
                Dest::Queue(q) => out.push(q),
                Dest::Exchange(y) => work.push(y),
            }
        }
        work.extend(ex.alternate);
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl super::routing::ExchangeKind {
    /// As the scenario writes it.
    pub fn name(self) -> &'static str {
        use super::routing::ExchangeKind as K;
        match self {
            K::Direct => "direct",
            K::Fanout => "fanout",
            K::Topic => "topic",
            K::Headers => "headers",
        }
    }
}

/// Messages routed to estimate a producer's shares.
const SHARE_SAMPLE: u64 = 4_096;

/// The share of producer `p`'s messages that exchange `x` routes to each queue, from
/// its first [`SHARE_SAMPLE`] messages generated as the run generates them (routing
/// keys and headers exactly; keys drawn from a stream of their own, so the estimate
/// follows the key distribution, not the run's draws). Ascending by queue.
pub(crate) fn route_shares(model: &Model, p: &ProducerModel, x: ExchangeIdx) -> Vec<(usize, f64)> {
    if !model.router.reads_headers(x as u32)
        && let Some(weights) = key_weights(model, p)
    {
        // The route depends on the routing key alone, whose distribution is known.
        let mut scratch = RouteScratch::default();
        let (mut out, mut buf) = (Vec::new(), String::new());
        let mut shares: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
        for (i, w) in weights {
            write_key(&p.routing_key, i, model, &mut buf);
            model
                .router
                .route(x as u32, &buf, &[], &mut scratch, &mut out);
            for &q in &out {
                *shares.entry(q).or_default() += w;
            }
        }
        return shares.into_iter().map(|(q, f)| (q as usize, f)).collect();
    }
    sampled_shares(model, p, x)
}

/// The probability of each routing key number (see [`key_number`]) of producer `p`,
/// where it is known exactly.
fn key_weights(model: &Model, p: &ProducerModel) -> Option<Vec<(usize, f64)>> {
    use crate::model::KeyDistModel;
    Some(match &p.routing_key {
        RoutingKeyGen::Empty | RoutingKeyGen::Fixed(_) => vec![(0, 1.0)],
        RoutingKeyGen::Cycle(list) => {
            let w = 1.0 / list.len() as f64;
            (0..list.len()).map(|i| (i, w)).collect()
        }
        RoutingKeyGen::Choose(_, cum) => {
            let mut prev = 0.0;
            cum.iter()
                .enumerate()
                .map(|(i, &c)| {
                    let w = c - prev;
                    prev = c;
                    (i, w)
                })
                .collect()
        }
        RoutingKeyGen::Format(_) => {
            let Some(k) = p.keys else {
                return Some(vec![(model.keys.len(), 1.0)]);
            };
            let space = model.keys.spaces.get(k.space)?;
            let n = space.count as usize;
            let raw: Vec<f64> = match k.dist {
                KeyDistModel::Uniform | KeyDistModel::Sequential => vec![1.0; n],
                KeyDistModel::Zipf(s) => (1..=n).map(|r| (r as f64).powf(-s)).collect(),
            };
            let total: f64 = raw.iter().sum();
            raw.iter()
                .enumerate()
                .map(|(i, w)| (space.base as usize + i, w / total))
                .collect()
        }
    })
}

/// Shares from a sample of messages, for routes that read headers.
fn sampled_shares(model: &Model, p: &ProducerModel, x: ExchangeIdx) -> Vec<(usize, f64)> {
    use crate::sim::draw::KeySampler;
    let seed = routing_seed(model, p);
    let seeds = header_seeds(model, p);
    let mut keys = p.keys.and_then(|k| {
        let space = model.keys.spaces.get(k.space)?;
        Some((space.base, KeySampler::new(k.dist, space.count)))
    });
    let mut key_rng = rng::stream(model.seed, &p.name, "capacity/keys");
    let mut scratch = RouteScratch::default();
    let (mut out, mut buf) = (Vec::new(), String::new());
    let mut counts: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    let mut heads = [("", HeaderValue::Int(0)); MAX_HEADERS];
    for n in 0..SHARE_SAMPLE {
        let key = match &mut keys {
            Some((base, s)) => *base + s.draw(&mut key_rng),
            None => NO_KEY,
        };
        let i = key_number(&p.routing_key, seed, n, key, model.keys.len());
        write_key(&p.routing_key, i, model, &mut buf);
        let len = fill_headers(p, &seeds, n, &mut heads);
        model
            .router
            .route(x as u32, &buf, &heads[..len], &mut scratch, &mut out);
        for &q in &out {
            *counts.entry(q).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(q, c)| (q as usize, c as f64 / SHARE_SAMPLE as f64))
        .collect()
}
