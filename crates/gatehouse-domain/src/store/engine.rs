//! What an engine is, and whether it serves: facts about the database under the
//! store, not the domain's state. A server holds it beside the [`Store`](super::Store),
//! for health, metrics and caches.

use async_trait::async_trait;

use super::StoreError;

/// Counts the pool reports for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[async_trait]
pub trait StoreEngine: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;

    fn pool_stats(&self) -> PoolStats;

    /// A number that moves with every committed change to what
    /// authenticates a caller (tokens, identities, grants, second factors,
    /// trust bindings), before the change is acknowledged, as read after
    /// this call began: callers may cache what they read after it, stamped
    /// with it, and serve it while the stamp is unchanged. `None`: nothing
    /// may be cached.
    async fn credential_stamp(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StoreError>;
}
