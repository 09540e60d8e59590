//! `/api/v1/identities/{id}/sessions` and `/api/v1/sessions/{id}`: browser
//! sessions, listed per person and revocable at once.

use axum::Json;
use axum::extract::{Path, State};
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::delegation::{Holder, check_manage};
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{IdentityId, SessionId};
use gatehouse_domain::session::Session;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::extract::parse_id;
use crate::problem::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    pub id: String,
    pub identity_id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub mfa_verified_at: Option<String>,
    pub source_ip: Option<String>,
}

impl From<&Session> for SessionDto {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.to_string(),
            identity_id: s.identity_id.to_string(),
            created_at: format_rfc3339(s.created_at),
            last_seen_at: format_rfc3339(s.last_seen_at),
            expires_at: format_rfc3339(s.expires_at),
            revoked_at: s.revoked_at.map(format_rfc3339),
            mfa_verified_at: s.mfa_verified_at.map(format_rfc3339),
            source_ip: s.source_ip.clone(),
        }
    }
}

/// A person's sessions, newest first.
#[utoipa::path(get, path = "/api/v1/identities/{id}/sessions", tag = "identities",
    params(("id" = String, Path, description = "identity id")), responses((status = 200, body = Vec<SessionDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<SessionDto>>, ApiError> {
    let id: IdentityId = parse_id(&id)?;
    if id != caller.identity().id {
        caller.authorize_read(&state, Action::IdentityView, Resource::Gatehouse).await?;
    }
    Ok(Json(state.store.list_sessions(id).await?.iter().map(SessionDto::from).collect()))
}

/// End a session at once (one's own, or with `identity.manage` that of
/// someone whose every grant the caller holds).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "identities",
    params(("id" = String, Path, description = "session id")), responses((status = 200, body = SessionDto), (status = 403), (status = 404)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionDto>, ApiError> {
    let id: SessionId = parse_id(&id)?;
    let session = state.store.find_session_by_id(id).await?;
    let owner = session.map(|s| s.identity_id);
    let authorized = match owner {
        Some(owner) => caller.authorize_own(&state, owner, Action::IdentityManage, Resource::Gatehouse).await?,
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
