//! Onboarding an integration through the approved channel, under the
//! built-in rule (one approval from procurement and one from engineering,
//! never the requester's): its service identity stays suspended until the
//! request is approved, and is retired when it is denied or expires.

use axum::extract::FromRequestParts;
use axum::http::Request;
use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::ids::{ApprovalRequestId, IntegrationId, VendorId};
use gatehouse_domain::vendor::{
    AccessMethod, Contract, DataAccess, DeclaredAccess, Integration, IntegrationState, Repositories, Vendor,
    VendorStatus, VendorTier,
};
use gatehouse_policy::approvals::ONBOARDING_RULE_ID;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::auth::Caller;
use gatehouse_server::scheduler::run_once;
use gatehouse_server::vendors::onboarding;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

use crate::people::{Directory, Person, grant};

/// The built-in policies (no approvals.toml: the built-in onboarding rule
/// applies) and a role that lets its holders vote on requests.
fn policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert(
        "approvers.cedar".into(),
        r#"
@id("onboarding-approver")
@description("Votes on requests through the approved channel")
permit (principal == ?principal, action in [Action::"access.approve"], resource in ?resource);
"#
        .into(),
    );
    Policies::from_source(&source).expect("valid policies")
}

/// Reg registers tools (an admin, also in procurement); Pia and Pat are in
/// procurement, Eli in engineering; `acme-scan` is the tool's identity.
struct Cast {
    reg: Person,
    pia: Person,
    pat: Person,
    eli: Person,
    tool_token: String,
    integration: Integration,
}

async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let reg = directory.person(app, "reg").await;
    let pia = directory.person(app, "pia").await;
    let pat = directory.person(app, "pat").await;
    let eli = directory.person(app, "eli").await;
    // Groups first: SCIM may not touch an admin.
    directory.group(app, "procurement", &[&reg, &pia, &pat]).await;
    directory.group(app, "engineering", &[&eli]).await;
    grant(app, &reg.id, "admin", "*").await;
    for person in [&pia, &pat, &eli] {
        grant(app, &person.id, "onboarding-approver", "*").await;
    }

    let tool = app.create_service("acme-scan").await;
    let tool_token = app.create_token(&tool, 7 * 86_400).await;
    let now = app.clock_now();
    let record = |action: AuditAction| AuditRecord::system(SystemWriter::Initialization, now, action, "test");
    let vendor = Vendor {
        id: VendorId::new(),
        name: "Acme Scan".into(),
        tier: VendorTier::High,
        business_owner: None,
        security_owner: None,
        contract: Contract {
            start: time::macros::date!(2026 - 01 - 01),
            renewal: time::macros::date!(2026 - 12 - 01),
            end: time::macros::date!(2027 - 12 - 31),
        },
        data_access: DataAccess::Source,
        logging: None,
        status: VendorStatus::Approved,
    };
    let vendor = app.store.create_vendor(vendor, record(AuditAction::VendorCreate)).await.unwrap();
    let integration = Integration {
        id: IntegrationId::new(),
        vendor_id: vendor.id,
        identity_id: tool.parse().unwrap(),
        declared: DeclaredAccess {
            method: AccessMethod::GithubApp,
            permissions: vec!["contents:read".into()],
            repositories: Repositories::Selected(vec!["acme/web".into()]),
            token_lifetime: Some(Duration::hours(1)),
            refresh_token_lifetime: None,
            webhook_signed: true,
            ip_allowlist: vec![],
            mtls: false,
            secret_rotated_on: None,
        },
        state: IntegrationState::PendingApproval,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: reg.id.parse().unwrap(),
        registered_at: now,
    };
    let integration =
        app.store.create_integration(integration, vec![record(AuditAction::IntegrationRegister)]).await.unwrap();
    Cast { reg, pia, pat, eli, tool_token, integration }
}

trait ClockNow {
    fn clock_now(&self) -> time::OffsetDateTime;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> time::OffsetDateTime {
        gatehouse_domain::clock::Clock::now(&*self.clock)
    }
}

/// The caller a request bearing `token` is, as the API authenticates it.
async fn caller(app: &TestApp, token: &str) -> Caller {
    let request = Request::builder()
        .uri("/api/v1/integrations")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let (mut parts, ()) = request.into_parts();
    Caller::from_request_parts(&mut parts, &app.state).await.expect("authenticated")
}

/// Registers the integration's onboarding as Reg would, through `open`.
async fn open(app: &TestApp, c: &Cast) -> ApprovalRequestId {
    let reg = caller(app, &c.reg.token).await;
    onboarding::open(&app.state, &reg, &c.integration).await.expect("opened").expect("a request")
}

async fn show(app: &TestApp, id: ApprovalRequestId) -> Value {
    app.get(&format!("/api/v1/requests/{id}"), &app.admin_token).await.assert_status(200).clone()
}

/// A vote with the second factor each person confirmed on arrival (the
/// clock has not moved since).
async fn vote(app: &TestApp, person: &Person, id: ApprovalRequestId, decision: &str) -> TestResponse {
    let digest = show(app, id).await["digest"].clone();
    let body = json!({"decision": decision, "digest": digest, "reason": "read the SOC 2 report"});
    app.post(&format!("/api/v1/requests/{id}/votes"), &person.token, body).await
}

async fn integration(app: &TestApp, c: &Cast) -> Integration {
    app.store.find_integration(c.integration.id).await.unwrap().expect("stored")
}

async fn identity_active(app: &TestApp, c: &Cast) -> bool {
    let identity = app.store.find_identity(c.integration.identity_id).await.unwrap().expect("stored");
    identity.status.is_active()
}

async fn whoami(app: &TestApp, c: &Cast) -> u16 {
    app.get("/api/v1/whoami", &c.tool_token).await.status.as_u16()
}

/// The audit entries about the integration, oldest first: (action, reason).
async fn integration_entries(app: &TestApp, c: &Cast) -> Vec<(String, String)> {
    let resource = format!("integration:{}", c.integration.id);
    let entries = app.store.list_audit(0, 10_000).await.unwrap();
    entries
        .into_iter()
        .filter(|entry| entry.record.resource == resource)
        .map(|entry| (entry.record.action.clone(), entry.record.reason.clone()))
        .collect()
}

engine_test!(onboarding_needs_procurement_and_engineering_before_the_identity_works, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
        let c = cast(&app).await;
        assert!(!identity_active(&app, &c).await, "the store suspends the identity at registration");
        assert_eq!(whoami(&app, &c).await, 401, "a suspended identity's token is refused");

        let id = open(&app, &c).await;
        let linked = integration(&app, &c).await;
        assert_eq!(linked.onboarding_request, Some(id));
        let request = show(&app, id).await;
        assert_eq!(request["rule"], ONBOARDING_RULE_ID, "{request}");
        assert_eq!(request["state"], "pending");
        assert!(request["reason"].as_str().unwrap().contains("Acme Scan"), "{request}");

        // Procurement alone is not enough.
        let first = vote(&app, &c.pia, id, "approve").await.assert_status(201).clone();
        assert_eq!(first["state"], "pending", "{first}");
        assert_eq!(integration(&app, &c).await.state, IntegrationState::PendingApproval);
        assert!(!identity_active(&app, &c).await);
        // A second from procurement is not engineering's.
        let second = vote(&app, &c.pat, id, "approve").await.assert_status(201).clone();
        assert_eq!(second["state"], "pending", "{second}");
        assert_eq!(whoami(&app, &c).await, 401);

        let decided = vote(&app, &c.eli, id, "approve").await.assert_status(201).clone();
        assert_eq!(decided["state"], "approved", "{decided}");
        let active = integration(&app, &c).await;
        assert_eq!(active.state, IntegrationState::Active);
        assert!(identity_active(&app, &c).await);
        assert_eq!(whoami(&app, &c).await, 200, "the tool's token works again");
        assert_eq!(show(&app, id).await["state"], "consumed", "the approval did its one job");
        let entries = integration_entries(&app, &c).await;
        assert_eq!(entries.last().map(|(action, _)| action.as_str()), Some("integration.activate"), "{entries:?}");
    }
));

engine_test!(the_requester_may_not_approve_the_onboarding_they_asked_for, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
        let c = cast(&app).await;
        let id = open(&app, &c).await;
        let refused = vote(&app, &c.reg, id, "approve").await;
        assert_eq!(refused.status.as_u16(), 403, "{}", refused.text);
        assert!(refused.text.contains("requester"), "{}", refused.text);
        assert_eq!(show(&app, id).await["state"], "pending");
        assert_eq!(integration(&app, &c).await.state, IntegrationState::PendingApproval);
        assert!(!identity_active(&app, &c).await);
    }
));

engine_test!(a_denied_onboarding_retires_the_integration_and_keeps_its_identity_suspended, |engine| {
    with_database(engine, |db| async move {
        let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
        let c = cast(&app).await;
        let id = open(&app, &c).await;
        vote(&app, &c.pia, id, "approve").await.assert_status(201);
        let denied = vote(&app, &c.eli, id, "deny").await.assert_status(201).clone();
        assert_eq!(denied["state"], "denied", "{denied}");
        assert_eq!(integration(&app, &c).await.state, IntegrationState::Retired);
        assert!(!identity_active(&app, &c).await);
        assert_eq!(whoami(&app, &c).await, 401);
        let entries = integration_entries(&app, &c).await;
        let (action, reason) = entries.last().cloned().unwrap();
        assert_eq!(action, "integration.suspend");
        assert_eq!(reason, format!("onboarding request {id} denied"));
    })
});

engine_test!(an_onboarding_left_to_expire_retires_the_integration, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
    let c = cast(&app).await;
    let id = open(&app, &c).await;
    vote(&app, &c.pia, id, "approve").await.assert_status(201);

    app.clock.advance(Duration::days(14) - Duration::seconds(1));
    run_once(&app.state).await.expect("the scheduler runs");
    assert_eq!(integration(&app, &c).await.state, IntegrationState::PendingApproval, "not before its instant");

    app.clock.advance(Duration::seconds(1));
    let report = run_once(&app.state).await.expect("the scheduler runs");
    assert_eq!(report.expired, vec![id]);
    let expired = app.store.find_approval_request(id).await.unwrap().expect("stored");
    assert_eq!(expired.state, gatehouse_domain::access::RequestState::Expired);
    assert_eq!(integration(&app, &c).await.state, IntegrationState::Retired);
    assert!(!identity_active(&app, &c).await);
    let entries = integration_entries(&app, &c).await;
    assert_eq!(entries.last().map(|(_, reason)| reason.clone()), Some(format!("onboarding request {id} expired")));
}));

engine_test!(a_cancelled_onboarding_retires_the_integration, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
    let c = cast(&app).await;
    let id = open(&app, &c).await;
    let cancelled = app.delete(&format!("/api/v1/requests/{id}"), &c.reg.token).await.assert_status(200).clone();
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    assert_eq!(integration(&app, &c).await.state, IntegrationState::Retired);
    assert!(!identity_active(&app, &c).await);
    // Settled once: a later look finds nothing waiting.
    let request = app.store.find_approval_request(id).await.unwrap().expect("stored");
    onboarding::settle(&app.state, &request).await.expect("settles");
    let suspensions = integration_entries(&app, &c).await.into_iter().filter(|(a, _)| a == "integration.suspend");
    assert_eq!(suspensions.count(), 1);
}));
