//! Vendors and integrations on the server: where each stands at an instant,
//! its open contract-renewal review included ([`assess`]), the standing decisions read for an integration's service
//! identity, cached until something it depends on changes ([`standing`]),
//! the lapses the scheduler carries out at their instant ([`lapse`]),
//! vendor records and evidence as people change them ([`records`]), how
//! they are shown ([`view`]) and the report over all vendors ([`report`]),
//! registering, checking and waiving rules for integrations
//! ([`integrations`]), and onboarding through the approved channel
//! ([`onboarding`]).
//!
//! INVARIANT: a decision about a service identity that serves an
//! integration sees the integration's standing as of the credential stamp
//! and the policy folder it is made under; a cached standing is served
//! only while both are unchanged and before its next change instant.

pub mod assess;
pub mod integrations;
pub mod lapse;
pub mod onboarding;
pub mod records;
pub mod report;
pub mod standing;
pub mod view;

pub use assess::{
    IntegrationStanding, VendorRules, VendorStanding, integration_standing, renewal_reviews, vendor_standing,
};
pub use standing::{DecisionStanding, StandingCache, decision_standing};
