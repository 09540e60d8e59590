//! Verifying signatures: SSH signatures (sshsig) over a namespace, and
//! OpenPGP detached signatures, against a registered key.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::KeyDetails;
use ssh_key::{HashAlg, PublicKey, SshSig};
use time::OffsetDateTime;

use crate::keys::{ids_of, openpgp_state};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature cannot be read: {0}")]
    Malformed(String),
    #[error("the signature is for namespace `{found}`, not `{expected}`")]
    WrongNamespace { expected: String, found: String },
    #[error("the signature does not match the signed content")]
    Mismatch,
    #[error("the signing key is revoked")]
    RevokedKey,
    #[error("the signing key expired at {0}")]
    ExpiredKey(String),
    #[error("the registered key cannot check this signature")]
    WrongKey,
}

/// The key that made a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The registered key's fingerprint (`SHA256:…`, or the OpenPGP primary's hex).
    pub fingerprint: String,
}

/// The SSH fingerprint a signature claims to be made by (the key is
/// embedded in every sshsig), before anything is verified.
pub fn ssh_signer_fingerprint(armored: &str) -> Result<String, SignatureError> {
    let signature = SshSig::from_pem(armored.trim()).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    Ok(PublicKey::from(signature.public_key().clone()).fingerprint(HashAlg::Sha256).to_string())
}

/// Verifies an SSH signature over `content` in `namespace` (`git` for
/// commits) by the key embedded in it.
pub fn verify_ssh(armored: &str, content: &[u8], namespace: &str) -> Result<Signer, SignatureError> {
    let signature = SshSig::from_pem(armored.trim()).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    if signature.namespace() != namespace {
        return Err(SignatureError::WrongNamespace {
            expected: namespace.to_owned(),
            found: signature.namespace().to_owned(),
        });
    }
    let key = PublicKey::from(signature.public_key().clone());
    key.verify(namespace, content, &signature).map_err(|_| SignatureError::Mismatch)?;
    Ok(Signer { fingerprint: key.fingerprint(HashAlg::Sha256).to_string() })
}

/// The (sub)key fingerprints and key ids an OpenPGP signature names as its
/// issuer (upper-case hex), for finding the registered key.
pub fn openpgp_issuers(armored: &str) -> Result<Vec<String>, SignatureError> {
    let (signature, _) =
        DetachedSignature::from_string(armored.trim()).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let sig = &signature.signature;
    let mut ids: Vec<String> = sig.issuer_fingerprint().iter().map(|f| hex::encode_upper(f.as_bytes())).collect();
    ids.extend(sig.issuer_key_id().iter().map(|id| hex::encode_upper(id.as_ref())));
    if ids.is_empty() {
        return Err(SignatureError::Malformed("the signature names no issuer key".into()));
    }
    Ok(ids)
}

/// Verifies an OpenPGP detached signature over `content` with the
/// registered armored key `key_text`, as of `now` (revoked or expired keys
/// and subkeys fail).
pub fn verify_openpgp(
    armored: &str,
    content: &[u8],
    key_text: &str,
    now: OffsetDateTime,
) -> Result<Signer, SignatureError> {
    let (signature, _) =
        DetachedSignature::from_string(armored.trim()).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let (key, _) = SignedPublicKey::from_string(key_text).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let issuers = openpgp_issuers(armored)?;
    let state = openpgp_state(&key, now);
    if state.revoked {
        return Err(SignatureError::RevokedKey);
    }
    if let Some(at) = state.expired_at {
        return Err(SignatureError::ExpiredKey(at));
    }
    let fingerprint = hex::encode_upper(key.primary_key.fingerprint().as_bytes());
    let named = |ids: [String; 2]| ids.iter().any(|id| issuers.contains(id));
    if named(ids_of(&key.primary_key)) {
        if !state.signing_ids.iter().any(|id| issuers.contains(id)) {
            return Err(SignatureError::WrongKey);
        }
        signature.verify(&key.primary_key, content).map_err(|_| SignatureError::Mismatch)?;
        return Ok(Signer { fingerprint });
    }
    for subkey in &key.public_subkeys {
        if named(ids_of(&subkey.key)) {
            if !state.signing_ids.iter().any(|id| ids_of(&subkey.key).contains(id)) {
                // Known, but revoked, expired or not for signing.
                let revoked =
                    subkey.signatures.iter().any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation));
                return Err(if revoked { SignatureError::RevokedKey } else { SignatureError::WrongKey });
            }
            signature.verify(&subkey.key, content).map_err(|_| SignatureError::Mismatch)?;
            return Ok(Signer { fingerprint });
        }
    }
    Err(SignatureError::WrongKey)
}
