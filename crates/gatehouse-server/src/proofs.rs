//! Proof bundles of chosen audit entries (`gatehouse_audit::bundle`), read
//! from the store: each entry with its inclusion proof in the tree ending
//! at the last one, that tree's root and its consistency proof to the
//! latest signed checkpoint. The evidence file and the review export are
//! made here.

use std::collections::HashMap;

use gatehouse_audit::bundle::{self, Bundle, BundleHead, ProvedEntry};
use gatehouse_audit::merkle::{self, Hash, NodeId};
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::store::{Store, StoreError};
use serde_json::{Map, Value};

/// Entries proved per read of tree nodes.
const PROOF_BATCH: usize = 2_000;

#[derive(Debug)]
pub enum ProofError {
    NoCheckpoint,
    NotInitialized,
    Store(StoreError),
    /// The database disagrees with its own tree: a bug or tampering.
    Inconsistent(String),
}

impl std::fmt::Display for ProofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProofError::NoCheckpoint => f.write_str("the audit log has no checkpoint yet"),
            ProofError::NotInitialized => f.write_str("gatehouse is not initialized"),
            ProofError::Store(error) => write!(f, "{error}"),
            ProofError::Inconsistent(cause) => f.write_str(cause),
        }
    }
}

impl From<StoreError> for ProofError {
    fn from(error: StoreError) -> Self {
        ProofError::Store(error)
    }
}

impl From<ProofError> for crate::problem::ApiError {
    fn from(error: ProofError) -> Self {
        match error {
            ProofError::Store(error) => error.into(),
            ProofError::NoCheckpoint | ProofError::NotInitialized => {
                crate::problem::ApiError::Conflict(error.to_string())
            }
            ProofError::Inconsistent(cause) => crate::problem::ApiError::Internal(cause),
        }
    }
}

/// The latest checkpoint's size: nothing after it can be proved against it.
pub async fn provable_size(store: &dyn Store) -> Result<u64, ProofError> {
    Ok(store.latest_checkpoint().await?.ok_or(ProofError::NoCheckpoint)?.tree_size)
}

/// The bundle of `entries` (each below the latest checkpoint, any order)
/// with `sections`, in `format`.
pub async fn bundle_of(
    store: &dyn Store,
    format: &str,
    mut entries: Vec<AuditEntry>,
    sections: Map<String, Value>,
) -> Result<Bundle, ProofError> {
    entries.sort_by_key(|entry| entry.index);
    entries.dedup_by_key(|entry| entry.index);
    let leaves: Vec<(u64, String)> = entries
        .into_iter()
        .map(|entry| {
            String::from_utf8(entry.leaf_bytes())
                .map(|leaf| (entry.index, leaf))
                .map_err(|_| ProofError::Inconsistent(format!("entry {} is not UTF-8", entry.index)))
        })
        .collect::<Result<_, _>>()?;
    bundle_of_leaves(store, format, leaves, sections).await
}

/// The bundle of `leaves` (`(index, leaf text)`, ascending, each below the
/// latest checkpoint) with `sections`, in `format`.
pub async fn bundle_of_leaves(
    store: &dyn Store,
    format: &str,
    leaves: Vec<(u64, String)>,
    sections: Map<String, Value>,
) -> Result<Bundle, ProofError> {
    let checkpoint = store.latest_checkpoint().await?.ok_or(ProofError::NoCheckpoint)?;
    let installation = store.find_installation().await?.ok_or(ProofError::NotInitialized)?;
    if let Some((last, _)) = leaves.last()
        && *last >= checkpoint.tree_size
    {
        return Err(ProofError::Inconsistent(format!("entry {last} is after the latest checkpoint")));
    }
    let head = BundleHead {
        format: format.to_owned(),
        origin: installation.audit_origin,
        public_key: installation.audit_public_key,
        checkpoint_note: checkpoint.note,
        checkpoint_size: checkpoint.tree_size,
    };
    let proved = prove(store, leaves).await?;
    let indexes: Vec<u64> = proved.iter().map(|entry| entry.index).collect();
    let proved_size = bundle::proved_size_for(&indexes);
    let nodes = read_nodes(store, bundle::root_and_consistency_nodes(proved_size, checkpoint.tree_size)).await?;
    head.finish(proved, sections, &mut |id| nodes.get(&id).copied().unwrap_or_default())
        .map_err(|e| ProofError::Inconsistent(e.to_string()))
}

async fn read_nodes(store: &dyn Store, ids: Vec<NodeId>) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
    let hashes = store.find_tree_nodes(&keys).await?;
    Ok(ids.into_iter().zip(hashes).collect())
}

/// Each leaf with its inclusion proof in the tree ending at the last one;
/// each leaf is checked against the tree's own leaf hash on the way.
async fn prove(store: &dyn Store, leaves: Vec<(u64, String)>) -> Result<Vec<ProvedEntry>, ProofError> {
    let proved_size = leaves.last().map_or(0, |(index, _)| index + 1);
    let mut proved = Vec::with_capacity(leaves.len());
    let mut rest = leaves.into_iter().peekable();
    while rest.peek().is_some() {
        let batch: Vec<(u64, String)> = rest.by_ref().take(PROOF_BATCH).collect();
        let indexes: Vec<u64> = batch.iter().map(|(index, _)| *index).collect();
        let mut ids = bundle::inclusion_nodes(&indexes, proved_size);
        ids.extend(indexes.iter().map(|&index| NodeId::new(0, index)));
        ids.sort();
        ids.dedup();
        let nodes = read_nodes(store, ids).await?;
        let mut get = |id: NodeId| nodes.get(&id).copied().unwrap_or_default();
        for (index, leaf) in batch {
            if nodes.get(&NodeId::new(0, index)) != Some(&merkle::leaf_hash(leaf.as_bytes())) {
                return Err(ProofError::Inconsistent(format!(
                    "entry {index} as stored does not hash to the tree's leaf"
                )));
            }
            let entry = bundle::prove_entry(index, leaf, proved_size, &mut get)
                .map_err(|e| ProofError::Inconsistent(e.to_string()))?;
            proved.push(entry);
        }
    }
    Ok(proved)
}
