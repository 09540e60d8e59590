//! The JSON shapes of `/api/v1/auth/workload`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadExchangeRequest {
    /// The CI job's OIDC ID token.
    pub token: String,
}

/// A short-lived gatehouse token for a CI job. `token` is the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkloadTokenDto {
    pub token: String,
    pub token_id: String,
    pub expires_at: String,
    pub identity_id: String,
    pub trust_binding_id: String,
}
