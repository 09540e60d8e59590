//! `approvals.toml` in the policy folder: the approval rules, parsed into
//! the domain's [`ApprovalRule`]s and checked before they may replace the
//! working set. Every problem is reported with its file and line, like
//! Cedar's validator, and one problem refuses the whole file.
//!
//! Checks that depend on who is in which group or role today
//! (`check_rule_against`) are the server's, which knows the directory.
//!
//! One rule is built in: [`ONBOARDING_RULE`], which onboards an integration
//! (`vendor.manage` on gatehouse) when no rule of the file covers that. It
//! is not one of the file's rules ([`ApprovalRules::rules`] and
//! [`ApprovalRules::rule_for`] never name it, so decisions and the rule
//! health check are as the file says), but [`ApprovalRules::find`] knows it
//! by its id, so its requests are voted on, shown and expired like any.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use gatehouse_domain::access::{
    AfterReview, ApprovalRule, BreakGlass, Exclusion, Gated, Pool, Requirement, RuleError, RuleLimits, check_overlaps,
    check_rule,
};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::span::parse_duration;
use regex::Regex;
use serde::Deserialize;
use time::Duration;
use toml::Spanned;

use crate::policy_set::PolicyProblem;

/// The file's name in the policy folder.
pub const APPROVALS_FILE: &str = "approvals.toml";

/// How long a request waits when its rule does not say.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::hours(24);

/// The id of the built-in onboarding rule.
pub const ONBOARDING_RULE_ID: &str = "vendor-onboarding";

/// The built-in onboarding rule, in the file's format: registering an
/// integration needs one approval from the `procurement` group and one
/// from `engineering`, neither by the requester, within 14 days. A rule of
/// `approvals.toml` covering `vendor.manage` on `*` replaces it. Groups a
/// fresh install does not have yet do not refuse any folder: the rule is
/// not the user's to fix until they register an integration.
pub const ONBOARDING_RULE: &str = r#"[[rule]]
id = "vendor-onboarding"
action = "vendor.manage"
resources = ["*"]
require = { all = [ { quorum = 1, of = "group:procurement" }, { quorum = 1, of = "group:engineering" } ] }
request_ttl = "14d"
reason = "required"
"#;

/// The largest `approvals.toml` read, and the largest ticket pattern
/// compiled: rule files are written by people.
const MAX_FILE_BYTES: usize = 1024 * 1024;
const MAX_TICKET_PATTERN_BYTES: usize = 1024;

/// A rule as loaded: the domain rule and its compiled ticket pattern.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub rule: ApprovalRule,
    pub ticket: Option<Regex>,
    /// The 1-based line of its `[[rule]]`, for messages that point at it.
    pub line: usize,
}

/// The rules of one policy folder; empty when it has no `approvals.toml`
/// (every action is then decided at once, as before).
#[derive(Debug, Clone, Default)]
pub struct ApprovalRules {
    rules: Vec<LoadedRule>,
}

impl ApprovalRules {
    pub fn rules(&self) -> &[LoadedRule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule deciding `gated` on `resource`: of those covering it, the
    /// one with the lowest `order` (loading refused any overlap that does
    /// not say).
    pub fn rule_for(&self, gated: Gated, resource: &str) -> Option<&LoadedRule> {
        self.rules
            .iter()
            .filter(|loaded| loaded.rule.covers(gated, resource))
            .min_by_key(|loaded| loaded.rule.order.unwrap_or(i64::MAX))
    }

    /// The rule with this id: one of the file's, or the built-in
    /// onboarding rule (whose id the file may not take for another rule).
    pub fn find(&self, id: &str) -> Option<&LoadedRule> {
        self.rules
            .iter()
            .find(|loaded| loaded.rule.id == id)
            .or_else(|| (id == ONBOARDING_RULE_ID).then(|| builtin_onboarding()))
    }

    /// The rule an integration's onboarding request is opened under: the
    /// file's rule covering `vendor.manage` on gatehouse, else the built-in
    /// [`ONBOARDING_RULE`].
    pub fn onboarding_rule(&self) -> &LoadedRule {
        self.rule_for(Gated::Action(Action::VendorManage), ONBOARDING_RESOURCE).unwrap_or_else(|| builtin_onboarding())
    }
}

/// The resource text of an onboarding request: gatehouse itself, the only
/// resource `vendor.manage` applies to (the request's reason names the
/// integration, and the integration names the request).
const ONBOARDING_RESOURCE: &str = "gatehouse";

/// [`ONBOARDING_RULE`], parsed once.
fn builtin_onboarding() -> &'static LoadedRule {
    static RULE: LazyLock<LoadedRule> = LazyLock::new(|| {
        // The text is a constant, tested to load.
        match load_approvals(ONBOARDING_RULE, &RuleLimits::default()) {
            Ok(mut rules) if rules.rules.len() == 1 => {
                let mut loaded = rules.rules.remove(0);
                loaded.line = 0;
                loaded
            }
            other => panic!("the built-in onboarding rule does not load: {other:?}"),
        }
    });
    &RULE
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    order: Option<i64>,
    action: String,
    resources: Vec<String>,
    require: toml::Value,
    exclude: Option<Vec<String>>,
    approver_mfa_max_age: Option<String>,
    request_ttl: Option<String>,
    max_duration: Option<String>,
    reason: Option<String>,
    ticket: Option<String>,
    deny_quorum: Option<i64>,
    #[serde(default)]
    notify: Vec<String>,
    break_glass: Option<RawBreakGlass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreakGlass {
    who: String,
    duration: String,
    after_review: Option<RawAfterReview>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAfterReview {
    within: String,
    quorum: i64,
    of: String,
}

/// Parses and checks `approvals.toml`; `Err` lists every problem found.
pub fn load_approvals(text: &str, limits: &RuleLimits) -> Result<ApprovalRules, Vec<PolicyProblem>> {
    let problem = |line: usize, message: String| PolicyProblem { file: APPROVALS_FILE.into(), line, message };
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![problem(0, format!("larger than {MAX_FILE_BYTES} bytes"))]);
    }
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(0, |span| line_of(text, span.start));
        vec![problem(line, error.message().trim_end().to_owned())]
    })?;
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    for spanned in raw.rule {
        let line = line_of(text, spanned.span().start);
        match convert(spanned.into_inner()) {
            Ok((rule, ticket)) => {
                problems.extend(check_rule(&rule, limits).into_iter().map(|e| problem(line, with_id(&rule.id, &e))));
                rules.push(LoadedRule { rule, ticket, line });
            }
            Err(message) => problems.push(problem(line, message)),
        }
    }
    let domain_rules: Vec<ApprovalRule> = rules.iter().map(|loaded| loaded.rule.clone()).collect();
    for (index, error) in check_overlaps(&domain_rules) {
        problems.push(problem(rules[index].line, error.to_string()));
    }
    // Requests under the built-in rule find it by its id: a rule of the
    // file may take that id only to replace it.
    for loaded in rules.iter().filter(|loaded| loaded.rule.id == ONBOARDING_RULE_ID) {
        if !loaded.rule.covers(Gated::Action(Action::VendorManage), ONBOARDING_RESOURCE) {
            let message = format!(
                "rule `{ONBOARDING_RULE_ID}`: the id of the built-in onboarding rule; a rule with it must cover \
                 `vendor.manage` on `*`"
            );
            problems.push(problem(loaded.line, message));
        }
    }
    if problems.is_empty() { Ok(ApprovalRules { rules }) } else { Err(problems) }
}

fn with_id(id: &str, error: &RuleError) -> String {
    format!("rule `{id}`: {error}")
}

fn convert(raw: RawRule) -> Result<(ApprovalRule, Option<Regex>), String> {
    let id = raw.id;
    let fail = |message: String| format!("rule `{id}`: {message}");
    let gated: Gated = raw.action.parse().map_err(|e: RuleError| fail(e.to_string()))?;
    let requirement = requirement_from(&raw.require).map_err(|m| fail(format!("require: {m}")))?;
    let exclude: BTreeSet<Exclusion> = match raw.exclude {
        None => Exclusion::DEFAULT.into_iter().collect(),
        Some(names) => {
            names.iter().map(|name| name.parse()).collect::<Result<_, RuleError>>().map_err(|e| fail(e.to_string()))?
        }
    };
    let duration = |field: &str, text: &str| parse_duration(text).map_err(|e| fail(format!("{field}: {e}")));
    let optional_duration = |field: &str, text: Option<&String>| text.map(|text| duration(field, text)).transpose();
    let approver_mfa_max_age = optional_duration("approver_mfa_max_age", raw.approver_mfa_max_age.as_ref())?
        .unwrap_or(ApprovalRule::DEFAULT_MFA_MAX_AGE);
    let request_ttl = optional_duration("request_ttl", raw.request_ttl.as_ref())?.unwrap_or(DEFAULT_REQUEST_TTL);
    let max_duration = optional_duration("max_duration", raw.max_duration.as_ref())?;
    let reason_required = match raw.reason.as_deref() {
        None | Some("required") => true,
        Some("optional") => false,
        Some(other) => return Err(fail(format!("reason must be `required` or `optional`, not `{other}`"))),
    };
    let deny_quorum = match raw.deny_quorum {
        None => 1,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| fail(format!("deny_quorum must be 1 to 64, not {n}")))?,
    };
    let ticket = match &raw.ticket {
        None => None,
        Some(pattern) if pattern.len() > MAX_TICKET_PATTERN_BYTES => {
            return Err(fail(format!("ticket pattern is longer than {MAX_TICKET_PATTERN_BYTES} bytes")));
        }
        Some(pattern) => Some(
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| fail(format!("ticket: not a regular expression: {e}")))?,
        ),
    };
    let break_glass = match raw.break_glass {
        None => None,
        Some(glass) => {
            let Some(review) = glass.after_review else {
                return Err(fail("break_glass needs an `after_review` done by someone else".into()));
            };
            let need = u32::try_from(review.quorum).ok().filter(|n| *n > 0).ok_or_else(|| {
                fail(format!("break_glass.after_review: a quorum must be at least 1, not {}", review.quorum))
            })?;
            Some(BreakGlass {
                who: glass.who.parse().map_err(|e| fail(format!("break_glass.who: {e}")))?,
                duration: duration("break_glass.duration", &glass.duration)?,
                after_review: AfterReview {
                    within: duration("break_glass.after_review.within", &review.within)?,
                    need,
                    pool: review.of.parse().map_err(|e| fail(format!("break_glass.after_review.of: {e}")))?,
                },
            })
        }
    };
    let rule = ApprovalRule {
        id: id.clone(),
        order: raw.order,
        gated,
        resources: raw.resources,
        requirement,
        exclude,
        approver_mfa_max_age,
        request_ttl,
        max_duration,
        reason_required,
        deny_quorum,
        ticket: raw.ticket,
        notify: raw.notify,
        break_glass,
    };
    Ok((rule, ticket))
}

/// `{ quorum = N, of = "pool" }`, `{ all = [...] }` or `{ any = [...] }`.
fn requirement_from(value: &toml::Value) -> Result<Requirement, String> {
    let toml::Value::Table(table) = value else {
        return Err("expected a table: `{ quorum = N, of = \"…\" }`, `{ all = […] }` or `{ any = […] }`".into());
    };
    let keys: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    let children = |list: &toml::Value| -> Result<Vec<Requirement>, String> {
        let toml::Value::Array(items) = list else { return Err("expected a list of requirements".into()) };
        items.iter().map(requirement_from).collect()
    };
    if keys == BTreeSet::from(["all"]) {
        return Requirement::all(children(&table["all"])?).map_err(|e| e.to_string());
    }
    if keys == BTreeSet::from(["any"]) {
        return Requirement::any(children(&table["any"])?).map_err(|e| e.to_string());
    }
    if keys == BTreeSet::from(["quorum", "of"]) {
        let toml::Value::Integer(need) = table["quorum"] else { return Err("quorum must be a whole number".into()) };
        let toml::Value::String(of) = &table["of"] else {
            return Err("of must be a string such as `group:sre`".into());
        };
        let pool: Pool = of.parse().map_err(|e| format!("{e}"))?;
        return Requirement::quorum(need, pool).map_err(|e| e.to_string());
    }
    Err(format!(
        "expected exactly `all`, `any`, or `quorum` with `of`, not {}",
        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    ))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
