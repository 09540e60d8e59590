//! Which identities the SCIM provisioner may change (issue 24): only those
//! it created or an admin linked to it, and none holding `admin` unless
//! `[scim] manage_admins` says so. Pure rules over what the store read; the
//! server asks them before every SCIM change and the store only persists.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{ScimError, ScimOrigin};
use crate::grant::{Grant, Role};
use crate::identity::{Identity, IdentityKind, IdentityStatus};
use crate::ids::IdentityId;

/// Whether any `admin` grant of `grants` is in force at `now`.
pub fn holds_admin(grants: &[Grant], now: OffsetDateTime) -> bool {
    let admin = Role::admin();
    grants.iter().any(|grant| grant.role == admin && grant.is_in_force_at(now))
}

/// What the rules need to know about one SCIM user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Managed {
    pub id: IdentityId,
    pub origin: ScimOrigin,
    pub holds_admin: bool,
}

/// May SCIM change this user: its attributes, `active`, its deletion, its
/// group memberships? `Forbidden` (403) when not.
pub fn check_change(user: Managed, manage_admins: bool) -> Result<(), ScimError> {
    if user.origin == ScimOrigin::Adopted {
        return Err(ScimError::forbidden(format!(
            "user `{}` was adopted by email, not provisioned: SCIM may change it only after an admin links it",
            user.id
        )));
    }
    if user.holds_admin && !manage_admins {
        return Err(ScimError::forbidden(format!(
            "user `{}` holds admin: SCIM may not change an admin unless `[scim] manage_admins` is on",
            user.id
        )));
    }
    Ok(())
}

/// A new User may not take the email of a person SCIM does not manage:
/// `existing` is the human already holding its email, if any.
pub fn check_create(existing: Option<&Identity>) -> Result<(), ScimError> {
    match existing {
        None => Ok(()),
        Some(person) => Err(ScimError::uniqueness(format!(
            "a person with this email exists (`{}`) and SCIM does not manage them; an admin may link them",
            person.id
        ))),
    }
}

/// The members whose membership a group change touches: those that join
/// and those that leave.
pub fn changed_members(before: &[IdentityId], after: &[IdentityId]) -> Vec<IdentityId> {
    let before: BTreeSet<IdentityId> = before.iter().copied().collect();
    let after: BTreeSet<IdentityId> = after.iter().copied().collect();
    before.symmetric_difference(&after).copied().collect()
}

/// Whether `manager` may be named as the manager of `user` (`None` while
/// the user is being created, so has no id yet). `known` says whether SCIM
/// knows the manager: a user it holds now, or the manager already stored
/// for `user` (kept when that person was deprovisioned since, so a PUT
/// repeating it is not refused).
///
/// RFC 7643 §4.3 leaves it open whether a provider accepts a manager it
/// does not know. gatehouse refuses it (400 `invalidValue`) and stores
/// nothing: Entra and Okta only send managers they provisioned first, and a
/// reference that names nobody would later make a reviewer of no one
/// while looking like one. A person is never their own manager.
pub fn check_manager(user: Option<IdentityId>, manager: IdentityId, known: bool) -> Result<(), ScimError> {
    if user == Some(manager) {
        return Err(ScimError::invalid_value(format!("user `{manager}` cannot be their own manager")));
    }
    if !known {
        return Err(ScimError::invalid_value(format!(
            "manager `{manager}` is not a user SCIM provisioned: provision the manager first"
        )));
    }
    Ok(())
}

/// Why an admin may not link an identity to SCIM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("only people are provisioned over SCIM; `{0}` is a service")]
    NotHuman(IdentityId),
    #[error("`{0}` is deprovisioned")]
    Deprovisioned(IdentityId),
    #[error("`{0}` is already managed by SCIM")]
    AlreadyManaged(IdentityId),
    #[error("`{0}` has no email: give the userName to link it under")]
    UserNameRequired(IdentityId),
    #[error("userName `{0}` must be 1–256 characters")]
    InvalidUserName(String),
}

/// The userName under which an admin links `identity` to SCIM (the one
/// given, else its email), if it may be linked. `current` is how SCIM
/// holds it now, if at all: only an adopted user may be linked again.
pub fn check_link(
    identity: &Identity,
    current: Option<ScimOrigin>,
    user_name: Option<&str>,
) -> Result<String, LinkError> {
    if identity.kind != IdentityKind::Human {
        return Err(LinkError::NotHuman(identity.id));
    }
    if identity.status == IdentityStatus::Deprovisioned {
        return Err(LinkError::Deprovisioned(identity.id));
    }
    if matches!(current, Some(ScimOrigin::Created | ScimOrigin::Linked)) {
        return Err(LinkError::AlreadyManaged(identity.id));
    }
    let name = match user_name.map(str::trim) {
        Some(name) => name.to_owned(),
        None => identity.email.clone().ok_or(LinkError::UserNameRequired(identity.id))?,
    };
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(LinkError::InvalidUserName(name));
    }
    Ok(name)
}
