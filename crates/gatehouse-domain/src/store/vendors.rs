//! Vendors, their evidence (metadata beside content kept once per SHA-256
//! digest), integrations and the exceptions that waive rules for them, and
//! what the scheduler last announced about each evidence item. Every write
//! moves the credential stamp: compliance decides what an integration's
//! identity may do, so what is cached about it must be read again.
//!
//! The store guards the races only (a name taken, a status or state that
//! moved since the caller read it, an exception granted twice); whether a
//! change is allowed is `vendor::transition`, `NewEvidence::check`,
//! `grant_exception` and the rest.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{EvidenceId, ExceptionId, IdentityId, IntegrationId, VendorId};
use crate::vendor::{
    ContentDigest, Evidence, EvidenceNote, ExceptionRecord, Integration, IntegrationChange, IntegrationState,
    NotedEvidence, Vendor, VendorStatus,
};

#[async_trait]
pub trait VendorStore: Send + Sync {
    /// Stores a new vendor. `Conflict::VendorNameTaken` when another vendor
    /// has this name (compared without case).
    async fn create_vendor(&self, vendor: Vendor, audit: AuditRecord) -> Result<Vendor, StoreError>;

    async fn find_vendor(&self, id: VendorId) -> Result<Option<Vendor>, StoreError>;

    /// Every vendor, by name.
    async fn list_vendors(&self) -> Result<Vec<Vendor>, StoreError>;

    /// Replaces a vendor's record (its id unchanged). It must still have
    /// `expected_status`, else `Conflict::VendorStatusChanged`;
    /// `Conflict::VendorNameTaken` as `create_vendor`; `NotFound` when unknown.
    async fn update_vendor(
        &self,
        vendor: Vendor,
        expected_status: VendorStatus,
        audits: Vec<AuditRecord>,
    ) -> Result<Vendor, StoreError>;

    /// Stores an evidence item and its content (once per digest: content
    /// already held under `evidence.digest` is not written again).
    /// `NotFound` for an unknown vendor.
    async fn add_evidence(
        &self,
        evidence: Evidence,
        content: Vec<u8>,
        audit: AuditRecord,
    ) -> Result<Evidence, StoreError>;

    async fn find_evidence(&self, id: EvidenceId) -> Result<Option<Evidence>, StoreError>;

    /// A vendor's evidence, oldest first.
    async fn list_evidence(&self, vendor: VendorId) -> Result<Vec<Evidence>, StoreError>;

    /// Every vendor's evidence, by vendor then oldest first (reports and
    /// the scheduler read it whole).
    async fn all_evidence(&self) -> Result<Vec<Evidence>, StoreError>;

    /// The content stored under `digest`.
    async fn evidence_content(&self, digest: &ContentDigest) -> Result<Option<Vec<u8>>, StoreError>;

    /// What the scheduler last announced about each evidence item.
    async fn evidence_notes(&self) -> Result<Vec<NotedEvidence>, StoreError>;

    /// Records `note` about an item with its audit entries, if its last
    /// note is still `expected` (`None`: never noted). `false`, with nothing
    /// written, when it moved meanwhile.
    async fn note_evidence(
        &self,
        id: EvidenceId,
        expected: Option<EvidenceNote>,
        note: EvidenceNote,
        audits: Vec<AuditRecord>,
    ) -> Result<bool, StoreError>;

    /// Stores a new integration; when it is `PendingApproval` its identity,
    /// if active, is suspended in the same transaction.
    /// `Conflict::IdentityIntegrated` when the identity already serves an
    /// integration that is not retired; `NotFound` for an unknown vendor or
    /// identity.
    async fn create_integration(
        &self,
        integration: Integration,
        audits: Vec<AuditRecord>,
    ) -> Result<Integration, StoreError>;

    async fn find_integration(&self, id: IntegrationId) -> Result<Option<Integration>, StoreError>;

    /// The integration (not retired) the identity serves, if any.
    async fn integration_of_identity(&self, identity: IdentityId) -> Result<Option<Integration>, StoreError>;

    /// Integrations, oldest first; a vendor's only when `vendor` is given.
    async fn list_integrations(&self, vendor: Option<VendorId>) -> Result<Vec<Integration>, StoreError>;

    /// Applies `change` with its audit entries. The integration must still
    /// be in `expected_state` with `expected_noted`, else
    /// `Conflict::IntegrationChanged`. The identity's status moves as
    /// `change.identity_active` says (a deprovisioned identity is left as it is).
    async fn update_integration(
        &self,
        id: IntegrationId,
        expected_state: IntegrationState,
        expected_noted: Option<bool>,
        change: IntegrationChange,
        audits: Vec<AuditRecord>,
    ) -> Result<Integration, StoreError>;

    /// Stores an exception as asked (not yet granted). `NotFound` for an
    /// unknown integration.
    async fn create_exception(
        &self,
        exception: ExceptionRecord,
        audits: Vec<AuditRecord>,
    ) -> Result<ExceptionRecord, StoreError>;

    /// Records the grant (`approved_by`, `approved_at` of `granted`).
    /// `Conflict::ExceptionGranted` when it was granted meanwhile.
    async fn grant_exception(
        &self,
        granted: ExceptionRecord,
        audits: Vec<AuditRecord>,
    ) -> Result<ExceptionRecord, StoreError>;

    async fn find_exception(&self, id: ExceptionId) -> Result<Option<ExceptionRecord>, StoreError>;

    /// An integration's exceptions, oldest first.
    async fn list_exceptions(&self, integration: IntegrationId) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// Granted exceptions expired at or before `now` whose expiry was not
    /// announced yet, of every integration.
    async fn unannounced_expired_exceptions(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// Records that the exception's expiry was announced, with its audit
    /// entries. `false`, with nothing written, when it was already.
    async fn announce_exception_expiry(&self, id: ExceptionId, audits: Vec<AuditRecord>) -> Result<bool, StoreError>;
}
