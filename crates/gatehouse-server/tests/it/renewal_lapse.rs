//! A vendor's contract renewal with its renewal review still open (it
//! lasts `renewal_grace_days`, default 7, past the renewal): the scheduler
//! lapses its integration by the tier's lapse rule (deny at the gate, or
//! suspend), once, naming the review; deciding every item, the deadline
//! closing the review, or a renewed contract restores it; a review closed
//! before the renewal, or one without grace (closed by its deadline at the
//! renewal), lapses nothing.

use gatehouse_domain::audit::{AuditAction, SystemWriter};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::EvidenceId;
use gatehouse_domain::review::{Advice, Campaign, CampaignState, Decision, TriggerKind, Verdict};
use gatehouse_domain::vendor::{ContentDigest, Evidence, EvidenceMetadata, PenTest, Vendor, VendorStatus, VendorTier};
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::reviews::{Author, close};
use gatehouse_server::scheduler::run_once;
use gatehouse_server::vendors::lapse;
use gatehouse_server::{AppState, PolicyHandle};
use gatehouse_testkit::{TestApp, TestDatabase, engine_test, with_database};
use time::Date;
use time::macros::{date, datetime};

use crate::vendor_enforcement::{actions_since, integrated, mint, record, trigger};

/// Moves `vendor`'s renewal date (a contract renegotiated or renewed),
/// through the store as an edit would.
async fn renews_on(app: &TestApp, vendor: &mut Vendor, renewal: Date) {
    vendor.contract.renewal = renewal;
    let updated =
        app.store.update_vendor(vendor.clone(), VendorStatus::Approved, vec![record(AuditAction::VendorUpdate, app)]);
    *vendor = updated.await.unwrap();
}

/// Runs the scheduler and answers the renewal review it opened.
async fn renewal_review_opens(app: &TestApp, vendor: &Vendor) -> Campaign {
    let report = run_once(&app.state).await.unwrap();
    assert_eq!(report.review_triggers.renewals.len(), 1, "{report:?}");
    let campaign = app.store.find_campaign(report.review_triggers.renewals[0]).await.unwrap().unwrap();
    assert_eq!((campaign.trigger.kind, campaign.state), (TriggerKind::Renewal, CampaignState::Open));
    assert_eq!(campaign.trigger.subject, format!("vendor:{}", vendor.id));
    assert!(campaign.items >= 1, "the integration's grant is reviewed");
    campaign
}

/// Makes `vendor`'s renewal review still open at its renewal: the review
/// opens 2026-06-01 for a renewal on 2026-06-10 and, with the default
/// grace of 7 days, lasts until 2026-06-17.
async fn open_at_renewal(app: &TestApp, vendor: &mut Vendor) -> Campaign {
    renews_on(app, vendor, date!(2026 - 06 - 10)).await;
    let campaign = renewal_review_opens(app, vendor).await;
    assert_eq!(campaign.deadline, datetime!(2026-06-17 00:00 UTC), "the renewal plus the grace");
    campaign
}

/// A test app whose `reviews.toml` sets no grace: renewal reviews close at
/// the renewal, as before `renewal_grace_days`.
async fn without_grace(db: &TestDatabase) -> TestApp {
    let mut source = PolicySetSource::defaults();
    source.files.insert("reviews.toml".into(), "renewal_grace_days = 0\n".into());
    let policies = Policies::from_source(&source).expect("valid policies");
    TestApp::with_policies(db, gatehouse_testkit::test_settings(), policies).await
}

async fn count(app: &TestApp, action: &str) -> usize {
    actions_since(app, 0).await.iter().filter(|seen| seen.as_str() == action).count()
}

/// A second server process on the same database, with its own caches.
async fn other_node(app: &TestApp, db: &TestDatabase) -> AppState {
    AppState::new(
        db.open_store().await,
        PolicyHandle::new(Policies::defaults()),
        app.clock.clone(),
        gatehouse_testkit::test_settings(),
        None,
    )
}

engine_test!(an_open_renewal_review_at_the_renewal_denies_until_the_contract_is_renewed, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let (mut vendor, bot) = integrated(&app, VendorTier::High).await;
        let campaign = open_at_renewal(&app, &mut vendor).await;

        // The eve of the renewal: in force.
        app.clock.set(datetime!(2026-06-09 23:59 UTC));
        assert_eq!(trigger(&app, &mint(&app, bot).await).await["decision"], "allow");
        assert!(run_once(&app.state).await.unwrap().vendors.lapsed.is_empty());

        // The renewal, the review still open: refused, naming the review.
        app.clock.set(datetime!(2026-06-10 00:00 UTC));
        let token = mint(&app, bot).await;
        let answer = trigger(&app, &token).await;
        assert_eq!(answer["decision"], "deny", "{answer}");
        let reasons = answer["reasons"].to_string();
        assert!(reasons.contains(&format!("review:{}", campaign.id)), "{answer}");
        assert!(reasons.contains("still open at the contract renewal on 2026-06-10"), "{answer}");
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
        let lapses = app.store.list_audit(0, 10_000).await.unwrap();
        let lapse_entry = lapses.iter().find(|entry| entry.record.action == "integration.lapse").unwrap();
        assert_eq!(lapse_entry.record.details["on_lapse"], "deny_gate");
        assert!(lapse_entry.record.details["reasons"].to_string().contains(&campaign.id.to_string()));
        // deny_gate: the identity stays active; only decisions deny.
        app.get("/api/v1/whoami", &token).await.assert_status(200);

        // Once: a second run, and a second process's pass, lapse nothing more.
        assert!(run_once(&app.state).await.unwrap().vendors.lapsed.is_empty());
        let other = other_node(&app, &db).await;
        let second = lapse::run(&other, app.clock.now()).await.unwrap();
        assert!(second.lapsed.is_empty() && second.restored.is_empty(), "{second:?}");
        assert_eq!(count(&app, "integration.lapse").await, 1);

        // Renewed: the renewal date moved a year on ends the cause at once.
        renews_on(&app, &mut vendor, date!(2027 - 06 - 10)).await;
        assert_eq!(trigger(&app, &token).await["decision"], "allow");
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
        assert!(run_once(&app.state).await.unwrap().vendors.restored.is_empty(), "restored once");
        assert_eq!(count(&app, "integration.restore").await, 1);
    }
));

engine_test!(a_suspending_tier_is_suspended_at_the_renewal_and_reactivated_once_every_item_is_decided, |engine| {
    with_database(engine, |db| async move {
        let app = TestApp::new(&db).await;
        let (mut vendor, bot) = integrated(&app, VendorTier::Critical).await;
        // Critical vendors also owe a pen test.
        let test = Evidence {
            id: EvidenceId::new(),
            vendor_id: vendor.id,
            metadata: EvidenceMetadata::PenTest(PenTest {
                performed_on: date!(2026 - 03 - 01),
                product_in_scope: true,
                open_critical: 0,
            }),
            digest: ContentDigest::of(b"pentest"),
            size: 7,
            filename: "pentest.pdf".into(),
            added_at: app.clock.now(),
        };
        app.store.add_evidence(test, b"pentest".to_vec(), record(AuditAction::EvidenceAdd, &app)).await.unwrap();
        let campaign = open_at_renewal(&app, &mut vendor).await;
        assert_eq!(trigger(&app, &mint(&app, bot).await).await["decision"], "allow");

        app.clock.set(datetime!(2026-06-10 09:00 UTC));
        let token = mint(&app, bot).await;
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
        assert!(!app.store.find_identity(bot).await.unwrap().unwrap().status.is_active(), "critical: suspended");
        app.get("/api/v1/whoami", &token).await.assert_problem(401);
        assert_eq!(count(&app, "integration.suspend").await, 1);

        // Every item kept (the review stays open until its deadline): the cause ends.
        for item in app.store.list_review_items(campaign.id, None, 100).await.unwrap() {
            let keep = Decision {
                item: item.number,
                sequence: 0,
                stage: 1,
                verdict: Verdict::Keep { until: None },
                reviewer: None,
                at: app.clock.now(),
                mfa_method: None,
                mfa_age_seconds: None,
                shown: Advice::Keep,
                reason: "test: kept".into(),
            };
            app.store
                .record_review_decision(campaign.id, keep, vec![record(AuditAction::ReviewDecide, &app)])
                .await
                .unwrap();
        }
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
        assert!(app.store.find_identity(bot).await.unwrap().unwrap().status.is_active(), "reactivated");
        assert_eq!(trigger(&app, &token).await["decision"], "allow");
        assert_eq!(count(&app, "integration.reactivate").await, 1);
    })
});

engine_test!(a_renewal_review_closed_before_the_renewal_or_at_it_lapses_nothing, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let (mut vendor, bot) = integrated(&app, VendorTier::High).await;
        let campaign = open_at_renewal(&app, &mut vendor).await;
        app.clock.set(datetime!(2026-06-05 12:00 UTC));
        close(&app.state, &campaign, Author::System(SystemWriter::Scheduler)).await.unwrap();
        app.clock.set(datetime!(2026-06-10 00:00 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert!(report.vendors.lapsed.is_empty(), "{report:?}");
        let answer = trigger(&app, &mint(&app, bot).await).await;
        assert!(!answer["reasons"].to_string().contains("renewal review"), "{answer}");
    }
));

engine_test!(the_grace_lapses_from_the_renewal_until_the_deadline_closes_the_review, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let (mut vendor, bot) = integrated(&app, VendorTier::High).await;
        let campaign = open_at_renewal(&app, &mut vendor).await;
        let in_force = |app: &TestApp| {
            let store = app.store.clone();
            let now = app.clock.now();
            async move { store.list_grants_of(bot).await.unwrap().iter().filter(|g| g.is_in_force_at(now)).count() }
        };
        assert_eq!(in_force(&app).await, 1, "the integration's grant");

        // At the renewal nobody has decided: lapsed, and still so on the
        // last evening of the grace.
        app.clock.set(datetime!(2026-06-10 00:00 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
        assert!(report.reviews.closed.is_empty(), "open through the grace: {report:?}");
        app.clock.set(datetime!(2026-06-16 23:59 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert!(report.reviews.closed.is_empty() && report.vendors.restored.is_empty(), "{report:?}");
        let answer = trigger(&app, &mint(&app, bot).await).await;
        assert_eq!(answer["decision"], "deny", "{answer}");
        assert!(answer["reasons"].to_string().contains(&format!("review:{}", campaign.id)), "{answer}");

        // The deadline closes it with its default (revoke), which ends the
        // cause: restored once, with the undecided grant revoked.
        app.clock.set(datetime!(2026-06-17 00:00 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.reviews.closed, vec![campaign.id], "{report:?}");
        assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
        let closed = app.store.find_campaign(campaign.id).await.unwrap().unwrap();
        assert_eq!(closed.state, CampaignState::Closed);
        assert_eq!(in_force(&app).await, 0, "the undecided grant is revoked at the deadline");
        assert!(run_once(&app.state).await.unwrap().vendors.lapsed.is_empty(), "not lapsed again");
        assert_eq!(count(&app, "integration.lapse").await, 1);
        assert_eq!(count(&app, "integration.restore").await, 1);
    }
));

engine_test!(without_grace_a_renewal_review_closes_at_the_renewal_and_lapses_nothing, |engine| with_database(
    engine,
    |db| async move {
        // `renewal_grace_days = 0`: the review lasts until the renewal and
        // closes by its deadline then, so it is never open at the renewal.
        let app = without_grace(&db).await;
        let (mut vendor, _) = integrated(&app, VendorTier::High).await;
        renews_on(&app, &mut vendor, date!(2026 - 07 - 01)).await;
        let opened = renewal_review_opens(&app, &vendor).await;
        assert_eq!(opened.deadline, datetime!(2026-07-01 00:00 UTC));
        app.clock.set(datetime!(2026-07-01 00:00 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.reviews.closed, vec![opened.id], "{report:?}");
        assert!(report.vendors.lapsed.is_empty(), "{report:?}");
        assert_eq!(count(&app, "integration.lapse").await, 0);
    }
));

engine_test!(
    without_grace_a_review_opened_within_its_minimum_length_of_the_renewal_lapses_until_its_deadline,
    |engine| {
        with_database(engine, |db| async move {
            let app = without_grace(&db).await;
            let (mut vendor, bot) = integrated(&app, VendorTier::High).await;
            // Registered the evening before its renewal: the review runs its
            // minimum hour, past the renewal.
            renews_on(&app, &mut vendor, date!(2026 - 06 - 02)).await;
            app.clock.set(datetime!(2026-06-01 23:30 UTC));
            let campaign = renewal_review_opens(&app, &vendor).await;
            assert_eq!(campaign.deadline, datetime!(2026-06-02 00:30 UTC));

            app.clock.set(datetime!(2026-06-02 00:00 UTC));
            let report = run_once(&app.state).await.unwrap();
            assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
            assert_eq!(trigger(&app, &mint(&app, bot).await).await["decision"], "deny");

            // Its deadline closes it (revoking what nobody kept) and ends the cause.
            app.clock.set(datetime!(2026-06-02 00:30 UTC));
            let report = run_once(&app.state).await.unwrap();
            assert_eq!(report.reviews.closed, vec![campaign.id], "{report:?}");
            assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
            assert_eq!(count(&app, "integration.lapse").await, 1);
        })
    }
);
