//! The trace: JSON Lines, one object per simulation happening, in event order.
//!
//! Fields, always present, `null` where they do not apply:
//! - `t`: simulated time in seconds (9 decimals: exact nanoseconds);
//! - `seq`: position in the trace, from 1;
//! - `event`: `produce`, `append`, `deliver`, `process_start`, `ack`, `fail`, `retry`,
//!   `dead_letter`, `drop`, `expire`, `crash`, `restart`, `rebalance`, `commit`,
//!   `visibility_expired`, `deduplicated`, `redrive`, `route`, `filtered`,
//!   `fault_start`, `fault_end`, `breaker_open`, `breaker_half_open`, `breaker_close`,
//!   `held`, `unsent`, `saga_step`;
//! - `component`: producer, topic, queue, pubsub or service name;
//! - `instance`: `consumer#N` for service events;
//! - `msg`: the message id, which is its correlation id across every hop it causes
//!   (follow-up events and dead-letter copies keep it);
//! - `key`: the record key (absent key: `null`);
//! - `partition`, `offset`: where the record sits;
//! - `attempt`: 1 for the first attempt;
//! - `name`: the event name the record carries (`OrderPlaced`, `PaymentCompleted`);
//! - `target`, on `route` and `filtered` records only: the queue or function the
//!   pubsub's copy went to, or whose filter policy refused it;
//! - `step` and `outcome`, on `saga_step` records only (whose `component` is the
//!   saga, `msg` the saga id and `name` the step's event): the step's name, and
//!   `started`, `sent`, `done`, `failed`, `timed_out`, `compensate`, `compensated`,
//!   `compensation_failed`, `duplicate`, or how the saga ended: `saga_completed`,
//!   `saga_compensated`, `saga_failed`.

use std::io::{self, Write};

use crate::model::Model;
use crate::sim::trace::{NA32, NA64, TraceKind, TraceRec};

/// Writes trace records as JSON Lines, fields in the order documented above.
pub fn write(
    w: &mut impl Write,
    model: &Model,
    names: &[String],
    recs: &[TraceRec],
) -> io::Result<()> {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "null".to_string());
    let mut line = String::with_capacity(256);
    for r in recs {
        use std::fmt::Write as _;
        line.clear();
        let component = names.get(r.component as usize).map_or("", String::as_str);
        let _ = write!(
            line,
            "{{\"t\":{}.{:09},\"seq\":{},\"event\":\"{}\",\"component\":{},\"instance\":",
            r.t / 1_000_000_000,
            r.t % 1_000_000_000,
            r.seq,
            r.kind.name(),
            quote(component)
        );
        let target = matches!(r.kind, TraceKind::Route | TraceKind::Filtered);
        if r.instance == NA32 || target {
            line.push_str("null");
        } else {
            line.push_str(&quote(&format!("{component}#{}", r.instance + 1)));
        }
        line.push_str(",\"msg\":");
        push_opt(&mut line, r.msg != NA64, r.msg);
        line.push_str(",\"key\":");
        match model.keys.name(r.key) {
            Some(k) => line.push_str(&quote(&k)),
            None => line.push_str("null"),
        }
        let saga = r.kind == TraceKind::SagaStep;
        line.push_str(",\"partition\":");
        push_opt(
            &mut line,
            r.partition != NA32 && !saga,
            u64::from(r.partition),
        );
        line.push_str(",\"offset\":");
        push_opt(&mut line, r.offset != NA64 && !saga, r.offset);
        line.push_str(",\"attempt\":");
        push_opt(&mut line, r.attempt != NA32, u64::from(r.attempt));
        line.push_str(",\"name\":");
        match model.events.get(usize::from(r.name)) {
            Some(n) => line.push_str(&quote(n)),
            None => line.push_str("null"),
        }
        if target {
            // A fan-out's copy names the endpoint it went to (or that refused it).
            line.push_str(",\"target\":");
            // A bus's event that no rule matched has none.
            match names.get(r.instance as usize) {
                Some(t) => line.push_str(&quote(t)),
                None => line.push_str("null"),
            }
        }
        if saga {
            let step = model
                .sagas
                .iter()
                .find(|sg| {
                    Some(sg.name.as_str()) == names.get(r.component as usize).map(String::as_str)
                })
                .and_then(|sg| sg.steps.get(r.partition as usize))
                .map_or("", |st| st.name.as_str());
            line.push_str(",\"step\":");
            line.push_str(&quote(step));
            line.push_str(",\"outcome\":");
            let outcome =
                crate::sim::saga::SagaOutcome::from_code(r.offset).map_or("", |o| o.name());
            line.push_str(&quote(outcome));
        }
        line.push_str("}\n");
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn push_opt(line: &mut String, present: bool, v: u64) {
    use std::fmt::Write as _;
    if present {
        let _ = write!(line, "{v}");
    } else {
        line.push_str("null");
    }
}
