//! Notifications about requests, as they leave gatehouse: the body each
//! kind of target receives, its signature, and when a failed delivery is
//! tried again. Sending is the server's (through the durable outbox).
//!
//! Generic webhooks are signed as GitHub signs its own:
//! `X-Gatehouse-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
//!
//! Which audit entries become notifications is [`event_for`]: the outbox's
//! feeder reads the log after its cursor and asks it of each entry, so a
//! notification exists only for a change that was committed.
//!
//! Besides requests, the scheduler's word on vendors and integrations
//! (evidence due soon or expired, an integration lapsed, suspended or
//! restored, an exception expired) goes out to the targets
//! `vendor-access.toml` names ([`vendor`]).
//!
//! Access reviews (a campaign opened, its reminder, its close with
//! defaults applied, and its alerts) go to the targets `reviews.toml`
//! names ([`review`]).

mod outbox;
mod review;
mod vendor;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::Duration;

use crate::access::{ApprovalRequest, RequestKind, RequestState};
use crate::audit::{AuditAction, Outcome};

pub use outbox::{
    ClaimedDelivery, Delivery, DeliveryKind, DeliveryResult, FeedBatch, NewDelivery, NewHeldDelivery,
    ProtectionCallback, protection_answer, protection_verdict,
};
pub use review::{ReviewNotification, render_review, review_summary};
pub use vendor::{VendorNotification, render_vendor};

/// The header a generic webhook's signature travels in.
pub const SIGNATURE_HEADER: &str = "X-Gatehouse-Signature-256";

/// How many times a delivery is tried before it is given up (and audited
/// as failed).
pub const MAX_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationEvent {
    RequestCreated,
    Vote,
    Decided,
    Expired,
    Cancelled,
    BreakGlass,
    AfterReviewOverdue,
    EvidenceDueSoon,
    EvidenceExpired,
    IntegrationLapsed,
    IntegrationSuspended,
    IntegrationRestored,
    ExceptionExpired,
    ReviewOpened,
    ReviewReminder,
    ReviewDefaulted,
    ReviewAlert,
}

impl NotificationEvent {
    pub const ALL: [NotificationEvent; 17] = [
        NotificationEvent::RequestCreated,
        NotificationEvent::Vote,
        NotificationEvent::Decided,
        NotificationEvent::Expired,
        NotificationEvent::Cancelled,
        NotificationEvent::BreakGlass,
        NotificationEvent::AfterReviewOverdue,
        NotificationEvent::EvidenceDueSoon,
        NotificationEvent::EvidenceExpired,
        NotificationEvent::IntegrationLapsed,
        NotificationEvent::IntegrationSuspended,
        NotificationEvent::IntegrationRestored,
        NotificationEvent::ExceptionExpired,
        NotificationEvent::ReviewOpened,
        NotificationEvent::ReviewReminder,
        NotificationEvent::ReviewDefaulted,
        NotificationEvent::ReviewAlert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::RequestCreated => "request.created",
            NotificationEvent::Vote => "request.vote",
            NotificationEvent::Decided => "request.decided",
            NotificationEvent::Expired => "request.expired",
            NotificationEvent::Cancelled => "request.cancelled",
            NotificationEvent::BreakGlass => "breakglass.activated",
            NotificationEvent::AfterReviewOverdue => "breakglass.review_overdue",
            NotificationEvent::EvidenceDueSoon => "evidence.due_soon",
            NotificationEvent::EvidenceExpired => "evidence.expired",
            NotificationEvent::IntegrationLapsed => "integration.lapsed",
            NotificationEvent::IntegrationSuspended => "integration.suspended",
            NotificationEvent::IntegrationRestored => "integration.restored",
            NotificationEvent::ExceptionExpired => "exception.expired",
            NotificationEvent::ReviewOpened => "review.opened",
            NotificationEvent::ReviewReminder => "review.reminder",
            NotificationEvent::ReviewDefaulted => "review.defaults_applied",
            NotificationEvent::ReviewAlert => "review.alert",
        }
    }

    /// Whether it is about a vendor or an integration, not a request: its
    /// targets are `vendor-access.toml`'s, not a rule's.
    pub fn is_about_vendor(self) -> bool {
        matches!(
            self,
            NotificationEvent::EvidenceDueSoon
                | NotificationEvent::EvidenceExpired
                | NotificationEvent::IntegrationLapsed
                | NotificationEvent::IntegrationSuspended
                | NotificationEvent::IntegrationRestored
                | NotificationEvent::ExceptionExpired
        )
    }

    /// Whether it is about an access review: its targets are
    /// `reviews.toml`'s.
    pub fn is_about_review(self) -> bool {
        matches!(
            self,
            NotificationEvent::ReviewOpened
                | NotificationEvent::ReviewReminder
                | NotificationEvent::ReviewDefaulted
                | NotificationEvent::ReviewAlert
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }
}

/// The audit actions the feeder reads; every other entry is passed over.
pub const FED_ACTIONS: [AuditAction; 17] = [
    AuditAction::RequestCreate,
    AuditAction::RequestVote,
    AuditAction::RequestDecide,
    AuditAction::RequestExpire,
    AuditAction::RequestCancel,
    AuditAction::BreakglassActivate,
    AuditAction::BreakglassOverdue,
    AuditAction::EvidenceDueSoon,
    AuditAction::EvidenceExpire,
    AuditAction::IntegrationLapse,
    AuditAction::IntegrationSuspend,
    AuditAction::IntegrationRestore,
    AuditAction::ExceptionExpire,
    AuditAction::ReviewOpen,
    AuditAction::ReviewRemind,
    AuditAction::ReviewClose,
    AuditAction::ReviewAlert,
];

/// The notification an audit entry calls for, if any: a request created, a
/// vote cast (not one withdrawn), a decision, an expiry, a cancellation, a
/// break-glass use and an overdue after-review. Refusals and failures (an
/// entry whose outcome is not `success`) tell nobody anything, nor do
/// supersession, consumption, revocation and review decisions. The scheduler's word
/// on vendors is told whatever its outcome: an expiry or a lapse is
/// recorded as a failure, and is exactly what must be heard. Of access
/// reviews: a campaign opened, its reminder, its close when defaults were
/// applied, and every alert (recorded as a failure).
pub fn event_for(action: &str, outcome: Outcome, details: &Value) -> Option<NotificationEvent> {
    let action = FED_ACTIONS.into_iter().find(|fed| fed.as_str() == action)?;
    if let Some(event) = vendor::event_of(action) {
        return Some(event);
    }
    if let Some(event) = review::event_of(action, outcome, details) {
        return event;
    }
    if outcome != Outcome::Success {
        return None;
    }
    Some(match action {
        AuditAction::RequestCreate => NotificationEvent::RequestCreated,
        AuditAction::RequestVote if details["withdrawn"] == json!(true) => return None,
        AuditAction::RequestVote => NotificationEvent::Vote,
        AuditAction::RequestDecide => NotificationEvent::Decided,
        AuditAction::RequestExpire => NotificationEvent::Expired,
        AuditAction::RequestCancel => NotificationEvent::Cancelled,
        AuditAction::BreakglassActivate => NotificationEvent::BreakGlass,
        AuditAction::BreakglassOverdue => NotificationEvent::AfterReviewOverdue,
        _ => return None,
    })
}

/// Whether `event` says nothing a target has not heard: a break-glass
/// request's creation is told by its `breakglass.activated` notification.
pub fn told_otherwise(event: NotificationEvent, request: &ApprovalRequest) -> bool {
    event == NotificationEvent::RequestCreated && request.break_glass
}

/// The request an entry is about: `details.request_id`, else the id in a
/// `request:<id>` resource.
pub fn request_of(resource: &str, details: &Value) -> Option<String> {
    details["request_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| resource.strip_prefix("request:").map(str::to_owned))
        .filter(|id| !id.is_empty())
}

/// The request's state right after `event`, as the entry tells it (the
/// request may have moved on since the entry was written): a decision
/// names its state, an expiry or a cancellation is its own, and otherwise
/// the request is still where `current` says, or `pending` for a vote or a
/// creation (a deciding vote is followed by its own decision entry).
pub fn state_after(event: NotificationEvent, details: &Value, current: RequestState) -> String {
    match event {
        NotificationEvent::Decided => {
            details["state"].as_str().map_or_else(|| current.as_str().to_owned(), str::to_owned)
        }
        NotificationEvent::Expired => RequestState::Expired.as_str().to_owned(),
        NotificationEvent::Cancelled => RequestState::Cancelled.as_str().to_owned(),
        NotificationEvent::RequestCreated | NotificationEvent::Vote => RequestState::Pending.as_str().to_owned(),
        NotificationEvent::BreakGlass | NotificationEvent::AfterReviewOverdue => current.as_str().to_owned(),
        // Not about a request: the request's state says nothing.
        _ => current.as_str().to_owned(),
    }
}

/// The one line people read: who asked for what, and what happened.
/// `requester` and `actor` are names as shown (an email, else the name);
/// `actor` is the voter of a vote. The decided line names the requester,
/// who is told the outcome through the rule's targets.
pub fn summary(
    event: NotificationEvent,
    request: &ApprovalRequest,
    requester: &str,
    actor: Option<&str>,
    details: &Value,
) -> String {
    let what = match &request.kind {
        RequestKind::Access { role, scope, duration } => {
            format!("{role} on {scope} for {}", crate::span::format_duration(*duration))
        }
        RequestKind::Action { action, resource, binding } => match binding {
            Some(run) => format!(
                "{action} on {resource} (run {} attempt {} of {} at {})",
                run.run_id,
                run.run_attempt,
                run.repository,
                run.sha.get(..12).unwrap_or(&run.sha)
            ),
            None => format!("{action} on {resource}"),
        },
    };
    let because = match (&request.reason, &request.ticket) {
        (Some(reason), Some(ticket)) => format!(": {reason} ({ticket})"),
        (Some(reason), None) => format!(": {reason}"),
        (None, Some(ticket)) => format!(" ({ticket})"),
        (None, None) => String::new(),
    };
    let actor = actor.unwrap_or("someone");
    match event {
        NotificationEvent::RequestCreated => format!("{requester} asks for {what}{because}"),
        NotificationEvent::Vote => {
            let decision = match details["decision"].as_str() {
                Some("deny") => "denied",
                _ => "approved",
            };
            format!("{actor} {decision} the request of {requester} for {what}")
        }
        NotificationEvent::Decided => {
            let state = details["state"].as_str().unwrap_or(request.state.as_str());
            format!("{requester}: your request for {what} was {state}")
        }
        NotificationEvent::Expired => format!("{requester}: your request for {what} expired"),
        NotificationEvent::Cancelled => format!("the request of {requester} for {what} was cancelled"),
        NotificationEvent::BreakGlass => {
            let incident = request.incident.as_deref().map(|i| format!(" (incident {i})")).unwrap_or_default();
            format!("BREAK-GLASS: {requester} took {what}{incident}{because}")
        }
        NotificationEvent::AfterReviewOverdue => {
            format!("the after-review of {requester}'s break-glass use of {what} is overdue")
        }
        // Not about a request: the vendor's own sentence is its summary.
        _ => format!("{} about the request of {requester} for {what}", event.as_str()),
    }
}

/// The kinds of target a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A JSON body, signed with the target's secret.
    Webhook,
    /// A Slack-compatible incoming webhook: `{"text": …}`.
    Slack,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Webhook => "webhook",
            TargetKind::Slack => "slack",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "webhook" => Some(TargetKind::Webhook),
            "slack" => Some(TargetKind::Slack),
            _ => None,
        }
    }
}

/// What is said: built by the server from the request, rendered here.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub event: NotificationEvent,
    pub request_id: String,
    pub rule_id: String,
    /// One line for people, e.g. "ana@example.com asks for deployer on
    /// project:acme/web for 2h".
    pub summary: String,
    /// Where to decide, when gatehouse knows its public address.
    pub url: Option<String>,
    /// The request's state after the event.
    pub state: String,
    /// When it happened, RFC 3339.
    pub at: String,
}

/// The bytes sent to a target of `kind`.
pub fn render(notification: &Notification, kind: TargetKind) -> Vec<u8> {
    let value = match kind {
        TargetKind::Webhook => json!({
            "event": notification.event.as_str(),
            "request_id": notification.request_id,
            "rule": notification.rule_id,
            "state": notification.state,
            "summary": notification.summary,
            "url": notification.url,
            "at": notification.at,
        }),
        TargetKind::Slack => {
            let link = notification.url.as_deref().map(|url| format!(" <{url}|open>")).unwrap_or_default();
            json!({
                "text": format!(
                    "[gatehouse] {}: {} ({}, rule `{}`){link}",
                    notification.event.as_str(),
                    slack_escape(&notification.summary),
                    notification.state,
                    slack_escape(&notification.rule_id),
                ),
            })
        }
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Slack reads `<`, `>` and `&` as markup: a summary holding a requester's
/// reason must not turn into a link or a mention.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`.
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// How long to wait before attempt `attempt + 1` after `attempt` failed
/// (1-based), or `None` when the delivery is given up: 30 s, doubling,
/// at most an hour apart.
pub fn retry_delay(attempt: u32) -> Option<Duration> {
    if attempt == 0 || attempt >= MAX_ATTEMPTS {
        return None;
    }
    let seconds = 30i64.saturating_mul(1i64 << (attempt - 1).min(20));
    Some(Duration::seconds(seconds.min(3600)))
}

#[cfg(test)]
mod tests;
