//! Signing keys registered to identities, and the ids signatures name them by.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{IdentityId, SigningKeyId};
use gatehouse_domain::signing::SigningKey;
use gatehouse_domain::store::{Conflict, SigningKeyStore, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::areas::identities::identity_in;
use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::SqlStore;

const COLUMNS: &str =
    "k.id, k.identity_id, k.kind, k.fingerprint, k.algorithm, k.public_key, k.created_at, k.created_by";

fn parse<T: std::str::FromStr>(column: &str, raw: String) -> Result<T, StoreError> {
    raw.parse().map_err(|_| corrupt(column, raw))
}

async fn key_from(conn: &mut AnyConnection, row: &AnyRow) -> Result<SigningKey, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(store_error);
    let id: SigningKeyId = parse("signing key id", text("id")?)?;
    let lookup_ids = sqlx::query("SELECT lookup_id FROM signing_key_ids WHERE signing_key_id = $1 ORDER BY lookup_id")
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?
        .iter()
        .map(|r| r.try_get::<String, _>("lookup_id").map_err(store_error))
        .collect::<Result<_, _>>()?;
    let created_by: Option<String> = row.try_get("created_by").map_err(store_error)?;
    Ok(SigningKey {
        id,
        identity_id: parse("identity id", text("identity_id")?)?,
        kind: text("kind")?,
        fingerprint: text("fingerprint")?,
        algorithm: text("algorithm")?,
        public_key: text("public_key")?,
        lookup_ids,
        created_at: from_unix_millis(row.try_get::<i64, _>("created_at").map_err(store_error)?),
        created_by: created_by.map(|raw| parse("identity id", raw)).transpose()?,
    })
}

async fn keys_where(conn: &mut AnyConnection, condition: &str, value: String) -> Result<Vec<SigningKey>, StoreError> {
    let rows =
        sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM signing_keys k WHERE {condition} ORDER BY k.id")))
            .bind(value)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in &rows {
        keys.push(key_from(conn, row).await?);
    }
    Ok(keys)
}

#[async_trait]
impl SigningKeyStore for SqlStore {
    async fn create_signing_key(&self, key: SigningKey, audit: AuditRecord) -> Result<SigningKey, StoreError> {
        let (key, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let holder = identity_in(conn, key.identity_id).await?;
                    if holder.status == IdentityStatus::Deprovisioned {
                        return Err(Conflict::IdentityDeprovisioned { id: holder.id }.into());
                    }
                    let fingerprint = key.fingerprint.clone();
                    sqlx::query(
                        "INSERT INTO signing_keys (id, identity_id, kind, fingerprint, algorithm, public_key, created_at, created_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(key.id.to_string())
                    .bind(key.identity_id.to_string())
                    .bind(key.kind.clone())
                    .bind(key.fingerprint.clone())
                    .bind(key.algorithm.clone())
                    .bind(key.public_key.clone())
                    .bind(to_unix_millis(key.created_at))
                    .bind(key.created_by.map(|id| id.to_string()))
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(move |_| Conflict::SigningKeyRegistered { fingerprint: fingerprint.clone() }))?;
                    for lookup in &key.lookup_ids {
                        sqlx::query("INSERT INTO signing_key_ids (lookup_id, signing_key_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(lookup.clone())
                            .bind(key.id.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    }
                    Ok((key, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(key)
    }

    async fn list_signing_keys(&self, identity: IdentityId) -> Result<Vec<SigningKey>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        keys_where(&mut conn, "k.identity_id = $1", identity.to_string()).await
    }

    async fn update_signing_key_text(
        &self,
        id: SigningKeyId,
        public_key: String,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError> {
        let (key, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated = sqlx::query("UPDATE signing_keys SET public_key = $1 WHERE id = $2")
                        .bind(public_key)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Err(StoreError::not_found("signing key", id));
                    }
                    let key = keys_where(conn, "k.id = $1", id.to_string())
                        .await?
                        .pop()
                        .ok_or_else(|| StoreError::not_found("signing key", id))?;
                    Ok((key, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(key)
    }

    async fn delete_signing_key(
        &self,
        identity: IdentityId,
        id: SigningKeyId,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError> {
        let (key, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let key = keys_where(conn, "k.id = $1", id.to_string())
                        .await?
                        .pop()
                        .filter(|key| key.identity_id == identity)
                        .ok_or_else(|| StoreError::not_found("signing key", id))?;
                    sqlx::query("DELETE FROM signing_key_ids WHERE signing_key_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("DELETE FROM signing_keys WHERE id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Ok((key, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(key)
    }

    async fn find_signing_key(&self, lookup_ids: &[String]) -> Result<Option<SigningKey>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        for lookup in lookup_ids {
            let found = keys_where(
                &mut conn,
                "k.id IN (SELECT signing_key_id FROM signing_key_ids WHERE lookup_id = $1)",
                lookup.clone(),
            )
            .await?;
            if let Some(key) = found.into_iter().next() {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    async fn find_signing_key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<SigningKey>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        Ok(keys_where(&mut conn, "k.fingerprint = $1", fingerprint.to_owned()).await?.pop())
    }
}
