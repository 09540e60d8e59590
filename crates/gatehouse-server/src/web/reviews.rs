//! Access reviews: the items assigned to the person, grouped by campaign,
//! each shown whole (who holds what, granted by whom and when, its expiry,
//! its last use, the recommendation) before its decision forms; and, for
//! those who read every campaign, the campaigns and a campaign's page.
//!
//! A decision goes through the API's own function (`reviews::decide`), so
//! who may decide, the second factor it needs, the refusals and the audit
//! entries are the API's; the recommendation recorded is the item's, the
//! one the page shows. A decision that needs a fresh second factor shows
//! the step-up panel in place, in the item it decides.

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gatehouse_domain::ids::CampaignId;
use gatehouse_domain::review::{Campaign, CampaignState, Decision, ItemKind, Verdict, Window, check_decision};
use gatehouse_domain::span::format_duration;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::{PageForm, PageId, PageQuery};
use super::names::Names;
use super::page::{Chrome, Instant, Notice, PageError, Section, render, render_with, see_other};
use super::step_up::{self, StepUp};
use super::viewer::Viewer;
use crate::api::reviews::{Standing, assigned_items, campaign_items, reads_all, visible};
use crate::auth::Caller;
use crate::extract::IdPairPath;
use crate::problem::ApiError;
use crate::reviews::close::{all_items, by_item};
use crate::reviews::decide::{find_campaign, find_item};
use crate::reviews::roles::RoleFacts;
use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

/// Items per page of a campaign's page.
const ITEM_ROWS: u32 = 100;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/ui/reviews", inbox),
        undocumented(Method::GET, "/ui/reviews/{id}", campaign),
        undocumented(Method::POST, "/ui/reviews/{id}/items/{item}/decision", decision),
    ]
}

/// The campaign and item number in the path; a malformed one is a 400 page.
pub struct ItemPath(CampaignId, u32);

impl FromRequestParts<AppState> for ItemPath {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let IdPairPath(campaign, item) = IdPairPath::<CampaignId, u32>::from_request_parts(parts, state).await?;
        Ok(Self(campaign, item))
    }
}

/// A decision already made on an item.
pub struct DecisionView {
    pub who: String,
    pub what: String,
    pub stage: u8,
    pub when: Instant,
    pub shown: &'static str,
    pub reason: String,
}

/// Someone an item may be delegated to.
pub struct Delegate {
    pub id: String,
    pub name: String,
}

/// An item as a page shows it.
pub struct ItemView {
    pub campaign: String,
    pub number: u32,
    /// Unique on the page, for the ids of its inputs.
    pub key: String,
    pub identity: String,
    pub kind: &'static str,
    /// What is held: `role on scope`, or the token, key or change.
    pub what: String,
    pub granted_by: Option<String>,
    pub granted: Instant,
    pub expires: Option<Instant>,
    pub last_used: Option<Instant>,
    pub privileged: bool,
    pub advice: &'static str,
    pub advice_reason: String,
    pub stage: u8,
    pub stages: u8,
    pub delegated_to: Option<String>,
    pub outcome: Option<String>,
    pub decisions: Vec<DecisionView>,
    /// Whether the person may decide it now; if not, why not.
    pub may_decide: bool,
    pub why_not: Option<String>,
    pub is_grant: bool,
    pub role: String,
    pub scope: String,
    pub smaller_roles: Vec<String>,
    pub delegates: Vec<Delegate>,
    /// The step-up panel is shown in this item.
    pub step_up_here: bool,
}

/// What a verdict does, in words.
async fn describe(names: &mut Names<'_>, verdict: &Verdict) -> Result<String, ApiError> {
    Ok(match verdict {
        Verdict::Keep { until: None } => "keep".to_owned(),
        Verdict::Keep { until: Some(until) } => format!("keep until {}", Instant::of(*until).text),
        Verdict::Revoke => "revoke".to_owned(),
        Verdict::Narrow { role, scope } => {
            let mut to = Vec::new();
            if let Some(role) = role {
                to.push(format!("role {role}"));
            }
            if let Some(scope) = scope {
                to.push(format!("scope {scope}"));
            }
            format!("narrow to {}", to.join(" and "))
        }
        Verdict::Delegate { to } => format!("delegate to {}", names.of(*to).await?),
        Verdict::Suspend => "suspend".to_owned(),
    })
}

fn kind_label(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Grant => "grant",
        ItemKind::Token => "token",
        ItemKind::SigningKey => "signing key",
        ItemKind::Change => "change",
    }
}

/// The item as the page shows it to `caller`, with what they may decide.
async fn item_view(
    state: &AppState,
    caller: &Caller,
    names: &mut Names<'_>,
    campaign: &Campaign,
    shown: &Standing,
) -> Result<ItemView, ApiError> {
    let item = &shown.item;
    let progress = &shown.progress;
    let me = caller.identity().id;
    let what = match (item.kind, item.role.as_deref(), item.scope.as_deref()) {
        (ItemKind::Grant, Some(role), Some(scope)) => format!("{role} on {scope}"),
        (kind, _, _) => format!("{} {}", kind_label(kind), item.target),
    };
    let mut decisions = Vec::with_capacity(shown.decisions.len());
    for decision in &shown.decisions {
        decisions.push(decision_view(names, decision).await?);
    }
    let outcome = match &progress.outcome {
        Some(verdict) => Some(describe(names, verdict).await?),
        None => None,
    };
    // Whether a decision would be taken now: the domain's own check.
    let policies = state.policies.current();
    let roles = RoleFacts::of(&policies);
    let window =
        Window { open: campaign.state == CampaignState::Open, deadline: campaign.deadline, now: state.clock.now() };
    let check = check_decision(item, &shown.decisions, me, &Verdict::Keep { until: None }, window, &|old, new| {
        roles.smaller(old, new)
    });
    let (may_decide, why_not) = match check {
        Ok(_) => (true, None),
        Err(error) => (false, Some(error.to_string())),
    };
    let is_grant = item.kind == ItemKind::Grant;
    let smaller_roles = match item.role.as_deref() {
        Some(old) if is_grant && may_decide => {
            policies.roles().into_iter().map(|role| role.name).filter(|new| roles.smaller(old, new)).collect()
        }
        _ => Vec::new(),
    };
    let mut delegates = Vec::new();
    if may_decide {
        for &who in item.reviewers_of(progress.stage) {
            if who != me && !item.is_subject(who) && progress.first_decider != Some(who) {
                delegates.push(Delegate { id: who.to_string(), name: names.of(who).await? });
            }
        }
    }
    Ok(ItemView {
        campaign: campaign.id.to_string(),
        number: item.number,
        key: format!("{}-{}", campaign.id, item.number),
        identity: item.identity_name.clone(),
        kind: kind_label(item.kind),
        what,
        granted_by: match item.granted_by {
            Some(id) => Some(names.of(id).await?),
            None => None,
        },
        granted: Instant::of(item.granted_at),
        expires: item.expires_at.map(Instant::of),
        last_used: item.last_used_at.map(Instant::of),
        privileged: item.privileged,
        advice: item.recommendation.advice.as_str(),
        advice_reason: item.recommendation.reason.clone(),
        stage: progress.stage,
        stages: item.stages(),
        delegated_to: match progress.delegated_to {
            Some(id) => Some(names.of(id).await?),
            None => None,
        },
        outcome,
        decisions,
        may_decide,
        why_not,
        is_grant,
        role: item.role.clone().unwrap_or_default(),
        scope: item.scope.clone().unwrap_or_default(),
        smaller_roles,
        delegates,
        step_up_here: false,
    })
}

async fn decision_view(names: &mut Names<'_>, decision: &Decision) -> Result<DecisionView, ApiError> {
    Ok(DecisionView {
        who: match decision.reviewer {
            Some(id) => names.of(id).await?,
            None => "the deadline's default".to_owned(),
        },
        what: describe(names, &decision.verdict).await?,
        stage: decision.stage,
        when: Instant::of(decision.at),
        shown: decision.shown.as_str(),
        reason: decision.reason.clone(),
    })
}

/// How far a campaign is: items decided for good, of all.
async fn decided(state: &AppState, campaign: &Campaign) -> Result<u32, ApiError> {
    if let Some(counts) = &campaign.counts {
        return Ok(counts.items);
    }
    if campaign.state != CampaignState::Open {
        return Ok(0);
    }
    let decisions = by_item(state.store.list_review_decisions(campaign.id, None).await?);
    let items = all_items(state, campaign.id).await?;
    let done = items
        .iter()
        .filter(|item| {
            let list = decisions.get(&item.number).map(Vec::as_slice).unwrap_or_default();
            gatehouse_domain::review::progress(item, list).outcome.is_some()
        })
        .count();
    Ok(u32::try_from(done).unwrap_or(u32::MAX))
}

/// A closed campaign's results, in a line.
fn results(campaign: &Campaign) -> Option<String> {
    campaign.counts.as_ref().map(|c| {
        let mut line = format!(
            "kept {}, revoked {}, narrowed {}, suspended {}; {} by default",
            c.kept, c.revoked, c.narrowed, c.suspended, c.defaulted
        );
        if c.escalated > 0 {
            line.push_str(&format!("; {} escalated", c.escalated));
        }
        if c.failed > 0 {
            line.push_str(&format!("; {} failed to apply", c.failed));
        }
        line
    })
}

/// A campaign in a list.
pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub items: u32,
    pub decided: u32,
    pub opened: Instant,
    pub deadline: Instant,
    pub results: Option<String>,
}

async fn campaign_row(state: &AppState, campaign: &Campaign) -> Result<CampaignRow, ApiError> {
    Ok(CampaignRow {
        id: campaign.id.to_string(),
        name: campaign.definition.name.clone(),
        state: campaign.state.as_str(),
        items: campaign.items,
        decided: decided(state, campaign).await?,
        opened: Instant::of(campaign.opened_at),
        deadline: Instant::of(campaign.deadline),
        results: results(campaign),
    })
}

/// A campaign's assigned items.
pub struct Group {
    pub campaign: CampaignRow,
    pub items: Vec<ItemView>,
}

/// A decision held by the step-up panel.
#[derive(Default)]
pub struct Retry {
    pub decision: String,
    pub until: String,
    pub role: String,
    pub scope: String,
    pub to: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct InboxPage {
    chrome: Chrome,
    groups: Vec<Group>,
    /// Every campaign, for those who read them all.
    campaigns: Option<Vec<CampaignRow>>,
    step_up: StepUp,
    retry: Retry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// What was just done, announced once.
    done: Option<String>,
}

/// `GET /ui/reviews`: the items waiting for this person's decision, by
/// campaign; and every campaign, for a reader.
pub async fn inbox(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<InboxQuery>,
) -> Result<Response, PageError> {
    let notice = match query.done.as_deref() {
        Some("keep") => Notice::done("You kept the access."),
        Some("revoke") => Notice::done("You revoked the access; it is removed."),
        Some("narrow") => Notice::done("You narrowed the access; the smaller grant replaces it."),
        Some("delegate") => Notice::done("You delegated the item; your delegate decides it now."),
        Some("next") => Notice::done("Your decision is recorded; the item goes to its second stage."),
        Some("unapplied") => {
            Notice::problem("Your decision is recorded, but applying it failed; an alert was raised for the operators.")
        }
        _ => None,
    };
    let page = inbox_page(&state, &caller, notice, None).await?;
    render(&page)
}

async fn inbox_page(
    state: &AppState,
    caller: &Caller,
    notice: Option<Notice>,
    retry: Option<(CampaignId, u32, &DecisionForm, bool)>,
) -> Result<InboxPage, ApiError> {
    let mut names = Names::new(state);
    let mut groups: Vec<Group> = Vec::new();
    let mut campaign: Option<Campaign> = None;
    for (id, shown) in assigned_items(state, caller).await? {
        if campaign.as_ref().is_none_or(|c| c.id != id) {
            let found = find_campaign(state, id).await?;
            groups.push(Group { campaign: campaign_row(state, &found).await?, items: Vec::new() });
            campaign = Some(found);
        }
        let (Some(campaign), Some(group)) = (campaign.as_ref(), groups.last_mut()) else { continue };
        let mut view = item_view(state, caller, &mut names, campaign, &shown).await?;
        view.step_up_here = retry.is_some_and(|(c, n, _, needed)| needed && c == id && n == shown.item.number);
        group.items.push(view);
    }
    let campaigns = if reads_all(state, caller) {
        let mut rows = Vec::new();
        for campaign in state.store.list_campaigns(None).await? {
            rows.push(campaign_row(state, &campaign).await?);
        }
        Some(rows)
    } else {
        None
    };
    let needed = retry.is_some_and(|(_, _, _, needed)| needed);
    Ok(InboxPage {
        chrome: Chrome::page(state, caller, "Reviews", Section::Reviews).notice(notice),
        groups,
        campaigns,
        step_up: StepUp::of(state, caller, needed).await?,
        retry: retry.map(|(_, _, form, _)| form.retry()).unwrap_or_default(),
    })
}

/// A campaign's definition, as the page lists it.
pub struct Term {
    pub name: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "review_campaign.html")]
struct CampaignPage {
    chrome: Chrome,
    campaign: CampaignRow,
    terms: Vec<Term>,
    opened_by: Option<String>,
    closed: Option<Instant>,
    snapshot_digest: String,
    decisions_digest: Option<String>,
    /// Whether every item is listed, or only the person's own.
    all: bool,
    items: Vec<ItemView>,
    next: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignQuery {
    /// Items numbered after this one.
    after: Option<u32>,
}

fn terms(campaign: &Campaign) -> Vec<Term> {
    let definition = &campaign.definition;
    let selector = &definition.selector;
    let mut covers: Vec<String> =
        vec![selector.kinds.iter().map(|kind| kind_label(*kind)).collect::<Vec<_>>().join(", ")];
    if let Some(role) = &selector.role {
        covers.push(format!("role {role}"));
    }
    if let Some(scope) = &selector.scope {
        covers.push(format!("scope {scope}"));
    }
    if let Some(kind) = selector.identity_kind {
        covers.push(format!("{} identities", kind.as_str()));
    }
    if let Some(identity) = selector.identity {
        covers.push(format!("identity {identity}"));
    }
    if let Some(integration) = selector.integration {
        covers.push(format!("integration {integration}"));
    }
    if let Some(vendor) = selector.vendor {
        covers.push(format!("vendor {vendor}"));
    }
    let list = |reviewers: &[gatehouse_domain::review::Reviewer]| {
        if reviewers.is_empty() {
            "none".to_owned()
        } else {
            reviewers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    vec![
        Term { name: "Covers", value: covers.join("; ") },
        Term { name: "Reviewers", value: list(&definition.reviewers) },
        Term { name: "Second stage", value: list(&definition.second_stage) },
        Term { name: "When no reviewer is found", value: definition.fallback.to_string() },
        Term { name: "Open for", value: format_duration(definition.duration) },
        Term {
            name: "Recurs",
            value: definition.recurrence.map_or_else(|| "no".to_owned(), |recurrence| recurrence.to_string()),
        },
        Term {
            name: "Undecided at the deadline",
            value: format!(
                "{} (privileged access: {})",
                definition.default_for(false).as_str(),
                definition.default_for(true).as_str()
            ),
        },
        Term { name: "Recommends revoking access unused for", value: format_duration(definition.unused_after) },
        Term {
            name: "Opened by",
            value: format!(
                "{}{}",
                campaign.trigger.kind.as_str(),
                if campaign.trigger.subject.is_empty() {
                    String::new()
                } else {
                    format!(": {}", campaign.trigger.subject)
                }
            ),
        },
    ]
}

/// `GET /ui/reviews/{id}`: a campaign's definition, progress, items and
/// decisions (every item for a reader, otherwise the person's own).
pub async fn campaign(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<CampaignId>,
    PageQuery(query): PageQuery<CampaignQuery>,
) -> Result<Response, PageError> {
    let campaign = visible(&state, &caller, id).await?;
    let (shown, next) = campaign_items(&state, &caller, &campaign, query.after, ITEM_ROWS).await?;
    let mut names = Names::new(&state);
    let mut items = Vec::with_capacity(shown.len());
    for standing in &shown {
        items.push(item_view(&state, &caller, &mut names, &campaign, standing).await?);
    }
    let page = CampaignPage {
        chrome: Chrome::page(&state, &caller, format!("Review: {}", campaign.definition.name), Section::Reviews),
        terms: terms(&campaign),
        opened_by: match campaign.opened_by {
            Some(who) => Some(names.of(who).await?),
            None => None,
        },
        closed: campaign.closed_at.map(Instant::of),
        snapshot_digest: campaign.snapshot_digest.clone(),
        decisions_digest: campaign.decisions_digest.clone(),
        all: reads_all(&state, &caller),
        campaign: campaign_row(&state, &campaign).await?,
        items,
        next,
    };
    render(&page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionForm {
    /// `keep`, `revoke`, `narrow` or `delegate`.
    decision: String,
    /// keep: end the grant sooner, on this date (UTC) or at this instant.
    until: Option<String>,
    /// narrow: a role allowing strictly less.
    role: Option<String>,
    /// narrow: a scope inside the current one.
    scope: Option<String>,
    /// delegate: another eligible reviewer (identity id).
    to: Option<String>,
    reason: Option<String>,
    /// A TOTP code, when the step-up panel asked for one.
    code: Option<String>,
}

fn filled(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

impl DecisionForm {
    /// The API's decision body: the form's filled fields, a date as the
    /// start of that day (UTC).
    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("decision".into(), Value::String(self.decision.clone()));
        let until = filled(&self.until).map(|text| {
            let is_date =
                text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') && text.as_bytes().get(7) == Some(&b'-');
            if is_date { format!("{text}T00:00:00Z") } else { text.to_owned() }
        });
        for (name, value) in [
            ("until", until.as_deref()),
            ("role", filled(&self.role)),
            ("scope", filled(&self.scope)),
            ("to", filled(&self.to)),
            ("reason", filled(&self.reason)),
        ] {
            if let Some(value) = value {
                body.insert(name.into(), Value::String(value.to_owned()));
            }
        }
        Value::Object(body)
    }

    fn retry(&self) -> Retry {
        let text = |field: &Option<String>| field.clone().unwrap_or_default();
        Retry {
            decision: self.decision.clone(),
            until: text(&self.until),
            role: text(&self.role),
            scope: text(&self.scope),
            to: text(&self.to),
            reason: text(&self.reason),
        }
    }
}

/// `POST /ui/reviews/{id}/items/{item}/decision`: the API's decision.
pub async fn decision(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ItemPath(id, number): ItemPath,
    PageForm(form): PageForm<DecisionForm>,
) -> Result<Response, PageError> {
    if !matches!(form.decision.as_str(), "keep" | "revoke" | "narrow" | "delegate") {
        return Err(ApiError::BadRequest("the decision is keep, revoke, narrow or delegate".into()).into());
    }
    find_campaign(&state, id).await?;
    find_item(&state, id, number).await?;
    let (caller, headers) = match step_up::verify(&state, caller.clone(), form.code.as_deref()).await {
        Ok(stepped_up) => stepped_up,
        Err(error) => return refused(&state, &caller, (id, number), &form, error, true).await,
    };
    match crate::reviews::decide(&state, &caller, id, number, &form.body()).await {
        Ok(decided) => {
            let done = match (&decided.applied, decided.step) {
                (Some(applied), _) if !applied.ok => "unapplied",
                (_, gatehouse_domain::review::Step::NextStage) => "next",
                _ => decided.decision.verdict.name(),
            };
            Ok(see_other(&format!("/ui/reviews?done={done}"), headers))
        }
        Err(error) => {
            // A factor verified in this request stays verified: its new
            // session cookie goes back even with the refusal.
            let mut response = refused(&state, &caller, (id, number), &form, error, false).await?;
            response.headers_mut().extend(headers);
            Ok(response)
        }
    }
}

/// The reviews page again, with the refusal announced; for want of a fresh
/// second factor (or a factor that did not verify), with the step-up panel
/// holding the decision in its item.
async fn refused(
    state: &AppState,
    caller: &Caller,
    (id, number): (CampaignId, u32),
    form: &DecisionForm,
    error: ApiError,
    factor_given: bool,
) -> Result<Response, PageError> {
    let wants_factor = step_up::wants_factor(&error);
    let status = if wants_factor { StatusCode::OK } else { error.status() };
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let notice = if wants_factor {
        Notice::problem("This decision needs your second factor: enter a code below.")
    } else {
        Notice::problem(error.detail())
    };
    let page = inbox_page(state, caller, notice, Some((id, number, form, factor_given || wants_factor))).await?;
    render_with(status, HeaderMap::new(), &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(decision: &str, until: Option<&str>) -> DecisionForm {
        DecisionForm {
            decision: decision.into(),
            until: until.map(str::to_owned),
            role: Some(String::new()),
            scope: Some("  ".into()),
            to: None,
            reason: Some(" on call ".into()),
            code: Some("123456".into()),
        }
    }

    #[test]
    fn the_form_becomes_the_apis_body_with_blank_fields_left_out() {
        let body = form("keep", Some("2027-01-15")).body();
        assert_eq!(body, serde_json::json!({"decision": "keep", "until": "2027-01-15T00:00:00Z", "reason": "on call"}));
        let body = form("keep", Some("2027-01-15T10:00:00Z")).body();
        assert_eq!(body["until"], "2027-01-15T10:00:00Z");
        assert_eq!(form("revoke", Some("")).body(), serde_json::json!({"decision": "revoke", "reason": "on call"}));
    }
}
