//! The JSON shapes of `/api/v1/whoami` and `/api/v1/roles`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{GrantDto, IdentityDto};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthenticationDto {
    /// How the caller authenticated: `token`.
    pub method: String,
    pub token_id: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoamiDto {
    pub identity: IdentityDto,
    pub authentication: AuthenticationDto,
    /// The grants in force now.
    pub grants: Vec<GrantDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleDto {
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
}
