//! The SNS-like pub/sub broker, and the asynchronous invocation of the functions it
//! delivers to, following the Amazon SNS and AWS Lambda developer guides.
//!
//! - A publish reaches every subscription whose filter policy ([`filter`]) matches the
//!   message's attributes (or, with `filter_policy_scope = "message_body"`, its body):
//!   a queue subscription sends a copy to the queue (durable: it waits there); a
//!   function subscription invokes the function asynchronously. Each copy is traced as
//!   `route`, each refusal as `filtered`; a publish no subscription takes counts as
//!   `filtered_out`. The pub/sub stores nothing.
//! - A FIFO pubsub drops a publish whose deduplication id it saw in the last five
//!   minutes (`deduplicated`), and delivers to queues in publish order, so that FIFO
//!   queues keep each message group in order.
//! - A function invoked asynchronously has Lambda's event queue: an event waits there
//!   until one of `max_concurrency` invocations is free (an event that finds none is
//!   counted `throttled` and waits); a failed invocation is retried after one minute,
//!   then two (`maximum_retry_attempts`, 0 to 2); then the event goes to the function's
//!   `on_failure` destination, or is lost. An event older than `maximum_event_age` when
//!   its turn comes is dropped the same way.
//!
//! Message attributes and bodies are not stored with messages: they are a function of
//! the publishing producer and the message's number among its messages, computed when
//! a policy reads them.

pub mod filter;

use std::collections::VecDeque;

use crate::broker::sqs::fifo::{DedupKey, DedupWindow};
use crate::metrics::{AnomalyKind, Cause, Counters};
use crate::model::*;
use crate::rng;
use crate::sim::Engine;
use crate::sim::message::Message;
use crate::sim::service::{Delivery, Work, WorkState};
use crate::sim::trace::{NA32, NA64, TraceKind};
use filter::AttrValue;

/// Counters of one pubsub beyond the common ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PubsubCounters {
    /// Copies delivered to subscriptions.
    pub routed: u64,
    /// Copies a subscription's filter policy refused.
    pub filtered: u64,
    /// Publishes that no subscription took.
    pub filtered_out: u64,
    /// Publishes a FIFO pubsub dropped as duplicates within five minutes.
    pub deduplicated: u64,
}

/// One pubsub's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct PubsubState {
    /// `produced` counts original publishes, `copies` the rest.
    pub c: Counters,
    pub p: PubsubCounters,
    dedup: DedupWindow,
}

/// The asynchronous event queue of a function invoked from a pubsub.
#[derive(Clone, Debug, Default)]
pub(crate) struct FnQueue {
    /// Events waiting for a free invocation.
    pub events: VecDeque<Message>,
    /// Invocations (instances) with nothing to do, most recent last.
    idle: Vec<u32>,
    is_idle: Vec<bool>,
    /// Originals received (the next ledger entry).
    pub entries: u64,
    /// Events that found every invocation busy.
    pub throttled: u64,
}

/// Where a published message's attributes come from: (producer, its message number).
pub(crate) type Origin = Option<(u32, u64)>;

/// Every pubsub, and the event queue of every function a pubsub invokes (empty for
/// other services).
#[derive(Clone, Debug, Default)]
pub(crate) struct Pubsub {
    pub topics: Vec<PubsubState>,
    pub fns: Vec<FnQueue>,
}

impl Pubsub {
    /// Empty pubsubs and idle functions for `model`.
    pub fn new(model: &Model) -> Pubsub {
        Pubsub {
            topics: vec![PubsubState::default(); model.pubsubs.len()],
            fns: model
                .services
                .iter()
                .map(|s| match s.source {
                    Channel::Pubsub(_) | Channel::Bus(_) => FnQueue {
                        idle: (0..s.instances).rev().collect(),
                        is_idle: vec![true; s.instances as usize],
                        ..FnQueue::default()
                    },
                    _ => FnQueue::default(),
                })
                .collect(),
        }
    }
}

/// The seeds of one producer's generated attributes and body fields.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttrSeeds {
    attrs: Vec<u64>,
    fields: Vec<u64>,
}

impl AttrSeeds {
    /// One seed per generated value of producer `p`.
    pub fn new(model: &Model, p: &ProducerModel) -> AttrSeeds {
        let seed = |kind: &str, name: &str| {
            rng::stream_seed(model.seed, &format!("{}/{kind}/{name}", p.name))
        };
        AttrSeeds {
            attrs: p.attributes.iter().map(|(n, _)| seed("attr", n)).collect(),
            fields: match &p.payload {
                Payload::Fields(f) => f.iter().map(|(n, _)| seed("field", n)).collect(),
                _ => Vec::new(),
            },
        }
    }
}

/// The value generator `g` gives message number `n` (`seed`: the value's own stream).
pub(crate) fn generate(g: &AttrGen, seed: u64, n: u64) -> AttrValue<'_> {
    let unit = || rng::unit_from_hash(rng::splitmix64(seed ^ rng::splitmix64(n)));
    match g {
        AttrGen::Fixed(v) => v.as_value(),
        AttrGen::Cycle(list) => list[(n % list.len() as u64) as usize].as_value(),
        AttrGen::Choose(list, cum) => {
            let u = unit();
            let i = cum.iter().position(|&c| u < c).unwrap_or(list.len() - 1);
            list[i].as_value()
        }
        AttrGen::Range { min, max, integer } => {
            let u = unit();
            if *integer {
                AttrValue::Num((min + (u * (max - min + 1.0)).floor()).min(*max))
            } else {
                AttrValue::Num(min + u * (max - min))
            }
        }
    }
}

/// What a filter policy reads of message `n` of producer `p`: attributes, or body
/// fields by dotted path.
pub(crate) fn read_value<'m>(
    p: &'m ProducerModel,
    seeds: &AttrSeeds,
    n: u64,
    body: bool,
    name: &str,
) -> Option<AttrValue<'m>> {
    if !body {
        let i = p.attributes.iter().position(|(k, _)| k == name)?;
        return Some(generate(&p.attributes[i].1, seeds.attrs[i], n));
    }
    match &p.payload {
        Payload::None => None,
        Payload::Fields(f) => {
            let i = f.iter().position(|(k, _)| k == name)?;
            Some(generate(&f[i].1, seeds.fields[i], n))
        }
        Payload::Lines(lines, _) => {
            let line = &lines[(n % lines.len() as u64) as usize];
            line.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_value())
        }
    }
}

impl Engine {
    /// Whether subscription `i` of pubsub `ps` takes a message from `origin`.
    fn sub_takes(&self, ps: PubsubIdx, i: usize, origin: Origin) -> bool {
        let sub = &self.model.pubsubs[ps].subscriptions[i];
        let Some(policy) = &sub.filter else {
            return true;
        };
        let Some((p, n)) = origin else {
            // A service's follow-up event carries no attributes and no body fields.
            return policy.matches_with(&|_| None, true);
        };
        let spec = &self.model.producers[p as usize];
        let seeds = &self.producers[p as usize].attr_seeds;
        let bare = if sub.body {
            match &spec.payload {
                Payload::None => true,
                Payload::Fields(f) => f.is_empty(),
                Payload::Lines(..) => false,
            }
        } else {
            spec.attributes.is_empty()
        };
        policy.matches_with(&|name| read_value(spec, seeds, n, sub.body, name), bare)
    }

    /// Traces what pubsub `ps` did with `msg` for the endpoint `target` (its component).
    fn tr_pubsub(&mut self, kind: TraceKind, ps: PubsubIdx, msg: &Message, target: u32) {
        let comp = self.plan.pubsub_comp + ps as u32;
        self.tracer
            .rec(self.now, kind, comp, target, Some(msg), NA32, NA64, NA32);
    }

    /// The component index of a subscription's endpoint.
    fn endpoint_comp(&self, t: SubTarget) -> u32 {
        match t {
            SubTarget::Queue(q) => self.plan.queue_comp + q as u32,
            SubTarget::Function(g) => self.plan.service_comp + g as u32,
        }
    }

    /// Publish: pubsub `ps` delivers `msg` to every subscription that takes it.
    pub(crate) fn pubsub_publish(&mut self, ps: PubsubIdx, msg: Message, origin: Origin) {
        if self.model.pubsubs[ps].fifo {
            let key = DedupKey::new(&msg, DedupScope::Queue);
            if !self.pubsub.topics[ps].dedup.admit(key, self.now) {
                self.pubsub.topics[ps].p.deduplicated += 1;
                self.tr_pubsub(TraceKind::Deduplicated, ps, &msg, NA32);
                return;
            }
        }
        let st = &mut self.pubsub.topics[ps];
        if msg.is_copy() {
            st.c.copies += 1;
        } else {
            st.c.produced += 1;
        }
        let mut taken = false;
        for i in 0..self.model.pubsubs[ps].subscriptions.len() {
            let target = self.model.pubsubs[ps].subscriptions[i].target;
            let comp = self.endpoint_comp(target);
            if !self.sub_takes(ps, i, origin) {
                self.pubsub.topics[ps].p.filtered += 1;
                self.tr_pubsub(TraceKind::Filtered, ps, &msg, comp);
                continue;
            }
            taken = true;
            self.pubsub.topics[ps].p.routed += 1;
            self.tr_pubsub(TraceKind::Route, ps, &msg, comp);
            let copy = Message {
                produced_at: self.now,
                ..msg
            };
            match target {
                SubTarget::Queue(q) => self.sqs_send(q, copy, 0),
                SubTarget::Function(g) => self.fn_enqueue(g, copy),
            }
        }
        if !taken {
            self.pubsub.topics[ps].p.filtered_out += 1;
        }
    }

    /// Lambda's asynchronous invoke: the event joins function `g`'s event queue, and an
    /// idle invocation takes it.
    pub(crate) fn fn_enqueue(&mut self, g: usize, msg: Message) {
        let now = self.now;
        let fq = &mut self.pubsub.fns[g];
        let msg = if msg.is_copy() {
            msg
        } else {
            fq.entries += 1;
            let m = Message {
                entry: fq.entries - 1,
                ..msg
            };
            self.services[g].ledger.enter(m.entry, now);
            m
        };
        self.pubsub.fns[g].events.push_back(msg);
        while !self.pubsub.fns[g].events.is_empty() {
            let fq = &mut self.pubsub.fns[g];
            let Some(i) = fq.idle.pop() else {
                fq.throttled += 1;
                return;
            };
            fq.is_idle[i as usize] = false;
            self.try_dispatch(g, i as usize);
        }
    }

    /// A free invocation of function `g` (instance `i`) takes the next event young
    /// enough; with none, it is idle.
    pub(crate) fn fn_fetch(&mut self, g: usize, i: usize) -> Option<Delivery> {
        let max_age = self.model.services[g]
            .function
            .map_or(u64::MAX, |f| f.max_event_age);
        loop {
            let fq = &mut self.pubsub.fns[g];
            let Some(msg) = fq.events.pop_front() else {
                if !fq.is_idle[i] {
                    fq.is_idle[i] = true;
                    fq.idle.push(i as u32);
                }
                return None;
            };
            if self.now.saturating_sub(msg.produced_at) > max_age {
                self.fn_too_old(g, msg, max_age);
                continue;
            }
            let d = Delivery {
                lease: crate::broker::Lease::Async,
                msg,
                redelivery: None,
            };
            let comp = self.plan.service_comp + g as u32;
            self.tracer.rec(
                self.now,
                TraceKind::Deliver,
                comp,
                i as u32,
                Some(&msg),
                NA32,
                NA64,
                NA32,
            );
            return Some(d);
        }
    }

    /// An event waited past the function's maximum event age: to its on-failure
    /// destination, or lost.
    fn fn_too_old(&mut self, g: usize, msg: Message, max_age: u64) {
        let work = Work::detached(crate::broker::Lease::Async, msg);
        let first = self.account(g, &msg);
        if self.model.services[g].dead_letter.is_some() {
            if first {
                self.services[g].c.dead_lettered += 1;
            }
            self.dead_letter_detached(g, &work, first);
        } else {
            self.tr_work(TraceKind::Drop, g, &work);
            if first {
                self.services[g].c.lost += 1;
                self.note(AnomalyKind::Lost, g, &work, 0, Cause::EventTooOld(max_age));
            }
        }
    }

    /// Unaccounted originals function `g` still holds: events in its event queue, and
    /// events of live invocations or retries (conservation's `pending`, by looking).
    pub(crate) fn fn_held_unaccounted(&self, g: usize) -> u64 {
        let ledger = &self.services[g].ledger;
        let open = |m: &Message| !m.is_copy() && !ledger.is_settled(m.entry);
        let mut held: Vec<u64> = self.pubsub.fns[g]
            .events
            .iter()
            .filter(|m| open(m))
            .map(|m| m.entry)
            .chain(
                self.services[g]
                    .works
                    .iter()
                    .filter(|w| w.state != WorkState::Free && open(&w.msg))
                    .map(|w| w.msg.entry),
            )
            .collect();
        held.sort_unstable();
        held.dedup();
        held.len() as u64
    }

    /// Events waiting in function `g`'s event queue, and the age of the oldest.
    pub(crate) fn fn_backlog(&self, g: usize) -> (u64, u64) {
        let fq = &self.pubsub.fns[g];
        let age = fq
            .events
            .front()
            .map_or(0, |m| self.now.saturating_sub(m.produced_at));
        (fq.events.len() as u64, age)
    }
}
