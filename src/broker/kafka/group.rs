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

/// An instance owning at most this many partitions looks at each of them at every
/// fetch instead of following its `ready` bits (which stay correct but unread).
const SCAN_ALL: usize = 16;

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
    /// One bit per position in `parts`: the partition may have a record to start. A
    /// fetch visits only these, in the same round-robin order as a scan of every
    /// partition would, and clears the bit of one that has nothing; whatever can make
    /// a partition fetchable again (an append, a completion, a revocation, retention
    /// moving the log start, a new assignment) sets it. An instance owning 10,000
    /// quiet partitions so pays for the busy ones only.
    pub ready: Vec<u64>,
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
    /// Position of this partition in its owner's `parts` (its bit in `ready`).
    pub slot: u32,
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
    /// Some member owns more than [`SCAN_ALL`] partitions, so the members' `ready`
    /// bits are kept. A group of few partitions per instance (the common case) pays
    /// one predictable branch per append and completion for the ready set.
    pub indexed: bool,
    /// Members owning more partitions than this follow their `ready` bits
    /// ([`SCAN_ALL`]; tests raise it to compare with the plain scan).
    pub scan_all: usize,
    /// The time of the fetch under way (set by the caller): a consumer with a
    /// `fetch_delay` starts no record before its append time plus the delay.
    pub now: u64,
    /// The earliest time a delayed record becomes due, seen by a fetch that had to
    /// wait for it (`u64::MAX`: none).
    pub wake_at: u64,
    /// The time of the pending wake timer (`u64::MAX`: none).
    pub wake_armed: u64,
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
            indexed: false,
            scan_all: SCAN_ALL,
            now: 0,
            wake_at: u64::MAX,
            wake_armed: u64::MAX,
        }
    }

    /// Partition `p` may have a record to start: its owner looks at it at its next
    /// fetch.
    #[inline(always)]
    pub fn mark(&mut self, p: u32) {
        if self.indexed {
            self.mark_indexed(p);
        }
    }

    #[inline(never)]
    fn mark_indexed(&mut self, p: u32) {
        let gp = &self.parts[p as usize];
        if let Some(o) = gp.owner {
            let s = gp.slot as usize;
            if let Some(w) = self.members[o as usize].ready.get_mut(s / 64) {
                *w |= 1u64 << (s % 64);
            }
        }
    }

    /// After the members' `parts` changed: every partition's slot, and every bit set.
    pub fn reindex(&mut self) {
        let scan_all = self.scan_all;
        self.indexed = self.members.iter().any(|m| m.parts.len() > scan_all);
        if !self.indexed {
            return;
        }
        for m in &mut self.members {
            let n = m.parts.len();
            m.ready.clear();
            m.ready.resize(n.div_ceil(64), u64::MAX);
            if n % 64 != 0
                && let Some(last) = m.ready.last_mut()
            {
                *last = (1u64 << (n % 64)) - 1;
            }
            for (idx, &p) in m.parts.iter().enumerate() {
                self.parts[p as usize].slot = idx as u32;
            }
        }
    }

    /// Takes the next record instance `i` may start, round robin over its partitions
    /// (those whose `ready` bit is set; see [`Member::ready`]).
    #[inline(always)]
    pub fn fetch(&mut self, spec: &ServiceModel, logs: &[PartLog], i: usize) -> Option<Delivery> {
        if self.indexed && self.members[i].parts.len() > self.scan_all {
            return self.fetch_indexed(spec, logs, i);
        }
        self.fetch_scanning(spec, logs, i)
    }

    /// The fetch of an instance with many partitions: visits those whose `ready` bit
    /// is set, in the order a scan would.
    #[inline(never)]
    fn fetch_indexed(
        &mut self,
        spec: &ServiceModel,
        logs: &[PartLog],
        i: usize,
    ) -> Option<Delivery> {
        let n = self.members[i].parts.len();
        let start = if self.members[i].cursor >= n {
            0
        } else {
            self.members[i].cursor
        };
        for (lo, hi) in [(start, n), (0, start)] {
            let mut from = lo;
            while let Some(idx) = next_set(&self.members[i].ready, from, hi) {
                from = idx + 1;
                if let Some(d) = self.try_fetch(spec, logs, i, idx) {
                    self.members[i].cursor = idx + 1;
                    return d;
                }
                self.members[i].ready[idx / 64] &= !(1u64 << (idx % 64));
            }
        }
        None
    }

    /// The fetch of an instance with few partitions: looks at each, round robin.
    #[inline(always)]
    fn fetch_scanning(
        &mut self,
        spec: &ServiceModel,
        logs: &[PartLog],
        i: usize,
    ) -> Option<Delivery> {
        let n = self.members[i].parts.len();
        let mut idx = self.members[i].cursor;
        for _ in 0..n {
            if idx >= n {
                idx = 0;
            }
            let at = idx;
            idx += 1;
            if let Some(d) = self.try_fetch(spec, logs, i, at) {
                self.members[i].cursor = idx;
                return d;
            }
        }
        None
    }

    /// Looks at the partition in position `idx` of instance `i`'s: `None` if it has
    /// nothing to start (and looking changed nothing), else what the fetch returns.
    #[inline(always)]
    fn try_fetch(
        &mut self,
        spec: &ServiceModel,
        logs: &[PartLog],
        i: usize,
        idx: usize,
    ) -> Option<Option<Delivery>> {
        {
            let p = self.members[i].parts[idx];
            let log = &logs[p as usize];
            let gp = &mut self.parts[p as usize];
            if gp.paused || gp.owner != Some(i as u32) || log.down > 0 {
                return None;
            }
            if gp.next_fetch < log.base {
                gp.skip_to(log.base, spec.commit);
            }
            let offset = match spec.ordering {
                Ordering::Partition => {
                    if gp.active > 0 || gp.next_fetch >= log.end() {
                        return None;
                    }
                    gp.next_fetch
                }
                Ordering::Unordered => {
                    if gp.next_fetch >= log.end() {
                        return None;
                    }
                    gp.next_fetch
                }
                Ordering::Key => gp.fetch_by_key(log)?,
            };
            if spec.fetch_delay > 0
                && let Some(r) = log.get(offset)
            {
                // A retry topic's consumer: the record waits for its delay (the
                // partition pauses until then, as a back-off-aware listener does).
                let due = r.produced_at.saturating_add(spec.fetch_delay);
                if due > self.now {
                    self.wake_at = self.wake_at.min(due);
                    return None;
                }
            }
            Some(gp.deliver(spec, log, p, offset))
        }
    }

    /// A work item on (`p`, `offset`) finished for good: advance the partition's
    /// completed prefix, release its key, and commit if the mode says so.
    #[inline]
    pub fn complete(&mut self, p: u32, offset: u64, key: KeyId, commit: CommitMode) {
        self.mark(p);
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

/// The first set bit of `bits` in positions [`lo`, `hi`).
#[inline]
fn next_set(bits: &[u64], lo: usize, hi: usize) -> Option<usize> {
    if lo >= hi {
        return None;
    }
    let mut w = lo / 64;
    let mut word = bits.get(w)? & (u64::MAX << (lo % 64));
    loop {
        if word != 0 {
            let idx = w * 64 + word.trailing_zeros() as usize;
            return (idx < hi).then_some(idx);
        }
        w += 1;
        if w * 64 >= hi {
            return None;
        }
        word = *bits.get(w)?;
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
    #[inline(always)]
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
