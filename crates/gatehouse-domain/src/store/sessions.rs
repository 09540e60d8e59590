//! Browser sessions, and the links between identities and accounts at
//! identity providers.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::ids::{IdentityId, SessionId};
use crate::session::{IdentityLink, NewSession, Session, SessionCredential};
use crate::token::TokenHash;

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session (a login), and links `link` (issuer, subject) to the
    /// identity when given and not linked yet. `Conflict` (and nothing
    /// written) if the identity is already linked to another account, or
    /// the account to another identity.
    async fn create_session(
        &self,
        new: NewSession,
        link: Option<(String, String)>,
        audit: AuditRecord,
    ) -> Result<Session, StoreError>;

    /// The session with this cookie secret, its identity and their grants.
    async fn find_session(&self, hash: &TokenHash) -> Result<Option<SessionCredential>, StoreError>;

    /// Records use, at most once per `granularity`.
    async fn touch_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        granularity: time::Duration,
    ) -> Result<(), StoreError>;

    /// Replaces the cookie secret (rotation at step-up), optionally marking
    /// a second factor verified now.
    async fn rotate_session(
        &self,
        id: SessionId,
        hash: TokenHash,
        mfa_verified_at: Option<OffsetDateTime>,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    /// Ends a session. `NotFound` if unknown or already ended.
    async fn revoke_session(
        &self,
        id: SessionId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Session, StoreError>;

    /// A session by its id (ended or not), to tell whose it is.
    async fn find_session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// An identity's sessions, newest first.
    async fn list_sessions(&self, identity: IdentityId) -> Result<Vec<Session>, StoreError>;

    /// The identity linked to an account at an identity provider.
    async fn find_identity_link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityId>, StoreError>;

    /// The accounts at identity providers linked to the identity.
    async fn list_identity_links(&self, identity: IdentityId) -> Result<Vec<IdentityLink>, StoreError>;
}
