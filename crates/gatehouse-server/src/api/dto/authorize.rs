//! The JSON shapes of `/api/v1/authorize`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ResourceRef;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The identity asked about; default the caller. Asking about another
    /// identity needs `identity.view`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    pub action: String,
    pub resource: ResourceRef,
    /// Extra facts for policies, e.g. `{"author": "<id or email>"}`, or
    /// the change decided about: `{"commit": "<sha>"}` or `{"commits":
    /// ["<sha>", …]}` (40 or 64 hex digits each, at most 1000), for which
    /// gatehouse adds `authors` (the identities it verified signed them)
    /// and `author_known`; a caller that sets either is refused (422).
    #[schema(value_type = Object)]
    pub context: Option<serde_json::Value>,
    /// An approved request (`/api/v1/requests`) for this principal, action
    /// and resource, used by this decision when an approval rule covers
    /// it; a deployment approval is used once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeResponse {
    /// `allow` or `deny`.
    pub decision: String,
    pub reasons: Vec<String>,
    /// The decision's entry in the audit log.
    pub audit_index: u64,
    /// An approval rule covers this action on this resource: ask for it
    /// (`POST /api/v1/requests`) and name the approved request here.
    #[serde(default)]
    pub request_required: bool,
    /// The approval rule that covers it, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What will stop this principal soon: for an integration's identity,
    /// each required evidence item of its vendor within its due-soon window
    /// ("SOC 2 report for Acme Scan expires 2026-10-31").
    #[serde(default)]
    pub warnings: Vec<String>,
}
