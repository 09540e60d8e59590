//! The deliverer: due deliveries are claimed under a lease, sent (webhook
//! bodies signed with the target's secret, a GitHub protection rule's
//! answer through the GitHub App), and each attempt's result recorded with
//! its `notify.send` or `notify.fail` entry. A 2xx answer is delivered;
//! anything else, a timeout or a refused address fails the attempt, tried
//! again after `retry_delay` until the last. Of an answer, only its status
//! is kept: nothing a target says reaches the log or the audit entry.

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::notify::{
    ClaimedDelivery, DeliveryKind, DeliveryResult, SIGNATURE_HEADER, retry_delay, sign_body,
};
use gatehouse_domain::store::StoreError;
use serde_json::{Value, json};
use time::Duration;
use tokio::task::JoinSet;

use crate::AppState;
use crate::integrations::github_app::{ProtectionAnswer, Verdict};
use crate::outbound::{OutboundClient, describe};

/// How long a claim is a node's: longer than any attempt takes.
const LEASE: Duration = Duration::seconds(60);

/// Deliveries sent at once.
const CONCURRENCY: u32 = 16;

/// Rounds of claims per run at most (the rest waits for the next tick).
const MAX_ROUNDS: usize = 20;

/// Sends what is due; returns `(delivered, failed)`.
pub(super) async fn deliver(state: &AppState, client: &OutboundClient) -> Result<(usize, usize), StoreError> {
    let (mut delivered, mut failed) = (0, 0);
    for _ in 0..MAX_ROUNDS {
        // A read first, so an idle outbox costs no write.
        let now = state.clock.now();
        match state.store.next_delivery_due().await? {
            Some(due) if due <= now => {}
            _ => break,
        }
        let claimed = state.store.claim_deliveries(now, LEASE, CONCURRENCY).await?;
        if claimed.is_empty() {
            break;
        }
        let mut attempts = JoinSet::new();
        for claim in claimed {
            let (state, client) = (state.clone(), client.clone());
            attempts.spawn(async move {
                let outcome = attempt(&state, &client, &claim).await;
                (claim, outcome)
            });
        }
        while let Some(joined) = attempts.join_next().await {
            let Ok((claim, outcome)) = joined else { continue };
            if record(state, &claim, outcome).await? {
                delivered += 1;
            } else {
                failed += 1;
            }
        }
    }
    Ok((delivered, failed))
}

/// What an attempt came to: the status of a 2xx answer, or why it failed,
/// in a few words.
type Attempt = Result<u16, String>;

async fn attempt(state: &AppState, client: &OutboundClient, claim: &ClaimedDelivery) -> Attempt {
    let delivery = &claim.delivery;
    let body = delivery.body.clone().unwrap_or_default();
    match delivery.kind {
        DeliveryKind::Target(_) => {
            let target = state
                .settings
                .notify
                .targets
                .get(&delivery.target)
                .ok_or_else(|| "the target is no longer configured".to_owned())?;
            let mut request = client
                .post(&target.url)
                .map_err(|error| outbound_refusal(&error))?
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Gatehouse-Event", delivery.event.as_str())
                .header("X-Gatehouse-Delivery", delivery.id.to_string());
            if let Some(secret) = &target.secret {
                request = request.header(SIGNATURE_HEADER, sign_body(secret.expose().as_bytes(), &body));
            }
            let response = request.body(body).send().await.map_err(|error| describe(&error))?;
            let status = response.status();
            // The answer's body is never read: a target says nothing that
            // is kept.
            drop(response);
            if status.is_success() { Ok(status.as_u16()) } else { Err(format!("HTTP {}", status.as_u16())) }
        }
        DeliveryKind::GithubProtection => {
            let github =
                state.settings.integrations.github.as_ref().ok_or_else(|| "no GitHub App is configured".to_owned())?;
            let callback = delivery.callback.as_ref().ok_or_else(|| "the callback is missing".to_owned())?;
            let rendered: Value =
                serde_json::from_slice(&body).map_err(|_| "the rendered answer is not JSON".to_owned())?;
            let verdict = match rendered["state"].as_str() {
                Some("approved") => Verdict::Approved,
                _ => Verdict::Rejected,
            };
            let answer = ProtectionAnswer {
                installation_id: callback.installation_id,
                callback_url: &callback.callback_url,
                environment: &callback.environment,
                verdict,
                comment: rendered["comment"].as_str().unwrap_or_default(),
            };
            state.github_app.answer_protection_rule(github, &answer, state.clock.now()).await.map(|()| 204)
        }
    }
}

/// The outbound client's refusal of a URL names the URL, which may hold a
/// secret (a Slack webhook's path): only the rule is kept.
pub(super) fn outbound_refusal(error: &str) -> String {
    match error.find("refused by the outbound rules") {
        Some(at) => error[at..].to_owned(),
        None => "the target's URL is not usable".to_owned(),
    }
}

/// Records the attempt with its entry; `true` when it was delivered.
async fn record(state: &AppState, claim: &ClaimedDelivery, outcome: Attempt) -> Result<bool, StoreError> {
    let delivery = &claim.delivery;
    let now = state.clock.now();
    let attempt = delivery.attempts + 1;
    let mut details = json!({
        "request_id": delivery.request_id.map(|id| id.to_string()),
        "subject": delivery.subject,
        "delivery_id": delivery.id.to_string(),
        "target": delivery.target,
        "kind": delivery.kind.as_str(),
        "event": delivery.event.as_str(),
        "attempt": attempt,
    });
    let resource = delivery.subject.clone();
    let (result, audit, sent) = match &outcome {
        Ok(status) => {
            details["status"] = json!(status);
            let audit = AuditRecord::system(SystemWriter::Notification, now, AuditAction::NotifySend, resource)
                .outcome(Outcome::Success, "")
                .details(details);
            (DeliveryResult::Delivered { at: now }, audit, true)
        }
        Err(error) => {
            let error: String = error.chars().take(200).collect();
            let retry_at = retry_delay(attempt).map(|delay| now + delay);
            details["error"] = json!(error);
            match retry_at {
                Some(at) => details["retry_at"] = json!(format_rfc3339(at)),
                None => details["given_up"] = json!(true),
            }
            tracing::warn!(
                target_name = %delivery.target,
                delivery = %delivery.id,
                attempt,
                %error,
                given_up = retry_at.is_none(),
                "a notification could not be delivered"
            );
            let audit = AuditRecord::system(SystemWriter::Notification, now, AuditAction::NotifyFail, resource)
                .outcome(Outcome::Failure, error.clone())
                .details(details);
            (DeliveryResult::Failed { at: now, error, retry_at }, audit, false)
        }
    };
    metrics::counter!(
        "gatehouse_notifications_total",
        "result" => if sent { "delivered" } else { "failed" }
    )
    .increment(1);
    if state.store.record_delivery(delivery.id, &claim.lease, result, audit).await?.is_none() {
        tracing::warn!(delivery = %delivery.id, "a notification's lease ran out before its result was recorded");
    }
    Ok(sent)
}
