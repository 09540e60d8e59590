//! Mapping sqlx errors into [`StoreError`]: no sqlx type leaves this crate.

use gatehouse_domain::store::StoreError;

pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("a unique constraint refused the write: {}", db.message()))
        }
        _ => StoreError::Other(error.to_string()),
    }
}

/// Like [`store_error`], but a unique violation becomes `conflict`, a
/// message in domain words.
pub(crate) fn on_unique(conflict: impl Fn(&str) -> String) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // SQLite names the columns, PostgreSQL the index.
            let which = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
            StoreError::Conflict(conflict(&which))
        }
        _ => store_error(error),
    }
}

/// A stored value that does not decode: the database holds something the
/// code never writes.
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} `{value}` cannot be read"))
}
