//! Compliance is enforced: an integration's CI token is allowed while its
//! vendor's evidence is valid, warned about while it is due soon, refused
//! with the reason once it expired (or, for a tier that suspends, its
//! identity suspended and its tokens refused), and allowed again once the
//! evidence is renewed, each at the instant of the test clock; the
//! scheduler records the lapse and the restoration once.

use std::sync::Arc;

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::{EvidenceId, IdentityId, IntegrationId, TokenId, VendorId};
use gatehouse_domain::store::Store;
use gatehouse_domain::token::{NewToken, TokenSecret};
use gatehouse_domain::vendor::{
    AccessMethod, ContentDigest, Contract, DataAccess, DeclaredAccess, Dpa, Evidence, EvidenceMetadata, Integration,
    IntegrationState, Repositories, Soc2, Soc2Opinion, Soc2Type, TrustService, Vendor, VendorStatus, VendorTier,
};
use gatehouse_server::scheduler::run_once;
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};
use time::macros::{date, datetime};
use time::{Date, Duration};

/// A stand-in entry for what the test sets up through the store.
pub(crate) fn record(action: AuditAction, app: &TestApp) -> AuditRecord {
    AuditRecord::system(SystemWriter::Scheduler, app.clock.now(), action, "vendor:test")
        .outcome(Outcome::Success, "test set-up")
}

/// A token for `identity` minted at the clock's now, for an hour (the
/// standard's longest), straight through the store: the admin's own token
/// does not outlive months of test clock.
pub(crate) async fn mint(app: &TestApp, identity: IdentityId) -> String {
    let secret = TokenSecret::generate();
    let now = app.clock.now();
    let new = NewToken {
        id: TokenId::new(),
        identity_id: identity,
        hash: secret.hash(),
        description: "ci".into(),
        created_at: now,
        expires_at: now + Duration::hours(1),
        created_by: None,
        trust_binding_id: None,
    };
    app.store.create_token(new, record(AuditAction::TokenCreate, app)).await.unwrap();
    secret.expose().to_owned()
}

fn soc2(vendor: VendorId, period_end: Date) -> Evidence {
    let content = format!("SOC 2 report to {period_end}").into_bytes();
    Evidence {
        id: EvidenceId::new(),
        vendor_id: vendor,
        metadata: EvidenceMetadata::Soc2(Soc2 {
            report_type: Soc2Type::TypeII,
            opinion: Soc2Opinion::Unqualified,
            trust_services: [TrustService::Security].into(),
            period_start: period_end - Duration::days(365),
            period_end,
        }),
        digest: ContentDigest::of(&content),
        size: content.len() as u64,
        filename: "soc2.pdf".into(),
        added_at: datetime!(2026-06-01 00:00 UTC),
    }
}

/// An approved vendor of `tier` with a valid DPA and a SOC 2 report whose
/// period ended 2025-07-31 (valid until 2026-07-31), and an active
/// integration served by a service identity holding `developer` on
/// acme/web. Returns the vendor and the identity.
pub(crate) async fn integrated(app: &TestApp, tier: VendorTier) -> (Vendor, IdentityId) {
    let store: &Arc<dyn Store> = &app.store;
    let vendor = Vendor {
        id: VendorId::new(),
        name: "Acme Scan".into(),
        tier,
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2026 - 01 - 01), renewal: date!(2027 - 06 - 01), end: date!(2028 - 01 - 01) },
        data_access: DataAccess::Source,
        logging: None,
        status: VendorStatus::Approved,
    };
    store.create_vendor(vendor.clone(), record(AuditAction::VendorCreate, app)).await.unwrap();
    let report = soc2(vendor.id, date!(2025 - 07 - 31));
    store.add_evidence(report.clone(), b"report".to_vec(), record(AuditAction::EvidenceAdd, app)).await.unwrap();
    let dpa = Evidence {
        id: EvidenceId::new(),
        metadata: EvidenceMetadata::Dpa(Dpa { signed_on: date!(2025 - 12 - 01) }),
        digest: ContentDigest::of(b"dpa"),
        size: 3,
        filename: "dpa.pdf".into(),
        ..report
    };
    store.add_evidence(dpa, b"dpa".to_vec(), record(AuditAction::EvidenceAdd, app)).await.unwrap();

    let bot: IdentityId = app.create_service("acme-scan").await.parse().unwrap();
    let granted = app
        .post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": bot.to_string(), "role": "developer", "scope": "project:acme/web"}),
        )
        .await;
    granted.assert_status(201);
    let integration = Integration {
        id: IntegrationId::new(),
        vendor_id: vendor.id,
        identity_id: bot,
        declared: DeclaredAccess {
            method: AccessMethod::GatehouseToken,
            permissions: vec!["contents:read".into()],
            repositories: Repositories::Selected(vec!["acme/web".into()]),
            token_lifetime: Some(Duration::hours(1)),
            refresh_token_lifetime: None,
            webhook_signed: true,
            ip_allowlist: vec![],
            mtls: false,
            secret_rotated_on: None,
        },
        state: IntegrationState::Active,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: app.admin_id,
        registered_at: app.clock.now(),
    };
    store.create_integration(integration, vec![record(AuditAction::IntegrationRegister, app)]).await.unwrap();
    (vendor, bot)
}

pub(crate) async fn trigger(app: &TestApp, token: &str) -> Value {
    let asked = json!({"action": "pipeline.trigger", "resource": {"type": "Project", "id": "acme/web"}});
    let answer = app.post("/api/v1/authorize", token, asked).await;
    answer.assert_status(200).clone()
}

pub(crate) async fn actions_since(app: &TestApp, from: u64) -> Vec<String> {
    let entries = app.get(&format!("/api/v1/audit/entries?start={from}&limit=500"), &mint_admin(app).await).await;
    let entries = entries.assert_status(200)["items"].as_array().unwrap().clone();
    entries.iter().map(|entry| entry["action"].as_str().unwrap().to_owned()).collect()
}

async fn mint_admin(app: &TestApp) -> String {
    mint(app, app.admin_id).await
}

engine_test!(a_deny_gate_lapse_warns_refuses_and_restores_at_its_instants, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let (vendor, bot) = integrated(&app, VendorTier::High).await;

        // 2026-06-01: valid, nothing to say.
        let answer = trigger(&app, &mint(&app, bot).await).await;
        assert_eq!(answer["decision"], "allow", "{answer}");
        assert_eq!(answer["warnings"], json!([]), "{answer}");

        // 2026-07-05: within 30 days of its expiry, still allowed, with a warning.
        app.clock.set(datetime!(2026-07-05 12:00 UTC));
        let answer = trigger(&app, &mint(&app, bot).await).await;
        assert_eq!(answer["decision"], "allow", "{answer}");
        assert_eq!(answer["warnings"], json!(["SOC 2 report for Acme Scan expires 2026-07-31"]), "{answer}");
        let mark = app.audit_size().await;
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.due_soon.len(), 1, "{report:?}");
        assert!(run_once(&app.state).await.unwrap().vendors.due_soon.is_empty(), "announced once");
        assert!(actions_since(&app, mark).await.contains(&"evidence.due_soon".to_owned()));

        // 2026-07-31, the expiry day: refused, naming the report.
        app.clock.set(datetime!(2026-07-31 00:00 UTC));
        let token = mint(&app, bot).await;
        let answer = trigger(&app, &token).await;
        assert_eq!(answer["decision"], "deny", "{answer}");
        let reasons = answer["reasons"].to_string();
        assert!(reasons.contains("SOC 2 report for Acme Scan expired 2026-07-31"), "{answer}");
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.expired.len(), 1, "{report:?}");
        assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
        assert!(run_once(&app.state).await.unwrap().vendors.lapsed.is_empty(), "a lapse is recorded once");
        // deny_gate: the identity stays active; only decisions deny.
        let whoami = app.get("/api/v1/whoami", &token).await;
        whoami.assert_status(200);

        // Renewed: a report whose period ended 2026-06-30 counts until 2027-06-30.
        let renewed = soc2(vendor.id, date!(2026 - 06 - 30));
        app.store.add_evidence(renewed, b"renewed".to_vec(), record(AuditAction::EvidenceAdd, &app)).await.unwrap();
        let answer = trigger(&app, &token).await;
        assert_eq!(answer["decision"], "allow", "renewed evidence counts at once: {answer}");
        assert_eq!(answer["warnings"], json!([]), "{answer}");
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
    }
));

engine_test!(a_suspend_lapse_suspends_the_identity_and_reactivates_it_when_renewed, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let (vendor, bot) = integrated(&app, VendorTier::Critical).await;
        // Critical vendors also owe a pen test.
        let test = Evidence {
            id: EvidenceId::new(),
            vendor_id: vendor.id,
            metadata: EvidenceMetadata::PenTest(gatehouse_domain::vendor::PenTest {
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
        assert_eq!(trigger(&app, &mint(&app, bot).await).await["decision"], "allow");

        app.clock.set(datetime!(2026-08-01 09:00 UTC));
        let token = mint(&app, bot).await;
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.lapsed.len(), 1, "{report:?}");
        let identity = app.store.find_identity(bot).await.unwrap().unwrap();
        assert!(!identity.status.is_active(), "a critical lapse suspends the identity");
        app.get("/api/v1/whoami", &token).await.assert_problem(401);

        let renewed = soc2(vendor.id, date!(2026 - 06 - 30));
        app.store.add_evidence(renewed, b"renewed".to_vec(), record(AuditAction::EvidenceAdd, &app)).await.unwrap();
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.vendors.restored.len(), 1, "{report:?}");
        assert!(app.store.find_identity(bot).await.unwrap().unwrap().status.is_active());
        assert_eq!(trigger(&app, &token).await["decision"], "allow");
    }
));

engine_test!(a_plain_service_identity_is_not_affected, |engine| with_database(engine, |db| async move {
    let app = TestApp::new(&db).await;
    let _ = integrated(&app, VendorTier::High).await;
    let other: IdentityId = app.create_service("plain-bot").await.parse().unwrap();
    let granted = app
        .post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": other.to_string(), "role": "developer", "scope": "project:acme/web"}),
        )
        .await;
    granted.assert_status(201);
    app.clock.set(datetime!(2026-08-01 09:00 UTC));
    let answer = trigger(&app, &mint(&app, other).await).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert!(answer.get("warnings").is_none_or(|w| w == &json!([])), "{answer}");
}));
