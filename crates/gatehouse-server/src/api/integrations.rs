//! `/api/v1/integrations`: register an outside tool as a vendor's
//! integration, list and show them, check one against the API access
//! standard, and ask for and grant exceptions to its rules. Writes need
//! `vendor.manage`; reads `vendor.manage` or `audit.read`. The work is
//! `crate::vendors::integrations`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{ExceptionId, IntegrationId, VendorId};

use super::dto::{
    CheckReportDto, ExceptionDto, ExceptionListDto, GrantExceptionBody, IntegrationDto, IntegrationListDto,
    IntegrationListQuery, RegisterIntegrationRequest, RequestExceptionBody,
};
use super::vendors::authorize_vendor_read;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPairPath, IdPath, parse_id};
use crate::problem::ApiError;
use crate::state::AppState;
use crate::vendors::integrations::{
    check as check_integration, find, grant, list_now, register as register_integration, request_exception,
    standing_now,
};

/// Register an integration: one vendor, one service identity, its declared
/// access. It starts `pending_approval`, its identity suspended.
#[utoipa::path(post, path = "/api/v1/integrations", tag = "integrations", request_body = RegisterIntegrationRequest,
    responses((status = 201, body = IntegrationDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RegisterIntegrationRequest>,
) -> Result<(StatusCode, Json<IntegrationDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let integration = register_integration(&state, &caller, &authorized, &request).await?;
    let standing = standing_now(&state, integration).await?;
    Ok((StatusCode::CREATED, Json(IntegrationDto::of(&standing))))
}

/// List integrations, oldest first (a vendor's only with `vendor_id`).
#[utoipa::path(get, path = "/api/v1/integrations", tag = "integrations", params(IntegrationListQuery),
    responses((status = 200, body = IntegrationListDto), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<IntegrationListQuery>,
) -> Result<Json<IntegrationListDto>, ApiError> {
    let vendor: Option<VendorId> = query.vendor_id.as_deref().map(parse_id).transpose()?;
    Ok(Json(IntegrationListDto { items: integrations_now(&state, &caller, vendor).await? }))
}

/// Integrations (a vendor's only with `vendor`), oldest first, each with
/// whether it is in force now, as `caller` may read them.
pub(crate) async fn integrations_now(
    state: &AppState,
    caller: &Caller,
    vendor: Option<VendorId>,
) -> Result<Vec<IntegrationDto>, ApiError> {
    authorize_vendor_read(state, caller).await?;
    let standings = list_now(state, vendor).await?;
    Ok(standings.iter().map(IntegrationDto::of).collect())
}

/// Show one integration and whether it is in force.
#[utoipa::path(get, path = "/api/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "integration id")),
    responses((status = 200, body = IntegrationDto), (status = 403), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IntegrationId>,
) -> Result<Json<IntegrationDto>, ApiError> {
    authorize_vendor_read(&state, &caller).await?;
    let standing = standing_now(&state, find(&state, id).await?).await?;
    Ok(Json(IntegrationDto::of(&standing)))
}

/// Compare an integration with the API access standard: one finding per
/// rule; recorded as `integration.check`.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/check", tag = "integrations",
    params(("id" = String, Path, description = "integration id")),
    responses((status = 200, body = CheckReportDto), (status = 403), (status = 404)))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IntegrationId>,
) -> Result<Json<CheckReportDto>, ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let report = check_integration(&state, &caller, &authorized, id).await?;
    Ok(Json(CheckReportDto::from(&report)))
}

/// Ask to waive one rule of the standard for an integration, with a
/// reason, for at most 90 days; someone else grants it.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/exceptions", tag = "integrations",
    request_body = RequestExceptionBody, params(("id" = String, Path, description = "integration id")),
    responses((status = 201, body = ExceptionDto), (status = 403), (status = 404), (status = 422)))]
pub async fn request(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IntegrationId>,
    ApiJson(body): ApiJson<RequestExceptionBody>,
) -> Result<(StatusCode, Json<ExceptionDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let record = request_exception(&state, &caller, &authorized, id, &body).await?;
    Ok((StatusCode::CREATED, Json(ExceptionDto::of(&record, state.clock.now()))))
}

/// An integration's exceptions, oldest first.
#[utoipa::path(get, path = "/api/v1/integrations/{id}/exceptions", tag = "integrations",
    params(("id" = String, Path, description = "integration id")),
    responses((status = 200, body = ExceptionListDto), (status = 403), (status = 404)))]
pub async fn exceptions(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IntegrationId>,
) -> Result<Json<ExceptionListDto>, ApiError> {
    authorize_vendor_read(&state, &caller).await?;
    find(&state, id).await?;
    let now = state.clock.now();
    let records = state.store.list_exceptions(id).await?;
    Ok(Json(ExceptionListDto { items: records.iter().map(|record| ExceptionDto::of(record, now)).collect() }))
}

/// Grant an exception: the caller approves it, and must not be its requester.
#[utoipa::path(post, path = "/api/v1/integrations/{id}/exceptions/{exception_id}/grant", tag = "integrations",
    request_body = GrantExceptionBody,
    params(("id" = String, Path, description = "integration id"),
        ("exception_id" = String, Path, description = "exception id")),
    responses((status = 200, body = ExceptionDto), (status = 403), (status = 404), (status = 409)))]
pub async fn grant_one(
    State(state): State<AppState>,
    caller: Caller,
    IdPairPath(id, exception): IdPairPath<IntegrationId, ExceptionId>,
    ApiJson(_body): ApiJson<GrantExceptionBody>,
) -> Result<Json<ExceptionDto>, ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let record = grant(&state, &caller, &authorized, id, exception).await?;
    Ok(Json(ExceptionDto::of(&record, state.clock.now())))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(register, list))
        .routes(utoipa_axum::routes!(show))
        .routes(utoipa_axum::routes!(check))
        .routes(utoipa_axum::routes!(request, exceptions))
        .routes(utoipa_axum::routes!(grant_one))
}
