//! The auditor's evidence file, read from audit entries alone: which
//! entries make a deployment, what else a deployment is owed (its request,
//! votes, decision and use, the signature verdicts of its commits, its
//! integration's compliance state), what counts as missing, and the
//! summary. The server reads the log with these rules to choose what to
//! include; `gatehouse evidence verify` runs [`read`] again on the entries
//! the file proves, so nothing but the proofs and the signature is
//! trusted.
//!
//! Every function here takes an entry as its leaf's JSON (what
//! `AuditEntry::to_json` writes and the Merkle tree hashes).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::glob;

/// The evidence file's bundle format.
pub const FORMAT: &str = "gatehouse-evidence/v1";

/// Actions whose latest entry before a deployment is its integration's
/// compliance state.
pub const INTEGRATION_STATE_ACTIONS: [&str; 6] = [
    "integration.activate",
    "integration.check",
    "integration.lapse",
    "integration.restore",
    "integration.suspend",
    "integration.reactivate",
];

/// Actions that make up a request's trail.
pub const REQUEST_ACTIONS: [&str; 5] =
    ["request.create", "request.vote", "request.decide", "request.consume", "breakglass.activate"];

/// Actions that carry commits' signature verdicts.
pub const VERDICT_ACTIONS: [&str; 2] = ["commit.verify", "push.verify"];

/// The action the access reviews write when a campaign closes.
pub const REVIEW_CLOSE: &str = "review.close";

/// What the evidence is asked for: deployments in `[from, to)` to the
/// environments `environment` matches (all when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceQuery {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub environment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceQueryError {
    #[error("`{0}` must be an RFC 3339 time")]
    BadTime(&'static str),
    #[error("`from` must be before `to`")]
    EmptyPeriod,
    #[error("the environment glob is empty or longer than 200 characters")]
    BadGlob,
}

impl EvidenceQuery {
    pub fn parse(from: &str, to: &str, environment: Option<&str>) -> Result<Self, EvidenceQueryError> {
        let from = OffsetDateTime::parse(from, &Rfc3339).map_err(|_| EvidenceQueryError::BadTime("from"))?;
        let to = OffsetDateTime::parse(to, &Rfc3339).map_err(|_| EvidenceQueryError::BadTime("to"))?;
        if from >= to {
            return Err(EvidenceQueryError::EmptyPeriod);
        }
        if let Some(glob) = environment
            && (glob.trim().is_empty() || glob.len() > 200)
        {
            return Err(EvidenceQueryError::BadGlob);
        }
        Ok(Self { from, to, environment: environment.map(str::to_owned) })
    }

    /// Whether the environment `ORG/REPO:NAME` is asked for: the glob
    /// matches the whole id, or, for a glob without `:`, the name.
    pub fn wants_environment(&self, environment: &str) -> bool {
        let Some(pattern) = &self.environment else { return true };
        if glob::matches(pattern, environment) {
            return true;
        }
        !pattern.contains(':') && environment.rsplit_once(':').is_some_and(|(_, name)| glob::matches(pattern, name))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "from": crate::clock::format_rfc3339(self.from),
            "to": crate::clock::format_rfc3339(self.to),
            "environment": self.environment,
        })
    }

    /// The query as a file's `sections.query` states it.
    pub fn from_json(value: &Value) -> Result<Self, EvidenceQueryError> {
        let text = |key: &'static str| value.get(key).and_then(Value::as_str).ok_or(EvidenceQueryError::BadTime(key));
        Self::parse(text("from")?, text("to")?, value.get("environment").and_then(Value::as_str))
    }
}

fn text<'a>(entry: &'a Value, pointer: &str) -> Option<&'a str> {
    entry.pointer(pointer).and_then(Value::as_str)
}

fn time_of(entry: &Value) -> Option<OffsetDateTime> {
    text(entry, "/time").and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
}

fn index_of(entry: &Value) -> u64 {
    entry.get("index").and_then(Value::as_u64).unwrap_or_default()
}

/// How a deployment reached gatehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentPath {
    /// `gatehouse gate` / `POST /api/v1/authorize` answered `allow`.
    Gate,
    /// A GitHub deployment protection rule, decided at once.
    GithubDecided,
    /// A GitHub deployment protection rule held for an approval rule.
    GithubHeld,
}

impl DeploymentPath {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentPath::Gate => "gate",
            DeploymentPath::GithubDecided => "github",
            DeploymentPath::GithubHeld => "github-held",
        }
    }
}

/// An entry that records a deployment, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStart {
    pub index: u64,
    pub path: DeploymentPath,
    /// RFC 3339, as the entry has it.
    pub time: String,
    /// `environment:ORG/REPO:NAME`.
    pub resource: String,
    /// `ORG/REPO:NAME`.
    pub environment: String,
    /// `ORG/REPO`.
    pub project: String,
    /// The identity that deployed.
    pub principal: String,
    /// The approved request the decision used, when it names one.
    pub request: Option<String>,
    /// The approval rule that covered it, when one did.
    pub rule: Option<String>,
    /// Commits deployed, lowercase hex, sorted.
    pub commits: Vec<String>,
}

const HELD_PREFIX: &str = "waiting for approval under rule";

/// Whether `entry` records a deployment the query asks for.
///
/// A deployment is an allowed decision of `deployment.execute`: an
/// `authorize` entry for that action answered `allow` (the gate), or a
/// `deployment.execute` entry with decision `allow` (a GitHub protection
/// rule, decided at once or held for its approval rule).
pub fn deployment_of(entry: &Value, query: &EvidenceQuery) -> Option<DeploymentStart> {
    let action = text(entry, "/action")?;
    if text(entry, "/outcome") != Some("success") {
        return None;
    }
    let path = match action {
        "authorize" if text(entry, "/details/action") == Some("deployment.execute") => DeploymentPath::Gate,
        "deployment.execute" if text(entry, "/reason").is_some_and(|r| r.starts_with(HELD_PREFIX)) => {
            DeploymentPath::GithubHeld
        }
        "deployment.execute" => DeploymentPath::GithubDecided,
        _ => return None,
    };
    if text(entry, "/details/decision") != Some("allow") {
        return None;
    }
    let resource = text(entry, "/resource")?;
    let environment = resource.strip_prefix("environment:")?;
    let (project, _) = environment.rsplit_once(':')?;
    let time_text = text(entry, "/time")?;
    let time = OffsetDateTime::parse(time_text, &Rfc3339).ok()?;
    if time < query.from || time >= query.to || !query.wants_environment(environment) {
        return None;
    }
    let principal = match path {
        DeploymentPath::Gate => text(entry, "/details/principal"),
        DeploymentPath::GithubDecided | DeploymentPath::GithubHeld => text(entry, "/actor"),
    }?;
    let mut commits: Vec<String> = match path {
        DeploymentPath::Gate => {
            let context = entry.pointer("/details/context");
            let one = context.and_then(|c| c.get("commit")).and_then(Value::as_str);
            let many = context.and_then(|c| c.get("commits")).and_then(Value::as_array);
            one.into_iter().chain(many.into_iter().flatten().filter_map(Value::as_str)).map(str::to_owned).collect()
        }
        _ => text(entry, "/details/deployment/sha").map(str::to_owned).into_iter().collect(),
    };
    for commit in &mut commits {
        commit.make_ascii_lowercase();
    }
    commits.sort();
    commits.dedup();
    Some(DeploymentStart {
        index: index_of(entry),
        path,
        time: time_text.to_owned(),
        resource: resource.to_owned(),
        environment: environment.to_owned(),
        project: project.to_owned(),
        principal: principal.to_owned(),
        request: text(entry, "/details/approval/request").map(str::to_owned),
        rule: text(entry, "/details/approval/rule").map(str::to_owned).or_else(|| {
            text(entry, "/reason")
                .and_then(|r| r.strip_prefix(HELD_PREFIX))
                .map(|r| r.trim().trim_matches('`').to_owned())
        }),
        commits,
    })
}

/// The request id an entry of a request's trail is about.
pub fn request_of(entry: &Value) -> Option<&str> {
    let action = text(entry, "/action")?;
    REQUEST_ACTIONS.contains(&action).then(|| text(entry, "/details/request_id")).flatten()
}

/// Whether `create` (a `request.create`) is the request a held GitHub
/// deployment `held` asked for: the first one after it by the same
/// identity for the same action and resource.
pub fn is_request_of_held(held: &DeploymentStart, create: &Value) -> bool {
    text(create, "/action") == Some("request.create")
        && index_of(create) > held.index
        && text(create, "/actor") == Some(held.principal.as_str())
        && text(create, "/details/action") == Some("deployment.execute")
        && text(create, "/details/resource") == Some(held.resource.as_str())
}

/// The commits an entry gives signature verdicts for, lowercase, with
/// each verdict.
pub fn verdicts_in(entry: &Value) -> Vec<(String, bool, Option<String>)> {
    let lower = |s: &str| s.to_ascii_lowercase();
    match text(entry, "/action") {
        Some("commit.verify") => text(entry, "/details/commit")
            .map(|commit| {
                (
                    lower(commit),
                    entry.pointer("/details/valid").and_then(Value::as_bool).unwrap_or(false),
                    text(entry, "/details/signer").map(str::to_owned),
                )
            })
            .into_iter()
            .collect(),
        Some("push.verify") => entry
            .pointer("/details/verdicts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|verdict| {
                Some((
                    lower(verdict.get("commit")?.as_str()?),
                    verdict.get("valid").and_then(Value::as_bool).unwrap_or(false),
                    verdict.get("signer").and_then(Value::as_str).map(str::to_owned),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The integration an `integration.register` entry ties to its service
/// identity: `(identity, integration)`.
pub fn registration_in(entry: &Value) -> Option<(&str, &str)> {
    (text(entry, "/action") == Some("integration.register"))
        .then(|| Some((text(entry, "/details/identity_id")?, text(entry, "/details/integration_id")?)))
        .flatten()
}

/// The integration an entry states the compliance of, when it is one of
/// [`INTEGRATION_STATE_ACTIONS`].
pub fn integration_state_of(entry: &Value) -> Option<&str> {
    let action = text(entry, "/action")?;
    INTEGRATION_STATE_ACTIONS.contains(&action).then(|| text(entry, "/details/integration_id")).flatten()
}

/// A state entry in words.
fn compliance_in(entry: &Value) -> &'static str {
    match text(entry, "/action") {
        Some("integration.check") if entry.pointer("/details/compliant") == Some(&Value::Bool(true)) => "compliant",
        Some("integration.check") => "not compliant",
        Some("integration.lapse") => "lapsed",
        Some("integration.suspend") => "suspended",
        Some("integration.activate" | "integration.restore" | "integration.reactivate") => "in force",
        _ => "unknown",
    }
}

/// Whether an entry is an access review closed in the query's period.
pub fn is_review_closed(entry: &Value, query: &EvidenceQuery) -> bool {
    text(entry, "/action") == Some(REVIEW_CLOSE)
        && time_of(entry).is_some_and(|time| time >= query.from && time < query.to)
}

/// The totals `gatehouse evidence verify` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub deployments: u64,
    /// Deployments whose approved request is in the file.
    pub approved: u64,
    /// Deployments no approval rule covered.
    pub without_rule: u64,
    /// Approving votes.
    pub approvals: u64,
    /// Break-glass deployments.
    pub exceptions: u64,
    pub commits_verified: u64,
    pub commits_refused: u64,
    /// Deployments by an integration's identity, and of those, the ones
    /// not in force (not compliant, lapsed, suspended) at the time.
    pub by_integrations: u64,
    pub integrations_not_in_force: u64,
    /// Everything a deployment is owed that the file does not hold.
    pub missing: u64,
    pub reviews_closed: u64,
}

impl Summary {
    pub fn to_json(&self) -> Value {
        json!({
            "deployments": self.deployments,
            "approved": self.approved,
            "without_rule": self.without_rule,
            "approvals": self.approvals,
            "exceptions": self.exceptions,
            "commits_verified": self.commits_verified,
            "commits_refused": self.commits_refused,
            "by_integrations": self.by_integrations,
            "integrations_not_in_force": self.integrations_not_in_force,
            "missing": self.missing,
            "reviews_closed": self.reviews_closed,
        })
    }
}

/// The file's reading of its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// One object per deployment, in log order.
    pub deployments: Vec<Value>,
    /// The `review.close` entries' indexes, resources and details.
    pub reviews: Vec<Value>,
    pub summary: Summary,
    /// Every missing item, `entry N: …`, in log order.
    pub missing: Vec<String>,
}

impl Evidence {
    /// The bundle's `sections`.
    pub fn sections(&self, query: &EvidenceQuery) -> serde_json::Map<String, Value> {
        let mut sections = serde_json::Map::new();
        sections.insert("query".into(), query.to_json());
        sections.insert("summary".into(), self.summary.to_json());
        sections.insert("deployments".into(), Value::Array(self.deployments.clone()));
        sections.insert("reviews".into(), Value::Array(self.reviews.clone()));
        sections.insert("missing".into(), json!(self.missing));
        sections
    }
}

#[derive(Default)]
struct Trail<'a> {
    create: Option<&'a Value>,
    votes: Vec<&'a Value>,
    decide: Option<&'a Value>,
    consume: Option<&'a Value>,
    break_glass: Option<&'a Value>,
}

/// Reads the deployments, their trails and the reviews out of `entries`
/// (ascending by index), with what is missing and the summary.
pub fn read(query: &EvidenceQuery, entries: &[Value]) -> Evidence {
    let mut trails: HashMap<&str, Trail> = HashMap::new();
    let mut verdicts: HashMap<String, Vec<(u64, bool, Option<String>)>> = HashMap::new();
    let mut integration_of: HashMap<&str, (&str, u64)> = HashMap::new();
    let mut states: HashMap<&str, Vec<&Value>> = HashMap::new();
    let mut creates: Vec<&Value> = Vec::new();
    let mut starts = Vec::new();
    let mut reviews = Vec::new();
    for entry in entries {
        if let Some(request) = request_of(entry) {
            let trail = trails.entry(request).or_default();
            match text(entry, "/action") {
                Some("request.create") => {
                    trail.create = Some(entry);
                    creates.push(entry);
                }
                Some("request.vote") => trail.votes.push(entry),
                Some("request.decide") => trail.decide = Some(entry),
                Some("request.consume") => trail.consume = Some(entry),
                Some("breakglass.activate") => trail.break_glass = Some(entry),
                _ => {}
            }
        }
        for (commit, valid, signer) in verdicts_in(entry) {
            verdicts.entry(commit).or_default().push((index_of(entry), valid, signer));
        }
        if let Some((identity, integration)) = registration_in(entry) {
            integration_of.insert(identity, (integration, index_of(entry)));
        }
        if let Some(integration) = integration_state_of(entry) {
            states.entry(integration).or_default().push(entry);
        }
        if let Some(start) = deployment_of(entry, query) {
            starts.push(start);
        }
        if is_review_closed(entry, query) {
            reviews.push(json!({
                "entry": index_of(entry),
                "time": text(entry, "/time"),
                "resource": text(entry, "/resource"),
                "actor": text(entry, "/actor"),
                "details": entry.get("details"),
            }));
        }
    }

    let mut summary = Summary { reviews_closed: reviews.len() as u64, ..Summary::default() };
    let mut missing = Vec::new();
    let mut deployments = Vec::with_capacity(starts.len());
    let mut used_creates: BTreeSet<u64> = BTreeSet::new();
    for mut start in starts {
        let at = start.index;
        let mut owed = Vec::new();
        if start.path == DeploymentPath::GithubHeld && start.request.is_none() {
            let after = creates.partition_point(|create| index_of(create) <= at);
            let found = creates[after..]
                .iter()
                .find(|create| is_request_of_held(&start, create) && !used_creates.contains(&index_of(create)));
            match found {
                Some(create) => {
                    used_creates.insert(index_of(create));
                    start.request = text(create, "/details/request_id").map(str::to_owned);
                }
                None => owed.push("the request it was held for".to_owned()),
            }
        }
        let request_json = start.request.as_deref().map(|request| {
            let trail = trails.get(request);
            let create = trail.and_then(|t| t.create);
            let decide = trail.and_then(|t| t.decide);
            let consume = trail.and_then(|t| t.consume);
            let break_glass = trail.and_then(|t| t.break_glass);
            let votes: Vec<Value> = trail
                .map(|t| t.votes.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|vote| {
                    json!({
                        "entry": index_of(vote),
                        "time": text(vote, "/time"),
                        "voter": text(vote, "/details/voter"),
                        "decision": text(vote, "/details/decision"),
                        "mfa": vote.get("mfa").and_then(Value::as_bool).unwrap_or(false),
                        "mfa_method": vote.get("mfa").and_then(Value::as_bool).unwrap_or(false).then_some("totp"),
                        "mfa_age_seconds": vote.pointer("/details/mfa_age_seconds"),
                        "withdrawn": vote.pointer("/details/withdrawn").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect();
            let approving =
                votes.iter().filter(|v| v["decision"] == json!("approve") && v["withdrawn"] != json!(true)).count()
                    as u64;
            summary.approvals += approving;
            let state = decide.and_then(|d| text(d, "/details/state"));
            if break_glass.is_some() {
                summary.exceptions += 1;
            } else {
                if create.is_none() {
                    owed.push(format!("request.create of request {request}"));
                }
                if state != Some("approved") {
                    owed.push(format!("the approval (request.decide approved) of request {request}"));
                }
            }
            if start.path == DeploymentPath::Gate && consume.is_none() {
                owed.push(format!("request.consume of request {request}"));
            }
            if (state == Some("approved") && create.is_some()) || break_glass.is_some() {
                summary.approved += 1;
            }
            json!({
                "id": request,
                "rule": create.and_then(|c| text(c, "/details/rule")).or(start.rule.as_deref()),
                "create": create.map(index_of),
                "requester": create.and_then(|c| text(c, "/actor")),
                "reason": create.and_then(|c| text(c, "/details/reason")),
                "ticket": create.and_then(|c| text(c, "/details/ticket")),
                "votes": votes,
                "decide": decide.map(index_of),
                "state": state,
                "consume": consume.map(index_of),
                "break_glass": break_glass.map(|b| json!({
                    "entry": index_of(b),
                    "incident": text(b, "/details/incident"),
                    "reason": text(b, "/details/reason"),
                    "after_review_due": text(b, "/details/after_review_due"),
                })),
            })
        });
        if start.request.is_none() && start.rule.is_none() {
            summary.without_rule += 1;
        }
        let commits: Vec<Value> = start
            .commits
            .iter()
            .map(|commit| {
                let latest = verdicts
                    .get(commit)
                    .and_then(|all| all.iter().filter(|(index, ..)| *index < at).max_by_key(|(index, ..)| *index));
                match latest {
                    Some((index, valid, signer)) => {
                        if *valid {
                            summary.commits_verified += 1;
                        } else {
                            summary.commits_refused += 1;
                        }
                        json!({"commit": commit, "entry": index, "valid": valid, "signer": signer})
                    }
                    None => {
                        owed.push(format!("a signature verdict of commit {commit}"));
                        json!({"commit": commit, "entry": null, "valid": null, "signer": null})
                    }
                }
            })
            .collect();
        let integration = integration_of.get(start.principal.as_str()).filter(|(_, registered)| *registered < at).map(
            |(integration, registered)| {
                summary.by_integrations += 1;
                let latest = states
                    .get(integration)
                    .and_then(|all| all.iter().filter(|state| index_of(state) < at).max_by_key(|s| index_of(s)));
                let state = latest.map(|s| compliance_in(s));
                match state {
                    None => owed.push(format!("the compliance state of integration {integration}")),
                    Some("in force" | "compliant") => {}
                    Some(_) => summary.integrations_not_in_force += 1,
                }
                json!({
                    "id": integration,
                    "register": registered,
                    "state": state,
                    "entry": latest.map(|s| index_of(s)),
                    "action": latest.and_then(|s| text(s, "/action")),
                })
            },
        );
        summary.deployments += 1;
        summary.missing += owed.len() as u64;
        missing.extend(owed.iter().map(|item| format!("entry {at}: {item}")));
        deployments.push(json!({
            "entry": at,
            "time": start.time,
            "path": start.path.as_str(),
            "environment": start.environment,
            "principal": start.principal,
            "rule": start.rule,
            "request": request_json,
            "commits": commits,
            "integration": integration,
            "missing": owed,
        }));
    }
    Evidence { deployments, reviews, summary, missing }
}

/// The requests, commits (by project) and identities deployments name:
/// what a maker must look up to include their trails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub requests: BTreeSet<String>,
    pub commits: BTreeMap<String, BTreeSet<String>>,
    pub principals: BTreeSet<String>,
}

impl Wanted {
    pub fn add(&mut self, start: &DeploymentStart) {
        if let Some(request) = &start.request {
            self.requests.insert(request.clone());
        }
        if !start.commits.is_empty() {
            self.commits.entry(start.project.clone()).or_default().extend(start.commits.iter().cloned());
        }
        self.principals.insert(start.principal.clone());
    }
}

/// When a request was made, read from its id (a UUIDv7): no entry of its
/// trail is older. `None` for an id that is not a UUIDv7.
pub fn request_created_at(id: &str) -> Option<OffsetDateTime> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    let (seconds, nanos) = uuid.get_timestamp()?.to_unix();
    let seconds = i64::try_from(seconds).ok()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok().map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
}

#[cfg(test)]
mod tests;
