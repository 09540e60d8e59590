//! Review campaigns, their snapshot items and the decisions on them.
//!
//! The store guards the races only: a decision takes its item's next place
//! (`Decision::sequence`) or is refused, and nothing is decided or closed
//! in a campaign that is no longer open. Who may decide what is
//! `review::check_decision`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{CampaignId, IdentityId};
use crate::review::{Campaign, CampaignState, Counts, Decision, ReviewItem, TriggerKind};

/// Which campaigns [`ReviewStore::find_campaigns`] answers: each field
/// set narrows it (exact match); an empty filter matches every campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    pub state: Option<CampaignState>,
    pub kind: Option<TriggerKind>,
    /// `Trigger::subject`, exactly (`vendor:ID`, `project:acme/web`).
    pub subject: Option<String>,
    /// `Trigger::holds`, exactly.
    pub holds: Option<String>,
}

#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Stores a campaign (open, or skipped when it has no items) with its
    /// snapshot, in one transaction with `audits`.
    async fn open_campaign(
        &self,
        campaign: Campaign,
        items: Vec<ReviewItem>,
        audits: Vec<AuditRecord>,
    ) -> Result<Campaign, StoreError>;

    /// When each identity last used gatehouse: its latest token use or
    /// session activity (identities never seen are absent).
    async fn last_use_by_identity(&self) -> Result<Vec<(IdentityId, OffsetDateTime)>, StoreError>;

    async fn find_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError>;

    /// Campaigns, newest first, optionally in one state.
    async fn list_campaigns(&self, state: Option<CampaignState>) -> Result<Vec<Campaign>, StoreError>;

    /// The campaigns `filter` matches, newest first: what a trigger's
    /// subject or a held project needs, without reading every campaign.
    async fn find_campaigns(&self, filter: CampaignFilter) -> Result<Vec<Campaign>, StoreError>;

    /// A campaign's items in number order, after `after`, at most `limit`.
    async fn list_review_items(
        &self,
        campaign: CampaignId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, StoreError>;

    async fn find_review_item(&self, campaign: CampaignId, number: u32) -> Result<Option<ReviewItem>, StoreError>;

    /// Open campaigns' items `reviewer` is named on (either stage), by
    /// campaign then number.
    async fn review_items_for(&self, reviewer: IdentityId) -> Result<Vec<(CampaignId, ReviewItem)>, StoreError>;

    /// A campaign's decisions, by item then sequence; one item's with `item`.
    async fn list_review_decisions(&self, campaign: CampaignId, item: Option<u32>)
    -> Result<Vec<Decision>, StoreError>;

    /// Records a decision in its item's place `decision.sequence`, with
    /// `audits` (the decision's entry and any change it applied).
    /// `Conflict::ReviewItemChanged` when that place is taken;
    /// `Conflict::CampaignNotOpen` when the campaign is not open.
    async fn record_review_decision(
        &self,
        campaign: CampaignId,
        decision: Decision,
        audits: Vec<AuditRecord>,
    ) -> Result<(), StoreError>;

    /// Records the deadline's defaults and closes the campaign with its
    /// counts and decisions digest. `Conflict::CampaignNotOpen` when it is
    /// not open (closed by another node first).
    async fn close_campaign(
        &self,
        campaign: CampaignId,
        closed_at: OffsetDateTime,
        defaults: Vec<Decision>,
        counts: Counts,
        decisions_digest: String,
        audits: Vec<AuditRecord>,
    ) -> Result<Campaign, StoreError>;

    /// Notes that reviewers were reminded (with the reminder's entry);
    /// false when another node did so first.
    async fn mark_campaign_reminded(
        &self,
        campaign: CampaignId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<bool, StoreError>;
}
