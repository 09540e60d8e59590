//! Lapses at their instant, run by the scheduler: a required evidence item
//! entering its due-soon window or expiring is announced once
//! (`evidence.due_soon`, `evidence.expire`); an integration that stops
//! being in force is recorded (`integration.lapse`) and its tier's lapse
//! action applied (`suspend`: the integration and its identity are
//! suspended, `integration.suspend`); one in force again is restored
//! (`integration.restore`, and `integration.reactivate` when it was
//! suspended); a granted exception's expiry is announced
//! (`exception.expire`). The notification outbox feeds on these entries.
//!
//! Scanning is skipped while nothing it reads changed (the credential
//! stamp and the policy folder) and no instant it found has come.

use std::collections::HashMap;
use std::sync::Mutex;

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::ids::{EvidenceId, IntegrationId, VendorId};
use gatehouse_domain::store::{Conflict, StoreError};
use gatehouse_domain::vendor::{
    EvidenceNote, EvidenceState, IntegrationState, LapseAction, RequirementState, VendorStatus, format_date,
};
use serde_json::json;
use time::OffsetDateTime;

use super::assess::{VendorRules, integration_standing, renewal_reviews, vendor_standing};
use crate::problem::ApiError;
use crate::state::AppState;

/// When the last scan may be trusted until.
#[derive(Debug, Default)]
pub struct LapseWatch {
    last: Mutex<Option<Watched>>,
}

#[derive(Debug, Clone)]
struct Watched {
    stamp: u64,
    policy_hash: String,
    next: Option<OffsetDateTime>,
}

impl LapseWatch {
    fn still_good(&self, stamp: Option<u64>, policy_hash: &str, now: OffsetDateTime) -> bool {
        let last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match (&*last, stamp) {
            (Some(watched), Some(stamp)) => {
                watched.stamp == stamp
                    && watched.policy_hash == policy_hash
                    && watched.next.is_none_or(|next| now < next)
            }
            _ => false,
        }
    }

    fn remember(&self, watched: Option<Watched>) {
        *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = watched;
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LapseReport {
    pub scanned: bool,
    pub due_soon: Vec<EvidenceId>,
    pub expired: Vec<EvidenceId>,
    pub lapsed: Vec<IntegrationId>,
    pub restored: Vec<IntegrationId>,
    pub exceptions_expired: usize,
    /// Moves another writer made first.
    pub skipped: usize,
}

fn skip_conflicts<T>(result: Result<T, StoreError>, skipped: &mut usize) -> Result<Option<T>, ApiError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Conflict(Conflict::IntegrationChanged { .. })) => {
            *skipped += 1;
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// One pass at `now`.
pub async fn run(state: &AppState, now: OffsetDateTime) -> Result<LapseReport, ApiError> {
    let mut report = LapseReport::default();
    let policies = state.policies.current();
    let stamp = state.engine.credential_stamp().await?;
    if state.vendor_lapses.still_good(stamp, policies.hash(), now) {
        return Ok(report);
    }
    report.scanned = true;
    let rules = VendorRules::of(&policies);
    let mut next: Vec<OffsetDateTime> = Vec::new();

    let notes: HashMap<EvidenceId, EvidenceNote> =
        state.store.evidence_notes().await?.into_iter().map(|noted| (noted.evidence_id, noted.note)).collect();
    let mut evidence_by_vendor: HashMap<VendorId, Vec<_>> = HashMap::new();
    for item in state.store.all_evidence().await? {
        evidence_by_vendor.entry(item.vendor_id).or_default().push(item);
    }
    let mut renewal_by_vendor = renewal_reviews(state, None).await?;
    for vendor in state.store.list_vendors().await? {
        if vendor.status == VendorStatus::Offboarded {
            continue;
        }
        let evidence = evidence_by_vendor.remove(&vendor.id).unwrap_or_default();
        let renewal = renewal_by_vendor.remove(&vendor.id).unwrap_or_default();
        let standing = vendor_standing(vendor, evidence, &renewal, &rules, now);
        next.extend(standing.compliance.next_change);
        for (kind, requirement) in &standing.requirements {
            let RequirementState::Present { id, state: item } = requirement else { continue };
            let (note, action, detail) = match item {
                EvidenceState::DueSoon { until } => {
                    (EvidenceNote::DueSoon, AuditAction::EvidenceDueSoon, json!({ "valid_until": format_date(*until) }))
                }
                EvidenceState::Expired { since } => {
                    (EvidenceNote::Expired, AuditAction::EvidenceExpire, json!({ "since": format_date(*since) }))
                }
                EvidenceState::Valid { .. } | EvidenceState::Invalid { .. } => continue,
            };
            let current = notes.get(id).copied();
            if current == Some(note) {
                continue;
            }
            let name = &standing.vendor.name;
            let sentence = match item {
                EvidenceState::DueSoon { until } => format!("{} for {name} expires {until}", kind.label()),
                EvidenceState::Expired { since } => format!("{} for {name} expired {since}", kind.label()),
                _ => unreachable!("only due-soon and expired items are announced"),
            };
            let mut details = json!({
                "vendor_id": standing.vendor.id.to_string(),
                "vendor": name,
                "evidence_id": id.to_string(),
                "kind": kind.as_str(),
            });
            if let (Some(all), Some(extra)) = (details.as_object_mut(), detail.as_object()) {
                all.extend(extra.clone());
            }
            let record =
                AuditRecord::system(SystemWriter::Scheduler, now, action, format!("vendor:{}", standing.vendor.id))
                    .outcome(if note == EvidenceNote::Expired { Outcome::Failure } else { Outcome::Success }, sentence)
                    .details(details);
            if state.store.note_evidence(*id, current, note, vec![record]).await? {
                match note {
                    EvidenceNote::DueSoon => report.due_soon.push(*id),
                    _ => report.expired.push(*id),
                }
            } else {
                report.skipped += 1;
            }
        }
    }

    for integration in state.store.list_integrations(None).await? {
        if !matches!(integration.state, IntegrationState::Active | IntegrationState::Suspended) {
            continue;
        }
        let id = integration.id;
        let standing = integration_standing(state, integration, &rules, now).await?;
        next.extend(standing.compliance.next_change);
        let integration = &standing.integration;
        let in_force = standing.in_force();
        let subject = format!("integration:{id}");
        let common = json!({
            "integration_id": id.to_string(),
            "vendor_id": integration.vendor_id.to_string(),
            "identity_id": integration.identity_id.to_string(),
        });
        if !in_force && integration.noted_in_force != Some(false) {
            let on_lapse = standing.on_lapse();
            let reasons = &standing.compliance.reasons;
            let mut details = common.clone();
            details["reasons"] = json!(reasons);
            details["on_lapse"] = json!(on_lapse.as_str());
            let mut audits = vec![
                AuditRecord::system(SystemWriter::Scheduler, now, AuditAction::IntegrationLapse, subject.clone())
                    .outcome(Outcome::Failure, reasons.join("; "))
                    .details(details.clone()),
            ];
            let mut change = integration.unchanged();
            change.noted_in_force = Some(false);
            if on_lapse == LapseAction::Suspend && integration.state == IntegrationState::Active {
                change.state = IntegrationState::Suspended;
                change.identity_active = Some(false);
                audits.push(
                    AuditRecord::system(SystemWriter::Scheduler, now, AuditAction::IntegrationSuspend, subject.clone())
                        .outcome(Outcome::Success, reasons.join("; "))
                        .details(details),
                );
            }
            let updated =
                state.store.update_integration(id, integration.state, integration.noted_in_force, change, audits);
            if skip_conflicts(updated.await, &mut report.skipped)?.is_some() {
                report.lapsed.push(id);
            }
        } else if in_force && integration.noted_in_force == Some(false) {
            let mut audits = vec![
                AuditRecord::system(SystemWriter::Scheduler, now, AuditAction::IntegrationRestore, subject.clone())
                    .outcome(
                        Outcome::Success,
                        format!("the integration with {} is in force again", standing.vendor.vendor.name),
                    )
                    .details(common.clone()),
            ];
            let mut change = integration.unchanged();
            change.noted_in_force = Some(true);
            if integration.state == IntegrationState::Suspended {
                change.state = IntegrationState::Active;
                change.identity_active = Some(true);
                audits.push(
                    AuditRecord::system(SystemWriter::Scheduler, now, AuditAction::IntegrationReactivate, subject)
                        .outcome(
                            Outcome::Success,
                            format!(
                                "reactivated: the integration with {} is in force again",
                                standing.vendor.vendor.name
                            ),
                        )
                        .details(common),
                );
            }
            let updated =
                state.store.update_integration(id, integration.state, integration.noted_in_force, change, audits);
            if skip_conflicts(updated.await, &mut report.skipped)?.is_some() {
                report.restored.push(id);
            }
        }
    }

    for exception in state.store.unannounced_expired_exceptions(now).await? {
        let record = AuditRecord::system(
            SystemWriter::Scheduler,
            now,
            AuditAction::ExceptionExpire,
            format!("integration:{}", exception.integration_id),
        )
        .outcome(Outcome::Success, format!("the exception to `{}` expired", exception.rule))
        .details(json!({
            "integration_id": exception.integration_id.to_string(),
            "exception_id": exception.id.to_string(),
            "rule": exception.rule,
        }));
        if state.store.announce_exception_expiry(exception.id, vec![record]).await? {
            report.exceptions_expired += 1;
        }
    }

    // A pass that wrote moved the stamp itself: the next tick scans again
    // (finding nothing to do) rather than trust a stamp read after writes
    // another node may have interleaved with.
    let wrote = !(report.due_soon.is_empty()
        && report.expired.is_empty()
        && report.lapsed.is_empty()
        && report.restored.is_empty()
        && report.exceptions_expired == 0);
    let keep = stamp.filter(|_| !wrote).map(|stamp| Watched {
        stamp,
        policy_hash: policies.hash().to_owned(),
        next: next.into_iter().filter(|at| *at > now).min(),
    });
    state.vendor_lapses.remember(keep);
    Ok(report)
}
