//! The feeder: audit entries after the outbox's cursor become deliveries,
//! one per target of the request's rule (or, for the scheduler's word on
//! vendors and integrations, per target `vendor-access.toml` names; for
//! access reviews, per target `reviews.toml` names),
//! enqueued with the cursor's move in one transaction. An entry is read once: a node whose cursor moved
//! meanwhile (another node fed the same entries) writes nothing.

use gatehouse_domain::audit::{Actor, AuditEntry};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::ids::{ApprovalRequestId, CampaignId, DeliveryId, IdentityId};
use gatehouse_domain::notify::{
    DeliveryKind, FED_ACTIONS, NewDelivery, Notification, NotificationEvent, ReviewNotification, VendorNotification,
    event_for, render, render_review, render_vendor, request_of, review_summary, state_after, summary, told_otherwise,
};
use gatehouse_domain::store::StoreError;
use gatehouse_policy::Policies;

use crate::AppState;

/// Entries read per batch, and batches per round at most (the rest waits
/// for the next tick).
const BATCH: u32 = 200;
const MAX_BATCHES: usize = 50;

/// Feeds until the cursor reaches the log's end; returns the deliveries made.
pub(super) async fn feed(state: &AppState) -> Result<usize, StoreError> {
    let mut enqueued = 0;
    for _ in 0..MAX_BATCHES {
        let batch = state.store.notification_feed(&FED_ACTIONS, BATCH).await?;
        if batch.next == batch.from {
            break;
        }
        let policies = state.policies.current();
        let mut deliveries = Vec::new();
        for entry in &batch.entries {
            deliveries.extend(deliveries_for(state, &policies, entry).await?);
        }
        let made = deliveries.len();
        if !state.store.enqueue_notifications(batch.from, batch.next, deliveries).await? {
            // Another node fed these entries; it will read on from there.
            break;
        }
        enqueued += made;
    }
    Ok(enqueued)
}

/// The deliveries one entry calls for (none for most).
async fn deliveries_for(
    state: &AppState,
    policies: &Policies,
    entry: &AuditEntry,
) -> Result<Vec<NewDelivery>, StoreError> {
    let record = &entry.record;
    let Some(event) = event_for(&record.action, record.outcome, &record.details) else {
        return Ok(Vec::new());
    };
    if event.is_about_vendor() {
        return Ok(vendor_deliveries(state, policies, entry, event));
    }
    if event.is_about_review() {
        return review_deliveries(state, policies, entry, event).await;
    }
    let Some(request_id) =
        request_of(&record.resource, &record.details).and_then(|id| id.parse::<ApprovalRequestId>().ok())
    else {
        tracing::warn!(index = entry.index, action = %record.action, "an audit entry names no request to notify of");
        return Ok(Vec::new());
    };
    let Some(request) = state.store.find_approval_request(request_id).await? else {
        tracing::warn!(index = entry.index, request = %request_id, "the request to notify of does not exist");
        return Ok(Vec::new());
    };
    if told_otherwise(event, &request) {
        return Ok(Vec::new());
    }
    let Some(rule) = policies.approvals().find(&request.rule_id) else {
        // The rule was removed since: nobody is named to hear of it.
        return Ok(Vec::new());
    };
    if rule.rule.notify.is_empty() {
        return Ok(Vec::new());
    }
    let requester = shown(state, request.requester).await?;
    let actor_id = record.details["voter"].as_str().map(str::to_owned).or_else(|| match &record.actor {
        Actor::Identity { id, .. } => Some(id.clone()),
        _ => None,
    });
    let actor = match actor_id.and_then(|id| id.parse::<IdentityId>().ok()) {
        Some(id) => Some(shown(state, id).await?),
        None => None,
    };
    let notification = Notification {
        event,
        request_id: request.id.to_string(),
        rule_id: request.rule_id.clone(),
        summary: summary(event, &request, &requester, actor.as_deref(), &record.details),
        url: request_url(state, request.id),
        state: state_after(event, &record.details, request.state),
        at: format_rfc3339(record.time),
    };
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for name in &rule.rule.notify {
        let Some(target) = state.settings.notify.targets.get(name) else {
            tracing::warn!(rule = %request.rule_id, target = %name, "a rule names a notification target no [notify.NAME] configures");
            continue;
        };
        deliveries.push(NewDelivery {
            id: DeliveryId::new(),
            target: name.clone(),
            kind: DeliveryKind::Target(target.kind),
            event,
            request_id: Some(request.id),
            subject: format!("request:{}", request.id),
            body: render(&notification, target.kind),
            created_at: now,
        });
    }
    Ok(deliveries)
}

/// The deliveries of the scheduler's word on a vendor or an integration:
/// the entry's sentence, to each target `vendor-access.toml` names.
fn vendor_deliveries(
    state: &AppState,
    policies: &Policies,
    entry: &AuditEntry,
    event: NotificationEvent,
) -> Vec<NewDelivery> {
    let (names, _) = policies.vendor_notify();
    let record = &entry.record;
    let notification = VendorNotification {
        event,
        subject: record.resource.clone(),
        summary: record.reason.clone(),
        details: record.details.clone(),
        at: format_rfc3339(record.time),
    };
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for name in names {
        let Some(target) = state.settings.notify.targets.get(name) else {
            tracing::warn!(target = %name, "vendor-access.toml names a notification target no [notify.NAME] configures");
            continue;
        };
        deliveries.push(NewDelivery {
            id: DeliveryId::new(),
            target: name.clone(),
            kind: DeliveryKind::Target(target.kind),
            event,
            request_id: None,
            subject: record.resource.clone(),
            body: render_vendor(&notification, target.kind),
            created_at: now,
        });
    }
    deliveries
}

/// Items read per page when collecting a campaign's reviewers.
const ITEM_PAGE: u32 = 1_000;

/// The deliveries of an access review's opening, reminder, defaults or
/// alert, to each target `reviews.toml` names. The opening names every
/// reviewer of the campaign's first stage (read from its items); the
/// reminder those its entry says are still waited on.
async fn review_deliveries(
    state: &AppState,
    policies: &Policies,
    entry: &AuditEntry,
    event: NotificationEvent,
) -> Result<Vec<NewDelivery>, StoreError> {
    let names = &policies.reviews().notify;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let record = &entry.record;
    let details = &record.details;
    let Some(id) = details["campaign_id"].as_str().and_then(|id| id.parse::<CampaignId>().ok()) else {
        tracing::warn!(index = entry.index, action = %record.action, "a review entry names no campaign to notify of");
        return Ok(Vec::new());
    };
    let campaign = state.store.find_campaign(id).await?;
    let name = details["name"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| campaign.as_ref().map(|campaign| campaign.definition.name.clone()))
        .unwrap_or_else(|| id.to_string());
    let deadline = details["deadline"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| campaign.as_ref().map(|campaign| format_rfc3339(campaign.deadline)));
    let mut ids: Vec<IdentityId> = match event {
        NotificationEvent::ReviewOpened => {
            let mut ids = Vec::new();
            let mut after = None;
            loop {
                let page = state.store.list_review_items(id, after, ITEM_PAGE).await?;
                after = page.last().map(|item| item.number);
                ids.extend(page.iter().flat_map(|item| item.reviewers_of(1).iter().copied()));
                if page.len() < ITEM_PAGE as usize {
                    break;
                }
            }
            ids
        }
        NotificationEvent::ReviewReminder => {
            details["reviewers"].as_array().into_iter().flatten().filter_map(|id| id.as_str()?.parse().ok()).collect()
        }
        _ => Vec::new(),
    };
    ids.sort();
    ids.dedup();
    let mut reviewers = Vec::with_capacity(ids.len());
    for reviewer in ids {
        reviewers.push(shown(state, reviewer).await?);
    }
    // Reminders and alerts name the deadline only where it still matters.
    let deadline = match event {
        NotificationEvent::ReviewOpened | NotificationEvent::ReviewReminder => deadline,
        _ => None,
    };
    let notification = ReviewNotification {
        event,
        campaign_id: id.to_string(),
        summary: review_summary(event, &name, &reviewers, deadline.as_deref(), details),
        name,
        reviewers,
        details: details.clone(),
        at: format_rfc3339(record.time),
    };
    let now = state.clock.now();
    let mut deliveries = Vec::new();
    for target_name in names {
        let Some(target) = state.settings.notify.targets.get(target_name) else {
            tracing::warn!(target = %target_name, "reviews.toml names a notification target no [notify.NAME] configures");
            continue;
        };
        deliveries.push(NewDelivery {
            id: DeliveryId::new(),
            target: target_name.clone(),
            kind: DeliveryKind::Target(target.kind),
            event,
            request_id: None,
            subject: format!("review:{id}"),
            body: render_review(&notification, target.kind),
            created_at: now,
        });
    }
    Ok(deliveries)
}

/// A person as a notification names them: their email, else their name.
async fn shown(state: &AppState, id: IdentityId) -> Result<String, StoreError> {
    Ok(match state.store.find_identity(id).await? {
        Some(Identity { email: Some(email), .. }) => email,
        Some(identity) => identity.name,
        None => id.to_string(),
    })
}

/// Where the request is decided in the console, when gatehouse knows its
/// own public address (the origin of `[oidc] redirect_url`).
fn request_url(state: &AppState, id: ApprovalRequestId) -> Option<String> {
    let redirect = &state.settings.oidc.as_ref()?.redirect_url;
    let parsed = reqwest::Url::parse(redirect).ok()?;
    let origin = parsed.origin().ascii_serialization();
    (origin != "null").then(|| format!("{origin}/ui/requests/{id}"))
}
