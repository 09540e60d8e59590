use time::macros::{datetime, offset};
use time::{Duration, OffsetDateTime};

use super::format_rfc3339;

/// What `format_rfc3339` must print: the same as `format!` does.
fn by_format(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[test]
fn formats_utc_with_milliseconds() {
    assert_eq!(format_rfc3339(datetime!(2026-11-25 21:22:40.123 UTC)), "2026-11-25T21:22:40.123Z");
    assert_eq!(format_rfc3339(OffsetDateTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_rfc3339(datetime!(2024-02-29 23:59:59.999_999 UTC)), "2024-02-29T23:59:59.999Z");
}

#[test]
fn converts_other_offsets_to_utc() {
    let t = datetime!(2026-01-01 01:30:00.5 +02:00);
    assert_eq!(format_rfc3339(t), "2025-12-31T23:30:00.500Z");
    assert_eq!(format_rfc3339(t.to_offset(offset!(-07:00))), "2025-12-31T23:30:00.500Z");
}

#[test]
fn years_outside_four_digits_are_printed_as_format_does() {
    for t in [datetime!(0001-01-01 0:00 UTC), datetime!(9999-12-31 23:59:59.999 UTC), datetime!(-0001-06-15 12:00 UTC)]
    {
        assert_eq!(format_rfc3339(t), by_format(t));
    }
}

#[test]
fn agrees_with_format_over_many_instants() {
    let mut t = datetime!(1900-01-01 0:00 UTC);
    for _ in 0..20_000 {
        assert_eq!(format_rfc3339(t), by_format(t));
        t += Duration::milliseconds(7_777_777_777 + 123);
    }
}
