//! `/api/v1/identities/{id}/sessions` and `/api/v1/sessions/{id}`: browser
//! sessions, listed per person and revocable at once.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::delegation::{Holder, check_manage};
use gatehouse_domain::grant::{OwnedKind, Resource};
use gatehouse_domain::ids::{IdentityId, SessionId};

use super::dto::SessionDto;
use crate::auth::Caller;
use crate::extract::IdPath;
use crate::problem::ApiError;
use crate::state::AppState;

/// A person's sessions, newest first.
#[utoipa::path(get, path = "/api/v1/identities/{id}/sessions", tag = "identities",
    params(("id" = String, Path, description = "identity id")), responses((status = 200, body = Vec<SessionDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<Json<Vec<SessionDto>>, ApiError> {
    caller.authorize_read(&state, Action::IdentityView, Resource::owned(OwnedKind::Session, "*", id)).await?;
    Ok(Json(state.store.list_sessions(id).await?.iter().map(SessionDto::from).collect()))
}

/// End a session at once (one's own, or with `identity.manage` that of
/// someone whose every grant the caller holds).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "identities",
    params(("id" = String, Path, description = "session id")), responses((status = 200, body = SessionDto), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<SessionId>,
) -> Result<Json<SessionDto>, ApiError> {
    let session = state.store.find_session_by_id(id).await?;
    let owner = session.map(|s| s.identity_id);
    let authorized = match owner {
        Some(owner) => {
            caller.authorize(&state, Action::IdentityManage, Resource::owned(OwnedKind::Session, id, owner)).await?
        }
        None => caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?,
    };
    if let Some(owner) = owner {
        // Nobody signs out someone holding more than they do.
        let grants = state.store.list_grants_of(owner).await?;
        let checked = check_manage(&caller.holder(), &Holder::new(owner, &grants), state.clock.now());
        caller.check_delegation(&state, AuditAction::SessionRevoke, format!("session:{id}"), checked).await?;
    }
    let record = caller.record(&authorized, &state, AuditAction::SessionRevoke, format!("session:{id}"));
    let ended = state.store.revoke_session(id, state.clock.now(), record).await?;
    Ok(Json(SessionDto::from(&ended)))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(list)).routes(utoipa_axum::routes!(revoke))
}
