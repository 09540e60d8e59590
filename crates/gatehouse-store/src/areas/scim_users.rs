//! SCIM users: the IdP's User resources, linked to human identities.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::identity::{Email, IdentityStatus, NewIdentity};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::scim::filter::Filter;
use gatehouse_domain::scim::{ScimUser, UserInput};
use gatehouse_domain::store::{Conflict, ScimUserStore, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::areas::approvals::cancel_requests_in;
use crate::areas::identities::{identity_in, insert_identity, revoke_access};
use crate::areas::scim_groups::reconcile;
use crate::error::{corrupt, on_unique, store_error};
use crate::rows::{self, IDENTITY_COLUMNS};
use crate::sql_store::SqlStore;

const SCIM_COLUMNS: &str = "s.user_name, s.external_id, s.attributes, s.origin, s.linked_by, s.manager_id, \
    s.created_at AS scim_created_at, s.updated_at AS scim_updated_at";

fn identity_columns() -> String {
    IDENTITY_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ")
}

fn user(row: &AnyRow) -> Result<ScimUser, StoreError> {
    let attributes: String = row.try_get("attributes").map_err(store_error)?;
    let origin: String = row.try_get("origin").map_err(store_error)?;
    let linked_by: Option<String> = row.try_get("linked_by").map_err(store_error)?;
    let manager: Option<String> = row.try_get("manager_id").map_err(store_error)?;
    Ok(ScimUser {
        manager: manager.map(|raw| raw.parse().map_err(|_| corrupt("identity id", raw))).transpose()?,
        origin: origin.parse().map_err(|_| corrupt("SCIM origin", origin.clone()))?,
        linked_by: linked_by.map(|raw| raw.parse().map_err(|_| corrupt("identity id", raw))).transpose()?,
        identity: rows::identity(row)?,
        user_name: row.try_get("user_name").map_err(store_error)?,
        external_id: row.try_get("external_id").map_err(store_error)?,
        attributes: serde_json::from_str(&attributes).map_err(|_| corrupt("SCIM attributes", attributes.clone()))?,
        created_at: from_unix_millis(row.try_get("scim_created_at").map_err(store_error)?),
        updated_at: from_unix_millis(row.try_get("scim_updated_at").map_err(store_error)?),
    })
}

async fn user_in(conn: &mut AnyConnection, id: IdentityId) -> Result<ScimUser, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {}, {SCIM_COLUMNS} FROM scim_users s JOIN identities i ON i.id = s.identity_id WHERE s.identity_id = $1",
        identity_columns()
    )))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(store_error)?
    .ok_or_else(|| StoreError::not_found("user", id))?;
    user(&row)
}

/// Sets the identity's name and email from the resource.
async fn apply_identity(
    conn: &mut AnyConnection,
    id: IdentityId,
    input: &UserInput,
    at: i64,
) -> Result<(), StoreError> {
    let email = input.email.as_ref();
    let name: String = input.display_name.chars().take(128).collect();
    sqlx::query("UPDATE identities SET name = $1, email = $2, email_normalized = $3, updated_at = $4 WHERE id = $5")
        .bind(name)
        .bind(email.map(|e| e.as_str().to_owned()))
        .bind(email.map(Email::normalized))
        .bind(at)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(on_unique(|_| Conflict::PersonEmailTaken {
            email: email.map(Email::as_str).unwrap_or_default().to_owned(),
        }))?;
    Ok(())
}

/// Suspends and revokes everything, or reactivates, as `active` says.
async fn apply_active(conn: &mut AnyConnection, id: IdentityId, active: bool, at: i64) -> Result<(), StoreError> {
    let current = identity_in(conn, id).await?;
    match (active, current.status) {
        (false, IdentityStatus::Active) => {
            sqlx::query("UPDATE identities SET status = 'suspended', updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
            revoke_access(conn, id, at).await?;
        }
        (true, IdentityStatus::Suspended) => {
            sqlx::query("UPDATE identities SET status = 'active', updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
        }
        (true, IdentityStatus::Deprovisioned) => {
            return Err(Conflict::CannotReactivate { id }.into());
        }
        _ => {}
    }
    Ok(())
}

async fn write_user(
    conn: &mut AnyConnection,
    id: IdentityId,
    input: &UserInput,
    at: i64,
    insert: bool,
) -> Result<(), StoreError> {
    let attributes = serde_json::Value::Object(input.attributes.clone()).to_string();
    let taken = Conflict::UserNameTaken { user_name: input.user_name.clone() };
    let query = if insert {
        "INSERT INTO scim_users (user_name, user_name_normalized, external_id, attributes, created_at, updated_at, identity_id, manager_id) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7)"
    } else {
        "UPDATE scim_users SET user_name = $1, user_name_normalized = $2, external_id = $3, attributes = $4, updated_at = $5, \
         manager_id = $7 WHERE identity_id = $6"
    };
    sqlx::query(query)
        .bind(input.user_name.clone())
        .bind(input.user_name.to_lowercase())
        .bind(input.external_id.clone())
        .bind(attributes)
        .bind(at)
        .bind(id.to_string())
        .bind(input.manager.map(|manager| manager.to_string()))
        .execute(&mut *conn)
        .await
        .map_err(on_unique(move |_| taken.clone()))?;
    Ok(())
}

#[async_trait]
impl ScimUserStore for SqlStore {
    async fn scim_create_user(
        &self,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        let (user, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    // INVARIANT: a create never adopts an existing identity; a
                    // taken email fails the insert (`Conflict`), changing nothing.
                    let name: String = input.display_name.chars().take(128).collect();
                    let new = NewIdentity::provisioned_person(&name, input.email.clone(), now)
                        .map_err(|e| Conflict::InvalidPerson { reason: e.to_string() })?;
                    insert_identity(conn, &new).await?;
                    let id = new.id;
                    write_user(conn, id, &input, at, true).await?;
                    apply_identity(conn, id, &input, at).await?;
                    apply_active(conn, id, input.active, at).await?;
                    Ok((user_in(conn, id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(user)
    }

    async fn scim_find_user(&self, id: IdentityId) -> Result<Option<ScimUser>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        match user_in(&mut conn, id).await {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn scim_list_users(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimUser>), StoreError> {
        let (condition, value) = match filter {
            None => ("$1 = $1", String::new()),
            Some(f) if f.attribute == "userName" => ("s.user_name_normalized = $1", f.value.to_lowercase()),
            Some(f) if f.attribute == "externalId" => ("s.external_id = $1", f.value.clone()),
            Some(f) => ("s.identity_id = $1", f.value.clone()),
        };
        let total: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM scim_users s WHERE {condition}")))
                .bind(value.clone())
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        let offset = i64::try_from(start_index.saturating_sub(1)).unwrap_or(i64::MAX);
        let limit = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, {SCIM_COLUMNS} FROM scim_users s JOIN identities i ON i.id = s.identity_id WHERE {condition} \
             ORDER BY s.identity_id LIMIT $2 OFFSET $3",
            identity_columns()
        )))
        .bind(value)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let users = rows.iter().map(user).collect::<Result<_, _>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn scim_list_managers(&self) -> Result<Vec<(IdentityId, IdentityId)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT identity_id, manager_id FROM scim_users WHERE manager_id IS NOT NULL ORDER BY identity_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(person, manager)| {
                let parse = |raw: String| raw.parse().map_err(|_| corrupt("identity id", raw));
                Ok((parse(person)?, parse(manager)?))
            })
            .collect()
    }

    async fn scim_update_user(
        &self,
        id: IdentityId,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        let (user, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    user_in(conn, id).await?;
                    write_user(conn, id, &input, at, false).await?;
                    apply_identity(conn, id, &input, at).await?;
                    let was = identity_in(conn, id).await?.status;
                    apply_active(conn, id, input.active, at).await?;
                    // A person reactivated regains what their groups give.
                    let mut records = reconcile(conn, &[id].into_iter().collect(), now, &audit).await?;
                    if was == IdentityStatus::Active && !input.active {
                        records.extend(cancel_requests_in(conn, id, now, &audit).await?.1);
                    }
                    records.insert(0, audit);
                    Ok((user_in(conn, id).await?, records))
                }
                .boxed()
            })
            .await?;
        Ok(user)
    }

    async fn scim_delete_user(
        &self,
        id: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    user_in(conn, id).await?;
                    sqlx::query("DELETE FROM scim_users WHERE identity_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("UPDATE identities SET status = 'deprovisioned', updated_at = $1 WHERE id = $2")
                        .bind(at)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    revoke_access(conn, id, at).await?;
                    let (_, cancelled) = cancel_requests_in(conn, id, now, &audit).await?;
                    let mut records = vec![audit];
                    records.extend(cancelled);
                    Ok(((), records))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn scim_link_user(
        &self,
        id: IdentityId,
        user_name: String,
        attributes: serde_json::Map<String, serde_json::Value>,
        linked_by: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError> {
        let (user, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let at = to_unix_millis(now);
                    identity_in(conn, id).await?;
                    // A user adopted by email becomes the admin's link as it is.
                    let confirmed = sqlx::query(
                        "UPDATE scim_users SET origin = 'linked', linked_by = $1, linked_at = $2, updated_at = $2 \
                         WHERE identity_id = $3 AND origin = 'adopted'",
                    )
                    .bind(linked_by.to_string())
                    .bind(at)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                    if confirmed == 0 {
                        let managed = Conflict::AlreadyManagedByScim { id };
                        let exists: Option<String> =
                            sqlx::query_scalar("SELECT identity_id FROM scim_users WHERE identity_id = $1")
                                .bind(id.to_string())
                                .fetch_optional(&mut *conn)
                                .await
                                .map_err(store_error)?;
                        if exists.is_some() {
                            return Err(managed.into());
                        }
                        let input = UserInput {
                            user_name,
                            external_id: None,
                            display_name: String::new(),
                            email: None,
                            active: true,
                            manager: None,
                            attributes,
                        };
                        write_user(conn, id, &input, at, true).await?;
                        sqlx::query(
                            "UPDATE scim_users SET origin = 'linked', linked_by = $1, linked_at = $2 WHERE identity_id = $3",
                        )
                        .bind(linked_by.to_string())
                        .bind(at)
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    }
                    Ok((user_in(conn, id).await?, vec![audit]))
                }
                .boxed()
            })
            .await?;
        Ok(user)
    }

    async fn scim_unlink_user(
        &self,
        id: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    user_in(conn, id).await?;
                    sqlx::query("DELETE FROM scim_group_members WHERE identity_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    sqlx::query("DELETE FROM scim_users WHERE identity_id = $1")
                        .bind(id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    // The grants the directory's groups gave go with it.
                    let mut records = reconcile(conn, &[id].into_iter().collect(), now, &audit).await?;
                    records.insert(0, audit);
                    Ok(((), records))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }
}
