//! The audit log: entries that describe no state change, reads, and the
//! Merkle tree's checkpoints and nodes.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::{AuditEntry, AuditRecord};

/// Which audit entries to list. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// A signed checkpoint of the audit log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: [u8; 32],
    /// The C2SP signed note.
    pub note: String,
    pub created_at: OffsetDateTime,
}

/// A hash of a complete subtree of the audit log's Merkle tree: the node at
/// `level` covering leaves `[index << level, (index + 1) << level)`.
pub type TreeNodeId = (u8, u64);

/// An audit entry as it was made durable, for a forwarder: its index and
/// its leaf, the exact bytes the Merkle tree hashed (the canonical JSON of
/// [`AuditEntry::to_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableEntry {
    pub index: u64,
    pub leaf: Vec<u8>,
}

/// Receives every audit entry once it is durable, e.g. to copy it to a SIEM.
/// It must not block for long: it runs on the commit path.
pub trait AuditForwarder: Send + Sync {
    fn forward(&self, entries: &[DurableEntry]);
}

#[async_trait]
pub trait AuditLogStore: Send + Sync {
    /// Appends entries that describe no state change. Returns their indexes.
    async fn append_audit_batch(&self, records: Vec<AuditRecord>) -> Result<Vec<u64>, StoreError>;

    /// Appends an entry that describes no state change (a decision, a failed
    /// authentication). Returns its index.
    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError>;

    /// Entries from index `start` on, at most `limit`.
    async fn list_audit(&self, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Entries matching `filter`, from index `start` on, at most `limit`.
    async fn search_audit(&self, filter: &AuditFilter, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Entries matching `filter` with an index below `before` (any when
    /// none), newest first, at most `limit`: a log read from its end.
    async fn search_audit_newest(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The exact leaf bytes of entries from `start` on, at most `limit`.
    async fn list_audit_leaves(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// The number of entries in the log.
    async fn audit_size(&self) -> Result<u64, StoreError>;

    /// The newest signed checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Stored subtree hashes, in the order asked. `NotFound` if one is
    /// missing (the tree is smaller than the request assumes).
    async fn find_tree_nodes(&self, ids: &[TreeNodeId]) -> Result<Vec<[u8; 32]>, StoreError>;
}
