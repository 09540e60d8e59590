//! `POST /api/v1/auth/workload`: a CI job trades its OIDC token for a
//! short-lived gatehouse token of the service identity its binding names.
//! Each CI token is exchanged once (by its issuer and `jti`, or its SHA-256
//! when it has none; `domain::workload_exchange`): a second exchange, on any
//! node, is refused with 401 and audited, and mints nothing.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::audit::{Actor, AuditAction, AuditRecord, Observation, Outcome, SystemWriter};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::TokenId;
use gatehouse_domain::token::{NewToken, TokenSecret};
use gatehouse_domain::workload::exchanged_token_ttl;
use gatehouse_domain::workload_exchange::WorkloadTokenUse;
use serde_json::json;

use super::dto::{WorkloadExchangeRequest, WorkloadTokenDto};
use crate::auth::authenticate_workload;
use crate::context::Origin;
use crate::extract::ApiJson;
use crate::problem::ApiError;
use crate::state::AppState;

/// Exchange a CI job's OIDC token for a gatehouse token (at most 15
/// minutes, capped by the binding and by the CI token's own expiry).
#[utoipa::path(post, path = "/api/v1/auth/workload", tag = "workload", request_body = WorkloadExchangeRequest,
    responses((status = 200, body = WorkloadTokenDto), (status = 401), (status = 503)))]
pub async fn exchange(
    State(state): State<AppState>,
    Origin(origin): Origin,
    ApiJson(request): ApiJson<WorkloadExchangeRequest>,
) -> Result<Json<WorkloadTokenDto>, ApiError> {
    let presented = request.token.trim();
    let (workload, identity, _grants) = authenticate_workload(&state, presented, &origin).await?;
    let now = state.clock.now();
    let (state_ref, identity_ref, origin_ref, workload_ref) = (&state, &identity, &origin, &workload);
    let refuse = |reason: String| async move {
        let (state, identity, origin, workload) = (state_ref, identity_ref, origin_ref, workload_ref);
        let observation = Observation::new(now, Actor::identity(identity), AuditAction::AuthWorkload, "gatehouse")
            .origin(origin)
            .outcome(Outcome::Failure, reason.clone())
            .details(json!({
                "trust_binding_id": workload.binding.id.to_string(),
                "issuer": workload.issuer,
                "subject": workload.subject,
            }));
        observation.append(&*state.store).await?;
        Err(ApiError::Unauthorized(format!("workload authentication failed: {reason}")))
    };
    let jti = workload.claims.get("jti").and_then(serde_json::Value::as_str);
    let once = match WorkloadTokenUse::new(&workload.issuer, jti, presented, workload.expires_at, now) {
        Ok(once) => once,
        Err(error) => return refuse(error.to_string()).await,
    };
    let ttl = exchanged_token_ttl(workload.binding.max_ttl_seconds, workload.expires_at, now);
    let secret = TokenSecret::generate();
    let new = NewToken {
        id: TokenId::new(),
        identity_id: identity.id,
        hash: secret.hash(),
        description: format!("CI job {} via trust binding {}", workload.subject, workload.binding.id),
        created_at: now,
        expires_at: now + ttl,
        created_by: None,
        trust_binding_id: Some(workload.binding.id),
    };
    let (actor, resource) = (Actor::identity(&identity), format!("token:{}", new.id));
    let record =
        AuditRecord::system_for(SystemWriter::WorkloadExchange, actor, now, AuditAction::AuthWorkload, resource)
            .origin(&origin)
            .details(json!({
                "token_id": new.id.to_string(),
                "trust_binding_id": workload.binding.id.to_string(),
                "issuer": workload.issuer,
                "subject": workload.subject,
                "expires_at": format_rfc3339(new.expires_at),
                "claims": workload.claims,
            }));
    let Some(token) = state.store.create_workload_token(new, once, record).await? else {
        return refuse("this CI token was exchanged before; a job asks its CI for a new one".into()).await;
    };
    Ok(Json(WorkloadTokenDto {
        token: secret.expose().to_owned(),
        token_id: token.id.to_string(),
        expires_at: format_rfc3339(token.expires_at),
        identity_id: identity.id.to_string(),
        trust_binding_id: workload.binding.id.to_string(),
    }))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(exchange))
}
