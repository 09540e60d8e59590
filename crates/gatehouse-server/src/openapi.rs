//! The OpenAPI 3.1 document, served at `/api/v1/openapi.json`. Its paths
//! come from the routes themselves ([`crate::documented_routes`]); this file
//! adds only what covers the whole API: title, description and the bearer
//! scheme.

use std::sync::LazyLock;

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "gatehouse", description = "The one door into a CI/CD pipeline: identities, tokens, decisions and a tamper-evident audit log."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gth_…").build()),
        );
    }
}

/// The document of every documented route.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::documented_routes().into_openapi()
}

/// Built once: the routes, and so the document, are fixed at compile time.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(document);

pub async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}
