//! Who sees a request, and which requests wait for a person's vote: one
//! rule for the API's listings and the web console's inbox.

use gatehouse_domain::access::{ApprovalRequest, RequestState};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};

use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// Request `id` if the caller may see it: its requester, a voter, someone
/// its rule counts, who owes a break-glass use's after-review, or a
/// holder of `audit.read`. To anyone else it does not exist (404).
pub async fn visible(state: &AppState, caller: &Caller, id: ApprovalRequestId) -> Result<ApprovalRequest, ApiError> {
    Ok(seen(state, caller, id).await?.0)
}

/// [`visible`], and whether the request waits for the caller's vote (as
/// [`awaiting_vote`] says), reading the approver directory once.
pub async fn visible_and_awaiting(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
) -> Result<(ApprovalRequest, bool), ApiError> {
    let (request, counted) = seen(state, caller, id).await?;
    let me = caller.identity().id;
    let counted = match counted {
        Some(counted) => counted,
        None => counts(state, me, &request).await?,
    };
    let awaiting = counted
        && request.state == RequestState::Pending
        && request.requester != me
        && !request.votes.iter().any(|vote| vote.voter == me && vote.is_live());
    Ok((request, awaiting))
}

/// Whether `request`'s rule counts `me` among its approvers.
async fn counts(state: &AppState, me: IdentityId, request: &ApprovalRequest) -> Result<bool, ApiError> {
    let policies = state.policies.current();
    let Some(loaded) = policies.approvals().find(&request.rule_id) else { return Ok(false) };
    let directory = state.store.approver_directory(state.clock.now()).await?;
    Ok(!directory.clauses_of(me, &loaded.rule.requirement, request.kind.subject()).is_empty())
}

/// The request if visible, and whether its rule counts the caller when
/// that was learned on the way (none when it was not asked).
async fn seen(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
) -> Result<(ApprovalRequest, Option<bool>), ApiError> {
    let not_found = || ApiError::NotFound(format!("request `{id}` not found"));
    let request = state.store.find_approval_request(id).await?.ok_or_else(not_found)?;
    let me = caller.identity().id;
    if request.requester == me || request.votes.iter().any(|vote| vote.voter == me) {
        return Ok((request, None));
    }
    let policies = state.policies.current();
    if let Some(loaded) = policies.approvals().find(&request.rule_id) {
        let directory = state.store.approver_directory(state.clock.now()).await?;
        if !directory.clauses_of(me, &loaded.rule.requirement, request.kind.subject()).is_empty() {
            return Ok((request, Some(true)));
        }
        // A break-glass use is seen by those who owe its after-review.
        let reviewer = request.break_glass
            && loaded.rule.break_glass.as_ref().is_some_and(|glass| {
                directory.members_for(&glass.after_review.pool, request.kind.subject()).contains(&me)
            });
        if reviewer {
            return Ok((request, Some(false)));
        }
    }
    if caller.may_as_configured(state, Action::AuditRead, &Resource::Gatehouse) {
        return Ok((request, Some(false)));
    }
    Err(not_found())
}

/// Of `pending` requests, those waiting for the caller's vote: counted by
/// their rule for the caller, not the caller's own, not voted on yet.
pub async fn awaiting_vote(
    state: &AppState,
    caller: &Caller,
    pending: Vec<ApprovalRequest>,
) -> Result<Vec<ApprovalRequest>, ApiError> {
    let me = caller.identity().id;
    let policies = state.policies.current();
    let directory = state.store.approver_directory(state.clock.now()).await?;
    Ok(pending
        .into_iter()
        .filter(|request| {
            let counted = policies.approvals().find(&request.rule_id).is_some_and(|loaded| {
                !directory.clauses_of(me, &loaded.rule.requirement, request.kind.subject()).is_empty()
            });
            counted && request.requester != me && !request.votes.iter().any(|vote| vote.voter == me && vote.is_live())
        })
        .collect())
}
