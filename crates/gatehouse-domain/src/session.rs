//! Browser sessions of people who signed in through the identity provider.

use time::OffsetDateTime;

use crate::ids::{IdentityId, SessionId};
use crate::token::TokenHash;
use crate::validity::is_expired_at;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub identity_id: IdentityId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute end, whatever the activity.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub mfa_verified_at: Option<OffsetDateTime>,
    pub source_ip: Option<String>,
}

/// A session found by its cookie, with what authentication needs.
#[derive(Debug, Clone)]
pub struct SessionCredential {
    pub session: Session,
    pub identity: crate::identity::Identity,
    pub grants: Vec<crate::grant::Grant>,
    pub mfa_enrolled: bool,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub hash: TokenHash,
    pub identity_id: IdentityId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source_ip: Option<String>,
}

impl Session {
    /// In force at `now`: not revoked, before its absolute end, and used
    /// within `idle` of now.
    pub fn is_live_at(&self, now: OffsetDateTime, idle: time::Duration) -> bool {
        self.revoked_at.is_none() && !is_expired_at(self.expires_at, now) && now - self.last_seen_at < idle
    }
}

/// A person's account at an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub issuer: String,
    pub subject: String,
}

/// Why a login by verified email may not link an account to the identity
/// holding that email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailLinkError {
    #[error("this email belongs to a person already linked to another account at the identity provider")]
    AlreadyLinked,
}

/// A login whose (issuer, subject) is linked to nobody may link to the
/// person with its verified email once: never when that person is already
/// linked to an account (any other subject, at any issuer). `links` are
/// the person's current links.
pub fn check_email_link(links: &[IdentityLink], issuer: &str, subject: &str) -> Result<(), EmailLinkError> {
    if links.iter().any(|link| link.issuer != issuer || link.subject != subject) {
        return Err(EmailLinkError::AlreadyLinked);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
