//! The EventBridge-like event bus, following the Amazon EventBridge user guide.
//!
//! - An event is the producer's payload as its `detail`, with the producer's `source`
//!   and `detail-type` (a service's follow-up event: the service's name and the event
//!   name, with an empty detail). Every rule of the bus whose event pattern
//!   ([`crate::broker::pubsub::filter`], EventBridge dialect) matches it sends it to each
//!   of its targets: an SQS-like queue, a pubsub, a function (invoked asynchronously,
//!   through the function's event queue) or another bus. Each copy is traced as `route`;
//!   an event no rule matches counts as `unmatched`. The bus stores nothing but its
//!   archive.
//! - A delivery fails while its target is down (a broker outage) or the link from the
//!   bus to it is cut (a network partition). EventBridge retries it with exponential
//!   backoff and jitter until the rule's `max_attempts` retries (`MaximumRetryAttempts`,
//!   default 185) are spent or the event is older than `max_age`
//!   (`MaximumEventAgeInSeconds`, default 24 h); then it goes to the rule's dead-letter
//!   queue, or is lost with that cause. AWS does not publish the schedule: edasim waits
//!   1 s, doubling to at most 8 minutes, times a jitter uniform in [0.8, 1.2), so that
//!   the 185 retries span about the documented 24 hours.
//! - The archive keeps the events that match its pattern (every event without one) for
//!   its retention; a replay sends those first received in a time window to the bus
//!   again (to every rule, or to the ones it names), in the order they were archived,
//!   traced as `replay`. A replayed event is not archived again. Where its original
//!   reached a target, the replay there is a copy (a service that processes it again
//!   counts a duplicate with the cause `replayed`); where the original never arrived
//!   (dead-lettered, lost, still retrying), the replay is what brings it, an original.
//!
//! Conservation of every bus: `sent = delivered + dead_lettered + lost + retrying`.

use std::collections::VecDeque;

use rand::RngExt;

use crate::broker::pubsub::filter::AttrValue;
use crate::broker::pubsub::read_value;
use crate::metrics::Counters;
use crate::model::*;
use crate::rng::{self, Stream};
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::queue::Ev;
use crate::sim::trace::{NA32, NA64, TraceKind};

/// First retry of a failed delivery after this, ns.
const RETRY_BASE: u64 = 1_000_000_000;
/// Retries wait at most this, ns.
const RETRY_CAP: u64 = 480_000_000_000;

/// Counters of one bus beyond the common ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BusCounters {
    /// Events at least one rule matched.
    pub matched: u64,
    /// Events no rule matched.
    pub unmatched: u64,
    /// Copies the rules sent toward their targets (an event times its targets).
    pub sent: u64,
    /// Copies a target took.
    pub delivered: u64,
    /// Delivery attempts a target refused (each retry counts).
    pub failed_invocations: u64,
    /// Copies sent to a rule's dead-letter queue once the retries gave up.
    pub dead_lettered: u64,
    /// Copies lost once the retries gave up (no dead-letter queue, or it was down).
    pub lost: u64,
    /// Of `lost`: the retries spent (`max_attempts`).
    pub lost_attempts: u64,
    /// Of `lost`: the event too old (`max_age`).
    pub lost_age: u64,
    /// Of `lost`: given up on, and refused by the rule's dead-letter queue too
    /// (`InvocationsFailedToBeSentToDlq`).
    pub lost_dlq: u64,
    /// Events archived.
    pub archived: u64,
    /// Events a replay sent again.
    pub replayed: u64,
}

/// Counters of one rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleCounters {
    /// Events its pattern matched (EventBridge's `MatchedEvents`).
    pub matched: u64,
    /// Copies its targets took (`Invocations`).
    pub delivered: u64,
    /// Delivery attempts a target refused (`FailedInvocations`).
    pub failed_invocations: u64,
    /// Copies sent to its dead-letter queue (`InvocationsSentToDlq`).
    pub dead_lettered: u64,
    /// Copies lost once its retries gave up.
    pub lost: u64,
}

/// An archived event.
#[derive(Clone, Copy, Debug)]
struct Archived {
    msg: Message,
    /// Its publisher (a producer, or producers + service) and number.
    from: u32,
    n: u64,
    /// When the bus received it.
    at: u64,
    /// Its number among the bus's archived events.
    seq: u64,
    /// A bit per (rule, target) of the bus whose delivery succeeded (see
    /// [`BusState::slot`]).
    delivered: u64,
}

/// No archived event.
const NOT_ARCHIVED: u64 = u64::MAX;

/// The `replay-name` of a replayed event (EventBridge: the replay's name).
pub const REPLAY_NAME: &str = "replay";

/// A delivery waiting for its next attempt.
#[derive(Clone, Copy, Debug)]
struct Retrying {
    msg: Message,
    from: u32,
    n: u64,
    bus: u32,
    rule: u16,
    target: u16,
    /// Retries made so far.
    retries: u32,
    /// When the bus received the event.
    first: u64,
    /// The event's place in the archive, or [`NOT_ARCHIVED`].
    arch: u64,
}

/// One bus's state.
#[derive(Clone, Debug)]
pub(crate) struct BusState {
    /// `produced` counts original events, `copies` the rest (replays apart).
    pub c: Counters,
    pub b: BusCounters,
    pub rules: Vec<RuleCounters>,
    /// The rules' counters at the previous sample.
    rules_prev: Vec<RuleCounters>,
    archive: VecDeque<Archived>,
    /// Deliveries waiting for a retry.
    pub retrying: u64,
    /// The retries' jitter.
    rng: Stream,
    /// Per rule: the bit of its first target in [`Archived::delivered`].
    slot: Vec<u32>,
    /// Per pattern (each rule's, then the archive's) and producer with sample events:
    /// whether each sample matches (computed once; empty for other producers).
    verdicts: Vec<Vec<Vec<bool>>>,
    /// Per pattern: whether it reads `replay-name`.
    reads_replay: Vec<bool>,
}

/// Every bus, and the deliveries waiting for a retry.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buses {
    pub buses: Vec<BusState>,
    retries: Vec<Option<Retrying>>,
    free: Vec<u32>,
    /// Per action: the next archived event a replay looks at.
    replay_next: Vec<u64>,
}

/// A producer's sample event as EventBridge sees it: its payload line as the detail.
fn sample_event(p: &ProducerModel, line: &serde_json::Value, replay: bool) -> serde_json::Value {
    let mut e = serde_json::json!({
        "version": "0",
        "detail-type": p.detail_type,
        "source": p.source,
        "detail": line,
    });
    if replay && let Some(m) = e.as_object_mut() {
        m.insert("replay-name".into(), REPLAY_NAME.into());
    }
    e
}

/// The value of the field a pattern names by dotted path (`source`, `detail-type`,
/// `detail.x.y`) in an event whose detail's fields `detail` reads by dotted path: the
/// flat reading of an event without arrays of objects, which agrees with
/// [`Policy::matches_event`] on the event as JSON (tested below).
fn event_field<'v>(
    name: &str,
    source: &'v str,
    detail_type: &'v str,
    replay: bool,
    detail: impl Fn(&str) -> Option<AttrValue<'v>>,
) -> Option<AttrValue<'v>> {
    match name {
        "source" => Some(AttrValue::Str(source)),
        "detail-type" => Some(AttrValue::Str(detail_type)),
        "version" => Some(AttrValue::Str("0")),
        "replay-name" => replay.then_some(AttrValue::Str(REPLAY_NAME)),
        // An empty array has no value: EventBridge's `exists` does not see it.
        _ => name
            .strip_prefix("detail.")
            .and_then(detail)
            .filter(|v| !matches!(v, AttrValue::Array(a) if a.is_empty())),
    }
}

/// What a bus's rules pass on per event received: per broker target, and per function.
pub(crate) type Shares = (Vec<(Channel, f64)>, Vec<(ServiceIdx, f64)>);

/// Events of each producer the capacity estimate samples.
const SAMPLE: u64 = 1_000;

/// Per target of bus `b`'s rules, the copies it receives per event the bus receives
/// (the rules' patterns evaluated on the first [`SAMPLE`] events of each producer that
/// publishes to the bus, weighted by their base rates; 1 per rule that targets it when
/// no producer does): the capacity estimate's fan-out. A function target is named by
/// `Channel::Bus(b)`'s service index in the second list.
pub(crate) fn target_shares(model: &Model, b: BusIdx) -> Shares {
    let bus = &model.buses[b];
    let writers: Vec<usize> = (0..model.producers.len())
        .filter(|&p| model.producers[p].target == Channel::Bus(b))
        .collect();
    let total: f64 = writers.iter().map(|&p| model.producers[p].base_rate).sum();
    let mut out: Vec<(Channel, f64)> = Vec::new();
    let mut fns: Vec<(ServiceIdx, f64)> = Vec::new();
    for r in &bus.rules {
        let share = if total > 0.0 {
            writers
                .iter()
                .map(|&p| {
                    let spec = &model.producers[p];
                    let seeds = crate::broker::pubsub::AttrSeeds::new(model, spec);
                    let hits = (0..SAMPLE)
                        .filter(|&n| sample_matches(spec, &seeds, &r.pattern, n))
                        .count();
                    spec.base_rate / total * hits as f64 / SAMPLE as f64
                })
                .sum()
        } else {
            1.0
        };
        for t in &r.targets {
            match (t.channel(), *t) {
                (Some(c), _) => match out.iter_mut().find(|(x, _)| *x == c) {
                    Some((_, v)) => *v += share,
                    None => out.push((c, share)),
                },
                (None, BusTarget::Function(g)) => match fns.iter_mut().find(|(x, _)| *x == g) {
                    Some((_, v)) => *v += share,
                    None => fns.push((g, share)),
                },
                (None, _) => {}
            }
        }
    }
    (out, fns)
}

/// Whether `pattern` matches event number `n` of producer `p` (its seeds `seeds`).
fn sample_matches(
    p: &ProducerModel,
    seeds: &crate::broker::pubsub::AttrSeeds,
    pattern: &Policy,
    n: u64,
) -> bool {
    match &p.payload {
        Payload::Lines(_, json) if !json.is_empty() => pattern.matches_event(&sample_event(
            p,
            &json[(n % json.len() as u64) as usize],
            false,
        )),
        _ => pattern.matches_with(
            &|name| {
                event_field(name, &p.source, &p.detail_type, false, |f| {
                    read_value(p, seeds, n, true, f)
                })
            },
            false,
        ),
    }
}

impl Buses {
    /// Empty buses for `model`, with the verdicts of every pattern on every sample
    /// event worked out.
    pub fn new(model: &Model) -> Buses {
        let buses = model
            .buses
            .iter()
            .map(|b| {
                let patterns: Vec<Option<&Policy>> = b
                    .rules
                    .iter()
                    .map(|r| Some(&r.pattern))
                    .chain(std::iter::once(
                        b.archive.as_ref().and_then(|a| a.pattern.as_ref()),
                    ))
                    .collect();
                let verdicts = patterns
                    .iter()
                    .map(|pat| {
                        model
                            .producers
                            .iter()
                            .map(|p| match (&p.payload, pat) {
                                (Payload::Lines(_, json), Some(pat)) => json
                                    .iter()
                                    .map(|line| pat.matches_event(&sample_event(p, line, false)))
                                    .collect(),
                                _ => Vec::new(),
                            })
                            .collect()
                    })
                    .collect();
                let slot = b
                    .rules
                    .iter()
                    .scan(0u32, |acc, r| {
                        let at = *acc;
                        *acc += r.targets.len() as u32;
                        Some(at)
                    })
                    .collect();
                let reads_replay = patterns
                    .iter()
                    .map(|p| p.is_some_and(|p| p.names().contains(&"replay-name")))
                    .collect();
                BusState {
                    reads_replay,
                    slot,
                    c: Counters::default(),
                    b: BusCounters::default(),
                    rules: vec![RuleCounters::default(); b.rules.len()],
                    rules_prev: vec![RuleCounters::default(); b.rules.len()],
                    archive: VecDeque::new(),
                    retrying: 0,
                    rng: rng::stream(model.seed, &b.name, "bus-retry"),
                    verdicts,
                }
            })
            .collect();
        Buses {
            buses,
            retries: Vec::new(),
            free: Vec::new(),
            replay_next: vec![0; model.actions.len()],
        }
    }
}

impl Buses {
    /// Each rule of bus `b`: what changed since the previous sample.
    pub fn rule_deltas(&mut self, b: BusIdx) -> Vec<RuleCounters> {
        let st = &mut self.buses[b];
        let out = st
            .rules
            .iter()
            .zip(&st.rules_prev)
            .map(|(now, prev)| RuleCounters {
                matched: now.matched - prev.matched,
                delivered: now.delivered - prev.delivered,
                failed_invocations: now.failed_invocations - prev.failed_invocations,
                dead_lettered: now.dead_lettered - prev.dead_lettered,
                lost: now.lost - prev.lost,
            })
            .collect();
        st.rules_prev.clone_from(&st.rules);
        out
    }

    /// Marks bus `b`'s rule counters as sampled (no rows are recorded).
    pub fn sync_rules(&mut self, b: BusIdx) {
        let st = &mut self.buses[b];
        st.rules_prev.clone_from(&st.rules);
    }
}

impl Engine {
    /// Whether pattern `k` of bus `b` (a rule's, or the archive's at `rules.len()`)
    /// matches the event `msg` that publisher `from` sent as its number `n`.
    fn bus_matches(
        &self,
        b: usize,
        k: usize,
        pattern: &Policy,
        msg: &Message,
        from: u32,
        n: u64,
    ) -> bool {
        let np = self.model.producers.len() as u32;
        if from < np {
            let p = from as usize;
            let spec = &self.model.producers[p];
            let replay = msg.is_replay();
            if let Payload::Lines(_, json) = &spec.payload {
                // A replay is matched on the JSON itself when the pattern reads its
                // `replay-name` (only during replays: the cached verdicts otherwise).
                if replay && self.bus.buses[b].reads_replay[k] && !json.is_empty() {
                    let line = &json[(n % json.len() as u64) as usize];
                    return pattern.matches_event(&sample_event(spec, line, true));
                }
                let v = &self.bus.buses[b].verdicts[k][p];
                return !v.is_empty() && v[(n % v.len() as u64) as usize];
            }
            let seeds = &self.producers[p].attr_seeds;
            return pattern.matches_with(
                &|name| {
                    event_field(name, &spec.source, &spec.detail_type, replay, |f| {
                        read_value(spec, seeds, n, true, f)
                    })
                },
                false,
            );
        }
        let source = self
            .model
            .services
            .get((from - np) as usize)
            .map_or("", |s| s.name.as_str());
        let detail_type = self
            .model
            .events
            .get(usize::from(msg.event))
            .map_or("", String::as_str);
        pattern.matches_with(
            &|name| event_field(name, source, detail_type, msg.is_replay(), |_| None),
            false,
        )
    }

    /// The trace component of a rule's target.
    fn bus_target_comp(&self, t: BusTarget) -> u32 {
        match t {
            BusTarget::Function(g) => self.plan.service_comp + g as u32,
            BusTarget::Queue(q) => self.plan.queue_comp + q as u32,
            BusTarget::Pubsub(p) => self.plan.pubsub_comp + p as u32,
            BusTarget::Bus(x) => self.plan.bus_comp + x as u32,
        }
    }

    /// Traces what bus `b` did with `msg`: for a `route`, the target component it went
    /// to is `target` (`NA32` otherwise).
    fn tr_bus(&mut self, kind: TraceKind, b: usize, msg: &Message, target: u32, attempt: u32) {
        let comp = self.plan.bus_comp + b as u32;
        self.tracer
            .rec(self.now, kind, comp, target, Some(msg), NA32, NA64, attempt);
    }

    /// Publish: bus `b` receives `msg`, sent by publisher `from` as its number `n`,
    /// archives it, and sends it to the targets of every rule whose pattern matches.
    pub(crate) fn bus_publish(&mut self, b: BusIdx, msg: Message, from: u32, n: u64) {
        self.bus_receive(b, msg, from, n, u64::MAX, NOT_ARCHIVED);
    }

    /// Bus `b` receives `msg` (see [`Engine::bus_publish`]) for the rules in `rules`
    /// (a bit per rule); `replay_of`: a replay of the archived event with this number
    /// (else [`NOT_ARCHIVED`]), whose deliveries its own deliveries join.
    fn bus_receive(
        &mut self,
        b: BusIdx,
        msg: Message,
        from: u32,
        n: u64,
        rules: u64,
        replay_of: u64,
    ) {
        // A replay forwarded from another bus is not archived here either.
        let replay = replay_of != NOT_ARCHIVED || msg.is_replay();
        let st = &mut self.bus.buses[b];
        if replay {
            st.b.replayed += 1;
        } else if msg.is_copy() {
            st.c.copies += 1;
        } else {
            st.c.produced += 1;
        }
        let nrules = self.model.buses[b].rules.len();
        let mut arch = replay_of;
        if !replay && let Some(a) = &self.model.buses[b].archive {
            let keep = a
                .pattern
                .as_ref()
                .is_none_or(|p| self.bus_matches(b, nrules, p, &msg, from, n));
            if keep {
                let now = self.now;
                self.bus_trim(b);
                let st = &mut self.bus.buses[b];
                arch = st.b.archived;
                st.archive.push_back(Archived {
                    msg,
                    from,
                    n,
                    at: now,
                    seq: arch,
                    delivered: 0,
                });
                st.b.archived += 1;
            }
        }
        let mut any = false;
        for r in 0..nrules {
            if rules & (1 << r) == 0 {
                continue;
            }
            let rule = &self.model.buses[b].rules[r];
            if !self.bus_matches(b, r, &rule.pattern, &msg, from, n) {
                continue;
            }
            any = true;
            let targets = rule.targets.len();
            let st = &mut self.bus.buses[b];
            st.rules[r].matched += 1;
            st.b.sent += targets as u64;
            for j in 0..targets {
                self.bus_deliver(b, r, j, msg, from, n, self.now, 0, arch);
            }
        }
        let st = &mut self.bus.buses[b];
        if any {
            st.b.matched += 1;
        } else {
            st.b.unmatched += 1;
            self.tr_bus(TraceKind::Filtered, b, &msg, NA32, NA32);
        }
    }

    /// The fault that makes target `t` of bus `b` refuse a delivery now, if any: the
    /// target is down, or the link from the bus to it is cut.
    fn bus_refused(&self, b: BusIdx, t: BusTarget) -> Option<u32> {
        if self.links.active == 0 {
            return None;
        }
        let to = match (t.channel(), t) {
            (Some(c), _) => Node::Broker(c),
            (None, BusTarget::Function(g)) => Node::Service(g),
            (None, _) => return None,
        };
        if self.links.is_down(t) {
            return t.channel().map(|c| self.down_fault(c, 0));
        }
        self.links.cut_by(Node::Broker(Channel::Bus(b)), to)
    }

    /// Attempt number `retries + 1` to deliver `msg` to target `j` of rule `r` of bus
    /// `b`; the bus received it at `first`.
    #[allow(clippy::too_many_arguments)]
    fn bus_deliver(
        &mut self,
        b: BusIdx,
        r: usize,
        j: usize,
        msg: Message,
        from: u32,
        n: u64,
        first: u64,
        retries: u32,
        arch: u64,
    ) {
        let rule = &self.model.buses[b].rules[r];
        let t = rule.targets[j];
        let comp = self.bus_target_comp(t);
        if let Some(f) = self.bus_refused(b, t) {
            self.links.effects[f as usize].failed += 1;
            let (max, max_age) = (rule.max_attempts, rule.max_age);
            let st = &mut self.bus.buses[b];
            st.b.failed_invocations += 1;
            st.rules[r].failed_invocations += 1;
            self.tr_bus(TraceKind::Fail, b, &msg, NA32, retries + 1);
            if retries >= max {
                self.bus_give_up(b, r, msg, false);
                return;
            }
            let st = &mut self.bus.buses[b];
            let exp = RETRY_BASE
                .saturating_mul(1u64 << retries.min(40))
                .min(RETRY_CAP);
            let factor = 0.8 + 0.4 * st.rng.random::<f64>();
            let delay = ((exp as f64 * factor) as u64).max(1);
            st.retrying += 1;
            let entry = Retrying {
                msg,
                from,
                n,
                bus: b as u32,
                rule: r as u16,
                target: j as u16,
                retries,
                first,
                arch,
            };
            let slot = match self.bus.free.pop() {
                Some(s) => {
                    self.bus.retries[s as usize] = Some(entry);
                    s
                }
                None => {
                    self.bus.retries.push(Some(entry));
                    (self.bus.retries.len() - 1) as u32
                }
            };
            // Past the event's maximum age the retry gives up at once.
            let at = self
                .now
                .saturating_add(delay)
                .min(first.saturating_add(max_age).saturating_add(1));
            if at < self.model.duration.0 {
                self.queue.push(at, Ev::BusRetry { slot });
            }
            return;
        }
        let st = &mut self.bus.buses[b];
        st.b.delivered += 1;
        st.rules[r].delivered += 1;
        let mut msg = msg;
        // The first copy of an archived event to reach this target is the original
        // there; any later one (a replay, or an original whose retry got through after
        // a replay brought it) is a copy. Validation keeps the bits within one word.
        if arch != NOT_ARCHIVED
            && let Some(front) = st.archive.front()
            && let Some(e) = arch
                .checked_sub(front.seq)
                .and_then(|i| st.archive.get_mut(i as usize))
        {
            let bit = 1u64 << (st.slot[r] + j as u32).min(63);
            if e.delivered & bit != 0 && !msg.is_copy() {
                msg = msg.replayed(true);
            }
            e.delivered |= bit;
        }
        self.tr_bus(TraceKind::Route, b, &msg, comp, retries + 1);
        let copy = Message {
            produced_at: self.now,
            ..msg
        };
        match t {
            BusTarget::Queue(q) => self.sqs_send(q, copy, 0),
            BusTarget::Pubsub(p) => self.pubsub_publish(p, copy, None),
            BusTarget::Function(g) => self.fn_enqueue(g, copy),
            BusTarget::Bus(x) => self.bus_publish(x, copy, from, n),
        }
    }

    /// A delivery's retry is due: it is attempted again, unless the event is older
    /// than the rule's `max_age`.
    pub(crate) fn on_bus_retry(&mut self, slot: u32) {
        let Some(e) = self
            .bus
            .retries
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.bus.free.push(slot);
        let (b, r) = (e.bus as usize, usize::from(e.rule));
        self.bus.buses[b].retrying -= 1;
        let max_age = self.model.buses[b].rules[r].max_age;
        if self.now.saturating_sub(e.first) > max_age {
            self.bus_give_up(b, r, e.msg, true);
            return;
        }
        self.bus_deliver(
            b,
            r,
            usize::from(e.target),
            e.msg,
            e.from,
            e.n,
            e.first,
            e.retries + 1,
            e.arch,
        );
    }

    /// The retries of a delivery gave up (`age`: the event is too old; else every
    /// retry failed): to the rule's dead-letter queue if it takes it, else lost.
    fn bus_give_up(&mut self, b: BusIdx, r: usize, msg: Message, age: bool) {
        let dlq = self.model.buses[b].rules[r].dead_letter;
        if let Some(q) = dlq
            && self.bus_refused(b, BusTarget::Queue(q)).is_none()
        {
            let st = &mut self.bus.buses[b];
            st.b.dead_lettered += 1;
            st.rules[r].dead_lettered += 1;
            self.tr_bus(TraceKind::DeadLetter, b, &msg, NA32, NA32);
            let copy = Message {
                produced_at: self.now,
                ..msg
            };
            self.sqs_send(q, copy, 0);
            return;
        }
        let st = &mut self.bus.buses[b];
        st.b.lost += 1;
        st.rules[r].lost += 1;
        if dlq.is_some() {
            st.b.lost_dlq += 1;
        }
        if age {
            st.b.lost_age += 1;
        } else {
            st.b.lost_attempts += 1;
        }
        self.tr_bus(TraceKind::Drop, b, &msg, NA32, NA32);
    }

    /// Replay action `a` of bus `b`: sends the archived events first received in
    /// [from, until) to the rules in `rules`, all at once (`gap` 0) or one per `gap`.
    pub(crate) fn bus_replay(
        &mut self,
        a: usize,
        b: BusIdx,
        from: u64,
        until: u64,
        gap: u64,
        rules: u64,
    ) {
        self.bus_trim(b);
        loop {
            let next = self.bus.replay_next[a];
            let archive = &self.bus.buses[b].archive;
            // Archived in order of time, so both tests turn false once, at the first
            // event this replay has not sent that the window takes.
            let i = archive.partition_point(|e| e.seq < next || e.at < from);
            let Some(e) = archive.get(i).filter(|e| e.at < until).copied() else {
                return;
            };
            let more = archive.get(i + 1).is_some_and(|x| x.at < until);
            self.bus.replay_next[a] = e.seq + 1;
            let m = Message {
                produced_at: self.now,
                ..e.msg.replayed(false)
            };
            self.tr_bus(TraceKind::Replay, b, &m, NA32, NA32);
            self.bus_receive(b, m, e.from, e.n, rules, e.seq);
            if !more {
                return;
            }
            if gap > 0 {
                let at = self.now.saturating_add(gap);
                if at < self.model.duration.0 {
                    self.queue.push(at, Ev::Action { action: a as u32 });
                }
                return;
            }
        }
    }

    /// Events bus `b`'s archive holds now (those past its retention do not count,
    /// trimmed or not).
    pub(crate) fn bus_archive_len(&self, b: BusIdx) -> u64 {
        let archive = &self.bus.buses[b].archive;
        let retention = self.model.buses[b]
            .archive
            .as_ref()
            .map_or(0, |a| a.retention);
        if retention == 0 {
            return archive.len() as u64;
        }
        let gone = archive.partition_point(|e| self.now.saturating_sub(e.at) > retention);
        (archive.len() - gone) as u64
    }

    /// Drops from bus `b`'s archive the events past its retention.
    fn bus_trim(&mut self, b: BusIdx) {
        let retention = self.model.buses[b]
            .archive
            .as_ref()
            .map_or(0, |a| a.retention);
        if retention == 0 {
            return;
        }
        let now = self.now;
        let archive = &mut self.bus.buses[b].archive;
        while archive
            .front()
            .is_some_and(|e| now.saturating_sub(e.at) > retention)
        {
            archive.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::pubsub::filter::Scalar;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// A detail field's value: a string, a number or an array of scalars.
    #[derive(Clone, Debug)]
    enum V {
        Str(String),
        Num(f64),
        Arr(Vec<Scalar>),
    }

    fn value() -> impl Strategy<Value = V> {
        let scalar = prop_oneof![
            prop::sample::select(vec!["", "gold", "GOLD", "eu-1", "us-2", "5"])
                .prop_map(|s| Scalar::Str(s.to_string())),
            prop::sample::select(vec![0.0, 5.0, 99.5, 100.0, 250.0, -3.0]).prop_map(Scalar::Num),
        ];
        prop_oneof![
            prop::sample::select(vec!["", "gold", "GOLD", "eu-1", "us-2", "5"])
                .prop_map(|s| V::Str(s.to_string())),
            prop::sample::select(vec![0.0, 5.0, 99.5, 100.0, 250.0, -3.0]).prop_map(V::Num),
            prop::collection::vec(scalar, 0..3).prop_map(V::Arr),
        ]
    }

    const PATTERNS: &[&str] = &[
        r#"{"source": ["shop"]}"#,
        r#"{"detail-type": [{"prefix": "Order"}]}"#,
        r#"{"detail": {"tier": ["gold"]}}"#,
        r#"{"detail": {"tier": [{"equals-ignore-case": "gold"}]}}"#,
        r#"{"detail": {"tier": [{"anything-but": ["gold"]}]}}"#,
        r#"{"detail": {"tier": [{"anything-but": {"prefix": "eu"}}]}}"#,
        r#"{"detail": {"tier": [{"wildcard": "*-?"}]}}"#,
        r#"{"detail": {"tier": [""]}}"#,
        r#"{"detail": {"tier": ["5"]}}"#,
        r#"{"detail": {"tier": [5]}}"#,
        r#"{"detail": {"tier": [{"exists": true}]}}"#,
        r#"{"detail": {"tier": [{"exists": false}]}}"#,
        r#"{"detail": {"order": {"total": [{"numeric": [">=", 100]}]}}}"#,
        r#"{"detail": {"order": {"total": [{"numeric": [">", 0, "<", 100]}]}}}"#,
        r#"{"detail": {"order": {"total": [{"anything-but": [250]}]}}}"#,
        r#"{"detail": {"order": {"total": [{"suffix": "1"}]}}}"#,
        r#"{"detail": {"order": [{"exists": true}]}}"#,
        r#"{"detail": {"order": [{"exists": false}]}}"#,
        r#"{"$or": [{"source": ["other"]}, {"detail": {"tier": [{"prefix": "g"}]}}]}"#,
        r#"{"source": ["shop"], "detail": {"tier": ["gold", "GOLD"], "order": {"total": [{"numeric": ["<", 50]}]}}}"#,
    ];

    fn json_of(v: &V) -> Value {
        let scalar = |s: &Scalar| match s {
            Scalar::Str(x) => json!(x),
            Scalar::Num(n) => json!(n),
        };
        match v {
            V::Str(s) => json!(s),
            V::Num(n) => json!(n),
            V::Arr(a) => Value::Array(a.iter().map(scalar).collect()),
        }
    }

    fn attr_of(v: &V) -> AttrValue<'_> {
        match v {
            V::Str(s) => AttrValue::Str(s),
            V::Num(n) => AttrValue::Num(*n),
            V::Arr(a) => AttrValue::Array(a),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The engine's flat reading of an event (no arrays of objects) matches
        /// exactly what the JSON matcher makes of the same event.
        #[test]
        fn the_flat_reading_of_an_event_agrees_with_the_json_matcher(
            source in prop::sample::select(vec!["shop", "other"]),
            detail_type in prop::sample::select(vec!["OrderPlaced", "Ping"]),
            tier in prop::option::of(value()),
            total in prop::option::of(value()),
        ) {
            let mut detail = serde_json::Map::new();
            if let Some(t) = &tier {
                detail.insert("tier".into(), json_of(t));
            }
            if let Some(t) = &total {
                detail.insert("order".into(), json!({ "total": json_of(t) }));
            }
            let event = json!({
                "source": source,
                "detail-type": detail_type,
                "detail": Value::Object(detail),
            });
            for text in PATTERNS {
                let v: Value = serde_json::from_str(text).unwrap();
                let p = Policy::parse_event_pattern(&v).unwrap();
                let flat = p.matches_with(
                    &|name| {
                        event_field(name, source, detail_type, false, |f| match f {
                            "tier" => tier.as_ref().map(attr_of),
                            "order.total" => total.as_ref().map(attr_of),
                            _ => None,
                        })
                    },
                    false,
                );
                prop_assert_eq!(flat, p.matches_event(&event), "{} on {}", text, event);
            }
        }
    }
}
