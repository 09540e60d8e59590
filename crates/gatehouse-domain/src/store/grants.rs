//! Grants (who holds which role over which scope) and the registered resources.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreError};
use crate::audit::AuditRecord;
use crate::grant::{Grant, NewGrant, Resource};
use crate::ids::{GrantId, IdentityId};

#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn create_grant(&self, new: NewGrant, audit: AuditRecord) -> Result<Grant, StoreError>;

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError>;

    /// Grants, oldest first, of one identity or of all.
    async fn list_grants(&self, identity: Option<IdentityId>, page: PageRequest) -> Result<Page<Grant>, StoreError>;

    /// Registers a resource (for the access matrix). `Conflict` if it is
    /// registered already.
    async fn create_resource(
        &self,
        resource: &Resource,
        created_at: OffsetDateTime,
        created_by: Option<IdentityId>,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    /// Every registered resource.
    async fn list_resources(&self) -> Result<Vec<Resource>, StoreError>;

    /// `Conflict` if the grant is already revoked.
    async fn revoke_grant(&self, id: GrantId, now: OffsetDateTime, audit: AuditRecord) -> Result<Grant, StoreError>;

    /// Every grant ever given to the identity, in force or not.
    async fn list_grants_of(&self, identity: IdentityId) -> Result<Vec<Grant>, StoreError>;
}
