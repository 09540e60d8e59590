//! Passkey credentials and the ceremonies in flight.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::{IdentityId, PasskeyId, TokenId};
use gatehouse_domain::passkey::{
    CEREMONIES_PER_IDENTITY, CeremonyKind, PasskeyCeremony, PasskeyCredential, TakenCeremony,
};
use gatehouse_domain::store::{Conflict, PasskeyStore, StoreError};
use gatehouse_domain::token::TokenHash;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::SqlStore;

const COLUMNS: &str = "id, identity_id, label, credential_id, credential, created_at, last_used_at";

fn passkey(row: &AnyRow) -> Result<PasskeyCredential, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).map_err(store_error);
    let id = text("id")?;
    let identity = text("identity_id")?;
    Ok(PasskeyCredential {
        id: id.parse().map_err(|_| corrupt("passkey id", id))?,
        identity_id: identity.parse().map_err(|_| corrupt("identity id", identity))?,
        label: text("label")?,
        credential_id: text("credential_id")?,
        credential: text("credential")?,
        created_at: row.try_get::<i64, _>("created_at").map(from_unix_millis).map_err(store_error)?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")
            .map(|v| v.map(from_unix_millis))
            .map_err(store_error)?,
    })
}

async fn passkey_in(
    conn: &mut AnyConnection,
    identity: IdentityId,
    id: PasskeyId,
) -> Result<Option<PasskeyCredential>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM passkey_credentials WHERE id = $1 AND identity_id = $2"
    )))
    .bind(id.to_string())
    .bind(identity.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    row.as_ref().map(passkey).transpose()
}

fn ceremony(row: &AnyRow) -> Result<PasskeyCeremony, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).map_err(store_error);
    let hash: Vec<u8> = row.try_get("id_hash").map_err(store_error)?;
    let identity = text("identity_id")?;
    let kind = text("kind")?;
    Ok(PasskeyCeremony {
        id_hash: TokenHash::from_bytes(&hash).ok_or_else(|| corrupt("ceremony id hash", hash.len()))?,
        identity_id: identity.parse().map_err(|_| corrupt("identity id", identity))?,
        holder: text("holder")?,
        kind: CeremonyKind::parse(&kind).ok_or_else(|| corrupt("ceremony kind", kind))?,
        state: text("state")?,
        expires_at: row.try_get::<i64, _>("expires_at").map(from_unix_millis).map_err(store_error)?,
    })
}

fn not_found(id: PasskeyId) -> StoreError {
    StoreError::not_found("passkey", id)
}

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn passkey_ceremony_begin(&self, new: PasskeyCeremony, now: OffsetDateTime) -> Result<(), StoreError> {
        self.writer
            .submit_bookkeeping(move |conn| {
                async move {
                    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
                        .bind(to_unix_millis(now))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    // Room for this one among the person's newest.
                    sqlx::query(
                        "DELETE FROM passkey_ceremonies WHERE identity_id = $1 AND id_hash NOT IN \
                         (SELECT id_hash FROM passkey_ceremonies WHERE identity_id = $1 \
                          ORDER BY expires_at DESC LIMIT $2)",
                    )
                    .bind(new.identity_id.to_string())
                    .bind(i64::from(CEREMONIES_PER_IDENTITY) - 1)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    sqlx::query(
                        "INSERT INTO passkey_ceremonies (id_hash, identity_id, holder, kind, state, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(new.id_hash.as_bytes().to_vec())
                    .bind(new.identity_id.to_string())
                    .bind(new.holder)
                    .bind(new.kind.as_str())
                    .bind(new.state)
                    .bind(to_unix_millis(new.expires_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok(((), Vec::new()))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn passkey_ceremony_take(
        &self,
        id_hash: &TokenHash,
        identity: IdentityId,
        holder: &str,
        kind: CeremonyKind,
        now: OffsetDateTime,
    ) -> Result<TakenCeremony, StoreError> {
        let hash = id_hash.as_bytes().to_vec();
        let holder = holder.to_owned();
        let (taken, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    // INVARIANT: one DELETE … RETURNING finds and removes the
                    // row, so of two racing takes only one gets it (SQLite:
                    // one writer; PostgreSQL: the second waits for the row
                    // lock, then finds it gone).
                    let row = sqlx::query(
                        "DELETE FROM passkey_ceremonies \
                         WHERE id_hash = $1 AND identity_id = $2 AND holder = $3 AND kind = $4 \
                         RETURNING id_hash, identity_id, holder, kind, state, expires_at",
                    )
                    .bind(hash)
                    .bind(identity.to_string())
                    .bind(holder)
                    .bind(kind.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    let taken = match row.as_ref().map(ceremony).transpose()? {
                        None => TakenCeremony::Unknown,
                        Some(found) if found.expires_at <= now => TakenCeremony::Expired,
                        Some(found) => TakenCeremony::Live(found),
                    };
                    Ok((taken, Vec::new()))
                }
                .boxed()
            })
            .await?;
        Ok(taken)
    }

    async fn passkey_register(
        &self,
        new: PasskeyCredential,
        audit: AuditRecord,
    ) -> Result<PasskeyCredential, StoreError> {
        let (stored, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    sqlx::query(
                        "INSERT INTO passkey_credentials \
                         (id, identity_id, label, credential_id, credential, created_at, last_used_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    )
                    .bind(new.id.to_string())
                    .bind(new.identity_id.to_string())
                    .bind(new.label.clone())
                    .bind(new.credential_id.clone())
                    .bind(new.credential.clone())
                    .bind(to_unix_millis(new.created_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(|_| Conflict::PasskeyRegistered))?;
                    let stored = passkey_in(conn, new.identity_id, new.id).await?.ok_or_else(|| not_found(new.id))?;
                    Ok((stored, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(stored)
    }

    async fn passkey_list(&self, identity: IdentityId) -> Result<Vec<PasskeyCredential>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM passkey_credentials WHERE identity_id = $1 ORDER BY id"
        )))
        .bind(identity.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(passkey).collect()
    }

    async fn passkey_find(&self, identity: IdentityId, id: PasskeyId) -> Result<Option<PasskeyCredential>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        passkey_in(&mut conn, identity, id).await
    }

    async fn passkey_rename(
        &self,
        identity: IdentityId,
        id: PasskeyId,
        label: String,
        audit: AuditRecord,
    ) -> Result<PasskeyCredential, StoreError> {
        let (renamed, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    let updated =
                        sqlx::query("UPDATE passkey_credentials SET label = $1 WHERE id = $2 AND identity_id = $3")
                            .bind(label)
                            .bind(id.to_string())
                            .bind(identity.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Err(not_found(id));
                    }
                    let renamed = passkey_in(conn, identity, id).await?.ok_or_else(|| not_found(id))?;
                    Ok((renamed, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(renamed)
    }

    async fn passkey_remove(&self, identity: IdentityId, id: PasskeyId, audit: AuditRecord) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let removed = sqlx::query("DELETE FROM passkey_credentials WHERE id = $1 AND identity_id = $2")
                        .bind(id.to_string())
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    if removed.rows_affected() == 0 {
                        return Err(not_found(id));
                    }
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn passkey_used(
        &self,
        identity: IdentityId,
        id: PasskeyId,
        credential: Option<String>,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    let updated = sqlx::query(
                        "UPDATE passkey_credentials SET last_used_at = $1, credential = COALESCE($2, credential) \
                         WHERE id = $3 AND identity_id = $4",
                    )
                    .bind(at)
                    .bind(credential)
                    .bind(id.to_string())
                    .bind(identity.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Err(not_found(id));
                    }
                    super::mfa::mark_token(conn, identity, token, at).await?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }
}
