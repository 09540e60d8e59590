//! Identities: the people and machines gatehouse knows. A human has a
//! validated email, unique among humans; a service has a name, unique among
//! services. No identity is ever deleted: deprovisioning keeps the record and
//! kills every credential it held.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::ids::IdentityId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    Human,
    Service,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Human => "human",
            IdentityKind::Service => "service",
        }
    }
}

impl FromStr for IdentityKind {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(IdentityKind::Human),
            "service" => Ok(IdentityKind::Service),
            other => Err(IdentityError::UnknownKind(other.to_owned())),
        }
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityStatus {
    Active,
    /// Temporarily barred: credentials are kept but refused until reactivated.
    Suspended,
    /// Gone for good: every credential was revoked; the record stays for audit.
    Deprovisioned,
}

impl IdentityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityStatus::Active => "active",
            IdentityStatus::Suspended => "suspended",
            IdentityStatus::Deprovisioned => "deprovisioned",
        }
    }

    pub fn is_active(self) -> bool {
        self == IdentityStatus::Active
    }
}

impl FromStr for IdentityStatus {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(IdentityStatus::Active),
            "suspended" => Ok(IdentityStatus::Suspended),
            "deprovisioned" => Ok(IdentityStatus::Deprovisioned),
            other => Err(IdentityError::UnknownStatus(other.to_owned())),
        }
    }
}

impl fmt::Display for IdentityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("unknown identity kind `{0}` (expected `human` or `service`)")]
    UnknownKind(String),
    #[error("unknown identity status `{0}`")]
    UnknownStatus(String),
    #[error("a name must be 1 to 200 characters without control characters")]
    InvalidName,
    #[error("`{0}` is not a valid email address")]
    InvalidEmail(String),
    #[error("a human identity needs an email address")]
    EmailRequired,
    #[error("a service identity has no email address")]
    EmailNotAllowed,
}

/// A display name: trimmed, 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityName(String);

impl IdentityName {
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if length == 0 || length > 200 || trimmed.chars().any(char::is_control) {
            return Err(IdentityError::InvalidName);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked for the shape `local@domain.tld` and kept as
/// given; comparisons use [`Email::normalized`] (lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let email = raw.trim();
        let invalid = || IdentityError::InvalidEmail(raw.to_owned());
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        // A single-label domain is allowed only for `localhost`, which the
        // bootstrap admin uses.
        let domain_ok = labels.iter().all(label_ok) && (labels.len() >= 2 || domain.eq_ignore_ascii_case("localhost"));
        if !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An identity about to be created, already validated.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub id: IdentityId,
    pub kind: IdentityKind,
    pub name: IdentityName,
    pub email: Option<Email>,
    pub created_at: OffsetDateTime,
}

impl NewIdentity {
    pub fn new(
        kind: IdentityKind,
        name: &str,
        email: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Self, IdentityError> {
        let name = IdentityName::parse(name)?;
        let email = match (kind, email) {
            (IdentityKind::Human, Some(email)) => Some(Email::parse(email)?),
            (IdentityKind::Human, None) => return Err(IdentityError::EmailRequired),
            (IdentityKind::Service, Some(_)) => return Err(IdentityError::EmailNotAllowed),
            (IdentityKind::Service, None) => None,
        };
        Ok(Self { id: IdentityId::new(), kind, name, email, created_at: now })
    }

    /// A person the directory provisions (SCIM): RFC 7643 requires only a
    /// `userName`, so a person may come without an email. Without one they
    /// cannot sign in by email until the directory gives them one.
    pub fn provisioned_person(name: &str, email: Option<Email>, now: OffsetDateTime) -> Result<Self, IdentityError> {
        let name = IdentityName::parse(name)?;
        Ok(Self { id: IdentityId::new(), kind: IdentityKind::Human, name, email, created_at: now })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    pub kind: IdentityKind,
    pub name: String,
    pub email: Option<String>,
    pub status: IdentityStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Why an identity's status may not change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    /// Nobody locks themselves out: an identity cannot suspend or deprovision
    /// itself (there would be nobody left to undo it, for a lone admin).
    #[error("you cannot suspend or deprovision yourself")]
    OwnStanding,
    /// The change is not a move of the status machine.
    #[error("identity `{id}` is {from}; it cannot become {to}")]
    NotAllowed { id: IdentityId, from: IdentityStatus, to: IdentityStatus },
}

/// What a status change takes from the identity at once, besides its
/// status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revokes {
    /// Nothing: its credentials are kept, and refused while it is not active.
    Nothing,
    /// Every API token, grant and browser session it holds.
    AllAccess,
}

/// An allowed move of the status machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusTransition {
    pub from: IdentityStatus,
    pub to: IdentityStatus,
    pub revokes: Revokes,
}

/// The identity status machine, for changes asked through the API:
///
/// ```text
/// active ──suspend──▶ suspended ──reactivate──▶ active
/// active | suspended ──deprovision──▶ deprovisioned   (final; revokes all access)
/// ```
///
/// Staying in the same status is refused too (suspending the suspended says
/// something is wrong), and nothing leaves `deprovisioned`.
pub fn check_status_transition(
    id: IdentityId,
    from: IdentityStatus,
    to: IdentityStatus,
) -> Result<StatusTransition, StatusChangeError> {
    use IdentityStatus::{Active, Deprovisioned, Suspended};
    let revokes = match (from, to) {
        (Active, Suspended) | (Suspended, Active) => Revokes::Nothing,
        (Active | Suspended, Deprovisioned) => Revokes::AllAccess,
        _ => return Err(StatusChangeError::NotAllowed { id, from, to }),
    };
    Ok(StatusTransition { from, to, revokes })
}

/// Nobody changes their own standing except to `active` (which they
/// already are, being signed in; the status machine refuses that).
pub fn check_own_standing(caller: IdentityId, target: IdentityId, to: IdentityStatus) -> Result<(), StatusChangeError> {
    if caller == target && to != IdentityStatus::Active {
        return Err(StatusChangeError::OwnStanding);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
