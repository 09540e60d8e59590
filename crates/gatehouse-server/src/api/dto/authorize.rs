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
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeResponse {
    /// `allow` or `deny`.
    pub decision: String,
    pub reasons: Vec<String>,
    /// The decision's entry in the audit log.
    pub audit_index: u64,
}
