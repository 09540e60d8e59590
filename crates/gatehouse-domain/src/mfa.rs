//! A person's second factor as stored: the sealed TOTP secret and the
//! state that guards it (last step used, failures, lock). The TOTP
//! arithmetic and sealing live in the mfa crate.

use time::OffsetDateTime;

use crate::ids::IdentityId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub identity_id: IdentityId,
    pub sealed_secret: Vec<u8>,
    /// `None` while enrollment is unconfirmed.
    pub confirmed_at: Option<OffsetDateTime>,
    pub last_step: Option<u64>,
    pub failures: u32,
    pub locked_until: Option<OffsetDateTime>,
}

/// Throttling: after this many failures in a row, the factor locks, for a
/// period that doubles with each further failure (capped).
pub const FAILURES_BEFORE_LOCK: u32 = 5;
pub const FIRST_LOCK_SECONDS: i64 = 30;
pub const MAX_LOCK_SECONDS: i64 = 15 * 60;

/// How long the factor locks after `failures` failures in a row.
pub fn lock_for(failures: u32) -> Option<time::Duration> {
    if failures < FAILURES_BEFORE_LOCK {
        return None;
    }
    let doublings = (failures - FAILURES_BEFORE_LOCK).min(10);
    Some(time::Duration::seconds((FIRST_LOCK_SECONDS << doublings).min(MAX_LOCK_SECONDS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_at_the_fifth_failure_and_double() {
        assert_eq!(lock_for(4), None);
        assert_eq!(lock_for(5), Some(time::Duration::seconds(30)));
        assert_eq!(lock_for(6), Some(time::Duration::seconds(60)));
        assert_eq!(lock_for(40), Some(time::Duration::minutes(15)));
    }
}
