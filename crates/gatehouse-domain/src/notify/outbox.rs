//! The durable outbox's records: a delivery waiting to go out (or held
//! until a request is decided; about a request, a vendor or an integration), a delivery claimed by one node for a while,
//! and what its attempt came to. The store keeps them
//! ([`OutboxStore`](crate::store::OutboxStore)); the server sends them.

use serde_json::json;
use time::OffsetDateTime;

use super::{NotificationEvent, TargetKind};
use crate::access::RequestState;
use crate::audit::AuditEntry;
use crate::ids::{ApprovalRequestId, DeliveryId};

/// Where a delivery goes: a configured target, or the callback of a GitHub
/// deployment protection rule (held until its request is decided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    Target(TargetKind),
    GithubProtection,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Target(kind) => kind.as_str(),
            DeliveryKind::GithubProtection => "github_protection",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "github_protection" => Some(DeliveryKind::GithubProtection),
            other => TargetKind::parse(other).map(DeliveryKind::Target),
        }
    }
}

/// A rendered notification for one target, to be sent from `created_at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: DeliveryId,
    /// The target's name (`[notify.NAME]`).
    pub target: String,
    pub kind: DeliveryKind,
    pub event: NotificationEvent,
    /// The request it is about; `None` for a vendor's or an integration's.
    pub request_id: Option<ApprovalRequestId>,
    /// What it is about, as the audit log names it (`request:<id>`,
    /// `vendor:<id>`, `integration:<id>`): the resource of its
    /// `notify.send` and `notify.fail` entries.
    pub subject: String,
    /// Exactly the bytes sent (and signed).
    pub body: Vec<u8>,
    pub created_at: OffsetDateTime,
}

/// The answer a GitHub deployment protection rule waits for: where to send
/// it and for which environment. The verdict is the request's, when it is
/// decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionCallback {
    pub installation_id: u64,
    pub callback_url: String,
    pub environment: String,
}

/// A delivery held until its request is no longer `pending`, then rendered
/// with the request's state and sent like any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHeldDelivery {
    pub id: DeliveryId,
    pub request_id: ApprovalRequestId,
    pub callback: ProtectionCallback,
    pub created_at: OffsetDateTime,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub target: String,
    pub kind: DeliveryKind,
    pub event: NotificationEvent,
    /// The request it is about; `None` for a vendor's or an integration's.
    pub request_id: Option<ApprovalRequestId>,
    /// What it is about, as the audit log names it.
    pub subject: String,
    /// `None` while held.
    pub body: Option<Vec<u8>>,
    /// What a held delivery answers, once released.
    pub callback: Option<ProtectionCallback>,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due next; `None` while held, once delivered and once
    /// given up.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub given_up_at: Option<OffsetDateTime>,
    /// Why the last attempt failed, in a few words (never a secret, never
    /// what the target answered beyond its status).
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Delivery {
    pub fn is_held(&self) -> bool {
        self.body.is_none()
    }
}

/// A delivery one node may send until `lease_until`; the result is taken
/// only with the same `lease` (a node that took longer than its lease and
/// lost it to another records nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub lease: String,
    pub lease_until: OffsetDateTime,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered {
        at: OffsetDateTime,
    },
    /// Tried again at `retry_at`, or given up when it is `None`.
    Failed {
        at: OffsetDateTime,
        error: String,
        retry_at: Option<OffsetDateTime>,
    },
}

/// Entries of the fed actions after the feeder's cursor, and where the
/// cursor moves once they are turned into deliveries: past every entry
/// read, relevant or not.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBatch {
    pub from: u64,
    pub entries: Vec<AuditEntry>,
    pub next: u64,
}

/// What a deployment protection rule is told of a request's final state:
/// approved for an approval (also once used or activated), rejected for
/// anything else.
pub fn protection_verdict(state: RequestState) -> &'static str {
    match state {
        RequestState::Approved | RequestState::Active | RequestState::Consumed => "approved",
        _ => "rejected",
    }
}

/// The body of a protection rule's answer (GitHub's
/// `{environment_name, state, comment}`), rendered when the held delivery
/// is released.
/// `progress` is the rule's count per clause (`role:release-approver 1/1,
/// group:security 1/1`); the comment is cut to GitHub's 1,000 characters.
pub fn protection_answer(
    callback: &ProtectionCallback,
    state: RequestState,
    request_id: &str,
    progress: &str,
) -> Vec<u8> {
    let verdict = protection_verdict(state);
    let mut comment = format!("gatehouse {verdict}: request {request_id} is {state}");
    if !progress.is_empty() {
        comment.push_str(&format!(" ({progress})"));
    }
    let comment: String = comment.chars().take(1_000).collect();
    let body = json!({
        "environment_name": callback.environment,
        "state": verdict,
        "comment": comment,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
