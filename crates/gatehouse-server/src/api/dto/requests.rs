//! The JSON shapes of `/api/v1/requests` and `/api/v1/break-glass`.

use std::collections::BTreeMap;

use gatehouse_domain::access::{ApprovalRequest, ClauseProgress, DeploymentBinding, RequestKind, StoredVote};
use gatehouse_domain::span::format_duration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ResourceRef, instant};

/// A request to ask for access or for a gated action. `kind` is `access`
/// (with `role`, `scope`, `duration`) or `action` (with `action`,
/// `resource` and, for a CI run, `binding`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequestBody {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How long the access lasts once approved, e.g. `2h` (at most the rule's `max_duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// The CI run a deployment approval is for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BindingDto {
    /// `github` or `gitlab`.
    pub forge: String,
    pub repository: String,
    pub run_id: String,
    pub run_attempt: u32,
    pub environment: String,
    pub sha: String,
    /// The commit authors as the forge names them (emails or identity ids).
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_digest: Option<String>,
}

impl From<&DeploymentBinding> for BindingDto {
    fn from(binding: &DeploymentBinding) -> Self {
        Self {
            forge: binding.forge.clone(),
            repository: binding.repository.clone(),
            run_id: binding.run_id.clone(),
            run_attempt: binding.run_attempt,
            environment: binding.environment.clone(),
            sha: binding.sha.clone(),
            authors: binding.authors.clone(),
            workflow_digest: binding.workflow_digest.clone(),
        }
    }
}

/// A vote: approve or deny, naming the digest of the request as shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteBody {
    /// `approve` or `deny`.
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request's `digest` as the voter saw it.
    pub digest: String,
}

/// Ends an active access grant early.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One clause of the request's rule and how far the votes fill it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ClauseDto {
    pub id: usize,
    /// The pool: `role:NAME`, `group:NAME` or `identity:ID`.
    pub of: String,
    pub need: u32,
    pub have: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct VoteDto {
    pub voter: String,
    /// `approve` or `deny`.
    pub decision: String,
    pub reason: Option<String>,
    /// The clauses whose pool held the voter when voting.
    pub clauses: Vec<usize>,
    pub mfa_age_seconds: i64,
    pub digest: String,
    pub created_at: String,
    /// Set when the vote no longer counts.
    pub withdrawn_at: Option<String>,
}

impl From<&StoredVote> for VoteDto {
    fn from(vote: &StoredVote) -> Self {
        Self {
            voter: vote.voter.to_string(),
            decision: vote.decision.as_str().to_owned(),
            reason: vote.reason.clone(),
            clauses: vote.clauses.iter().copied().collect(),
            mfa_age_seconds: vote.mfa_age_seconds,
            digest: vote.digest.clone(),
            created_at: instant(vote.created_at),
            withdrawn_at: vote.withdrawn_at.map(instant),
        }
    }
}

/// A request through the approved channel, with the progress of its rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestDto {
    pub id: String,
    /// `access` or `action`.
    pub kind: String,
    /// `pending`, `approved`, `denied`, `cancelled`, `expired`,
    /// `superseded`, `active`, `consumed` or `revoked`.
    pub state: String,
    pub rule: String,
    pub policy_hash: String,
    pub requester: String,
    /// What a voter sends back with their vote.
    pub digest: String,
    pub role: Option<String>,
    pub scope: Option<String>,
    pub duration: Option<String>,
    pub action: Option<String>,
    pub resource: Option<ResourceRef>,
    pub binding: Option<BindingDto>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    /// Each clause of the rule, with the approvals counted in it (empty when
    /// the rule is no longer in the policy folder).
    pub clauses: Vec<ClauseDto>,
    pub votes: Vec<VoteDto>,
    /// Which voter fills which clause: clause id → voters.
    pub assignment: BTreeMap<String, Vec<String>>,
    pub break_glass: bool,
    pub incident: Option<String>,
    /// When the after-review of a break-glass request is due.
    pub after_review_due: Option<String>,
    /// The after-review a break-glass request owes: its reviews so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_review: Option<super::AfterReviewDto>,
    pub grant_id: Option<String>,
    pub created_at: String,
    /// When a pending request expires.
    pub expires_at: String,
    pub decided_at: Option<String>,
    pub updated_at: String,
}

impl RequestDto {
    /// The request, with its rule's clauses (`(clause, pool text)`) and the
    /// progress counted now.
    pub fn new(request: &ApprovalRequest, pools: &[(usize, String)], progress: &[ClauseProgress]) -> Self {
        let (role, scope, duration, action, resource, binding) = match &request.kind {
            RequestKind::Access { role, scope, duration } => (
                Some(role.as_str().to_owned()),
                Some(scope.to_string()),
                Some(format_duration(*duration)),
                None,
                None,
                None,
            ),
            RequestKind::Action { action, resource, binding } => (
                None,
                None,
                None,
                Some(action.as_str().to_owned()),
                Some(ResourceRef::from(resource)),
                binding.as_ref().map(BindingDto::from),
            ),
        };
        let clauses = progress
            .iter()
            .map(|clause| ClauseDto {
                id: clause.clause,
                of: pools.iter().find(|(id, _)| *id == clause.clause).map(|(_, pool)| pool.clone()).unwrap_or_default(),
                need: clause.need,
                have: clause.have,
            })
            .collect();
        let mut assignment: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (clause, voter) in &request.assignment {
            assignment.entry(clause.to_string()).or_default().push(voter.to_string());
        }
        Self {
            id: request.id.to_string(),
            kind: request.kind.as_str().to_owned(),
            state: request.state.as_str().to_owned(),
            rule: request.rule_id.clone(),
            policy_hash: request.policy_hash.clone(),
            requester: request.requester.to_string(),
            digest: request.digest.clone(),
            role,
            scope,
            duration,
            action,
            resource,
            binding,
            reason: request.reason.clone(),
            ticket: request.ticket.clone(),
            clauses,
            votes: request.votes.iter().map(VoteDto::from).collect(),
            assignment,
            break_glass: request.break_glass,
            incident: request.incident.clone(),
            after_review_due: request.after_review.as_ref().map(|review| instant(review.due_at)),
            after_review: request.after_review.as_ref().map(super::AfterReviewDto::from),
            grant_id: request.grant_id.map(|id| id.to_string()),
            created_at: instant(request.created_at),
            expires_at: instant(request.expires_at),
            decided_at: request.decided_at.map(instant),
            updated_at: instant(request.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    /// Only requests in this state.
    pub state: Option<String>,
    /// Only requests by this identity (`me` for the caller).
    pub requester: Option<String>,
    /// Only pending requests the caller may vote on and has not voted on.
    pub reviewable: Option<bool>,
    /// Only break-glass uses whose after-review the caller owes: in the
    /// rule's after-review pool, not the one who broke the glass, not yet
    /// reviewed by them.
    pub after_review: Option<bool>,
    /// Only requests about this resource or scope, or what starts with it.
    pub resource: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Created before this instant (RFC 3339).
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// How long to wait for a pending request to be decided, e.g. `30s`
    /// (default 30 s, at most 5 minutes).
    pub timeout: Option<String>,
}

/// One approval rule the directory no longer lets anyone satisfy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RuleProblemDto {
    pub rule: String,
    /// The line of its `[[rule]]` in `approvals.toml`.
    pub line: usize,
    pub message: String,
}

/// `GET /api/v1/approvals/check`: the loaded rules against who is in which
/// group and role now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalsCheckDto {
    /// How many rules are loaded.
    pub rules: usize,
    pub policy_hash: String,
    pub problems: Vec<RuleProblemDto>,
}
