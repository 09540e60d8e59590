//! SCIM groups, and access that follows them: a group mapping gives every
//! member a grant; leaving the group (or the mapping going) revokes it.
//! Membership and grants change in one transaction, with an audit entry
//! for each grant given or revoked.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::grant::{NewGrant, Scope};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{GrantId, GroupId, IdentityId};
use gatehouse_domain::scim::filter::Filter;
use gatehouse_domain::scim::{GroupInput, GroupMapping, ScimGroup};
use gatehouse_domain::store::{Conflict, ScimGroupStore, StoreError};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::areas::grants::insert_grant;
use crate::areas::identities::identity_in;
use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::SqlStore;

pub(crate) fn parse<T: std::str::FromStr>(what: &str, raw: String) -> Result<T, StoreError> {
    raw.parse().map_err(|_| corrupt(what, raw))
}

async fn group_in(conn: &mut AnyConnection, id: GroupId) -> Result<ScimGroup, StoreError> {
    let row =
        sqlx::query("SELECT id, display_name, external_id, created_at, updated_at FROM scim_groups WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::not_found("group", id))?;
    group_from(conn, &row).await
}

async fn group_from(conn: &mut AnyConnection, row: &AnyRow) -> Result<ScimGroup, StoreError> {
    let id: GroupId = parse("group id", row.try_get("id").map_err(store_error)?)?;
    let members = sqlx::query("SELECT identity_id FROM scim_group_members WHERE group_id = $1 ORDER BY identity_id")
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?
        .iter()
        .map(|r| parse("identity id", r.try_get("identity_id").map_err(store_error)?))
        .collect::<Result<_, _>>()?;
    Ok(ScimGroup {
        id,
        display_name: row.try_get("display_name").map_err(store_error)?,
        external_id: row.try_get("external_id").map_err(store_error)?,
        members,
        created_at: from_unix_millis(row.try_get("created_at").map_err(store_error)?),
        updated_at: from_unix_millis(row.try_get("updated_at").map_err(store_error)?),
    })
}

pub(crate) fn mapping_from(row: &AnyRow) -> Result<GroupMapping, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).map_err(store_error);
    let scope = text("scope")?;
    let created_by: Option<String> = row.try_get("created_by").map_err(store_error)?;
    Ok(GroupMapping {
        id: parse("mapping id", text("id")?)?,
        group: text("group_name")?,
        role: parse("role", text("role")?)?,
        scope: Scope::parse(&scope).map_err(|_| corrupt("scope", scope))?,
        created_at: from_unix_millis(row.try_get("created_at").map_err(store_error)?),
        created_by: created_by.map(|raw| parse("identity id", raw)).transpose()?,
    })
}

/// Revokes a grant a group mapping gave and forgets that it gave it;
/// returns the audit record saying why.
pub(crate) async fn take_back(
    conn: &mut AnyConnection,
    identity: IdentityId,
    mapping_id: &str,
    grant_id: &str,
    now: OffsetDateTime,
    cause: &AuditRecord,
    why: &str,
) -> Result<AuditRecord, StoreError> {
    sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(to_unix_millis(now))
        .bind(grant_id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    sqlx::query("DELETE FROM group_grants WHERE identity_id = $1 AND mapping_id = $2")
        .bind(identity.to_string())
        .bind(mapping_id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    // Derived from the SCIM call's own authorized record.
    #[allow(clippy::disallowed_methods, reason = "group grants are part of the SCIM call that was authorized")]
    let record = cause
        .derived(now, AuditAction::GrantRevoke, format!("grant:{grant_id}"))
        .outcome(Outcome::Success, why)
        .details(json!({"grant_id": grant_id, "identity_id": identity.to_string(), "mapping_id": mapping_id}));
    Ok(record)
}

/// Brings the group-given grants of `identities` in line with their
/// memberships and the mappings. Returns an audit record per change.
pub(crate) async fn reconcile(
    conn: &mut AnyConnection,
    identities: &BTreeSet<IdentityId>,
    now: OffsetDateTime,
    cause: &AuditRecord,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut records = Vec::new();
    for &identity in identities {
        let person = identity_in(conn, identity).await?;
        let desired: HashMap<String, GroupMapping> = if person.status == IdentityStatus::Active {
            let rows = sqlx::query(
                "SELECT m.id, m.group_name, m.role, m.scope, m.created_at, m.created_by FROM group_mappings m \
                 JOIN scim_groups g ON g.display_name_normalized = m.group_normalized \
                 JOIN scim_group_members gm ON gm.group_id = g.id WHERE gm.identity_id = $1",
            )
            .bind(identity.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
            rows.iter().map(|row| mapping_from(row).map(|m| (m.id.to_string(), m))).collect::<Result<_, _>>()?
        } else {
            HashMap::new()
        };
        let held: Vec<(String, String)> = sqlx::query(
            "SELECT gg.mapping_id, gg.grant_id FROM group_grants gg JOIN grants g ON g.id = gg.grant_id \
             WHERE gg.identity_id = $1 AND g.revoked_at IS NULL",
        )
        .bind(identity.to_string())
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?
        .iter()
        .map(|r| Ok((r.try_get("mapping_id").map_err(store_error)?, r.try_get("grant_id").map_err(store_error)?)))
        .collect::<Result<_, StoreError>>()?;
        for (mapping_id, grant_id) in &held {
            if desired.contains_key(mapping_id) {
                continue;
            }
            records.push(
                take_back(conn, identity, mapping_id, grant_id, now, cause, "no longer in the group that gave it")
                    .await?,
            );
        }
        for (mapping_id, mapping) in &desired {
            if held.iter().any(|(held_mapping, _)| held_mapping == mapping_id) {
                continue;
            }
            let grant = NewGrant {
                id: GrantId::new(),
                identity_id: identity,
                role: mapping.role.clone(),
                scope: mapping.scope.clone(),
                created_at: now,
                expires_at: None,
                created_by: None,
            };
            insert_grant(conn, &grant).await?;
            // A row may remain for a grant revoked otherwise (deactivation).
            sqlx::query(
                "INSERT INTO group_grants (identity_id, mapping_id, grant_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (identity_id, mapping_id) DO UPDATE SET grant_id = excluded.grant_id",
            )
            .bind(identity.to_string())
            .bind(mapping_id.clone())
            .bind(grant.id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
            // Derived from the SCIM call's own authorized record.
            #[allow(clippy::disallowed_methods, reason = "group grants are part of the SCIM call that was authorized")]
            let derived = cause.derived(now, AuditAction::GrantCreate, format!("grant:{}", grant.id));
            records.push(
                derived
                    .outcome(Outcome::Success, format!("member of group `{}`", mapping.group))
                    .details(json!({"grant_id": grant.id.to_string(), "identity_id": identity.to_string(),
                        "role": mapping.role.as_str(), "scope": mapping.scope.to_string(), "mapping_id": mapping_id})),
            );
        }
    }
    Ok(records)
}

async fn set_members(conn: &mut AnyConnection, id: GroupId, members: &[IdentityId]) -> Result<(), StoreError> {
    for member in members {
        let found: Option<String> = sqlx::query_scalar("SELECT identity_id FROM scim_users WHERE identity_id = $1")
            .bind(member.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
        if found.is_none() {
            return Err(StoreError::not_found("user", member));
        }
    }
    sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    for member in members {
        sqlx::query("INSERT INTO scim_group_members (group_id, identity_id) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(member.to_string())
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

pub(crate) async fn members_of(
    conn: &mut AnyConnection,
    group_normalized: &str,
) -> Result<BTreeSet<IdentityId>, StoreError> {
    sqlx::query(
        "SELECT gm.identity_id FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id \
         WHERE g.display_name_normalized = $1",
    )
    .bind(group_normalized.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?
    .iter()
    .map(|r| parse("identity id", r.try_get("identity_id").map_err(store_error)?))
    .collect()
}

#[async_trait]
impl ScimGroupStore for SqlStore {
    async fn scim_create_group(
        &self,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError> {
        let (group, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let id = GroupId::new();
                    let taken = Conflict::GroupNameTaken { display_name: input.display_name.clone() };
                    sqlx::query(
                        "INSERT INTO scim_groups (id, display_name, display_name_normalized, external_id, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5)",
                    )
                    .bind(id.to_string())
                    .bind(input.display_name.clone())
                    .bind(input.display_name.to_lowercase())
                    .bind(input.external_id.clone())
                    .bind(to_unix_millis(now))
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(move |_| taken.clone()))?;
                    set_members(conn, id, &input.members).await?;
                    let affected = input.members.iter().copied().collect();
                    let mut records = reconcile(conn, &affected, now, &audit).await?;
                    records.insert(0, audit);
                    Ok((group_in(conn, id).await?, records))
                }
                .boxed()
            })
            .await?;
        Ok(group)
    }

    async fn scim_find_group(&self, id: GroupId) -> Result<Option<ScimGroup>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        match group_in(&mut conn, id).await {
            Ok(group) => Ok(Some(group)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn scim_list_groups(
        &self,
        filter: Option<&Filter>,
        start: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError> {
        let (condition, value) = match filter {
            None => ("$1 = $1", String::new()),
            Some(f) if f.attribute == "displayName" => ("display_name_normalized = $1", f.value.to_lowercase()),
            Some(f) if f.attribute == "externalId" => ("external_id = $1", f.value.clone()),
            Some(f) => ("id = $1", f.value.clone()),
        };
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let total: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM scim_groups WHERE {condition}")))
                .bind(value.clone())
                .fetch_one(&mut *conn)
                .await
                .map_err(store_error)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, display_name, external_id, created_at, updated_at FROM scim_groups WHERE {condition} \
             ORDER BY id LIMIT $2 OFFSET $3"
        )))
        .bind(value)
        .bind(i64::try_from(count).unwrap_or(i64::MAX))
        .bind(i64::try_from(start.saturating_sub(1)).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in &rows {
            groups.push(group_from(&mut conn, row).await?);
        }
        Ok((u64::try_from(total).unwrap_or(0), groups))
    }

    async fn scim_replace_group(
        &self,
        id: GroupId,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError> {
        let (group, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let before = group_in(conn, id).await?;
                    let taken = Conflict::GroupNameTaken { display_name: input.display_name.clone() };
                    sqlx::query(
                        "UPDATE scim_groups SET display_name = $1, display_name_normalized = $2, external_id = $3, updated_at = $4 \
                         WHERE id = $5",
                    )
                    .bind(input.display_name.clone())
                    .bind(input.display_name.to_lowercase())
                    .bind(input.external_id.clone())
                    .bind(to_unix_millis(now))
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(move |_| taken.clone()))?;
                    set_members(conn, id, &input.members).await?;
                    let affected = before.members.iter().chain(&input.members).copied().collect();
                    let mut records = reconcile(conn, &affected, now, &audit).await?;
                    records.insert(0, audit);
                    Ok((group_in(conn, id).await?, records))
                }
                .boxed()
            })
            .await?;
        Ok(group)
    }

    async fn scim_delete_group(&self, id: GroupId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let before = group_in(conn, id).await?;
                    sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("DELETE FROM scim_groups WHERE id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    let affected = before.members.iter().copied().collect();
                    let mut records = reconcile(conn, &affected, now, &audit).await?;
                    records.insert(0, audit);
                    Ok(((), records))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }
}
