//! Opening a campaign: its snapshot taken and hashed, its reviewers named,
//! recorded as `review.open` (or `review.skip` when its scope is empty,
//! asking nobody anything).

use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::Grant;
use gatehouse_domain::ids::CampaignId;
use gatehouse_domain::review::{
    Campaign, CampaignDefinition, CampaignState, ReviewItem, Trigger, definition_to_json, snapshot_digest,
};
use serde_json::json;

use super::author::Author;
use super::roles::RoleFacts;
use super::snapshot;
use crate::problem::ApiError;
use crate::state::AppState;

/// What to open.
pub struct Opening {
    pub definition: CampaignDefinition,
    pub trigger: Trigger,
    /// Items that are not access (a pipeline change), placed first.
    pub extra: Vec<ReviewItem>,
}

/// Opens a campaign now: snapshot, digest, reviewers, and its entry.
pub async fn open(state: &AppState, opening: Opening, by: Author<'_>) -> Result<Campaign, ApiError> {
    open_where(state, opening, by, &|_| true).await
}

/// Opens a campaign whose snapshot takes only the grants `keep` admits
/// besides its selector (a pipeline change: grants reaching the pipeline
/// through roles that trigger, approve or edit it).
pub async fn open_where(
    state: &AppState,
    opening: Opening,
    by: Author<'_>,
    keep: &(dyn Fn(&Grant) -> bool + Sync),
) -> Result<Campaign, ApiError> {
    let now = state.clock.now();
    let policies = state.policies.current();
    let roles = RoleFacts::of(&policies);
    let mut inputs = snapshot::read(state, &opening.definition, now).await?;
    inputs.grants.retain(|grant| keep(grant));
    let snapshot = snapshot::build(&opening.definition, &inputs, &roles, now, opening.extra);
    drop(inputs);
    let id = CampaignId::new();
    let count = u32::try_from(snapshot.items.len()).map_err(|_| ApiError::Unprocessable("too many items".into()))?;
    let state_now = if count == 0 { CampaignState::Skipped } else { CampaignState::Open };
    let campaign = Campaign {
        id,
        policy_hash: policies.hash().to_owned(),
        trigger: opening.trigger,
        opened_by: by.identity(),
        state: state_now,
        opened_at: now,
        deadline: now + opening.definition.duration,
        closed_at: (count == 0).then_some(now),
        snapshot_digest: snapshot_digest(&snapshot.items),
        items: count,
        reminded_at: None,
        counts: None,
        decisions_digest: None,
        definition: opening.definition,
    };
    let action = if count == 0 { AuditAction::ReviewSkip } else { AuditAction::ReviewOpen };
    let mut details = json!({
        "campaign_id": id.to_string(),
        "name": campaign.definition.name,
        "trigger": campaign.trigger.kind.as_str(),
        "subject": campaign.trigger.subject,
        "policy_hash": campaign.policy_hash,
        "definition": definition_to_json(&campaign.definition),
        "snapshot_digest": campaign.snapshot_digest,
        "items": count,
    });
    if count > 0 {
        details["unassigned"] = json!(snapshot.unassigned);
        details["deadline"] = json!(format_rfc3339(campaign.deadline));
    }
    if let Some(held) = &campaign.trigger.holds {
        details["holds"] = json!(held);
    }
    let mut audits = vec![by.record(now, action, format!("review:{id}")).details(details)];
    if snapshot.unassigned > 0 {
        audits.push(
            by.record(now, AuditAction::ReviewAlert, format!("review:{id}"))
                .outcome(gatehouse_domain::audit::Outcome::Failure, "items without a reviewer")
                .details(json!({
                    "campaign_id": id.to_string(),
                    "problem": format!("{} items have nobody to review them: not even the fallback", snapshot.unassigned),
                })),
        );
    }
    let stored = state.store.open_campaign(campaign, snapshot.items, audits).await?;
    metrics::counter!("gatehouse_reviews_opened_total", "trigger" => stored.trigger.kind.as_str()).increment(1);
    Ok(stored)
}
