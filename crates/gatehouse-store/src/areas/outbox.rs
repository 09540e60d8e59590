//! [`OutboxStore`] for [`SqlStore`]: the notification outbox. Every write
//! goes through the writer, whose transactions are serialized on both
//! engines (SQLite: one writer; PostgreSQL: the append lock across
//! processes), so the cursor's compare-and-move and a claim's lease are
//! each one node's at a time; the claim's `UPDATE` repeats its conditions
//! besides, so a row another transaction leased is never taken over.

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use gatehouse_domain::access::RequestState;
use gatehouse_domain::audit::{AuditAction, AuditRecord};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::{ApprovalRequestId, DeliveryId};
use gatehouse_domain::notify::{
    ClaimedDelivery, Delivery, DeliveryKind, DeliveryResult, FeedBatch, NewDelivery, NewHeldDelivery,
    NotificationEvent, ProtectionCallback,
};
use gatehouse_domain::store::{OutboxStore, PageRequest, StoreError};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::{Duration, OffsetDateTime};

use crate::error::{corrupt, store_error};
use crate::rows::{self, AUDIT_COLUMNS};
use crate::sql_store::SqlStore;

const CURSOR: &str = "notify";

const DELIVERY_COLUMNS: &str = "id, target, kind, event, request_id, subject, body, callback, attempts, \
     next_attempt_at, delivered_at, given_up_at, last_error, created_at";

/// The delivery columns, each as `<prefix><column>`.
fn delivery_columns(prefix: &str) -> String {
    DELIVERY_COLUMNS.split(", ").map(|column| format!("{prefix}{column}")).collect::<Vec<_>>().join(", ")
}

fn get<T>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(store_error)
}

fn instant(row: &AnyRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.map(from_unix_millis))
}

fn callback_json(callback: &ProtectionCallback) -> String {
    json!({
        "installation_id": callback.installation_id,
        "callback_url": callback.callback_url,
        "environment": callback.environment,
    })
    .to_string()
}

fn callback_of(raw: &str) -> Result<ProtectionCallback, StoreError> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| corrupt("callback", raw))?;
    let text = |key: &str| value[key].as_str().map(str::to_owned).ok_or_else(|| corrupt("callback", raw));
    Ok(ProtectionCallback {
        installation_id: value["installation_id"].as_u64().ok_or_else(|| corrupt("callback", raw))?,
        callback_url: text("callback_url")?,
        environment: text("environment")?,
    })
}

fn delivery_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    let id: String = get(row, "id")?;
    let kind: String = get(row, "kind")?;
    let event: String = get(row, "event")?;
    let request: Option<String> = get(row, "request_id")?;
    let attempts: i64 = get(row, "attempts")?;
    Ok(Delivery {
        id: id.parse().map_err(|_| corrupt("delivery id", &id))?,
        target: get(row, "target")?,
        kind: DeliveryKind::parse(&kind).ok_or_else(|| corrupt("delivery kind", &kind))?,
        event: NotificationEvent::parse(&event).ok_or_else(|| corrupt("event", &event))?,
        request_id: request.map(|id| id.parse().map_err(|_| corrupt("request id", &id))).transpose()?,
        subject: get(row, "subject")?,
        body: get(row, "body")?,
        callback: get::<Option<String>>(row, "callback")?.map(|raw| callback_of(&raw)).transpose()?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", attempts))?,
        next_attempt_at: instant(row, "next_attempt_at")?,
        delivered_at: instant(row, "delivered_at")?,
        given_up_at: instant(row, "given_up_at")?,
        last_error: get(row, "last_error")?,
        created_at: from_unix_millis(get(row, "created_at")?),
    })
}

async fn delivery_in(conn: &mut AnyConnection, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {DELIVERY_COLUMNS} FROM notify_deliveries WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    row.as_ref().map(delivery_row).transpose()
}

async fn cursor_in(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let next: Option<i64> = sqlx::query_scalar("SELECT next_index FROM notify_cursor WHERE name = $1")
        .bind(CURSOR)
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(next.and_then(|next| u64::try_from(next).ok()).unwrap_or(0))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

async fn insert_delivery(conn: &mut AnyConnection, delivery: &NewDelivery) -> Result<(), StoreError> {
    let at = to_unix_millis(delivery.created_at);
    sqlx::query(
        "INSERT INTO notify_deliveries \
         (id, target, kind, event, request_id, subject, body, callback, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $8, $6, NULL, 0, $7, $7)",
    )
    .bind(delivery.id.to_string())
    .bind(delivery.target.clone())
    .bind(delivery.kind.as_str())
    .bind(delivery.event.as_str())
    .bind(delivery.request_id.map(|id| id.to_string()))
    .bind(delivery.body.clone())
    .bind(at)
    .bind(delivery.subject.clone())
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Pins a write's closure to the writer's signature.
fn write_op<T, F>(op: F) -> F
where
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Vec<AuditRecord>), StoreError>>,
{
    op
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn notification_feed(&self, actions: &[AuditAction], limit: u32) -> Result<FeedBatch, StoreError> {
        let limit = limit.clamp(1, PageRequest::MAX_LIMIT);
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let from = cursor_in(&mut conn).await?;
        // The end first: every entry below it is committed, and an entry
        // committed after this read lies at or beyond it.
        let end: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries")
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        let end = u64::try_from(end).unwrap_or(0);
        if end <= from {
            return Ok(FeedBatch { from, entries: Vec::new(), next: from });
        }
        let placeholders = (0..actions.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
        let wanted = if actions.is_empty() { "FALSE".to_owned() } else { format!("action IN ({placeholders})") };
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entries WHERE idx >= $1 AND idx < $2 AND {wanted} \
             ORDER BY idx LIMIT {limit}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(to_i64(from)).bind(to_i64(end));
        for action in actions {
            query = query.bind(action.as_str());
        }
        let rows = query.fetch_all(&mut *conn).await.map_err(store_error)?;
        let entries = rows.iter().map(rows::audit_entry).collect::<Result<Vec<_>, _>>()?;
        let next = match entries.last() {
            Some(last) if entries.len() == usize::try_from(limit).unwrap_or(usize::MAX) => last.index + 1,
            _ => end,
        };
        Ok(FeedBatch { from, entries, next })
    }

    async fn enqueue_notifications(
        &self,
        from: u64,
        next: u64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let moved = sqlx::query("UPDATE notify_cursor SET next_index = $1 WHERE name = $2 AND next_index = $3")
                    .bind(to_i64(next))
                    .bind(CURSOR)
                    .bind(to_i64(from))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                if moved.rows_affected() == 0 {
                    return Ok((false, Vec::new()));
                }
                for delivery in &deliveries {
                    insert_delivery(conn, delivery).await?;
                }
                Ok((true, Vec::new()))
            }
            .boxed()
        });
        let (moved, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(moved)
    }

    async fn hold_delivery(&self, held: NewHeldDelivery, audits: Vec<AuditRecord>) -> Result<Delivery, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let exists: Option<String> = sqlx::query_scalar("SELECT id FROM approval_requests WHERE id = $1")
                    .bind(held.request_id.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                if exists.is_none() {
                    return Err(StoreError::not_found("request", held.request_id));
                }
                sqlx::query(
                    "INSERT INTO notify_deliveries \
                     (id, target, kind, event, request_id, subject, body, callback, attempts, next_attempt_at, \
                     created_at) VALUES ($1, 'github', $2, $3, $4, $7, NULL, $5, 0, NULL, $6)",
                )
                .bind(held.id.to_string())
                .bind(DeliveryKind::GithubProtection.as_str())
                .bind(NotificationEvent::Decided.as_str())
                .bind(held.request_id.to_string())
                .bind(callback_json(&held.callback))
                .bind(to_unix_millis(held.created_at))
                .bind(format!("request:{}", held.request_id))
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                let stored =
                    delivery_in(conn, held.id).await?.ok_or_else(|| StoreError::not_found("delivery", held.id))?;
                Ok((stored, audits))
            }
            .boxed()
        });
        let (delivery, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(delivery)
    }

    async fn releasable_deliveries(&self, limit: u32) -> Result<Vec<(Delivery, RequestState)>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, r.state AS request_state FROM notify_deliveries d \
             JOIN approval_requests r ON r.id = d.request_id \
             WHERE d.body IS NULL AND r.state <> 'pending' ORDER BY d.created_at, d.id LIMIT $1",
            delivery_columns("d.")
        )))
        .bind(i64::from(limit.clamp(1, PageRequest::MAX_LIMIT)))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let state: String = get(row, "request_state")?;
                let state = RequestState::parse(&state).ok_or_else(|| corrupt("request state", &state))?;
                Ok((delivery_row(row)?, state))
            })
            .collect()
    }

    async fn release_delivery(&self, id: DeliveryId, body: Vec<u8>, at: OffsetDateTime) -> Result<bool, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let released = sqlx::query(
                    "UPDATE notify_deliveries SET body = $1, next_attempt_at = $2 WHERE id = $3 AND body IS NULL",
                )
                .bind(body)
                .bind(to_unix_millis(at))
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                Ok((released.rows_affected() == 1, Vec::new()))
            }
            .boxed()
        });
        let (released, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(released)
    }

    async fn next_delivery_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let due: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM notify_deliveries WHERE next_attempt_at IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        Ok(due.map(from_unix_millis))
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_for: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let limit = i64::from(limit.clamp(1, PageRequest::MAX_LIMIT));
        let op = write_op(move |conn| {
            async move {
                let (now, until) = (to_unix_millis(now), to_unix_millis(now + lease_for));
                let lease = DeliveryId::new().to_string();
                // The conditions are repeated outside the subquery: on
                // PostgreSQL a row another transaction leased meanwhile is
                // checked again once its lock is released, and skipped.
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE notify_deliveries SET lease = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM notify_deliveries \
                                  WHERE next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
                                  ORDER BY next_attempt_at, id LIMIT $4) \
                       AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(lease.clone())
                .bind(until)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?;
                let mut claimed = rows
                    .iter()
                    .map(|row| {
                        Ok(ClaimedDelivery {
                            delivery: delivery_row(row)?,
                            lease: lease.clone(),
                            lease_until: from_unix_millis(until),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                claimed.sort_by_key(|claim| (claim.delivery.next_attempt_at, claim.delivery.id));
                Ok((claimed, Vec::new()))
            }
            .boxed()
        });
        let (claimed, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(claimed)
    }

    async fn record_delivery(
        &self,
        id: DeliveryId,
        lease: &str,
        result: DeliveryResult,
        audit: AuditRecord,
    ) -> Result<Option<Delivery>, StoreError> {
        let lease = lease.to_owned();
        let op = write_op(move |conn| {
            async move {
                let (delivered_at, next_attempt_at, given_up_at, error) = match &result {
                    DeliveryResult::Delivered { at } => (Some(*at), None, None, None),
                    DeliveryResult::Failed { at, error, retry_at } => {
                        (None, *retry_at, retry_at.is_none().then_some(*at), Some(error.clone()))
                    }
                };
                let query = sqlx::query(
                    "UPDATE notify_deliveries SET attempts = attempts + 1, delivered_at = $1, \
                     next_attempt_at = $2, given_up_at = $3, last_error = $4, lease = NULL, lease_until = NULL \
                     WHERE id = $5 AND lease = $6 AND next_attempt_at IS NOT NULL",
                )
                .bind(delivered_at.map(to_unix_millis))
                .bind(next_attempt_at.map(to_unix_millis))
                .bind(given_up_at.map(to_unix_millis))
                .bind(error)
                .bind(id.to_string())
                .bind(lease.clone());
                let updated = query.execute(&mut *conn).await.map_err(store_error)?;
                if updated.rows_affected() == 0 {
                    return Ok((None, Vec::new()));
                }
                Ok((delivery_in(conn, id).await?, vec![audit]))
            }
            .boxed()
        });
        let (delivery, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(delivery)
    }

    async fn find_delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        delivery_in(&mut conn, id).await
    }

    async fn deliveries_for(&self, request: ApprovalRequestId) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM notify_deliveries WHERE request_id = $1 ORDER BY created_at, id"
        )))
        .bind(request.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(delivery_row).collect()
    }
}
