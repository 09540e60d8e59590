//! Notifications about access reviews: which entries they come from
//! (`review.open`, `review.remind`, `review.close` when defaults were
//! applied, every `review.alert`), the sentence people read, and the body
//! each kind of target receives. The server fills in what the entry only
//! names (the campaign's name, its reviewers as people).

use serde_json::{Value, json};

use super::{NotificationEvent, TargetKind, slack_escape};
use crate::audit::{AuditAction, Outcome};

/// The most reviewers a sentence names; the rest are counted.
pub const MAX_NAMED_REVIEWERS: usize = 20;

/// `Some(event)` when `action` is a review action: `Some(None)` when this
/// entry of it tells nobody anything (a refused opening, a close that
/// applied no default).
pub(super) fn event_of(action: AuditAction, outcome: Outcome, details: &Value) -> Option<Option<NotificationEvent>> {
    Some(match action {
        AuditAction::ReviewOpen => (outcome == Outcome::Success).then_some(NotificationEvent::ReviewOpened),
        AuditAction::ReviewRemind => (outcome == Outcome::Success).then_some(NotificationEvent::ReviewReminder),
        AuditAction::ReviewClose => {
            let defaulted = details["counts"]["defaulted"].as_u64().unwrap_or(0);
            (outcome == Outcome::Success && defaulted > 0).then_some(NotificationEvent::ReviewDefaulted)
        }
        // An alert is recorded as a failure: that is what must be heard.
        AuditAction::ReviewAlert => Some(NotificationEvent::ReviewAlert),
        _ => return None,
    })
}

/// What is said about a campaign: built by the server from the entry and
/// the campaign, rendered here.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewNotification {
    pub event: NotificationEvent,
    pub campaign_id: String,
    /// The campaign's name.
    pub name: String,
    /// The reviewers asked (opened) or still waited on (reminder), as
    /// shown: an email, else the name. Empty for the others.
    pub reviewers: Vec<String>,
    /// One line for people ([`review_summary`]).
    pub summary: String,
    /// The entry's details, passed on as they are.
    pub details: Value,
    /// When it happened, RFC 3339.
    pub at: String,
}

/// The one line people read. `details` are the entry's; `deadline` the
/// campaign's (RFC 3339), which a close or an alert entry does not carry.
pub fn review_summary(
    event: NotificationEvent,
    name: &str,
    reviewers: &[String],
    deadline: Option<&str>,
    details: &Value,
) -> String {
    let count = |field: &str| details[field].as_u64().unwrap_or(0);
    let by = deadline.map(|at| format!(" by {at}")).unwrap_or_default();
    match event {
        NotificationEvent::ReviewOpened => {
            let items = count("items");
            format!(
                "access review \"{name}\" opened: {items} {} to decide{by}; reviewers: {}",
                plural(items),
                people(reviewers)
            )
        }
        NotificationEvent::ReviewReminder => {
            let undecided = count("undecided");
            format!(
                "reminder: access review \"{name}\" has {undecided} undecided {}{by}; waiting on: {}",
                plural(undecided),
                people(reviewers)
            )
        }
        NotificationEvent::ReviewDefaulted => {
            let counts = &details["counts"];
            let n = |field: &str| counts[field].as_u64().unwrap_or(0);
            let mut line = format!(
                "access review \"{name}\" closed: {} of {} {} got the default at the deadline (totals: kept {}, revoked {}, narrowed {}, suspended {})",
                n("defaulted"),
                n("items"),
                plural(n("items")),
                n("kept"),
                n("revoked"),
                n("narrowed"),
                n("suspended"),
            );
            if n("escalated") > 0 {
                line.push_str(&format!("; {} escalated instead of removing the last policy manager", n("escalated")));
            }
            if n("failed") > 0 {
                line.push_str(&format!("; {} could not be applied", n("failed")));
            }
            line
        }
        NotificationEvent::ReviewAlert => {
            let problem = details["problem"].as_str().unwrap_or("a review result needs attention");
            match details["item"].as_u64() {
                Some(item) => format!("access review \"{name}\", item {item}: {problem}"),
                None => format!("access review \"{name}\": {problem}"),
            }
        }
        other => format!("{} about access review \"{name}\"", other.as_str()),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "item" } else { "items" }
}

/// Names, at most [`MAX_NAMED_REVIEWERS`] of them, the rest counted.
fn people(reviewers: &[String]) -> String {
    if reviewers.is_empty() {
        return "nobody".into();
    }
    let mut shown = reviewers.iter().take(MAX_NAMED_REVIEWERS).cloned().collect::<Vec<_>>().join(", ");
    if reviewers.len() > MAX_NAMED_REVIEWERS {
        shown.push_str(&format!(" and {} more", reviewers.len() - MAX_NAMED_REVIEWERS));
    }
    shown
}

/// The bytes sent to a target of `kind`.
pub fn render_review(notification: &ReviewNotification, kind: TargetKind) -> Vec<u8> {
    let value = match kind {
        TargetKind::Webhook => json!({
            "event": notification.event.as_str(),
            "subject": format!("review:{}", notification.campaign_id),
            "campaign_id": notification.campaign_id,
            "name": notification.name,
            "reviewers": notification.reviewers,
            "summary": notification.summary,
            "details": notification.details,
            "at": notification.at,
        }),
        TargetKind::Slack => json!({
            "text": format!(
                "[gatehouse] {}: {}",
                notification.event.as_str(),
                slack_escape(&notification.summary),
            ),
        }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}
