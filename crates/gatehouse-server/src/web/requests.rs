//! The approvals inbox and a request's page. The page shows the whole
//! decision (who asks, what, why, the commits and their signatures, the
//! rule and its progress) before any button; Approve and Deny are forms
//! that carry the digest of what was shown, so what changed since is
//! refused, not approved. A vote that needs a fresh second factor shows
//! the step-up panel in place, and the same form carries the code.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_domain::access::{ApprovalRequest, RequestState, VoteDecision};
use gatehouse_domain::change::CommitSha;
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_domain::store::ApprovalFilter;
use serde::Deserialize;

use super::extract::{PageForm, PageId, PageQuery};
use super::names::Names;
use super::page::{Chrome, Instant, Notice, PageError, Section, render, render_with, see_other};
use super::step_up::{self, StepUp};
use super::viewer::Viewer;
use crate::api::dto::RequestDto;
use crate::approvals;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// Rows per inbox page.
const PAGE_ROWS: u32 = 50;

/// One request in a list.
pub struct Row {
    pub id: String,
    pub summary: String,
    pub requester: String,
    pub state: String,
    pub created: Instant,
    pub expires: Instant,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    waiting: Vec<Row>,
    waiting_next: Option<String>,
    mine: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// The cursor of the next page of requests waiting for a vote.
    after: Option<String>,
}

/// `GET /ui`: the requests waiting for this person's vote, then their own.
pub async fn inbox(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<InboxQuery>,
) -> Result<Response, PageError> {
    let page = crate::api::page_request(Some(PAGE_ROWS), query.after)?;
    let pending = ApprovalFilter { state: Some(RequestState::Pending), ..ApprovalFilter::default() };
    let found = state.store.list_approval_requests(&pending, page).await?;
    let waiting = approvals::awaiting_vote(&state, &caller, found.items).await?;
    let own = ApprovalFilter { requester: Some(caller.identity().id), ..ApprovalFilter::default() };
    let mine = state.store.list_approval_requests(&own, crate::api::page_request(Some(PAGE_ROWS), None)?).await?;
    let mut names = Names::new(&state);
    let page = InboxPage {
        chrome: Chrome::page(&state, &caller, "Approvals", Section::Approvals),
        waiting: rows(&mut names, &waiting).await?,
        waiting_next: found.next_after,
        mine: rows(&mut names, &mine.items).await?,
    };
    render(&page)
}

async fn rows(names: &mut Names<'_>, requests: &[ApprovalRequest]) -> Result<Vec<Row>, ApiError> {
    let mut rows = Vec::with_capacity(requests.len());
    for request in requests {
        rows.push(Row {
            id: request.id.to_string(),
            summary: summary(request),
            requester: names.of(request.requester).await?,
            state: request.state.as_str().to_owned(),
            created: Instant::of(request.created_at),
            expires: Instant::of(request.expires_at),
        });
    }
    Ok(rows)
}

/// What a request asks for, in a line.
fn summary(request: &ApprovalRequest) -> String {
    match &request.kind {
        gatehouse_domain::access::RequestKind::Access { role, scope, duration } => {
            format!("Access: {} on {} for {}", role.as_str(), scope, gatehouse_domain::span::format_duration(*duration))
        }
        gatehouse_domain::access::RequestKind::Action { action, resource, .. } => {
            format!("{} on {}", action.as_str(), resource)
        }
    }
}

/// Why the request needs approval: the rule's own terms, in words.
pub struct RuleTerms {
    /// What the rule gates, and where.
    pub gates: String,
    pub resources: Vec<String>,
    /// Who may not vote on it, whatever their role.
    pub excluded: Vec<&'static str>,
    pub approver_mfa_minutes: i64,
    pub deny_quorum: u32,
    pub reason_required: bool,
}

impl RuleTerms {
    fn of(rule: &gatehouse_domain::access::ApprovalRule) -> Self {
        use gatehouse_domain::access::Exclusion;
        Self {
            gates: rule.gated.to_string(),
            resources: rule.resources.clone(),
            excluded: rule
                .exclude
                .iter()
                .map(|exclusion| match exclusion {
                    Exclusion::Requester => "the requester",
                    Exclusion::TriggeringActor => "whoever triggered the CI run",
                    Exclusion::CommitAuthors => "the authors of the commits deployed",
                })
                .collect(),
            approver_mfa_minutes: rule.approver_mfa_max_age.whole_minutes(),
            deny_quorum: rule.deny_quorum,
            reason_required: rule.reason_required,
        }
    }
}

/// A clause of the rule with its progress.
pub struct ClauseView {
    pub of: String,
    pub need: u32,
    pub have: u32,
}

pub struct VoteView {
    pub voter: String,
    pub decision: String,
    pub reason: Option<String>,
    pub when: Instant,
    pub withdrawn: bool,
}

/// The commit a deployment would ship, with who gatehouse verified signed it.
pub struct CommitView {
    pub sha: String,
    pub link: Option<String>,
    pub authors: Vec<String>,
    pub signers: Vec<String>,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    chrome: Chrome,
    request: RequestDto,
    requester: String,
    summary: String,
    created: Instant,
    expires: Instant,
    decided: Option<Instant>,
    clauses: Vec<ClauseView>,
    /// The rule's terms (none when it left the policy folder).
    terms: Option<RuleTerms>,
    votes: Vec<VoteView>,
    commit: Option<CommitView>,
    can_vote: bool,
    can_cancel: bool,
    step_up: StepUp,
    /// The vote the step-up panel repeats once the factor is given.
    retry: Retry,
}

/// A vote held by the step-up panel.
#[derive(Default)]
pub struct Retry {
    pub decision: String,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// What was just done here, announced once (`approve`, `deny`, `cancel`).
    done: Option<String>,
}

/// `GET /ui/requests/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<ApprovalRequestId>,
    PageQuery(query): PageQuery<ShowQuery>,
) -> Result<Response, PageError> {
    let (request, awaiting) = approvals::visible_and_awaiting(&state, &caller, id).await?;
    let notice = match query.done.as_deref() {
        Some("approve") => Notice::done(format!("You approved this request. It is {}.", request.state.as_str())),
        Some("deny") => Notice::done(format!("You denied this request. It is {}.", request.state.as_str())),
        Some("cancel") => Notice::done("You cancelled this request."),
        _ => None,
    };
    let page = request_page(&state, &caller, &request, awaiting, notice, None).await?;
    render(&page)
}

async fn request_page(
    state: &AppState,
    caller: &Caller,
    request: &ApprovalRequest,
    awaiting: bool,
    notice: Option<Notice>,
    retry: Option<(&VoteForm, bool)>,
) -> Result<RequestPage, ApiError> {
    let shown = approvals::show(&state.policies.current(), request);
    let mut names = Names::new(state);
    let mut votes = Vec::with_capacity(shown.votes.len());
    for vote in &shown.votes {
        votes.push(VoteView {
            voter: names.of_text(&vote.voter).await?,
            decision: vote.decision.clone(),
            reason: vote.reason.clone(),
            when: Instant::parse(&vote.created_at),
            withdrawn: vote.withdrawn_at.is_some(),
        });
    }
    let commit = match &shown.binding {
        Some(binding) => Some(commit_view(state, &mut names, binding).await?),
        None => None,
    };
    let pending = request.state == RequestState::Pending;
    let can_vote = pending && awaiting;
    let step_up = StepUp::of(state, caller, retry.is_some_and(|(_, needed)| needed)).await?;
    let retry = retry
        .map(|(form, _)| Retry { decision: form.decision.clone(), reason: form.reason.clone().unwrap_or_default() })
        .unwrap_or_default();
    Ok(RequestPage {
        chrome: Chrome::page(state, caller, format!("Request {}", request.id), Section::Approvals).notice(notice),
        requester: names.of(request.requester).await?,
        summary: summary(request),
        created: Instant::of(request.created_at),
        expires: Instant::of(request.expires_at),
        decided: request.decided_at.map(Instant::of),
        clauses: shown.clauses.iter().map(|c| ClauseView { of: c.of.clone(), need: c.need, have: c.have }).collect(),
        terms: state.policies.current().approvals().find(&request.rule_id).map(|loaded| RuleTerms::of(&loaded.rule)),
        votes,
        commit,
        can_vote,
        can_cancel: pending && request.requester == caller.identity().id,
        step_up,
        retry,
        request: shown,
    })
}

async fn commit_view(
    state: &AppState,
    names: &mut Names<'_>,
    binding: &crate::api::dto::BindingDto,
) -> Result<CommitView, ApiError> {
    let mut signers = Vec::new();
    if let Ok(sha) = binding.sha.parse::<CommitSha>() {
        for fact in state.store.commit_authors(&[sha]).await? {
            let name = names.of(fact.identity_id).await?;
            let line = format!("{name} (key {}, {})", fact.key_fingerprint, fact.verification.as_str());
            if !signers.contains(&line) {
                signers.push(line);
            }
        }
    }
    let link = match binding.forge.as_str() {
        "github" => Some(format!("https://github.com/{}/commit/{}", binding.repository, binding.sha)),
        _ => None,
    };
    Ok(CommitView { sha: binding.sha.clone(), link, authors: binding.authors.clone(), signers })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteForm {
    /// `approve` or `deny`.
    decision: String,
    /// The digest of the request as the page showed it.
    digest: String,
    reason: Option<String>,
    /// A TOTP code, when the step-up panel asked for one.
    code: Option<String>,
}

/// `POST /ui/requests/{id}/vote`.
pub async fn vote(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<ApprovalRequestId>,
    PageForm(form): PageForm<VoteForm>,
) -> Result<Response, PageError> {
    let decision = match form.decision.as_str() {
        "approve" => VoteDecision::Approve,
        "deny" => VoteDecision::Deny,
        _ => return Err(ApiError::BadRequest("the decision is approve or deny".into()).into()),
    };
    let request = approvals::visible(&state, &caller, id).await?;
    let (caller, headers) = match step_up::verify(&state, caller.clone(), form.code.as_deref()).await {
        Ok(stepped_up) => stepped_up,
        Err(error) => return refused(&state, &caller, &request, &form, error, true).await,
    };
    match approvals::cast(&state, &caller, id, decision, form.reason.clone(), &form.digest).await {
        Ok(_) => Ok(see_other(&format!("/ui/requests/{id}?done={}", form.decision), headers)),
        Err(error) => {
            // A factor verified in this request stays verified: its new
            // session cookie goes back even with the refusal.
            let mut response = refused(&state, &caller, &request, &form, error, false).await?;
            response.headers_mut().extend(headers);
            Ok(response)
        }
    }
}

/// The request's page again, with the refusal announced; for want of a
/// fresh second factor (or a factor that did not verify), with the
/// step-up panel holding the vote.
async fn refused(
    state: &AppState,
    caller: &Caller,
    request: &ApprovalRequest,
    form: &VoteForm,
    error: ApiError,
    factor_given: bool,
) -> Result<Response, PageError> {
    let needs_factor = factor_given || step_up::wants_factor(&error);
    let status = if step_up::wants_factor(&error) { StatusCode::OK } else { error.status() };
    if status.is_server_error() {
        return Err(error.into());
    }
    let notice = if step_up::wants_factor(&error) {
        Notice::problem("This vote needs your second factor: verify it below, and the vote goes with it.")
    } else {
        Notice::problem(error.detail())
    };
    // Shown as it is now: a vote refused because the request changed shows
    // what it changed to.
    let (current, awaiting) = approvals::visible_and_awaiting(state, caller, request.id).await?;
    let page = request_page(state, caller, &current, awaiting, notice, Some((form, needs_factor))).await?;
    render_with(status, HeaderMap::new(), &page)
}

/// `POST /ui/requests/{id}/cancel`: the requester withdraws a pending request.
pub async fn cancel(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(id): PageId<ApprovalRequestId>,
) -> Result<Response, PageError> {
    approvals::visible(&state, &caller, id).await?;
    approvals::cancel(&state, &caller, id).await?;
    Ok(see_other(&format!("/ui/requests/{id}?done=cancel"), HeaderMap::new()))
}
