//! Asking: a request is opened under the rule covering what it asks for,
//! or a CI run attaches to the request already open for it.

use gatehouse_domain::access::{
    ApprovalRequest, NewApprovalRequest, RequestEvent, RequestKind, RequestState, check_access_duration, check_ask,
    check_binding, check_claims, digest_of, request_expiry, transition,
};
use gatehouse_domain::audit::{AuditAction, AuditRecord};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::check_role_defined;
use gatehouse_domain::identity::IdentityKind;
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};
use gatehouse_domain::span::format_duration;
use gatehouse_domain::store::{Conflict, StoreError};
use gatehouse_policy::Policies;
use gatehouse_policy::approvals::LoadedRule;
use serde_json::json;
use time::OffsetDateTime;

use crate::auth::{Caller, Via};
use crate::problem::ApiError;
use crate::state::AppState;

/// What a caller asks for.
#[derive(Debug, Clone)]
pub struct Asked {
    pub kind: RequestKind,
    pub reason: Option<String>,
    pub ticket: Option<String>,
}

/// Opens a request and answers it with whether it is new. A CI run that
/// asks again for the same commit gets the request already open for it; a
/// new commit or attempt supersedes that request (its votes do not carry
/// over). No rule covering what is asked: 422.
pub async fn open(state: &AppState, caller: &Caller, asked: Asked) -> Result<(bool, ApprovalRequest), ApiError> {
    let policies = state.policies.current();
    let gated = asked.kind.gated();
    let resource_text = asked.kind.resource_text();
    let loaded = policies.approvals().rule_for(gated, &resource_text).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "no approval rule covers `{gated}` on `{resource_text}`: nothing to request (ask /api/v1/authorize)"
        ))
    })?;
    let rule = &loaded.rule;
    check_ask(rule, asked.reason.as_deref(), asked.ticket.as_deref(), |ticket| ticket_matches(loaded, ticket))?;
    let authorized = match &asked.kind {
        RequestKind::Access { role, duration, .. } => {
            if caller.identity().kind != IdentityKind::Human || caller.is_workload() {
                return Err(ApiError::Forbidden("only people ask for access; a CI job asks for an action".into()));
            }
            check_role_defined(role, |name| policies.has_role(name))?;
            check_access_duration(*duration, rule)?;
            caller.authorize_under_rule()
        }
        RequestKind::Action { action, resource, binding } => {
            if let Some(binding) = binding {
                check_binding(binding, resource).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
                match caller.via() {
                    Via::CiToken(workload) => {
                        check_claims(binding, &workload.claims).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
                    }
                    // An exchanged token no longer carries the job's claims:
                    // nothing would show the run is the job's own.
                    _ if caller.is_workload() => {
                        return Err(ApiError::Unprocessable(
                            "a request bound to a run needs the job's own OIDC token as the bearer".into(),
                        ));
                    }
                    _ => {}
                }
            }
            // The approval adds to the policy; it never replaces it.
            caller.authorize(state, *action, resource.clone()).await?
        }
    };
    let requester = caller.identity().id;
    let authorized_record = |action: AuditAction, resource: String| caller.record(&authorized, state, action, resource);
    let asked = Prepared::new(&policies, loaded, asked, requester, state.clock.now());
    store_request(state, asked, Attach::PendingOrApproved, authorized_record).await
}

/// A request ready to be stored, with what its audit entry says.
pub(crate) struct Prepared {
    new: NewApprovalRequest,
    details: serde_json::Value,
}

impl Prepared {
    pub(crate) fn new(
        policies: &Policies,
        loaded: &LoadedRule,
        asked: Asked,
        requester: IdentityId,
        now: OffsetDateTime,
    ) -> Self {
        let rule = &loaded.rule;
        let id = ApprovalRequestId::new();
        let reason = asked.reason.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
        let ticket = asked.ticket.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
        let digest = digest_of(&asked.kind, &rule.id, requester, reason.as_deref(), ticket.as_deref(), now);
        let expires_at = request_expiry(now, rule);
        let kind = &asked.kind;
        let details = json!({
            "request_id": id.to_string(),
            "kind": kind.as_str(),
            "rule": rule.id,
            "policy_hash": policies.hash(),
            "resource": kind.resource_text(),
            "role": match kind { RequestKind::Access { role, .. } => Some(role.as_str()), _ => None },
            "duration": match kind { RequestKind::Access { duration, .. } => Some(format_duration(*duration)), _ => None },
            "action": match kind { RequestKind::Action { action, .. } => Some(action.as_str()), _ => None },
            "binding": kind.binding().map(|b| json!({
                "forge": b.forge, "repository": b.repository, "run_id": b.run_id, "run_attempt": b.run_attempt,
                "environment": b.environment, "sha": b.sha, "authors": b.authors, "workflow_digest": b.workflow_digest,
            })),
            "reason": reason,
            "ticket": ticket,
            "digest": digest,
            "expires_at": format_rfc3339(expires_at),
        });
        let new = NewApprovalRequest {
            id,
            kind: asked.kind,
            state: RequestState::Pending,
            rule_id: rule.id.clone(),
            policy_hash: policies.hash().to_owned(),
            requester,
            reason,
            ticket,
            digest,
            break_glass: false,
            incident: None,
            grant: None,
            created_at: now,
            expires_at,
        };
        Self { new, details }
    }
}

/// To which open request of the same run and commit a new ask attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attach {
    /// A gate asking again finds its approval, and uses it once.
    PendingOrApproved,
    /// A forge asking again (a re-run, which GitHub does not number) needs
    /// a new approval once the last was given.
    Pending,
}

/// Stores a prepared request; for a CI run, attaches to the run's open
/// request for the same commit or supersedes one for another. `record`
/// makes each audit record (`request.create`, `request.supersede`) for
/// whoever asks: a caller, or gatehouse acting on a webhook.
pub(crate) async fn store_request(
    state: &AppState,
    prepared: Prepared,
    attach: Attach,
    record: impl Fn(AuditAction, String) -> AuditRecord,
) -> Result<(bool, ApprovalRequest), ApiError> {
    let Prepared { new, details } = prepared;
    let key = new.binding_key();
    if let Some(key) = &key
        && let Some(open) = state.store.find_open_request_by_binding(key).await?
    {
        let attachable = attach == Attach::PendingOrApproved || open.state == RequestState::Pending;
        if attachable && same_deployment(&open.kind, &new.kind) {
            return Ok((false, open));
        }
        supersede(state, &record, &open).await?;
    }
    let create = record(AuditAction::RequestCreate, format!("request:{}", new.id)).details(details);
    match state.store.create_approval_request(new, vec![create]).await {
        Ok(request) => Ok((true, request)),
        // Two gates of one run asking at once: the second attaches.
        Err(StoreError::Conflict(Conflict::RequestOpenForRun { .. })) => {
            let key = key.ok_or_else(|| ApiError::Internal("a run conflict without a binding".into()))?;
            let open = state.store.find_open_request_by_binding(&key).await?;
            open.map(|request| (false, request))
                .ok_or_else(|| ApiError::Conflict("the run's request changed meanwhile; ask again".into()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether a request open for a run asks for what is asked again: the same
/// action on the same resource, for the same commit and workflow.
fn same_deployment(open: &RequestKind, asked: &RequestKind) -> bool {
    match (open, asked) {
        (
            RequestKind::Action { action: a, resource: r, binding: Some(x) },
            RequestKind::Action { action: b, resource: s, binding: Some(y) },
        ) => a == b && r == s && x.sha == y.sha && x.workflow_digest == y.workflow_digest,
        _ => false,
    }
}

fn ticket_matches(loaded: &LoadedRule, ticket: &str) -> bool {
    loaded.ticket.as_ref().is_some_and(|pattern| pattern.is_match(ticket))
}

/// A new commit or attempt for a run's environment ends the request open
/// for the old one.
async fn supersede(
    state: &AppState,
    record: &impl Fn(AuditAction, String) -> AuditRecord,
    open: &ApprovalRequest,
) -> Result<(), ApiError> {
    let to = transition(open.state, RequestEvent::Supersede)?;
    let now = state.clock.now();
    let record = record(AuditAction::RequestSupersede, format!("request:{}", open.id)).details(json!({
        "request_id": open.id.to_string(),
        "from": open.state.as_str(),
        "sha": open.kind.binding().map(|b| b.sha.clone()),
    }));
    let superseded = state.store.change_approval_state(open.id, open.state, to, now, None, vec![record]).await?;
    state.request_updates.publish(&superseded);
    Ok(())
}
