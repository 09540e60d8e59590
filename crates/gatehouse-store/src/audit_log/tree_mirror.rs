//! An in-memory copy of the audit tree's nodes, so proofs cost memory reads
//! rather than a database round trip. Nodes never change once written, so
//! the copy cannot go stale: it only lags. It holds, per level, a gap-free
//! prefix of the nodes, up to a node budget; anything it lacks is read from
//! the database as before, and a background task catches it up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_audit::merkle::{Hash, NodeId};
use sqlx::{AnyPool, Row};

use crate::audit_log::tree_key::first_key_missing;
use crate::error::store_error;

const PAGE: i64 = 20_000;

/// Nodes per chunk of a level: 2 MiB of hashes.
const CHUNK: usize = 1 << 16;

/// One level's nodes, in chunks that stay where they are once allocated.
/// A level kept in one `Vec` was copied whole each time it doubled, and
/// every level doubles at once when the tree's size reaches a power of
/// two: at half a million entries that copy, and the page faults of its
/// new home, held the appender (and every audit append queued behind it)
/// for 75 ms, twice as long as at a quarter million.
///
/// INVARIANT: every chunk but the last is full.
#[derive(Default)]
struct Level {
    chunks: Vec<Vec<Hash>>,
}

impl Level {
    fn len(&self) -> usize {
        self.chunks.last().map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    fn get(&self, index: usize) -> Option<Hash> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK).copied()
    }

    fn push(&mut self, hash: Hash) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(hash),
            // The first chunk grows as a `Vec` does, since most levels stay
            // small; the ones after it are allocated whole.
            last => {
                let mut chunk = if last.is_none() { Vec::new() } else { Vec::with_capacity(CHUNK) };
                chunk.push(hash);
                self.chunks.push(chunk);
            }
        }
    }
}

pub(crate) struct TreeMirror {
    levels: RwLock<Vec<Level>>,
    budget: usize,
    catching_up: AtomicBool,
}

impl TreeMirror {
    /// A mirror holding at most `budget` nodes (32 bytes each).
    pub(crate) fn new(budget: usize) -> Arc<Self> {
        Arc::new(Self { levels: RwLock::new(Vec::new()), budget, catching_up: AtomicBool::new(false) })
    }

    fn held(levels: &[Level]) -> usize {
        levels.iter().map(Level::len).sum()
    }

    /// Every node asked for, or `None` if any is not held.
    pub(crate) fn get_all(&self, ids: &[NodeId]) -> Option<Vec<Hash>> {
        let levels = self.levels.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        ids.iter()
            .map(|id| levels.get(usize::from(id.level)).and_then(|level| level.get(usize::try_from(id.index).ok()?)))
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
                levels.resize_with(level + 1, Level::default);
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

    /// Reads the stored nodes in key order (the order appends completed
    /// them), from the first one not held, until the budget is spent.
    async fn read_missing(&self, pool: &AnyPool) -> Result<(), gatehouse_domain::store::StoreError> {
        let mut from = {
            let levels = self.levels.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let next: Vec<u64> = levels.iter().map(|level| level.len() as u64).collect();
            match first_key_missing(&next) {
                Some(key) => key,
                None => return Ok(()),
            }
        };
        loop {
            if Self::held(&self.levels.read().unwrap_or_else(|poisoned| poisoned.into_inner())) >= self.budget {
                return Ok(());
            }
            let rows =
                sqlx::query("SELECT node, level, idx, hash FROM audit_tree WHERE node >= $1 ORDER BY node LIMIT $2")
                    .bind(from)
                    .bind(PAGE)
                    .fetch_all(pool)
                    .await
                    .map_err(store_error)?;
            let mut nodes = Vec::with_capacity(rows.len());
            for row in &rows {
                let key: i64 = row.try_get("node").map_err(store_error)?;
                let level: i64 = row.try_get("level").map_err(store_error)?;
                let index: i64 = row.try_get("idx").map_err(store_error)?;
                let hash: Vec<u8> = row.try_get("hash").map_err(store_error)?;
                from = key + 1;
                let (Ok(level), Ok(index), Ok(hash)) =
                    (u8::try_from(level), u64::try_from(index), Hash::try_from(hash))
                else {
                    continue;
                };
                nodes.push((NodeId::new(level, index), hash));
            }
            self.record(&nodes);
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_grows_past_its_chunks_without_moving_what_it_holds() {
        let hash = |n: usize| -> Hash {
            let mut hash = [0; 32];
            hash[..8].copy_from_slice(&(n as u64).to_le_bytes());
            hash
        };
        let mut level = Level::default();
        for n in 0..CHUNK {
            level.push(hash(n));
        }
        let first_chunk = level.chunks[0].as_ptr();
        for n in CHUNK..2 * CHUNK + 5 {
            level.push(hash(n));
        }
        assert_eq!(level.chunks[0].as_ptr(), first_chunk, "the first chunk was not copied");
        assert_eq!(level.len(), 2 * CHUNK + 5);
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 4] {
            assert_eq!(level.get(n), Some(hash(n)), "node {n}");
        }
        assert_eq!(level.get(2 * CHUNK + 5), None);
        assert_eq!(level.get(usize::MAX), None);
    }

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

    /// The catch-up reads stored nodes in key order, from the first one
    /// the mirror lacks, and holds every level's prefix.
    #[tokio::test]
    async fn catching_up_reads_what_is_stored_beyond_what_is_held() {
        use gatehouse_audit::merkle::Frontier;

        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("mirror.db").display());
        let options = crate::ConnectOptions::default();
        let pool = crate::connect::connect(crate::Engine::Sqlite, &url, &options).await.expect("open");
        let mut frontier = Frontier::empty();
        let mut nodes = Vec::new();
        for leaf in 0..300u32 {
            nodes.extend(frontier.push([(leaf % 251) as u8; 32]));
        }
        let mut conn = pool.acquire().await.expect("connection");
        crate::audit_log::writer::insert_nodes(&mut conn, &nodes).await.expect("stored");
        drop(conn);

        // Held from live appends: the first ten leaves' nodes.
        let mirror = TreeMirror::new(1 << 20);
        let first_ten: Vec<_> = nodes.iter().copied().filter(|(id, _)| (id.index + 1) << id.level <= 10).collect();
        mirror.record(&first_ten);
        mirror.read_missing(&pool).await.expect("caught up");
        let ids: Vec<NodeId> = nodes.iter().map(|(id, _)| *id).collect();
        let hashes: Vec<Hash> = nodes.iter().map(|(_, hash)| *hash).collect();
        assert_eq!(mirror.get_all(&ids), Some(hashes));
        assert_eq!(mirror.get_all(&[NodeId::new(0, 300)]), None);

        // With a budget, a gap-free prefix of the completion order.
        let small = TreeMirror::new(50);
        small.read_missing(&pool).await.expect("caught up");
        assert_eq!(small.get_all(&[NodeId::new(0, 0), NodeId::new(1, 0)]), Some(vec![nodes[0].1, nodes[2].1]));
        assert_eq!(small.get_all(&[NodeId::new(0, 299)]), None, "past the budget");
    }
}
