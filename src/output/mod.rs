//! Formats of what a run produces: the tidy metrics CSV, the JSON Lines trace and the
//! end-of-run summary (text table or JSON). These are pure formatting into `Write`rs;
//! the CLI decides where the bytes go and makes file writes atomic.

pub mod csv;
pub mod summary;
pub mod trace;
