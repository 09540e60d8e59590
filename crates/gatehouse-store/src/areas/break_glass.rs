//! [`BreakGlassStore`] for [`SqlStore`]: break-glass requests and the
//! after-review each owes. The guards are the races only: a review or an
//! alert that landed since the caller read the after-review (its
//! `revision`), and one review per person.

use std::collections::HashMap;

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::access::{
    AfterReviewEntry, AfterReviewStatus, ApprovalRequest, NewAfterReview, NewApprovalRequest, ReviewDecision,
};
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_domain::store::{BreakGlassStore, Conflict, PageRequest, StoreError};
use sqlx::{AnyConnection, AssertSqlSafe};
use time::OffsetDateTime;

use crate::areas::approvals::{
    attach_grant, existing_request, get, insert_request, parse, request_columns, request_row, with_votes, write_op,
};
use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::SqlStore;

/// Fills in the after-review of each break-glass request of `requests`.
pub(crate) async fn with_after_reviews(
    conn: &mut AnyConnection,
    requests: &mut [ApprovalRequest],
) -> Result<(), StoreError> {
    let ids: Vec<String> =
        requests.iter().filter(|request| request.break_glass).map(|request| request.id.to_string()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let mut query = sqlx::query(AssertSqlSafe(format!(
        "SELECT request_id, due_at, need, completed_at, last_alert_at, revision \
         FROM break_glass_after_reviews WHERE request_id IN ({placeholders})"
    )));
    for id in &ids {
        query = query.bind(id.clone());
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(store_error)?;
    let mut statuses: HashMap<String, AfterReviewStatus> = HashMap::new();
    for row in &rows {
        let need: i64 = get(row, "need")?;
        statuses.insert(
            get(row, "request_id")?,
            AfterReviewStatus {
                due_at: from_unix_millis(get(row, "due_at")?),
                need: u32::try_from(need).map_err(|_| corrupt("after-review need", need))?,
                reviews: Vec::new(),
                completed_at: get::<Option<i64>>(row, "completed_at")?.map(from_unix_millis),
                last_alert_at: get::<Option<i64>>(row, "last_alert_at")?.map(from_unix_millis),
                revision: get(row, "revision")?,
            },
        );
    }
    let mut query = sqlx::query(AssertSqlSafe(format!(
        "SELECT request_id, reviewer, decision, reason, mfa_age_seconds, created_at \
         FROM break_glass_reviews WHERE request_id IN ({placeholders}) ORDER BY created_at, reviewer"
    )));
    for id in &ids {
        query = query.bind(id.clone());
    }
    for row in &query.fetch_all(&mut *conn).await.map_err(store_error)? {
        let request: String = get(row, "request_id")?;
        let decision: String = get(row, "decision")?;
        let review = AfterReviewEntry {
            reviewer: parse(get(row, "reviewer")?, "reviewer")?,
            decision: ReviewDecision::parse(&decision).ok_or_else(|| corrupt("review decision", &decision))?,
            reason: get(row, "reason")?,
            mfa_age_seconds: get(row, "mfa_age_seconds")?,
            created_at: from_unix_millis(get(row, "created_at")?),
        };
        if let Some(status) = statuses.get_mut(&request) {
            status.reviews.push(review);
        }
    }
    for request in requests.iter_mut() {
        request.after_review = statuses.remove(&request.id.to_string());
    }
    Ok(())
}

/// Moves the after-review of `id` on from `revision`: `NotFound` without
/// one, `Conflict::AfterReviewRevised` if it moved or is complete.
async fn revised(
    conn: &mut AnyConnection,
    id: ApprovalRequestId,
    revision: i64,
    set: &str,
    value: Option<i64>,
) -> Result<(), StoreError> {
    let moved = sqlx::query(AssertSqlSafe(format!(
        "UPDATE break_glass_after_reviews SET {set} = CAST($1 AS BIGINT), revision = revision + 1 \
         WHERE request_id = $2 AND revision = $3 AND completed_at IS NULL"
    )))
    .bind(value)
    .bind(id.to_string())
    .bind(revision)
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    if moved.rows_affected() == 1 {
        return Ok(());
    }
    let exists: Option<String> =
        sqlx::query_scalar("SELECT request_id FROM break_glass_after_reviews WHERE request_id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
    match exists {
        None => Err(StoreError::not_found("after-review", id)),
        Some(_) => Err(Conflict::AfterReviewRevised { id }.into()),
    }
}

#[async_trait]
impl BreakGlassStore for SqlStore {
    async fn create_break_glass_request(
        &self,
        new: NewApprovalRequest,
        review: NewAfterReview,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError> {
        let grants_access = new.grant.is_some();
        let op = write_op(move |conn| {
            async move {
                insert_request(conn, &new).await?;
                if let Some(grant) = &new.grant {
                    attach_grant(conn, new.id, grant).await?;
                }
                sqlx::query(
                    "INSERT INTO break_glass_after_reviews (request_id, due_at, need, revision) VALUES ($1, $2, $3, 0)",
                )
                .bind(new.id.to_string())
                .bind(to_unix_millis(review.due_at))
                .bind(i64::from(review.need))
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                Ok((existing_request(conn, new.id).await?, audits))
            }
            .boxed()
        });
        // Break-glass access creates a grant: a credential change.
        let (request, _) =
            if grants_access { self.writer.submit(op).await? } else { self.writer.submit_bookkeeping(op).await? };
        Ok(request)
    }

    async fn record_after_review(
        &self,
        id: ApprovalRequestId,
        revision: i64,
        review: AfterReviewEntry,
        completes: bool,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let at = to_unix_millis(review.created_at);
                revised(conn, id, revision, "completed_at", completes.then_some(at)).await?;
                sqlx::query(
                    "INSERT INTO break_glass_reviews \
                     (request_id, reviewer, decision, reason, mfa_age_seconds, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id.to_string())
                .bind(review.reviewer.to_string())
                .bind(review.decision.as_str())
                .bind(review.reason.clone())
                .bind(review.mfa_age_seconds)
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(on_unique(|_| Conflict::AlreadyReviewed { id }))?;
                Ok((existing_request(conn, id).await?, audits))
            }
            .boxed()
        });
        let (request, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(request)
    }

    async fn overdue_after_reviews(
        &self,
        now: OffsetDateTime,
        raised_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>, StoreError> {
        let limit = i64::from(limit.clamp(1, PageRequest::MAX_LIMIT));
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM approval_requests r JOIN break_glass_after_reviews a ON a.request_id = r.id \
             WHERE a.completed_at IS NULL AND a.due_at <= $1 \
               AND (a.last_alert_at IS NULL OR a.last_alert_at <= $2) \
             ORDER BY a.due_at, r.id LIMIT $3",
            request_columns("r.")
        )))
        .bind(to_unix_millis(now))
        .bind(to_unix_millis(raised_before))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let due = rows.iter().map(request_row).collect::<Result<Vec<_>, _>>()?;
        with_votes(&mut conn, due).await
    }

    async fn count_overdue_after_reviews(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM break_glass_after_reviews WHERE completed_at IS NULL AND due_at <= $1",
        )
        .bind(to_unix_millis(now))
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        u64::try_from(count).map_err(|_| corrupt("overdue count", count))
    }

    async fn raise_overdue_after_review(
        &self,
        id: ApprovalRequestId,
        revision: i64,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ApprovalRequest, StoreError> {
        let op = write_op(move |conn| {
            async move {
                revised(conn, id, revision, "last_alert_at", Some(to_unix_millis(at))).await?;
                Ok((existing_request(conn, id).await?, vec![audit]))
            }
            .boxed()
        });
        let (request, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(request)
    }
}
