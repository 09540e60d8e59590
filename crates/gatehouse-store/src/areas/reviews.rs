//! [`ReviewStore`] for [`SqlStore`]: campaigns, their snapshot items, who
//! reviews which item, and the decisions. Items and decisions are kept in
//! their canonical JSON form (`review::item_to_json`, `decision_to_json`),
//! the form their digests hash.

use async_trait::async_trait;
use futures_util::FutureExt;
use gatehouse_domain::audit::AuditRecord;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::ids::{CampaignId, IdentityId};
use gatehouse_domain::review::{
    Campaign, CampaignState, Counts, Decision, ReviewItem, Trigger, TriggerKind, counts_from_json, counts_to_json,
    decision_from_json, decision_to_json, definition_from_json, definition_to_json, item_from_json, item_to_json,
};
use gatehouse_domain::store::{CampaignFilter, Conflict, ReviewStore, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::error::{corrupt, on_unique, store_error};
use crate::rows::{instant, optional_instant, optional_parsed, optional_text, parsed, text};
use crate::sql_store::SqlStore;

const CAMPAIGN_COLUMNS: &str = "id, definition, policy_hash, trigger_kind, trigger_subject, holds, opened_by, state, \
     opened_at, deadline, closed_at, snapshot_digest, items, reminded_at, counts, decisions_digest";
/// Rows per multi-row insert: three parameters each, well under either
/// engine's limit on bound parameters.
const INSERT_CHUNK: usize = 1_000;

fn json(row: &AnyRow, column: &str) -> Result<serde_json::Value, StoreError> {
    let raw = text(row, column)?;
    serde_json::from_str(&raw).map_err(|_| corrupt(column, &raw))
}

fn count(row: &AnyRow, column: &str) -> Result<u32, StoreError> {
    let raw: i64 = row.try_get(column).map_err(store_error)?;
    u32::try_from(raw).map_err(|_| corrupt(column, raw))
}

fn campaign(row: &AnyRow) -> Result<Campaign, StoreError> {
    let definition = json(row, "definition")?;
    let trigger_kind = text(row, "trigger_kind")?;
    let state = text(row, "state")?;
    Ok(Campaign {
        id: parsed(row, "id")?,
        definition: definition_from_json(&definition).map_err(|error| corrupt("definition", error))?,
        policy_hash: text(row, "policy_hash")?,
        trigger: Trigger {
            kind: TriggerKind::parse(&trigger_kind).ok_or_else(|| corrupt("trigger_kind", &trigger_kind))?,
            subject: text(row, "trigger_subject")?,
            holds: optional_text(row, "holds")?,
        },
        opened_by: optional_parsed(row, "opened_by")?,
        state: CampaignState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        opened_at: instant(row, "opened_at")?,
        deadline: instant(row, "deadline")?,
        closed_at: optional_instant(row, "closed_at")?,
        snapshot_digest: text(row, "snapshot_digest")?,
        items: count(row, "items")?,
        reminded_at: optional_instant(row, "reminded_at")?,
        counts: optional_text(row, "counts")?
            .map(|raw| {
                serde_json::from_str(&raw).map(|value| counts_from_json(&value)).map_err(|_| corrupt("counts", raw))
            })
            .transpose()?,
        decisions_digest: optional_text(row, "decisions_digest")?,
    })
}

fn item(row: &AnyRow) -> Result<ReviewItem, StoreError> {
    item_from_json(&json(row, "body")?).map_err(|error| corrupt("review item", error))
}

fn decision(row: &AnyRow) -> Result<Decision, StoreError> {
    decision_from_json(&json(row, "body")?).map_err(|error| corrupt("review decision", error))
}

async fn insert_campaign(conn: &mut AnyConnection, campaign: &Campaign) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO review_campaigns (id, name, definition, policy_hash, trigger_kind, trigger_subject, holds, \
         opened_by, state, opened_at, deadline, closed_at, snapshot_digest, items, reminded_at, counts, \
         decisions_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, $15, $16)",
    )
    .bind(campaign.id.to_string())
    .bind(campaign.definition.name.clone())
    .bind(definition_to_json(&campaign.definition).to_string())
    .bind(campaign.policy_hash.clone())
    .bind(campaign.trigger.kind.as_str())
    .bind(campaign.trigger.subject.clone())
    .bind(campaign.trigger.holds.clone())
    .bind(campaign.opened_by.map(|id| id.to_string()))
    .bind(campaign.state.as_str())
    .bind(to_unix_millis(campaign.opened_at))
    .bind(to_unix_millis(campaign.deadline))
    .bind(campaign.closed_at.map(to_unix_millis))
    .bind(campaign.snapshot_digest.clone())
    .bind(i64::from(campaign.items))
    .bind(campaign.counts.as_ref().map(|counts| counts_to_json(counts).to_string()))
    .bind(campaign.decisions_digest.clone())
    .execute(&mut *conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// `INSERT INTO {table} ({columns}) VALUES ($1, $2, $3), ($4, …` for `rows`
/// rows of three values: the Any driver's query builder writes `?`
/// placeholders, which PostgreSQL refuses.
fn insert_three(table: &str, columns: &str, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for row in 0..rows {
        let first = row * 3 + 1;
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${first}, ${}, ${})", first + 1, first + 2));
    }
    sql
}

async fn insert_items(conn: &mut AnyConnection, campaign: CampaignId, items: &[ReviewItem]) -> Result<(), StoreError> {
    let id = campaign.to_string();
    for chunk in items.chunks(INSERT_CHUNK) {
        let sql = insert_three("review_items", "campaign_id, number, body", chunk.len());
        let mut insert = sqlx::query(AssertSqlSafe(sql));
        for item in chunk {
            insert = insert.bind(id.clone()).bind(i64::from(item.number)).bind(item_to_json(item).to_string());
        }
        insert.execute(&mut *conn).await.map_err(store_error)?;
    }
    let named: Vec<(String, u32)> = items
        .iter()
        .flat_map(|item| {
            let mut reviewers: Vec<IdentityId> = item.reviewers.iter().chain(&item.second_reviewers).copied().collect();
            reviewers.sort();
            reviewers.dedup();
            reviewers.into_iter().map(move |reviewer| (reviewer.to_string(), item.number))
        })
        .collect();
    for chunk in named.chunks(INSERT_CHUNK) {
        let sql = insert_three("review_item_reviewers", "reviewer, campaign_id, number", chunk.len());
        let mut insert = sqlx::query(AssertSqlSafe(sql));
        for (reviewer, number) in chunk {
            insert = insert.bind(reviewer.clone()).bind(id.clone()).bind(i64::from(*number));
        }
        insert.execute(&mut *conn).await.map_err(store_error)?;
    }
    Ok(())
}

async fn insert_decision(
    conn: &mut AnyConnection,
    campaign: CampaignId,
    decision: &Decision,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO review_decisions (campaign_id, item, sequence, body) VALUES ($1, $2, $3, $4)")
        .bind(campaign.to_string())
        .bind(i64::from(decision.item))
        .bind(i64::from(decision.sequence))
        .bind(decision_to_json(decision).to_string())
        .execute(&mut *conn)
        .await
        .map_err(on_unique(|_| Conflict::ReviewItemChanged { campaign, item: decision.item }))?;
    Ok(())
}

async fn require_open(conn: &mut AnyConnection, campaign: CampaignId) -> Result<(), StoreError> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM review_campaigns WHERE id = $1")
        .bind(campaign.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    match state.as_deref() {
        None => Err(StoreError::not_found("campaign", campaign)),
        Some("open") => Ok(()),
        Some(_) => Err(Conflict::CampaignNotOpen { id: campaign }.into()),
    }
}

#[async_trait]
impl ReviewStore for SqlStore {
    async fn open_campaign(
        &self,
        campaign: Campaign,
        items: Vec<ReviewItem>,
        audits: Vec<AuditRecord>,
    ) -> Result<Campaign, StoreError> {
        let (campaign, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    insert_campaign(conn, &campaign).await?;
                    insert_items(conn, campaign.id, &items).await?;
                    Ok((campaign, audits))
                }
                .boxed()
            })
            .await?;
        Ok(campaign)
    }

    async fn last_use_by_identity(&self) -> Result<Vec<(IdentityId, OffsetDateTime)>, StoreError> {
        let rows = sqlx::query(
            "SELECT identity_id, MAX(used) AS used FROM ( \
               SELECT identity_id, last_used_at AS used FROM api_tokens WHERE last_used_at IS NOT NULL \
               UNION ALL SELECT identity_id, last_seen_at AS used FROM sessions \
             ) uses GROUP BY identity_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(|row| Ok((parsed(row, "identity_id")?, instant(row, "used")?))).collect()
    }

    async fn find_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(campaign).transpose()
    }

    async fn list_campaigns(&self, state: Option<CampaignState>) -> Result<Vec<Campaign>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC"
        )))
        .bind(state.map(CampaignState::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(campaign).collect()
    }

    async fn find_campaigns(&self, filter: CampaignFilter) -> Result<Vec<Campaign>, StoreError> {
        // Only the conditions asked for, with numbered placeholders: an
        // `($n IS NULL OR …)` form would keep PostgreSQL's generic plan off
        // the indexes (`review_campaigns_trigger`, `review_campaigns_holds`).
        let CampaignFilter { state, kind, subject, holds } = filter;
        let asked = [
            ("state", state.map(|state| state.as_str().to_owned())),
            ("trigger_kind", kind.map(|kind| kind.as_str().to_owned())),
            ("trigger_subject", subject),
            ("holds", holds),
        ];
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        for (column, value) in asked {
            if let Some(value) = value {
                values.push(value);
                conditions.push(format!("{column} = ${}", values.len()));
            }
        }
        let mut sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY id DESC");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(store_error)?;
        rows.iter().map(campaign).collect()
    }

    async fn list_review_items(
        &self,
        campaign: CampaignId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT body FROM review_items WHERE campaign_id = $1 AND number > $2 ORDER BY number LIMIT $3",
        )
        .bind(campaign.to_string())
        .bind(after.map_or(-1, i64::from))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(item).collect()
    }

    async fn find_review_item(&self, campaign: CampaignId, number: u32) -> Result<Option<ReviewItem>, StoreError> {
        let row = sqlx::query("SELECT body FROM review_items WHERE campaign_id = $1 AND number = $2")
            .bind(campaign.to_string())
            .bind(i64::from(number))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(item).transpose()
    }

    async fn review_items_for(&self, reviewer: IdentityId) -> Result<Vec<(CampaignId, ReviewItem)>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.campaign_id, i.body FROM review_item_reviewers r \
             JOIN review_campaigns c ON c.id = r.campaign_id AND c.state = 'open' \
             JOIN review_items i ON i.campaign_id = r.campaign_id AND i.number = r.number \
             WHERE r.reviewer = $1 ORDER BY i.campaign_id, i.number",
        )
        .bind(reviewer.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(|row| Ok((parsed(row, "campaign_id")?, item(row)?))).collect()
    }

    async fn list_review_decisions(
        &self,
        campaign: CampaignId,
        item: Option<u32>,
    ) -> Result<Vec<Decision>, StoreError> {
        let rows = sqlx::query(
            "SELECT body FROM review_decisions WHERE campaign_id = $1 AND ($2 < 0 OR item = $2) \
             ORDER BY item, sequence",
        )
        .bind(campaign.to_string())
        .bind(item.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(decision).collect()
    }

    async fn record_review_decision(
        &self,
        campaign: CampaignId,
        decision: Decision,
        audits: Vec<AuditRecord>,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    require_open(conn, campaign).await?;
                    insert_decision(conn, campaign, &decision).await?;
                    Ok(((), audits))
                }
                .boxed()
            })
            .await?;
        Ok(())
    }

    async fn close_campaign(
        &self,
        campaign: CampaignId,
        closed_at: OffsetDateTime,
        defaults: Vec<Decision>,
        counts: Counts,
        decisions_digest: String,
        audits: Vec<AuditRecord>,
    ) -> Result<Campaign, StoreError> {
        self.writer
            .submit(move |conn| {
                async move {
                    require_open(conn, campaign).await?;
                    for decision in &defaults {
                        insert_decision(conn, campaign, decision).await?;
                    }
                    sqlx::query(
                        "UPDATE review_campaigns SET state = 'closed', closed_at = $1, counts = $2, \
                         decisions_digest = $3 WHERE id = $4",
                    )
                    .bind(to_unix_millis(closed_at))
                    .bind(counts_to_json(&counts).to_string())
                    .bind(decisions_digest)
                    .bind(campaign.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    Ok(((), audits))
                }
                .boxed()
            })
            .await?;
        self.find_campaign(campaign).await?.ok_or_else(|| StoreError::not_found("campaign", campaign))
    }

    async fn mark_campaign_reminded(
        &self,
        campaign: CampaignId,
        at: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let (marked, _) = self
            .writer
            .submit_bookkeeping(move |conn| {
                async move {
                    let done = sqlx::query(
                        "UPDATE review_campaigns SET reminded_at = $1 \
                         WHERE id = $2 AND state = 'open' AND reminded_at IS NULL",
                    )
                    .bind(to_unix_millis(at))
                    .bind(campaign.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(store_error)?;
                    let marked = done.rows_affected() == 1;
                    Ok((marked, if marked { vec![audit] } else { Vec::new() }))
                }
                .boxed()
            })
            .await?;
        Ok(marked)
    }
}
