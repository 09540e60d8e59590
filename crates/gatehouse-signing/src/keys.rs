//! Public keys people sign with: OpenSSH public key lines (ed25519, ecdsa,
//! rsa of at least 2048 bits, and the `sk-` hardware-key types) and
//! ASCII-armored OpenPGP public keys (primary key and signing subkeys).
//! Each is checked, refused with a reason when weak or malformed, and
//! fingerprinted.

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::SignatureType;
use pgp::types::KeyDetails;
use ssh_key::{Algorithm, HashAlg, PublicKey};
use time::OffsetDateTime;

pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an OpenSSH public key line or an ASCII-armored OpenPGP public key")]
    Unrecognized,
    #[error("the key cannot be read: {0}")]
    Malformed(String),
    #[error("the key is too weak: {0}")]
    Weak(String),
    #[error("the OpenPGP key is revoked")]
    Revoked,
    #[error("the OpenPGP key expired at {0}")]
    Expired(String),
    #[error("the OpenPGP key has no key that may sign")]
    NoSigningKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ssh,
    OpenPgp,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Ssh => "ssh",
            KeyKind::OpenPgp => "openpgp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub kind: KeyKind,
    /// `SHA256:…` for SSH keys, the primary key's hex fingerprint for OpenPGP.
    pub fingerprint: String,
    /// e.g. `ssh-ed25519`, `rsa 3072`.
    pub algorithm: String,
    /// What a signature may name to point at this key: the SSH fingerprint,
    /// or the fingerprints and key ids of the OpenPGP primary and subkeys
    /// (upper-case hex).
    pub lookup_ids: Vec<String>,
    /// The key text to keep (trimmed).
    pub text: String,
}

pub fn parse_public_key(text: &str) -> Result<ParsedKey, KeyError> {
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        parse_openpgp(trimmed, OffsetDateTime::now_utc())
    } else if trimmed.lines().count() == 1 && trimmed.contains(' ') {
        parse_ssh(trimmed)
    } else {
        Err(KeyError::Unrecognized)
    }
}

fn parse_ssh(line: &str) -> Result<ParsedKey, KeyError> {
    let key = PublicKey::from_openssh(line).map_err(|e| KeyError::Malformed(e.to_string()))?;
    let algorithm = key.algorithm();
    match &algorithm {
        Algorithm::Ed25519 | Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256 | Algorithm::Ecdsa { .. } => {}
        Algorithm::Rsa { .. } => {
            let rsa = key.key_data().rsa().ok_or_else(|| KeyError::Malformed("not an RSA key".into()))?;
            let bits = rsa.n.as_positive_bytes().map_or(0, |n| n.len() * 8);
            if bits < MIN_RSA_BITS {
                return Err(KeyError::Weak(format!("RSA keys need at least {MIN_RSA_BITS} bits, this one has {bits}")));
            }
        }
        Algorithm::Dsa => return Err(KeyError::Weak("DSA keys are refused".into())),
        other => return Err(KeyError::Weak(format!("{} keys are not accepted", other.as_str()))),
    }
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    Ok(ParsedKey {
        kind: KeyKind::Ssh,
        lookup_ids: vec![fingerprint.clone()],
        fingerprint,
        algorithm: algorithm.as_str().to_owned(),
        text: line.to_owned(),
    })
}

/// Parses an armored OpenPGP key as of `now`: its self-signatures must
/// verify, it must be neither revoked nor expired, and it must have a key
/// that may sign.
pub fn parse_openpgp(text: &str, now: OffsetDateTime) -> Result<ParsedKey, KeyError> {
    let (key, _) = SignedPublicKey::from_string(text).map_err(|e| KeyError::Malformed(e.to_string()))?;
    key.verify_bindings().map_err(|e| KeyError::Malformed(format!("its self-signatures do not verify: {e}")))?;
    let state = openpgp_state(&key, now);
    if state.revoked {
        return Err(KeyError::Revoked);
    }
    if let Some(expired) = state.expired_at {
        return Err(KeyError::Expired(expired));
    }
    if state.signing_ids.is_empty() {
        return Err(KeyError::NoSigningKey);
    }
    let fingerprint = hex::encode_upper(key.primary_key.fingerprint().as_bytes());
    let algorithm = format!("{:?}", key.primary_key.algorithm()).to_lowercase();
    Ok(ParsedKey {
        kind: KeyKind::OpenPgp,
        fingerprint,
        algorithm,
        lookup_ids: state.signing_ids,
        text: text.to_owned(),
    })
}

/// What matters of an OpenPGP key at one instant.
pub(crate) struct OpenPgpState {
    pub revoked: bool,
    pub expired_at: Option<String>,
    /// Fingerprints and key ids of the keys (primary, subkeys) that may sign now.
    pub signing_ids: Vec<String>,
}

pub(crate) fn ids_of(key: &impl KeyDetails) -> [String; 2] {
    [hex::encode_upper(key.fingerprint().as_bytes()), hex::encode_upper(key.legacy_key_id().as_ref())]
}

fn expiry(created: u32, after: Option<std::time::Duration>) -> Option<i64> {
    after.filter(|d| !d.is_zero()).map(|d| i64::from(created) + d.as_secs() as i64)
}

fn format_unix(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

pub(crate) fn openpgp_state(key: &SignedPublicKey, now: OffsetDateTime) -> OpenPgpState {
    let now = now.unix_timestamp();
    let revoked = !key.details.revocation_signatures.is_empty();
    let created = key.primary_key.created_at().as_secs();
    // The newest self-signature on a user id (or a direct signature) says
    // when the primary key expires and whether it may sign.
    let self_signatures =
        key.details.users.iter().flat_map(|user| user.signatures.iter()).chain(key.details.direct_signatures.iter());
    let newest = self_signatures.max_by_key(|sig| sig.created().map(|t| t.as_secs()).unwrap_or(0));
    let primary_expiry = newest.and_then(|sig| expiry(created, sig.key_expiration_time().map(Into::into)));
    let expired_at = primary_expiry.filter(|at| *at <= now).map(format_unix);
    let mut signing_ids = Vec::new();
    if newest.is_none_or(|sig| sig.key_flags().sign() || !has_flags(sig)) {
        signing_ids.extend(ids_of(&key.primary_key));
    }
    for subkey in &key.public_subkeys {
        let revoked = subkey.signatures.iter().any(|sig| sig.typ() == Some(SignatureType::SubkeyRevocation));
        let binding = subkey
            .signatures
            .iter()
            .filter(|sig| sig.typ() == Some(SignatureType::SubkeyBinding))
            .max_by_key(|sig| sig.created().map(|t| t.as_secs()).unwrap_or(0));
        let Some(binding) = binding else { continue };
        let sub_created = subkey.key.created_at().as_secs();
        let sub_expired =
            expiry(sub_created, binding.key_expiration_time().map(Into::into)).is_some_and(|at| at <= now);
        if !revoked && !sub_expired && binding.key_flags().sign() {
            signing_ids.extend(ids_of(&subkey.key));
        }
    }
    OpenPgpState { revoked, expired_at, signing_ids }
}

fn has_flags(sig: &pgp::packet::Signature) -> bool {
    sig.config().is_some_and(|config| {
        config.hashed_subpackets().any(|p| matches!(p.data, pgp::packet::SubpacketData::KeyFlags(_)))
    })
}

/// The primary fingerprint of an armored OpenPGP key, whatever its state
/// (revoked, expired), for matching a re-uploaded key to a registered one.
pub fn openpgp_fingerprint(text: &str) -> Option<String> {
    let (key, _) = SignedPublicKey::from_string(text.trim()).ok()?;
    Some(hex::encode_upper(key.primary_key.fingerprint().as_bytes()))
}
