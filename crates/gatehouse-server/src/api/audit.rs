//! `/api/v1/audit/…`: reading the audit log and proving it. Entries with
//! filters, the latest signed checkpoint, inclusion and consistency proofs,
//! and the verifier key. All need `audit.read`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::merkle::{self, Hash, NodeId};
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::store::{AuditFilter, StoredCheckpoint};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dto::{
    AuditEntryDto, AuditPageDto, AuditQuery, ConsistencyProofDto, ConsistencyQuery, InclusionProofDto, InclusionQuery,
};
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
            prev_root: entry.prev_root.map(|root| STANDARD.encode(root)),
        }
    }
}

fn parse_time(name: &str, raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map_err(|_| ApiError::BadRequest(format!("{name} must be an RFC 3339 time, not `{raw}`")))
    })
    .transpose()
}

/// The outcomes an entry can have, as filters name them.
pub(crate) const OUTCOMES: [&str; 3] = ["success", "denied", "failure"];

/// A search of the log's filter as given, before it is checked.
pub(crate) struct FilterText<'a> {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub outcome: Option<String>,
    /// The inclusive lower bound of the time, with its field's name.
    pub since: (&'a str, Option<&'a str>),
    /// The exclusive upper bound of the time, with its field's name.
    pub until: (&'a str, Option<&'a str>),
}

/// The filter of a search of the log, checked: what `GET /api/v1/audit/entries`
/// and the console's audit page both read.
pub(crate) fn audit_filter(text: FilterText<'_>) -> Result<AuditFilter, ApiError> {
    if let Some(outcome) = &text.outcome
        && !OUTCOMES.contains(&outcome.as_str())
    {
        return Err(ApiError::BadRequest(format!("outcome must be success, denied or failure, not `{outcome}`")));
    }
    Ok(AuditFilter {
        since: parse_time(text.since.0, text.since.1)?,
        until: parse_time(text.until.0, text.until.1)?,
        actor: text.actor,
        action: text.action,
        resource: text.resource,
        outcome: text.outcome,
    })
}

/// Audit entries in index order, from `start`, filtered.
#[utoipa::path(get, path = "/api/v1/audit/entries", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPageDto), (status = 400), (status = 403)))]
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPageDto>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 500 (got {limit})")));
    }
    let filter = audit_filter(FilterText {
        since: ("since", query.since.as_deref()),
        until: ("until", query.until.as_deref()),
        actor: query.actor,
        action: query.action,
        resource: query.resource,
        outcome: query.outcome,
    })?;
    let entries = state.store.search_audit(&filter, query.start.unwrap_or(0), limit).await?;
    let next_start = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.index + 1)).flatten();
    Ok(Json(AuditPageDto { items: entries.iter().map(AuditEntryDto::from).collect(), next_start }))
}

/// The latest signed checkpoint (404 before the first).
pub(crate) async fn latest(state: &AppState) -> Result<StoredCheckpoint, ApiError> {
    state
        .store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("the audit log has no checkpoint yet".into()))
}

/// The latest signed checkpoint (C2SP `tlog-checkpoint` in a `signed-note`).
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, content_type = "text/plain", body = String), (status = 403)))]
pub async fn checkpoint(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let checkpoint = latest(&state).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], checkpoint.note))
}

/// The note verifier key of the audit signing key.
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit",
    responses((status = 200, content_type = "text/plain", body = String), (status = 403)))]
pub async fn public_key(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", verifier_key(&state).await?)))
}

/// The note verifier key of the audit signing key, `<name>+<key id>+<key>`.
pub(crate) async fn verifier_key(state: &AppState) -> Result<String, ApiError> {
    let installation = state
        .store
        .find_installation()
        .await?
        .ok_or_else(|| ApiError::NotFound("gatehouse is not initialized".into()))?;
    Ok(installation.audit_public_key)
}

/// Runs a proof algorithm over stored nodes: one read for every node it
/// needs, then the computation.
async fn with_nodes<T>(
    state: &AppState,
    algorithm: impl Fn(&mut dyn FnMut(NodeId) -> Hash) -> T,
) -> Result<T, ApiError> {
    let ids = merkle::nodes_needed(&algorithm);
    let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
    let hashes = state.store.find_tree_nodes(&keys).await?;
    let nodes: HashMap<NodeId, Hash> = ids.into_iter().zip(hashes).collect();
    Ok(algorithm(&mut |id| nodes.get(&id).copied().unwrap_or_default()))
}

fn encode_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| STANDARD.encode(h)).collect()
}

/// The inclusion proof of entry `index` in the tree of `tree_size` entries
/// (default: the latest checkpoint's).
#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = InclusionProofDto), (status = 400), (status = 403)))]
pub async fn inclusion_proof(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProofDto>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let latest = latest(&state).await?;
    let size = query.tree_size.unwrap_or(latest.tree_size);
    if size == 0 || size > latest.tree_size {
        return Err(ApiError::BadRequest(format!(
            "tree_size must be between 1 and {}, the latest checkpoint's size (got {size})",
            latest.tree_size
        )));
    }
    if query.index >= size {
        return Err(ApiError::BadRequest(format!("index must be below tree_size {size} (got {})", query.index)));
    }
    let hashes = inclusion_hashes(&state, query.index, size).await?;
    Ok(Json(InclusionProofDto { leaf_index: query.index, tree_size: size, hashes: encode_all(&hashes) }))
}

/// The audit path of entry `index` in the tree of its first `size` entries
/// (`index < size`, `size` at most the latest checkpoint's), leaf side first.
pub(crate) async fn inclusion_hashes(state: &AppState, index: u64, size: u64) -> Result<Vec<Hash>, ApiError> {
    let proof = with_nodes(state, |get| merkle::inclusion_proof(index, size, get)).await?;
    Ok(proof?)
}

/// The consistency proof between the trees of `first` and `second` entries.
#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProofDto), (status = 400), (status = 403)))]
pub async fn consistency_proof(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProofDto>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let latest = latest(&state).await?;
    let (first, second) = (query.first, query.second.unwrap_or(latest.tree_size));
    if first == 0 || first > second || second > latest.tree_size {
        return Err(ApiError::BadRequest(format!(
            "need 1 <= first <= second <= {}, the latest checkpoint's size (got first {first}, second {second})",
            latest.tree_size
        )));
    }
    let proof = with_nodes(&state, |get| merkle::consistency_proof(first, second, get)).await?;
    let hashes = proof?;
    Ok(Json(ConsistencyProofDto { first, second, hashes: encode_all(&hashes) }))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(entries))
        .routes(utoipa_axum::routes!(checkpoint))
        .routes(utoipa_axum::routes!(public_key))
        .routes(utoipa_axum::routes!(inclusion_proof))
        .routes(utoipa_axum::routes!(consistency_proof))
}
