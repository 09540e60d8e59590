//! The JSON shapes of `/api/v1/group-mappings`.

use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::scim::GroupMapping;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupMappingRequest {
    /// The IdP group's displayName (case-insensitive).
    pub group: String,
    pub role: String,
    pub scope: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupMappingDto {
    pub id: String,
    pub group: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&GroupMapping> for GroupMappingDto {
    fn from(m: &GroupMapping) -> Self {
        Self {
            id: m.id.to_string(),
            group: m.group.clone(),
            role: m.role.as_str().to_owned(),
            scope: m.scope.to_string(),
            created_at: format_rfc3339(m.created_at),
            created_by: m.created_by.map(|id| id.to_string()),
        }
    }
}
