//! `/api/v1/whoami` and `/api/v1/roles`: what the caller is and what roles
//! mean.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::clock::format_rfc3339;

use super::dto::{AuthenticationDto, GrantDto, IdentityDto, RoleDto, WhoamiDto};
use crate::auth::{Caller, Via};
use crate::state::AppState;

/// Who the caller is, how they authenticated, and their grants in force.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identities", responses((status = 200, body = WhoamiDto), (status = 401)))]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> Json<WhoamiDto> {
    let now = state.clock.now();
    Json(WhoamiDto {
        identity: IdentityDto::from(caller.identity()),
        authentication: match caller.via() {
            Via::Token(token) => AuthenticationDto {
                method: caller.auth_method().into(),
                token_id: token.id.to_string(),
                expires_at: format_rfc3339(token.expires_at),
            },
            Via::Session(session) => AuthenticationDto {
                method: caller.auth_method().into(),
                token_id: session.id.to_string(),
                expires_at: format_rfc3339(session.expires_at),
            },
            // Not reached: whoami takes gatehouse tokens only.
            Via::CiToken(workload) => AuthenticationDto {
                method: caller.auth_method().into(),
                token_id: String::new(),
                expires_at: format_rfc3339(workload.expires_at),
            },
        },
        grants: caller.grants().iter().filter(|g| g.is_in_force_at(now)).map(GrantDto::from).collect(),
    })
}

/// The roles the policy folder defines, and the actions each allows.
#[utoipa::path(get, path = "/api/v1/roles", tag = "grants", responses((status = 200, body = Vec<RoleDto>)))]
pub async fn roles(State(state): State<AppState>, _caller: Caller) -> Json<Vec<RoleDto>> {
    Json(
        state
            .policies
            .current()
            .roles()
            .into_iter()
            .map(|role| RoleDto {
                name: role.name,
                description: role.description,
                actions: if role.all_actions {
                    gatehouse_domain::authorization::Action::ALL.iter().map(|a| a.as_str().to_owned()).collect()
                } else {
                    role.actions
                },
            })
            .collect(),
    )
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(whoami)).routes(utoipa_axum::routes!(roles))
}
