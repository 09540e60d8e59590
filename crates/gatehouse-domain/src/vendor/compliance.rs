//! Whether a vendor's integration is in force at an instant, why not, and
//! when that answer can next change; and what a lapse does per tier.

use time::OffsetDateTime;

use super::evidence::{Evidence, EvidenceRules, EvidenceState, RequirementState, day_of, requirement_states, start_of};
use super::record::{Vendor, VendorStatus, VendorTier, named_enum};

named_enum!(
    /// What happens when an integration stops being in force.
    LapseAction, "lapse action", {
        /// The service identity is suspended and its tokens refused.
        Suspend => "suspend",
        /// Decisions deny, naming the reason.
        DenyGate => "deny_gate",
        /// A notification only.
        Flag => "flag",
    }
);

/// The lapse action per tier, editable; [`Default`]: critical suspends,
/// high and medium deny at the gate, low is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LapseActions {
    pub critical: LapseAction,
    pub high: LapseAction,
    pub medium: LapseAction,
    pub low: LapseAction,
}

impl Default for LapseActions {
    fn default() -> Self {
        LapseActions {
            critical: LapseAction::Suspend,
            high: LapseAction::DenyGate,
            medium: LapseAction::DenyGate,
            low: LapseAction::Flag,
        }
    }
}

impl LapseActions {
    pub fn for_tier(&self, tier: VendorTier) -> LapseAction {
        match tier {
            VendorTier::Critical => self.critical,
            VendorTier::High => self.high,
            VendorTier::Medium => self.medium,
            VendorTier::Low => self.low,
        }
    }
}

/// The answer for one vendor's integration at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compliance {
    pub in_force: bool,
    /// Why it is not in force, one sentence each; empty when it is.
    pub reasons: Vec<String>,
    /// The earliest instant after the one asked at which the answer (or an
    /// item's due-soon standing) can change without new data: an expiry, a
    /// due-soon start, the contract's start or end. `None`: only new data
    /// changes it.
    pub next_change: Option<OffsetDateTime>,
}

/// `text` with its first letter in capitals.
fn sentence(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Whether an integration of `vendor` is in force at `at`: the vendor is
/// approved (with or without conditions), every kind its tier requires is
/// valid or due soon, the integration passes the API access standard (or
/// live exceptions cover what it fails) and the contract is active.
pub fn compliance_of(
    vendor: &Vendor,
    items: &[Evidence],
    rules: &EvidenceRules,
    standard_passes: bool,
    live_exceptions: bool,
    at: OffsetDateTime,
) -> Compliance {
    let name = &vendor.name;
    let mut reasons = Vec::new();
    let mut changes = Vec::new();

    match vendor.status {
        VendorStatus::Approved | VendorStatus::ApprovedWithConditions => {}
        VendorStatus::Prospect => reasons.push(format!("{name} is a prospect, not yet approved")),
        VendorStatus::Suspended => reasons.push(format!("{name} is suspended")),
        VendorStatus::Offboarded => reasons.push(format!("{name} is offboarded")),
    }

    let today = day_of(at);
    let contract = vendor.contract;
    if today < contract.start {
        reasons.push(format!("the contract with {name} starts {}", contract.start));
        changes.push(start_of(contract.start));
    } else if today > contract.end {
        reasons.push(format!("the contract with {name} ended {}", contract.end));
    } else if let Some(after_end) = contract.end.next_day() {
        changes.push(start_of(after_end));
    }

    for (kind, state) in requirement_states(vendor, items, rules, at) {
        let label = kind.label();
        match state {
            RequirementState::Missing => reasons.push(format!("{label} for {name} is missing")),
            RequirementState::Present { state, .. } => match state {
                EvidenceState::Valid { until } => changes.push(start_of(until) - rules.due_soon),
                EvidenceState::DueSoon { until } => changes.push(start_of(until)),
                EvidenceState::Expired { since } => {
                    reasons.push(format!("{label} for {name} expired {since}"));
                }
                EvidenceState::Invalid { why } => {
                    reasons.push(format!("{label} for {name} is not acceptable: {why}"));
                }
            },
        }
    }

    if !standard_passes && !live_exceptions {
        reasons.push(format!("the integration with {name} does not meet the API access standard"));
    }

    let reasons: Vec<String> = reasons.into_iter().map(sentence).collect();
    Compliance {
        in_force: reasons.is_empty(),
        reasons,
        next_change: changes.into_iter().filter(|change| *change > at).min(),
    }
}
