//! The proof bundle: a chosen set of audit entries, each with its inclusion
//! proof, that an auditor verifies offline with only the file and the
//! audit public key. The evidence file and the review export are bundles
//! with their own `format` and `sections`.
//!
//! One JSON document:
//!
//! ```json
//! {"format": "…", "origin": "…", "public_key": "name+id+key",
//!  "checkpoint": "<signed note for the tree of N entries>",
//!  "proved_size": M, "proved_root": "<base64>", "consistency": ["<base64>", …],
//!  "entries": [{"index": i, "leaf": "<the leaf's canonical JSON>", "proof": ["<base64>", …]}, …],
//!  "sections": {…}}
//! ```
//!
//! `M` is the tree size right after the last entry included; every entry is
//! proved against the tree of `M` entries, and that tree against the signed
//! checkpoint by the consistency proof `M → N`. Entries are in strictly
//! ascending index order, so a reordered file is refused, and the last one
//! is entry `M - 1`, so one cut short at the end is refused too. Nothing in
//! the file is trusted but what the proofs and the signature cover:
//! `sections` are the maker's reading of the entries, which a verifier must
//! recompute from the leaves it returns.
//!
//! INVARIANT: a bundle proves the entries it holds, never that it holds
//! every entry of a kind; completeness rests on its maker.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, Hash, NodeId, ProofError};
use crate::note_key::NoteVerifier;

/// One included entry: its index, its leaf (the exact bytes the tree
/// hashed, which are canonical JSON, kept as text), and its inclusion proof
/// in the tree of the bundle's `proved_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvedEntry {
    pub index: u64,
    pub leaf: String,
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    pub origin: String,
    pub public_key: String,
    pub checkpoint: String,
    pub proved_size: u64,
    pub proved_root: String,
    pub consistency: Vec<String>,
    pub entries: Vec<ProvedEntry>,
    #[serde(default)]
    pub sections: Map<String, Value>,
}

/// Why a bundle does not verify, naming the first bad entry when there is
/// one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BundleError {
    pub index: Option<u64>,
    pub message: String,
}

impl BundleError {
    fn at(index: u64, message: impl Into<String>) -> Self {
        Self { index: Some(index), message: message.into() }
    }

    fn general(message: impl Into<String>) -> Self {
        Self { index: None, message: message.into() }
    }
}

/// What a verified bundle proves: these leaves, parsed, are entries of the
/// log whose checkpoint the trusted key signed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    pub checkpoint: Checkpoint,
    pub proved_size: u64,
    /// `(index, leaf)` in ascending index order.
    pub leaves: Vec<(u64, Value)>,
}

fn encode_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| STANDARD.encode(hash)).collect()
}

/// The tree size a bundle of entries with these ascending indexes is
/// proved against: right after the last one (0 when there are none).
pub fn proved_size_for(indexes: &[u64]) -> u64 {
    indexes.last().map_or(0, |last| last + 1)
}

/// The stored nodes needed to prove the entries `indexes` in the tree of
/// `proved_size` entries, for one read of a batch. The root and the
/// consistency proof need [`root_and_consistency_nodes`].
pub fn inclusion_nodes(indexes: &[u64], proved_size: u64) -> Vec<NodeId> {
    merkle::nodes_needed(|get| {
        for &index in indexes {
            let _ = merkle::inclusion_proof(index, proved_size, get);
        }
    })
}

/// The nodes needed for the root of `proved_size` and its consistency proof
/// to `checkpoint_size`.
pub fn root_and_consistency_nodes(proved_size: u64, checkpoint_size: u64) -> Vec<NodeId> {
    merkle::nodes_needed(|get| {
        let _ = merkle::root(proved_size, get);
        if proved_size > 0 {
            let _ = merkle::consistency_proof(proved_size, checkpoint_size, get);
        }
    })
}

/// One entry with its inclusion proof in the tree of `proved_size`.
pub fn prove_entry(
    index: u64,
    leaf: String,
    proved_size: u64,
    get: &mut dyn FnMut(NodeId) -> Hash,
) -> Result<ProvedEntry, ProofError> {
    let proof = merkle::inclusion_proof(index, proved_size, get)?;
    Ok(ProvedEntry { index, leaf, proof: encode_all(&proof) })
}

/// What a bundle's maker knows before it writes the entries: the log's
/// identity and latest checkpoint.
#[derive(Debug, Clone)]
pub struct BundleHead {
    pub format: String,
    pub origin: String,
    pub public_key: String,
    pub checkpoint_note: String,
    pub checkpoint_size: u64,
}

impl BundleHead {
    /// The bundle of `entries` (ascending, proved against
    /// [`proved_size_for`] their indexes), with the root and consistency
    /// proof read through `get`.
    pub fn finish(
        self,
        entries: Vec<ProvedEntry>,
        sections: Map<String, Value>,
        get: &mut dyn FnMut(NodeId) -> Hash,
    ) -> Result<Bundle, ProofError> {
        let indexes: Vec<u64> = entries.iter().map(|entry| entry.index).collect();
        let proved_size = proved_size_for(&indexes);
        let (root, consistency) = if proved_size == 0 {
            (merkle::empty_root(), Vec::new())
        } else {
            (merkle::root(proved_size, get), merkle::consistency_proof(proved_size, self.checkpoint_size, get)?)
        };
        Ok(Bundle {
            format: self.format,
            origin: self.origin,
            public_key: self.public_key,
            checkpoint: self.checkpoint_note,
            proved_size,
            proved_root: STANDARD.encode(root),
            consistency: encode_all(&consistency),
            entries,
            sections,
        })
    }
}

/// Parses a bundle file. A file cut short is named as truncated.
pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            BundleError::general(format!(
                "file truncated: it ends at line {} column {} inside the document",
                e.line(),
                e.column()
            ))
        } else {
            BundleError::general(format!("not a proof bundle: {e}"))
        }
    })
}

fn decode_hash(text: &str) -> Option<Hash> {
    let mut hash = [0u8; 32];
    match STANDARD.decode_slice(text, &mut hash) {
        Ok(32) => Some(hash),
        _ => None,
    }
}

fn decode_hashes(texts: &[String]) -> Option<Vec<Hash>> {
    texts.iter().map(|text| decode_hash(text)).collect()
}

/// Entries per piece of work: enough to amortize a thread's start.
const CHUNK: usize = 4_096;

/// Verifies a bundle of `format` against the trusted key (`name+id+key`,
/// as `gatehouse audit verify --public-key` takes it): the checkpoint's
/// signature, the consistency of the proved tree with it, every entry's
/// inclusion, and the order. Returns the leaves, parsed, for the format's
/// own checks. `workers` threads share the inclusion proofs.
pub fn verify(bundle: &Bundle, format: &str, trusted_key: &str, workers: usize) -> Result<VerifiedBundle, BundleError> {
    if bundle.format != format {
        return Err(BundleError::general(format!("the file's format is `{}`, not `{format}`", bundle.format)));
    }
    let trusted = trusted_key.trim();
    let verifier =
        NoteVerifier::parse(trusted).map_err(|e| BundleError::general(format!("bad public key `{trusted}`: {e}")))?;
    if bundle.public_key.trim() != trusted {
        return Err(BundleError::general(format!(
            "the file names the key `{}`, not the trusted key `{trusted}`",
            bundle.public_key
        )));
    }
    let checkpoint = Checkpoint::open(&bundle.checkpoint, &verifier)
        .map_err(|e| BundleError::general(format!("the checkpoint is not signed by the trusted key: {e}")))?;
    if checkpoint.origin != bundle.origin {
        return Err(BundleError::general(format!(
            "the checkpoint is for `{}`, the file for `{}`",
            checkpoint.origin, bundle.origin
        )));
    }
    let proved_size = bundle.proved_size;
    if proved_size > checkpoint.size {
        return Err(BundleError::general(format!(
            "the proved tree of {proved_size} entries is larger than the checkpoint's {}",
            checkpoint.size
        )));
    }
    let proved_root = decode_hash(&bundle.proved_root)
        .ok_or_else(|| BundleError::general("the proved root is not 32 bytes of base64"))?;
    check_order(&bundle.entries, proved_size)?;
    if proved_size == 0 {
        if !bundle.consistency.is_empty() || proved_root != merkle::empty_root() {
            return Err(BundleError::general("a bundle without entries proves no tree"));
        }
    } else {
        let consistency = decode_hashes(&bundle.consistency)
            .ok_or_else(|| BundleError::general("the consistency proof is not base64 hashes"))?;
        if !merkle::verify_consistency(proved_size, checkpoint.size, &proved_root, &checkpoint.root, &consistency) {
            return Err(BundleError::general(format!(
                "the consistency proof from {proved_size} to {} entries does not verify",
                checkpoint.size
            )));
        }
    }
    let leaves = verify_entries(&bundle.entries, proved_size, &proved_root, workers)?;
    Ok(VerifiedBundle { checkpoint, proved_size, leaves })
}

fn check_order(entries: &[ProvedEntry], proved_size: u64) -> Result<(), BundleError> {
    for pair in entries.windows(2) {
        if pair[1].index <= pair[0].index {
            return Err(BundleError::at(
                pair[1].index,
                format!("entries out of order at entry {} (after entry {})", pair[1].index, pair[0].index),
            ));
        }
    }
    match entries.last() {
        None if proved_size == 0 => Ok(()),
        None => {
            Err(BundleError::general(format!("file truncated: no entries, yet the proof covers {proved_size} entries")))
        }
        Some(last) if last.index + 1 == proved_size => Ok(()),
        Some(last) if last.index >= proved_size => Err(BundleError::at(
            last.index,
            format!("entry {}: beyond the proved tree of {proved_size} entries", last.index),
        )),
        Some(last) => Err(BundleError::at(
            proved_size - 1,
            format!(
                "file truncated: the entries end at {}, but the proof is for a tree ending at entry {}",
                last.index,
                proved_size - 1
            ),
        )),
    }
}

/// Hashes of subtrees that proofs verified so far, by the state
/// `(fnode, snode)` of RFC 9162's inclusion walk just after computing them
/// (with `snode > 0`, the pair names one subtree of the proved tree).
type Proven = HashMap<(u64, u64), Hash>;

/// RFC 9162 §2.1.3.2, as `merkle::verify_inclusion`, remembering each
/// subtree hash a successful walk computes. A later walk that reaches a
/// remembered subtree stops there: equal, the leaf is in the tree (the
/// subtree is); different, it is not. Entries close together share most
/// of their paths, so most walks take two or three hashes, not seventeen.
#[cfg(test)]
fn verify_path(leaf: Hash, index: u64, size: u64, proof: &[Hash], root: &Hash, proven: &mut Proven) -> bool {
    let mut hashes = proof.iter().map(|hash| Some(*hash));
    walk(leaf, index, size, &mut hashes, root, proven) == Some(true)
}

/// The walk over proof hashes decoded one at a time, as they are needed:
/// `None` when one is not base64 of 32 bytes.
fn walk(
    leaf: Hash,
    index: u64,
    size: u64,
    proof: &mut dyn Iterator<Item = Option<Hash>>,
    root: &Hash,
    proven: &mut Proven,
) -> Option<bool> {
    if index >= size {
        return Some(false);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = leaf;
    let mut walked: Vec<((u64, u64), Hash)> = Vec::with_capacity(20);
    for p in proof {
        let p = p?;
        if snode == 0 {
            return Some(false);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = merkle::node_hash(&p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = merkle::node_hash(&r, &p);
        }
        fnode >>= 1;
        snode >>= 1;
        if snode != 0 {
            if let Some(known) = proven.get(&(fnode, snode)) {
                if *known != r {
                    return Some(false);
                }
                proven.extend(walked);
                return Some(true);
            }
            walked.push(((fnode, snode), r));
        }
    }
    let included = snode == 0 && r == *root;
    if included {
        proven.extend(walked);
    }
    Some(included)
}

fn verify_one(entry: &ProvedEntry, proved_size: u64, root: &Hash, proven: &mut Proven) -> Result<Value, BundleError> {
    let index = entry.index;
    let not_base64 = || BundleError::at(index, format!("entry {index}: the proof is not base64 hashes"));
    // Each hash is decoded only if the walk reaches it; the rest must
    // still look like hashes.
    if entry.proof.iter().any(|hash| hash.len() != 44) {
        return Err(not_base64());
    }
    let leaf_hash = merkle::leaf_hash(entry.leaf.as_bytes());
    let mut hashes = entry.proof.iter().map(|hash| decode_hash(hash));
    if !walk(leaf_hash, index, proved_size, &mut hashes, root, proven).ok_or_else(not_base64)? {
        return Err(BundleError::at(index, format!("entry {index}: inclusion proof does not verify")));
    }
    serde_json::from_str(&entry.leaf)
        .map_err(|e| BundleError::at(index, format!("entry {index}: the leaf is not JSON: {e}")))
}

/// The leaves of one piece of work, or its first bad entry.
type Piece = Result<Vec<(u64, Value)>, BundleError>;

fn verify_entries(
    entries: &[ProvedEntry],
    proved_size: u64,
    root: &Hash,
    workers: usize,
) -> Result<Vec<(u64, Value)>, BundleError> {
    let chunk = entries.len().div_ceil(workers.max(1) * 4).clamp(1, CHUNK);
    let results: Vec<Piece> = if workers <= 1 || entries.len() <= CHUNK {
        let mut proven = Proven::new();
        vec![
            entries
                .iter()
                .map(|entry| verify_one(entry, proved_size, root, &mut proven).map(|leaf| (entry.index, leaf)))
                .collect(),
        ]
    } else {
        // Pieces handed out in order, each verified on whichever thread is
        // free; the results are read back in order, so the error named is
        // the first bad entry's whichever thread found it.
        let pieces: Vec<&[ProvedEntry]> = entries.chunks(chunk).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut slots: Vec<Option<Piece>> = vec![None; pieces.len()];
        let done = std::sync::Mutex::new(&mut slots);
        std::thread::scope(|scope| {
            for _ in 0..workers.min(pieces.len()) {
                scope.spawn(|| {
                    loop {
                        let piece = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(entries) = pieces.get(piece) else { break };
                        let mut proven = Proven::new();
                        let result = entries
                            .iter()
                            .map(|entry| {
                                verify_one(entry, proved_size, root, &mut proven).map(|leaf| (entry.index, leaf))
                            })
                            .collect();
                        if let Ok(mut slots) = done.lock() {
                            slots[piece] = Some(result);
                        }
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|slot| slot.unwrap_or_else(|| Err(BundleError::general("a verification thread failed"))))
            .collect()
    };
    let mut leaves = Vec::with_capacity(entries.len());
    for result in results {
        leaves.extend(result?);
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests;
