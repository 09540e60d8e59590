//! The keys people sign commits and tags with.

use async_trait::async_trait;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{IdentityId, SigningKeyId};
use crate::signing::SigningKey;

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Registers a signing key. `Conflict` if its fingerprint is registered
    /// already (to anyone) or the identity is deprovisioned.
    async fn create_signing_key(&self, key: SigningKey, audit: AuditRecord) -> Result<SigningKey, StoreError>;

    /// The identity's signing keys, oldest first.
    async fn list_signing_keys(&self, identity: IdentityId) -> Result<Vec<SigningKey>, StoreError>;

    /// Replaces the stored text of a key (e.g. with its revoked version).
    async fn update_signing_key_text(
        &self,
        id: SigningKeyId,
        public_key: String,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError>;

    /// Removes one of the identity's keys. `NotFound` unless it is theirs.
    async fn delete_signing_key(
        &self,
        identity: IdentityId,
        id: SigningKeyId,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError>;

    /// The key a signature names, by any of its lookup ids.
    async fn find_signing_key(&self, lookup_ids: &[String]) -> Result<Option<SigningKey>, StoreError>;

    /// The key with this fingerprint.
    async fn find_signing_key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<SigningKey>, StoreError>;
}
