//! The vendor record: tier, owners, contract dates, the data it reaches, the
//! logging it commits to, and its status with the moves between statuses.

use time::Date;

use crate::ids::{IdentityId, VendorId};

/// The longest vendor name, in characters.
pub const MAX_VENDOR_NAME_CHARS: usize = 128;
/// The longest description of what a vendor logs, in characters.
pub const MAX_LOGGING_WHAT_CHARS: usize = 1024;

/// A name that is not one of the names a field allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a known {what} (expected one of: {})", .expected.join(", "))]
pub struct UnknownValue {
    pub what: &'static str,
    pub text: String,
    pub expected: &'static [&'static str],
}

/// Declares an enum named by fixed lowercase words, with `as_str`,
/// `FromStr` (refusing any other word with [`UnknownValue`]) and `Display`.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::vendor::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::vendor::UnknownValue {
                        what: $what,
                        text: text.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// How much a vendor matters; each tier names the evidence it requires
    /// and what happens when that evidence lapses.
    VendorTier, "vendor tier", {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
    }
);

named_enum!(
    /// The most sensitive data the vendor's tool reaches.
    DataAccess, "data access level", {
        None => "none",
        Metadata => "metadata",
        Source => "source",
        Secrets => "secrets",
        Production => "production",
    }
);

named_enum!(
    /// Where a vendor stands. Only `approved` and `approved_with_conditions`
    /// let its integrations be in force; `offboarded` is final.
    VendorStatus, "vendor status", {
        Prospect => "prospect",
        Approved => "approved",
        ApprovedWithConditions => "approved_with_conditions",
        Suspended => "suspended",
        Offboarded => "offboarded",
    }
);

impl VendorStatus {
    /// Whether this status lets the vendor's integrations be in force.
    pub fn is_approved(self) -> bool {
        matches!(self, VendorStatus::Approved | VendorStatus::ApprovedWithConditions)
    }
}

/// The contract's dates, ordered `start <= renewal <= end`. The contract is
/// active from `start` through `end`, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contract {
    pub start: Date,
    pub renewal: Date,
    pub end: Date,
}

impl Contract {
    /// Whether the contract is active on `day` (`start <= day <= end`).
    pub fn is_active_on(&self, day: Date) -> bool {
        self.start <= day && day <= self.end
    }
}

/// The logging standard the vendor commits to in its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingCommitment {
    /// What it logs, in the contract's words.
    pub what: String,
    pub retention_days: u32,
    /// Whether its logs are tamper-evident.
    pub tamper_evident: bool,
}

/// A vendor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    pub id: VendorId,
    pub name: String,
    pub tier: VendorTier,
    pub business_owner: Option<IdentityId>,
    pub security_owner: Option<IdentityId>,
    pub contract: Contract,
    pub data_access: DataAccess,
    pub logging: Option<LoggingCommitment>,
    pub status: VendorStatus,
}

/// A vendor as asked for, before it is checked. A new vendor starts as a
/// `prospect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVendor {
    pub name: String,
    pub tier: VendorTier,
    pub business_owner: Option<IdentityId>,
    pub security_owner: Option<IdentityId>,
    pub contract: Contract,
    pub data_access: DataAccess,
    pub logging: Option<LoggingCommitment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VendorError {
    #[error("a vendor name has 1 to {MAX_VENDOR_NAME_CHARS} characters and no control characters")]
    Name,
    #[error(
        "the contract's dates must be ordered start <= renewal <= end (got start {start}, renewal {renewal}, end {end})"
    )]
    ContractOrder { start: Date, renewal: Date, end: Date },
    #[error("the logging commitment says what is logged in 1 to {MAX_LOGGING_WHAT_CHARS} characters")]
    LoggingWhat,
    #[error("a logging retention of 0 days keeps nothing")]
    LoggingRetention,
}

impl NewVendor {
    /// Checks the request and makes the record, a `prospect`.
    pub fn check(self, id: VendorId) -> Result<Vendor, VendorError> {
        let name = self.name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_VENDOR_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(VendorError::Name);
        }
        let Contract { start, renewal, end } = self.contract;
        if !(start <= renewal && renewal <= end) {
            return Err(VendorError::ContractOrder { start, renewal, end });
        }
        if let Some(logging) = &self.logging {
            let what = logging.what.trim();
            if what.is_empty() || what.chars().count() > MAX_LOGGING_WHAT_CHARS {
                return Err(VendorError::LoggingWhat);
            }
            if logging.retention_days == 0 {
                return Err(VendorError::LoggingRetention);
            }
        }
        Ok(Vendor {
            id,
            name: name.to_owned(),
            tier: self.tier,
            business_owner: self.business_owner,
            security_owner: self.security_owner,
            contract: self.contract,
            data_access: self.data_access,
            logging: self.logging,
            status: VendorStatus::Prospect,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("the vendor is already `{0}`")]
    Unchanged(VendorStatus),
    #[error("an offboarded vendor stays offboarded (asked for `{0}`)")]
    Offboarded(VendorStatus),
    #[error("a vendor cannot go from `{from}` to `{to}`")]
    Forbidden { from: VendorStatus, to: VendorStatus },
}

/// The move from one status to another, or why it is refused: a prospect is
/// approved (with or without conditions); an approved vendor is suspended
/// and a suspended one approved again; approval may gain or lose its
/// conditions; any vendor may be offboarded, and that is final.
pub fn transition(from: VendorStatus, to: VendorStatus) -> Result<VendorStatus, StatusError> {
    use VendorStatus::*;
    if from == Offboarded {
        return Err(StatusError::Offboarded(to));
    }
    if from == to {
        return Err(StatusError::Unchanged(to));
    }
    let allowed = matches!(
        (from, to),
        (_, Offboarded)
            | (Prospect | Suspended, Approved | ApprovedWithConditions)
            | (Approved | ApprovedWithConditions, Suspended)
            | (Approved, ApprovedWithConditions)
            | (ApprovedWithConditions, Approved)
    );
    if allowed { Ok(to) } else { Err(StatusError::Forbidden { from, to }) }
}
