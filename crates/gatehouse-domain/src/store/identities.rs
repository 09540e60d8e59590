//! Identities: people and services, and the status each is in.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreError};
use crate::audit::AuditRecord;
use crate::identity::{Identity, IdentityStatus, NewIdentity};
use crate::ids::IdentityId;

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn create_identity(&self, new: NewIdentity, audit: AuditRecord) -> Result<Identity, StoreError>;

    async fn find_identity(&self, id: IdentityId) -> Result<Option<Identity>, StoreError>;

    async fn list_identities(&self, page: PageRequest) -> Result<Page<Identity>, StoreError>;

    /// Moves an identity from `from` to `to`. `Conflict` if it is no longer
    /// in `from`. Moving to `Deprovisioned` also revokes every token and
    /// grant it holds, in the same transaction.
    async fn update_identity_status(
        &self,
        id: IdentityId,
        from: IdentityStatus,
        to: IdentityStatus,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Identity, StoreError>;

    /// The active or suspended human identity with this email.
    async fn find_human_by_email(&self, email: &str) -> Result<Option<Identity>, StoreError>;
}
