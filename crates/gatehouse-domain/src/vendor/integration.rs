//! An integration: one vendor's tool wired into the pipeline as one service
//! identity, with the access it declares; its state; the exceptions that
//! waive rules of the standard for it; and what the scheduler last noted
//! about evidence, so a due-soon or expiry is announced once.

use time::OffsetDateTime;

use super::record::named_enum;
use super::standard::{DeclaredAccess, Exception, ExceptionError, check_exception, check_exception_terms};
use crate::ids::{ApprovalRequestId, EvidenceId, ExceptionId, IdentityId, IntegrationId, VendorId};

named_enum!(
    /// Where an integration stands, apart from its vendor's compliance.
    IntegrationState, "integration state", {
        /// Registered, waiting for onboarding approval; its identity is suspended.
        PendingApproval => "pending_approval",
        /// Onboarded: in force while its vendor is compliant.
        Active => "active",
        /// Suspended by a lapse (`suspend`); reactivated when compliant again.
        Suspended => "suspended",
        /// Its onboarding was denied, or its vendor offboarded: final.
        Retired => "retired",
    }
);

/// An integration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub vendor_id: VendorId,
    /// The service identity the tool acts as.
    pub identity_id: IdentityId,
    pub declared: DeclaredAccess,
    pub state: IntegrationState,
    /// The request through the approved channel that onboards it.
    pub onboarding_request: Option<ApprovalRequestId>,
    /// Whether it was in force when the scheduler last looked; `None`
    /// before the first look.
    pub noted_in_force: Option<bool>,
    pub registered_by: IdentityId,
    pub registered_at: OffsetDateTime,
}

/// A change to an integration the store applies with its audit entries:
/// its state, what the scheduler noted, and (for `suspend` lapses and
/// their end) its identity's status, all in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrationChange {
    pub state: IntegrationState,
    pub noted_in_force: Option<bool>,
    /// `Some(true)`: reactivate the identity if suspended; `Some(false)`:
    /// suspend it if active; `None`: leave it.
    pub identity_active: Option<bool>,
    /// The onboarding request, when one is attached.
    pub onboarding_request: Option<ApprovalRequestId>,
}

impl Integration {
    /// The change that leaves everything as it is, to edit from.
    pub fn unchanged(&self) -> IntegrationChange {
        IntegrationChange {
            state: self.state,
            noted_in_force: self.noted_in_force,
            identity_active: None,
            onboarding_request: self.onboarding_request,
        }
    }
}

/// An exception as stored: requested by one person, granted by another.
/// Only a granted, unexpired one waives its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRecord {
    pub id: ExceptionId,
    pub integration_id: IntegrationId,
    pub rule: String,
    pub reason: String,
    pub requested_by: IdentityId,
    pub requested_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub approved_by: Option<IdentityId>,
    pub approved_at: Option<OffsetDateTime>,
    /// Whether its expiry was announced (`exception.expire`).
    pub expiry_announced: bool,
}

impl ExceptionRecord {
    /// The waiver, once granted.
    pub fn granted(&self) -> Option<Exception> {
        Some(Exception {
            rule: self.rule.clone(),
            reason: self.reason.clone(),
            requested_by: self.requested_by,
            approved_by: self.approved_by?,
            expires_at: self.expires_at,
        })
    }

    /// `approved`, `pending` or `expired` at `now`.
    pub fn state_at(&self, now: OffsetDateTime) -> &'static str {
        if now >= self.expires_at {
            "expired"
        } else if self.approved_by.is_some() {
            "approved"
        } else {
            "pending"
        }
    }
}

/// An exception as asked for, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewException {
    pub integration_id: IntegrationId,
    pub rule: String,
    pub reason: String,
    pub requested_by: IdentityId,
    pub expires_at: OffsetDateTime,
}

impl NewException {
    /// Checks the request at `now` (a known rule, a reason, at most 90
    /// days) and makes the record, not yet granted.
    pub fn check(self, id: ExceptionId, now: OffsetDateTime) -> Result<ExceptionRecord, ExceptionError> {
        check_exception_terms(&self.rule, &self.reason, self.expires_at, now)?;
        Ok(ExceptionRecord {
            id,
            integration_id: self.integration_id,
            rule: self.rule,
            reason: self.reason.trim().to_owned(),
            requested_by: self.requested_by,
            requested_at: now,
            expires_at: self.expires_at,
            approved_by: None,
            approved_at: None,
            expiry_announced: false,
        })
    }
}

/// Grants `record` by `approver` at `now`, or says why not: someone other
/// than the requester, before it expires, still at most 90 days from now.
pub fn grant_exception(
    record: &ExceptionRecord,
    approver: IdentityId,
    now: OffsetDateTime,
) -> Result<ExceptionRecord, GrantExceptionError> {
    if record.approved_by.is_some() {
        return Err(GrantExceptionError::AlreadyGranted);
    }
    let exception = Exception {
        rule: record.rule.clone(),
        reason: record.reason.clone(),
        requested_by: record.requested_by,
        approved_by: approver,
        expires_at: record.expires_at,
    };
    check_exception(&exception, now)?;
    Ok(ExceptionRecord { approved_by: Some(approver), approved_at: Some(now), ..record.clone() })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantExceptionError {
    #[error("the exception is granted already")]
    AlreadyGranted,
    #[error(transparent)]
    Invalid(#[from] ExceptionError),
}

named_enum!(
    /// What the scheduler last announced about an evidence item.
    EvidenceNote, "evidence note", {
        Valid => "valid",
        DueSoon => "due_soon",
        Expired => "expired",
    }
);

/// One evidence item's last announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotedEvidence {
    pub evidence_id: EvidenceId,
    pub note: EvidenceNote,
}
