use std::collections::HashMap;

use super::*;
use crate::merkle::{Frontier, leaf_hash};
use crate::note_key::NoteSigner;

const ORIGIN: &str = "gatehouse.test/audit";
const FORMAT: &str = "gatehouse-test-bundle/v1";

/// A log of `n` entries with every complete node kept, as the store does.
struct Log {
    leaves: Vec<String>,
    nodes: HashMap<NodeId, Hash>,
    frontier: Frontier,
}

impl Log {
    fn new(n: u64) -> Self {
        let mut log = Log { leaves: Vec::new(), nodes: HashMap::new(), frontier: Frontier::empty() };
        for index in 0..n {
            let leaf = format!(r#"{{"action":"test","index":{index}}}"#);
            for (id, hash) in log.frontier.push(leaf_hash(leaf.as_bytes())) {
                log.nodes.insert(id, hash);
            }
            log.leaves.push(leaf);
        }
        log
    }

    fn get(&self) -> impl FnMut(NodeId) -> Hash + '_ {
        |id| self.nodes.get(&id).copied().unwrap_or_default()
    }

    fn bundle(&self, signer: &NoteSigner, indexes: &[u64]) -> Bundle {
        let size = self.frontier.size();
        let checkpoint = Checkpoint { origin: ORIGIN.into(), size, root: self.frontier.root() };
        let proved = proved_size_for(indexes);
        let mut get = self.get();
        let entries = indexes
            .iter()
            .map(|&index| prove_entry(index, self.leaves[index as usize].clone(), proved, &mut get).unwrap())
            .collect();
        let head = BundleHead {
            format: FORMAT.into(),
            origin: ORIGIN.into(),
            public_key: signer.verifier().encode(),
            checkpoint_note: checkpoint.sign(signer),
            checkpoint_size: size,
        };
        head.finish(entries, Map::new(), &mut get).unwrap()
    }
}

fn key(signer: &NoteSigner) -> String {
    signer.verifier().encode()
}

#[track_caller]
fn check_bad(bundle: &Bundle, signer: &NoteSigner, index: Option<u64>, needle: &str) {
    let error = verify(bundle, FORMAT, &key(signer), 2).unwrap_err();
    assert_eq!(error.index, index, "{error}");
    assert!(error.message.contains(needle), "`{needle}` not in: {error}");
}

#[test]
fn an_intact_bundle_verifies_and_returns_its_leaves() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(1000);
    for indexes in [vec![0u64], vec![3, 17, 511, 512, 998], vec![999], (0..1000).collect::<Vec<_>>()] {
        let bundle = log.bundle(&signer, &indexes);
        for workers in [1, 3] {
            let verified = verify(&bundle, FORMAT, &key(&signer), workers).unwrap();
            assert_eq!(verified.checkpoint.size, 1000);
            assert_eq!(verified.proved_size, indexes.last().unwrap() + 1);
            let got: Vec<u64> = verified.leaves.iter().map(|(index, _)| *index).collect();
            assert_eq!(got, indexes);
            assert_eq!(verified.leaves[0].1["index"], serde_json::json!(indexes[0]));
        }
    }
}

#[test]
fn a_bundle_survives_its_file_form() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(40);
    let bundle = log.bundle(&signer, &[1, 5, 39]);
    let text = serde_json::to_vec(&bundle).unwrap();
    let parsed = parse(&text).unwrap();
    assert_eq!(parsed, bundle);
    assert_eq!(verify(&parsed, FORMAT, &key(&signer), 1).unwrap().leaves.len(), 3);
}

#[test]
fn an_empty_bundle_proves_nothing_but_verifies() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let bundle = Log::new(10).bundle(&signer, &[]);
    assert_eq!(bundle.proved_size, 0);
    assert!(verify(&bundle, FORMAT, &key(&signer), 1).unwrap().leaves.is_empty());
}

#[test]
fn a_tampered_leaf_is_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(300);
    let indexes: Vec<u64> = (0..300).step_by(7).collect();
    for victim in [0usize, 10, indexes.len() - 1] {
        let mut bundle = log.bundle(&signer, &indexes);
        bundle.entries[victim].leaf = bundle.entries[victim].leaf.replace("test", "tset");
        let index = indexes[victim];
        check_bad(&bundle, &signer, Some(index), &format!("entry {index}: inclusion proof does not verify"));
    }
}

#[test]
fn the_first_bad_entry_is_named_whichever_thread_finds_it() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(20_000);
    let indexes: Vec<u64> = (0..20_000).collect();
    let mut bundle = log.bundle(&signer, &indexes);
    for victim in [15_000usize, 9_000, 12_345] {
        bundle.entries[victim].leaf.push(' ');
    }
    check_bad(&bundle, &signer, Some(9_000), "entry 9000: inclusion proof does not verify");
}

#[test]
fn another_key_is_refused() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let other = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(20);
    let bundle = log.bundle(&signer, &[2, 4]);
    let error = verify(&bundle, FORMAT, &key(&other), 1).unwrap_err();
    assert!(error.message.contains("not the trusted key"), "{error}");
    // Naming the trusted key in the file does not help: the checkpoint is
    // still signed by the other.
    let mut forged = log.bundle(&signer, &[2, 4]);
    forged.public_key = key(&other);
    let error = verify(&forged, FORMAT, &key(&other), 1).unwrap_err();
    assert!(error.message.contains("the checkpoint is not signed by the trusted key"), "{error}");
    let error = verify(&bundle, FORMAT, "not a key", 1).unwrap_err();
    assert!(error.message.contains("bad public key"), "{error}");
}

#[test]
fn reordered_entries_are_refused() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(50);
    let mut bundle = log.bundle(&signer, &[3, 9, 20, 49]);
    bundle.entries.swap(1, 2);
    check_bad(&bundle, &signer, Some(9), "entries out of order at entry 9 (after entry 20)");
    let mut repeated = log.bundle(&signer, &[3, 9, 20, 49]);
    repeated.entries[2] = repeated.entries[1].clone();
    check_bad(&repeated, &signer, Some(9), "entries out of order");
}

#[test]
fn a_missing_or_wrong_proof_is_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(64);
    let mut bundle = log.bundle(&signer, &[5, 6, 63]);
    bundle.entries[1].proof.clear();
    check_bad(&bundle, &signer, Some(6), "entry 6: inclusion proof does not verify");
    let mut bundle = log.bundle(&signer, &[5, 6, 63]);
    bundle.entries[0].proof[0] = "not base64!".into();
    check_bad(&bundle, &signer, Some(5), "entry 5: the proof is not base64 hashes");
    // Another entry's proof.
    let mut bundle = log.bundle(&signer, &[5, 6, 63]);
    bundle.entries[0].proof = bundle.entries[1].proof.clone();
    check_bad(&bundle, &signer, Some(5), "entry 5: inclusion proof does not verify");
}

#[test]
fn a_wrong_consistency_proof_or_root_is_refused() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(100);
    let mut bundle = log.bundle(&signer, &[10, 40]);
    bundle.consistency.pop();
    check_bad(&bundle, &signer, None, "the consistency proof from 41 to 100 entries does not verify");
    // A root of the attacker's choosing, with proofs against it, still has
    // to be consistent with the signed checkpoint.
    let mut bundle = log.bundle(&signer, &[10, 40]);
    bundle.proved_root = STANDARD.encode([7u8; 32]);
    check_bad(&bundle, &signer, None, "consistency proof");
}

#[test]
fn a_file_cut_short_is_named_truncated() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(30);
    let bundle = log.bundle(&signer, &[1, 2, 29]);
    let text = serde_json::to_vec(&bundle).unwrap();
    let error = parse(&text[..text.len() / 2]).unwrap_err();
    assert!(error.message.starts_with("file truncated"), "{error}");
    // Entries cut off the end of a well-formed file.
    let mut cut = bundle.clone();
    cut.entries.pop();
    check_bad(&cut, &signer, Some(29), "file truncated: the entries end at 2");
    let mut emptied = bundle;
    emptied.entries.clear();
    check_bad(&emptied, &signer, None, "file truncated: no entries");
}

#[test]
fn another_format_or_origin_is_refused() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let log = Log::new(8);
    let bundle = log.bundle(&signer, &[1]);
    let error = verify(&bundle, "gatehouse-review-export/v1", &key(&signer), 1).unwrap_err();
    assert!(error.message.contains("not `gatehouse-review-export/v1`"), "{error}");
    let mut moved = bundle;
    moved.origin = "elsewhere/audit".into();
    check_bad(&moved, &signer, None, "the checkpoint is for `gatehouse.test/audit`");
}

#[test]
fn remembered_subtrees_decide_as_the_full_walk_does() {
    // Every entry of small trees, each leaf right and wrong, checked after
    // its neighbours filled the memory: the answer is the plain walk's.
    for size in 1..=40u64 {
        let log = Log::new(size);
        let mut get = log.get();
        let root = log.frontier.root();
        let mut proven = Proven::new();
        for index in 0..size {
            let proof = merkle::inclusion_proof(index, size, &mut get).unwrap();
            let leaf = leaf_hash(log.leaves[index as usize].as_bytes());
            let wrong = leaf_hash(b"something else");
            assert!(verify_path(leaf, index, size, &proof, &root, &mut proven), "{index} of {size}");
            assert!(!verify_path(wrong, index, size, &proof, &root, &mut proven), "{index} of {size}");
            if size > 1 {
                let other = (index + 1) % size;
                assert!(!verify_path(leaf, other, size, &proof, &root, &mut proven), "{index} as {other} of {size}");
            }
        }
    }
}
