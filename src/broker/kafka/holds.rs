//! Which offsets of each partition a service's live work items hold, kept only once
//! retention has had to delete a record some work might still hold. Until then (every
//! scenario whose consumers keep up with retention) it is off and costs one branch per
//! work item; retention and compaction then find a partition's holds by looking at
//! every work item, which compaction does only when a partition has doubled.
//! Retention deleting unconsumed records while many work items are live (a consumer
//! far behind a short retention) would make that look quadratic: there the index
//! answers in O(log n).

use std::collections::BTreeMap;

/// Per partition of a service's source topic: held offset → number of live work
/// items holding it (a stale item and its redelivery may hold the same offset).
#[derive(Clone, Debug, Default)]
pub(crate) struct Holds {
    parts: Vec<BTreeMap<u64, u32>>,
    on: bool,
}

impl Holds {
    /// Whether the index is kept.
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Starts keeping the index, from the live work items' (partition, offset) now.
    pub fn switch_on(&mut self, partitions: usize, held: impl Iterator<Item = (u32, u64)>) {
        self.on = true;
        self.parts = vec![BTreeMap::new(); partitions];
        for (p, off) in held {
            self.add(p, off);
        }
    }

    /// A live work item now holds `off` of partition `p`.
    #[inline(never)]
    pub fn add(&mut self, p: u32, off: u64) {
        if let Some(m) = self.parts.get_mut(p as usize) {
            *m.entry(off).or_insert(0) += 1;
        }
    }

    /// A live work item holding `off` of partition `p` was freed.
    #[inline(never)]
    pub fn remove(&mut self, p: u32, off: u64) {
        if let Some(m) = self.parts.get_mut(p as usize)
            && let Some(n) = m.get_mut(&off)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&off);
            }
        }
    }

    /// The lowest offset of partition `p` a live work item holds.
    pub fn lowest(&self, p: usize) -> Option<u64> {
        self.parts.get(p)?.keys().next().copied()
    }

    /// Whether a live work item holds `off` of partition `p`.
    pub fn holds(&self, p: usize, off: u64) -> bool {
        self.parts.get(p).is_some_and(|m| m.contains_key(&off))
    }
}

#[cfg(test)]
mod tests {
    use super::Holds;

    #[test]
    fn counts_each_holder_and_forgets_an_offset_with_none() {
        let mut h = Holds::default();
        assert!(!h.is_on());
        h.switch_on(3, [(1, 7), (1, 9)].into_iter());
        h.add(1, 7);
        assert_eq!(h.lowest(1), Some(7));
        h.remove(1, 7);
        assert!(h.holds(1, 7), "a second item still holds 7");
        h.remove(1, 7);
        assert!(!h.holds(1, 7));
        assert_eq!(h.lowest(1), Some(9));
        assert_eq!((h.lowest(0), h.lowest(5)), (None, None));
        h.remove(2, 1); // never held: no effect
        assert!(!h.holds(2, 1));
    }
}
