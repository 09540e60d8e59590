//! SCIM users: the people an identity provider provisions, and the links an
//! admin makes.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::IdentityId;
use crate::scim::filter::Filter;
use crate::scim::{ScimUser, UserInput};

#[async_trait]
pub trait ScimUserStore: Send + Sync {
    /// Provisions a person: creates a human identity (with `input.email`,
    /// or none) and its SCIM user, origin `Created`. Never adopts an
    /// existing identity: `Conflict` if the userName or the email is taken.
    /// An inactive user is suspended at once.
    async fn scim_create_user(
        &self,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    async fn scim_find_user(&self, id: IdentityId) -> Result<Option<ScimUser>, StoreError>;

    /// Users matching `filter` (`userName` case-insensitively, `externalId`
    /// or `id` exactly), oldest first: the total, and `count` from the
    /// 1-based `start_index`.
    async fn scim_list_users(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimUser>), StoreError>;

    /// Every SCIM user's manager, as (person, manager), whatever the
    /// manager's status: the reader skips those not active.
    async fn scim_list_managers(&self) -> Result<Vec<(IdentityId, IdentityId)>, StoreError>;

    /// Replaces the user's attributes (and manager). Turning `active` off suspends the
    /// identity and revokes every token and grant in the same transaction;
    /// turning it on reactivates a suspended identity.
    async fn scim_update_user(
        &self,
        id: IdentityId,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    /// Deprovisions the identity (every token and grant revoked) and
    /// forgets the SCIM user, so its userName may be used again.
    async fn scim_delete_user(&self, id: IdentityId, now: OffsetDateTime, audit: AuditRecord)
    -> Result<(), StoreError>;

    /// Makes an existing person SCIM's to change (an admin's explicit link):
    /// a new SCIM user named `user_name` with `attributes`, origin `Linked`,
    /// or a user adopted by email (origin `Adopted`) turned `Linked`.
    /// `Conflict` if SCIM already manages them or the userName is taken.
    async fn scim_link_user(
        &self,
        id: IdentityId,
        user_name: String,
        attributes: serde_json::Map<String, serde_json::Value>,
        linked_by: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    /// Takes a person out of SCIM's hands, leaving the identity as it is:
    /// forgets the SCIM user and its group memberships, revoking the grants
    /// those groups gave. `NotFound` if SCIM holds no user for them.
    async fn scim_unlink_user(&self, id: IdentityId, now: OffsetDateTime, audit: AuditRecord)
    -> Result<(), StoreError>;
}
