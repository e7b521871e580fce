//! The message as every broker stores it: 40 bytes of ids and times, copied by value
//! (no strings, no payload). A broker keeps messages in its own structures (a Kafka
//! partition log, later an SQS queue) and hands copies to the service runtime.

use crate::metrics::Cause;
use crate::model::{EventIdx, KeyId};

/// Flag: a copy of a message that is already accounted for elsewhere (a producer's
/// resend after a lost ack, an event emitted again by a duplicate processing). Copies
/// never enter a ledger.
pub(crate) const FLAG_COPY: u16 = 1;
/// Flag: the copy was written by a service (an event emitted again, or a message
/// dead-lettered again, because its upstream message was processed twice).
pub(crate) const FLAG_FROM_DUPLICATE: u16 = 2;
/// Flag: a copy an event bus replayed from its archive.
pub(crate) const FLAG_REPLAY: u16 = 4;
/// The bits of `flags` that are flags; the rest hold the origin producer.
const FLAG_BITS: u16 = 7;
/// How far up the origin producer sits in `flags`.
const ORIGIN_SHIFT: u16 = 3;
/// Origin producers are numbered in the 13 bits above the flags; this value means none
/// (a producer past the first [`MAX_FLOW_PRODUCERS`]), whose flows are not reported.
const NO_ORIGIN: u16 = u16::MAX >> ORIGIN_SHIFT;
/// Producers whose messages carry their origin (per-flow latency is reported for
/// these; a scenario with more producers reports no flows for the rest).
pub const MAX_FLOW_PRODUCERS: usize = NO_ORIGIN as usize;

/// One message in a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    /// Correlation id: the same across every hop the first message causes.
    pub msg: u64,
    /// When it was written to this broker, ns.
    pub produced_at: u64,
    /// When its correlation id was first produced (the origin of its flow), ns: a
    /// producer's message keeps it across every hop it causes.
    pub origin_at: u64,
    /// Its number among the originals of its broker component, the key under which the
    /// ledgers of the consuming services account for it (meaningless for copies).
    pub entry: u64,
    /// Ordering key, or [`crate::model::NO_KEY`].
    pub key: KeyId,
    /// Event name.
    pub event: EventIdx,
    /// `FLAG_*` bits, and above them the origin producer (see [`Message::origin`]).
    pub flags: u16,
}

impl Message {
    /// A producer's message: its own origin at `now`.
    #[inline]
    pub fn produced(msg: u64, now: u64, producer: usize, key: KeyId, event: EventIdx) -> Message {
        let origin = if producer < MAX_FLOW_PRODUCERS {
            producer as u16
        } else {
            NO_ORIGIN
        };
        Message {
            msg,
            produced_at: now,
            origin_at: now,
            entry: 0,
            key,
            event,
            flags: origin << ORIGIN_SHIFT,
        }
    }

    /// The producer whose message started this flow, if it is tracked.
    #[inline]
    pub fn origin(&self) -> Option<usize> {
        let o = self.flags >> ORIGIN_SHIFT;
        (o != NO_ORIGIN).then_some(o as usize)
    }

    /// Whether this is a copy of a message accounted for elsewhere.
    #[inline]
    pub fn is_copy(&self) -> bool {
        self.flags & FLAG_COPY != 0
    }

    /// Why a copy exists: a producer retry, or a duplicate processing upstream.
    pub fn copy_cause(&self) -> Cause {
        if self.flags & FLAG_REPLAY != 0 {
            Cause::Replayed
        } else if self.flags & FLAG_FROM_DUPLICATE != 0 {
            Cause::UpstreamDuplicate
        } else {
            Cause::ProducerRetry
        }
    }

    /// This message replayed by an event bus: a copy where its original reached the
    /// target (`copy`), so that processing it again is a duplicate; else an original
    /// there (what the first delivery never brought).
    #[inline]
    pub fn replayed(&self, copy: bool) -> Message {
        let flags = if copy {
            self.flags | FLAG_COPY | FLAG_REPLAY
        } else {
            (self.flags & !FLAG_BITS) | FLAG_REPLAY
        };
        Message { flags, ..*self }
    }

    /// Whether an event bus replayed this message.
    #[inline]
    pub fn is_replay(&self) -> bool {
        self.flags & FLAG_REPLAY != 0
    }

    /// Flags for a message a service writes from this one, keeping its origin: an
    /// original the first time, a copy when the processing that writes it is a
    /// duplicate.
    #[inline]
    pub fn written_flags(&self, first: bool) -> u16 {
        let origin = self.flags & !FLAG_BITS;
        if first {
            origin
        } else {
            origin | FLAG_COPY | FLAG_FROM_DUPLICATE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_is_small() {
        assert!(std::mem::size_of::<super::Message>() <= 40);
    }
}
