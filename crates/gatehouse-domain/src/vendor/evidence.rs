//! Evidence a vendor gives (SOC 2 reports, bridge letters, pen tests, DPAs,
//! questionnaires, certificates): typed metadata per kind, the content's
//! SHA-256 digest, and the rule saying until when each item counts.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::ids::{EvidenceId, VendorId};

use super::record::{UnknownValue, Vendor, VendorTier, named_enum};

/// The longest evidence file name, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;
/// The longest certificate name ("ISO/IEC 27001:2022"), in characters.
pub const MAX_CERTIFICATE_NAME_CHARS: usize = 256;

named_enum!(
    /// What a piece of evidence is.
    EvidenceKind, "evidence kind", {
        Soc2 => "soc2",
        BridgeLetter => "bridge_letter",
        PenTest => "pentest",
        Dpa => "dpa",
        Questionnaire => "questionnaire",
        Certificate => "certificate",
    }
);

impl EvidenceKind {
    /// The kind in words, for sentences people read.
    pub fn label(self) -> &'static str {
        match self {
            EvidenceKind::Soc2 => "SOC 2 report",
            EvidenceKind::BridgeLetter => "bridge letter",
            EvidenceKind::PenTest => "penetration test",
            EvidenceKind::Dpa => "data processing agreement",
            EvidenceKind::Questionnaire => "security questionnaire",
            EvidenceKind::Certificate => "certificate",
        }
    }
}

named_enum!(
    /// SOC 2 type I (design at a point in time) or type II (operation over a period).
    Soc2Type, "SOC 2 report type", {
        TypeI => "I",
        TypeII => "II",
    }
);

named_enum!(
    /// The auditor's opinion in a SOC 2 report.
    Soc2Opinion, "SOC 2 opinion", {
        Unqualified => "unqualified",
        Qualified => "qualified",
        Adverse => "adverse",
        Disclaimer => "disclaimer",
    }
);

named_enum!(
    /// A SOC 2 trust services criterion.
    TrustService, "trust services criterion", {
        Security => "security",
        Availability => "availability",
        ProcessingIntegrity => "processing_integrity",
        Confidentiality => "confidentiality",
        Privacy => "privacy",
    }
);

named_enum!(
    /// Which security questionnaire the vendor answered.
    QuestionnaireKind, "questionnaire", {
        SigLite => "sig_lite",
        SigCore => "sig_core",
        CaiqV4 => "caiq_v4",
        Custom => "custom",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soc2 {
    pub report_type: Soc2Type,
    pub opinion: Soc2Opinion,
    pub trust_services: BTreeSet<TrustService>,
    pub period_start: Date,
    pub period_end: Date,
}

/// A letter from the vendor covering the gap after a SOC 2 report's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeLetter {
    /// The SOC 2 report it extends.
    pub covers: EvidenceId,
    pub until: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PenTest {
    pub performed_on: Date,
    /// Whether the product wired into the pipeline was in the test's scope.
    pub product_in_scope: bool,
    pub open_critical: u32,
}

/// A data processing agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dpa {
    pub signed_on: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Questionnaire {
    pub kind: QuestionnaireKind,
    pub answered_on: Date,
}

/// A certificate such as ISO 27001.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub name: String,
    pub expires_on: Date,
}

/// The metadata of one item; its variant is the item's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceMetadata {
    Soc2(Soc2),
    BridgeLetter(BridgeLetter),
    PenTest(PenTest),
    Dpa(Dpa),
    Questionnaire(Questionnaire),
    Certificate(Certificate),
}

impl EvidenceMetadata {
    pub fn kind(&self) -> EvidenceKind {
        match self {
            EvidenceMetadata::Soc2(_) => EvidenceKind::Soc2,
            EvidenceMetadata::BridgeLetter(_) => EvidenceKind::BridgeLetter,
            EvidenceMetadata::PenTest(_) => EvidenceKind::PenTest,
            EvidenceMetadata::Dpa(_) => EvidenceKind::Dpa,
            EvidenceMetadata::Questionnaire(_) => EvidenceKind::Questionnaire,
            EvidenceMetadata::Certificate(_) => EvidenceKind::Certificate,
        }
    }

    /// Checks what the metadata says about itself.
    pub fn check(&self) -> Result<(), EvidenceError> {
        match self {
            EvidenceMetadata::Soc2(soc2) => {
                if soc2.period_end < soc2.period_start {
                    return Err(EvidenceError::PeriodOrder { start: soc2.period_start, end: soc2.period_end });
                }
                if soc2.trust_services.is_empty() {
                    return Err(EvidenceError::NoTrustServices);
                }
                Ok(())
            }
            EvidenceMetadata::Certificate(certificate) => {
                let name = certificate.name.trim();
                if name.is_empty()
                    || name.chars().count() > MAX_CERTIFICATE_NAME_CHARS
                    || name.chars().any(char::is_control)
                {
                    return Err(EvidenceError::CertificateName);
                }
                Ok(())
            }
            EvidenceMetadata::BridgeLetter(_)
            | EvidenceMetadata::PenTest(_)
            | EvidenceMetadata::Dpa(_)
            | EvidenceMetadata::Questionnaire(_) => Ok(()),
        }
    }
}

/// The SHA-256 digest of an evidence file: its address in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentDigest([u8; 32]);

impl ContentDigest {
    /// The digest of `content`.
    pub fn of(content: &[u8]) -> Self {
        ContentDigest(Sha256::digest(content).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for ContentDigest {
    type Err = EvidenceError;

    /// 64 hex digits, either case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || EvidenceError::Digest(text.to_owned());
        if text.len() != 64 {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| malformed())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed())?;
        }
        Ok(ContentDigest(bytes))
    }
}

impl fmt::Display for ContentDigest {
    /// Lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// One item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub id: EvidenceId,
    pub vendor_id: VendorId,
    pub metadata: EvidenceMetadata,
    pub digest: ContentDigest,
    pub size: u64,
    pub filename: String,
    pub added_at: OffsetDateTime,
}

impl Evidence {
    pub fn kind(&self) -> EvidenceKind {
        self.metadata.kind()
    }
}

/// An item as uploaded, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    pub vendor_id: VendorId,
    pub metadata: EvidenceMetadata,
    pub digest: ContentDigest,
    pub size: u64,
    pub filename: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Unknown(#[from] UnknownValue),
    #[error("the period ends ({end}) before it starts ({start})")]
    PeriodOrder { start: Date, end: Date },
    #[error("a SOC 2 report names at least one trust services criterion")]
    NoTrustServices,
    #[error("a certificate's name has 1 to {MAX_CERTIFICATE_NAME_CHARS} characters and no control characters")]
    CertificateName,
    #[error("`{0}` is not a SHA-256 digest (expected 64 hex digits)")]
    Digest(String),
    #[error("the {what} ({date}) is after today ({today})")]
    InTheFuture { what: &'static str, date: Date, today: Date },
    #[error("the file is empty")]
    Empty,
    #[error("the file has {size} bytes, over the limit of {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("`{0}` is not a file name (1 to {MAX_FILENAME_CHARS} characters, no `/`, `\\` or control characters)")]
    Filename(String),
}

impl NewEvidence {
    /// Checks the upload against itself and the size limit, and makes the record.
    /// Dates that say when something happened (a SOC 2 period's end, a pen
    /// test, a signature, an answer) may not be after `now`'s day.
    pub fn check(self, id: EvidenceId, rules: &EvidenceRules, now: OffsetDateTime) -> Result<Evidence, EvidenceError> {
        self.metadata.check()?;
        let today = day_of(now);
        let happened = match &self.metadata {
            EvidenceMetadata::Soc2(soc2) => Some(("SOC 2 period's end", soc2.period_end)),
            EvidenceMetadata::PenTest(test) => Some(("pen test's date", test.performed_on)),
            EvidenceMetadata::Dpa(dpa) => Some(("signature date", dpa.signed_on)),
            EvidenceMetadata::Questionnaire(questionnaire) => Some(("answer date", questionnaire.answered_on)),
            EvidenceMetadata::BridgeLetter(_) | EvidenceMetadata::Certificate(_) => None,
        };
        if let Some((what, date)) = happened
            && date > today
        {
            return Err(EvidenceError::InTheFuture { what, date, today });
        }
        if self.size == 0 {
            return Err(EvidenceError::Empty);
        }
        if self.size > rules.max_size_bytes {
            return Err(EvidenceError::TooLarge { size: self.size, max: rules.max_size_bytes });
        }
        let filename = self.filename.trim();
        let chars = filename.chars().count();
        if chars == 0
            || chars > MAX_FILENAME_CHARS
            || filename.chars().any(|c| c == '/' || c == '\\' || c.is_control())
            || filename == "."
            || filename == ".."
        {
            return Err(EvidenceError::Filename(self.filename));
        }
        Ok(Evidence {
            id,
            vendor_id: self.vendor_id,
            metadata: self.metadata,
            digest: self.digest,
            size: self.size,
            filename: filename.to_owned(),
            added_at: now,
        })
    }
}

/// The evidence kinds each tier requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRequirements {
    pub critical: Vec<EvidenceKind>,
    pub high: Vec<EvidenceKind>,
    pub medium: Vec<EvidenceKind>,
    pub low: Vec<EvidenceKind>,
}

impl Default for TierRequirements {
    fn default() -> Self {
        use EvidenceKind::*;
        TierRequirements {
            critical: vec![Soc2, PenTest, Dpa],
            high: vec![Soc2, Dpa],
            medium: vec![Questionnaire, Dpa],
            low: vec![Questionnaire],
        }
    }
}

impl TierRequirements {
    pub fn for_tier(&self, tier: VendorTier) -> &[EvidenceKind] {
        match tier {
            VendorTier::Critical => &self.critical,
            VendorTier::High => &self.high,
            VendorTier::Medium => &self.medium,
            VendorTier::Low => &self.low,
        }
    }
}

/// The validity rule per kind, editable; [`Default`] holds the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRules {
    /// A SOC 2 report counts until its period's end plus this many months.
    pub soc2_valid_months: u32,
    pub soc2_require_type_ii: bool,
    pub soc2_require_unqualified: bool,
    /// Criteria a SOC 2 report must have in scope.
    pub soc2_required_services: BTreeSet<TrustService>,
    /// A bridge letter extends an acceptable SOC 2 report by at most this many months.
    pub bridge_max_months: u32,
    /// A pen test counts for this many months after it was performed.
    pub pentest_max_age_months: u32,
    pub pentest_require_product_in_scope: bool,
    pub pentest_max_open_critical: u32,
    /// A questionnaire counts for this many months after it was answered.
    pub questionnaire_max_age_months: u32,
    /// How long before expiry an item is due soon (still passing).
    pub due_soon: Duration,
    /// The largest evidence file accepted.
    pub max_size_bytes: u64,
    pub tiers: TierRequirements,
}

impl Default for EvidenceRules {
    fn default() -> Self {
        EvidenceRules {
            soc2_valid_months: 12,
            soc2_require_type_ii: true,
            soc2_require_unqualified: true,
            soc2_required_services: BTreeSet::from([TrustService::Security]),
            bridge_max_months: 3,
            pentest_max_age_months: 12,
            pentest_require_product_in_scope: true,
            pentest_max_open_critical: 0,
            questionnaire_max_age_months: 12,
            due_soon: Duration::days(30),
            max_size_bytes: 20 * 1024 * 1024,
            tiers: TierRequirements::default(),
        }
    }
}

impl EvidenceRules {
    /// The evidence kinds `tier` requires.
    pub fn tier_requirements(&self, tier: VendorTier) -> &[EvidenceKind] {
        self.tiers.for_tier(tier)
    }
}

/// One item's standing at an instant. `until` is the day it expires: it
/// counts before that day (UTC), not on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceState {
    Valid {
        until: Date,
    },
    /// Still counts, but expires within the due-soon window.
    DueSoon {
        until: Date,
    },
    Expired {
        since: Date,
    },
    /// Never counts, whatever the date (a type I report, open critical findings…).
    Invalid {
        why: String,
    },
}

impl EvidenceState {
    pub fn as_str(&self) -> &'static str {
        match self {
            EvidenceState::Valid { .. } => "valid",
            EvidenceState::DueSoon { .. } => "due_soon",
            EvidenceState::Expired { .. } => "expired",
            EvidenceState::Invalid { .. } => "invalid",
        }
    }

    /// Whether the item counts now (valid or due soon).
    pub fn passes(&self) -> bool {
        matches!(self, EvidenceState::Valid { .. } | EvidenceState::DueSoon { .. })
    }

    /// The day a passing item expires.
    pub fn valid_until(&self) -> Option<Date> {
        match self {
            EvidenceState::Valid { until } | EvidenceState::DueSoon { until } => Some(*until),
            EvidenceState::Expired { .. } | EvidenceState::Invalid { .. } => None,
        }
    }

    /// How good this is next to another item of the same kind: passing
    /// beats expired beats invalid, a later date beats an earlier one.
    fn rank(&self) -> (u8, Option<Date>) {
        match self {
            EvidenceState::Valid { until } | EvidenceState::DueSoon { until } => (2, Some(*until)),
            EvidenceState::Expired { since } => (1, Some(*since)),
            EvidenceState::Invalid { .. } => (0, None),
        }
    }
}

/// A required kind's standing: its best item, or none on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequirementState {
    Missing,
    Present { id: EvidenceId, state: EvidenceState },
}

impl RequirementState {
    /// `missing`, `valid`, `due_soon`, `expired` or `invalid`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequirementState::Missing => "missing",
            RequirementState::Present { state, .. } => state.as_str(),
        }
    }

    pub fn passes(&self) -> bool {
        matches!(self, RequirementState::Present { state, .. } if state.passes())
    }

    pub fn valid_until(&self) -> Option<Date> {
        match self {
            RequirementState::Missing => None,
            RequirementState::Present { state, .. } => state.valid_until(),
        }
    }
}

/// `date` plus `months` calendar months, the day clamped to the month's
/// length (2024-01-31 + 1 month = 2024-02-29); `Date::MAX` past the range.
pub(crate) fn add_months(date: Date, months: u32) -> Date {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month()) - 1) + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok();
    let month = u8::try_from(index.rem_euclid(12) + 1).ok().and_then(|month| time::Month::try_from(month).ok());
    let (Some(year), Some(month)) = (year, month) else { return Date::MAX };
    Date::from_calendar_date(year, month, date.day().min(month.length(year))).unwrap_or(Date::MAX)
}

/// The first instant of `day`, UTC.
pub(crate) fn start_of(day: Date) -> OffsetDateTime {
    day.midnight().assume_utc()
}

/// The UTC day `at` falls on.
pub(crate) fn day_of(at: OffsetDateTime) -> Date {
    at.to_offset(UtcOffset::UTC).date()
}

/// Where a SOC 2 report falls short of the rules, if it does.
fn soc2_shortfall(soc2: &Soc2, rules: &EvidenceRules) -> Option<String> {
    if rules.soc2_require_type_ii && soc2.report_type != Soc2Type::TypeII {
        return Some(format!("a type {} report (type II required)", soc2.report_type));
    }
    if rules.soc2_require_unqualified && soc2.opinion != Soc2Opinion::Unqualified {
        return Some(format!("a {} opinion (unqualified required)", soc2.opinion));
    }
    let missing: Vec<&str> =
        rules.soc2_required_services.difference(&soc2.trust_services).map(|service| service.as_str()).collect();
    if !missing.is_empty() {
        return Some(format!("{} not in scope", missing.join(", ")));
    }
    if soc2.period_end < soc2.period_start {
        return Some(format!("its period ends ({}) before it starts ({})", soc2.period_end, soc2.period_start));
    }
    None
}

/// The day an acceptable SOC 2 report expires, without bridge letters.
fn soc2_own_until(soc2: &Soc2, rules: &EvidenceRules) -> Result<Date, String> {
    match soc2_shortfall(soc2, rules) {
        Some(why) => Err(why),
        None => Ok(add_months(soc2.period_end, rules.soc2_valid_months)),
    }
}

/// How far a bridge letter carries the SOC 2 report it covers, or why it
/// does not count.
fn bridge_until(letter: &BridgeLetter, all: &[Evidence], rules: &EvidenceRules) -> Result<Date, String> {
    let covered = all.iter().find(|item| item.id == letter.covers);
    let Some(covered) = covered else {
        return Err(format!("it covers SOC 2 report {}, which is not on file", letter.covers));
    };
    let EvidenceMetadata::Soc2(soc2) = &covered.metadata else {
        return Err(format!("it covers {}, a {}, not a SOC 2 report", covered.id, covered.kind().label()));
    };
    let base =
        soc2_own_until(soc2, rules).map_err(|why| format!("the SOC 2 report it covers is not acceptable: {why}"))?;
    Ok(letter.until.min(add_months(base, rules.bridge_max_months)).max(base))
}

/// The day `item` expires, or why it never counts.
fn until_of(item: &Evidence, all: &[Evidence], vendor: &Vendor, rules: &EvidenceRules) -> Result<Date, String> {
    match &item.metadata {
        EvidenceMetadata::Soc2(soc2) => {
            let base = soc2_own_until(soc2, rules)?;
            let bridged = all
                .iter()
                .filter_map(|other| match &other.metadata {
                    EvidenceMetadata::BridgeLetter(letter) if letter.covers == item.id => {
                        Some(letter.until.min(add_months(base, rules.bridge_max_months)))
                    }
                    _ => None,
                })
                .max();
            Ok(bridged.map_or(base, |bridged| bridged.max(base)))
        }
        EvidenceMetadata::BridgeLetter(letter) => bridge_until(letter, all, rules),
        EvidenceMetadata::PenTest(test) => {
            if rules.pentest_require_product_in_scope && !test.product_in_scope {
                return Err("the integrated product was not in scope".to_owned());
            }
            if test.open_critical > rules.pentest_max_open_critical {
                return Err(format!(
                    "{} open critical finding{} (at most {} allowed)",
                    test.open_critical,
                    if test.open_critical == 1 { "" } else { "s" },
                    rules.pentest_max_open_critical
                ));
            }
            Ok(add_months(test.performed_on, rules.pentest_max_age_months))
        }
        EvidenceMetadata::Dpa(_) => Ok(vendor.contract.end.next_day().unwrap_or(Date::MAX)),
        EvidenceMetadata::Questionnaire(questionnaire) => {
            Ok(add_months(questionnaire.answered_on, rules.questionnaire_max_age_months))
        }
        EvidenceMetadata::Certificate(certificate) => Ok(certificate.expires_on),
    }
}

/// One item's standing at `at`. `all` is every item of the vendor (a SOC 2
/// report is extended by the bridge letters covering it; a bridge letter
/// counts only over an acceptable SOC 2 report).
pub fn evidence_state(
    item: &Evidence,
    all: &[Evidence],
    vendor: &Vendor,
    rules: &EvidenceRules,
    at: OffsetDateTime,
) -> EvidenceState {
    match until_of(item, all, vendor, rules) {
        Err(why) => EvidenceState::Invalid { why },
        Ok(until) => {
            let expires = start_of(until);
            if at >= expires {
                EvidenceState::Expired { since: until }
            } else if at >= expires - rules.due_soon {
                EvidenceState::DueSoon { until }
            } else {
                EvidenceState::Valid { until }
            }
        }
    }
}

/// Each kind the vendor's tier requires, in the rules' order, with its best
/// item's standing at `at` (or missing).
pub fn requirement_states(
    vendor: &Vendor,
    items: &[Evidence],
    rules: &EvidenceRules,
    at: OffsetDateTime,
) -> Vec<(EvidenceKind, RequirementState)> {
    rules
        .tier_requirements(vendor.tier)
        .iter()
        .map(|&kind| {
            let best = items
                .iter()
                .filter(|item| item.kind() == kind && item.vendor_id == vendor.id)
                .map(|item| (item.id, evidence_state(item, items, vendor, rules, at)))
                .max_by_key(|(id, state)| (state.rank(), *id));
            let state = match best {
                Some((id, state)) => RequirementState::Present { id, state },
                None => RequirementState::Missing,
            };
            (kind, state)
        })
        .collect()
}
