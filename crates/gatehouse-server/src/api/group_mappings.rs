//! `/api/v1/group-mappings`: the directory's groups mapped to roles, so
//! access follows the IdP (e.g. `release-managers` → `release-approver` on
//! `environment:acme/web:production`). Needs `grant.manage`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::{Resource, Role, Scope};
use gatehouse_domain::ids::GroupMappingId;
use gatehouse_domain::scim::GroupMapping;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::extract::{ApiJson, parse_id};
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupMappingRequest {
    /// The IdP group's displayName (case-insensitive).
    pub group: String,
    pub role: String,
    pub scope: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupMappingDto {
    pub id: String,
    pub group: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&GroupMapping> for GroupMappingDto {
    fn from(m: &GroupMapping) -> Self {
        Self {
            id: m.id.to_string(),
            group: m.group.clone(),
            role: m.role.as_str().to_owned(),
            scope: m.scope.to_string(),
            created_at: format_rfc3339(m.created_at),
            created_by: m.created_by.map(|id| id.to_string()),
        }
    }
}

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
    let role: Role = request
        .role
        .parse()
        .map_err(|e: gatehouse_domain::grant::GrantError| ApiError::Unprocessable(e.to_string()))?;
    if !state.policies.current().has_role(role.as_str()) {
        return Err(ApiError::Unprocessable(format!("unknown role `{role}` (see GET /api/v1/roles)")));
    }
    let scope = Scope::parse(&request.scope).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
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
    Path(id): Path<String>,
) -> Result<Json<GroupMappingDto>, ApiError> {
    let id: GroupMappingId = parse_id(&id)?;
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let record = caller.record(&authorized, &state, AuditAction::GroupMappingDelete, format!("group_mapping:{id}"));
    let mapping = state.store.delete_group_mapping(id, state.clock.now(), record).await?;
    Ok(Json(GroupMappingDto::from(&mapping)))
}
