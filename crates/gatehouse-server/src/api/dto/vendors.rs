//! The JSON shapes of `/api/v1/vendors`: vendors with where they stand,
//! their evidence, and the report over all of them. Dates are
//! `YYYY-MM-DD`, instants RFC 3339.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractDto {
    pub start: String,
    pub renewal: String,
    pub end: String,
}

/// The logging standard the vendor commits to in its contract.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoggingDto {
    /// What it logs, in the contract's words.
    pub what: String,
    pub retention_days: u32,
    #[serde(default)]
    pub tamper_evident: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVendorRequest {
    pub name: String,
    /// `critical`, `high`, `medium` or `low`.
    pub tier: String,
    /// An active person's identity id.
    pub business_owner: Option<String>,
    /// An active person's identity id.
    pub security_owner: Option<String>,
    pub contract: ContractDto,
    /// `none`, `metadata`, `source`, `secrets` or `production`.
    pub data_access: String,
    pub logging: Option<LoggingDto>,
}

/// The fields to change; those left out stay as they are.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVendorRequest {
    /// `approved`, `approved_with_conditions` or `suspended` (offboard with
    /// POST /api/v1/vendors/{id}/offboard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_access: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffboardVendorRequest {
    pub reason: String,
}

/// One kind the vendor's tier requires, with its best item's standing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequirementDto {
    pub kind: String,
    /// `missing`, `valid`, `due_soon`, `expired` or `invalid`.
    pub state: String,
    /// The day a passing item expires (it counts before that day).
    pub valid_until: Option<String>,
    pub evidence_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorDto {
    pub id: String,
    pub name: String,
    pub tier: String,
    /// `prospect`, `approved`, `approved_with_conditions`, `suspended` or `offboarded`.
    pub status: String,
    pub business_owner: Option<String>,
    pub security_owner: Option<String>,
    pub contract: ContractDto,
    pub data_access: String,
    pub logging: Option<LoggingDto>,
    /// Whether an integration of this vendor meeting the standard is in force now.
    pub compliant: bool,
    /// Why not, one sentence each.
    pub reasons: Vec<String>,
    /// When `compliant` or an item's standing can next change by itself.
    pub next_change: Option<String>,
    /// `suspend`, `deny_gate` or `flag`: what a lapse does for this tier.
    pub on_lapse: String,
    pub evidence: Vec<RequirementDto>,
    /// Its integrations' ids.
    pub integrations: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorListDto {
    pub items: Vec<VendorDto>,
}

/// An upload as JSON; multipart (`file` and `metadata` parts, the latter
/// `{kind, ...fields}`) is the other way.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEvidenceRequest {
    /// `soc2`, `bridge_letter`, `pentest`, `dpa`, `questionnaire` or `certificate`.
    pub kind: String,
    /// The kind's fields (a SOC 2 report: `type`, `opinion`, `period_start`,
    /// `period_end`, `trust_services`).
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The file, base64 (standard alphabet, padded).
    pub content_base64: String,
    pub filename: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceDto {
    pub id: String,
    pub vendor_id: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The SHA-256 of the file, lowercase hex.
    pub digest: String,
    pub size: u64,
    pub filename: String,
    pub added_at: String,
    /// `valid`, `due_soon`, `expired` or `invalid`, now.
    pub state: String,
    pub valid_until: Option<String>,
    /// Why an `invalid` item never counts.
    pub invalid_because: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceListDto {
    pub items: Vec<EvidenceDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportEvidenceDto {
    pub kind: String,
    pub state: String,
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationAtRiskDto {
    pub id: String,
    pub identity_id: String,
    pub in_force: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportVendorDto {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub status: String,
    pub compliant: bool,
    pub reasons: Vec<String>,
    pub evidence: Vec<ReportEvidenceDto>,
    /// The earliest day a passing required item expires.
    pub next_expiry: Option<String>,
    pub integrations_at_risk: Vec<IntegrationAtRiskDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorReportDto {
    pub generated_at: String,
    pub vendors: Vec<ReportVendorDto>,
}
