//! The JSON shapes of `/api/v1/trust-bindings`.

use gatehouse_domain::workload::TrustBinding;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instant;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustBindingRequest {
    /// The OIDC issuer, exactly as in its tokens' `iss` (https; http only on
    /// loopback), e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The audience the tokens must carry (`aud`).
    pub audience: String,
    /// Claim name → exact value, glob (`*` within a path segment, `**`
    /// across), or a list of alternatives. Every condition must hold.
    #[schema(value_type = Object)]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The service identity matching jobs act as.
    pub identity_id: String,
    /// Lifetime cap for exchanged tokens, 60–900 seconds (default 900).
    pub max_ttl_seconds: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustBindingDto {
    pub id: String,
    pub issuer: String,
    pub audience: String,
    #[schema(value_type = Object)]
    pub claims: serde_json::Value,
    pub identity_id: String,
    pub max_ttl_seconds: u32,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&TrustBinding> for TrustBindingDto {
    fn from(binding: &TrustBinding) -> Self {
        Self {
            id: binding.id.to_string(),
            issuer: binding.issuer.clone(),
            audience: binding.audience.clone(),
            claims: binding.claims_json(),
            identity_id: binding.identity_id.to_string(),
            max_ttl_seconds: binding.max_ttl_seconds,
            created_at: instant(binding.created_at),
            created_by: binding.created_by.map(|id| id.to_string()),
        }
    }
}
