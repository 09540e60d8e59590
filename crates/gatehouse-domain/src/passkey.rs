//! Passkeys as stored: a person's registered credentials (the WebAuthn
//! data is opaque JSON the mfa crate reads) and the ceremonies in flight,
//! each kept on the server between its start and its finish, bound to the
//! credential (session or token) that started it, used once, and expiring
//! after [`CEREMONY_LIFETIME`]. The WebAuthn checks live in the mfa crate.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::ids::{IdentityId, PasskeyId, SessionId, TokenId};
use crate::token::TokenHash;

#[cfg(test)]
mod tests;

/// How long a started ceremony may be finished.
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// At most this many ceremonies of one person are kept; starting another
/// drops the oldest (a person has a tab or two open, not dozens).
pub const CEREMONIES_PER_IDENTITY: u32 = 8;

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCredential {
    pub id: PasskeyId,
    pub identity_id: IdentityId,
    pub label: String,
    /// The authenticator's credential id, base64url: unique among all.
    pub credential_id: String,
    /// The WebAuthn credential (public key, counter, backup flags), as the
    /// mfa crate writes it.
    pub credential: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A label as given: trimmed, 1 to [`MAX_LABEL_CHARS`] characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("a passkey label must not be empty")]
    Empty,
    #[error("a passkey label has at most {MAX_LABEL_CHARS} characters")]
    TooLong,
    #[error("a passkey label must not contain control characters")]
    ControlCharacter,
}

pub fn check_label(label: &str) -> Result<String, LabelError> {
    let label = label.trim();
    if label.is_empty() {
        return Err(LabelError::Empty);
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(LabelError::TooLong);
    }
    if label.chars().any(char::is_control) {
        return Err(LabelError::ControlCharacter);
    }
    Ok(label.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "registration" => Some(CeremonyKind::Registration),
            "authentication" => Some(CeremonyKind::Authentication),
            _ => None,
        }
    }
}

impl fmt::Display for CeremonyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The credential a ceremony is bound to: only it may finish the ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyHolder {
    Token(TokenId),
    Session(SessionId),
}

impl CeremonyHolder {
    /// `token:ID` or `session:ID`, as stored.
    pub fn key(&self) -> String {
        match self {
            CeremonyHolder::Token(id) => format!("token:{id}"),
            CeremonyHolder::Session(id) => format!("session:{id}"),
        }
    }
}

/// A ceremony in flight. Its id is a bearer secret handed to the client;
/// only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    pub id_hash: TokenHash,
    pub identity_id: IdentityId,
    /// [`CeremonyHolder::key`] of the credential that started it.
    pub holder: String,
    pub kind: CeremonyKind,
    /// The server's half of the ceremony, as the mfa crate writes it.
    pub state: String,
    pub expires_at: OffsetDateTime,
}

impl PasskeyCeremony {
    /// Whether `identity`, presenting `holder`, may finish this ceremony as
    /// `kind`: the same person, the same credential, the same kind.
    pub fn belongs_to(&self, identity: IdentityId, holder: &CeremonyHolder, kind: CeremonyKind) -> bool {
        self.identity_id == identity && self.holder == holder.key() && self.kind == kind
    }
}

/// What taking a ceremony found. Taking deletes it in every case: a
/// ceremony is finished at most once, and an expired one is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakenCeremony {
    Live(PasskeyCeremony),
    Expired,
    Unknown,
}
