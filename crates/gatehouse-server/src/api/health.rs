//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;

use gatehouse_domain::store::StoreError;

use super::dto::HealthDto;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// The process is up. Touches nothing else (no database, no disk), so a
/// full disk or a lost database never makes a live process look dead.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthDto)))]
pub async fn healthz() -> Json<HealthDto> {
    Json(HealthDto { status: "ok".into(), warnings: Vec::new() })
}

/// The database answers and takes writes; 503 with the reason otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, body = HealthDto),
        (status = 503, description = "not ready: the problem's detail says why", content_type = "application/problem+json")
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthDto>, ApiError> {
    state.engine.ping().await.map_err(|error| match error {
        // The store words its reasons to be shown.
        StoreError::Unavailable(reason) => ApiError::NotReady(reason),
        other => ApiError::NotReady(format!("the database is not ready: {}", other_kind(&other))),
    })?;
    Ok(Json(HealthDto { status: "ready".into(), warnings: state.rule_health.warnings() }))
}

/// A failure of another kind, named without its text.
fn other_kind(error: &StoreError) -> &'static str {
    match error {
        StoreError::NotFound { .. } => "something it needs is missing",
        StoreError::Conflict(_) => "a conflict",
        StoreError::Unavailable(_) | StoreError::Other(_) => "an internal error",
    }
}

/// Prometheus text format: request counts and latencies by route and status,
/// and the database pool. With `[metrics] require_token`, only for a bearer
/// allowed `audit.read`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain"), (status = 401), (status = 403)))]
pub async fn metrics(State(state): State<AppState>, mut parts: Parts) -> Result<impl IntoResponse, ApiError> {
    if state.settings.metrics_require_token {
        let caller = Caller::from_request_parts(&mut parts, &state).await?;
        caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    }
    let handle = state.metrics.as_ref().ok_or_else(|| ApiError::NotFound("metrics are disabled".into()))?;
    let pool = state.engine.pool_stats();
    let engine = state.engine.engine();
    metrics::gauge!("gatehouse_db_pool_connections", "engine" => engine, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("gatehouse_db_pool_connections", "engine" => engine, "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("gatehouse_db_pool_max_connections", "engine" => engine).set(f64::from(pool.max));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(healthz))
        .routes(utoipa_axum::routes!(readyz))
        .routes(utoipa_axum::routes!(metrics))
}
