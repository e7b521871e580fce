//! The metrics CSV: tidy long format, one row per sample, header exactly
//! `time_s,component,metric,value`.
//!
//! - `time_s`: the sample's simulated time in seconds with 3 decimals (`1.000`).
//! - `component`: a producer, topic or service name; `consumer/P` for partition `P`
//!   of a service's source topic (`payment/3`); `total` for the whole system.
//! - `metric`: see [`crate::metrics::Metric`] and the README's metric table. Counters count the events of the
//!   interval that ends at `time_s`; gauges are read at `time_s`.
//! - `value`: an integer for counts, otherwise a number with 3 decimals; `inf` where a
//!   drain time is unbounded (lag and no progress).
//!
//! Rows are sorted by time, then component, then metric (byte order), so the same run
//! gives the same bytes. The file loads directly into pandas (`read_csv`), R, DuckDB or
//! a spreadsheet pivot.

use std::io::Write;

use crate::metrics::Row;

/// The header line.
pub const HEADER: [&str; 4] = ["time_s", "component", "metric", "value"];

/// Writes rows of the tidy format.
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer that has written the header.
    pub fn new(w: W) -> csv::Result<CsvWriter<W>> {
        let mut inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(w);
        inner.write_record(HEADER)?;
        Ok(CsvWriter { inner })
    }

    /// Writes `rows` (already in order).
    pub fn write(&mut self, rows: &[Row]) -> csv::Result<()> {
        for r in rows {
            let t = format!(
                "{}.{:03}",
                r.time / 1_000_000_000,
                (r.time % 1_000_000_000) / 1_000_000
            );
            let v = r.value.to_string();
            self.inner
                .write_record([t.as_str(), r.component.as_str(), r.metric, v.as_str()])?;
        }
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
