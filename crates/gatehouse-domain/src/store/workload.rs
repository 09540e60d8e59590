//! Trust bindings (which CI jobs may act as which service identity) and the
//! tokens their exchange mints.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreError};
use crate::audit::AuditRecord;
use crate::ids::TrustBindingId;
use crate::token::{ApiToken, NewToken};
use crate::workload::{NewTrustBinding, TrustBinding};
use crate::workload_exchange::WorkloadTokenUse;

#[async_trait]
pub trait WorkloadStore: Send + Sync {
    /// `Conflict` if the identity is not an active service identity.
    async fn create_trust_binding(&self, new: NewTrustBinding, audit: AuditRecord) -> Result<TrustBinding, StoreError>;

    /// A binding not deleted.
    async fn find_trust_binding(&self, id: TrustBindingId) -> Result<Option<TrustBinding>, StoreError>;

    /// Bindings not deleted, oldest first.
    async fn list_trust_bindings(&self, page: PageRequest) -> Result<Page<TrustBinding>, StoreError>;

    /// The bindings for one issuer (exact match), oldest first: what a CI
    /// token from that issuer is checked against.
    async fn trust_bindings_for_issuer(&self, issuer: &str) -> Result<Vec<TrustBinding>, StoreError>;

    /// Deletes the binding and revokes every token obtained through it.
    /// `NotFound` if there is no such binding (or it is deleted already).
    async fn delete_trust_binding(
        &self,
        id: TrustBindingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<TrustBinding, StoreError>;

    /// Mints the token a CI job's exchange hands out and records the CI
    /// token's use, in one transaction. `None` if that use was recorded
    /// before (a second exchange of the same CI token): then no token and no
    /// entry is written. Uses kept until before `once.used_at` are
    /// forgotten. `Conflict` if the identity is not active.
    async fn create_workload_token(
        &self,
        new: NewToken,
        once: WorkloadTokenUse,
        audit: AuditRecord,
    ) -> Result<Option<ApiToken>, StoreError>;
}
