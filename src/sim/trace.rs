//! Trace records: one per simulation happening, kept compact (ids, not strings) while
//! the engine runs. The JSON Lines writer in [`crate::output::trace`] names them.

use crate::model::{KeyId, NO_KEY};
use crate::sim::message::Message;

/// Most trace records kept between two drains; reaching it stops tracing and is reported.
pub const TRACE_BUFFER_LIMIT: usize = 1 << 20;

/// Kind of trace record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A producer created a message.
    Produce,
    /// A record was appended to a partition.
    Append,
    /// A record was handed to an instance.
    Deliver,
    /// An attempt started.
    ProcessStart,
    /// An attempt succeeded.
    Ack,
    /// An attempt failed.
    Fail,
    /// A retry was scheduled.
    Retry,
    /// A record went to the dead-letter topic.
    DeadLetter,
    /// A record was lost.
    Drop,
    /// A record expired.
    Expire,
    /// An instance crashed.
    Crash,
    /// An instance restarted.
    Restart,
    /// A rebalance started or completed.
    Rebalance,
    /// Offsets were committed.
    Commit,
    /// A message's visibility timeout expired: it is visible again.
    VisibilityExpired,
    /// A FIFO queue dropped a send whose deduplication id it had seen.
    Deduplicated,
    /// A redrive moved a message out of a dead-letter queue.
    Redrive,
    /// A fan-out made a copy for one endpoint (`instance` holds the endpoint's
    /// component).
    Route,
    /// A subscription's filter policy refused a message (`instance`: the endpoint).
    Filtered,
    /// An exchange routed a message to no queue: it is dropped.
    Unroutable,
    /// A fault that does not crash (errors) started on an instance.
    FaultStart,
    /// It ended.
    FaultEnd,
    /// An instance's circuit breaker opens.
    BreakerOpen,
    /// It half-opens: probes go through.
    BreakerHalfOpen,
    /// It closes.
    BreakerClose,
    /// A publisher holds a message its broker refused (an outage, a network
    /// partition), to retry it.
    Held,
    /// A publisher drops a held message: its buffer is full, or its delivery timeout
    /// passed.
    Unsent,
    /// A saga's step and what became of it (`component`: the saga; `msg`: the saga
    /// id; `partition`: the step; `offset`: the outcome's code, see
    /// [`crate::sim::saga::SagaOutcome`]).
    SagaStep,
    /// An event bus replays an archived event.
    Replay,
}

impl TraceKind {
    /// Name in the trace file.
    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Produce => "produce",
            TraceKind::Append => "append",
            TraceKind::Deliver => "deliver",
            TraceKind::ProcessStart => "process_start",
            TraceKind::Ack => "ack",
            TraceKind::Fail => "fail",
            TraceKind::Retry => "retry",
            TraceKind::DeadLetter => "dead_letter",
            TraceKind::Drop => "drop",
            TraceKind::Expire => "expire",
            TraceKind::Crash => "crash",
            TraceKind::Restart => "restart",
            TraceKind::Rebalance => "rebalance",
            TraceKind::Commit => "commit",
            TraceKind::VisibilityExpired => "visibility_expired",
            TraceKind::Deduplicated => "deduplicated",
            TraceKind::Redrive => "redrive",
            TraceKind::Route => "route",
            TraceKind::Filtered => "filtered",
            TraceKind::Unroutable => "unroutable",
            TraceKind::FaultStart => "fault_start",
            TraceKind::FaultEnd => "fault_end",
            TraceKind::Held => "held",
            TraceKind::BreakerOpen => "breaker_open",
            TraceKind::BreakerHalfOpen => "breaker_half_open",
            TraceKind::BreakerClose => "breaker_close",
            TraceKind::Unsent => "unsent",
            TraceKind::SagaStep => "saga_step",
            TraceKind::Replay => "replay",
        }
    }
}

/// One trace record. `u32::MAX`/`u64::MAX` stand for "does not apply".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRec {
    /// Time, ns.
    pub t: u64,
    /// Position in the trace.
    pub seq: u64,
    /// What happened.
    pub kind: TraceKind,
    /// Component index into [`crate::sim::Engine::component_names`].
    pub component: u32,
    /// Instance (0-based), or `u32::MAX`.
    pub instance: u32,
    /// Message (correlation id), or `u64::MAX`.
    pub msg: u64,
    /// Key, or [`crate::model::NO_KEY`].
    pub key: KeyId,
    /// Partition, or `u32::MAX`.
    pub partition: u32,
    /// Offset, or `u64::MAX`.
    pub offset: u64,
    /// Attempt (1-based), or `u32::MAX`.
    pub attempt: u32,
    /// Event name index into [`crate::model::Model::events`], or `u16::MAX`.
    pub name: u16,
}

/// "Does not apply" for 16-bit fields.
pub const NA16: u16 = u16::MAX;

/// "Does not apply" for 32-bit fields.
pub const NA32: u32 = u32::MAX;
/// "Does not apply" for 64-bit fields.
pub const NA64: u64 = u64::MAX;

/// Trace records collected while tracing is on.
#[derive(Clone, Debug)]
pub(crate) struct Tracer {
    pub on: bool,
    pub recs: Vec<TraceRec>,
    pub seq: u64,
    pub overflow: bool,
}

impl Tracer {
    /// A tracer, recording or not.
    pub fn new(on: bool) -> Tracer {
        Tracer {
            on,
            recs: Vec::new(),
            seq: 0,
            overflow: false,
        }
    }

    /// Records one happening (a no-op while tracing is off).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn rec(
        &mut self,
        now: u64,
        kind: TraceKind,
        component: u32,
        instance: u32,
        msg: Option<&Message>,
        partition: u32,
        offset: u64,
        attempt: u32,
    ) {
        if !self.on {
            return;
        }
        if self.recs.len() >= TRACE_BUFFER_LIMIT {
            self.overflow = true;
            return;
        }
        self.seq += 1;
        self.recs.push(TraceRec {
            t: now,
            seq: self.seq,
            kind,
            component,
            instance,
            msg: msg.map_or(NA64, |r| r.msg),
            key: msg.map_or(NO_KEY, |r| r.key),
            name: msg.map_or(NA16, |r| r.event),
            partition,
            offset,
            attempt,
        });
    }
}
