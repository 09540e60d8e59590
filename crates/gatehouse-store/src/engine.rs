//! [`StoreEngine`] for [`SqlStore`]: which engine, its pool, whether it
//! answers and writes, and the credential stamp.

use async_trait::async_trait;
use gatehouse_domain::store::{LeaderLease, PoolStats, SoleNode, StoreEngine, StoreError};

use crate::connect::Engine;
use crate::lease::PostgresLease;

use crate::sql_store::SqlStore;

#[async_trait]
impl StoreEngine for SqlStore {
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

    fn scheduler_lease(&self) -> Box<dyn LeaderLease> {
        match self.engine {
            Engine::Sqlite => Box::new(SoleNode),
            Engine::Postgres => Box::new(PostgresLease::new(self.pool.clone())),
        }
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
}
