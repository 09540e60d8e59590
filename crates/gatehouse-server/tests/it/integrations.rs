//! Integrations (issue 27): registering an outside tool as one vendor's
//! service identity, its check against the API access standard, and the
//! exceptions that waive a rule, asked by one person and granted by another.

use std::str::FromStr;

use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::{IntegrationId, VendorId};
use gatehouse_domain::vendor::{Contract, DataAccess, IntegrationState, Vendor, VendorStatus, VendorTier};
use gatehouse_testkit::{TestApp, engine_test, with_app};
use serde_json::{Value, json};
use time::Duration;
use time::macros::date;

/// A vendor stored directly (the vendors API is another change's).
async fn vendor(app: &TestApp, name: &str, status: VendorStatus) -> String {
    let vendor = Vendor {
        id: VendorId::new(),
        name: name.into(),
        tier: VendorTier::High,
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2026 - 01 - 01), renewal: date!(2026 - 12 - 01), end: date!(2027 - 06 - 01) },
        data_access: DataAccess::Source,
        logging: None,
        status,
    };
    let record = AuditRecord::new(app.clock.now(), Actor::System, "vendor.create", format!("vendor:{}", vendor.id));
    app.store.create_vendor(vendor, record).await.unwrap().id.to_string()
}

fn github_app(vendor: &str, identity: &str) -> Value {
    json!({
        "vendor_id": vendor,
        "identity_id": identity,
        "method": "github_app",
        "permissions": ["contents:read", "checks:write"],
        "repositories": "selected",
        "repository_names": ["acme/web"],
        "token_ttl": "1h",
        "webhook_signature": true,
    })
}

fn classic_pat(vendor: &str, identity: &str) -> Value {
    json!({
        "vendor_id": vendor,
        "identity_id": identity,
        "method": "classic_pat",
        "permissions": ["contents:write", "administration:write"],
        "repositories": "all",
    })
}

/// Registers `body` as the admin and returns the integration's id.
async fn register(app: &TestApp, body: Value) -> String {
    let created = app.post("/api/v1/integrations", &app.admin_token, body).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

/// Moves an integration to active with its identity, as an approved
/// onboarding would.
async fn activate(app: &TestApp, id: &str) {
    let id = IntegrationId::from_str(id).unwrap();
    let integration = app.store.find_integration(id).await.unwrap().unwrap();
    let mut change = integration.unchanged();
    change.state = IntegrationState::Active;
    change.identity_active = Some(true);
    app.store.update_integration(id, integration.state, integration.noted_in_force, change, vec![]).await.unwrap();
}

/// A person holding `role` over everything, and a token of theirs (made
/// before the grant: nobody mints tokens for another admin).
async fn person_with(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let id = app.create_human(name, &format!("{}@example.com", name.to_lowercase())).await;
    let token = app.create_token(&id, 60 * 86_400).await;
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": id, "role": role, "scope": "*"}))
        .await
        .assert_status(201);
    (id, token)
}

fn finding<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"].as_array().unwrap().iter().find(|finding| finding["rule"] == rule).unwrap()
}

engine_test!(registered_integrations_are_listed_shown_and_their_identity_suspended, |engine| with_app(
    engine,
    |app| async move {
        let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
        let bot = app.create_service("acme-scan").await;
        let before = app.audit_size().await;
        let created = app.post("/api/v1/integrations", &app.admin_token, github_app(&acme, &bot)).await;
        let body = created.assert_status(201).clone();
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(body["state"], "pending_approval");
        assert_eq!(body["vendor"], "Acme Scan");
        assert_eq!(body["vendor_id"], acme.as_str());
        assert_eq!(body["identity_id"], bot.as_str());
        assert_eq!(body["method"], "github_app");
        assert_eq!(body["permissions"], json!(["contents:read", "checks:write"]));
        assert_eq!(body["repositories"], "selected");
        assert_eq!(body["repository_names"], json!(["acme/web"]));
        assert_eq!(body["token_ttl"], "1h");
        assert_eq!(body["webhook_signature"], true);
        assert_eq!(body["on_lapse"], "deny_gate");
        assert_eq!(body["registered_by"], app.admin_id.to_string());
        assert_eq!(body["in_force"], false);
        let reasons = body["reasons"].to_string();
        assert!(reasons.contains("not approved yet"), "{reasons}");

        let identity = app.get(&format!("/api/v1/identities/{bot}"), &app.admin_token).await;
        assert_eq!(identity.assert_status(200)["status"], "suspended", "suspended until onboarding");

        let entries = app.store.list_audit(before, 10).await.unwrap();
        let register = entries.iter().find(|entry| entry.record.action == "integration.register").unwrap();
        assert_eq!(register.record.details["integration_id"], id.as_str());
        assert_eq!(register.record.details["method"], "github_app");

        let listed = app.get("/api/v1/integrations", &app.admin_token).await;
        assert_eq!(listed.assert_status(200)["items"][0]["id"], id.as_str());
        let other = vendor(&app, "Beta Deploy", VendorStatus::Approved).await;
        let filtered = app.get(&format!("/api/v1/integrations?vendor_id={other}"), &app.admin_token).await;
        assert_eq!(filtered.assert_status(200)["items"], json!([]));
        let shown = app.get(&format!("/api/v1/integrations/{id}"), &app.admin_token).await;
        assert_eq!(shown.assert_status(200)["identity_id"], bot.as_str());

        // An auditor reads, but does not write.
        let (_, auditor) = person_with(&app, "Audrey", "auditor").await;
        app.get("/api/v1/integrations", &auditor).await.assert_status(200);
        app.get(&format!("/api/v1/integrations/{id}"), &auditor).await.assert_status(200);
    }
));

engine_test!(bad_registrations_are_refused_and_leave_nothing, |engine| with_app(engine, |app| async move {
    let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
    let gone = vendor(&app, "Gone Inc", VendorStatus::Offboarded).await;
    let bot = app.create_service("acme-scan").await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let unknown = "01a214a5-0000-7000-8000-000000000000";
    let before = app.audit_size().await;

    let mut unknown_method = github_app(&acme, &bot);
    unknown_method["method"] = json!("telepathy");
    let mut unknown_permission = github_app(&acme, &bot);
    unknown_permission["permissions"] = json!(["root"]);
    let cases = [
        (github_app(&acme, &ana), 422, "service identity"),
        (unknown_method, 422, "telepathy"),
        (unknown_permission, 422, "`root` is not a permission"),
        (github_app(unknown, &bot), 404, "vendor"),
        (github_app(&acme, unknown), 404, "identity"),
        (github_app(&gone, &bot), 409, "offboarded"),
        (github_app("not-an-id", &bot), 422, "vendor_id"),
    ];
    for (body, status, expected) in cases {
        let refused = app.post("/api/v1/integrations", &app.admin_token, body.clone()).await;
        let detail = refused.assert_problem(status);
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    assert_eq!(app.audit_size().await, before, "no refused registration is audited");
    assert_eq!(app.get("/api/v1/integrations", &app.admin_token).await.assert_status(200)["items"], json!([]));
    let identity = app.get(&format!("/api/v1/identities/{bot}"), &app.admin_token).await;
    assert_eq!(identity.assert_status(200)["status"], "active", "nothing suspended it");

    // One integration per identity.
    register(&app, github_app(&acme, &bot)).await;
    let size = app.audit_size().await;
    let twice = app.post("/api/v1/integrations", &app.admin_token, github_app(&acme, &bot)).await;
    twice.assert_problem(409);
    assert_eq!(app.audit_size().await, size);
}));

engine_test!(a_compliant_github_app_passes_every_rule, |engine| with_app(engine, |app| async move {
    let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
    let bot = app.create_service("acme-scan").await;
    let id = register(&app, github_app(&acme, &bot)).await;
    let before = app.audit_size().await;
    let checked = app.post(&format!("/api/v1/integrations/{id}/check"), &app.admin_token, json!({})).await;
    let report = checked.assert_status(200).clone();
    assert_eq!(report["compliant"], true, "{report}");
    assert_eq!(report["standard"], "default");
    assert_eq!(report["checked_at"], "2026-06-01T09:00:00.000Z");
    let findings = report["findings"].as_array().unwrap();
    let rules: Vec<&str> = findings.iter().map(|finding| finding["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, gatehouse_domain::vendor::RULES);
    assert!(findings.iter().all(|finding| finding["ok"] == true && finding["found"] == "ok"), "{report}");
    assert_eq!(finding(&report, "token_lifetime")["expected"], "at most 1h");

    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0].record;
    assert_eq!(entry.action, "integration.check");
    assert_eq!(entry.details["standard_digest"], report["standard_digest"]);
    assert!(!report["standard_digest"].as_str().unwrap().is_empty());
    assert_eq!(entry.details["compliant"], true);
    assert_eq!(entry.details["findings"], json!([]));
}));

engine_test!(a_classic_pat_with_all_repositories_and_admin_write_fails_the_check, |engine| with_app(
    engine,
    |app| async move {
        let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
        let bot = app.create_service("acme-scan").await;
        let id = register(&app, classic_pat(&acme, &bot)).await;
        let before = app.audit_size().await;
        let checked = app.post(&format!("/api/v1/integrations/{id}/check"), &app.admin_token, json!({})).await;
        let report = checked.assert_status(200).clone();
        assert_eq!(report["compliant"], false);
        let expected = [
            ("access_method", "one of github_app, oidc_workload, gatehouse_token", "classic_pat (forbidden)"),
            ("token_lifetime", "at most 1h", "never expires"),
            (
                "forbidden_permissions",
                "none of administration:write, secrets:write, workflows:write",
                "administration:write",
            ),
            ("repository_selection", "selected", "all"),
            ("webhook_signing", "signed", "unsigned"),
            ("secret_age", "rotated within 90d", "no rotation date"),
            ("ip_allowlist", "an IP allow-list for classic_pat", "none"),
        ];
        for (rule, want, found) in expected {
            let finding = finding(&report, rule);
            assert_eq!(finding["ok"], false, "{finding}");
            assert_eq!(finding["expected"], want, "{finding}");
            assert_eq!(finding["found"], found, "{finding}");
            assert!(finding.get("waived_by").is_none(), "{finding}");
        }
        assert_eq!(finding(&report, "refresh_token_lifetime")["ok"], true, "it has no refresh token");

        let entry = &app.store.list_audit(before, 10).await.unwrap()[0].record;
        assert_eq!(entry.action, "integration.check");
        assert_eq!(entry.details["compliant"], false);
        let audited = entry.details["findings"].as_array().unwrap();
        assert_eq!(audited.len(), 7, "the failing findings: {audited:?}");
        assert_eq!(audited[0]["rule"], "access_method");
        assert_eq!(audited[0]["found"], "classic_pat (forbidden)");
    }
));

engine_test!(lifetimes_of_tokens_gatehouse_issued_outrank_the_declaration, |engine| with_app(
    engine,
    |app| async move {
        let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
        let bot = app.create_service("acme-scan").await;
        let id = register(&app, github_app(&acme, &bot)).await;
        activate(&app, &id).await;
        app.create_token(&bot, 24 * 3600).await;
        let report = app.post(&format!("/api/v1/integrations/{id}/check"), &app.admin_token, json!({})).await;
        let report = report.assert_status(200).clone();
        assert_eq!(report["compliant"], false);
        let lifetime = finding(&report, "token_lifetime");
        assert_eq!(lifetime["ok"], false);
        assert_eq!(lifetime["found"], "1d (issued)", "the declared 1h is not believed: {lifetime}");
    }
));

engine_test!(an_exception_granted_by_another_person_waives_its_rule_until_it_expires, |engine| with_app(
    engine,
    |app| async move {
        let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
        let bot = app.create_service("acme-scan").await;
        let mut body = github_app(&acme, &bot);
        body["webhook_signature"] = json!(false);
        let id = register(&app, body).await;
        let (bea, bea_token) = person_with(&app, "Bea", "admin").await;
        let exceptions = format!("/api/v1/integrations/{id}/exceptions");

        let asked = app
            .post(
                &exceptions,
                &app.admin_token,
                json!({"rule": "webhook_signing", "reason": "vendor ships signing in Q3", "duration": "30d"}),
            )
            .await;
        let exception = asked.assert_status(201).clone();
        let eid = exception["id"].as_str().unwrap().to_owned();
        assert_eq!(exception["state"], "pending");
        assert_eq!(exception["expires_at"], "2026-07-01T09:00:00.000Z");
        assert_eq!(exception["requested_by"], app.admin_id.to_string());
        assert_eq!(exception["approved_by"], Value::Null);

        // Pending: nothing waived yet.
        let check = format!("/api/v1/integrations/{id}/check");
        let report = app.post(&check, &app.admin_token, json!({})).await.assert_status(200).clone();
        assert_eq!(report["compliant"], false);
        assert!(finding(&report, "webhook_signing").get("waived_by").is_none());

        // The requester may not grant it.
        let grant = format!("{exceptions}/{eid}/grant");
        let before = app.audit_size().await;
        let own = app.post(&grant, &app.admin_token, json!({})).await;
        assert!(own.assert_problem(403).contains("requested it"), "{}", own.text);
        let denied = &app.store.list_audit(before, 10).await.unwrap()[0].record;
        assert_eq!(denied.action, "exception.grant");
        assert_eq!(denied.outcome.as_str(), "denied");

        let granted = app.post(&grant, &bea_token, json!({})).await;
        let granted = granted.assert_status(200).clone();
        assert_eq!(granted["state"], "approved");
        assert_eq!(granted["approved_by"], bea.as_str());
        let again = app.post(&grant, &bea_token, json!({})).await;
        again.assert_problem(409);

        let report = app.post(&check, &app.admin_token, json!({})).await.assert_status(200).clone();
        assert_eq!(report["compliant"], true, "{report}");
        let waived = finding(&report, "webhook_signing");
        assert_eq!(waived["ok"], false);
        assert_eq!(waived["waived_by"], eid.as_str());

        let listed = app.get(&exceptions, &app.admin_token).await;
        assert_eq!(listed.assert_status(200)["items"][0]["state"], "approved");

        // Expired: the rule fails again (asked with Bea's token: the admin's lasts 7 days).
        app.clock.advance(Duration::days(31));
        let report = app.post(&check, &bea_token, json!({})).await.assert_status(200).clone();
        assert_eq!(report["compliant"], false);
        assert!(finding(&report, "webhook_signing").get("waived_by").is_none());
        let listed = app.get(&exceptions, &bea_token).await;
        assert_eq!(listed.assert_status(200)["items"][0]["state"], "expired");
    }
));

engine_test!(bad_exceptions_are_refused, |engine| with_app(engine, |app| async move {
    let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
    let bot = app.create_service("acme-scan").await;
    let id = register(&app, classic_pat(&acme, &bot)).await;
    let exceptions = format!("/api/v1/integrations/{id}/exceptions");
    let before = app.audit_size().await;
    let cases = [
        (json!({"rule": "ip_allowlist", "reason": "legacy", "duration": "91d"}), "at most 90 days"),
        (json!({"rule": "ip_allowlist", "reason": "legacy", "expires_at": "2026-12-01T00:00:00Z"}), "at most 90 days"),
        (json!({"rule": "be_nice", "reason": "legacy", "duration": "30d"}), "unknown rule `be_nice`"),
        (json!({"rule": "ip_allowlist", "reason": "  ", "duration": "30d"}), "needs a reason"),
        (json!({"rule": "ip_allowlist", "reason": "legacy"}), "exactly one"),
        (json!({"rule": "ip_allowlist", "reason": "legacy", "duration": "soon"}), "duration"),
    ];
    for (body, expected) in cases {
        let refused = app.post(&exceptions, &app.admin_token, body.clone()).await;
        let detail = refused.assert_problem(422);
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    assert_eq!(app.audit_size().await, before);
    assert_eq!(app.get(&exceptions, &app.admin_token).await.assert_status(200)["items"], json!([]));
}));

engine_test!(attackers_get_403_404_and_problems, |engine| with_app(engine, |app| async move {
    let acme = vendor(&app, "Acme Scan", VendorStatus::Approved).await;
    let bot = app.create_service("acme-scan").await;
    let other_bot = app.create_service("beta-deploy").await;
    let id = register(&app, classic_pat(&acme, &bot)).await;
    let other = register(&app, github_app(&acme, &other_bot)).await;
    let asked = app
        .post(
            &format!("/api/v1/integrations/{id}/exceptions"),
            &app.admin_token,
            json!({"rule": "ip_allowlist", "reason": "legacy", "duration": "30d"}),
        )
        .await;
    let eid = asked.assert_status(201)["id"].as_str().unwrap().to_owned();

    // Without vendor.manage, every write is refused.
    let (_, dev) = person_with(&app, "Dev", "developer").await;
    let spare = app.create_service("spare").await;
    let writes = [
        ("/api/v1/integrations".to_owned(), github_app(&acme, &spare)),
        (format!("/api/v1/integrations/{id}/check"), json!({})),
        (
            format!("/api/v1/integrations/{id}/exceptions"),
            json!({"rule": "ip_allowlist", "reason": "x", "duration": "1d"}),
        ),
        (format!("/api/v1/integrations/{id}/exceptions/{eid}/grant"), json!({})),
    ];
    for (path, body) in &writes {
        app.post(path, &dev, body.clone()).await.assert_problem(403);
    }
    app.get("/api/v1/integrations", &dev).await.assert_problem(403);
    app.get(&format!("/api/v1/integrations/{id}"), &dev).await.assert_problem(403);
    assert_eq!(app.store.list_exceptions(IntegrationId::from_str(&id).unwrap()).await.unwrap().len(), 1);

    // Unknown ids, and an exception reached through another integration: 404.
    let unknown = "01a214a5-0000-7000-8000-000000000000";
    app.get(&format!("/api/v1/integrations/{unknown}"), &app.admin_token).await.assert_problem(404);
    app.post(&format!("/api/v1/integrations/{unknown}/check"), &app.admin_token, json!({})).await.assert_problem(404);
    let (_, bea) = person_with(&app, "Bea", "admin").await;
    let crossed = app.post(&format!("/api/v1/integrations/{other}/exceptions/{eid}/grant"), &bea, json!({})).await;
    crossed.assert_problem(404);
    let missing = app.post(&format!("/api/v1/integrations/{id}/exceptions/{unknown}/grant"), &bea, json!({})).await;
    missing.assert_problem(404);

    // Forged ids: problems, never a 5xx.
    for path in [
        "/api/v1/integrations/not-a-uuid".to_owned(),
        "/api/v1/integrations/1%27%20OR%201=1/exceptions".to_owned(),
        format!("/api/v1/integrations/{id}/exceptions/../grant"),
    ] {
        let answer = app.get(&path, &app.admin_token).await;
        let status = answer.status.as_u16();
        assert!((400..500).contains(&status), "{path}: {}", answer.text);
        answer.assert_problem(status);
    }
    let forged = app.post(&format!("/api/v1/integrations/{id}/exceptions/nope/grant"), &bea, json!({})).await;
    forged.assert_problem(400);
}));
