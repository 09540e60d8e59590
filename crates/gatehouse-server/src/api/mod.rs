//! The `/api/v1` handlers, one module per resource.

pub mod approvals;
pub mod audit;
pub mod authorize;
pub mod break_glass;
pub mod dto;
pub mod evidence;
pub mod form_data;
pub mod grants;
pub mod group_mappings;
pub mod health;
pub mod identities;
pub mod integrations;
pub mod mfa;
pub mod passkeys;
pub mod policy;
pub mod requests;
pub mod reviews;
pub mod scim_links;
pub mod sessions;
pub mod signing_keys;
pub mod tokens;
pub mod trust_bindings;
pub mod vendors;
pub mod verify;
pub mod whoami;
pub mod workload;

use gatehouse_domain::store::PageRequest;

use crate::problem::ApiError;
use crate::state::AppState;

/// A feature's routes with their OpenAPI entries; each module's `routes()`
/// returns one, and [`routes`] merges them.
pub type Routes = utoipa_axum::router::OpenApiRouter<AppState>;

/// Every documented `/api/v1` route and the health probes.
pub fn routes() -> Routes {
    Routes::default()
        .merge(health::routes())
        .merge(whoami::routes())
        .merge(identities::routes())
        .merge(integrations::routes())
        .merge(tokens::routes())
        .merge(grants::routes())
        .merge(group_mappings::routes())
        .merge(authorize::routes())
        .merge(workload::routes())
        .merge(signing_keys::routes())
        .merge(mfa::routes())
        .merge(passkeys::routes())
        .merge(sessions::routes())
        .merge(scim_links::routes())
        .merge(verify::routes())
        .merge(trust_bindings::routes())
        .merge(policy::routes())
        .merge(requests::routes())
        .merge(break_glass::routes())
        .merge(approvals::routes())
        .merge(audit::routes())
        .merge(vendors::routes())
        .merge(reviews::routes())
        .merge(evidence::routes())
}

/// Validates `limit` and `cursor` query parameters into a page request.
pub(crate) fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {} (got {limit})",
            PageRequest::MAX_LIMIT
        )));
    }
    if let Some(cursor) = &cursor {
        // Cursors are ids; anything else was not made by us.
        if uuid_like(cursor).is_none() {
            return Err(ApiError::BadRequest(format!("`{cursor}` is not a valid cursor")));
        }
    }
    Ok(PageRequest { after: cursor, limit })
}

fn uuid_like(raw: &str) -> Option<gatehouse_domain::ids::IdentityId> {
    raw.parse().ok()
}
