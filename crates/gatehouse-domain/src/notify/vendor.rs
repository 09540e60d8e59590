//! Notifications about vendors and integrations: which of the scheduler's
//! entries they come from, and the body each kind of target receives. The
//! sentence people read is the entry's own reason ("SOC 2 report for Acme
//! Scan expired 2026-10-31"), so the log and the message say one thing.

use serde_json::{Value, json};

use super::{NotificationEvent, TargetKind, slack_escape};
use crate::audit::AuditAction;

/// The vendor event an audit action is, if it is one.
pub(super) fn event_of(action: AuditAction) -> Option<NotificationEvent> {
    Some(match action {
        AuditAction::EvidenceDueSoon => NotificationEvent::EvidenceDueSoon,
        AuditAction::EvidenceExpire => NotificationEvent::EvidenceExpired,
        AuditAction::IntegrationLapse => NotificationEvent::IntegrationLapsed,
        AuditAction::IntegrationSuspend => NotificationEvent::IntegrationSuspended,
        AuditAction::IntegrationRestore => NotificationEvent::IntegrationRestored,
        AuditAction::ExceptionExpire => NotificationEvent::ExceptionExpired,
        _ => return None,
    })
}

/// What is said about a vendor or an integration: built by the server from
/// the audit entry, rendered here.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorNotification {
    pub event: NotificationEvent,
    /// What it is about, as the log names it (`vendor:<id>`,
    /// `integration:<id>`).
    pub subject: String,
    /// The entry's reason: one line for people.
    pub summary: String,
    /// The entry's details (vendor and evidence ids, the kind, dates,
    /// reasons), passed on as they are.
    pub details: Value,
    /// When it happened, RFC 3339.
    pub at: String,
}

/// The bytes sent to a target of `kind`.
pub fn render_vendor(notification: &VendorNotification, kind: TargetKind) -> Vec<u8> {
    let value = match kind {
        TargetKind::Webhook => json!({
            "event": notification.event.as_str(),
            "subject": notification.subject,
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
