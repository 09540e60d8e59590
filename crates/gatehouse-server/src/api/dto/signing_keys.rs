//! The JSON shapes of `/api/v1/identities/{id}/signing-keys`.

use gatehouse_domain::signing::SigningKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::instant;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSigningKeyRequest {
    /// An OpenSSH public key line, or an ASCII-armored OpenPGP public key.
    pub public_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyDto {
    pub id: String,
    pub identity_id: String,
    /// `ssh` or `openpgp`.
    pub kind: String,
    pub fingerprint: String,
    pub algorithm: String,
    pub public_key: String,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&SigningKey> for SigningKeyDto {
    fn from(key: &SigningKey) -> Self {
        Self {
            id: key.id.to_string(),
            identity_id: key.identity_id.to_string(),
            kind: key.kind.clone(),
            fingerprint: key.fingerprint.clone(),
            algorithm: key.algorithm.clone(),
            public_key: key.public_key.clone(),
            created_at: instant(key.created_at),
            created_by: key.created_by.map(|id| id.to_string()),
        }
    }
}
