//! `POST /webhooks/gitlab`: GitLab webhooks, authenticated by the secret
//! token GitLab sends as `X-Gitlab-Token`. Push hooks that touch pipeline
//! configuration are recorded as `pipeline.config.changed`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::webhook::WebhookDelivery;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::push::{changes_json, config_changes};
use super::signature::check_gitlab_token;
use crate::context::Origin;
use crate::extract::ApiBytes;
use crate::problem::ApiError;
use crate::reviews::triggers::{PipelinePush, Pusher, pipeline_changed};
use crate::state::AppState;

/// Receive a GitLab webhook delivery.
#[utoipa::path(post, path = "/webhooks/gitlab", tag = "webhooks",
    request_body(content = Object, description = "a GitLab webhook payload, with X-Gitlab-Token"),
    responses((status = 200), (status = 400), (status = 401), (status = 404), (status = 409, description = "a replayed delivery"), (status = 413), (status = 429, description = "too many refused deliveries from this source")),
    security(()))]
pub async fn receive(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Value>, ApiError> {
    let Some(gitlab) = state.settings.integrations.gitlab.clone() else {
        return Err(ApiError::NotFound("GitLab webhooks are not configured ([gitlab] webhook_token)".into()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = check_gitlab_token(gitlab.webhook_token.expose(), header("x-gitlab-token")) {
        let reason = match error {
            super::signature::SignatureError::Missing => "the X-Gitlab-Token header is missing".to_owned(),
            _ => "the X-Gitlab-Token does not match".to_owned(),
        };
        // Through the failure ledger, as GitHub's (see `github.rs`).
        let refused = ApiError::Unauthorized(format!("webhook refused: {reason}"));
        return Err(state
            .auth_failures
            .failed(&state, &origin, None, AuditAction::WebhookGitlab, &reason, refused)
            .await);
    }
    let event = header("x-gitlab-event").unwrap_or_default().to_owned();
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the payload is not JSON: {e}")))?;
    // GitLab names a delivery by `Idempotency-Key` (17.4+) or
    // `X-Gitlab-Event-UUID`; older versions send neither, and then the
    // body's hash stands in (a byte-identical body is a replay).
    let delivery = header("idempotency-key")
        .or_else(|| header("x-gitlab-event-uuid"))
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&body))), str::to_owned);
    let now = state.clock.now();
    let project_path = payload.pointer("/project/path_with_namespace").and_then(Value::as_str).unwrap_or_default();
    let project = if project_path.is_empty() { "gatehouse".to_owned() } else { format!("project:{project_path}") };
    let mut records = vec![
        AuditRecord::system(SystemWriter::Webhook, now, AuditAction::WebhookGitlab, project.clone())
            .origin(&origin)
            .details(json!({"delivery": delivery, "event": event, "object_kind": payload.get("object_kind")})),
    ];
    let is_push = event == "Push Hook" || payload.get("object_kind").and_then(Value::as_str) == Some("push");
    let changes =
        if is_push { config_changes(&payload, &state.settings.integrations.pipeline_paths) } else { Vec::new() };
    if !changes.is_empty() {
        let changed = AuditRecord::system(SystemWriter::Webhook, now, AuditAction::PipelineConfigChanged, project);
        records.push(changed.origin(&origin).details(json!({
            "forge": "gitlab",
            "delivery": delivery,
            "ref": payload.get("ref"),
            "before": payload.get("before"),
            "after": payload.get("after"),
            "pusher": payload.get("user_username"),
            "commits": changes_json(&changes),
        })));
    }
    // Remembered by id and by the body's hash: the token authenticates the
    // sender, not the body, so a captured body under a new id is a replay.
    let received = WebhookDelivery::new("gitlab", &delivery, &body, now);
    let indexes = state.store.record_webhook_delivery(received, records).await?;
    let mut answer =
        json!({"delivery": delivery, "event": event, "config_changes": changes.len(), "audit_indexes": indexes});
    if !changes.is_empty() && !project_path.is_empty() {
        let push = PipelinePush {
            project: project_path.to_owned(),
            before: payload.get("before").and_then(Value::as_str).unwrap_or_default().to_owned(),
            after: payload.get("after").and_then(Value::as_str).unwrap_or_default().to_owned(),
            pusher: payload
                .get("user_email")
                .and_then(Value::as_str)
                .map_or(Pusher::Unknown, |email| Pusher::Email(email.to_owned())),
            commits: changes.iter().map(|change| change.commit.clone()).collect(),
        };
        if let Some(review) = pipeline_changed(&state, push).await {
            answer["review"] = json!(review.id.to_string());
        }
    }
    Ok(Json(answer))
}
