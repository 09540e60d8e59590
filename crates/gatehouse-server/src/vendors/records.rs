//! Vendor records and their evidence as people change them through the
//! API: create, edit (status moves through `vendor::transition`), offboard
//! (final: its integrations retired, their identities suspended), and
//! evidence added with its content. Each write carries its audit entry;
//! the domain's checks (`NewVendor::check`, `NewEvidence::check`) decide
//! what is acceptable, this module reads the request and the store around
//! them.

use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::authorization::Authorized;
use gatehouse_domain::identity::{IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{EvidenceId, IdentityId, VendorId};
use gatehouse_domain::vendor::{
    ContentDigest, Contract, DataAccess, Evidence, EvidenceKind, IntegrationState, LoggingCommitment, NewEvidence,
    NewVendor, StatusError, Vendor, VendorError, VendorStatus, evidence_state, format_date, metadata_from_json,
    parse_date, transition,
};
use serde_json::{Value, json};

use super::assess::VendorRules;
use crate::api::dto::{ContractDto, CreateVendorRequest, LoggingDto, UpdateVendorRequest};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// The longest offboarding reason, in characters.
pub const MAX_REASON_CHARS: usize = 1024;

fn unprocessable(error: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable(error.to_string())
}

fn vendor_error(error: VendorError) -> ApiError {
    ApiError::Unprocessable(error.to_string())
}

fn status_error(error: StatusError) -> ApiError {
    ApiError::Conflict(error.to_string())
}

fn date_field(field: &str, text: &str) -> Result<time::Date, ApiError> {
    parse_date(text).ok_or_else(|| ApiError::Unprocessable(format!("`{field}` must be a date as YYYY-MM-DD")))
}

fn contract_from(dto: &ContractDto) -> Result<Contract, ApiError> {
    Ok(Contract {
        start: date_field("contract.start", &dto.start)?,
        renewal: date_field("contract.renewal", &dto.renewal)?,
        end: date_field("contract.end", &dto.end)?,
    })
}

pub fn contract_to(contract: &Contract) -> ContractDto {
    ContractDto {
        start: format_date(contract.start),
        renewal: format_date(contract.renewal),
        end: format_date(contract.end),
    }
}

fn logging_from(dto: &LoggingDto) -> LoggingCommitment {
    LoggingCommitment { what: dto.what.clone(), retention_days: dto.retention_days, tamper_evident: dto.tamper_evident }
}

pub fn logging_to(logging: &LoggingCommitment) -> LoggingDto {
    LoggingDto {
        what: logging.what.clone(),
        retention_days: logging.retention_days,
        tamper_evident: logging.tamper_evident,
    }
}

fn parsed<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|error: T::Err| ApiError::Unprocessable(format!("{field}: {error}")))
}

/// `field`'s identity, which must be an active person: 422 for a malformed
/// id, 404 for an unknown one, 422 for a service or an inactive person.
async fn owner(state: &AppState, field: &str, raw: Option<&str>) -> Result<Option<IdentityId>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let id: IdentityId = parsed(field, raw)?;
    let identity = state
        .store
        .find_identity(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{field}: identity `{id}` not found")))?;
    if identity.kind != IdentityKind::Human {
        return Err(ApiError::Unprocessable(format!("{field}: `{}` is a service, not a person", identity.name)));
    }
    if identity.status != IdentityStatus::Active {
        return Err(ApiError::Unprocessable(format!("{field}: `{}` is {}", identity.name, identity.status.as_str())));
    }
    Ok(Some(id))
}

/// The vendor `id`, or 404.
pub async fn find(state: &AppState, id: VendorId) -> Result<Vendor, ApiError> {
    state.store.find_vendor(id).await?.ok_or_else(|| ApiError::NotFound(format!("vendor `{id}` not found")))
}

fn contract_json(contract: &Contract) -> Value {
    json!({
        "start": format_date(contract.start),
        "renewal": format_date(contract.renewal),
        "end": format_date(contract.end),
    })
}

/// Records a new vendor, a `prospect`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    request: CreateVendorRequest,
) -> Result<Vendor, ApiError> {
    let new = NewVendor {
        name: request.name,
        tier: parsed("tier", &request.tier)?,
        business_owner: None,
        security_owner: None,
        contract: contract_from(&request.contract)?,
        data_access: parsed::<DataAccess>("data_access", &request.data_access)?,
        logging: request.logging.as_ref().map(logging_from),
    };
    let vendor = new.check(VendorId::new()).map_err(vendor_error)?;
    let vendor = Vendor {
        business_owner: owner(state, "business_owner", request.business_owner.as_deref()).await?,
        security_owner: owner(state, "security_owner", request.security_owner.as_deref()).await?,
        ..vendor
    };
    let record =
        caller.record(authorized, state, AuditAction::VendorCreate, format!("vendor:{}", vendor.id)).details(json!({
            "vendor_id": vendor.id.to_string(),
            "name": vendor.name,
            "tier": vendor.tier.as_str(),
            "data_access": vendor.data_access.as_str(),
            "contract": contract_json(&vendor.contract),
        }));
    Ok(state.store.create_vendor(vendor, record).await?)
}

/// Applies the fields of `request` that are given; the status moves only
/// as `vendor::transition` allows. An offboarded vendor is not edited.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: VendorId,
    request: UpdateVendorRequest,
) -> Result<Vendor, ApiError> {
    let current = find(state, id).await?;
    if current.status == VendorStatus::Offboarded {
        return Err(ApiError::Conflict(format!("`{}` is offboarded, and that is final", current.name)));
    }
    let status = match &request.status {
        Some(text) => {
            let to: VendorStatus = parsed("status", text)?;
            if to == VendorStatus::Offboarded {
                return Err(ApiError::Unprocessable(format!(
                    "offboard with POST /api/v1/vendors/{id}/offboard, which says why"
                )));
            }
            transition(current.status, to).map_err(status_error)?
        }
        None => current.status,
    };
    let edited = NewVendor {
        name: current.name.clone(),
        tier: request.tier.as_deref().map(|text| parsed("tier", text)).transpose()?.unwrap_or(current.tier),
        business_owner: None,
        security_owner: None,
        contract: request.contract.as_ref().map(contract_from).transpose()?.unwrap_or(current.contract),
        data_access: request
            .data_access
            .as_deref()
            .map(|text| parsed("data_access", text))
            .transpose()?
            .unwrap_or(current.data_access),
        logging: request.logging.as_ref().map(logging_from).or_else(|| current.logging.clone()),
    };
    let checked = edited.check(id).map_err(vendor_error)?;
    let business_owner = match &request.business_owner {
        Some(raw) => owner(state, "business_owner", Some(raw)).await?,
        None => current.business_owner,
    };
    let security_owner = match &request.security_owner {
        Some(raw) => owner(state, "security_owner", Some(raw)).await?,
        None => current.security_owner,
    };
    let updated = Vendor { status, business_owner, security_owner, ..checked };
    let mut changes = Vec::new();
    let fields: [(&str, bool); 7] = [
        ("status", updated.status != current.status),
        ("tier", updated.tier != current.tier),
        ("contract", updated.contract != current.contract),
        ("business_owner", updated.business_owner != current.business_owner),
        ("security_owner", updated.security_owner != current.security_owner),
        ("data_access", updated.data_access != current.data_access),
        ("logging", updated.logging != current.logging),
    ];
    for (field, changed) in fields {
        if changed {
            changes.push(field);
        }
    }
    if changes.is_empty() {
        return Err(ApiError::Unprocessable("nothing to change: every field given holds its current value".into()));
    }
    let record = caller.record(authorized, state, AuditAction::VendorUpdate, format!("vendor:{id}")).details(json!({
        "vendor_id": id.to_string(),
        "changes": changes,
        "from": current.status.as_str(),
        "to": updated.status.as_str(),
        "tier": updated.tier.as_str(),
        "contract": contract_json(&updated.contract),
    }));
    Ok(state.store.update_vendor(updated, current.status, vec![record]).await?)
}

/// Offboards the vendor (final), then retires each of its integrations
/// and suspends their identities.
pub async fn offboard(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: VendorId,
    reason: &str,
) -> Result<Vendor, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(format!(
            "`reason` says why in 1 to {MAX_REASON_CHARS} characters, without control characters"
        )));
    }
    let current = find(state, id).await?;
    let to = transition(current.status, VendorStatus::Offboarded).map_err(status_error)?;
    let integrations: Vec<_> = state
        .store
        .list_integrations(Some(id))
        .await?
        .into_iter()
        .filter(|integration| integration.state != IntegrationState::Retired)
        .collect();
    let record = caller
        .record(authorized, state, AuditAction::VendorOffboard, format!("vendor:{id}"))
        .outcome(Outcome::Success, reason)
        .details(json!({
            "vendor_id": id.to_string(),
            "from": current.status.as_str(),
            "reason": reason,
            "integrations": integrations.iter().map(|integration| integration.id.to_string()).collect::<Vec<_>>(),
        }));
    let previous = current.status;
    let offboarded = state.store.update_vendor(Vendor { status: to, ..current }, previous, vec![record]).await?;
    let why = format!("{} was offboarded: {reason}", offboarded.name);
    for integration in integrations {
        let mut change = integration.unchanged();
        change.state = IntegrationState::Retired;
        change.identity_active = Some(false);
        let record = caller
            .record(authorized, state, AuditAction::IntegrationSuspend, format!("integration:{}", integration.id))
            .outcome(Outcome::Success, why.clone())
            .details(json!({
                "integration_id": integration.id.to_string(),
                "identity_id": integration.identity_id.to_string(),
                "vendor_id": id.to_string(),
                "reasons": [why],
                "retired": true,
            }));
        state
            .store
            .update_integration(integration.id, integration.state, integration.noted_in_force, change, vec![record])
            .await?;
    }
    Ok(offboarded)
}

/// An evidence file as it came: by multipart or as JSON.
#[derive(Debug)]
pub struct Upload {
    pub kind: String,
    pub metadata: Value,
    pub content: Vec<u8>,
    pub filename: Option<String>,
}

fn evidence_error(error: gatehouse_domain::vendor::EvidenceError) -> ApiError {
    match error {
        gatehouse_domain::vendor::EvidenceError::TooLarge { .. } => ApiError::PayloadTooLarge(error.to_string()),
        other => ApiError::Unprocessable(other.to_string()),
    }
}

/// Checks and stores an evidence item for vendor `id`, with its content.
pub async fn add_evidence(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    id: VendorId,
    upload: Upload,
) -> Result<Evidence, ApiError> {
    let rules = VendorRules::of(&state.policies.current());
    if upload.content.len() as u64 > rules.evidence.max_size_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file has {} bytes, over the limit of {}",
            upload.content.len(),
            rules.evidence.max_size_bytes
        )));
    }
    let kind: EvidenceKind = parsed("kind", &upload.kind)?;
    let metadata = metadata_from_json(kind, &upload.metadata).map_err(unprocessable)?;
    let vendor = find(state, id).await?;
    if vendor.status == VendorStatus::Offboarded {
        return Err(ApiError::Conflict(format!("`{}` is offboarded: it takes no more evidence", vendor.name)));
    }
    let now = state.clock.now();
    let new = NewEvidence {
        vendor_id: id,
        metadata,
        digest: ContentDigest::of(&upload.content),
        size: upload.content.len() as u64,
        filename: upload.filename.unwrap_or_else(|| format!("{}.bin", kind.as_str())),
    };
    let item = new.check(EvidenceId::new(), &rules.evidence, now).map_err(evidence_error)?;
    let mut all = state.store.list_evidence(id).await?;
    all.push(item.clone());
    let standing = evidence_state(&item, &all, &vendor, &rules.evidence, now);
    let record = caller.record(authorized, state, AuditAction::EvidenceAdd, format!("vendor:{id}")).details(json!({
        "vendor_id": id.to_string(),
        "evidence_id": item.id.to_string(),
        "kind": kind.as_str(),
        "digest": item.digest.to_string(),
        "size": item.size,
        "filename": item.filename,
        "valid_until": standing.valid_until().map(format_date),
        "state": standing.as_str(),
    }));
    Ok(state.store.add_evidence(item, upload.content, record).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_moves_refused_are_conflicts_naming_the_rule() {
        let error = status_error(StatusError::Offboarded(VendorStatus::Approved));
        match error {
            ApiError::Conflict(text) => assert!(text.contains("stays offboarded"), "{text}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn oversized_evidence_is_413_and_other_faults_422() {
        let big = gatehouse_domain::vendor::EvidenceError::TooLarge { size: 2, max: 1 };
        assert!(matches!(evidence_error(big), ApiError::PayloadTooLarge(_)));
        assert!(matches!(evidence_error(gatehouse_domain::vendor::EvidenceError::Empty), ApiError::Unprocessable(_)));
    }

    #[test]
    fn dates_that_do_not_parse_name_their_field() {
        let error = date_field("contract.end", "2026-02-30").unwrap_err();
        match error {
            ApiError::Unprocessable(text) => assert!(text.contains("`contract.end`"), "{text}"),
            other => panic!("expected 422, got {other:?}"),
        }
    }
}
