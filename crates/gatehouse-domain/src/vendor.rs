//! Vendors of outside tools and the security evidence they owe: the vendor
//! record and its status rules, evidence items with a validity rule per kind,
//! the organization's API access standard and the check of an integration
//! against it, and whether a vendor's integrations are in force at an instant. Pure
//! logic; every instant comes from the caller, documents and records are
//! stored elsewhere.
//!
//! Validity is a date rule: an item's `until` is the day it expires (valid
//! before that day, not on it), read in UTC. Compliance names the earliest
//! instant its answer can change, so a cache knows when to recompute.

pub(crate) mod codec;
mod compliance;
mod evidence;
mod integration;
mod record;
mod renewal;
mod standard;

#[cfg(test)]
mod tests;

pub use codec::{
    DECLARED_FIELDS, FormError, MAX_ITEM_CHARS, MAX_LIST_ITEMS, declared_from_json, declared_to_json, format_date,
    metadata_fields, metadata_from_json, metadata_to_json, parse_date,
};
pub use compliance::{Compliance, LapseAction, LapseActions, compliance_of};
pub use evidence::{
    BridgeLetter, Certificate, ContentDigest, Dpa, Evidence, EvidenceError, EvidenceKind, EvidenceMetadata,
    EvidenceRules, EvidenceState, MAX_CERTIFICATE_NAME_CHARS, MAX_FILENAME_CHARS, NewEvidence, PenTest, Questionnaire,
    QuestionnaireKind, RequirementState, Soc2, Soc2Opinion, Soc2Type, TierRequirements, TrustService, evidence_state,
    requirement_states,
};
pub use integration::{
    EvidenceNote, ExceptionRecord, GrantExceptionError, Integration, IntegrationChange, IntegrationState, NewException,
    NotedEvidence, grant_exception,
};
pub use record::{
    Contract, DataAccess, LoggingCommitment, MAX_LOGGING_WHAT_CHARS, MAX_VENDOR_NAME_CHARS, NewVendor, StatusError,
    UnknownValue, Vendor, VendorError, VendorStatus, VendorTier, transition,
};
pub use renewal::{RenewalLapse, RenewalReview, renewal_lapse};
pub use standard::*;
