//! A request as the API shows it: with its rule's clauses and the progress
//! its live approvals make, counted now.

use std::collections::BTreeSet;

use gatehouse_domain::access::{ApprovalRequest, VoteDecision, evaluate};
use gatehouse_domain::ids::IdentityId;
use gatehouse_policy::Policies;

use crate::api::dto::RequestDto;

/// The request with the progress per clause of its rule (none when the
/// rule has left the policy folder).
pub fn show(policies: &Policies, request: &ApprovalRequest) -> RequestDto {
    let Some(loaded) = policies.approvals().find(&request.rule_id) else {
        return RequestDto::new(request, &[], &[]);
    };
    let requirement = &loaded.rule.requirement;
    let pools: Vec<(usize, String)> =
        requirement.clauses().into_iter().map(|clause| (clause.id, clause.pool.to_string())).collect();
    let approvers: Vec<(IdentityId, BTreeSet<usize>)> = request
        .votes
        .iter()
        .filter(|vote| vote.is_live() && vote.decision == VoteDecision::Approve)
        .map(|vote| (vote.voter, vote.clauses.clone()))
        .collect();
    let progress = evaluate(requirement, &approvers).map(|progress| progress.clauses).unwrap_or_default();
    RequestDto::new(request, &pools, &progress)
}

pub fn show_all(policies: &Policies, requests: &[ApprovalRequest]) -> Vec<RequestDto> {
    requests.iter().map(|request| show(policies, request)).collect()
}
