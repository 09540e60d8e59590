//! Grants: a role given to an identity over a scope, optionally until an
//! expiry instant. Scopes name a resource (`project:acme/web`,
//! `pipeline:acme/web:deploy`, `environment:acme/web:production`) or `*`;
//! a project scope covers the project's pipelines and environments.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::{Identity, IdentityStatus};
use crate::ids::{GrantId, IdentityId};
use crate::validity::{is_expired_at, is_in_future};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    #[error(
        "`{0}` is not a valid scope (expected `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`)"
    )]
    InvalidScope(String),
    #[error("`{0}` is not a valid resource (expected TYPE:ID, e.g. `project:acme/web`)")]
    InvalidResource(String),
    /// A well-formed role name that the policy does not define.
    #[error("unknown role `{0}` (see GET /api/v1/roles)")]
    UndefinedRole(String),
    #[error("expires_at must be an RFC 3339 time, not `{0}`")]
    InvalidExpiry(String),
    #[error("expires_at `{0}` is not in the future")]
    ExpiryNotInFuture(String),
}

/// A role is granted (or mapped to a directory group) only if the policy
/// defines it; `is_defined` asks the policy in force.
pub fn check_role_defined(role: &Role, is_defined: impl FnOnce(&str) -> bool) -> Result<(), GrantError> {
    if !is_defined(role.as_str()) {
        return Err(GrantError::UndefinedRole(role.to_string()));
    }
    Ok(())
}

/// A grant's optional expiry as asked for (RFC 3339), which must lie after
/// `now`: a grant is never born expired.
pub fn parse_expiry(raw: Option<&str>, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, GrantError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| GrantError::InvalidExpiry(raw.to_owned()))?;
    if !is_in_future(at, now) {
        return Err(GrantError::ExpiryNotInFuture(raw.to_owned()));
    }
    Ok(Some(at))
}

/// Why an identity may not receive a grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantHolderError {
    #[error("identity `{0}` is deprovisioned")]
    Deprovisioned(IdentityId),
}

/// Who may receive a grant: anyone not deprovisioned. A suspended identity
/// may (its grants count again once it is reactivated); a deprovisioned one
/// is gone for good. (The store re-checks inside its transaction.)
pub fn check_grant_holder(holder: &Identity) -> Result<(), GrantHolderError> {
    if holder.status == IdentityStatus::Deprovisioned {
        return Err(GrantHolderError::Deprovisioned(holder.id));
    }
    Ok(())
}

/// The name of a role: a template in the policy folder (`roles.cedar` holds
/// the built-in ones). Whether a role exists is the policy's to say; this
/// type only checks the name's shape: 1–64 lowercase letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    pub fn admin() -> Self {
        Self("admin".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Role {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid { Ok(Self(s.to_owned())) } else { Err(GrantError::UnknownRole(s.to_owned())) }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What can be acted upon. `Gatehouse` is gatehouse itself: identities,
/// tokens, grants, policy and the audit log. `Owned` is one identity's own
/// record or one of its credentials, inside gatehouse: policies see its
/// owner, so "your own things" is a policy (`owners.cedar`), not code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Gatehouse,
    Project(String),
    /// `(project, pipeline name)`
    Pipeline(String, String),
    /// `(project, environment name)`
    Environment(String, String),
    /// Something of `owner`'s: `id` is the record's id, or `*` for any of
    /// that kind (the access matrix asks so).
    Owned {
        kind: OwnedKind,
        id: String,
        owner: IdentityId,
    },
}

/// What kind of thing an identity owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnedKind {
    /// The identity's own record (and what hangs off it: its second factor,
    /// its SCIM link).
    Identity,
    Token,
    Session,
    SigningKey,
    Grant,
}

impl OwnedKind {
    pub const ALL: [OwnedKind; 5] =
        [OwnedKind::Identity, OwnedKind::Token, OwnedKind::Session, OwnedKind::SigningKey, OwnedKind::Grant];

    /// The name policies and audit records use: `identity`, `token`,
    /// `session`, `signing_key`, `grant`.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnedKind::Identity => "identity",
            OwnedKind::Token => "token",
            OwnedKind::Session => "session",
            OwnedKind::SigningKey => "signing_key",
            OwnedKind::Grant => "grant",
        }
    }
}

impl FromStr for OwnedKind {
    type Err = GrantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OwnedKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| GrantError::InvalidResource(s.to_owned()))
    }
}

impl Resource {
    /// `owner`'s `kind` of thing `id`.
    pub fn owned(kind: OwnedKind, id: impl fmt::Display, owner: IdentityId) -> Self {
        Resource::Owned { kind, id: id.to_string(), owner }
    }

    /// The identity's own record.
    pub fn own_record(owner: IdentityId) -> Self {
        Resource::owned(OwnedKind::Identity, owner, owner)
    }

    /// The identity that owns this resource, if an identity does.
    pub fn owner(&self) -> Option<IdentityId> {
        match self {
            Resource::Owned { owner, .. } => Some(*owner),
            _ => None,
        }
    }

    pub fn project(&self) -> Option<&str> {
        match self {
            Resource::Gatehouse | Resource::Owned { .. } => None,
            Resource::Project(project) | Resource::Pipeline(project, _) | Resource::Environment(project, _) => {
                Some(project)
            }
        }
    }

    /// Parses `TYPE:ID` where TYPE is `project`, `pipeline` or `environment`.
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        let invalid = || GrantError::InvalidResource(raw.to_owned());
        // What `Display` writes for gatehouse itself (a request for an
        // action on it is stored so) reads back.
        if raw.eq_ignore_ascii_case("gatehouse") {
            return Ok(Resource::Gatehouse);
        }
        let (kind, id) = raw.split_once(':').ok_or_else(invalid)?;
        Self::from_parts(&kind.to_ascii_lowercase(), id).ok_or_else(invalid)
    }

    pub fn from_parts(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "gatehouse" if id.is_empty() || id == "gatehouse" => Some(Resource::Gatehouse),
            "project" if is_project_path(id) => Some(Resource::Project(id.to_owned())),
            "pipeline" | "environment" => {
                let (project, name) = id.rsplit_once(':')?;
                if !is_project_path(project) || !is_simple_name(name) {
                    return None;
                }
                Some(if kind == "pipeline" {
                    Resource::Pipeline(project.to_owned(), name.to_owned())
                } else {
                    Resource::Environment(project.to_owned(), name.to_owned())
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Gatehouse => f.write_str("gatehouse"),
            Resource::Project(project) => write!(f, "project:{project}"),
            Resource::Pipeline(project, name) => write!(f, "pipeline:{project}:{name}"),
            Resource::Environment(project, name) => write!(f, "environment:{project}:{name}"),
            Resource::Owned { kind, id, .. } => write!(f, "{}:{id}", kind.as_str()),
        }
    }
}

/// `acme/web`, `group/subgroup/repo`: path segments of letters, digits, `.`,
/// `-` and `_`.
fn is_project_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 255
        && path.split('/').all(|segment| is_simple_name(segment) && segment != "." && segment != "..")
}

fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Everything,
    Resource(Resource),
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, GrantError> {
        if raw == "*" {
            return Ok(Scope::Everything);
        }
        match Resource::parse(raw) {
            Ok(Resource::Gatehouse) | Err(_) => Err(GrantError::InvalidScope(raw.to_owned())),
            Ok(resource) => Ok(Scope::Resource(resource)),
        }
    }

    /// Whether this scope reaches `resource`: `*` reaches everything, a
    /// project reaches itself and what is inside it, anything else only
    /// itself.
    pub fn covers(&self, resource: &Resource) -> bool {
        match (self, resource) {
            (Scope::Everything, _) => true,
            (Scope::Resource(Resource::Project(scope)), target) => target.project() == Some(scope),
            (Scope::Resource(scope), target) => scope == target,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Everything => f.write_str("*"),
            Scope::Resource(resource) => resource.fmt(f),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewGrant {
    pub id: GrantId,
    pub identity_id: IdentityId,
    pub role: Role,
    pub scope: Scope,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub created_by: Option<IdentityId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub identity_id: IdentityId,
    pub role: Role,
    pub scope: Scope,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Option<IdentityId>,
}

impl Grant {
    /// A grant counts from creation until revocation or its expiry instant,
    /// whichever comes first; no sweeper is needed for expiry to bite.
    pub fn is_in_force_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| !is_expired_at(expiry, now))
    }
}

#[cfg(test)]
mod tests;
