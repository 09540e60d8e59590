//! The vendor report: every vendor, its required evidence's states, the
//! next expiry, and the integrations at risk. Built from three reads
//! (vendors, all evidence, all integrations, and the open renewal reviews) whatever the number of
//! vendors; an integration is at risk when its vendor is not compliant or
//! has a required item due soon (the report does not run each
//! integration's check against the standard: `integration check` does).

use std::collections::HashMap;

use gatehouse_domain::ids::VendorId;
use gatehouse_domain::vendor::{EvidenceState, Integration, IntegrationState, RequirementState, format_date};
use time::OffsetDateTime;

use super::assess::{VendorRules, VendorStanding, renewal_reviews, vendor_standing};
use crate::api::dto::{IntegrationAtRiskDto, ReportEvidenceDto, ReportVendorDto, VendorReportDto, instant};
use crate::problem::ApiError;
use crate::state::AppState;

/// The report at `now`.
pub async fn report(state: &AppState, now: OffsetDateTime) -> Result<VendorReportDto, ApiError> {
    let rules = VendorRules::of(&state.policies.current());
    // The three reads are independent: on a pool they overlap.
    let (vendors, all_evidence, all_integrations) =
        tokio::try_join!(state.store.list_vendors(), state.store.all_evidence(), state.store.list_integrations(None))?;
    let mut renewal = renewal_reviews(state, None).await?;
    let mut evidence: HashMap<VendorId, Vec<_>> = HashMap::with_capacity(vendors.len());
    for item in all_evidence {
        evidence.entry(item.vendor_id).or_default().push(item);
    }
    let mut integrations: HashMap<VendorId, Vec<Integration>> = HashMap::new();
    for integration in all_integrations {
        integrations.entry(integration.vendor_id).or_default().push(integration);
    }
    let rows = vendors
        .into_iter()
        .map(|vendor| {
            let items = evidence.remove(&vendor.id).unwrap_or_default();
            let own = integrations.remove(&vendor.id).unwrap_or_default();
            let reviews = renewal.remove(&vendor.id).unwrap_or_default();
            report_row(&vendor_standing(vendor, items, &reviews, &rules, now), &own)
        })
        .collect();
    Ok(VendorReportDto { generated_at: instant(now), vendors: rows })
}

/// One vendor's row, given its standing and its integrations.
pub fn report_row(standing: &VendorStanding, integrations: &[Integration]) -> ReportVendorDto {
    let vendor = &standing.vendor;
    let due_soon: Vec<String> = standing
        .requirements
        .iter()
        .filter_map(|(kind, requirement)| match requirement {
            RequirementState::Present { state: EvidenceState::DueSoon { until }, .. } => {
                Some(format!("{} for {} expires {}", kind.label(), vendor.name, format_date(*until)))
            }
            _ => None,
        })
        .collect();
    let compliant = standing.compliance.in_force;
    let at_risk = !compliant || !due_soon.is_empty();
    let integrations_at_risk = integrations
        .iter()
        .filter(|integration| at_risk && integration.state != IntegrationState::Retired)
        .map(|integration| {
            let mut reasons = standing.compliance.reasons.clone();
            reasons.extend(due_soon.iter().cloned());
            IntegrationAtRiskDto {
                id: integration.id.to_string(),
                identity_id: integration.identity_id.to_string(),
                in_force: compliant && integration.state == IntegrationState::Active,
                reasons,
            }
        })
        .collect();
    ReportVendorDto {
        id: vendor.id.to_string(),
        name: vendor.name.clone(),
        tier: vendor.tier.as_str().to_owned(),
        status: vendor.status.as_str().to_owned(),
        compliant,
        reasons: standing.compliance.reasons.clone(),
        evidence: standing
            .requirements
            .iter()
            .map(|(kind, requirement)| ReportEvidenceDto {
                kind: kind.as_str().to_owned(),
                state: requirement.as_str().to_owned(),
                valid_until: requirement.valid_until().map(format_date),
            })
            .collect(),
        next_expiry: standing
            .requirements
            .iter()
            .filter(|(_, requirement)| requirement.passes())
            .filter_map(|(_, requirement)| requirement.valid_until())
            .min()
            .map(format_date),
        integrations_at_risk,
    }
}
