//! The audit vocabulary: every `action` an audit entry can carry. Each is
//! written exactly as the dotted string the log has always held (the Merkle
//! leaves hash these strings, and SIEM rules filter on them), and
//! `docs/audit-actions.md` explains each one; a test keeps the two equal.

use std::fmt;

use crate::authorization::Action;

macro_rules! audit_actions {
    ($($variant:ident => $text:literal,)+) => {
        /// What an audit entry records. The policy actions (`identity.manage`
        /// and the rest) appear when a decision about them is refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($variant,)+
        }

        impl AuditAction {
            /// Every action, in the order `docs/audit-actions.md` lists them.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            /// The dotted string the log holds.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $text,)+
                }
            }
        }
    };
}

audit_actions! {
    // Installation and policy.
    GatehouseInit => "gatehouse.init",
    PolicyReload => "policy.reload",
    ResourceRegister => "resource.register",
    // Authentication.
    AuthToken => "auth.token",
    AuthSession => "auth.session",
    AuthWorkload => "auth.workload",
    AuthFailures => "auth.failures",
    AuthLogin => "auth.login",
    AuthLogout => "auth.logout",
    AuthSessionRotate => "auth.session.rotate",
    SessionRevoke => "session.revoke",
    // Second factors.
    MfaEnroll => "mfa.enroll",
    MfaConfirm => "mfa.confirm",
    MfaVerify => "mfa.verify",
    MfaReset => "mfa.reset",
    MfaPasskeyRegister => "mfa.passkey.register",
    MfaPasskeyRename => "mfa.passkey.rename",
    MfaPasskeyRemove => "mfa.passkey.remove",
    // Identities.
    IdentityCreate => "identity.create",
    IdentitySuspend => "identity.suspend",
    IdentityReactivate => "identity.reactivate",
    IdentityDeprovision => "identity.deprovision",
    IdentityScimLink => "identity.scim.link",
    IdentityScimUnlink => "identity.scim.unlink",
    // Tokens, grants, trust bindings, group mappings.
    TokenCreate => "token.create",
    TokenRevoke => "token.revoke",
    GrantCreate => "grant.create",
    GrantRevoke => "grant.revoke",
    TrustBindingCreate => "trust_binding.create",
    TrustBindingDelete => "trust_binding.delete",
    GroupMappingCreate => "group_mapping.create",
    GroupMappingDelete => "group_mapping.delete",
    // The approved channel: requests, votes, break glass, notifications.
    RequestCreate => "request.create",
    RequestVote => "request.vote",
    RequestDecide => "request.decide",
    RequestCancel => "request.cancel",
    RequestExpire => "request.expire",
    RequestSupersede => "request.supersede",
    RequestConsume => "request.consume",
    RequestRevoke => "request.revoke",
    BreakglassActivate => "breakglass.activate",
    BreakglassReview => "breakglass.review",
    BreakglassOverdue => "breakglass.overdue",
    NotifySend => "notify.send",
    NotifyFail => "notify.fail",
    ApprovalsCheck => "approvals.check",
    // Vendors, their evidence and integrations.
    VendorCreate => "vendor.create",
    VendorUpdate => "vendor.update",
    VendorOffboard => "vendor.offboard",
    EvidenceAdd => "evidence.add",
    EvidenceDueSoon => "evidence.due_soon",
    EvidenceExpire => "evidence.expire",
    IntegrationRegister => "integration.register",
    IntegrationActivate => "integration.activate",
    IntegrationCheck => "integration.check",
    IntegrationLapse => "integration.lapse",
    IntegrationRestore => "integration.restore",
    IntegrationSuspend => "integration.suspend",
    IntegrationReactivate => "integration.reactivate",
    ExceptionRequest => "exception.request",
    ExceptionGrant => "exception.grant",
    ExceptionExpire => "exception.expire",
    // Access reviews.
    ReviewOpen => "review.open",
    ReviewSkip => "review.skip",
    ReviewDecide => "review.decide",
    ReviewDefault => "review.default",
    ReviewClose => "review.close",
    ReviewRemind => "review.remind",
    ReviewAlert => "review.alert",
    // SCIM provisioning.
    ScimUserCreate => "scim.user.create",
    ScimUserReplace => "scim.user.replace",
    ScimUserPatch => "scim.user.patch",
    ScimUserDelete => "scim.user.delete",
    ScimGroupCreate => "scim.group.create",
    ScimGroupUpdate => "scim.group.update",
    ScimGroupDelete => "scim.group.delete",
    ScimGroupMember => "scim.group.member",
    // Signing keys and verification.
    SigningKeyAdd => "signing_key.add",
    SigningKeyRevoke => "signing_key.revoke",
    SigningKeyRemove => "signing_key.remove",
    CommitVerify => "commit.verify",
    PushVerify => "push.verify",
    ArtifactVerify => "artifact.verify",
    // Decisions and integrations.
    Authorize => "authorize",
    WebhookGithub => "webhook.github",
    WebhookGitlab => "webhook.gitlab",
    PipelineConfigChanged => "pipeline.config.changed",
    DeploymentCallback => "deployment.callback",
    // The policy actions, recorded when a decision about them is refused
    // (and `deployment.execute` for a deployment a webhook decided).
    PipelineView => "pipeline.view",
    PipelineTrigger => "pipeline.trigger",
    PipelineConfigEdit => "pipeline.config.edit",
    SourcePush => "source.push",
    DeploymentApprove => "deployment.approve",
    DeploymentExecute => "deployment.execute",
    AuditRead => "audit.read",
    IdentityView => "identity.view",
    IdentityManage => "identity.manage",
    IdentityProvision => "identity.provision",
    GrantManage => "grant.manage",
    AccessApprove => "access.approve",
    VendorManage => "vendor.manage",
    PolicyManage => "policy.manage",
}

impl From<Action> for AuditAction {
    fn from(action: Action) -> Self {
        match action {
            Action::PipelineView => AuditAction::PipelineView,
            Action::PipelineTrigger => AuditAction::PipelineTrigger,
            Action::PipelineConfigEdit => AuditAction::PipelineConfigEdit,
            Action::SourcePush => AuditAction::SourcePush,
            Action::DeploymentApprove => AuditAction::DeploymentApprove,
            Action::DeploymentExecute => AuditAction::DeploymentExecute,
            Action::AuditRead => AuditAction::AuditRead,
            Action::IdentityView => AuditAction::IdentityView,
            Action::IdentityManage => AuditAction::IdentityManage,
            Action::IdentityProvision => AuditAction::IdentityProvision,
            Action::GrantManage => AuditAction::GrantManage,
            Action::AccessApprove => AuditAction::AccessApprove,
            Action::VendorManage => AuditAction::VendorManage,
            Action::PolicyManage => AuditAction::PolicyManage,
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for AuditAction {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AuditAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
