//! One file per panel of the screen, each a pure function from [`App`](super::app::App)
//! to a part of the frame; [`ui`](super::ui) lays them out and draws them in turn.

pub mod charts;
pub mod counters;
pub mod faults;
pub mod help;
pub mod journey;
pub mod log;
pub mod topology;
