//! PostgreSQL's path for a batch of audit records alone (no change of state
//! beside): a native connection of the writer's own, and three round trips
//! a batch whatever its size.
//!
//! 1. `BEGIN`, the append lock and the log's size, sent as one simple query
//!    (each statement there reads its own snapshot, so the size is read
//!    with the lock held).
//! 2. One statement writes the entries, the tree nodes they complete and
//!    the signed checkpoint: the rows travel as one array per column
//!    (`UNNEST`), so the statement is the same for every batch size.
//! 3. `COMMIT`.
//!
//! Through the pool the same batch took a round trip per statement (and
//! several per multi-row INSERT of mixed size), which, not PostgreSQL's
//! work, bounded how fast the log could grow. Batches that change state
//! still run on a pooled connection, under savepoints; the advisory lock
//! keeps every path, in every process, gap-free.

use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::store::StoreError;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, AssertSqlSafe, Connection, PgConnection, Row};

use crate::audit_log::writer::{
    AUDIT_APPEND_LOCK, Committed, Numbered, PreparedRecord, TreeCache, audit_origin, check_last_checkpoint,
    checkpoint_of, frontier_at, nothing_to_append, number, stored_key, to_i64,
};
use crate::error::store_error;

/// How the appender's connection shows in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "gatehouse-audit-appender";

const INSERT_BATCH: &str = "\
WITH entries AS (
    INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason,
                               request_id, source_ip, mfa, details, prev_root)
    SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                         $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::BIGINT[], $12::TEXT[],
                         $13::BYTEA[])
), nodes AS (
    INSERT INTO audit_tree (node, level, idx, hash)
    SELECT * FROM UNNEST($14::BIGINT[], $15::BIGINT[], $16::BIGINT[], $17::BYTEA[])
)
INSERT INTO audit_checkpoints (tree_size, root, note, created_at) VALUES ($18, $19, $20, $21)";

pub(crate) struct PostgresAppender {
    pool: AnyPool,
    /// Opened on first use, and again after any failure (whose transaction
    /// PostgreSQL rolls back when the connection closes).
    conn: Option<PgConnection>,
    keep_leaves: bool,
}

impl PostgresAppender {
    /// `keep_leaves`: whether batches return their whole leaves (for a
    /// forwarder).
    pub(crate) fn new(pool: AnyPool, keep_leaves: bool) -> Self {
        Self { pool, conn: None, keep_leaves }
    }

    /// Numbers and commits the records of every operation (one list per
    /// operation), with the nodes they complete and a signed checkpoint.
    pub(crate) async fn append(
        &mut self,
        signer: &NoteSigner,
        cache: &mut TreeCache,
        per_op: Vec<Vec<PreparedRecord>>,
    ) -> Result<Committed, StoreError> {
        if let Some(nothing) = nothing_to_append(&per_op, cache) {
            return Ok(nothing);
        }
        // A kept connection may have been closed by the server since (a
        // restart, an idle timeout): nothing is written before `begin`
        // succeeds, so it is safe to try once more on a new one.
        let (mut conn, size) = match self.conn.take() {
            Some(mut kept) => match begin(&mut kept).await {
                Ok(size) => (kept, size),
                Err(_) => self.begin_on_new_connection().await?,
            },
            None => self.begin_on_new_connection().await?,
        };
        let committed = append_batch(&mut conn, &self.pool, signer, cache, size, per_op, self.keep_leaves).await?;
        self.conn = Some(conn);
        Ok(committed)
    }

    async fn begin_on_new_connection(&self) -> Result<(PgConnection, u64), StoreError> {
        let options = PgConnectOptions::from_str(self.pool.connect_options().database_url.as_str())
            .map_err(store_error)?
            .application_name(APPLICATION_NAME);
        let mut conn = PgConnection::connect_with(&options).await.map_err(store_error)?;
        let size = begin(&mut conn).await?;
        Ok((conn, size))
    }
}

/// Begins the transaction, takes the append lock, and reads the log's size
/// under it: one round trip.
async fn begin(conn: &mut PgConnection) -> Result<u64, StoreError> {
    let begin = format!(
        "BEGIN; SELECT pg_advisory_xact_lock({AUDIT_APPEND_LOCK}); \
         SELECT COALESCE(MAX(idx) + 1, 0) AS size FROM audit_entries"
    );
    let rows = sqlx::raw_sql(AssertSqlSafe(begin)).fetch_all(&mut *conn).await.map_err(store_error)?;
    let size: i64 = rows
        .last()
        .ok_or_else(|| StoreError::Other("the audit size query returned no row".into()))?
        .try_get("size")
        .map_err(store_error)?;
    u64::try_from(size).map_err(|_| StoreError::Other("negative audit size".into()))
}

/// The rest of the batch, in the transaction `begin` opened on `conn`.
async fn append_batch(
    conn: &mut PgConnection,
    pool: &AnyPool,
    signer: &NoteSigner,
    cache: &mut TreeCache,
    size: u64,
    per_op: Vec<Vec<PreparedRecord>>,
    keep_leaves: bool,
) -> Result<Committed, StoreError> {
    let mut frontier = match cache.frontier.take() {
        Some(cached) if cached.size() == size => cached,
        // Everything below `size` is committed and never changes, so a
        // pooled connection reads the same edge this transaction would.
        _ => {
            let mut pooled = pool.acquire().await.map_err(store_error)?;
            let loaded = frontier_at(&mut pooled, size).await?;
            check_last_checkpoint(&mut pooled, &loaded).await?;
            loaded
        }
    };
    if cache.origin.is_none() {
        let mut pooled = pool.acquire().await.map_err(store_error)?;
        cache.origin = audit_origin(&mut pooled).await?;
    }
    let Numbered { indexes, entries, details, nodes, leaves } = number(&mut frontier, per_op, keep_leaves);
    let (checkpoint, now) = checkpoint_of(cache.origin.as_deref(), &frontier, &entries);

    let rows = entries.len();
    let (mut idx, mut time, mut actor, mut actor_kind) = (cols(rows), cols(rows), cols(rows), cols(rows));
    let (mut action, mut resource, mut outcome, mut reason) = (cols(rows), cols(rows), cols(rows), cols(rows));
    let (mut request_id, mut source_ip, mut mfa, mut prev_root) = (cols(rows), cols(rows), cols(rows), cols(rows));
    for entry in &entries {
        let r = &entry.record;
        idx.push(to_i64(entry.index)?);
        time.push(to_unix_millis(r.time));
        actor.push(r.actor.id());
        actor_kind.push(r.actor.kind());
        action.push(r.action.as_str());
        resource.push(r.resource.as_str());
        outcome.push(r.outcome.as_str());
        reason.push(r.reason.as_str());
        request_id.push(r.origin.request_id.as_deref());
        source_ip.push(r.origin.source_ip.as_deref());
        mfa.push(i64::from(r.mfa));
        prev_root.push(entry.prev_root.as_ref().map(|root| root.as_slice()));
    }
    let (mut node, mut level, mut node_idx, mut hash) =
        (cols(nodes.len()), cols(nodes.len()), cols(nodes.len()), cols(nodes.len()));
    for (id, node_hash) in &nodes {
        node.push(stored_key(*id)?);
        level.push(i64::from(id.level));
        node_idx.push(to_i64(id.index)?);
        hash.push(node_hash.as_slice());
    }
    sqlx::query(INSERT_BATCH)
        .bind(idx)
        .bind(time)
        .bind(actor)
        .bind(actor_kind)
        .bind(action)
        .bind(resource)
        .bind(outcome)
        .bind(reason)
        .bind(request_id)
        .bind(source_ip)
        .bind(mfa)
        .bind(&details)
        .bind(prev_root)
        .bind(node)
        .bind(level)
        .bind(node_idx)
        .bind(hash)
        .bind(to_i64(checkpoint.size)?)
        .bind(checkpoint.root.as_slice())
        .bind(checkpoint.sign(signer))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await.map_err(store_error)?;
    Ok(((indexes, leaves), Some(frontier), nodes))
}

fn cols<T>(rows: usize) -> Vec<T> {
    Vec::with_capacity(rows)
}
