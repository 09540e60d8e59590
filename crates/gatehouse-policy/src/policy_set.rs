//! Loading and validating a policy folder: one `*.cedarschema` file and any
//! number of `*.cedar` files, every policy named by an `@id` annotation.
//! Templates are roles; static policies are guards and custom rules.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Effect, Entities, Policy, PolicyId, PolicySet, Schema, Template, ValidationMode, Validator,
};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use gatehouse_domain::authorization::Action;

use gatehouse_domain::access::{Pool, RuleLimits};
use gatehouse_domain::vendor::AccessStandard;

use crate::approvals::{APPROVALS_FILE, ApprovalRules, load_approvals};
use crate::decision::{DecisionMemos, actions_with_authors, actions_with_step_up, identity_uid};
use crate::integration::DeclaredAttributes;
use crate::reviews::{REVIEWS_FILE, ReviewSettings, load_reviews};
use crate::vendor_access::{VENDOR_ACCESS_FILE, load_vendor_access, notify_line};

/// The built-in policy folder, written by `init`: (file name, contents).
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    ("schema.cedarschema", include_str!("../defaults/schema.cedarschema")),
    ("roles.cedar", include_str!("../defaults/roles.cedar")),
    ("guards.cedar", include_str!("../defaults/guards.cedar")),
    ("owners.cedar", include_str!("../defaults/owners.cedar")),
];

/// The built-in decision tests, written by `init` under `tests/`.
pub const DEFAULT_TESTS: &[(&str, &str)] = &[("defaults.toml", include_str!("../defaults/tests/defaults.toml"))];

/// One thing wrong with a policy folder, located for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: String,
    /// 1-based; 0 when the problem is not at one place.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy folder: {0}")]
    Unreadable(String),
    #[error("the policy folder is invalid:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<PolicyProblem>),
}

/// The files of a policy folder, by name.
#[derive(Debug, Clone, Default)]
pub struct PolicySetSource {
    pub files: BTreeMap<String, String>,
}

impl PolicySetSource {
    pub fn defaults() -> Self {
        Self { files: DEFAULT_FILES.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned())).collect() }
    }

    /// Reads `*.cedar` and `*.cedarschema` files, `approvals.toml`,
    /// `vendor-access.toml` and `reviews.toml` (not subfolders).
    pub fn read_dir(dir: &Path) -> Result<Self, PolicyError> {
        let unreadable = |e: std::io::Error| PolicyError::Unreadable(format!("{}: {e}", dir.display()));
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let is_policy = path.extension().is_some_and(|e| e == "cedar" || e == "cedarschema")
                || path
                    .file_name()
                    .is_some_and(|n| n == APPROVALS_FILE || n == VENDOR_ACCESS_FILE || n == REVIEWS_FILE);
            if is_policy && path.is_file() {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                files.insert(name, std::fs::read_to_string(&path).map_err(unreadable)?);
            }
        }
        Ok(Self { files })
    }

    /// SHA-256 over every file's name and contents, in name order: what an
    /// audit entry records of a policy change.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (name, text) in &self.files {
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// A role as a person reads it: its name, description and actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub name: String,
    pub description: String,
    /// The actions it allows; empty with `all_actions` for a role that
    /// constrains no action.
    pub actions: Vec<String>,
    pub all_actions: bool,
}

/// A validated policy folder.
#[derive(Debug, Clone)]
pub struct Policies {
    pub(crate) schema: Schema,
    /// The schema's actions with the groups it puts them in: what Cedar
    /// needs to see for `action in [Action::"group"]` to hold.
    pub(crate) actions: Entities,
    pub(crate) statics: Vec<Policy>,
    pub(crate) roles: BTreeMap<String, Template>,
    /// The actions whose context declares `step_up` (see
    /// [`DecisionInput::step_up`](crate::DecisionInput)).
    pub(crate) step_up_actions: HashSet<Action>,
    /// Whether the schema declares `Owned` (one identity's own record); a
    /// folder written before it asks about gatehouse instead.
    pub(crate) declares_owned: bool,
    /// The actions whose context declares `authors` and `author_known`
    /// (see [`ServerFacts`](crate::ServerFacts)).
    pub(crate) authors_actions: HashSet<Action>,
    /// Which attributes of an integration's standing `Identity` declares
    /// (see [`ServerFacts::integration`](crate::ServerFacts)).
    pub(crate) integration_attributes: DeclaredAttributes,
    /// What decisions under these policies share.
    pub(crate) memos: Arc<DecisionMemos>,
    /// The approval rules of `approvals.toml` (none without the file).
    approvals: Arc<ApprovalRules>,
    /// The API access standard of `vendor-access.toml` (none without it).
    vendor_access: Option<Arc<AccessStandard>>,
    /// The line of its `notify` (0 without one).
    vendor_notify_line: usize,
    /// The review campaigns and trigger settings of `reviews.toml` (the
    /// defaults without it).
    reviews: Arc<ReviewSettings>,
    hash: String,
}

/// Rules counting `role:NAME` approvers must name a role the policies
/// define (groups and identities are the server's to check: it knows the
/// directory).
fn undefined_roles(rules: &ApprovalRules, roles: &BTreeMap<String, Template>) -> Vec<PolicyProblem> {
    let mut found = Vec::new();
    for loaded in rules.rules() {
        let mut pools: Vec<Pool> = loaded.rule.requirement.clauses().into_iter().map(|clause| clause.pool).collect();
        if let Some(glass) = &loaded.rule.break_glass {
            pools.push(glass.who.clone());
            pools.push(glass.after_review.pool.clone());
        }
        for pool in &pools {
            if let Pool::Role(name) = pool
                && !roles.contains_key(name)
            {
                found.push(PolicyProblem {
                    file: APPROVALS_FILE.into(),
                    line: loaded.line,
                    message: format!("rule `{}`: unknown role `{name}`", loaded.rule.id),
                });
            }
        }
    }
    found
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len())).map_or(0, |before| before.matches('\n').count() + 1)
}

/// The problems of a diagnostic, one per labelled place (or one unplaced).
fn problems(file: &str, text: &str, diagnostic: &dyn Diagnostic) -> Vec<PolicyProblem> {
    let mut message = diagnostic.to_string();
    if let Some(help) = diagnostic.help() {
        message = format!("{message} ({help})");
    }
    let lines: Vec<usize> =
        diagnostic.labels().map(|labels| labels.map(|l| line_of(text, l.offset())).collect()).unwrap_or_default();
    match lines.first() {
        Some(&line) => vec![PolicyProblem { file: file.to_owned(), line, message }],
        None => vec![PolicyProblem { file: file.to_owned(), line: 0, message }],
    }
}

impl Policies {
    pub fn defaults() -> Self {
        // The built-in folder is tested to validate.
        match Self::from_source(&PolicySetSource::defaults()) {
            Ok(policies) => policies,
            Err(error) => panic!("the built-in policies do not validate: {error}"),
        }
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The approval rules in force with these policies.
    pub fn approvals(&self) -> &ApprovalRules {
        &self.approvals
    }

    /// The API access standard in force with these policies, when the
    /// folder has a `vendor-access.toml`.
    pub fn vendor_access(&self) -> Option<&AccessStandard> {
        self.vendor_access.as_deref()
    }

    /// The notification targets told of vendors' and integrations' changes
    /// (`vendor-access.toml`'s `notify`, none without it), and the line it
    /// is written on.
    pub fn vendor_notify(&self) -> (&[String], usize) {
        let names = self.vendor_access.as_deref().map_or(&[][..], |standard| standard.notify.as_slice());
        (names, self.vendor_notify_line)
    }

    /// The review campaigns and trigger settings in force with these
    /// policies (`reviews.toml`; without it no campaigns and the defaults).
    pub fn reviews(&self) -> &ReviewSettings {
        &self.reviews
    }

    /// Parses and strictly validates a policy folder.
    pub fn from_source(source: &PolicySetSource) -> Result<Self, PolicyError> {
        let mut found = Vec::new();
        let schemas: Vec<(&String, &String)> =
            source.files.iter().filter(|(name, _)| name.ends_with(".cedarschema")).collect();
        let schema = match schemas.as_slice() {
            [(name, text)] => match Schema::from_cedarschema_str(text) {
                Ok((schema, _warnings)) => match schema.action_entities() {
                    Ok(actions) => Some((schema, actions)),
                    Err(error) => {
                        found.push(PolicyProblem { file: (*name).clone(), line: 0, message: error.to_string() });
                        None
                    }
                },
                Err(error) => {
                    found.extend(problems(name, text, &error));
                    None
                }
            },
            [] => {
                found.push(PolicyProblem { file: "(folder)".into(), line: 0, message: "no .cedarschema file".into() });
                None
            }
            _ => {
                found.push(PolicyProblem {
                    file: "(folder)".into(),
                    line: 0,
                    message: "more than one .cedarschema file".into(),
                });
                None
            }
        };

        let mut set = PolicySet::new();
        let mut statics = Vec::new();
        let mut roles = BTreeMap::new();
        let mut origin: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (name, text) in source.files.iter().filter(|(name, _)| name.ends_with(".cedar")) {
            let parsed: PolicySet = match text.parse() {
                Ok(parsed) => parsed,
                Err(error) => {
                    let error: cedar_policy::ParseErrors = error;
                    found.extend(problems(name, text, &error));
                    continue;
                }
            };
            for template in parsed.templates() {
                let Some(id) = named(template.annotation("id"), name, text, &mut found) else { continue };
                let template = template.new_id(PolicyId::new(&id));
                if let Err(error) = set.add_template(template.clone()) {
                    found.push(PolicyProblem { file: name.clone(), line: 0, message: format!("`{id}`: {error}") });
                    continue;
                }
                origin.insert(id.clone(), (name.clone(), text.clone()));
                roles.insert(id, template);
            }
            for policy in parsed.policies() {
                let Some(id) = named(policy.annotation("id"), name, text, &mut found) else { continue };
                let policy = policy.new_id(PolicyId::new(&id));
                if let Err(error) = set.add(policy.clone()) {
                    found.push(PolicyProblem { file: name.clone(), line: 0, message: format!("`{id}`: {error}") });
                    continue;
                }
                origin.insert(id, (name.clone(), text.clone()));
                statics.push(policy);
            }
        }
        if let Some((schema, _)) = &schema {
            let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
            for error in result.validation_errors() {
                let id = error.policy_id().to_string();
                let (file, text) = origin.get(&id).cloned().unwrap_or_else(|| ("(unknown)".into(), String::new()));
                found.extend(problems(&file, &text, error));
            }
        }
        let approvals = match source.files.get(APPROVALS_FILE) {
            None => ApprovalRules::default(),
            Some(text) => match load_approvals(text, &RuleLimits::default()) {
                Ok(rules) => {
                    found.extend(undefined_roles(&rules, &roles));
                    rules
                }
                Err(problems) => {
                    found.extend(problems);
                    ApprovalRules::default()
                }
            },
        };
        let vendor_access = source.files.get(VENDOR_ACCESS_FILE).and_then(|text| match load_vendor_access(text) {
            Ok(standard) => Some(Arc::new(standard)),
            Err(problems) => {
                found.extend(problems);
                None
            }
        });
        let reviews = match source.files.get(REVIEWS_FILE) {
            None => ReviewSettings::default(),
            Some(text) => load_reviews(text, |name| roles.contains_key(name)).unwrap_or_else(|problems| {
                found.extend(problems);
                ReviewSettings::default()
            }),
        };
        let vendor_notify_line = source.files.get(VENDOR_ACCESS_FILE).map_or(0, |text| notify_line(text));
        match (schema, found.is_empty()) {
            (Some((schema, actions)), true) => {
                let step_up_actions = actions_with_step_up(&schema);
                let declares_owned = schema.entity_types().any(|name| name.to_string() == "Owned");
                let authors_actions = actions_with_authors(&schema);
                let integration_attributes = DeclaredAttributes::of(&schema, &identity_uid("sample"));
                Ok(Self {
                    schema,
                    actions,
                    statics,
                    roles,
                    step_up_actions,
                    declares_owned,
                    authors_actions,
                    integration_attributes,
                    memos: Arc::default(),
                    approvals: Arc::new(approvals),
                    vendor_access,
                    vendor_notify_line,
                    reviews: Arc::new(reviews),
                    hash: source.hash(),
                })
            }
            _ => Err(PolicyError::Invalid(found)),
        }
    }

    /// The roles, by name.
    pub fn roles(&self) -> Vec<RoleInfo> {
        self.roles
            .iter()
            .map(|(name, template)| {
                let (actions, all_actions) = match template.action_constraint() {
                    ActionConstraint::Any => (Vec::new(), true),
                    ActionConstraint::In(uids) => {
                        (uids.iter().map(|uid| uid.id().unescaped().to_owned()).collect(), false)
                    }
                    ActionConstraint::Eq(uid) => (vec![uid.id().unescaped().to_owned()], false),
                };
                RoleInfo {
                    name: name.clone(),
                    description: template.annotation("description").unwrap_or_default().to_owned(),
                    actions,
                    all_actions,
                }
            })
            .collect()
    }

    /// Whether decisions of `action` carry `step_up` in their context.
    pub fn step_up_in_context(&self, action: Action) -> bool {
        self.step_up_actions.contains(&action)
    }

    /// Whether decisions of `action` carry gatehouse's facts about the
    /// change they name (`authors`, `author_known`) in their context.
    pub fn authors_in_context(&self, action: Action) -> bool {
        self.authors_actions.contains(&action)
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.contains_key(name)
    }

    /// The static policies' ids and effects, for documentation.
    pub fn static_policies(&self) -> Vec<(String, bool, String)> {
        self.statics
            .iter()
            .map(|p| {
                (
                    p.id().to_string(),
                    p.effect() == Effect::Permit,
                    p.annotation("description").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// The `@id` of a policy, which gatehouse requires: reasons, grants and
/// the audit log name policies by it.
fn named(id: Option<&str>, file: &str, text: &str, found: &mut Vec<PolicyProblem>) -> Option<String> {
    match id {
        Some(id) if !id.is_empty() => Some(id.to_owned()),
        _ => {
            found.push(PolicyProblem {
                file: file.to_owned(),
                line: line_of(text, 0),
                message: "a policy without an `@id(\"…\")` annotation".into(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests;
