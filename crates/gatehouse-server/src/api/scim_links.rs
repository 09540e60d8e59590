//! `/api/v1/identities/{id}/scim`: an admin hands an existing person to
//! the SCIM provisioner, or takes them back. SCIM changes only the people it
//! created or an admin linked here; both directions need `identity.manage`
//! and every grant the person holds, and are audited.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::delegation::{Holder, check_manage};
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::scim::ScimUser;
use gatehouse_domain::scim::control::check_link;
use serde_json::{Map, json};

use super::dto::{ScimLinkDto, ScimLinkRequest};
use crate::auth::Caller;
use crate::extract::{ApiJson, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

fn dto(user: &ScimUser) -> ScimLinkDto {
    ScimLinkDto {
        identity_id: user.identity.id.to_string(),
        user_name: user.user_name.clone(),
        origin: user.origin.as_str().to_owned(),
        linked_by: user.linked_by.map(|id| id.to_string()),
    }
}

/// How SCIM holds an identity: created by the provisioner, linked by an
/// admin, or adopted by email before SCIM kept to its own.
#[utoipa::path(get, path = "/api/v1/identities/{id}/scim", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 200, body = ScimLinkDto), (status = 404, description = "SCIM does not hold this identity")))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<ScimLinkDto>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    let user = state.store.scim_find_user(id).await?.ok_or_else(|| not_linked(id))?;
    Ok(Json(dto(&user)))
}

/// Handing someone to the provisioner (or taking them back, with the
/// directory's grants) changes them: only for someone whose every grant the
/// caller holds.
async fn check_holds_everything_of(
    state: &AppState,
    caller: &Caller,
    id: IdentityId,
    action: AuditAction,
) -> Result<(), ApiError> {
    let grants = state.store.list_grants_of(id).await?;
    let checked = check_manage(&caller.holder(), &Holder::new(id, &grants), state.clock.now());
    caller.check_delegation(state, action, format!("identity:{id}"), checked).await
}

fn not_linked(id: IdentityId) -> ApiError {
    ApiError::NotFound(format!("SCIM does not manage identity `{id}`"))
}

/// Link an existing person to SCIM, so the provisioner may change them
/// (under `user_name`, default their email). Also confirms a user SCIM
/// adopted by email before it kept to its own.
#[utoipa::path(post, path = "/api/v1/identities/{id}/scim", tag = "identities",
    params(("id" = String, Path, description = "identity id")), request_body = ScimLinkRequest,
    responses((status = 201, body = ScimLinkDto), (status = 403), (status = 404),
        (status = 409, description = "already managed by SCIM, or the userName is taken"),
        (status = 422, description = "not a person, deprovisioned, or no userName")))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
    ApiJson(request): ApiJson<ScimLinkRequest>,
) -> Result<(StatusCode, Json<ScimLinkDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    let identity =
        state.store.find_identity(id).await?.ok_or_else(|| ApiError::NotFound(format!("identity `{id}` not found")))?;
    check_holds_everything_of(&state, &caller, id, AuditAction::IdentityScimLink).await?;
    let current = state.store.scim_find_user(id).await?.map(|user| user.origin);
    let user_name = check_link(&identity, current, request.user_name.as_deref())?;
    let mut attributes = Map::new();
    attributes.insert("displayName".into(), json!(identity.name));
    if let Some(email) = &identity.email {
        attributes.insert("emails".into(), json!([{"value": email, "type": "work", "primary": true}]));
    }
    let record =
        caller.record(&authorized, &state, AuditAction::IdentityScimLink, format!("identity:{id}")).details(json!({
            "identity_id": id.to_string(), "user_name": user_name, "previous_origin": current.map(|o| o.as_str()),
        }));
    let user =
        state.store.scim_link_user(id, user_name, attributes, caller.identity().id, state.clock.now(), record).await?;
    Ok((StatusCode::CREATED, Json(dto(&user))))
}

/// Take a person out of SCIM's hands: the identity stays as it is, but the
/// provisioner no longer sees or changes it, and it leaves the directory's
/// groups (losing the grants they gave).
#[utoipa::path(delete, path = "/api/v1/identities/{id}/scim", tag = "identities",
    params(("id" = String, Path, description = "identity id")),
    responses((status = 204), (status = 403), (status = 404, description = "SCIM does not hold this identity")))]
pub async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<StatusCode, ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    let user = state.store.scim_find_user(id).await?.ok_or_else(|| not_linked(id))?;
    check_holds_everything_of(&state, &caller, id, AuditAction::IdentityScimUnlink).await?;
    let record =
        caller.record(&authorized, &state, AuditAction::IdentityScimUnlink, format!("identity:{id}")).details(json!({
            "identity_id": id.to_string(), "user_name": user.user_name, "origin": user.origin.as_str(),
        }));
    state.store.scim_unlink_user(id, state.clock.now(), record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(show, link, unlink))
}
