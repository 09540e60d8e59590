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

    /// A new claim on the scheduler's leadership, for one node: of the
    /// nodes sharing a database, one leads at a time. An engine only one
    /// node uses gives [`SoleNode`].
    fn scheduler_lease(&self) -> Box<dyn LeaderLease> {
        Box::new(SoleNode)
    }
}

/// Leadership of work one node of a cluster does at a time. The lease is
/// held while the holder's session with the database lives: it ends when
/// the node or its connection dies, and another node takes it at its next
/// try.
#[async_trait]
pub trait LeaderLease: Send + Sync {
    /// Whether this holder leads now: it keeps the lease while its session
    /// lives, or takes it when nobody holds it.
    async fn try_lead(&self) -> Result<bool, StoreError>;

    /// Gives the lease up (a node shutting down), so another node takes it
    /// at its next try.
    async fn release(&self);
}

/// The lease of an engine only one node uses: always led.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoleNode;

#[async_trait]
impl LeaderLease for SoleNode {
    async fn try_lead(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(&self) {}
}
