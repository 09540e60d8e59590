//! [`AuditLogStore`] for [`SqlStore`]: appends go to the writer (see
//! `audit_log/writer.rs`), reads straight to the pool, proofs to the tree
//! mirror first.

use async_trait::async_trait;
use gatehouse_audit::merkle::NodeId;
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::store::{AuditFilter, AuditLogStore, PageRequest, StoreError, StoredCheckpoint, TreeNodeId};
use sqlx::{AssertSqlSafe, Row};

use crate::audit_log::writer::fetch_nodes;
use crate::error::store_error;
use crate::rows::{self, AUDIT_COLUMNS};
use crate::sql_store::SqlStore;

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl AuditLogStore for SqlStore {
    async fn append_audit_batch(&self, records: Vec<AuditRecord>) -> Result<Vec<u64>, StoreError> {
        self.writer.submit_records(records).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        let indexes = self.writer.submit_records(vec![record]).await?;
        indexes.first().copied().ok_or_else(|| StoreError::Other("the entry got no index".into()))
    }

    async fn list_audit(&self, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.search_audit(&AuditFilter::default(), start, limit).await
    }

    async fn search_audit(&self, filter: &AuditFilter, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE idx >= $1 \
             AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
             AND ($4 IS NULL OR resource = $4) AND ($5 IS NULL OR outcome = $5) \
             AND ($6 IS NULL OR time >= $6) AND ($7 IS NULL OR time < $7) \
             ORDER BY idx LIMIT $8"
        )))
        .bind(to_i64(start))
        .bind(filter.actor.clone())
        .bind(filter.action.clone())
        .bind(filter.resource.clone())
        .bind(filter.outcome.clone())
        .bind(filter.since.map(to_unix_millis))
        .bind(filter.until.map(to_unix_millis))
        .bind(i64::from(limit.clamp(1, PageRequest::MAX_LIMIT)))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::audit_entry).collect()
    }

    async fn search_audit_newest(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE ($1 IS NULL OR idx < $1) \
             AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
             AND ($4 IS NULL OR resource = $4) AND ($5 IS NULL OR outcome = $5) \
             AND ($6 IS NULL OR time >= $6) AND ($7 IS NULL OR time < $7) \
             ORDER BY idx DESC LIMIT $8"
        )))
        .bind(before.map(to_i64))
        .bind(filter.actor.clone())
        .bind(filter.action.clone())
        .bind(filter.resource.clone())
        .bind(filter.outcome.clone())
        .bind(filter.since.map(to_unix_millis))
        .bind(filter.until.map(to_unix_millis))
        .bind(i64::from(limit.clamp(1, PageRequest::MAX_LIMIT)))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::audit_entry).collect()
    }

    async fn list_audit_leaves(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS}, leaf FROM audit_entries WHERE idx >= $1 ORDER BY idx LIMIT $2"
        )))
        .bind(to_i64(start))
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::audit_leaf).collect()
    }

    async fn audit_size(&self) -> Result<u64, StoreError> {
        let size: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(size).unwrap_or(0))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT tree_size, root, note, created_at FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| {
            let size: i64 = row.try_get("tree_size").map_err(store_error)?;
            let root: Vec<u8> = row.try_get("root").map_err(store_error)?;
            Ok(StoredCheckpoint {
                tree_size: u64::try_from(size).unwrap_or_default(),
                root: root.try_into().map_err(|_| StoreError::Other("stored root is not 32 bytes".into()))?,
                note: row.try_get("note").map_err(store_error)?,
                created_at: from_unix_millis(row.try_get("created_at").map_err(store_error)?),
            })
        })
        .transpose()
    }

    async fn find_tree_nodes(&self, ids: &[TreeNodeId]) -> Result<Vec<[u8; 32]>, StoreError> {
        let ids: Vec<NodeId> = ids.iter().map(|&(level, index)| NodeId::new(level, index)).collect();
        if let Some(hashes) = self.mirror.get_all(&ids) {
            return Ok(hashes);
        }
        self.mirror.catch_up(self.pool.clone());
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        fetch_nodes(&mut conn, &ids).await
    }
}
