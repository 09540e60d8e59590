//! The API access standard an integration must meet, and the check of one
//! integration's declared access against it. Pure logic: the standard is
//! parsed by the policy crate (`vendor-access.toml`), the facts gatehouse
//! observed itself are handed in, and so is the instant.
//!
//! A check returns one [`Finding`] per failed rule; a finding is waived only
//! by a live [`Exception`] (a reason, an approver who is not the requester,
//! at most [`MAX_EXCEPTION_LIFETIME`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::{Date, Duration, OffsetDateTime};

use crate::ids::IdentityId;
use crate::span::format_duration;

/// How an integration reaches the pipeline's APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessMethod {
    GithubApp,
    OidcWorkload,
    GatehouseToken,
    ClassicPat,
    /// An OAuth app acting as the user who authorized it.
    OauthAppAsUser,
    FineGrainedPat,
    DeployKey,
    StaticApiKey,
}

impl AccessMethod {
    pub const ALL: [AccessMethod; 8] = [
        Self::GithubApp,
        Self::OidcWorkload,
        Self::GatehouseToken,
        Self::ClassicPat,
        Self::OauthAppAsUser,
        Self::FineGrainedPat,
        Self::DeployKey,
        Self::StaticApiKey,
    ];

    /// The name in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GithubApp => "github_app",
            Self::OidcWorkload => "oidc_workload",
            Self::GatehouseToken => "gatehouse_token",
            Self::ClassicPat => "classic_pat",
            Self::OauthAppAsUser => "oauth_app",
            Self::FineGrainedPat => "fine_grained_pat",
            Self::DeployKey => "deploy_key",
            Self::StaticApiKey => "static_api_key",
        }
    }

    /// A long-lived secret someone holds: what the IP allow-list and secret
    /// age rules are about.
    pub fn is_static(self) -> bool {
        matches!(self, Self::ClassicPat | Self::FineGrainedPat | Self::DeployKey | Self::StaticApiKey)
    }
}

impl fmt::Display for AccessMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccessMethod {
    type Err = StandardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|method| method.as_str() == text)
            .ok_or_else(|| StandardError::UnknownMethod(text.to_owned()))
    }
}

/// How much a permission lets its holder do; `admin` includes `write`,
/// which includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PermissionLevel {
    Read,
    Write,
    Admin,
}

impl PermissionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// `name:level`, e.g. `contents:read` or `administration:write`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub name: String,
    pub level: PermissionLevel,
}

impl Permission {
    /// Whether holding `self` grants at least what `other` names (same
    /// name, level at or above).
    pub fn reaches(&self, other: &Permission) -> bool {
        self.name == other.name && self.level >= other.level
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.level.as_str())
    }
}

impl FromStr for Permission {
    type Err = StandardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || StandardError::InvalidPermission(text.to_owned());
        let (name, level) = text.split_once(':').ok_or_else(invalid)?;
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !name_ok {
            return Err(invalid());
        }
        let level = match level {
            "read" => PermissionLevel::Read,
            "write" => PermissionLevel::Write,
            "admin" => PermissionLevel::Admin,
            _ => return Err(invalid()),
        };
        Ok(Self { name: name.to_owned(), level })
    }
}

/// What a tier's integrations suffer when its vendor's compliance lapses
/// (the same words as `compliance::LapseAction`).
pub use super::compliance::LapseAction as OnLapse;

/// The organization's API access standard (`vendor-access.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessStandard {
    /// The methods an integration may use; empty allows every method not
    /// forbidden.
    pub allowed_methods: Vec<AccessMethod>,
    pub forbidden_methods: Vec<AccessMethod>,
    pub max_token_lifetime: Duration,
    pub max_refresh_token_lifetime: Duration,
    /// Held at this level or above, a finding (`administration:write` also
    /// catches `administration:admin`).
    pub forbidden_permissions: Vec<Permission>,
    /// Integrations must name their repositories, never `all`.
    pub repository_selection_selected_only: bool,
    pub webhook_signing_required: bool,
    pub max_secret_age: Duration,
    /// Static credentials ([`AccessMethod::is_static`]) need an IP allow-list.
    pub ip_allowlist_for_static: bool,
    /// Tier name (`critical`, `high`, `medium`, `low`) → evidence kinds it
    /// requires (`soc2`, `bridge_letter`, `pentest`, `dpa`, `questionnaire`,
    /// `certificate`).
    pub tier_evidence: BTreeMap<String, Vec<String>>,
    /// Tier name → what a lapse does.
    pub on_lapse: BTreeMap<String, OnLapse>,
    /// The notification targets (`[notify.NAME]`) told of evidence due
    /// soon or expired, lapses, restorations and expired exceptions; none
    /// by default.
    pub notify: Vec<String>,
}

impl AccessStandard {
    pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::hours(1);
    pub const DEFAULT_MAX_REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
    pub const DEFAULT_MAX_SECRET_AGE: Duration = Duration::days(90);
    pub const TIERS: [&'static str; 4] = ["critical", "high", "medium", "low"];
    pub const EVIDENCE_KINDS: [&'static str; 6] =
        ["soc2", "bridge_letter", "pentest", "dpa", "questionnaire", "certificate"];
}

impl Default for AccessStandard {
    /// The example standard: GitHub Apps, OIDC workload identity and
    /// gatehouse tokens allowed; classic PATs and OAuth apps acting as a user
    /// forbidden; no administration, secrets or workflows write; selected
    /// repositories; signed webhooks; IP allow-lists for static secrets.
    fn default() -> Self {
        let permission = |name: &str| Permission { name: name.to_owned(), level: PermissionLevel::Write };
        let kinds = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        Self {
            allowed_methods: vec![AccessMethod::GithubApp, AccessMethod::OidcWorkload, AccessMethod::GatehouseToken],
            forbidden_methods: vec![AccessMethod::ClassicPat, AccessMethod::OauthAppAsUser],
            max_token_lifetime: Self::DEFAULT_MAX_TOKEN_LIFETIME,
            max_refresh_token_lifetime: Self::DEFAULT_MAX_REFRESH_TOKEN_LIFETIME,
            forbidden_permissions: vec![permission("administration"), permission("secrets"), permission("workflows")],
            repository_selection_selected_only: true,
            webhook_signing_required: true,
            max_secret_age: Self::DEFAULT_MAX_SECRET_AGE,
            ip_allowlist_for_static: true,
            tier_evidence: BTreeMap::from([
                ("critical".to_owned(), kinds(&["soc2", "pentest", "dpa"])),
                ("high".to_owned(), kinds(&["soc2", "dpa"])),
                ("medium".to_owned(), kinds(&["questionnaire", "dpa"])),
                ("low".to_owned(), kinds(&["questionnaire"])),
            ]),
            on_lapse: BTreeMap::from([
                ("critical".to_owned(), OnLapse::Suspend),
                ("high".to_owned(), OnLapse::DenyGate),
                ("medium".to_owned(), OnLapse::DenyGate),
                ("low".to_owned(), OnLapse::Flag),
            ]),
            notify: Vec::new(),
        }
    }
}

/// Which repositories an integration reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repositories {
    All,
    Selected(Vec<String>),
}

/// What an integration says about its access, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredAccess {
    pub method: AccessMethod,
    /// `name:read|write|admin`, checked by [`check_integration`].
    pub permissions: Vec<String>,
    pub repositories: Repositories,
    /// `None`: its tokens do not expire.
    pub token_lifetime: Option<Duration>,
    /// `None`: it has no refresh token.
    pub refresh_token_lifetime: Option<Duration>,
    pub webhook_signed: bool,
    pub ip_allowlist: Vec<String>,
    pub mtls: bool,
    pub secret_rotated_on: Option<Date>,
}

/// What gatehouse itself saw of an integration; where it holds a fact, the
/// check uses it instead of the declaration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The longest lifetime among the tokens gatehouse issued to it.
    pub max_issued_token_lifetime: Option<Duration>,
    /// Whether the webhooks gatehouse verified for it were signed.
    pub webhook_signatures_verified: Option<bool>,
}

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// One of [`RULES`].
    pub rule: &'static str,
    pub expected: String,
    pub found: String,
}

pub const RULE_METHOD: &str = "access_method";
pub const RULE_TOKEN_LIFETIME: &str = "token_lifetime";
pub const RULE_REFRESH_TOKEN_LIFETIME: &str = "refresh_token_lifetime";
pub const RULE_FORBIDDEN_PERMISSIONS: &str = "forbidden_permissions";
pub const RULE_REPOSITORY_SELECTION: &str = "repository_selection";
pub const RULE_WEBHOOK_SIGNING: &str = "webhook_signing";
pub const RULE_SECRET_AGE: &str = "secret_age";
pub const RULE_IP_ALLOWLIST: &str = "ip_allowlist";

/// Every rule [`check_integration`] applies, in the order it reports them
/// (a report can show the passing ones as `ok`).
pub const RULES: [&str; 8] = [
    RULE_METHOD,
    RULE_TOKEN_LIFETIME,
    RULE_REFRESH_TOKEN_LIFETIME,
    RULE_FORBIDDEN_PERMISSIONS,
    RULE_REPOSITORY_SELECTION,
    RULE_WEBHOOK_SIGNING,
    RULE_SECRET_AGE,
    RULE_IP_ALLOWLIST,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    #[error(
        "unknown access method `{0}` (expected `github_app`, `oidc_workload`, `gatehouse_token`, `classic_pat`, \
         `oauth_app`, `fine_grained_pat`, `deploy_key` or `static_api_key`)"
    )]
    UnknownMethod(String),
    #[error("`{0}` is not a permission (expected `name:read`, `name:write` or `name:admin`)")]
    InvalidPermission(String),
}

fn lifetime_text(lifetime: Option<Duration>) -> String {
    lifetime.map_or_else(|| "never expires".to_owned(), format_duration)
}

/// Compares one integration with the standard at `at`: one finding per
/// failed rule, none when it complies. A permission that does not parse,
/// an error: the declaration is refused, not judged.
pub fn check_integration(
    declared: &DeclaredAccess,
    standard: &AccessStandard,
    observed: &Observed,
    at: OffsetDateTime,
) -> Result<Vec<Finding>, StandardError> {
    let permissions: Vec<Permission> =
        declared.permissions.iter().map(|text| text.parse()).collect::<Result<_, _>>()?;
    let mut findings = Vec::new();
    let mut fail = |rule: &'static str, expected: String, found: String| {
        findings.push(Finding { rule, expected, found });
    };
    let method = declared.method;
    let forbidden = standard.forbidden_methods.contains(&method);
    let not_allowed = !standard.allowed_methods.is_empty() && !standard.allowed_methods.contains(&method);
    if forbidden || not_allowed {
        let expected = if standard.allowed_methods.is_empty() {
            format!("none of {}", list(&standard.forbidden_methods))
        } else {
            format!("one of {}", list(&standard.allowed_methods))
        };
        let found = if forbidden { format!("{method} (forbidden)") } else { format!("{method} (not allowed)") };
        fail(RULE_METHOD, expected, found);
    }

    // gatehouse's own record of what it issued outranks the declaration.
    let lifetime = observed.max_issued_token_lifetime.or(declared.token_lifetime);
    if lifetime.is_none_or(|lifetime| lifetime > standard.max_token_lifetime) {
        let source = if observed.max_issued_token_lifetime.is_some() { " (issued)" } else { "" };
        fail(
            RULE_TOKEN_LIFETIME,
            format!("at most {}", format_duration(standard.max_token_lifetime)),
            format!("{}{source}", lifetime_text(lifetime)),
        );
    }
    if let Some(refresh) = declared.refresh_token_lifetime
        && refresh > standard.max_refresh_token_lifetime
    {
        fail(
            RULE_REFRESH_TOKEN_LIFETIME,
            format!("at most {}", format_duration(standard.max_refresh_token_lifetime)),
            format_duration(refresh),
        );
    }

    let held: Vec<String> = permissions
        .iter()
        .filter(|held| standard.forbidden_permissions.iter().any(|forbidden| held.reaches(forbidden)))
        .map(ToString::to_string)
        .collect();
    if !held.is_empty() {
        fail(RULE_FORBIDDEN_PERMISSIONS, format!("none of {}", list(&standard.forbidden_permissions)), held.join(", "));
    }

    if standard.repository_selection_selected_only && declared.repositories == Repositories::All {
        fail(RULE_REPOSITORY_SELECTION, "selected".into(), "all".into());
    }

    if standard.webhook_signing_required {
        let signed = observed.webhook_signatures_verified.unwrap_or(declared.webhook_signed);
        if !signed {
            let found = if observed.webhook_signatures_verified.is_some() { "unsigned (verified)" } else { "unsigned" };
            fail(RULE_WEBHOOK_SIGNING, "signed".into(), found.into());
        }
    }

    let expected_age = || format!("rotated within {}", format_duration(standard.max_secret_age));
    match declared.secret_rotated_on {
        Some(rotated) => {
            let age = at.date() - rotated;
            if age > standard.max_secret_age {
                fail(RULE_SECRET_AGE, expected_age(), format!("rotated {rotated} ({} ago)", format_duration(age)));
            }
        }
        None if method.is_static() => fail(RULE_SECRET_AGE, expected_age(), "no rotation date".into()),
        None => {}
    }

    if standard.ip_allowlist_for_static && method.is_static() && declared.ip_allowlist.is_empty() {
        fail(RULE_IP_ALLOWLIST, format!("an IP allow-list for {method}"), "none".into());
    }
    Ok(findings)
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The longest an exception may last.
pub const MAX_EXCEPTION_LIFETIME: Duration = Duration::days(90);

/// A waiver of one rule for one integration, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The [`Finding::rule`] it waives.
    pub rule: String,
    pub reason: String,
    pub requested_by: IdentityId,
    pub approved_by: IdentityId,
    pub expires_at: OffsetDateTime,
}

impl Exception {
    /// Whether it waives `finding` at `now`: same rule, not yet expired.
    pub fn covers(&self, finding: &Finding, now: OffsetDateTime) -> bool {
        self.rule == finding.rule && now < self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExceptionError {
    #[error("unknown rule `{0}`")]
    UnknownRule(String),
    #[error("an exception needs a reason")]
    MissingReason,
    #[error("an exception cannot be approved by the person who requested it")]
    SelfApproval,
    #[error("an exception must expire after it is granted, not at {0}")]
    AlreadyExpired(OffsetDateTime),
    #[error("an exception may last at most 90 days, this one lasts {0}")]
    TooLong(String),
}

/// Whether `exception` may be granted at `now`.
pub fn check_exception(exception: &Exception, now: OffsetDateTime) -> Result<(), ExceptionError> {
    check_exception_terms(&exception.rule, &exception.reason, exception.expires_at, now)?;
    if exception.approved_by == exception.requested_by {
        return Err(ExceptionError::SelfApproval);
    }
    Ok(())
}

/// Whether an exception of `rule` for `reason` until `expires_at` may be
/// asked for at `now`, whoever grants it.
pub fn check_exception_terms(
    rule: &str,
    reason: &str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), ExceptionError> {
    if !RULES.contains(&rule) {
        return Err(ExceptionError::UnknownRule(rule.to_owned()));
    }
    if reason.trim().is_empty() {
        return Err(ExceptionError::MissingReason);
    }
    if expires_at <= now {
        return Err(ExceptionError::AlreadyExpired(expires_at));
    }
    let lasts = expires_at - now;
    if lasts > MAX_EXCEPTION_LIFETIME {
        return Err(ExceptionError::TooLong(format_duration(lasts)));
    }
    Ok(())
}

/// The exceptions still in force at `now`.
pub fn live_exceptions(exceptions: &[Exception], now: OffsetDateTime) -> impl Iterator<Item = &Exception> {
    exceptions.iter().filter(move |exception| now < exception.expires_at)
}

/// The findings no live exception waives: an integration passes the
/// standard when this is empty.
pub fn unwaived(findings: Vec<Finding>, exceptions: &[Exception], now: OffsetDateTime) -> Vec<Finding> {
    findings.into_iter().filter(|finding| !exceptions.iter().any(|exception| exception.covers(finding, now))).collect()
}

#[cfg(test)]
mod tests;
