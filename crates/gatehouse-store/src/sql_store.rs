//! [`SqlStore`]: the store both engines share, and what it is made of (a
//! pool, the audit log's writer and tree mirror, the credential cache).
//! Each area's trait is implemented in its own file under `areas/`; reads go
//! straight to the pool, and every write is an operation handed to the
//! [`Writer`], which commits it with its audit records (see
//! `audit_log/writer.rs`).

use std::sync::Arc;

use futures_util::FutureExt;
use gatehouse_domain::store::{Page, PageRequest, StoreError};
use sqlx::AnyPool;

use crate::audit_log::sqlite_appender::{AppenderSettings, SqliteAppender};
use crate::audit_log::tree_mirror::TreeMirror;
use crate::audit_log::write_health::WriteHealth;
use crate::audit_log::writer::{Writer, WriterParts};
use crate::connect::{ConnectOptions, Engine, OpenError, connect};
use crate::credential_cache::epoch_reads::EpochReads;
use crate::credential_cache::{CredentialCache, Stamps};
use crate::error::store_error;

pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) engine: Engine,
    pub(crate) writer: Writer,
    pub(crate) mirror: Arc<TreeMirror>,
    pub(crate) credentials: Arc<CredentialCache>,
    pub(crate) health: Arc<WriteHealth>,
}

impl SqlStore {
    pub async fn open(url: &str, options: ConnectOptions) -> Result<Self, OpenError> {
        let engine = Engine::from_url(url)?;
        let pool = connect(engine, url, &options).await?;
        let repaired = crate::audit_log::tree_repair::repair_tree(&pool, engine, &options.audit)
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
