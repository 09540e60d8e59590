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

impl TotpRecord {
    /// Whether the factor is locked at `now` (no code may be evaluated).
    pub fn is_locked_at(&self, now: OffsetDateTime) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// What claiming an attempt at a code found. An attempt is claimed before
/// the code is evaluated, in one atomic step that refuses it while the
/// factor is locked, so of any number of concurrent attempts at most
/// [`FAILURES_BEFORE_LOCK`] are evaluated before the lock holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaAttempt {
    /// Evaluate the code. The attempt already counts as a failure (a right
    /// code clears the count); `locked_until` is set if it reached the
    /// limit.
    Claimed(TotpRecord),
    /// Locked until then: refuse without evaluating the code.
    Locked { until: OffsetDateTime },
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
    fn a_record_is_locked_until_its_lock_ends() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let mut record = TotpRecord {
            identity_id: IdentityId::new(),
            sealed_secret: Vec::new(),
            confirmed_at: None,
            last_step: None,
            failures: 5,
            locked_until: None,
        };
        assert!(!record.is_locked_at(at));
        record.locked_until = Some(at + time::Duration::seconds(1));
        assert!(record.is_locked_at(at));
        assert!(!record.is_locked_at(at + time::Duration::seconds(1)));
    }

    #[test]
    fn locks_start_at_the_fifth_failure_and_double() {
        assert_eq!(lock_for(4), None);
        assert_eq!(lock_for(5), Some(time::Duration::seconds(30)));
        assert_eq!(lock_for(6), Some(time::Duration::seconds(60)));
        assert_eq!(lock_for(40), Some(time::Duration::minutes(15)));
    }
}
