//! A forge's webhook delivery as the store remembers it, so a replay is
//! refused on every node.
//!
//! A delivery is a replay when its id was seen before, or when its body
//! was: GitHub's HMAC covers the body but not `X-GitHub-Delivery`, and
//! GitLab's token covers neither, so whoever captured one signed delivery
//! could otherwise send it again under a fresh id. Deliveries are
//! remembered for [`REPLAY_WINDOW`], which bounds the table by the
//! forges' own traffic (an outsider cannot mint new signed bodies).

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// How long a delivery (its id and its body's hash) is remembered.
pub const REPLAY_WINDOW: Duration = Duration::days(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// `github` or `gitlab`.
    pub source: String,
    /// The forge's delivery id (`X-GitHub-Delivery`, `Idempotency-Key`, …).
    pub delivery_id: String,
    /// Lowercase hex SHA-256 of the body exactly as received.
    pub body_sha256: String,
    pub received_at: OffsetDateTime,
}

impl WebhookDelivery {
    pub fn new(source: &str, delivery_id: &str, body: &[u8], received_at: OffsetDateTime) -> Self {
        Self {
            source: source.to_owned(),
            delivery_id: delivery_id.to_owned(),
            body_sha256: body_sha256(body),
            received_at,
        }
    }

    /// Deliveries received before this instant are forgotten.
    pub fn forget_before(&self) -> OffsetDateTime {
        self.received_at - REPLAY_WINDOW
    }
}

/// Lowercase hex SHA-256 of a delivery's body.
pub fn body_sha256(body: &[u8]) -> String {
    Sha256::digest(body).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests;
