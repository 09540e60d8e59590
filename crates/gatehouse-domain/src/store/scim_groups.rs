//! SCIM groups and their members; members' grants follow the group mappings.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::GroupId;
use crate::scim::filter::Filter;
use crate::scim::{GroupInput, ScimGroup};

#[async_trait]
pub trait ScimGroupStore: Send + Sync {
    /// Creates a group. Members must be SCIM users; each gains the grants
    /// the group's mappings give. `Conflict` if the name is taken.
    async fn scim_create_group(
        &self,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError>;

    async fn scim_find_group(&self, id: GroupId) -> Result<Option<ScimGroup>, StoreError>;

    /// Groups, by `displayName` (case-insensitive) or `id` when filtered.
    async fn scim_list_groups(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError>;

    /// Replaces name and members; grants follow the membership change.
    async fn scim_replace_group(
        &self,
        id: GroupId,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError>;

    /// Deletes the group; its members lose the grants it gave.
    async fn scim_delete_group(&self, id: GroupId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError>;
}
