//! [`TokenStore`] for [`SqlStore`]: API tokens, and the credential read
//! (through the credential cache) that authenticates them.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::TokenId;
use gatehouse_domain::store::{Conflict, Credential, Page, PageRequest, StoreError, TokenFilter, TokenStore};
use gatehouse_domain::token::{ApiToken, NewToken, TokenHash};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::areas::identities::identity_in;
use crate::error::{on_unique, store_error};
use crate::rows::{self, GRANT_COLUMNS, IDENTITY_COLUMNS, TOKEN_COLUMNS};
use crate::sql_store::{SqlStore, clamp_limit, into_page};

pub(crate) async fn insert_token(conn: &mut AnyConnection, new: &NewToken) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens \
         (id, identity_id, token_hash, description, created_at, expires_at, created_by, trust_binding_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id.to_string())
    .bind(new.identity_id.to_string())
    .bind(new.hash.as_bytes().to_vec())
    .bind(new.description.clone())
    .bind(to_unix_millis(new.created_at))
    .bind(to_unix_millis(new.expires_at))
    .bind(new.created_by.map(|id| id.to_string()))
    .bind(new.trust_binding_id.map(|id| id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(on_unique(|_| Conflict::TokenSecretTaken))?;
    Ok(())
}

pub(crate) async fn token_in(conn: &mut AnyConnection, id: TokenId) -> Result<ApiToken, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("token", id))?;
    rows::token(&row)
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_token(&self, new: NewToken, audit: AuditRecord) -> Result<ApiToken, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let owner = identity_in(conn, new.identity_id).await?;
                    if !owner.status.is_active() {
                        return Err(Conflict::OwnerNotActive { id: owner.id, status: owner.status }.into());
                    }
                    insert_token(conn, &new).await?;
                    Ok((token_in(conn, new.id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }

    async fn find_credential(&self, hash: &TokenHash) -> Result<Option<Credential>, StoreError> {
        let stamp = self.credentials.stamp().await?;
        if let Some(credential) = self.credentials.get(hash, stamp) {
            return Ok(Some(credential));
        }
        // One read: the token, its owner, and the owner's unrevoked grants
        // (one row per grant, or one row with no grant).
        let token_columns = TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}"));
        let identity_columns = IDENTITY_COLUMNS.split(", ").map(|c| format!("i.{c} AS identity_{c}"));
        let grant_columns = GRANT_COLUMNS.split(", ").map(|c| format!("g.{c} AS grant_{c}"));
        let columns: Vec<String> = token_columns.chain(identity_columns).chain(grant_columns).collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, t.token_hash, m.confirmed_at AS mfa_confirmed_at, \
             (SELECT COUNT(*) FROM passkey_credentials p WHERE p.identity_id = t.identity_id) AS passkeys \
             FROM api_tokens t JOIN identities i ON i.id = t.identity_id \
             LEFT JOIN grants g ON g.identity_id = t.identity_id AND g.revoked_at IS NULL \
             LEFT JOIN mfa_totp m ON m.identity_id = t.identity_id \
             WHERE t.token_hash = $1 ORDER BY g.id",
            columns.join(", ")
        )))
        .bind(hash.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            let grant_id: Option<String> = row.try_get("grant_id").map_err(store_error)?;
            if grant_id.is_some() {
                grants.push(rows::grant_with_prefix(row, "grant_")?);
            }
        }
        let mfa_confirmed_at: Option<i64> = first.try_get("mfa_confirmed_at").map_err(store_error)?;
        let passkeys: i64 = first.try_get("passkeys").map_err(store_error)?;
        let credential = Credential {
            token: rows::token(first)?,
            hash: rows::token_hash(first)?,
            identity: rows::identity_with_prefix(first, "identity_")?,
            grants,
            mfa_enrolled: mfa_confirmed_at.is_some() || passkeys > 0,
        };
        self.credentials.put(stamp, &credential);
        Ok(Some(credential))
    }

    async fn find_token(&self, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::token).transpose()
    }

    async fn list_tokens(&self, filter: TokenFilter, page: PageRequest) -> Result<Page<ApiToken>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id > $1 AND ($2 IS NULL OR identity_id = $2) \
             ORDER BY id LIMIT $3"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(filter.identity_id.map(|id| id.to_string()))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows.iter().map(rows::token).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |token| token.id.to_string()))
    }

    async fn revoke_token(&self, id: TokenId, now: OffsetDateTime, audit: AuditRecord) -> Result<ApiToken, StoreError> {
        let (token, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated =
                        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                            .bind(to_unix_millis(now))
                            .bind(id.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    let token = token_in(conn, id).await?;
                    if updated.rows_affected() == 0 {
                        return Err(Conflict::TokenAlreadyRevoked { id }.into());
                    }
                    Ok((token, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(token)
    }

    async fn record_token_use(
        &self,
        id: TokenId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError> {
        let at = to_unix_millis(now);
        let stale_before = to_unix_millis(now - granularity);
        // Bookkeeping: the credential cache is kept, and its copy learns the
        // use (stamped here, or by another node within the granularity).
        let (stamped, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    sqlx::query(
                        "UPDATE api_tokens SET last_used_at = $1 \
                         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                    )
                    .bind(at)
                    .bind(id.to_string())
                    .bind(stale_before)
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    let row = sqlx::query("SELECT token_hash, last_used_at FROM api_tokens WHERE id = $1")
                        .bind(id.to_string())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let stamped = match row {
                        Some(row) => {
                            let last_used_at: Option<i64> = row.try_get("last_used_at").map_err(store_error)?;
                            last_used_at.map(|at| rows::token_hash(&row).map(|hash| (hash, from_unix_millis(at))))
                        }
                        None => None,
                    };
                    Ok((stamped.transpose()?, Vec::new()))
                }
                .boxed()
            })
            .await?;
        if let Some((hash, last_used_at)) = stamped {
            self.credentials.note_use(&hash, last_used_at);
        }
        Ok(())
    }
}
