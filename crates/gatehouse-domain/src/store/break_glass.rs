//! Break-glass requests and the after-review each owes: created with the
//! request (and its grant) in one transaction, reviewed by distinct people,
//! and raised by the scheduler while overdue. The store guards the races
//! only (a review or an alert that landed since the caller read the
//! after-review; one review per person); who may review and when it is
//! complete or due again are `access::check_after_review`,
//! `check_review_count` and `overdue_alert_due`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::access::{AfterReviewEntry, ApprovalRequest, NewAfterReview, NewApprovalRequest};
use crate::audit::AuditRecord;
use crate::ids::ApprovalRequestId;

#[async_trait]
pub trait BreakGlassStore: Send + Sync {
    /// Stores a break-glass request (already `approved`, or `active` with
    /// its grant) and the after-review it owes, in one transaction.
    /// `Conflict::RequestOpenForRun` as `create_approval_request`.
    async fn create_break_glass_request(
        &self,
        new: NewApprovalRequest,
        review: NewAfterReview,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError>;

    /// Records a review of the request's after-review, completing it when
    /// `completes`. The after-review must still be at `revision` and not
    /// complete, else `Conflict::AfterReviewRevised`; a second review by
    /// the same person is `Conflict::AlreadyReviewed`; a request without
    /// an after-review is `NotFound`.
    async fn record_after_review(
        &self,
        id: ApprovalRequestId,
        revision: i64,
        review: AfterReviewEntry,
        completes: bool,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError>;

    /// Up to `limit` break-glass requests whose after-review is due at or
    /// before `now`, not complete, and last raised at or before
    /// `raised_before` (or never), earliest due first.
    async fn overdue_after_reviews(
        &self,
        now: OffsetDateTime,
        raised_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError>;

    /// How many after-reviews are overdue at `now`.
    async fn count_overdue_after_reviews(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Records that the overdue after-review was raised at `at`, with its
    /// audit entry. It must still be incomplete at `revision` (the caller
    /// read it there), else `Conflict::AfterReviewRevised`.
    async fn raise_overdue_after_review(
        &self,
        id: ApprovalRequestId,
        revision: i64,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ApprovalRequest, StoreError>;
}
