//! [`WorkloadStore`] for [`SqlStore`]: trust bindings (CI workload identity) and
//! the tokens their exchange mints, each CI token used once.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::identity::{IdentityKind, IdentityStatus};
use gatehouse_domain::ids::TrustBindingId;
use gatehouse_domain::store::{Conflict, Page, PageRequest, StoreError, WorkloadStore};
use gatehouse_domain::token::{ApiToken, NewToken};
use gatehouse_domain::workload::{ClaimCondition, NewTrustBinding, TrustBinding};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::areas::identities::identity_in;
use crate::areas::tokens::{insert_token, token_in};
use crate::error::{corrupt, store_error};
use crate::sql_store::{SqlStore, clamp_limit, into_page};

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

#[async_trait]
impl WorkloadStore for SqlStore {
    async fn create_trust_binding(&self, new: NewTrustBinding, audit: AuditRecord) -> Result<TrustBinding, StoreError> {
        let (binding, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let identity = identity_in(conn, new.identity_id).await?;
                    if identity.kind != IdentityKind::Service {
                        return Err(Conflict::BindingToPerson { id: identity.id }.into());
                    }
                    if identity.status != IdentityStatus::Active {
                        return Err(Conflict::IdentityNotActive { id: identity.id }.into());
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

    async fn find_trust_binding(&self, id: TrustBindingId) -> Result<Option<TrustBinding>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM trust_bindings WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(binding).transpose()
    }

    async fn list_trust_bindings(&self, page: PageRequest) -> Result<Page<TrustBinding>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM trust_bindings WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows.iter().map(binding).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |binding| binding.id.to_string()))
    }

    async fn trust_bindings_for_issuer(&self, issuer: &str) -> Result<Vec<TrustBinding>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM trust_bindings WHERE issuer = $1 AND deleted_at IS NULL ORDER BY id"
        )))
        .bind(issuer.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(binding).collect()
    }

    async fn delete_trust_binding(
        &self,
        id: TrustBindingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<TrustBinding, StoreError> {
        let (binding, _) = self
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
                    sqlx::query(
                        "UPDATE api_tokens SET revoked_at = $1 WHERE trust_binding_id = $2 AND revoked_at IS NULL",
                    )
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

    async fn create_workload_token(
        &self,
        new: NewToken,
        once: gatehouse_domain::workload_exchange::WorkloadTokenUse,
        audit: AuditRecord,
    ) -> Result<Option<ApiToken>, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    // Bounded: a use is forgotten once its token has expired.
                    sqlx::query("DELETE FROM workload_token_uses WHERE kept_until < $1")
                        .bind(to_unix_millis(once.used_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let recorded = sqlx::query(
                        "INSERT INTO workload_token_uses (use_key, used_at, kept_until) VALUES ($1, $2, $3) \
                         ON CONFLICT (use_key) DO NOTHING",
                    )
                    .bind(once.key.clone())
                    .bind(to_unix_millis(once.used_at))
                    .bind(to_unix_millis(once.kept_until))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if recorded.rows_affected() == 0 {
                        return Ok((None, Vec::new()));
                    }
                    let owner = identity_in(conn, new.identity_id).await?;
                    if !owner.status.is_active() {
                        return Err(Conflict::OwnerNotActive { id: owner.id, status: owner.status }.into());
                    }
                    insert_token(conn, &new).await?;
                    Ok((Some(token_in(conn, new.id).await?), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }
}
