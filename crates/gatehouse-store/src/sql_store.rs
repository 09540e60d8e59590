//! [`SqlStore`]: the [`Store`] implementation both engines share.

use async_trait::async_trait;
use gatehouse_domain::audit::{AuditEntry, AuditRecord};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::grant::{Grant, NewGrant};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus, NewIdentity};
use gatehouse_domain::ids::{GrantId, IdentityId, TokenId};
use gatehouse_domain::store::{
    Credential, InitialSetup, Installation, Page, PageRequest, PoolStats, Store, StoreError,
    TokenFilter,
};
use gatehouse_domain::token::{ApiToken, NewToken, TokenHash};
use sqlx::any::Any;
use sqlx::{AnyPool, AssertSqlSafe, Row, Transaction};
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

use crate::connect::{ConnectOptions, Engine, OpenError, connect};
use crate::error::{on_unique, store_error};
use crate::rows::{self, AUDIT_COLUMNS, GRANT_COLUMNS, IDENTITY_COLUMNS, TOKEN_COLUMNS};

/// Any arbitrary constant, shared by every process on one PostgreSQL
/// database: the advisory lock that serializes audit appends.
const AUDIT_APPEND_LOCK: i64 = 0x6761_7465_686f_7573;

pub struct SqlStore {
    pool: AnyPool,
    engine: Engine,
    /// SQLite has one writer at a time; queueing writers here instead of in
    /// SQLite's busy handler keeps them fair and avoids busy timeouts.
    sqlite_writer: Mutex<()>,
}

/// A write transaction, holding the writer slot for its lifetime.
struct WriteTx<'a> {
    tx: Transaction<'static, Any>,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl SqlStore {
    pub async fn open(url: &str, options: ConnectOptions) -> Result<Self, OpenError> {
        let engine = Engine::from_url(url)?;
        let pool = connect(engine, url, &options).await?;
        Ok(Self {
            pool,
            engine,
            sqlite_writer: Mutex::new(()),
        })
    }

    /// Begins a transaction that may append to the audit log. Audit indexes
    /// are gap-free, so appenders are serialized: SQLite by taking its write
    /// lock up front, PostgreSQL by a transaction-scoped advisory lock that
    /// holds across processes.
    async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        match self.engine {
            Engine::Sqlite => {
                let writer = self.sqlite_writer.lock().await;
                let tx = self
                    .pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(store_error)?;
                Ok(WriteTx {
                    tx,
                    _writer: Some(writer),
                })
            }
            Engine::Postgres => {
                let mut tx = self.pool.begin().await.map_err(store_error)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_APPEND_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                Ok(WriteTx { tx, _writer: None })
            }
        }
    }

    async fn commit(write: WriteTx<'_>) -> Result<(), StoreError> {
        write.tx.commit().await.map_err(store_error)
    }
}

/// Numbers `record` with the next index and inserts it. The caller holds the
/// append lock (see [`SqlStore::begin_write`]).
async fn append(
    tx: &mut Transaction<'static, Any>,
    record: AuditRecord,
) -> Result<u64, StoreError> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
        .fetch_one(&mut **tx)
        .await
        .map_err(store_error)?;
    let index = u64::try_from(next)
        .map_err(|_| StoreError::Other(format!("audit index {next} out of range")))?;
    let entry = record.into_entry(index);
    let record = &entry.record;
    sqlx::query(
        "INSERT INTO audit_entries (idx, time, actor, actor_kind, action, resource, outcome, reason, \
         request_id, source_ip, mfa, details, leaf) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(next)
    .bind(to_unix_millis(record.time))
    .bind(record.actor.id())
    .bind(record.actor.kind())
    .bind(&record.action)
    .bind(&record.resource)
    .bind(record.outcome.as_str())
    .bind(&record.reason)
    .bind(record.origin.request_id.as_deref())
    .bind(record.origin.source_ip.as_deref())
    .bind(i64::from(record.mfa))
    .bind(record.details.to_string())
    .bind(entry.leaf_bytes())
    .execute(&mut **tx)
    .await
    .map_err(store_error)?;
    Ok(index)
}

async fn insert_identity(
    tx: &mut Transaction<'static, Any>,
    new: &NewIdentity,
) -> Result<(), StoreError> {
    let at = to_unix_millis(new.created_at);
    let conflict = match (new.kind, &new.email) {
        (IdentityKind::Human, Some(email)) => format!(
            "a human identity with email `{}` already exists",
            email.as_str()
        ),
        _ => format!(
            "a service identity named `{}` already exists",
            new.name.as_str()
        ),
    };
    sqlx::query(
        "INSERT INTO identities (id, kind, name, email, email_normalized, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(new.id.to_string())
    .bind(new.kind.as_str())
    .bind(new.name.as_str())
    .bind(new.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(new.email.as_ref().map(|e| e.normalized()))
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(on_unique(|_| conflict.clone()))?;
    Ok(())
}

async fn insert_token(
    tx: &mut Transaction<'static, Any>,
    new: &NewToken,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens (id, identity_id, token_hash, description, created_at, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id.to_string())
    .bind(new.identity_id.to_string())
    .bind(new.hash.as_bytes().to_vec())
    .bind(&new.description)
    .bind(to_unix_millis(new.created_at))
    .bind(to_unix_millis(new.expires_at))
    .bind(new.created_by.map(|id| id.to_string()))
    .execute(&mut **tx)
    .await
    .map_err(on_unique(|_| "a token with this secret already exists".to_owned()))?;
    Ok(())
}

async fn insert_grant(
    tx: &mut Transaction<'static, Any>,
    new: &NewGrant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, identity_id, role, scope, created_at, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id.to_string())
    .bind(new.identity_id.to_string())
    .bind(new.role.as_str())
    .bind(new.scope.to_string())
    .bind(to_unix_millis(new.created_at))
    .bind(new.expires_at.map(to_unix_millis))
    .bind(new.created_by.map(|id| id.to_string()))
    .execute(&mut **tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

async fn identity_in(
    tx: &mut Transaction<'static, Any>,
    id: IdentityId,
) -> Result<Identity, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(store_error)?
    .ok_or_else(|| StoreError::not_found("identity", id))?;
    rows::identity(&row)
}

fn clamp_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, PageRequest::MAX_LIMIT))
}

/// Cuts one extra row off a page fetched with `limit + 1` and makes the
/// cursor from the last kept item.
fn into_page<T>(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_after = if has_more {
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next_after }
}

#[async_trait]
impl Store for SqlStore {
    fn engine(&self) -> &'static str {
        self.engine.name()
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn find_installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query("SELECT initialized_at, audit_public_key FROM installation")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            Ok(Installation {
                initialized_at: from_unix_millis(
                    row.try_get("initialized_at").map_err(store_error)?,
                ),
                audit_public_key: row.try_get("audit_public_key").map_err(store_error)?,
            })
        })
        .transpose()
    }

    async fn initialize(&self, setup: InitialSetup) -> Result<Installation, StoreError> {
        let mut write = self.begin_write().await?;
        let tx = &mut write.tx;
        let installation = Installation {
            initialized_at: setup.admin.created_at,
            audit_public_key: setup.audit_public_key,
        };
        sqlx::query("INSERT INTO installation (singleton, initialized_at, audit_public_key) VALUES (1, $1, $2)")
            .bind(to_unix_millis(installation.initialized_at))
            .bind(&installation.audit_public_key)
            .execute(&mut **tx)
            .await
            .map_err(on_unique(|_| "the database is already initialized".to_owned()))?;
        insert_identity(tx, &setup.admin).await?;
        insert_grant(tx, &setup.admin_grant).await?;
        insert_token(tx, &setup.admin_token).await?;
        for record in setup.audit {
            append(tx, record).await?;
        }
        Self::commit(write).await?;
        Ok(installation)
    }

    async fn create_identity(
        &self,
        new: NewIdentity,
        audit: AuditRecord,
    ) -> Result<Identity, StoreError> {
        let mut write = self.begin_write().await?;
        insert_identity(&mut write.tx, &new).await?;
        append(&mut write.tx, audit).await?;
        let identity = identity_in(&mut write.tx, new.id).await?;
        Self::commit(write).await?;
        Ok(identity)
    }

    async fn find_identity(&self, id: IdentityId) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(rows::identity).transpose()
    }

    async fn list_identities(&self, page: PageRequest) -> Result<Page<Identity>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows
            .iter()
            .map(rows::identity)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |identity| identity.id.to_string()))
    }

    async fn update_identity_status(
        &self,
        id: IdentityId,
        from: IdentityStatus,
        to: IdentityStatus,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Identity, StoreError> {
        let at = to_unix_millis(now);
        let mut write = self.begin_write().await?;
        let tx = &mut write.tx;
        let current = identity_in(tx, id).await?;
        if current.status != from {
            return Err(StoreError::Conflict(format!(
                "identity `{id}` is {}, not {}",
                current.status, from
            )));
        }
        sqlx::query("UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(at)
            .bind(id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(on_unique(|_| {
                format!("another active identity already uses the email or name of `{id}`")
            }))?;
        if to == IdentityStatus::Deprovisioned {
            for table in ["api_tokens", "grants"] {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {table} SET revoked_at = $1 WHERE identity_id = $2 AND revoked_at IS NULL"
                )))
                .bind(at)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await
                .map_err(store_error)?;
            }
        }
        append(tx, audit).await?;
        let identity = identity_in(tx, id).await?;
        Self::commit(write).await?;
        Ok(identity)
    }

    async fn create_token(
        &self,
        new: NewToken,
        audit: AuditRecord,
    ) -> Result<ApiToken, StoreError> {
        let mut write = self.begin_write().await?;
        let owner = identity_in(&mut write.tx, new.identity_id).await?;
        if !owner.status.is_active() {
            return Err(StoreError::Conflict(format!(
                "identity `{}` is {}",
                owner.id, owner.status
            )));
        }
        insert_token(&mut write.tx, &new).await?;
        append(&mut write.tx, audit).await?;
        Self::commit(write).await?;
        Ok(ApiToken {
            id: new.id,
            identity_id: new.identity_id,
            description: new.description,
            created_at: new.created_at,
            expires_at: new.expires_at,
            last_used_at: None,
            revoked_at: None,
            created_by: new.created_by,
        })
    }

    async fn find_credential(&self, hash: &TokenHash) -> Result<Option<Credential>, StoreError> {
        let token_columns = TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}"));
        let identity_columns = IDENTITY_COLUMNS
            .split(", ")
            .map(|c| format!("i.{c} AS identity_{c}"));
        let columns: Vec<String> = token_columns.chain(identity_columns).collect();
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, t.token_hash FROM api_tokens t JOIN identities i ON i.id = t.identity_id \
             WHERE t.token_hash = $1",
            columns.join(", ")
        )))
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Credential {
            token: rows::token(&row)?,
            hash: rows::token_hash(&row)?,
            identity: rows::identity_with_prefix(&row, "identity_")?,
        }))
    }

    async fn find_token(&self, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(rows::token).transpose()
    }

    async fn list_tokens(
        &self,
        filter: TokenFilter,
        page: PageRequest,
    ) -> Result<Page<ApiToken>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id > $1 AND ($2 IS NULL OR identity_id = $2) \
             ORDER BY id LIMIT $3"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(filter.identity_id.map(|id| id.to_string()))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows
            .iter()
            .map(rows::token)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |token| token.id.to_string()))
    }

    async fn revoke_token(
        &self,
        id: TokenId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ApiToken, StoreError> {
        let mut write = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(to_unix_millis(now))
        .bind(id.to_string())
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&mut *write.tx)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("token", id))?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "token `{id}` is already revoked"
            )));
        }
        append(&mut write.tx, audit).await?;
        Self::commit(write).await?;
        rows::token(&row)
    }

    async fn record_token_use(
        &self,
        id: TokenId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError> {
        let at = to_unix_millis(now);
        let stale_before = to_unix_millis(now - granularity);
        let _writer = match self.engine {
            Engine::Sqlite => Some(self.sqlite_writer.lock().await),
            Engine::Postgres => None,
        };
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(at)
        .bind(id.to_string())
        .bind(stale_before)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn create_grant(&self, new: NewGrant, audit: AuditRecord) -> Result<Grant, StoreError> {
        let mut write = self.begin_write().await?;
        let holder = identity_in(&mut write.tx, new.identity_id).await?;
        if holder.status == IdentityStatus::Deprovisioned {
            return Err(StoreError::Conflict(format!(
                "identity `{}` is deprovisioned",
                holder.id
            )));
        }
        insert_grant(&mut write.tx, &new).await?;
        append(&mut write.tx, audit).await?;
        Self::commit(write).await?;
        Ok(Grant {
            id: new.id,
            identity_id: new.identity_id,
            role: new.role,
            scope: new.scope,
            created_at: new.created_at,
            expires_at: new.expires_at,
            revoked_at: None,
            created_by: new.created_by,
        })
    }

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(rows::grant).transpose()
    }

    async fn list_grants_of(&self, identity: IdentityId) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE identity_id = $1 ORDER BY id"
        )))
        .bind(identity.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::grant).collect()
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError> {
        let mut write = self.begin_write().await?;
        let index = append(&mut write.tx, record).await?;
        Self::commit(write).await?;
        Ok(index)
    }

    async fn list_audit(&self, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let start = i64::try_from(start).unwrap_or(i64::MAX);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE idx >= $1 ORDER BY idx LIMIT $2"
        )))
        .bind(start)
        .bind(i64::from(limit.clamp(1, PageRequest::MAX_LIMIT)))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::audit_entry).collect()
    }

    async fn audit_size(&self) -> Result<u64, StoreError> {
        let size: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(u64::try_from(size).unwrap_or(0))
    }
}
