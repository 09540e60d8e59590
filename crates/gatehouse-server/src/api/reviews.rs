//! `/api/v1/reviews`: open a campaign (`grant.manage`), list and read
//! campaigns and their items (everything with `audit.read` or
//! `grant.manage`; otherwise only the items one reviews), decide an item
//! (its reviewer, with a fresh second factor), and close a campaign early
//! (`grant.manage`). The work is `crate::reviews`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{CampaignId, IdentityId};
use gatehouse_domain::review::{
    Campaign, CampaignState, Decision, Progress, ReviewItem, Trigger, TriggerKind, definition_from_json, progress,
};
use serde_json::Value;

use super::dto::{
    CampaignDto, CampaignListDto, CampaignListQuery, CampaignRequest, DecisionDto, DecisionRequest, ReviewItemDto,
    ReviewItemListDto, ReviewItemQuery,
};
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPairPath, IdPath};
use crate::problem::ApiError;
use crate::reviews::close::by_item;
use crate::reviews::decide::find_campaign;
use crate::reviews::{Author, Opening, close, decide, open};
use crate::state::AppState;

/// Whether the caller reads every campaign; otherwise it reads only what
/// it is named reviewer of.
pub(crate) fn reads_all(state: &AppState, caller: &Caller) -> bool {
    caller.may(state, Action::AuditRead, &Resource::Gatehouse)
        || caller.may(state, Action::GrantManage, &Resource::Gatehouse)
}

fn names(item: &gatehouse_domain::review::ReviewItem, who: IdentityId) -> bool {
    item.reviewers.contains(&who) || item.second_reviewers.contains(&who)
}

/// The campaign, if the caller may see it: a reader, or a reviewer in it.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: CampaignId) -> Result<Campaign, ApiError> {
    let campaign = find_campaign(state, id).await?;
    if reads_all(state, caller) {
        return Ok(campaign);
    }
    let me = caller.identity().id;
    if state.store.review_items_for(me).await?.iter().any(|(campaign, _)| *campaign == id) {
        return Ok(campaign);
    }
    caller.authorize_read(state, Action::AuditRead, Resource::Gatehouse).await?;
    Ok(campaign)
}

/// Open a campaign now: its snapshot is taken and hashed (`review.open`),
/// or, when its scope is empty, it is recorded as skipped (`review.skip`).
#[utoipa::path(post, path = "/api/v1/reviews", tag = "reviews", request_body = CampaignRequest,
    responses((status = 201, body = CampaignDto), (status = 403), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<CampaignDto>), ApiError> {
    let definition = definition_from_json(&body).map_err(|error| ApiError::Unprocessable(error.0))?;
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let trigger = Trigger { kind: TriggerKind::Manual, subject: definition.name.clone(), holds: None };
    let opening = Opening { definition, trigger, extra: Vec::new() };
    let campaign = open(&state, opening, Author::Person(&authorized)).await?;
    Ok((StatusCode::CREATED, Json(CampaignDto::of(&campaign))))
}

/// List campaigns, newest first: all of them for a reader, otherwise the
/// open ones the caller reviews in.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", params(CampaignListQuery),
    responses((status = 200, body = CampaignListDto), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CampaignListQuery>,
) -> Result<Json<CampaignListDto>, ApiError> {
    let wanted = query
        .state
        .as_deref()
        .map(|text| CampaignState::parse(text).ok_or_else(|| ApiError::BadRequest(format!("unknown state `{text}`"))))
        .transpose()?;
    let campaigns = state.store.list_campaigns(wanted).await?;
    let campaigns = if reads_all(&state, &caller) {
        campaigns
    } else {
        let mine = state.store.review_items_for(caller.identity().id).await?;
        campaigns.into_iter().filter(|c| mine.iter().any(|(id, _)| *id == c.id)).collect()
    };
    Ok(Json(CampaignListDto { items: campaigns.iter().map(CampaignDto::of).collect() }))
}

/// Show one campaign.
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews",
    params(("id" = String, Path, description = "campaign id")),
    responses((status = 200, body = CampaignDto), (status = 403), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<CampaignId>,
) -> Result<Json<CampaignDto>, ApiError> {
    Ok(Json(CampaignDto::of(&visible(&state, &caller, id).await?)))
}

/// A campaign's items in number order with where each stands: all of them
/// for a reader, otherwise those the caller reviews.
#[utoipa::path(get, path = "/api/v1/reviews/{id}/items", tag = "reviews",
    params(("id" = String, Path, description = "campaign id"), ReviewItemQuery),
    responses((status = 200, body = ReviewItemListDto), (status = 400), (status = 403), (status = 404)))]
pub async fn items(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<CampaignId>,
    ApiQuery(query): ApiQuery<ReviewItemQuery>,
) -> Result<Json<ReviewItemListDto>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and 500 (got {limit})")));
    }
    let campaign = visible(&state, &caller, id).await?;
    let (shown, next_after) = campaign_items(&state, &caller, &campaign, query.after, limit).await?;
    let campaign_id = campaign.id.to_string();
    let items = shown
        .iter()
        .map(|shown| ReviewItemDto::of(&campaign_id, &shown.item, &shown.progress, &shown.decisions))
        .collect();
    Ok(Json(ReviewItemListDto { items, next_after }))
}

/// An item with where it stands and its decisions so far.
pub(crate) struct Standing {
    pub item: ReviewItem,
    pub progress: Progress,
    pub decisions: Vec<Decision>,
}

/// A page of `campaign`'s items (`limit` after item `after`) the caller may
/// read: all of them for a reader, otherwise those the caller reviews (or
/// was delegated); and the number to read the next page after.
pub(crate) async fn campaign_items(
    state: &AppState,
    caller: &Caller,
    campaign: &Campaign,
    after: Option<u32>,
    limit: u32,
) -> Result<(Vec<Standing>, Option<u32>), ApiError> {
    let all = reads_all(state, caller);
    let me = caller.identity().id;
    let mut decisions = by_item(state.store.list_review_decisions(campaign.id, None).await?);
    let delegated_to_me = |list: &[Decision]| {
        list.iter().any(|d| matches!(d.verdict, gatehouse_domain::review::Verdict::Delegate { to } if to == me))
    };
    let page = state.store.list_review_items(campaign.id, after, limit).await?;
    let next_after = (page.len() == limit as usize).then(|| page.last().map(|item| item.number)).flatten();
    let mut shown = Vec::new();
    for item in page {
        let list = decisions.remove(&item.number).unwrap_or_default();
        if all || names(&item, me) || delegated_to_me(&list) {
            shown.push(Standing { progress: progress(&item, &list), item, decisions: list });
        }
    }
    Ok((shown, next_after))
}

/// The items of open campaigns the caller is named reviewer of: its inbox.
#[utoipa::path(get, path = "/api/v1/reviews/assigned", tag = "reviews",
    responses((status = 200, body = ReviewItemListDto)))]
pub async fn assigned(State(state): State<AppState>, caller: Caller) -> Result<Json<ReviewItemListDto>, ApiError> {
    let items = assigned_items(&state, &caller)
        .await?
        .iter()
        .map(|(campaign, shown)| {
            ReviewItemDto::of(&campaign.to_string(), &shown.item, &shown.progress, &shown.decisions)
        })
        .collect();
    Ok(Json(ReviewItemListDto { items, next_after: None }))
}

/// The undecided items of open campaigns the caller is named reviewer of,
/// by campaign.
pub(crate) async fn assigned_items(state: &AppState, caller: &Caller) -> Result<Vec<(CampaignId, Standing)>, ApiError> {
    let me = caller.identity().id;
    let mut out = Vec::new();
    // Items come by campaign: each campaign's decisions are read once.
    let mut decided: Option<(CampaignId, std::collections::BTreeMap<u32, Vec<_>>)> = None;
    for (campaign, item) in state.store.review_items_for(me).await? {
        if decided.as_ref().is_none_or(|(id, _)| *id != campaign) {
            decided = Some((campaign, by_item(state.store.list_review_decisions(campaign, None).await?)));
        }
        let list = decided.as_ref().and_then(|(_, all)| all.get(&item.number)).cloned().unwrap_or_default();
        let standing = progress(&item, &list);
        if standing.outcome.is_none() {
            out.push((campaign, Standing { item, progress: standing, decisions: list }));
        }
    }
    Ok(out)
}

/// Decide an item: `keep` (optionally `until` sooner), `revoke` (applied at
/// once), `narrow` (a smaller `role` or `scope`) or `delegate` (`to` another
/// eligible reviewer). Needs a fresh second factor; final in its stage.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/items/{item_id}/decision", tag = "reviews",
    request_body = DecisionRequest,
    params(("id" = String, Path, description = "campaign id"), ("item_id" = u32, Path, description = "item number")),
    responses((status = 200, body = DecisionDto), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn decision(
    State(state): State<AppState>,
    caller: Caller,
    IdPairPath(id, number): IdPairPath<CampaignId, u32>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<DecisionDto>, ApiError> {
    let decided = decide(&state, &caller, id, number, &body).await?;
    Ok(Json(DecisionDto {
        decision: gatehouse_domain::review::decision_to_json(&decided.decision),
        r#final: decided.step == gatehouse_domain::review::Step::Final,
        applied: decided.applied.map(|applied| applied.to_json()),
    }))
}

/// Close a campaign now, applying each undecided item's default.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/close", tag = "reviews",
    params(("id" = String, Path, description = "campaign id")),
    responses((status = 200, body = CampaignDto), (status = 403), (status = 404), (status = 409)))]
pub async fn close_now(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<CampaignId>,
) -> Result<Json<CampaignDto>, ApiError> {
    let campaign = find_campaign(&state, id).await?;
    let authorized = caller.authorize(&state, Action::GrantManage, Resource::Gatehouse).await?;
    let closed = close(&state, &campaign, Author::Person(&authorized)).await?;
    Ok(Json(CampaignDto::of(&closed)))
}

/// The campaign's export for an auditor (closed or skipped campaigns): its
/// definition, snapshot and decisions, with every entry that proves them
/// and its inclusion proof, and the consistency proof to the latest signed
/// checkpoint. `gatehouse review verify FILE --public-key KEY` checks it
/// offline.
#[utoipa::path(get, path = "/api/v1/reviews/{id}/export", tag = "reviews",
    params(("id" = String, Path, description = "campaign id")),
    responses((status = 200, description = "the proof bundle (JSON)"), (status = 403), (status = 404), (status = 409)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<CampaignId>,
) -> Result<Json<gatehouse_audit::bundle::Bundle>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let campaign = find_campaign(&state, id).await?;
    Ok(Json(crate::reviews::export::export(&state, &campaign).await?))
}

pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(assigned))
        .routes(utoipa_axum::routes!(show))
        .routes(utoipa_axum::routes!(items))
        .routes(utoipa_axum::routes!(decision))
        .routes(utoipa_axum::routes!(close_now))
        .routes(utoipa_axum::routes!(export))
}
