//! `[[integration]]` cases of `gatehouse policy test`: one integration's
//! declared access checked against the folder's API access standard
//! (`vendor-access.toml`, or the default standard without one), compared
//! with the rule ids the case expects to fail.

use std::collections::BTreeSet;

use gatehouse_domain::span::parse_duration;
use gatehouse_domain::vendor::{
    AccessMethod, AccessStandard, DeclaredAccess, Finding, Observed, RULES, Repositories, check_integration,
};
use serde::Deserialize;
use time::{Date, OffsetDateTime};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IntegrationCase {
    pub name: Option<String>,
    method: String,
    #[serde(default)]
    permissions: Vec<String>,
    /// `"all"`, `"selected"`, or the repositories selected.
    #[serde(default = "selected")]
    repositories: RepositoriesSpec,
    /// Absent: its tokens never expire.
    token_ttl: Option<String>,
    /// Absent: it has no refresh token.
    refresh_ttl: Option<String>,
    #[serde(default)]
    webhook_signed: bool,
    #[serde(default)]
    ip_allowlist: Vec<String>,
    #[serde(default)]
    mtls: bool,
    secret_rotated_on: Option<String>,
    /// The day checked (its start, UTC); absent: now.
    today: Option<String>,
    /// The rule ids that fail, as a set; empty: it complies.
    expect_findings: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RepositoriesSpec {
    Word(String),
    Names(Vec<String>),
}

fn selected() -> RepositoriesSpec {
    RepositoriesSpec::Word("selected".into())
}

/// Checks one case: the problems found, none when it passes. A declaration
/// the standard cannot judge (an unknown method or permission, a lifetime
/// or date that does not parse) is a problem of the case, named.
pub(super) fn run_integration_case(
    case: &IntegrationCase,
    standard: &AccessStandard,
    now: OffsetDateTime,
) -> Vec<String> {
    let (declared, at) = match declared_access(case, now) {
        Ok(parsed) => parsed,
        Err(problem) => return vec![problem],
    };
    let unknown: Vec<&String> = case.expect_findings.iter().filter(|rule| !RULES.contains(&rule.as_str())).collect();
    if let Some(rule) = unknown.first() {
        return vec![format!("expect_findings: unknown rule `{rule}` (expected some of: {})", RULES.join(", "))];
    }
    let findings = match check_integration(&declared, standard, &Observed::default(), at) {
        Ok(findings) => findings,
        Err(error) => return vec![error.to_string()],
    };
    let expected: BTreeSet<&str> = case.expect_findings.iter().map(String::as_str).collect();
    let found: BTreeSet<&str> = findings.iter().map(|finding| finding.rule).collect();
    if expected == found {
        return Vec::new();
    }
    vec![format!(
        "expected findings [{}], got [{}]{}",
        expected.into_iter().collect::<Vec<_>>().join(", "),
        found.into_iter().collect::<Vec<_>>().join(", "),
        details(&findings)
    )]
}

/// ` (rule: expected …, found …; …)`, or nothing without findings.
fn details(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let each: Vec<String> = findings
        .iter()
        .map(|finding| format!("{}: expected {}, found {}", finding.rule, finding.expected, finding.found))
        .collect();
    format!(" ({})", each.join("; "))
}

fn declared_access(case: &IntegrationCase, now: OffsetDateTime) -> Result<(DeclaredAccess, OffsetDateTime), String> {
    let method: AccessMethod =
        case.method.parse().map_err(|e: gatehouse_domain::vendor::StandardError| e.to_string())?;
    let repositories = match &case.repositories {
        RepositoriesSpec::Word(word) if word == "all" => Repositories::All,
        RepositoriesSpec::Word(word) if word == "selected" => Repositories::Selected(Vec::new()),
        RepositoriesSpec::Word(other) => {
            return Err(format!("repositories must be `all`, `selected` or a list, not `{other}`"));
        }
        RepositoriesSpec::Names(names) => Repositories::Selected(names.clone()),
    };
    let lifetime = |field: &str, text: &Option<String>| {
        text.as_deref().map(parse_duration).transpose().map_err(|e| format!("{field}: {e}"))
    };
    let at = match &case.today {
        Some(text) => day("today", text)?.midnight().assume_utc(),
        None => now,
    };
    let declared = DeclaredAccess {
        method,
        permissions: case.permissions.clone(),
        repositories,
        token_lifetime: lifetime("token_ttl", &case.token_ttl)?,
        refresh_token_lifetime: lifetime("refresh_ttl", &case.refresh_ttl)?,
        webhook_signed: case.webhook_signed,
        ip_allowlist: case.ip_allowlist.clone(),
        mtls: case.mtls,
        secret_rotated_on: case.secret_rotated_on.as_deref().map(|text| day("secret_rotated_on", text)).transpose()?,
    };
    Ok((declared, at))
}

fn day(field: &str, text: &str) -> Result<Date, String> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{field}: `{text}` is not a date (expected e.g. `2026-06-01`)"))
}
