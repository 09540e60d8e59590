//! The durable outbox of notifications: the feeder's cursor into the audit
//! log, deliveries waiting to go out, held deliveries waiting for a request
//! to be decided, and the lease that keeps two nodes from sending the same
//! delivery at once. A delivery's result and its `notify.send` or
//! `notify.fail` entry commit together.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::StoreError;
use crate::access::RequestState;
use crate::audit::{AuditAction, AuditRecord};
use crate::ids::{ApprovalRequestId, DeliveryId};
use crate::notify::{ClaimedDelivery, Delivery, DeliveryResult, FeedBatch, NewDelivery, NewHeldDelivery};

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Up to `limit` entries with one of `actions` from the cursor on, and
    /// where the cursor moves past them: the last one's successor when
    /// `limit` were found, else the end of the log as it was read (entries
    /// commit in index order, so none below it can appear later).
    async fn notification_feed(&self, actions: &[AuditAction], limit: u32) -> Result<FeedBatch, StoreError>;

    /// Stores `deliveries` and moves the cursor from `from` to `next`, in
    /// one transaction. `false`, with nothing written, when the cursor is no
    /// longer at `from` (another node fed those entries).
    async fn enqueue_notifications(
        &self,
        from: u64,
        next: u64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError>;

    /// Stores a delivery held until its request is no longer `pending`,
    /// with `audits`. `NotFound` for an unknown request.
    async fn hold_delivery(&self, held: NewHeldDelivery, audits: Vec<AuditRecord>) -> Result<Delivery, StoreError>;

    /// Up to `limit` held deliveries whose request is no longer `pending`,
    /// with that request's state.
    async fn releasable_deliveries(&self, limit: u32) -> Result<Vec<(Delivery, RequestState)>, StoreError>;

    /// Gives a held delivery its body and makes it due at `at`. `false`
    /// when it was released already.
    async fn release_delivery(&self, id: DeliveryId, body: Vec<u8>, at: OffsetDateTime) -> Result<bool, StoreError>;

    /// When the earliest delivery not held, delivered or given up is due.
    async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Leases up to `limit` deliveries due at `now` (earliest first) for
    /// `lease_for`: a delivery under another live lease is not claimed, on
    /// any node.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_for: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt's result with its entry (`notify.send` or
    /// `notify.fail`) and ends the lease. `None`, with nothing written, when
    /// `lease` is no longer the delivery's.
    async fn record_delivery(
        &self,
        id: DeliveryId,
        lease: &str,
        result: DeliveryResult,
        audit: AuditRecord,
    ) -> Result<Option<Delivery>, StoreError>;

    async fn find_delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError>;

    /// A request's deliveries, oldest first.
    async fn deliveries_for(&self, request: ApprovalRequestId) -> Result<Vec<Delivery>, StoreError>;
}
