//! `/api/v1/group-mappings`: the directory's groups mapped to roles, so
//! access follows the IdP (e.g. `release-managers` → `release-approver` on
//! `environment:acme/web:production`). Needs `grant.manage`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{Resource, Role, Scope, check_role_defined};
use gatehouse_domain::ids::GroupMappingId;
use gatehouse_domain::scim::GroupMapping;
use serde_json::json;

use super::dto::{CreateGroupMappingRequest, GroupMappingDto};
use crate::auth::Caller;
use crate::extract::{ApiJson, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// Map a directory group to a role over a scope; current members gain it at once.
#[utoipa::path(post, path = "/api/v1/group-mappings", tag = "grants", request_body = CreateGroupMappingRequest,
    responses((status = 201, body = GroupMappingDto), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateGroupMappingRequest>,
) -> Result<(StatusCode, Json<GroupMappingDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let group = request.group.trim();
    if group.is_empty() || group.len() > 256 {
        return Err(ApiError::Unprocessable("group must be 1–256 characters".into()));
    }
    let role: Role = request.role.parse()?;
    check_role_defined(&role, |name| state.policies.current().has_role(name))?;
    let scope = Scope::parse(&request.scope)?;
    let mapping = GroupMapping {
        id: GroupMappingId::new(),
        group: group.to_owned(),
        role,
        scope,
        created_at: state.clock.now(),
        created_by: Some(caller.identity().id),
    };
    let record = caller
        .record(&authorized, &state, AuditAction::GroupMappingCreate, format!("group_mapping:{}", mapping.id))
        .details(json!({
            "group": mapping.group, "role": mapping.role.as_str(), "scope": mapping.scope.to_string(),
        }));
    let mapping = state.store.create_group_mapping(mapping, record).await?;
    Ok((StatusCode::CREATED, Json(GroupMappingDto::from(&mapping))))
}

/// Every group mapping.
#[utoipa::path(get, path = "/api/v1/group-mappings", tag = "grants", responses((status = 200, body = Vec<GroupMappingDto>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<GroupMappingDto>>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    Ok(Json(state.store.list_group_mappings().await?.iter().map(GroupMappingDto::from).collect()))
}

/// Remove a mapping; the grants it gave are revoked at once.
#[utoipa::path(delete, path = "/api/v1/group-mappings/{id}", tag = "grants",
    params(("id" = String, Path, description = "group mapping id")), responses((status = 200, body = GroupMappingDto), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<GroupMappingId>,
) -> Result<Json<GroupMappingDto>, ApiError> {
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let record = caller.record(&authorized, &state, AuditAction::GroupMappingDelete, format!("group_mapping:{id}"));
    let mapping = state.store.delete_group_mapping(id, state.clock.now(), record).await?;
    Ok(Json(GroupMappingDto::from(&mapping)))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(create, list)).routes(utoipa_axum::routes!(delete))
}
