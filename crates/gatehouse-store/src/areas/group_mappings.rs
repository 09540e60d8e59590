//! [`GroupMappingStore`] for [`SqlStore`]: members of a directory group hold a
//! role over a scope; adding or removing a mapping reconciles their grants.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::ids::GroupMappingId;
use gatehouse_domain::scim::GroupMapping;
use gatehouse_domain::store::{Conflict, GroupMappingStore, StoreError};
use sqlx::Row;
use time::OffsetDateTime;

use crate::areas::scim_groups::{mapping_from, members_of, parse, reconcile, take_back};
use crate::error::{on_unique, store_error};
use crate::sql_store::SqlStore;

#[async_trait]
impl GroupMappingStore for SqlStore {
    async fn create_group_mapping(
        &self,
        mapping: GroupMapping,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError> {
        let (mapping, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let normalized = mapping.group.to_lowercase();
                    let exists = Conflict::MappingExists {
                        group: mapping.group.clone(),
                        role: mapping.role.to_string(),
                        scope: mapping.scope.to_string(),
                    };
                    sqlx::query(
                        "INSERT INTO group_mappings (id, group_normalized, group_name, role, scope, created_at, created_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(mapping.id.to_string())
                    .bind(normalized.clone())
                    .bind(mapping.group.clone())
                    .bind(mapping.role.as_str().to_owned())
                    .bind(mapping.scope.to_string())
                    .bind(to_unix_millis(mapping.created_at))
                    .bind(mapping.created_by.map(|id| id.to_string()))
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(move |_| exists.clone()))?;
                    let affected = members_of(conn, &normalized).await?;
                    let mut records = reconcile(conn, &affected, mapping.created_at, &audit).await?;
                    records.insert(0, audit);
                    Ok((mapping, records))
                }
                .boxed()
            })
            .await?;
        Ok(mapping)
    }

    async fn list_group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError> {
        let rows =
            sqlx::query("SELECT id, group_name, role, scope, created_at, created_by FROM group_mappings ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
        rows.iter().map(mapping_from).collect()
    }

    async fn delete_group_mapping(
        &self,
        id: GroupMappingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError> {
        let (mapping, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let row = sqlx::query(
                        "SELECT id, group_name, role, scope, created_at, created_by FROM group_mappings WHERE id = $1",
                    )
                    .bind(id.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| StoreError::not_found("group mapping", id))?;
                    let mapping = mapping_from(&row)?;
                    // Revoke what it gave, then forget it.
                    let given: Vec<(String, String)> = sqlx::query(
                        "SELECT gg.identity_id, gg.grant_id FROM group_grants gg JOIN grants g ON g.id = gg.grant_id \
                         WHERE gg.mapping_id = $1 AND g.revoked_at IS NULL",
                    )
                    .bind(id.to_string())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("identity_id").map_err(store_error)?,
                            r.try_get("grant_id").map_err(store_error)?,
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?;
                    let mut records = vec![audit.clone()];
                    let why = "the group mapping that gave it was removed";
                    for (identity, grant_id) in given {
                        let identity = parse("identity id", identity)?;
                        records.push(take_back(conn, identity, &id.to_string(), &grant_id, now, &audit, why).await?);
                    }
                    sqlx::query("DELETE FROM group_grants WHERE mapping_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("DELETE FROM group_mappings WHERE id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    Ok((mapping, records))
                }
                .boxed()
            })
            .await?;
        Ok(mapping)
    }
}
