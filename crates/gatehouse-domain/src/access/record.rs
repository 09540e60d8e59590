//! Requests and votes as the store keeps them: what was asked, by whom,
//! under which rule, its state, and every vote cast on it (withdrawn ones
//! included). The functions of `request.rs` decide; these records remember.

use std::collections::BTreeSet;
use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::authorization::Action;
use crate::grant::{NewGrant, Resource, Role, Scope};
use crate::ids::{ApprovalRequestId, GrantId, IdentityId};

use super::break_glass::AfterReviewStatus;
use super::request::{CountedVote, RequestState, VoteDecision};

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// A role over a scope, for a while.
    Access { role: Role, scope: Scope, duration: Duration },
    /// A gated action on a resource, for a CI run when `binding` says so.
    Action { action: Action, resource: Resource, binding: Option<DeploymentBinding> },
}

impl RequestKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestKind::Access { .. } => "access",
            RequestKind::Action { .. } => "action",
        }
    }

    /// The resource the request is about, in scope syntax: the access
    /// scope, or the action's resource.
    pub fn resource_text(&self) -> String {
        match self {
            RequestKind::Access { scope, .. } => scope.to_string(),
            RequestKind::Action { resource, .. } => resource.to_string(),
        }
    }

    pub fn binding(&self) -> Option<&DeploymentBinding> {
        match self {
            RequestKind::Action { binding, .. } => binding.as_ref(),
            RequestKind::Access { .. } => None,
        }
    }
}

/// The CI run a deployment approval is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentBinding {
    /// `github` or `gitlab`.
    pub forge: String,
    pub repository: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub environment: String,
    pub sha: String,
    /// The authors of the commits being deployed, as the forge names them.
    pub authors: Vec<String>,
    pub workflow_digest: Option<String>,
}

impl DeploymentBinding {
    pub fn key(&self) -> BindingKey {
        BindingKey {
            forge: self.forge.clone(),
            repository: self.repository.clone(),
            run_id: self.run_id.clone(),
            run_attempt: self.run_attempt,
            environment: self.environment.clone(),
        }
    }
}

/// Which run and environment a deployment approval is for: a gate of that
/// run attaches to the one open request with this key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindingKey {
    pub forge: String,
    pub repository: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub environment: String,
}

impl fmt::Display for BindingKey {
    /// One text per key: each part length-prefixed, so no two keys share it
    /// by moving characters between parts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempt = self.run_attempt.to_string();
        let parts = [&self.forge, &self.repository, &self.run_id, &attempt, &self.environment];
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{}:{part}", part.len())?;
        }
        Ok(())
    }
}

/// A vote as stored: live until withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVote {
    pub voter: IdentityId,
    pub decision: VoteDecision,
    pub reason: Option<String>,
    /// The rule's clauses whose pool held the voter when voting.
    pub clauses: BTreeSet<usize>,
    /// How long before the vote the voter last verified a second factor.
    pub mfa_age_seconds: i64,
    /// The request digest the voter was shown.
    pub digest: String,
    pub created_at: OffsetDateTime,
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl StoredVote {
    pub fn is_live(&self) -> bool {
        self.withdrawn_at.is_none()
    }
}

/// A vote about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVote {
    pub voter: IdentityId,
    pub decision: VoteDecision,
    pub reason: Option<String>,
    pub clauses: BTreeSet<usize>,
    pub mfa_age_seconds: i64,
    pub digest: String,
    pub created_at: OffsetDateTime,
}

/// A request through the approved channel, with every vote cast on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub id: ApprovalRequestId,
    pub kind: RequestKind,
    pub state: RequestState,
    pub rule_id: String,
    /// The hash of the policy folder the rule was read from.
    pub policy_hash: String,
    pub requester: IdentityId,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// What a voter must present ([`request_digest`](super::request_digest)).
    pub digest: String,
    pub break_glass: bool,
    pub incident: Option<String>,
    /// The grant an access request put in force.
    pub grant_id: Option<GrantId>,
    /// The votes that filled the rule's clauses when it was decided:
    /// `(clause id, voter)`.
    pub assignment: Vec<(usize, IdentityId)>,
    /// Moves with every vote, withdrawal and state change: a caller that
    /// tallied the votes it read names it, so a vote cast meanwhile is not
    /// left out of the tally.
    pub revision: i64,
    pub created_at: OffsetDateTime,
    /// When a pending request expires.
    pub expires_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    /// Oldest first, withdrawn ones included.
    pub votes: Vec<StoredVote>,
    /// The after-review a break-glass request owes.
    pub after_review: Option<AfterReviewStatus>,
}

impl ApprovalRequest {
    pub fn binding_key(&self) -> Option<BindingKey> {
        self.kind.binding().map(DeploymentBinding::key)
    }

    /// The votes that count: live ones.
    pub fn live_votes(&self) -> Vec<CountedVote> {
        self.votes
            .iter()
            .filter(|vote| vote.is_live())
            .map(|vote| CountedVote { voter: vote.voter, decision: vote.decision, clauses: vote.clauses.clone() })
            .collect()
    }
}

/// A request about to be stored. `state` is `pending`, except for break
/// glass (`approved`, or `active` with its `grant`).
#[derive(Debug, Clone)]
pub struct NewApprovalRequest {
    pub id: ApprovalRequestId,
    pub kind: RequestKind,
    pub state: RequestState,
    pub rule_id: String,
    pub policy_hash: String,
    pub requester: IdentityId,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub digest: String,
    pub break_glass: bool,
    pub incident: Option<String>,
    /// Created with the request (break-glass access).
    pub grant: Option<NewGrant>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl NewApprovalRequest {
    pub fn binding_key(&self) -> Option<BindingKey> {
        self.kind.binding().map(DeploymentBinding::key)
    }
}
