//! Trust bindings (CI workload identity) and webhook deliveries.

use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::identity::{IdentityKind, IdentityStatus};
use gatehouse_domain::ids::TrustBindingId;
use gatehouse_domain::store::{Page, PageRequest, StoreError};
use gatehouse_domain::webhook::WebhookDelivery;
use gatehouse_domain::workload::{ClaimCondition, NewTrustBinding, TrustBinding};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::{SqlStore, clamp_limit, identity_in, into_page};

const COLUMNS: &str = "id, issuer, audience, claims, identity_id, max_ttl_seconds, created_at, created_by";

fn parse_id<T: std::str::FromStr>(column: &str, raw: String) -> Result<T, StoreError> {
    raw.parse().map_err(|_| corrupt(column, raw))
}

fn binding(row: &AnyRow) -> Result<TrustBinding, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(store_error);
    let claims_text = text("claims")?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&claims_text).map_err(|_| corrupt("trust binding claims", claims_text.clone()))?;
    let claims = claims
        .iter()
        .map(|(name, value)| {
            ClaimCondition::from_json(name, value)
                .map(|condition| (name.clone(), condition))
                .map_err(|e| corrupt("trust binding claims", e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let max_ttl: i64 = row.try_get("max_ttl_seconds").map_err(store_error)?;
    let created_by: Option<String> = row.try_get("created_by").map_err(store_error)?;
    Ok(TrustBinding {
        id: parse_id("trust binding id", text("id")?)?,
        issuer: text("issuer")?,
        audience: text("audience")?,
        claims,
        identity_id: parse_id("identity id", text("identity_id")?)?,
        max_ttl_seconds: u32::try_from(max_ttl).map_err(|_| corrupt("max_ttl_seconds", max_ttl))?,
        created_at: gatehouse_domain::clock::from_unix_millis(
            row.try_get::<i64, _>("created_at").map_err(store_error)?,
        ),
        created_by: created_by.map(|raw| parse_id("identity id", raw)).transpose()?,
    })
}

pub(crate) async fn create(
    store: &SqlStore,
    new: NewTrustBinding,
    audit: AuditRecord,
) -> Result<TrustBinding, StoreError> {
    let (binding, _) = store
        .writer
        .submit(move |conn| {
            async move {
                let identity = identity_in(conn, new.identity_id).await?;
                if identity.kind != IdentityKind::Service {
                    return Err(StoreError::Conflict(format!(
                        "identity `{}` is a person; CI jobs act as service identities",
                        identity.id
                    )));
                }
                if identity.status != IdentityStatus::Active {
                    return Err(StoreError::Conflict(format!("identity `{}` is not active", identity.id)));
                }
                let binding = TrustBinding::from(new);
                sqlx::query(
                    "INSERT INTO trust_bindings \
                     (id, issuer, audience, claims, identity_id, max_ttl_seconds, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(binding.id.to_string())
                .bind(binding.issuer.clone())
                .bind(binding.audience.clone())
                .bind(binding.claims_json().to_string())
                .bind(binding.identity_id.to_string())
                .bind(i64::from(binding.max_ttl_seconds))
                .bind(to_unix_millis(binding.created_at))
                .bind(binding.created_by.map(|id| id.to_string()))
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                Ok((binding, vec![audit]))
            }
            .boxed()
        })
        .await?;
    Ok(binding)
}

pub(crate) async fn find(store: &SqlStore, id: TrustBindingId) -> Result<Option<TrustBinding>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM trust_bindings WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id.to_string())
    .fetch_optional(&store.pool)
    .await
    .map_err(store_error)?;
    row.as_ref().map(binding).transpose()
}

pub(crate) async fn list(store: &SqlStore, page: PageRequest) -> Result<Page<TrustBinding>, StoreError> {
    let limit = clamp_limit(&page);
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM trust_bindings WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2"
    )))
    .bind(page.after.unwrap_or_default())
    .bind(limit + 1)
    .fetch_all(&store.pool)
    .await
    .map_err(store_error)?;
    let items = rows.iter().map(binding).collect::<Result<Vec<_>, _>>()?;
    Ok(into_page(items, limit, |binding| binding.id.to_string()))
}

pub(crate) async fn for_issuer(store: &SqlStore, issuer: &str) -> Result<Vec<TrustBinding>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM trust_bindings WHERE issuer = $1 AND deleted_at IS NULL ORDER BY id"
    )))
    .bind(issuer.to_owned())
    .fetch_all(&store.pool)
    .await
    .map_err(store_error)?;
    rows.iter().map(binding).collect()
}

pub(crate) async fn delete(
    store: &SqlStore,
    id: TrustBindingId,
    now: OffsetDateTime,
    audit: AuditRecord,
) -> Result<TrustBinding, StoreError> {
    let (binding, _) = store
        .writer
        .submit(move |conn| {
            async move {
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM trust_bindings WHERE id = $1 AND deleted_at IS NULL"
                )))
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(store_error)?
                .ok_or_else(|| StoreError::not_found("trust binding", id))?;
                let found = binding(&row)?;
                let at = to_unix_millis(now);
                sqlx::query("UPDATE trust_bindings SET deleted_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE trust_binding_id = $2 AND revoked_at IS NULL")
                    .bind(at)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                Ok((found, vec![audit]))
            }
            .boxed()
        })
        .await?;
    Ok(binding)
}

pub(crate) async fn record_delivery(
    store: &SqlStore,
    delivery: WebhookDelivery,
    audit: Vec<AuditRecord>,
) -> Result<Vec<u64>, StoreError> {
    let ((), indexes) = store
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
                    let what = if earlier == *delivery_id {
                        format!("{source} delivery `{delivery_id}` was received before")
                    } else {
                        format!("{source} delivery `{delivery_id}` repeats the body of delivery `{earlier}`")
                    };
                    return Err(StoreError::Conflict(format!("{what}; replays are refused")));
                }
                // Two nodes may both find nothing above: the unique indexes
                // (source, delivery_id) and (source, body_sha256) decide.
                let replayed = format!("{source} delivery `{delivery_id}` was received before; replays are refused");
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
