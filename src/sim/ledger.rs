//! Accounting for conservation, one ledger per consuming service. Every original message
//! that reaches the service's source enters its ledger under the message's entry number
//! (the source numbers its originals 0, 1, 2, ...), and leaves it exactly once, when the
//! service accounts for it: processed, dead-lettered, lost or expired. A second outcome
//! for the same entry is a duplicate. Brokers store messages however they like and may
//! delete them (retention, an SQS delete): the ledger outlives them.
//!
//! The ledger is a bit window over entry numbers from the oldest open entry to the
//! newest, so its memory follows what is pending, not the length of the run. It also
//! keeps the time integral of the number in system, the L of Little's law.

use std::collections::VecDeque;

/// One service's ledger.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger {
    /// Entry number of the first bit of `words[0]`; every entry below is accounted for.
    base: u64,
    /// One bit per entry from `base`: set once accounted for.
    words: VecDeque<u64>,
    /// Entries entered so far (the next entry number).
    end: u64,
    /// Entered and not yet accounted for: the number in system.
    open: u64,
    /// Sum of the times at which entries entered, and at which they were accounted for:
    /// the integral of `open` over [0, now] is `settled_at - entered_at + open * now`,
    /// exact in integers, with no multiplication per message.
    entered_at: u128,
    settled_at: u128,
}

impl Ledger {
    /// Entry `entry` (the next one) enters at time `now`.
    #[inline]
    pub fn enter(&mut self, entry: u64, now: u64) {
        debug_assert_eq!(entry, self.end, "ledger entries arrive in order");
        self.entered_at += u128::from(now);
        self.open += 1;
        self.end += 1;
        if self.end - self.base > self.words.len() as u64 * 64 {
            self.words.push_back(0);
        }
    }

    /// Accounts for `entry` at time `now`; true if this is the first time.
    #[inline]
    pub fn settle(&mut self, entry: u64, now: u64) -> bool {
        let Some(i) = entry.checked_sub(self.base) else {
            return false;
        };
        if entry >= self.end {
            debug_assert!(false, "entry {entry} settled before it entered");
            return false;
        }
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let word = &mut self.words[w];
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        self.settled_at += u128::from(now);
        self.open -= 1;
        // Drop whole words of settled entries from the front.
        while self.words.len() > 1 && self.words.front() == Some(&u64::MAX) {
            self.words.pop_front();
            self.base += 64;
        }
        true
    }

    /// Whether `entry` is accounted for.
    #[inline]
    pub fn is_settled(&self, entry: u64) -> bool {
        match entry.checked_sub(self.base) {
            None => true,
            Some(_) if entry >= self.end => false,
            Some(i) => self.words[(i / 64) as usize] & (1u64 << (i % 64)) != 0,
        }
    }

    /// Entries not yet accounted for, counted bit by bit (conservation's `pending`,
    /// found by looking rather than by subtracting counters).
    pub fn scan_open(&self) -> u64 {
        let span = self.end - self.base;
        let full = (span / 64) as usize;
        let mut open: u64 = self
            .words
            .iter()
            .take(full)
            .map(|w| u64::from(w.count_zeros()))
            .sum();
        let rest = span % 64;
        if rest > 0 {
            let mask = (1u64 << rest) - 1;
            open += u64::from((!self.words[full] & mask).count_ones());
        }
        open
    }

    /// The number in system now.
    #[cfg(test)]
    pub fn open(&self) -> u64 {
        self.open
    }

    /// Time-average number in system over [0, now].
    pub fn mean_in_system(&self, now: u64) -> f64 {
        if now == 0 {
            return 0.0;
        }
        let area = self.settled_at + u128::from(self.open) * u128::from(now) - self.entered_at;
        area as f64 / now as f64
    }
}

#[cfg(test)]
mod tests {
    use super::Ledger;

    #[test]
    fn entries_settle_once_and_the_window_follows_what_is_open() {
        let mut l = Ledger::default();
        for e in 0..1000 {
            l.enter(e, e);
        }
        assert_eq!((l.open(), l.scan_open()), (1000, 1000));
        assert!(l.settle(5, 1000));
        assert!(!l.settle(5, 1000), "a second outcome is a duplicate");
        assert!(l.is_settled(5) && !l.is_settled(6));
        for e in (0..1000).filter(|&e| e != 999) {
            l.settle(e, 1000);
        }
        assert_eq!((l.open(), l.scan_open()), (1, 1));
        assert!(l.words.len() <= 2, "settled words are dropped");
        assert!(l.is_settled(0) && !l.is_settled(999) && !l.is_settled(1000));
        assert!(l.settle(999, 1000));
        assert_eq!(l.scan_open(), 0);
    }

    #[test]
    fn little_area_integrates_the_number_in_system() {
        let mut l = Ledger::default();
        l.enter(0, 0);
        l.enter(1, 10);
        l.settle(0, 20);
        // 1 for 10 ns, 2 for 10 ns, then 1 for 20 ns: 50 over 40.
        assert!((l.mean_in_system(40) - 1.25).abs() < 1e-12);
    }
}
