//! Signing keys registered to identities: what a commit or artifact
//! signature is traced back to. Parsing and verifying the keys is the
//! signing crate's; this is the record.

use time::OffsetDateTime;

use crate::ids::{IdentityId, SigningKeyId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub id: SigningKeyId,
    pub identity_id: IdentityId,
    /// `ssh` or `openpgp`.
    pub kind: String,
    /// `SHA256:…` (SSH) or the OpenPGP primary key's hex fingerprint; one
    /// key belongs to one identity.
    pub fingerprint: String,
    pub algorithm: String,
    /// The public key as registered (an OpenSSH line or an armored block).
    pub public_key: String,
    /// The ids a signature may name to point at this key (SSH fingerprint;
    /// OpenPGP fingerprints and key ids of the primary and signing subkeys).
    pub lookup_ids: Vec<String>,
    pub created_at: OffsetDateTime,
    pub created_by: Option<IdentityId>,
}
