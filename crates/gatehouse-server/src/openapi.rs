//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "gatehouse", description = "The one door into a CI/CD pipeline: identities, tokens, decisions and a tamper-evident audit log."),
    paths(
        api::health::healthz,
        api::health::readyz,
        api::health::metrics,
        api::whoami::whoami,
        api::whoami::roles,
        api::identities::create,
        api::identities::list,
        api::identities::show,
        api::identities::suspend,
        api::identities::reactivate,
        api::identities::deprovision,
        api::scim_links::show,
        api::scim_links::link,
        api::scim_links::unlink,
        api::tokens::create,
        api::tokens::list,
        api::tokens::show,
        api::tokens::revoke,
        api::grants::create,
        api::grants::list,
        api::grants::show,
        api::grants::revoke,
        api::group_mappings::create,
        api::group_mappings::list,
        api::group_mappings::delete,
        api::authorize::authorize,
        api::workload::exchange,
        api::trust_bindings::create,
        api::trust_bindings::list,
        api::trust_bindings::show,
        api::trust_bindings::delete,
        api::signing_keys::add,
        api::signing_keys::list,
        api::signing_keys::show,
        api::signing_keys::remove,
        api::verify::commit,
        api::mfa::enroll,
        api::sessions::list,
        api::sessions::revoke,
        api::mfa::confirm,
        api::mfa::verify,
        api::mfa::reset,
        api::verify::push,
        api::verify::blob,
        crate::integrations::github::receive,
        crate::integrations::gitlab::receive,
        api::policy::matrix_now,
        api::policy::register,
        api::policy::list,
        api::audit::entries,
        api::audit::checkpoint,
        api::audit::public_key,
        api::audit::inclusion_proof,
        api::audit::consistency_proof,
    ),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
