//! `vendor-access.toml` in the policy folder: the API access standard that
//! integrations are checked against, parsed into the domain's
//! [`AccessStandard`]. Like `approvals.toml`, every problem is reported
//! with its file and line, and one problem refuses the whole file (a reload
//! keeps the working one).
//!
//! Every key is optional; a missing key keeps the default standard's value,
//! and a `[tier.NAME]` table replaces only what it names. The default
//! standard, written out:
//!
//! ```toml
//! allowed_methods = ["github_app", "oidc_workload", "gatehouse_token"]
//! forbidden_methods = ["classic_pat", "oauth_app"]
//! max_token_ttl = "1h"
//! max_refresh_ttl = "30d"
//! forbidden_permissions = ["administration:write", "secrets:write", "workflows:write"]
//! repositories = "selected"            # or "any"
//! webhook_signing = "required"         # or "optional"
//! max_secret_age = "90d"
//! ip_allowlist = "required_for_static" # or "optional"
//!
//! [tier.critical]
//! evidence = ["soc2", "pentest", "dpa"]
//! on_lapse = "suspend"                 # or "deny_gate", "flag"
//!
//! [tier.high]
//! evidence = ["soc2", "dpa"]
//! on_lapse = "deny_gate"
//!
//! [tier.medium]
//! evidence = ["questionnaire", "dpa"]
//! on_lapse = "deny_gate"
//!
//! [tier.low]
//! evidence = ["questionnaire"]
//! on_lapse = "flag"
//! ```
//!
//! `notify = ["security"]` (none by default) names the notification
//! targets told of evidence due soon or expired, integrations lapsed,
//! suspended or restored, and exceptions expired; each must be a
//! configured `[notify.NAME]` target, which `serve` and a reload check as
//! they do for `approvals.toml` ([`notify_line`] places it).
//!
//! Methods: `github_app`, `oidc_workload`, `gatehouse_token`, `classic_pat`,
//! `oauth_app`, `fine_grained_pat`, `deploy_key`, `static_api_key`. Evidence
//! kinds: `soc2`, `bridge_letter`, `pentest`, `dpa`, `questionnaire`,
//! `certificate`.

use std::collections::BTreeMap;

use gatehouse_domain::span::parse_duration;
use gatehouse_domain::vendor::{AccessMethod, AccessStandard, OnLapse, Permission};
use serde::Deserialize;
use time::Duration;
use toml::Spanned;

use crate::policy_set::PolicyProblem;

/// The file's name in the policy folder.
pub const VENDOR_ACCESS_FILE: &str = "vendor-access.toml";

/// The largest `vendor-access.toml` read: it is written by people.
const MAX_FILE_BYTES: usize = 256 * 1024;

/// The default standard in this file's format (the module's example).
pub const DEFAULT_VENDOR_ACCESS: &str = r#"allowed_methods = ["github_app", "oidc_workload", "gatehouse_token"]
forbidden_methods = ["classic_pat", "oauth_app"]
max_token_ttl = "1h"
max_refresh_ttl = "30d"
forbidden_permissions = ["administration:write", "secrets:write", "workflows:write"]
repositories = "selected"
webhook_signing = "required"
max_secret_age = "90d"
ip_allowlist = "required_for_static"

[tier.critical]
evidence = ["soc2", "pentest", "dpa"]
on_lapse = "suspend"

[tier.high]
evidence = ["soc2", "dpa"]
on_lapse = "deny_gate"

[tier.medium]
evidence = ["questionnaire", "dpa"]
on_lapse = "deny_gate"

[tier.low]
evidence = ["questionnaire"]
on_lapse = "flag"
"#;

type Text = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    allowed_methods: Option<Vec<Text>>,
    forbidden_methods: Option<Vec<Text>>,
    max_token_ttl: Option<Text>,
    max_refresh_ttl: Option<Text>,
    forbidden_permissions: Option<Vec<Text>>,
    repositories: Option<Text>,
    webhook_signing: Option<Text>,
    max_secret_age: Option<Text>,
    ip_allowlist: Option<Text>,
    notify: Option<Spanned<Vec<Text>>>,
    #[serde(default)]
    tier: BTreeMap<Spanned<String>, Spanned<RawTier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    evidence: Option<Vec<Text>>,
    on_lapse: Option<Text>,
}

/// Problems found so far, placed by the byte offset of the value at fault.
struct Problems<'a> {
    text: &'a str,
    found: Vec<PolicyProblem>,
}

impl Problems<'_> {
    fn at_offset(&mut self, offset: usize, message: String) {
        let line = line_of(self.text, offset);
        self.found.push(PolicyProblem { file: VENDOR_ACCESS_FILE.into(), line, message });
    }

    fn at<T>(&mut self, value: &Spanned<T>, message: String) {
        self.at_offset(value.span().start, message);
    }
}

/// Parses and checks `vendor-access.toml`; `Err` lists every problem found.
pub fn load_vendor_access(text: &str) -> Result<AccessStandard, Vec<PolicyProblem>> {
    let problem = |line: usize, message: String| PolicyProblem { file: VENDOR_ACCESS_FILE.into(), line, message };
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![problem(0, format!("larger than {MAX_FILE_BYTES} bytes"))]);
    }
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(0, |span| line_of(text, span.start));
        vec![problem(line, error.message().trim_end().to_owned())]
    })?;
    let mut problems = Problems { text, found: Vec::new() };
    let mut standard = AccessStandard::default();

    let allowed = raw.allowed_methods.map(|values| methods("allowed_methods", values, &mut problems));
    let forbidden = raw.forbidden_methods.map(|values| methods("forbidden_methods", values, &mut problems));
    if let Some((methods, _)) = &allowed {
        standard.allowed_methods.clone_from(methods);
    }
    if let Some((methods, _)) = &forbidden {
        standard.forbidden_methods.clone_from(methods);
    }
    // A method both allowed and forbidden is a contradiction, not a choice:
    // reported where it is last named.
    let named: Vec<&Text> = [&allowed, &forbidden].into_iter().flatten().flat_map(|(_, values)| values).collect();
    for method in standard.allowed_methods.iter().filter(|m| standard.forbidden_methods.contains(m)) {
        let offset = named.iter().rev().find(|value| value.get_ref() == method.as_str()).map_or(0, |v| v.span().start);
        problems.at_offset(offset, format!("`{method}` is both allowed and forbidden"));
    }

    lifetime("max_token_ttl", raw.max_token_ttl, &mut standard.max_token_lifetime, &mut problems);
    lifetime("max_refresh_ttl", raw.max_refresh_ttl, &mut standard.max_refresh_token_lifetime, &mut problems);
    lifetime("max_secret_age", raw.max_secret_age, &mut standard.max_secret_age, &mut problems);

    if let Some(values) = raw.forbidden_permissions {
        standard.forbidden_permissions.clear();
        for value in &values {
            match value.get_ref().parse::<Permission>() {
                Ok(permission) => standard.forbidden_permissions.push(permission),
                Err(error) => problems.at(value, format!("forbidden_permissions: {error}")),
            }
        }
    }

    let selected_only = &mut standard.repository_selection_selected_only;
    switch("repositories", raw.repositories, ("selected", "any"), selected_only, &mut problems);
    let signing = &mut standard.webhook_signing_required;
    switch("webhook_signing", raw.webhook_signing, ("required", "optional"), signing, &mut problems);
    let allowlist = &mut standard.ip_allowlist_for_static;
    switch("ip_allowlist", raw.ip_allowlist, ("required_for_static", "optional"), allowlist, &mut problems);

    for (name, tier) in raw.tier {
        let tier_name = name.get_ref().clone();
        if !AccessStandard::TIERS.contains(&tier_name.as_str()) {
            let message = format!("unknown tier `{tier_name}` (expected `critical`, `high`, `medium` or `low`)");
            problems.at(&name, message);
            continue;
        }
        let tier = tier.into_inner();
        if let Some(kinds) = tier.evidence {
            let mut evidence = Vec::new();
            for kind in &kinds {
                if AccessStandard::EVIDENCE_KINDS.contains(&kind.get_ref().as_str()) {
                    evidence.push(kind.get_ref().clone());
                } else {
                    let message = format!(
                        "tier `{tier_name}`: unknown evidence kind `{}` (expected `soc2`, `bridge_letter`, \
                         `pentest`, `dpa`, `questionnaire` or `certificate`)",
                        kind.get_ref()
                    );
                    problems.at(kind, message);
                }
            }
            standard.tier_evidence.insert(tier_name.clone(), evidence);
        }
        if let Some(value) = tier.on_lapse {
            match value.get_ref().parse::<OnLapse>() {
                Ok(on_lapse) => {
                    standard.on_lapse.insert(tier_name, on_lapse);
                }
                Err(error) => problems.at(&value, format!("tier `{tier_name}`: {error}")),
            }
        }
    }
    if let Some(names) = raw.notify {
        let mut seen = Vec::new();
        for name in names.get_ref() {
            let text = name.get_ref();
            let well_formed = !text.is_empty()
                && text.len() <= 64
                && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !well_formed {
                problems.at(name, format!("notify: `{text}` is not a target name (letters, digits, `-`, `_`)"));
            } else if !seen.contains(text) {
                seen.push(text.clone());
            }
        }
        standard.notify = seen;
    }
    if problems.found.is_empty() { Ok(standard) } else { Err(problems.found) }
}

/// Where `notify` is written in a `vendor-access.toml` that loads: the line
/// a problem with its targets points at (0 when the file has none).
pub fn notify_line(text: &str) -> usize {
    #[derive(Deserialize)]
    struct OnlyNotify {
        notify: Option<Spanned<toml::Value>>,
    }
    toml::from_str::<OnlyNotify>(text)
        .ok()
        .and_then(|file| file.notify)
        .map_or(0, |notify| line_of(text, notify.span().start))
}

/// The methods named, without repeats, and the values as written (for the
/// lines of later problems).
fn methods(field: &str, values: Vec<Text>, problems: &mut Problems<'_>) -> (Vec<AccessMethod>, Vec<Text>) {
    let mut methods = Vec::new();
    for value in &values {
        match value.get_ref().parse::<AccessMethod>() {
            Ok(method) if !methods.contains(&method) => methods.push(method),
            Ok(_) => {}
            Err(error) => problems.at(value, format!("{field}: {error}")),
        }
    }
    (methods, values)
}

fn lifetime(field: &str, value: Option<Text>, into: &mut Duration, problems: &mut Problems<'_>) {
    let Some(value) = value else { return };
    match parse_duration(value.get_ref()) {
        Ok(duration) if duration > Duration::ZERO => *into = duration,
        Ok(_) => problems.at(&value, format!("{field} must be longer than `0s`")),
        Err(error) => problems.at(&value, format!("{field}: {error}")),
    }
}

/// A two-word switch: `on` sets `into`, `off` clears it.
fn switch(field: &str, value: Option<Text>, (on, off): (&str, &str), into: &mut bool, problems: &mut Problems<'_>) {
    let Some(value) = value else { return };
    match value.get_ref().as_str() {
        text if text == on => *into = true,
        text if text == off => *into = false,
        other => problems.at(&value, format!("{field} must be `{on}` or `{off}`, not `{other}`")),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
