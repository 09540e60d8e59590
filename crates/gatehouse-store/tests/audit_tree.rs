//! The audit log's tree, checkpoints and group commit, on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::{Arc, Mutex};

use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::merkle::{self, Frontier, leaf_hash};
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::store::{AuditForwarder, DurableEntry, OpenedStore, Store, StoreError};
use gatehouse_store::AuditSettings;
use gatehouse_testkit::{engine_test, with_database};
use sqlx::Connection;

fn record(action: &str) -> AuditRecord {
    AuditRecord::new(time::OffsetDateTime::UNIX_EPOCH, Actor::System, action, "gatehouse")
}

/// Recomputes the root from the stored leaves, as an outsider would.
async fn recomputed_root(store: &dyn Store, size: u64) -> [u8; 32] {
    let mut frontier = Frontier::empty();
    for (index, leaf) in store.list_audit_leaves(0, size as u32).await.unwrap() {
        assert_eq!(index, frontier.size());
        frontier.push(leaf_hash(&leaf));
    }
    frontier.root()
}

/// `writers` concurrent tasks, each appending `each` entries in turn.
async fn append_concurrently(store: &Arc<dyn OpenedStore>, writers: usize, each: usize) {
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                for j in 0..each {
                    store.append_audit(record(&format!("writer.{i}.{j}"))).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn checkpoint_count(url: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_checkpoints").fetch_one(&mut conn).await.unwrap()
}

engine_test!(each_batch_signs_a_checkpoint_over_the_stored_leaves, |engine| with_database(engine, |db| async move {
    let store = db.open_store().await;
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    for i in 0..10 {
        store.append_audit(record(&format!("step.{i}"))).await.unwrap();
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.tree_size, i + 1);
        let checkpoint = Checkpoint::open(&latest.note, &db.signer.verifier()).unwrap();
        assert_eq!(checkpoint.size, i + 1);
        assert_eq!(checkpoint.root, latest.root);
        assert_eq!(checkpoint.root, recomputed_root(&*store, i + 1).await);
    }
    // Each entry records the root before it.
    let entries = store.list_audit(0, 10).await.unwrap();
    assert_eq!(entries[0].prev_root, Some(merkle::empty_root()));
    assert_eq!(entries[5].prev_root, Some(recomputed_root(&*store, 5).await));

    // Proof nodes come from the store in one read.
    let ids = merkle::nodes_needed(|get| merkle::inclusion_proof(3, 10, get));
    let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
    assert_eq!(store.find_tree_nodes(&keys).await.unwrap().len(), ids.len());
    let err = store.find_tree_nodes(&[(0, 10)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}));

engine_test!(concurrent_changes_share_transactions_and_stay_gap_free, |engine| with_database(
    engine,
    |db| async move {
        let store = db.open_store().await;
        append_concurrently(&store, 64, 5).await;
        let size = store.audit_size().await.unwrap();
        assert_eq!(size, 320);
        let checkpoints = checkpoint_count(&db.url).await;
        assert!(checkpoints < 320, "group commit signs once per batch, not per entry: {checkpoints} checkpoints");
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.tree_size, 320);
        assert_eq!(latest.root, recomputed_root(&*store, 320).await);
    }
));

engine_test!(records_and_changes_of_state_interleave_without_gaps, |engine| with_database(engine, |db| async move {
    // On SQLite records alone go to the appender's thread, and changes of
    // state run on a pooled connection once it has drained: both kinds at
    // once must all be answered, numbered without gaps.
    let store = db.open_store().await;
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let changes: Vec<_> = (0..24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = NewIdentity::new(IdentityKind::Service, &format!("bot-{i}"), None, now).unwrap();
                store.create_identity(new, record("identity.create")).await.unwrap();
            })
        })
        .collect();
    let both = async {
        tokio::join!(append_concurrently(&store, 32, 8), async {
            for change in changes {
                change.await.unwrap();
            }
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), both).await.expect("every append is answered");
    assert_eq!(store.audit_size().await.unwrap(), 32 * 8 + 24);
    let entries = store.list_audit(0, 1000).await.unwrap();
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));
    assert_eq!(entries.iter().filter(|e| e.record.action == "identity.create").count(), 24);
    let latest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.tree_size, 32 * 8 + 24);
    assert_eq!(latest.root, recomputed_root(&*store, 32 * 8 + 24).await);
}));

engine_test!(a_failing_change_does_not_sink_its_batch, |engine| with_database(engine, |db| async move {
    let store = db.open_store().await;
    let now = time::OffsetDateTime::UNIX_EPOCH;
    // Twenty concurrent creations, ten of them duplicates of another.
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = NewIdentity::new(IdentityKind::Service, &format!("bot-{}", i % 10), None, now).unwrap();
                store.create_identity(new, record("identity.create")).await
            })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 10);
    let entries = store.list_audit(0, 100).await.unwrap();
    assert_eq!(entries.len(), 10, "only the changes that happened are audited");
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().tree_size, 10);
}));

engine_test!(without_group_commit_each_change_is_its_own_batch, |engine| with_database(engine, |db| async move {
    let settings = AuditSettings { signer: Some(db.signer.clone()), max_batch: 1, ..AuditSettings::default() };
    let store = db.open_store_with(settings).await;
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.append_audit(record(&format!("w.{i}"))).await.unwrap() })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(checkpoint_count(&db.url).await, 16);
}));

engine_test!(appending_without_a_signing_key_is_refused, |engine| with_database(engine, |db| async move {
    let store = db.open_store_with(AuditSettings::default()).await;
    let err = store.append_audit(record("x")).await.unwrap_err();
    assert!(err.to_string().contains("signing key"), "{err}");
    assert_eq!(store.audit_size().await.unwrap(), 0);
}));

#[derive(Default)]
struct Collect(Mutex<Vec<DurableEntry>>);

impl AuditForwarder for Collect {
    fn forward(&self, entries: &[DurableEntry]) {
        self.0.lock().unwrap().extend_from_slice(entries);
    }
}

engine_test!(durable_entries_are_forwarded_once, |engine| with_database(engine, |db| async move {
    let collected = Arc::new(Collect::default());
    let settings = AuditSettings {
        signer: Some(db.signer.clone()),
        forwarder: Some(collected.clone()),
        ..AuditSettings::default()
    };
    let store = db.open_store_with(settings).await;
    for i in 0..5 {
        store.append_audit(record(&format!("x.{i}")).details(serde_json::json!({ "n": i }))).await.unwrap();
    }
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let duplicate = NewIdentity::new(IdentityKind::Service, "bot", None, now).unwrap();
    store.create_identity(duplicate.clone(), record("identity.create")).await.unwrap();
    let mut again = duplicate;
    again.id = gatehouse_domain::ids::IdentityId::new();
    store.create_identity(again, record("identity.create")).await.unwrap_err();
    let forwarded = collected.0.lock().unwrap().clone();
    let indexes: Vec<u64> = forwarded.iter().map(|entry| entry.index).collect();
    assert_eq!(indexes, vec![0, 1, 2, 3, 4, 5], "refused changes forward nothing");
    // Each forwarded leaf is the one the tree hashed, details included.
    let stored: Vec<DurableEntry> = store
        .list_audit_leaves(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(index, leaf)| DurableEntry { index, leaf })
        .collect();
    assert_eq!(forwarded, stored);
    assert!(String::from_utf8_lossy(&forwarded[4].leaf).contains(r#""details":{"n":4}"#), "{forwarded:?}");
}));

engine_test!(entries_from_before_the_tree_get_their_nodes_at_start, |engine| with_database(engine, |db| async move {
    let store = db.open_store().await;
    store.append_audit(record("first")).await.unwrap();
    drop(store);
    // An entry as a pre-tree version wrote it: a row, no tree nodes.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let legacy = record("legacy").into_entry(1, None);
    sqlx::query(
        "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, mfa, details, leaf) \
         VALUES (1, 0, 'system', 'system', 'legacy', 'gatehouse', 'success', '', 0, '{}', $1)",
    )
    .bind(legacy.leaf_bytes())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = db.open_store().await;
    let latest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.tree_size, 2);
    assert_eq!(latest.root, recomputed_root(&*store, 2).await);
    store.append_audit(record("after")).await.unwrap();
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().root, recomputed_root(&*store, 3).await);
}));

engine_test!(proof_nodes_are_the_same_from_memory_and_from_the_database, |engine| with_database(
    engine,
    |db| async move {
        let store = db.open_store().await;
        for i in 0..40 {
            store.append_audit(record(&format!("x.{i}"))).await.unwrap();
        }
        let cold = db
            .open_store_with(AuditSettings {
                signer: Some(db.signer.clone()),
                proof_cache_nodes: 0,
                ..AuditSettings::default()
            })
            .await;
        for index in [0, 13, 39] {
            let ids = merkle::nodes_needed(|get| merkle::inclusion_proof(index, 40, get));
            let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
            assert_eq!(store.find_tree_nodes(&keys).await.unwrap(), cold.find_tree_nodes(&keys).await.unwrap());
        }
    }
));

engine_test!(two_stores_on_one_database_interleave_without_gaps, |engine| with_database(engine, |db| async move {
    // Two processes' worth of writers on one database: each store batches
    // records alone on one path and state changes on another, and each
    // caches the tree's right edge, which the other's appends make stale.
    let first = db.open_store().await;
    let second = db.open_store().await;
    let now = time::OffsetDateTime::UNIX_EPOCH;
    for round in 0..6u64 {
        let (store, other) = if round % 2 == 0 { (&first, &second) } else { (&second, &first) };
        let appended = store.append_audit(record(&format!("round.{round}"))).await.unwrap();
        let name = format!("bot-{round}");
        let new = NewIdentity::new(IdentityKind::Service, &name, None, now).unwrap();
        other.create_identity(new, record("identity.create")).await.unwrap();
        assert_eq!(appended, 2 * round, "indexes follow on across both stores");
    }
    let entries = first.list_audit(0, 100).await.unwrap();
    assert_eq!(entries.len(), 12);
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));
    for store in [&first, &second] {
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.tree_size, 12);
        assert_eq!(latest.root, recomputed_root(&**store, 12).await);
    }
    // Every entry names the root of all the entries before it, whichever
    // store wrote it.
    for entry in &entries[1..] {
        assert_eq!(entry.prev_root, Some(recomputed_root(&*first, entry.index).await), "entry {}", entry.index);
    }
}));

engine_test!(a_tree_that_disagrees_with_its_checkpoint_is_not_extended, |engine| with_database(
    engine,
    |db| async move {
        let store = db.open_store().await;
        for i in 0..4 {
            store.append_audit(record(&format!("x.{i}"))).await.unwrap();
        }
        drop(store);
        // Rewrite a stored node behind the log's back (the triggers that
        // refuse it are dropped first, as an intruder with the file would).
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let statements: &[&str] = match engine {
            gatehouse_store::Engine::Sqlite => &["DROP TRIGGER audit_tree_no_update"],
            gatehouse_store::Engine::Postgres => &["DROP TRIGGER audit_tree_no_update ON audit_tree"],
        };
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*statement)).execute(&mut conn).await.unwrap();
        }
        let rewritten = sqlx::query("UPDATE audit_tree SET hash = $1 WHERE level = 2 AND idx = 0")
            .bind(vec![7u8; 32])
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(rewritten.rows_affected(), 1);
        conn.close().await.unwrap();

        let store = db.open_store().await;
        let err = store.append_audit(record("after")).await.unwrap_err();
        assert!(err.to_string().contains("does not match its signed checkpoint"), "{err}");
        assert_eq!(store.audit_size().await.unwrap(), 4, "nothing was appended");
    }
));

engine_test!(each_entry_is_stored_once_and_its_leaf_computed_from_its_row, |engine| with_database(
    engine,
    |db| async move {
        let store = db.open_store().await;
        // Details as varied as callers make them: escapes, non-ASCII,
        // nesting, a float and an integer past i64 from a caller's context.
        let details = serde_json::json!({
            "quote\"and\\slash": "tab\tnew\nline\u{1}é✓",
            "nested": {"z": [1, -2, true, null], "a": {"b": "c"}},
            "context": {"ratio": 0.1, "big": 18446744073709551615u64, "exp": 1e300},
        });
        let origin = gatehouse_domain::audit::RequestOrigin {
            request_id: Some("req-1".into()),
            source_ip: Some("2001:db8::1".into()),
            client_request_id: None,
        };
        let rich = || {
            record("rich")
                .outcome(gatehouse_domain::audit::Outcome::Denied, "nobody allowed it")
                .origin(&origin)
                .details(details.clone())
        };
        store.append_audit(rich()).await.unwrap();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let new = NewIdentity::new(IdentityKind::Service, "bot", None, now).unwrap();
        store.create_identity(new, rich()).await.unwrap();
        let mut timed = rich();
        timed.time = time::OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_789).unwrap();
        store.append_audit(timed).await.unwrap();

        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries WHERE leaf IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(stored, 0, "no entry keeps a second copy of itself");
        let entries = store.list_audit(0, 10).await.unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].record.details, details);
        let leaves = store.list_audit_leaves(0, 10).await.unwrap();
        let expected: Vec<(u64, Vec<u8>)> = entries.iter().map(|e| (e.index, e.leaf_bytes())).collect();
        assert_eq!(leaves, expected);
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(recomputed_root(&*store, 3).await, latest.root, "the computed leaves are the ones hashed");

        // The columns are the evidence: rewriting one changes the leaf, and
        // the root no longer matches the signed checkpoint.
        let statements: &[&str] = match engine {
            gatehouse_store::Engine::Sqlite => &["DROP TRIGGER audit_entries_no_update"],
            gatehouse_store::Engine::Postgres => &["DROP TRIGGER audit_entries_no_update ON audit_entries"],
        };
        for statement in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*statement)).execute(&mut conn).await.unwrap();
        }
        sqlx::query("UPDATE audit_entries SET outcome = 'success' WHERE idx = 1").execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        assert_ne!(recomputed_root(&*store, 3).await, latest.root);
    }
));

#[tokio::test]
async fn sqlite_keeps_its_wal_short_under_a_stream_of_appends() {
    with_database(gatehouse_store::Engine::Sqlite, |db| async move {
        let store = db.open_store().await;
        append_concurrently(&store, 64, 250).await;
        // 16,000 entries (~300 bytes each) fill more than SQLite's checkpoint length of 1,000
        // pages (4 MiB). The appender's connection, which commits them all,
        // copies the WAL into the file and starts it over as it goes, so
        // the WAL never grows much past that length.
        let file = std::fs::metadata(db.dir.path().join("gatehouse.db")).unwrap().len();
        let wal = std::fs::metadata(db.dir.path().join("gatehouse.db-wal")).unwrap().len();
        assert!(file > 2 << 20, "the entries reached the database file: {file} bytes");
        assert!(wal < 6 << 20, "the WAL stays short: {wal} bytes");
        assert_eq!(store.audit_size().await.unwrap(), 16_000);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_appender_reconnects_when_its_connection_was_closed() {
    with_database(gatehouse_testkit::Engine::Postgres, |db| async move {
        let store = db.open_store().await;
        assert_eq!(store.append_audit(record("before")).await.unwrap(), 0);
        // The server closes the appender's connection, as a restart or an
        // idle timeout would.
        let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let closed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'gatehouse-audit-appender'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(closed, vec![true], "the appender had its own connection open");
        assert_eq!(store.append_audit(record("after")).await.unwrap(), 1, "the next append takes a new connection");
        assert_eq!(checkpoint_count(&db.url).await, 2);
        let root: Vec<u8> = sqlx::query_scalar("SELECT root FROM audit_checkpoints WHERE tree_size = 2")
            .fetch_one(&mut admin)
            .await
            .unwrap();
        let leaves: Vec<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT leaf FROM audit_entries ORDER BY idx").fetch_all(&mut admin).await.unwrap();
        assert_eq!(leaves.len(), 2);
        admin.close().await.unwrap();
        let reopened = db.open_store().await;
        assert_eq!(root, recomputed_root(&*reopened, 2).await.to_vec());
    })
    .await;
}
