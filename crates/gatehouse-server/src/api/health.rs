//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;

use super::dto::HealthDto;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthDto)))]
pub async fn healthz() -> Json<HealthDto> {
    Json(HealthDto { status: "ok".into() })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = HealthDto), (status = 503)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthDto>, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(HealthDto { status: "ready".into() }))
}

/// Prometheus text format: request counts and latencies by route and status,
/// and the database pool. With `[metrics] require_token`, only for a bearer
/// allowed `audit.read`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain"), (status = 401), (status = 403)))]
pub async fn metrics(State(state): State<AppState>, mut parts: Parts) -> Result<impl IntoResponse, ApiError> {
    if state.settings.metrics_require_token {
        let caller = Caller::from_request_parts(&mut parts, &state).await?;
        caller.authorize(&state, Action::AuditRead, Resource::Gatehouse).await?;
    }
    let handle = state.metrics.as_ref().ok_or_else(|| ApiError::NotFound("metrics are disabled".into()))?;
    let pool = state.store.pool_stats();
    let engine = state.store.engine();
    metrics::gauge!("gatehouse_db_pool_connections", "engine" => engine, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("gatehouse_db_pool_connections", "engine" => engine, "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("gatehouse_db_pool_max_connections", "engine" => engine).set(f64::from(pool.max));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()))
}
