//! `gatehouse policy test`: decision tables kept beside the policies.
//!
//! ```toml
//! [principals.ana]
//! kind = "human"                    # or "service"
//! email = "ana@example.com"
//! active = true                     # default true
//! grants = [{ role = "developer", scope = "project:acme/web" }]
//!
//! [[case]]
//! name = "developers push to their project"
//! principal = "ana"
//! action = "source.push"
//! resource = "project:acme/web"     # or gatehouse, pipeline:…, environment:…
//! owner = "ana"                     # with resource = "token:t1" (identity,
//!                                   # token, session, signing_key, grant):
//!                                   # that principal's own thing
//! context = { author = "bob@example.com" }   # optional
//! authors = ["ana"]                 # optional: whom gatehouse verified signed
//!                                   # the commits named (`context.authors`)
//! mfa_fresh = false                 # optional, default true
//! auth_method = "signature"         # optional, default "token"
//! expect = "allow"                  # or "deny"
//! ```
//!
//! Cases are decided as `serve` decides them, with step-up on: a case is a
//! request whose caller proved a fresh second factor unless it says
//! `mfa_fresh = false`.
//!
//! A service that acts for a vendor's integration carries the integration's
//! standing, which `serve` works out from the vendor's records, evidence and
//! the API access standard; every case of that principal is decided with it
//! (the principal's `vendor`, `vendor_compliant`, `vendor_reasons` and
//! `vendor_on_lapse`, which the default `integration-not-in-force` guard
//! reads):
//!
//! ```toml
//! [principals.acme-scan]
//! kind = "service"
//! grants = [{ role = "developer", scope = "project:acme/web" }]
//! integration = { vendor = "Acme Scan", in_force = false, reasons = ["SOC 2 report for Acme Scan expired 2026-10-31"], on_lapse = "deny_gate" }
//! #             reasons default to none; on_lapse is "suspend", "deny_gate" (default) or "flag"
//! ```
//!
//! Approval rules (`approvals.toml`) are tested by ballots: votes cast in
//! order on a new request, each checked and counted as `serve` does, with
//! principals' directory groups (`groups = ["security"]`):
//!
//! ```toml
//! [[approval]]
//! name = "production needs a release approver and security"
//! requester = "deploy-bot"
//! action = "deployment.execute"     # or access = { role = "maintainer", scope = "project:acme/web", duration = "2h" }
//! resource = "environment:acme/web:production"
//! authors = ["ana"]                 # optional: authors of the commits deployed
//! votes = [
//!   { by = "ana", refused = "author" },      # refused, and why (a part of the reason)
//!   { by = "rita" },                          # decision = "approve" by default
//!   { by = "sam", mfa_fresh = false, refused = "second factor" },
//! ]
//! expect = "pending"                # approved | pending | denied | no-rule
//! ```
//!
//! An integration's declared access is tested against the folder's API
//! access standard (`vendor-access.toml`; without one, the default standard,
//! and the run says so): the case names the rule ids that fail, as a set.
//!
//! ```toml
//! [[integration]]
//! name = "the scanner's GitHub App meets the standard"
//! method = "github_app"             # github_app, oidc_workload, gatehouse_token, classic_pat,
//!                                   # oauth_app, fine_grained_pat, deploy_key, static_api_key
//! permissions = ["contents:read", "checks:write"]   # name:read|write|admin
//! repositories = "selected"         # or "all", or the list of repositories (default "selected")
//! token_ttl = "1h"                  # optional; absent: its tokens never expire
//! refresh_ttl = "8h"                # optional; absent: no refresh token
//! webhook_signed = true             # default false
//! ip_allowlist = ["203.0.113.0/24"] # default none
//! mtls = false                      # default false
//! secret_rotated_on = "2026-05-01"  # optional
//! today = "2026-06-01"              # the day checked; default: now
//! expect_findings = []              # e.g. ["token_lifetime", "secret_age"]; [] = compliant
//! ```
//!
//! Rule ids: `access_method`, `token_lifetime`, `refresh_token_lifetime`,
//! `forbidden_permissions`, `repository_selection`, `webhook_signing`,
//! `secret_age`, `ip_allowlist`. A method or permission the standard does not
//! know fails the case, named.
//!
//! Review campaigns (`reviews.toml`) are tested by name: the folder defines
//! the campaign, and its scope selects (or leaves out) the access listed,
//! held by principals of the file:
//!
//! ```toml
//! [[review]]
//! name = "production deployers are reviewed every quarter"
//! campaign = "Quarterly production access"
//! expect_valid = true               # default true; false: the folder must not define it
//! covers = [{ principal = "deploy-bot", role = "deployer", scope = "environment:acme/web:production" }]
//! excludes = [{ principal = "ana", kind = "token" }]   # kind: grant (default), token, signing_key
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatehouse_domain::access::{
    ApproverDirectory, DirectoryGrant, RequestKind, RequestParties, SimulatedVote, VoteDecision, VoterFacts,
    approving_action, simulate,
};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::KnownAuthors;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource, Scope};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{GrantId, IdentityId};
use gatehouse_domain::vendor::{AccessStandard, LapseAction};
use gatehouse_policy::{DecisionInput, IntegrationStanding, Policies, ServerFacts};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::{CliError, CliResult};

mod integration;
mod review;

use integration::{IntegrationCase, run_integration_case};
use review::{ReviewCase, run_review_case};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    principals: BTreeMap<String, PrincipalSpec>,
    #[serde(default, rename = "case")]
    cases: Vec<CaseSpec>,
    #[serde(default, rename = "approval")]
    approvals: Vec<ApprovalSpec>,
    #[serde(default, rename = "integration")]
    integrations: Vec<IntegrationCase>,
    #[serde(default, rename = "review")]
    reviews: Vec<ReviewCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalSpec {
    name: Option<String>,
    requester: String,
    action: Option<String>,
    access: Option<AccessSpec>,
    resource: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    votes: Vec<VoteSpec>,
    expect: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessSpec {
    role: String,
    scope: String,
    duration: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteSpec {
    by: String,
    #[serde(default = "approve")]
    decision: String,
    #[serde(default = "yes")]
    mfa_fresh: bool,
    /// The vote must be refused, with a reason containing this.
    refused: Option<String>,
}

fn approve() -> String {
    "approve".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalSpec {
    kind: String,
    email: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    grants: Vec<GrantSpec>,
    /// Directory (SCIM) groups, for approval rules' `group:` pools.
    #[serde(default)]
    groups: Vec<String>,
    /// The standing of the vendor integration a service acts for.
    integration: Option<StandingSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StandingSpec {
    vendor: String,
    in_force: bool,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default = "deny_gate")]
    on_lapse: String,
}

fn deny_gate() -> String {
    "deny_gate".into()
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSpec {
    role: String,
    scope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: Option<String>,
    principal: String,
    action: String,
    resource: String,
    /// Whose the resource is, for an identity's own thing (`token:t1`).
    owner: Option<String>,
    #[serde(default)]
    context: toml::Table,
    /// The principals gatehouse verified signed the commits the case names:
    /// `context.authors`, with `context.author_known` true when any.
    authors: Option<Vec<String>>,
    #[serde(default = "yes")]
    mfa_fresh: bool,
    auth_method: Option<String>,
    expect: String,
}

/// Outcome of one file: passed and failed case descriptions.
pub struct FileResult {
    pub passed: usize,
    pub failures: Vec<String>,
}

pub fn files_to_run(policy_dir: &Path, given: &[PathBuf]) -> CliResult<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let dir = policy_dir.join("tests");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    if files.is_empty() {
        return Err(CliError::config(format!("no test files given and none in {}", dir.display())));
    }
    Ok(files)
}

pub fn run_file(policies: &Policies, path: &Path) -> CliResult<FileResult> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))?;
    let file: TestFile =
        toml::from_str(&text).map_err(|e| CliError::config(format!("{}: {}", path.display(), e.message().trim())))?;
    let now = OffsetDateTime::now_utc();
    let mut principals = BTreeMap::new();
    let mut standings = BTreeMap::new();
    for (name, spec) in &file.principals {
        let kind: IdentityKind =
            spec.kind.parse().map_err(|e| CliError::config(format!("{}: principal `{name}`: {e}", path.display())))?;
        if let Some(standing) = &spec.integration {
            let bad = |e: String| CliError::config(format!("{}: principal `{name}`: integration: {e}", path.display()));
            if kind != IdentityKind::Service {
                return Err(bad("only a service acts for an integration".into()));
            }
            let on_lapse: LapseAction =
                standing.on_lapse.parse().map_err(|e: gatehouse_domain::vendor::UnknownValue| bad(e.to_string()))?;
            standings.insert(
                name.clone(),
                IntegrationStanding {
                    vendor: standing.vendor.clone(),
                    in_force: standing.in_force,
                    reasons: standing.reasons.clone(),
                    on_lapse,
                },
            );
        }
        let identity = Identity {
            id: IdentityId::new(),
            kind,
            name: name.clone(),
            email: spec.email.clone(),
            status: if spec.active { IdentityStatus::Active } else { IdentityStatus::Suspended },
            created_at: now,
            updated_at: now,
        };
        let mut grants = Vec::new();
        for grant in &spec.grants {
            let bad = |e: String| CliError::config(format!("{}: principal `{name}`: {e}", path.display()));
            if !policies.has_role(&grant.role) {
                return Err(bad(format!("unknown role `{}`", grant.role)));
            }
            grants.push(Grant {
                id: GrantId::new(),
                identity_id: identity.id,
                role: grant.role.parse().map_err(|e: gatehouse_domain::grant::GrantError| bad(e.to_string()))?,
                scope: Scope::parse(&grant.scope).map_err(|e| bad(e.to_string()))?,
                created_at: now,
                expires_at: None,
                revoked_at: None,
                created_by: None,
            });
        }
        principals.insert(name.clone(), (identity, grants));
    }
    let mut result = FileResult { passed: 0, failures: Vec::new() };
    for (number, case) in file.cases.iter().enumerate() {
        let label = case.name.clone().unwrap_or_else(|| format!("case {}", number + 1));
        let bad = |e: String| CliError::config(format!("{}: {label}: {e}", path.display()));
        let (principal, grants) =
            principals.get(&case.principal).ok_or_else(|| bad(format!("unknown principal `{}`", case.principal)))?;
        let action: Action =
            case.action.parse().map_err(|e: gatehouse_domain::authorization::UnknownAction| bad(e.to_string()))?;
        let resource = match &case.owner {
            Some(owner) => {
                let (owner, _) =
                    principals.get(owner).ok_or_else(|| bad(format!("unknown principal `{owner}` (owner)")))?;
                let invalid = || bad(format!("`{}` is not an owned resource (e.g. `token:t1`)", case.resource));
                let (kind, id) = case.resource.split_once(':').ok_or_else(invalid)?;
                let kind: OwnedKind = kind.parse().map_err(|_| invalid())?;
                Resource::owned(kind, id, owner.id)
            }
            None if case.resource == "gatehouse" => Resource::Gatehouse,
            None => Resource::parse(&case.resource).map_err(|e| bad(e.to_string()))?,
        };
        let expect_allow = match case.expect.as_str() {
            "allow" => true,
            "deny" => false,
            other => return Err(bad(format!("expect must be `allow` or `deny`, not `{other}`"))),
        };
        let context: serde_json::Map<String, serde_json::Value> =
            serde_json::to_value(&case.context).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let authors = match &case.authors {
            None => None,
            Some(names) => {
                let mut authors = Vec::with_capacity(names.len());
                for name in names {
                    let (author, _) =
                        principals.get(name).ok_or_else(|| bad(format!("unknown principal `{name}` in authors")))?;
                    authors.push(author.id);
                }
                authors.sort();
                authors.dedup();
                let all_known = !authors.is_empty();
                Some(KnownAuthors { authors, all_known })
            }
        };
        let facts = ServerFacts { authors, integration: standings.get(&case.principal).cloned() };
        let decision = policies
            .decide_with(
                &DecisionInput {
                    principal,
                    grants,
                    action,
                    resource: &resource,
                    now,
                    auth_method: case.auth_method.as_deref().unwrap_or("token"),
                    mfa_fresh: case.mfa_fresh,
                    step_up: true,
                    source_ip: None,
                    principal_is_caller: true,
                    caller_context: Some(&context),
                },
                &facts,
            )
            .map_err(|e| bad(e.to_string()))?;
        if decision.is_allowed() == expect_allow {
            result.passed += 1;
        } else {
            let reasons: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
            result.failures.push(format!(
                "{}: {label}: expected {}, got {} ({})",
                path.display(),
                case.expect,
                if decision.is_allowed() { "allow" } else { "deny" },
                reasons.join("; ")
            ));
        }
    }
    let directory = directory_of(&file, &principals);
    for (number, spec) in file.approvals.iter().enumerate() {
        let label = spec.name.clone().unwrap_or_else(|| format!("approval {}", number + 1));
        match run_ballot(policies, &principals, &directory, spec, now) {
            Ok(problems) if problems.is_empty() => result.passed += 1,
            Ok(problems) => {
                result.failures.extend(problems.into_iter().map(|p| format!("{}: {label}: {p}", path.display())));
            }
            Err(error) => return Err(CliError::config(format!("{}: {label}: {error}", path.display()))),
        }
    }
    if !file.integrations.is_empty() {
        let default_standard;
        let standard = match policies.vendor_access() {
            Some(standard) => standard,
            None => {
                eprintln!(
                    "note: {}: the policy folder has no {}: [[integration]] cases are checked against the default \
                     standard",
                    path.display(),
                    gatehouse_policy::vendor_access::VENDOR_ACCESS_FILE
                );
                default_standard = AccessStandard::default();
                &default_standard
            }
        };
        for (number, case) in file.integrations.iter().enumerate() {
            let label = case.name.clone().unwrap_or_else(|| format!("integration {}", number + 1));
            let problems = run_integration_case(case, standard, now);
            if problems.is_empty() {
                result.passed += 1;
            } else {
                result.failures.extend(problems.into_iter().map(|p| format!("{}: {label}: {p}", path.display())));
            }
        }
    }
    for (number, case) in file.reviews.iter().enumerate() {
        let label = case.name.clone().unwrap_or_else(|| format!("review {}", number + 1));
        let principal_of = |name: &str| principals.get(name).map(|(identity, _)| identity.clone());
        match run_review_case(policies, principal_of, case) {
            Ok(problems) if problems.is_empty() => result.passed += 1,
            Ok(problems) => {
                result.failures.extend(problems.into_iter().map(|p| format!("{}: {label}: {p}", path.display())));
            }
            Err(error) => return Err(CliError::config(format!("{}: {label}: {error}", path.display()))),
        }
    }
    Ok(result)
}

type Principals = BTreeMap<String, (Identity, Vec<Grant>)>;

/// Who is in which pool, as the file's principals say.
fn directory_of(file: &TestFile, principals: &Principals) -> ApproverDirectory {
    let mut directory = ApproverDirectory::default();
    for (name, (identity, grants)) in principals {
        if identity.kind != IdentityKind::Human || identity.status != IdentityStatus::Active {
            continue;
        }
        directory.people.insert(identity.id);
        for grant in grants {
            directory.grants.push(DirectoryGrant {
                identity: identity.id,
                role: grant.role.as_str().to_owned(),
                scope: grant.scope.clone(),
            });
        }
        for group in file.principals.get(name).map(|spec| spec.groups.as_slice()).unwrap_or_default() {
            directory.groups.push((group.clone(), identity.id));
        }
    }
    directory
}

/// Casts a ballot's votes and compares what happens with what it expects:
/// the problems found (none when it passes); `Err` for a malformed ballot.
fn run_ballot(
    policies: &Policies,
    principals: &Principals,
    directory: &ApproverDirectory,
    spec: &ApprovalSpec,
    now: OffsetDateTime,
) -> Result<Vec<String>, String> {
    let person = |name: &str| principals.get(name).ok_or_else(|| format!("unknown principal `{name}`"));
    let (requester, _) = person(&spec.requester)?;
    let kind = match (&spec.action, &spec.access, &spec.resource) {
        (Some(action), None, Some(resource)) => RequestKind::Action {
            action: action.parse().map_err(|e: gatehouse_domain::authorization::UnknownAction| e.to_string())?,
            resource: Resource::parse(resource).map_err(|e| e.to_string())?,
            binding: None,
        },
        (None, Some(access), None) => RequestKind::Access {
            role: access.role.parse().map_err(|e: gatehouse_domain::grant::GrantError| e.to_string())?,
            scope: Scope::parse(&access.scope).map_err(|e| e.to_string())?,
            duration: gatehouse_domain::span::parse_duration(&access.duration).map_err(|e| e.to_string())?,
        },
        _ => return Err("give `action` and `resource`, or `access`".into()),
    };
    let Some(loaded) = policies.approvals().rule_for(kind.gated(), &kind.resource_text()) else {
        return Ok(match spec.expect.as_str() {
            "no-rule" => Vec::new(),
            other => vec![format!("expected {other}, but no approval rule covers it")],
        });
    };
    let rule = &loaded.rule;
    let mut authors = std::collections::BTreeSet::new();
    for name in &spec.authors {
        authors.insert(person(name)?.0.id);
    }
    let parties = RequestParties { requester: Some(requester.id), triggering_actor: None, commit_authors: authors };
    let approving = approving_action(kind.gated());
    let decided_on = kind.decided_on();
    let mut votes = Vec::with_capacity(spec.votes.len());
    for vote in &spec.votes {
        let (voter, grants) = person(&vote.by)?;
        let decision = match vote.decision.as_str() {
            "approve" => VoteDecision::Approve,
            "deny" => VoteDecision::Deny,
            other => return Err(format!("a vote's decision is `approve` or `deny`, not `{other}`")),
        };
        let policy_allows = policies
            .decide(&DecisionInput {
                principal: voter,
                grants,
                action: approving,
                resource: &decided_on,
                now,
                auth_method: "token",
                mfa_fresh: true,
                step_up: true,
                source_ip: None,
                principal_is_caller: true,
                caller_context: None,
            })
            .is_ok_and(|decision| decision.is_allowed());
        let facts = VoterFacts {
            identity: voter.id,
            kind: voter.kind,
            is_ci_job: false,
            mfa_verified_at: vote.mfa_fresh.then_some(now),
            policy_allows,
            clauses: directory.clauses_of(voter.id, &rule.requirement, kind.subject()),
        };
        votes.push(SimulatedVote { voter: facts, decision });
    }
    let simulation = simulate(rule, &parties, &votes, now).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for (spec_vote, outcome) in spec.votes.iter().zip(&simulation.votes) {
        match (outcome, &spec_vote.refused) {
            (Ok(()), Some(why)) => {
                problems.push(format!("{}'s vote was counted; expected it refused ({why})", spec_vote.by))
            }
            (Err(refusal), None) => problems.push(format!("{}'s vote was refused: {refusal}", spec_vote.by)),
            (Err(refusal), Some(why)) if !refusal.to_string().contains(why.as_str()) => {
                problems.push(format!("{}'s vote was refused for another reason: {refusal}", spec_vote.by));
            }
            _ => {}
        }
    }
    let state = simulation.state.as_str();
    if !matches!(spec.expect.as_str(), "approved" | "pending" | "denied" | "no-rule") {
        return Err(format!("expect is approved, pending, denied or no-rule, not `{}`", spec.expect));
    }
    if state != spec.expect {
        problems.push(format!("expected {}, got {state} (rule `{}`)", spec.expect, rule.id));
    }
    Ok(problems)
}
