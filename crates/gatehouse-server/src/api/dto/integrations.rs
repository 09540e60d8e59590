//! The JSON shapes of `/api/v1/integrations`: registering an outside tool
//! as an integration, its check against the API access standard, and the
//! exceptions that waive a rule of it.

use gatehouse_domain::vendor::ExceptionRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::instant;

/// One vendor's tool as one service identity, with the access it declares.
/// `declared_from_json` reads the access fields, so they are named as the
/// stored form names them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterIntegrationRequest {
    pub vendor_id: String,
    /// A service identity, active or suspended; registration suspends it
    /// until onboarding is approved.
    pub identity_id: String,
    /// `github_app`, `oidc_workload`, `gatehouse_token`, `classic_pat`,
    /// `oauth_app`, `fine_grained_pat`, `deploy_key` or `static_api_key`.
    pub method: String,
    /// `name:read`, `name:write` or `name:admin`, e.g. `contents:read`.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `all` or `selected` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repositories: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_names: Option<Vec<String>>,
    /// How long its tokens live, e.g. `1h`; absent: they never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<String>,
    /// How long its refresh tokens live, e.g. `30d`; absent: it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ttl: Option<String>,
    /// Whether the webhooks it sends are signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_signature: Option<bool>,
    /// The CIDR ranges it calls from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtls: Option<bool>,
    /// When its secret was last rotated (YYYY-MM-DD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_rotated_at: Option<String>,
}

/// An integration, its declared access, and whether it is in force now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationDto {
    pub id: String,
    pub vendor_id: String,
    /// The vendor's name.
    pub vendor: String,
    pub identity_id: String,
    pub method: String,
    pub permissions: Vec<String>,
    /// `all` or `selected`.
    pub repositories: String,
    pub repository_names: Vec<String>,
    pub token_ttl: Option<String>,
    pub refresh_ttl: Option<String>,
    pub webhook_signature: bool,
    pub ip_allowlist: Vec<String>,
    pub mtls: bool,
    pub secret_rotated_at: Option<String>,
    /// `pending_approval`, `active`, `suspended` or `retired`.
    pub state: String,
    pub in_force: bool,
    /// Why it is not in force, one sentence each.
    pub reasons: Vec<String>,
    /// What its tier's lapse does: `suspend`, `deny_gate` or `flag`.
    pub on_lapse: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding_request_id: Option<String>,
    pub registered_by: String,
    pub registered_at: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IntegrationListQuery {
    /// Only this vendor's integrations.
    pub vendor_id: Option<String>,
}

/// The integrations asked for, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntegrationListDto {
    pub items: Vec<IntegrationDto>,
}

/// One rule of the standard for one integration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingDto {
    pub rule: String,
    pub expected: String,
    /// `ok` when the rule passes.
    pub found: String,
    pub ok: bool,
    /// The granted, unexpired exception that waives this failed rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived_by: Option<String>,
}

/// An integration compared with the API access standard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckReportDto {
    pub integration_id: String,
    /// Every rule passes or is waived.
    pub compliant: bool,
    /// The policy folder's digest: it pins the standard used.
    pub standard_digest: String,
    /// `folder` (its `vendor-access.toml`) or `default`.
    pub standard: String,
    pub checked_at: String,
    /// One per rule, in the standard's order.
    pub findings: Vec<FindingDto>,
}

/// Ask to waive one rule for an integration: until `expires_at`
/// (RFC 3339) or for `duration` (e.g. `30d`), at most 90 days.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestExceptionBody {
    pub rule: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// Grant an exception: no fields; the caller is the approver.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantExceptionBody {}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExceptionDto {
    pub id: String,
    pub integration_id: String,
    pub rule: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: String,
    pub expires_at: String,
    /// `pending`, `approved` or `expired`.
    pub state: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExceptionListDto {
    pub items: Vec<ExceptionDto>,
}

impl IntegrationDto {
    /// The integration of `standing`, with whether it is in force.
    pub fn of(standing: &crate::vendors::IntegrationStanding) -> Self {
        let integration = &standing.integration;
        let declared = gatehouse_domain::vendor::declared_to_json(&integration.declared);
        let text = |field: &str| declared[field].as_str().map(str::to_owned);
        let list = |field: &str| -> Vec<String> {
            declared[field]
                .as_array()
                .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        Self {
            id: integration.id.to_string(),
            vendor_id: integration.vendor_id.to_string(),
            vendor: standing.vendor.vendor.name.clone(),
            identity_id: integration.identity_id.to_string(),
            method: integration.declared.method.as_str().to_owned(),
            permissions: integration.declared.permissions.clone(),
            repositories: text("repositories").unwrap_or_default(),
            repository_names: list("repository_names"),
            token_ttl: text("token_ttl"),
            refresh_ttl: text("refresh_ttl"),
            webhook_signature: integration.declared.webhook_signed,
            ip_allowlist: integration.declared.ip_allowlist.clone(),
            mtls: integration.declared.mtls,
            secret_rotated_at: text("secret_rotated_at"),
            state: integration.state.as_str().to_owned(),
            in_force: standing.in_force(),
            reasons: standing.compliance.reasons.clone(),
            on_lapse: standing.on_lapse().as_str().to_owned(),
            onboarding_request_id: integration.onboarding_request.map(|id| id.to_string()),
            registered_by: integration.registered_by.to_string(),
            registered_at: instant(integration.registered_at),
        }
    }
}

impl From<&crate::vendors::integrations::CheckReport> for CheckReportDto {
    fn from(report: &crate::vendors::integrations::CheckReport) -> Self {
        Self {
            integration_id: report.integration_id.to_string(),
            compliant: report.compliant,
            standard_digest: report.standard_digest.clone(),
            standard: if report.from_folder { "folder" } else { "default" }.to_owned(),
            checked_at: instant(report.checked_at),
            findings: report
                .results
                .iter()
                .map(|result| FindingDto {
                    rule: result.rule.to_owned(),
                    expected: result.expected.clone(),
                    found: result.found.clone(),
                    ok: result.ok,
                    waived_by: result.waived_by.map(|id| id.to_string()),
                })
                .collect(),
        }
    }
}

impl ExceptionDto {
    /// `record` as it stands at `now`.
    pub fn of(record: &ExceptionRecord, now: OffsetDateTime) -> Self {
        Self {
            id: record.id.to_string(),
            integration_id: record.integration_id.to_string(),
            rule: record.rule.clone(),
            reason: record.reason.clone(),
            requested_by: record.requested_by.to_string(),
            requested_at: instant(record.requested_at),
            expires_at: instant(record.expires_at),
            state: record.state_at(now).to_owned(),
            approved_by: record.approved_by.map(|id| id.to_string()),
            approved_at: record.approved_at.map(instant),
        }
    }
}
