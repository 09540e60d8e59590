//! [`SqlStore`]: the [`Store`] implementation both engines share. Reads go
//! straight to the pool; every write is an operation handed to the
//! [`Writer`], which commits it with its audit records (see `writer.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_audit::merkle::NodeId;
use gatehouse_domain::audit::{AuditEntry, AuditRecord};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::grant::{Grant, NewGrant, Resource};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus, NewIdentity};
use gatehouse_domain::ids::{
    GrantId, GroupId, GroupMappingId, IdentityId, SessionId, SigningKeyId, TokenId, TrustBindingId,
};
use gatehouse_domain::mfa::{MfaAttempt, TotpRecord};
use gatehouse_domain::scim::filter::Filter;
use gatehouse_domain::scim::{GroupInput, GroupMapping, ScimGroup, ScimUser, UserInput};
use gatehouse_domain::session::{NewSession, Session, SessionCredential};
use gatehouse_domain::signing::SigningKey;
use gatehouse_domain::store::{
    AuditFilter, Credential, InitialSetup, Installation, Page, PageRequest, PoolStats, Store, StoreError,
    StoredCheckpoint, TokenFilter, TreeNodeId,
};
use gatehouse_domain::token::{ApiToken, NewToken, TokenHash};
use gatehouse_domain::webhook::WebhookDelivery;
use gatehouse_domain::workload::{NewTrustBinding, TrustBinding};
use sqlx::AnyConnection;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::connect::{ConnectOptions, Engine, OpenError, connect};
use crate::credential_cache::{CredentialCache, Stamps};
use crate::epoch_reads::EpochReads;
use crate::error::{on_unique, store_error};
use crate::rows::{self, AUDIT_COLUMNS, GRANT_COLUMNS, IDENTITY_COLUMNS, TOKEN_COLUMNS};
use crate::sqlite_appender::{AppenderSettings, SqliteAppender};
use crate::tree_mirror::TreeMirror;
use crate::write_health::WriteHealth;
use crate::writer::{Writer, WriterParts, fetch_nodes};

pub struct SqlStore {
    pub(crate) pool: AnyPool,
    engine: Engine,
    pub(crate) writer: Writer,
    mirror: Arc<TreeMirror>,
    credentials: Arc<CredentialCache>,
    health: Arc<WriteHealth>,
}

impl SqlStore {
    pub async fn open(url: &str, options: ConnectOptions) -> Result<Self, OpenError> {
        let engine = Engine::from_url(url)?;
        let pool = connect(engine, url, &options).await?;
        let repaired = crate::tree_repair::repair_tree(&pool, engine, &options.audit)
            .await
            .map_err(|e| OpenError::Migrate { url: crate::connect::redact_url(url), cause: e.to_string() })?;
        if repaired > 0 {
            tracing::info!(entries = repaired, "built the audit tree for entries written before it existed");
        }
        let mirror = TreeMirror::new(options.audit.proof_cache_nodes);
        mirror.catch_up(pool.clone());
        let credentials = Arc::new(CredentialCache::new(match engine {
            Engine::Sqlite => Stamps::Local,
            Engine::Postgres => {
                let pool = pool.clone();
                Stamps::Database(EpochReads::new(Box::new(move || read_credential_epoch(pool.clone()).boxed())))
            }
        }));
        let health = Arc::new(WriteHealth::default());
        let appender = match engine {
            Engine::Sqlite => sqlite_appender(&pool, &options.audit, &mirror, &health)
                .await
                .map_err(|cause| OpenError::Connect { url: crate::connect::redact_url(url), cause })?,
            Engine::Postgres => None,
        };
        let writer = Writer::start(WriterParts {
            pool: pool.clone(),
            engine,
            settings: options.audit,
            mirror: mirror.clone(),
            credentials: credentials.clone(),
            appender,
            health: health.clone(),
        });
        Ok(Self { pool, engine, writer, mirror, credentials, health })
    }
}

/// PostgreSQL's `credential_epoch`: moved by every transaction that changes
/// a credential, in any process.
async fn read_credential_epoch(pool: AnyPool) -> Result<u64, StoreError> {
    let epoch: i64 =
        sqlx::query_scalar("SELECT value FROM credential_epoch").fetch_one(&pool).await.map_err(store_error)?;
    u64::try_from(epoch).map_err(|_| StoreError::Other("negative credential epoch".into()))
}

pub(crate) async fn insert_identity(conn: &mut AnyConnection, new: &NewIdentity) -> Result<(), StoreError> {
    let conflict = match (new.kind, &new.email) {
        (IdentityKind::Human, Some(email)) => {
            format!("a human identity with email `{}` already exists", email.as_str())
        }
        _ => format!("a service identity named `{}` already exists", new.name.as_str()),
    };
    sqlx::query(
        "INSERT INTO identities (id, kind, name, email, email_normalized, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(new.id.to_string())
    .bind(new.kind.as_str())
    .bind(new.name.as_str().to_owned())
    .bind(new.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(new.email.as_ref().map(|e| e.normalized()))
    .bind(to_unix_millis(new.created_at))
    .execute(&mut *conn)
    .await
    .map_err(on_unique(|_| conflict.clone()))?;
    Ok(())
}

async fn insert_token(conn: &mut AnyConnection, new: &NewToken) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens \
         (id, identity_id, token_hash, description, created_at, expires_at, created_by, trust_binding_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id.to_string())
    .bind(new.identity_id.to_string())
    .bind(new.hash.as_bytes().to_vec())
    .bind(new.description.clone())
    .bind(to_unix_millis(new.created_at))
    .bind(to_unix_millis(new.expires_at))
    .bind(new.created_by.map(|id| id.to_string()))
    .bind(new.trust_binding_id.map(|id| id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(on_unique(|_| "a token with this secret already exists".to_owned()))?;
    Ok(())
}

pub(crate) async fn insert_grant(conn: &mut AnyConnection, new: &NewGrant) -> Result<(), StoreError> {
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
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Revokes every token, grant and session of an identity, in the caller's
/// transaction: what losing access means, wherever it happens.
pub(crate) async fn revoke_access(conn: &mut AnyConnection, id: IdentityId, at: i64) -> Result<(), StoreError> {
    for table in ["api_tokens", "grants", "sessions"] {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET revoked_at = $1 WHERE identity_id = $2 AND revoked_at IS NULL"
        )))
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

pub(crate) async fn identity_in(conn: &mut AnyConnection, id: IdentityId) -> Result<Identity, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("identity", id))?;
    rows::identity(&row)
}

async fn token_in(conn: &mut AnyConnection, id: TokenId) -> Result<ApiToken, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("token", id))?;
    rows::token(&row)
}

pub(crate) fn clamp_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, PageRequest::MAX_LIMIT))
}

/// Cuts one extra row off a page fetched with `limit + 1` and makes the
/// cursor from the last kept item.
pub(crate) fn into_page<T>(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_after = if has_more { items.last().map(cursor) } else { None };
    Page { items, next_after }
}

/// `(kind, id)` as stored: the resource's text form split at its first `:`.
fn resource_key(resource: &Resource) -> (String, String) {
    let text = resource.to_string();
    match text.split_once(':') {
        Some((kind, id)) => (kind.to_owned(), id.to_owned()),
        None => (text, String::new()),
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
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

    async fn credential_stamp(&self) -> Result<Option<u64>, StoreError> {
        self.credentials.stamp().await.map(Some)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // The words are shown by `/readyz`; the cause goes to the log.
        if let Err(cause) = sqlx::query("SELECT 1").execute(&self.pool).await {
            tracing::warn!(%cause, "the database does not answer");
            return Err(StoreError::Unavailable("the database does not answer".into()));
        }
        match self.health.failing() {
            Some(reason) => Err(StoreError::Unavailable(reason.into())),
            None => Ok(()),
        }
    }

    async fn find_installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query("SELECT initialized_at, audit_public_key, audit_origin FROM installation")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let origin: Option<String> = row.try_get("audit_origin").map_err(store_error)?;
            Ok(Installation {
                initialized_at: from_unix_millis(row.try_get("initialized_at").map_err(store_error)?),
                audit_public_key: row.try_get("audit_public_key").map_err(store_error)?,
                audit_origin: origin.unwrap_or_else(|| crate::DEFAULT_ORIGIN.to_owned()),
            })
        })
        .transpose()
    }

    async fn initialize(&self, setup: InitialSetup) -> Result<Installation, StoreError> {
        let (installation, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let installation = Installation {
                        initialized_at: setup.admin.created_at,
                        audit_public_key: setup.audit_public_key,
                        audit_origin: setup.audit_origin,
                    };
                    sqlx::query(
                        "INSERT INTO installation (singleton, initialized_at, audit_public_key, audit_origin) \
                         VALUES (1, $1, $2, $3)",
                    )
                    .bind(to_unix_millis(installation.initialized_at))
                    .bind(installation.audit_public_key.clone())
                    .bind(installation.audit_origin.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(|_| "the database is already initialized".to_owned()))?;
                    insert_identity(conn, &setup.admin).await?;
                    insert_grant(conn, &setup.admin_grant).await?;
                    insert_token(conn, &setup.admin_token).await?;
                    Ok((installation, setup.audit))
                }
                .boxed()
            })
            .await?;
        Ok(installation)
    }

    async fn create_identity(&self, new: NewIdentity, audit: AuditRecord) -> Result<Identity, StoreError> {
        let (identity, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    insert_identity(conn, &new).await?;
                    Ok((identity_in(conn, new.id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(identity)
    }

    async fn find_identity(&self, id: IdentityId) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1")))
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
        let items = rows.iter().map(rows::identity).collect::<Result<Vec<_>, _>>()?;
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
        let (identity, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    let current = identity_in(conn, id).await?;
                    if current.status != from {
                        return Err(StoreError::Conflict(format!("identity `{id}` is {}, not {from}", current.status)));
                    }
                    sqlx::query("UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3")
                        .bind(to.as_str())
                        .bind(at)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(on_unique(|_| {
                            format!("another active identity already uses the email or name of `{id}`")
                        }))?;
                    if to == IdentityStatus::Deprovisioned {
                        revoke_access(conn, id, at).await?;
                    }
                    Ok((identity_in(conn, id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(identity)
    }

    async fn create_token(&self, new: NewToken, audit: AuditRecord) -> Result<ApiToken, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let owner = identity_in(conn, new.identity_id).await?;
                    if !owner.status.is_active() {
                        return Err(StoreError::Conflict(format!("identity `{}` is {}", owner.id, owner.status)));
                    }
                    insert_token(conn, &new).await?;
                    Ok((token_in(conn, new.id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }

    async fn create_workload_token(
        &self,
        new: NewToken,
        once: gatehouse_domain::workload_exchange::WorkloadTokenUse,
        audit: AuditRecord,
    ) -> Result<Option<ApiToken>, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    // Bounded: a use is forgotten once its token has expired.
                    sqlx::query("DELETE FROM workload_token_uses WHERE kept_until < $1")
                        .bind(to_unix_millis(once.used_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let recorded = sqlx::query(
                        "INSERT INTO workload_token_uses (use_key, used_at, kept_until) VALUES ($1, $2, $3) \
                         ON CONFLICT (use_key) DO NOTHING",
                    )
                    .bind(once.key.clone())
                    .bind(to_unix_millis(once.used_at))
                    .bind(to_unix_millis(once.kept_until))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if recorded.rows_affected() == 0 {
                        return Ok((None, Vec::new()));
                    }
                    let owner = identity_in(conn, new.identity_id).await?;
                    if !owner.status.is_active() {
                        return Err(StoreError::Conflict(format!("identity `{}` is {}", owner.id, owner.status)));
                    }
                    insert_token(conn, &new).await?;
                    Ok((Some(token_in(conn, new.id).await?), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }

    async fn find_credential(&self, hash: &TokenHash) -> Result<Option<Credential>, StoreError> {
        let stamp = self.credentials.stamp().await?;
        if let Some(credential) = self.credentials.get(hash, stamp) {
            return Ok(Some(credential));
        }
        // One read: the token, its owner, and the owner's unrevoked grants
        // (one row per grant, or one row with no grant).
        let token_columns = TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}"));
        let identity_columns = IDENTITY_COLUMNS.split(", ").map(|c| format!("i.{c} AS identity_{c}"));
        let grant_columns = GRANT_COLUMNS.split(", ").map(|c| format!("g.{c} AS grant_{c}"));
        let columns: Vec<String> = token_columns.chain(identity_columns).chain(grant_columns).collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, t.token_hash, m.confirmed_at AS mfa_confirmed_at \
             FROM api_tokens t JOIN identities i ON i.id = t.identity_id \
             LEFT JOIN grants g ON g.identity_id = t.identity_id AND g.revoked_at IS NULL \
             LEFT JOIN mfa_totp m ON m.identity_id = t.identity_id \
             WHERE t.token_hash = $1 ORDER BY g.id",
            columns.join(", ")
        )))
        .bind(hash.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            let grant_id: Option<String> = row.try_get("grant_id").map_err(store_error)?;
            if grant_id.is_some() {
                grants.push(rows::grant_with_prefix(row, "grant_")?);
            }
        }
        let mfa_confirmed_at: Option<i64> = first.try_get("mfa_confirmed_at").map_err(store_error)?;
        let credential = Credential {
            token: rows::token(first)?,
            hash: rows::token_hash(first)?,
            identity: rows::identity_with_prefix(first, "identity_")?,
            grants,
            mfa_enrolled: mfa_confirmed_at.is_some(),
        };
        self.credentials.put(stamp, &credential);
        Ok(Some(credential))
    }

    async fn find_token(&self, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::token).transpose()
    }

    async fn list_tokens(&self, filter: TokenFilter, page: PageRequest) -> Result<Page<ApiToken>, StoreError> {
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
        let items = rows.iter().map(rows::token).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |token| token.id.to_string()))
    }

    async fn revoke_token(&self, id: TokenId, now: OffsetDateTime, audit: AuditRecord) -> Result<ApiToken, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated =
                        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                            .bind(to_unix_millis(now))
                            .bind(id.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    let token = token_in(conn, id).await?;
                    if updated.rows_affected() == 0 {
                        return Err(StoreError::Conflict(format!("token `{id}` is already revoked")));
                    }
                    Ok((token, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }

    async fn record_token_use(
        &self,
        id: TokenId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError> {
        let at = to_unix_millis(now);
        let stale_before = to_unix_millis(now - granularity);
        self.writer
            .submit(move |conn| {
                async move {
                    sqlx::query(
                        "UPDATE api_tokens SET last_used_at = $1 \
                         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                    )
                    .bind(at)
                    .bind(id.to_string())
                    .bind(stale_before)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok(((), Vec::new()))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn create_grant(&self, new: NewGrant, audit: AuditRecord) -> Result<Grant, StoreError> {
        let (grant, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let holder = identity_in(conn, new.identity_id).await?;
                    if holder.status == IdentityStatus::Deprovisioned {
                        return Err(StoreError::Conflict(format!("identity `{}` is deprovisioned", holder.id)));
                    }
                    insert_grant(conn, &new).await?;
                    let grant = Grant {
                        id: new.id,
                        identity_id: new.identity_id,
                        role: new.role,
                        scope: new.scope,
                        created_at: new.created_at,
                        expires_at: new.expires_at,
                        revoked_at: None,
                        created_by: new.created_by,
                    };
                    Ok((grant, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(grant)
    }

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::grant).transpose()
    }

    async fn list_grants(&self, identity: Option<IdentityId>, page: PageRequest) -> Result<Page<Grant>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id > $1 AND ($2 IS NULL OR identity_id = $2) ORDER BY id LIMIT $3"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(identity.map(|id| id.to_string()))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows.iter().map(rows::grant).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |grant| grant.id.to_string()))
    }

    async fn create_resource(
        &self,
        resource: &Resource,
        created_at: OffsetDateTime,
        created_by: Option<IdentityId>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let (kind, id) = resource_key(resource);
        let shown = resource.to_string();
        self.writer
            .submit(move |conn| {
                async move {
                    sqlx::query("INSERT INTO resources (kind, id, created_at, created_by) VALUES ($1, $2, $3, $4)")
                        .bind(kind)
                        .bind(id)
                        .bind(to_unix_millis(created_at))
                        .bind(created_by.map(|id| id.to_string()))
                        .execute(&mut *conn)
                        .await
                        .map_err(on_unique(|_| format!("`{shown}` is registered already")))?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn list_resources(&self) -> Result<Vec<Resource>, StoreError> {
        let rows = sqlx::query("SELECT kind, id FROM resources ORDER BY kind, id")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(store_error)?;
                let id: String = row.try_get("id").map_err(store_error)?;
                Resource::from_parts(&kind, &id)
                    .ok_or_else(|| StoreError::Other(format!("stored resource `{kind}:{id}` cannot be read")))
            })
            .collect()
    }

    async fn revoke_grant(&self, id: GrantId, now: OffsetDateTime, audit: AuditRecord) -> Result<Grant, StoreError> {
        let (grant, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                        .bind(to_unix_millis(now))
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let row = sqlx::query(AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")))
                        .bind(id.to_string())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .ok_or_else(|| StoreError::not_found("grant", id))?;
                    if updated.rows_affected() == 0 {
                        return Err(StoreError::Conflict(format!("grant `{id}` is already revoked")));
                    }
                    Ok((rows::grant(&row)?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(grant)
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

    async fn create_trust_binding(&self, new: NewTrustBinding, audit: AuditRecord) -> Result<TrustBinding, StoreError> {
        crate::trust_bindings::create(self, new, audit).await
    }

    async fn find_trust_binding(&self, id: TrustBindingId) -> Result<Option<TrustBinding>, StoreError> {
        crate::trust_bindings::find(self, id).await
    }

    async fn list_trust_bindings(&self, page: PageRequest) -> Result<Page<TrustBinding>, StoreError> {
        crate::trust_bindings::list(self, page).await
    }

    async fn trust_bindings_for_issuer(&self, issuer: &str) -> Result<Vec<TrustBinding>, StoreError> {
        crate::trust_bindings::for_issuer(self, issuer).await
    }

    async fn delete_trust_binding(
        &self,
        id: TrustBindingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<TrustBinding, StoreError> {
        crate::trust_bindings::delete(self, id, now, audit).await
    }

    async fn record_webhook_delivery(
        &self,
        delivery: WebhookDelivery,
        audit: Vec<AuditRecord>,
    ) -> Result<Vec<u64>, StoreError> {
        crate::trust_bindings::record_delivery(self, delivery, audit).await
    }

    async fn create_signing_key(&self, key: SigningKey, audit: AuditRecord) -> Result<SigningKey, StoreError> {
        crate::signing_keys::create(self, key, audit).await
    }

    async fn list_signing_keys(&self, identity: IdentityId) -> Result<Vec<SigningKey>, StoreError> {
        crate::signing_keys::list(self, identity).await
    }

    async fn update_signing_key_text(
        &self,
        id: SigningKeyId,
        public_key: String,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError> {
        crate::signing_keys::update_text(self, id, public_key, audit).await
    }

    async fn delete_signing_key(
        &self,
        identity: IdentityId,
        id: SigningKeyId,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError> {
        crate::signing_keys::delete(self, identity, id, audit).await
    }

    async fn find_signing_key(&self, lookup_ids: &[String]) -> Result<Option<SigningKey>, StoreError> {
        crate::signing_keys::find(self, lookup_ids).await
    }

    async fn find_signing_key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<SigningKey>, StoreError> {
        crate::signing_keys::find_by_fingerprint(self, fingerprint).await
    }

    async fn scim_create_user(
        &self,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        crate::scim::create(self, input, now, audit).await
    }

    async fn scim_find_user(&self, id: IdentityId) -> Result<Option<ScimUser>, StoreError> {
        crate::scim::find(self, id).await
    }

    async fn scim_list_users(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimUser>), StoreError> {
        crate::scim::list(self, filter, start_index, count).await
    }

    async fn scim_update_user(
        &self,
        id: IdentityId,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        crate::scim::update(self, id, input, now, audit).await
    }

    async fn scim_delete_user(
        &self,
        id: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::scim::delete(self, id, now, audit).await
    }

    async fn scim_link_user(
        &self,
        id: IdentityId,
        user_name: String,
        attributes: serde_json::Map<String, serde_json::Value>,
        linked_by: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        crate::scim::link(self, id, user_name, attributes, linked_by, now, audit).await
    }

    async fn scim_unlink_user(
        &self,
        id: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::scim::unlink(self, id, now, audit).await
    }

    async fn scim_create_group(
        &self,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError> {
        crate::scim_groups::create(self, input, now, audit).await
    }

    async fn scim_find_group(&self, id: GroupId) -> Result<Option<ScimGroup>, StoreError> {
        crate::scim_groups::find(self, id).await
    }

    async fn scim_list_groups(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError> {
        crate::scim_groups::list(self, filter, start_index, count).await
    }

    async fn scim_replace_group(
        &self,
        id: GroupId,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError> {
        crate::scim_groups::replace(self, id, input, now, audit).await
    }

    async fn scim_delete_group(&self, id: GroupId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError> {
        crate::scim_groups::delete(self, id, now, audit).await
    }

    async fn create_group_mapping(
        &self,
        mapping: GroupMapping,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError> {
        crate::scim_groups::create_mapping(self, mapping, audit).await
    }

    async fn list_group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError> {
        crate::scim_groups::list_mappings(self).await
    }

    async fn delete_group_mapping(
        &self,
        id: GroupMappingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError> {
        crate::scim_groups::delete_mapping(self, id, now, audit).await
    }

    async fn mfa_begin(
        &self,
        identity: IdentityId,
        sealed_secret: Vec<u8>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::mfa::begin(self, identity, sealed_secret, now, audit).await
    }

    async fn mfa_find(&self, identity: IdentityId) -> Result<Option<TotpRecord>, StoreError> {
        crate::mfa::find(self, identity).await
    }

    async fn mfa_succeed(
        &self,
        identity: IdentityId,
        step: Option<u64>,
        recovery_hashes: Option<Vec<String>>,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::mfa::succeed(self, identity, step, recovery_hashes, token, now, audit).await
    }

    async fn mfa_use_recovery_code(
        &self,
        identity: IdentityId,
        code_hash: &str,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::mfa::use_recovery_code(self, identity, code_hash, token, now, audit).await
    }

    async fn mfa_claim_attempt(&self, identity: IdentityId, now: OffsetDateTime) -> Result<MfaAttempt, StoreError> {
        crate::mfa::claim_attempt(self, identity, now).await
    }

    async fn mfa_reset(&self, identity: IdentityId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError> {
        crate::mfa::reset(self, identity, now, audit).await
    }

    async fn create_session(
        &self,
        new: NewSession,
        link: Option<(String, String)>,
        audit: AuditRecord,
    ) -> Result<Session, StoreError> {
        crate::sessions::create(self, new, link, audit).await
    }

    async fn find_session(&self, hash: &TokenHash) -> Result<Option<SessionCredential>, StoreError> {
        crate::sessions::find(self, hash).await
    }

    async fn touch_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError> {
        crate::sessions::touch(self, id, now, granularity).await
    }

    async fn rotate_session(
        &self,
        id: SessionId,
        hash: TokenHash,
        mfa_verified_at: Option<OffsetDateTime>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        crate::sessions::rotate(self, id, hash, mfa_verified_at, audit).await
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Session, StoreError> {
        crate::sessions::revoke(self, id, now, audit).await
    }

    async fn find_session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        crate::sessions::find_by_id(self, id).await
    }

    async fn list_sessions(&self, identity: IdentityId) -> Result<Vec<Session>, StoreError> {
        crate::sessions::list(self, identity).await
    }

    async fn find_identity_link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityId>, StoreError> {
        crate::sessions::find_link(self, issuer, subject).await
    }

    async fn list_identity_links(
        &self,
        identity: IdentityId,
    ) -> Result<Vec<gatehouse_domain::session::IdentityLink>, StoreError> {
        crate::sessions::list_links(self, identity).await
    }

    async fn find_human_by_email(&self, email: &str) -> Result<Option<Identity>, StoreError> {
        crate::sessions::find_human_by_email(self, email).await
    }

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

/// SQLite's appender on the database's own file; none for an in-memory
/// database, which a second connection would not see.
async fn sqlite_appender(
    pool: &AnyPool,
    audit: &crate::AuditSettings,
    mirror: &Arc<TreeMirror>,
    health: &Arc<WriteHealth>,
) -> Result<Option<SqliteAppender>, String> {
    let file: Option<String> = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_optional(pool)
        .await
        .map_err(|e| e.to_string())?;
    match file.filter(|file| !file.is_empty()) {
        Some(file) => SqliteAppender::open(
            &file,
            AppenderSettings {
                signer: audit.signer.clone(),
                forwarder: audit.forwarder.clone(),
                mirror: mirror.clone(),
                max_batch: audit.max_batch,
                health: health.clone(),
            },
        )
        .map(Some),
        None => Ok(None),
    }
}
