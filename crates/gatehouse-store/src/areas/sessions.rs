//! Browser sessions and links to identity-provider accounts.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::{IdentityId, SessionId};
use gatehouse_domain::session::{IdentityLink, NewSession, Session, SessionCredential};
use gatehouse_domain::store::{Conflict, SessionStore, StoreError};
use gatehouse_domain::token::TokenHash;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{corrupt, store_error};
use crate::rows::{self, GRANT_COLUMNS, IDENTITY_COLUMNS};
use crate::sql_store::SqlStore;

const COLUMNS: &str = "id, identity_id, created_at, last_seen_at, expires_at, revoked_at, mfa_verified_at, source_ip";

fn session(row: &AnyRow) -> Result<Session, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).map_err(store_error);
    let instant = |c: &str| row.try_get::<i64, _>(c).map(from_unix_millis).map_err(store_error);
    let optional = |c: &str| row.try_get::<Option<i64>, _>(c).map(|v| v.map(from_unix_millis)).map_err(store_error);
    let id = text("id")?;
    let identity = text("identity_id")?;
    Ok(Session {
        id: id.parse().map_err(|_| corrupt("session id", id))?,
        identity_id: identity.parse().map_err(|_| corrupt("identity id", identity))?,
        created_at: instant("created_at")?,
        last_seen_at: instant("last_seen_at")?,
        expires_at: instant("expires_at")?,
        revoked_at: optional("revoked_at")?,
        mfa_verified_at: optional("mfa_verified_at")?,
        source_ip: row.try_get("source_ip").map_err(store_error)?,
    })
}

async fn session_in(conn: &mut AnyConnection, id: SessionId) -> Result<Session, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("session", id))?;
    session(&row)
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(
        &self,
        new: NewSession,
        link: Option<(String, String)>,
        audit: AuditRecord,
    ) -> Result<Session, StoreError> {
        let (created, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(new.created_at);
                    sqlx::query(
                        "INSERT INTO sessions (id, token_hash, identity_id, created_at, last_seen_at, expires_at, source_ip) \
                         VALUES ($1, $2, $3, $4, $4, $5, $6)",
                    )
                    .bind(new.id.to_string())
                    .bind(new.hash.as_bytes().to_vec())
                    .bind(new.identity_id.to_string())
                    .bind(at)
                    .bind(to_unix_millis(new.expires_at))
                    .bind(new.source_ip.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if let Some((issuer, subject)) = link {
                        // INVARIANT: an account links to one identity and an
                        // identity to one account; a login racing another
                        // fails here (the server checked before).
                        let clashes: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM identity_links WHERE (issuer = $1 AND subject = $2 AND identity_id <> $3) \
                             OR (identity_id = $3 AND NOT (issuer = $1 AND subject = $2))",
                        )
                        .bind(issuer.clone())
                        .bind(subject.clone())
                        .bind(new.identity_id.to_string())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(store_error)?;
                        if clashes > 0 {
                            return Err(Conflict::LinkedElsewhere { id: new.identity_id }.into());
                        }
                        sqlx::query(
                            "INSERT INTO identity_links (issuer, subject, identity_id, created_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (issuer, subject) DO NOTHING",
                        )
                        .bind(issuer)
                        .bind(subject)
                        .bind(new.identity_id.to_string())
                        .bind(at)
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    }
                    Ok((session_in(conn, new.id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(created)
    }

    async fn find_session(&self, hash: &TokenHash) -> Result<Option<SessionCredential>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1")))
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let found = session(&row)?;
        let identity_row =
            sqlx::query(AssertSqlSafe(format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1")))
                .bind(found.identity_id.to_string())
                .fetch_one(&mut *conn)
                .await
                .map_err(store_error)?;
        let identity = rows::identity(&identity_row)?;
        let grants = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE identity_id = $1 AND revoked_at IS NULL ORDER BY id"
        )))
        .bind(found.identity_id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::grant)
        .collect::<Result<_, _>>()?;
        let confirmed: Option<Option<i64>> =
            sqlx::query_scalar("SELECT confirmed_at FROM mfa_totp WHERE identity_id = $1")
                .bind(found.identity_id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(store_error)?;
        let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkey_credentials WHERE identity_id = $1")
            .bind(found.identity_id.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)?;
        let mfa_enrolled = confirmed.flatten().is_some() || passkeys > 0;
        Ok(Some(SessionCredential { session: found, identity, grants, mfa_enrolled }))
    }

    async fn touch_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError> {
        let (at, stale) = (to_unix_millis(now), to_unix_millis(now - granularity));
        self.writer
            .submit_bookkeeping(move |conn| {
                async move {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $3")
                        .bind(at)
                        .bind(id.to_string())
                        .bind(stale)
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

    async fn rotate_session(
        &self,
        id: SessionId,
        hash: TokenHash,
        mfa_verified_at: Option<OffsetDateTime>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let updated = sqlx::query(
                        "UPDATE sessions SET token_hash = $1, mfa_verified_at = COALESCE($2, mfa_verified_at) \
                         WHERE id = $3 AND revoked_at IS NULL",
                    )
                    .bind(hash.as_bytes().to_vec())
                    .bind(mfa_verified_at.map(to_unix_millis))
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Err(StoreError::not_found("session", id));
                    }
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Session, StoreError> {
        let (ended, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated =
                        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                            .bind(to_unix_millis(now))
                            .bind(id.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    if updated.rows_affected() == 0 {
                        return Err(StoreError::not_found("session", id));
                    }
                    Ok((session_in(conn, id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(ended)
    }

    async fn find_session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM sessions WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(session).transpose()
    }

    async fn list_sessions(&self, identity: IdentityId) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE identity_id = $1 ORDER BY id DESC"
        )))
        .bind(identity.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(session).collect()
    }

    async fn find_identity_link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityId>, StoreError> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT identity_id FROM identity_links WHERE issuer = $1 AND subject = $2")
                .bind(issuer.to_owned())
                .bind(subject.to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        id.map(|raw| raw.parse().map_err(|_| corrupt("identity id", raw))).transpose()
    }

    async fn list_identity_links(&self, identity: IdentityId) -> Result<Vec<IdentityLink>, StoreError> {
        let rows =
            sqlx::query("SELECT issuer, subject FROM identity_links WHERE identity_id = $1 ORDER BY issuer, subject")
                .bind(identity.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(IdentityLink {
                    issuer: row.try_get("issuer").map_err(store_error)?,
                    subject: row.try_get("subject").map_err(store_error)?,
                })
            })
            .collect()
    }
}
