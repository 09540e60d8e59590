//! Who may do what. Deny is the default: an action is allowed only when the
//! identity is active and a grant in force gives a role that includes the
//! action over a scope that covers the resource.
//!
//! The role table here is the built-in default; the policy issue moves these
//! definitions into Cedar policies without changing this module's contract:
//! a [`Permit`] exists only when a decision allowed the action.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::grant::{Grant, Resource, Role};
use crate::identity::Identity;
use crate::ids::GrantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    PipelineView,
    PipelineTrigger,
    PipelineConfigEdit,
    SourcePush,
    DeploymentApprove,
    DeploymentExecute,
    AuditRead,
    IdentityView,
    IdentityManage,
    GrantManage,
    AccessApprove,
    VendorManage,
    PolicyManage,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::PipelineView,
        Action::PipelineTrigger,
        Action::PipelineConfigEdit,
        Action::SourcePush,
        Action::DeploymentApprove,
        Action::DeploymentExecute,
        Action::AuditRead,
        Action::IdentityView,
        Action::IdentityManage,
        Action::GrantManage,
        Action::AccessApprove,
        Action::VendorManage,
        Action::PolicyManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::PipelineView => "pipeline.view",
            Action::PipelineTrigger => "pipeline.trigger",
            Action::PipelineConfigEdit => "pipeline.config.edit",
            Action::SourcePush => "source.push",
            Action::DeploymentApprove => "deployment.approve",
            Action::DeploymentExecute => "deployment.execute",
            Action::AuditRead => "audit.read",
            Action::IdentityView => "identity.view",
            Action::IdentityManage => "identity.manage",
            Action::GrantManage => "grant.manage",
            Action::AccessApprove => "access.approve",
            Action::VendorManage => "vendor.manage",
            Action::PolicyManage => "policy.manage",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{0}`")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|action| action.as_str() == s).ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The actions each built-in role allows, least privilege first: a developer
/// cannot edit pipeline configuration or approve deployments, a deployer (for
/// service identities) only executes deployments.
pub fn actions_of(role: Role) -> &'static [Action] {
    use Action::*;
    match role {
        Role::Viewer => &[PipelineView],
        Role::Developer => &[PipelineView, PipelineTrigger, SourcePush],
        Role::Maintainer => &[PipelineView, PipelineTrigger, SourcePush, PipelineConfigEdit],
        Role::ReleaseApprover => &[PipelineView, DeploymentApprove],
        Role::Deployer => &[PipelineView, DeploymentExecute],
        Role::Auditor => &[PipelineView, AuditRead, IdentityView],
        Role::ScimProvisioner => &[IdentityView],
        Role::Admin => &Action::ALL,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The grant whose role and scope allow the action.
    AllowedByGrant {
        grant: GrantId,
        role: Role,
    },
    IdentityNotActive,
    NoGrantAllows,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::AllowedByGrant { grant, role } => {
                write!(f, "allowed by grant {grant} (role {role})")
            }
            Reason::IdentityNotActive => f.write_str("the identity is not active"),
            Reason::NoGrantAllows => f.write_str("no grant in force allows this action on this resource"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub resource: Resource,
    pub reasons: Vec<Reason>,
    allowed: bool,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The proof that the action was allowed, or the decision back when not.
    pub fn permit(self) -> Result<Permit, Decision> {
        if self.allowed { Ok(Permit { action: self.action, resource: self.resource }) } else { Err(self) }
    }
}

/// Evidence that `action` on `resource` was allowed. Only [`decide`] makes
/// one, so a handler that holds a `Permit` has passed a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    action: Action,
    resource: Resource,
}

impl Permit {
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn resource(&self) -> &Resource {
        &self.resource
    }
}

/// Decides whether `identity`, holding `grants`, may perform `action` on
/// `resource` at `now`.
pub fn decide(
    identity: &Identity,
    grants: &[Grant],
    action: Action,
    resource: &Resource,
    now: OffsetDateTime,
) -> Decision {
    let decision = |allowed, reasons| Decision { action, resource: resource.clone(), reasons, allowed };
    if !identity.status.is_active() {
        return decision(false, vec![Reason::IdentityNotActive]);
    }
    let allowing: Vec<Reason> = grants
        .iter()
        .filter(|grant| grant.identity_id == identity.id && grant.is_in_force_at(now))
        .filter(|grant| actions_of(grant.role).contains(&action) && grant.scope.covers(resource))
        .map(|grant| Reason::AllowedByGrant { grant: grant.id, role: grant.role })
        .collect();
    if allowing.is_empty() { decision(false, vec![Reason::NoGrantAllows]) } else { decision(true, allowing) }
}

#[cfg(test)]
mod tests;
