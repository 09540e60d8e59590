//! SCIM 2.0 at `/scim/v2`, for the company's identity provider: people
//! are provisioned, changed and deprovisioned by the directory, and a
//! deactivated person loses every token and grant in the same transaction.
//! Authenticated by the API token of an identity allowed
//! `identity.provision` (the `scim-provisioner` role). Bodies are
//! `application/scim+json`; errors are SCIM error bodies.
//!
//! The provisioner changes only the people it created or an admin linked
//! to it (`/api/v1/identities/{id}/scim`), and none holding `admin` unless
//! `[scim] manage_admins` is on: `guard` asks the domain's rules before
//! every change, and audits a refusal.

mod discovery;
mod groups;
mod search;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::authorization::{Action, Authorized};
use gatehouse_domain::grant::Resource;
use gatehouse_domain::scim::control::{Managed, check_change, holds_admin};
use gatehouse_domain::scim::filter::{Filter, parse_filter};
use gatehouse_domain::scim::search::SearchRequest;
use gatehouse_domain::scim::{LIST_SCHEMA, ScimError, ScimUser};
use gatehouse_domain::store::StoreError;
use serde_json::Value;

use crate::auth::Caller;
use crate::extract::ApiBytes;
use crate::problem::ApiError;
use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Where SCIM is served.
pub const PREFIX: &str = "/scim/v2";

/// The SCIM routes, below [`PREFIX`]. RFC 7644 and the discovery endpoints
/// describe them, so the OpenAPI document does not.
pub fn routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/ServiceProviderConfig", discovery::service_provider_config),
        undocumented(Method::GET, "/ResourceTypes", discovery::resource_types),
        undocumented(Method::GET, "/ResourceTypes/{id}", discovery::resource_type),
        undocumented(Method::GET, "/Schemas", discovery::schemas),
        undocumented(Method::GET, "/Schemas/{id}", discovery::schema),
        undocumented(Method::POST, "/.search", search::root),
        undocumented(Method::GET, "/Users", users::list),
        undocumented(Method::POST, "/Users", users::create),
        undocumented(Method::POST, "/Users/.search", search::users),
        undocumented(Method::GET, "/Users/{id}", users::show),
        undocumented(Method::PUT, "/Users/{id}", users::replace),
        undocumented(Method::PATCH, "/Users/{id}", users::patch),
        undocumented(Method::DELETE, "/Users/{id}", users::delete),
        undocumented(Method::GET, "/Groups", groups::list),
        undocumented(Method::POST, "/Groups", groups::create),
        undocumented(Method::POST, "/Groups/.search", search::groups),
        undocumented(Method::GET, "/Groups/{id}", groups::show),
        undocumented(Method::PUT, "/Groups/{id}", groups::replace),
        undocumented(Method::PATCH, "/Groups/{id}", groups::patch),
        undocumented(Method::DELETE, "/Groups/{id}", groups::delete),
    ]
}

/// The SCIM router, to be nested at [`PREFIX`]; an unknown path below it
/// gets a SCIM error body.
pub fn router() -> Router<AppState> {
    crate::routing::into_router(routes())
        .fallback(|| async { Scim::error(ScimError::not_found("no such SCIM endpoint")) })
}

/// A SCIM answer: a status and a JSON body, as `application/scim+json`.
pub struct Scim(pub StatusCode, pub Value);

impl Scim {
    pub fn ok(body: Value) -> Result<Self, Self> {
        Ok(Self(StatusCode::OK, body))
    }

    pub fn error(error: ScimError) -> Self {
        Self(StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST), error.body())
    }
}

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::NO_CONTENT {
            return StatusCode::NO_CONTENT.into_response();
        }
        let mut response = (self.0, serde_json::to_vec(&self.1).unwrap_or_default()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
        response
    }
}

impl From<ApiError> for Scim {
    fn from(error: ApiError) -> Self {
        let status = error.status().as_u16();
        Scim::error(ScimError { status, scim_type: None, detail: error.detail().to_owned() })
    }
}

impl From<StoreError> for Scim {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => Scim::error(ScimError::uniqueness(conflict.to_string())),
            other => Scim::from(ApiError::from(other)),
        }
    }
}

impl From<ScimError> for Scim {
    fn from(error: ScimError) -> Self {
        Scim::error(error)
    }
}

/// The IdP's SCIM client, allowed `identity.provision`, and that
/// authorization (what its writes are recorded with).
pub struct Provisioner(pub Caller, pub Authorized);

impl FromRequestParts<AppState> for Provisioner {
    type Rejection = Scim;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let authorized = caller.authorize(state, Action::IdentityProvision, Resource::Gatehouse).await?;
        Ok(Provisioner(caller, authorized))
    }
}

/// Refuses the change unless SCIM may make it to `user` (it manages them,
/// and they hold no `admin` unless `[scim] manage_admins`). A refusal is
/// audited as denied, with `action` on `user`, and changes nothing else.
pub async fn guard(state: &AppState, caller: &Caller, action: AuditAction, user: &ScimUser) -> Result<(), Scim> {
    let grants = state.store.list_grants_of(user.identity.id).await?;
    let managed =
        Managed { id: user.identity.id, origin: user.origin, holds_admin: holds_admin(&grants, state.clock.now()) };
    if let Err(refusal) = check_change(managed, state.settings.scim.manage_admins) {
        caller
            .observe(state, action, format!("identity:{}", user.identity.id))
            .outcome(Outcome::Denied, refusal.detail.clone())
            .append(&*state.store)
            .await?;
        return Err(Scim::error(refusal));
    }
    Ok(())
}

/// A SCIM request's raw body; beyond `[http] max_body_bytes` it is refused
/// with a SCIM error of status 413, like every other SCIM error.
pub struct ScimBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = Scim;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        Ok(ScimBody(bytes))
    }
}

/// Parses a SCIM request body (either JSON content type).
pub fn json_body(bytes: &[u8]) -> Result<Value, Scim> {
    serde_json::from_slice(bytes)
        .map_err(|e| Scim::error(ScimError::invalid_syntax(format!("the body is not JSON: {e}"))))
}

/// A SCIM list request: `filter`, `startIndex`, `count`, `excludedAttributes`.
#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// The most resources one page holds.
const MAX_COUNT: u64 = 200;

impl From<SearchRequest> for ListQuery {
    fn from(search: SearchRequest) -> Self {
        Self {
            filter: search.filter,
            start_index: search.start_index.map(|n| n.to_string()),
            count: search.count.map(|n| n.to_string()),
            excluded_attributes: (!search.excluded_attributes.is_empty()).then(|| search.excluded_attributes.join(",")),
        }
    }
}

impl ListQuery {
    /// The filter (on one of `attributes`), the 1-based start and the page size.
    pub fn page(&self, attributes: &[&'static str]) -> Result<(Option<Filter>, u64, u64), Scim> {
        let filter = self.filter.as_deref().map(|f| parse_filter(f, attributes)).transpose()?;
        let start = number(self.start_index.as_deref(), "startIndex", 1)?.max(1);
        let count = number(self.count.as_deref(), "count", 100)?.min(MAX_COUNT);
        Ok((filter, start, count))
    }

    /// Whether `attribute` was asked to be left out.
    pub fn excludes(&self, attribute: &str) -> bool {
        self.excluded_attributes
            .as_deref()
            .is_some_and(|list| list.split(',').any(|a| a.trim().eq_ignore_ascii_case(attribute)))
    }
}

fn number(raw: Option<&str>, name: &str, default: u64) -> Result<u64, Scim> {
    raw.map_or(Ok(default), |text| {
        text.trim().parse().map_err(|_| Scim::error(ScimError::invalid_value(format!("{name} must be a number"))))
    })
}

/// A ListResponse of `resources`, page `start` of `total`.
pub fn list_response(total: u64, start: u64, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start,
        "itemsPerPage": resources.len(), "Resources": resources,
    })
}
