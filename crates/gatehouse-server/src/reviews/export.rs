//! A closed campaign's export for an auditor: its definition and policy
//! digest, snapshot and every decision (the sections), and the entries that
//! prove them — its own `review.*` entries and the revocations its results
//! made — each with an inclusion proof and the consistency proof to the
//! latest signed checkpoint. `gatehouse review verify` checks it offline
//! with `review::check_export`.

use std::collections::BTreeSet;

use gatehouse_audit::bundle::Bundle;
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::review::{
    Campaign, CampaignState, EXPORT_FORMAT, ItemKind, Verdict, counts_to_json, definition_to_json, export_sections,
    progress,
};
use gatehouse_domain::store::AuditFilter;
use serde_json::{Map, json};

use super::close::{all_items, by_item};
use crate::problem::ApiError;
use crate::proofs::{bundle_of, provable_size};
use crate::state::AppState;

/// Entries asked for per search page (the store may answer fewer: only an
/// empty page ends a search).
const PAGE: u32 = 500;

async fn search(state: &AppState, filter: &AuditFilter, size: u64) -> Result<Vec<AuditEntry>, ApiError> {
    let mut found = Vec::new();
    let mut next = 0;
    loop {
        let page = state.store.search_audit(filter, next, PAGE).await?;
        if page.is_empty() {
            return Ok(found);
        }
        for entry in page {
            if entry.index >= size {
                return Ok(found);
            }
            next = entry.index + 1;
            found.push(entry);
        }
    }
}

/// The export of `campaign`, closed or skipped.
pub async fn export(state: &AppState, campaign: &Campaign) -> Result<Bundle, ApiError> {
    if campaign.state == CampaignState::Open {
        return Err(ApiError::Conflict(format!(
            "campaign `{}` is still open: export it once it is closed (POST /api/v1/reviews/{}/close closes it now)",
            campaign.id, campaign.id
        )));
    }
    let size = provable_size(&*state.store).await?;
    let resource = format!("review:{}", campaign.id);
    let own = AuditFilter { resource: Some(resource), ..AuditFilter::default() };
    let mut entries = search(state, &own, size).await?;
    if !entries.iter().any(|entry| entry.record.action == "review.close" || entry.record.action == "review.skip") {
        return Err(ApiError::Conflict(
            "the campaign's last entry is not yet under a signed checkpoint: try again".into(),
        ));
    }
    let items = all_items(state, campaign.id).await?;
    let decisions = state.store.list_review_decisions(campaign.id, None).await?;
    let decided = by_item(decisions.clone());
    // The revocations its results made (or found made already).
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    for item in &items {
        let outcome = progress(item, decided.get(&item.number).map(Vec::as_slice).unwrap_or_default()).outcome;
        if matches!(outcome, Some(Verdict::Revoke | Verdict::Narrow { .. })) {
            let action = match item.kind {
                ItemKind::Grant => "grant.revoke",
                ItemKind::Token => "token.revoke",
                ItemKind::SigningKey => "signing_key.remove",
                ItemKind::Change => continue,
            };
            wanted.insert((action.to_owned(), format!("{}:{}", item.kind.as_str(), item.target)));
        }
    }
    for (action, resource) in wanted {
        let filter = AuditFilter { action: Some(action), resource: Some(resource), ..AuditFilter::default() };
        entries.extend(
            search(state, &filter, size)
                .await?
                .into_iter()
                .filter(|entry| entry.record.outcome.as_str() == "success")
                .take(1),
        );
    }
    let (snapshot, decisions) = export_sections(&items, &decisions);
    let mut sections = Map::new();
    sections.insert(
        "campaign".into(),
        json!({
            "id": campaign.id.to_string(),
            "definition": definition_to_json(&campaign.definition),
            "policy_hash": campaign.policy_hash,
            "state": campaign.state.as_str(),
            "trigger": {"kind": campaign.trigger.kind.as_str(), "subject": campaign.trigger.subject},
            "opened_at": gatehouse_domain::clock::format_rfc3339(campaign.opened_at),
            "deadline": gatehouse_domain::clock::format_rfc3339(campaign.deadline),
            "closed_at": campaign.closed_at.map(gatehouse_domain::clock::format_rfc3339),
            "snapshot_digest": campaign.snapshot_digest,
            "decisions_digest": campaign.decisions_digest,
            "counts": campaign.counts.as_ref().map(counts_to_json),
        }),
    );
    sections.insert("snapshot".into(), snapshot);
    sections.insert("decisions".into(), decisions);
    Ok(bundle_of(&*state.store, EXPORT_FORMAT, entries, sections).await?)
}
