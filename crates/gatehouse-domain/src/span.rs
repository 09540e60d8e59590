//! Durations as people write them in rule files, query strings and the
//! CLI: `30s`, `5m`, `4h`, `2d`, or a sum such as `1h30m`.

use time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration (expected e.g. `30s`, `5m`, `4h`, `2d` or `1h30m`)")]
pub struct InvalidDuration(pub String);

/// The longest duration accepted: ten years, far beyond any rule's cap, so
/// arithmetic on instants never overflows.
const LONGEST_SECONDS: i64 = 10 * 366 * 24 * 3600;

pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_owned());
    let mut seconds: i64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            if digits.len() >= 12 {
                return Err(invalid());
            }
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let count: i64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        seconds = count.checked_mul(unit).and_then(|part| seconds.checked_add(part)).ok_or_else(invalid)?;
    }
    if !digits.is_empty() || text.trim().is_empty() || seconds > LONGEST_SECONDS {
        return Err(invalid());
    }
    Ok(Duration::seconds(seconds))
}

/// The shortest spelling `parse_duration` reads back as `duration`
/// (whole seconds).
pub fn format_duration(duration: Duration) -> String {
    let mut left = duration.whole_seconds().max(0);
    if left == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, suffix) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if left >= unit {
            out.push_str(&format!("{}{suffix}", left / unit));
            left %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        for (text, seconds) in [("30s", 30), ("5m", 300), ("4h", 14_400), ("2d", 172_800), ("1h30m", 5400), (" 0s ", 0)]
        {
            assert_eq!(parse_duration(text), Ok(Duration::seconds(seconds)), "{text}");
        }
        for bad in ["", "5", "m", "5x", "-5m", "1.5h", "5 m", "99999999999999d", "4000d"] {
            assert!(parse_duration(bad).is_err(), "`{bad}` parsed");
        }
    }

    #[test]
    fn formatting_reads_back() {
        for seconds in [0, 1, 59, 60, 3600, 5400, 86_400, 90_061] {
            let duration = Duration::seconds(seconds);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
    }
}
