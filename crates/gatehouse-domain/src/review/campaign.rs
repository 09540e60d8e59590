//! A campaign as recorded: its definition, what opened it, its snapshot's
//! digest and, once closed, what it decided.

use time::OffsetDateTime;

use crate::ids::{CampaignId, IdentityId};

use super::definition::CampaignDefinition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignState {
    Open,
    Closed,
    /// Its scope was empty: nobody was asked anything.
    Skipped,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Open => "open",
            CampaignState::Closed => "closed",
            CampaignState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [CampaignState::Open, CampaignState::Closed, CampaignState::Skipped].into_iter().find(|s| s.as_str() == text)
    }
}

/// What opened a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// Someone opened it through the API or CLI.
    Manual,
    /// The policy folder's recurrence.
    Schedule,
    /// A pipeline's configuration changed.
    PipelineChange,
    /// A vendor's contract renews soon.
    Renewal,
    /// An integration was registered.
    Onboarding,
    /// The directory created a person or changed their groups.
    Directory,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 6] = [
        TriggerKind::Manual,
        TriggerKind::Schedule,
        TriggerKind::PipelineChange,
        TriggerKind::Renewal,
        TriggerKind::Onboarding,
        TriggerKind::Directory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Manual => "manual",
            TriggerKind::Schedule => "schedule",
            TriggerKind::PipelineChange => "pipeline_change",
            TriggerKind::Renewal => "renewal",
            TriggerKind::Onboarding => "onboarding",
            TriggerKind::Directory => "directory",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// What it is about: the definition's name, a pipeline, a vendor, an
    /// integration or an identity.
    pub subject: String,
    /// For a pipeline change under `hold_deploys`: the pipeline whose
    /// deployments wait until its change item is decided.
    pub holds: Option<String>,
}

/// What a closed campaign decided, counted per final verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub items: u32,
    pub kept: u32,
    pub revoked: u32,
    pub narrowed: u32,
    pub suspended: u32,
    /// Items decided by the deadline's default.
    pub defaulted: u32,
    /// Defaults not applied because they would remove the last identity
    /// able to manage policy; raised as alerts instead.
    pub escalated: u32,
    /// Results that could not be applied; each raised as an alert.
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: CampaignId,
    pub definition: CampaignDefinition,
    pub policy_hash: String,
    pub trigger: Trigger,
    pub opened_by: Option<IdentityId>,
    pub state: CampaignState,
    pub opened_at: OffsetDateTime,
    pub deadline: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    /// Hex SHA-256 of the snapshot's canonical JSON.
    pub snapshot_digest: String,
    pub items: u32,
    /// When the last reminder went out, so each is sent once.
    pub reminded_at: Option<OffsetDateTime>,
    pub counts: Option<Counts>,
    /// Hex SHA-256 of every decision's canonical JSON, once closed.
    pub decisions_digest: Option<String>,
}

impl Campaign {
    /// When reviewers are reminded: a day before the deadline, or halfway
    /// for a campaign shorter than two days.
    pub fn reminder_due(&self) -> OffsetDateTime {
        let length = self.deadline - self.opened_at;
        if length >= time::Duration::days(2) {
            self.deadline - time::Duration::days(1)
        } else {
            self.opened_at + length / 2
        }
    }
}
