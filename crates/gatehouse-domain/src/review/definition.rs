//! What a campaign reviews, who reviews it, for how long, and what happens
//! to what nobody decided.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

use crate::access::Pool;
use crate::glob;
use crate::identity::IdentityKind;
use crate::ids::{IdentityId, IntegrationId, VendorId};

pub const MAX_CAMPAIGN_NAME_CHARS: usize = 200;
pub const MAX_REVIEWERS: usize = 16;
pub const MIN_DURATION: Duration = Duration::hours(1);
pub const MAX_DURATION: Duration = Duration::days(90);
/// Unused this long, an item is recommended for revocation unless the
/// definition says otherwise.
pub const DEFAULT_UNUSED_AFTER: Duration = Duration::days(90);

/// What a review item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    Grant,
    Token,
    SigningKey,
    /// A pipeline configuration change, reviewed by someone other than its authors.
    Change,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] = [ItemKind::Grant, ItemKind::Token, ItemKind::SigningKey, ItemKind::Change];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Grant => "grant",
            ItemKind::Token => "token",
            ItemKind::SigningKey => "signing_key",
            ItemKind::Change => "change",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Which access a campaign snapshots. Role and scope filter grants; the
/// identity filters (kind, one identity, an integration's or a vendor's
/// identities) apply to every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub kinds: BTreeSet<ItemKind>,
    pub role: Option<String>,
    /// A glob over the grant's scope as written (`environment:prod*`, `*`).
    pub scope: Option<String>,
    pub identity_kind: Option<IdentityKind>,
    pub identity: Option<IdentityId>,
    pub integration: Option<IntegrationId>,
    pub vendor: Option<VendorId>,
}

impl Default for Selector {
    fn default() -> Self {
        Self {
            kinds: BTreeSet::from([ItemKind::Grant]),
            role: None,
            scope: None,
            identity_kind: None,
            identity: None,
            integration: None,
            vendor: None,
        }
    }
}

/// One piece of access as the selector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub kind: ItemKind,
    pub identity: IdentityId,
    pub identity_kind: IdentityKind,
    pub role: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub integration: Option<IntegrationId>,
    pub vendor: Option<VendorId>,
}

impl Selector {
    pub fn admits(&self, candidate: &Candidate<'_>) -> bool {
        if !self.kinds.contains(&candidate.kind) {
            return false;
        }
        if self.identity_kind.is_some_and(|kind| kind != candidate.identity_kind)
            || self.identity.is_some_and(|id| id != candidate.identity)
            || self.integration.is_some_and(|id| Some(id) != candidate.integration)
            || self.vendor.is_some_and(|id| Some(id) != candidate.vendor)
        {
            return false;
        }
        if candidate.kind == ItemKind::Grant {
            if self.role.as_deref().is_some_and(|role| Some(role) != candidate.role) {
                return false;
            }
            if let Some(pattern) = &self.scope
                && !candidate.scope.is_some_and(|scope| glob::matches(pattern, scope))
            {
                return false;
            }
        }
        true
    }
}

/// Who reviews an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reviewer {
    Pool(Pool),
    /// Those who may manage grants on a scope covering the item's.
    Owner,
    /// The identity's manager, where the directory names one.
    Manager,
}

impl FromStr for Reviewer {
    type Err = DefinitionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "owner" => Ok(Reviewer::Owner),
            "manager" => Ok(Reviewer::Manager),
            _ => text.parse().map(Reviewer::Pool).map_err(|_| DefinitionError::Reviewer(text.to_owned())),
        }
    }
}

impl fmt::Display for Reviewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reviewer::Pool(pool) => pool.fmt(f),
            Reviewer::Owner => f.write_str("owner"),
            Reviewer::Manager => f.write_str("manager"),
        }
    }
}

/// What an undecided item gets at the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoResponse {
    Keep,
    Revoke,
    /// Suspend the item's identity (every credential stops).
    Suspend,
}

impl NoResponse {
    pub fn as_str(self) -> &'static str {
        match self {
            NoResponse::Keep => "keep",
            NoResponse::Revoke => "revoke",
            NoResponse::Suspend => "suspend",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [NoResponse::Keep, NoResponse::Revoke, NoResponse::Suspend].into_iter().find(|n| n.as_str() == text)
    }
}

/// How often a campaign opens again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recurrence {
    Months(u8),
    Days(u16),
}

impl Recurrence {
    /// The next opening after one at `from`.
    pub fn next_after(self, from: OffsetDateTime) -> OffsetDateTime {
        match self {
            Recurrence::Days(days) => from + Duration::days(i64::from(days)),
            Recurrence::Months(months) => add_months(from, months),
        }
    }

    /// The shortest time between two openings.
    pub fn shortest(self) -> Duration {
        match self {
            Recurrence::Days(days) => Duration::days(i64::from(days)),
            Recurrence::Months(months) => Duration::days(28 * i64::from(months)),
        }
    }
}

impl FromStr for Recurrence {
    type Err = DefinitionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || DefinitionError::Recurrence(text.to_owned());
        match text {
            "monthly" => return Ok(Recurrence::Months(1)),
            "quarterly" => return Ok(Recurrence::Months(3)),
            "half-yearly" => return Ok(Recurrence::Months(6)),
            "yearly" => return Ok(Recurrence::Months(12)),
            _ => {}
        }
        let days = text.strip_suffix('d').ok_or_else(bad)?;
        let days: u16 = days.parse().map_err(|_| bad())?;
        if !(1..=366).contains(&days) {
            return Err(bad());
        }
        Ok(Recurrence::Days(days))
    }
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recurrence::Months(1) => f.write_str("monthly"),
            Recurrence::Months(3) => f.write_str("quarterly"),
            Recurrence::Months(6) => f.write_str("half-yearly"),
            Recurrence::Months(12) => f.write_str("yearly"),
            Recurrence::Months(n) => write!(f, "{}d", u16::from(*n) * 30),
            Recurrence::Days(n) => write!(f, "{n}d"),
        }
    }
}

fn add_months(from: OffsetDateTime, months: u8) -> OffsetDateTime {
    let total = i32::from(u8::from(from.month())) - 1 + i32::from(months);
    let year = from.year() + total.div_euclid(12);
    let month = time::Month::try_from((total.rem_euclid(12) + 1) as u8).unwrap_or(time::Month::January);
    let last_day = time::util::days_in_month(month, year);
    let day = from.day().min(last_day);
    time::Date::from_calendar_date(year, month, day).map(|date| from.replace_date(date)).unwrap_or(from)
}

/// A campaign definition: from the policy folder's `reviews.toml`, the API,
/// or a trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDefinition {
    pub name: String,
    pub selector: Selector,
    pub reviewers: Vec<Reviewer>,
    /// Who reviews an item none of `reviewers` may review.
    pub fallback: Pool,
    pub duration: Duration,
    pub recurrence: Option<Recurrence>,
    /// `None`: keep, except revoke for privileged items.
    pub on_no_response: Option<NoResponse>,
    /// Reviewers of a second stage, for privileged items only; empty for none.
    pub second_stage: Vec<Reviewer>,
    pub unused_after: Duration,
}

impl CampaignDefinition {
    pub fn new(name: impl Into<String>, reviewers: Vec<Reviewer>, fallback: Pool, duration: Duration) -> Self {
        Self {
            name: name.into(),
            selector: Selector::default(),
            reviewers,
            fallback,
            duration,
            recurrence: None,
            on_no_response: None,
            second_stage: Vec::new(),
            unused_after: DEFAULT_UNUSED_AFTER,
        }
    }

    /// What an undecided item gets at the deadline.
    pub fn default_for(&self, privileged: bool) -> NoResponse {
        match self.on_no_response {
            Some(choice) => choice,
            None if privileged => NoResponse::Revoke,
            None => NoResponse::Keep,
        }
    }

    pub fn check(&self) -> Result<(), DefinitionError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_CAMPAIGN_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(DefinitionError::Name);
        }
        if self.reviewers.is_empty() || self.reviewers.len() > MAX_REVIEWERS {
            return Err(DefinitionError::Reviewers);
        }
        if self.second_stage.len() > MAX_REVIEWERS {
            return Err(DefinitionError::Reviewers);
        }
        if self.second_stage.iter().any(|second| self.reviewers.contains(second)) {
            return Err(DefinitionError::SecondStageNotDistinct);
        }
        if self.duration < MIN_DURATION || self.duration > MAX_DURATION {
            return Err(DefinitionError::Duration);
        }
        if let Some(recurrence) = self.recurrence
            && recurrence.shortest() < self.duration
        {
            return Err(DefinitionError::RecurrenceShorterThanDuration);
        }
        if self.selector.kinds.is_empty() {
            return Err(DefinitionError::NoKinds);
        }
        if self.unused_after < Duration::days(1) || self.unused_after > Duration::days(3660) {
            return Err(DefinitionError::UnusedAfter);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("name must be 1 to {MAX_CAMPAIGN_NAME_CHARS} characters without control characters")]
    Name,
    #[error("reviewers must name 1 to {MAX_REVIEWERS} reviewers")]
    Reviewers,
    #[error("`{0}` is not a reviewer (expected `owner`, `manager`, `role:NAME`, `group:NAME` or `identity:ID`)")]
    Reviewer(String),
    #[error("fallback is required: a `role:NAME`, `group:NAME` or `identity:ID` who reviews what nobody else may")]
    Fallback,
    #[error("second_stage reviewers must be distinct from the first stage's")]
    SecondStageNotDistinct,
    #[error("duration must be between 1h and 90d")]
    Duration,
    #[error(
        "`{0}` is not a recurrence (expected monthly, quarterly, half-yearly, yearly or a number of days such as `30d`)"
    )]
    Recurrence(String),
    #[error("recurrence must not be shorter than the duration")]
    RecurrenceShorterThanDuration,
    #[error("scope.kinds must name at least one of grant, token, signing_key")]
    NoKinds,
    #[error("unused_after must be between 1d and 3660d")]
    UnusedAfter,
}
