//! The scheduler's leadership on PostgreSQL: a session-level advisory lock
//! (`pg_try_advisory_lock`) held on a connection of its own, taken out of
//! the pool. The lock lasts as long as that session: when the node or its
//! connection dies, PostgreSQL lets it go and another node takes it at its
//! next try. SQLite is one node: it always leads (`SoleNode`).

use async_trait::async_trait;
use gatehouse_domain::store::{LeaderLease, StoreError};
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::Mutex;

use crate::error::store_error;

/// Any arbitrary constant other than the audit append lock's, shared by
/// every process on one database: the scheduler's advisory lock.
pub(crate) const SCHEDULER_LOCK: i64 = 0x6761_7465_7363_6864;

/// One node's claim on the scheduler's lock.
pub(crate) struct PostgresLease {
    pool: AnyPool,
    /// The session that holds (or asks for) the lock, and whether it holds it.
    session: Mutex<Option<(AnyConnection, bool)>>,
}

impl PostgresLease {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool, session: Mutex::new(None) }
    }
}

#[async_trait]
impl LeaderLease for PostgresLease {
    async fn try_lead(&self) -> Result<bool, StoreError> {
        let mut session = self.session.lock().await;
        if let Some((conn, leading)) = session.as_mut() {
            // A session that answers still holds what it took.
            let alive = sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok();
            if alive && *leading {
                return Ok(true);
            }
            if !alive {
                if *leading {
                    tracing::warn!("the scheduler's database session ended: no longer its leader");
                }
                *session = None;
            }
        }
        if session.is_none() {
            // Out of the pool: the lock must not go back to it with the
            // connection, nor be held by a query of someone else's.
            let conn = self.pool.acquire().await.map_err(store_error)?.detach();
            *session = Some((conn, false));
        }
        let Some((conn, leading)) = session.as_mut() else { return Ok(false) };
        let taken: bool = match sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SCHEDULER_LOCK)
            .fetch_one(&mut *conn)
            .await
        {
            Ok(taken) => taken,
            Err(error) => {
                *session = None;
                return Err(store_error(error));
            }
        };
        if taken {
            tracing::info!("this node leads the scheduler");
        }
        *leading = taken;
        Ok(taken)
    }

    async fn release(&self) {
        if let Some((mut conn, leading)) = self.session.lock().await.take() {
            if leading {
                tracing::info!("this node gives up leading the scheduler");
            }
            // Unlocked before the session ends, so the next node to try
            // finds it free rather than racing the session's end.
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()").execute(&mut conn).await;
            let _ = conn.close().await;
        }
    }
}
