//! Voting: who may vote is checked by the domain (`check_vote`) with facts
//! gathered here, the votes are counted by `tally`, and the store records
//! the vote and any decision in one transaction, refusing it if anything
//! moved since the votes were read (then they are read and counted again).

use std::collections::BTreeSet;

use gatehouse_domain::access::{
    ApprovalRequest, Ballot, CountedVote, NewVote, RequestError, RequestKind, RequestParties, RequestState, Tally,
    VoteDecision, VoterFacts, approving_action, check_vote, tally_with,
};
use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::change::CommitSha;
use gatehouse_domain::grant::NewGrant;
use gatehouse_domain::ids::{ApprovalRequestId, GrantId, IdentityId};
use gatehouse_domain::store::{Conflict, StoreError, VoteOutcome};
use gatehouse_policy::DecisionInput;
use serde_json::json;

use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// How many times a vote is counted again when other votes land meanwhile.
const RECOUNTS: usize = 8;

/// Casts the caller's vote on request `id`, shown to them with `digest`.
pub async fn cast(
    state: &AppState,
    caller: &Caller,
    id: ApprovalRequestId,
    decision: VoteDecision,
    reason: Option<String>,
    digest: &str,
) -> Result<ApprovalRequest, ApiError> {
    let reason = reason.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
    if decision == VoteDecision::Deny && reason.is_none() {
        return Err(ApiError::Unprocessable("a deny needs a reason".into()));
    }
    if reason.as_ref().is_some_and(|text| text.chars().count() > gatehouse_domain::access::MAX_REASON_CHARS) {
        return Err(ApiError::Unprocessable("the reason is too long".into()));
    }
    for _ in 0..RECOUNTS {
        let request = state
            .store
            .find_approval_request(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("request `{id}` not found")))?;
        match try_cast(state, caller, &request, decision, reason.clone(), digest).await {
            Err(ApiError::Conflict(_)) if recount(state, id, &request).await? => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict("the request keeps changing; try again".into()))
}

/// Whether the refusal came from a vote landing between the read and the
/// write (the request is still pending at a newer revision): count again.
async fn recount(state: &AppState, id: ApprovalRequestId, read: &ApprovalRequest) -> Result<bool, ApiError> {
    let now = state.store.find_approval_request(id).await?;
    Ok(now.is_some_and(|now| {
        now.state == RequestState::Pending && now.digest == read.digest && now.revision != read.revision
    }))
}

async fn try_cast(
    state: &AppState,
    caller: &Caller,
    request: &ApprovalRequest,
    decision: VoteDecision,
    reason: Option<String>,
    digest: &str,
) -> Result<ApprovalRequest, ApiError> {
    let policies = state.policies.current();
    let resource_text = format!("request:{}", request.id);
    let loaded = policies.approvals().find(&request.rule_id).ok_or_else(|| {
        ApiError::Conflict(format!(
            "rule `{}` is no longer in the policy folder: this request can only expire or be cancelled",
            request.rule_id
        ))
    })?;
    let rule = &loaded.rule;
    let now = state.clock.now();
    let approving = approving_action(request.kind.gated());
    let decided_on = request.kind.decided_on();
    // Whether the policy lets this person approve here, given the second
    // factor the rule asks for (whose age the ballot checks itself).
    let policy_allows = policies
        .decide(&DecisionInput {
            principal: caller.identity(),
            grants: caller.grants(),
            action: approving,
            resource: &decided_on,
            now,
            auth_method: caller.auth_method(),
            mfa_fresh: true,
            step_up: state.settings.mfa.step_up,
            source_ip: caller.origin().source_ip.as_deref(),
            principal_is_caller: true,
            caller_context: None,
        })
        .map(|decision| decision.is_allowed())
        .unwrap_or(false);
    let directory = state.store.approver_directory(now).await?;
    let voter = VoterFacts {
        identity: caller.identity().id,
        kind: caller.identity().kind,
        is_ci_job: caller.is_workload(),
        mfa_verified_at: caller.mfa_verified_at(),
        policy_allows,
        clauses: directory.clauses_of(caller.identity().id, &rule.requirement, request.kind.subject()),
    };
    let parties = parties_of(state, request).await?;
    let live = request.live_votes();
    let ballot = Ballot {
        state: request.state,
        current_digest: &request.digest,
        shown_digest: digest,
        rule,
        parties: &parties,
        live_votes: &live,
        expires_at: request.expires_at,
        now,
    };
    if let Err(refusal) = check_vote(&ballot, &voter) {
        if matches!(refusal, RequestError::NotEligible(_) | RequestError::MfaRequired { .. }) {
            caller
                .observe(state, AuditAction::RequestVote, resource_text.clone())
                .outcome(Outcome::Denied, refusal.to_string())
                .details(json!({"request_id": request.id.to_string(), "decision": decision.as_str()}))
                .append(&*state.store)
                .await?;
        }
        return Err(refusal.into());
    }
    let authorized = caller.authorize(state, approving, decided_on).await?;
    let mfa_age_seconds = caller.mfa_verified_at().map_or(i64::MAX, |at| (now - at).whole_seconds().max(0));
    let mut counted = live.clone();
    counted.push(CountedVote { voter: voter.identity, decision, clauses: voter.clauses.clone() });
    let outcome = match tally_with(&rule.requirement, rule.deny_quorum, &counted)? {
        Tally::Pending(_) => None,
        Tally::Denied(_) => Some(VoteOutcome { state: RequestState::Denied, assignment: Vec::new(), grant: None }),
        Tally::Approved(progress) => Some(approved(request, progress.assignment, now)),
    };
    let vote_record =
        caller.record(&authorized, state, AuditAction::RequestVote, resource_text.clone()).details(json!({
            "request_id": request.id.to_string(),
            "voter": voter.identity.to_string(),
            "decision": decision.as_str(),
            "reason": reason,
            "clauses": voter.clauses.iter().collect::<Vec<_>>(),
            "mfa_age_seconds": mfa_age_seconds,
            "digest": digest,
        }));
    let mut records = vec![vote_record];
    if let Some(outcome) = &outcome {
        records.push(caller.record(&authorized, state, AuditAction::RequestDecide, resource_text).details(json!({
            "request_id": request.id.to_string(),
            "rule": rule.id,
            "state": outcome.state.as_str(),
            "assignment": outcome.assignment.iter()
                .map(|(clause, voter)| json!({"clause": clause, "voter": voter.to_string()}))
                .collect::<Vec<_>>(),
            "grant_id": outcome.grant.as_ref().map(|grant| grant.id.to_string()),
        })));
    }
    let vote = NewVote {
        voter: voter.identity,
        decision,
        reason,
        clauses: voter.clauses,
        mfa_age_seconds,
        digest: digest.to_owned(),
        created_at: now,
    };
    let recorded = state.store.record_vote(request.id, digest, request.revision, vote, outcome, records).await;
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(StoreError::Conflict(Conflict::AlreadyVoted { .. })) => {
            return Err(RequestError::AlreadyVoted.into());
        }
        Err(error) => return Err(error.into()),
    };
    state.request_updates.publish(&recorded);
    // A decided onboarding request activates or retires its integration.
    crate::vendors::onboarding::settle(state, &recorded).await?;
    Ok(recorded)
}

/// An approval: a deployment (or other action) approval waits to be used;
/// access becomes active at once, its grant counting from now.
fn approved(request: &ApprovalRequest, assignment: Vec<(usize, IdentityId)>, now: time::OffsetDateTime) -> VoteOutcome {
    match &request.kind {
        RequestKind::Access { role, scope, duration } => VoteOutcome {
            state: RequestState::Active,
            assignment,
            grant: Some(NewGrant {
                id: GrantId::new(),
                identity_id: request.requester,
                role: role.clone(),
                scope: scope.clone(),
                created_at: now,
                expires_at: Some(now + *duration),
                created_by: None,
            }),
        },
        RequestKind::Action { .. } => VoteOutcome { state: RequestState::Approved, assignment, grant: None },
    }
}

/// Who may not approve this request, as far as gatehouse knows: the
/// requester, and for a deployment the authors of its commit (those
/// gatehouse verified signed it, and those the binding names that are
/// people it knows by id or email). The actor who triggered a run is not
/// an identity gatehouse knows, so it cannot be named here.
pub(crate) async fn parties_of(state: &AppState, request: &ApprovalRequest) -> Result<RequestParties, ApiError> {
    let mut authors: BTreeSet<IdentityId> = BTreeSet::new();
    if let Some(binding) = request.kind.binding() {
        if let Ok(sha) = binding.sha.parse::<CommitSha>() {
            authors.extend(state.store.commit_authors(&[sha]).await?.into_iter().map(|author| author.identity_id));
        }
        for named in &binding.authors {
            if let Ok(id) = named.parse::<IdentityId>() {
                authors.insert(id);
            } else if let Some(person) = state.store.find_human_by_email(named).await? {
                authors.insert(person.id);
            }
        }
    }
    Ok(RequestParties { requester: Some(request.requester), triggering_actor: None, commit_authors: authors })
}
