//! The JSON shapes of `/api/v1/mfa/webauthn/…` and `/api/v1/mfa/passkeys`.

use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::passkey::PasskeyCredential;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A started passkey ceremony.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyCeremonyDto {
    /// Finishes the ceremony, once, from the same session or token, within
    /// five minutes.
    pub ceremony_id: String,
    /// For `PublicKeyCredential.parseCreationOptionsFromJSON` (registration)
    /// or `parseRequestOptionsFromJSON` (verification).
    #[schema(value_type = Object)]
    pub options: Value,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterRequest {
    pub ceremony_id: String,
    /// A name for the passkey: 1 to 64 characters.
    pub label: String,
    /// The browser's `credential.toJSON()` after `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyVerifyRequest {
    pub ceremony_id: String,
    /// The browser's `credential.toJSON()` after `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRenameRequest {
    pub label: String,
}

/// A registered passkey (its key material is never shown).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyDto {
    pub id: String,
    pub label: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<&PasskeyCredential> for PasskeyDto {
    fn from(p: &PasskeyCredential) -> Self {
        Self {
            id: p.id.to_string(),
            label: p.label.clone(),
            created_at: format_rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(format_rfc3339),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasskeyListDto {
    pub items: Vec<PasskeyDto>,
}
