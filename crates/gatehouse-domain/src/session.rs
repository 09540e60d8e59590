//! Browser sessions of people who signed in through the identity provider.

use time::OffsetDateTime;

use crate::ids::{IdentityId, SessionId};
use crate::token::TokenHash;

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
        self.revoked_at.is_none() && now < self.expires_at && now - self.last_seen_at < idle
    }
}
