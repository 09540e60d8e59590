//! `/api/v1/identities`: create, list, show, suspend, reactivate and
//! deprovision people and services.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::delegation::{Holder, check_manage};
use gatehouse_domain::grant::Resource;
use gatehouse_domain::identity::{
    IdentityKind, IdentityStatus, NewIdentity, check_own_standing, check_status_transition,
};
use gatehouse_domain::ids::IdentityId;
use serde_json::json;

use super::dto::{CreateIdentityRequest, IdentityDto, ListDto, PageQuery};
use super::page_request;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// Create a human or service identity.
#[utoipa::path(post, path = "/api/v1/identities", tag = "identities",
    request_body = CreateIdentityRequest,
    responses((status = 201, body = IdentityDto), (status = 409, description = "email or service name taken"), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateIdentityRequest>,
) -> Result<(StatusCode, Json<IdentityDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    let kind: IdentityKind = request.kind.parse()?;
    let new = NewIdentity::new(kind, &request.name, request.email.as_deref(), state.clock.now())?;
    let record = caller
        .record(&authorized, &state, AuditAction::IdentityCreate, format!("identity:{}", new.id))
        .details(json!({
            "identity_id": new.id.to_string(),
            "kind": kind.as_str(),
            "name": new.name.as_str(),
            "email": new.email.as_ref().map(|e| e.as_str()),
        }));
    let identity = state.store.create_identity(new, record).await?;
    Ok((StatusCode::CREATED, Json(IdentityDto::from(&identity))))
}

/// List identities, oldest first.
#[utoipa::path(get, path = "/api/v1/identities", tag = "identities", params(PageQuery),
    responses((status = 200, body = ListDto<IdentityDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ListDto<IdentityDto>>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    let page = state.store.list_identities(page_request(query.limit, query.cursor)?).await?;
    Ok(Json(ListDto { items: page.items.iter().map(IdentityDto::from).collect(), next_cursor: page.next_after }))
}

/// Show one identity.
#[utoipa::path(get, path = "/api/v1/identities/{id}", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 200, body = IdentityDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<IdentityDto>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::own_record(id)).await?;
    let identity = state.store.find_identity(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(IdentityDto::from(&identity)))
}

fn not_found(id: IdentityId) -> ApiError {
    ApiError::NotFound(format!("identity `{id}` not found"))
}

/// Moves an identity between statuses, refusing what makes no sense
/// (reviving the deprovisioned, locking yourself out) and what the caller
/// may not do to it (it holds something the caller does not). The API and
/// the console's administration pages both change a status through here.
pub(crate) async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: IdentityId,
    to: IdentityStatus,
    action: AuditAction,
) -> Result<IdentityDto, ApiError> {
    let authorized = caller.authorize(state, Action::IdentityManage, Resource::Gatehouse).await?;
    check_own_standing(caller.identity().id, id, to)?;
    let current = state.store.find_identity(id).await?.ok_or_else(|| not_found(id))?;
    // Nobody locks out, removes or revives someone holding more than they do.
    let grants = state.store.list_grants_of(id).await?;
    let checked = check_manage(&caller.holder(), &Holder::new(id, &grants), state.clock.now());
    caller.check_delegation(state, action, format!("identity:{id}"), checked).await?;
    check_status_transition(id, current.status, to)?;
    let record = caller.record(&authorized, state, action, format!("identity:{id}")).details(json!({
        "identity_id": id.to_string(),
        "old_status": current.status.as_str(),
        "new_status": to.as_str(),
    }));
    let now = state.clock.now();
    let identity = state.store.update_identity_status(id, current.status, to, now, record).await?;
    Ok(IdentityDto::from(&identity))
}

/// Suspend an identity: its tokens stop working until it is reactivated.
#[utoipa::path(post, path = "/api/v1/identities/{id}/suspend", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 200, body = IdentityDto), (status = 403), (status = 404), (status = 409)))]
pub async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<IdentityDto>, ApiError> {
    Ok(Json(change_status(&state, &caller, id, IdentityStatus::Suspended, AuditAction::IdentitySuspend).await?))
}

/// Reactivate a suspended identity.
#[utoipa::path(post, path = "/api/v1/identities/{id}/reactivate", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 200, body = IdentityDto), (status = 403), (status = 404), (status = 409)))]
pub async fn reactivate(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<IdentityDto>, ApiError> {
    Ok(Json(change_status(&state, &caller, id, IdentityStatus::Active, AuditAction::IdentityReactivate).await?))
}

/// Deprovision an identity: every token and grant it holds is revoked at
/// once; the record is kept.
#[utoipa::path(delete, path = "/api/v1/identities/{id}", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 200, body = IdentityDto), (status = 403), (status = 404), (status = 409)))]
pub async fn deprovision(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<IdentityDto>, ApiError> {
    Ok(Json(change_status(&state, &caller, id, IdentityStatus::Deprovisioned, AuditAction::IdentityDeprovision).await?))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(show, deprovision))
        .routes(utoipa_axum::routes!(suspend))
        .routes(utoipa_axum::routes!(reactivate))
}
