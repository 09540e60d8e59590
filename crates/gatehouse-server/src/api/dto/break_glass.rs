//! The JSON shapes of `/api/v1/break-glass`: breaking the glass (a request
//! as `/api/v1/requests` takes it, with an incident and a reason) and the
//! after-review it owes.

use gatehouse_domain::access::{AfterReviewEntry, AfterReviewStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BindingDto, CreateRequestBody, ResourceRef, instant};

/// Access (`kind: access`, with `role`, `scope` and optionally `duration`,
/// at most the rule's break-glass duration, which is the default) or a
/// gated action (`kind: action`, with `action`, `resource` and optionally
/// `binding`), at once, for an incident.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassBody {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How long the access lasts, e.g. `30m` (default and maximum: the
    /// rule's `break_glass.duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingDto>,
    /// The incident this is for (1 to 128 printable characters).
    pub incident: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl BreakGlassBody {
    /// The request part, as `/api/v1/requests` reads it.
    pub fn request(&self) -> CreateRequestBody {
        CreateRequestBody {
            kind: self.kind.clone(),
            role: self.role.clone(),
            scope: self.scope.clone(),
            duration: self.duration.clone(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            binding: self.binding.clone(),
            reason: Some(self.reason.clone()),
            ticket: self.ticket.clone(),
        }
    }
}

/// An after-review of a break-glass use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassReviewBody {
    /// `ok` (warranted) or `flag` (needs a closer look; notified).
    pub decision: String,
    pub reason: String,
}

/// One reviewer's after-review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AfterReviewEntryDto {
    pub reviewer: String,
    /// `ok` or `flag`.
    pub decision: String,
    pub reason: String,
    pub mfa_age_seconds: i64,
    pub created_at: String,
}

/// The after-review a break-glass request owes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AfterReviewDto {
    pub due: String,
    /// How many distinct reviewers complete it.
    pub need: u32,
    pub reviews: Vec<AfterReviewEntryDto>,
    /// When the last review it needed came in.
    pub completed_at: Option<String>,
    /// Whether a reviewer flagged the use.
    pub flagged: bool,
    /// When it was last raised as overdue.
    pub last_alert_at: Option<String>,
}

impl From<&AfterReviewEntry> for AfterReviewEntryDto {
    fn from(review: &AfterReviewEntry) -> Self {
        Self {
            reviewer: review.reviewer.to_string(),
            decision: review.decision.as_str().to_owned(),
            reason: review.reason.clone(),
            mfa_age_seconds: review.mfa_age_seconds,
            created_at: instant(review.created_at),
        }
    }
}

impl From<&AfterReviewStatus> for AfterReviewDto {
    fn from(status: &AfterReviewStatus) -> Self {
        Self {
            due: instant(status.due_at),
            need: status.need,
            reviews: status.reviews.iter().map(AfterReviewEntryDto::from).collect(),
            completed_at: status.completed_at.map(instant),
            flagged: status.flagged(),
            last_alert_at: status.last_alert_at.map(instant),
        }
    }
}
