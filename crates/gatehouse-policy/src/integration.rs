//! An integration's standing as policies see it: the attributes of the
//! service identity an integration acts through (`vendor`,
//! `vendor_compliant`, `vendor_reasons`, `vendor_on_lapse`), and the words a
//! denial by the default `integration-not-in-force` guard gives.
//!
//! The standing is worked out by the server (vendor records, evidence, the
//! API access standard, exceptions, the contract); this module only carries
//! it into Cedar. A folder whose schema predates these attributes keeps
//! working: each attribute is left out unless `entity Identity` declares it.

use cedar_policy::{Entities, Entity, EntityUid, RestrictedExpression, Schema};
use gatehouse_domain::vendor::LapseAction;

/// The default guard that denies pipeline actions to an integration whose
/// vendor's compliance lapsed.
pub const NOT_IN_FORCE_GUARD: &str = "integration-not-in-force";

/// The `Identity` attributes an integration's standing fills in.
pub const ATTRIBUTES: [&str; 4] = ["vendor", "vendor_compliant", "vendor_reasons", "vendor_on_lapse"];

/// Whether the integration a service identity serves is in force, and why
/// not: what `compliance_of` answered for its vendor at the decision's
/// instant, with the lapse action of the vendor's tier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IntegrationStanding {
    /// The vendor's name.
    pub vendor: String,
    pub in_force: bool,
    /// Why it is not in force, one sentence each (e.g. "SOC 2 report for
    /// Acme Scan expired 2026-10-31"); empty when it is.
    pub reasons: Vec<String>,
    /// What the vendor's tier does on a lapse; the default guard denies on
    /// `suspend` and `deny_gate`, not on `flag`.
    pub on_lapse: LapseAction,
}

impl IntegrationStanding {
    /// The sentences a denial by [`NOT_IN_FORCE_GUARD`] shows, at least one.
    pub(crate) fn denial_sentences(&self) -> Vec<String> {
        if self.reasons.is_empty() {
            vec![format!("the integration of vendor `{}` is not in force", self.vendor)]
        } else {
            self.reasons.clone()
        }
    }

    /// The attributes of the principal's entity, those `declared` only.
    pub(crate) fn attributes(&self, declared: DeclaredAttributes) -> Vec<(String, RestrictedExpression)> {
        let mut attributes = Vec::with_capacity(ATTRIBUTES.len());
        if declared.vendor {
            attributes.push(("vendor".to_owned(), RestrictedExpression::new_string(self.vendor.clone())));
        }
        if declared.vendor_compliant {
            attributes.push(("vendor_compliant".to_owned(), RestrictedExpression::new_bool(self.in_force)));
        }
        if declared.vendor_reasons {
            let reasons = self.reasons.iter().map(|reason| RestrictedExpression::new_string(reason.clone()));
            attributes.push(("vendor_reasons".to_owned(), RestrictedExpression::new_set(reasons)));
        }
        if declared.vendor_on_lapse {
            let on_lapse = RestrictedExpression::new_string(self.on_lapse.as_str().to_owned());
            attributes.push(("vendor_on_lapse".to_owned(), on_lapse));
        }
        attributes
    }
}

/// Which of [`ATTRIBUTES`] a folder's schema declares on `Identity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DeclaredAttributes {
    pub vendor: bool,
    pub vendor_compliant: bool,
    pub vendor_reasons: bool,
    pub vendor_on_lapse: bool,
}

impl DeclaredAttributes {
    /// Asks `schema` about each attribute by checking a sample identity
    /// that has it (once, when a folder is loaded): the entity conforms
    /// only if the attribute is declared, with this type.
    pub(crate) fn of(schema: &Schema, identity: &EntityUid) -> Self {
        let sample = IntegrationStanding {
            vendor: "sample".into(),
            in_force: true,
            reasons: vec!["sample".into()],
            on_lapse: LapseAction::Flag,
        };
        let base = [
            ("id", RestrictedExpression::new_string("sample".into())),
            ("kind", RestrictedExpression::new_string("service".into())),
            ("name", RestrictedExpression::new_string("sample".into())),
            ("active", RestrictedExpression::new_bool(true)),
        ];
        let everything =
            DeclaredAttributes { vendor: true, vendor_compliant: true, vendor_reasons: true, vendor_on_lapse: true };
        let declares = |name: &str| {
            let extra = sample.attributes(everything).into_iter().filter(|(attribute, _)| attribute == name);
            let attributes = base.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).chain(extra);
            Entity::new(identity.clone(), attributes.collect(), Default::default())
                .is_ok_and(|entity| Entities::from_entities([entity], Some(schema)).is_ok())
        };
        Self {
            vendor: declares("vendor"),
            vendor_compliant: declares("vendor_compliant"),
            vendor_reasons: declares("vendor_reasons"),
            vendor_on_lapse: declares("vendor_on_lapse"),
        }
    }
}

#[cfg(test)]
mod tests;
