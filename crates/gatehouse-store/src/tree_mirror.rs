//! An in-memory copy of the audit tree's nodes, so proofs cost memory reads
//! rather than a database round trip. Nodes never change once written, so
//! the copy cannot go stale: it only lags. It holds, per level, a gap-free
//! prefix of the nodes, up to a node budget; anything it lacks is read from
//! the database as before, and a background task catches it up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_audit::merkle::{Hash, NodeId};
use sqlx::{AnyPool, Row};

use crate::error::store_error;

const PAGE: i64 = 20_000;

pub(crate) struct TreeMirror {
    levels: RwLock<Vec<Vec<Hash>>>,
    budget: usize,
    catching_up: AtomicBool,
}

impl TreeMirror {
    /// A mirror holding at most `budget` nodes (32 bytes each).
    pub(crate) fn new(budget: usize) -> Arc<Self> {
        Arc::new(Self { levels: RwLock::new(Vec::new()), budget, catching_up: AtomicBool::new(false) })
    }

    fn held(levels: &[Vec<Hash>]) -> usize {
        levels.iter().map(Vec::len).sum()
    }

    /// Every node asked for, or `None` if any is not held.
    pub(crate) fn get_all(&self, ids: &[NodeId]) -> Option<Vec<Hash>> {
        let levels = self.levels.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        ids.iter()
            .map(|id| {
                levels.get(usize::from(id.level)).and_then(|level| level.get(usize::try_from(id.index).ok()?)).copied()
            })
            .collect()
    }

    /// Takes nodes that extend a level's prefix; others are left for the
    /// catch-up to read.
    pub(crate) fn record(&self, nodes: &[(NodeId, Hash)]) {
        let mut levels = self.levels.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut held = Self::held(&levels);
        for (id, hash) in nodes {
            if held >= self.budget {
                return;
            }
            let level = usize::from(id.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            if levels[level].len() as u64 == id.index {
                levels[level].push(*hash);
                held += 1;
            }
        }
    }

    /// Reads, in the background, the nodes stored beyond what is held. At
    /// most one catch-up runs at a time.
    pub(crate) fn catch_up(self: &Arc<Self>, pool: AnyPool) {
        if self.budget == 0 || self.catching_up.swap(true, Ordering::AcqRel) {
            return;
        }
        let mirror = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = mirror.read_missing(&pool).await {
                tracing::warn!(%error, "could not load the audit tree into memory; proofs read the database");
            }
            mirror.catching_up.store(false, Ordering::Release);
        });
    }

    async fn read_missing(&self, pool: &AnyPool) -> Result<(), gatehouse_domain::store::StoreError> {
        for level in 0..64i64 {
            loop {
                let start = {
                    let levels = self.levels.read().unwrap_or_else(|poisoned| poisoned.into_inner());
                    if Self::held(&levels) >= self.budget {
                        return Ok(());
                    }
                    levels.get(level as usize).map_or(0, Vec::len) as i64
                };
                let rows = sqlx::query(
                    "SELECT idx, hash FROM audit_tree WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
                )
                .bind(level)
                .bind(start)
                .bind(PAGE)
                .fetch_all(pool)
                .await
                .map_err(store_error)?;
                if rows.is_empty() {
                    if level > 0 && start == 0 {
                        return Ok(());
                    }
                    break;
                }
                let mut nodes = Vec::with_capacity(rows.len());
                for row in &rows {
                    let index: i64 = row.try_get("idx").map_err(store_error)?;
                    let hash: Vec<u8> = row.try_get("hash").map_err(store_error)?;
                    let Ok(hash) = Hash::try_from(hash) else { continue };
                    nodes.push((NodeId::new(level as u8, index as u64), hash));
                }
                self.record(&nodes);
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gap_free_prefixes_are_held_within_budget() {
        let mirror = TreeMirror::new(3);
        mirror.record(&[(NodeId::new(0, 0), [1; 32]), (NodeId::new(0, 2), [3; 32]), (NodeId::new(1, 0), [9; 32])]);
        assert_eq!(mirror.get_all(&[NodeId::new(0, 0), NodeId::new(1, 0)]), Some(vec![[1; 32], [9; 32]]));
        assert_eq!(mirror.get_all(&[NodeId::new(0, 2)]), None, "a node past a gap is not held");
        mirror.record(&[(NodeId::new(0, 1), [2; 32]), (NodeId::new(0, 2), [3; 32])]);
        assert_eq!(mirror.get_all(&[NodeId::new(0, 1)]), Some(vec![[2; 32]]));
        assert_eq!(mirror.get_all(&[NodeId::new(0, 2)]), None, "the budget of three nodes is spent");
    }
}
