//! Opening a database: engine from the URL scheme, per-engine connection
//! settings, migrations.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Self, OpenError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(OpenError::UnsupportedUrl(redact_url(url)))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database `{url}`: {cause}")]
    Connect { url: String, cause: String },
    #[error("cannot migrate the database `{url}`: {cause}")]
    Migrate { url: String, cause: String },
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub audit: crate::AuditSettings,
    /// SQLite only: the heap all of SQLite's connections in this process
    /// share, page caches included, in bytes (0: no limit).
    pub sqlite_memory_bytes: u64,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            audit: crate::AuditSettings::default(),
            sqlite_memory_bytes: DEFAULT_SQLITE_MEMORY_BYTES,
        }
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://{userinfo}@{host}"),
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How many pages the WAL may hold before the connection that commits
/// copies them back into the database file (SQLite's default is 1000).
/// That copy and its fsync run inside the commit that crosses the mark,
/// and every audit append queued behind it waits. Under wrk at 64
/// connections, 1000 pages made about 13 batches a second take over 3 ms
/// (up to 6 ms); 256 made about one.
pub(crate) const WAL_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 256";

/// The default of [`ConnectOptions::sqlite_memory_bytes`]: 64 MiB.
pub const DEFAULT_SQLITE_MEMORY_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) async fn connect(engine: Engine, url: &str, options: &ConnectOptions) -> Result<AnyPool, OpenError> {
    sqlx::any::install_default_drivers();
    let redacted = redact_url(url);
    let connect_error = |cause: sqlx::Error| OpenError::Connect { url: redacted.clone(), cause: cause.to_string() };
    let url = match engine {
        // Create the file when missing.
        Engine::Sqlite if !url.contains("mode=") => {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_owned(),
    };
    let connect_options = AnyConnectOptions::from_str(&url).map_err(connect_error)?;
    let pool_options = AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        // A ping before every checkout doubles the cost of each read.
        // Without it a connection that died fails the one query that
        // finds out (answered 503), instead of every query paying.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300));
    let pool = match engine {
        Engine::Sqlite => {
            // A number, formatted here: nothing outside goes into the SQL.
            let memory_limit = format!("PRAGMA soft_heap_limit = {}", options.sqlite_memory_bytes);
            pool_options
                .after_connect(move |conn, _meta| {
                    let memory_limit = memory_limit.clone();
                    Box::pin(async move {
                        // WAL lets readers run beside the writer; FULL makes a
                        // commit durable before it is acknowledged.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute(WAL_AUTOCHECKPOINT).await?;
                        // Reads by memory map and a larger page cache: a proof
                        // touches a few dozen pages scattered over the tree,
                        // which should cost memory reads, not syscalls.
                        conn.execute("PRAGMA mmap_size = 4294967296").await?;
                        conn.execute("PRAGMA cache_size = -65536").await?;
                        // Each connection's cache may grow to 64 MiB, and
                        // they only grow: ten pooled readers and the
                        // appender came to 350 MiB in a ten-minute soak.
                        // This bound is the process's (the appender shares
                        // the library), so together they stay within it,
                        // recycling pages beyond it rather than growing.
                        sqlx::query(sqlx::AssertSqlSafe(memory_limit)).execute(&mut *conn).await?;
                        // Statement journals (a multi-row insert's undo) in
                        // memory rather than in a temporary file per batch.
                        conn.execute("PRAGMA temp_store = MEMORY").await?;
                        Ok(())
                    })
                })
                .connect_with(connect_options)
                .await
        }
        Engine::Postgres => pool_options.connect_with(connect_options).await,
    }
    .map_err(connect_error)?;

    let migrator = match engine {
        Engine::Sqlite => &SQLITE_MIGRATIONS,
        Engine::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(&pool).await.map_err(|cause| OpenError::Migrate { url: redacted, cause: cause.to_string() })?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    /// Every pooled connection bounds the process's SQLite heap. The bound
    /// is process-wide and other tests here open stores with the default,
    /// so the default is what this one can read back without a race.
    #[tokio::test]
    async fn sqlite_connections_bound_the_heap_sqlite_may_keep() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("memory.db").display());
        let pool = connect(Engine::Sqlite, &url, &ConnectOptions::default()).await.expect("connect");
        let limit: i64 = sqlx::query_scalar("PRAGMA soft_heap_limit").fetch_one(&pool).await.expect("read the limit");
        assert_eq!(u64::try_from(limit).expect("positive"), DEFAULT_SQLITE_MEMORY_BYTES);
    }

    /// 0015: a SCIM user whose identity is older than it was adopted by
    /// email, not created; it is kept, marked `adopted`, for an admin to
    /// link. Users SCIM created are `created`.
    #[tokio::test]
    async fn users_scim_adopted_before_0015_are_marked_adopted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("open");
        SQLITE_MIGRATIONS.run_to(13, &pool).await.expect("the schema before 0015");
        for (id, email, identity_at, scim_at) in
            [("created", "new@example.com", 5_000_i64, 5_000_i64), ("adopted", "old@example.com", 1_000, 5_000)]
        {
            sqlx::query(
                "INSERT INTO identities (id, kind, name, email, email_normalized, status, created_at, updated_at) \
                 VALUES ($1, 'human', $1, $2, $2, 'active', $3, $3)",
            )
            .bind(id)
            .bind(email)
            .bind(identity_at)
            .execute(&pool)
            .await
            .expect("an identity");
            sqlx::query(
                "INSERT INTO scim_users (identity_id, user_name, user_name_normalized, external_id, attributes, \
                 created_at, updated_at) VALUES ($1, $2, $2, NULL, '{}', $3, $3)",
            )
            .bind(id)
            .bind(email)
            .bind(scim_at)
            .execute(&pool)
            .await
            .expect("a SCIM user");
        }

        SQLITE_MIGRATIONS.run(&pool).await.expect("0015");

        let origins: Vec<(String, String)> =
            sqlx::query_as("SELECT identity_id, origin FROM scim_users ORDER BY identity_id")
                .fetch_all(&pool)
                .await
                .expect("origins");
        let expected = [("adopted", "adopted"), ("created", "created")];
        assert_eq!(origins, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    }

    /// The migrations that moved the audit tables onto SQLite's rowid (and
    /// the tree into append order) keep every row and the append-only guard.
    #[tokio::test]
    async fn audit_tables_moved_onto_rowids_keep_their_rows_and_guards() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("open");
        SQLITE_MIGRATIONS.run_to(9, &pool).await.expect("the schema before the move");
        for idx in 0..3i64 {
            sqlx::query(
                "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, \
                 request_id, source_ip, mfa, details, leaf, prev_root) \
                 VALUES ($1, $2, 'someone', 'human', 'authorize', 'gatehouse', 'success', '', NULL, NULL, 0, '{}', $3, NULL)",
            )
            .bind(idx)
            .bind(1_000 + idx)
            .bind(vec![idx as u8; 4])
            .execute(&pool)
            .await
            .expect("an old entry");
            sqlx::query("INSERT INTO audit_tree (level, idx, hash) VALUES (0, $1, $2)")
                .bind(idx)
                .bind(vec![idx as u8; 32])
                .execute(&pool)
                .await
                .expect("an old node");
        }
        sqlx::query("INSERT INTO audit_tree (level, idx, hash) VALUES (1, 0, $1)")
            .bind(vec![8u8; 32])
            .execute(&pool)
            .await
            .expect("an old inner node");
        sqlx::query("INSERT INTO audit_checkpoints (tree_size, root, note, created_at) VALUES (3, $1, 'note', 7)")
            .bind(vec![9u8; 32])
            .execute(&pool)
            .await
            .expect("an old checkpoint");

        SQLITE_MIGRATIONS.run(&pool).await.expect("the move");

        let rows = sqlx::query("SELECT idx, time, leaf FROM audit_entries WHERE rowid = idx ORDER BY idx")
            .fetch_all(&pool)
            .await
            .expect("entries");
        let kept: Vec<(i64, i64, Vec<u8>)> =
            rows.iter().map(|row| (row.get("idx"), row.get("time"), row.get("leaf"))).collect();
        assert_eq!(kept, (0..3i64).map(|i| (i, 1_000 + i, vec![i as u8; 4])).collect::<Vec<_>>());
        let nodes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_tree WHERE level = 0")
            .fetch_one(&pool)
            .await
            .expect("nodes");
        assert_eq!(nodes, 3);
        let (size, note): (i64, String) =
            sqlx::query_as("SELECT tree_size, note FROM audit_checkpoints WHERE rowid = tree_size")
                .fetch_one(&pool)
                .await
                .expect("checkpoint");
        assert_eq!((size, note.as_str()), (3, "note"));
        // Tree nodes keyed (as the rowid) by the last leaf they cover, then
        // their level: the order appends complete them.
        let nodes: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT node, level, idx FROM audit_tree WHERE rowid = node ORDER BY node")
                .fetch_all(&pool)
                .await
                .expect("nodes");
        assert_eq!(nodes, [(0, 0, 0), (64, 0, 1), (65, 1, 0), (128, 0, 2)]);
        let indexes: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_entries'",
        )
        .fetch_one(&pool)
        .await
        .expect("indexes");
        assert_eq!(indexes, 0, "the key is the rowid, and no search used the secondary indexes (0013)");
        for statement in [
            "UPDATE audit_entries SET actor = 'someone else'",
            "DELETE FROM audit_entries",
            "DELETE FROM audit_tree",
            "UPDATE audit_checkpoints SET note = 'forged'",
        ] {
            let refused = sqlx::query(statement).execute(&pool).await.expect_err(statement).to_string();
            assert!(refused.contains("append-only"), "{statement}: {refused}");
        }
    }

    /// The migration that keys tree nodes by completion order computes the
    /// key of every node already stored, on both engines, and keeps the
    /// table append-only.
    async fn tree_nodes_get_their_keys(engine: gatehouse_testkit::Engine) {
        gatehouse_testkit::with_database(engine, |db| async move {
            sqlx::any::install_default_drivers();
            let (url, migrator, before) = match engine {
                gatehouse_testkit::Engine::Sqlite => (format!("{}?mode=rwc", db.url), &SQLITE_MIGRATIONS, 11),
                gatehouse_testkit::Engine::Postgres => (db.url.clone(), &POSTGRES_MIGRATIONS, 10),
            };
            let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("open");
            migrator.run_to(before, &pool).await.expect("the schema before the keys");
            let stored: Vec<(u8, u64)> = vec![(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4)];
            for (level, idx) in &stored {
                sqlx::query("INSERT INTO audit_tree (level, idx, hash) VALUES ($1, $2, $3)")
                    .bind(i64::from(*level))
                    .bind(*idx as i64)
                    .bind(vec![*level; 32])
                    .execute(&pool)
                    .await
                    .expect("an old node");
            }
            migrator.run(&pool).await.expect("the keys");

            let mut expected: Vec<(i64, i64, i64)> = stored
                .iter()
                .map(|(level, idx)| {
                    let id = gatehouse_audit::merkle::NodeId::new(*level, *idx);
                    (crate::audit_log::tree_key::node_key(id).expect("in range"), i64::from(*level), *idx as i64)
                })
                .collect();
            expected.sort_unstable();
            let keyed: Vec<(i64, i64, i64)> = sqlx::query_as("SELECT node, level, idx FROM audit_tree ORDER BY node")
                .fetch_all(&pool)
                .await
                .expect("nodes");
            assert_eq!(keyed, expected);
            let refused = sqlx::query("UPDATE audit_tree SET hash = $1").bind(vec![0u8; 32]).execute(&pool).await;
            assert!(refused.expect_err("append-only").to_string().contains("append-only"));
            pool.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn tree_nodes_get_their_keys_on_sqlite() {
        tree_nodes_get_their_keys(gatehouse_testkit::Engine::Sqlite).await;
    }

    #[tokio::test]
    async fn tree_nodes_get_their_keys_on_postgres() {
        tree_nodes_get_their_keys(gatehouse_testkit::Engine::Postgres).await;
    }
}
