//! [`WebhookStore`] for [`SqlStore`]: deliveries recorded once, replays refused.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::store::{Conflict, StoreError, WebhookStore};
use gatehouse_domain::webhook::WebhookDelivery;

use crate::error::{on_unique, store_error};
use crate::sql_store::SqlStore;

#[async_trait]
impl WebhookStore for SqlStore {
    async fn record_webhook_delivery(
        &self,
        delivery: WebhookDelivery,
        audit: Vec<AuditRecord>,
    ) -> Result<Vec<u64>, StoreError> {
        let ((), indexes) = self
            .writer
            .submit(move |conn| {
                async move {
                    let WebhookDelivery { source, delivery_id, body_sha256, received_at } = &delivery;
                    // Forgetting first keeps the table to the replay window; the
                    // index on `received_at` makes it a range delete.
                    sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
                        .bind(to_unix_millis(delivery.forget_before()))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let earlier: Option<String> = sqlx::query_scalar(
                        "SELECT delivery_id FROM webhook_deliveries WHERE source = $1 AND body_sha256 = $2",
                    )
                    .bind(source.as_str())
                    .bind(body_sha256.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if let Some(earlier) = earlier {
                        let (source_name, delivery_id) = (source.to_string(), delivery_id.to_string());
                        return Err(if earlier == delivery_id {
                            Conflict::WebhookReplayed { source_name, delivery_id }
                        } else {
                            Conflict::WebhookBodyReplayed { source_name, delivery_id, earlier }
                        }
                        .into());
                    }
                    // Two nodes may both find nothing above: the unique indexes
                    // (source, delivery_id) and (source, body_sha256) decide.
                    let replayed = Conflict::WebhookReplayed {
                        source_name: source.to_string(),
                        delivery_id: delivery_id.to_string(),
                    };
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (source, delivery_id, received_at, body_sha256) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(source.as_str())
                    .bind(delivery_id.as_str())
                    .bind(to_unix_millis(*received_at))
                    .bind(body_sha256.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(move |_| replayed.clone()))?;
                    Ok(((), audit))
                }
                .boxed()
            })
            .await?;
        Ok(indexes)
    }
}
