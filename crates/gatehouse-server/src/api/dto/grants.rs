//! The JSON shapes of `/api/v1/grants`.

use gatehouse_domain::grant::Grant;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::instant;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantDto {
    pub id: String,
    pub identity_id: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_by: Option<String>,
}

impl From<&Grant> for GrantDto {
    fn from(grant: &Grant) -> Self {
        Self {
            id: grant.id.to_string(),
            identity_id: grant.identity_id.to_string(),
            role: grant.role.as_str().to_owned(),
            scope: grant.scope.to_string(),
            created_at: instant(grant.created_at),
            expires_at: grant.expires_at.map(instant),
            revoked_at: grant.revoked_at.map(instant),
            created_by: grant.created_by.map(|id| id.to_string()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub identity_id: String,
    /// A role the policy folder defines (GET /api/v1/roles).
    pub role: String,
    /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
    pub scope: String,
    /// RFC 3339; the grant stops counting at this instant.
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantListQuery {
    /// Only the grants of this identity.
    pub identity_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}
