//! The single writer: every state change goes through here, and concurrent
//! changes share one transaction (group commit), so durability costs one
//! fsync per batch instead of one per request.
//!
//! A batch takes the append lock, loads the Merkle tree's right edge, runs
//! each queued operation under its own savepoint (a failing one is rolled
//! back alone), numbers the audit records of those that succeeded, writes
//! the entries and the new tree nodes, signs a checkpoint, and commits.
//! Only then is any caller answered: nothing is acknowledged before it is
//! durable.
//!
//! On SQLite, audit records alone (the common case: decisions and
//! refusals) go to [`SqliteAppender`], whose own thread and connection
//! group-commit them; a batch that also changes state runs here on a
//! pooled connection, after the appender has drained. On PostgreSQL a
//! batch of records alone runs here too, but on the writer's own native
//! connection ([`PostgresAppender`]), in three round trips.
//!
//! INVARIANT: audit indexes are gap-free. Appenders are serialized: SQLite
//! by having one writer per database file and `BEGIN IMMEDIATE`, PostgreSQL
//! by a transaction-scoped advisory lock that holds across processes.

use std::any::Any as AnyValue;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::merkle::{Frontier, Hash, LeafHasher, NodeId};
use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::audit::{AuditEntry, AuditRecord, LeafParts};
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::store::{AuditForwarder, DurableEntry, StoreError};
use sqlx::any::Any;
use sqlx::{AnyConnection, Connection};
use sqlx::{AnyPool, AssertSqlSafe, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::audit_log::postgres_appender::PostgresAppender;
use crate::audit_log::sqlite_appender::SqliteAppender;
use crate::audit_log::tree_key::node_key;
use crate::audit_log::tree_mirror::TreeMirror;
use crate::audit_log::write_health::WriteHealth;
use crate::connect::Engine;
use crate::credential_cache::CredentialCache;
use crate::error::store_error;

/// Any arbitrary constant, shared by every process on one PostgreSQL
/// database: the advisory lock that serializes audit appends.
pub(crate) const AUDIT_APPEND_LOCK: i64 = 0x6761_7465_686f_7573;

/// Rows per multi-row INSERT, well under both engines' parameter limits.
const ROWS_PER_INSERT: usize = 128;

/// Splits `rows` into power-of-two runs of at most [`ROWS_PER_INSERT`], so a
/// connection prepares each multi-row INSERT once (eight shapes) instead of
/// once for every batch size.
fn power_of_two_runs<T>(mut rows: &[T]) -> Vec<&[T]> {
    let mut runs = Vec::new();
    while !rows.is_empty() {
        let take = (1usize << rows.len().ilog2()).min(ROWS_PER_INSERT);
        let (run, rest) = rows.split_at(take);
        runs.push(run);
        rows = rest;
    }
    runs
}

pub(crate) type OpOutput = Result<(Box<dyn AnyValue + Send>, Vec<AuditRecord>), StoreError>;
pub(crate) type Op = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, OpOutput> + Send>;

/// What a caller gets back: the op's output and its entries' indexes.
pub(crate) type Reply = Result<(Box<dyn AnyValue + Send>, Vec<u64>), StoreError>;

/// The output of a job that returns nothing but its indexes.
pub(crate) fn no_output() -> Box<dyn AnyValue + Send> {
    Box::new(())
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Reply>,
}

/// Whether an operation may change what authenticates a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touches {
    /// It may (the default for every write): the credential cache's local
    /// stamp moves after the batch, before anyone hears of it.
    Credentials,
    /// It changes bookkeeping only (a token's or session's last use, a
    /// second factor's attempt count), none of which a
    /// [`Credential`](gatehouse_domain::store::Credential) decides on, so
    /// the credential cache is kept.
    Bookkeeping,
}

/// What a job asks of its batch.
enum Work {
    /// An operation that writes rows itself (and so runs under a savepoint,
    /// to be undone alone) and returns the records of what it did.
    Op(Op, Touches),
    /// Records to append, with no change of state beside.
    Records(Vec<PreparedRecord>),
}

impl Work {
    fn into_records(self) -> Option<Vec<PreparedRecord>> {
        match self {
            Work::Records(records) => Some(records),
            Work::Op(..) => None,
        }
    }
}

/// How the writer signs and where it forwards.
#[derive(Clone)]
pub struct AuditSettings {
    /// Signs a checkpoint after every batch that appended entries. Without
    /// one, appending fails: an unsigned log is not kept.
    pub signer: Option<Arc<NoteSigner>>,
    /// Receives every entry once it is durable.
    pub forwarder: Option<Arc<dyn AuditForwarder>>,
    /// The most operations one transaction carries; 1 turns group commit
    /// off (for benchmarks).
    pub max_batch: usize,
    /// How many tree nodes (32 bytes each) to keep in memory for proofs.
    pub proof_cache_nodes: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { signer: None, forwarder: None, max_batch: 256, proof_cache_nodes: 4 << 20 }
    }
}

impl std::fmt::Debug for AuditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSettings")
            .field("signer", &self.signer)
            .field("forwarder", &self.forwarder.is_some())
            .field("max_batch", &self.max_batch)
            .field("proof_cache_nodes", &self.proof_cache_nodes)
            .finish()
    }
}

#[derive(Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Job>,
}

/// What the writer task works with.
pub(crate) struct WriterParts {
    pub(crate) pool: AnyPool,
    pub(crate) engine: Engine,
    pub(crate) settings: AuditSettings,
    pub(crate) mirror: Arc<TreeMirror>,
    pub(crate) credentials: Arc<CredentialCache>,
    /// SQLite's path for batches of records alone (`None` on PostgreSQL and
    /// for an in-memory database).
    pub(crate) appender: Option<SqliteAppender>,
    /// Told each batch's outcome, for readiness.
    pub(crate) health: Arc<WriteHealth>,
}

impl Writer {
    pub(crate) fn start(parts: WriterParts) -> Self {
        let (sender, receiver) = mpsc::channel(4096);
        tokio::spawn(run(parts, receiver));
        Self { sender }
    }

    /// Runs `op` in the next batch and answers once the batch is durable,
    /// with the op's output and the indexes given to its audit records.
    pub(crate) async fn submit<T, F>(&self, op: F) -> Result<(T, Vec<u64>), StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Vec<AuditRecord>), StoreError>>
            + Send
            + 'static,
    {
        self.submit_touching(Touches::Credentials, op).await
    }

    /// As [`Writer::submit`], for an operation that changes bookkeeping only
    /// ([`Touches::Bookkeeping`]): the credential cache is kept.
    pub(crate) async fn submit_bookkeeping<T, F>(&self, op: F) -> Result<(T, Vec<u64>), StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Vec<AuditRecord>), StoreError>>
            + Send
            + 'static,
    {
        self.submit_touching(Touches::Bookkeeping, op).await
    }

    async fn submit_touching<T, F>(&self, touches: Touches, op: F) -> Result<(T, Vec<u64>), StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Vec<AuditRecord>), StoreError>>
            + Send
            + 'static,
    {
        let op: Op = Box::new(move |conn| {
            let future = op(conn);
            Box::pin(async move {
                future.await.map(|(output, records)| (Box::new(output) as Box<dyn AnyValue + Send>, records))
            })
        });
        let (output, indexes) = self.submit_work(Work::Op(op, touches)).await?;
        let output = output.downcast::<T>().map_err(|_| StoreError::Other("writer returned the wrong type".into()))?;
        Ok((*output, indexes))
    }

    /// Appends `records` in the next batch, with no change of state beside.
    /// The records are serialized here, on the caller's task, so the
    /// appender (one for the whole log) has less to do per entry.
    pub(crate) async fn submit_records(&self, records: Vec<AuditRecord>) -> Result<Vec<u64>, StoreError> {
        let records = records.into_iter().map(PreparedRecord::new).collect();
        let (_, indexes) = self.submit_work(Work::Records(records)).await?;
        Ok(indexes)
    }

    async fn submit_work(&self, work: Work) -> Reply {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the store's writer did not answer".into());
        self.sender.send(Job { work, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What a writer (the pooled path, or SQLite's appender) remembers between
/// batches: the tree's right edge after its last commit, and the log's
/// origin. The cached edge is used only while the log still ends where this
/// writer left it: the other path, or another process on the same
/// database, may have appended since.
#[derive(Default)]
pub(crate) struct TreeCache {
    pub(crate) frontier: Option<Frontier>,
    pub(crate) origin: Option<String>,
}

async fn run(parts: WriterParts, mut receiver: mpsc::Receiver<Job>) {
    let max_batch = parts.settings.max_batch.max(1);
    let mut cache = TreeCache::default();
    let mut postgres_appender = (parts.engine == Engine::Postgres)
        .then(|| PostgresAppender::new(parts.pool.clone(), parts.settings.forwarder.is_some()));
    while let Some(first) = receiver.recv().await {
        let first = match (&parts.appender, first.work) {
            (Some(appender), Work::Records(records)) => {
                appender.append(records, first.reply);
                continue;
            }
            (_, work) => Job { work, reply: first.reply },
        };
        // Let the callers woken by the last commit queue their next changes,
        // so they join this batch instead of waiting for the next.
        tokio::task::yield_now().await;
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Some(appender) = &parts.appender {
            // The appender's queued batches commit first; this batch then
            // finds SQLite's lock free.
            if let Err(error) = appender.drain().await {
                for job in jobs {
                    let _ = job.reply.send(Err(error.clone()));
                }
                continue;
            }
        }
        let batch = run_batch(&parts, postgres_appender.as_mut(), &mut cache, jobs);
        if AssertUnwindSafe(batch).catch_unwind().await.is_err() {
            // The batch's callers, their replies dropped, hear that it
            // failed; the writer goes on, so a bug fails one batch instead
            // of every write until a restart. What it held is forgotten:
            // the next batch reads the tree's edge again, on a new
            // connection.
            tracing::error!("an audit batch panicked; nothing in it was acknowledged");
            cache = TreeCache::default();
            postgres_appender = (parts.engine == Engine::Postgres)
                .then(|| PostgresAppender::new(parts.pool.clone(), parts.settings.forwarder.is_some()));
        }
    }
}

/// Begins a transaction holding the append lock.
pub(crate) async fn begin_append(pool: &AnyPool, engine: Engine) -> Result<Transaction<'static, Any>, StoreError> {
    match engine {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await.map_err(store_error),
        Engine::Postgres => {
            let mut tx = pool.begin().await.map_err(store_error)?;
            lock_appends(&mut tx).await?;
            Ok(tx)
        }
    }
}

/// As [`begin_append`], on a connection the caller holds.
async fn begin_append_on(conn: &mut AnyConnection, engine: Engine) -> Result<Transaction<'_, Any>, StoreError> {
    match engine {
        Engine::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await.map_err(store_error),
        Engine::Postgres => {
            let mut tx = conn.begin().await.map_err(store_error)?;
            lock_appends(&mut tx).await?;
            Ok(tx)
        }
    }
}

async fn lock_appends(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(AUDIT_APPEND_LOCK).execute(conn).await.map_err(store_error)?;
    Ok(())
}

async fn run_batch(
    parts: &WriterParts,
    postgres_appender: Option<&mut PostgresAppender>,
    cache: &mut TreeCache,
    jobs: Vec<Job>,
) {
    let changes_state = jobs.iter().any(|job| matches!(job.work, Work::Op(..)));
    let changes_credentials = jobs.iter().any(|job| matches!(job.work, Work::Op(_, Touches::Credentials)));
    let mut works = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        works.push(job.work);
        replies.push(job.reply);
    }
    let mut outcomes: Vec<Option<OpOutput>> = Vec::with_capacity(works.len());
    let result = match postgres_appender {
        Some(appender) if !changes_state => {
            let per_op: Vec<_> = works.into_iter().filter_map(Work::into_records).collect();
            outcomes.extend(per_op.iter().map(|_| Some(Ok((no_output(), Vec::new())))));
            match require_signer(parts.settings.signer.as_ref()) {
                Ok(signer) => appender.append(signer, cache, per_op).await,
                Err(error) => Err(error),
            }
        }
        _ => run_batch_through_pool(parts, cache, works, &mut outcomes).await,
    };
    // Before anyone hears of the change (and also after a failed commit,
    // which may have been durable all the same). A batch of bookkeeping
    // alone (last-use stamps) keeps the cache: nothing it holds changed.
    if changes_credentials {
        parts.credentials.invalidate();
    }
    parts.health.record(&result);
    let result = match result {
        Ok((appended, frontier, nodes)) => {
            cache.frontier = frontier;
            parts.mirror.record(&nodes);
            Ok(appended)
        }
        Err(error) => {
            cache.frontier = None;
            Err(error)
        }
    };

    match result {
        Ok((indexes, entries)) => {
            if let (Some(forwarder), false) = (&parts.settings.forwarder, entries.is_empty()) {
                forwarder.forward(&entries);
            }
            for ((reply, outcome), indexes) in replies.into_iter().zip(outcomes).zip(indexes) {
                let answer = match outcome {
                    Some(Ok((output, _))) => Ok((output, indexes)),
                    Some(Err(error)) => Err(error),
                    None => Err(StoreError::Other("operation did not run".into())),
                };
                let _ = reply.send(answer);
            }
        }
        Err(error) => {
            tracing::error!(%error, "audit batch failed; nothing in it was committed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// What a committed batch leaves: each operation's indexes and the entries
/// written, the tree's new right edge, and the tree nodes completed.
pub(crate) type Committed = (Appended, Option<Frontier>, Vec<(NodeId, Hash)>);

/// Runs a batch in one transaction on a pooled connection: every operation
/// under its own savepoint, then its records.
///
/// After a failed batch the connection goes back to the pool only if its
/// transaction is over. A full disk or an I/O error lets SQLite roll the
/// whole transaction back by itself; the `ROLLBACK` sqlx then sends fails,
/// sqlx still counts the transaction as open, and every later `BEGIN` on
/// that connection was refused: writes failed after space returned.
async fn run_batch_through_pool(
    parts: &WriterParts,
    cache: &mut TreeCache,
    works: Vec<Work>,
    outcomes: &mut Vec<Option<OpOutput>>,
) -> Result<Committed, StoreError> {
    let mut conn = parts.pool.acquire().await.map_err(store_error)?;
    let result = run_batch_on(&mut conn, parts, cache, works, outcomes).await;
    if result.is_err() {
        // The dropped transaction's rollback is queued on the connection;
        // a ping runs after it, so the connection then knows its state.
        if conn.ping().await.is_err() || conn.is_in_transaction() {
            let _ = conn.detach().close_hard().await;
        }
    }
    result
}

async fn run_batch_on(
    conn: &mut AnyConnection,
    parts: &WriterParts,
    cache: &mut TreeCache,
    works: Vec<Work>,
    outcomes: &mut Vec<Option<OpOutput>>,
) -> Result<Committed, StoreError> {
    let mut tx = begin_append_on(conn, parts.engine).await?;
    let mut records = Vec::with_capacity(works.len());
    for work in works {
        let (outcome, prepared) = match work {
            Work::Op(op, _) => {
                let mut outcome = run_isolated(&mut tx, op).await?;
                let prepared = match &mut outcome {
                    Ok((_, job_records)) => std::mem::take(job_records).into_iter().map(PreparedRecord::new).collect(),
                    Err(_) => Vec::new(),
                };
                (outcome, prepared)
            }
            Work::Records(prepared) => (Ok((no_output(), Vec::new())), prepared),
        };
        outcomes.push(Some(outcome));
        records.push(prepared);
    }
    let committed = append_records(&mut tx, &parts.settings, cache, records).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(committed)
}

/// Runs one operation under a savepoint, so its failure undoes only its own
/// writes. An error here is the operation's answer; an error of the
/// savepoint statements themselves fails the batch.
async fn run_isolated(tx: &mut Transaction<'_, Any>, op: Op) -> Result<OpOutput, StoreError> {
    sqlx::query("SAVEPOINT gatehouse_op").execute(&mut **tx).await.map_err(store_error)?;
    let outcome = op(tx).await;
    if let Err(error) = &outcome
        && let Err(rollback) = sqlx::query("ROLLBACK TO SAVEPOINT gatehouse_op").execute(&mut **tx).await
    {
        // A full disk or a failing one may have ended the whole
        // transaction, savepoint and all: the operation's error says why
        // the batch fails, not the rollback's.
        return Err(match error {
            StoreError::Unavailable(_) => error.clone(),
            _ => store_error(rollback),
        });
    }
    sqlx::query("RELEASE SAVEPOINT gatehouse_op").execute(&mut **tx).await.map_err(store_error)?;
    Ok(outcome)
}

/// Each operation's indexes, and the entries written as a forwarder gets
/// them (none when there is no forwarder).
pub(crate) type Appended = (Vec<Vec<u64>>, Vec<DurableEntry>);

/// A batch's records, numbered and placed in the tree.
pub(crate) struct Numbered {
    /// Each operation's indexes.
    pub(crate) indexes: Vec<Vec<u64>>,
    /// The entries' columns. Their records' `details` values are gone (see
    /// [`PreparedRecord::new`]); `details` holds them as canonical JSON.
    pub(crate) entries: Vec<AuditEntry>,
    /// Each entry's canonical details.
    pub(crate) details: Vec<String>,
    /// The tree nodes the entries complete.
    pub(crate) nodes: Vec<(NodeId, Hash)>,
    /// The whole leaves, for a forwarder; empty unless asked for. Otherwise
    /// the leaf bytes are not kept: they are hashed here and computed again
    /// from the row when read.
    pub(crate) leaves: Vec<DurableEntry>,
}

/// A record with its leaf serialized and the leaf's head (everything before
/// the index) already hashed: work done where the record is made, since
/// only the index and the previous root depend on the log.
pub(crate) struct PreparedRecord {
    record: AuditRecord,
    parts: LeafParts,
    head: LeafHasher,
}

impl PreparedRecord {
    pub(crate) fn new(mut record: AuditRecord) -> Self {
        let parts = record.leaf_parts();
        // From here on the details exist as canonical JSON in `parts`. The
        // value is freed now, on the thread that built it: freed by the
        // appender instead, its many small allocations cost that one
        // thread, which every append waits for, a cross-thread free each.
        drop(std::mem::take(&mut record.details));
        let mut head = LeafHasher::new();
        head.update(parts.head());
        Self { record, parts, head }
    }
}

/// Numbers the records of every operation (one list per operation) from
/// the frontier's size on, and pushes their leaves onto it; keeps the whole
/// leaves too when `keep_leaves` (there is a forwarder).
pub(crate) fn number(frontier: &mut Frontier, per_op: Vec<Vec<PreparedRecord>>, keep_leaves: bool) -> Numbered {
    let total: usize = per_op.iter().map(Vec::len).sum();
    let mut numbered = Numbered {
        indexes: Vec::with_capacity(per_op.len()),
        entries: Vec::with_capacity(total),
        details: Vec::with_capacity(total),
        nodes: Vec::with_capacity(total * 2),
        leaves: Vec::with_capacity(if keep_leaves { total } else { 0 }),
    };
    for records in per_op {
        let mut op_indexes = Vec::with_capacity(records.len());
        for PreparedRecord { record, parts, head } in records {
            let index = frontier.size();
            let prev_root = frontier.root();
            let mut leaf = head;
            if keep_leaves {
                // The whole leaf is built for the forwarder anyway: hash it
                // from there rather than assemble its pieces twice.
                let whole = parts.leaf(index, Some(prev_root));
                leaf.update(&whole[parts.head().len()..]);
                numbered.leaves.push(DurableEntry { index, leaf: whole });
            } else {
                parts.for_each_piece_after_head(index, Some(prev_root), |piece| leaf.update(piece));
            }
            numbered.nodes.extend(frontier.push(leaf.finish()));
            op_indexes.push(index);
            numbered.details.push(parts.details);
            numbered.entries.push(record.into_entry(index, Some(prev_root)));
        }
        numbered.indexes.push(op_indexes);
    }
    numbered
}

/// The checkpoint a batch ends with, and the time it is stamped with.
pub(crate) fn checkpoint_of(origin: Option<&str>, frontier: &Frontier, entries: &[AuditEntry]) -> (Checkpoint, i64) {
    let origin = origin.unwrap_or(crate::DEFAULT_ORIGIN).to_owned();
    let now = entries.last().map(|e| to_unix_millis(e.record.time)).unwrap_or_default();
    (Checkpoint { origin, size: frontier.size(), root: frontier.root() }, now)
}

/// The signer, or the refusal to append without one: an unsigned log is
/// not kept.
pub(crate) fn require_signer(signer: Option<&Arc<NoteSigner>>) -> Result<&Arc<NoteSigner>, StoreError> {
    signer.ok_or_else(|| StoreError::Other("no audit signing key is configured; refusing to append".into()))
}

/// What a batch whose operations made no records commits: no indexes, no
/// entries, and the tree as it was.
pub(crate) fn nothing_to_append(per_op: &[Vec<PreparedRecord>], cache: &mut TreeCache) -> Option<Committed> {
    per_op
        .iter()
        .all(Vec::is_empty)
        .then(|| ((per_op.iter().map(|_| Vec::new()).collect(), Vec::new()), cache.frontier.take(), Vec::new()))
}

/// Numbers and writes the records of every operation, the tree nodes they
/// complete, and a signed checkpoint.
async fn append_records(
    tx: &mut Transaction<'_, Any>,
    settings: &AuditSettings,
    cache: &mut TreeCache,
    per_op: Vec<Vec<PreparedRecord>>,
) -> Result<Committed, StoreError> {
    if let Some(nothing) = nothing_to_append(&per_op, cache) {
        return Ok(nothing);
    }
    let signer = require_signer(settings.signer.as_ref())?;
    let size = log_size(tx).await?;
    let mut frontier = match cache.frontier.take() {
        Some(cached) if cached.size() == size => cached,
        _ => {
            let loaded = frontier_at(tx, size).await?;
            check_last_checkpoint(tx, &loaded).await?;
            loaded
        }
    };
    let Numbered { indexes, entries, details, nodes, leaves } =
        number(&mut frontier, per_op, settings.forwarder.is_some());
    insert_entries(tx, &entries, details).await?;
    insert_nodes(tx, &nodes).await?;

    if cache.origin.is_none() {
        cache.origin = audit_origin(tx).await?;
    }
    let (checkpoint, now) = checkpoint_of(cache.origin.as_deref(), &frontier, &entries);
    insert_checkpoint(tx, &checkpoint, &checkpoint.sign(signer), now).await?;
    Ok(((indexes, leaves), Some(frontier), nodes))
}

/// The number of entries, read after taking the append lock.
async fn log_size(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let size: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    u64::try_from(size).map_err(|_| StoreError::Other("negative audit size".into()))
}

pub(crate) async fn frontier_at(conn: &mut AnyConnection, size: u64) -> Result<Frontier, StoreError> {
    let ids = Frontier::node_ids(size);
    let hashes = fetch_nodes(conn, &ids).await?;
    Frontier::from_hashes(size, hashes).ok_or_else(|| StoreError::Other("audit tree frontier is incomplete".into()))
}

/// Reads stored tree nodes in the order asked; `NotFound` names a missing one.
pub(crate) async fn fetch_nodes(conn: &mut AnyConnection, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
    let keys = ids.iter().map(|id| stored_key(*id)).collect::<Result<Vec<i64>, _>>()?;
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT node, hash FROM audit_tree WHERE node IN ({})", list.join(", "));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(store_error)? {
            let key: i64 = row.try_get("node").map_err(store_error)?;
            let hash: Vec<u8> = row.try_get("hash").map_err(store_error)?;
            let hash =
                Hash::try_from(hash).map_err(|_| StoreError::Other("stored tree hash is not 32 bytes".into()))?;
            found.insert(key, hash);
        }
    }
    ids.iter()
        .zip(keys)
        .map(|(id, key)| {
            found
                .get(&key)
                .copied()
                .ok_or_else(|| StoreError::not_found("audit tree node", format!("{}/{}", id.level, id.index)))
        })
        .collect()
}

/// The node's key in `audit_tree` (see [`crate::audit_log::tree_key`]).
pub(crate) fn stored_key(id: NodeId) -> Result<i64, StoreError> {
    node_key(id).ok_or_else(|| StoreError::Other(format!("audit tree node {}/{} is out of range", id.level, id.index)))
}

pub(crate) fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Other(format!("{value} is out of range")))
}

/// Refuses to extend a tree whose stored nodes disagree with its own last
/// checkpoint: the new checkpoint must be consistent with the previous one.
pub(crate) async fn check_last_checkpoint(conn: &mut AnyConnection, frontier: &Frontier) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT tree_size, root FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    let Some(row) = row else { return Ok(()) };
    let size: i64 = row.try_get("tree_size").map_err(store_error)?;
    let root: Vec<u8> = row.try_get("root").map_err(store_error)?;
    refuse_if_diverged(size, &root, frontier)
}

/// The refusal to extend a tree of the last checkpoint's size whose root
/// is not the checkpoint's.
pub(crate) fn refuse_if_diverged(
    checkpoint_size: i64,
    checkpoint_root: &[u8],
    frontier: &Frontier,
) -> Result<(), StoreError> {
    if checkpoint_size == to_i64(frontier.size())? && checkpoint_root != frontier.root() {
        return Err(StoreError::Other(format!(
            "the stored audit tree of size {checkpoint_size} does not match its signed checkpoint; refusing to append"
        )));
    }
    Ok(())
}

/// The installation's origin, `None` until one is recorded.
pub(crate) async fn audit_origin(conn: &mut AnyConnection) -> Result<Option<String>, StoreError> {
    let origin: Option<Option<String>> = sqlx::query_scalar("SELECT audit_origin FROM installation")
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(origin.flatten())
}

/// Writes `entries` with their canonical details; `leaf` is left NULL, as
/// the row's columns determine it.
async fn insert_entries(
    conn: &mut AnyConnection,
    entries: &[AuditEntry],
    details: Vec<String>,
) -> Result<(), StoreError> {
    let mut details = details.into_iter();
    for entries in power_of_two_runs(entries) {
        let sql = insert_sql(InsertShape::Entries, entries.len(), Placeholder::for_connection(conn));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (entry, details) in entries.iter().zip(details.by_ref()) {
            let r = &entry.record;
            query = query
                .bind(to_i64(entry.index)?)
                .bind(to_unix_millis(r.time))
                .bind(r.actor.id().to_owned())
                .bind(r.actor.kind().to_owned())
                .bind(r.action.clone())
                .bind(r.resource.clone())
                .bind(r.outcome.as_str())
                .bind(r.reason.clone())
                .bind(r.origin.request_id.clone())
                .bind(r.origin.source_ip.clone())
                .bind(i64::from(r.mfa))
                .bind(details)
                .bind(entry.prev_root.map(|root| root.to_vec()));
        }
        query.execute(&mut *conn).await.map_err(store_error)?;
    }
    Ok(())
}

pub(crate) async fn insert_nodes(conn: &mut AnyConnection, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
    for chunk in power_of_two_runs(nodes) {
        let sql = insert_sql(InsertShape::Nodes, chunk.len(), Placeholder::for_connection(conn));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, hash) in chunk {
            query = query.bind(stored_key(*id)?).bind(i64::from(id.level)).bind(to_i64(id.index)?).bind(hash.to_vec());
        }
        query.execute(&mut *conn).await.map_err(store_error)?;
    }
    Ok(())
}

pub(crate) async fn insert_checkpoint(
    conn: &mut AnyConnection,
    checkpoint: &Checkpoint,
    note: &str,
    created_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_checkpoints (tree_size, root, note, created_at) VALUES ($1, $2, $3, $4)")
        .bind(to_i64(checkpoint.size)?)
        .bind(checkpoint.root.to_vec())
        .bind(note)
        .bind(created_at)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The multi-row INSERTs of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InsertShape {
    Entries,
    Nodes,
}

/// The INSERT of `rows` rows (a power of two up to [`ROWS_PER_INSERT`]),
/// made once per shape and kept: every batch uses the same few.
fn insert_sql(shape: InsertShape, rows: usize, style: Placeholder) -> &'static str {
    const SIZES: usize = ROWS_PER_INSERT.ilog2() as usize + 1;
    static MADE: [[[OnceLock<String>; SIZES]; 2]; 2] = [const { [const { [const { OnceLock::new() }; SIZES] }; 2] }; 2];
    let size = rows.ilog2() as usize;
    debug_assert!(rows.is_power_of_two() && size < SIZES, "{rows} rows is not a run of power_of_two_runs");
    MADE[shape as usize][style as usize][size.min(SIZES - 1)].get_or_init(|| match shape {
        InsertShape::Entries => format!(
            "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, \
             request_id, source_ip, mfa, details, prev_root) VALUES {}",
            placeholders(rows, 13, style)
        ),
        InsertShape::Nodes => {
            format!("INSERT INTO audit_tree (node, level, idx, hash) VALUES {}", placeholders(rows, 4, style))
        }
    })
}

/// How a statement numbers its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    /// `$1, $2, …`: PostgreSQL's only form.
    Numbered,
    /// `?, ?, …`: SQLite looks a numbered parameter's name up in a list,
    /// which makes binding hundreds of them quadratic; anonymous ones bind
    /// in order.
    Anonymous,
}

impl Placeholder {
    fn for_connection(conn: &AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") { Placeholder::Anonymous } else { Placeholder::Numbered }
    }
}

/// `($1, $2, …), ($k+1, …)` (or all `?`) for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize, style: Placeholder) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|c| match style {
                    Placeholder::Numbered => format!("${}", row * columns + c),
                    Placeholder::Anonymous => "?".to_owned(),
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    /// A bug that panics inside a batch fails that batch (503), not every
    /// write after it.
    #[tokio::test]
    async fn a_panicking_operation_fails_its_batch_and_the_writer_goes_on() {
        use futures_util::future::BoxFuture;
        use gatehouse_domain::audit::AuditRecord;
        use gatehouse_domain::store::StoreError;

        type Answer = Result<((), Vec<AuditRecord>), StoreError>;
        fn panics(_: &mut sqlx::AnyConnection) -> BoxFuture<'_, Answer> {
            Box::pin(async { panic!("a bug") })
        }
        fn works(conn: &mut sqlx::AnyConnection) -> BoxFuture<'_, Answer> {
            Box::pin(async move {
                sqlx::query("SELECT 1").execute(conn).await.map_err(super::store_error)?;
                Ok(((), Vec::new()))
            })
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let store = crate::SqlStore::open(&url, crate::ConnectOptions::default()).await.expect("open");
        let failed = store.writer.submit(panics).await;
        assert!(matches!(failed, Err(StoreError::Unavailable(_))), "{failed:?}");
        store.writer.submit(works).await.expect("the next batch runs");
    }

    #[test]
    fn rows_split_into_power_of_two_runs() {
        let rows: Vec<u32> = (0..300).collect();
        let sizes: Vec<usize> = super::power_of_two_runs(&rows).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, [128, 128, 32, 8, 4]);
        assert_eq!(super::power_of_two_runs(&rows[..13]).iter().map(|r| r.len()).collect::<Vec<_>>(), [8, 4, 1]);
        assert!(super::power_of_two_runs::<u32>(&[]).is_empty());
    }

    #[test]
    fn each_insert_is_made_once_per_shape() {
        use super::{InsertShape, Placeholder, insert_sql};
        let eight = insert_sql(InsertShape::Nodes, 8, Placeholder::Numbered);
        assert!(std::ptr::eq(eight, insert_sql(InsertShape::Nodes, 8, Placeholder::Numbered)));
        assert!(eight.ends_with("($29, $30, $31, $32)"), "{eight}");
        let one = insert_sql(InsertShape::Entries, 1, Placeholder::Anonymous);
        assert!(one.starts_with("INSERT INTO audit_entries") && one.matches('?').count() == 13, "{one}");
        assert_eq!(insert_sql(InsertShape::Entries, 128, Placeholder::Numbered).matches('$').count(), 128 * 13);
    }

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(placeholders(2, 3, super::Placeholder::Numbered), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(2, 2, super::Placeholder::Anonymous), "(?, ?), (?, ?)");
    }
}
