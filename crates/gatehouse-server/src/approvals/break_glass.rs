//! Break-glass: a member of a rule's `break_glass.who` takes access (or a
//! deployment approval) at once, for the rule's `break_glass.duration` at
//! most, loudly (`breakglass.activate`, in the request's transaction), and
//! owes an after-review by `quorum` other people of the rule's review pool
//! within its window. The checks are the domain's (`check_break_glass`,
//! `check_after_review`, `check_review_count`); the scheduler raises an
//! after-review that is overdue.

use gatehouse_domain::access::{
    AfterReviewEntry, ApprovalRequest, BreakGlassError, MAX_REASON_CHARS, MAX_TICKET_CHARS, NewAfterReview,
    NewApprovalRequest, RequestError, RequestEvent, RequestKind, RequestState, ReviewDecision, break_glass_duration,
    check_after_review, check_binding, check_break_glass, check_review_count, digest_of,
};
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome};
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::{NewGrant, check_role_defined};
use gatehouse_domain::identity::IdentityKind;
use gatehouse_domain::ids::{ApprovalRequestId, GrantId};
use gatehouse_domain::span::format_duration;
use gatehouse_domain::store::{Conflict, StoreError};
use serde_json::json;
use time::Duration;

use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// What a break-glass user asks for.
#[derive(Debug, Clone)]
pub struct Emergency {
    /// For access, the duration in the kind is used only when `duration`
    /// says one was asked for.
    pub kind: RequestKind,
    /// For access: how long, if asked (at most the rule's break-glass
    /// duration; the rule's when not asked).
    pub duration: Option<Duration>,
    pub incident: String,
    pub reason: String,
    pub ticket: Option<String>,
}

/// How many times a review is counted again when another lands meanwhile.
const RECOUNTS: usize = 8;

/// Breaks the glass: the request is stored `active` (access, with its
/// grant) or `approved` (an action, usable until the break-glass duration
/// ends), with its after-review due.
pub async fn activate(state: &AppState, caller: &Caller, asked: Emergency) -> Result<ApprovalRequest, ApiError> {
    let policies = state.policies.current();
    let gated = asked.kind.gated();
    let resource_text = asked.kind.resource_text();
    let loaded = policies.approvals().rule_for(gated, &resource_text).ok_or_else(|| {
        ApiError::Unprocessable(format!("no approval rule covers `{gated}` on `{resource_text}`: nothing to break"))
    })?;
    let rule = &loaded.rule;
    let glass = rule.break_glass.as_ref().ok_or_else(|| BreakGlassError::NotAllowed(rule.id.clone()))?;
    let resource = format!("break-glass:{}", rule.id);
    if caller.identity().kind != IdentityKind::Human || caller.is_workload() {
        return refuse(state, caller, AuditAction::BreakglassActivate, resource, "only people break the glass").await;
    }
    let now = state.clock.now();
    let me = caller.identity().id;
    let directory = state.store.approver_directory(now).await?;
    let members = directory.members_for(&glass.who, asked.kind.subject());
    let window = match check_break_glass(rule, me, &members, &asked.incident, &asked.reason, now) {
        Ok(window) => window,
        Err(refusal @ BreakGlassError::NotMember(_)) => {
            return refuse(state, caller, AuditAction::BreakglassActivate, resource, &refusal.to_string()).await;
        }
        Err(refusal) => return Err(refusal.into()),
    };
    let reason = asked.reason.trim().to_owned();
    let incident = asked.incident.trim().to_owned();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::Unprocessable(format!("the reason is longer than {MAX_REASON_CHARS} characters")));
    }
    let ticket = asked.ticket.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
    if ticket.as_ref().is_some_and(|text| text.chars().count() > MAX_TICKET_CHARS || text.chars().any(char::is_control))
    {
        return Err(ApiError::Unprocessable(format!(
            "the ticket is longer than {MAX_TICKET_CHARS} characters or holds control characters"
        )));
    }
    let id = ApprovalRequestId::new();
    let (kind, state_now, grant, ends_at, authorized) = match asked.kind {
        RequestKind::Access { role, scope, .. } => {
            check_role_defined(&role, |name| policies.has_role(name))?;
            let duration = break_glass_duration(rule, asked.duration)?;
            let grant = NewGrant {
                id: GrantId::new(),
                identity_id: me,
                role: role.clone(),
                scope: scope.clone(),
                created_at: now,
                expires_at: Some(now + duration),
                created_by: None,
            };
            let kind = RequestKind::Access { role, scope, duration };
            (kind, RequestState::Active, Some(grant), now + duration, caller.authorize_under_rule())
        }
        RequestKind::Action { action, resource, binding } => {
            if let Some(binding) = &binding {
                check_binding(binding, &resource).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
            }
            // Break-glass skips the wait for approvers, never the policy.
            let authorized = caller.authorize(state, action, resource.clone()).await?;
            let kind = RequestKind::Action { action, resource, binding };
            if let Some(key) = kind.binding().map(|binding| binding.key())
                && let Some(open) = state.store.find_open_request_by_binding(&key).await?
            {
                supersede(state, &authorized, &open).await?;
            }
            (kind, RequestState::Approved, None, window.ends_at, authorized)
        }
    };
    let digest = digest_of(&kind, &rule.id, me, Some(&reason), ticket.as_deref(), now);
    let mut records =
        vec![caller.record(&authorized, state, AuditAction::BreakglassActivate, format!("request:{id}")).details(
            json!({
                "request_id": id.to_string(),
                "rule": rule.id,
                "policy_hash": policies.hash(),
                "kind": kind.as_str(),
                "resource": resource_text,
                "role": match &kind { RequestKind::Access { role, .. } => Some(role.as_str()), _ => None },
                "action": match &kind { RequestKind::Action { action, .. } => Some(action.as_str()), _ => None },
                "incident": incident,
                "reason": reason,
                "ticket": ticket,
                "duration": format_duration(ends_at - now),
                "ends_at": format_rfc3339(ends_at),
                "after_review_due": format_rfc3339(window.review_due),
                "after_review": {"quorum": glass.after_review.need, "of": glass.after_review.pool.to_string()},
                "grant_id": grant.as_ref().map(|grant| grant.id.to_string()),
                "notify": rule.notify,
            }),
        )];
    if let Some(grant) = &grant {
        records.push(
            caller.record(&authorized, state, AuditAction::GrantCreate, format!("grant:{}", grant.id)).details(json!({
                "grant_id": grant.id.to_string(),
                "identity_id": me.to_string(),
                "role": grant.role.as_str(),
                "scope": grant.scope.to_string(),
                "expires_at": grant.expires_at.map(format_rfc3339),
                "break_glass": id.to_string(),
            })),
        );
    }
    let new = NewApprovalRequest {
        id,
        kind,
        state: state_now,
        rule_id: rule.id.clone(),
        policy_hash: policies.hash().to_owned(),
        requester: me,
        reason: Some(reason),
        ticket,
        digest,
        break_glass: true,
        incident: Some(incident),
        grant,
        created_at: now,
        expires_at: ends_at,
    };
    let review = NewAfterReview { due_at: window.review_due, need: glass.after_review.need };
    let request = state.store.create_break_glass_request(new, review, records).await?;
    state.request_updates.publish(&request);
    Ok(request)
}

/// A run's open request gives way to break-glass for the same run.
async fn supersede(state: &AppState, authorized: &Authorized, open: &ApprovalRequest) -> Result<(), ApiError> {
    let record = AuditRecord::authorized(
        authorized,
        state.clock.now(),
        AuditAction::RequestSupersede,
        format!("request:{}", open.id),
    )
    .details(json!({"request_id": open.id.to_string(), "from": open.state.as_str(), "by": "break-glass"}));
    super::end(state, open, RequestEvent::Supersede, vec![record]).await?;
    Ok(())
}

/// An after-review of break-glass request `id` by the caller.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
    decision: ReviewDecision,
    reason: &str,
) -> Result<ApprovalRequest, ApiError> {
    let reason = reason.trim().to_owned();
    if reason.is_empty() {
        return Err(BreakGlassError::MissingReason.into());
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::Unprocessable(format!("the reason is longer than {MAX_REASON_CHARS} characters")));
    }
    for _ in 0..RECOUNTS {
        let request = find(state, id).await?;
        match try_review(state, caller, &request, decision, &reason).await {
            Err(ApiError::Conflict(detail)) if detail == Conflict::AfterReviewRevised { id }.to_string() => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict("the after-review keeps changing; try again".into()))
}

/// The break-glass request `id`: 404 for any other.
async fn find(state: &AppState, id: ApprovalRequestId) -> Result<ApprovalRequest, ApiError> {
    state
        .store
        .find_approval_request(id)
        .await?
        .filter(|request| request.break_glass && request.after_review.is_some())
        .ok_or_else(|| ApiError::NotFound(format!("break-glass request `{id}` not found")))
}

async fn try_review(
    state: &AppState,
    caller: &Caller,
    request: &ApprovalRequest,
    decision: ReviewDecision,
    reason: &str,
) -> Result<ApprovalRequest, ApiError> {
    let id = request.id;
    let resource = format!("request:{id}");
    let status =
        request.after_review.as_ref().ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))?;
    let policies = state.policies.current();
    let loaded = policies.approvals().find(&request.rule_id).ok_or_else(|| {
        ApiError::Conflict(format!(
            "rule `{}` is no longer in the policy folder: its reviewers are unknown",
            request.rule_id
        ))
    })?;
    let rule = &loaded.rule;
    let glass = rule.break_glass.as_ref().ok_or_else(|| BreakGlassError::NotAllowed(rule.id.clone()))?;
    if caller.identity().kind != IdentityKind::Human || caller.is_workload() {
        return refuse(state, caller, AuditAction::BreakglassReview, resource, "only people review break-glass").await;
    }
    let now = state.clock.now();
    let me = caller.identity().id;
    let directory = state.store.approver_directory(now).await?;
    let reviewers = directory.members_for(&glass.after_review.pool, request.kind.subject());
    if let Err(refusal) = check_after_review(rule, request.requester, me, &reviewers) {
        return refuse(state, caller, AuditAction::BreakglassReview, resource, &refusal.to_string()).await;
    }
    let max_age = rule.approver_mfa_max_age;
    let verified = caller.mfa_verified_at().filter(|at| *at <= now && now - *at <= max_age);
    let Some(verified) = verified else {
        let refusal = RequestError::MfaRequired { max_age_minutes: max_age.whole_minutes().max(1) };
        caller
            .observe(state, AuditAction::BreakglassReview, resource)
            .outcome(Outcome::Denied, refusal.to_string())
            .details(json!({"request_id": id.to_string(), "decision": decision.as_str()}))
            .append(&*state.store)
            .await?;
        return Err(refusal.into());
    };
    let completes = check_review_count(status, me)?;
    let mfa_age_seconds = (now - verified).whole_seconds().max(0);
    let authorized = caller.authorize_under_rule();
    let record = caller.record(&authorized, state, AuditAction::BreakglassReview, resource).details(json!({
        "request_id": id.to_string(),
        "rule": rule.id,
        "requester": request.requester.to_string(),
        "incident": request.incident,
        "decision": decision.as_str(),
        "reason": reason,
        "mfa_age_seconds": mfa_age_seconds,
        "reviews": status.reviews.len() + 1,
        "need": status.need,
        "complete": completes,
        "flagged": decision == ReviewDecision::Flag || status.flagged(),
        "notify": rule.notify,
    }));
    let entry =
        AfterReviewEntry { reviewer: me, decision, reason: reason.to_owned(), mfa_age_seconds, created_at: now };
    match state.store.record_after_review(id, status.revision, entry, completes, vec![record]).await {
        Ok(reviewed) => {
            state.request_updates.publish(&reviewed);
            Ok(reviewed)
        }
        Err(StoreError::Conflict(Conflict::AlreadyReviewed { .. })) => Err(BreakGlassError::AlreadyReviewed.into()),
        Err(error) => Err(error.into()),
    }
}

/// An audited 403 `not-eligible` with `detail`.
async fn refuse<T>(
    state: &AppState,
    caller: &Caller,
    action: AuditAction,
    resource: String,
    detail: &str,
) -> Result<T, ApiError> {
    caller.observe(state, action, resource).outcome(Outcome::Denied, detail).append(&*state.store).await?;
    Err(ApiError::NotEligible(detail.to_owned()))
}
