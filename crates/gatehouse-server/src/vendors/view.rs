//! How a vendor and its evidence are shown: the vendor with where it
//! stands now (from `vendor_standing`), and each evidence item with its own
//! state. Pure: the caller reads the store and the clock.

use gatehouse_domain::vendor::{
    Evidence, EvidenceState, Integration, RequirementState, Vendor, evidence_state, format_date, metadata_to_json,
};
use time::OffsetDateTime;

use super::assess::{VendorRules, VendorStanding};
use super::records::{contract_to, logging_to};
use crate::api::dto::{EvidenceDto, RequirementDto, VendorDto, instant};

/// One required kind as shown.
pub fn requirement_dto(kind: &str, requirement: &RequirementState) -> RequirementDto {
    let evidence_id = match requirement {
        RequirementState::Missing => None,
        RequirementState::Present { id, .. } => Some(id.to_string()),
    };
    RequirementDto {
        kind: kind.to_owned(),
        state: requirement.as_str().to_owned(),
        valid_until: requirement.valid_until().map(format_date),
        evidence_id,
    }
}

/// The vendor of `standing`, with the ids of `integrations` (its own).
pub fn vendor_dto(standing: &VendorStanding, integrations: &[Integration]) -> VendorDto {
    let vendor = &standing.vendor;
    VendorDto {
        id: vendor.id.to_string(),
        name: vendor.name.clone(),
        tier: vendor.tier.as_str().to_owned(),
        status: vendor.status.as_str().to_owned(),
        business_owner: vendor.business_owner.map(|id| id.to_string()),
        security_owner: vendor.security_owner.map(|id| id.to_string()),
        contract: contract_to(&vendor.contract),
        data_access: vendor.data_access.as_str().to_owned(),
        logging: vendor.logging.as_ref().map(logging_to),
        compliant: standing.compliance.in_force,
        reasons: standing.compliance.reasons.clone(),
        next_change: standing.compliance.next_change.map(instant),
        on_lapse: standing.on_lapse.as_str().to_owned(),
        evidence: standing
            .requirements
            .iter()
            .map(|(kind, requirement)| requirement_dto(kind.as_str(), requirement))
            .collect(),
        integrations: integrations
            .iter()
            .filter(|integration| integration.vendor_id == vendor.id)
            .map(|integration| integration.id.to_string())
            .collect(),
    }
}

/// `item` as shown, its state read at `now` among all of `vendor`'s items.
pub fn evidence_dto(
    item: &Evidence,
    all: &[Evidence],
    vendor: &Vendor,
    rules: &VendorRules,
    now: OffsetDateTime,
) -> EvidenceDto {
    let state = evidence_state(item, all, vendor, &rules.evidence, now);
    let invalid_because = match &state {
        EvidenceState::Invalid { why } => Some(why.clone()),
        _ => None,
    };
    EvidenceDto {
        id: item.id.to_string(),
        vendor_id: item.vendor_id.to_string(),
        kind: item.kind().as_str().to_owned(),
        metadata: metadata_to_json(&item.metadata),
        digest: item.digest.to_string(),
        size: item.size,
        filename: item.filename.clone(),
        added_at: instant(item.added_at),
        state: state.as_str().to_owned(),
        valid_until: state.valid_until().map(format_date),
        invalid_because,
    }
}
