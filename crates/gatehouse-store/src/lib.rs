//! gatehouse's storage: one implementation of every store trait over sqlx's `Any`
//! driver, so SQLite (the embedded default) and PostgreSQL (shared by several
//! `serve` processes) run the same queries. Each engine has its own
//! migrations folder; the engine is chosen from the URL scheme.
//!
//! The SQL is written in the dialect both engines share: `$n` placeholders,
//! `TEXT`/`BIGINT`/blob columns, `ON CONFLICT`, `RETURNING`, partial indexes.
//! Where they differ (how to open, how to serialize writers) [`Engine`] says.

mod areas;
mod audit_log;
mod connect;
mod credential_cache;
mod engine;
mod error;
mod lease;
mod rows;
mod sql_store;

use std::sync::Arc;

pub use audit_log::writer::AuditSettings;
pub use connect::{ConnectOptions, DEFAULT_SQLITE_MEMORY_BYTES, Engine, OpenError};
use gatehouse_domain::store::OpenedStore;
pub use sql_store::SqlStore;

/// The checkpoint origin of an installation initialized before origins were
/// recorded.
pub const DEFAULT_ORIGIN: &str = "gatehouse";

/// Opens the database at `url`, applying pending migrations.
pub async fn open(url: &str, options: ConnectOptions) -> Result<Arc<dyn OpenedStore>, OpenError> {
    Ok(Arc::new(SqlStore::open(url, options).await?))
}

/// The URL with any password replaced, for messages and logs.
pub fn connect_redacted(url: &str) -> String {
    connect::redact_url(url)
}
