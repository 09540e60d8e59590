//! Webhook deliveries, recorded once.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::webhook::WebhookDelivery;

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Records a webhook delivery with the entries it produced, in one
    /// transaction, and forgets deliveries received before
    /// `delivery.forget_before()`. `Conflict` if the source saw the
    /// delivery id or the body's hash before (a replay), and then nothing
    /// is written.
    async fn record_webhook_delivery(
        &self,
        delivery: WebhookDelivery,
        audit: Vec<AuditRecord>,
    ) -> Result<Vec<u64>, StoreError>;
}
