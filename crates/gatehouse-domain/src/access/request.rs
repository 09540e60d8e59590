//! Requests and votes: the states a request moves through, who may vote on
//! it and when, and what the votes add up to. Pure: the server supplies
//! the facts (the voter's kind, MFA age, the policy's answer, the pools
//! they are in) and stores what these functions decide.

use std::collections::BTreeSet;
use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::identity::IdentityKind;
use crate::ids::IdentityId;

use super::matching::{Progress, evaluate};
use super::requirement::{Requirement, RequirementError};
use super::rule::{ApprovalRule, Exclusion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
    Cancelled,
    Expired,
    Superseded,
    /// An access request approved: its grant is in force.
    Active,
    /// A deployment approval used by the run it was for.
    Consumed,
    /// Access ended early.
    Revoked,
}

impl RequestState {
    pub const ALL: [RequestState; 9] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Denied,
        RequestState::Cancelled,
        RequestState::Expired,
        RequestState::Superseded,
        RequestState::Active,
        RequestState::Consumed,
        RequestState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
            RequestState::Superseded => "superseded",
            RequestState::Active => "active",
            RequestState::Consumed => "consumed",
            RequestState::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether nothing can happen to the request any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Denied
                | RequestState::Cancelled
                | RequestState::Expired
                | RequestState::Superseded
                | RequestState::Consumed
                | RequestState::Revoked
        )
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEvent {
    /// The votes now satisfy the rule.
    Approve,
    Deny,
    /// The requester withdraws it.
    Cancel,
    /// Its instant passed: a pending request's TTL, or an access grant's end.
    Expire,
    /// A new commit or run attempt replaced what it was for.
    Supersede,
    /// An approved access request's grant is created.
    Activate,
    /// An approved deployment is used by its run.
    Consume,
    /// Active access ended early.
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request is {from}; it cannot be {event}")]
    InvalidTransition { from: RequestState, event: &'static str },
    #[error("the request is {0}, no longer open to votes")]
    NotPending(RequestState),
    #[error("the request changed since it was shown (digest `{shown}`, now `{current}`)")]
    StaleDigest { shown: String, current: String },
    #[error("you already voted on this request")]
    AlreadyVoted,
    #[error("{0}")]
    NotEligible(NotEligible),
    #[error("voting needs a second factor verified within the last {max_age_minutes} minutes")]
    MfaRequired { max_age_minutes: i64 },
    #[error(transparent)]
    Rule(#[from] RequirementError),
}

/// Why someone may not vote on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEligible {
    Requester,
    TriggeringActor,
    CommitAuthor,
    Service,
    /// The policy does not let them approve this action on this resource.
    Policy,
    /// They are in none of the rule's pools.
    NoClause,
}

impl fmt::Display for NotEligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotEligible::Requester => "the requester cannot vote on their own request",
            NotEligible::TriggeringActor => "whoever triggered the run cannot vote on its deployment",
            NotEligible::CommitAuthor => "an author of a commit being deployed cannot vote on its deployment",
            NotEligible::Service => "service identities and CI jobs never vote",
            NotEligible::Policy => "the policy does not allow you to approve this",
            NotEligible::NoClause => "you are in none of the groups, roles or identities the rule counts",
        })
    }
}

/// The next state after `event`, or why it cannot happen.
pub fn transition(from: RequestState, event: RequestEvent) -> Result<RequestState, RequestError> {
    use RequestEvent as E;
    use RequestState as S;
    let to = match (from, event) {
        (S::Pending, E::Approve) => S::Approved,
        (S::Pending, E::Deny) => S::Denied,
        (S::Pending, E::Cancel) => S::Cancelled,
        (S::Pending, E::Expire) => S::Expired,
        (S::Pending, E::Supersede) => S::Superseded,
        // An approved request not yet used can still be superseded (a new
        // commit needs a new approval) or time out.
        (S::Approved, E::Supersede) => S::Superseded,
        (S::Approved, E::Expire) => S::Expired,
        (S::Approved, E::Activate) => S::Active,
        (S::Approved, E::Consume) => S::Consumed,
        (S::Active, E::Expire) => S::Expired,
        (S::Active, E::Revoke) => S::Revoked,
        _ => {
            let event = match event {
                E::Approve => "approved",
                E::Deny => "denied",
                E::Cancel => "cancelled",
                E::Expire => "expired",
                E::Supersede => "superseded",
                E::Activate => "activated",
                E::Consume => "consumed",
                E::Revoke => "revoked",
            };
            return Err(RequestError::InvalidTransition { from, event });
        }
    };
    Ok(to)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteDecision {
    Approve,
    Deny,
}

impl VoteDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            VoteDecision::Approve => "approve",
            VoteDecision::Deny => "deny",
        }
    }
}

/// A vote as it counts: live votes only (a withdrawal removes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedVote {
    pub voter: IdentityId,
    pub decision: VoteDecision,
    /// The rule's clauses (by id) whose pool held the voter when voting.
    pub clauses: BTreeSet<usize>,
}

/// The server-known facts about who may not count on a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParties {
    pub requester: Option<IdentityId>,
    pub triggering_actor: Option<IdentityId>,
    pub commit_authors: BTreeSet<IdentityId>,
}

/// The facts about a would-be voter at the instant of the vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterFacts {
    pub identity: IdentityId,
    pub kind: IdentityKind,
    /// Whether the request's credential is a CI job's.
    pub is_ci_job: bool,
    /// When this request's credential last verified a second factor.
    pub mfa_verified_at: Option<OffsetDateTime>,
    /// Whether Cedar allows them `deployment.approve` / `access.approve`
    /// on the request's resource.
    pub policy_allows: bool,
    /// The rule's clauses whose pool holds them.
    pub clauses: BTreeSet<usize>,
}

/// Everything a vote is checked against, in the order the answer is
/// decided: the request's state and digest (409s) before who votes (403s),
/// so a stale page learns it is stale whoever holds it.
pub struct Ballot<'a> {
    pub state: RequestState,
    pub current_digest: &'a str,
    pub shown_digest: &'a str,
    pub rule: &'a ApprovalRule,
    pub parties: &'a RequestParties,
    pub live_votes: &'a [CountedVote],
    /// When the request stops taking votes, whether or not the scheduler
    /// has marked it expired yet.
    pub expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

pub fn check_vote(ballot: &Ballot<'_>, voter: &VoterFacts) -> Result<(), RequestError> {
    if ballot.state != RequestState::Pending {
        return Err(RequestError::NotPending(ballot.state));
    }
    if ballot.now >= ballot.expires_at {
        return Err(RequestError::NotPending(RequestState::Expired));
    }
    let same: bool = ballot.current_digest.as_bytes().ct_eq(ballot.shown_digest.as_bytes()).into();
    if !same {
        return Err(RequestError::StaleDigest {
            shown: ballot.shown_digest.to_owned(),
            current: ballot.current_digest.to_owned(),
        });
    }
    if ballot.live_votes.iter().any(|vote| vote.voter == voter.identity) {
        return Err(RequestError::AlreadyVoted);
    }
    let excluded = |exclusion| ballot.rule.exclude.contains(&exclusion);
    let refuse = |why| Err(RequestError::NotEligible(why));
    if voter.kind != IdentityKind::Human || voter.is_ci_job {
        return refuse(NotEligible::Service);
    }
    // The requester is excluded by every rule (loading refuses one that
    // does not say so); checked here regardless.
    if ballot.parties.requester == Some(voter.identity) {
        return refuse(NotEligible::Requester);
    }
    if excluded(Exclusion::TriggeringActor) && ballot.parties.triggering_actor == Some(voter.identity) {
        return refuse(NotEligible::TriggeringActor);
    }
    if excluded(Exclusion::CommitAuthors) && ballot.parties.commit_authors.contains(&voter.identity) {
        return refuse(NotEligible::CommitAuthor);
    }
    if !voter.policy_allows {
        return refuse(NotEligible::Policy);
    }
    if voter.clauses.is_empty() {
        return refuse(NotEligible::NoClause);
    }
    let max_age = ballot.rule.approver_mfa_max_age;
    let fresh = voter.mfa_verified_at.is_some_and(|at| at <= ballot.now && ballot.now - at <= max_age);
    if !fresh {
        return Err(RequestError::MfaRequired { max_age_minutes: max_age.whole_minutes().max(1) });
    }
    Ok(())
}

/// What the live votes add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tally {
    Pending(Progress),
    Approved(Progress),
    /// Denied by this voter (one eligible deny decides).
    Denied(IdentityId),
}

pub fn tally(requirement: &Requirement, live_votes: &[CountedVote]) -> Result<Tally, RequestError> {
    tally_with(requirement, 1, live_votes)
}

/// [`tally`] where `deny_quorum` distinct deny votes decide a denial (the
/// rule's `deny_quorum`); fewer do not stop an approval.
pub fn tally_with(
    requirement: &Requirement,
    deny_quorum: u32,
    live_votes: &[CountedVote],
) -> Result<Tally, RequestError> {
    let deniers: BTreeSet<IdentityId> =
        live_votes.iter().filter(|vote| vote.decision == VoteDecision::Deny).map(|vote| vote.voter).collect();
    if let Some(deciding) = deniers.iter().nth(deny_quorum.max(1) as usize - 1) {
        return Ok(Tally::Denied(*deciding));
    }
    let approvers: Vec<(IdentityId, BTreeSet<usize>)> = live_votes
        .iter()
        .filter(|vote| vote.decision == VoteDecision::Approve)
        .map(|vote| (vote.voter, vote.clauses.clone()))
        .collect();
    let progress = evaluate(requirement, &approvers)?;
    Ok(if progress.satisfied { Tally::Approved(progress) } else { Tally::Pending(progress) })
}

/// The digest a voter must present: SHA-256 over what the request asks,
/// each field length-prefixed so no two requests share a digest by moving
/// text between fields. Anything that changes what is being approved
/// changes it.
pub fn request_digest(fields: &[(&str, &str)]) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in fields {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hex_lower(&hasher.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// When a pending request expires, and (for access) when its grant ends
/// if approved at `approved_at`.
pub fn request_expiry(created_at: OffsetDateTime, rule: &ApprovalRule) -> OffsetDateTime {
    created_at + rule.request_ttl
}

/// An access request's duration, checked against the rule's cap.
pub fn check_access_duration(asked: Duration, rule: &ApprovalRule) -> Result<Duration, AccessDurationError> {
    if asked <= Duration::ZERO {
        return Err(AccessDurationError::NotPositive);
    }
    match rule.max_duration {
        Some(max) if asked > max => Err(AccessDurationError::OverCap { asked, max }),
        _ => Ok(asked),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessDurationError {
    #[error("duration must be more than zero")]
    NotPositive,
    #[error("duration {asked} is over the rule's maximum of {max}")]
    OverCap { asked: Duration, max: Duration },
}

/// One vote of a simulated ballot (`gatehouse policy test`): who, what,
/// and the facts about them.
#[derive(Debug, Clone)]
pub struct SimulatedVote {
    pub voter: VoterFacts,
    pub decision: VoteDecision,
}

/// Where a simulated ballot ended, and what became of each vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    /// `Pending`, `Approved` or `Denied`.
    pub state: RequestState,
    /// Per vote, in order: counted, or why it was refused.
    pub votes: Vec<Result<(), RequestError>>,
    /// Who filled which clause, once approved.
    pub assignment: Vec<(usize, IdentityId)>,
}

/// Casts `votes` in order on a fresh request under `rule`, as the server
/// would (each checked by [`check_vote`], counted by [`tally`]): what a
/// policy test table asserts about a rule without a server.
pub fn simulate(
    rule: &ApprovalRule,
    parties: &RequestParties,
    votes: &[SimulatedVote],
    now: OffsetDateTime,
) -> Result<Simulation, RequestError> {
    let mut state = RequestState::Pending;
    let mut live: Vec<CountedVote> = Vec::new();
    let mut outcomes = Vec::with_capacity(votes.len());
    let mut assignment = Vec::new();
    for vote in votes {
        let ballot = Ballot {
            state,
            current_digest: "simulated",
            shown_digest: "simulated",
            rule,
            parties,
            live_votes: &live,
            expires_at: now + rule.request_ttl,
            now,
        };
        if let Err(refusal) = check_vote(&ballot, &vote.voter) {
            outcomes.push(Err(refusal));
            continue;
        }
        live.push(CountedVote {
            voter: vote.voter.identity,
            decision: vote.decision,
            clauses: vote.voter.clauses.clone(),
        });
        outcomes.push(Ok(()));
        match tally_with(&rule.requirement, rule.deny_quorum, &live)? {
            Tally::Pending(_) => {}
            Tally::Approved(progress) => {
                state = RequestState::Approved;
                assignment = progress.assignment;
            }
            Tally::Denied(_) => state = RequestState::Denied,
        }
    }
    Ok(Simulation { state, votes: outcomes, assignment })
}
