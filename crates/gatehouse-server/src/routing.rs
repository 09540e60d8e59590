//! How the router is assembled, so every served `(method, path)` can be
//! listed. Documented routes come from each feature's `routes()`, an
//! [`OpenApiRouter`](utoipa_axum::router::OpenApiRouter) fed by the
//! handlers' `#[utoipa::path]`, so a route and its OpenAPI entry are one
//! declaration. The few routes the document leaves out (the browser's
//! sign-in round trip, the document itself, SCIM, which its own RFC
//! describes, and the web console's pages) are [`Undocumented`] values. [`declared_routes`] is the union
//! of both, and a test holds the router to it.

use std::collections::BTreeSet;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use crate::state::AppState;

/// A route that the OpenAPI document does not list.
pub struct Undocumented {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

/// Declares `handler` for `method` on `path`, outside the OpenAPI document.
pub fn undocumented<H, T>(method: Method, path: &'static str, handler: H) -> Undocumented
where
    H: Handler<T, AppState>,
    T: 'static,
{
    // INVARIANT: only the methods axum can filter on are used here (GET,
    // POST, PUT, PATCH, DELETE); the route table is fixed at compile time.
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Undocumented { method, path, handler: axum::routing::on(filter, handler) }
}

/// A router serving `routes`; two methods on one path share its entry.
pub fn into_router(routes: Vec<Undocumented>) -> Router<AppState> {
    routes.into_iter().fold(Router::new(), |router, route| router.route(route.path, route.handler))
}

/// The `(method, path)` pairs of `routes`, each path behind `prefix`.
pub fn pairs(routes: &[Undocumented], prefix: &str) -> BTreeSet<(String, String)> {
    routes.iter().map(|route| (route.method.to_string(), format!("{prefix}{}", route.path))).collect()
}

/// The `(method, path)` pairs of an OpenAPI document, methods upper case.
pub fn document_pairs(document: &utoipa::openapi::OpenApi) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for (path, item) in &document.paths.paths {
        let operations = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("HEAD", item.head.is_some()),
            ("PATCH", item.patch.is_some()),
            ("TRACE", item.trace.is_some()),
        ];
        for (method, present) in operations {
            if present {
                pairs.insert((method.to_owned(), path.clone()));
            }
        }
    }
    pairs
}

/// Every `(method, path)` the app serves: the OpenAPI document's and the
/// undocumented ones. [`crate::app`] builds its router from exactly these.
pub fn declared_routes() -> BTreeSet<(String, String)> {
    let mut all = document_pairs(&crate::openapi::document());
    all.extend(pairs(&crate::undocumented_routes(), ""));
    all.extend(pairs(&crate::scim::routes(), crate::scim::PREFIX));
    all.extend(pairs(&crate::web::routes(), ""));
    all
}

#[cfg(test)]
mod tests;
