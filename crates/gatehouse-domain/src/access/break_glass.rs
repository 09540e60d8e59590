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

/// How often an overdue after-review is raised again.
pub const OVERDUE_REPEAT: Duration = Duration::hours(1);

/// Whether an overdue after-review must be raised now: it is past due and
/// was last raised at least [`OVERDUE_REPEAT`] ago (or never).
pub fn overdue_alert_due(review_due: OffsetDateTime, last_alert: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    now >= review_due && last_alert.is_none_or(|last| now - last >= OVERDUE_REPEAT)
}
