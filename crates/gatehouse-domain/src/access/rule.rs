//! An approval rule: which action on which resources waits for approval,
//! what approval means ([`Requirement`]), who may never count, and the
//! limits (MFA age, how long a request waits, how long access lasts), with
//! the checks a set of rules passes before it replaces the working one.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::str::FromStr;

use time::Duration;

use crate::authorization::Action;
use crate::glob;
use crate::ids::IdentityId;

use super::requirement::{Directory, Pool, Requirement, RequirementError, check_satisfiable};

/// What a rule gates: an action (`deployment.execute`, …) or access
/// requests (a role over a scope for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gated {
    Action(Action),
    Access,
}

impl FromStr for Gated {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "access" {
            return Ok(Gated::Access);
        }
        text.parse().map(Gated::Action).map_err(|_| RuleError::UnknownAction(text.to_owned()))
    }
}

impl fmt::Display for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gated::Action(action) => f.write_str(action.as_str()),
            Gated::Access => f.write_str("access"),
        }
    }
}

/// Who never counts towards a request's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exclusion {
    /// The person asking; every rule excludes them.
    Requester,
    /// Whoever triggered the CI run being deployed.
    TriggeringActor,
    /// The authors of the commits being deployed.
    CommitAuthors,
}

impl Exclusion {
    pub const DEFAULT: [Exclusion; 3] = [Exclusion::Requester, Exclusion::TriggeringActor, Exclusion::CommitAuthors];

    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::Requester => "requester",
            Exclusion::TriggeringActor => "triggering_actor",
            Exclusion::CommitAuthors => "commit_authors",
        }
    }
}

impl FromStr for Exclusion {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Exclusion::DEFAULT
            .into_iter()
            .find(|exclusion| exclusion.as_str() == text)
            .ok_or_else(|| RuleError::UnknownExclusion(text.to_owned()))
    }
}

/// The emergency path: members of `who` get access (or a deployment
/// approval) at once, for `duration`, and someone else must review it
/// within `after_review.within`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub who: Pool,
    pub duration: Duration,
    pub after_review: AfterReview,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterReview {
    pub within: Duration,
    pub need: u32,
    pub pool: Pool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRule {
    pub id: String,
    /// Where two rules cover the same action and resource, the lower order
    /// decides; without orders such a pair is refused.
    pub order: Option<i64>,
    pub gated: Gated,
    /// Scope globs (`environment:*/*:production`).
    pub resources: Vec<String>,
    pub requirement: Requirement,
    pub exclude: BTreeSet<Exclusion>,
    pub approver_mfa_max_age: Duration,
    pub request_ttl: Duration,
    /// Access requests: the longest grant that may be asked for.
    pub max_duration: Option<Duration>,
    pub reason_required: bool,
    /// How many distinct eligible deny votes decide a denial (one by
    /// default).
    pub deny_quorum: u32,
    /// A regular expression the ticket must match (checked by the loader,
    /// which compiles it).
    pub ticket: Option<String>,
    /// Names of the notification targets that hear of this rule's requests.
    pub notify: Vec<String>,
    pub break_glass: Option<BreakGlass>,
}

impl ApprovalRule {
    pub const DEFAULT_MFA_MAX_AGE: Duration = Duration::minutes(5);

    /// Whether this rule covers `gated` on `resource` (a scope string).
    pub fn covers(&self, gated: Gated, resource: &str) -> bool {
        self.gated == gated && self.resources.iter().any(|pattern| glob::matches(pattern, resource))
    }
}

/// The longest durations any rule may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleLimits {
    pub approver_mfa_max_age: Duration,
    pub request_ttl: Duration,
    pub max_duration: Duration,
    pub break_glass_duration: Duration,
    pub after_review_within: Duration,
}

impl Default for RuleLimits {
    fn default() -> Self {
        RuleLimits {
            approver_mfa_max_age: Duration::hours(1),
            request_ttl: Duration::days(30),
            max_duration: Duration::days(90),
            break_glass_duration: Duration::hours(24),
            after_review_within: Duration::days(7),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("`{0}` is not an action (see `gatehouse policy matrix`) or `access`")]
    UnknownAction(String),
    #[error("`{0}` is not an exclusion (expected `requester`, `triggering_actor` or `commit_authors`)")]
    UnknownExclusion(String),
    #[error("rule id `{0}` must be 1 to 64 letters, digits, `-` or `_`")]
    InvalidId(String),
    #[error("rule id `{0}` is used twice")]
    DuplicateId(String),
    #[error("a rule must cover at least one resource")]
    NoResources,
    #[error("`{0}` is not a resource pattern (expected `*`, `**` or `project:…`, `pipeline:…`, `environment:…`)")]
    InvalidResource(String),
    #[error("the requester can never approve their own request: `exclude` must name `requester`")]
    RequesterNotExcluded,
    #[error("`{field}` must be more than zero and at most {limit}, not {value}")]
    DurationOutOfRange { field: &'static str, value: Duration, limit: Duration },
    #[error("`max_duration` is for access requests only")]
    MaxDurationWithoutAccess,
    #[error("rules `{0}` and `{1}` both cover `{2}` on overlapping resources; give them different `order` values")]
    Overlap(String, String, String),
    #[error(transparent)]
    Requirement(#[from] RequirementError),
    #[error("break-glass: nobody is in `{0}`")]
    BreakGlassNobody(Pool),
    #[error("break-glass: the after-review needs someone other than `{0}`, who may break the glass")]
    AfterReviewBySelf(IdentityId),
}

/// What can be checked of one rule on its own: its id, resources,
/// exclusions and durations.
pub fn check_rule(rule: &ApprovalRule, limits: &RuleLimits) -> Vec<RuleError> {
    let mut problems = Vec::new();
    let id_ok = !rule.id.is_empty()
        && rule.id.len() <= 64
        && rule.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        problems.push(RuleError::InvalidId(rule.id.clone()));
    }
    if rule.resources.is_empty() {
        problems.push(RuleError::NoResources);
    }
    for pattern in &rule.resources {
        if !is_resource_pattern(pattern) {
            problems.push(RuleError::InvalidResource(pattern.clone()));
        }
    }
    if !rule.exclude.contains(&Exclusion::Requester) {
        problems.push(RuleError::RequesterNotExcluded);
    }
    let mut within = |field: &'static str, value: Duration, limit: Duration| {
        if value <= Duration::ZERO || value > limit {
            problems.push(RuleError::DurationOutOfRange { field, value, limit });
        }
    };
    within("approver_mfa_max_age", rule.approver_mfa_max_age, limits.approver_mfa_max_age);
    within("request_ttl", rule.request_ttl, limits.request_ttl);
    if let Some(max) = rule.max_duration {
        within("max_duration", max, limits.max_duration);
    }
    if let Some(glass) = &rule.break_glass {
        within("break_glass.duration", glass.duration, limits.break_glass_duration);
        within("break_glass.after_review.within", glass.after_review.within, limits.after_review_within);
    }
    if rule.max_duration.is_some() && rule.gated != Gated::Access {
        problems.push(RuleError::MaxDurationWithoutAccess);
    }
    if let Err(error) = rule.requirement.alternatives() {
        problems.push(error.into());
    }
    problems
}

/// Pairs of rules that cover the same thing without saying which decides:
/// (index of the later rule, the problem).
pub fn check_overlaps(rules: &[ApprovalRule]) -> Vec<(usize, RuleError)> {
    let mut problems = Vec::new();
    let mut ids = HashSet::new();
    for (later, rule) in rules.iter().enumerate() {
        if !ids.insert(rule.id.as_str()) {
            problems.push((later, RuleError::DuplicateId(rule.id.clone())));
        }
        for earlier in &rules[..later] {
            let ordered = matches!((earlier.order, rule.order), (Some(a), Some(b)) if a != b);
            let overlapping = earlier.gated == rule.gated
                && earlier.resources.iter().any(|a| rule.resources.iter().any(|b| glob::overlaps(a, b)));
            if overlapping && !ordered {
                problems.push((later, RuleError::Overlap(earlier.id.clone(), rule.id.clone(), rule.gated.to_string())));
            }
        }
    }
    problems
}

/// What depends on who is in which group or role today: the requirement
/// can be met without any one person, break-glass has someone to use it,
/// and its after-review can be done by someone other than each of them.
pub fn check_rule_against(rule: &ApprovalRule, directory: &dyn Directory) -> Vec<RuleError> {
    let mut problems = Vec::new();
    if let Err(error) = check_satisfiable(&rule.requirement, directory) {
        problems.push(error.into());
    }
    if let Some(glass) = &rule.break_glass {
        let users = directory.members(&glass.who).unwrap_or_default();
        if users.is_empty() {
            problems.push(RuleError::BreakGlassNobody(glass.who.clone()));
        }
        let reviewers = directory.members(&glass.after_review.pool).unwrap_or_default();
        let need = glass.after_review.need as usize;
        if let Some(user) = users.iter().find(|user| reviewers.iter().filter(|r| r != user).count() < need) {
            problems.push(RuleError::AfterReviewBySelf(*user));
        }
    }
    problems
}

fn is_resource_pattern(pattern: &str) -> bool {
    if pattern == "*" || pattern == "**" {
        return true;
    }
    let Some((kind, rest)) = pattern.split_once(':') else { return false };
    matches!(kind, "project" | "pipeline" | "environment")
        && !rest.is_empty()
        && rest.len() <= 512
        && !rest.chars().any(|c| c.is_control() || c.is_whitespace())
}
