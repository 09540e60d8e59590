//! Conformance of the `reviews` area: campaigns with their snapshot, one
//! decision per place, closing once.

use super::*;
use crate::ids::CampaignId;
use crate::review::{
    Advice, Campaign, CampaignDefinition, CampaignState, Counts, Decision, ItemKind, Recommendation, ReviewItem,
    Reviewer, Trigger, TriggerKind, Verdict, snapshot_digest,
};

fn definition() -> CampaignDefinition {
    let fallback = "role:admin".parse().unwrap();
    CampaignDefinition::new("Quarterly", vec![Reviewer::Owner], fallback, Duration::days(14))
}

fn item(number: u32, identity: &Identity, reviewers: &[&Identity]) -> ReviewItem {
    ReviewItem {
        number,
        kind: ItemKind::Grant,
        target: format!("grant-{number}"),
        identity: identity.id,
        identity_name: identity.name.clone(),
        role: Some("deployer".into()),
        scope: Some("environment:acme/web:prod".into()),
        granted_by: None,
        granted_at: T0,
        expires_at: None,
        last_used_at: Some(T0),
        privileged: false,
        recommendation: Recommendation { advice: Advice::Keep, reason: "used".into() },
        authors: vec![],
        reviewers: reviewers.iter().map(|r| r.id).collect(),
        second_reviewers: vec![],
    }
}

fn campaign(items: &[ReviewItem]) -> Campaign {
    Campaign {
        id: CampaignId::new(),
        definition: definition(),
        policy_hash: "abc".into(),
        trigger: Trigger { kind: TriggerKind::Manual, subject: "Quarterly".into(), holds: None },
        opened_by: None,
        state: if items.is_empty() { CampaignState::Skipped } else { CampaignState::Open },
        opened_at: T0,
        deadline: T0 + Duration::days(14),
        closed_at: None,
        snapshot_digest: snapshot_digest(items),
        items: items.len() as u32,
        reminded_at: None,
        counts: None,
        decisions_digest: None,
    }
}

fn decision(item: u32, sequence: u32, verdict: Verdict, reviewer: Option<&Identity>) -> Decision {
    Decision {
        item,
        sequence,
        stage: 1,
        verdict,
        reviewer: reviewer.map(|r| r.id),
        at: T0,
        mfa_method: reviewer.map(|_| "totp".into()),
        mfa_age_seconds: reviewer.map(|_| 5),
        shown: Advice::Keep,
        reason: String::new(),
    }
}

async fn people(store: &dyn Store) -> (Identity, Identity, Identity) {
    (
        human(store, "Ana", "ana@example.com").await,
        human(store, "Bo", "bo@example.com").await,
        human(store, "Cy", "cy@example.com").await,
    )
}

pub async fn campaigns_round_trip_with_their_snapshot(store: Arc<dyn Store>) {
    let (ana, bo, cy) = people(&*store).await;
    let items: Vec<ReviewItem> = (0..2_500).map(|n| item(n, &ana, &[&bo, &cy])).collect();
    let open = campaign(&items);
    let before = store.audit_size().await.unwrap();
    let stored = store.open_campaign(open.clone(), items.clone(), vec![record("review.open")]).await.unwrap();
    assert_eq!(stored, open);
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.find_campaign(open.id).await.unwrap(), Some(open.clone()));
    assert_eq!(store.find_campaign(CampaignId::new()).await.unwrap(), None);

    let first = store.list_review_items(open.id, None, 100).await.unwrap();
    assert_eq!(first, items[..100]);
    let next = store.list_review_items(open.id, Some(99), 2).await.unwrap();
    assert_eq!(next, items[100..102]);
    assert_eq!(store.find_review_item(open.id, 2_499).await.unwrap(), Some(items[2_499].clone()));
    assert_eq!(store.find_review_item(open.id, 2_500).await.unwrap(), None);
    assert_eq!(store.review_items_for(bo.id).await.unwrap().len(), 2_500);
    assert!(store.review_items_for(ana.id).await.unwrap().is_empty(), "the subject is nobody's reviewer here");

    assert!(store.last_use_by_identity().await.unwrap().is_empty(), "nobody has used anything yet");
    let secret = TokenSecret::generate();
    let token = store.create_token(new_token(&bo, &secret, T0 + Duration::days(30)), record("token.create")).await.unwrap();
    let used = T0 + Duration::days(2);
    store.record_token_use(token.id, used, Duration::ZERO).await.unwrap();
    assert_eq!(store.last_use_by_identity().await.unwrap(), vec![(bo.id, used)]);

    let skipped = campaign(&[]);
    store.open_campaign(skipped.clone(), vec![], vec![record("review.skip")]).await.unwrap();
    let all: Vec<CampaignId> = store.list_campaigns(None).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(all, vec![skipped.id, open.id], "newest first");
    let open_ones = store.list_campaigns(Some(CampaignState::Open)).await.unwrap();
    assert_eq!(open_ones.len(), 1);
    assert_eq!(open_ones[0].id, open.id);
}

pub async fn a_decision_takes_its_place_once(store: Arc<dyn Store>) {
    let (ana, bo, cy) = people(&*store).await;
    let items = vec![item(0, &ana, &[&bo, &cy]), item(1, &ana, &[&bo])];
    let open = campaign(&items);
    store.open_campaign(open.clone(), items, vec![]).await.unwrap();

    let keep = decision(0, 0, Verdict::Keep { until: None }, Some(&bo));
    store.record_review_decision(open.id, keep.clone(), vec![record("review.decide")]).await.unwrap();
    let before = store.audit_size().await.unwrap();
    let racing = decision(0, 0, Verdict::Revoke, Some(&cy));
    let refused = store.record_review_decision(open.id, racing, vec![record("review.decide")]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::ReviewItemChanged { item: 0, .. })), "{refused:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused decision leaves no entry");

    let revoke = decision(1, 0, Verdict::Revoke, Some(&bo));
    store.record_review_decision(open.id, revoke.clone(), vec![]).await.unwrap();
    assert_eq!(store.list_review_decisions(open.id, None).await.unwrap(), vec![keep.clone(), revoke]);
    assert_eq!(store.list_review_decisions(open.id, Some(0)).await.unwrap(), vec![keep]);
    let unknown = store.record_review_decision(CampaignId::new(), decision(0, 0, Verdict::Revoke, None), vec![]);
    assert!(matches!(unknown.await.unwrap_err(), StoreError::NotFound { .. }));
}

pub async fn closing_records_defaults_once_and_ends_decisions(store: Arc<dyn Store>) {
    let (ana, bo, _) = people(&*store).await;
    let items = vec![item(0, &ana, &[&bo]), item(1, &ana, &[&bo])];
    let open = campaign(&items);
    store.open_campaign(open.clone(), items, vec![]).await.unwrap();
    store.record_review_decision(open.id, decision(0, 0, Verdict::Revoke, Some(&bo)), vec![]).await.unwrap();

    let defaults = vec![decision(1, 0, Verdict::Keep { until: None }, None)];
    let counts = Counts { items: 2, kept: 1, revoked: 1, defaulted: 1, ..Counts::default() };
    let at = T0 + Duration::days(14);
    let closed = store
        .close_campaign(open.id, at, defaults.clone(), counts.clone(), "d1".into(), vec![record("review.close")])
        .await
        .unwrap();
    assert_eq!(closed.state, CampaignState::Closed);
    assert_eq!((closed.closed_at, closed.counts, closed.decisions_digest), (Some(at), Some(counts.clone()), Some("d1".into())));
    assert_eq!(store.list_review_decisions(open.id, Some(1)).await.unwrap(), defaults);

    let before = store.audit_size().await.unwrap();
    let again = store.close_campaign(open.id, at, vec![], counts, "d2".into(), vec![record("review.close")]).await;
    assert!(matches!(again.unwrap_err(), StoreError::Conflict(Conflict::CampaignNotOpen { .. })));
    let late = store.record_review_decision(open.id, decision(1, 1, Verdict::Revoke, Some(&bo)), vec![record("x")]);
    assert!(matches!(late.await.unwrap_err(), StoreError::Conflict(Conflict::CampaignNotOpen { .. })));
    assert_eq!(store.audit_size().await.unwrap(), before);
    assert!(store.review_items_for(bo.id).await.unwrap().is_empty(), "a closed campaign asks nobody");
}

pub async fn reminders_are_marked_once(store: Arc<dyn Store>) {
    let (ana, bo, _) = people(&*store).await;
    let items = vec![item(0, &ana, &[&bo])];
    let open = campaign(&items);
    store.open_campaign(open.clone(), items, vec![]).await.unwrap();
    let at = T0 + Duration::days(13);
    let before = store.audit_size().await.unwrap();
    assert!(store.mark_campaign_reminded(open.id, at, record("review.remind")).await.unwrap());
    assert!(!store.mark_campaign_reminded(open.id, at, record("review.remind")).await.unwrap());
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.find_campaign(open.id).await.unwrap().unwrap().reminded_at, Some(at));
}

pub async fn campaigns_are_found_by_trigger_subject_and_hold(store: Arc<dyn Store>) {
    use crate::store::CampaignFilter;
    let (ana, bo, _) = people(&*store).await;
    let items = vec![item(0, &ana, &[&bo])];
    let triggered = |kind: TriggerKind, subject: &str, holds: Option<&str>| {
        let mut made = campaign(&items);
        made.trigger = Trigger { kind, subject: subject.into(), holds: holds.map(str::to_owned) };
        made
    };
    let renewal = triggered(TriggerKind::Renewal, "vendor:a", None);
    let other_vendor = triggered(TriggerKind::Renewal, "vendor:b", None);
    let held = triggered(TriggerKind::PipelineChange, "project:acme/web", Some("project:acme/web"));
    let flagged = triggered(TriggerKind::PipelineChange, "project:acme/web", None);
    let later = triggered(TriggerKind::PipelineChange, "project:acme/web", Some("project:acme/web"));
    for made in [&renewal, &other_vendor, &held, &flagged, &later] {
        store.open_campaign(made.clone(), items.clone(), vec![]).await.unwrap();
    }
    store.close_campaign(later.id, T0, vec![], Counts::default(), "d".into(), vec![]).await.unwrap();
    let ids = |found: Vec<Campaign>| found.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let find = |filter: CampaignFilter| {
        let store = store.clone();
        async move { ids(store.find_campaigns(filter).await.unwrap()) }
    };
    let of_vendor = CampaignFilter {
        kind: Some(TriggerKind::Renewal),
        subject: Some("vendor:a".into()),
        ..CampaignFilter::default()
    };
    assert_eq!(find(of_vendor.clone()).await, vec![renewal.id]);
    let holding = CampaignFilter {
        kind: Some(TriggerKind::PipelineChange),
        holds: Some("project:acme/web".into()),
        ..CampaignFilter::default()
    };
    assert_eq!(find(holding.clone()).await, vec![later.id, held.id], "newest first, closed ones too");
    assert_eq!(find(CampaignFilter { state: Some(CampaignState::Open), ..holding }).await, vec![held.id]);
    let elsewhere = CampaignFilter { holds: Some("project:acme/api".into()), ..CampaignFilter::default() };
    assert!(find(elsewhere).await.is_empty());
    assert!(find(CampaignFilter { kind: Some(TriggerKind::Manual), ..of_vendor }).await.is_empty());
    assert_eq!(find(CampaignFilter::default()).await.len(), 5);
}
