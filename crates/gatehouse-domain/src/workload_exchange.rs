//! Each CI token is exchanged for a gatehouse token at most once: the rule
//! that names a token's use (its issuer and `jti`, or the SHA-256 of the
//! whole token when it carries no `jti`) and how long that use is kept (until
//! the token expires, a token living longer than a day is not exchanged).
//! The store keeps the uses where every node sees them.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// How long past `exp` a CI token is still accepted (the verifier's leeway).
pub const EXPIRY_LEEWAY: Duration = Duration::seconds(60);

/// The longest a CI token may still live when it is exchanged, so the
/// record of its use is kept at most this long and the record stays bounded.
pub const MAX_REMAINING_LIFETIME: Duration = Duration::hours(24);

/// The record that a CI token was exchanged: kept until `kept_until`, after
/// which the token itself is refused as expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadTokenUse {
    /// Hex SHA-256 naming the token: fixed length whatever the `jti`.
    pub key: String,
    pub used_at: OffsetDateTime,
    pub kept_until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeOnceError {
    #[error("the token lives more than 24 hours; it cannot be exchanged")]
    LivesTooLong,
}

impl WorkloadTokenUse {
    /// The use of the verified token `raw` from `issuer`, with claim `jti`
    /// if it has one, expiring at `expires_at`, exchanged at `now`.
    pub fn new(
        issuer: &str,
        jti: Option<&str>,
        raw: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Self, ExchangeOnceError> {
        if expires_at - now > MAX_REMAINING_LIFETIME {
            return Err(ExchangeOnceError::LivesTooLong);
        }
        let mut digest = Sha256::new();
        match jti.filter(|jti| !jti.is_empty()) {
            // Length-prefixed, so no issuer and jti pair collides with another.
            Some(jti) => {
                digest.update(b"jti\0");
                digest.update((issuer.len() as u64).to_be_bytes());
                digest.update(issuer.as_bytes());
                digest.update(jti.as_bytes());
            }
            None => {
                digest.update(b"token\0");
                digest.update(raw.as_bytes());
            }
        }
        let key = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { key, used_at: now, kept_until: expires_at + EXPIRY_LEEWAY })
    }
}

#[cfg(test)]
mod tests;
