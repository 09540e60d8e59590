//! Issue 27, vendors and evidence over HTTP: records with their status
//! moves, evidence by multipart and by JSON (content-addressed, states read
//! at the test clock), bad input refused with nothing changed, who may read
//! and write, the audit entries, and the report.

use axum::body::Body;
use axum::http::{Method, Request, header};
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::{IdentityId, IntegrationId, VendorId};
use gatehouse_domain::vendor::{Integration, IntegrationState, declared_from_json};
use gatehouse_mfa::TotpSecret;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, test_settings, with_app, with_database};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::macros::datetime;

const BOUNDARY: &str = "gatehouse-test-boundary";

fn vendor_body(name: &str, tier: &str) -> Value {
    json!({
        "name": name,
        "tier": tier,
        "contract": {"start": "2026-01-01", "renewal": "2026-12-01", "end": "2028-12-31"},
        "data_access": "source",
        "logging": {"what": "API calls with caller and repository", "retention_days": 365, "tamper_evident": true},
    })
}

/// A SOC 2 report whose period ends 2025-07-31: valid until 2026-07-31,
/// due soon from 2026-07-01 (the test clock starts at 2026-06-01).
fn soc2() -> Value {
    json!({"type": "II", "opinion": "unqualified", "period_start": "2024-08-01", "period_end": "2025-07-31",
           "trust_services": ["security", "availability"]})
}

fn dpa() -> Value {
    json!({"signed_on": "2026-01-15"})
}

async fn create_vendor(app: &TestApp, name: &str, tier: &str) -> String {
    let created = app.post("/api/v1/vendors", &app.admin_token, vendor_body(name, tier)).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> TestResponse {
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

fn multipart(metadata: &Value, filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload_multipart(app: &TestApp, token: &str, vendor: &str, metadata: Value, content: &[u8]) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/vendors/{vendor}/evidence"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(multipart(&metadata, "report.pdf", content)))
        .unwrap();
    app.send(request).await
}

async fn upload_json(
    app: &TestApp,
    token: &str,
    vendor: &str,
    kind: &str,
    metadata: Value,
    content: &[u8],
) -> TestResponse {
    use base64::Engine as _;
    let body = json!({"kind": kind, "metadata": metadata,
        "content_base64": base64::engine::general_purpose::STANDARD.encode(content), "filename": "dpa.pdf"});
    app.post(&format!("/api/v1/vendors/{vendor}/evidence"), token, body).await
}

/// The body of a GET, byte for byte.
async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap().to_bytes().to_vec()
}

/// The audit entries appended since `start`.
async fn audit_since(app: &TestApp, start: u64) -> Vec<AuditRecord> {
    app.store.list_audit(start, 500).await.unwrap().into_iter().map(|entry| entry.record).collect()
}

fn requirement<'a>(vendor: &'a Value, kind: &str) -> &'a Value {
    vendor["evidence"].as_array().unwrap().iter().find(|item| item["kind"] == kind).unwrap()
}

async fn person_with_role(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let id = app.create_human(name, &format!("{name}@example.com")).await;
    if !role.is_empty() {
        let body = json!({"identity_id": id, "role": role, "scope": "*"});
        app.post("/api/v1/grants", &app.admin_token, body).await.assert_status(201);
    }
    let token = app.create_token(&id, 30 * 86_400).await;
    (id, token)
}

/// An active integration of `vendor` for a new service identity, written
/// through the store (registering one is another endpoint's work).
async fn integration_of(app: &TestApp, vendor: &str, name: &str) -> Integration {
    let service: IdentityId = app.create_service(name).await.parse().unwrap();
    let integration = Integration {
        id: IntegrationId::new(),
        vendor_id: vendor.parse::<VendorId>().unwrap(),
        identity_id: service,
        declared: declared_from_json(&json!({"method": "github_app", "permissions": ["contents:read"],
            "token_ttl": "1h", "webhook_signature": true}))
        .unwrap(),
        state: IntegrationState::Active,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: app.admin_id,
        registered_at: app.clock.now(),
    };
    let record = AuditRecord::new(app.clock.now(), Actor::System, "integration.register", "test");
    app.store.create_integration(integration, vec![record]).await.unwrap()
}

engine_test!(vendors_round_trip_and_status_moves_follow_the_rules, |engine| with_app(engine, |app| async move {
    let start = app.audit_size().await;
    let (owner, _) = person_with_role(&app, "olga", "").await;
    let mut body = vendor_body("Acme Scan", "high");
    body["business_owner"] = json!(owner);
    let created = app.post("/api/v1/vendors", &app.admin_token, body).await;
    let vendor = created.assert_status(201).clone();
    let id = vendor["id"].as_str().unwrap().to_owned();
    assert_eq!(vendor["status"], "prospect");
    assert_eq!(vendor["business_owner"], owner.as_str());
    assert_eq!(vendor["compliant"], false);
    assert_eq!(vendor["on_lapse"], "deny_gate");
    let kinds: Vec<&str> = vendor["evidence"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["soc2", "dpa"], "the high tier's requirements");
    assert_eq!(requirement(&vendor, "soc2")["state"], "missing");
    assert!(vendor["reasons"].as_array().unwrap().iter().any(|r| r == "Acme Scan is a prospect, not yet approved"));

    let listed = app.get("/api/v1/vendors", &app.admin_token).await;
    assert_eq!(listed.assert_status(200)["items"][0]["id"], id.as_str());
    let shown = app.get(&format!("/api/v1/vendors/{id}"), &app.admin_token).await;
    assert_eq!(shown.assert_status(200)["name"], "Acme Scan");

    // The same name twice is a conflict.
    app.post("/api/v1/vendors", &app.admin_token, vendor_body("acme scan", "low")).await.assert_problem(409);

    let path = format!("/api/v1/vendors/{id}");
    let approved = patch(&app, &app.admin_token, &path, json!({"status": "approved", "tier": "critical"})).await;
    assert_eq!(approved.assert_status(200)["status"], "approved");
    assert_eq!(approved.body["tier"], "critical");
    let back = patch(&app, &app.admin_token, &path, json!({"status": "prospect"})).await;
    assert!(back.assert_problem(409).contains("cannot go from `approved` to `prospect`"), "{}", back.text);
    let same = patch(&app, &app.admin_token, &path, json!({"status": "approved"})).await;
    assert!(same.assert_problem(409).contains("already `approved`"), "{}", same.text);
    let suspended = patch(&app, &app.admin_token, &path, json!({"status": "suspended"})).await;
    assert_eq!(suspended.assert_status(200)["status"], "suspended");

    let integration = integration_of(&app, &id, "acme-scan-bot").await;
    let offboarded = app
        .post(&format!("/api/v1/vendors/{id}/offboard"), &app.admin_token, json!({"reason": "contract ended"}))
        .await;
    assert_eq!(offboarded.assert_status(200)["status"], "offboarded");
    assert_eq!(offboarded.body["integrations"][0], integration.id.to_string());
    let retired = app.store.find_integration(integration.id).await.unwrap().unwrap();
    assert_eq!(retired.state, IntegrationState::Retired);
    let bot = app.store.find_identity(integration.identity_id).await.unwrap().unwrap();
    assert_eq!(bot.status.as_str(), "suspended", "its identity no longer acts");

    let again = app.post(&format!("/api/v1/vendors/{id}/offboard"), &app.admin_token, json!({"reason": "x"})).await;
    assert!(again.assert_problem(409).contains("stays offboarded"), "{}", again.text);
    let revived = patch(&app, &app.admin_token, &path, json!({"status": "approved"})).await;
    assert!(revived.assert_problem(409).contains("final"), "{}", revived.text);

    let entries = audit_since(&app, start).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("vendor.")).collect();
    assert_eq!(actions, ["vendor.create", "vendor.update", "vendor.update", "vendor.offboard"]);
    let create = entries.iter().find(|e| e.action == "vendor.create").unwrap();
    assert_eq!(create.details["tier"], "high");
    assert_eq!(create.details["contract"]["end"], "2028-12-31");
    let update = entries.iter().find(|e| e.action == "vendor.update").unwrap();
    assert_eq!(update.details["changes"], json!(["status", "tier"]));
    assert_eq!((update.details["from"].as_str(), update.details["to"].as_str()), (Some("prospect"), Some("approved")));
    let offboard = entries.iter().find(|e| e.action == "vendor.offboard").unwrap();
    assert_eq!(offboard.details["integrations"], json!([integration.id.to_string()]));
    assert!(entries.iter().any(|e| e.action == "integration.suspend" && e.details["retired"] == true));
}));

engine_test!(owners_are_active_people, |engine| with_app(engine, |app| async move {
    let service = app.create_service("not-a-person").await;
    let mut body = vendor_body("Acme Scan", "low");
    body["security_owner"] = json!(service);
    let refused = app.post("/api/v1/vendors", &app.admin_token, body.clone()).await;
    assert!(refused.assert_problem(422).contains("security_owner"), "{}", refused.text);
    body["security_owner"] = json!(IdentityId::new().to_string());
    app.post("/api/v1/vendors", &app.admin_token, body).await.assert_problem(404);
    let listed = app.get("/api/v1/vendors", &app.admin_token).await;
    assert_eq!(listed.assert_status(200)["items"], json!([]));
}));

engine_test!(evidence_is_content_addressed_and_its_state_follows_the_clock, |engine| with_app(
    engine,
    |app| async move {
        let id = create_vendor(&app, "Acme Scan", "high").await;
        let path = format!("/api/v1/vendors/{id}");
        patch(&app, &app.admin_token, &path, json!({"status": "approved"})).await.assert_status(200);
        // The clock moves two months: past the setup token's week.
        let token = app.create_token(&app.admin_id.to_string(), 90 * 86_400).await;
        let start = app.audit_size().await;

        let report_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let mut metadata = soc2();
        metadata["kind"] = json!("soc2");
        let added = upload_multipart(&app, &token, &id, metadata, &report_bytes).await;
        let soc2_item = added.assert_status(201).clone();
        assert_eq!(soc2_item["digest"], hex::encode(Sha256::digest(&report_bytes)));
        assert_eq!(soc2_item["size"], report_bytes.len());
        assert_eq!(soc2_item["filename"], "report.pdf");
        assert_eq!(soc2_item["state"], "valid");
        assert_eq!(soc2_item["valid_until"], "2026-07-31");
        assert_eq!(soc2_item["metadata"]["trust_services"], json!(["security", "availability"]));

        let dpa_bytes = b"%PDF-1.7 signed data processing agreement".to_vec();
        let added = upload_json(&app, &token, &id, "dpa", dpa(), &dpa_bytes).await;
        let dpa_item = added.assert_status(201).clone();
        assert_eq!(dpa_item["digest"], hex::encode(Sha256::digest(&dpa_bytes)));
        assert_eq!(dpa_item["valid_until"], "2029-01-01", "a DPA counts while the contract does");

        let soc2_id = soc2_item["id"].as_str().unwrap();
        let content = app.get(&format!("{path}/evidence/{soc2_id}/content"), &token).await;
        assert_eq!(content.status, 200);
        assert_eq!(content.headers[header::CONTENT_TYPE], "application/octet-stream");
        assert_eq!(content.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(content.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"report.pdf\"");
        let downloaded = download(&app, &token, &format!("{path}/evidence/{soc2_id}/content")).await;
        assert_eq!(downloaded, report_bytes, "the bytes as uploaded");
        let raw = app.store.evidence_content(&soc2_item["digest"].as_str().unwrap().parse().unwrap()).await.unwrap();
        assert_eq!(raw.as_deref(), Some(&report_bytes[..]), "the bytes as uploaded");
        let other = create_vendor(&app, "Other", "low").await;
        app.get(&format!("/api/v1/vendors/{other}/evidence/{soc2_id}/content"), &token).await.assert_problem(404);

        let entries = audit_since(&app, start).await;
        let added: Vec<&AuditRecord> = entries.iter().filter(|e| e.action == "evidence.add").collect();
        assert_eq!(added.len(), 2);
        assert_eq!(added[0].details["digest"], soc2_item["digest"]);
        assert_eq!(added[0].details["valid_until"], "2026-07-31");
        assert_eq!(added[1].details["kind"], "dpa");

        let vendor = app.get(&path, &token).await.assert_status(200).clone();
        assert_eq!(vendor["compliant"], true, "{vendor}");
        assert_eq!(requirement(&vendor, "soc2")["state"], "valid");
        assert_eq!(requirement(&vendor, "soc2")["evidence_id"], soc2_id);
        assert_eq!(vendor["next_change"], "2026-07-01T00:00:00.000Z", "due soon 30 days before");

        // 30 days before the end: due soon, still passing.
        app.clock.set(datetime!(2026-07-01 00:00:00 UTC));
        let vendor = app.get(&path, &token).await.assert_status(200).clone();
        assert_eq!(requirement(&vendor, "soc2")["state"], "due_soon");
        assert_eq!(vendor["compliant"], true);
        let listed = app.get(&format!("{path}/evidence"), &token).await.assert_status(200).clone();
        assert_eq!(listed["items"][0]["state"], "due_soon");
        assert_eq!(listed["items"][1]["state"], "valid");

        app.clock.set(datetime!(2026-07-30 23:59:59 UTC));
        let vendor = app.get(&path, &token).await.assert_status(200).clone();
        assert_eq!(requirement(&vendor, "soc2")["state"], "due_soon", "the last day still counts");

        app.clock.set(datetime!(2026-07-31 00:00:00 UTC));
        let vendor = app.get(&path, &token).await.assert_status(200).clone();
        assert_eq!(requirement(&vendor, "soc2")["state"], "expired");
        assert_eq!(vendor["compliant"], false);
        assert_eq!(vendor["reasons"], json!(["SOC 2 report for Acme Scan expired 2026-07-31"]));
    }
));

engine_test!(bad_evidence_is_refused_and_changes_nothing, |engine| with_app(engine, |app| async move {
    let id = create_vendor(&app, "Acme Scan", "high").await;
    let before = app.audit_size().await;
    let token = app.admin_token.clone();
    let over = vec![7u8; 20 * 1024 * 1024 + 1];
    let mut with_kind = soc2();
    with_kind["kind"] = json!("soc2");
    let refused = upload_multipart(&app, &token, &id, with_kind.clone(), &over).await;
    assert!(refused.assert_problem(413).contains("over the limit"), "{}", refused.text);

    let mut period = soc2();
    period["period_end"] = json!("2024-01-01");
    let mut bad_date = soc2();
    bad_date["period_start"] = json!("2025-02-30");
    let mut unknown_field = dpa();
    unknown_field["notes"] = json!("x");
    let cases: Vec<(&str, Value, &[u8], u16, &str)> = vec![
        ("spreadsheet", dpa(), b"x", 422, "`spreadsheet` is not a known evidence kind"),
        ("soc2", bad_date, b"x", 422, "`period_start`"),
        ("soc2", period, b"x", 422, "the period ends (2024-01-01) before it starts"),
        ("dpa", unknown_field, b"x", 422, "unknown field `notes`"),
        ("dpa", json!({"signed_on": 20260115}), b"x", 422, "`signed_on`"),
        ("dpa", json!({"signed_on": "2027-01-01"}), b"x", 422, "after today"),
        ("dpa", dpa(), b"", 422, "the file is empty"),
    ];
    for (kind, metadata, content, status, needle) in cases {
        let refused = upload_json(&app, &token, &id, kind, metadata.clone(), content).await;
        assert!(refused.assert_problem(status).contains(needle), "{kind} {metadata}: {}", refused.text);
    }
    let path = format!("/api/v1/vendors/{id}/evidence");
    let malformed = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(&path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"kind\": \"dpa\", "))
                .unwrap(),
        )
        .await;
    malformed.assert_problem(400);
    let wrong_types = app.post(&path, &token, json!({"kind": 7, "metadata": {}, "content_base64": "eA=="})).await;
    wrong_types.assert_problem(422);
    let extra =
        app.post(&path, &token, json!({"kind": "dpa", "metadata": dpa(), "content_base64": "eA==", "x": 1})).await;
    assert!(extra.assert_problem(422).contains("unknown field"), "{}", extra.text);
    let not_base64 = app.post(&path, &token, json!({"kind": "dpa", "metadata": dpa(), "content_base64": "***"})).await;
    not_base64.assert_problem(422);
    let unknown = VendorId::new();
    let refused = upload_json(&app, &token, &unknown.to_string(), "dpa", dpa(), b"x").await;
    refused.assert_problem(404);
    let mut no_kind = dpa();
    no_kind["signed_on"] = json!("2026-01-15");
    let refused = upload_multipart(&app, &token, &id, no_kind, b"x").await;
    assert!(refused.assert_problem(422).contains("needs `kind`"), "{}", refused.text);

    assert_eq!(app.audit_size().await, before, "no refusal wrote anything");
    let listed = app.get(&path, &token).await;
    assert_eq!(listed.assert_status(200)["items"], json!([]));
}));

engine_test!(bad_vendor_input_is_refused_and_changes_nothing, |engine| with_app(engine, |app| async move {
    let before = app.audit_size().await;
    let token = app.admin_token.clone();
    let mut cases = Vec::new();
    let mut body = vendor_body("Acme", "platinum");
    cases.push((body.clone(), 422, "`platinum` is not a known vendor tier"));
    body = vendor_body("Acme", "high");
    body["contract"]["end"] = json!("31/12/2028");
    cases.push((body.clone(), 422, "`contract.end`"));
    body = vendor_body("Acme", "high");
    body["contract"]["end"] = json!("2025-12-31");
    cases.push((body.clone(), 422, "start <= renewal <= end"));
    body = vendor_body("Acme", "high");
    body["color"] = json!("blue");
    cases.push((body.clone(), 422, "unknown field"));
    body = vendor_body("Acme", "high");
    body["logging"]["retention_days"] = json!("a year");
    cases.push((body.clone(), 422, "retention_days"));
    body = vendor_body("", "high");
    cases.push((body, 422, "vendor name"));
    for (body, status, needle) in cases {
        let refused = app.post("/api/v1/vendors", &token, body.clone()).await;
        assert!(refused.assert_problem(status).contains(needle), "{body}: {}", refused.text);
    }
    let id = create_vendor(&app, "Acme", "high").await;
    let before_patch = app.audit_size().await;
    assert_eq!(before_patch, before + 1);
    let path = format!("/api/v1/vendors/{id}");
    patch(&app, &token, &path, json!({"status": "gone"})).await.assert_problem(422);
    patch(&app, &token, &path, json!({"status": "offboarded"})).await.assert_problem(422);
    patch(&app, &token, &path, json!({})).await.assert_problem(422);
    patch(&app, &token, &path, json!({"tier": "high"})).await.assert_problem(422);
    patch(&app, &token, &format!("/api/v1/vendors/{}", VendorId::new()), json!({"tier": "low"}))
        .await
        .assert_problem(404);
    app.get("/api/v1/vendors/not-an-id", &token).await.assert_problem(400);
    app.post(&format!("{path}/offboard"), &token, json!({"reason": "  "})).await.assert_problem(422);
    assert_eq!(app.audit_size().await, before_patch);
    assert_eq!(app.get(&path, &token).await.assert_status(200)["status"], "prospect");
}));

engine_test!(only_vendor_managers_write_and_auditors_read, |engine| with_app(engine, |app| async move {
    let id = create_vendor(&app, "Acme Scan", "high").await;
    let (_, developer) = person_with_role(&app, "dev", "developer").await;
    let (_, auditor) = person_with_role(&app, "aud", "auditor").await;
    let (_, manager) = person_with_role(&app, "vm", "vendor-manager").await;
    let path = format!("/api/v1/vendors/{id}");

    for token in [&developer, &auditor] {
        app.post("/api/v1/vendors", token, vendor_body("Evil", "low")).await.assert_problem(403);
        patch(&app, token, &path, json!({"status": "approved"})).await.assert_problem(403);
        app.post(&format!("{path}/offboard"), token, json!({"reason": "x"})).await.assert_problem(403);
        upload_json(&app, token, &id, "dpa", dpa(), b"x").await.assert_problem(403);
    }
    for read in
        ["/api/v1/vendors".to_owned(), path.clone(), format!("{path}/evidence"), "/api/v1/vendors/report".into()]
    {
        app.get(&read, &developer).await.assert_problem(403);
        app.get(&read, &auditor).await.assert_status(200);
        app.get(&read, &manager).await.assert_status(200);
    }
    let item = upload_json(&app, &manager, &id, "dpa", dpa(), b"signed").await.assert_status(201).clone();
    let content = format!("{path}/evidence/{}/content", item["id"].as_str().unwrap());
    app.get(&content, &developer).await.assert_problem(403);
    assert_eq!(app.get(&content, &auditor).await.text, "signed");
    patch(&app, &manager, &path, json!({"status": "approved"})).await.assert_status(200);
    let denials = audit_since(&app, 0).await;
    assert!(denials.iter().any(|e| e.action == "vendor.manage" && e.outcome.as_str() == "denied"));
    assert_eq!(app.get(&path, &app.admin_token).await.body["status"], "approved");
}));

engine_test!(writes_need_a_fresh_second_factor_under_step_up, |engine| with_database(engine, |db| async move {
    let settings = Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..test_settings() };
    let app = TestApp::with_settings(&db, settings).await;
    let started = app.post("/api/v1/mfa/totp", &app.admin_token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/totp/confirm", &app.admin_token, json!({"code": code})).await.assert_status(200);
    let (_, manager) = person_with_role(&app, "vm", "vendor-manager").await;
    let refused = app.post("/api/v1/vendors", &manager, vendor_body("Acme Scan", "high")).await;
    refused.assert_problem(403);
    assert!(refused.body["type"].as_str().unwrap().ends_with("mfa-required"), "{}", refused.text);
    app.get("/api/v1/vendors", &manager).await.assert_status(200);
    let created = app.post("/api/v1/vendors", &app.admin_token, vendor_body("Acme Scan", "high")).await;
    created.assert_status(201);
}));

engine_test!(the_report_names_states_next_expiries_and_integrations_at_risk, |engine| with_app(
    engine,
    |app| async move {
        // The clock moves a month: past the setup token's week.
        let token = app.create_token(&app.admin_id.to_string(), 90 * 86_400).await;
        // Good: approved, SOC 2 and DPA valid.
        let good = create_vendor(&app, "Good Tool", "high").await;
        upload_json(&app, &token, &good, "soc2", soc2(), b"soc2").await.assert_status(201);
        upload_json(&app, &token, &good, "dpa", dpa(), b"dpa").await.assert_status(201);
        patch(&app, &token, &format!("/api/v1/vendors/{good}"), json!({"status": "approved"})).await.assert_status(200);
        // Soon: approved, its questionnaire due soon (answered 2025-06-15,
        // so valid until 2026-06-15).
        let soon = create_vendor(&app, "Soon Tool", "low").await;
        let questionnaire = json!({"questionnaire": "sig_lite", "answered_on": "2025-06-15"});
        upload_json(&app, &token, &soon, "questionnaire", questionnaire, b"q").await.assert_status(201);
        patch(&app, &token, &format!("/api/v1/vendors/{soon}"), json!({"status": "approved"})).await.assert_status(200);
        // Bare: a prospect without evidence.
        let bare = create_vendor(&app, "Bare Tool", "medium").await;
        integration_of(&app, &good, "good-bot").await;
        let soon_bot = integration_of(&app, &soon, "soon-bot").await;
        let bare_bot = integration_of(&app, &bare, "bare-bot").await;

        let report = app.get("/api/v1/vendors/report", &token).await.assert_status(200).clone();
        assert_eq!(report["generated_at"], "2026-06-01T09:00:00.000Z");
        let row =
            |name: &str| report["vendors"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap().clone();
        let good_row = row("Good Tool");
        assert_eq!(good_row["compliant"], true);
        assert_eq!(good_row["next_expiry"], "2026-07-31");
        assert_eq!(
            good_row["evidence"],
            json!([
                {"kind": "soc2", "state": "valid", "valid_until": "2026-07-31"},
                {"kind": "dpa", "state": "valid", "valid_until": "2029-01-01"},
            ])
        );
        assert_eq!(good_row["integrations_at_risk"], json!([]));

        let soon_row = row("Soon Tool");
        assert_eq!(soon_row["compliant"], true);
        assert_eq!(soon_row["next_expiry"], "2026-06-15");
        assert_eq!(soon_row["evidence"][0]["state"], "due_soon");
        let at_risk = &soon_row["integrations_at_risk"];
        assert_eq!(at_risk[0]["id"], soon_bot.id.to_string());
        assert_eq!(at_risk[0]["in_force"], true);
        assert_eq!(at_risk[0]["reasons"], json!(["security questionnaire for Soon Tool expires 2026-06-15"]));

        let bare_row = row("Bare Tool");
        assert_eq!(bare_row["compliant"], false);
        assert_eq!(bare_row["next_expiry"], Value::Null);
        assert_eq!(bare_row["integrations_at_risk"][0]["identity_id"], bare_bot.identity_id.to_string());
        assert_eq!(bare_row["integrations_at_risk"][0]["in_force"], false);
        assert!(
            bare_row["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "Data processing agreement for Bare Tool is missing"),
            "{bare_row}"
        );

        // A month on, the questionnaire has expired.
        app.clock.set(datetime!(2026-07-01 09:00:00 UTC));
        let report = app.get("/api/v1/vendors/report", &token).await.assert_status(200).clone();
        let soon_row = report["vendors"].as_array().unwrap().iter().find(|v| v["name"] == "Soon Tool").unwrap().clone();
        assert_eq!(soon_row["compliant"], false);
        assert_eq!(soon_row["evidence"][0]["state"], "expired");
        assert_eq!(soon_row["integrations_at_risk"][0]["in_force"], false);
    }
));
