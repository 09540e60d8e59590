//! Conformance of the `break_glass` area: break-glass requests stored with
//! their after-review in one transaction, reviews taken once per person
//! under the after-review's revision, and overdue ones found and raised.

use super::*;
use crate::access::{
    AfterReviewEntry, ApprovalRequest, NewAfterReview, NewApprovalRequest, RequestKind, RequestState,
    ReviewDecision,
};
use crate::authorization::Action;
use crate::grant::Resource;
use crate::ids::ApprovalRequestId;
use crate::store::ApprovalFilter;

const DUE: OffsetDateTime = datetime!(2026-01-02 00:00:00 UTC);

fn glass_access(requester: &Identity) -> NewApprovalRequest {
    let mut grant = new_grant(requester, "maintainer".parse().unwrap(), "project:acme/web");
    grant.expires_at = Some(T0 + Duration::hours(1));
    NewApprovalRequest {
        id: ApprovalRequestId::new(),
        kind: RequestKind::Access {
            role: "maintainer".parse().unwrap(),
            scope: Scope::parse("project:acme/web").unwrap(),
            duration: Duration::hours(1),
        },
        state: RequestState::Active,
        rule_id: "prod-access".into(),
        policy_hash: "policy-1".into(),
        requester: requester.id,
        reason: Some("prod is down".into()),
        ticket: None,
        digest: "digest-glass".into(),
        break_glass: true,
        incident: Some("INC-7".into()),
        grant: Some(grant),
        created_at: T0,
        expires_at: T0 + Duration::hours(1),
    }
}

fn glass_deployment(requester: &Identity) -> NewApprovalRequest {
    NewApprovalRequest {
        id: ApprovalRequestId::new(),
        kind: RequestKind::Action {
            action: Action::DeploymentExecute,
            resource: Resource::parse("environment:acme/web:production").unwrap(),
            binding: None,
        },
        state: RequestState::Approved,
        rule_id: "production-deploys".into(),
        digest: "digest-glass-deploy".into(),
        grant: None,
        ..glass_access(requester)
    }
}

async fn create(store: &dyn Store, new: NewApprovalRequest, need: u32) -> ApprovalRequest {
    store
        .create_break_glass_request(new, NewAfterReview { due_at: DUE, need }, vec![record("breakglass.activate")])
        .await
        .unwrap()
}

fn review(reviewer: &Identity, decision: ReviewDecision, at: OffsetDateTime) -> AfterReviewEntry {
    AfterReviewEntry { reviewer: reviewer.id, decision, reason: "checked".into(), mfa_age_seconds: 30, created_at: at }
}

fn revised(request: &ApprovalRequest) -> StoreError {
    StoreError::Conflict(Conflict::AfterReviewRevised { id: request.id })
}

pub async fn break_glass_requests_are_stored_with_their_after_review(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let before = store.audit_size().await.unwrap();
    let access = create(&*store, glass_access(&ana), 2).await;
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the request and its entry commit together");
    assert_eq!((access.state, access.break_glass, access.incident.as_deref()), (RequestState::Active, true, Some("INC-7")));
    assert!(access.grant_id.is_some(), "break-glass access has its grant at once");
    let status = access.after_review.clone().expect("an after-review");
    assert_eq!((status.due_at, status.need, status.revision), (DUE, 2, 0));
    assert_eq!((status.reviews.len(), status.completed_at, status.last_alert_at), (0, None, None));
    let grants = store.list_grants_of(ana.id).await.unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].expires_at, Some(T0 + Duration::hours(1)));

    let deploy = create(&*store, glass_deployment(&ana), 1).await;
    assert_eq!((deploy.state, deploy.grant_id), (RequestState::Approved, None));
    // Read back the same way everywhere a request is read.
    assert_eq!(store.find_approval_request(access.id).await.unwrap(), Some(access.clone()));
    let listed = store.list_approval_requests(&ApprovalFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(listed.items, vec![deploy.clone(), access.clone()]);

    // Nothing of a failed command stays: a second request with the same id.
    let size = store.audit_size().await.unwrap();
    let mut again = glass_access(&ana);
    again.id = access.id;
    assert!(
        store
            .create_break_glass_request(again, NewAfterReview { due_at: DUE, need: 1 }, vec![record("breakglass.activate")])
            .await
            .is_err()
    );
    assert_eq!(store.audit_size().await.unwrap(), size);
    assert_eq!(store.list_grants_of(ana.id).await.unwrap().len(), 1);
}

pub async fn after_reviews_take_each_person_once_and_guard_their_revision(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let sam = human(&*store, "Sam", "sam@example.com").await;
    let cy = human(&*store, "Cy", "cy@example.com").await;
    let request = create(&*store, glass_access(&ana), 2).await;
    let at = T0 + Duration::hours(2);
    let before = store.audit_size().await.unwrap();
    let once = store
        .record_after_review(request.id, 0, review(&sam, ReviewDecision::Flag, at), false, vec![record(
            "breakglass.review",
        )])
        .await
        .unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    let status = once.after_review.clone().unwrap();
    assert_eq!(status.reviews, vec![review(&sam, ReviewDecision::Flag, at)]);
    assert_eq!((status.revision, status.completed_at), (1, None));
    assert!(status.flagged());

    // A review counted against an older revision, and a second one by the
    // same person: refused, nothing written.
    let stale = store
        .record_after_review(request.id, 0, review(&cy, ReviewDecision::Ok, at), true, vec![record(
            "breakglass.review",
        )])
        .await;
    assert_eq!(stale.unwrap_err(), revised(&request));
    let twice = store
        .record_after_review(request.id, 1, review(&sam, ReviewDecision::Ok, at), true, vec![record(
            "breakglass.review",
        )])
        .await;
    assert_eq!(twice.unwrap_err(), StoreError::Conflict(Conflict::AlreadyReviewed { id: request.id }));
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.find_approval_request(request.id).await.unwrap(), Some(once.clone()));

    let done = store
        .record_after_review(request.id, 1, review(&cy, ReviewDecision::Ok, at), true, vec![record(
            "breakglass.review",
        )])
        .await
        .unwrap();
    let status = done.after_review.clone().unwrap();
    assert_eq!((status.reviews.len(), status.completed_at, status.revision), (2, Some(at), 2));
    // Complete: nothing more is taken.
    let after = store
        .record_after_review(request.id, 2, review(&ana, ReviewDecision::Ok, at), true, vec![record(
            "breakglass.review",
        )])
        .await;
    assert_eq!(after.unwrap_err(), revised(&request));

    // A request without an after-review has none to review.
    let plain = store
        .create_approval_request(
            NewApprovalRequest { break_glass: false, state: RequestState::Pending, grant: None, ..glass_access(&ana) },
            vec![record("request.create")],
        )
        .await
        .unwrap();
    assert_eq!(plain.after_review, None);
    let none = store
        .record_after_review(plain.id, 0, review(&sam, ReviewDecision::Ok, at), true, vec![record(
            "breakglass.review",
        )])
        .await;
    assert!(matches!(none, Err(StoreError::NotFound { .. })), "{none:?}");
}

pub async fn overdue_after_reviews_are_found_until_complete_and_raised_by_revision(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let sam = human(&*store, "Sam", "sam@example.com").await;
    let first = create(&*store, glass_access(&ana), 1).await;
    let second = create(&*store, glass_deployment(&ana), 1).await;
    let ids = |requests: Vec<ApprovalRequest>| requests.into_iter().map(|request| request.id).collect::<Vec<_>>();

    assert_eq!(store.overdue_after_reviews(DUE - Duration::milliseconds(1), DUE, 10).await.unwrap(), vec![]);
    assert_eq!(store.count_overdue_after_reviews(DUE - Duration::milliseconds(1)).await.unwrap(), 0);
    let mut both = vec![first.id, second.id];
    both.sort();
    assert_eq!(ids(store.overdue_after_reviews(DUE, DUE, 10).await.unwrap()), both, "due at its instant");
    assert_eq!(store.count_overdue_after_reviews(DUE).await.unwrap(), 2);
    assert_eq!(store.overdue_after_reviews(DUE, DUE, 1).await.unwrap().len(), 1, "at most the limit");

    let before = store.audit_size().await.unwrap();
    let raised =
        store.raise_overdue_after_review(first.id, 0, DUE, record("breakglass.overdue")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    let status = raised.after_review.clone().unwrap();
    assert_eq!((status.last_alert_at, status.revision), (Some(DUE), 1));
    // Raised at DUE: found again only when asked for what was raised by then.
    let before_due = DUE - Duration::milliseconds(1);
    assert_eq!(ids(store.overdue_after_reviews(DUE, before_due, 10).await.unwrap()), vec![second.id]);
    assert_eq!(ids(store.overdue_after_reviews(DUE, DUE, 10).await.unwrap()).len(), 2);
    // Raised meanwhile by another node: refused, nothing written.
    let again = store.raise_overdue_after_review(first.id, 0, DUE, record("breakglass.overdue")).await;
    assert_eq!(again.unwrap_err(), revised(&first));
    assert_eq!(store.audit_size().await.unwrap(), before + 1);

    // Reviewed: no longer overdue, and not raised again.
    store
        .record_after_review(first.id, 1, review(&sam, ReviewDecision::Ok, DUE), true, vec![record(
            "breakglass.review",
        )])
        .await
        .unwrap();
    assert_eq!(ids(store.overdue_after_reviews(DUE + Duration::days(1), DUE + Duration::days(1), 10).await.unwrap()), vec![second.id]);
    assert_eq!(store.count_overdue_after_reviews(DUE + Duration::days(1)).await.unwrap(), 1);
    let done = store.raise_overdue_after_review(first.id, 2, DUE, record("breakglass.overdue")).await;
    assert_eq!(done.unwrap_err(), revised(&first));
}
