//! The JSON shapes of `/api/v1/identities/{id}/sessions` and
//! `/api/v1/sessions`.

use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::session::Session;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    pub id: String,
    pub identity_id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub mfa_verified_at: Option<String>,
    pub source_ip: Option<String>,
}

impl From<&Session> for SessionDto {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.to_string(),
            identity_id: s.identity_id.to_string(),
            created_at: format_rfc3339(s.created_at),
            last_seen_at: format_rfc3339(s.last_seen_at),
            expires_at: format_rfc3339(s.expires_at),
            revoked_at: s.revoked_at.map(format_rfc3339),
            mfa_verified_at: s.mfa_verified_at.map(format_rfc3339),
            source_ip: s.source_ip.clone(),
        }
    }
}
