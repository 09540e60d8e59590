//! `[[review]]` cases of `gatehouse policy test`: a campaign of the folder's
//! `reviews.toml`, named, is (or is not) defined, and its scope selects
//! (or leaves out) the access the case lists, as a campaign's opening
//! would when it snapshots its items.

use gatehouse_domain::grant::Scope;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::review::{Candidate, ItemKind};
use gatehouse_policy::Policies;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewCase {
    pub name: Option<String>,
    /// A campaign of `reviews.toml`, by name (case does not matter).
    campaign: String,
    /// Whether the folder defines it (and so it loaded valid).
    #[serde(default = "super::yes")]
    expect_valid: bool,
    /// Access the campaign's scope must select.
    #[serde(default)]
    covers: Vec<AccessSpec>,
    /// Access the campaign's scope must leave out.
    #[serde(default)]
    excludes: Vec<AccessSpec>,
}

/// One piece of access a principal of the file holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessSpec {
    principal: String,
    /// `grant` (default), `token` or `signing_key`.
    kind: Option<String>,
    /// A grant's role and scope.
    role: Option<String>,
    scope: Option<String>,
}

/// Checks one case: the problems found (none when it passes). `Err` for a
/// malformed case: an unknown principal, kind or scope.
pub(super) fn run_review_case(
    policies: &Policies,
    principal_of: impl Fn(&str) -> Option<Identity>,
    case: &ReviewCase,
) -> Result<Vec<String>, String> {
    let file = gatehouse_policy::reviews::REVIEWS_FILE;
    let campaign = policies.reviews().campaign(&case.campaign);
    if case.expect_valid != campaign.is_some() {
        let problem = if case.expect_valid {
            format!("expected campaign `{}` in {file}, but the folder defines no campaign by that name", case.campaign)
        } else {
            format!("expected no campaign `{}`, but {file} defines it", case.campaign)
        };
        return Ok(vec![problem]);
    }
    let Some(campaign) = campaign else {
        if case.covers.is_empty() && case.excludes.is_empty() {
            return Ok(Vec::new());
        }
        return Err("`covers` and `excludes` need a campaign the folder defines".into());
    };
    let selector = &campaign.definition.selector;
    let mut problems = Vec::new();
    for (specs, wanted) in [(&case.covers, true), (&case.excludes, false)] {
        for spec in specs {
            let identity =
                principal_of(&spec.principal).ok_or_else(|| format!("unknown principal `{}`", spec.principal))?;
            let kind = match spec.kind.as_deref() {
                None => ItemKind::Grant,
                Some(text) => ItemKind::parse(text)
                    .filter(|kind| *kind != ItemKind::Change)
                    .ok_or_else(|| format!("kind must be `grant`, `token` or `signing_key`, not `{text}`"))?,
            };
            let scope = spec
                .scope
                .as_deref()
                .map(|text| Scope::parse(text).map(|scope| scope.to_string()).map_err(|e| e.to_string()))
                .transpose()?;
            if kind == ItemKind::Grant && (spec.role.is_none() || scope.is_none()) {
                return Err(format!("a grant of `{}` needs its `role` and `scope`", spec.principal));
            }
            let candidate = Candidate {
                kind,
                identity: identity.id,
                identity_kind: identity.kind,
                role: spec.role.as_deref(),
                scope: scope.as_deref(),
                integration: None,
                vendor: None,
            };
            if selector.admits(&candidate) != wanted {
                let what = match (&spec.role, &scope) {
                    (Some(role), Some(scope)) => format!("`{}`'s `{role}` grant on `{scope}`", spec.principal),
                    _ => format!("`{}`'s {}", spec.principal, kind.as_str().replace('_', " ")),
                };
                let verdict = if wanted { "does not select" } else { "selects" };
                problems.push(format!("campaign `{}` {verdict} {what}", campaign.definition.name));
            }
        }
    }
    Ok(problems)
}
