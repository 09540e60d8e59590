//! `POST /webhooks/github`: GitHub's webhooks. `deployment_protection_rule`
//! is decided (`deployment.execute` on `Environment::"<repo>:<environment>"`
//! for the service identity whose binding the event satisfies whole:
//! repository, `ref`, `environment`, …) and answered through its callback
//! URL; `push` records pipeline configuration changes.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use gatehouse_domain::access::{DeploymentBinding, Gated, RequestKind};
use gatehouse_domain::audit::{Actor, AuditAction, AuditRecord, Observation, Outcome, SystemWriter};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::CommitSha;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::ids::DeliveryId;
use gatehouse_domain::notify::{NewHeldDelivery, ProtectionCallback};
use gatehouse_domain::webhook::WebhookDelivery;
use gatehouse_domain::workload::TrustBinding;
use gatehouse_domain::workload::github_deployment::select_deployment_binding;
use gatehouse_policy::DecisionInput;
use serde_json::{Value, json};

use super::GithubSettings;
use super::github_app::{ProtectionAnswer, Verdict};
use super::push::{changes_json, config_changes};
use super::signature::check_github_signature;
use crate::api::authorize::facts_about;
use crate::approvals::{Asked, Attach, Prepared, store_request};
use crate::context::Origin;
use crate::extract::ApiBytes;
use crate::problem::ApiError;
use crate::reviews::triggers::{PipelinePush, Pusher, pipeline_changed};
use crate::state::AppState;

/// Receive a GitHub webhook delivery.
#[utoipa::path(post, path = "/webhooks/github", tag = "webhooks",
    request_body(content = Object, description = "a GitHub webhook payload, signed with X-Hub-Signature-256"),
    responses((status = 200), (status = 400), (status = 401), (status = 404), (status = 409, description = "a replayed delivery"), (status = 413), (status = 429, description = "too many refused deliveries from this source"), (status = 502)),
    security(()))]
pub async fn receive(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<Value>, ApiError> {
    let Some(github) = state.settings.integrations.github.clone() else {
        return Err(ApiError::NotFound("GitHub webhooks are not configured ([github] webhook_secret)".into()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = check_github_signature(github.webhook_secret.expose(), &body, header("x-hub-signature-256")) {
        // Through the failure ledger: a flood of forgeries is one entry and
        // a count, then 429, while signed deliveries from there still pass.
        let reason = error.reason("X-Hub-Signature-256");
        let refused = ApiError::Unauthorized(format!("webhook refused: {reason}"));
        return Err(state
            .auth_failures
            .failed(&state, &origin, None, AuditAction::WebhookGithub, &reason, refused)
            .await);
    }
    let delivery = header("x-github-delivery")
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::BadRequest("the X-GitHub-Delivery header is missing".into()))?
        .to_owned();
    let event = header("x-github-event")
        .filter(|e| !e.is_empty() && e.len() <= 64)
        .ok_or_else(|| ApiError::BadRequest("the X-GitHub-Event header is missing".into()))?
        .to_owned();
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the payload is not JSON: {e}")))?;
    let now = state.clock.now();
    // Remembered by id and by the signed body, which the HMAC covers and
    // the delivery id does not.
    let received_delivery = WebhookDelivery::new("github", &delivery, &body, now);
    let received = |action: AuditAction, resource: String| {
        AuditRecord::system(SystemWriter::Webhook, now, action, resource).origin(&origin)
    };
    let repository = payload.pointer("/repository/full_name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let project = if repository.is_empty() { "gatehouse".to_owned() } else { format!("project:{repository}") };
    let receipt = received(AuditAction::WebhookGithub, project.clone())
        .details(json!({"delivery": delivery, "event": event, "action": payload.get("action")}));

    match event.as_str() {
        "push" => {
            let changes = config_changes(&payload, &state.settings.integrations.pipeline_paths);
            let mut records = vec![receipt];
            if !changes.is_empty() {
                records.push(received(AuditAction::PipelineConfigChanged, project).details(json!({
                    "forge": "github",
                    "delivery": delivery,
                    "ref": payload.get("ref"),
                    "before": payload.get("before"),
                    "after": payload.get("after"),
                    "pusher": payload.get("pusher"),
                    "commits": changes_json(&changes),
                })));
            }
            let indexes = state.store.record_webhook_delivery(received_delivery, records).await?;
            let mut answer = json!({"delivery": delivery, "event": event, "config_changes": changes.len(), "audit_indexes": indexes});
            if !changes.is_empty() && !repository.is_empty() {
                let push = PipelinePush {
                    project: repository.clone(),
                    before: payload.get("before").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    after: payload.get("after").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    pusher: payload
                        .pointer("/pusher/email")
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
        "deployment_protection_rule" => protection_rule(&state, &github, received_delivery, &payload, receipt).await,
        _ => {
            let indexes = state.store.record_webhook_delivery(received_delivery, vec![receipt]).await?;
            Ok(Json(json!({"delivery": delivery, "event": event, "ignored": true, "audit_indexes": indexes})))
        }
    }
}

async fn protection_rule(
    state: &AppState,
    github: &GithubSettings,
    received_delivery: WebhookDelivery,
    payload: &Value,
    receipt: AuditRecord,
) -> Result<Json<Value>, ApiError> {
    let delivery = received_delivery.delivery_id.clone();
    let delivery = delivery.as_str();
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let missing = |what: &str| ApiError::BadRequest(format!("the deployment_protection_rule payload has no {what}"));
    let environment = text("/environment").ok_or_else(|| missing("environment"))?;
    let callback = text("/deployment_callback_url").ok_or_else(|| missing("deployment_callback_url"))?;
    let repository = text("/repository/full_name").ok_or_else(|| missing("repository.full_name"))?;
    let repository_id =
        payload.pointer("/repository/id").and_then(Value::as_u64).ok_or_else(|| missing("repository.id"))?;
    let installation =
        payload.pointer("/installation/id").and_then(Value::as_u64).ok_or_else(|| missing("installation.id"))?;
    let now = state.clock.now();

    let resource = Resource::from_parts("environment", &format!("{repository}:{environment}"));
    // The commit deployed, when the event names a valid one: the decision
    // sees who gatehouse verified signed it (`authors`, `author_known`).
    let deployed: Vec<CommitSha> = payload
        .pointer("/deployment/sha")
        .and_then(Value::as_str)
        .and_then(|sha| sha.parse().ok())
        .into_iter()
        .collect();
    let facts = facts_about(state, &deployed).await?;
    let principal = bound_identity(state, github, &repository, repository_id, payload).await?;
    let bound: Option<Identity> = principal.as_ref().ok().cloned();
    let (verdict, reasons, actor) = match (&resource, principal) {
        (None, _) => (
            Verdict::Rejected,
            vec![format!("`{repository}:{environment}` is not a valid environment id")],
            Actor::System,
        ),
        (_, Err(reason)) => (Verdict::Rejected, vec![reason], Actor::System),
        (Some(resource), Ok(identity)) => {
            let grants = state.store.list_grants_of(identity.id).await?;
            let decision = state
                .policies
                .current()
                .decide_with(
                    &DecisionInput {
                        principal: &identity,
                        grants: &grants,
                        action: Action::DeploymentExecute,
                        resource,
                        now,
                        auth_method: "workload",
                        mfa_fresh: false,
                        step_up: state.settings.mfa.step_up,
                        source_ip: None,
                        principal_is_caller: true,
                        caller_context: None,
                    },
                    &facts,
                )
                .map_err(|e| ApiError::Internal(format!("{e:?}")))?;
            let verdict = if decision.is_allowed() { Verdict::Approved } else { Verdict::Rejected };
            let mut reasons: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
            // A pipeline change nobody approved yet holds its project's deployments.
            let held = match verdict {
                Verdict::Approved => {
                    crate::reviews::triggers::deployment_hold(state, Action::DeploymentExecute, resource).await?
                }
                _ => None,
            };
            let verdict = match held {
                Some(reason) => {
                    reasons = vec![reason];
                    Verdict::Rejected
                }
                None => verdict,
            };
            (verdict, reasons, Actor::identity(&identity))
        }
    };
    let comment = truncate(&format!("gatehouse {}: {}", verdict.as_str(), reasons.join("; ")), 1000);
    let shown_resource =
        resource.as_ref().map_or_else(|| format!("environment:{repository}:{environment}"), ToString::to_string);
    let decision_record =
        AuditRecord::system_for(SystemWriter::Webhook, actor, now, AuditAction::DeploymentExecute, shown_resource)
        .origin(&receipt.origin)
        .outcome(if verdict == Verdict::Approved { Outcome::Success } else { Outcome::Denied }, reasons.join("; "))
        .details(json!({
            "forge": "github",
            "delivery": delivery,
            "decision": if verdict == Verdict::Approved { "allow" } else { "deny" },
            "reasons": reasons,
            "deployment": payload.get("deployment").map(|d| json!({"id": d.get("id"), "ref": d.get("ref"), "sha": d.get("sha")})),
            "known_authors": facts.authors.as_ref().map(|known| json!({
                "authors": known.authors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "author_known": known.all_known,
            })),
        }));
    // Allowed by the policy and covered by an approval rule: the answer
    // waits for the approved channel, held in the outbox until decided.
    if let (Verdict::Approved, Some(resource), Some(identity)) = (verdict, &resource, &bound) {
        let policies = state.policies.current();
        if let Some(loaded) =
            policies.approvals().rule_for(Gated::Action(Action::DeploymentExecute), &resource.to_string())
        {
            let binding = DeploymentBinding {
                forge: "github".into(),
                repository: repository.clone(),
                run_id: run_of(&callback).unwrap_or_else(|| delivery.to_owned()),
                run_attempt: 1,
                environment: environment.clone(),
                sha: text("/deployment/sha").or_else(|| text("/sha")).unwrap_or_default().to_ascii_lowercase(),
                authors: Vec::new(),
                workflow_digest: None,
            };
            let asked = Asked {
                kind: RequestKind::Action {
                    action: Action::DeploymentExecute,
                    resource: resource.clone(),
                    binding: Some(binding),
                },
                reason: Some(format!("GitHub deployment {} of {repository} to {environment}", delivery)),
                ticket: None,
            };
            let pending = decision_record
                .outcome(Outcome::Success, format!("waiting for approval under rule `{}`", loaded.rule.id));
            let indexes = state.store.record_webhook_delivery(received_delivery, vec![receipt, pending]).await?;
            let prepared = Prepared::new(&policies, loaded, asked, identity.id, now);
            let actor = Actor::identity(identity);
            let as_gatehouse = |action: AuditAction, resource: String| {
                AuditRecord::system_for(SystemWriter::Webhook, actor.clone(), now, action, resource)
            };
            let (_, request) = store_request(state, prepared, Attach::Pending, as_gatehouse).await?;
            let held = NewHeldDelivery {
                id: DeliveryId::new(),
                request_id: request.id,
                callback: ProtectionCallback {
                    installation_id: installation,
                    callback_url: callback.clone(),
                    environment,
                },
                created_at: now,
            };
            state.store.hold_delivery(held, Vec::new()).await?;
            return Ok(Json(json!({
                "delivery": delivery, "state": "pending", "request": request.id.to_string(),
                "rule": loaded.rule.id, "audit_indexes": indexes,
            })));
        }
    }
    let indexes = state.store.record_webhook_delivery(received_delivery, vec![receipt, decision_record]).await?;

    let answer = ProtectionAnswer {
        installation_id: installation,
        callback_url: &callback,
        environment: &environment,
        verdict,
        comment: &comment,
    };
    if let Err(cause) = state.github_app.answer_protection_rule(github, &answer, now).await {
        Observation::new(now, Actor::System, AuditAction::DeploymentCallback, format!("project:{repository}"))
            .outcome(Outcome::Failure, cause.clone())
            .details(json!({"delivery": delivery, "state": verdict.as_str()}))
            .append(&*state.store)
            .await?;
        return Err(ApiError::BadGateway(format!("decided `{}` but could not tell GitHub: {cause}", verdict.as_str())));
    }
    Ok(Json(
        json!({"delivery": delivery, "environment": environment, "state": verdict.as_str(), "reasons": reasons, "audit_indexes": indexes}),
    ))
}

/// The active service identity the deployment acts as: among the bindings
/// for the Actions issuer that name the repository (a `repository_id` or
/// `repository` condition accepting it), the one whose every condition the
/// event proves (`ref`, `environment`, … — see
/// `domain::workload::github_deployment`). A binding for `main` never
/// approves a deployment from another branch.
async fn bound_identity(
    state: &AppState,
    github: &GithubSettings,
    repository: &str,
    repository_id: u64,
    payload: &Value,
) -> Result<Result<Identity, String>, ApiError> {
    let bindings = state.store.trust_bindings_for_issuer(&github.actions_issuer).await?;
    let names_repository = |binding: &TrustBinding| {
        binding.claims.get("repository_id").is_some_and(|c| c.accepts(&json!(repository_id.to_string())))
            || binding.claims.get("repository").is_some_and(|c| c.accepts(&json!(repository)))
    };
    let naming: Vec<TrustBinding> = bindings.into_iter().filter(|b| names_repository(b)).collect();
    if naming.is_empty() {
        return Ok(Err(format!(
            "no service identity is bound to `{repository}` (a trust binding on repository_id or repository)"
        )));
    }
    let id = match select_deployment_binding(&naming, payload) {
        Ok(binding) => binding.identity_id,
        Err(reason) => return Ok(Err(format!("no trust binding for `{repository}` matches the deployment: {reason}"))),
    };
    match state.store.find_identity(id).await? {
        Some(identity) if identity.status.is_active() => Ok(Ok(identity)),
        Some(identity) => Ok(Err(format!("`{}`, bound to `{repository}`, is not active", identity.name))),
        None => Ok(Err(format!("the identity bound to `{repository}` no longer exists"))),
    }
}

/// The run id in a protection rule's callback URL
/// (`…/actions/runs/<id>/deployment_protection_rule`).
fn run_of(callback: &str) -> Option<String> {
    let (_, after) = callback.split_once("/actions/runs/")?;
    let run = after.split('/').next()?;
    (!run.is_empty() && run.bytes().all(|b| b.is_ascii_digit())).then(|| run.to_owned())
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
