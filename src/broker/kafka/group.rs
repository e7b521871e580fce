//! A service's Kafka consumer group: which instance owns each partition, where it
//! fetches, what it has committed, and which offsets it has completed. Commits cover
//! only the contiguous completed prefix, as Confluent's parallel consumer does, so an
//! instance with several slots may process a partition's records in parallel
//! (`ordering = "unordered"`), one key at a time (`"key"`), or one record at a time
//! (`"partition"`).

use std::collections::VecDeque;

use super::PartLog;
use crate::broker::Lease;
use crate::metrics::Cause;
use crate::model::{CommitMode, KeyId, NO_KEY, Ordering, ServiceModel};
use crate::sim::service::Delivery;

/// Most records a key-ordered partition buffers while their keys are busy.
pub const KEY_BUFFER_LIMIT: usize = 4_096;

/// Group membership of one instance.
#[derive(Clone, Debug, Default)]
pub(crate) struct Member {
    /// In the group as the coordinator sees it (a crashed instance stays joined until
    /// its session times out).
    pub joined: bool,
    /// Partitions assigned to it (or to be, after a cooperative second round).
    pub parts: Vec<u32>,
    /// Round-robin position over `parts` for the next fetch.
    pub cursor: usize,
}

/// The group's view of one partition.
#[derive(Clone, Debug, Default)]
pub(crate) struct GPart {
    pub owner: Option<u32>,
    pub paused: bool,
    /// Owner-to-be after the second round of a cooperative rebalance.
    pub pending: Option<u32>,
    pub next_fetch: u64,
    pub committed: u64,
    /// First offset not yet completed; `done` covers [base, next_fetch).
    pub base: u64,
    pub done: DoneWindow,
    /// Live work items of this partition (running, in backoff or ready).
    pub active: u32,
    /// Keys with a live work item (key ordering only).
    pub busy_keys: Vec<KeyId>,
    /// Fetched records waiting for their key (key ordering only).
    pub waiting: VecDeque<u64>,
    /// Keys of the records in `waiting`, each once; valid while `parked_clean`.
    parked_keys: Vec<KeyId>,
    /// No record in `waiting` can start until a busy key is released: the last scan
    /// found none, and `busy_keys` has not shrunk since.
    pub parked_clean: bool,
    /// Offsets below this were delivered before the last reset, for this reason.
    pub redeliver_until: u64,
    pub redeliver_cause: Option<Cause>,
}

/// One service's consumer group.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub members: Vec<Member>,
    pub parts: Vec<GPart>,
    pub generation: u32,
    pub rebalancing: bool,
    /// When an instance last crashed (the cause of redeliveries its partitions see).
    pub last_crash: u64,
}

impl Group {
    /// A group of `instances` members, all joined, over `partitions` partitions.
    pub fn new(instances: u32, partitions: u32) -> Group {
        Group {
            members: (0..instances)
                .map(|_| Member {
                    joined: true,
                    ..Member::default()
                })
                .collect(),
            parts: vec![GPart::default(); partitions as usize],
            generation: 0,
            rebalancing: false,
            last_crash: 0,
        }
    }

    /// Takes the next record instance `i` may start, round robin over its partitions.
    #[inline]
    pub fn fetch(&mut self, spec: &ServiceModel, logs: &[PartLog], i: usize) -> Option<Delivery> {
        let n = self.members[i].parts.len();
        let mut idx = self.members[i].cursor;
        for _ in 0..n {
            if idx >= n {
                idx = 0;
            }
            let p = self.members[i].parts[idx];
            idx += 1;
            let log = &logs[p as usize];
            let gp = &mut self.parts[p as usize];
            if gp.paused || gp.owner != Some(i as u32) {
                continue;
            }
            if gp.next_fetch < log.base {
                gp.skip_to(log.base, spec.commit);
            }
            let offset = match spec.ordering {
                Ordering::Partition => {
                    if gp.active > 0 || gp.next_fetch >= log.end() {
                        continue;
                    }
                    gp.next_fetch
                }
                Ordering::Unordered => {
                    if gp.next_fetch >= log.end() {
                        continue;
                    }
                    gp.next_fetch
                }
                Ordering::Key => match gp.fetch_by_key(log) {
                    Some(o) => o,
                    None => continue,
                },
            };
            self.members[i].cursor = idx;
            return gp.deliver(spec, log, p, offset);
        }
        None
    }

    /// A work item on (`p`, `offset`) finished for good: advance the partition's
    /// completed prefix, release its key, and commit if the mode says so.
    #[inline]
    pub fn complete(&mut self, p: u32, offset: u64, key: KeyId, commit: CommitMode) {
        let gp = &mut self.parts[p as usize];
        if let Some(i) = offset.checked_sub(gp.base) {
            gp.done.set(i);
        }
        gp.pop_completed();
        gp.active = gp.active.saturating_sub(1);
        if !gp.busy_keys.is_empty()
            && let Some(pos) = gp.busy_keys.iter().position(|&k| k == key)
        {
            gp.busy_keys.swap_remove(pos);
            gp.parked_clean = false;
        }
        if commit == CommitMode::After {
            gp.committed = gp.committed.max(gp.base);
        }
    }
}

/// Completion flags of the offsets from a partition's `base` on, one bit each, so that
/// the completed prefix is found with one `trailing_ones` per 64 offsets instead of a
/// loop with an unpredictable exit.
#[derive(Clone, Debug, Default)]
pub(crate) struct DoneWindow {
    words: VecDeque<u64>,
    /// Bit of `words[0]` that holds the first offset.
    head: u32,
    /// Offsets covered.
    len: u64,
}

impl DoneWindow {
    /// Covers one more offset, completed or not.
    #[inline]
    pub fn push(&mut self, done: bool) {
        let idx = u64::from(self.head) + self.len;
        if idx >= self.words.len() as u64 * 64 {
            self.words.push_back(0);
        }
        if done {
            self.words[(idx / 64) as usize] |= 1u64 << (idx % 64);
        }
        self.len += 1;
    }

    /// Marks the `i`-th covered offset completed (nothing if it is not covered).
    #[inline]
    pub fn set(&mut self, i: u64) {
        if i < self.len {
            let idx = u64::from(self.head) + i;
            self.words[(idx / 64) as usize] |= 1u64 << (idx % 64);
        }
    }

    /// Drops the completed offsets at the front; returns how many.
    #[inline]
    pub fn pop_done(&mut self) -> u64 {
        let mut popped = 0;
        while self.len > 0 {
            let Some(&w) = self.words.front() else {
                break;
            };
            let avail = (64 - u64::from(self.head)).min(self.len);
            let ones = u64::from((w >> self.head).trailing_ones()).min(avail);
            popped += ones;
            self.len -= ones;
            self.head += ones as u32;
            if self.head == 64 {
                self.words.pop_front();
                self.head = 0;
            }
            if ones < avail {
                break;
            }
        }
        popped
    }

    /// Covers nothing.
    pub fn clear(&mut self) {
        self.words.clear();
        self.head = 0;
        self.len = 0;
    }
}

impl GPart {
    /// Moves `base` past the completed offsets at the front of `done`.
    #[inline]
    pub fn pop_completed(&mut self) {
        self.base += self.done.pop_done();
    }

    /// The fetch position fell below the log start (retention deleted those records,
    /// already counted as expired): move it up, marking the skipped offsets complete.
    fn skip_to(&mut self, start: u64, commit: CommitMode) {
        while self.next_fetch < start {
            self.next_fetch += 1;
            self.done.push(true);
        }
        self.pop_completed();
        if commit != CommitMode::Auto {
            self.committed = self.committed.max(self.base);
        }
    }

    /// Key ordering: the first parked record whose key is free, else the next records
    /// of the log (parking those whose key is busy or already has a parked record).
    /// A hot key can park thousands of records, so the parked list is scanned only
    /// when a busy key was released since the last scan.
    fn fetch_by_key(&mut self, log: &PartLog) -> Option<u64> {
        if !self.parked_clean {
            self.parked_keys.clear();
            for (j, &off) in self.waiting.iter().enumerate() {
                let key = log.get(off).map_or(NO_KEY, |r| r.key);
                let busy = key != NO_KEY
                    && (self.busy_keys.contains(&key) || self.parked_keys.contains(&key));
                if !busy {
                    self.waiting.remove(j);
                    return Some(off);
                }
                if !self.parked_keys.contains(&key) {
                    self.parked_keys.push(key);
                }
            }
            self.parked_clean = true;
        }
        while self.next_fetch < log.end() && self.waiting.len() < KEY_BUFFER_LIMIT {
            let off = self.next_fetch;
            let key = log.get(off).map_or(NO_KEY, |r| r.key);
            if key != NO_KEY && (self.busy_keys.contains(&key) || self.parked_keys.contains(&key)) {
                // Fetched but parked behind its key.
                self.next_fetch += 1;
                self.done.push(false);
                self.waiting.push_back(off);
                if !self.parked_keys.contains(&key) {
                    self.parked_keys.push(key);
                }
                continue;
            }
            return Some(off);
        }
        None
    }

    /// Hands out the record at `offset` of partition `p`.
    #[inline]
    fn deliver(
        &mut self,
        spec: &ServiceModel,
        log: &PartLog,
        p: u32,
        offset: u64,
    ) -> Option<Delivery> {
        let msg = *log.get(offset)?;
        if offset == self.next_fetch {
            self.next_fetch += 1;
            self.done.push(false);
        }
        if spec.commit == CommitMode::Before {
            self.committed = self.committed.max(self.next_fetch);
        }
        self.active += 1;
        if msg.key != NO_KEY && spec.ordering == Ordering::Key {
            self.busy_keys.push(msg.key);
        }
        let redelivery = if offset < self.redeliver_until {
            self.redeliver_cause
        } else {
            None
        };
        Some(Delivery {
            lease: Lease::Kafka {
                partition: p,
                offset,
            },
            msg,
            redelivery,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DoneWindow;

    /// The bit window behaves as the plain queue of flags it replaces.
    #[test]
    fn done_window_matches_a_queue_of_flags() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(8);
        let mut w = DoneWindow::default();
        let mut q: std::collections::VecDeque<bool> = Default::default();
        for step in 0..200_000 {
            match rng.next_u64() % 7 {
                0..=2 => {
                    let d = rng.next_u64() % 5 == 0;
                    w.push(d);
                    q.push_back(d);
                }
                3..=5 if !q.is_empty() => {
                    let i = rng.next_u64() % (q.len() as u64 + 2);
                    w.set(i);
                    if let Some(f) = q.get_mut(i as usize) {
                        *f = true;
                    }
                }
                _ if step % 1000 == 999 => {
                    w.clear();
                    q.clear();
                }
                _ => {}
            }
            let mut popped = 0;
            while q.front() == Some(&true) {
                q.pop_front();
                popped += 1;
            }
            assert_eq!(w.pop_done(), popped, "step {step}");
            assert_eq!(w.len, q.len() as u64);
        }
    }
}
