//! Validity in time: whether something dated (a token, a grant, a session,
//! later a vendor's access or a review's deadline) still counts at an
//! instant. The instant always comes from the injectable
//! [`Clock`](crate::clock::Clock), never from the wall clock here, so tests
//! set time instead of sleeping.
//!
//! INVARIANT: expiry counts at its instant. A thing that expires at `t` is
//! valid strictly before `t` and expired from `t` on, everywhere.

use time::{Duration, OffsetDateTime};

/// Where a dated thing stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid, and not about to expire (or never expiring).
    Valid,
    /// Still valid, but expiring within the warning window asked about.
    DueSoon,
    /// Past its expiry instant (or at it).
    Expired,
}

impl Validity {
    /// Whether it still counts: [`Validity::Valid`] or [`Validity::DueSoon`].
    pub fn is_valid(self) -> bool {
        self != Validity::Expired
    }
}

/// Whether something expiring at `expires_at` has expired at `now`: from
/// its expiry instant on.
pub fn is_expired_at(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    now >= expires_at
}

/// Where something expiring at `expires_at` (`None`: never) stands at `now`,
/// warning `due_within` ahead: due soon once `now` is within `due_within` of
/// its expiry. A zero (or negative) window never reports due soon.
pub fn validity_at(expires_at: Option<OffsetDateTime>, now: OffsetDateTime, due_within: Duration) -> Validity {
    match expires_at {
        None => Validity::Valid,
        Some(expiry) if is_expired_at(expiry, now) => Validity::Expired,
        Some(expiry) if due_within.is_positive() && expiry - now <= due_within => Validity::DueSoon,
        Some(_) => Validity::Valid,
    }
}

/// Whether an expiry chosen at `now` lies in the future: an expiry at or
/// before `now` would be born expired.
pub fn is_in_future(at: OffsetDateTime, now: OffsetDateTime) -> bool {
    !is_expired_at(at, now)
}

#[cfg(test)]
mod tests;
