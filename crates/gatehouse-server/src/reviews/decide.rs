//! A reviewer's decision on one item: only a reviewer of the item at its
//! stage (or the delegate), never its own identity, with a fresh second
//! factor, before the deadline, once. A final revoke, narrow or shortened
//! keep is applied at once.

use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::CampaignId;
use gatehouse_domain::review::{
    Campaign, CampaignState, Decision, DecisionError, ReviewItem, Step, Verdict, Window, check_decision, progress,
    verdict_from_json, verdict_to_json,
};
use serde_json::{Value, json};

use super::apply::{Applied, apply};
use super::author::Author;
use super::roles::RoleFacts;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

pub const MAX_REASON_CHARS: usize = 1_000;

/// A decision as recorded, what it did to its item, and what applying it did.
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    pub step: Step,
    pub applied: Option<Applied>,
}

pub async fn find_campaign(state: &AppState, id: CampaignId) -> Result<Campaign, ApiError> {
    state.store.find_campaign(id).await?.ok_or_else(|| ApiError::NotFound(format!("campaign `{id}` not found")))
}

pub async fn find_item(state: &AppState, campaign: CampaignId, number: u32) -> Result<ReviewItem, ApiError> {
    state
        .store
        .find_review_item(campaign, number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("item {number} of campaign `{campaign}` not found")))
}

/// Decides item `number` of `campaign` as `caller`, from the API's body.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    campaign_id: CampaignId,
    number: u32,
    body: &Value,
) -> Result<Decided, ApiError> {
    let verdict = verdict_from_json(body).map_err(|error| ApiError::Unprocessable(error.0))?;
    let reason = body.get("reason").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::Unprocessable(format!("reason must be at most {MAX_REASON_CHARS} characters")));
    }
    let campaign = find_campaign(state, campaign_id).await?;
    let item = find_item(state, campaign_id, number).await?;
    let resource = format!("review:{campaign_id}");
    let decisions = state.store.list_review_decisions(campaign_id, Some(number)).await?;
    let me = caller.identity().id;
    let named = item.reviewers.contains(&me)
        || item.second_reviewers.contains(&me)
        || decisions.iter().any(|d| matches!(d.verdict, Verdict::Delegate { to } if to == me));
    if !named || item.is_subject(me) {
        let why = if item.is_subject(me) { DecisionError::SelfReview } else { DecisionError::NotReviewer };
        return caller.refuse(state, AuditAction::ReviewDecide, resource, why.to_string()).await;
    }
    caller.require_fresh_mfa(state, AuditAction::ReviewDecide).await?;
    let now = state.clock.now();
    let window = Window { open: campaign.state == CampaignState::Open, deadline: campaign.deadline, now };
    let roles = RoleFacts::of(&state.policies.current());
    let step = match check_decision(&item, &decisions, me, &verdict, window, &|old, new| roles.smaller(old, new)) {
        Ok(step) => step,
        Err(error) => return refused(state, caller, resource, error).await,
    };
    let standing = progress(&item, &decisions);
    let mfa_age = caller.mfa_verified_at().map(|at| (now - at).whole_seconds().max(0));
    let decision = Decision {
        item: number,
        sequence: standing.next_sequence,
        stage: standing.stage,
        verdict,
        reviewer: Some(me),
        at: now,
        mfa_method: mfa_age.map(|_| "totp".to_owned()),
        mfa_age_seconds: mfa_age,
        shown: item.recommendation.advice,
        reason,
    };
    let authorized = caller.authorize_as_reviewer();
    let record = caller.record(&authorized, state, AuditAction::ReviewDecide, resource.clone()).details(json!({
        "campaign_id": campaign_id.to_string(),
        "item": number,
        "sequence": decision.sequence,
        "stage": decision.stage,
        "kind": item.kind.as_str(),
        "target": item.target,
        "identity": item.identity.to_string(),
        "decision": verdict_to_json(&decision.verdict),
        "final": step == Step::Final,
        "shown": decision.shown.as_str(),
        "mfa_method": decision.mfa_method,
        "mfa_age_seconds": decision.mfa_age_seconds,
        "reason": decision.reason,
        "at": format_rfc3339(now),
    }));
    state.store.record_review_decision(campaign_id, decision.clone(), vec![record]).await?;
    let applied = if step == Step::Final {
        let applied = apply(state, Author::Person(&authorized), campaign_id, &item, &decision.verdict).await;
        if !applied.ok {
            let alert = caller
                .record(&authorized, state, AuditAction::ReviewAlert, resource)
                .outcome(Outcome::Failure, applied.result.clone())
                .details(json!({"campaign_id": campaign_id.to_string(), "item": number, "problem": applied.result}));
            state.store.append_audit(alert).await?;
        }
        Some(applied)
    } else {
        None
    };
    if step == Step::Final {
        super::triggers::onboarding_reviewed(state, &campaign).await;
    }
    Ok(Decided { decision, step, applied })
}

async fn refused<T>(state: &AppState, caller: &Caller, resource: String, error: DecisionError) -> Result<T, ApiError> {
    let detail = error.to_string();
    match error {
        DecisionError::NotReviewer | DecisionError::SelfReview | DecisionError::SameReviewerTwice => {
            caller.refuse(state, AuditAction::ReviewDecide, resource, detail).await
        }
        DecisionError::Closed | DecisionError::PastDeadline | DecisionError::AlreadyDecided => {
            caller
                .observe(state, AuditAction::ReviewDecide, resource)
                .outcome(Outcome::Denied, detail.clone())
                .append(&*state.store)
                .await?;
            Err(ApiError::Conflict(detail))
        }
        _ => Err(ApiError::Unprocessable(detail)),
    }
}
