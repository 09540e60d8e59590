//! gatehouse's HTTP server. [`app`] builds the whole router from an
//! [`AppState`], so tests drive it with `oneshot` and no socket; [`serve`]
//! (in `connections.rs`) runs it on a listener within [`HttpLimits`] until
//! shutdown is asked for, letting in-flight requests finish.

pub mod api;
pub mod approvals;
pub mod auth;
pub mod auth_throttle;
pub mod background;
pub mod connections;
pub mod context;
pub mod evidence;
pub mod extract;
pub mod integrations;
pub mod notify;
pub mod observe;
pub mod openapi;
pub mod outbound;
pub mod passkeys;
pub mod problem;
pub mod proofs;
pub mod request_id;
pub mod reviews;
pub mod routing;
pub mod scheduler;
pub mod scim;
pub mod signing;
pub mod sso;
pub mod state;
pub mod vendors;
pub mod web;
pub mod workload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

pub use crate::connections::{HttpLimits, serve};
pub use crate::observe::{metrics_handle, spawn_metrics_upkeep};
use crate::problem::ApiError;
use crate::routing::{Undocumented, undocumented};
pub use crate::state::{AppState, MfaSettings, PolicyHandle, ScimSettings, Settings};

/// The body limit of the routes that carry a whole push or an artifact.
pub const LARGE_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Every documented route: the `/api/v1` features, the health probes and
/// the forges' webhooks, each with its OpenAPI entry.
pub fn documented_routes() -> api::Routes {
    api::Routes::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .merge(api::routes())
        .merge(integrations::routes())
}

/// The routes outside the OpenAPI document (SCIM aside, see
/// [`scim::routes`]): the browser's sign-in round trip and the document.
pub fn undocumented_routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/auth/login", sso::login::login),
        undocumented(Method::GET, "/auth/callback", sso::login::callback),
        undocumented(Method::POST, "/auth/logout", sso::login::logout),
        undocumented(Method::GET, "/api/v1/openapi.json", openapi::openapi_json),
    ]
}

pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.settings.max_body_bytes;
    let documented: Router<AppState> = documented_routes().into();
    Router::new()
        .merge(documented)
        .merge(routing::into_router(undocumented_routes()))
        .nest(scim::PREFIX, scim::router())
        .merge(web::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
        .layer(axum::middleware::from_fn(observe::observe))
        .layer(axum::middleware::from_fn(request_id::assign_request_id))
        .layer(CatchPanicLayer::custom(|_panic| {
            axum::response::IntoResponse::into_response(ApiError::Internal("a handler panicked".into()))
        }))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]))
}
