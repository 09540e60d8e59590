//! `/api/v1/audit/entries`: reading the audit log.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::Resource;

use super::dto::{AuditEntryDto, AuditQuery};
use crate::auth::Caller;
use crate::extract::ApiQuery;
use crate::problem::ApiError;
use crate::state::AppState;

impl From<&AuditEntry> for AuditEntryDto {
    fn from(entry: &AuditEntry) -> Self {
        let r = &entry.record;
        Self {
            index: entry.index,
            time: format_rfc3339(r.time),
            actor: r.actor.id().to_owned(),
            actor_kind: r.actor.kind().to_owned(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            outcome: r.outcome.as_str().to_owned(),
            reason: r.reason.clone(),
            request_id: r.origin.request_id.clone(),
            source_ip: r.origin.source_ip.clone(),
            mfa: r.mfa,
            details: r.details.clone(),
        }
    }
}

/// Audit entries in index order, from `start`.
#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntryDto>)))]
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEntryDto>>, ApiError> {
    caller.authorize(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 500 (got {limit})")));
    }
    let entries = state.store.list_audit(query.start.unwrap_or(0), limit).await?;
    Ok(Json(entries.iter().map(AuditEntryDto::from).collect()))
}
