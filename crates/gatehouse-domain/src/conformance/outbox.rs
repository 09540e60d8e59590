//! Conformance of the `outbox` area: the feeder's cursor moves with the
//! deliveries it produced, a claim is one node's, a failed delivery waits
//! for its retry time and is given up after the last attempt, each result
//! commits with its entry, and a held delivery waits for its request.

use super::*;
use crate::access::{ApprovalRequest, NewApprovalRequest, RequestKind, RequestState};
use crate::audit::AuditAction;
use crate::ids::{ApprovalRequestId, DeliveryId};
use crate::notify::{
    DeliveryKind, DeliveryResult, MAX_ATTEMPTS, NewDelivery, NewHeldDelivery, NotificationEvent, ProtectionCallback,
    TargetKind, retry_delay,
};

const LEASE: Duration = Duration::minutes(1);

async fn pending_request(store: &dyn Store) -> ApprovalRequest {
    let id = ApprovalRequestId::new();
    let ana = human(store, &format!("Ana {id}"), &format!("ana-{id}@example.com")).await;
    let new = NewApprovalRequest {
        id,
        kind: RequestKind::Access {
            role: "deployer".parse().unwrap(),
            scope: Scope::parse("project:acme/web").unwrap(),
            duration: Duration::hours(2),
        },
        state: RequestState::Pending,
        rule_id: "prod-access".into(),
        policy_hash: "policy-1".into(),
        requester: ana.id,
        reason: Some("hotfix".into()),
        ticket: None,
        digest: "digest".into(),
        break_glass: false,
        incident: None,
        grant: None,
        created_at: T0,
        expires_at: T0 + Duration::hours(4),
    };
    let created = AuditRecord::new(T0, Actor::System, "request.create", format!("request:{id}"))
        .details(json!({"request_id": id.to_string()}));
    store.create_approval_request(new, vec![created]).await.unwrap()
}

fn delivery(request: &ApprovalRequest, target: &str, at: OffsetDateTime) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new(),
        target: target.into(),
        kind: DeliveryKind::Target(TargetKind::Webhook),
        event: NotificationEvent::RequestCreated,
        request_id: Some(request.id),
        subject: format!("request:{}", request.id),
        body: format!("{{\"target\":\"{target}\"}}").into_bytes(),
        created_at: at,
    }
}

/// Enqueues `deliveries` as the feeder does, moving the cursor past the
/// entries there are.
async fn enqueue(store: &dyn Store, deliveries: Vec<NewDelivery>) {
    let batch = store.notification_feed(&[AuditAction::RequestCreate], 100).await.unwrap();
    assert!(store.enqueue_notifications(batch.from, batch.next, deliveries).await.unwrap());
}

fn result_record(action: &str) -> AuditRecord {
    record(action)
}

pub async fn enqueueing_moves_the_cursor_with_the_deliveries(store: Arc<dyn Store>) {
    let request = pending_request(&*store).await;
    let batch = store.notification_feed(&[AuditAction::RequestCreate], 100).await.unwrap();
    assert_eq!(batch.entries.len(), 1, "only the fed actions are read: {:?}", batch.entries);
    assert_eq!(batch.entries[0].record.action, "request.create");
    assert_eq!(batch.next, store.audit_size().await.unwrap(), "the cursor moves past every entry read");
    let first = delivery(&request, "ops", T0);
    assert!(store.enqueue_notifications(batch.from, batch.next, vec![first.clone()]).await.unwrap());

    // A second feeder that read the same entries writes nothing.
    let late = delivery(&request, "ops", T0);
    assert!(!store.enqueue_notifications(batch.from, batch.next, vec![late.clone()]).await.unwrap());
    assert_eq!(store.find_delivery(late.id).await.unwrap(), None);
    let stored = store.deliveries_for(request.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, first.id);
    assert_eq!(stored[0].body.as_deref(), Some(first.body.as_slice()));
    assert_eq!((stored[0].attempts, stored[0].next_attempt_at), (0, Some(T0)));

    let again = store.notification_feed(&[AuditAction::RequestCreate], 100).await.unwrap();
    assert_eq!((again.from, again.entries.len(), again.next), (batch.next, 0, batch.next));

    // A batch limit stops at the last entry returned, not at the log's end.
    pending_request(&*store).await;
    store.append_audit(record("token.create")).await.unwrap();
    pending_request(&*store).await;
    let limited = store.notification_feed(&[AuditAction::RequestCreate], 1).await.unwrap();
    assert_eq!(limited.entries.len(), 1);
    assert_eq!(limited.next, limited.entries[0].index + 1);
    assert!(store.enqueue_notifications(limited.from, limited.next, Vec::new()).await.unwrap());
    let rest = store.notification_feed(&[AuditAction::RequestCreate], 100).await.unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.next, store.audit_size().await.unwrap());
}

pub async fn a_claim_is_one_nodes_until_its_lease_ends(store: Arc<dyn Store>) {
    let request = pending_request(&*store).await;
    let deliveries: Vec<NewDelivery> = (0..6).map(|i| delivery(&request, &format!("t{i}"), T0)).collect();
    enqueue(&*store, deliveries).await;

    assert_eq!(store.claim_deliveries(T0 - Duration::seconds(1), LEASE, 10).await.unwrap(), vec![], "not yet due");
    // Two claims at once share the deliveries without overlap.
    let (a, b) = tokio::join!(store.claim_deliveries(T0, LEASE, 4), store.claim_deliveries(T0, LEASE, 4));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut ids: Vec<DeliveryId> = a.iter().chain(&b).map(|claim| claim.delivery.id).collect();
    assert_eq!(ids.len(), 6, "{} and {}", a.len(), b.len());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "a delivery was claimed twice");
    assert_eq!(store.claim_deliveries(T0 + Duration::seconds(30), LEASE, 10).await.unwrap(), vec![]);

    // A lease that ran out is claimed again, and its old holder's result
    // is refused.
    let stale = a[0].clone();
    let again = store.claim_deliveries(T0 + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 6);
    let before = store.audit_size().await.unwrap();
    let refused = store
        .record_delivery(
            stale.delivery.id,
            &stale.lease,
            DeliveryResult::Delivered { at: T0 + LEASE },
            result_record("notify.send"),
        )
        .await
        .unwrap();
    assert_eq!(refused, None);
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused result writes no entry");
    let current = again.iter().find(|claim| claim.delivery.id == stale.delivery.id).unwrap();
    let done = store
        .record_delivery(
            current.delivery.id,
            &current.lease,
            DeliveryResult::Delivered { at: T0 + LEASE },
            result_record("notify.send"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the result and its entry commit together");
    assert_eq!((done.attempts, done.delivered_at, done.next_attempt_at), (1, Some(T0 + LEASE), None));
    // Delivered once: a repeat with the same lease is refused too.
    let repeat = store
        .record_delivery(
            current.delivery.id,
            &current.lease,
            DeliveryResult::Delivered { at: T0 + LEASE },
            result_record("notify.send"),
        )
        .await
        .unwrap();
    assert_eq!(repeat, None);
}

pub async fn a_failed_delivery_waits_for_its_retry_time(store: Arc<dyn Store>) {
    let request = pending_request(&*store).await;
    let new = delivery(&request, "ops", T0);
    enqueue(&*store, vec![new.clone()]).await;
    let claim = store.claim_deliveries(T0, LEASE, 10).await.unwrap().pop().unwrap();
    let retry_at = T0 + Duration::seconds(30);
    let failed = store
        .record_delivery(
            new.id,
            &claim.lease,
            DeliveryResult::Failed { at: T0, error: "HTTP 500".into(), retry_at: Some(retry_at) },
            result_record("notify.fail"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((failed.attempts, failed.next_attempt_at), (1, Some(retry_at)));
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(store.next_delivery_due().await.unwrap(), Some(retry_at));
    assert_eq!(store.claim_deliveries(retry_at - Duration::milliseconds(1), LEASE, 10).await.unwrap(), vec![]);
    let claim = store.claim_deliveries(retry_at, LEASE, 10).await.unwrap().pop().unwrap();
    assert_eq!(claim.delivery.attempts, 1);
    let sent = store
        .record_delivery(new.id, &claim.lease, DeliveryResult::Delivered { at: retry_at }, result_record("notify.send"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sent.attempts, sent.delivered_at, sent.last_error), (2, Some(retry_at), None));
    assert_eq!(store.next_delivery_due().await.unwrap(), None);
    let entries = store.list_audit(0, 500).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.record.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|action| action.starts_with("notify.")).count(), 2, "{actions:?}");
}

pub async fn a_delivery_is_given_up_after_the_last_attempt(store: Arc<dyn Store>) {
    let request = pending_request(&*store).await;
    let new = delivery(&request, "down", T0);
    enqueue(&*store, vec![new.clone()]).await;
    let mut now = T0;
    let mut attempts = 0;
    loop {
        let claim = store.claim_deliveries(now, LEASE, 10).await.unwrap().pop().expect("due again");
        attempts += 1;
        let retry_at = retry_delay(attempts).map(|delay| now + delay);
        let stored = store
            .record_delivery(
                new.id,
                &claim.lease,
                DeliveryResult::Failed { at: now, error: "cannot connect".into(), retry_at },
                result_record("notify.fail"),
            )
            .await
            .unwrap()
            .unwrap();
        match retry_at {
            Some(at) => now = at,
            None => {
                assert_eq!(stored.given_up_at, Some(now));
                assert_eq!(stored.next_attempt_at, None);
                break;
            }
        }
    }
    assert_eq!(attempts, MAX_ATTEMPTS);
    assert_eq!(store.claim_deliveries(now + Duration::days(30), LEASE, 10).await.unwrap(), vec![]);
    assert_eq!(store.find_delivery(new.id).await.unwrap().unwrap().attempts, MAX_ATTEMPTS);
}

pub async fn a_held_delivery_waits_for_its_request(store: Arc<dyn Store>) {
    let request = pending_request(&*store).await;
    let held = NewHeldDelivery {
        id: DeliveryId::new(),
        request_id: request.id,
        callback: ProtectionCallback {
            installation_id: 42,
            callback_url: "https://api.github.com/repos/acme/web/actions/runs/7/deployment_protection_rule".into(),
            environment: "production".into(),
        },
        created_at: T0,
    };
    let stored = store.hold_delivery(held.clone(), vec![record("deployment.execute")]).await.unwrap();
    assert!(stored.is_held());
    assert_eq!(stored.kind, DeliveryKind::GithubProtection);
    assert_eq!(stored.callback.as_ref(), Some(&held.callback));
    let unknown = NewHeldDelivery { id: DeliveryId::new(), request_id: ApprovalRequestId::new(), ..held.clone() };
    assert!(matches!(store.hold_delivery(unknown, Vec::new()).await, Err(StoreError::NotFound { .. })));

    assert_eq!(store.releasable_deliveries(10).await.unwrap(), vec![]);
    assert_eq!(store.claim_deliveries(T0 + Duration::days(1), LEASE, 10).await.unwrap(), vec![], "held");
    store
        .change_approval_state(
            request.id,
            RequestState::Pending,
            RequestState::Denied,
            T0 + Duration::minutes(5),
            None,
            vec![record("request.decide")],
        )
        .await
        .unwrap();
    let ready = store.releasable_deliveries(10).await.unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].0.id, ready[0].1), (held.id, RequestState::Denied));
    let at = T0 + Duration::minutes(6);
    assert!(store.release_delivery(held.id, b"{}".to_vec(), at).await.unwrap());
    assert!(!store.release_delivery(held.id, b"{\"again\":1}".to_vec(), at).await.unwrap(), "released once");
    assert_eq!(store.releasable_deliveries(10).await.unwrap(), vec![]);
    let claim = store.claim_deliveries(at, LEASE, 10).await.unwrap().pop().unwrap();
    assert_eq!(claim.delivery.body.as_deref(), Some(b"{}".as_slice()));
}

/// A delivery about a vendor names no request: it is stored, claimed and
/// recorded like any other, under its subject.
pub async fn a_delivery_about_no_request_is_sent_like_any(store: Arc<dyn Store>) {
    let about_vendor = NewDelivery {
        id: DeliveryId::new(),
        target: "security".into(),
        kind: DeliveryKind::Target(TargetKind::Webhook),
        event: NotificationEvent::EvidenceExpired,
        request_id: None,
        subject: "vendor:acme".into(),
        body: b"{\"summary\":\"SOC 2 report for Acme Scan expired 2026-10-31\"}".to_vec(),
        created_at: T0,
    };
    store.append_audit(record("evidence.expire")).await.unwrap();
    let batch = store.notification_feed(&[AuditAction::EvidenceExpire], 100).await.unwrap();
    assert_eq!(batch.entries.len(), 1);
    assert!(store.enqueue_notifications(batch.from, batch.next, vec![about_vendor.clone()]).await.unwrap());
    let stored = store.find_delivery(about_vendor.id).await.unwrap().expect("stored");
    assert_eq!((stored.request_id, stored.subject.as_str()), (None, "vendor:acme"));
    assert_eq!(stored.event, NotificationEvent::EvidenceExpired);
    assert_eq!(store.releasable_deliveries(10).await.unwrap(), vec![], "never held");

    let claimed = store.claim_deliveries(T0, LEASE, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|claim| claim.delivery.id).collect::<Vec<_>>(), vec![about_vendor.id]);
    let sent = store
        .record_delivery(about_vendor.id, &claimed[0].lease, DeliveryResult::Delivered { at: T0 }, result_record("notify.send"))
        .await
        .unwrap()
        .expect("the lease is the claim's");
    assert_eq!(sent.delivered_at, Some(T0));
    assert_eq!(sent.subject, "vendor:acme");
}
