//! The web console at `/ui`: pages for the people who approve, review and
//! audit, rendered on the server from templates checked at compile time
//! (`templates/`). Forms first: every decision is a `<form method=post>`
//! answered by a 303 to a page (or, when it needs a second factor or was
//! refused, by the page again with the reason), so the console works
//! without JavaScript; htmx and `gatehouse.js` only add to it.
//!
//! A page authenticates by the session cookie alone ([`viewer::Viewer`]),
//! with the API's checks (a POST must carry the server's own `Origin`),
//! and every change goes through the same functions, authorization and
//! audit entries as the API's. [`headers`] adds the security headers.

mod account;
mod admin_people;
mod admin_trust;
mod assets;
mod audit;
mod extract;
mod headers;
mod names;
mod page;
mod requests;
mod reviews;
mod step_up;
mod viewer;

use axum::Router;
use axum::http::Method;

use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

/// Where the console lives.
pub const PREFIX: &str = "/ui";

/// The console's routes, with their whole paths: each area owns its own.
pub fn routes() -> Vec<Undocumented> {
    let mut routes = vec![
        undocumented(Method::GET, "/ui", requests::inbox),
        undocumented(Method::GET, "/ui/requests/{id}", requests::show),
        undocumented(Method::POST, "/ui/requests/{id}/vote", requests::vote),
        undocumented(Method::POST, "/ui/requests/{id}/cancel", requests::cancel),
        undocumented(Method::GET, "/ui/mfa", account::show),
        undocumented(Method::POST, "/ui/mfa/totp", account::begin_totp),
        undocumented(Method::POST, "/ui/mfa/totp/confirm", account::confirm_totp),
        undocumented(Method::POST, "/ui/mfa/verify", account::verify),
        undocumented(Method::POST, "/ui/mfa/passkeys", account::add_passkey_without_script),
        undocumented(Method::POST, "/ui/mfa/passkeys/{id}/rename", account::rename_passkey),
        undocumented(Method::POST, "/ui/mfa/passkeys/{id}/remove", account::remove_passkey),
        undocumented(Method::POST, "/ui/sign-out", account::sign_out),
        undocumented(Method::GET, "/ui/assets/{name}", assets::serve),
    ];
    routes.extend(reviews::routes());
    routes.extend(audit::routes());
    routes.extend(admin_people::routes());
    routes.extend(admin_trust::routes());
    routes
}

/// The console's router: its routes behind the security headers.
pub fn router() -> Router<AppState> {
    crate::routing::into_router(routes()).layer(axum::middleware::from_fn(headers::secure))
}
