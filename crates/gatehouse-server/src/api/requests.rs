//! `/api/v1/requests`: ask for access or for a gated action, vote, cancel,
//! revoke, and wait for a decision. The rules are in `approvals.toml`; the
//! work is `crate::approvals`; this module reads and answers HTTP.
//!
//! A CI job may present its own OIDC token to ask, read and wait (as it
//! does to `/authorize`), so a request bound to its run is checked against
//! the token's claims.
//!
//! Who sees a request: its requester, whoever the rule counts or who voted
//! on it, a break-glass use's after-reviewers, and holders of `audit.read`;
//! to anyone else it does not exist.

use std::time::Duration as StdDuration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::access::{ApprovalRequest, DeploymentBinding, RequestKind, RequestState, VoteDecision};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{Resource, Role, Scope};
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};
use gatehouse_domain::span::parse_duration;
use gatehouse_domain::store::ApprovalFilter;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::authorize::parse_resource;
use super::dto::{
    BindingDto, CreateRequestBody, ListDto, RequestDto, RequestListQuery, RevokeBody, VoteBody, WaitQuery,
};
use super::page_request;
use crate::approvals::{self, Asked, Waited};
use crate::auth::{Caller, DecisionCaller};
use crate::extract::{ApiJson, ApiQuery, IdPath, parse_field};
use crate::problem::ApiError;
use crate::state::AppState;

/// Ask for access (`kind: access`) or for a gated action (`kind: action`).
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", request_body = CreateRequestBody,
    responses((status = 201, body = RequestDto, description = "opened"),
              (status = 200, body = RequestDto, description = "the run's open request, asked again"),
              (status = 403), (status = 409), (status = 422, description = "no rule covers it, or the rule refuses it")))]
pub async fn create(
    State(state): State<AppState>,
    DecisionCaller(caller): DecisionCaller,
    ApiJson(body): ApiJson<CreateRequestBody>,
) -> Result<(StatusCode, Json<RequestDto>), ApiError> {
    let asked = asked(body)?;
    let (opened, request) = approvals::open(&state, &caller, asked).await?;
    let status = if opened { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(approvals::show(&state.policies.current(), &request))))
}

/// The request body as the domain's ask; every field checked (422).
pub(crate) fn asked(body: CreateRequestBody) -> Result<Asked, ApiError> {
    let unexpected =
        |field: &str, kind: &str| ApiError::Unprocessable(format!("`{field}` is not part of a `{kind}` request"));
    let kind = match body.kind.as_str() {
        "access" => {
            if body.action.is_some() || body.resource.is_some() || body.binding.is_some() {
                return Err(unexpected("action/resource/binding", "access"));
            }
            let role: Role = body.role.as_deref().ok_or_else(|| missing("role"))?.parse()?;
            let scope = Scope::parse(body.scope.as_deref().ok_or_else(|| missing("scope"))?)?;
            let duration = parse_duration(body.duration.as_deref().ok_or_else(|| missing("duration"))?)
                .map_err(|e| ApiError::Unprocessable(format!("`duration`: {e}")))?;
            RequestKind::Access { role, scope, duration }
        }
        "action" => {
            if body.role.is_some() || body.scope.is_some() || body.duration.is_some() {
                return Err(unexpected("role/scope/duration", "action"));
            }
            let action: Action = body.action.as_deref().ok_or_else(|| missing("action"))?.parse()?;
            let resource = body.resource.as_ref().ok_or_else(|| missing("resource"))?;
            let resource = parse_resource(&resource.kind, &resource.id)?;
            if resource == Resource::Gatehouse && body.binding.is_some() {
                return Err(ApiError::Unprocessable("a binding is for a deployment to an environment".into()));
            }
            RequestKind::Action { action, resource, binding: body.binding.map(binding) }
        }
        other => {
            return Err(ApiError::Unprocessable(format!("`kind` is `access` or `action`, not `{other}`")));
        }
    };
    Ok(Asked { kind, reason: body.reason, ticket: body.ticket })
}

fn missing(field: &str) -> ApiError {
    ApiError::Unprocessable(format!("`{field}` is required"))
}

fn binding(dto: BindingDto) -> DeploymentBinding {
    DeploymentBinding {
        forge: dto.forge,
        repository: dto.repository,
        run_id: dto.run_id,
        run_attempt: dto.run_attempt,
        environment: dto.environment,
        sha: dto.sha.to_ascii_lowercase(),
        authors: dto.authors,
        workflow_digest: dto.workflow_digest,
    }
}

/// Requests, newest first: the caller's own, those it may vote on
/// (`reviewable=true`: pending, counted by the rule, not yet voted on),
/// break-glass uses whose after-review it owes (`after_review=true`), or
/// anyone's for holders of `audit.read`.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(RequestListQuery),
    responses((status = 200, body = ListDto<RequestDto>), (status = 400), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RequestListQuery>,
) -> Result<Json<ListDto<RequestDto>>, ApiError> {
    let page = page_request(query.limit, query.cursor.clone())?;
    let state_filter =
        query.state.as_deref().map(|raw| RequestState::parse(raw).ok_or_else(|| bad_state(raw))).transpose()?;
    let me = caller.identity().id;
    let requester: Option<IdentityId> = match query.requester.as_deref() {
        None => None,
        Some("me") => Some(me),
        Some(raw) => Some(parse_field("requester", raw)?),
    };
    let reviewable = query.reviewable.unwrap_or(false);
    let after_review = query.after_review.unwrap_or(false);
    if reviewable && after_review {
        return Err(ApiError::BadRequest("`reviewable` and `after_review` are two lists; ask for one".into()));
    }
    let auditor = caller.may_as_configured(&state, Action::AuditRead, &Resource::Gatehouse);
    let requester = match requester {
        Some(other) if other != me && !auditor => {
            return Err(ApiError::Forbidden("listing another identity's requests needs `audit.read`".into()));
        }
        None if !reviewable && !after_review && !auditor => Some(me),
        chosen => chosen,
    };
    let filter = ApprovalFilter {
        state: if reviewable { Some(RequestState::Pending) } else { state_filter },
        requester,
        voter: None,
        resource_prefix: query.resource.clone(),
        created_from: query.since.as_deref().map(|raw| instant("since", raw)).transpose()?,
        created_before: query.until.as_deref().map(|raw| instant("until", raw)).transpose()?,
        after_review_open: after_review,
    };
    let found = state.store.list_approval_requests(&filter, page).await?;
    let policies = state.policies.current();
    let items: Vec<ApprovalRequest> = if reviewable {
        approvals::awaiting_vote(&state, &caller, found.items).await?
    } else if after_review {
        let directory = state.store.approver_directory(state.clock.now()).await?;
        found
            .items
            .into_iter()
            .filter(|request| {
                let in_pool = policies.approvals().find(&request.rule_id).is_some_and(|loaded| {
                    loaded.rule.break_glass.as_ref().is_some_and(|glass| {
                        directory.members_for(&glass.after_review.pool, request.kind.subject()).contains(&me)
                    })
                });
                let reviewed = request
                    .after_review
                    .as_ref()
                    .is_some_and(|review| review.reviews.iter().any(|entry| entry.reviewer == me));
                in_pool && request.requester != me && !reviewed
            })
            .collect()
    } else {
        found.items
    };
    Ok(Json(ListDto { items: approvals::show_all(&policies, &items), next_cursor: found.next_after }))
}

fn bad_state(raw: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "`state` is one of pending, approved, denied, cancelled, expired, superseded, active, consumed, revoked; not \
         `{raw}`"
    ))
}

fn instant(field: &str, raw: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| ApiError::BadRequest(format!("`{field}` must be RFC 3339")))
}

/// One request with the progress of its rule per clause and the
/// assignment of voters to clauses.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "request id")), responses((status = 200, body = RequestDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    DecisionCaller(caller): DecisionCaller,
    IdPath(id): IdPath<ApprovalRequestId>,
) -> Result<Json<RequestDto>, ApiError> {
    let request = approvals::visible(&state, &caller, id).await?;
    Ok(Json(approvals::show(&state.policies.current(), &request)))
}

/// Approve or deny, naming the digest of the request as shown. Needs a
/// second factor verified within the rule's `approver_mfa_max_age`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/votes", tag = "requests", request_body = VoteBody,
    params(("id" = String, Path, description = "request id")),
    responses((status = 201, body = RequestDto), (status = 403, description = "`not-eligible` or `mfa-required`"),
              (status = 404), (status = 409, description = "voted already, decided, or the digest no longer matches"),
              (status = 422)))]
pub async fn vote(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ApprovalRequestId>,
    ApiJson(body): ApiJson<VoteBody>,
) -> Result<(StatusCode, Json<RequestDto>), ApiError> {
    let decision = match body.decision.as_str() {
        "approve" => VoteDecision::Approve,
        "deny" => VoteDecision::Deny,
        other => return Err(ApiError::Unprocessable(format!("`decision` is `approve` or `deny`, not `{other}`"))),
    };
    approvals::visible(&state, &caller, id).await?;
    let request = approvals::cast(&state, &caller, id, decision, body.reason, &body.digest).await?;
    Ok((StatusCode::CREATED, Json(approvals::show(&state.policies.current(), &request))))
}

/// The requester cancels a pending request.
#[utoipa::path(delete, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, body = RequestDto), (status = 403), (status = 404), (status = 409)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ApprovalRequestId>,
) -> Result<Json<RequestDto>, ApiError> {
    approvals::visible(&state, &caller, id).await?;
    let request = approvals::cancel(&state, &caller, id).await?;
    Ok(Json(approvals::show(&state.policies.current(), &request)))
}

/// Ends active access early: its holder, or someone allowed `grant.manage`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/revoke", tag = "requests", request_body = RevokeBody,
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, body = RequestDto), (status = 403), (status = 404), (status = 409)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ApprovalRequestId>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> Result<Json<RequestDto>, ApiError> {
    let may_manage = caller.may_as_configured(&state, Action::GrantManage, &Resource::Gatehouse);
    if !may_manage {
        approvals::visible(&state, &caller, id).await?;
    }
    let request = approvals::revoke(&state, &caller, id, body.reason).await?;
    Ok(Json(approvals::show(&state.policies.current(), &request)))
}

/// Answers the request as soon as it is no longer `pending`, or when the
/// timeout (default 30 s, at most 5 minutes) passes.
#[utoipa::path(get, path = "/api/v1/requests/{id}/wait", tag = "requests", params(("id" = String, Path, description = "request id"), WaitQuery),
    responses((status = 200, body = RequestDto), (status = 400), (status = 404)))]
pub async fn wait(
    State(state): State<AppState>,
    DecisionCaller(caller): DecisionCaller,
    IdPath(id): IdPath<ApprovalRequestId>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Response, ApiError> {
    let timeout = match query.timeout.as_deref() {
        None => StdDuration::from_secs(30),
        Some(raw) => {
            let asked = parse_duration(raw).map_err(|e| ApiError::BadRequest(format!("`timeout`: {e}")))?;
            let seconds = u64::try_from(asked.whole_seconds())
                .map_err(|_| ApiError::BadRequest("`timeout` must not be negative".into()))?;
            if seconds > approvals::MAX_WAIT.as_secs() {
                return Err(ApiError::BadRequest(format!(
                    "`timeout` is at most {} seconds",
                    approvals::MAX_WAIT.as_secs()
                )));
            }
            StdDuration::from_secs(seconds)
        }
    };
    approvals::visible(&state, &caller, id).await?;
    let render = |request: &ApprovalRequest| {
        let shown = approvals::show(&state.policies.current(), request);
        axum::body::Bytes::from(serde_json::to_vec(&shown).unwrap_or_default())
    };
    // Woken by a change on this node: rendered once for every waiter.
    let body = match approvals::wait_until_decided(&state, id, timeout).await? {
        Waited::Published(published) => published.body.get_or_init(|| render(&published.request)).clone(),
        Waited::Read(request) => render(&request),
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(show, cancel))
        .routes(utoipa_axum::routes!(vote))
        .routes(utoipa_axum::routes!(revoke))
        .routes(utoipa_axum::routes!(wait))
}
