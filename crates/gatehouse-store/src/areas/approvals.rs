//! [`ApprovalStore`] for [`SqlStore`]: requests through the approved channel
//! and their votes. The guards here are the races only: a state, digest or
//! revision that moved since the caller read it, a second open request for
//! a run, a second live vote.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use gatehouse_domain::access::{
    ApprovalRequest, ApproverDirectory, BindingKey, DeploymentBinding, DirectoryGrant, NewApprovalRequest, NewVote,
    RequestKind, RequestState, StoredVote, VoteDecision,
};
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome};
use gatehouse_domain::clock::{from_unix_millis, to_unix_millis};
use gatehouse_domain::grant::{NewGrant, Resource, Scope};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};
use gatehouse_domain::store::{
    ApprovalFilter, ApprovalStore, CancelledRequests, Conflict, Page, PageRequest, StoreError, VoteOutcome,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::{Duration, OffsetDateTime};

use crate::areas::grants::insert_grant;
use crate::areas::identities::identity_in;
use crate::error::{corrupt, on_unique, store_error};
use crate::sql_store::{SqlStore, clamp_limit, into_page};

const REQUEST_COLUMNS: [&str; 31] = [
    "id",
    "kind",
    "state",
    "rule_id",
    "policy_hash",
    "requester",
    "resource",
    "role",
    "duration_seconds",
    "action",
    "forge",
    "repository",
    "run_id",
    "run_attempt",
    "environment",
    "sha",
    "authors",
    "workflow_digest",
    "binding_key",
    "reason",
    "ticket",
    "digest",
    "break_glass",
    "incident",
    "grant_id",
    "assignment",
    "revision",
    "created_at",
    "expires_at",
    "decided_at",
    "updated_at",
];

const VOTE_COLUMNS: &str =
    "request_id, voter, decision, reason, clauses, mfa_age_seconds, digest, created_at, withdrawn_at";

/// The request columns, each as `<prefix><column>`.
pub(crate) fn request_columns(prefix: &str) -> String {
    REQUEST_COLUMNS.iter().map(|column| format!("{prefix}{column}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn get<T>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(store_error)
}

pub(crate) fn parse<T: std::str::FromStr>(raw: String, what: &str) -> Result<T, StoreError> {
    raw.parse().map_err(|_| corrupt(what, &raw))
}

fn json_column(row: &AnyRow, column: &str) -> Result<Vec<serde_json::Value>, StoreError> {
    let raw: String = get(row, column)?;
    match serde_json::from_str(&raw) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        _ => Err(corrupt(column, &raw)),
    }
}

fn json_strings(row: &AnyRow, column: &str) -> Result<Vec<String>, StoreError> {
    json_column(row, column)?
        .into_iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| corrupt(column, &item)))
        .collect()
}

fn json_index(item: &serde_json::Value, column: &str) -> Result<usize, StoreError> {
    item.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| corrupt(column, item))
}

fn state_of(raw: String) -> Result<RequestState, StoreError> {
    RequestState::parse(&raw).ok_or_else(|| corrupt("request state", &raw))
}

/// A request row, without its votes.
pub(crate) fn request_row(row: &AnyRow) -> Result<ApprovalRequest, StoreError> {
    let kind: String = get(row, "kind")?;
    let resource: String = get(row, "resource")?;
    let kind = match kind.as_str() {
        "access" => RequestKind::Access {
            role: parse(get(row, "role")?, "role")?,
            scope: Scope::parse(&resource).map_err(|_| corrupt("scope", &resource))?,
            duration: Duration::seconds(get(row, "duration_seconds")?),
        },
        "action" => {
            let forge: Option<String> = get(row, "forge")?;
            let binding = match forge {
                None => None,
                Some(forge) => {
                    let attempt: i64 = get(row, "run_attempt")?;
                    Some(DeploymentBinding {
                        forge,
                        repository: get(row, "repository")?,
                        run_id: get(row, "run_id")?,
                        run_attempt: u32::try_from(attempt).map_err(|_| corrupt("run attempt", attempt))?,
                        environment: get(row, "environment")?,
                        sha: get(row, "sha")?,
                        authors: json_strings(row, "authors")?,
                        workflow_digest: get(row, "workflow_digest")?,
                    })
                }
            };
            RequestKind::Action {
                action: parse(get(row, "action")?, "action")?,
                resource: Resource::parse(&resource).map_err(|_| corrupt("resource", &resource))?,
                binding,
            }
        }
        other => return Err(corrupt("request kind", other)),
    };
    let assignment = json_column(row, "assignment")?
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([clause, voter]) => Ok((
                json_index(clause, "assignment")?,
                parse(voter.as_str().unwrap_or_default().to_owned(), "assignment")?,
            )),
            _ => Err(corrupt("assignment", pair)),
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let break_glass: i64 = get(row, "break_glass")?;
    Ok(ApprovalRequest {
        id: parse(get(row, "id")?, "request id")?,
        kind,
        state: state_of(get(row, "state")?)?,
        rule_id: get(row, "rule_id")?,
        policy_hash: get(row, "policy_hash")?,
        requester: parse(get(row, "requester")?, "requester")?,
        reason: get(row, "reason")?,
        ticket: get(row, "ticket")?,
        digest: get(row, "digest")?,
        break_glass: break_glass != 0,
        incident: get(row, "incident")?,
        grant_id: get::<Option<String>>(row, "grant_id")?.map(|id| parse(id, "grant id")).transpose()?,
        assignment,
        revision: get(row, "revision")?,
        created_at: from_unix_millis(get(row, "created_at")?),
        expires_at: from_unix_millis(get(row, "expires_at")?),
        decided_at: get::<Option<i64>>(row, "decided_at")?.map(from_unix_millis),
        updated_at: from_unix_millis(get(row, "updated_at")?),
        votes: Vec::new(),
        after_review: None,
    })
}

fn vote_row(row: &AnyRow) -> Result<(ApprovalRequestId, StoredVote), StoreError> {
    let decision: String = get(row, "decision")?;
    let decision = match decision.as_str() {
        "approve" => VoteDecision::Approve,
        "deny" => VoteDecision::Deny,
        other => return Err(corrupt("vote decision", other)),
    };
    let clauses = json_column(row, "clauses")?
        .iter()
        .map(|item| json_index(item, "clauses"))
        .collect::<Result<BTreeSet<usize>, _>>()?;
    Ok((
        parse(get(row, "request_id")?, "request id")?,
        StoredVote {
            voter: parse(get(row, "voter")?, "voter")?,
            decision,
            reason: get(row, "reason")?,
            clauses,
            mfa_age_seconds: get(row, "mfa_age_seconds")?,
            digest: get(row, "digest")?,
            created_at: from_unix_millis(get(row, "created_at")?),
            withdrawn_at: get::<Option<i64>>(row, "withdrawn_at")?.map(from_unix_millis),
        },
    ))
}

/// Fills in the votes of `requests`, oldest first.
pub(crate) async fn with_votes(
    conn: &mut AnyConnection,
    mut requests: Vec<ApprovalRequest>,
) -> Result<Vec<ApprovalRequest>, StoreError> {
    if requests.is_empty() {
        return Ok(requests);
    }
    let placeholders = (1..=requests.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {VOTE_COLUMNS} FROM approval_votes WHERE request_id IN ({placeholders}) ORDER BY id");
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for request in &requests {
        query = query.bind(request.id.to_string());
    }
    let rows = query.fetch_all(&mut *conn).await.map_err(store_error)?;
    let mut votes: HashMap<ApprovalRequestId, Vec<StoredVote>> = HashMap::new();
    for row in &rows {
        let (request, vote) = vote_row(row)?;
        votes.entry(request).or_default().push(vote);
    }
    for request in &mut requests {
        request.votes = votes.remove(&request.id).unwrap_or_default();
    }
    crate::areas::break_glass::with_after_reviews(conn, &mut requests).await?;
    Ok(requests)
}

/// The request with its votes, read on `conn` (inside a write, its own
/// transaction's view).
async fn request_in(conn: &mut AnyConnection, id: ApprovalRequestId) -> Result<Option<ApprovalRequest>, StoreError> {
    let row =
        sqlx::query(AssertSqlSafe(format!("SELECT {} FROM approval_requests WHERE id = $1", request_columns(""))))
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_votes(conn, vec![request_row(&row)?]).await?.pop())
}

pub(crate) async fn existing_request(
    conn: &mut AnyConnection,
    id: ApprovalRequestId,
) -> Result<ApprovalRequest, StoreError> {
    request_in(conn, id).await?.ok_or_else(|| StoreError::not_found("request", id))
}

fn state_changed(request: &ApprovalRequest, expected: RequestState) -> StoreError {
    Conflict::RequestStateChanged { id: request.id, expected, current: request.state }.into()
}

fn assignment_json(assignment: &[(usize, IdentityId)]) -> String {
    json!(assignment.iter().map(|(clause, voter)| json!([clause, voter.to_string()])).collect::<Vec<_>>()).to_string()
}

/// Creates `grant` for the request, refusing a deprovisioned holder as
/// `create_grant` does, and records it on the request.
pub(crate) async fn attach_grant(
    conn: &mut AnyConnection,
    id: ApprovalRequestId,
    grant: &NewGrant,
) -> Result<(), StoreError> {
    let holder = identity_in(conn, grant.identity_id).await?;
    if holder.status == IdentityStatus::Deprovisioned {
        return Err(Conflict::IdentityDeprovisioned { id: holder.id }.into());
    }
    insert_grant(conn, grant).await?;
    sqlx::query("UPDATE approval_requests SET grant_id = $1 WHERE id = $2")
        .bind(grant.id.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(crate) async fn insert_request(conn: &mut AnyConnection, new: &NewApprovalRequest) -> Result<(), StoreError> {
    let key = new.binding_key().map(|key| key.to_string());
    let (role, duration, action) = match &new.kind {
        RequestKind::Access { role, duration, .. } => {
            (Some(role.as_str().to_owned()), Some(duration.whole_seconds()), None)
        }
        RequestKind::Action { action, .. } => (None, None, Some(action.as_str())),
    };
    let binding = new.kind.binding();
    let placeholders = (1..=REQUEST_COLUMNS.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let shown_key = key.clone().unwrap_or_default();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO approval_requests ({}) VALUES ({placeholders})",
        request_columns("")
    )))
    .bind(new.id.to_string())
    .bind(new.kind.as_str())
    .bind(new.state.as_str())
    .bind(new.rule_id.clone())
    .bind(new.policy_hash.clone())
    .bind(new.requester.to_string())
    .bind(new.kind.resource_text())
    .bind(role)
    .bind(duration)
    .bind(action)
    .bind(binding.map(|b| b.forge.clone()))
    .bind(binding.map(|b| b.repository.clone()))
    .bind(binding.map(|b| b.run_id.clone()))
    .bind(binding.map(|b| i64::from(b.run_attempt)))
    .bind(binding.map(|b| b.environment.clone()))
    .bind(binding.map(|b| b.sha.clone()))
    .bind(binding.map(|b| json!(b.authors).to_string()))
    .bind(binding.and_then(|b| b.workflow_digest.clone()))
    .bind(key)
    .bind(new.reason.clone())
    .bind(new.ticket.clone())
    .bind(new.digest.clone())
    .bind(i64::from(new.break_glass))
    .bind(new.incident.clone())
    .bind(None::<String>)
    .bind("[]")
    .bind(0_i64)
    .bind(to_unix_millis(new.created_at))
    .bind(to_unix_millis(new.expires_at))
    .bind((new.state != RequestState::Pending).then(|| to_unix_millis(new.created_at)))
    .bind(to_unix_millis(new.created_at))
    .execute(&mut *conn)
    .await
    .map_err(on_unique(|_| Conflict::RequestOpenForRun { key: shown_key.clone() }))?;
    Ok(())
}

/// Pins a write's closure to the writer's signature (a closure bound to a
/// `let` is not inferred higher-ranked otherwise).
pub(crate) fn write_op<T, F>(op: F) -> F
where
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Vec<AuditRecord>), StoreError>>,
{
    op
}

/// One derived record of a command run on gatehouse's own account.
#[allow(clippy::disallowed_methods, reason = "entries of the cancellation the caller was authorized for")]
fn derived(cause: &AuditRecord, at: OffsetDateTime, action: AuditAction, resource: String) -> AuditRecord {
    cause.derived(at, action, resource)
}

/// Cancels the identity's pending requests and withdraws its live votes on
/// pending ones, inside the caller's transaction (a deactivation's): what
/// changed, and an audit record per change derived from `cause`.
pub(crate) async fn cancel_requests_in(
    conn: &mut AnyConnection,
    identity: IdentityId,
    at: OffsetDateTime,
    cause: &AuditRecord,
) -> Result<(CancelledRequests, Vec<AuditRecord>), StoreError> {
    let millis = to_unix_millis(at);
    let cancelled: Vec<String> = sqlx::query_scalar(
        "UPDATE approval_requests \
         SET state = 'cancelled', decided_at = $1, updated_at = $1, revision = revision + 1 \
         WHERE requester = $2 AND state = 'pending' RETURNING id",
    )
    .bind(millis)
    .bind(identity.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let withdrawn: Vec<String> = sqlx::query_scalar(
        "UPDATE approval_votes SET withdrawn_at = $1 \
         WHERE voter = $2 AND withdrawn_at IS NULL \
           AND request_id IN (SELECT id FROM approval_requests WHERE state = 'pending') \
         RETURNING request_id",
    )
    .bind(millis)
    .bind(identity.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(store_error)?;
    let mut records = Vec::new();
    for id in &cancelled {
        records.push(
            derived(cause, at, AuditAction::RequestCancel, format!("request:{id}"))
                .outcome(Outcome::Success, "the requester was deactivated")
                .details(json!({"request_id": id, "requester": identity.to_string()})),
        );
    }
    for id in &withdrawn {
        sqlx::query("UPDATE approval_requests SET revision = revision + 1, updated_at = $1 WHERE id = $2")
            .bind(millis)
            .bind(id.clone())
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        records.push(
            derived(cause, at, AuditAction::RequestVote, format!("request:{id}"))
                .outcome(Outcome::Success, "the voter was deactivated")
                .details(json!({"request_id": id, "voter": identity.to_string(), "withdrawn": true})),
        );
    }
    let ids = |ids: Vec<String>| {
        let mut ids =
            ids.into_iter().map(|id| parse::<ApprovalRequestId>(id, "request id")).collect::<Result<Vec<_>, _>>()?;
        ids.sort();
        Ok::<_, StoreError>(ids)
    };
    Ok((CancelledRequests { cancelled: ids(cancelled)?, votes_withdrawn: ids(withdrawn)? }, records))
}

#[async_trait]
impl ApprovalStore for SqlStore {
    async fn create_approval_request(
        &self,
        new: NewApprovalRequest,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError> {
        let op = write_op(move |conn| {
            async move {
                insert_request(conn, &new).await?;
                if let Some(grant) = &new.grant {
                    attach_grant(conn, new.id, grant).await?;
                }
                Ok((existing_request(conn, new.id).await?, audits))
            }
            .boxed()
        });
        // Break-glass access creates a grant: a credential change.
        let (request, _) = self.writer.submit(op).await?;
        Ok(request)
    }

    async fn find_approval_request(&self, id: ApprovalRequestId) -> Result<Option<ApprovalRequest>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        request_in(&mut conn, id).await
    }

    async fn find_open_request_by_binding(&self, key: &BindingKey) -> Result<Option<ApprovalRequest>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM approval_requests WHERE binding_key = $1 AND state IN ('pending', 'approved')",
            request_columns("")
        )))
        .bind(key.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(with_votes(&mut conn, vec![request_row(&row)?]).await?.pop())
    }

    async fn list_approval_requests(
        &self,
        filter: &ApprovalFilter,
        page: PageRequest,
    ) -> Result<Page<ApprovalRequest>, StoreError> {
        let limit = clamp_limit(&page);
        // Only the conditions asked for, so each listing can use its index
        // (state, requester, or the id order alone) instead of a plan made
        // for every condition at once.
        let mut conditions: Vec<String> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut numbers: Vec<i64> = Vec::new();
        // `{p}` in a condition is its parameter, `$n`.
        let mut text = |conditions: &mut Vec<String>, sql: &str, value: String| {
            texts.push(value);
            conditions.push(sql.replace("{p}", &format!("${}", texts.len())));
        };
        if let Some(after) = page.after.clone() {
            text(&mut conditions, "id < {p}", after);
        }
        if let Some(state) = filter.state {
            text(&mut conditions, "state = {p}", state.as_str().to_owned());
        }
        if let Some(requester) = filter.requester {
            text(&mut conditions, "requester = {p}", requester.to_string());
        }
        if let Some(prefix) = filter.resource_prefix.clone() {
            text(&mut conditions, "substr(resource, 1, length(CAST({p} AS TEXT))) = {p}", prefix);
        }
        if let Some(voter) = filter.voter {
            text(&mut conditions, "id IN (SELECT request_id FROM approval_votes WHERE voter = {p})", voter.to_string());
        }
        if filter.after_review_open {
            conditions
                .push("id IN (SELECT request_id FROM break_glass_after_reviews WHERE completed_at IS NULL)".to_owned());
        }
        let texts_used = texts.len();
        for (sql, value) in [("created_at >= {p}", filter.created_from), ("created_at < {p}", filter.created_before)] {
            if let Some(at) = value {
                let position = texts_used + numbers.len() + 1;
                numbers.push(to_unix_millis(at));
                conditions.push(sql.replace("{p}", &format!("${position}")));
            }
        }
        let limit_position = texts.len() + numbers.len() + 1;
        let where_clause =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql = format!(
            "SELECT {} FROM approval_requests {where_clause} ORDER BY id DESC LIMIT ${limit_position}",
            request_columns("")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in texts {
            query = query.bind(value);
        }
        for value in numbers {
            query = query.bind(value);
        }
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let rows = query.bind(limit + 1).fetch_all(&mut *conn).await.map_err(store_error)?;
        let items = rows.iter().map(request_row).collect::<Result<Vec<_>, _>>()?;
        let page = into_page(items, limit, |request| request.id.to_string());
        let items = with_votes(&mut conn, page.items).await?;
        Ok(Page { items, next_after: page.next_after })
    }

    async fn record_vote(
        &self,
        id: ApprovalRequestId,
        digest: &str,
        revision: i64,
        vote: NewVote,
        decided: Option<VoteOutcome>,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError> {
        let digest = digest.to_owned();
        // Access granted by this vote changes what credentials allow.
        let grants_access = decided.as_ref().is_some_and(|outcome| outcome.grant.is_some());
        let op = write_op(move |conn| {
            async move {
                let at = to_unix_millis(vote.created_at);
                let guarded = sqlx::query(
                    "UPDATE approval_requests SET revision = revision + 1, updated_at = $1 \
                     WHERE id = $2 AND state = 'pending' AND digest = $3 AND revision = $4",
                )
                .bind(at)
                .bind(id.to_string())
                .bind(digest.clone())
                .bind(revision)
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                if guarded.rows_affected() == 0 {
                    let current = existing_request(conn, id).await?;
                    return Err(if current.state != RequestState::Pending {
                        state_changed(&current, RequestState::Pending)
                    } else if current.digest != digest {
                        Conflict::RequestDigestChanged { id }.into()
                    } else {
                        Conflict::RequestRevised { id }.into()
                    });
                }
                let clauses = json!(vote.clauses.iter().collect::<Vec<_>>()).to_string();
                sqlx::query(
                    "INSERT INTO approval_votes \
                     (request_id, voter, decision, reason, clauses, mfa_age_seconds, digest, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id.to_string())
                .bind(vote.voter.to_string())
                .bind(vote.decision.as_str())
                .bind(vote.reason.clone())
                .bind(clauses)
                .bind(vote.mfa_age_seconds)
                .bind(vote.digest.clone())
                .bind(at)
                .execute(&mut *conn)
                .await
                .map_err(on_unique(|_| Conflict::AlreadyVoted { id }))?;
                if let Some(outcome) = &decided {
                    if let Some(grant) = &outcome.grant {
                        attach_grant(conn, id, grant).await?;
                    }
                    sqlx::query(
                        "UPDATE approval_requests SET state = $1, decided_at = $2, assignment = $3 WHERE id = $4",
                    )
                    .bind(outcome.state.as_str())
                    .bind(at)
                    .bind(assignment_json(&outcome.assignment))
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                }
                Ok((existing_request(conn, id).await?, audits))
            }
            .boxed()
        });
        let (request, _) =
            if grants_access { self.writer.submit(op).await? } else { self.writer.submit_bookkeeping(op).await? };
        Ok(request)
    }

    async fn withdraw_vote(
        &self,
        id: ApprovalRequestId,
        voter: IdentityId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ApprovalRequest, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let current = existing_request(conn, id).await?;
                if current.state != RequestState::Pending {
                    return Err(state_changed(&current, RequestState::Pending));
                }
                let withdrawn = sqlx::query(
                    "UPDATE approval_votes SET withdrawn_at = $1 \
                     WHERE request_id = $2 AND voter = $3 AND withdrawn_at IS NULL",
                )
                .bind(to_unix_millis(at))
                .bind(id.to_string())
                .bind(voter.to_string())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                if withdrawn.rows_affected() == 0 {
                    return Err(StoreError::not_found("vote", format!("{id}/{voter}")));
                }
                // Guarded by the state, so a decision that raced this
                // withdrawal is not undone silently.
                let bumped = sqlx::query(
                    "UPDATE approval_requests SET revision = revision + 1, updated_at = $1 \
                     WHERE id = $2 AND state = 'pending'",
                )
                .bind(to_unix_millis(at))
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                if bumped.rows_affected() == 0 {
                    let current = existing_request(conn, id).await?;
                    return Err(state_changed(&current, RequestState::Pending));
                }
                Ok((existing_request(conn, id).await?, vec![audit]))
            }
            .boxed()
        });
        let (request, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(request)
    }

    async fn change_approval_state(
        &self,
        id: ApprovalRequestId,
        from: RequestState,
        to: RequestState,
        at: OffsetDateTime,
        grant: Option<NewGrant>,
        audits: Vec<AuditRecord>,
    ) -> Result<ApprovalRequest, StoreError> {
        let touches_credentials = grant.is_some() || from == RequestState::Active;
        let op = write_op(move |conn| {
            async move {
                let at = to_unix_millis(at);
                let moved = sqlx::query(
                    "UPDATE approval_requests \
                     SET state = $1, revision = revision + 1, updated_at = $2, \
                         decided_at = COALESCE(decided_at, CAST($3 AS BIGINT)) \
                     WHERE id = $4 AND state = $5",
                )
                .bind(to.as_str())
                .bind(at)
                .bind((from == RequestState::Pending).then_some(at))
                .bind(id.to_string())
                .bind(from.as_str())
                .execute(&mut *conn)
                .await
                .map_err(store_error)?;
                if moved.rows_affected() == 0 {
                    let current = existing_request(conn, id).await?;
                    return Err(state_changed(&current, from));
                }
                if let Some(grant) = &grant {
                    attach_grant(conn, id, grant).await?;
                }
                if from == RequestState::Active {
                    // Access ending early takes its grant with it; a grant
                    // that ended on its own stays as it ended.
                    sqlx::query(
                        "UPDATE grants SET revoked_at = $1 \
                         WHERE id = (SELECT grant_id FROM approval_requests WHERE id = $2) \
                           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
                    )
                    .bind(at)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                }
                Ok((existing_request(conn, id).await?, audits))
            }
            .boxed()
        });
        let (request, _) = if touches_credentials {
            self.writer.submit(op).await?
        } else {
            self.writer.submit_bookkeeping(op).await?
        };
        Ok(request)
    }

    async fn due_approval_requests(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ApprovalRequest>, StoreError> {
        let limit = i64::from(limit.clamp(1, PageRequest::MAX_LIMIT));
        let now = to_unix_millis(now);
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let pending = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM approval_requests WHERE state IN ('pending', 'approved') AND expires_at <= $1 \
             ORDER BY expires_at, id LIMIT $2",
            request_columns("")
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let ended = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM approval_requests r JOIN grants g ON g.id = r.grant_id \
             WHERE r.state = 'active' AND ((g.expires_at IS NOT NULL AND g.expires_at <= $1) \
                                           OR g.revoked_at IS NOT NULL) \
             ORDER BY r.id LIMIT $2",
            request_columns("r.")
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut due = pending.iter().chain(ended.iter()).map(request_row).collect::<Result<Vec<_>, _>>()?;
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        with_votes(&mut conn, due).await
    }

    async fn cancel_requests_of(
        &self,
        identity: IdentityId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<CancelledRequests, StoreError> {
        let op = write_op(move |conn| {
            async move {
                let (result, derived) = cancel_requests_in(conn, identity, at, &audit).await?;
                let mut records = vec![audit];
                records.extend(derived);
                Ok((result, records))
            }
            .boxed()
        });
        let (result, _) = self.writer.submit_bookkeeping(op).await?;
        Ok(result)
    }

    async fn approver_directory(&self, now: OffsetDateTime) -> Result<ApproverDirectory, StoreError> {
        let millis = to_unix_millis(now);
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let people: Vec<String> =
            sqlx::query_scalar("SELECT id FROM identities WHERE kind = 'human' AND status = 'active'")
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?;
        let grants = sqlx::query(
            "SELECT g.identity_id, g.role, g.scope FROM grants g JOIN identities i ON i.id = g.identity_id \
             WHERE i.kind = 'human' AND i.status = 'active' AND g.revoked_at IS NULL \
               AND (g.expires_at IS NULL OR g.expires_at > $1)",
        )
        .bind(millis)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let groups = sqlx::query(
            "SELECT g.display_name, m.identity_id FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        let mut directory = ApproverDirectory { at: Some(now), ..ApproverDirectory::default() };
        for id in people {
            directory.people.insert(parse(id, "identity id")?);
        }
        for row in &grants {
            let scope: String = get(row, "scope")?;
            directory.grants.push(DirectoryGrant {
                identity: parse(get(row, "identity_id")?, "identity id")?,
                role: get(row, "role")?,
                scope: Scope::parse(&scope).map_err(|_| corrupt("scope", &scope))?,
            });
        }
        for row in &groups {
            directory.groups.push((get(row, "display_name")?, parse(get(row, "identity_id")?, "identity id")?));
        }
        Ok(directory)
    }
}
