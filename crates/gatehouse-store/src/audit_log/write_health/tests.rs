//! A failed write makes the store unready until a write succeeds.

use gatehouse_domain::store::{Conflict, StoreError};

use super::WriteHealth;

#[test]
fn a_full_disk_is_named_until_a_write_succeeds() {
    let health = WriteHealth::default();
    assert_eq!(health.failing(), None);
    health.record::<()>(&Err(StoreError::Unavailable("(code: 13) database or disk is full".into())));
    assert_eq!(health.failing(), Some("writes are failing: the database's disk is full"));
    health.record(&Ok(()));
    assert_eq!(health.failing(), None);
}

#[test]
fn an_io_error_is_named_without_its_cause() {
    let health = WriteHealth::default();
    health.record::<()>(&Err(StoreError::Unavailable("disk I/O error at /var/lib/gatehouse/gatehouse.db".into())));
    let reason = health.failing().unwrap();
    assert!(!reason.contains("/var/lib"), "{reason}");
}

#[test]
fn a_refused_operation_says_nothing_about_the_database() {
    let health = WriteHealth::default();
    health.record::<()>(&Err(StoreError::Conflict(Conflict::Unique { detail: "name taken".into() })));
    health.record::<()>(&Err(StoreError::Other("a bug".into())));
    assert_eq!(health.failing(), None);
}
