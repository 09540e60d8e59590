//! SQLite's write-ahead log is copied back into the database file in small
//! steps, so the commit that does it (and every audit append queued behind
//! that commit) stalls briefly rather than for milliseconds.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_testkit::{Engine, with_database};

/// A frame of the log: a page and its 24-byte header.
const FRAME_BYTES: u64 = 4096 + 24;

#[tokio::test]
async fn the_wal_is_checkpointed_every_256_pages_not_every_1000() {
    with_database(Engine::Sqlite, |db| async move {
        let store = db.open_store().await;
        // One commit each: every commit writes a few pages, so these write
        // well over a thousand frames in all.
        for n in 0..600 {
            let record =
                AuditRecord::new(time::OffsetDateTime::now_utc(), Actor::System, "test.entry", format!("r{n}"));
            store.append_audit(record).await.unwrap();
        }
        assert_eq!(store.audit_size().await.unwrap(), 600);
        // The log is reused from its start after each checkpoint, so its
        // file is as long as the longest run of frames between two.
        let wal = std::fs::metadata(db.dir.path().join("gatehouse.db-wal")).expect("the WAL file").len();
        assert!(wal > 64 * FRAME_BYTES, "the WAL is in use: {wal} bytes");
        assert!(wal < 320 * FRAME_BYTES, "the WAL grew to {} frames before a checkpoint", wal / FRAME_BYTES);
    })
    .await;
}
