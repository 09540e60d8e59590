//! TOTP factors, recovery codes, and per-token MFA freshness.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::{IdentityId, TokenId};
use gatehouse_domain::mfa::{MfaAttempt, TotpRecord, lock_for};
use gatehouse_domain::store::{Conflict, MfaStore, StoreError};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::error::store_error;
use crate::sql_store::SqlStore;

async fn record_in(conn: &mut AnyConnection, identity: IdentityId) -> Result<Option<TotpRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT sealed_secret, confirmed_at, last_step, failures, locked_until FROM mfa_totp WHERE identity_id = $1",
    )
    .bind(identity.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?;
    let Some(row) = row else { return Ok(None) };
    let last_step: Option<i64> = row.try_get("last_step").map_err(store_error)?;
    let failures: i64 = row.try_get("failures").map_err(store_error)?;
    Ok(Some(TotpRecord {
        identity_id: identity,
        sealed_secret: row.try_get("sealed_secret").map_err(store_error)?,
        confirmed_at: row.try_get::<Option<i64>, _>("confirmed_at").map_err(store_error)?.map(from_unix_millis),
        last_step: last_step.and_then(|s| u64::try_from(s).ok()),
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        locked_until: row.try_get::<Option<i64>, _>("locked_until").map_err(store_error)?.map(from_unix_millis),
    }))
}

/// Marks `identity`'s `token` (if any) MFA-fresh from `at`: after a TOTP
/// code, a recovery code or a passkey.
pub(crate) async fn mark_token(
    conn: &mut AnyConnection,
    identity: IdentityId,
    token: Option<TokenId>,
    at: i64,
) -> Result<(), StoreError> {
    let Some(token) = token else { return Ok(()) };
    sqlx::query("UPDATE api_tokens SET mfa_verified_at = $1 WHERE id = $2 AND identity_id = $3")
        .bind(at)
        .bind(token.to_string())
        .bind(identity.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl MfaStore for SqlStore {
    async fn mfa_begin(
        &self,
        identity: IdentityId,
        sealed: Vec<u8>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self
            .writer
            .submit(move |conn| {
                async move {
                    if record_in(conn, identity).await?.is_some_and(|r| r.confirmed_at.is_some()) {
                        return Err(Conflict::FactorEnrolled.into());
                    }
                    sqlx::query("DELETE FROM mfa_totp WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query(
                        "INSERT INTO mfa_totp (identity_id, sealed_secret, failures, created_at) VALUES ($1, $2, 0, $3)",
                    )
                    .bind(identity.to_string())
                    .bind(sealed)
                    .bind(to_unix_millis(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn mfa_find(&self, identity: IdentityId) -> Result<Option<TotpRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        record_in(&mut conn, identity).await
    }

    async fn mfa_succeed(
        &self,
        identity: IdentityId,
        step: Option<u64>,
        recovery_hashes: Option<Vec<String>>,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    if let Some(step) = step {
                        let step = i64::try_from(step).unwrap_or(i64::MAX);
                        let updated = sqlx::query(
                            "UPDATE mfa_totp SET last_step = $1, failures = 0, locked_until = NULL \
                             WHERE identity_id = $2 AND (last_step IS NULL OR last_step < $1)",
                        )
                        .bind(step)
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                        if updated.rows_affected() == 0 {
                            return Err(Conflict::CodeUsed.into());
                        }
                    }
                    if let Some(hashes) = recovery_hashes {
                        sqlx::query("UPDATE mfa_totp SET confirmed_at = $1 WHERE identity_id = $2")
                            .bind(at)
                            .bind(identity.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                        sqlx::query("DELETE FROM mfa_recovery_codes WHERE identity_id = $1")
                            .bind(identity.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                        for hash in hashes {
                            sqlx::query("INSERT INTO mfa_recovery_codes (identity_id, code_hash) VALUES ($1, $2)")
                                .bind(identity.to_string())
                                .bind(hash)
                                .execute(&mut *conn)
                                .await
                                .map_err(store_error)?;
                        }
                    }
                    mark_token(conn, identity, token, at).await?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn mfa_use_recovery_code(
        &self,
        identity: IdentityId,
        code_hash: &str,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let code_hash = code_hash.to_owned();
        self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    let used = sqlx::query(
                        "UPDATE mfa_recovery_codes SET used_at = $1 WHERE identity_id = $2 AND code_hash = $3 AND used_at IS NULL",
                    )
                    .bind(at)
                    .bind(identity.to_string())
                    .bind(code_hash)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    if used.rows_affected() == 0 {
                        return Err(StoreError::not_found("recovery code", "(given)"));
                    }
                    sqlx::query("UPDATE mfa_totp SET failures = 0, locked_until = NULL WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    mark_token(conn, identity, token, at).await?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn mfa_claim_attempt(&self, identity: IdentityId, now: OffsetDateTime) -> Result<MfaAttempt, StoreError> {
        let (attempt, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    // INVARIANT: the lock is checked and the attempt counted by
                    // one conditional UPDATE, so two attempts never both see the
                    // count before the other's (SQLite: one writer; PostgreSQL:
                    // the row lock, with the condition re-checked after a
                    // concurrent update commits, on any node).
                    let counted: Option<i64> = sqlx::query_scalar(
                        "UPDATE mfa_totp SET failures = failures + 1 \
                         WHERE identity_id = $1 AND (locked_until IS NULL OR locked_until <= $2) RETURNING failures",
                    )
                    .bind(identity.to_string())
                    .bind(at)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    let Some(failures) = counted else {
                        let record = record_in(conn, identity)
                            .await?
                            .ok_or_else(|| StoreError::not_found("second factor", identity))?;
                        let until = record.locked_until.unwrap_or(now);
                        return Ok((MfaAttempt::Locked { until }, Vec::new()));
                    };
                    // The row stays locked by the UPDATE above until commit.
                    if let Some(lock) = lock_for(u32::try_from(failures).unwrap_or(u32::MAX)) {
                        sqlx::query("UPDATE mfa_totp SET locked_until = $1 WHERE identity_id = $2")
                            .bind(to_unix_millis(now + lock))
                            .bind(identity.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    }
                    let after = record_in(conn, identity)
                        .await?
                        .ok_or_else(|| StoreError::not_found("second factor", identity))?;
                    Ok((MfaAttempt::Claimed(after), Vec::new()))
                }
                .boxed()
            })
            .await?;
        Ok(attempt)
    }

    async fn mfa_reset(
        &self,
        identity: IdentityId,
        _now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let removed = sqlx::query("DELETE FROM mfa_totp WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let passkeys = sqlx::query("DELETE FROM passkey_credentials WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    if removed.rows_affected() + passkeys.rows_affected() == 0 {
                        return Err(StoreError::not_found("second factor", identity));
                    }
                    sqlx::query("DELETE FROM mfa_recovery_codes WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("UPDATE api_tokens SET mfa_verified_at = NULL WHERE identity_id = $1")
                        .bind(identity.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }
}
