//! An idempotent consumer's dedup store: the messages it processed, by correlation id
//! and event (the business key a consumer would store with its effect, in the same
//! transaction), each remembered for a window or for the whole run. The check and the
//! insert happen when an attempt succeeds, as a unique constraint on a dedup table
//! does at commit: of two deliveries of one message running at once, the first to end
//! applies its effect and the other is suppressed.

use std::collections::{BTreeMap, VecDeque};

/// One service's dedup store.
#[derive(Clone, Debug, Default)]
pub(crate) struct DedupStore {
    /// (correlation id, event) → when its first delivery was applied, ns.
    seen: BTreeMap<(u64, u16), u64>,
    /// Insertions in time order, to forget them after `window` (windowed stores only).
    order: VecDeque<(u64, u64, u16)>,
    /// How long an entry is remembered, ns; `None`: for the whole run.
    window: Option<u64>,
}

impl DedupStore {
    /// An empty store remembering each message for `window` ns (or for ever).
    pub fn new(window: Option<u64>) -> DedupStore {
        DedupStore {
            window,
            ..DedupStore::default()
        }
    }

    /// At time `now`, whether message (`msg`, `event`) was applied within the window;
    /// if not, it is remembered as applied now.
    pub fn seen_or_insert(&mut self, now: u64, msg: u64, event: u16) -> bool {
        if let Some(w) = self.window {
            // Forget what is older than the window.
            while let Some(&(t, m, e)) = self.order.front() {
                if now.saturating_sub(t) <= w {
                    break;
                }
                self.order.pop_front();
                if self.seen.get(&(m, e)) == Some(&t) {
                    self.seen.remove(&(m, e));
                }
            }
        }
        if self.seen.contains_key(&(msg, event)) {
            return true;
        }
        self.seen.insert((msg, event), now);
        if self.window.is_some() {
            self.order.push_back((now, msg, event));
        }
        false
    }

    /// Messages remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::DedupStore;

    #[test]
    fn remembers_for_the_window_then_forgets() {
        let mut s = DedupStore::new(Some(100));
        assert!(!s.seen_or_insert(0, 1, 0), "first delivery applies");
        assert!(
            s.seen_or_insert(50, 1, 0),
            "a redelivery within the window is suppressed"
        );
        assert!(
            !s.seen_or_insert(50, 1, 1),
            "another event of the same flow is another message"
        );
        assert!(
            s.seen_or_insert(100, 1, 0),
            "exactly the window: still remembered"
        );
        assert!(
            !s.seen_or_insert(101, 1, 0),
            "past the window: applied again"
        );
        assert!(s.seen_or_insert(150, 1, 0), "and remembered from then on");
        assert_eq!(s.len(), 2);
        assert!(!s.seen_or_insert(10_000, 2, 0));
        assert_eq!(s.len(), 1, "old entries are forgotten");
    }

    #[test]
    fn an_unbounded_store_never_forgets() {
        let mut s = DedupStore::new(None);
        assert!(!s.seen_or_insert(0, 7, 3));
        assert!(s.seen_or_insert(u64::MAX, 7, 3));
    }
}
