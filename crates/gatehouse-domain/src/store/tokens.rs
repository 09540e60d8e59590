//! API tokens, and the credential (token, owner, grants) authentication reads.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Page, PageRequest, StoreError};
use crate::audit::AuditRecord;
use crate::grant::Grant;
use crate::identity::Identity;
use crate::ids::{IdentityId, TokenId};
use crate::token::{ApiToken, NewToken, TokenHash};

/// Which tokens to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub identity_id: Option<IdentityId>,
}

/// A token found by its hash, with its owner: what authentication needs in
/// one read.
#[derive(Debug, Clone)]
pub struct Credential {
    pub token: ApiToken,
    pub hash: TokenHash,
    pub identity: Identity,
    /// The identity's unrevoked grants (expired ones included: whether a
    /// grant is in force is decided at the decision's instant).
    pub grants: Vec<Grant>,
    /// Whether the identity has a confirmed second factor.
    pub mfa_enrolled: bool,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, new: NewToken, audit: AuditRecord) -> Result<ApiToken, StoreError>;

    async fn find_credential(&self, hash: &TokenHash) -> Result<Option<Credential>, StoreError>;

    async fn find_token(&self, id: TokenId) -> Result<Option<ApiToken>, StoreError>;

    async fn list_tokens(&self, filter: TokenFilter, page: PageRequest) -> Result<Page<ApiToken>, StoreError>;

    /// `Conflict` if the token is already revoked.
    async fn revoke_token(&self, id: TokenId, now: OffsetDateTime, audit: AuditRecord) -> Result<ApiToken, StoreError>;

    /// Records use of a token, at most once per `granularity` (so that
    /// authentication does not cost a write per request). Not audited: it is
    /// bookkeeping, not a change of anyone's access.
    async fn record_token_use(
        &self,
        id: TokenId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError>;
}
