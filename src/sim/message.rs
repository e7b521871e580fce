//! The message as every broker stores it: 32 bytes of ids and times, copied by value
//! (no strings, no payload). A broker keeps messages in its own structures (a Kafka
//! partition log, later an SQS queue) and hands copies to the service runtime.

use crate::metrics::Cause;
use crate::model::{EventIdx, KeyId};

/// Flag: a copy of a message that is already accounted for elsewhere (a producer's
/// resend after a lost ack, an event emitted again by a duplicate processing). Copies
/// never enter a ledger.
pub(crate) const FLAG_COPY: u8 = 1;
/// Flag: the copy was written by a service (an event emitted again, or a message
/// dead-lettered again, because its upstream message was processed twice).
pub(crate) const FLAG_FROM_DUPLICATE: u8 = 2;

/// One message in a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    /// Correlation id: the same across every hop the first message causes.
    pub msg: u64,
    /// When it was written to this broker, ns.
    pub produced_at: u64,
    /// Its number among the originals of its broker component, the key under which the
    /// ledgers of the consuming services account for it (meaningless for copies).
    pub entry: u64,
    /// Ordering key, or [`crate::model::NO_KEY`].
    pub key: KeyId,
    /// Event name.
    pub event: EventIdx,
    /// `FLAG_*` bits.
    pub flags: u8,
}

impl Message {
    /// Whether this is a copy of a message accounted for elsewhere.
    #[inline]
    pub fn is_copy(&self) -> bool {
        self.flags & FLAG_COPY != 0
    }

    /// Why a copy exists: a producer retry, or a duplicate processing upstream.
    pub fn copy_cause(&self) -> Cause {
        if self.flags & FLAG_FROM_DUPLICATE != 0 {
            Cause::UpstreamDuplicate
        } else {
            Cause::ProducerRetry
        }
    }

    /// Flags for a message a service writes: an original the first time, a copy when
    /// the processing that writes it is a duplicate.
    #[inline]
    pub fn written_flags(first: bool) -> u8 {
        if first {
            0
        } else {
            FLAG_COPY | FLAG_FROM_DUPLICATE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_is_small() {
        assert!(std::mem::size_of::<super::Message>() <= 32);
    }
}
