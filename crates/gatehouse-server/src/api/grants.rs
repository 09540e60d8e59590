//! `/api/v1/grants`: give an identity a role over a scope, list, revoke.
//! A role is a template in the policy folder; a grant counts from creation
//! to its expiry instant or its revocation, whichever comes first. Nobody
//! grants themselves anything, and a caller grants (or revokes) only a role
//! it holds, or `admin`, over a scope covering the one asked for.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::delegation::{check_grant, check_revoke};
use gatehouse_domain::grant::{
    Grant, NewGrant, OwnedKind, Resource, Role, Scope, check_grant_holder, check_role_defined, parse_expiry,
};
use gatehouse_domain::ids::{GrantId, IdentityId};
use serde_json::json;

use super::dto::{CreateGrantRequest, GrantDto, GrantListQuery, ListDto};
use super::page_request;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPath, parse_field, parse_id};
use crate::problem::ApiError;
use crate::state::AppState;

/// Grant a role over a scope (`*`, `project:…`, `pipeline:…`, `environment:…`).
#[utoipa::path(post, path = "/api/v1/grants", tag = "grants", request_body = CreateGrantRequest,
    responses((status = 201, body = GrantDto), (status = 404), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateGrantRequest>,
) -> Result<(StatusCode, Json<GrantDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let identity_id: IdentityId = parse_field("identity_id", &request.identity_id)?;
    let role: Role = request.role.parse()?;
    check_role_defined(&role, |name| state.policies.current().has_role(name))?;
    let scope = Scope::parse(&request.scope)?;
    let now = state.clock.now();
    let expires_at =
        parse_expiry(request.expires_at.as_deref(), now).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let checked = check_grant(&caller.holder(), identity_id, &role, &scope, now);
    caller.check_delegation(&state, AuditAction::GrantCreate, format!("identity:{identity_id}"), checked).await?;
    let holder = state
        .store
        .find_identity(identity_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("identity `{identity_id}` not found")))?;
    check_grant_holder(&holder)?;
    let new = NewGrant {
        id: GrantId::new(),
        identity_id,
        role,
        scope,
        created_at: now,
        expires_at,
        created_by: Some(caller.identity().id),
    };
    let record =
        caller.record(&authorized, &state, AuditAction::GrantCreate, format!("grant:{}", new.id)).details(json!({
            "grant_id": new.id.to_string(),
            "identity_id": identity_id.to_string(),
            "role": new.role.as_str(),
            "scope": new.scope.to_string(),
            "expires_at": new.expires_at.map(format_rfc3339),
        }));
    let grant = state.store.create_grant(new, record).await?;
    Ok((StatusCode::CREATED, Json(GrantDto::from(&grant))))
}

/// List grants: all for holders of `identity.view`, otherwise one's own.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", params(GrantListQuery),
    responses((status = 200, body = ListDto<GrantDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<GrantListQuery>,
) -> Result<Json<ListDto<GrantDto>>, ApiError> {
    let page = page_request(query.limit, query.cursor)?;
    let identity: Option<IdentityId> = query.identity_id.as_deref().map(parse_id).transpose()?;
    let whose = identity.map_or(Resource::Gatehouse, |owner| Resource::owned(OwnedKind::Grant, "*", owner));
    caller.authorize_read(&state, Action::IdentityView, whose).await?;
    let grants = state.store.list_grants(identity, page).await?;
    Ok(Json(ListDto { items: grants.items.iter().map(GrantDto::from).collect(), next_cursor: grants.next_after }))
}

/// Show one grant.
#[utoipa::path(get, path = "/api/v1/grants/{id}", tag = "grants",
    params(("id" = String, Path, description = "grant id")), responses((status = 200, body = GrantDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<GrantId>,
) -> Result<Json<GrantDto>, ApiError> {
    let grant =
        state.store.find_grant(id).await?.ok_or_else(|| ApiError::NotFound(format!("grant `{id}` not found")))?;
    let resource = Resource::owned(OwnedKind::Grant, grant.id, grant.identity_id);
    caller.authorize_read(&state, Action::IdentityView, resource).await?;
    Ok(Json(GrantDto::from(&grant)))
}

/// Revokes grant `id` as `caller` may: `grant.manage`, and only a role the
/// caller could grant over a scope covering the grant's. The API and the
/// console's administration pages both revoke through here.
pub(crate) async fn revoke_grant(state: &AppState, caller: &Caller, id: GrantId) -> Result<Grant, ApiError> {
    let authorized = caller.authorize(state, Action::GrantManage, Resource::Gatehouse).await?;
    let grant =
        state.store.find_grant(id).await?.ok_or_else(|| ApiError::NotFound(format!("grant `{id}` not found")))?;
    let checked = check_revoke(&caller.holder(), grant.identity_id, &grant.role, &grant.scope, state.clock.now());
    caller.check_delegation(state, AuditAction::GrantRevoke, format!("grant:{id}"), checked).await?;
    let record = caller.record(&authorized, state, AuditAction::GrantRevoke, format!("grant:{id}")).details(json!({
        "grant_id": id.to_string(),
        "identity_id": grant.identity_id.to_string(),
        "role": grant.role.as_str(),
        "scope": grant.scope.to_string(),
    }));
    let revoked = state.store.revoke_grant(id, state.clock.now(), record).await?;
    Ok(revoked)
}

/// Revoke a grant; it stops counting at once.
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "grants",
    params(("id" = String, Path, description = "grant id")),
    responses((status = 200, body = GrantDto), (status = 404), (status = 409, description = "already revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<GrantId>,
) -> Result<Json<GrantDto>, ApiError> {
    let revoked = revoke_grant(&state, &caller, id).await?;
    Ok(Json(GrantDto::from(&revoked)))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(create, list)).routes(utoipa_axum::routes!(show, revoke))
}
