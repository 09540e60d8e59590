//! RFC 6962 / RFC 9162 Merkle tree math over SHA-256, independent of where
//! the hashes live.
//!
//! A stored tree keeps the hash of every *complete* subtree: the node at
//! `(level, index)` covers leaves `[index << level, (index + 1) << level)`;
//! level 0 holds the leaf hashes. Any subtree hash the RFC's recursion needs
//! is then either one complete node or a combination of O(log n) of them, so
//! roots and proofs need O(log n) reads. The functions here take a `get`
//! closure for complete nodes; [`nodes_needed`] runs an algorithm once with a
//! recording closure to learn which nodes to fetch in one query.

use std::cell::RefCell;
use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {first} is not between 1 and {second}")]
    BadSizes { first: u64, second: u64 },
}

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = LeafHasher::new();
    hasher.update(leaf);
    hasher.finish()
}

/// A leaf's hash taken in pieces. One that has taken a prefix can be
/// cloned to finish several leaves that share it, or to finish elsewhere.
#[derive(Clone)]
pub struct LeafHasher(Sha256);

impl LeafHasher {
    pub fn new() -> Self {
        let mut hasher = Sha256::new();
        hasher.update([0x00]);
        Self(hasher)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Hash {
        self.0.finalize().into()
    }
}

impl Default for LeafHasher {
    fn default() -> Self {
        Self::new()
    }
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:lo+size]) for a range the RFC recursion produces (its start is
/// aligned to its largest power-of-two part).
pub fn subtree_root(lo: u64, size: u64, get: &mut dyn FnMut(NodeId) -> Hash) -> Hash {
    debug_assert!(size >= 1);
    if size.is_power_of_two() && lo.is_multiple_of(size) {
        let level = size.trailing_zeros() as u8;
        return get(NodeId::new(level, lo >> level));
    }
    let k = split_point(size);
    let left = subtree_root(lo, k, get);
    let right = subtree_root(lo + k, size - k, get);
    node_hash(&left, &right)
}

/// The root of the tree of `size` leaves.
pub fn root(size: u64, get: &mut dyn FnMut(NodeId) -> Hash) -> Hash {
    if size == 0 { empty_root() } else { subtree_root(0, size, get) }
}

/// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962
/// §2.1.1 PATH), leaf-side first.
pub fn inclusion_proof(index: u64, size: u64, get: &mut dyn FnMut(NodeId) -> Hash) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index, 0, size, get, &mut proof);
    Ok(proof)
}

fn path(m: u64, lo: u64, n: u64, get: &mut dyn FnMut(NodeId) -> Hash, out: &mut Vec<Hash>) {
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, lo, k, get, out);
        out.push(subtree_root(lo + k, n - k, get));
    } else {
        path(m - k, lo + k, n - k, get, out);
        out.push(subtree_root(lo, k, get));
    }
}

/// The consistency proof from the tree of `first` leaves to the tree of
/// `second` (RFC 6962 §2.1.2 PROOF). Empty when the sizes are equal.
pub fn consistency_proof(
    first: u64,
    second: u64,
    get: &mut dyn FnMut(NodeId) -> Hash,
) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::BadSizes { first, second });
    }
    let mut proof = Vec::new();
    if first < second {
        subproof(first, 0, second, true, get, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: u64, lo: u64, n: u64, complete: bool, get: &mut dyn FnMut(NodeId) -> Hash, out: &mut Vec<Hash>) {
    if m == n {
        if !complete {
            out.push(subtree_root(lo, n, get));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, lo, k, complete, get, out);
        out.push(subtree_root(lo + k, n - k, get));
    } else {
        subproof(m - k, lo + k, n - k, false, get, out);
        out.push(subtree_root(lo, k, get));
    }
}

/// The complete nodes an algorithm reads, found by running it once with a
/// recording `get` that answers zeros.
pub fn nodes_needed<T>(algorithm: impl FnOnce(&mut dyn FnMut(NodeId) -> Hash) -> T) -> Vec<NodeId> {
    let seen = RefCell::new(BTreeSet::new());
    let mut record = |id: NodeId| {
        seen.borrow_mut().insert(id);
        [0u8; 32]
    };
    algorithm(&mut record);
    seen.into_inner().into_iter().collect()
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in the tree of
/// `size` leaves with `root`?
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            shift_while_even(&mut fnode, &mut snode);
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// RFC 9162's "right-shift fn and sn until LSB(fn) is set or fn is 0".
fn shift_while_even(fnode: &mut u64, snode: &mut u64) {
    while *fnode & 1 == 0 && *fnode != 0 {
        *fnode >>= 1;
        *snode >>= 1;
    }
}

/// RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves with
/// `first_root` is a prefix of the tree of `second` leaves with
/// `second_root`?
pub fn verify_consistency(first: u64, second: u64, first_root: &Hash, second_root: &Hash, proof: &[Hash]) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((&seed, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            shift_while_even(&mut fnode, &mut snode);
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *first_root && sr == *second_root
}

/// The right edge of a tree: one complete subtree per set bit of its size,
/// largest first. Enough to append leaves and to compute the root, in
/// O(log n) memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Hashes of the complete subtrees, largest (leftmost) first.
    hashes: Vec<Hash>,
}

impl Frontier {
    pub fn empty() -> Self {
        Self::default()
    }

    /// The complete nodes that make up the frontier of a tree of `size`.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                ids.push(NodeId::new(level, start >> level));
                start += 1 << level;
            }
        }
        ids
    }

    /// A frontier from its nodes' hashes, in [`Frontier::node_ids`] order.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (hashes.len() == size.count_ones() as usize).then_some(Self { size, hashes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Appends one leaf hash, for callers that do not keep the nodes.
    pub fn push_hash(&mut self, leaf: Hash) {
        self.push_with(leaf, |_, _| {});
    }

    /// Appends one leaf hash and returns the complete nodes this creates:
    /// the leaf itself (level 0) and every subtree it completes.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut created = Vec::with_capacity(2);
        self.push_with(leaf, |id, hash| created.push((id, hash)));
        created
    }

    fn push_with(&mut self, leaf: Hash, mut created: impl FnMut(NodeId, Hash)) {
        let index = self.size;
        created(NodeId::new(0, index), leaf);
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a complete subtree that
        // the new leaf's subtree now merges with.
        while (index >> level) & 1 == 1 {
            let left = self.hashes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            level += 1;
            created(NodeId::new(level, index >> level), hash);
        }
        self.hashes.push(hash);
        self.size += 1;
    }
}

#[cfg(test)]
mod tests;
