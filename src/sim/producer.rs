//! Producers: arrivals on a piecewise-linear rate (thinning for Poisson), a key drawn
//! per message, and the publish to the producer's target broker. A lost ack without
//! idempotence makes the producer send the message again after its request timeout,
//! and the broker, not deduplicating, writes it twice.

use rand::RngExt;

use super::Engine;
use super::draw::{self, KeySampler};
use super::message::{FLAG_COPY, Message};
use super::queue::Ev;
use super::trace::{NA32, NA64, TraceKind};
use crate::broker::kafka::Partitioner;
use crate::metrics::Counters;
use crate::model::*;
use crate::rng::{self, Stream};

/// A message waiting to be sent again, and the partition it goes to.
#[derive(Clone, Debug)]
pub(crate) struct Resend {
    partition: u32,
    msg: Message,
    /// Its number among the producer's messages (what its attributes derive from).
    n: u64,
}

/// One producer's state.
#[derive(Clone, Debug)]
pub(crate) struct ProducerState {
    arrivals: Stream,
    keys_rng: Stream,
    /// How its records are spread over its topic's partitions (a topic target only).
    part: Option<Partitioner>,
    ack_rng: Stream,
    keys: Option<(KeyId, KeySampler)>,
    resend: Vec<Option<Resend>>,
    resend_free: Vec<u32>,
    /// Seeds of its generated attributes and body fields.
    pub attr_seeds: crate::broker::pubsub::AttrSeeds,
    /// Exchange targets: the seed of its weighted routing key choice, and of each
    /// generated header.
    pub routing_seed: u64,
    pub header_seeds: Vec<u64>,
    pub c: Counters,
}

/// The initial state of every producer of `model`.
pub(crate) fn states(model: &Model) -> Vec<ProducerState> {
    let seed = model.seed;
    model
        .producers
        .iter()
        .map(|p| {
            let keys = p.keys.and_then(|k| {
                let space = model.keys.spaces.get(k.space)?;
                Some((space.base, KeySampler::new(k.dist, space.count)))
            });
            let part = p.target.topic().map(|t| {
                Partitioner::new(rng::stream(seed, &p.name, "partition"), &model.topics[t])
            });
            ProducerState {
                arrivals: rng::stream(seed, &p.name, "arrivals"),
                keys_rng: rng::stream(seed, &p.name, "keys"),
                part,
                ack_rng: rng::stream(seed, &p.name, "acks"),
                keys,
                resend: Vec::new(),
                resend_free: Vec::new(),
                attr_seeds: crate::broker::pubsub::AttrSeeds::new(model, p),
                routing_seed: crate::broker::rabbit::exchange::routing_seed(model, p),
                header_seeds: crate::broker::rabbit::exchange::header_seeds(model, p),
                c: Counters::default(),
            }
        })
        .collect()
}

impl Engine {
    /// The first arrival strictly after `t` (ns), or None past the end of the run.
    pub(crate) fn next_arrival(&mut self, p: usize, t: u64) -> Option<u64> {
        let end = self.model.duration.0;
        let dist = self.model.producers[p].dist;
        let segs = &self.plan.segments[p];
        let rng = &mut self.producers[p].arrivals;
        if let [(_, rate, _, _)] = segs[..]
            && dist == RateDist::Poisson
        {
            // The common case, a homogeneous Poisson process: one draw, no thinning.
            // Same arithmetic as the general path below, so the same numbers.
            if rate <= 0.0 {
                return None;
            }
            let cand = round_half_up(t as f64 + draw::exp_gap(rate * 1e-9, rng)).max(t + 1);
            return (cand < end).then_some(cand);
        }
        let mut t = t;
        // Segments are few and time only moves forward: a linear scan from the start
        // is cheaper than any index (one segment for a constant-rate producer).
        let mut i = segs.iter().position(|s| t < s.2)?;
        loop {
            let (a, ra, b, rb) = *segs.get(i)?;
            let lmax = ra.max(rb);
            if lmax <= 0.0 {
                t = b;
                i += 1;
                if t >= end {
                    return None;
                }
                continue;
            }
            let cand = match dist {
                RateDist::Poisson => t as f64 + draw::exp_gap(lmax * 1e-9, rng),
                RateDist::Constant => {
                    let r = rate_at(a, ra, b, rb, t);
                    if r <= 0.0 {
                        t = b;
                        i += 1;
                        continue;
                    }
                    t as f64 + 1e9 / r
                }
            };
            let cand = round_half_up(cand).max(t + 1);
            if cand >= b && dist == RateDist::Poisson {
                // Memoryless: restart from the segment's end.
                t = b;
                i += 1;
                if t >= end {
                    return None;
                }
                continue;
            }
            if cand >= end {
                return None;
            }
            if dist == RateDist::Poisson && ra != rb {
                let r = rate_at(a, ra, b, rb, cand);
                if rng.random::<f64>() * lmax > r {
                    t = cand;
                    continue;
                }
            }
            return Some(cand);
        }
    }

    /// Producer `p` sends a message, and schedules its next one.
    pub(crate) fn on_produce(&mut self, p: usize) {
        let msg = self.next_msg;
        self.next_msg += 1;
        let spec = &self.model.producers[p];
        let (target, event, request_timeout) = (spec.target, spec.event, spec.request_timeout);
        // A topic: a lost ack without idempotence makes the producer write twice. A
        // queue: the client sends again after a failed-looking send (`duplicate_rate`).
        let (resend_on_loss, ack_loss_rate) = match target {
            Channel::Topic(_) => (
                spec.acks != Acks::None && spec.retries > 0 && !spec.idempotent,
                spec.ack_loss_rate,
            ),
            Channel::Queue(_) | Channel::Pubsub(_) | Channel::Exchange(_) | Channel::Bus(_) => {
                (true, spec.duplicate_rate)
            }
        };
        let delay = spec.delay;
        let ps = &mut self.producers[p];
        let key = match &mut ps.keys {
            Some((base, sampler)) => *base + sampler.draw(&mut ps.keys_rng),
            None => NO_KEY,
        };
        let partition = match (&mut ps.part, target) {
            (Some(part), Channel::Topic(t)) => {
                part.choose(&self.model.topics[t], &self.model.keys, key)
            }
            _ => NA32,
        };
        let m = Message::produced(msg, self.now, p, key, event);
        let ps = &mut self.producers[p];
        ps.c.produced += 1;
        let n = ps.c.produced - 1;
        // With idempotence the broker drops the retried batch, so a lost ack changes
        // nothing and needs no draw.
        let lost_ack =
            resend_on_loss && ack_loss_rate > 0.0 && ps.ack_rng.random::<f64>() < ack_loss_rate;
        let comp = self.plan.producer_comp + p as u32;
        self.tracer.rec(
            self.now,
            TraceKind::Produce,
            comp,
            NA32,
            Some(&m),
            partition,
            NA64,
            NA32,
        );
        if self.links.active > 0 {
            self.send_slow(super::link::Outgoing {
                msg: m,
                target,
                partition,
                from: p as u32,
                inst: NA32,
                n,
                origin: crate::broker::sqs::NO_ORIGIN,
            });
        } else {
            match target {
                Channel::Topic(t) => {
                    self.append(t, partition, m);
                }
                Channel::Queue(q) => self.queue_send(q, m, delay, Some((p as u32, n))),
                Channel::Pubsub(t) => self.pubsub_publish(t, m, Some((p as u32, n))),
                Channel::Exchange(x) => self.exchange_publish(x, m, Some((p as u32, n))),
                Channel::Bus(b) => self.bus_publish(b, m, p as u32, n),
            }
        }
        if lost_ack {
            // The broker wrote it, the ack was lost: the producer sends it again after
            // the request timeout and the broker, not deduplicating, writes it twice.
            let ps = &mut self.producers[p];
            let copy = Resend {
                partition,
                msg: Message {
                    flags: m.flags | FLAG_COPY,
                    ..m
                },
                n,
            };
            let slot = match ps.resend_free.pop() {
                Some(s) => {
                    ps.resend[s as usize] = Some(copy);
                    s
                }
                None => {
                    ps.resend.push(Some(copy));
                    (ps.resend.len() - 1) as u32
                }
            };
            let at = self.now.saturating_add(request_timeout.0);
            self.queue.push(
                at,
                Ev::Resend {
                    producer: p as u32,
                    slot,
                },
            );
        }
        if let Some(t) = self.next_arrival(p, self.now) {
            self.queue.push(t, Ev::Produce { producer: p as u32 });
        }
    }

    /// Producer `p` sends again the message in resend slot `slot`.
    pub(crate) fn on_resend(&mut self, p: usize, slot: u32) {
        let ps = &mut self.producers[p];
        let Some(r) = ps.resend.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        ps.resend_free.push(slot);
        ps.c.copies += 1;
        let spec = &self.model.producers[p];
        if self.links.active > 0 {
            self.send_slow(super::link::Outgoing {
                msg: r.msg,
                target: spec.target,
                partition: r.partition,
                from: p as u32,
                inst: NA32,
                n: r.n,
                origin: crate::broker::sqs::NO_ORIGIN,
            });
            return;
        }
        match spec.target {
            Channel::Topic(t) => {
                self.append(t, r.partition, r.msg);
            }
            Channel::Queue(q) => self.queue_send(q, r.msg, spec.delay, Some((p as u32, r.n))),
            Channel::Pubsub(t) => self.pubsub_publish(t, r.msg, Some((p as u32, r.n))),
            Channel::Exchange(x) => self.exchange_publish(x, r.msg, Some((p as u32, r.n))),
            Channel::Bus(b) => self.bus_publish(b, r.msg, p as u32, r.n),
        }
    }
}

/// `x` rounded half up to whole nanoseconds without a libm call (+ 0.5 and truncate);
/// saturates at `u64::MAX`.
#[inline]
fn round_half_up(x: f64) -> u64 {
    if x < draw::I64_LIMIT {
        // Through i64: one instruction on x86-64 where a u64 conversion takes several
        // (x is never negative here, and below 2^63 both casts agree).
        (x + 0.5) as i64 as u64
    } else if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        (x + 0.5) as u64
    }
}

fn rate_at(a: u64, ra: f64, b: u64, rb: f64, t: u64) -> f64 {
    if b <= a || ra == rb {
        return ra;
    }
    let x = (t.saturating_sub(a)) as f64 / (b - a) as f64;
    ra + (rb - ra) * x.clamp(0.0, 1.0)
}

/// Piecewise-linear rate segments covering [0, end).
pub(crate) fn rate_segments(p: &ProducerModel, end: u64) -> Vec<(u64, f64, u64, f64)> {
    let mut segs = Vec::new();
    let mut t = 0u64;
    let mut rate = p.base_rate;
    for (i, ph) in p.phases.iter().enumerate() {
        let at = ph.at.min(end);
        if at > t {
            segs.push((t, rate, at, rate));
            t = at;
        }
        let next_at = p.phases.get(i + 1).map_or(end, |n| n.at.min(end));
        let ramp_end = at.saturating_add(ph.ramp).min(next_at);
        if ph.ramp > 0 && ramp_end > t {
            let full = at.saturating_add(ph.ramp);
            let reached = rate_at(at, rate, full, ph.per_second, ramp_end);
            segs.push((t, rate, ramp_end, reached));
            rate = reached;
            t = ramp_end;
        } else {
            rate = ph.per_second;
        }
    }
    if t < end {
        segs.push((t, rate, end, rate));
    }
    segs
}
