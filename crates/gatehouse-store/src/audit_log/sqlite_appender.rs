//! SQLite's path for a batch of audit records alone (no change of state
//! beside): a connection of its own, on a thread of its own.
//!
//! Through sqlx every statement is a hand-off to sqlx's worker thread and a
//! wake-up of the writer task after it; a batch of a dozen statements paid
//! that a dozen times, and that serial chain, not SQLite's work nor the
//! fsync, bounded how fast the log could grow. Here the thread does its own
//! group commit: it takes everything queued as one batch, runs the
//! transaction with prepared statements, answers each caller once it is
//! committed, and takes the next batch at once.
//!
//! Batches that also change state still run on a pooled sqlx connection
//! (their operations are written against it). The writer task routes the
//! jobs and drains this thread before such a batch, so the two never wait
//! on SQLite's lock for each other; `BEGIN IMMEDIATE` and the size read
//! under it keep the log gap-free against any other process all the same.

use std::sync::Arc;
use std::sync::mpsc;

use gatehouse_audit::merkle::{Frontier, Hash};
use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::store::{AuditForwarder, StoreError};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::audit_log::tree_mirror::TreeMirror;
use crate::audit_log::write_health::WriteHealth;
use crate::audit_log::writer::{
    Committed, Numbered, PreparedRecord, Reply, TreeCache, checkpoint_of, no_output, number, refuse_if_diverged,
    require_signer, stored_key, to_i64,
};
use crate::connect::WAL_AUTOCHECKPOINT;

enum Task {
    /// Records to append in the next batch; answered once durable.
    Append { records: Vec<PreparedRecord>, reply: oneshot::Sender<Reply> },
    /// Answered once every append queued before it is answered.
    Barrier(oneshot::Sender<()>),
}

/// What the appender's thread needs besides its connection.
pub(crate) struct AppenderSettings {
    pub(crate) signer: Option<Arc<NoteSigner>>,
    pub(crate) forwarder: Option<Arc<dyn AuditForwarder>>,
    pub(crate) mirror: Arc<TreeMirror>,
    pub(crate) max_batch: usize,
    /// Told each batch's outcome, for readiness.
    pub(crate) health: Arc<WriteHealth>,
}

/// The appender's thread, reached through a channel; it stops when the
/// last handle is dropped.
pub(crate) struct SqliteAppender {
    tasks: mpsc::Sender<Task>,
}

impl SqliteAppender {
    /// Opens a second connection to the database file at `path` (already
    /// migrated, already in WAL mode) and starts the thread that owns it.
    pub(crate) fn open(path: &str, settings: AppenderSettings) -> Result<Self, String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
        // As the pooled connections: FULL makes a commit durable before it
        // is acknowledged.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )
        .and_then(|()| conn.execute_batch(WAL_AUTOCHECKPOINT))
        .map_err(|e| e.to_string())?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).map_err(|e| e.to_string())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("the database is in journal mode `{mode}`, not WAL"));
        }
        let (tasks, received) = mpsc::channel::<Task>();
        std::thread::Builder::new()
            .name("gatehouse-audit-append".into())
            .spawn(move || serve(conn, &settings, &received))
            .map_err(|e| e.to_string())?;
        Ok(Self { tasks })
    }

    /// Queues `records` for the next batch; `reply` hears their indexes
    /// once they are durable.
    pub(crate) fn append(&self, records: Vec<PreparedRecord>, reply: oneshot::Sender<Reply>) {
        if let Err(mpsc::SendError(Task::Append { reply, .. })) = self.tasks.send(Task::Append { records, reply }) {
            let _ = reply.send(Err(stopped()));
        }
    }

    /// Waits until every append queued so far is committed (or failed), so
    /// a batch on another connection does not wait for SQLite's lock.
    pub(crate) async fn drain(&self) -> Result<(), StoreError> {
        let (done, finished) = oneshot::channel();
        self.tasks.send(Task::Barrier(done)).map_err(|_| stopped())?;
        finished.await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the audit appender has stopped".into())
}

/// The thread: takes whatever is queued as one batch (group commit), up to
/// `max_batch` appends, commits it, answers, and goes again.
fn serve(mut conn: Connection, settings: &AppenderSettings, tasks: &mpsc::Receiver<Task>) {
    let max_batch = settings.max_batch.max(1);
    let mut cache = TreeCache::default();
    while let Ok(first) = tasks.recv() {
        let mut records = Vec::new();
        let mut replies = Vec::new();
        let mut barriers = Vec::new();
        let mut next = Some(first);
        while let Some(task) = next.take() {
            match task {
                Task::Append { records: queued, reply } => {
                    records.push(queued);
                    replies.push(reply);
                }
                // Everything queued before the barrier is in this batch.
                Task::Barrier(done) => {
                    barriers.push(done);
                    break;
                }
            }
            if replies.len() < max_batch {
                next = tasks.try_recv().ok();
            }
        }
        if !replies.is_empty() {
            let batch = || commit_and_answer(&mut conn, settings, &mut cache, records, replies);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(batch)).is_err() {
                // As the writer task: the batch's callers hear it failed
                // (their replies dropped), and the thread goes on.
                tracing::error!("an audit batch panicked; nothing in it was acknowledged");
                cache = TreeCache::default();
                end_failed_transaction(&conn);
            }
        }
        for done in barriers {
            let _ = done.send(());
        }
    }
}

fn commit_and_answer(
    conn: &mut Connection,
    settings: &AppenderSettings,
    cache: &mut TreeCache,
    per_op: Vec<Vec<PreparedRecord>>,
    replies: Vec<oneshot::Sender<Reply>>,
) {
    if per_op.iter().all(Vec::is_empty) {
        for reply in replies {
            let _ = reply.send(Ok((no_output(), Vec::new())));
        }
        return;
    }
    let cached = cache.frontier.take();
    let outcome = require_signer(settings.signer.as_ref()).and_then(|signer| {
        let forwarding = settings.forwarder.is_some();
        append_batch(conn, signer, cached, cache.origin.clone(), per_op, forwarding)
    });
    settings.health.record(&outcome);
    match outcome {
        Ok((((indexes, entries), frontier, nodes), origin)) => {
            cache.frontier = frontier;
            cache.origin = origin;
            settings.mirror.record(&nodes);
            if let (Some(forwarder), false) = (&settings.forwarder, entries.is_empty()) {
                forwarder.forward(&entries);
            }
            for (reply, indexes) in replies.into_iter().zip(indexes) {
                let _ = reply.send(Ok((no_output(), indexes)));
            }
        }
        Err(error) => {
            tracing::error!(%error, "audit batch failed; nothing in it was committed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
            end_failed_transaction(conn);
        }
    }
}

/// Leaves the connection outside any transaction after a failed batch, so
/// the next batch can begin once the disk has room again. The dropped
/// transaction rolled back already, unless SQLite had (on a full disk or an
/// I/O error it may end the transaction itself) or the rollback failed.
fn end_failed_transaction(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(%error, "the audit appender could not end its failed transaction");
    }
}

fn append_batch(
    conn: &mut Connection,
    signer: &NoteSigner,
    cached: Option<Frontier>,
    mut origin: Option<String>,
    per_op: Vec<Vec<PreparedRecord>>,
    forwarding: bool,
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
    let Numbered { indexes, entries, details, nodes, leaves } = number(&mut frontier, per_op, forwarding);
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, \
                 request_id, source_ip, mfa, details, prev_root) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(sqlite_error)?;
        for (entry, details) in entries.iter().zip(&details) {
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
                    entry.prev_root.as_ref().map(|root| root.as_slice()),
                ])
                .map_err(sqlite_error)?;
        }
        let mut insert = tx
            .prepare_cached("INSERT INTO audit_tree (node, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")
            .map_err(sqlite_error)?;
        for (id, hash) in &nodes {
            insert
                .execute(params![stored_key(*id)?, i64::from(id.level), to_i64(id.index)?, hash.as_slice()])
                .map_err(sqlite_error)?;
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
    Ok((((indexes, leaves), Some(frontier), nodes), origin))
}

/// The tree's right edge at `size`, from the stored nodes.
fn frontier_at(conn: &Connection, size: u64) -> Result<Frontier, StoreError> {
    let mut select = conn.prepare_cached("SELECT hash FROM audit_tree WHERE node = ?1").map_err(sqlite_error)?;
    let mut hashes = Vec::new();
    for id in Frontier::node_ids(size) {
        let hash: Option<Vec<u8>> =
            select.query_row(params![stored_key(id)?], |row| row.get(0)).optional().map_err(sqlite_error)?;
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
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen => StoreError::Unavailable(error.to_string()),
            ErrorCode::ConstraintViolation
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                StoreError::Conflict(gatehouse_domain::store::Conflict::Unique { detail: error.to_string() })
            }
            _ => StoreError::Other(error.to_string()),
        },
        _ => StoreError::Other(error.to_string()),
    }
}
