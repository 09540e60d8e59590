//! `/api/v1/evidence`: the auditor's evidence file for a period. Needs
//! `audit.read`, like the rest of the log.

use axum::Json;
use axum::extract::State;
use gatehouse_audit::bundle::Bundle;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::evidence::EvidenceQuery;
use gatehouse_domain::grant::Resource;

use super::dto::{EvidenceFileDto, EvidenceParams, ProvedEntryDto};
use crate::auth::Caller;
use crate::evidence;
use crate::extract::ApiQuery;
use crate::problem::ApiError;
use crate::state::AppState;

impl From<Bundle> for EvidenceFileDto {
    fn from(bundle: Bundle) -> Self {
        Self {
            format: bundle.format,
            origin: bundle.origin,
            public_key: bundle.public_key,
            checkpoint: bundle.checkpoint,
            proved_size: bundle.proved_size,
            proved_root: bundle.proved_root,
            consistency: bundle.consistency,
            entries: bundle
                .entries
                .into_iter()
                .map(|entry| ProvedEntryDto { index: entry.index, leaf: entry.leaf, proof: entry.proof })
                .collect(),
            sections: bundle.sections,
        }
    }
}

/// Every deployment to the matching environments in `[from, to)`, with its
/// request, votes, commits' signature verdicts and integration state, and
/// the access reviews closed in the period; each entry with its inclusion
/// proof.
#[utoipa::path(get, path = "/api/v1/evidence", tag = "audit", params(EvidenceParams),
    responses((status = 200, body = EvidenceFileDto), (status = 400), (status = 403)))]
pub async fn evidence_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<EvidenceParams>,
) -> Result<Json<EvidenceFileDto>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let query = EvidenceQuery::parse(&params.from, &params.to, params.environment.as_deref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let bundle = evidence::build(&*state.store, &query).await?;
    Ok(Json(bundle.into()))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(evidence_file))
}
