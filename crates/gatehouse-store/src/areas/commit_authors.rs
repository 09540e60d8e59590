//! [`CommitAuthorStore`] for [`SqlStore`]: who signed which commit, recorded
//! with the verification that proved it.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::{AuditAction, AuditRecord};
use gatehouse_domain::change::{CommitAuthor, CommitSha};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::store::{CommitAuthorStore, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{corrupt, store_error};
use crate::sql_store::SqlStore;

fn fact_from(row: &AnyRow) -> Result<CommitAuthor, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(store_error);
    let commit = text("commit_sha")?;
    let identity = text("identity_id")?;
    let verification = text("verification")?;
    let repository = text("repository")?;
    Ok(CommitAuthor {
        commit: commit.parse().map_err(|_| corrupt("commit id", &commit))?,
        repository: (!repository.is_empty()).then_some(repository),
        identity_id: identity.parse().map_err(|_| corrupt("identity id", &identity))?,
        key_fingerprint: text("key_fingerprint")?,
        verification: AuditAction::ALL
            .iter()
            .copied()
            .find(|action| action.as_str() == verification)
            .ok_or_else(|| corrupt("verification", &verification))?,
        recorded_at: from_unix_millis(row.try_get::<i64, _>("recorded_at").map_err(store_error)?),
    })
}

#[async_trait]
impl CommitAuthorStore for SqlStore {
    async fn record_commit_authors(&self, facts: Vec<CommitAuthor>, audit: AuditRecord) -> Result<u64, StoreError> {
        // Who signed what is no credential: the credential cache stays.
        let ((), indexes) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    for fact in &facts {
                        sqlx::query(
                            "INSERT INTO commit_authors \
                             (commit_sha, identity_id, repository, key_fingerprint, verification, recorded_at) \
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        )
                        .bind(fact.commit.to_string())
                        .bind(fact.identity_id.to_string())
                        .bind(fact.repository.clone().unwrap_or_default())
                        .bind(fact.key_fingerprint.clone())
                        .bind(fact.verification.as_str())
                        .bind(to_unix_millis(fact.recorded_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                    }
                    Ok(((), vec![audit]))
                }
                .boxed()
            })
            .await?;
        indexes.first().copied().ok_or_else(|| StoreError::Other("the verification's entry was not written".into()))
    }

    async fn commit_authors(&self, commits: &[CommitSha]) -> Result<Vec<CommitAuthor>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let mut facts = Vec::new();
        for commit in commits {
            let rows = sqlx::query(
                "SELECT commit_sha, identity_id, repository, key_fingerprint, verification, recorded_at \
                 FROM commit_authors WHERE commit_sha = $1",
            )
            .bind(commit.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
            for row in &rows {
                facts.push(fact_from(row)?);
            }
        }
        facts.sort_by(|a, b| {
            (a.recorded_at, &a.commit, a.identity_id, &a.repository).cmp(&(
                b.recorded_at,
                &b.commit,
                b.identity_id,
                &b.repository,
            ))
        });
        facts.dedup();
        Ok(facts)
    }
}
