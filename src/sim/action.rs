//! Scheduled operations on the system, as an operator would run them: a dead-letter
//! queue redrive (SQS's StartMessageMoveTask) moves the queue's messages back, all at
//! once or at a fixed rate, until the queue has none left to move; an event bus replay
//! (EventBridge's StartReplay) sends the archived events of a time window to the bus
//! again, all at once or at a fixed rate.

use super::Engine;
use super::queue::Ev;
use crate::model::ActionModelKind;

impl Engine {
    /// Action `a` starts, or takes its next step.
    pub(crate) fn on_action(&mut self, a: usize) {
        match self.model.actions[a].kind {
            ActionModelKind::Replay {
                bus,
                from,
                until,
                gap,
                rules,
            } => self.bus_replay(a, bus, from, until, gap, rules),
            ActionModelKind::Redrive { from, to, gap } => {
                let limit = if gap == 0 { usize::MAX } else { 1 };
                let moved = self.sqs_redrive(from, to, limit);
                if gap > 0 && moved > 0 && self.sqs_has_visible(from) {
                    let at = self.now.saturating_add(gap);
                    if at < self.model.duration.0 {
                        self.queue.push(at, Ev::Action { action: a as u32 });
                    }
                }
            }
        }
    }
}
