//! Who signed which commit, as verifications proved it.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::change::{CommitAuthor, CommitSha};

#[async_trait]
pub trait CommitAuthorStore: Send + Sync {
    /// Records the facts a verification proved, with the verification's own
    /// entry, in one transaction; returns the entry's index. A fact recorded
    /// before (same commit, identity and repository) keeps its first record.
    async fn record_commit_authors(&self, facts: Vec<CommitAuthor>, audit: AuditRecord) -> Result<u64, StoreError>;

    /// Every fact recorded about any of `commits`, oldest first.
    async fn commit_authors(&self, commits: &[CommitSha]) -> Result<Vec<CommitAuthor>, StoreError>;
}
