//! One piece of access under review, as snapshotted when its campaign
//! opened, and the recommendation shown beside it.

use time::{Duration, OffsetDateTime};

use crate::ids::IdentityId;

use super::definition::ItemKind;

/// What the snapshot suggests for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Advice {
    Keep,
    Revoke,
}

impl Advice {
    pub fn as_str(self) -> &'static str {
        match self {
            Advice::Keep => "keep",
            Advice::Revoke => "revoke",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "keep" => Some(Advice::Keep),
            "revoke" => Some(Advice::Revoke),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    pub advice: Advice,
    pub reason: String,
}

/// The recommendation for access granted at `granted_at` and last used at
/// `last_used_at`, as of `now`: revoke what has gone unused for
/// `unused_after` (or was never used in that long), keep the rest.
pub fn recommend(
    granted_at: OffsetDateTime,
    last_used_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    unused_after: Duration,
) -> Recommendation {
    let days = unused_after.whole_days();
    match last_used_at {
        Some(used) if now - used >= unused_after => {
            Recommendation { advice: Advice::Revoke, reason: format!("unused for {} days", (now - used).whole_days()) }
        }
        Some(used) => Recommendation {
            advice: Advice::Keep,
            reason: format!("used {} days ago", (now - used).whole_days().max(0)),
        },
        None if now - granted_at >= unused_after => {
            Recommendation { advice: Advice::Revoke, reason: format!("never used in {days} days") }
        }
        None => Recommendation { advice: Advice::Keep, reason: format!("granted less than {days} days ago") },
    }
}

/// An item of a campaign's snapshot. Its number is its place in the
/// snapshot; reviewers are resolved when the campaign opens and never
/// include the item's own identity or, for a change, its authors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    pub number: u32,
    pub kind: ItemKind,
    /// The grant, token or signing key id; for a change, `before..after`.
    pub target: String,
    pub identity: IdentityId,
    pub identity_name: String,
    pub role: Option<String>,
    pub scope: Option<String>,
    pub granted_by: Option<IdentityId>,
    pub granted_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub privileged: bool,
    pub recommendation: Recommendation,
    /// For a change: who wrote it (besides `identity`, who pushed it).
    pub authors: Vec<IdentityId>,
    pub reviewers: Vec<IdentityId>,
    /// Empty when the item has no second stage.
    pub second_reviewers: Vec<IdentityId>,
}

impl ReviewItem {
    /// Whether `who` is the item's subject: its identity or an author.
    pub fn is_subject(&self, who: IdentityId) -> bool {
        self.identity == who || self.authors.contains(&who)
    }

    pub fn stages(&self) -> u8 {
        if self.second_reviewers.is_empty() { 1 } else { 2 }
    }

    pub fn reviewers_of(&self, stage: u8) -> &[IdentityId] {
        if stage == 2 { &self.second_reviewers } else { &self.reviewers }
    }
}
