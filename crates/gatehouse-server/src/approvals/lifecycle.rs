//! How a request ends other than by a vote: the requester cancels it,
//! access is revoked early, a deployment approval is used, or the
//! scheduler expires it. Each move is checked by the domain's
//! `transition` and guarded by the store against a race.

use gatehouse_domain::access::{ApprovalRequest, RequestEvent, RequestKind, RequestState, transition};
use gatehouse_domain::audit::{AuditAction, AuditRecord};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::ApprovalRequestId;
use serde_json::json;

use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

async fn find(state: &AppState, id: ApprovalRequestId) -> Result<ApprovalRequest, ApiError> {
    state.store.find_approval_request(id).await?.ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))
}

/// Moves `request` by `event`, with `record` (built for the new state) as
/// its audit entry, wakes whoever waits for it, and carries out what an
/// integration's onboarding request decided.
pub async fn end(
    state: &AppState,
    request: &ApprovalRequest,
    event: RequestEvent,
    records: Vec<AuditRecord>,
) -> Result<ApprovalRequest, ApiError> {
    let to = transition(request.state, event)?;
    let moved =
        state.store.change_approval_state(request.id, request.state, to, state.clock.now(), None, records).await?;
    state.request_updates.publish(&moved);
    crate::vendors::onboarding::settle(state, &moved).await?;
    Ok(moved)
}

/// The requester withdraws a pending request.
pub async fn cancel(state: &AppState, caller: &Caller, id: ApprovalRequestId) -> Result<ApprovalRequest, ApiError> {
    let request = find(state, id).await?;
    if request.requester != caller.identity().id {
        return caller
            .refuse(
                state,
                AuditAction::RequestCancel,
                format!("request:{id}"),
                "only the requester cancels a request".into(),
            )
            .await;
    }
    let authorized = caller.authorize_under_rule();
    let record = caller
        .record(&authorized, state, AuditAction::RequestCancel, format!("request:{id}"))
        .details(json!({"request_id": id.to_string(), "from": request.state.as_str()}));
    end(state, &request, RequestEvent::Cancel, vec![record]).await
}

/// Ends active access early: by the person holding it, or by someone who
/// may manage grants.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
    reason: Option<String>,
) -> Result<ApprovalRequest, ApiError> {
    let request = find(state, id).await?;
    if !matches!(request.kind, RequestKind::Access { .. }) {
        return Err(ApiError::Conflict("only access requests are revoked; a deployment approval is cancelled".into()));
    }
    let authorized = if request.requester == caller.identity().id {
        caller.authorize_under_rule()
    } else {
        caller.authorize(state, Action::GrantManage, Resource::Gatehouse).await?
    };
    let record =
        caller.record(&authorized, state, AuditAction::RequestRevoke, format!("request:{id}")).details(json!({
            "request_id": id.to_string(),
            "grant_id": request.grant_id.map(|grant| grant.to_string()),
            "reason": reason,
        }));
    end(state, &request, RequestEvent::Revoke, vec![record]).await
}

/// Why an approval cannot be used for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    Unknown,
    /// Another principal's, another action's or another resource's.
    ForSomethingElse,
    /// Not (or no longer) approved: its state.
    InState(RequestState),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Unknown => f.write_str("no such request"),
            Unusable::ForSomethingElse => f.write_str("the request is for another principal, action or resource"),
            Unusable::InState(state) => write!(f, "the request is {state}, not approved"),
        }
    }
}

/// Uses an approved request for one decision by `caller` on `action` and
/// `resource`: an action approval is consumed (a second use finds it
/// `consumed`); access approval is a grant and is never named here.
pub async fn consume_for(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
    action: Action,
    resource: &Resource,
) -> Result<Result<ApprovalRequest, Unusable>, ApiError> {
    let Some(request) = state.store.find_approval_request(id).await? else { return Ok(Err(Unusable::Unknown)) };
    let fits =
        matches!(&request.kind, RequestKind::Action { action: a, resource: r, .. } if *a == action && r == resource);
    if !fits || request.requester != caller.identity().id {
        return Ok(Err(Unusable::ForSomethingElse));
    }
    if request.state != RequestState::Approved {
        return Ok(Err(Unusable::InState(request.state)));
    }
    // Expired at its instant, whether or not the scheduler has run.
    if state.clock.now() >= request.expires_at {
        return Ok(Err(Unusable::InState(RequestState::Expired)));
    }
    let authorized = caller.authorize_under_rule();
    let record = caller
        .record(&authorized, state, AuditAction::RequestConsume, format!("request:{id}"))
        .details(json!({"request_id": id.to_string(), "action": action.as_str(), "resource": resource.to_string()}));
    match end(state, &request, RequestEvent::Consume, vec![record]).await {
        Ok(consumed) => Ok(Ok(consumed)),
        // Used by a concurrent decision first.
        Err(ApiError::Conflict(_)) => {
            let now = find(state, id).await?;
            Ok(Err(Unusable::InState(now.state)))
        }
        Err(error) => Err(error),
    }
}
