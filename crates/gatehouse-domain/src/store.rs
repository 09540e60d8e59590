//! The storage interface. Engines (SQLite, PostgreSQL) implement [`Store`];
//! the domain and server never see SQL.
//!
//! INVARIANT: every command that changes state takes the [`AuditRecord`]
//! describing it, and the engine commits the change and the numbered entry
//! in one transaction, or neither.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::{AuditEntry, AuditRecord};
use crate::grant::{Grant, NewGrant, Resource};
use crate::identity::{Identity, IdentityStatus, NewIdentity};
use crate::ids::{GrantId, GroupId, GroupMappingId, IdentityId, SessionId, SigningKeyId, TokenId, TrustBindingId};
use crate::mfa::{MfaAttempt, TotpRecord};
use crate::scim::filter::Filter;
use crate::scim::{GroupInput, GroupMapping, ScimGroup, ScimUser, UserInput};
use crate::session::{NewSession, Session, SessionCredential};
use crate::signing::SigningKey;
use crate::token::{ApiToken, NewToken, TokenHash};
use crate::webhook::WebhookDelivery;
use crate::workload::{NewTrustBinding, TrustBinding};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness rule or a changed precondition refused the write.
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound { kind, id: id.to_string() }
    }
}

/// Keyset pagination: items after the cursor `after`, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(Self::DEFAULT_LIMIT)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<String>,
}

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

/// Which audit entries to list. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// A signed checkpoint of the audit log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root: [u8; 32],
    /// The C2SP signed note.
    pub note: String,
    pub created_at: OffsetDateTime,
}

/// A hash of a complete subtree of the audit log's Merkle tree: the node at
/// `level` covering leaves `[index << level, (index + 1) << level)`.
pub type TreeNodeId = (u8, u64);

/// An audit entry as it was made durable, for a forwarder: its index and
/// its leaf, the exact bytes the Merkle tree hashed (the canonical JSON of
/// [`AuditEntry::to_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableEntry {
    pub index: u64,
    pub leaf: Vec<u8>,
}

/// Receives every audit entry once it is durable, e.g. to copy it to a SIEM.
/// It must not block for long: it runs on the commit path.
pub trait AuditForwarder: Send + Sync {
    fn forward(&self, entries: &[DurableEntry]);
}

/// Counts the pool reports for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn engine(&self) -> &'static str;

    fn pool_stats(&self) -> PoolStats;

    /// A number that moves with every committed change to what
    /// authenticates a caller (tokens, identities, grants, second factors,
    /// trust bindings), before the change is acknowledged, as read after
    /// this call began: callers may cache what they read after it, stamped
    /// with it, and serve it while the stamp is unchanged. `None`: nothing
    /// may be cached.
    async fn credential_stamp(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn find_installation(&self) -> Result<Option<Installation>, StoreError>;

    /// Writes the first admin. `Conflict` if the database is already
    /// initialized; then nothing is written.
    async fn initialize(&self, setup: InitialSetup) -> Result<Installation, StoreError>;

    async fn create_identity(&self, new: NewIdentity, audit: AuditRecord) -> Result<Identity, StoreError>;

    async fn find_identity(&self, id: IdentityId) -> Result<Option<Identity>, StoreError>;

    async fn list_identities(&self, page: PageRequest) -> Result<Page<Identity>, StoreError>;

    /// Moves an identity from `from` to `to`. `Conflict` if it is no longer
    /// in `from`. Moving to `Deprovisioned` also revokes every token and
    /// grant it holds, in the same transaction.
    async fn update_identity_status(
        &self,
        id: IdentityId,
        from: IdentityStatus,
        to: IdentityStatus,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<Identity, StoreError>;

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

    async fn create_grant(&self, new: NewGrant, audit: AuditRecord) -> Result<Grant, StoreError>;

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError>;

    /// Grants, oldest first, of one identity or of all.
    async fn list_grants(&self, identity: Option<IdentityId>, page: PageRequest) -> Result<Page<Grant>, StoreError>;

    /// Registers a resource (for the access matrix). `Conflict` if it is
    /// registered already.
    async fn create_resource(
        &self,
        resource: &Resource,
        created_at: OffsetDateTime,
        created_by: Option<IdentityId>,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;

    /// Every registered resource.
    async fn list_resources(&self) -> Result<Vec<Resource>, StoreError>;

    /// `Conflict` if the grant is already revoked.
    async fn revoke_grant(&self, id: GrantId, now: OffsetDateTime, audit: AuditRecord) -> Result<Grant, StoreError>;

    /// Every grant ever given to the identity, in force or not.
    async fn list_grants_of(&self, identity: IdentityId) -> Result<Vec<Grant>, StoreError>;

    /// `Conflict` if the identity is not an active service identity.
    async fn create_trust_binding(&self, new: NewTrustBinding, audit: AuditRecord) -> Result<TrustBinding, StoreError>;

    /// A binding not deleted.
    async fn find_trust_binding(&self, id: TrustBindingId) -> Result<Option<TrustBinding>, StoreError>;

    /// Bindings not deleted, oldest first.
    async fn list_trust_bindings(&self, page: PageRequest) -> Result<Page<TrustBinding>, StoreError>;

    /// The bindings for one issuer (exact match), oldest first: what a CI
    /// token from that issuer is checked against.
    async fn trust_bindings_for_issuer(&self, issuer: &str) -> Result<Vec<TrustBinding>, StoreError>;

    /// Deletes the binding and revokes every token obtained through it.
    /// `NotFound` if there is no such binding (or it is deleted already).
    async fn delete_trust_binding(
        &self,
        id: TrustBindingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<TrustBinding, StoreError>;

    /// Mints the token a CI job's exchange hands out and records the CI
    /// token's use, in one transaction. `None` if that use was recorded
    /// before (a second exchange of the same CI token): then no token and no
    /// entry is written. Uses kept until before `once.used_at` are
    /// forgotten. `Conflict` if the identity is not active.
    async fn create_workload_token(
        &self,
        new: NewToken,
        once: crate::workload_exchange::WorkloadTokenUse,
        audit: AuditRecord,
    ) -> Result<Option<ApiToken>, StoreError>;

    /// Records a webhook delivery with the entries it produced, in one
    /// transaction, and forgets deliveries received before
    /// `delivery.forget_before()`. `Conflict` if the source saw the
    /// delivery id or the body's hash before (a replay), and then nothing
    /// is written.
    async fn record_webhook_delivery(
        &self,
        delivery: WebhookDelivery,
        audit: Vec<AuditRecord>,
    ) -> Result<Vec<u64>, StoreError>;

    /// Registers a signing key. `Conflict` if its fingerprint is registered
    /// already (to anyone) or the identity is deprovisioned.
    async fn create_signing_key(&self, key: SigningKey, audit: AuditRecord) -> Result<SigningKey, StoreError>;

    /// The identity's signing keys, oldest first.
    async fn list_signing_keys(&self, identity: IdentityId) -> Result<Vec<SigningKey>, StoreError>;

    /// Replaces the stored text of a key (e.g. with its revoked version).
    async fn update_signing_key_text(
        &self,
        id: SigningKeyId,
        public_key: String,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError>;

    /// Removes one of the identity's keys. `NotFound` unless it is theirs.
    async fn delete_signing_key(
        &self,
        identity: IdentityId,
        id: SigningKeyId,
        audit: AuditRecord,
    ) -> Result<SigningKey, StoreError>;

    /// The key a signature names, by any of its lookup ids.
    async fn find_signing_key(&self, lookup_ids: &[String]) -> Result<Option<SigningKey>, StoreError>;

    /// The key with this fingerprint.
    async fn find_signing_key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<SigningKey>, StoreError>;

    /// Provisions a person: creates a human identity (with `input.email`,
    /// or none) and its SCIM user, origin `Created`. Never adopts an
    /// existing identity: `Conflict` if the userName or the email is taken.
    /// An inactive user is suspended at once.
    async fn scim_create_user(
        &self,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    async fn scim_find_user(&self, id: IdentityId) -> Result<Option<ScimUser>, StoreError>;

    /// Users matching `filter` (`userName` case-insensitively, `externalId`
    /// or `id` exactly), oldest first: the total, and `count` from the
    /// 1-based `start_index`.
    async fn scim_list_users(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimUser>), StoreError>;

    /// Replaces the user's attributes. Turning `active` off suspends the
    /// identity and revokes every token and grant in the same transaction;
    /// turning it on reactivates a suspended identity.
    async fn scim_update_user(
        &self,
        id: IdentityId,
        input: UserInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    /// Deprovisions the identity (every token and grant revoked) and
    /// forgets the SCIM user, so its userName may be used again.
    async fn scim_delete_user(&self, id: IdentityId, now: OffsetDateTime, audit: AuditRecord)
    -> Result<(), StoreError>;

    /// Makes an existing person SCIM's to change (an admin's explicit link):
    /// a new SCIM user named `user_name` with `attributes`, origin `Linked`,
    /// or a user adopted by email (origin `Adopted`) turned `Linked`.
    /// `Conflict` if SCIM already manages them or the userName is taken.
    async fn scim_link_user(
        &self,
        id: IdentityId,
        user_name: String,
        attributes: serde_json::Map<String, serde_json::Value>,
        linked_by: IdentityId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimUser, StoreError>;

    /// Takes a person out of SCIM's hands, leaving the identity as it is:
    /// forgets the SCIM user and its group memberships, revoking the grants
    /// those groups gave. `NotFound` if SCIM holds no user for them.
    async fn scim_unlink_user(&self, id: IdentityId, now: OffsetDateTime, audit: AuditRecord)
    -> Result<(), StoreError>;

    /// Creates a group. Members must be SCIM users; each gains the grants
    /// the group's mappings give. `Conflict` if the name is taken.
    async fn scim_create_group(
        &self,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError>;

    async fn scim_find_group(&self, id: GroupId) -> Result<Option<ScimGroup>, StoreError>;

    /// Groups, by `displayName` (case-insensitive) or `id` when filtered.
    async fn scim_list_groups(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
    ) -> Result<(u64, Vec<ScimGroup>), StoreError>;

    /// Replaces name and members; grants follow the membership change.
    async fn scim_replace_group(
        &self,
        id: GroupId,
        input: GroupInput,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<ScimGroup, StoreError>;

    /// Deletes the group; its members lose the grants it gave.
    async fn scim_delete_group(&self, id: GroupId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError>;

    /// Adds a mapping; current members gain the grant at once.
    async fn create_group_mapping(&self, mapping: GroupMapping, audit: AuditRecord)
    -> Result<GroupMapping, StoreError>;

    async fn list_group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError>;

    /// Removes a mapping; the grants it gave are revoked.
    async fn delete_group_mapping(
        &self,
        id: GroupMappingId,
        now: OffsetDateTime,
        audit: AuditRecord,
    ) -> Result<GroupMapping, StoreError>;

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

    /// Removes the factor and its recovery codes. `NotFound` if none.
    async fn mfa_reset(&self, identity: IdentityId, now: OffsetDateTime, audit: AuditRecord) -> Result<(), StoreError>;

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
    async fn list_identity_links(&self, identity: IdentityId) -> Result<Vec<crate::session::IdentityLink>, StoreError>;

    /// The active or suspended human identity with this email.
    async fn find_human_by_email(&self, email: &str) -> Result<Option<Identity>, StoreError>;

    /// Appends entries that describe no state change. Returns their indexes.
    async fn append_audit_batch(&self, records: Vec<AuditRecord>) -> Result<Vec<u64>, StoreError>;

    /// Appends an entry that describes no state change (a decision, a failed
    /// authentication). Returns its index.
    async fn append_audit(&self, record: AuditRecord) -> Result<u64, StoreError>;

    /// Entries from index `start` on, at most `limit`.
    async fn list_audit(&self, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Entries matching `filter`, from index `start` on, at most `limit`.
    async fn search_audit(&self, filter: &AuditFilter, start: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The exact leaf bytes of entries from `start` on, at most `limit`.
    async fn list_audit_leaves(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// The number of entries in the log.
    async fn audit_size(&self) -> Result<u64, StoreError>;

    /// The newest signed checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Stored subtree hashes, in the order asked. `NotFound` if one is
    /// missing (the tree is smaller than the request assumes).
    async fn find_tree_nodes(&self, ids: &[TreeNodeId]) -> Result<Vec<[u8; 32]>, StoreError>;
}
