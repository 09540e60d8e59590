//! The standing a decision reads for its principal: `None` for anyone who
//! serves no integration, else whether the integration is in force, why
//! not, and what its tier's lapse does. Kept per identity under the
//! credential stamp (every vendor, evidence, integration and exception
//! write moves it), the policy folder's digest and the next instant the
//! answer can change by itself; without a stamp, nothing is kept.

use std::collections::HashMap;
use std::sync::RwLock;

use gatehouse_domain::identity::{Identity, IdentityKind};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::vendor::{EvidenceState, LapseAction, RequirementState};
use time::OffsetDateTime;

use super::assess::{VendorRules, integration_standing};
use crate::problem::ApiError;
use crate::state::AppState;

/// At most this many identities' standings are kept; a full cache is
/// emptied and refilled by the next decisions.
const CAPACITY: usize = 16_384;

/// What a decision sees of its principal's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionStanding {
    pub vendor: String,
    pub in_force: bool,
    pub reasons: Vec<String>,
    /// What will lapse soon, while it is still in force: one sentence per
    /// required item due soon ("SOC 2 report for Acme Scan expires 2026-10-31").
    pub warnings: Vec<String>,
    pub on_lapse: LapseAction,
}

impl DecisionStanding {
    /// What the policies see of it (the service identity's `vendor_*` attributes).
    pub fn for_policy(&self) -> gatehouse_policy::IntegrationStanding {
        gatehouse_policy::IntegrationStanding {
            vendor: self.vendor.clone(),
            in_force: self.in_force,
            reasons: self.reasons.clone(),
            on_lapse: self.on_lapse,
        }
    }
}

#[derive(Debug, Clone)]
struct Kept {
    stamp: u64,
    policy_hash: String,
    /// Served before this instant only.
    until: Option<OffsetDateTime>,
    standing: Option<DecisionStanding>,
}

/// The standings read so far, per identity.
#[derive(Debug, Default)]
pub struct StandingCache {
    entries: RwLock<HashMap<IdentityId, Kept>>,
}

impl StandingCache {
    /// Forgets every standing (benchmarks measure a read afresh with it).
    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    fn get(
        &self,
        id: IdentityId,
        stamp: u64,
        policy_hash: &str,
        now: OffsetDateTime,
    ) -> Option<Option<DecisionStanding>> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let kept = entries.get(&id)?;
        let fresh =
            kept.stamp == stamp && kept.policy_hash == policy_hash && kept.until.is_none_or(|until| now < until);
        fresh.then(|| kept.standing.clone())
    }

    fn put(&self, id: IdentityId, kept: Kept) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&id) {
            entries.clear();
        }
        entries.insert(id, kept);
    }
}

/// The standing of `principal`'s integration at the clock's now, if it
/// serves one. People serve none and cost no read.
pub async fn decision_standing(state: &AppState, principal: &Identity) -> Result<Option<DecisionStanding>, ApiError> {
    if principal.kind != IdentityKind::Service {
        return Ok(None);
    }
    let now = state.clock.now();
    let policies = state.policies.current();
    // Read before the store is, so a change that lands during the read is
    // never served under the newer stamp.
    let stamp = state.engine.credential_stamp().await?;
    if let Some(stamp) = stamp
        && let Some(kept) = state.vendor_standing.get(principal.id, stamp, policies.hash(), now)
    {
        return Ok(kept);
    }
    let (standing, until) = match state.store.integration_of_identity(principal.id).await? {
        None => (None, None),
        Some(integration) => {
            let rules = VendorRules::of(&policies);
            let assessed = integration_standing(state, integration, &rules, now).await?;
            let name = &assessed.vendor.vendor.name;
            let warnings = assessed
                .vendor
                .requirements
                .iter()
                .filter_map(|(kind, requirement)| match requirement {
                    RequirementState::Present { state: EvidenceState::DueSoon { until }, .. } => {
                        Some(format!("{} for {name} expires {until}", kind.label()))
                    }
                    _ => None,
                })
                .collect();
            let standing = DecisionStanding {
                vendor: name.clone(),
                in_force: assessed.in_force(),
                reasons: assessed.compliance.reasons.clone(),
                warnings,
                on_lapse: assessed.on_lapse(),
            };
            (Some(standing), assessed.compliance.next_change)
        }
    };
    if let Some(stamp) = stamp {
        state.vendor_standing.put(
            principal.id,
            Kept { stamp, policy_hash: policies.hash().to_owned(), until, standing: standing.clone() },
        );
    }
    Ok(standing)
}
