//! Second factors (TOTP) and their recovery codes and throttling.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{IdentityId, TokenId};
use crate::mfa::{MfaAttempt, TotpRecord};

#[async_trait]
pub trait MfaStore: Send + Sync {
    /// Starts (or restarts) TOTP enrollment. `Conflict` if a confirmed
    /// factor exists (an admin resets it first).
    async fn mfa_begin(
        &self,
        identity: IdentityId,
        sealed_secret: Vec<u8>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    async fn mfa_find(&self, identity: IdentityId) -> Result<Option<TotpRecord>, StoreError>;

    /// A good code at `step`: confirms enrollment if `recovery_hashes` are
    /// given (stored), records the step, clears failures and marks `token`
    /// verified now. `Conflict` if the step is not after the last one used
    /// (a replay that raced another request).
    #[allow(clippy::too_many_arguments)]
    async fn mfa_succeed(
        &self,
        identity: IdentityId,
        step: Option<u64>,
        recovery_hashes: Option<Vec<String>>,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    /// Uses a recovery code (by hash) and marks `token` verified now.
    /// `NotFound` if there is no such unused code.
    async fn mfa_use_recovery_code(
        &self,
        identity: IdentityId,
        code_hash: &str,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    /// Claims one attempt at a code, before it is evaluated, atomically on
    /// every node: `Locked` while the factor is locked at `now`; otherwise
    /// the attempt counts as a failure, the factor locks per
    /// `mfa::lock_for` if it reached the limit, and the record after is
    /// returned. `NotFound` if there is no factor. Throttling state, like
    /// token last-use, has no audit entry of its own: the attempt's outcome
    /// is audited by the caller (`mfa_succeed`, `append_audit`).
    async fn mfa_claim_attempt(&self, identity: IdentityId, now: OffsetDateTime) -> Result<MfaAttempt, StoreError>;

    /// Removes every second factor (TOTP with its recovery codes, and
    /// passkeys). `NotFound` if there is none.
    async fn mfa_reset(&self, identity: IdentityId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError>;
}
