//! `/api/v1/break-glass`: take access or a deployment approval at once
//! under a rule's break-glass, and review someone else's use of it
//! afterwards. The work is `crate::approvals::{break_glass,
//! review_break_glass}`; this module reads and answers HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::access::ReviewDecision;
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_domain::span::parse_duration;

use super::dto::{BreakGlassBody, BreakGlassReviewBody, RequestDto};
use super::requests::asked;
use crate::approvals::{self, Emergency};
use crate::auth::Caller;
use crate::extract::{ApiJson, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// Break the glass: the request is `active` (access, its grant in force) or
/// `approved` (an action) at once, with `break_glass: true` and the
/// after-review it owes (`after_review_due`).
#[utoipa::path(post, path = "/api/v1/break-glass", tag = "requests", request_body = BreakGlassBody,
    responses((status = 201, body = RequestDto, description = "in force"),
              (status = 403, description = "not in the rule's `break_glass.who` (`not-eligible`), or the policy refuses the action"),
              (status = 409), (status = 422, description = "no incident or reason, no rule covering it, or a rule without break-glass")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BreakGlassBody>,
) -> Result<(StatusCode, Json<RequestDto>), ApiError> {
    let mut request = body.request();
    // Access without a duration lasts the rule's break-glass duration: the
    // request reader needs one, so it reads a stand-in that is not used.
    let duration = match (request.kind.as_str(), request.duration.as_deref()) {
        ("access", None) => {
            request.duration = Some("1m".into());
            None
        }
        ("access", Some(text)) => {
            Some(parse_duration(text).map_err(|e| ApiError::Unprocessable(format!("`duration`: {e}")))?)
        }
        _ => None,
    };
    let asked = asked(request)?;
    let emergency =
        Emergency { kind: asked.kind, duration, incident: body.incident, reason: body.reason, ticket: body.ticket };
    let request = approvals::break_glass(&state, &caller, emergency).await?;
    Ok((StatusCode::CREATED, Json(approvals::show(&state.policies.current(), &request))))
}

/// Review someone else's break-glass: `ok` or `flag` (recorded and
/// notified), by a member of the rule's after-review pool with a second
/// factor as fresh as a vote needs. The after-review is complete once its
/// quorum of distinct reviewers has reviewed it.
#[utoipa::path(post, path = "/api/v1/break-glass/{id}/review", tag = "requests", request_body = BreakGlassReviewBody,
    params(("id" = String, Path, description = "the break-glass request's id")),
    responses((status = 201, body = RequestDto, description = "recorded"),
              (status = 403, description = "one's own break-glass, not a reviewer (`not-eligible`), or a second factor too old (`mfa-required`)"),
              (status = 404), (status = 409, description = "reviewed already, or the after-review is complete"),
              (status = 422)))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ApprovalRequestId>,
    ApiJson(body): ApiJson<BreakGlassReviewBody>,
) -> Result<(StatusCode, Json<RequestDto>), ApiError> {
    let decision = ReviewDecision::parse(&body.decision)
        .ok_or_else(|| ApiError::Unprocessable(format!("`decision` is `ok` or `flag`, not `{}`", body.decision)))?;
    let request = approvals::review_break_glass(&state, &caller, id, decision, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(approvals::show(&state.policies.current(), &request))))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(create)).routes(utoipa_axum::routes!(review))
}
