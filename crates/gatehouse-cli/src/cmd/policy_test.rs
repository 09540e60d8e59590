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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::KnownAuthors;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource, Scope};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{GrantId, IdentityId};
use gatehouse_policy::{DecisionInput, Policies, ServerFacts};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::{CliError, CliResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    principals: BTreeMap<String, PrincipalSpec>,
    #[serde(default, rename = "case")]
    cases: Vec<CaseSpec>,
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
    for (name, spec) in &file.principals {
        let kind: IdentityKind =
            spec.kind.parse().map_err(|e| CliError::config(format!("{}: principal `{name}`: {e}", path.display())))?;
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
        let facts = match &case.authors {
            None => ServerFacts::default(),
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
                ServerFacts { authors: Some(KnownAuthors { authors, all_known }) }
            }
        };
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
    Ok(result)
}
