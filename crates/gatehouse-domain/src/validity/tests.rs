use super::*;

const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

#[track_caller]
fn check(expires_in: Option<Duration>, due_within: Duration, expected: Validity) {
    let expires_at = expires_in.map(|after| T0 + after);
    assert_eq!(validity_at(expires_at, T0, due_within), expected, "expires in {expires_in:?}, warn {due_within}");
}

#[test]
fn validity_at_an_instant() {
    let day = Duration::days(1);
    // Never expiring.
    check(None, day, Validity::Valid);
    check(None, Duration::ZERO, Validity::Valid);
    // Far from expiry.
    check(Some(Duration::days(30)), day, Validity::Valid);
    // Just outside, at the edge of, and inside the warning window.
    check(Some(day + Duration::milliseconds(1)), day, Validity::Valid);
    check(Some(day), day, Validity::DueSoon);
    check(Some(Duration::hours(1)), day, Validity::DueSoon);
    check(Some(Duration::milliseconds(1)), day, Validity::DueSoon);
    // Expiry counts at its instant.
    check(Some(Duration::ZERO), day, Validity::Expired);
    check(Some(-Duration::milliseconds(1)), day, Validity::Expired);
    check(Some(-Duration::days(400)), day, Validity::Expired);
    // No window: never due soon.
    check(Some(Duration::milliseconds(1)), Duration::ZERO, Validity::Valid);
    check(Some(Duration::milliseconds(1)), -day, Validity::Valid);
    check(Some(Duration::ZERO), Duration::ZERO, Validity::Expired);
}

#[test]
fn only_expired_does_not_count() {
    assert!(Validity::Valid.is_valid());
    assert!(Validity::DueSoon.is_valid());
    assert!(!Validity::Expired.is_valid());
}

#[track_caller]
fn check_future(offset: Duration, in_future: bool) {
    assert_eq!(is_in_future(T0 + offset, T0), in_future, "{offset}");
    assert_eq!(is_expired_at(T0 + offset, T0), !in_future, "{offset}");
}

#[test]
fn an_expiry_is_in_the_future_only_strictly_after_now() {
    check_future(Duration::milliseconds(1), true);
    check_future(Duration::days(365), true);
    check_future(Duration::ZERO, false);
    check_future(-Duration::milliseconds(1), false);
}
