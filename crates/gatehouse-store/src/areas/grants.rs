//! [`GrantStore`] for [`SqlStore`]: grants and the registered resources.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::grant::{Grant, NewGrant, Resource};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{GrantId, IdentityId};
use gatehouse_domain::store::{Conflict, GrantStore, Page, PageRequest, StoreError};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::areas::identities::identity_in;
use crate::error::{on_unique, store_error};
use crate::rows::{self, GRANT_COLUMNS};
use crate::sql_store::{SqlStore, clamp_limit, into_page};

pub(crate) async fn insert_grant(conn: &mut AnyConnection, new: &NewGrant) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, identity_id, role, scope, created_at, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id.to_string())
    .bind(new.identity_id.to_string())
    .bind(new.role.as_str())
    .bind(new.scope.to_string())
    .bind(to_unix_millis(new.created_at))
    .bind(new.expires_at.map(to_unix_millis))
    .bind(new.created_by.map(|id| id.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// `(kind, id)` as stored: the resource's text form split at its first `:`.
fn resource_key(resource: &Resource) -> (String, String) {
    let text = resource.to_string();
    match text.split_once(':') {
        Some((kind, id)) => (kind.to_owned(), id.to_owned()),
        None => (text, String::new()),
    }
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn create_grant(&self, new: NewGrant, audit: AuditRecord) -> Result<Grant, StoreError> {
        let (grant, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let holder = identity_in(conn, new.identity_id).await?;
                    if holder.status == IdentityStatus::Deprovisioned {
                        return Err(Conflict::IdentityDeprovisioned { id: holder.id }.into());
                    }
                    insert_grant(conn, &new).await?;
                    let grant = Grant {
                        id: new.id,
                        identity_id: new.identity_id,
                        role: new.role,
                        scope: new.scope,
                        created_at: new.created_at,
                        expires_at: new.expires_at,
                        revoked_at: None,
                        created_by: new.created_by,
                    };
                    Ok((grant, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(grant)
    }

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(rows::grant).transpose()
    }

    async fn list_grants(&self, identity: Option<IdentityId>, page: PageRequest) -> Result<Page<Grant>, StoreError> {
        let limit = clamp_limit(&page);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE id > $1 AND ($2 IS NULL OR identity_id = $2) ORDER BY id LIMIT $3"
        )))
        .bind(page.after.unwrap_or_default())
        .bind(identity.map(|id| id.to_string()))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let items = rows.iter().map(rows::grant).collect::<Result<Vec<_>, _>>()?;
        Ok(into_page(items, limit, |grant| grant.id.to_string()))
    }

    async fn create_resource(
        &self,
        resource: &Resource,
        created_at: OffsetDateTime,
        created_by: Option<IdentityId>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let (kind, id) = resource_key(resource);
        let shown = resource.to_string();
        self.writer
            .submit(move |conn| {
                async move {
                    sqlx::query("INSERT INTO resources (kind, id, created_at, created_by) VALUES ($1, $2, $3, $4)")
                        .bind(kind)
                        .bind(id)
                        .bind(to_unix_millis(created_at))
                        .bind(created_by.map(|id| id.to_string()))
                        .execute(&mut *conn)
                        .await
                        .map_err(on_unique(|_| Conflict::ResourceRegistered { resource: shown.clone() }))?;
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn list_resources(&self) -> Result<Vec<Resource>, StoreError> {
        let rows = sqlx::query("SELECT kind, id FROM resources ORDER BY kind, id")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(store_error)?;
                let id: String = row.try_get("id").map_err(store_error)?;
                Resource::from_parts(&kind, &id)
                    .ok_or_else(|| StoreError::Other(format!("stored resource `{kind}:{id}` cannot be read")))
            })
            .collect()
    }

    async fn revoke_grant(&self, id: GrantId, now: OffsetDateTime, audit: AuditRecord) -> Result<Grant, StoreError> {
        let (grant, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let updated = sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                        .bind(to_unix_millis(now))
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let row = sqlx::query(AssertSqlSafe(format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1")))
                        .bind(id.to_string())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .ok_or_else(|| StoreError::not_found("grant", id))?;
                    if updated.rows_affected() == 0 {
                        return Err(Conflict::GrantAlreadyRevoked { id }.into());
                    }
                    Ok((rows::grant(&row)?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(grant)
    }

    async fn list_grants_of(&self, identity: IdentityId) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM grants WHERE identity_id = $1 ORDER BY id"
        )))
        .bind(identity.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(rows::grant).collect()
    }
}
