//! Typed identifiers. Every id is a UUIDv7, so ids sort by creation time and
//! serve as stable pagination cursors.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An id string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid id (expected a UUID)")]
pub struct InvalidId(pub String);

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Hyphenated lowercase: its byte order is the UUIDv7 time order.
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

typed_id!(
    /// A human or service identity.
    IdentityId
);
typed_id!(
    /// An API token (the record, never the secret).
    TokenId
);
typed_id!(
    /// A role granted to an identity over a scope.
    GrantId
);
typed_id!(
    /// A trust binding: which CI jobs act as which service identity.
    TrustBindingId
);
typed_id!(
    /// A public key registered for signing commits and artifacts.
    SigningKeyId
);
typed_id!(
    /// A group of people, as the identity provider keeps it (SCIM).
    GroupId
);
typed_id!(
    /// A rule that members of a group hold a role over a scope.
    GroupMappingId
);
typed_id!(
    /// A person's browser session.
    SessionId
);
typed_id!(
    /// A passkey (WebAuthn credential) a person registered as a second
    /// factor: gatehouse's id, not the authenticator's credential id.
    PasskeyId
);
typed_id!(
    /// One HTTP request, as carried in `X-Request-Id` when the caller sent none.
    RequestId
);
typed_id!(
    /// A request through the approved channel: access, or an action such
    /// as a deployment, waiting for approval.
    ApprovalRequestId
);
typed_id!(
    /// One notification on its way out through the outbox.
    DeliveryId
);
typed_id!(
    /// A vendor of an outside tool wired into the pipeline.
    VendorId
);
typed_id!(
    /// One piece of security evidence (a SOC 2 report, a pen test…) a vendor gave.
    EvidenceId
);
typed_id!(
    /// An outside tool wired into the pipeline: one vendor, one service identity.
    IntegrationId
);
typed_id!(
    /// A waiver of one rule of the API access standard for one integration.
    ExceptionId
);
typed_id!(
    /// An access review campaign: a snapshot of access and the decisions on it.
    CampaignId
);

#[cfg(test)]
mod tests;
