//! The JSON shapes of `/api/v1/resources` and `/api/v1/policy/matrix`.

use gatehouse_domain::grant::{OwnedKind, Resource};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

impl From<&Resource> for ResourceRef {
    fn from(resource: &Resource) -> Self {
        let (kind, id) = match resource {
            Resource::Gatehouse => ("Gatehouse", "gatehouse".to_owned()),
            Resource::Project(project) => ("Project", project.clone()),
            Resource::Pipeline(project, name) => ("Pipeline", format!("{project}:{name}")),
            Resource::Environment(project, name) => ("Environment", format!("{project}:{name}")),
            Resource::Owned { kind, id, .. } => (owned_type(*kind), id.clone()),
        };
        ResourceRef { kind: kind.to_owned(), id }
    }
}

/// The API's type name of an identity's own thing (its owner is the row's
/// identity).
fn owned_type(kind: OwnedKind) -> &'static str {
    match kind {
        OwnedKind::Identity => "Identity",
        OwnedKind::Token => "Token",
        OwnedKind::Session => "Session",
        OwnedKind::SigningKey => "SigningKey",
        OwnedKind::Grant => "Grant",
    }
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
