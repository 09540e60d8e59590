//! The actions policies speak of. What each role allows, and every
//! decision, is the policy crate's (Cedar).

use std::fmt;
use std::str::FromStr;

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
    IdentityProvision,
    GrantManage,
    AccessApprove,
    VendorManage,
    PolicyManage,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::PipelineView,
        Action::PipelineTrigger,
        Action::PipelineConfigEdit,
        Action::SourcePush,
        Action::DeploymentApprove,
        Action::DeploymentExecute,
        Action::AuditRead,
        Action::IdentityView,
        Action::IdentityManage,
        Action::IdentityProvision,
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
            Action::IdentityProvision => "identity.provision",
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
