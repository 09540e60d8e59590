//! The JSON shapes of `/api/v1/tokens`.

use gatehouse_domain::token::ApiToken;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::instant;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenDto {
    pub id: String,
    pub identity_id: String,
    pub description: String,
    /// `active`, `expired` or `revoked`, at the time of the answer.
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The identity that issued the token; `null` for the bootstrap token
    /// and for tokens CI jobs obtained.
    pub created_by: Option<String>,
    /// The trust binding a CI job obtained the token through.
    pub trust_binding_id: Option<String>,
}

impl TokenDto {
    pub fn new(token: &ApiToken, now: OffsetDateTime) -> Self {
        Self {
            id: token.id.to_string(),
            identity_id: token.identity_id.to_string(),
            description: token.description.clone(),
            status: token.status_at(now).as_str().to_owned(),
            created_at: instant(token.created_at),
            expires_at: instant(token.expires_at),
            last_used_at: token.last_used_at.map(instant),
            revoked_at: token.revoked_at.map(instant),
            created_by: token.created_by.map(|id| id.to_string()),
            trust_binding_id: token.trust_binding_id.map(|id| id.to_string()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub identity_id: String,
    /// Lifetime in seconds: at least 60, at most the configured maximum.
    pub ttl_seconds: i64,
    #[serde(default)]
    pub description: String,
}

/// A new token. `token` is the secret: it is shown here once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTokenDto {
    pub id: String,
    pub token: String,
    pub identity_id: String,
    pub description: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenListQuery {
    /// Only the tokens of this identity.
    pub identity_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}
