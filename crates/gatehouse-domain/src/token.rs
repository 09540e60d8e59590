//! API tokens. The secret is `gth_` followed by 256 random bits in base64url;
//! it is shown once, and only its SHA-256 is stored. A 256-bit random secret
//! needs no slow password hash: nobody can guess a preimage, so a fast hash
//! keeps per-request authentication cheap.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::identity::{Identity, IdentityStatus};
use crate::ids::{IdentityId, TokenId, TrustBindingId};
use crate::validity::is_expired_at;

pub const TOKEN_PREFIX: &str = "gth_";
const SECRET_BYTES: usize = 32;

/// A freshly minted token secret. `Debug` never prints it.
pub struct TokenSecret(String);

impl TokenSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::fill(&mut bytes);
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret, to be shown to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

// The secret is wiped from memory when dropped (it is shown once and then
// only its hash is kept).
impl zeroize::Zeroize for TokenSecret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for TokenSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

impl zeroize::ZeroizeOnDrop for TokenSecret {}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(<redacted>)")
    }
}

/// SHA-256 of a token secret: what the store keeps and looks tokens up by.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(presented: &str) -> Self {
        Self(Sha256::digest(presented.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality, for the final check after a lookup by hash.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// Whether a presented bearer string even looks like a gatehouse token.
pub fn looks_like_token(presented: &str) -> bool {
    presented.len() == TOKEN_PREFIX.len() + 43
        && presented.starts_with(TOKEN_PREFIX)
        && presented[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The rules for token lifetimes, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimePolicy {
    pub max_ttl: Duration,
}

pub const MIN_TTL: Duration = Duration::seconds(60);

impl Default for TokenLifetimePolicy {
    fn default() -> Self {
        Self { max_ttl: Duration::days(90) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("ttl_seconds must be at least {min} (got {got})", min = MIN_TTL.whole_seconds())]
    TtlTooShort { got: i64 },
    #[error("ttl_seconds must be at most {max}, the configured maximum (got {got})")]
    TtlTooLong { got: i64, max: i64 },
    #[error("a description must be at most 500 characters without control characters")]
    InvalidDescription,
}

impl TokenLifetimePolicy {
    pub fn check_ttl(&self, ttl_seconds: i64) -> Result<Duration, TokenError> {
        if ttl_seconds < MIN_TTL.whole_seconds() {
            return Err(TokenError::TtlTooShort { got: ttl_seconds });
        }
        if ttl_seconds > self.max_ttl.whole_seconds() {
            return Err(TokenError::TtlTooLong { got: ttl_seconds, max: self.max_ttl.whole_seconds() });
        }
        Ok(Duration::seconds(ttl_seconds))
    }
}

pub fn check_description(raw: &str) -> Result<String, TokenError> {
    let description = raw.trim();
    if description.chars().count() > 500 || description.chars().any(char::is_control) {
        return Err(TokenError::InvalidDescription);
    }
    Ok(description.to_owned())
}

/// Why an identity may not be given a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenOwnerError {
    #[error("identity `{id}` is {status}; it cannot get a token")]
    NotActive { id: IdentityId, status: IdentityStatus },
}

/// A token acts as its owner, so only an active identity gets one: a
/// suspended one would hold a credential it may not use, a deprovisioned one
/// a credential it must never have again. (The store re-checks inside its
/// transaction, against a suspension that lands in between.)
pub fn check_token_owner(owner: &Identity) -> Result<(), TokenOwnerError> {
    if !owner.status.is_active() {
        return Err(TokenOwnerError::NotActive { id: owner.id, status: owner.status });
    }
    Ok(())
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: TokenId,
    pub identity_id: IdentityId,
    pub hash: TokenHash,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Who issued it; `None` for the bootstrap token made by `init` and for
    /// tokens a CI job obtained through a trust binding.
    pub created_by: Option<IdentityId>,
    /// The trust binding a CI job obtained it through.
    pub trust_binding_id: Option<TrustBindingId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// A stored token: everything about it except the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub identity_id: IdentityId,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Option<IdentityId>,
    pub trust_binding_id: Option<TrustBindingId>,
    /// When its holder last proved a second factor while using it.
    pub mfa_verified_at: Option<OffsetDateTime>,
}

impl ApiToken {
    /// Expiry counts at its instant: a token is expired from `expires_at` on.
    pub fn status_at(&self, now: OffsetDateTime) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if is_expired_at(self.expires_at, now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

#[cfg(test)]
mod tests;
