//! [`InstallationStore`] for [`SqlStore`]: initialization, once.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::store::{Conflict, InitialSetup, Installation, InstallationStore, StoreError};
use sqlx::Row;

use crate::areas::grants::insert_grant;
use crate::areas::identities::insert_identity;
use crate::areas::tokens::insert_token;
use crate::error::{on_unique, store_error};
use crate::sql_store::SqlStore;

#[async_trait]
impl InstallationStore for SqlStore {
    async fn find_installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query("SELECT initialized_at, audit_public_key, audit_origin FROM installation")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let origin: Option<String> = row.try_get("audit_origin").map_err(store_error)?;
            Ok(Installation {
                initialized_at: from_unix_millis(row.try_get("initialized_at").map_err(store_error)?),
                audit_public_key: row.try_get("audit_public_key").map_err(store_error)?,
                audit_origin: origin.unwrap_or_else(|| crate::DEFAULT_ORIGIN.to_owned()),
            })
        })
        .transpose()
    }

    async fn initialize(&self, setup: InitialSetup) -> Result<Installation, StoreError> {
        let (installation, _) = self
            .writer
            .submit(move |conn| {
                async move {
                    let installation = Installation {
                        initialized_at: setup.admin.created_at,
                        audit_public_key: setup.audit_public_key,
                        audit_origin: setup.audit_origin,
                    };
                    sqlx::query(
                        "INSERT INTO installation (singleton, initialized_at, audit_public_key, audit_origin) \
                         VALUES (1, $1, $2, $3)",
                    )
                    .bind(to_unix_millis(installation.initialized_at))
                    .bind(installation.audit_public_key.clone())
                    .bind(installation.audit_origin.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(on_unique(|_| Conflict::AlreadyInitialized))?;
                    insert_identity(conn, &setup.admin).await?;
                    insert_grant(conn, &setup.admin_grant).await?;
                    insert_token(conn, &setup.admin_token).await?;
                    Ok((installation, setup.audit))
                }
                .boxed()
            })
            .await?;
        Ok(installation)
    }
}
