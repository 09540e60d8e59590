//! Mapping sqlx errors into [`StoreError`]: no sqlx type leaves this crate.

use gatehouse_domain::store::{Conflict, StoreError};

pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(Conflict::Unique { detail: db.message().to_owned() })
        }
        sqlx::Error::Database(db) if db.code().is_some_and(|code| is_unavailable_code(&code)) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Other(error.to_string()),
    }
}

/// Whether a database error code says the database cannot serve for now,
/// through no fault of the request: it is worth trying again later.
///
/// SQLite's codes are numbers (extended: the primary code in the low
/// byte): a full disk, an I/O error, a busy or locked database, a file it
/// cannot open. PostgreSQL's are SQLSTATEs: connection exceptions (class
/// 08), insufficient resources such as a full disk (53), an operator
/// intervention such as a shutdown or a restart (57P), and a system error
/// such as an I/O error (58).
pub(crate) fn is_unavailable_code(code: &str) -> bool {
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;
    const SQLITE_IOERR: i64 = 10;
    const SQLITE_FULL: i64 = 13;
    const SQLITE_CANTOPEN: i64 = 14;
    // A SQLSTATE has five characters, often all digits; SQLite's extended
    // codes have at most four.
    if code.len() == 5 {
        return ["08", "53", "57P", "58"].iter().any(|class| code.starts_with(class));
    }
    code.parse::<i64>().is_ok_and(|number| {
        matches!(number & 0xff, SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN)
    })
}

/// Like [`store_error`], but a unique violation becomes `conflict`, the
/// case in domain words.
pub(crate) fn on_unique(conflict: impl Fn(&str) -> Conflict) -> impl Fn(sqlx::Error) -> StoreError {
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

#[cfg(test)]
mod tests;
