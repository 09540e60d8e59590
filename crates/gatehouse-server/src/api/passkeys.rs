//! `/api/v1/mfa/webauthn/…` and `/api/v1/mfa/passkeys`: passkeys as a
//! second factor beside TOTP. Register (start, finish), verify (step-up:
//! start, finish), list, rename, remove. The ceremonies are
//! [`crate::passkeys`]'s; these handlers parse and render.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::PasskeyId;

use super::dto::{
    PasskeyCeremonyDto, PasskeyDto, PasskeyListDto, PasskeyRegisterRequest, PasskeyRenameRequest, PasskeyVerifyRequest,
    VerifiedDto,
};
use crate::auth::Caller;
use crate::extract::{ApiJson, IdPath};
use crate::passkeys::{self, Started};
use crate::problem::ApiError;
use crate::state::AppState;

fn ceremony(started: Started) -> Json<PasskeyCeremonyDto> {
    Json(PasskeyCeremonyDto {
        ceremony_id: started.ceremony_id,
        options: started.options,
        expires_at: format_rfc3339(started.expires_at),
    })
}

/// Start registering a passkey: the options for `navigator.credentials.create()`.
/// Needs a fresh second factor if the person has one already.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/register/start", tag = "mfa",
    responses((status = 200, body = PasskeyCeremonyDto), (status = 403), (status = 409), (status = 422)))]
pub async fn register_start(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PasskeyCeremonyDto>, ApiError> {
    Ok(ceremony(passkeys::start_registration(&state, &caller).await?))
}

/// Finish registering: the browser's credential, stored under a label.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/register/finish", tag = "mfa", request_body = PasskeyRegisterRequest,
    responses((status = 201, body = PasskeyDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn register_finish(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PasskeyRegisterRequest>,
) -> Result<(StatusCode, Json<PasskeyDto>), ApiError> {
    let passkey =
        passkeys::finish_registration(&state, &caller, &request.ceremony_id, &request.label, &request.credential)
            .await?;
    Ok((StatusCode::CREATED, Json(PasskeyDto::from(&passkey))))
}

/// Start a step-up with a passkey: the options for `navigator.credentials.get()`.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/verify/start", tag = "mfa",
    responses((status = 200, body = PasskeyCeremonyDto), (status = 404), (status = 409), (status = 422)))]
pub async fn verify_start(State(state): State<AppState>, caller: Caller) -> Result<Json<PasskeyCeremonyDto>, ApiError> {
    Ok(ceremony(passkeys::start_authentication(&state, &caller).await?))
}

/// Finish a step-up: this token (or session) becomes MFA-fresh, as with a TOTP code.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/verify/finish", tag = "mfa", request_body = PasskeyVerifyRequest,
    responses((status = 200, body = VerifiedDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn verify_finish(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PasskeyVerifyRequest>,
) -> Result<(HeaderMap, Json<VerifiedDto>), ApiError> {
    let verified = passkeys::finish_authentication(&state, &caller, &request.ceremony_id, &request.credential).await?;
    Ok((
        verified.headers,
        Json(VerifiedDto {
            mfa_verified_at: format_rfc3339(verified.verified_at),
            fresh_until: format_rfc3339(verified.fresh_until),
        }),
    ))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/v1/mfa/passkeys", tag = "mfa", responses((status = 200, body = PasskeyListDto)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<PasskeyListDto>, ApiError> {
    let items = passkeys::list(&state, &caller).await?.iter().map(PasskeyDto::from).collect();
    Ok(Json(PasskeyListDto { items }))
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/api/v1/mfa/passkeys/{id}", tag = "mfa", request_body = PasskeyRenameRequest,
    params(("id" = String, Path, description = "passkey id")),
    responses((status = 200, body = PasskeyDto), (status = 404), (status = 422)))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<PasskeyId>,
    ApiJson(request): ApiJson<PasskeyRenameRequest>,
) -> Result<Json<PasskeyDto>, ApiError> {
    Ok(Json(PasskeyDto::from(&passkeys::rename(&state, &caller, id, &request.label).await?)))
}

/// Remove one of the caller's passkeys (needs a fresh second factor).
#[utoipa::path(delete, path = "/api/v1/mfa/passkeys/{id}", tag = "mfa",
    params(("id" = String, Path, description = "passkey id")),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<PasskeyId>,
) -> Result<StatusCode, ApiError> {
    passkeys::remove(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(register_start))
        .routes(utoipa_axum::routes!(register_finish))
        .routes(utoipa_axum::routes!(verify_start))
        .routes(utoipa_axum::routes!(verify_finish))
        .routes(utoipa_axum::routes!(list))
        .routes(utoipa_axum::routes!(rename, remove))
}
