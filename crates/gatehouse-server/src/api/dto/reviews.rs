//! The JSON shapes of `/api/v1/reviews`: campaigns, their items with where
//! each stands, and decisions.

use gatehouse_domain::review::{
    Campaign, Decision, Progress, ReviewItem, counts_to_json, decision_to_json, definition_to_json, verdict_to_json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::instant;

/// A campaign definition (the body of `POST /api/v1/reviews`). Read by the
/// domain's `definition_from_json`; unknown fields are refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignRequest {
    pub name: String,
    /// `{kinds?: ["grant"|"token"|"signing_key"], role?, scope? (a glob over
    /// the scope as written), identity_kind? ("human"|"service"), identity?,
    /// integration?, vendor?}`.
    #[schema(value_type = Object)]
    pub scope: Option<Value>,
    /// `owner`, `manager`, `role:NAME`, `group:NAME` or `identity:ID`.
    pub reviewers: Vec<String>,
    /// Who reviews what none of `reviewers` may (required).
    pub fallback: String,
    /// How long reviewers have, e.g. `14d`.
    pub duration: String,
    /// `monthly`, `quarterly`, `half-yearly`, `yearly` or `Nd`.
    pub recurrence: Option<String>,
    /// `keep`, `revoke` or `suspend`; absent: keep, but revoke privileged items.
    pub on_no_response: Option<String>,
    /// Reviewers of a second stage for privileged items, distinct from the first.
    pub second_stage: Option<Vec<String>>,
    /// Unused this long, an item is recommended for revocation (default `90d`).
    pub unused_after: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TriggerDto {
    /// `manual`, `schedule`, `pipeline_change`, `renewal`, `onboarding`, `directory`.
    pub kind: String,
    pub subject: String,
    /// The pipeline whose deployments wait for this review, if any.
    pub holds: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CampaignDto {
    pub id: String,
    pub name: String,
    /// `open`, `closed` or `skipped`.
    pub state: String,
    pub trigger: TriggerDto,
    #[schema(value_type = Object)]
    pub definition: Value,
    pub policy_hash: String,
    pub opened_by: Option<String>,
    pub opened_at: String,
    pub deadline: String,
    pub closed_at: Option<String>,
    /// Hex SHA-256 of the snapshot's canonical JSON.
    pub snapshot_digest: String,
    pub items: u32,
    /// Once closed: items, kept, revoked, narrowed, suspended, defaulted, escalated, failed.
    #[schema(value_type = Object)]
    pub counts: Option<Value>,
    pub decisions_digest: Option<String>,
}

impl CampaignDto {
    pub fn of(campaign: &Campaign) -> Self {
        Self {
            id: campaign.id.to_string(),
            name: campaign.definition.name.clone(),
            state: campaign.state.as_str().to_owned(),
            trigger: TriggerDto {
                kind: campaign.trigger.kind.as_str().to_owned(),
                subject: campaign.trigger.subject.clone(),
                holds: campaign.trigger.holds.clone(),
            },
            definition: definition_to_json(&campaign.definition),
            policy_hash: campaign.policy_hash.clone(),
            opened_by: campaign.opened_by.map(|id| id.to_string()),
            opened_at: instant(campaign.opened_at),
            deadline: instant(campaign.deadline),
            closed_at: campaign.closed_at.map(instant),
            snapshot_digest: campaign.snapshot_digest.clone(),
            items: campaign.items,
            counts: campaign.counts.as_ref().map(counts_to_json),
            decisions_digest: campaign.decisions_digest.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignListDto {
    pub items: Vec<CampaignDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CampaignListQuery {
    /// `open`, `closed` or `skipped`.
    pub state: Option<String>,
}

/// An item of a campaign's snapshot and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewItemDto {
    pub campaign_id: String,
    /// The item as snapshotted (its canonical form, as the digest hashed it).
    #[schema(value_type = Object)]
    pub item: Value,
    /// The stage deciding now (1, or 2 for a privileged item kept in stage 1).
    pub stage: u8,
    pub delegated_to: Option<String>,
    /// The final decision, once there is one.
    #[schema(value_type = Object)]
    pub outcome: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub decisions: Vec<Value>,
}

impl ReviewItemDto {
    pub fn of(campaign: &str, item: &ReviewItem, progress: &Progress, decisions: &[Decision]) -> Self {
        Self {
            campaign_id: campaign.to_owned(),
            item: gatehouse_domain::review::item_to_json(item),
            stage: progress.stage,
            delegated_to: progress.delegated_to.map(|id| id.to_string()),
            outcome: progress.outcome.as_ref().map(verdict_to_json),
            decisions: decisions.iter().map(decision_to_json).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewItemListDto {
    pub items: Vec<ReviewItemDto>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReviewItemQuery {
    /// Items numbered after this one.
    pub after: Option<u32>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// A reviewer's decision (`suspend` is a deadline default only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// `keep`, `revoke`, `narrow` or `delegate`.
    pub decision: String,
    pub reason: Option<String>,
    /// keep: end the grant sooner (RFC 3339; never later than it ends now).
    pub until: Option<String>,
    /// narrow: a role allowing strictly less.
    pub role: Option<String>,
    /// narrow: a scope inside the current one.
    pub scope: Option<String>,
    /// delegate: another eligible reviewer of this stage (identity id).
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DecisionDto {
    #[schema(value_type = Object)]
    pub decision: Value,
    /// Whether the item is decided for good (false: it went to stage 2 or a delegate).
    pub r#final: bool,
    /// What applying it did, for a final decision: `{ok, result}`.
    #[schema(value_type = Object)]
    pub applied: Option<Value>,
}
