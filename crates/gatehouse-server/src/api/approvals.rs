//! `GET /api/v1/approvals/check`: whether every loaded approval rule can
//! still be satisfied by the people in the directory now.

use axum::Json;
use axum::extract::State;
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;

use super::dto::{ApprovalsCheckDto, RuleProblemDto};
use crate::approvals;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// Checks the approval rules in force against the directory (and records
/// a change in what they can satisfy). Needs `audit.read`.
#[utoipa::path(get, path = "/api/v1/approvals/check", tag = "requests",
    responses((status = 200, body = ApprovalsCheckDto), (status = 403)))]
pub async fn check(State(state): State<AppState>, caller: Caller) -> Result<Json<ApprovalsCheckDto>, ApiError> {
    caller.authorize_read(&state, Action::AuditRead, Resource::Gatehouse).await?;
    let problems = approvals::refresh(&state).await?;
    let policies = state.policies.current();
    Ok(Json(ApprovalsCheckDto {
        rules: policies.approvals().rules().len(),
        policy_hash: policies.hash().to_owned(),
        problems: problems
            .into_iter()
            .map(|problem| RuleProblemDto { rule: problem.rule, line: problem.line, message: problem.message })
            .collect(),
    }))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(check))
}
