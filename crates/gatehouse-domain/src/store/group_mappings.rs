//! Group mappings: members of a directory group hold a role over a scope.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::GroupMappingId;
use crate::scim::GroupMapping;

#[async_trait]
pub trait GroupMappingStore: Send + Sync {
    /// Adds a mapping; current members gain the grant at once.
    async fn create_group_mapping(&self, mapping: GroupMapping, audit: AuditRecord)
    -> Result<GroupMapping, StoreError>;

    async fn list_group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError>;

    /// Removes a mapping; the grants it gave are revoked.
    async fn delete_group_mapping(
        &self,
        id: GroupMappingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError>;
}
