//! The failure ledger: first failure written, the rest counted, throttled
//! beyond the limit, summarized once per window, bounded.

use std::net::IpAddr;

use time::Duration;
use time::macros::datetime;

use super::*;

const T0: OffsetDateTime = datetime!(2026-06-01 09:00:00 UTC);

fn ledger(limit: u32, max_tracked: usize) -> FailureLedger {
    FailureLedger::new(FailureLimits { limit, window: Duration::minutes(1), max_tracked })
}

fn source(address: &str) -> FailureSource {
    FailureSource::of(Some(address.parse::<IpAddr>().unwrap()))
}

#[test]
fn the_first_failure_is_recorded_the_rest_counted_then_throttled() {
    let mut ledger = ledger(3, 10);
    let from = source("192.0.2.7");
    let verdicts: Vec<Verdict> = (0..5).map(|i| ledger.fail(&from, None, &format!("r{i}"), T0).verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Record,
            Verdict::Count,
            Verdict::Count,
            Verdict::Throttle { retry_after_seconds: 60 },
            Verdict::Throttle { retry_after_seconds: 60 },
        ]
    );
    assert_eq!(ledger.throttled_for(&from, None, T0 + Duration::seconds(59)), Some(1));
    assert_eq!(ledger.throttled_for(&source("192.0.2.8"), None, T0), None, "another address is not throttled");

    let summaries = ledger.drain_closed(T0 + Duration::minutes(1));
    assert_eq!(summaries.len(), 1);
    let summary = &summaries[0];
    assert_eq!((summary.failures, summary.throttled), (4, 2));
    assert_eq!(summary.reasons, [("r1".to_owned(), 1), ("r2".to_owned(), 1)]);
    let observation = summary.to_record(T0 + Duration::minutes(1));
    let record = observation.record();
    assert_eq!(record.action, "auth.failures");
    assert_eq!(record.origin.source_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(record.details["failures"], 4);
    assert_eq!(ledger.tracked_counts(), (0, 0));
    assert_eq!(ledger.fail(&from, None, "again", T0 + Duration::minutes(1)).verdict, Verdict::Record);
}

#[test]
fn a_window_found_closed_is_handed_back_for_writing() {
    let mut ledger = ledger(10, 10);
    let from = source("192.0.2.7");
    ledger.fail(&from, None, "a", T0);
    ledger.fail(&from, None, "b", T0);
    let later = ledger.fail(&from, None, "c", T0 + Duration::minutes(2));
    assert_eq!(later.verdict, Verdict::Record);
    assert_eq!(later.closed.map(|s| s.failures), Some(1));
    // A window with nothing beyond its first failure leaves no summary.
    assert!(ledger.drain_closed(T0 + Duration::minutes(5)).is_empty());
}

#[test]
fn a_credential_over_its_limit_is_throttled_from_any_source() {
    let mut ledger = ledger(2, 100);
    let credential = CredentialKey::of("gth_stolen");
    for i in 0..2 {
        ledger.fail(&source(&format!("198.51.100.{i}")), Some(&credential), "unknown token", T0);
    }
    let outcome = ledger.fail(&source("198.51.100.99"), Some(&credential), "unknown token", T0);
    assert_eq!(outcome.verdict, Verdict::Throttle { retry_after_seconds: 60 });
    assert_eq!(ledger.throttled_for(&source("203.0.113.1"), Some(&CredentialKey::of("gth_other")), T0), None);
}

#[test]
fn an_ipv6_slash_64_is_one_source() {
    assert_eq!(source("2001:db8:1:2:aaaa::1"), source("2001:db8:1:2:bbbb::2"));
    assert_ne!(source("2001:db8:1:2::1"), source("2001:db8:1:3::1"));
    assert_eq!(source("::ffff:192.0.2.1"), source("192.0.2.1"));
    assert_eq!(source("2001:db8:1:2:aaaa::1").label().as_deref(), Some("2001:db8:1:2::/64"));
}

#[test]
fn the_tables_stay_bounded_whatever_the_sources() {
    let mut ledger = ledger(3, 16);
    let mut recorded = 0;
    for i in 0..10_000u32 {
        let address = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let credential = CredentialKey::of(format!("gth_{i}"));
        if ledger.fail(&FailureSource::of(Some(address)), Some(&credential), "unknown token", T0).verdict
            == Verdict::Record
        {
            recorded += 1;
        }
    }
    assert_eq!(ledger.tracked_counts(), (17, 16), "16 sources, the overflow window, 16 credentials");
    assert_eq!(recorded, 17, "one entry per tracked source and one for the rest");
    let summaries = ledger.drain_closed(T0 + Duration::minutes(1));
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].source, FailureSource::Overflow);
    assert_eq!(summaries[0].failures, 10_000 - 17);
}

#[test]
fn echoed_text_is_capped_on_a_character_boundary() {
    assert_eq!(cap_text("short", 10), "short");
    let long = "é".repeat(1000);
    let capped = cap_echoed(&long);
    assert!(capped.len() <= MAX_ECHOED_BYTES, "{}", capped.len());
    assert!(capped.ends_with('…'));
    let mut ledger = ledger(100, 10);
    let from = source("192.0.2.1");
    ledger.fail(&from, None, "first", T0);
    ledger.fail(&from, None, &"x".repeat(20_000), T0);
    let summaries = ledger.drain_all();
    assert!(summaries[0].reasons[0].0.len() <= MAX_ECHOED_BYTES);
}
