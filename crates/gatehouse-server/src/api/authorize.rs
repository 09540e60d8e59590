//! `POST /api/v1/authorize`: may this principal do this action on this
//! resource, now? Every decision is an audit entry, and the answer names
//! its index. A request that names commits (`commit`, `commits`) is decided
//! with who gatehouse verified signed them (`authors`, `author_known`),
//! which no caller can set.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::access::Gated;
use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::{CommitSha, KnownAuthors};
use gatehouse_domain::grant::{OwnedKind, Resource};
use gatehouse_domain::ids::{ApprovalRequestId, GrantId, IdentityId, SessionId, TokenId};
use gatehouse_policy::{DecisionInput, ServerFacts};
use serde_json::{Map, Value, json};

use super::dto::{AuthorizeRequest, AuthorizeResponse};
use crate::approvals;
use crate::auth::{DecisionCaller, STEP_UP_REASON, Via, needs_step_up};
use crate::extract::{ApiJson, parse_field};
use crate::problem::ApiError;
use crate::state::AppState;

/// What an approval rule did to a decision.
#[derive(Default)]
struct Gate {
    rule: Option<String>,
    required: bool,
    used: Option<ApprovalRequestId>,
}

/// The resource types a grant's scope or a registration can name.
const SCOPED_TYPES: [&str; 4] = ["gatehouse", "project", "pipeline", "environment"];

/// `{type, id}` of the API (`Project`/`project`, …) into a resource.
pub(crate) fn parse_resource(kind: &str, id: &str) -> Result<Resource, ApiError> {
    let kind = kind.to_ascii_lowercase();
    if !SCOPED_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::Unprocessable(format!(
            "unknown resource type `{kind}` (expected Project, Pipeline, Environment or Gatehouse)"
        )));
    }
    Resource::from_parts(&kind, id).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "`{id}` is not a valid {kind} id (projects are `org/repo`, pipelines and environments `org/repo:name`)"
        ))
    })
}

/// `{type, id}` of a question: what [`parse_resource`] reads, or one
/// identity's own thing (`Identity`, `Token`, `Session` or `Grant` and its
/// id), whose owner gatehouse looks up (404 when there is no such thing): a
/// caller cannot name someone else as the owner of their token.
async fn resource_asked(state: &AppState, kind: &str, id: &str) -> Result<Resource, ApiError> {
    let not_found = |what: &str| ApiError::NotFound(format!("{what} `{id}` not found"));
    match kind.to_ascii_lowercase().as_str() {
        "identity" => {
            let identity: IdentityId = parse_field("resource.id", id)?;
            let found = state.store.find_identity(identity).await?.ok_or_else(|| not_found("identity"))?;
            Ok(Resource::own_record(found.id))
        }
        "token" => {
            let token: TokenId = parse_field("resource.id", id)?;
            let found = state.store.find_token(token).await?.ok_or_else(|| not_found("token"))?;
            Ok(Resource::owned(OwnedKind::Token, found.id, found.identity_id))
        }
        "session" => {
            let session: SessionId = parse_field("resource.id", id)?;
            let found = state.store.find_session_by_id(session).await?.ok_or_else(|| not_found("session"))?;
            Ok(Resource::owned(OwnedKind::Session, found.id, found.identity_id))
        }
        "grant" => {
            let grant: GrantId = parse_field("resource.id", id)?;
            let found = state.store.find_grant(grant).await?.ok_or_else(|| not_found("grant"))?;
            Ok(Resource::owned(OwnedKind::Grant, found.id, found.identity_id))
        }
        other if !SCOPED_TYPES.contains(&other) => Err(ApiError::Unprocessable(format!(
            "unknown resource type `{other}` (expected Project, Pipeline, Environment, Gatehouse, Identity, Token, \
             Session or Grant)"
        ))),
        _ => parse_resource(kind, id),
    }
}

/// The most commits one decision may name.
pub const MAX_NAMED_COMMITS: usize = 1_000;

/// The commits the caller's context names, `commit` and `commits` together,
/// each a valid object id (422 otherwise), without repeats.
pub(crate) fn named_commits(context: Option<&Map<String, Value>>) -> Result<Vec<CommitSha>, ApiError> {
    let Some(context) = context else { return Ok(Vec::new()) };
    let invalid = |field: &str, detail: String| ApiError::Unprocessable(format!("context `{field}`: {detail}"));
    let parse = |field: &str, value: &Value| match value {
        Value::String(raw) => raw.parse::<CommitSha>().map_err(|e| invalid(field, e.to_string())),
        _ => Err(invalid(field, "a commit id is a string".into())),
    };
    let mut commits = Vec::new();
    if let Some(value) = context.get("commit") {
        commits.push(parse("commit", value)?);
    }
    match context.get("commits") {
        None => {}
        Some(Value::Array(values)) if values.len() <= MAX_NAMED_COMMITS => {
            for value in values {
                commits.push(parse("commits", value)?);
            }
        }
        Some(Value::Array(_)) => {
            return Err(invalid("commits", format!("at most {MAX_NAMED_COMMITS} commits per decision")));
        }
        Some(_) => return Err(invalid("commits", "a list of commit ids".into())),
    }
    commits.sort();
    commits.dedup();
    Ok(commits)
}

/// What gatehouse knows of the commits a decision names.
pub(crate) async fn facts_about(state: &AppState, commits: &[CommitSha]) -> Result<ServerFacts, ApiError> {
    if commits.is_empty() {
        return Ok(ServerFacts::default());
    }
    let recorded = state.store.commit_authors(commits).await?;
    Ok(ServerFacts { authors: Some(KnownAuthors::of(commits, &recorded)), integration: None })
}

/// Decide, record the decision, and answer with its reasons.
#[utoipa::path(post, path = "/api/v1/authorize", tag = "decisions", request_body = AuthorizeRequest,
    responses((status = 200, body = AuthorizeResponse), (status = 403), (status = 404), (status = 422)))]
pub async fn authorize(
    State(state): State<AppState>,
    DecisionCaller(caller): DecisionCaller,
    ApiJson(request): ApiJson<AuthorizeRequest>,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    let action: Action = request.action.parse()?;
    let resource = resource_asked(&state, &request.resource.kind, &request.resource.id).await?;
    let context = match &request.context {
        None => None,
        Some(serde_json::Value::Object(map)) => Some(map),
        Some(_) => return Err(ApiError::Unprocessable("context must be a JSON object".into())),
    };
    let mut facts = facts_about(&state, &named_commits(context)?).await?;
    let target: Option<IdentityId> =
        request.principal.as_deref().map(|raw| parse_field("principal", raw)).transpose()?;
    // The identity asked about and its grants, when it is not the caller.
    let other;
    let (principal, grants, is_caller) = match target {
        Some(id) if id != caller.identity().id => {
            // Asking about someone else reveals their access: it needs leave.
            caller.authorize_read(&state, Action::IdentityView, Resource::own_record(id)).await?;
            let identity = state
                .store
                .find_identity(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("identity `{id}` not found")))?;
            let grants = state.store.list_grants_of(id).await?;
            other = (identity, grants);
            (&other.0, other.1.as_slice(), false)
        }
        _ => (caller.identity(), caller.grants(), true),
    };
    // Only the caller's own credential can prove a fresh second factor: a
    // question about someone else is answered as if they had none.
    let mfa_fresh = is_caller && caller.mfa_fresh(&state);
    let standing = crate::vendors::decision_standing(&state, principal).await?;
    facts.integration = standing.as_ref().map(crate::vendors::DecisionStanding::for_policy);
    let policies = state.policies.current();
    let decision = policies.decide_with(
        &DecisionInput {
            principal,
            grants,
            action,
            resource: &resource,
            now: state.clock.now(),
            auth_method: caller.auth_method(),
            mfa_fresh,
            step_up: state.settings.mfa.step_up,
            source_ip: caller.origin().source_ip.as_deref(),
            principal_is_caller: is_caller,
            caller_context: context,
        },
        &facts,
    )?;
    let mut reasons: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
    let mut allowed = decision.is_allowed();
    // A policy folder written before the `mfa-required` guard existed still
    // gets step-up: gatehouse denies what the guard would have.
    if allowed && needs_step_up(&state, principal, action, &resource, mfa_fresh) {
        allowed = false;
        reasons = vec![STEP_UP_REASON.to_owned()];
    }
    // A pipeline change nobody approved yet holds its project's deployments.
    if allowed && let Some(reason) = crate::reviews::triggers::deployment_hold(&state, action, &resource).await? {
        allowed = false;
        reasons = vec![reason];
    }
    // An approval rule adds to the policy: what it covers is denied until
    // an approved request for it is named, and a deployment approval is
    // used once.
    let mut gate = Gate::default();
    let approvals = policies.approvals();
    let covering =
        if approvals.is_empty() { None } else { approvals.rule_for(Gated::Action(action), &resource.to_string()) };
    if let Some(loaded) = covering {
        gate.rule = Some(loaded.rule.id.clone());
        let named: Option<ApprovalRequestId> =
            request.request.as_deref().map(|raw| parse_field("request", raw)).transpose()?;
        match named {
            Some(id) if allowed && is_caller => {
                match approvals::consume_for(&state, &caller, id, action, &resource).await? {
                    Ok(used) => {
                        gate.used = Some(used.id);
                        reasons.push(format!("request:{} (rule `{}`)", used.id, loaded.rule.id));
                    }
                    Err(unusable) => {
                        allowed = false;
                        reasons = vec![format!("request `{id}` cannot be used: {unusable}")];
                    }
                }
            }
            _ if allowed => {
                allowed = false;
                gate.required = true;
                reasons = vec![format!("approval-required: rule `{}` needs an approved request", loaded.rule.id)];
            }
            _ => {}
        }
    }
    let verdict = if allowed { "allow" } else { "deny" };
    let outcome = if allowed { Outcome::Success } else { Outcome::Denied };
    let record = caller
        .observe(&state, AuditAction::Authorize, resource.to_string())
        .outcome(outcome, reasons.join("; "))
        .details(json!({
            "principal": principal.id.to_string(),
            "action": action.as_str(),
            "decision": verdict,
            "reasons": reasons,
            "context": request.context,
            "known_authors": facts.authors.as_ref().map(|known| json!({
                "authors": known.authors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "author_known": known.all_known,
            })),
            "auth_method": caller.auth_method(),
            "approval": gate.rule.as_ref().map(|rule| json!({
                "rule": rule,
                "request_required": gate.required,
                "request": gate.used.map(|id| id.to_string()),
            })),
            "workload": match caller.via() {
                Via::CiToken(workload) => Some(json!({
                    "trust_binding_id": workload.binding.id.to_string(),
                    "issuer": workload.issuer,
                    "subject": workload.subject,
                })),
                Via::Token(_) | Via::Session(_) => None,
            },
        }));
    let audit_index = record.append(&*state.store).await?;
    Ok(Json(AuthorizeResponse {
        decision: verdict.to_owned(),
        reasons,
        audit_index,
        request_required: gate.required,
        rule: gate.rule,
        warnings: standing.map(|standing| standing.warnings).unwrap_or_default(),
    }))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(authorize))
}
