//! `/api/v1/trust-bindings`: which CI jobs act as which service identity.
//! Managing them is identity management (`identity.manage`); reading them,
//! `identity.view`. A binding names only a service identity whose grants
//! the caller holds: CI jobs never get more than their binder has.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::delegation::{DelegationError, Holder, check_binding};
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{IdentityId, TrustBindingId};
use gatehouse_domain::workload::{NewTrustBinding, TrustBinding, check_bindable};
use serde_json::json;

use super::dto::{CreateTrustBindingRequest, ListDto, PageQuery, TrustBindingDto};
use super::page_request;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPath, parse_field};
use crate::problem::ApiError;
use crate::state::AppState;

/// Bind CI jobs (issuer, audience, claim conditions) to a service identity.
#[utoipa::path(post, path = "/api/v1/trust-bindings", tag = "workload", request_body = CreateTrustBindingRequest,
    responses((status = 201, body = TrustBindingDto), (status = 404), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateTrustBindingRequest>,
) -> Result<(StatusCode, Json<TrustBindingDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    let identity_id: IdentityId = parse_field("identity_id", &request.identity_id)?;
    let new = NewTrustBinding::new(
        &request.issuer,
        &request.audience,
        &request.claims,
        identity_id,
        request.max_ttl_seconds,
        state.clock.now(),
        Some(caller.identity().id),
    )?;
    let target = state
        .store
        .find_identity(identity_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("identity `{identity_id}` not found")))?;
    let grants = state.store.list_grants_of(identity_id).await?;
    // A person is refused before delegation is weighed (`check_binding`
    // says `NotAService` first); a service's standing after it, as the store
    // checks it again inside its transaction.
    let checked = check_binding(&caller.holder(), &Holder::new(identity_id, &grants), target.kind, state.clock.now());
    if checked != Err(DelegationError::NotAService) {
        caller
            .check_delegation(&state, AuditAction::TrustBindingCreate, format!("identity:{identity_id}"), checked)
            .await?;
    }
    check_bindable(&target)?;
    let record = caller
        .record(&authorized, &state, AuditAction::TrustBindingCreate, format!("trust_binding:{}", new.id))
        .details(json!({
            "trust_binding_id": new.id.to_string(),
            "issuer": new.issuer,
            "audience": new.audience,
            "claims": request.claims,
            "identity_id": identity_id.to_string(),
            "max_ttl_seconds": new.max_ttl_seconds,
        }));
    let binding = state.store.create_trust_binding(new, record).await?;
    Ok((StatusCode::CREATED, Json(TrustBindingDto::from(&binding))))
}

/// List trust bindings, oldest first.
#[utoipa::path(get, path = "/api/v1/trust-bindings", tag = "workload", params(PageQuery),
    responses((status = 200, body = ListDto<TrustBindingDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ListDto<TrustBindingDto>>, ApiError> {
    let page = page_request(query.limit, query.cursor)?;
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    let bindings = state.store.list_trust_bindings(page).await?;
    Ok(Json(ListDto {
        items: bindings.items.iter().map(TrustBindingDto::from).collect(),
        next_cursor: bindings.next_after,
    }))
}

/// Show one trust binding.
#[utoipa::path(get, path = "/api/v1/trust-bindings/{id}", tag = "workload",
    params(("id" = String, Path, description = "trust binding id")),
    responses((status = 200, body = TrustBindingDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<TrustBindingId>,
) -> Result<Json<TrustBindingDto>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    let binding = state
        .store
        .find_trust_binding(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("trust binding `{id}` not found")))?;
    Ok(Json(TrustBindingDto::from(&binding)))
}

/// Delete a trust binding; tokens CI jobs obtained through it are revoked.
#[utoipa::path(delete, path = "/api/v1/trust-bindings/{id}", tag = "workload",
    params(("id" = String, Path, description = "trust binding id")),
    responses((status = 200, body = TrustBindingDto), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<TrustBindingId>,
) -> Result<Json<TrustBindingDto>, ApiError> {
    let binding = delete_binding(&state, &caller, id).await?;
    Ok(Json(TrustBindingDto::from(&binding)))
}

/// Deletes a trust binding as `caller` (`identity.manage`, audited): the
/// API's and the console's one way to do it.
pub(crate) async fn delete_binding(
    state: &AppState,
    caller: &Caller,
    id: TrustBindingId,
) -> Result<TrustBinding, ApiError> {
    let authorized = caller.authorize(state, Action::IdentityManage, Resource::Gatehouse).await?;
    let record = caller
        .record(&authorized, state, AuditAction::TrustBindingDelete, format!("trust_binding:{id}"))
        .details(json!({ "trust_binding_id": id.to_string() }));
    Ok(state.store.delete_trust_binding(id, state.clock.now(), record).await?)
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(create, list)).routes(utoipa_axum::routes!(show, delete))
}
