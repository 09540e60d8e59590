//! Closing a campaign, at its deadline or early: every undecided item gets
//! its default (revoke for privileged items unless the definition says
//! otherwise), every result is applied or alerted, and the last identity
//! able to manage policy is never removed by a default (it escalates).
//! `review.close` carries the counts and the digest of every decision.

use std::collections::{BTreeMap, HashMap};

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::ids::{CampaignId, IdentityId};
use gatehouse_domain::review::{
    Campaign, CampaignState, Counts, Decision, ItemKind, ReviewItem, Verdict, decisions_digest, progress,
    verdict_to_json,
};
use gatehouse_domain::store::{Conflict, PageRequest, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use super::apply::{Applied, apply};
use super::author::Author;
use super::roles::RoleFacts;
use crate::problem::ApiError;
use crate::state::AppState;

/// Items read per page when a campaign is read whole.
const ITEM_PAGE: u32 = 1_000;

pub async fn all_items(state: &AppState, campaign: CampaignId) -> Result<Vec<ReviewItem>, ApiError> {
    let mut items = Vec::new();
    loop {
        let after = items.last().map(|item: &ReviewItem| item.number);
        let page = state.store.list_review_items(campaign, after, ITEM_PAGE).await?;
        let full = page.len() == ITEM_PAGE as usize;
        items.extend(page);
        if !full {
            return Ok(items);
        }
    }
}

pub fn by_item(decisions: Vec<Decision>) -> BTreeMap<u32, Vec<Decision>> {
    let mut grouped: BTreeMap<u32, Vec<Decision>> = BTreeMap::new();
    for decision in decisions {
        grouped.entry(decision.item).or_default().push(decision);
    }
    grouped
}

/// Who can manage policy now, and through how many grants each: a default
/// that would leave nobody escalates instead.
struct PolicyManagers {
    grants: HashMap<IdentityId, usize>,
    roles: RoleFacts,
}

impl PolicyManagers {
    async fn read(state: &AppState, now: OffsetDateTime) -> Result<Self, ApiError> {
        let roles = RoleFacts::of(&state.policies.current());
        let mut grants: HashMap<IdentityId, usize> = HashMap::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let found = state.store.list_grants(None, page.clone()).await?;
            for grant in found.items {
                if grant.is_in_force_at(now) && roles.manages_policy(grant.role.as_str()) {
                    *grants.entry(grant.identity_id).or_default() += 1;
                }
            }
            match found.next_after {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        Ok(Self { grants, roles })
    }

    /// Whether `verdict` on `item` would take policy management from its
    /// identity, and that identity is the last who has it.
    fn would_remove_last(&self, item: &ReviewItem, verdict: &Verdict) -> bool {
        let removes = match (verdict, item.kind) {
            (Verdict::Suspend, _) => true,
            (Verdict::Revoke, ItemKind::Grant) => {
                item.role.as_deref().is_some_and(|role| self.roles.manages_policy(role))
                    && self.grants.get(&item.identity) == Some(&1)
            }
            _ => false,
        };
        removes && self.grants.contains_key(&item.identity) && self.grants.len() == 1
    }

    fn removed(&mut self, item: &ReviewItem, verdict: &Verdict) {
        match verdict {
            Verdict::Suspend => {
                self.grants.remove(&item.identity);
            }
            Verdict::Revoke if item.role.as_deref().is_some_and(|role| self.roles.manages_policy(role)) => {
                if let Some(count) = self.grants.get_mut(&item.identity) {
                    *count -= 1;
                    if *count == 0 {
                        self.grants.remove(&item.identity);
                    }
                }
            }
            _ => {}
        }
    }
}

fn count(counts: &mut Counts, verdict: &Verdict) {
    match verdict {
        Verdict::Keep { .. } => counts.kept += 1,
        Verdict::Revoke => counts.revoked += 1,
        Verdict::Narrow { .. } => counts.narrowed += 1,
        Verdict::Suspend => counts.suspended += 1,
        Verdict::Delegate { .. } => {}
    }
}

/// Closes `campaign` now, applying defaults. Closed by someone else
/// meanwhile: answers the campaign as it is.
pub async fn close(state: &AppState, campaign: &Campaign, by: Author<'_>) -> Result<Campaign, ApiError> {
    if campaign.state != CampaignState::Open {
        return Err(ApiError::Conflict(format!("campaign `{}` is not open", campaign.id)));
    }
    let now = state.clock.now();
    let id = campaign.id;
    let resource = format!("review:{id}");
    let items = all_items(state, id).await?;
    let mut decided = by_item(state.store.list_review_decisions(id, None).await?);
    let mut managers: Option<PolicyManagers> = None;
    let mut counts = Counts { items: campaign.items, ..Counts::default() };
    let mut defaults = Vec::new();
    let mut audits = Vec::new();
    for item in &items {
        let so_far = decided.get(&item.number).map(Vec::as_slice).unwrap_or_default();
        let standing = progress(item, so_far);
        if let Some(outcome) = &standing.outcome {
            count(&mut counts, outcome);
            continue;
        }
        let choice = campaign.definition.default_for(item.privileged);
        let mut verdict = Verdict::from_default(choice);
        let mut escalated = false;
        if matches!(verdict, Verdict::Revoke | Verdict::Suspend) && item.kind != ItemKind::Change {
            if managers.is_none() {
                managers = Some(PolicyManagers::read(state, now).await?);
            }
            if let Some(managers) = managers.as_mut() {
                if managers.would_remove_last(item, &verdict) {
                    escalated = true;
                    verdict = Verdict::Keep { until: None };
                } else {
                    managers.removed(item, &verdict);
                }
            }
        }
        let base = by.record(now, AuditAction::ReviewDefault, resource.clone());
        let applied = if escalated {
            Applied { ok: false, result: "escalated: it would remove the last identity able to manage policy".into() }
        } else {
            apply(state, by, id, item, &verdict).await
        };
        if escalated {
            counts.escalated += 1;
        } else if !applied.ok {
            counts.failed += 1;
        }
        count(&mut counts, &verdict);
        counts.defaulted += 1;
        let outcome = if applied.ok { Outcome::Success } else { Outcome::Failure };
        audits.push(base.clone().outcome(outcome, if applied.ok { "" } else { applied.result.as_str() }).details(
            json!({
                "campaign_id": id.to_string(),
                "item": item.number,
                "kind": item.kind.as_str(),
                "target": item.target,
                "identity": item.identity.to_string(),
                "decision": verdict_to_json(&verdict),
                "default": choice.as_str(),
                "applied": applied.to_json(),
                "escalated": escalated,
            }),
        ));
        if !applied.ok {
            audits.push(
                by.record(now, AuditAction::ReviewAlert, resource.clone())
                    .outcome(Outcome::Failure, applied.result.clone())
                    .details(json!({"campaign_id": id.to_string(), "item": item.number, "problem": applied.result})),
            );
        }
        let decision = Decision {
            item: item.number,
            sequence: standing.next_sequence,
            stage: standing.stage,
            verdict,
            reviewer: None,
            at: now,
            mfa_method: None,
            mfa_age_seconds: None,
            shown: item.recommendation.advice,
            reason: if escalated {
                "escalated instead of removing the last policy manager".into()
            } else {
                "no decision by the deadline".into()
            },
        };
        decided.entry(item.number).or_default().push(decision.clone());
        defaults.push(decision);
    }
    let every: Vec<Decision> = decided.into_values().flatten().collect();
    let digest = decisions_digest(&every);
    audits.push(by.record(now, AuditAction::ReviewClose, resource).details(json!({
        "campaign_id": id.to_string(),
        "counts": gatehouse_domain::review::counts_to_json(&counts),
        "decisions": every.len(),
        "decisions_digest": digest,
        "snapshot_digest": campaign.snapshot_digest,
    })));
    match state.store.close_campaign(id, now, defaults, counts, digest, audits).await {
        Ok(closed) => {
            metrics::counter!("gatehouse_reviews_closed_total").increment(1);
            super::triggers::onboarding_reviewed(state, &closed).await;
            Ok(closed)
        }
        Err(StoreError::Conflict(Conflict::CampaignNotOpen { .. })) => {
            state.store.find_campaign(id).await?.ok_or_else(|| ApiError::NotFound(format!("campaign `{id}` not found")))
        }
        Err(error) => Err(error.into()),
    }
}

/// What the scheduler's pass over reviews did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewReport {
    pub closed: Vec<CampaignId>,
    pub reminded: Vec<CampaignId>,
}

/// The scheduler's pass: campaigns past their deadline close; reviewers of
/// undecided items are reminded once before it.
pub async fn run(state: &AppState, now: OffsetDateTime) -> Result<ReviewReport, ApiError> {
    let mut report = ReviewReport::default();
    for campaign in state.store.list_campaigns(Some(CampaignState::Open)).await? {
        if now >= campaign.deadline {
            close(state, &campaign, Author::System(SystemWriter::Scheduler)).await?;
            report.closed.push(campaign.id);
        } else if campaign.reminded_at.is_none() && now >= campaign.reminder_due() {
            let items = all_items(state, campaign.id).await?;
            let decided = by_item(state.store.list_review_decisions(campaign.id, None).await?);
            let mut waiting: Vec<IdentityId> = Vec::new();
            let mut undecided = 0u32;
            for item in &items {
                let standing = progress(item, decided.get(&item.number).map(Vec::as_slice).unwrap_or_default());
                if standing.outcome.is_some() {
                    continue;
                }
                undecided += 1;
                match standing.delegated_to {
                    Some(delegate) => waiting.push(delegate),
                    None => waiting.extend(item.reviewers_of(standing.stage)),
                }
            }
            waiting.sort();
            waiting.dedup();
            let record = AuditRecord::system(
                SystemWriter::Scheduler,
                now,
                AuditAction::ReviewRemind,
                format!("review:{}", campaign.id),
            )
            .details(json!({
                "campaign_id": campaign.id.to_string(),
                "name": campaign.definition.name,
                "undecided": undecided,
                "reviewers": waiting.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "deadline": gatehouse_domain::clock::format_rfc3339(campaign.deadline),
            }));
            if state.store.mark_campaign_reminded(campaign.id, now, record).await? {
                report.reminded.push(campaign.id);
            }
        }
    }
    Ok(report)
}
