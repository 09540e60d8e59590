//! Who is in which pool: a snapshot of the live grants and group
//! memberships of active people, read by the store in one go, and the
//! answers drawn from it (a pool's members for one request, the clauses a
//! voter counts in, the members a rule is checked against at load).

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::authorization::Action;
use crate::grant::{Resource, Scope};
use crate::ids::IdentityId;

use super::requirement::{Directory, Pool, Requirement};
use super::rule::Gated;

/// A live grant of an active person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGrant {
    pub identity: IdentityId,
    pub role: String,
    pub scope: Scope,
}

/// Active people, their live grants and their directory groups, as of one
/// instant. Service identities are not in it: they never approve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproverDirectory {
    pub at: Option<OffsetDateTime>,
    pub people: BTreeSet<IdentityId>,
    pub grants: Vec<DirectoryGrant>,
    /// `(group display name, member)`.
    pub groups: Vec<(String, IdentityId)>,
}

/// What a request is about, as pools see it: a role pool counts those
/// holding the role on a scope that covers it.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An access request's scope.
    Scope(&'a Scope),
    /// A gated action's resource.
    Resource(&'a Resource),
}

impl Subject<'_> {
    fn covered_by(&self, grant: &Scope) -> bool {
        let resource: &Resource = match *self {
            Subject::Scope(Scope::Everything) => return *grant == Scope::Everything,
            Subject::Scope(Scope::Resource(resource)) | Subject::Resource(resource) => resource,
        };
        grant.covers(resource)
    }
}

impl ApproverDirectory {
    /// The members of `pool` for a request about `subject`.
    pub fn members_for(&self, pool: &Pool, subject: Subject<'_>) -> BTreeSet<IdentityId> {
        match pool {
            Pool::Role(role) => self
                .grants
                .iter()
                .filter(|grant| grant.role == *role && subject.covered_by(&grant.scope))
                .map(|grant| grant.identity)
                .collect(),
            _ => self.members_anywhere(pool),
        }
    }

    /// The ids of the clauses of `requirement` whose pool holds `person`
    /// for a request about `subject`.
    pub fn clauses_of(&self, person: IdentityId, requirement: &Requirement, subject: Subject<'_>) -> BTreeSet<usize> {
        if !self.people.contains(&person) {
            return BTreeSet::new();
        }
        requirement
            .clauses()
            .into_iter()
            .filter(|clause| self.members_for(&clause.pool, subject).contains(&person))
            .map(|clause| clause.id)
            .collect()
    }

    fn members_anywhere(&self, pool: &Pool) -> BTreeSet<IdentityId> {
        match pool {
            Pool::Role(role) => self.grants.iter().filter(|g| g.role == *role).map(|g| g.identity).collect(),
            Pool::Group(name) => self
                .groups
                .iter()
                .filter(|(group, _)| group.eq_ignore_ascii_case(name))
                .map(|(_, member)| *member)
                .filter(|member| self.people.contains(member))
                .collect(),
            Pool::Identity(id) => self.people.iter().filter(|person| *person == id).copied().collect(),
        }
    }
}

/// At load, a rule is checked against everyone who could count anywhere it
/// applies: a role pool is whoever holds the role on any scope (the rule's
/// resources are patterns, not one resource).
impl Directory for ApproverDirectory {
    fn members(&self, pool: &Pool) -> Option<BTreeSet<IdentityId>> {
        Some(self.members_anywhere(pool))
    }
}

/// The action Cedar decides a vote under: `deployment.approve` for a
/// deployment, `access.approve` for anything else (access requests and
/// other gated actions).
pub fn approving_action(gated: Gated) -> Action {
    match gated {
        Gated::Action(Action::DeploymentExecute) => Action::DeploymentApprove,
        Gated::Action(_) | Gated::Access => Action::AccessApprove,
    }
}
