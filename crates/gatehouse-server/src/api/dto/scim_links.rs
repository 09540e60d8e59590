//! The JSON shapes of `/api/v1/identities/{id}/scim`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimLinkRequest {
    /// The SCIM userName to link the person under; default their email.
    pub user_name: Option<String>,
}

/// How the SCIM provisioner holds an identity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScimLinkDto {
    pub identity_id: String,
    pub user_name: String,
    /// `created` (by the provisioner), `linked` (by an admin) or `adopted`
    /// (by email, before 0015: SCIM changes nothing until an admin links it).
    pub origin: String,
    /// The admin who linked it.
    pub linked_by: Option<String>,
}
