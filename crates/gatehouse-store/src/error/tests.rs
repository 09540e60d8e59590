//! Which database error codes mean "unavailable, try again".

use super::is_unavailable_code;

#[track_caller]
fn check(code: &str, expected: bool) {
    assert_eq!(is_unavailable_code(code), expected, "`{code}`");
}

#[test]
fn a_full_disk_or_a_failing_one_is_unavailable_on_both_engines() {
    // SQLite: SQLITE_FULL, SQLITE_IOERR and its extended codes
    // (SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC), busy, locked, cannot open.
    for code in ["13", "10", "778", "1034", "5", "6", "14"] {
        check(code, true);
    }
    // PostgreSQL: disk full, admin and crash shutdown, cannot connect now,
    // connection failure, I/O error.
    for code in ["53100", "57P01", "57P02", "57P03", "08006", "58030"] {
        check(code, true);
    }
}

#[test]
fn a_refusal_of_the_request_itself_is_not_unavailable() {
    // SQLite: constraint (and its unique flavour), generic error, mismatch.
    for code in ["19", "2067", "1", "20"] {
        check(code, false);
    }
    // PostgreSQL: unique and foreign-key violations, syntax error,
    // serialization failure (retried by the code that hits it, not a 503).
    for code in ["23505", "23503", "42601", "40001", ""] {
        check(code, false);
    }
}
