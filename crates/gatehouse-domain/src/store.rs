//! The storage interface, one trait per area of the domain ([`IdentityStore`],
//! [`TokenStore`], [`AuditLogStore`], ...), combined into [`Store`]. Engines
//! (SQLite, PostgreSQL) implement every area trait; the domain and server
//! never see SQL. Facts about the engine itself (its name, its pool, whether
//! it answers, the credential stamp) are [`StoreEngine`]'s, held beside the
//! store. Callers import [`prelude`] in one line.
//!
//! INVARIANT: every command that changes state takes the
//! [`AuditRecord`](crate::audit::AuditRecord) describing it, and the engine
//! commits the change and the numbered entry in one transaction, or neither.
//!
//! INVARIANT: the store checks no business rule; it keeps only the guards
//! against races (a status changed, a name taken meanwhile) and reports them
//! as a typed [`Conflict`].

mod approvals;
mod audit_log;
mod break_glass;
mod commit_authors;
mod conflict;
mod engine;
mod grants;
mod group_mappings;
mod identities;
mod installation;
mod mfa;
mod outbox;
mod passkeys;
mod reviews;
mod scim_groups;
mod scim_users;
mod sessions;
mod signing_keys;
mod tokens;
mod vendors;
mod webhooks;
mod workload;

pub use approvals::{ApprovalFilter, ApprovalStore, CancelledRequests, VoteOutcome};
pub use audit_log::{AuditFilter, AuditForwarder, AuditLogStore, DurableEntry, StoredCheckpoint, TreeNodeId};
pub use break_glass::BreakGlassStore;
pub use commit_authors::CommitAuthorStore;
pub use conflict::Conflict;
pub use engine::{LeaderLease, PoolStats, SoleNode, StoreEngine};
pub use grants::GrantStore;
pub use group_mappings::GroupMappingStore;
pub use identities::IdentityStore;
pub use installation::{InitialSetup, Installation, InstallationStore};
pub use mfa::MfaStore;
pub use outbox::OutboxStore;
pub use passkeys::PasskeyStore;
pub use reviews::{CampaignFilter, ReviewStore};
pub use scim_groups::ScimGroupStore;
pub use scim_users::ScimUserStore;
pub use sessions::SessionStore;
pub use signing_keys::SigningKeyStore;
pub use tokens::{Credential, TokenFilter, TokenStore};
pub use vendors::VendorStore;
pub use webhooks::WebhookStore;
pub use workload::WorkloadStore;

/// Everything a caller of the store needs in scope, in one line:
/// `use gatehouse_domain::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        ApprovalStore, AuditLogStore, BreakGlassStore, CommitAuthorStore, Conflict, GrantStore, GroupMappingStore,
        IdentityStore, InstallationStore, MfaStore, OpenedStore, OutboxStore, Page, PageRequest, PasskeyStore,
        ReviewStore, ScimGroupStore, ScimUserStore, SessionStore, SigningKeyStore, Store, StoreEngine, StoreError,
        TokenStore, VendorStore, WebhookStore, WorkloadStore,
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness rule or a changed precondition refused the write.
    #[error(transparent)]
    Conflict(#[from] Conflict),
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

/// Declares [`Store`] as every area trait together, and [`Area`] with one
/// variant per area trait, from one list: an area added here is an area the
/// conformance suite must cover (its coverage check matches on [`Area`]).
macro_rules! areas {
    ($($area:ident => $store:ident,)*) => {
        /// The whole storage interface: every area. Implemented for any
        /// type that implements each area trait.
        pub trait Store: $($store +)* Send + Sync {}

        impl<T: $($store +)* Send + Sync + ?Sized> Store for T {}

        /// The areas of the storage interface, one per trait [`Store`]
        /// combines.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Area {
            $($area,)*
        }

        impl Area {
            pub const ALL: &[Area] = &[$(Area::$area,)*];
        }
    };
}

areas! {
    Installation => InstallationStore,
    Identities => IdentityStore,
    Tokens => TokenStore,
    Grants => GrantStore,
    Workload => WorkloadStore,
    Webhooks => WebhookStore,
    SigningKeys => SigningKeyStore,
    ScimUsers => ScimUserStore,
    ScimGroups => ScimGroupStore,
    GroupMappings => GroupMappingStore,
    Mfa => MfaStore,
    Passkeys => PasskeyStore,
    Sessions => SessionStore,
    Approvals => ApprovalStore,
    BreakGlass => BreakGlassStore,
    CommitAuthors => CommitAuthorStore,
    Outbox => OutboxStore,
    Vendors => VendorStore,
    Reviews => ReviewStore,
    AuditLog => AuditLogStore,
}

/// A store as an engine opens it: the domain's [`Store`] and the
/// [`StoreEngine`] under it, in one object that upcasts to either
/// (`Arc<dyn OpenedStore>` into `Arc<dyn Store>` or `Arc<dyn StoreEngine>`).
pub trait OpenedStore: Store + StoreEngine {}

impl<T: Store + StoreEngine + ?Sized> OpenedStore for T {}
