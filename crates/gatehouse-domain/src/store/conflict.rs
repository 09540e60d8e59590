//! Why the store refused a write that would break a uniqueness rule or whose
//! precondition changed under it: one variant per case, so callers decide
//! by kind and people read the sentence [`Display`](std::fmt::Display)
//! gives (the same sentence the API has always shown).

use crate::access::RequestState;
use crate::identity::IdentityStatus;
use crate::ids::{ApprovalRequestId, CampaignId, ExceptionId, GrantId, IdentityId, IntegrationId, TokenId, VendorId};
use crate::vendor::VendorStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("the database is already initialized")]
    AlreadyInitialized,
    /// A human identity (active or suspended) has this email already.
    #[error("a human identity with email `{email}` already exists")]
    EmailTaken { email: String },
    /// An identity without an email (a service) has this name already.
    #[error("a service identity named `{name}` already exists")]
    ServiceNameTaken { name: String },
    /// Reactivating would give two identities one email or name.
    #[error("another active identity already uses the email or name of `{id}`")]
    NameOrEmailInUse { id: IdentityId },
    /// The identity's status changed since the caller read it.
    #[error("identity `{id}` is {current}, not {expected}")]
    StatusChanged { id: IdentityId, current: IdentityStatus, expected: IdentityStatus },
    /// A token can be minted only for an active identity.
    #[error("identity `{id}` is {status}")]
    OwnerNotActive { id: IdentityId, status: IdentityStatus },
    /// A trust binding can bind only an active identity.
    #[error("identity `{id}` is not active")]
    IdentityNotActive { id: IdentityId },
    /// Nothing new may be given to a deprovisioned identity.
    #[error("identity `{id}` is deprovisioned")]
    IdentityDeprovisioned { id: IdentityId },
    /// A deprovisioned identity is gone for good.
    #[error("identity `{id}` is deprovisioned and cannot be reactivated")]
    CannotReactivate { id: IdentityId },
    /// CI jobs act as service identities only.
    #[error("identity `{id}` is a person; CI jobs act as service identities")]
    BindingToPerson { id: IdentityId },
    #[error("a token with this secret already exists")]
    TokenSecretTaken,
    #[error("token `{id}` is already revoked")]
    TokenAlreadyRevoked { id: TokenId },
    #[error("grant `{id}` is already revoked")]
    GrantAlreadyRevoked { id: GrantId },
    /// `resource` is the resource's text form (`project:acme/web`).
    #[error("`{resource}` is registered already")]
    ResourceRegistered { resource: String },
    #[error("key `{fingerprint}` is registered already (one key, one identity)")]
    SigningKeyRegistered { fingerprint: String },
    /// The provider sent a delivery id it sent before.
    #[error("{source_name} delivery `{delivery_id}` was received before; replays are refused")]
    WebhookReplayed { source_name: String, delivery_id: String },
    /// The provider sent, under a new delivery id, a body it sent before.
    #[error("{source_name} delivery `{delivery_id}` repeats the body of delivery `{earlier}`; replays are refused")]
    WebhookBodyReplayed { source_name: String, delivery_id: String, earlier: String },
    #[error("userName `{user_name}` is taken")]
    UserNameTaken { user_name: String },
    /// A SCIM user's email belongs to another person.
    #[error("another person already has the email `{email}`")]
    PersonEmailTaken { email: String },
    /// A SCIM user whose name is not a valid identity name; the sentence
    /// is the identity rule's.
    #[error("{reason}")]
    InvalidPerson { reason: String },
    #[error("identity `{id}` is already managed by SCIM")]
    AlreadyManagedByScim { id: IdentityId },
    #[error("a group named `{display_name}` exists")]
    GroupNameTaken { display_name: String },
    #[error("group `{group}` already maps to {role} on {scope}")]
    MappingExists { group: String, role: String, scope: String },
    #[error("identity `{id}` is linked to another account at the identity provider")]
    LinkedElsewhere { id: IdentityId },
    #[error("a second factor is enrolled already; an admin can reset it")]
    FactorEnrolled,
    /// A replay of a TOTP code that raced another request.
    #[error("this code was used already; wait for the next one")]
    CodeUsed,
    /// An authenticator's credential id is registered already (to anyone).
    #[error("this passkey is registered already")]
    PasskeyRegistered,
    /// A run (and environment) has one open (pending or approved) request
    /// at a time; `key` is the run's [`BindingKey`](crate::access::BindingKey).
    #[error("an open request for this run exists already (`{key}`)")]
    RequestOpenForRun { key: String },
    /// The request's state moved since the caller read it.
    #[error("request `{id}` is {current}, not {expected}")]
    RequestStateChanged { id: ApprovalRequestId, expected: RequestState, current: RequestState },
    /// What the request asks changed since the voter was shown it.
    #[error("request `{id}` changed since it was shown; look again before voting")]
    RequestDigestChanged { id: ApprovalRequestId },
    /// Another vote or a withdrawal came in since the caller tallied.
    #[error("request `{id}` received another vote meanwhile; try again")]
    RequestRevised { id: ApprovalRequestId },
    /// One live vote per person per request.
    #[error("you already voted on request `{id}`")]
    AlreadyVoted { id: ApprovalRequestId },
    /// One after-review per person per break-glass request.
    #[error("you reviewed break-glass request `{id}` already")]
    AlreadyReviewed { id: ApprovalRequestId },
    /// Another review came in (or it was raised as overdue) since the
    /// caller read the after-review.
    #[error("the after-review of request `{id}` changed meanwhile; try again")]
    AfterReviewRevised { id: ApprovalRequestId },
    /// Vendor names are unique, without case.
    #[error("a vendor named `{name}` exists")]
    VendorNameTaken { name: String },
    #[error("vendor `{id}` is {current}, not {expected}")]
    VendorStatusChanged { id: VendorId, expected: VendorStatus, current: VendorStatus },
    /// One service identity serves one integration at a time.
    #[error("identity `{identity}` already serves integration `{integration}`")]
    IdentityIntegrated { identity: IdentityId, integration: IntegrationId },
    /// The integration's state or noted compliance moved since the caller read it.
    #[error("integration `{id}` changed meanwhile; try again")]
    IntegrationChanged { id: IntegrationId },
    #[error("exception `{id}` is granted already")]
    ExceptionGranted { id: ExceptionId },
    #[error("review item {item} of campaign `{campaign}` was decided meanwhile; read it again")]
    ReviewItemChanged { campaign: CampaignId, item: u32 },
    #[error("campaign `{id}` is not open")]
    CampaignNotOpen { id: CampaignId },
    /// A uniqueness rule no case above names; `detail` is the database's.
    #[error("a unique constraint refused the write: {detail}")]
    Unique { detail: String },
}
