//! The one clock: everything that needs "now" asks a [`Clock`], so tests can
//! set time instead of sleeping.

use std::fmt::Write as _;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, in UTC, truncated to milliseconds (the precision stored).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_millis(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<OffsetDateTime>,
}

impl FixedClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Mutex::new(truncate_to_millis(start)) }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = truncate_to_millis(to);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let millis = t.millisecond();
    t.replace_nanosecond(u32::from(millis) * 1_000_000).unwrap_or(t)
}

/// Milliseconds since the Unix epoch: how instants are stored.
pub fn to_unix_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-25T21:22:40.123Z`.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339(t, &mut out);
    out
}

/// [`format_rfc3339`], appended to `out`: every audit leaf has one, so it
/// is written digit by digit rather than through `format!`.
pub fn write_rfc3339(t: OffsetDateTime, out: &mut String) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (year, month, day) = t.to_calendar_date();
    let (hour, minute, second, milli) = t.to_hms_milli();
    match u32::try_from(year) {
        Ok(year) if year <= 9999 => push_digits(out, year, 4),
        _ => {
            let _ = write!(out, "{year:04}");
        }
    }
    out.push('-');
    push_digits(out, u8::from(month).into(), 2);
    out.push('-');
    push_digits(out, day.into(), 2);
    out.push('T');
    push_digits(out, hour.into(), 2);
    out.push(':');
    push_digits(out, minute.into(), 2);
    out.push(':');
    push_digits(out, second.into(), 2);
    out.push('.');
    push_digits(out, milli.into(), 3);
    out.push('Z');
}

/// The last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from_digit(value / 10u32.pow(place) % 10, 10).unwrap_or('0'));
    }
}

#[cfg(test)]
mod tests;
