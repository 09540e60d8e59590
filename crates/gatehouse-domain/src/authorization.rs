//! The actions policies speak of. What each role allows, and every
//! decision, is the policy crate's (Cedar). [`Authorized`] is the proof
//! that a caller passed a check: the audit record a store write needs is
//! made from it (see [`crate::audit::AuditRecord::authorized`]).

use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

use crate::audit::{Actor, RequestOrigin};

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

/// Why a caller may do what it is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A policy decision allowed this action (acting on one's own things
    /// too: the owner rules are policies).
    Policy(Action),
    /// The caller acts on its own authentication: its second factor, its
    /// session (enrolling, verifying, rotating, logging out).
    OwnAuthentication,
    /// An approval rule lets the caller do this, whatever its grants: ask
    /// under the rule (the rule, not a grant, decides what follows),
    /// cancel its own request, review a break-glass as the rule's reviewer.
    ApprovalRule,
    /// A review campaign names the caller reviewer of the item it decides:
    /// the campaign (made under `grant.manage` or the policy folder), not
    /// the caller's grants, is what lets the result be applied.
    ReviewAssignment,
}

/// Proof that a caller was authorized: the actor and request origin the
/// audit record of the write will carry. Only the server's
/// `Caller::authorize*` makes one (clippy.toml forbids
/// [`Authorized::unchecked_new`] everywhere else), so a handler that skips
/// the check has no record to give the store.
///
/// Neither can be forged by hand: its fields are private,
///
/// ```compile_fail
/// use gatehouse_domain::audit::{Actor, RequestOrigin};
/// use gatehouse_domain::authorization::{Action, Authorized, Basis};
/// let forged = Authorized { actor: Actor::System, origin: RequestOrigin::default(), basis: Basis::Policy(Action::GrantManage) };
/// ```
///
/// and a record of a refusal or decision (an [`crate::audit::Observation`])
/// is not a record a write takes:
///
/// ```compile_fail
/// use gatehouse_domain::audit::{Actor, AuditAction, AuditRecord, Observation};
/// let observed = Observation::new(time::OffsetDateTime::UNIX_EPOCH, Actor::Anonymous, AuditAction::TokenCreate, "token:t");
/// let record: AuditRecord = observed;
/// ```
#[must_use = "a write needs the audit record made from this authorization"]
#[derive(Debug)]
pub struct Authorized {
    actor: Actor,
    origin: RequestOrigin,
    basis: Basis,
    mfa_fresh_until: Option<OffsetDateTime>,
}

impl Authorized {
    /// The one way to make an authorization; the caller must have decided.
    /// `mfa_fresh_until`: until when the actor's credential counts as
    /// having proven a second factor (none if it never did).
    pub fn unchecked_new(
        actor: Actor,
        origin: RequestOrigin,
        basis: Basis,
        mfa_fresh_until: Option<OffsetDateTime>,
    ) -> Self {
        Self { actor, origin, basis, mfa_fresh_until }
    }

    /// Whether the actor's second factor was fresh at `at`: what the audit
    /// entry's `mfa` says.
    pub fn mfa_fresh_at(&self, at: OffsetDateTime) -> bool {
        self.mfa_fresh_until.is_some_and(|until| at <= until)
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn origin(&self) -> &RequestOrigin {
        &self.origin
    }

    pub fn basis(&self) -> Basis {
        self.basis
    }
}
