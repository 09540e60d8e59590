//! The JSON shapes of `/api/v1/identities`.

use gatehouse_domain::identity::Identity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instant;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityDto {
    pub id: String,
    /// `human` or `service`.
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    /// `active`, `suspended` or `deprovisioned`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Identity> for IdentityDto {
    fn from(identity: &Identity) -> Self {
        Self {
            id: identity.id.to_string(),
            kind: identity.kind.as_str().to_owned(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            status: identity.status.as_str().to_owned(),
            created_at: instant(identity.created_at),
            updated_at: instant(identity.updated_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityRequest {
    /// `human` or `service`.
    pub kind: String,
    pub name: String,
    /// Required for humans, refused for services.
    pub email: Option<String>,
}
