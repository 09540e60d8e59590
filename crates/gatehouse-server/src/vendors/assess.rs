//! Where a vendor and its integrations stand at an instant: the rules from
//! the policy folder, the evidence each tier requires, the check against
//! the API access standard with the facts gatehouse holds itself, and the
//! exceptions in force, and the vendor's renewal reviews still open.
//! Reads the store; decides nothing on its own (the domain's
//! `compliance_of`, `renewal_lapse`, `check_integration` and `unwaived` do).

use std::collections::HashMap;

use gatehouse_domain::ids::VendorId;
use gatehouse_domain::review::{CampaignState, TriggerKind, progress};
use gatehouse_domain::store::{CampaignFilter, PageRequest, TokenFilter};
use gatehouse_domain::vendor::{
    AccessStandard, Compliance, Evidence, EvidenceKind, EvidenceRules, ExceptionRecord, Finding, Integration,
    IntegrationState, LapseAction, LapseActions, Observed, RenewalReview, RequirementState, TierRequirements, Vendor,
    VendorTier, check_integration, compliance_of, renewal_lapse, requirement_states, unwaived,
};
use gatehouse_policy::Policies;
use time::{Duration, OffsetDateTime};

use crate::problem::ApiError;
use crate::state::AppState;

/// The vendor rules of one policy folder: the standard of its
/// `vendor-access.toml` (or the default one), the evidence each tier
/// requires and what a lapse does per tier.
#[derive(Debug, Clone)]
pub struct VendorRules {
    pub standard: AccessStandard,
    pub evidence: EvidenceRules,
    pub lapse: LapseActions,
    /// The policy folder's digest: it pins the standard a check used.
    pub standard_digest: String,
    /// Whether the folder has its own `vendor-access.toml`.
    pub from_folder: bool,
}

impl VendorRules {
    pub fn of(policies: &Policies) -> Self {
        let from_folder = policies.vendor_access().is_some();
        let standard = policies.vendor_access().cloned().unwrap_or_default();
        let kinds = |tier: VendorTier| -> Vec<EvidenceKind> {
            standard
                .tier_evidence
                .get(tier.as_str())
                .map(|names| names.iter().filter_map(|name| name.parse().ok()).collect())
                .unwrap_or_else(|| TierRequirements::default().for_tier(tier).to_vec())
        };
        let tiers = TierRequirements {
            critical: kinds(VendorTier::Critical),
            high: kinds(VendorTier::High),
            medium: kinds(VendorTier::Medium),
            low: kinds(VendorTier::Low),
        };
        let defaults = LapseActions::default();
        let lapse_for =
            |tier: VendorTier| standard.on_lapse.get(tier.as_str()).copied().unwrap_or(defaults.for_tier(tier));
        let lapse = LapseActions {
            critical: lapse_for(VendorTier::Critical),
            high: lapse_for(VendorTier::High),
            medium: lapse_for(VendorTier::Medium),
            low: lapse_for(VendorTier::Low),
        };
        Self {
            evidence: EvidenceRules { tiers, ..EvidenceRules::default() },
            lapse,
            standard,
            standard_digest: policies.hash().to_owned(),
            from_folder,
        }
    }
}

/// The open renewal reviews (trigger `renewal`) of one vendor, or of every
/// vendor, as the lapse rule reads them: one indexed read of the campaigns,
/// then the items and decisions of each open one (a vendor has at most a
/// few, and only in the weeks around its renewal).
pub async fn renewal_reviews(
    state: &AppState,
    vendor: Option<VendorId>,
) -> Result<HashMap<VendorId, Vec<RenewalReview>>, ApiError> {
    let filter = CampaignFilter {
        state: Some(CampaignState::Open),
        kind: Some(TriggerKind::Renewal),
        subject: vendor.map(|id| format!("vendor:{id}")),
        holds: None,
    };
    let mut found: HashMap<VendorId, Vec<RenewalReview>> = HashMap::new();
    for campaign in state.store.find_campaigns(filter).await? {
        let Some(id) = campaign.trigger.subject.strip_prefix("vendor:").and_then(|id| id.parse().ok()) else {
            continue;
        };
        let decided = crate::reviews::close::by_item(state.store.list_review_decisions(campaign.id, None).await?);
        let complete = crate::reviews::close::all_items(state, campaign.id).await?.iter().all(|item| {
            progress(item, decided.get(&item.number).map(Vec::as_slice).unwrap_or_default()).outcome.is_some()
        });
        found.entry(id).or_default().push(RenewalReview {
            campaign: campaign.id,
            opened_at: campaign.opened_at,
            deadline: campaign.deadline,
            open: campaign.state == CampaignState::Open,
            complete,
        });
    }
    Ok(found)
}

/// A vendor at an instant, apart from any one integration: its status,
/// contract, required evidence and renewal review.
#[derive(Debug, Clone)]
pub struct VendorStanding {
    pub vendor: Vendor,
    pub evidence: Vec<Evidence>,
    pub requirements: Vec<(EvidenceKind, RequirementState)>,
    /// As `compliance_of` answers for an integration that meets the standard.
    pub compliance: Compliance,
    pub on_lapse: LapseAction,
    /// Its open renewal reviews.
    pub renewal: Vec<RenewalReview>,
}

/// `vendor` at `now`, given all its evidence and its open renewal reviews.
pub fn vendor_standing(
    vendor: Vendor,
    evidence: Vec<Evidence>,
    renewal: &[RenewalReview],
    rules: &VendorRules,
    now: OffsetDateTime,
) -> VendorStanding {
    let requirements = requirement_states(&vendor, &evidence, &rules.evidence, now);
    let compliance = compliance_of(&vendor, &evidence, &rules.evidence, true, false, now)
        .with_renewal(renewal_lapse(&vendor, renewal, now));
    let on_lapse = rules.lapse.for_tier(vendor.tier);
    VendorStanding { vendor, evidence, requirements, compliance, on_lapse, renewal: renewal.to_vec() }
}

/// An integration at an instant: its vendor's standing, the check against
/// the standard, and the exceptions that waive what it fails.
#[derive(Debug, Clone)]
pub struct IntegrationStanding {
    pub integration: Integration,
    pub vendor: VendorStanding,
    /// Every rule it fails, waived or not.
    pub findings: Vec<Finding>,
    /// The findings no live exception waives.
    pub unwaived: Vec<Finding>,
    pub exceptions: Vec<ExceptionRecord>,
    /// Whether it is in force, why not, and when that can next change.
    pub compliance: Compliance,
}

impl IntegrationStanding {
    pub fn in_force(&self) -> bool {
        self.compliance.in_force
    }

    pub fn on_lapse(&self) -> LapseAction {
        self.vendor.on_lapse
    }
}

/// What gatehouse itself saw of the integration's identity: the longest
/// lifetime among the unrevoked tokens it issued to it.
async fn observed(state: &AppState, integration: &Integration) -> Result<Observed, ApiError> {
    let mut longest: Option<Duration> = None;
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let tokens = state.store.list_tokens(TokenFilter { identity_id: Some(integration.identity_id) }, page).await?;
        for token in tokens.items.iter().filter(|token| token.revoked_at.is_none()) {
            let lifetime = token.expires_at - token.created_at;
            longest = Some(longest.map_or(lifetime, |so_far| so_far.max(lifetime)));
        }
        match tokens.next_after {
            Some(after) => page = PageRequest { after: Some(after), limit: PageRequest::MAX_LIMIT },
            None => break,
        }
    }
    Ok(Observed { max_issued_token_lifetime: longest, webhook_signatures_verified: None })
}

/// Assesses `integration` at `now` with `rules`.
pub async fn integration_standing(
    state: &AppState,
    integration: Integration,
    rules: &VendorRules,
    now: OffsetDateTime,
) -> Result<IntegrationStanding, ApiError> {
    // Independent reads, run at once: this is the first decision after
    // any credential change.
    let (vendor, evidence, observed, exceptions, mut renewal) = tokio::try_join!(
        async { Ok::<_, ApiError>(state.store.find_vendor(integration.vendor_id).await?) },
        async { Ok(state.store.list_evidence(integration.vendor_id).await?) },
        observed(state, &integration),
        async { Ok(state.store.list_exceptions(integration.id).await?) },
        renewal_reviews(state, Some(integration.vendor_id)),
    )?;
    let vendor = vendor
        .ok_or_else(|| ApiError::Internal(format!("integration `{}` names an unknown vendor", integration.id)))?;
    let renewal = renewal.remove(&integration.vendor_id).unwrap_or_default();
    let vendor = vendor_standing(vendor, evidence, &renewal, rules, now);
    let findings = check_integration(&integration.declared, &rules.standard, &observed, now)
        .map_err(|error| ApiError::Internal(format!("integration `{}`: {error}", integration.id)))?;
    let granted: Vec<_> = exceptions.iter().filter_map(ExceptionRecord::granted).collect();
    let unwaived = unwaived(findings.clone(), &granted, now);
    let live = granted.iter().any(|exception| now < exception.expires_at);
    let standard_passes = findings.is_empty();
    let mut compliance = compliance_of(
        &vendor.vendor,
        &vendor.evidence,
        &rules.evidence,
        standard_passes,
        !standard_passes && unwaived.is_empty() && live,
        now,
    )
    .with_renewal(renewal_lapse(&vendor.vendor, &renewal, now));
    // An exception's expiry can change the answer too.
    let expiries = granted.iter().map(|exception| exception.expires_at).filter(|at| *at > now);
    compliance.next_change = compliance.next_change.into_iter().chain(expiries).min();
    let name = &vendor.vendor.name;
    let state_reason = match integration.state {
        IntegrationState::Active => None,
        IntegrationState::PendingApproval => {
            Some(format!("The onboarding of {name}'s integration is not approved yet"))
        }
        IntegrationState::Suspended => None,
        IntegrationState::Retired => Some(format!("The integration with {name} is retired")),
    };
    if let Some(reason) = state_reason {
        compliance.reasons.insert(0, reason);
        compliance.in_force = false;
    }
    Ok(IntegrationStanding { integration, vendor, findings, unwaived, exceptions, compliance })
}
