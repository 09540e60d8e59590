use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

#[track_caller]
fn key(issuer: &str, jti: Option<&str>, raw: &str) -> String {
    WorkloadTokenUse::new(issuer, jti, raw, NOW + Duration::minutes(5), NOW).unwrap().key
}

#[test]
fn a_token_is_named_by_its_issuer_and_jti() {
    let https = "https://token.actions.githubusercontent.com";
    assert_eq!(key(https, Some("j1"), "a.b.c"), key(https, Some("j1"), "x.y.z"), "a re-signed token is the same use");
    assert_ne!(key(https, Some("j1"), "a.b.c"), key(https, Some("j2"), "a.b.c"));
    assert_ne!(key("https://a", Some("bc"), "t"), key("https://ab", Some("c"), "t"));
    assert_eq!(key(https, Some("j1"), "t").len(), 64);
}

#[test]
fn a_token_without_jti_is_named_by_its_hash() {
    assert_eq!(key("https://a", None, "a.b.c"), key("https://a", Some(""), "a.b.c"));
    assert_ne!(key("https://a", None, "a.b.c"), key("https://a", None, "a.b.d"));
    assert_ne!(key("https://a", None, "j1"), key("https://a", Some("j1"), "j1"));
}

#[test]
fn a_use_is_kept_until_the_token_expires_and_never_longer_than_a_day() {
    let used = WorkloadTokenUse::new("https://a", Some("j"), "t", NOW + Duration::minutes(5), NOW).unwrap();
    assert_eq!(used.kept_until, NOW + Duration::minutes(5) + EXPIRY_LEEWAY);
    assert_eq!(used.used_at, NOW);
    assert!(WorkloadTokenUse::new("https://a", Some("j"), "t", NOW + Duration::hours(24), NOW).is_ok());
    assert_eq!(
        WorkloadTokenUse::new("https://a", Some("j"), "t", NOW + Duration::hours(25), NOW),
        Err(ExchangeOnceError::LivesTooLong)
    );
}
