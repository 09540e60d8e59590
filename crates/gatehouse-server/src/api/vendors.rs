//! `/api/v1/vendors`: vendors of outside tools, their evidence, and the
//! report over all of them. Writes need `vendor.manage` (privileged: a
//! person needs a fresh second factor under step-up); reads need
//! `vendor.manage` or `audit.read` (auditors verify vendors). The work is
//! in `crate::vendors::{records, report, view}`; these handlers read HTTP,
//! call, and answer.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{EvidenceId, VendorId};
use gatehouse_domain::vendor::Vendor;
use serde_json::Value;

use super::dto::{
    AddEvidenceRequest, CreateVendorRequest, EvidenceDto, EvidenceListDto, OffboardVendorRequest, UpdateVendorRequest,
    VendorDto, VendorListDto, VendorReportDto,
};
use super::form_data;
use crate::auth::Caller;
use crate::extract::{ApiBytes, ApiJson, IdPairPath, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;
use crate::vendors::records::{self, Upload};
use crate::vendors::view::{evidence_dto, vendor_dto};
use crate::vendors::{VendorRules, renewal_reviews, report, vendor_standing};

/// The body limit of an evidence upload: the largest file base64-encoded
/// in JSON (a third larger) with room for its metadata. The file's own
/// limit (`EvidenceRules::max_size_bytes`) is checked after decoding.
pub const EVIDENCE_BODY_BYTES: usize = 28 * 1024 * 1024;

/// Allows a read of vendors and their evidence to holders of
/// `vendor.manage` or of `audit.read`. The first is asked without a trace
/// (a read needs no fresh second factor); a refusal of both is audited
/// and answered 403 like any other.
pub(crate) async fn authorize_vendor_read(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if caller.may(state, Action::VendorManage, &Resource::Gatehouse) {
        return Ok(());
    }
    caller.authorize_read(state, Action::AuditRead, Resource::Gatehouse).await
}

async fn standing_dto(state: &AppState, vendor: Vendor) -> Result<VendorDto, ApiError> {
    let rules = VendorRules::of(&state.policies.current());
    let evidence = state.store.list_evidence(vendor.id).await?;
    let integrations = state.store.list_integrations(Some(vendor.id)).await?;
    let renewal = renewal_reviews(state, Some(vendor.id)).await?.remove(&vendor.id).unwrap_or_default();
    let standing = vendor_standing(vendor, evidence, &renewal, &rules, state.clock.now());
    Ok(vendor_dto(&standing, &integrations))
}

/// Record a vendor (a `prospect`).
#[utoipa::path(post, path = "/api/v1/vendors", tag = "vendors", request_body = CreateVendorRequest,
    responses((status = 201, body = VendorDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateVendorRequest>,
) -> Result<(StatusCode, Json<VendorDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let vendor = records::create(&state, &caller, &authorized, request).await?;
    Ok((StatusCode::CREATED, Json(standing_dto(&state, vendor).await?)))
}

/// Every vendor with where it stands now, by name.
#[utoipa::path(get, path = "/api/v1/vendors", tag = "vendors",
    responses((status = 200, body = VendorListDto), (status = 403)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<VendorListDto>, ApiError> {
    Ok(Json(VendorListDto { items: vendors_now(&state, &caller).await? }))
}

/// Every vendor with where it stands now, by name, as `caller` may read
/// them: the API's and the console's one way to list them.
pub(crate) async fn vendors_now(state: &AppState, caller: &Caller) -> Result<Vec<VendorDto>, ApiError> {
    authorize_vendor_read(state, caller).await?;
    let rules = VendorRules::of(&state.policies.current());
    let now = state.clock.now();
    let mut evidence: HashMap<VendorId, Vec<_>> = HashMap::new();
    for item in state.store.all_evidence().await? {
        evidence.entry(item.vendor_id).or_default().push(item);
    }
    let integrations = state.store.list_integrations(None).await?;
    let mut renewal = renewal_reviews(state, None).await?;
    Ok(state
        .store
        .list_vendors()
        .await?
        .into_iter()
        .map(|vendor| {
            let items = evidence.remove(&vendor.id).unwrap_or_default();
            let reviews = renewal.remove(&vendor.id).unwrap_or_default();
            vendor_dto(&vendor_standing(vendor, items, &reviews, &rules, now), &integrations)
        })
        .collect())
}

/// The report: every vendor, its evidence states, next expiry and the
/// integrations at risk.
#[utoipa::path(get, path = "/api/v1/vendors/report", tag = "vendors",
    responses((status = 200, body = VendorReportDto), (status = 403)))]
pub async fn vendor_report(State(state): State<AppState>, caller: Caller) -> Result<Json<VendorReportDto>, ApiError> {
    authorize_vendor_read(&state, &caller).await?;
    Ok(Json(report::report(&state, state.clock.now()).await?))
}

/// One vendor with where it stands now.
#[utoipa::path(get, path = "/api/v1/vendors/{id}", tag = "vendors",
    params(("id" = String, Path, description = "vendor id")),
    responses((status = 200, body = VendorDto), (status = 403), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<VendorId>,
) -> Result<Json<VendorDto>, ApiError> {
    Ok(Json(vendor_now(&state, &caller, id).await?))
}

/// One vendor with where it stands now, as `caller` may read it.
pub(crate) async fn vendor_now(state: &AppState, caller: &Caller, id: VendorId) -> Result<VendorDto, ApiError> {
    authorize_vendor_read(state, caller).await?;
    let vendor = records::find(state, id).await?;
    standing_dto(state, vendor).await
}

/// Change a vendor's status (approve, suspend), tier, contract, owners,
/// data access or logging commitment.
#[utoipa::path(patch, path = "/api/v1/vendors/{id}", tag = "vendors", request_body = UpdateVendorRequest,
    params(("id" = String, Path, description = "vendor id")),
    responses((status = 200, body = VendorDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<VendorId>,
    ApiJson(request): ApiJson<UpdateVendorRequest>,
) -> Result<Json<VendorDto>, ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let vendor = records::update(&state, &caller, &authorized, id, request).await?;
    Ok(Json(standing_dto(&state, vendor).await?))
}

/// Offboard a vendor, for good: its integrations are retired and their
/// service identities suspended.
#[utoipa::path(post, path = "/api/v1/vendors/{id}/offboard", tag = "vendors", request_body = OffboardVendorRequest,
    params(("id" = String, Path, description = "vendor id")),
    responses((status = 200, body = VendorDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn offboard(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<VendorId>,
    ApiJson(request): ApiJson<OffboardVendorRequest>,
) -> Result<Json<VendorDto>, ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let vendor = records::offboard(&state, &caller, &authorized, id, &request.reason).await?;
    Ok(Json(standing_dto(&state, vendor).await?))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// The upload in `body`: multipart (`file` and `metadata` parts) or JSON.
fn read_upload(headers: &HeaderMap, body: &[u8]) -> Result<Upload, ApiError> {
    let content_type = header_text(headers, header::CONTENT_TYPE);
    if let Some(boundary) = form_data::boundary(content_type) {
        let mut file = None;
        let mut metadata = None;
        for part in form_data::parts(body, &boundary)? {
            match part.name.as_str() {
                "file" if file.is_none() => file = Some(part),
                "metadata" if metadata.is_none() => metadata = Some(part),
                other => return Err(ApiError::BadRequest(format!("unexpected or repeated part `{other}`"))),
            }
        }
        let file = file.ok_or_else(|| ApiError::Unprocessable("the form needs a `file` part".into()))?;
        let metadata = metadata.ok_or_else(|| ApiError::Unprocessable("the form needs a `metadata` part".into()))?;
        let mut metadata: Value = serde_json::from_slice(&metadata.content)
            .map_err(|error| ApiError::BadRequest(format!("the `metadata` part is not JSON: {error}")))?;
        let kind = match metadata.as_object_mut().map(|fields| fields.remove("kind")) {
            Some(Some(Value::String(kind))) => kind,
            Some(Some(_)) => return Err(ApiError::Unprocessable("`kind` must be a string".into())),
            Some(None) => return Err(ApiError::Unprocessable("the `metadata` part needs `kind`".into())),
            None => return Err(ApiError::Unprocessable("the `metadata` part must be a JSON object".into())),
        };
        return Ok(Upload { kind, metadata, content: file.content, filename: file.filename });
    }
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType(
            "expected `multipart/form-data` (parts `file` and `metadata`) or `application/json`".into(),
        ));
    }
    let request: AddEvidenceRequest = serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable(error.to_string()),
        _ => ApiError::BadRequest(error.to_string()),
    })?;
    let content = base64::engine::general_purpose::STANDARD
        .decode(request.content_base64.as_bytes())
        .map_err(|error| ApiError::Unprocessable(format!("`content_base64` is not base64: {error}")))?;
    Ok(Upload { kind: request.kind, metadata: request.metadata, content, filename: request.filename })
}

/// Attach evidence to a vendor: multipart (`file` part, `metadata` part
/// holding `{kind, ...fields}`) or JSON `{kind, metadata, content_base64, filename?}`.
#[utoipa::path(post, path = "/api/v1/vendors/{id}/evidence", tag = "vendors", request_body = AddEvidenceRequest,
    params(("id" = String, Path, description = "vendor id")),
    responses((status = 201, body = EvidenceDto), (status = 400), (status = 403), (status = 404), (status = 413),
        (status = 415), (status = 422)))]
pub async fn add_evidence(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<VendorId>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<EvidenceDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::VendorManage, Resource::Gatehouse).await?;
    let upload = read_upload(&headers, &body)?;
    let item = records::add_evidence(&state, &caller, &authorized, id, upload).await?;
    let vendor = records::find(&state, id).await?;
    let all = state.store.list_evidence(id).await?;
    let rules = VendorRules::of(&state.policies.current());
    Ok((StatusCode::CREATED, Json(evidence_dto(&item, &all, &vendor, &rules, state.clock.now()))))
}

/// A vendor's evidence, oldest first, each with its state now.
#[utoipa::path(get, path = "/api/v1/vendors/{id}/evidence", tag = "vendors",
    params(("id" = String, Path, description = "vendor id")),
    responses((status = 200, body = EvidenceListDto), (status = 403), (status = 404)))]
pub async fn list_evidence(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<VendorId>,
) -> Result<Json<EvidenceListDto>, ApiError> {
    Ok(Json(EvidenceListDto { items: evidence_now(&state, &caller, id).await? }))
}

/// A vendor's evidence, oldest first, each with its state now, as `caller`
/// may read it.
pub(crate) async fn evidence_now(
    state: &AppState,
    caller: &Caller,
    id: VendorId,
) -> Result<Vec<EvidenceDto>, ApiError> {
    authorize_vendor_read(state, caller).await?;
    let vendor = records::find(state, id).await?;
    let all = state.store.list_evidence(id).await?;
    let rules = VendorRules::of(&state.policies.current());
    let now = state.clock.now();
    Ok(all.iter().map(|item| evidence_dto(item, &all, &vendor, &rules, now)).collect())
}

/// The file of one evidence item, as uploaded.
#[utoipa::path(get, path = "/api/v1/vendors/{id}/evidence/{evidence_id}/content", tag = "vendors",
    params(("id" = String, Path, description = "vendor id"), ("evidence_id" = String, Path, description = "evidence id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 403), (status = 404)))]
pub async fn evidence_content(
    State(state): State<AppState>,
    caller: Caller,
    IdPairPath(id, evidence_id): IdPairPath<VendorId, EvidenceId>,
) -> Result<Response, ApiError> {
    authorize_vendor_read(&state, &caller).await?;
    let not_found = || ApiError::NotFound(format!("evidence `{evidence_id}` of vendor `{id}` not found"));
    let item =
        state.store.find_evidence(evidence_id).await?.filter(|item| item.vendor_id == id).ok_or_else(not_found)?;
    let content = state
        .store
        .evidence_content(&item.digest)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("the content of evidence `{evidence_id}` is missing")))?;
    // The file name was checked on upload (no quotes' worth of control
    // characters or separators); quotes and backslashes are still escaped.
    let filename: String =
        item.filename.chars().map(|c| if c == '"' || c == '\\' || !c.is_ascii() { '_' } else { c }).collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    Ok((headers, content).into_response())
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`. An evidence upload
/// may be far larger than the server's default body limit.
pub fn routes() -> super::Routes {
    use utoipa_axum::router::UtoipaMethodRouterExt;
    let upload = || axum::extract::DefaultBodyLimit::max(EVIDENCE_BODY_BYTES);
    super::Routes::default()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(vendor_report))
        .routes(utoipa_axum::routes!(show, update))
        .routes(utoipa_axum::routes!(offboard))
        .routes(utoipa_axum::routes!(add_evidence, list_evidence).layer(upload()))
        .routes(utoipa_axum::routes!(evidence_content))
}
