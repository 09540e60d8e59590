use std::time::Duration;

use gatehouse_domain::access::{ApprovalRequest, RequestKind, RequestState};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};
use time::macros::datetime;

use super::RequestUpdates;

fn request(id: ApprovalRequestId, state: RequestState) -> ApprovalRequest {
    let at = datetime!(2026-06-01 09:00 UTC);
    ApprovalRequest {
        id,
        kind: RequestKind::Action {
            action: Action::DeploymentExecute,
            resource: Resource::Environment("acme/web".into(), "production".into()),
            binding: None,
        },
        state,
        rule_id: "rule".into(),
        policy_hash: "hash".into(),
        requester: IdentityId::new(),
        reason: None,
        ticket: None,
        digest: "digest".into(),
        break_glass: false,
        incident: None,
        grant_id: None,
        assignment: Vec::new(),
        revision: 1,
        created_at: at,
        expires_at: at,
        decided_at: None,
        updated_at: at,
        votes: Vec::new(),
        after_review: None,
    }
}

#[tokio::test]
async fn every_waiter_on_a_request_is_woken_with_its_new_state_and_no_other() {
    let updates = RequestUpdates::default();
    let (watched, other) = (ApprovalRequestId::new(), ApprovalRequestId::new());
    let mut waiters: Vec<_> = (0..100).map(|_| updates.subscribe(watched)).collect();
    let mut elsewhere = updates.subscribe(other);
    assert_eq!(updates.watched(), 2);

    updates.publish(&request(watched, RequestState::Approved));
    for waiter in &mut waiters {
        let seen = tokio::time::timeout(Duration::from_secs(5), waiter.changed()).await.expect("woken");
        assert_eq!(seen.map(|published| published.request.state), Some(RequestState::Approved));
    }
    let quiet = tokio::time::timeout(Duration::from_millis(20), elsewhere.changed()).await;
    assert!(quiet.is_err(), "a waiter on another request was woken");
}

#[tokio::test]
async fn the_channel_goes_with_its_last_waiter_and_publishing_to_nobody_is_a_no_op() {
    let updates = RequestUpdates::default();
    let id = ApprovalRequestId::new();
    updates.publish(&request(id, RequestState::Denied));
    assert_eq!(updates.watched(), 0);
    let first = updates.subscribe(id);
    let second = updates.subscribe(id);
    drop(first);
    assert_eq!(updates.watched(), 1);
    drop(second);
    assert_eq!(updates.watched(), 0);
}
