//! The JSON shapes of `/api/v1/resources` and `/api/v1/policy/matrix`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// `Project`, `Pipeline`, `Environment` or `Gatehouse` (any case). In
    /// `/authorize` also an identity's own `Identity`, `Token`, `Session` or
    /// `Grant`; the matrix lists its identity's own `Identity`, `Token`,
    /// `Session`, `SigningKey` and `Grant` (id `*`: any of them).
    #[serde(rename = "type")]
    pub kind: String,
    /// `org/repo` for a project, `org/repo:name` for a pipeline or
    /// environment, the record's id for an identity's own thing.
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MatrixRowDto {
    pub identity_id: String,
    pub identity_name: String,
    pub action: String,
    pub resource: ResourceRef,
    /// The grants that allow it.
    pub grants: Vec<String>,
    /// Their roles.
    pub roles: Vec<String>,
    /// Static policies that allow it.
    pub policies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MatrixDto {
    /// The policy set the matrix was computed from.
    pub policy_hash: String,
    /// The resources it covers.
    pub resources: Vec<ResourceRef>,
    pub rows: Vec<MatrixRowDto>,
}
