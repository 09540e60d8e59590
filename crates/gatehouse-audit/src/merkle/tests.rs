use std::collections::HashMap;

use super::*;

fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The certificate-transparency reference inputs.
fn vector_leaves() -> Vec<Vec<u8>> {
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .iter()
        .map(|h| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect())
        .collect()
}

const VECTOR_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// A tree held as every complete node, built through [`Frontier::push`]:
/// the same path the store takes.
struct StoredTree {
    nodes: HashMap<NodeId, Hash>,
    frontier: Frontier,
}

impl StoredTree {
    fn new(leaves: &[Hash]) -> Self {
        let mut tree = StoredTree { nodes: HashMap::new(), frontier: Frontier::empty() };
        for leaf in leaves {
            tree.nodes.extend(tree.frontier.push(*leaf));
        }
        tree
    }

    fn get(&self) -> impl FnMut(NodeId) -> Hash + '_ {
        |id| *self.nodes.get(&id).unwrap_or_else(|| panic!("node {id:?} was never stored"))
    }
}

/// RFC 6962 §2.1 as written, over the leaf hashes: the naive reference.
mod reference {
    use super::*;

    pub fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    pub fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    pub fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        subproof(m, leaves, true)
    }

    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete { vec![] } else { vec![mth(leaves)] };
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], complete);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
}

#[test]
fn roots_match_the_rfc_6962_vectors() {
    let leaves: Vec<Hash> = vector_leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = StoredTree::new(&leaves);
    for (size, expected) in VECTOR_ROOTS.iter().enumerate() {
        assert_eq!(hex(&root(size as u64, &mut tree.get())), *expected, "size {size}");
        let prefix = StoredTree::new(&leaves[..size]);
        assert_eq!(hex(&prefix.frontier.root()), *expected, "frontier root at size {size}");
    }
}

#[test]
fn proofs_match_the_rfc_6962_vectors() {
    let leaves: Vec<Hash> = vector_leaves().iter().map(|l| leaf_hash(l)).collect();
    let tree = StoredTree::new(&leaves);
    let expected = [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ];
    let inclusion = inclusion_proof(0, 8, &mut tree.get()).unwrap();
    assert_eq!(inclusion.iter().map(hex).collect::<Vec<_>>(), expected);
    let consistency = consistency_proof(1, 8, &mut tree.get()).unwrap();
    assert_eq!(consistency.iter().map(hex).collect::<Vec<_>>(), expected);
    assert!(inclusion_proof(0, 1, &mut tree.get()).unwrap().is_empty());
}

/// Every tree size up to 300 and every index in it: generated proofs equal
/// the reference's, and verify; a proof for another leaf or root does not.
#[test]
fn inclusion_proofs_agree_with_the_reference_for_every_size_and_index() {
    let all = leaves(300);
    let tree = StoredTree::new(&all);
    for size in 1..=all.len() {
        let prefix = &all[..size];
        let root_hash = reference::mth(prefix);
        assert_eq!(root(size as u64, &mut tree.get()), root_hash, "root at {size}");
        for (index, leaf) in prefix.iter().enumerate() {
            let proof = inclusion_proof(index as u64, size as u64, &mut tree.get()).unwrap();
            assert_eq!(proof, reference::path(index, prefix), "path {index} in {size}");
            assert!(verify_inclusion(leaf, index as u64, size as u64, &proof, &root_hash));
            let wrong_leaf = leaf_hash(b"forged");
            assert!(!verify_inclusion(&wrong_leaf, index as u64, size as u64, &proof, &root_hash));
            if size > 1 {
                let other = (index + 1) % size;
                assert!(!verify_inclusion(leaf, other as u64, size as u64, &proof, &root_hash));
            }
        }
    }
}

#[test]
fn consistency_proofs_agree_with_the_reference_for_every_pair_of_sizes() {
    let all = leaves(300);
    let tree = StoredTree::new(&all);
    let roots: Vec<Hash> = (0..=all.len()).map(|n| reference::mth(&all[..n])).collect();
    for second in 1..=all.len() {
        for first in 1..=second {
            let proof = consistency_proof(first as u64, second as u64, &mut tree.get()).unwrap();
            assert_eq!(proof, reference::proof(first, &all[..second]), "{first}→{second}");
            assert!(
                verify_consistency(first as u64, second as u64, &roots[first], &roots[second], &proof),
                "{first}→{second}"
            );
            if first < second {
                assert!(!verify_consistency(first as u64, second as u64, &roots[first], &roots[second - 1], &proof));
            }
        }
    }
}

#[test]
fn bad_proof_requests_are_refused() {
    let tree = StoredTree::new(&leaves(4));
    assert_eq!(inclusion_proof(4, 4, &mut tree.get()), Err(ProofError::IndexOutOfRange { index: 4, size: 4 }));
    assert_eq!(consistency_proof(0, 4, &mut tree.get()), Err(ProofError::BadSizes { first: 0, second: 4 }));
    assert_eq!(consistency_proof(5, 4, &mut tree.get()), Err(ProofError::BadSizes { first: 5, second: 4 }));
    assert!(!verify_inclusion(&[0; 32], 0, 0, &[], &[0; 32]));
}

#[test]
fn proofs_read_few_nodes_even_in_large_trees() {
    // Reading is O(log n): the recorder never needs more than a few dozen
    // nodes for any proof in a tree of a million and one leaves.
    let size = 1_000_001;
    for index in [0, 1, 524_287, 999_999, 1_000_000] {
        let nodes = nodes_needed(|get| inclusion_proof(index, size, get));
        assert!(nodes.len() <= 40, "{index}: {}", nodes.len());
    }
    let nodes = nodes_needed(|get| consistency_proof(333_333, size, get));
    assert!(nodes.len() <= 60, "{}", nodes.len());
    let mut frontier = Frontier::node_ids(size);
    frontier.sort();
    assert_eq!(nodes_needed(|get| root(size, get)), frontier);
}

#[test]
fn the_frontier_loads_from_its_nodes() {
    let all = leaves(37);
    let tree = StoredTree::new(&all);
    let ids = Frontier::node_ids(37);
    assert_eq!(ids.len(), 3);
    let hashes = ids.iter().map(|id| tree.nodes[id]).collect();
    let loaded = Frontier::from_hashes(37, hashes).unwrap();
    assert_eq!(loaded, tree.frontier);
    assert_eq!(loaded.root(), reference::mth(&all));
    assert!(Frontier::from_hashes(37, vec![]).is_none());
}

#[test]
fn a_leaf_hashed_in_pieces_is_the_leaf_hashed_whole() {
    let leaf = b"{\"action\":\"authorize\",\"index\":7}".repeat(5);
    let mut head = LeafHasher::new();
    head.update(&leaf[..70]);
    for split in [70, 100, leaf.len()] {
        let mut hasher = head.clone();
        hasher.update(&leaf[70..split]);
        hasher.update(&leaf[split..]);
        assert_eq!(hasher.finish(), leaf_hash(&leaf), "split at {split}");
    }
    assert_eq!(LeafHasher::default().finish(), leaf_hash(b""));
    assert_eq!(hex(&leaf_hash(b"")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}
