//! The approved channel's rules: who must approve, how many, and whether a
//! set of votes meets that. Pure logic; membership of roles and groups is
//! handed in by the caller (a [`Directory`]), rule files are parsed by the
//! policy crate.
//!
//! A requirement is a tree of `all` / `any` over quorum clauses ("2 of
//! group:sre"). A vote counts once: votes are assigned to the clauses'
//! seats by maximum bipartite matching, so a person in two groups fills one
//! seat, never both (GitLab's shared-approver bug), and the assignment is
//! part of the answer.

mod asking;
mod binding;
mod break_glass;
mod directory;
mod matching;
mod record;
mod request;
mod requirement;
mod rule;

#[cfg(test)]
mod tests;

pub use asking::{AskError, MAX_REASON_CHARS, MAX_TICKET_CHARS, check_ask, digest_of};
pub use binding::{BindingProblem, MAX_BINDING_AUTHORS, check_binding, check_claims};
pub use break_glass::{
    AfterReviewEntry, AfterReviewStatus, BreakGlassError, BreakGlassWindow, NewAfterReview, OVERDUE_REPEAT,
    ReviewDecision, break_glass_duration, check_after_review, check_break_glass, check_review_count, overdue_alert_due,
};
pub use directory::{ApproverDirectory, DirectoryGrant, Subject, approving_action};
pub use matching::{Assignment, ClauseProgress, Progress, evaluate};
pub use record::{
    ApprovalRequest, BindingKey, DeploymentBinding, NewApprovalRequest, NewVote, RequestKind, StoredVote,
};
pub use request::{
    AccessDurationError, Ballot, CountedVote, NotEligible, RequestError, RequestEvent, RequestParties, RequestState,
    SimulatedVote, Simulation, Tally, VoteDecision, VoterFacts, check_access_duration, check_vote, request_digest,
    request_expiry, simulate, tally, tally_with, transition,
};
pub use requirement::{
    Clause, Directory, MAX_ALTERNATIVES, Pool, PoolError, Requirement, RequirementError, check_satisfiable,
};
pub use rule::{
    AfterReview, ApprovalRule, BreakGlass, Exclusion, Gated, RuleError, RuleLimits, check_overlaps, check_rule,
    check_rule_against,
};
