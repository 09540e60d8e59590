//! `/api/v1/policy/matrix` and `/api/v1/resources`: the documented access
//! matrix, derived from the policies that enforce it, over every resource a
//! grant names or that was registered.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::store::PageRequest;
use gatehouse_policy::{Reason, known_resources, matrix};
use serde_json::json;

use super::authorize::parse_resource;
use super::dto::{MatrixDto, MatrixRowDto, ResourceRef};
use crate::auth::Caller;
use crate::extract::ApiJson;
use crate::problem::ApiError;
use crate::state::AppState;

/// Register a project, pipeline or environment so the matrix covers it.
#[utoipa::path(post, path = "/api/v1/resources", tag = "policy", request_body = ResourceRef,
    responses((status = 201, body = ResourceRef), (status = 409), (status = 422)))]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ResourceRef>,
) -> Result<(StatusCode, Json<ResourceRef>), ApiError> {
    let authorized = caller.authorize(&state, Action::PolicyManage, Resource::Gatehouse).await?;
    let resource = parse_resource(&request.kind, &request.id)?;
    if resource == Resource::Gatehouse {
        return Err(ApiError::Unprocessable("gatehouse itself is always known".into()));
    }
    let record = caller
        .record(&authorized, &state, AuditAction::ResourceRegister, resource.to_string())
        .details(json!({ "resource": resource.to_string() }));
    state.store.create_resource(&resource, state.clock.now(), Some(caller.identity().id), record).await?;
    Ok((StatusCode::CREATED, Json(ResourceRef::from(&resource))))
}

/// Registered resources.
#[utoipa::path(get, path = "/api/v1/resources", tag = "policy", responses((status = 200, body = Vec<ResourceRef>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<ResourceRef>>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    Ok(Json(state.store.list_resources().await?.iter().map(ResourceRef::from).collect()))
}

/// Every identity × action × resource that is allowed now, and what allows it.
#[utoipa::path(get, path = "/api/v1/policy/matrix", tag = "policy", responses((status = 200, body = MatrixDto)))]
pub async fn matrix_now(State(state): State<AppState>, caller: Caller) -> Result<Json<MatrixDto>, ApiError> {
    Ok(Json(matrix_for(&state, &caller).await?))
}

/// The access matrix now, as `caller` may read it (`audit.read`): the
/// API's and the console's one way to compute it.
pub(crate) async fn matrix_for(state: &AppState, caller: &Caller) -> Result<MatrixDto, ApiError> {
    caller.authorize_read(state, Action::AuditRead, Resource::Gatehouse).await?;
    let now = state.clock.now();
    let mut grants = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let batch = state.store.list_grants(None, page.clone()).await?;
        grants.extend(batch.items.into_iter().filter(|g| g.is_in_force_at(now)));
        match batch.next_after {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut holders = Vec::new();
    let mut ids: Vec<_> = grants.iter().map(|g| g.identity_id).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if let Some(identity) = state.store.find_identity(id).await? {
            let theirs = grants.iter().filter(|g| g.identity_id == id).cloned().collect();
            holders.push((identity, theirs));
        }
    }
    let resources = known_resources(&grants, &state.store.list_resources().await?, now);
    let policies = state.policies.current();
    let rows = matrix(&policies, &holders, &resources, now)
        .into_iter()
        .map(|row| {
            let (mut grant_ids, mut roles, mut policy_ids) = (Vec::new(), Vec::new(), Vec::new());
            for reason in &row.allowed_by {
                match reason {
                    Reason::Grant { grant, role, .. } => {
                        grant_ids.push(grant.to_string());
                        roles.push(role.clone());
                    }
                    Reason::Policy { id, .. } => policy_ids.push(id.clone()),
                    Reason::NoPermit | Reason::Integration { .. } => {}
                }
            }
            MatrixRowDto {
                identity_id: row.identity.id.to_string(),
                identity_name: row.identity.name.clone(),
                action: row.action.as_str().to_owned(),
                resource: ResourceRef::from(&row.resource),
                grants: grant_ids,
                roles,
                policies: policy_ids,
            }
        })
        .collect();
    Ok(MatrixDto {
        policy_hash: policies.hash().to_owned(),
        resources: resources.iter().map(ResourceRef::from).collect(),
        rows,
    })
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(register, list)).routes(utoipa_axum::routes!(matrix_now))
}
