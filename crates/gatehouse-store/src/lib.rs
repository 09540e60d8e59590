//! gatehouse's storage: one [`Store`] implementation over sqlx's `Any`
//! driver, so SQLite (the embedded default) and PostgreSQL (shared by several
//! `serve` processes) run the same queries. Each engine has its own
//! migrations folder; the engine is chosen from the URL scheme.
//!
//! The SQL is written in the dialect both engines share: `$n` placeholders,
//! `TEXT`/`BIGINT`/blob columns, `ON CONFLICT`, `RETURNING`, partial indexes.
//! Where they differ (how to open, how to serialize writers) [`Engine`] says.

mod connect;
mod credential_cache;
mod epoch_reads;
mod error;
mod mfa;
mod postgres_appender;
mod rows;
mod scim;
mod scim_groups;
mod sessions;
mod signing_keys;
mod sql_store;
mod sqlite_appender;
mod tree_key;
mod tree_mirror;
mod tree_repair;
mod trust_bindings;
mod write_health;
mod writer;

use std::sync::Arc;

pub use connect::{ConnectOptions, DEFAULT_SQLITE_MEMORY_BYTES, Engine, OpenError};
use gatehouse_domain::store::Store;
pub use sql_store::SqlStore;
pub use writer::AuditSettings;

/// The checkpoint origin of an installation initialized before origins were
/// recorded.
pub const DEFAULT_ORIGIN: &str = "gatehouse";

/// Opens the database at `url`, applying pending migrations.
pub async fn open(url: &str, options: ConnectOptions) -> Result<Arc<dyn Store>, OpenError> {
    Ok(Arc::new(SqlStore::open(url, options).await?))
}

/// The URL with any password replaced, for messages and logs.
pub fn connect_redacted(url: &str) -> String {
    connect::redact_url(url)
}
