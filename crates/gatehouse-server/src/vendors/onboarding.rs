//! Onboarding an integration through the approved channel. Registering one
//! ([`open`]) opens a request for `vendor.manage` on gatehouse itself, under
//! the rule of `approvals.toml` covering that or, without one, the built-in
//! rule (`gatehouse_policy::approvals::ONBOARDING_RULE`):
//!
//! ```toml
//! [[rule]]
//! id = "vendor-onboarding"
//! action = "vendor.manage"
//! resources = ["*"]
//! require = { all = [ { quorum = 1, of = "group:procurement" }, { quorum = 1, of = "group:engineering" } ] }
//! request_ttl = "14d"
//! reason = "required"
//! ```
//!
//! The request names gatehouse, not the integration, because
//! `vendor.manage` applies to nothing else in the schema (a vote is decided
//! as `access.approve` on the same resource); its reason names the
//! integration, and the integration names the request
//! (`Integration.onboarding_request`). The service identity stays
//! suspended (the store suspended it at registration) until [`settle`]
//! sees the request decided: approved, the integration becomes active, its
//! identity is reactivated (`integration.activate`) and the approval is
//! used up; denied, cancelled or expired, it is retired with its identity
//! suspended (`integration.suspend`). Approved while the integration's
//! first access review is still open, the approval is used up at once
//! (so it cannot expire unused meanwhile) and the review's end activates
//! the integration. The approvals code calls [`settle`]
//! wherever a request's state moves (a vote's decision, and `end`: cancel,
//! expiry), so each outcome is carried out once, by whoever moved it.

use gatehouse_domain::access::{ApprovalRequest, RequestEvent, RequestKind, RequestState, check_ask, transition};
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_domain::store::{Conflict, StoreError};
use gatehouse_domain::vendor::{Integration, IntegrationState};
use serde_json::json;

use crate::approvals::{Asked, Attach, Prepared, store_request};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// Opens the onboarding request of a just registered (`PendingApproval`)
/// integration as `caller`, and links it to the integration. Always
/// `Some`: a rule covers every onboarding, the built-in one at least. A
/// rule of the folder asking for a ticket cannot be met here: 422.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    integration: &Integration,
) -> Result<Option<ApprovalRequestId>, ApiError> {
    if integration.state != IntegrationState::PendingApproval {
        return Err(ApiError::Conflict(format!(
            "integration `{}` is {}, not waiting for onboarding",
            integration.id,
            integration.state.as_str()
        )));
    }
    let policies = state.policies.current();
    let loaded = policies.approvals().onboarding_rule();
    let asked = Asked {
        kind: RequestKind::Action { action: Action::VendorManage, resource: Resource::Gatehouse, binding: None },
        reason: Some(reason_for(state, integration).await?),
        ticket: None,
    };
    check_ask(&loaded.rule, asked.reason.as_deref(), None, |_| false)?;
    let authorized = caller.authorize(state, Action::VendorManage, Resource::Gatehouse).await?;
    let prepared = Prepared::new(&policies, loaded, asked, caller.identity().id, state.clock.now());
    let record = |action: AuditAction, resource: String| caller.record(&authorized, state, action, resource);
    let (_, request) = store_request(state, prepared, Attach::Pending, record).await?;
    let mut change = integration.unchanged();
    change.onboarding_request = Some(request.id);
    state
        .store
        .update_integration(integration.id, integration.state, integration.noted_in_force, change, Vec::new())
        .await?;
    // Decided before it was linked (a vote between the two writes): carry
    // the outcome out now, since `settle` found no integration then.
    if let Some(now) = state.store.find_approval_request(request.id).await?
        && now.state != RequestState::Pending
    {
        settle(state, &now).await?;
    }
    Ok(Some(request.id))
}

/// What the request says to its voters: which tool, as which identity.
async fn reason_for(state: &AppState, integration: &Integration) -> Result<String, ApiError> {
    let vendor = state.store.find_vendor(integration.vendor_id).await?;
    let identity = state.store.find_identity(integration.identity_id).await?;
    let vendor = vendor.map_or_else(|| integration.vendor_id.to_string(), |vendor| vendor.name);
    let identity = identity.map_or_else(|| integration.identity_id.to_string(), |identity| identity.name);
    Ok(format!(
        "onboard integration {} of {vendor} as service identity `{identity}` ({})",
        integration.id,
        integration.declared.method.as_str()
    ))
}

/// Whether `request` could be an integration's onboarding request.
fn is_onboarding(request: &ApprovalRequest) -> bool {
    matches!(&request.kind, RequestKind::Action { action: Action::VendorManage, binding: None, .. })
}

/// Carries out a decided onboarding request: activates or retires the
/// integration that names it, if it still waits. Anything else (another
/// kind of request, one still pending, an integration already settled) is
/// left alone, so calling it twice is harmless.
pub async fn settle(state: &AppState, request: &ApprovalRequest) -> Result<(), ApiError> {
    let approved = match request.state {
        // Consumed: approved, and used up while its integration waited for
        // its first review (see below); the review's end settles it.
        RequestState::Approved | RequestState::Consumed => true,
        RequestState::Denied | RequestState::Cancelled | RequestState::Expired | RequestState::Superseded => false,
        // Pending, or not an onboarding outcome (active, revoked).
        _ => return Ok(()),
    };
    if !is_onboarding(request) {
        return Ok(());
    }
    let waiting = state.store.list_integrations(None).await?.into_iter().find(|integration| {
        integration.onboarding_request == Some(request.id) && integration.state == IntegrationState::PendingApproval
    });
    let Some(integration) = waiting else { return Ok(()) };
    // Approved, it also waits for its first access review (issue 28): the
    // review's last keep, or its close, settles it then. The approval is
    // used up now, so that it cannot expire unused meanwhile (an approved
    // request expires at its `request_ttl`, which may end before the
    // review does) and retire an integration its approvers let in.
    if approved && let Some(why) = crate::reviews::triggers::onboarding_waits(state, integration.id).await? {
        tracing::info!(integration = %integration.id, why = %why, "the approved integration waits for its review");
        if request.state == RequestState::Approved {
            use_up(state, request).await?;
        }
        return Ok(());
    }
    let now = state.clock.now();
    let subject = format!("integration:{}", integration.id);
    let mut details = json!({
        "integration_id": integration.id.to_string(),
        "vendor_id": integration.vendor_id.to_string(),
        "identity_id": integration.identity_id.to_string(),
        "request_id": request.id.to_string(),
    });
    let mut change = integration.unchanged();
    let record = if approved {
        change.state = IntegrationState::Active;
        change.identity_active = Some(true);
        AuditRecord::system(SystemWriter::Onboarding, now, AuditAction::IntegrationActivate, subject)
            .outcome(Outcome::Success, format!("onboarding request {} approved", request.id))
            .details(details)
    } else {
        let reason = format!("onboarding request {} {}", request.id, request.state.as_str());
        details["reasons"] = json!([reason]);
        change.state = IntegrationState::Retired;
        change.identity_active = Some(false);
        AuditRecord::system(SystemWriter::Onboarding, now, AuditAction::IntegrationSuspend, subject)
            .outcome(Outcome::Success, reason)
            .details(details)
    };
    let updated = state
        .store
        .update_integration(integration.id, integration.state, integration.noted_in_force, change, vec![record])
        .await;
    match updated {
        Ok(_) => {}
        // Settled by a concurrent caller first.
        Err(StoreError::Conflict(Conflict::IntegrationChanged { .. })) => return Ok(()),
        Err(error) => return Err(error.into()),
    }
    if approved && request.state == RequestState::Approved {
        use_up(state, request).await?;
    }
    Ok(())
}

/// The approval did its one job: it is consumed, so it cannot also be
/// named for a `vendor.manage` decision.
async fn use_up(state: &AppState, request: &ApprovalRequest) -> Result<(), ApiError> {
    let to = transition(request.state, RequestEvent::Consume)?;
    let now = state.clock.now();
    let record = AuditRecord::system(
        SystemWriter::Onboarding,
        now,
        AuditAction::RequestConsume,
        format!("request:{}", request.id),
    )
    .details(json!({
        "request_id": request.id.to_string(),
        "action": Action::VendorManage.as_str(),
        "resource": Resource::Gatehouse.to_string(),
    }));
    match state.store.change_approval_state(request.id, request.state, to, now, None, vec![record]).await {
        Ok(consumed) => {
            state.request_updates.publish(&consumed);
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
