//! Delegation: what a caller may hand on to others, so that managing grants,
//! identities or tokens never amounts to more than the caller holds (the
//! role-escalation rule). Pure: the caller's and the target's grants are
//! read by the server and passed in.

use time::OffsetDateTime;

use crate::grant::{Grant, Role, Scope};
use crate::identity::IdentityKind;
use crate::ids::IdentityId;

/// Why a delegation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationError {
    #[error("nobody may grant a role to themselves")]
    SelfGrant,
    #[error("only a holder of `{role}` (or `admin`) over a scope covering `{scope}` may hand it on")]
    NotHeld { role: String, scope: String },
    #[error("the target holds `{role}` over `{scope}`, which the caller does not")]
    TargetHoldsMore { role: String, scope: String },
    #[error("only a person who is an admin over `*` may act for another person")]
    NotAdmin,
    #[error("nobody acts for another admin")]
    TargetIsAdmin,
    #[error("only a service identity can be bound to CI jobs")]
    NotAService,
}

/// An identity and its grants (only those of this identity, in force at the
/// instant asked about, count).
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub id: IdentityId,
    pub grants: &'a [Grant],
}

impl<'a> Holder<'a> {
    pub fn new(id: IdentityId, grants: &'a [Grant]) -> Self {
        Self { id, grants }
    }

    fn in_force(&self, now: OffsetDateTime) -> impl Iterator<Item = &'a Grant> + use<'a> {
        let id = self.id;
        self.grants.iter().filter(move |g| g.identity_id == id && g.is_in_force_at(now))
    }

    /// Whether it holds `admin` over `*`.
    pub fn is_admin(&self, now: OffsetDateTime) -> bool {
        self.in_force(now).any(|g| g.role == Role::admin() && g.scope == Scope::Everything)
    }

    /// Whether it holds `admin` over any scope.
    pub fn holds_admin(&self, now: OffsetDateTime) -> bool {
        self.in_force(now).any(|g| g.role == Role::admin())
    }

    /// Whether it holds `role`, or `admin`, over a scope that includes `scope`.
    pub fn may_delegate(&self, role: &Role, scope: &Scope, now: OffsetDateTime) -> bool {
        self.in_force(now).any(|g| (g.role == *role || g.role == Role::admin()) && scope_includes(&g.scope, scope))
    }

    /// Whether it may delegate every grant `target` holds: then acting as
    /// the target (a token, a key, a binding, a reset second factor) gives
    /// nothing the caller lacks.
    pub fn holds_everything_of(&self, target: &Holder<'_>, now: OffsetDateTime) -> Result<(), DelegationError> {
        match target.in_force(now).find(|g| !self.may_delegate(&g.role, &g.scope, now)) {
            None => Ok(()),
            Some(g) => Err(DelegationError::TargetHoldsMore { role: g.role.to_string(), scope: g.scope.to_string() }),
        }
    }
}

/// Whether `outer` reaches everything `inner` does: `*` includes every
/// scope, a project its pipelines and environments, anything else itself.
pub fn scope_includes(outer: &Scope, inner: &Scope) -> bool {
    match inner {
        Scope::Everything => *outer == Scope::Everything,
        Scope::Resource(resource) => outer.covers(resource),
    }
}

/// May `caller` grant `role` over `scope` to `target`? Never to oneself, and
/// only what the caller holds there at that instant.
pub fn check_grant(
    caller: &Holder<'_>,
    target: IdentityId,
    role: &Role,
    scope: &Scope,
    now: OffsetDateTime,
) -> Result<(), DelegationError> {
    if target == caller.id {
        return Err(DelegationError::SelfGrant);
    }
    if !caller.may_delegate(role, scope, now) {
        return Err(DelegationError::NotHeld { role: role.to_string(), scope: scope.to_string() });
    }
    Ok(())
}

/// May `caller` revoke a grant of `role` over `scope`? Only one it could
/// have made; its own grants it may always give up.
pub fn check_revoke(
    caller: &Holder<'_>,
    holder: IdentityId,
    role: &Role,
    scope: &Scope,
    now: OffsetDateTime,
) -> Result<(), DelegationError> {
    if holder == caller.id || caller.may_delegate(role, scope, now) {
        Ok(())
    } else {
        Err(DelegationError::NotHeld { role: role.to_string(), scope: scope.to_string() })
    }
}

/// May `caller` (a `caller_kind`) act as `target` (mint a token for it,
/// manage its signing keys)? A service: when the caller holds everything
/// it holds. Another person: only a person who is an admin over `*` (and so
/// can be asked for a fresh second factor), never for another admin.
/// Oneself: always (other rules, like step-up, still apply).
pub fn check_act_as(
    caller: &Holder<'_>,
    caller_kind: IdentityKind,
    target: &Holder<'_>,
    target_kind: IdentityKind,
    now: OffsetDateTime,
) -> Result<(), DelegationError> {
    if target.id == caller.id {
        return Ok(());
    }
    if target_kind == IdentityKind::Human {
        if caller_kind != IdentityKind::Human || !caller.is_admin(now) {
            return Err(DelegationError::NotAdmin);
        }
        if target.holds_admin(now) {
            return Err(DelegationError::TargetIsAdmin);
        }
    }
    caller.holds_everything_of(target, now)
}

/// May `caller` change `target`'s standing (suspend, reactivate or
/// deprovision it)? Itself: yes here (the handler keeps its own rule against
/// locking oneself out). Anyone else: only when the caller holds everything
/// the target holds, so `identity.manage` never locks out, removes or revives
/// someone holding more than the caller.
pub fn check_manage(caller: &Holder<'_>, target: &Holder<'_>, now: OffsetDateTime) -> Result<(), DelegationError> {
    if target.id == caller.id {
        return Ok(());
    }
    caller.holds_everything_of(target, now)
}

/// May `caller` bind CI jobs to `target`? Only a service identity, and only
/// one whose grants the caller holds.
pub fn check_binding(
    caller: &Holder<'_>,
    target: &Holder<'_>,
    target_kind: IdentityKind,
    now: OffsetDateTime,
) -> Result<(), DelegationError> {
    if target_kind != IdentityKind::Service {
        return Err(DelegationError::NotAService);
    }
    caller.holds_everything_of(target, now)
}

#[cfg(test)]
mod tests;
