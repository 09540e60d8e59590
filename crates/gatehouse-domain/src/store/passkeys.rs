//! Passkeys: a person's registered credentials and the ceremonies in
//! flight.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{IdentityId, PasskeyId, TokenId};
use crate::passkey::{CeremonyKind, PasskeyCeremony, PasskeyCredential, TakenCeremony};
use crate::token::TokenHash;

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Keeps a started ceremony. Bookkeeping, like an MFA attempt's claim:
    /// no audit entry (its finish is audited). Drops expired ceremonies,
    /// and the person's oldest beyond
    /// [`CEREMONIES_PER_IDENTITY`](crate::passkey::CEREMONIES_PER_IDENTITY).
    async fn passkey_ceremony_begin(&self, ceremony: PasskeyCeremony, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Takes the ceremony with this id hash if it was started by
    /// `identity` through `holder` (a [`CeremonyHolder::key`]) as `kind`:
    /// deletes it and returns it if it was live at `now`, in one atomic
    /// step (of two racing takes, one gets it and the other `Unknown`). An
    /// expired one is deleted and reported `Expired`. Anyone else's
    /// ceremony is `Unknown` and left alone.
    ///
    /// [`CeremonyHolder::key`]: crate::passkey::CeremonyHolder::key
    async fn passkey_ceremony_take(
        &self,
        id_hash: &TokenHash,
        identity: IdentityId,
        holder: &str,
        kind: CeremonyKind,
        now: OffsetDateTime,
    ) -> Result<TakenCeremony, StoreError>;

    /// Registers a passkey. `Conflict::PasskeyRegistered` if its credential
    /// id is registered already.
    async fn passkey_register(
        &self,
        passkey: PasskeyCredential,
        audit: AuditRecord,
    ) -> Result<PasskeyCredential, StoreError>;

    /// The person's passkeys, oldest first.
    async fn passkey_list(&self, identity: IdentityId) -> Result<Vec<PasskeyCredential>, StoreError>;

    /// One of `identity`'s passkeys; `None` if it has no such one (whoever
    /// else's it may be).
    async fn passkey_find(&self, identity: IdentityId, id: PasskeyId) -> Result<Option<PasskeyCredential>, StoreError>;

    /// Renames one of `identity`'s passkeys. `NotFound` if it has no such
    /// one.
    async fn passkey_rename(
        &self,
        identity: IdentityId,
        id: PasskeyId,
        label: String,
        audit: AuditRecord,
    ) -> Result<PasskeyCredential, StoreError>;

    /// Removes one of `identity`'s passkeys. `NotFound` if it has no such
    /// one.
    async fn passkey_remove(&self, identity: IdentityId, id: PasskeyId, audit: AuditRecord) -> Result<(), StoreError>;

    /// A successful authentication with passkey `id`: stores `credential`
    /// (its counter and backup flags after the use) if given, sets its
    /// last use, and marks `token` MFA-verified at `now`. `NotFound` if
    /// the passkey was removed meanwhile.
    #[allow(clippy::too_many_arguments)]
    async fn passkey_used(
        &self,
        identity: IdentityId,
        id: PasskeyId,
        credential: Option<String>,
        token: Option<TokenId>,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;
}
