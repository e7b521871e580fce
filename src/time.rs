//! Simulated time: an integer count of nanoseconds, and the duration strings of the
//! scenario format (`"250us"`, `"20ms"`, `"1.5s"`, `"2m"`, `"1h"`).
//!
//! Integer time is what makes runs reproducible to the byte: two machines that agree on
//! integer arithmetic agree on every event time. Floating point appears only when a
//! random duration is sampled, and the sample is rounded to whole nanoseconds at once.

use std::fmt;

/// Nanoseconds per unit, for readability at call sites.
pub const NANOS_PER_MICRO: u64 = 1_000;
/// Nanoseconds in a millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in a second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A point in simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);

    /// Seconds as a float, for display and export only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// `self + d`, saturating at the end of representable time (about 584 years).
    pub fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// Whole seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * NANOS_PER_SEC)
    }

    /// Whole milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * NANOS_PER_MILLI)
    }

    /// Seconds as a float, for display and export only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Milliseconds as a float, for display and export only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }

    /// Rounds a non-negative number of seconds to whole nanoseconds; negative or NaN
    /// inputs give zero and huge ones saturate, so a sampled duration is always valid.
    pub fn from_secs_f64(s: f64) -> SimDuration {
        let ns = (s * NANOS_PER_SEC as f64).round();
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(ns as u64)
        }
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns.is_multiple_of(3600 * NANOS_PER_SEC) {
            write!(f, "{}h", ns / (3600 * NANOS_PER_SEC))
        } else if ns.is_multiple_of(60 * NANOS_PER_SEC) {
            write!(f, "{}m", ns / (60 * NANOS_PER_SEC))
        } else if ns.is_multiple_of(NANOS_PER_SEC) {
            write!(f, "{}s", ns / NANOS_PER_SEC)
        } else if ns.is_multiple_of(NANOS_PER_MILLI) {
            write!(f, "{}ms", ns / NANOS_PER_MILLI)
        } else if ns.is_multiple_of(NANOS_PER_MICRO) {
            write!(f, "{}us", ns / NANOS_PER_MICRO)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

/// Why a duration string was refused; the text is shown to the user as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty or has no number in front.
    #[error(
        "expected a duration such as \"250us\", \"20ms\", \"1.5s\", \"2m\" or \"1h\", found {0:?}"
    )]
    Malformed(String),
    /// The unit is not one we know.
    #[error("unknown unit {unit:?} in {text:?}; use ns, us, ms, s, m, h or d")]
    UnknownUnit {
        /// The whole string.
        text: String,
        /// The unit part.
        unit: String,
    },
    /// More than about 584 years, or below one nanosecond but not zero.
    #[error("duration {0:?} is out of range (1ns to 100 years, or 0)")]
    OutOfRange(String),
}

/// Parses `"<number><unit>"` with unit `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` or `d`.
/// The number may have a fractional part (`"1.5s"`); the result is rounded to whole
/// nanoseconds. Decimal arithmetic is done on integers, so `"0.1s"` is exactly 100 ms.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationError> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(DurationError::Malformed(text.to_string()));
    }
    let unit_ns: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" => NANOS_PER_SEC,
        "m" | "min" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        "d" => 86_400 * NANOS_PER_SEC,
        "" => return Err(DurationError::Malformed(text.to_string())),
        other => {
            return Err(DurationError::UnknownUnit {
                text: text.to_string(),
                unit: other.to_string(),
            });
        }
    };
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let out_of_range = || DurationError::OutOfRange(text.to_string());
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| out_of_range())?
    };
    let mut total = int.checked_mul(unit_ns).ok_or_else(out_of_range)?;
    // Fractional digits: each one is worth unit_ns / 10^k; digits below a nanosecond
    // are rounded half up.
    let mut scale = unit_ns as u128;
    let mut frac_ns: u128 = 0;
    let mut denom: u128 = 1;
    for d in frac_part.bytes() {
        denom = denom.saturating_mul(10);
        frac_ns = frac_ns.saturating_mul(10) + u128::from(d - b'0');
        if denom > 1_000_000_000_000_000_000 {
            break;
        }
    }
    if denom > 1 {
        scale *= frac_ns;
        let rounded = (scale + denom / 2) / denom;
        total = total
            .checked_add(u64::try_from(rounded).map_err(|_| out_of_range())?)
            .ok_or_else(out_of_range)?;
    }
    const HUNDRED_YEARS: u64 = 100 * 365 * 24 * 3600 * NANOS_PER_SEC;
    if total > HUNDRED_YEARS {
        return Err(out_of_range());
    }
    Ok(SimDuration(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("250us"), Ok(SimDuration(250_000)));
        assert_eq!(parse_duration("20ms"), Ok(SimDuration(20_000_000)));
        assert_eq!(parse_duration("1.5s"), Ok(SimDuration(1_500_000_000)));
        assert_eq!(parse_duration("2m"), Ok(SimDuration(120 * NANOS_PER_SEC)));
        assert_eq!(parse_duration("1h"), Ok(SimDuration(3600 * NANOS_PER_SEC)));
        assert_eq!(parse_duration("7ns"), Ok(SimDuration(7)));
        assert_eq!(parse_duration("0.1s"), Ok(SimDuration(100_000_000)));
        assert_eq!(parse_duration(".5ms"), Ok(SimDuration(500_000)));
        assert_eq!(parse_duration("0s"), Ok(SimDuration(0)));
    }

    #[test]
    fn refuses_bad_strings() {
        assert!(matches!(
            parse_duration("fast"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("10"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("10 parsecs"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("1000000h"),
            Err(DurationError::OutOfRange(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for s in ["250us", "20ms", "2m", "1h", "7ns", "90s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&d.to_string()), Ok(d));
        }
    }
}
