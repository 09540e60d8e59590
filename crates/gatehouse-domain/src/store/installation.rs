//! Whether gatehouse is initialized, and its first admin.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::audit::AuditRecord;
use crate::grant::NewGrant;
use crate::identity::NewIdentity;
use crate::token::NewToken;

/// What `init` writes: the first admin, their grant and token, the public
/// half of the audit signing key (so a node with another key is noticed)
/// and the audit log's origin (the first line of its checkpoints).
#[derive(Debug, Clone)]
pub struct InitialSetup {
    pub admin: NewIdentity,
    pub admin_grant: NewGrant,
    pub admin_token: NewToken,
    pub audit_public_key: String,
    pub audit_origin: String,
    pub audit: Vec<AuditRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub initialized_at: OffsetDateTime,
    pub audit_public_key: String,
    pub audit_origin: String,
}

#[async_trait]
pub trait InstallationStore: Send + Sync {
    async fn find_installation(&self) -> Result<Option<Installation>, StoreError>;

    /// Writes the first admin. `Conflict` if the database is already
    /// initialized; then nothing is written.
    async fn initialize(&self, setup: InitialSetup) -> Result<Installation, StoreError>;
}
