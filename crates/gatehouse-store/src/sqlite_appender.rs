//! SQLite's path for a batch of audit records alone (no change of state
//! beside): a connection of its own, on a thread of its own.
//!
//! Through sqlx every statement is a hand-off to sqlx's worker thread and a
//! wake-up of the writer task after it; a batch of a dozen statements paid
//! that a dozen times, and that serial chain, not SQLite's work nor the
//! fsync, bounded how fast the log could grow. Here a whole batch is one
//! hand-off: the thread runs the transaction with prepared statements and
//! answers once it is committed.
//!
//! Batches that also change state still run on a pooled sqlx connection
//! (their operations are written against it). Both kinds are started by
//! the one writer task, one batch at a time, so they never race for the
//! file; `BEGIN IMMEDIATE` and the size read under it keep the log
//! gap-free against any other process all the same.

use std::sync::Arc;
use std::sync::mpsc;

use gatehouse_audit::merkle::{Frontier, Hash};
use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::store::StoreError;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::writer::{
    Committed, Numbered, TreeCache, checkpoint_of, number, refuse_if_diverged, require_signer, to_i64,
};

type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// The appender's thread, reached through a channel; it stops when the
/// last handle is dropped.
pub(crate) struct SqliteAppender {
    tasks: mpsc::Sender<Task>,
}

impl SqliteAppender {
    /// Opens a second connection to the database file at `path` (already
    /// migrated, already in WAL mode) and starts the thread that owns it.
    pub(crate) fn open(path: &str) -> Result<Self, String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
        // As the pooled connections: FULL makes a commit durable before it
        // is acknowledged.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .map_err(|e| e.to_string())?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).map_err(|e| e.to_string())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("the database is in journal mode `{mode}`, not WAL"));
        }
        let (tasks, received) = mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("gatehouse-audit-append".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(task) = received.recv() {
                    task(&mut conn);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { tasks })
    }

    /// Appends each operation's records in one transaction; see
    /// [`crate::writer`] for what the result holds. The cached right edge is
    /// used when the log still ends where it does.
    pub(crate) async fn append(
        &self,
        signer: Option<Arc<NoteSigner>>,
        cache: &mut TreeCache,
        per_op: Vec<Vec<AuditRecord>>,
    ) -> Result<Committed, StoreError> {
        if per_op.iter().all(Vec::is_empty) {
            return Ok(((per_op.iter().map(|_| Vec::new()).collect(), Vec::new()), cache.frontier.take(), Vec::new()));
        }
        let cached = cache.frontier.take();
        let origin = cache.origin.clone();
        let (reply, answer) = oneshot::channel();
        let task: Task = Box::new(move |conn| {
            let outcome =
                require_signer(signer.as_ref()).and_then(|signer| append_batch(conn, signer, cached, origin, per_op));
            let _ = reply.send(outcome);
        });
        let stopped = || StoreError::Unavailable("the audit appender has stopped".into());
        self.tasks.send(task).map_err(|_| stopped())?;
        let (committed, origin) = answer.await.map_err(|_| stopped())??;
        cache.origin = origin;
        Ok(committed)
    }
}

fn append_batch(
    conn: &mut Connection,
    signer: &NoteSigner,
    cached: Option<Frontier>,
    mut origin: Option<String>,
    per_op: Vec<Vec<AuditRecord>>,
) -> Result<(Committed, Option<String>), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_error)?;
    let size: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(sqlite_error)?;
    let size = u64::try_from(size).map_err(|_| StoreError::Other("negative audit size".into()))?;
    let mut frontier = match cached {
        Some(cached) if cached.size() == size => cached,
        _ => {
            let loaded = frontier_at(&tx, size)?;
            check_last_checkpoint(&tx, &loaded)?;
            loaded
        }
    };
    let Numbered { indexes, entries, leaves, nodes } = number(&mut frontier, per_op);
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, \
                 request_id, source_ip, mfa, details, leaf, prev_root) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .map_err(sqlite_error)?;
        for (entry, (leaf, details)) in entries.iter().zip(&leaves) {
            let r = &entry.record;
            insert
                .execute(params![
                    to_i64(entry.index)?,
                    to_unix_millis(r.time),
                    r.actor.id(),
                    r.actor.kind(),
                    r.action,
                    r.resource,
                    r.outcome.as_str(),
                    r.reason,
                    r.origin.request_id,
                    r.origin.source_ip,
                    i64::from(r.mfa),
                    details,
                    leaf,
                    entry.prev_root.as_ref().map(|root| root.as_slice()),
                ])
                .map_err(sqlite_error)?;
        }
        let mut insert =
            tx.prepare_cached("INSERT INTO audit_tree (level, idx, hash) VALUES (?1, ?2, ?3)").map_err(sqlite_error)?;
        for (id, hash) in &nodes {
            insert.execute(params![i64::from(id.level), to_i64(id.index)?, hash.as_slice()]).map_err(sqlite_error)?;
        }
    }
    if origin.is_none() {
        origin = tx
            .query_row("SELECT audit_origin FROM installation", [], |row| row.get::<_, Option<String>>(0))
            .optional()
            .map_err(sqlite_error)?
            .flatten();
    }
    let (checkpoint, now) = checkpoint_of(origin.as_deref(), &frontier, &entries);
    let tree_size = to_i64(checkpoint.size)?;
    tx.prepare_cached("INSERT INTO audit_checkpoints (tree_size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut insert| {
            insert.execute(params![tree_size, checkpoint.root.as_slice(), checkpoint.sign(signer), now])
        })
        .map_err(sqlite_error)?;
    tx.commit().map_err(sqlite_error)?;
    Ok((((indexes, entries), Some(frontier), nodes), origin))
}

/// The tree's right edge at `size`, from the stored nodes.
fn frontier_at(conn: &Connection, size: u64) -> Result<Frontier, StoreError> {
    let mut select =
        conn.prepare_cached("SELECT hash FROM audit_tree WHERE level = ?1 AND idx = ?2").map_err(sqlite_error)?;
    let mut hashes = Vec::new();
    for id in Frontier::node_ids(size) {
        let hash: Option<Vec<u8>> = select
            .query_row(params![i64::from(id.level), to_i64(id.index)?], |row| row.get(0))
            .optional()
            .map_err(sqlite_error)?;
        let hash =
            hash.ok_or_else(|| StoreError::not_found("audit tree node", format!("{}/{}", id.level, id.index)))?;
        hashes.push(Hash::try_from(hash).map_err(|_| StoreError::Other("stored tree hash is not 32 bytes".into()))?);
    }
    Frontier::from_hashes(size, hashes).ok_or_else(|| StoreError::Other("audit tree frontier is incomplete".into()))
}

fn check_last_checkpoint(conn: &Connection, frontier: &Frontier) -> Result<(), StoreError> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT tree_size, root FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(sqlite_error)?;
    match last {
        Some((size, root)) => refuse_if_diverged(size, &root, frontier),
        None => Ok(()),
    }
}

/// As `crate::error::store_error` for sqlx: a busy database or a failing
/// disk is unavailable, a unique violation a conflict.
fn sqlite_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                StoreError::Unavailable(error.to_string())
            }
            ErrorCode::ConstraintViolation
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                StoreError::Conflict(format!("a unique constraint refused the write: {error}"))
            }
            _ => StoreError::Other(error.to_string()),
        },
        _ => StoreError::Other(error.to_string()),
    }
}
