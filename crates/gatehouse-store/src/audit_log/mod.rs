//! The audit log's engine: the single writer that commits every change with
//! its numbered entries (group commit), the appenders for batches of entries
//! alone (SQLite's own thread; PostgreSQL's native connection), the Merkle
//! tree's mirror in memory and its repair at startup, the tree's row keys,
//! and the write health `/readyz` reports. What the store answers about the
//! log is `areas/audit_log.rs`.

pub(crate) mod postgres_appender;
pub(crate) mod sqlite_appender;
pub(crate) mod tree_key;
pub(crate) mod tree_mirror;
pub(crate) mod tree_repair;
pub(crate) mod write_health;
pub(crate) mod writer;
