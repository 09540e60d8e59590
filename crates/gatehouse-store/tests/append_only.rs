//! The audit tables refuse UPDATE and DELETE in the database itself, so an
//! operator with SQL access cannot quietly rewrite history either.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_testkit::{engine_test, with_database};
use sqlx::Connection;

async fn raw_statement(url: &str, sql: &'static str) -> Result<u64, String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.map_err(|e| e.to_string())?;
    sqlx::query(sql).execute(&mut conn).await.map(|r| r.rows_affected()).map_err(|e| e.to_string())
}

engine_test!(audit_rows_cannot_be_updated_or_deleted, |engine| {
    with_database(engine, |db| async move {
        let store = db.open_store().await;
        let record = AuditRecord::new(time::OffsetDateTime::UNIX_EPOCH, Actor::System, "test.entry", "gatehouse");
        store.append_audit(record.clone()).await.unwrap();

        for sql in ["UPDATE audit_entries SET reason = 'rewritten'", "DELETE FROM audit_entries"] {
            let err = raw_statement(&db.url, sql).await.expect_err(sql);
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        let entries = store.list_audit(0, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].record, record);
    })
});
