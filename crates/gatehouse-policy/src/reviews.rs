//! `reviews.toml` in the policy folder: the access-review campaigns the
//! folder defines, and how the review triggers behave. Each `[[campaign]]`
//! table has the keys of the API's JSON form and is read by the domain's
//! [`definition_from_json`], so a campaign means the same from either door.
//! Like `approvals.toml`, every problem is reported with its file and line
//! (the key's where it can be told, else the `[[campaign]]` table's), and
//! one problem refuses the whole file (a reload keeps the working one).
//!
//! Without the file: no campaigns, `on_unreviewed_change = "flag"`,
//! pipeline changes reviewed by `["owner"]` with `role:admin` as the
//! fallback, and renewal reviews opened 30 days before a contract renews
//! and lasting 7 days past it (while it waits on its reviewers after the
//! renewal, the vendor is lapsed).
//! A file setting everything:
//!
//! ```toml
//! on_unreviewed_change = "hold_deploys"   # or "flag" (default)
//! pipeline_change_reviewers = ["owner"]    # who reviews a pipeline change
//! pipeline_change_fallback = "role:admin"  # who reviews what they may not
//! renewal_days = 30                        # 1 to 365 days before a vendor's renewal
//! renewal_grace_days = 14                  # 0 to 90 days past it until the review closes
//! notify = ["security"]                    # targets told of openings, reminders, defaults, alerts
//!
//! [[campaign]]
//! name = "Quarterly production access"
//! reviewers = ["owner", "manager"]         # owner, manager, role:NAME, group:NAME, identity:ID
//! fallback = "role:admin"                  # required: a role, group or identity
//! duration = "14d"                         # 1h to 90d
//! recurrence = "quarterly"                 # monthly, quarterly, half-yearly, yearly or e.g. "30d"
//! on_no_response = "revoke"                # keep, revoke or suspend; default keep, revoke if privileged
//! second_stage = ["group:security"]        # privileged items only; distinct from reviewers
//! unused_after = "90d"                     # recommend revoking what was unused this long
//!
//! [campaign.scope]
//! kinds = ["grant", "token"]               # grant (default), token, signing_key
//! role = "deployer"
//! scope = "environment:**:production"     # a glob over the grant's scope (`**` crosses `/`)
//! identity_kind = "human"                  # or "service"
//! # identity, integration and vendor take ids
//! ```
//!
//! Campaign names are unique within the file, ignoring case. Roles named
//! in `scope.role` and in `role:NAME` reviewers or fallbacks must be roles
//! of the folder; groups and identities are the server's to check.
//! `notify` (none by default) names `[notify.NAME]` targets, checked by
//! `serve` and a reload as `vendor-access.toml`'s are.

use gatehouse_domain::access::Pool;
use gatehouse_domain::review::{CampaignDefinition, MAX_REVIEWERS, Reviewer, definition_from_json};
use serde_json::{Map, Value};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::policy_set::PolicyProblem;

/// The file's name in the policy folder.
pub const REVIEWS_FILE: &str = "reviews.toml";

/// The largest `reviews.toml` read: it is written by people.
const MAX_FILE_BYTES: usize = 256 * 1024;

/// The most campaigns one file defines.
pub const MAX_CAMPAIGNS: usize = 256;

/// Days before a vendor's contract renewal that its review opens, when the
/// file does not say.
pub const DEFAULT_RENEWAL_DAYS: u16 = 30;

/// The longest lead `renewal_days` may set.
pub const MAX_RENEWAL_DAYS: u16 = 365;

/// Days past a vendor's contract renewal that its review stays open (and
/// the vendor lapsed while nobody finished it), when the file does not say.
pub const DEFAULT_RENEWAL_GRACE_DAYS: u16 = 7;

/// The longest grace `renewal_grace_days` may set.
pub const MAX_RENEWAL_GRACE_DAYS: u16 = 90;

const TOP_LEVEL_KEYS: &[&str] = &[
    "campaign",
    "on_unreviewed_change",
    "pipeline_change_reviewers",
    "pipeline_change_fallback",
    "renewal_days",
    "renewal_grace_days",
    "notify",
];

/// What a pipeline change nobody has reviewed yet does to that pipeline's
/// deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnreviewedChange {
    /// Deployments go on; the open review shows the change.
    #[default]
    Flag,
    /// Deployments of the pipeline wait until the change is reviewed.
    HoldDeploys,
}

impl OnUnreviewedChange {
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnreviewedChange::Flag => "flag",
            OnUnreviewedChange::HoldDeploys => "hold_deploys",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [OnUnreviewedChange::Flag, OnUnreviewedChange::HoldDeploys].into_iter().find(|choice| choice.as_str() == text)
    }
}

/// A campaign as loaded: the domain's definition and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedCampaign {
    pub definition: CampaignDefinition,
    /// The 1-based line of its `[[campaign]]`, for messages that point at it.
    pub line: usize,
}

/// What `reviews.toml` says (the defaults without the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSettings {
    /// In the file's order.
    pub campaigns: Vec<LoadedCampaign>,
    pub on_unreviewed_change: OnUnreviewedChange,
    /// Who reviews a pipeline-change review.
    pub pipeline_change_reviewers: Vec<Reviewer>,
    /// Who reviews a pipeline change none of those may review.
    pub pipeline_change_fallback: Pool,
    /// Days before a vendor's contract renewal that its review opens.
    pub renewal_days: u16,
    /// Days past the renewal that its review stays open: its deadline.
    pub renewal_grace_days: u16,
    /// The notification targets told of campaigns (none by default).
    pub notify: Vec<String>,
    /// The line `notify` is written on (0 without it).
    pub notify_line: usize,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            campaigns: Vec::new(),
            on_unreviewed_change: OnUnreviewedChange::Flag,
            pipeline_change_reviewers: vec![Reviewer::Owner],
            pipeline_change_fallback: Pool::Role("admin".into()),
            renewal_days: DEFAULT_RENEWAL_DAYS,
            renewal_grace_days: DEFAULT_RENEWAL_GRACE_DAYS,
            notify: Vec::new(),
            notify_line: 0,
        }
    }
}

impl ReviewSettings {
    /// The campaign of this name, ignoring case (names are unique so).
    pub fn campaign(&self, name: &str) -> Option<&LoadedCampaign> {
        let wanted = name.trim().to_lowercase();
        self.campaigns.iter().find(|loaded| loaded.definition.name.to_lowercase() == wanted)
    }

    /// How long before a contract renewal its review opens.
    pub fn renewal_lead(&self) -> time::Duration {
        time::Duration::days(i64::from(self.renewal_days))
    }

    /// How long after a contract renewal its review stays open.
    pub fn renewal_grace(&self) -> time::Duration {
        time::Duration::days(i64::from(self.renewal_grace_days))
    }
}

/// Problems found so far, placed by the byte offset of what is at fault.
struct Problems<'a> {
    text: &'a str,
    found: Vec<PolicyProblem>,
}

impl Problems<'_> {
    fn at_line(&mut self, line: usize, message: String) {
        self.found.push(PolicyProblem { file: REVIEWS_FILE.into(), line, message });
    }

    fn at<T>(&mut self, value: &Spanned<T>, message: String) {
        let line = line_of(self.text, value.span().start);
        self.at_line(line, message);
    }

    fn line<T>(&self, value: &Spanned<T>) -> usize {
        line_of(self.text, value.span().start)
    }
}

/// Parses and checks `reviews.toml`; `is_role` says whether the folder
/// defines a role. `Err` lists every problem found.
pub fn load_reviews(text: &str, is_role: impl Fn(&str) -> bool) -> Result<ReviewSettings, Vec<PolicyProblem>> {
    let problem = |line: usize, message: String| PolicyProblem { file: REVIEWS_FILE.into(), line, message };
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![problem(0, format!("larger than {MAX_FILE_BYTES} bytes"))]);
    }
    let document = DeTable::parse(text).map_err(|error| {
        let line = error.span().map_or(0, |span| line_of(text, span.start));
        vec![problem(line, error.message().trim_end().to_owned())]
    })?;
    let mut problems = Problems { text, found: Vec::new() };
    let mut settings = ReviewSettings::default();

    for (key, value) in document.get_ref().iter() {
        match key.get_ref().as_ref() {
            "campaign" => settings.campaigns = campaigns(value, &is_role, &mut problems),
            "on_unreviewed_change" => match value.get_ref() {
                DeValue::String(text) => match OnUnreviewedChange::parse(text) {
                    Some(choice) => settings.on_unreviewed_change = choice,
                    None => problems
                        .at(value, format!("on_unreviewed_change must be `flag` or `hold_deploys`, not `{text}`")),
                },
                _ => problems.at(value, "on_unreviewed_change must be `flag` or `hold_deploys`".into()),
            },
            "pipeline_change_reviewers" => {
                if let Some(reviewers) = pipeline_reviewers(value, &is_role, &mut problems) {
                    settings.pipeline_change_reviewers = reviewers;
                }
            }
            "pipeline_change_fallback" => {
                if let Some(pool) = pipeline_fallback(value, &is_role, &mut problems) {
                    settings.pipeline_change_fallback = pool;
                }
            }
            "renewal_days" => match whole_days(value, 1, MAX_RENEWAL_DAYS) {
                Some(days) => settings.renewal_days = days,
                None => problems.at(value, format!("renewal_days must be a whole number from 1 to {MAX_RENEWAL_DAYS}")),
            },
            "renewal_grace_days" => match whole_days(value, 0, MAX_RENEWAL_GRACE_DAYS) {
                Some(days) => settings.renewal_grace_days = days,
                None => problems
                    .at(value, format!("renewal_grace_days must be a whole number from 0 to {MAX_RENEWAL_GRACE_DAYS}")),
            },
            "notify" => {
                settings.notify_line = problems.line(value);
                settings.notify = notify_targets(value, &mut problems);
            }
            other => {
                problems.at(key, format!("unknown key `{other}` (expected: {})", TOP_LEVEL_KEYS.join(", ")));
            }
        }
    }
    if problems.found.is_empty() {
        Ok(settings)
    } else {
        // Keys are visited in name order; people read a file top down.
        problems.found.sort_by_key(|problem| problem.line);
        Err(problems.found)
    }
}

/// A whole number of days from `min` to `max`, or `None` for anything else.
fn whole_days(value: &Spanned<DeValue<'_>>, min: u16, max: u16) -> Option<u16> {
    let DeValue::Integer(n) = value.get_ref() else { return None };
    let days = i64::from_str_radix(n.as_str(), n.radix()).ok()?;
    u16::try_from(days).ok().filter(|days| (min..=max).contains(days))
}

/// The target names of `notify`, without repeats; each a name a
/// `[notify.NAME]` section can have.
fn notify_targets(value: &Spanned<DeValue<'_>>, problems: &mut Problems<'_>) -> Vec<String> {
    let DeValue::Array(items) = value.get_ref() else {
        problems.at(value, "notify must be a list of target names".into());
        return Vec::new();
    };
    let mut seen: Vec<String> = Vec::new();
    for item in items.iter() {
        let DeValue::String(text) = item.get_ref() else {
            problems.at(item, "notify must be a list of target names".into());
            continue;
        };
        let well_formed = !text.is_empty()
            && text.len() <= 64
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            problems.at(item, format!("notify: `{text}` is not a target name (letters, digits, `-`, `_`)"));
        } else if !seen.iter().any(|name| name == text.as_ref()) {
            seen.push(text.to_string());
        }
    }
    seen
}

fn pipeline_reviewers(
    value: &Spanned<DeValue<'_>>,
    is_role: &impl Fn(&str) -> bool,
    problems: &mut Problems<'_>,
) -> Option<Vec<Reviewer>> {
    let field = "pipeline_change_reviewers";
    let DeValue::Array(items) = value.get_ref() else {
        problems.at(value, format!("{field} must be a list of reviewers"));
        return None;
    };
    if items.is_empty() || items.len() > MAX_REVIEWERS {
        problems.at(value, format!("{field} must name 1 to {MAX_REVIEWERS} reviewers"));
        return None;
    }
    let mut reviewers = Vec::new();
    let before = problems.found.len();
    for item in items.iter() {
        let DeValue::String(text) = item.get_ref() else {
            problems.at(item, format!("{field} must be a list of reviewers"));
            continue;
        };
        match text.parse::<Reviewer>() {
            Ok(Reviewer::Pool(Pool::Role(role))) if !is_role(&role) => {
                problems.at(item, format!("{field}: unknown role `{role}`"));
            }
            Ok(reviewer) if !reviewers.contains(&reviewer) => reviewers.push(reviewer),
            Ok(_) => {}
            Err(error) => problems.at(item, format!("{field}: {error}")),
        }
    }
    (problems.found.len() == before).then_some(reviewers)
}

fn pipeline_fallback(
    value: &Spanned<DeValue<'_>>,
    is_role: &impl Fn(&str) -> bool,
    problems: &mut Problems<'_>,
) -> Option<Pool> {
    let field = "pipeline_change_fallback";
    let DeValue::String(text) = value.get_ref() else {
        problems.at(value, format!("{field} must be a `role:NAME`, `group:NAME` or `identity:ID`"));
        return None;
    };
    match text.parse::<Pool>() {
        Ok(Pool::Role(role)) if !is_role(&role) => {
            problems.at(value, format!("{field}: unknown role `{role}`"));
            None
        }
        Ok(pool) => Some(pool),
        Err(error) => {
            problems.at(value, format!("{field}: {error}"));
            None
        }
    }
}

/// A key of a campaign (`reviewers`) or of its scope (`scope.role`), where
/// it is written, and the texts of its value (for finding what a message
/// names).
struct PlacedKey {
    path: String,
    line: usize,
    texts: Vec<(String, usize)>,
}

/// The campaigns of `[[campaign]]`, each checked by the domain.
fn campaigns(
    value: &Spanned<DeValue<'_>>,
    is_role: &impl Fn(&str) -> bool,
    problems: &mut Problems<'_>,
) -> Vec<LoadedCampaign> {
    let DeValue::Array(tables) = value.get_ref() else {
        problems.at(value, "campaign must be an array of tables, written `[[campaign]]`".into());
        return Vec::new();
    };
    if tables.len() > MAX_CAMPAIGNS {
        problems.at(value, format!("more than {MAX_CAMPAIGNS} campaigns"));
        return Vec::new();
    }
    let mut loaded: Vec<LoadedCampaign> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let DeValue::Table(entries) = table.get_ref() else {
            problems.at(table, "campaign must be an array of tables, written `[[campaign]]`".into());
            continue;
        };
        // A header-defined table's span is its `[[campaign]]` header.
        let line = problems.line(table);
        let label = match entries.iter().find(|(key, _)| key.get_ref() == "name").map(|(_, v)| v.get_ref()) {
            Some(DeValue::String(name)) if !name.trim().is_empty() => format!("campaign `{}`", name.trim()),
            _ => format!("campaign {}", index + 1),
        };
        let (json, placed) = match campaign_json(problems, entries) {
            Ok(converted) => converted,
            Err((key, at)) => {
                let message = format!("{label}: `{key}` holds a date-time or a number out of range (expected text)");
                problems.at_line(at, message);
                continue;
            }
        };
        let definition = match definition_from_json(&json) {
            Ok(definition) => definition,
            Err(error) => {
                // The domain speaks of the API's JSON; this is a TOML file.
                let message = error.to_string().replace("must be a JSON object", "must be a table");
                let at = place(&message, &placed).unwrap_or(line);
                problems.at_line(at, format!("{label}: {message}"));
                continue;
            }
        };
        let key_line = |path: &str| placed.iter().find(|key| key.path == path).map_or(line, |key| key.line);
        for (path, role) in roles_named(&definition) {
            if !is_role(&role) {
                problems.at_line(key_line(path), format!("{label}: unknown role `{role}`"));
            }
        }
        let folded = definition.name.to_lowercase();
        if let Some(first) = loaded.iter().find(|other| other.definition.name.to_lowercase() == folded) {
            let message = format!("{label}: the name is already taken by the campaign at line {}", first.line);
            problems.at_line(key_line("name"), message);
            continue;
        }
        loaded.push(LoadedCampaign { definition, line });
    }
    loaded
}

/// The API's JSON form of a campaign table, and where each key is written;
/// `Err` names the first key whose value JSON cannot hold.
fn campaign_json(problems: &Problems<'_>, entries: &DeTable<'_>) -> Result<(Value, Vec<PlacedKey>), (String, usize)> {
    let mut object = Map::new();
    let mut placed = Vec::new();
    for (key, value) in entries.iter() {
        let name = key.get_ref().to_string();
        if name == "scope"
            && let DeValue::Table(scope) = value.get_ref()
        {
            for (inner_key, inner_value) in scope.iter() {
                placed.push(PlacedKey {
                    path: format!("scope.{}", inner_key.get_ref()),
                    line: problems.line(inner_key),
                    texts: texts_of(problems, inner_value),
                });
            }
        }
        let line = problems.line(key);
        placed.push(PlacedKey { path: name.clone(), line, texts: texts_of(problems, value) });
        let json = to_json(value.get_ref()).ok_or_else(|| (name.clone(), line))?;
        object.insert(name, json);
    }
    Ok((Value::Object(object), placed))
}

/// The strings of a value (itself, or a list's items), with their lines.
fn texts_of(problems: &Problems<'_>, value: &Spanned<DeValue<'_>>) -> Vec<(String, usize)> {
    match value.get_ref() {
        DeValue::String(text) => vec![(text.to_string(), problems.line(value))],
        DeValue::Array(items) => items
            .iter()
            .filter_map(|item| match item.get_ref() {
                DeValue::String(text) => Some((text.to_string(), problems.line(item))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The line of what a domain message names: a key in backticks, a value
/// in backticks, or the key the sentence begins with. `None`: the
/// campaign's line.
fn place(message: &str, placed: &[PlacedKey]) -> Option<usize> {
    let in_scope = message.contains(" of scope ") || message.starts_with("scope has ");
    let path_of = |key: &str| if in_scope { format!("scope.{key}") } else { key.to_owned() };
    if let Some(named) = message.split('`').nth(1) {
        if let Some(key) = placed.iter().find(|key| key.path == path_of(named)) {
            return Some(key.line);
        }
        if let Some(line) = placed.iter().flat_map(|key| &key.texts).find(|(text, _)| text == named).map(|(_, l)| *l) {
            return Some(line);
        }
    }
    let leading = message.split([' ', ':']).next().unwrap_or_default();
    placed.iter().find(|key| key.path == leading).map(|key| key.line)
}

/// Every role a definition names, with the key that names it.
fn roles_named(definition: &CampaignDefinition) -> Vec<(&'static str, String)> {
    let mut roles = Vec::new();
    if let Some(role) = &definition.selector.role {
        roles.push(("scope.role", role.clone()));
    }
    for (path, reviewers) in [("reviewers", &definition.reviewers), ("second_stage", &definition.second_stage)] {
        for reviewer in reviewers {
            if let Reviewer::Pool(Pool::Role(role)) = reviewer {
                roles.push((path, role.clone()));
            }
        }
    }
    if let Pool::Role(role) = &definition.fallback {
        roles.push(("fallback", role.clone()));
    }
    roles
}

/// The JSON of a TOML value; `None` for what JSON cannot hold as written
/// (a date-time, a number out of range), which no campaign key takes:
/// turned into text, it would pass where only text is taken.
fn to_json(value: &DeValue<'_>) -> Option<Value> {
    Some(match value {
        DeValue::String(text) => Value::String(text.to_string()),
        DeValue::Integer(n) => Value::Number(i64::from_str_radix(n.as_str(), n.radix()).ok()?.into()),
        DeValue::Float(f) => Value::Number(serde_json::Number::from_f64(f.as_str().parse().ok()?)?),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => return None,
        DeValue::Array(items) => Value::Array(items.iter().map(|item| to_json(item.get_ref())).collect::<Option<_>>()?),
        DeValue::Table(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| Some((key.get_ref().to_string(), to_json(value.get_ref())?)))
                .collect::<Option<_>>()?,
        ),
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
