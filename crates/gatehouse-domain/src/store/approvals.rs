//! Requests through the approved channel and the votes on them. The store
//! keeps only the race guards (the state, digest and revision a caller read;
//! one open request per run; one live vote per person); which transition
//! and which tally are allowed is `access::transition` and `access::tally`,
//! called before these commands.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreError};
use crate::access::{ApprovalRequest, ApproverDirectory, BindingKey, NewApprovalRequest, NewVote, RequestState};
use crate::audit::AuditRecord;
use crate::grant::NewGrant;
use crate::ids::{ApprovalRequestId, IdentityId};

/// Which requests a listing shows; `None` is no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    pub state: Option<RequestState>,
    pub requester: Option<IdentityId>,
    /// Requests this identity voted on (live or withdrawn).
    pub voter: Option<IdentityId>,
    /// Requests whose resource (an access request's scope) starts with this.
    pub resource_prefix: Option<String>,
    /// Created at or after.
    pub created_from: Option<OffsetDateTime>,
    /// Created before.
    pub created_before: Option<OffsetDateTime>,
    /// Only break-glass uses whose after-review is not complete.
    pub after_review_open: bool,
}

/// A decision a vote completes: the new state (`approved`, `denied`, or
/// `active` for access, whose `grant` starts with the approval) and the
/// assignment of votes to clauses that decided it.
#[derive(Debug, Clone)]
pub struct VoteOutcome {
    pub state: RequestState,
    pub assignment: Vec<(usize, crate::ids::IdentityId)>,
    pub grant: Option<NewGrant>,
}

/// What [`ApprovalStore::cancel_requests_of`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelledRequests {
    /// The identity's pending requests, now cancelled.
    pub cancelled: Vec<ApprovalRequestId>,
    /// Pending requests whose live vote by the identity was withdrawn.
    pub votes_withdrawn: Vec<ApprovalRequestId>,
}

#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Stores a request (and, for break-glass access, its grant).
    /// `Conflict::RequestOpenForRun` if a pending or approved request has
    /// the same binding key.
    async fn create_approval_request(
        &self,
        new: NewApprovalRequest,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError>;

    /// A request with all its votes.
    async fn find_approval_request(&self, id: ApprovalRequestId) -> Result<Option<ApprovalRequest>, StoreError>;

    /// The pending or approved request for a run, if there is one.
    async fn find_open_request_by_binding(&self, key: &BindingKey) -> Result<Option<ApprovalRequest>, StoreError>;

    /// Requests, newest first, with their votes.
    async fn list_approval_requests(
        &self,
        filter: &ApprovalFilter,
        page: PageRequest,
    ) -> Result<Page<ApprovalRequest>, StoreError>;

    /// Records a vote and, when it decides the request, the decision, in one
    /// transaction. The request must still be `pending` with `digest` and at
    /// `revision` (what the caller tallied), else `Conflict`
    /// (`RequestStateChanged`, `RequestDigestChanged`, `RequestRevised`);
    /// a second live vote by the same voter is `Conflict::AlreadyVoted`.
    async fn record_vote(
        &self,
        id: ApprovalRequestId,
        digest: &str,
        revision: i64,
        vote: NewVote,
        decided: Option<VoteOutcome>,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError>;

    /// Withdraws the voter's live vote on a pending request. `NotFound` if
    /// they have none; `Conflict::RequestStateChanged` if it is decided.
    async fn withdraw_vote(
        &self,
        id: ApprovalRequestId,
        voter: IdentityId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ApprovalRequest, StoreError>;

    /// Moves a request from `from` to `to` (a transition the caller checked),
    /// creating `grant` (access activation) with it. Leaving `active` revokes
    /// the request's grant if it is still in force. `Conflict::
    /// RequestStateChanged` if the request is no longer in `from`.
    async fn change_approval_state(
        &self,
        id: ApprovalRequestId,
        from: RequestState,
        to: RequestState,
        at: OffsetDateTime,
        grant: Option<NewGrant>,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError>;

    /// Up to `limit` requests due for the scheduler, earliest first: pending
    /// ones and approved ones not used (action approvals) past
    /// `expires_at`, and active access whose grant has ended (expired or
    /// revoked).
    async fn due_approval_requests(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ApprovalRequest>, StoreError>;

    /// Cancels the identity's pending requests and withdraws its live votes
    /// on pending requests, in one transaction: `audit` (the cause) is
    /// written as given, with a `request.cancel` entry derived from it per
    /// request cancelled and a `request.vote` entry per vote withdrawn.
    async fn cancel_requests_of(
        &self,
        identity: IdentityId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<CancelledRequests, StoreError>;

    /// Who may count as an approver now: active people, their grants in
    /// force at `now`, and their directory groups.
    async fn approver_directory(&self, now: OffsetDateTime) -> Result<ApproverDirectory, StoreError>;
}
