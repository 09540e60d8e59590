//! Conformance of the `approvals` area: requests through the approved
//! channel, their votes and the race guards on both.

use std::collections::BTreeSet;

use super::*;
use crate::access::{
    ApprovalRequest, BindingKey, DeploymentBinding, NewApprovalRequest, NewVote, RequestKind, RequestState,
    VoteDecision,
};
use crate::authorization::Action;
use crate::grant::Resource;
use crate::ids::ApprovalRequestId;
use crate::store::{ApprovalFilter, CancelledRequests, VoteOutcome};

fn access_request(requester: &Identity, scope: &str, at: OffsetDateTime) -> NewApprovalRequest {
    NewApprovalRequest {
        id: ApprovalRequestId::new(),
        kind: RequestKind::Access {
            role: "release-approver".parse().unwrap(),
            scope: Scope::parse(scope).unwrap(),
            duration: Duration::hours(2),
        },
        state: RequestState::Pending,
        rule_id: "prod-access".into(),
        policy_hash: "policy-1".into(),
        requester: requester.id,
        reason: Some("hotfix".into()),
        ticket: Some("INC-7".into()),
        digest: format!("digest-{scope}"),
        break_glass: false,
        incident: None,
        grant: None,
        created_at: at,
        expires_at: at + Duration::hours(4),
    }
}

fn binding(run_id: &str, attempt: u32) -> DeploymentBinding {
    DeploymentBinding {
        forge: "github".into(),
        repository: "acme/web".into(),
        run_id: run_id.into(),
        run_attempt: attempt,
        environment: "production".into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        authors: vec!["ana".into(), "bob".into()],
        workflow_digest: Some("sha256:feed".into()),
    }
}

fn deployment_request(requester: &Identity, run_id: &str, at: OffsetDateTime) -> NewApprovalRequest {
    NewApprovalRequest {
        kind: RequestKind::Action {
            action: Action::DeploymentExecute,
            resource: Resource::parse("environment:acme/web:production").unwrap(),
            binding: Some(binding(run_id, 1)),
        },
        rule_id: "production-deploys".into(),
        reason: None,
        ticket: None,
        digest: format!("digest-run-{run_id}"),
        ..access_request(requester, "environment:acme/web:production", at)
    }
}

fn vote(voter: &Identity, decision: VoteDecision, request: &ApprovalRequest, at: OffsetDateTime) -> NewVote {
    NewVote {
        voter: voter.id,
        decision,
        reason: Some("looks right".into()),
        clauses: BTreeSet::from([0, 2]),
        mfa_age_seconds: 42,
        digest: request.digest.clone(),
        created_at: at,
    }
}

async fn create(store: &dyn Store, new: NewApprovalRequest) -> ApprovalRequest {
    store.create_approval_request(new, vec![record("request.create")]).await.unwrap()
}

async fn cast(store: &dyn Store, request: &ApprovalRequest, voter: &Identity, at: OffsetDateTime) -> ApprovalRequest {
    store
        .record_vote(
            request.id,
            &request.digest,
            request.revision,
            vote(voter, VoteDecision::Approve, request, at),
            None,
            vec![record("request.vote")],
        )
        .await
        .unwrap()
}

fn state_changed(request: &ApprovalRequest, expected: RequestState, current: RequestState) -> StoreError {
    StoreError::Conflict(Conflict::RequestStateChanged { id: request.id, expected, current })
}

pub async fn approval_requests_round_trip_and_page(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let before = store.audit_size().await.unwrap();
    let access = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the request and its entry commit together");
    assert_eq!(access.state, RequestState::Pending);
    assert_eq!(access.revision, 0);
    assert_eq!(access.assignment, vec![]);
    assert_eq!(access.decided_at, None);
    assert_eq!(access.votes, vec![]);
    assert_eq!(access.binding_key(), None);
    assert_eq!(store.find_approval_request(access.id).await.unwrap(), Some(access.clone()));
    assert_eq!(store.find_approval_request(ApprovalRequestId::new()).await.unwrap(), None);

    let deploy = create(&*store, deployment_request(&bob, "9001", T0 + Duration::minutes(1))).await;
    assert_eq!(deploy.kind.binding(), Some(&binding("9001", 1)), "the binding round-trips whole");
    assert_eq!(store.find_approval_request(deploy.id).await.unwrap(), Some(deploy.clone()));
    let other = create(&*store, access_request(&ana, "project:acme/api", T0 + Duration::minutes(2))).await;

    let all = |filter: ApprovalFilter| {
        let store = store.clone();
        async move {
            let page = store.list_approval_requests(&filter, PageRequest::default()).await.unwrap();
            page.items.into_iter().map(|request| request.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(all(ApprovalFilter::default()).await, vec![other.id, deploy.id, access.id], "newest first");
    assert_eq!(all(ApprovalFilter { requester: Some(ana.id), ..Default::default() }).await, vec![other.id, access.id]);
    assert_eq!(
        all(ApprovalFilter { resource_prefix: Some("project:acme/w".into()), ..Default::default() }).await,
        vec![access.id]
    );
    assert_eq!(
        all(ApprovalFilter { resource_prefix: Some("environment:".into()), ..Default::default() }).await,
        vec![deploy.id]
    );
    assert_eq!(
        all(ApprovalFilter {
            created_from: Some(T0 + Duration::minutes(1)),
            created_before: Some(T0 + Duration::minutes(2)),
            ..Default::default()
        })
        .await,
        vec![deploy.id]
    );
    assert_eq!(all(ApprovalFilter { state: Some(RequestState::Approved), ..Default::default() }).await, vec![]);

    // Keyset pages of one, newest first, cover everything once.
    let first = store.list_approval_requests(&ApprovalFilter::default(), PageRequest::first(1)).await.unwrap();
    assert_eq!(first.items, vec![other.clone()]);
    let after = first.next_after.clone().expect("more pages");
    let second = store
        .list_approval_requests(&ApprovalFilter::default(), PageRequest { after: Some(after), limit: 2 })
        .await
        .unwrap();
    assert_eq!(second.items.iter().map(|request| request.id).collect::<Vec<_>>(), vec![deploy.id, access.id]);
    assert_eq!(second.next_after, None);

    // Listed requests carry their votes; the voter filter finds them.
    let voted = cast(&*store, &deploy, &ana, T0 + Duration::minutes(3)).await;
    assert_eq!(all(ApprovalFilter { voter: Some(ana.id), ..Default::default() }).await, vec![deploy.id]);
    let listed = store.list_approval_requests(&ApprovalFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(listed.items[1], voted);
}

pub async fn votes_are_recorded_with_their_audit_entry(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let before = store.audit_size().await.unwrap();
    let at = T0 + Duration::minutes(5);
    let voted = cast(&*store, &request, &bob, at).await;
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    let entry = store.list_audit(before, 1).await.unwrap().pop().unwrap();
    assert_eq!(entry.record.action, "request.vote");
    assert_eq!(voted.state, RequestState::Pending, "no decision was handed in");
    assert_eq!(voted.revision, request.revision + 1);
    assert_eq!(voted.updated_at, at);
    assert_eq!(voted.votes.len(), 1);
    let stored = &voted.votes[0];
    assert_eq!(stored.voter, bob.id);
    assert_eq!(stored.decision, VoteDecision::Approve);
    assert_eq!(stored.reason.as_deref(), Some("looks right"));
    assert_eq!(stored.clauses, BTreeSet::from([0, 2]));
    assert_eq!(stored.mfa_age_seconds, 42);
    assert_eq!(stored.digest, request.digest);
    assert_eq!(stored.created_at, at);
    assert_eq!(stored.withdrawn_at, None);
    assert_eq!(voted.live_votes().len(), 1);
    assert_eq!(store.find_approval_request(request.id).await.unwrap(), Some(voted));
}

pub async fn a_second_live_vote_is_a_conflict(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let voted = cast(&*store, &request, &bob, T0 + Duration::minutes(1)).await;
    let before = store.audit_size().await.unwrap();
    let err = store
        .record_vote(
            voted.id,
            &voted.digest,
            voted.revision,
            vote(&bob, VoteDecision::Deny, &voted, T0 + Duration::minutes(2)),
            None,
            vec![record("request.vote")],
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::AlreadyVoted { id: voted.id }));
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused vote writes no entry");
    assert_eq!(store.find_approval_request(voted.id).await.unwrap(), Some(voted.clone()), "nor moves the revision");

    // Withdrawn, the vote stops counting and a new one may be cast.
    let withdrawn =
        store.withdraw_vote(voted.id, bob.id, T0 + Duration::minutes(3), record("request.vote")).await.unwrap();
    assert_eq!(withdrawn.votes[0].withdrawn_at, Some(T0 + Duration::minutes(3)));
    assert_eq!(withdrawn.live_votes(), vec![]);
    assert_eq!(withdrawn.revision, voted.revision + 1);
    let err = store.withdraw_vote(voted.id, bob.id, T0 + Duration::minutes(4), record("request.vote")).await;
    assert!(matches!(err, Err(StoreError::NotFound { kind: "vote", .. })), "{err:?}");
    let again = cast(&*store, &withdrawn, &bob, T0 + Duration::minutes(5)).await;
    assert_eq!(again.votes.len(), 2);
    assert_eq!(again.live_votes().len(), 1);
}

pub async fn votes_on_decided_or_changed_requests_are_refused(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let cy = human(&*store, "Cy", "cy@example.com").await;
    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let before = store.audit_size().await.unwrap();
    let attempt = |digest: String, revision: i64, voter: Identity| {
        let store = store.clone();
        let request = request.clone();
        async move {
            store
                .record_vote(
                    request.id,
                    &digest,
                    revision,
                    vote(&voter, VoteDecision::Approve, &request, T0 + Duration::minutes(1)),
                    None,
                    vec![record("request.vote")],
                )
                .await
        }
    };

    // A digest the request no longer has: what was shown changed.
    let err = attempt("digest-of-something-else".into(), 0, bob.clone()).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::RequestDigestChanged { id: request.id }));
    // A revision the votes moved past: the caller tallied without a vote.
    let voted = cast(&*store, &request, &cy, T0 + Duration::seconds(30)).await;
    let err = attempt(request.digest.clone(), request.revision, bob.clone()).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::RequestRevised { id: request.id }));
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "only the accepted vote wrote an entry");

    // A vote that decides: the vote and the decision in one transaction.
    let decided = store
        .record_vote(
            voted.id,
            &voted.digest,
            voted.revision,
            vote(&bob, VoteDecision::Approve, &voted, T0 + Duration::minutes(2)),
            Some(VoteOutcome { state: RequestState::Approved, assignment: vec![(0, cy.id), (2, bob.id)], grant: None }),
            vec![record("request.vote"), record("request.decide")],
        )
        .await
        .unwrap();
    assert_eq!(decided.state, RequestState::Approved);
    assert_eq!(decided.assignment, vec![(0, cy.id), (2, bob.id)]);
    assert_eq!(decided.decided_at, Some(T0 + Duration::minutes(2)));
    assert_eq!(decided.votes.len(), 2);
    assert_eq!(store.audit_size().await.unwrap(), before + 3, "the vote and the decision each have an entry");

    // A decided request takes no vote, whatever the voter shows.
    let err = attempt(decided.digest.clone(), decided.revision, ana.clone()).await.unwrap_err();
    assert_eq!(err, state_changed(&request, RequestState::Pending, RequestState::Approved));
    let err = store.withdraw_vote(decided.id, bob.id, T0 + Duration::minutes(3), record("request.vote")).await;
    assert_eq!(err, Err(state_changed(&request, RequestState::Pending, RequestState::Approved)));
    let err = attempt(request.digest.clone(), 0, bob.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::RequestStateChanged { .. })), "{err:?}");
    let err = store
        .record_vote(
            ApprovalRequestId::new(),
            "x",
            0,
            vote(&bob, VoteDecision::Approve, &request, T0),
            None,
            vec![record("request.vote")],
        )
        .await;
    assert!(matches!(err, Err(StoreError::NotFound { kind: "request", .. })), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before + 3, "no refused vote wrote an entry");
    assert_eq!(store.find_approval_request(request.id).await.unwrap(), Some(decided));
}

pub async fn state_changes_are_guarded_and_activation_creates_the_grant(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let before = store.audit_size().await.unwrap();
    let at = T0 + Duration::minutes(10);
    let approved = store
        .change_approval_state(
            request.id,
            RequestState::Pending,
            RequestState::Approved,
            at,
            None,
            vec![record("request.decide")],
        )
        .await
        .unwrap();
    assert_eq!(approved.state, RequestState::Approved);
    assert_eq!(approved.decided_at, Some(at));
    assert_eq!(approved.revision, request.revision + 1);

    // A caller that read `pending` meanwhile is told where it went.
    let err = store
        .change_approval_state(
            request.id,
            RequestState::Pending,
            RequestState::Cancelled,
            at,
            None,
            vec![record("request.cancel")],
        )
        .await
        .unwrap_err();
    assert_eq!(err, state_changed(&request, RequestState::Pending, RequestState::Approved));
    assert_eq!(store.audit_size().await.unwrap(), before + 1);

    // Activation creates the grant with the state change.
    let mut grant = new_grant(&ana, "release-approver".parse().unwrap(), "project:acme/web");
    grant.created_at = at + Duration::minutes(1);
    grant.expires_at = Some(at + Duration::hours(2));
    let grant_id = grant.id;
    let active = store
        .change_approval_state(
            request.id,
            RequestState::Approved,
            RequestState::Active,
            at + Duration::minutes(1),
            Some(grant),
            vec![record("request.decide"), record("grant.create")],
        )
        .await
        .unwrap();
    assert_eq!(active.state, RequestState::Active);
    assert_eq!(active.grant_id, Some(grant_id));
    assert_eq!(active.decided_at, Some(at), "decided once, when it left pending");
    let granted = store.find_grant(grant_id).await.unwrap().expect("the grant exists");
    assert_eq!((granted.identity_id, granted.revoked_at), (ana.id, None));
    assert_eq!(store.audit_size().await.unwrap(), before + 3);

    // A second activation, racing the first, creates no second grant.
    let second = new_grant(&ana, "release-approver".parse().unwrap(), "project:acme/web");
    let second_id = second.id;
    let err = store
        .change_approval_state(
            request.id,
            RequestState::Approved,
            RequestState::Active,
            at,
            Some(second),
            vec![record("grant.create")],
        )
        .await
        .unwrap_err();
    assert_eq!(err, state_changed(&request, RequestState::Approved, RequestState::Active));
    assert_eq!(store.find_grant(second_id).await.unwrap(), None);
    assert_eq!(store.audit_size().await.unwrap(), before + 3);

    // Revoking active access ends its grant in the same transaction.
    let revoked_at = at + Duration::minutes(30);
    let revoked = store
        .change_approval_state(
            request.id,
            RequestState::Active,
            RequestState::Revoked,
            revoked_at,
            None,
            vec![record("request.revoke")],
        )
        .await
        .unwrap();
    assert_eq!(revoked.state, RequestState::Revoked);
    assert_eq!(store.find_grant(grant_id).await.unwrap().unwrap().revoked_at, Some(revoked_at));
    let err = store
        .change_approval_state(
            ApprovalRequestId::new(),
            RequestState::Pending,
            RequestState::Expired,
            at,
            None,
            vec![record("request.expire")],
        )
        .await;
    assert!(matches!(err, Err(StoreError::NotFound { kind: "request", .. })), "{err:?}");
}

pub async fn a_run_has_one_open_request(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let first = create(&*store, deployment_request(&ana, "77", T0)).await;
    let key = first.binding_key().unwrap();
    assert_eq!(store.find_open_request_by_binding(&key).await.unwrap(), Some(first.clone()));
    let other_run = BindingKey { run_id: "78".into(), ..key.clone() };
    assert_eq!(store.find_open_request_by_binding(&other_run).await.unwrap(), None);
    let next_attempt = BindingKey { run_attempt: 2, ..key.clone() };
    assert_eq!(store.find_open_request_by_binding(&next_attempt).await.unwrap(), None);

    let before = store.audit_size().await.unwrap();
    let err = store
        .create_approval_request(deployment_request(&bob, "77", T0), vec![record("request.create")])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::RequestOpenForRun { key: key.to_string() }));
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused request writes no entry");

    // Still open once approved; no longer once used.
    let approved = store
        .change_approval_state(first.id, RequestState::Pending, RequestState::Approved, T0, None, vec![
            record("request.decide"),
        ])
        .await
        .unwrap();
    assert_eq!(store.find_open_request_by_binding(&key).await.unwrap(), Some(approved.clone()));
    let err = store.create_approval_request(deployment_request(&bob, "77", T0), vec![record("request.create")]).await;
    assert!(matches!(err, Err(StoreError::Conflict(Conflict::RequestOpenForRun { .. }))), "{err:?}");
    store
        .change_approval_state(first.id, RequestState::Approved, RequestState::Consumed, T0, None, vec![record(
            "request.consume",
        )])
        .await
        .unwrap();
    assert_eq!(store.find_open_request_by_binding(&key).await.unwrap(), None);
    let again = create(&*store, deployment_request(&bob, "77", T0 + Duration::minutes(1))).await;
    assert_eq!(store.find_open_request_by_binding(&key).await.unwrap(), Some(again));
    // Requests without a binding never collide.
    create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    create(&*store, access_request(&ana, "project:acme/web", T0)).await;
}

pub async fn due_requests_are_found_for_the_scheduler(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let stale = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let fresh = create(&*store, access_request(&ana, "project:acme/api", T0 + Duration::hours(3))).await;
    let now = T0 + Duration::hours(5);
    let due = store.due_approval_requests(now, 10).await.unwrap();
    assert_eq!(due.iter().map(|request| request.id).collect::<Vec<_>>(), vec![stale.id], "pending past its expiry");

    // Active access whose grant ended is due; one in force is not.
    let activate = |request: ApprovalRequest, ends: OffsetDateTime| {
        let store = store.clone();
        let ana = ana.clone();
        async move {
            store
                .change_approval_state(
                    request.id,
                    RequestState::Pending,
                    RequestState::Approved,
                    T0,
                    None,
                    vec![record("request.decide")],
                )
                .await
                .unwrap();
            let mut grant = new_grant(&ana, "release-approver".parse().unwrap(), "project:acme/web");
            grant.expires_at = Some(ends);
            store
                .change_approval_state(
                    request.id,
                    RequestState::Approved,
                    RequestState::Active,
                    T0,
                    Some(grant),
                    vec![record("request.decide")],
                )
                .await
                .unwrap()
        }
    };
    let ended = activate(stale, now - Duration::minutes(1)).await;
    activate(fresh, now + Duration::hours(1)).await;
    let due = store.due_approval_requests(now, 10).await.unwrap();
    assert_eq!(due, vec![ended.clone()]);
    assert_eq!(store.due_approval_requests(now - Duration::hours(1), 10).await.unwrap(), vec![]);

    // A grant revoked elsewhere (an identity's deprovisioning) is due too.
    let third = create(&*store, access_request(&ana, "project:acme/ops", T0 + Duration::hours(4))).await;
    let third = activate(third, now + Duration::hours(1)).await;
    store.revoke_grant(third.grant_id.unwrap(), now, record("grant.revoke")).await.unwrap();
    let due = store.due_approval_requests(now, 10).await.unwrap();
    assert_eq!(due.iter().map(|request| request.id).collect::<Vec<_>>(), vec![ended.id, third.id]);
    assert_eq!(store.due_approval_requests(now, 1).await.unwrap().len(), 1, "at most the limit");
}

pub async fn approved_unused_approvals_are_due_at_their_expiry(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let approved = create(&*store, deployment_request(&ana, "9001", T0)).await;
    let approved = store
        .change_approval_state(approved.id, RequestState::Pending, RequestState::Approved, T0, None, vec![record(
            "request.decide",
        )])
        .await
        .unwrap();
    let used = create(&*store, deployment_request(&ana, "9002", T0)).await;
    store
        .change_approval_state(used.id, RequestState::Pending, RequestState::Approved, T0, None, vec![record(
            "request.decide",
        )])
        .await
        .unwrap();
    store
        .change_approval_state(used.id, RequestState::Approved, RequestState::Consumed, T0, None, vec![record(
            "request.consume",
        )])
        .await
        .unwrap();
    let expiry = approved.expires_at;
    // Not a moment before its instant; at it, and after it.
    assert_eq!(store.due_approval_requests(expiry - Duration::milliseconds(1), 10).await.unwrap(), vec![]);
    assert_eq!(store.due_approval_requests(expiry, 10).await.unwrap(), vec![approved.clone()]);
    assert_eq!(store.due_approval_requests(expiry + Duration::hours(1), 10).await.unwrap(), vec![approved.clone()]);
    let expired = store
        .change_approval_state(approved.id, RequestState::Approved, RequestState::Expired, expiry, None, vec![record(
            "request.expire",
        )])
        .await
        .unwrap();
    assert_eq!(expired.state, RequestState::Expired);
    assert_eq!(expired.decided_at, Some(T0), "expiring an approval keeps when it was decided");
    assert_eq!(store.due_approval_requests(expiry + Duration::hours(1), 10).await.unwrap(), vec![]);
}

pub async fn cancelling_an_identitys_requests_withdraws_its_votes(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let anas = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let anas_decided = create(&*store, access_request(&ana, "project:acme/api", T0)).await;
    store
        .change_approval_state(anas_decided.id, RequestState::Pending, RequestState::Denied, T0, None, vec![record(
            "request.decide",
        )])
        .await
        .unwrap();
    let bobs = create(&*store, access_request(&bob, "project:acme/web", T0)).await;
    let bobs = cast(&*store, &bobs, &ana, T0 + Duration::minutes(1)).await;
    let bobs_other = create(&*store, access_request(&bob, "project:acme/ops", T0)).await;
    let bobs_other = cast(&*store, &bobs_other, &ana, T0 + Duration::minutes(1)).await;
    store
        .change_approval_state(bobs_other.id, RequestState::Pending, RequestState::Approved, T0, None, vec![
            record("request.decide"),
        ])
        .await
        .unwrap();

    let before = store.audit_size().await.unwrap();
    let at = T0 + Duration::hours(1);
    let done = store.cancel_requests_of(ana.id, at, record("scim.user.patch")).await.unwrap();
    assert_eq!(done, CancelledRequests { cancelled: vec![anas.id], votes_withdrawn: vec![bobs.id] });
    let entries = store.list_audit(before, 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.record.action.as_str()).collect();
    assert_eq!(actions, vec!["scim.user.patch", "request.cancel", "request.vote"], "one entry per change");
    assert_eq!(entries[1].record.resource, format!("request:{}", anas.id));

    let cancelled = store.find_approval_request(anas.id).await.unwrap().unwrap();
    assert_eq!((cancelled.state, cancelled.decided_at), (RequestState::Cancelled, Some(at)));
    let denied = store.find_approval_request(anas_decided.id).await.unwrap().unwrap();
    assert_eq!(denied.state, RequestState::Denied, "a decided request stays as decided");
    let bobs_now = store.find_approval_request(bobs.id).await.unwrap().unwrap();
    assert_eq!(bobs_now.state, RequestState::Pending);
    assert_eq!(bobs_now.live_votes(), vec![], "the vote on a pending request is withdrawn");
    assert_eq!(bobs_now.revision, bobs.revision + 1, "a tally made before the withdrawal is stale");
    let approved = store.find_approval_request(bobs_other.id).await.unwrap().unwrap();
    assert_eq!(approved.live_votes().len(), 1, "a decided request keeps the votes that decided it");

    let nothing = store.cancel_requests_of(ana.id, at, record("scim.user.patch")).await.unwrap();
    assert_eq!(nothing, CancelledRequests::default());
}

pub async fn a_failed_approval_command_leaves_no_audit_entry(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let gone = human(&*store, "Gone", "gone@example.com").await;
    store
        .update_identity_status(gone.id, IdentityStatus::Active, IdentityStatus::Deprovisioned, T0, record("identity.deprovision"))
        .await
        .unwrap();
    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let before = store.audit_size().await.unwrap();

    // Break-glass access for a deprovisioned identity: the grant is
    // refused, and with it the request and both entries.
    let mut glass = access_request(&gone, "project:acme/web", T0);
    glass.state = RequestState::Active;
    glass.break_glass = true;
    glass.incident = Some("INC-1".into());
    glass.grant = Some(new_grant(&gone, "release-approver".parse().unwrap(), "project:acme/web"));
    let glass_id = glass.id;
    let err = store
        .create_approval_request(glass, vec![record("breakglass.activate"), record("grant.create")])
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::IdentityDeprovisioned { id: gone.id }));
    assert_eq!(store.find_approval_request(glass_id).await.unwrap(), None);

    // An activation whose grant is refused leaves the request approved.
    let mut approved_for_gone = access_request(&gone, "project:acme/web", T0);
    approved_for_gone.state = RequestState::Approved;
    let approved_for_gone = store
        .create_approval_request(approved_for_gone, vec![record("breakglass.activate")])
        .await
        .unwrap();
    let before = before + 1;
    let grant = new_grant(&gone, "release-approver".parse().unwrap(), "project:acme/web");
    let err = store
        .change_approval_state(
            approved_for_gone.id,
            RequestState::Approved,
            RequestState::Active,
            T0,
            Some(grant),
            vec![record("request.decide"), record("grant.create")],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::IdentityDeprovisioned { .. })), "{err:?}");
    assert_eq!(store.find_approval_request(approved_for_gone.id).await.unwrap(), Some(approved_for_gone));

    // A vote by an unknown identity: refused by the database.
    let stranger = Identity { id: IdentityId::new(), ..ana.clone() };
    let err = store
        .record_vote(
            request.id,
            &request.digest,
            request.revision,
            vote(&stranger, VoteDecision::Approve, &request, T0),
            Some(VoteOutcome { state: RequestState::Approved, assignment: vec![(0, stranger.id)], grant: None }),
            vec![record("request.vote"), record("request.decide")],
        )
        .await;
    assert!(err.is_err(), "{err:?}");
    assert_eq!(store.find_approval_request(request.id).await.unwrap(), Some(request), "nor the decision");
    assert_eq!(store.audit_size().await.unwrap(), before, "no failed command wrote an entry");
}

/// The grant an activation creates, and its revocation with the request,
/// are credential changes: a credential read right after shows them (the
/// credential cache is not served under the old stamp).
pub async fn activation_and_revocation_show_in_credentials_at_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let secret = TokenSecret::generate();
    store.create_token(new_token(&ana, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    let read = || async { store.find_credential(&secret.hash()).await.unwrap().expect("found").grants };
    assert!(read().await.is_empty());

    let request = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let mut break_glass = access_request(&ana, "project:acme/api", T0);
    break_glass.state = RequestState::Active;
    break_glass.break_glass = true;
    break_glass.incident = Some("INC-9".into());
    let glass_grant = new_grant(&ana, "release-approver".parse().unwrap(), "project:acme/api");
    let glass_grant_id = glass_grant.id;
    break_glass.grant = Some(glass_grant);
    let glass = store
        .create_approval_request(break_glass, vec![record("breakglass.activate"), record("grant.create")])
        .await
        .unwrap();
    assert_eq!((glass.state, glass.grant_id, glass.break_glass), (RequestState::Active, Some(glass_grant_id), true));
    assert_eq!(glass.decided_at, Some(T0), "created decided");
    assert_eq!(read().await.iter().map(|grant| grant.id).collect::<Vec<_>>(), vec![glass_grant_id]);

    store
        .change_approval_state(request.id, RequestState::Pending, RequestState::Approved, T0, None, vec![record(
            "request.decide",
        )])
        .await
        .unwrap();
    let grant = new_grant(&ana, "release-approver".parse().unwrap(), "project:acme/web");
    let grant_id = grant.id;
    store
        .change_approval_state(request.id, RequestState::Approved, RequestState::Active, T0, Some(grant), vec![
            record("request.decide"),
        ])
        .await
        .unwrap();
    let held: Vec<_> = read().await.iter().map(|grant| grant.id).collect();
    assert!(held.contains(&grant_id) && held.len() == 2, "the activated grant shows at once: {held:?}");

    store
        .change_approval_state(request.id, RequestState::Active, RequestState::Revoked, T0, None, vec![record(
            "request.revoke",
        )])
        .await
        .unwrap();
    let held: Vec<_> = read().await.iter().map(|grant| grant.id).collect();
    assert_eq!(held, vec![glass_grant_id], "the revoked grant is gone at once");
}

pub async fn the_approver_directory_holds_active_people_their_live_grants_and_groups(store: Arc<dyn Store>) {
    use crate::access::{Pool, Subject};
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let scim_person = |name: &'static str| {
        let store = Arc::clone(&store);
        async move {
            let input = scim_user_input(name, Some(&format!("{name}@example.com")));
            store.scim_create_user(input, T0, record("scim.user.create")).await.unwrap().identity
        }
    };
    let bob = scim_person("bob").await;
    let gone = scim_person("gone").await;
    let bot = service(&*store, "deploy-bot").await;
    let approver = "release-approver".parse::<Role>().unwrap();
    for holder in [&ana, &bob, &gone, &bot] {
        let grant = new_grant(holder, approver.clone(), "environment:acme/web:production");
        store.create_grant(grant, record("grant.create")).await.unwrap();
    }
    let mut expiring = new_grant(&ana, "admin".parse::<Role>().unwrap(), "*");
    expiring.expires_at = Some(T0 + Duration::hours(1));
    store.create_grant(expiring, record("grant.create")).await.unwrap();
    let group = crate::scim::GroupInput {
        display_name: "Security".into(),
        external_id: None,
        members: vec![bob.id, gone.id],
    };
    store.scim_create_group(group, T0, record("scim.group.create")).await.unwrap();
    store
        .update_identity_status(gone.id, IdentityStatus::Active, IdentityStatus::Suspended, T0, record("identity.suspend"))
        .await
        .unwrap();

    let directory = store.approver_directory(T0).await.unwrap();
    assert_eq!(directory.people, BTreeSet::from([ana.id, bob.id]), "active people only; no services");
    let production = Resource::Environment("acme/web".into(), "production".into());
    let staging = Resource::Environment("acme/web".into(), "staging".into());
    let role = Pool::Role("release-approver".into());
    assert_eq!(directory.members_for(&role, Subject::Resource(&production)), BTreeSet::from([ana.id, bob.id]));
    assert_eq!(directory.members_for(&role, Subject::Resource(&staging)), BTreeSet::new());
    let admins = Pool::Role("admin".into());
    assert_eq!(directory.members_for(&admins, Subject::Resource(&staging)), BTreeSet::from([ana.id]));
    let security = Pool::Group("security".into());
    assert_eq!(directory.members_for(&security, Subject::Resource(&staging)), BTreeSet::from([bob.id]));

    let later = store.approver_directory(T0 + Duration::hours(2)).await.unwrap();
    assert_eq!(later.members_for(&admins, Subject::Resource(&staging)), BTreeSet::new(), "expired grants count no more");
}

pub async fn deactivating_a_person_cancels_their_requests_in_the_same_transaction(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let anas = create(&*store, access_request(&ana, "project:acme/web", T0)).await;
    let bobs = create(&*store, access_request(&bob, "project:acme/web", T0)).await;
    let bobs = cast(&*store, &bobs, &ana, T0 + Duration::minutes(1)).await;
    let before = store.audit_size().await.unwrap();
    store
        .update_identity_status(ana.id, IdentityStatus::Active, IdentityStatus::Suspended, T0, record("identity.suspend"))
        .await
        .unwrap();
    let entries = store.list_audit(before, 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.record.action.as_str()).collect();
    assert_eq!(actions, vec!["identity.suspend", "request.cancel", "request.vote"]);
    let cancelled = store.find_approval_request(anas.id).await.unwrap().unwrap();
    assert_eq!(cancelled.state, RequestState::Cancelled);
    let bobs_now = store.find_approval_request(bobs.id).await.unwrap().unwrap();
    assert_eq!(bobs_now.live_votes(), vec![]);
}
