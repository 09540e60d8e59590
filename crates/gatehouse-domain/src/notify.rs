//! Notifications about requests, as they leave gatehouse: the body each
//! kind of target receives, its signature, and when a failed delivery is
//! tried again. Sending is the server's (through the durable outbox).
//!
//! Generic webhooks are signed as GitHub signs its own:
//! `X-Gatehouse-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use time::Duration;

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
    BreakGlass,
    AfterReviewOverdue,
}

impl NotificationEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::RequestCreated => "request.created",
            NotificationEvent::Vote => "request.vote",
            NotificationEvent::Decided => "request.decided",
            NotificationEvent::Expired => "request.expired",
            NotificationEvent::BreakGlass => "breakglass.activated",
            NotificationEvent::AfterReviewOverdue => "breakglass.review_overdue",
        }
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
