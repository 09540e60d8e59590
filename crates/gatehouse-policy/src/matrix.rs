//! The access matrix: every identity × action × resource that is allowed,
//! over a given set of resources, with what allows it. It is computed by
//! the same decision code that enforces, so the documentation cannot drift
//! from enforcement. It lists what each identity may do with a fresh second
//! factor (step-up asks for one on privileged actions), and what it may do
//! with its own things.

use std::collections::BTreeSet;

use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource, Scope};
use gatehouse_domain::identity::Identity;
use time::OffsetDateTime;

use crate::decision::{DecisionInput, Reason};
use crate::policy_set::Policies;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    pub identity: Identity,
    pub action: Action,
    pub resource: Resource,
    /// What allows it: grants (with their roles) and policies.
    pub allowed_by: Vec<Reason>,
}

/// The resources a matrix covers: gatehouse itself, every resource a grant
/// in force names, and `registered`.
pub fn known_resources(grants: &[Grant], registered: &[Resource], now: OffsetDateTime) -> Vec<Resource> {
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut resources = Vec::new();
    let mut add = |resource: Resource| {
        if known.insert(resource.to_string()) {
            resources.push(resource);
        }
    };
    add(Resource::Gatehouse);
    for grant in grants.iter().filter(|g| g.is_in_force_at(now)) {
        if let Scope::Resource(resource) = &grant.scope {
            if let Some(project) = resource.project() {
                add(Resource::Project(project.to_owned()));
            }
            add(resource.clone());
        }
    }
    for resource in registered {
        if let Some(project) = resource.project() {
            add(Resource::Project(project.to_owned()));
        }
        add(resource.clone());
    }
    resources.sort_by_key(ToString::to_string);
    resources
}

/// Whether `action` can apply to `resource`'s kind at all (per the schema
/// gatehouse ships): a pipeline cannot be approved, a project not executed.
fn applies(action: Action, resource: &Resource) -> bool {
    use Action::*;
    match resource {
        Resource::Gatehouse => {
            matches!(
                action,
                AuditRead
                    | IdentityView
                    | IdentityManage
                    | IdentityProvision
                    | GrantManage
                    | AccessApprove
                    | VendorManage
                    | PolicyManage
            )
        }
        Resource::Project(_) => matches!(action, PipelineView | PipelineTrigger | PipelineConfigEdit | SourcePush),
        Resource::Pipeline(..) => matches!(action, PipelineView | PipelineTrigger | PipelineConfigEdit),
        Resource::Environment(..) => matches!(action, DeploymentApprove | DeploymentExecute),
        Resource::Owned { .. } => matches!(action, IdentityView | IdentityManage),
    }
}

/// Every allowed (identity, action, resource) among `resources`, and among
/// each identity's own things (`token:*` for any token of theirs, …): the
/// owner rules of `owners.cedar` show there.
pub fn matrix(
    policies: &Policies,
    identities: &[(Identity, Vec<Grant>)],
    resources: &[Resource],
    now: OffsetDateTime,
) -> Vec<MatrixRow> {
    let mut rows = Vec::new();
    for (identity, grants) in identities {
        let own = OwnedKind::ALL.map(|kind| match kind {
            OwnedKind::Identity => Resource::own_record(identity.id),
            _ => Resource::owned(kind, "*", identity.id),
        });
        for resource in resources.iter().chain(&own) {
            for action in Action::ALL.into_iter().filter(|action| applies(*action, resource)) {
                let decision = policies.decide(&DecisionInput {
                    principal: identity,
                    grants,
                    action,
                    resource,
                    now,
                    auth_method: "token",
                    mfa_fresh: true,
                    step_up: true,
                    source_ip: None,
                    principal_is_caller: true,
                    caller_context: None,
                });
                if let Ok(decision) = decision
                    && decision.is_allowed()
                {
                    rows.push(MatrixRow {
                        identity: identity.clone(),
                        action,
                        resource: resource.clone(),
                        allowed_by: decision.reasons,
                    });
                }
            }
        }
    }
    rows
}
