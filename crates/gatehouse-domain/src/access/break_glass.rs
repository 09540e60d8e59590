//! Break-glass: who may take access at once in an emergency, for how long,
//! and the after-review someone else owes, repeated while it is overdue.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use crate::ids::IdentityId;

use super::rule::ApprovalRule;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakGlassError {
    #[error("rule `{0}` has no break-glass")]
    NotAllowed(String),
    #[error("you are not in `{0}`, who may break the glass under this rule")]
    NotMember(String),
    #[error("an incident id is required (1 to 128 printable characters)")]
    MissingIncident,
    #[error("a reason is required")]
    MissingReason,
    #[error("you cannot review your own break-glass")]
    SelfReview,
    #[error("you are not in `{0}`, who review break-glass under this rule")]
    NotReviewer(String),
    #[error("break-glass lasts at most {max} under this rule, not {asked}")]
    DurationOutOfRange { asked: Duration, max: Duration },
    #[error("you reviewed this break-glass already")]
    AlreadyReviewed,
    #[error("the after-review of this break-glass is complete")]
    ReviewComplete,
}

/// When break-glass access taken at `at` ends, and when its after-review
/// is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakGlassWindow {
    pub ends_at: OffsetDateTime,
    pub review_due: OffsetDateTime,
}

/// Checks an emergency request: the rule allows break-glass, the person is
/// in its `who`, and they say which incident and why.
pub fn check_break_glass(
    rule: &ApprovalRule,
    person: IdentityId,
    members: &BTreeSet<IdentityId>,
    incident: &str,
    reason: &str,
    at: OffsetDateTime,
) -> Result<BreakGlassWindow, BreakGlassError> {
    let glass = rule.break_glass.as_ref().ok_or_else(|| BreakGlassError::NotAllowed(rule.id.clone()))?;
    if !members.contains(&person) {
        return Err(BreakGlassError::NotMember(glass.who.to_string()));
    }
    let incident = incident.trim();
    if incident.is_empty() || incident.len() > 128 || incident.chars().any(char::is_control) {
        return Err(BreakGlassError::MissingIncident);
    }
    if reason.trim().is_empty() {
        return Err(BreakGlassError::MissingReason);
    }
    Ok(BreakGlassWindow { ends_at: at + glass.duration, review_due: at + glass.after_review.within })
}

/// Checks an after-review: by someone other than who broke the glass, from
/// the rule's reviewers.
pub fn check_after_review(
    rule: &ApprovalRule,
    broke_glass: IdentityId,
    reviewer: IdentityId,
    reviewers: &BTreeSet<IdentityId>,
) -> Result<(), BreakGlassError> {
    let glass = rule.break_glass.as_ref().ok_or_else(|| BreakGlassError::NotAllowed(rule.id.clone()))?;
    if reviewer == broke_glass {
        return Err(BreakGlassError::SelfReview);
    }
    if !reviewers.contains(&reviewer) {
        return Err(BreakGlassError::NotReviewer(glass.after_review.pool.to_string()));
    }
    Ok(())
}

/// How long break-glass access asked for `asked` lasts: the rule's
/// `break_glass.duration` when none is asked, never more.
pub fn break_glass_duration(rule: &ApprovalRule, asked: Option<Duration>) -> Result<Duration, BreakGlassError> {
    let glass = rule.break_glass.as_ref().ok_or_else(|| BreakGlassError::NotAllowed(rule.id.clone()))?;
    match asked {
        None => Ok(glass.duration),
        Some(asked) if asked > Duration::ZERO && asked <= glass.duration => Ok(asked),
        Some(asked) => Err(BreakGlassError::DurationOutOfRange { asked, max: glass.duration }),
    }
}

/// An after-review's verdict on a break-glass use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// The use was warranted.
    Ok,
    /// The use needs a closer look: recorded and notified.
    Flag,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Ok => "ok",
            ReviewDecision::Flag => "flag",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ReviewDecision::Ok, ReviewDecision::Flag].into_iter().find(|decision| decision.as_str() == text)
    }
}

/// One reviewer's after-review, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterReviewEntry {
    pub reviewer: IdentityId,
    pub decision: ReviewDecision,
    pub reason: String,
    /// How long before the review the reviewer last verified a second factor.
    pub mfa_age_seconds: i64,
    pub created_at: OffsetDateTime,
}

/// The after-review a break-glass request owes, as stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterReviewStatus {
    pub due_at: OffsetDateTime,
    /// How many distinct reviewers complete it.
    pub need: u32,
    /// Oldest first.
    pub reviews: Vec<AfterReviewEntry>,
    pub completed_at: Option<OffsetDateTime>,
    /// When the scheduler last raised it as overdue.
    pub last_alert_at: Option<OffsetDateTime>,
    /// Moves with every review: a reviewer names the revision it counted.
    pub revision: i64,
}

impl AfterReviewStatus {
    /// Whether any reviewer flagged the use.
    pub fn flagged(&self) -> bool {
        self.reviews.iter().any(|review| review.decision == ReviewDecision::Flag)
    }

    /// Whether it is past due and not complete at `now`.
    pub fn overdue_at(&self, now: OffsetDateTime) -> bool {
        self.completed_at.is_none() && now >= self.due_at
    }
}

/// An after-review about to be stored with its break-glass request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAfterReview {
    pub due_at: OffsetDateTime,
    pub need: u32,
}

/// Whether one more review by `reviewer` is taken (not complete, not
/// reviewed by them before), and whether it completes the after-review:
/// `need` distinct reviewers, whatever each decided.
pub fn check_review_count(status: &AfterReviewStatus, reviewer: IdentityId) -> Result<bool, BreakGlassError> {
    if status.completed_at.is_some() {
        return Err(BreakGlassError::ReviewComplete);
    }
    if status.reviews.iter().any(|review| review.reviewer == reviewer) {
        return Err(BreakGlassError::AlreadyReviewed);
    }
    Ok(status.reviews.len() + 1 >= status.need as usize)
}

/// How often an overdue after-review is raised again.
pub const OVERDUE_REPEAT: Duration = Duration::hours(1);

/// Whether an overdue after-review must be raised now: it is past due and
/// was last raised at least [`OVERDUE_REPEAT`] ago (or never).
pub fn overdue_alert_due(review_due: OffsetDateTime, last_alert: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    now >= review_due && last_alert.is_none_or(|last| now - last >= OVERDUE_REPEAT)
}
