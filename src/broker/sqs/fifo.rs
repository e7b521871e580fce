//! FIFO queues: message groups and deduplication.
//!
//! Each message group (the producer's key is the `MessageGroupId`) keeps its messages
//! in send order. A group whose head is visible and which has nothing in flight waits
//! in `ready`, in the order its turn came. A receive takes the first ready group's
//! visible messages from its head, as many as the batch allows ("SQS first tries to
//! return as many messages with the same message group ID as possible"), then moves on
//! to the next ready group; a group with a message in flight delivers nothing more.
//!
//! Deduplication: a send whose deduplication id was accepted in the last five minutes is
//! accepted and dropped. The id is the message's correlation id and event (a producer's
//! retry, or the same event emitted again by a duplicate processing upstream, has the
//! same); messages carry no body yet, so content-based deduplication hashes the same
//! fields. With scope `message_group` the id is unique per group only.

use std::collections::VecDeque;

use indexmap::IndexMap;

use super::{QMsg, QState};
use crate::model::{DEDUP_WINDOW_NS, DedupScope, EventIdx, KeyId, NO_KEY};
use crate::sim::message::Message;

/// A deduplication id in its scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DedupKey {
    id: u64,
    event: EventIdx,
    /// The message group with scope `message_group`; `NO_KEY` with scope `queue`.
    group: KeyId,
}

impl DedupKey {
    /// The deduplication id of `m` under `scope`.
    pub fn new(m: &Message, scope: DedupScope) -> DedupKey {
        DedupKey {
            id: m.msg,
            event: m.event,
            group: match scope {
                DedupScope::Queue => NO_KEY,
                DedupScope::MessageGroup => m.key,
            },
        }
    }
}

/// One message group.
#[derive(Clone, Debug, Default)]
struct Group {
    /// Slots of its messages, in send order.
    msgs: VecDeque<u32>,
    /// How many of them are in flight.
    in_flight: u32,
    /// In the `ready` list.
    queued: bool,
}

/// The FIFO state of one queue.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fifo {
    /// Group index of each key (`u32::MAX`: none yet), grown as keys appear.
    group_of: Vec<u32>,
    /// The group of unkeyed messages, once one arrives.
    unkeyed: Option<u32>,
    groups: Vec<Group>,
    ready: VecDeque<u32>,
    /// The group the receive under way is taking from.
    batch: Option<u32>,
    /// Deduplication ids of the last five minutes.
    dedup: DedupWindow,
}

/// Deduplication ids accepted in the last five minutes (SQS FIFO queues, SNS FIFO
/// topics).
#[derive(Clone, Debug, Default)]
pub(crate) struct DedupWindow {
    /// Accepted deduplication ids and when they are forgotten.
    seen: IndexMap<DedupKey, u64>,
    /// The same, in the order they are forgotten.
    forget: VecDeque<(u64, DedupKey)>,
}

impl DedupWindow {
    /// Whether a send with deduplication id `key` at `now` is delivered (true) or
    /// dropped as a duplicate within the window (false).
    pub fn admit(&mut self, key: DedupKey, now: u64) -> bool {
        while let Some(&(at, k)) = self.forget.front() {
            if at > now {
                break;
            }
            self.forget.pop_front();
            if self.seen.get(&k) == Some(&at) {
                self.seen.swap_remove(&k);
            }
        }
        if self.seen.contains_key(&key) {
            return false;
        }
        let at = now.saturating_add(DEDUP_WINDOW_NS);
        self.seen.insert(key, at);
        self.forget.push_back((at, key));
        true
    }
}

impl Fifo {
    /// The group of `key`, made if it is new.
    fn group(&mut self, key: KeyId) -> u32 {
        let fresh = self.groups.len() as u32;
        let slot = if key == NO_KEY {
            self.unkeyed.get_or_insert(fresh)
        } else {
            let k = key as usize;
            if k >= self.group_of.len() {
                self.group_of.resize(k + 1, u32::MAX);
            }
            let g = &mut self.group_of[k];
            if *g == u32::MAX {
                *g = fresh;
            }
            g
        };
        let g = *slot;
        if g == fresh {
            self.groups.push(Group::default());
        }
        g
    }

    /// Whether a send with deduplication id `key` at `now` is delivered (true) or
    /// dropped as a duplicate within the window (false).
    pub fn admit(&mut self, key: DedupKey, now: u64) -> bool {
        self.dedup.admit(key, now)
    }

    /// Slot `s` joins the back of its group.
    pub fn push(&mut self, s: u32, key: KeyId) {
        let g = self.group(key);
        self.groups[g as usize].msgs.push_back(s);
    }

    /// Gives `key`'s group its turn if its head is visible and nothing is in flight.
    pub fn refresh(&mut self, key: KeyId, slots: &[QMsg]) {
        let g = self.group(key);
        if Some(g) != self.batch {
            self.requeue(g, slots);
        }
    }

    /// Starts a receive.
    pub fn begin_batch(&mut self) {
        self.batch = None;
    }

    /// Ends a receive: the group it took from gets its turn again if it still may.
    pub fn end_batch(&mut self, slots: &[QMsg]) {
        if let Some(g) = self.batch.take() {
            self.requeue(g, slots);
        }
    }

    /// The next message the receive under way may take: more of the current group,
    /// else the head of the next group whose turn it is.
    pub fn next(&mut self, slots: &[QMsg]) -> Option<u32> {
        if let Some(g) = self.batch {
            // The group had nothing in flight when the receive took it: what is in flight
            // now was taken by this receive, and the next visible message follows it.
            for &s in &self.groups[g as usize].msgs {
                match slots[s as usize].state {
                    QState::InFlight => continue,
                    QState::Visible => return Some(s),
                    _ => break,
                }
            }
        }
        while let Some(g) = self.ready.pop_front() {
            let grp = &mut self.groups[g as usize];
            grp.queued = false;
            if grp.in_flight > 0 {
                continue;
            }
            if let Some(&h) = grp.msgs.front()
                && slots[h as usize].state == QState::Visible
            {
                // Leave the finished group's turn to `end_batch` of the receive.
                if let Some(prev) = self.batch.replace(g) {
                    self.requeue(prev, slots);
                }
                return Some(h);
            }
        }
        None
    }

    /// Puts group `g` in `ready` if its head is visible and nothing of it is in flight.
    fn requeue(&mut self, g: u32, slots: &[QMsg]) {
        let grp = &mut self.groups[g as usize];
        if !grp.queued
            && grp.in_flight == 0
            && grp
                .msgs
                .front()
                .is_some_and(|&h| slots[h as usize].state == QState::Visible)
        {
            grp.queued = true;
            self.ready.push_back(g);
        }
    }

    /// Slot `s` of `key`'s group was received.
    pub fn take(&mut self, _s: u32, key: KeyId) {
        let g = self.group(key);
        self.groups[g as usize].in_flight += 1;
    }

    /// A message of `key`'s group is visible again after its visibility timeout.
    pub fn unflight(&mut self, key: KeyId) {
        let g = self.group(key);
        let grp = &mut self.groups[g as usize];
        grp.in_flight = grp.in_flight.saturating_sub(1);
    }

    /// Slot `s` leaves `key`'s group (deleted, expired or dead-lettered).
    pub fn remove(&mut self, s: u32, key: KeyId, in_flight: bool) {
        let g = self.group(key);
        let grp = &mut self.groups[g as usize];
        if let Some(pos) = grp.msgs.iter().position(|&x| x == s) {
            grp.msgs.remove(pos);
        }
        if in_flight {
            grp.in_flight = grp.in_flight.saturating_sub(1);
        }
    }
}
