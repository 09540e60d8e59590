//! [`IdentityStore`] for [`SqlStore`]: identities, their status, and what
//! losing access revokes.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus, NewIdentity};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::store::{Conflict, IdentityStore, Page, PageRequest, StoreError};
use sqlx::{AnyConnection, AssertSqlSafe};
use time::OffsetDateTime;

use crate::areas::approvals::cancel_requests_in;
use crate::error::{on_unique, store_error};
use crate::rows::{self, IDENTITY_COLUMNS};
use crate::sql_store::{SqlStore, clamp_limit, into_page};

pub(crate) async fn insert_identity(conn: &mut AnyConnection, new: &NewIdentity) -> Result<(), StoreError> {
    let conflict = match (new.kind, &new.email) {
        (IdentityKind::Human, Some(email)) => Conflict::EmailTaken { email: email.as_str().to_owned() },
        _ => Conflict::ServiceNameTaken { name: new.name.as_str().to_owned() },
    };
    sqlx::query(
        "INSERT INTO identities (id, kind, name, email, email_normalized, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(new.id.to_string())
    .bind(new.kind.as_str())
    .bind(new.name.as_str().to_owned())
    .bind(new.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(new.email.as_ref().map(|e| e.normalized()))
    .bind(to_unix_millis(new.created_at))
    .execute(&mut *conn)
    .await
    .map_err(on_unique(|_| conflict.clone()))?;
    Ok(())
}

/// Revokes every token, grant and session of an identity, in the caller's
/// transaction: what losing access means, wherever it happens.
pub(crate) async fn revoke_access(conn: &mut AnyConnection, id: IdentityId, at: i64) -> Result<(), StoreError> {
    for table in ["api_tokens", "grants", "sessions"] {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET revoked_at = $1 WHERE identity_id = $2 AND revoked_at IS NULL"
        )))
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    }
    Ok(())
}

pub(crate) async fn identity_in(conn: &mut AnyConnection, id: IdentityId) -> Result<Identity, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError::not_found("identity", id))?;
    rows::identity(&row)
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn create_identity(&self, new: NewIdentity, audit: AuditRecord) -> Result<Identity, StoreError> {
        let (identity, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    insert_identity(conn, &new).await?;
                    Ok((identity_in(conn, new.id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(identity)
    }

    async fn find_identity(&self, id: IdentityId) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::identity).transpose()
    }

    async fn list_identities(&self, page: PageRequest) -> Result<Page<Identity>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows.iter().map(rows::identity).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |identity| identity.id.to_string()))
    }

    async fn update_identity_status(
        &self,
        id: IdentityId,
        from: IdentityStatus,
        to: IdentityStatus,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Identity, StoreError> {
        let (identity, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    let current = identity_in(conn, id).await?;
                    if current.status != from {
                        return Err(Conflict::StatusChanged { id, current: current.status, expected: from }.into());
                    }
                    sqlx::query("UPDATE identities SET status = $1, updated_at = $2 WHERE id = $3")
                        .bind(to.as_str())
                        .bind(at)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(on_unique(|_| Conflict::NameOrEmailInUse { id }))?;
                    if to == IdentityStatus::Deprovisioned {
                        revoke_access(conn, id, at).await?;
                    }
                    let mut records = Vec::new();
                    if from == IdentityStatus::Active && to != IdentityStatus::Active {
                        records = cancel_requests_in(conn, id, now, &audit).await?.1;
                    }
                    records.insert(0, audit);
                    Ok((identity_in(conn, id).await?, records))
                }
                .boxed()
            })
            .await?;
        Ok(identity)
    }

    async fn find_human_by_email(&self, email: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE kind = $1 AND email_normalized = $2 AND status <> 'deprovisioned'"
        )))
        .bind(IdentityKind::Human.as_str())
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(rows::identity).transpose()
    }
}
