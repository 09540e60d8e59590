//! Where a Merkle tree node sorts in `audit_tree`: by the last leaf it
//! covers, then by its level. That is the order in which appends complete
//! nodes, so a batch's new nodes all land at the table's right end: one or
//! two pages per commit. Keyed by `(level, index)` instead, every level's
//! insertion point was a different page, and a commit of a dozen entries
//! rewrote half a dozen tree pages besides.

use gatehouse_audit::merkle::NodeId;

/// Bits of the key that hold the level (levels are below 64).
const LEVEL_BITS: u32 = 6;

/// Keys per leaf: a key divided by this is the last leaf its node covers.
pub(crate) const KEYS_PER_LEAF: i64 = 1 << LEVEL_BITS;

/// The key of `id`, or `None` for a node past 2^57 leaves.
pub(crate) fn node_key(id: NodeId) -> Option<i64> {
    let covered = id.index.checked_add(1)?.checked_mul(1u64.checked_shl(u32::from(id.level))?)?;
    let last_leaf = covered - 1;
    if u32::from(id.level) >= 1 << LEVEL_BITS || last_leaf >= 1 << (63 - LEVEL_BITS) {
        return None;
    }
    i64::try_from((last_leaf << LEVEL_BITS) | u64::from(id.level)).ok()
}

/// The smallest key of any node at or past `next[level]` on every level
/// (and of any node on a level beyond `next`): every node with a smaller
/// key is one of the first `next[level]` nodes of its level.
pub(crate) fn first_key_missing(next: &[u64]) -> Option<i64> {
    (0..=next.len())
        .map(|level| {
            let index = next.get(level).copied().unwrap_or(0);
            node_key(NodeId::new(u8::try_from(level).ok()?, index))
        })
        .min()
        .flatten()
}

#[cfg(test)]
mod tests {
    use gatehouse_audit::merkle::Frontier;

    use super::*;

    #[test]
    fn nodes_sort_in_the_order_appends_complete_them() {
        let mut frontier = Frontier::empty();
        let mut keys = Vec::new();
        for leaf in 0..1000u32 {
            for (id, _) in frontier.push([leaf as u8; 32]) {
                keys.push(node_key(id).expect("in range"));
            }
        }
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "strictly increasing in completion order");
        assert_eq!(node_key(NodeId::new(0, 5)), Some(5 << 6));
        assert_eq!(node_key(NodeId::new(2, 1)), Some((7 << 6) | 2), "covers leaves 4..=7");
    }

    #[test]
    fn keys_past_the_range_are_refused() {
        assert_eq!(node_key(NodeId::new(0, (1 << 57) - 1)), Some(((1i64 << 57) - 1) << 6));
        assert_eq!(node_key(NodeId::new(0, 1 << 57)), None);
        assert_eq!(node_key(NodeId::new(64, 0)), None);
        assert_eq!(node_key(NodeId::new(0, u64::MAX)), None);
    }

    #[test]
    fn the_first_missing_key_bounds_what_is_held() {
        // Held: leaves 0..4, level 1 nodes 0..2, level 2 node 0 (a tree of 4).
        assert_eq!(first_key_missing(&[4, 2, 1]), node_key(NodeId::new(0, 4)));
        // Level 1 lags: its node 1 (leaves 2..=3) is missing.
        assert_eq!(first_key_missing(&[4, 1, 0]), node_key(NodeId::new(1, 1)));
        assert_eq!(first_key_missing(&[]), Some(0));
    }
}
