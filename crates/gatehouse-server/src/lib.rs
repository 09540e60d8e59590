//! gatehouse's HTTP server. [`app`] builds the whole router from an
//! [`AppState`], so tests drive it with `oneshot` and no socket; [`serve`]
//! (in `connections.rs`) runs it on a listener within [`HttpLimits`] until
//! shutdown is asked for, letting in-flight requests finish.

pub mod api;
pub mod auth;
pub mod auth_throttle;
pub mod background;
pub mod connections;
pub mod context;
pub mod extract;
pub mod integrations;
pub mod observe;
pub mod openapi;
pub mod outbound;
pub mod problem;
pub mod request_id;
pub mod scim;
pub mod signing;
pub mod sso;
pub mod state;
pub mod workload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

pub use crate::connections::{HttpLimits, serve};
pub use crate::observe::metrics_handle;
use crate::problem::ApiError;
pub use crate::state::{AppState, MfaSettings, PolicyHandle, ScimSettings, Settings};

/// The body limit of the routes that carry a whole push or an artifact.
pub const LARGE_BODY_BYTES: usize = 64 * 1024 * 1024;

pub fn app(state: AppState) -> Router {
    let max_body_bytes = state.settings.max_body_bytes;
    let v1 = Router::new()
        .route("/api/v1/whoami", get(api::whoami::whoami))
        .route("/api/v1/roles", get(api::whoami::roles))
        .route("/api/v1/identities", post(api::identities::create).get(api::identities::list))
        .route("/api/v1/identities/{id}", get(api::identities::show).delete(api::identities::deprovision))
        .route("/api/v1/identities/{id}/suspend", post(api::identities::suspend))
        .route("/api/v1/identities/{id}/reactivate", post(api::identities::reactivate))
        .route("/api/v1/tokens", post(api::tokens::create).get(api::tokens::list))
        .route("/api/v1/tokens/{id}", get(api::tokens::show).delete(api::tokens::revoke))
        .route("/api/v1/grants", post(api::grants::create).get(api::grants::list))
        .route("/api/v1/grants/{id}", get(api::grants::show).delete(api::grants::revoke))
        .route("/api/v1/group-mappings", post(api::group_mappings::create).get(api::group_mappings::list))
        .route("/api/v1/group-mappings/{id}", axum::routing::delete(api::group_mappings::delete))
        .route("/api/v1/authorize", post(api::authorize::authorize))
        .route("/api/v1/auth/workload", post(api::workload::exchange))
        .route("/api/v1/identities/{id}/signing-keys", post(api::signing_keys::add).get(api::signing_keys::list))
        .route(
            "/api/v1/identities/{id}/signing-keys/{key_id}",
            get(api::signing_keys::show).delete(api::signing_keys::remove),
        )
        .route("/api/v1/identities/{id}/mfa", axum::routing::delete(api::mfa::reset))
        .route("/api/v1/identities/{id}/sessions", get(api::sessions::list))
        .route(
            "/api/v1/identities/{id}/scim",
            get(api::scim_links::show).post(api::scim_links::link).delete(api::scim_links::unlink),
        )
        .route("/api/v1/sessions/{id}", axum::routing::delete(api::sessions::revoke))
        .route("/api/v1/mfa/totp", post(api::mfa::enroll))
        .route("/api/v1/mfa/totp/confirm", post(api::mfa::confirm))
        .route("/api/v1/mfa/verify", post(api::mfa::verify))
        .route("/api/v1/verify/commit", post(api::verify::commit))
        .route("/api/v1/verify/push", post(api::verify::push).layer(DefaultBodyLimit::max(LARGE_BODY_BYTES)))
        .route("/api/v1/verify/blob", post(api::verify::blob).layer(DefaultBodyLimit::max(LARGE_BODY_BYTES)))
        .route("/api/v1/trust-bindings", post(api::trust_bindings::create).get(api::trust_bindings::list))
        .route("/api/v1/trust-bindings/{id}", get(api::trust_bindings::show).delete(api::trust_bindings::delete))
        .route("/api/v1/policy/matrix", get(api::policy::matrix_now))
        .route("/api/v1/resources", post(api::policy::register).get(api::policy::list))
        .route("/api/v1/audit/entries", get(api::audit::entries))
        .route("/api/v1/audit/checkpoint", get(api::audit::checkpoint))
        .route("/api/v1/audit/public-key", get(api::audit::public_key))
        .route("/api/v1/audit/proof/inclusion", get(api::audit::inclusion_proof))
        .route("/api/v1/audit/proof/consistency", get(api::audit::consistency_proof))
        .route("/api/v1/openapi.json", get(openapi::openapi_json));

    Router::new()
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::health::metrics))
        .route("/auth/login", get(sso::login::login))
        .route("/auth/callback", get(sso::login::callback))
        .route("/auth/logout", post(sso::login::logout))
        .route("/webhooks/github", post(integrations::github::receive))
        .route("/webhooks/gitlab", post(integrations::gitlab::receive))
        .merge(v1)
        .nest("/scim/v2", scim::router())
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
