//! The scheduler: what happens at an instant rather than on a request.
//! Pending requests and unused approvals expire at their `expires_at`,
//! access whose grant ended (expired or revoked) is marked expired, and a
//! break-glass after-review past due is raised (`breakglass.overdue`) and
//! raised again every [`OVERDUE_REPEAT`] until it is done; vendor evidence
//! and integrations lapse at their instant (`crate::vendors::lapse`);
//! review campaigns close at their deadline and remind before it
//! (`crate::reviews::run`); the policy folder's campaigns open at their
//! recurrence and vendors' renewal reviews before their renewal
//! (`crate::reviews::triggers::run`).
//!
//! One node of a cluster runs it: each tick first asks the engine's
//! [`LeaderLease`] (PostgreSQL: a session advisory lock; SQLite: always).
//! Every move is the domain's `transition`, guarded by the store: a vote or
//! a cancel that lands first makes the move a conflict, which is skipped,
//! so a node that still believes it leads for a moment does no harm.

use std::time::Duration as StdDuration;

use gatehouse_domain::access::{
    ApprovalRequest, OVERDUE_REPEAT, RequestEvent, RequestKind, RequestState, overdue_alert_due,
};
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_domain::store::{Conflict, LeaderLease, PageRequest, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use crate::approvals;
use crate::problem::ApiError;
use crate::state::AppState;

/// How often `serve` runs the scheduler when `[scheduler] interval` is not set.
pub const DEFAULT_INTERVAL: StdDuration = StdDuration::from_secs(5);

/// Requests read per round; rounds go on while a round is full.
const BATCH: u32 = 200;
const MAX_ROUNDS: usize = 50;

/// This node's claim on running the scheduler.
pub struct Scheduler {
    lease: Box<dyn LeaderLease>,
}

impl Scheduler {
    pub fn new(lease: Box<dyn LeaderLease>) -> Self {
        Self { lease }
    }

    /// Gives up leading (on shutdown), so another node takes over at its
    /// next tick rather than when this node's connection times out.
    pub async fn release(&self) {
        self.lease.release().await;
        metrics::gauge!("gatehouse_scheduler_leader").set(0.0);
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerReport {
    /// Whether this node led: a node that does not lead does nothing.
    pub leader: bool,
    /// Requests this run expired, in the order it did.
    pub expired: Vec<ApprovalRequestId>,
    /// Break-glass requests whose overdue after-review this run raised.
    pub overdue_raised: Vec<ApprovalRequestId>,
    /// After-reviews overdue when the run ended.
    pub overdue_open: u64,
    /// Moves another writer made first (a vote, a cancel, another node).
    pub skipped: usize,
    /// Vendor evidence announced, integrations lapsed and restored.
    pub vendors: crate::vendors::lapse::LapseReport,
    /// Review campaigns closed at their deadline and reminded before it.
    pub reviews: crate::reviews::ReviewReport,
    /// Reviews opened on their own: the policy folder's recurrences and
    /// contract renewals.
    pub review_triggers: crate::reviews::triggers::TriggerReport,
}

/// Runs every job once, if this node leads. Tests call it after moving
/// the clock.
pub async fn run_once(state: &AppState) -> Result<SchedulerReport, ApiError> {
    let leader = state.scheduler.lease.try_lead().await?;
    metrics::gauge!("gatehouse_scheduler_leader").set(if leader { 1.0 } else { 0.0 });
    let mut report = SchedulerReport { leader, ..SchedulerReport::default() };
    if !leader {
        return Ok(report);
    }
    let now = state.clock.now();
    expire_due(state, now, &mut report).await?;
    raise_overdue(state, now, &mut report).await?;
    report.vendors = crate::vendors::lapse::run(state, now).await?;
    report.reviews = crate::reviews::run(state, now).await?;
    report.review_triggers = crate::reviews::triggers::run(state, now).await?;
    report.overdue_open = state.store.count_overdue_after_reviews(now).await?;
    metrics::gauge!("gatehouse_breakglass_overdue_reviews").set(report.overdue_open as f64);
    Ok(report)
}

/// Runs the scheduler every `every` until aborted.
pub fn spawn(state: AppState, every: StdDuration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = run_once(&state).await {
                tracing::warn!(error = %error.detail(), "the scheduler's run failed; trying again at the next tick");
            }
        }
    })
}

/// Why a due request expires, for its audit entry and the metric's label.
async fn why_due(state: &AppState, request: &ApprovalRequest) -> Result<(&'static str, String), ApiError> {
    Ok(match request.state {
        RequestState::Pending => ("ttl", "the request was not decided before it expired".to_owned()),
        RequestState::Approved => ("unused", "the approval was not used before it expired".to_owned()),
        _ => {
            let grant = match request.grant_id {
                Some(id) => state.store.find_grant(id).await?,
                None => None,
            };
            let how = match grant {
                Some(grant) if grant.revoked_at.is_some() => "was revoked",
                _ => "expired",
            };
            ("grant_ended", format!("the access grant {how}"))
        }
    })
}

async fn expire_due(state: &AppState, now: OffsetDateTime, report: &mut SchedulerReport) -> Result<(), ApiError> {
    for _ in 0..MAX_ROUNDS {
        let due = state.store.due_approval_requests(now, BATCH).await?;
        let full = due.len() >= BATCH as usize;
        let mut moved = false;
        for request in due {
            let (label, reason) = why_due(state, &request).await?;
            let record = AuditRecord::system(
                SystemWriter::Scheduler,
                now,
                AuditAction::RequestExpire,
                format!("request:{}", request.id),
            )
            .outcome(Outcome::Success, reason.clone())
            .details(json!({
                "request_id": request.id.to_string(),
                "rule": request.rule_id,
                "kind": request.kind.as_str(),
                "from": request.state.as_str(),
                "requester": request.requester.to_string(),
                "expires_at": format_rfc3339(request.expires_at),
                "grant_id": request.grant_id.map(|id| id.to_string()),
                "grant_ended": request.state == RequestState::Active,
                "break_glass": request.break_glass,
                "reason": reason,
            }));
            match approvals::end(state, &request, RequestEvent::Expire, vec![record]).await {
                Ok(_) => {
                    metrics::counter!("gatehouse_requests_expired_total", "why" => label).increment(1);
                    report.expired.push(request.id);
                    moved = true;
                }
                // Decided, cancelled or expired by someone else first.
                Err(ApiError::Conflict(_)) => report.skipped += 1,
                Err(error) => return Err(error),
            }
        }
        if !full || !moved {
            break;
        }
    }
    Ok(())
}

async fn raise_overdue(state: &AppState, now: OffsetDateTime, report: &mut SchedulerReport) -> Result<(), ApiError> {
    let policies = state.policies.current();
    for _ in 0..MAX_ROUNDS {
        let overdue = state.store.overdue_after_reviews(now, now - OVERDUE_REPEAT, PageRequest::MAX_LIMIT).await?;
        let full = overdue.len() >= PageRequest::MAX_LIMIT as usize;
        let mut raised = false;
        for request in overdue {
            let Some(review) = &request.after_review else { continue };
            if !overdue_alert_due(review.due_at, review.last_alert_at, now) {
                continue;
            }
            let notify = policies.approvals().find(&request.rule_id).map(|loaded| loaded.rule.notify.clone());
            let what = match &request.kind {
                RequestKind::Access { role, scope, .. } => format!("{} on {scope}", role.as_str()),
                RequestKind::Action { action, resource, .. } => format!("{} on {resource}", action.as_str()),
            };
            let record = AuditRecord::system(
                SystemWriter::Scheduler,
                now,
                AuditAction::BreakglassOverdue,
                format!("request:{}", request.id),
            )
            .outcome(Outcome::Failure, "the break-glass after-review is overdue")
            .details(json!({
                "request_id": request.id.to_string(),
                "rule": request.rule_id,
                "requester": request.requester.to_string(),
                "incident": request.incident,
                "what": what,
                "after_review_due": format_rfc3339(review.due_at),
                "reviews": review.reviews.len(),
                "need": review.need,
                "raised_before": review.last_alert_at.map(format_rfc3339),
                "notify": notify,
            }));
            match state.store.raise_overdue_after_review(request.id, review.revision, now, record).await {
                Ok(_) => {
                    metrics::counter!("gatehouse_breakglass_overdue_alerts_total").increment(1);
                    report.overdue_raised.push(request.id);
                    raised = true;
                }
                // Reviewed (or raised by another node) meanwhile.
                Err(StoreError::Conflict(Conflict::AfterReviewRevised { .. })) => report.skipped += 1,
                Err(error) => return Err(error.into()),
            }
        }
        if !full || !raised {
            break;
        }
    }
    Ok(())
}
