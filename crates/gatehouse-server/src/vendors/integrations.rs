//! Integrations on the server: registering an outside tool as one vendor's
//! integration (its service identity suspended until onboarding), the
//! check against the API access standard with one result per rule, and the
//! exceptions that waive a rule (asked by one person, granted by another).
//! The rules are the domain's (`declared_from_json`, `check_integration`,
//! `NewException::check`, `grant_exception`); this module reads the store,
//! applies them, and writes with the audit entry. Handlers stay thin.

use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::identity::{IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{ExceptionId, IdentityId, IntegrationId, VendorId};
use gatehouse_domain::span::{format_duration, parse_duration};
use gatehouse_domain::vendor::{
    AccessStandard, ExceptionError, ExceptionRecord, GrantExceptionError, Integration, IntegrationState, NewException,
    RULE_FORBIDDEN_PERMISSIONS, RULE_IP_ALLOWLIST, RULE_METHOD, RULE_REFRESH_TOKEN_LIFETIME, RULE_REPOSITORY_SELECTION,
    RULE_SECRET_AGE, RULE_TOKEN_LIFETIME, RULE_WEBHOOK_SIGNING, RULES, VendorStatus, declared_from_json,
    grant_exception,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::assess::{IntegrationStanding, VendorRules, integration_standing};
use crate::api::dto::{RegisterIntegrationRequest, RequestExceptionBody};
use crate::auth::Caller;
use crate::extract::parse_field;
use crate::problem::ApiError;
use crate::state::AppState;

fn not_found(id: IntegrationId) -> ApiError {
    ApiError::NotFound(format!("integration `{id}` not found"))
}

/// The integration `id`, or 404.
pub async fn find(state: &AppState, id: IntegrationId) -> Result<Integration, ApiError> {
    state.store.find_integration(id).await?.ok_or_else(|| not_found(id))
}

/// `integration` at the clock's now, under the policy folder in force.
pub async fn standing_now(state: &AppState, integration: Integration) -> Result<IntegrationStanding, ApiError> {
    let rules = VendorRules::of(&state.policies.current());
    integration_standing(state, integration, &rules, state.clock.now()).await
}

/// Every integration (a vendor's only, when given) at the clock's now.
pub async fn list_now(state: &AppState, vendor: Option<VendorId>) -> Result<Vec<IntegrationStanding>, ApiError> {
    let rules = VendorRules::of(&state.policies.current());
    let now = state.clock.now();
    let mut standings = Vec::new();
    for integration in state.store.list_integrations(vendor).await? {
        standings.push(integration_standing(state, integration, &rules, now).await?);
    }
    Ok(standings)
}

/// Registers `request` as an integration: a known vendor that is not
/// offboarded, a service identity that is not deprovisioned and serves no
/// other integration, a declared access the domain reads. It starts
/// pending approval; the store suspends its identity in the same write.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    request: &RegisterIntegrationRequest,
) -> Result<Integration, ApiError> {
    let vendor_id: VendorId = parse_field("vendor_id", &request.vendor_id)?;
    let identity_id: IdentityId = parse_field("identity_id", &request.identity_id)?;
    let form = serde_json::to_value(request).map_err(|error| ApiError::Internal(error.to_string()))?;
    let declared = declared_from_json(&form).map_err(|error| ApiError::Unprocessable(error.to_string()))?;

    let vendor = state
        .store
        .find_vendor(vendor_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("vendor `{vendor_id}` not found")))?;
    if vendor.status == VendorStatus::Offboarded {
        return Err(ApiError::Conflict(format!("{} is offboarded: it takes no new integrations", vendor.name)));
    }
    let identity = state
        .store
        .find_identity(identity_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("identity `{identity_id}` not found")))?;
    if identity.kind != IdentityKind::Service {
        return Err(ApiError::Unprocessable(format!(
            "`{}` is a {}: an integration acts as a service identity",
            identity.name,
            identity.kind.as_str()
        )));
    }
    if identity.status == IdentityStatus::Deprovisioned {
        return Err(ApiError::Conflict(format!("`{}` is deprovisioned", identity.name)));
    }

    let now = state.clock.now();
    let integration = Integration {
        id: IntegrationId::new(),
        vendor_id,
        identity_id,
        declared,
        state: IntegrationState::PendingApproval,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: caller.identity().id,
        registered_at: now,
    };
    let record = caller
        .record(authorized, state, AuditAction::IntegrationRegister, format!("integration:{}", integration.id))
        .details(json!({
            "integration_id": integration.id.to_string(),
            "vendor_id": vendor_id.to_string(),
            "identity_id": identity_id.to_string(),
            "method": integration.declared.method.as_str(),
        }));
    let integration = state.store.create_integration(integration, vec![record]).await?;
    // Its first access review (issue 28): its identity's grants and tokens,
    // opened first so that an approval can never activate it unreviewed.
    crate::reviews::triggers::onboarding(state, &integration).await;
    // Its identity stays suspended until the onboarding request is approved.
    let request = crate::vendors::onboarding::open(state, caller, &integration).await?;
    Ok(Integration { onboarding_request: request, ..integration })
}

/// One rule of the standard for one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    pub rule: &'static str,
    pub expected: String,
    /// `ok` when it passes.
    pub found: String,
    pub ok: bool,
    /// The granted, unexpired exception that waives it, when it fails.
    pub waived_by: Option<ExceptionId>,
}

/// An integration compared with the standard: one result per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub integration_id: IntegrationId,
    /// Every rule passes or is waived.
    pub compliant: bool,
    pub standard_digest: String,
    /// Whether the standard is the policy folder's own `vendor-access.toml`.
    pub from_folder: bool,
    pub checked_at: OffsetDateTime,
    pub results: Vec<RuleResult>,
}

/// What `rule` asks of an integration under `standard`, as a passing
/// result shows it (a failing one shows the check's own words).
pub fn expected_of(rule: &str, standard: &AccessStandard) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match rule {
        RULE_METHOD if standard.allowed_methods.is_empty() => {
            format!("none of {}", list(standard.forbidden_methods.iter().map(ToString::to_string).collect()))
        }
        RULE_METHOD => format!("one of {}", list(standard.allowed_methods.iter().map(ToString::to_string).collect())),
        RULE_TOKEN_LIFETIME => format!("at most {}", format_duration(standard.max_token_lifetime)),
        RULE_REFRESH_TOKEN_LIFETIME => format!("at most {}", format_duration(standard.max_refresh_token_lifetime)),
        RULE_FORBIDDEN_PERMISSIONS => {
            format!("none of {}", list(standard.forbidden_permissions.iter().map(ToString::to_string).collect()))
        }
        RULE_REPOSITORY_SELECTION if standard.repository_selection_selected_only => "selected".into(),
        RULE_WEBHOOK_SIGNING if standard.webhook_signing_required => "signed".into(),
        RULE_SECRET_AGE => format!("rotated within {}", format_duration(standard.max_secret_age)),
        RULE_IP_ALLOWLIST if standard.ip_allowlist_for_static => "an IP allow-list for static credentials".into(),
        _ => "not required".into(),
    }
}

/// The report of `standing` at `now`: every rule of [`RULES`] in order,
/// a failed one waived by a granted exception that has not expired.
pub fn report(standing: &IntegrationStanding, rules: &VendorRules, now: OffsetDateTime) -> CheckReport {
    let results: Vec<RuleResult> = RULES
        .iter()
        .map(|rule| match standing.findings.iter().find(|finding| finding.rule == *rule) {
            None => RuleResult {
                rule,
                expected: expected_of(rule, &rules.standard),
                found: "ok".into(),
                ok: true,
                waived_by: None,
            },
            Some(finding) => RuleResult {
                rule,
                expected: finding.expected.clone(),
                found: finding.found.clone(),
                ok: false,
                waived_by: standing
                    .exceptions
                    .iter()
                    .find(|record| record.granted().is_some_and(|granted| granted.covers(finding, now)))
                    .map(|record| record.id),
            },
        })
        .collect();
    CheckReport {
        integration_id: standing.integration.id,
        compliant: results.iter().all(|result| result.ok || result.waived_by.is_some()),
        standard_digest: rules.standard_digest.clone(),
        from_folder: rules.from_folder,
        checked_at: now,
        results,
    }
}

/// Checks integration `id` against the standard in force and records the
/// check (`integration.check`, with the standard's digest and the failed
/// rules).
pub async fn check(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: IntegrationId,
) -> Result<CheckReport, ApiError> {
    let integration = find(state, id).await?;
    let rules = VendorRules::of(&state.policies.current());
    let now = state.clock.now();
    let standing = integration_standing(state, integration, &rules, now).await?;
    let report = report(&standing, &rules, now);
    let failed: Vec<Value> = report
        .results
        .iter()
        .filter(|result| !result.ok)
        .map(|result| {
            json!({
                "rule": result.rule,
                "expected": result.expected,
                "found": result.found,
                "waived_by": result.waived_by.map(|waiver| waiver.to_string()),
            })
        })
        .collect();
    let (outcome, reason) = if report.compliant {
        (Outcome::Success, "the integration meets the API access standard".to_owned())
    } else {
        let failing: Vec<&str> =
            report.results.iter().filter(|result| !result.ok && result.waived_by.is_none()).map(|r| r.rule).collect();
        (Outcome::Failure, format!("the integration fails {}", failing.join(", ")))
    };
    let record = caller
        .record(authorized, state, AuditAction::IntegrationCheck, format!("integration:{id}"))
        .outcome(outcome, reason)
        .details(json!({
            "integration_id": id.to_string(),
            "standard_digest": report.standard_digest,
            "compliant": report.compliant,
            "findings": failed,
        }));
    state.store.append_audit(record).await?;
    Ok(report)
}

/// The instant an exception asked for with `body` at `now` expires: its
/// `expires_at` (RFC 3339) or `now` plus its `duration`, exactly one.
fn expiry_of(body: &RequestExceptionBody, now: OffsetDateTime) -> Result<OffsetDateTime, ApiError> {
    match (body.expires_at.as_deref(), body.duration.as_deref()) {
        (Some(at), None) => OffsetDateTime::parse(at, &Rfc3339)
            .map_err(|_| ApiError::Unprocessable(format!("expires_at: `{at}` is not an RFC 3339 instant"))),
        (None, Some(span)) => {
            let span = parse_duration(span).map_err(|error| ApiError::Unprocessable(format!("duration: {error}")))?;
            Ok(now + span)
        }
        _ => Err(ApiError::Unprocessable("give exactly one of `expires_at` and `duration`".into())),
    }
}

fn exception_refused(error: ExceptionError) -> ApiError {
    match error {
        ExceptionError::SelfApproval => ApiError::Forbidden(error.to_string()),
        ExceptionError::AlreadyExpired(_) => ApiError::Conflict(error.to_string()),
        ExceptionError::UnknownRule(_) | ExceptionError::MissingReason | ExceptionError::TooLong(_) => {
            ApiError::Unprocessable(error.to_string())
        }
    }
}

/// Asks to waive one rule for integration `id` (not yet granted).
pub async fn request_exception(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: IntegrationId,
    body: &RequestExceptionBody,
) -> Result<ExceptionRecord, ApiError> {
    let integration = find(state, id).await?;
    let now = state.clock.now();
    let asked = NewException {
        integration_id: integration.id,
        rule: body.rule.clone(),
        reason: body.reason.clone(),
        requested_by: caller.identity().id,
        expires_at: expiry_of(body, now)?,
    };
    let record = asked.check(ExceptionId::new(), now).map_err(exception_refused)?;
    let audit =
        caller.record(authorized, state, AuditAction::ExceptionRequest, format!("integration:{id}")).details(json!({
            "integration_id": id.to_string(),
            "exception_id": record.id.to_string(),
            "rule": record.rule,
            "reason": record.reason,
            "expires_at": format_rfc3339(record.expires_at),
        }));
    Ok(state.store.create_exception(record, vec![audit]).await?)
}

/// The exception `exception` of integration `id`, or 404 (also when it
/// belongs to another integration).
pub async fn find_exception(
    state: &AppState,
    id: IntegrationId,
    exception: ExceptionId,
) -> Result<ExceptionRecord, ApiError> {
    state
        .store
        .find_exception(exception)
        .await?
        .filter(|record| record.integration_id == id)
        .ok_or_else(|| ApiError::NotFound(format!("exception `{exception}` of integration `{id}` not found")))
}

/// Grants exception `exception` of integration `id` by the caller: not its
/// requester (403, audited), not granted already (409), not expired.
pub async fn grant(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: IntegrationId,
    exception: ExceptionId,
) -> Result<ExceptionRecord, ApiError> {
    find(state, id).await?;
    let record = find_exception(state, id, exception).await?;
    let now = state.clock.now();
    let granted = match grant_exception(&record, caller.identity().id, now) {
        Ok(granted) => granted,
        Err(GrantExceptionError::AlreadyGranted) => {
            return Err(ApiError::Conflict(GrantExceptionError::AlreadyGranted.to_string()));
        }
        Err(GrantExceptionError::Invalid(ExceptionError::SelfApproval)) => {
            let detail = ExceptionError::SelfApproval.to_string();
            return caller.refuse(state, AuditAction::ExceptionGrant, format!("integration:{id}"), detail).await;
        }
        Err(GrantExceptionError::Invalid(error)) => return Err(exception_refused(error)),
    };
    let audit =
        caller.record(authorized, state, AuditAction::ExceptionGrant, format!("integration:{id}")).details(json!({
            "integration_id": id.to_string(),
            "exception_id": granted.id.to_string(),
            "rule": granted.rule,
            "expires_at": format_rfc3339(granted.expires_at),
            "requested_by": granted.requested_by.to_string(),
        }));
    Ok(state.store.grant_exception(granted, vec![audit]).await?)
}

#[cfg(test)]
mod tests;
