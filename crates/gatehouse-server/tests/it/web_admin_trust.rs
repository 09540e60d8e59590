//! The console's administration of machines and vendors (both engines):
//! trust bindings and signing keys listed and removed through the API's
//! functions (the same audit entries, the step-up panel in place), vendors
//! with their evidence, and the access matrix with its filters; and what
//! an attacker tries (no permission, no Origin, a stale factor, unknown
//! and malformed ids, another identity's key, bad filters), each refused
//! with a page and nothing changed.

use axum::http::Method;
use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::git_repo::GitSandbox;
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

use crate::people::{Directory, Person, grant};
use crate::web::{assert_html, browse, location, new_cookie, page, post, start_session};

/// The console's test settings, with step-up on.
fn settings() -> Settings {
    Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..crate::web::settings() }
}

/// The audit entries of `action` that succeeded.
async fn done(app: &TestApp, action: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/audit/entries?action={action}&limit=500"), &app.admin_token).await;
    let items = listed.assert_status(200)["items"].as_array().unwrap().clone();
    items.into_iter().filter(|entry| entry["outcome"] == "success").collect()
}

/// An administrator (`admin` on everything), an auditor (reads, no
/// changes), and a developer (none of it), each signed in.
struct Cast {
    admin: Person,
    auditor: Person,
    developer: Person,
}

async fn cast(app: &TestApp) -> Cast {
    // The setup token's owner proves a fresh factor to set the rest up.
    let started = app.post("/api/v1/mfa/totp", &app.admin_token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/totp/confirm", &app.admin_token, json!({"code": code})).await.assert_status(200);
    let directory = Directory::new(app).await;
    let admin = directory.person(app, "ada").await;
    let auditor = directory.person(app, "aud").await;
    let developer = directory.person(app, "dev").await;
    grant(app, &admin.id, "admin", "*").await;
    grant(app, &auditor.id, "auditor", "*").await;
    grant(app, &developer.id, "developer", "project:acme/web").await;
    start_session(app, &admin.id, "ada-secret").await;
    start_session(app, &auditor.id, "aud-secret").await;
    start_session(app, &developer.id, "dev-secret").await;
    Cast { admin, auditor, developer }
}

engine_test!(an_administrator_deletes_a_trust_binding_after_stepping_up, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let Cast { admin, .. } = cast(&app).await;
        let bot = app.create_service("deploy-bot").await;
        let body = json!({"issuer": "https://token.actions.githubusercontent.com", "audience": "https://gatehouse.example.com",
            "claims": {"repository_id": "123456", "ref": ["refs/heads/main", "refs/tags/v*"]}, "identity_id": bot});
        let created = app.post("/api/v1/trust-bindings", &app.admin_token, body).await.assert_status(201).clone();
        let id = created["id"].as_str().unwrap().to_owned();

        // The list: issuer, audience, the claims, who it binds to, and a button.
        let listed = page(&app, "/ui/admin/trust-bindings", "ada-secret").await;
        let html = assert_html(&listed, 200);
        for expected in [
            "https://token.actions.githubusercontent.com",
            "https://gatehouse.example.com",
            "<code>repository_id</code> = <code>123456</code>",
            "refs/heads/main or refs/tags/v*",
            "deploy-bot",
            "900 s",
            "<caption>",
            r#"<th scope="col">Issuer and audience</th>"#,
            "<time datetime=",
            &format!(r#"action="/ui/admin/trust-bindings/{id}/delete""#),
        ] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }

        // A stale factor: the panel, holding this binding's deletion, and nothing deleted.
        let path = format!("/ui/admin/trust-bindings/{id}/delete");
        let asked = post(&app, &path, "ada-secret", "").await;
        let html = assert_html(&asked, 200);
        assert!(html.contains("Verify and delete"), "{html}");
        assert!(html.contains("needs your second factor"));
        assert!(html.contains(r#"autocomplete="one-time-code""#));
        app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_status(200);
        // A wrong code: refused, the panel again.
        app.clock.advance(Duration::seconds(30));
        let wrong = post(&app, &path, "ada-secret", "code=000000").await;
        assert!(assert_html(&wrong, 403).contains("Verify and delete"), "{}", wrong.text);
        app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_status(200);
        assert!(done(&app, "trust_binding.delete").await.is_empty());

        // The right code: deleted, announced, and audited as the API does it.
        let deleted = post(&app, &path, "ada-secret", &format!("code={}", admin.code_now(&app))).await;
        assert_eq!(deleted.status.as_u16(), 303, "{}", deleted.text);
        assert_eq!(location(&deleted), "/ui/admin/trust-bindings?done=deleted");
        let cookie = new_cookie(&deleted).expect("the session is rotated at step-up");
        app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_problem(404);
        let entries = done(&app, "trust_binding.delete").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["actor"], admin.id);
        assert_eq!(entries[0]["resource"], format!("trust_binding:{id}"));
        assert_eq!(entries[0]["details"]["trust_binding_id"], id);
        let after = page(&app, &location(&deleted), &cookie).await;
        let html = assert_html(&after, 200);
        assert!(html.contains(r#"role="status""#) && html.contains("The trust binding was deleted"), "{html}");
        assert!(html.contains("No trust bindings"));

        // Deleting it again: gone.
        assert_html(&post(&app, &path, &cookie, "").await, 404);
    }
));

engine_test!(trust_bindings_refuse_the_unpermitted_and_the_malformed, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let Cast { auditor, developer, .. } = cast(&app).await;
        let bot = app.create_service("deploy-bot").await;
        let body = json!({"issuer": "https://token.actions.githubusercontent.com", "audience": "aud",
            "claims": {"repository_id": "1"}, "identity_id": bot});
        let created = app.post("/api/v1/trust-bindings", &app.admin_token, body).await.assert_status(201).clone();
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/ui/admin/trust-bindings/{id}/delete");
        let still_there = || async { app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await };

        // The auditor reads the list, without a button; the developer not at all.
        let html = assert_html(&page(&app, "/ui/admin/trust-bindings", "aud-secret").await, 200).to_owned();
        assert!(html.contains("deploy-bot"), "{html}");
        assert!(!html.contains(">Delete</button>"), "{html}");
        assert_html(&page(&app, "/ui/admin/trust-bindings", "dev-secret").await, 403);

        // Neither may delete: refused outright, no panel (also with a fresh factor).
        for cookie in ["aud-secret", "dev-secret"] {
            let refused = post(&app, &path, cookie, "").await;
            assert!(!assert_html(&refused, 403).contains("Verify and delete"), "{}", refused.text);
        }
        app.clock.advance(Duration::seconds(30));
        let fresh = post(&app, &path, "aud-secret", &format!("code={}", auditor.code_now(&app))).await;
        assert!(!assert_html(&fresh, 403).contains("Verify and delete"));
        still_there().await.assert_status(200);
        // Each refusal is audited as the API's is.
        let listed = app.get("/api/v1/audit/entries?action=identity.manage&limit=500", &app.admin_token).await;
        let denied: Vec<Value> = listed.assert_status(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["outcome"] == "denied")
            .cloned()
            .collect();
        for who in [&auditor.id, &developer.id] {
            assert!(denied.iter().any(|entry| entry["actor"] == *who), "{who} refused unaudited: {denied:?}");
        }

        // Forged from another site: no Origin, or another one.
        for origin in [None, Some("https://evil.example")] {
            let forged = browse(&app, Method::POST, &path, "ada-secret", origin, "").await;
            assert!(assert_html(&forged, 403).contains("Origin"));
        }
        // Unknown, malformed ids and forms; bad list queries.
        let unknown = "0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f";
        assert_html(&post(&app, &format!("/ui/admin/trust-bindings/{unknown}/delete"), "ada-secret", "").await, 404);
        assert_html(&post(&app, "/ui/admin/trust-bindings/not-an-id/delete", "ada-secret", "").await, 400);
        assert_html(&post(&app, &path, "ada-secret", "extra=1").await, 400);
        assert_html(&page(&app, "/ui/admin/trust-bindings?after=not-a-cursor", "ada-secret").await, 400);
        assert_html(&page(&app, "/ui/admin/trust-bindings?unknown=1", "ada-secret").await, 400);
        still_there().await.assert_status(200);
        assert!(done(&app, "trust_binding.delete").await.is_empty());
    }
));

engine_test!(an_administrator_removes_a_signing_key_and_no_one_else_can, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let Cast { admin, developer, .. } = cast(&app).await;
        let sandbox = GitSandbox::new();
        let (_, ssh_public) = sandbox.ssh_key("dev");
        let added = app
            .post(
                &format!("/api/v1/identities/{}/signing-keys", developer.id),
                &app.admin_token,
                json!({"public_key": ssh_public}),
            )
            .await
            .assert_status(201)
            .clone();
        let key = added["id"].as_str().unwrap().to_owned();
        let fingerprint = added["fingerprint"].as_str().unwrap().to_owned();
        let keys_of = || async {
            app.get(&format!("/api/v1/identities/{}/signing-keys", developer.id), &app.admin_token)
                .await
                .assert_status(200)
                .as_array()
                .unwrap()
                .len()
        };

        // The list: identity, key type, fingerprint, added, status.
        let html = assert_html(&page(&app, "/ui/admin/signing-keys", "ada-secret").await, 200).to_owned();
        for expected in ["dev@example.com", "ssh (", &fingerprint, "active", "<caption>", "<time datetime=", "Remove"] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        assert!(html.contains(&format!(r#"name="identity_id" value="{}""#, developer.id)));
        assert!(assert_html(&page(&app, "/ui/admin/signing-keys", "aud-secret").await, 200).contains(&fingerprint));
        assert_html(&page(&app, "/ui/admin/signing-keys", "dev-secret").await, 403);
        assert_html(&page(&app, "/ui/admin/signing-keys?x=1", "ada-secret").await, 400);

        let path = format!("/ui/admin/signing-keys/{key}/remove");
        let form = format!("identity_id={}", developer.id);
        // Without the permission: refused, no panel.
        let refused = post(&app, &path, "aud-secret", &form).await;
        assert!(!assert_html(&refused, 403).contains("Verify and remove"));
        // Forged, malformed and unknown.
        assert!(
            assert_html(&browse(&app, Method::POST, &path, "ada-secret", None, &form).await, 403).contains("Origin")
        );
        assert_html(&post(&app, &path, "ada-secret", "").await, 400);
        assert_html(&post(&app, &path, "ada-secret", "identity_id=nobody").await, 400);
        assert_html(&post(&app, &path, "ada-secret", &format!("{form}&extra=1")).await, 400);
        assert_html(&post(&app, "/ui/admin/signing-keys/not-an-id/remove", "ada-secret", &form).await, 400);
        let unknown = "0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f";
        assert_html(&post(&app, &format!("/ui/admin/signing-keys/{unknown}/remove"), "ada-secret", &form).await, 404);
        // Another identity named as the key's owner: not theirs, nothing removed.
        let wrong_owner = format!("identity_id={}", admin.id);
        assert_html(&post(&app, &path, "ada-secret", &wrong_owner).await, 404);
        assert_eq!(keys_of().await, 1);

        // A stale factor: the panel holding the removal.
        let asked = post(&app, &path, "ada-secret", &form).await;
        let html = assert_html(&asked, 200);
        assert!(html.contains("Verify and remove") && html.contains(&fingerprint), "{html}");
        assert!(html.contains("needs your second factor"));
        assert_eq!(keys_of().await, 1);

        // The factor, with the wrong owner still: verified, and still not theirs.
        app.clock.advance(Duration::seconds(30));
        let stepped = post(&app, &path, "ada-secret", &format!("{wrong_owner}&code={}", admin.code_now(&app))).await;
        assert_eq!(stepped.status.as_u16(), 404, "{}", stepped.text);
        let cookie = new_cookie(&stepped).expect("the factor verified stays verified");
        assert_eq!(keys_of().await, 1);
        assert!(done(&app, "signing_key.remove").await.is_empty());

        // Removed, announced, audited.
        let removed = post(&app, &path, &cookie, &form).await;
        assert_eq!(removed.status.as_u16(), 303, "{}", removed.text);
        assert_eq!(location(&removed), "/ui/admin/signing-keys?done=removed");
        assert_eq!(keys_of().await, 0);
        let entries = done(&app, "signing_key.remove").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["actor"], admin.id);
        assert_eq!(entries[0]["details"]["identity_id"], developer.id);
        let html = assert_html(&page(&app, &location(&removed), &cookie).await, 200).to_owned();
        assert!(html.contains("The signing key was removed"), "{html}");
        assert!(html.contains("No signing keys are registered."));
    }
));

fn vendor_body(name: &str) -> Value {
    json!({
        "name": name,
        "tier": "high",
        "contract": {"start": "2026-01-01", "renewal": "2026-12-01", "end": "2028-12-31"},
        "data_access": "source",
        "logging": {"what": "API calls", "retention_days": 365, "tamper_evident": true},
    })
}

engine_test!(vendors_show_their_evidence_and_integrations, |engine| with_database(engine, |db| async move {
    use base64::Engine as _;
    let app = TestApp::with_settings(&db, settings()).await;
    cast(&app).await;
    let created = app.post("/api/v1/vendors", &app.admin_token, vendor_body("Acme Scanner")).await;
    let vendor = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let soc2 = json!({"type": "II", "opinion": "unqualified", "period_start": "2024-08-01", "period_end": "2025-07-31",
                      "trust_services": ["security", "availability"]});
    let evidence = json!({"kind": "soc2", "metadata": soc2,
        "content_base64": base64::engine::general_purpose::STANDARD.encode(b"report"), "filename": "soc2-2025.pdf"});
    app.post(&format!("/api/v1/vendors/{vendor}/evidence"), &app.admin_token, evidence).await.assert_status(201);
    let api = app.get(&format!("/api/v1/vendors/{vendor}"), &app.admin_token).await.assert_status(200).clone();

    // The list: each vendor, its required evidence's state, the renewal.
    let html = assert_html(&page(&app, "/ui/admin/vendors", "ada-secret").await, 200).to_owned();
    for expected in
        ["Acme Scanner", &format!("/ui/admin/vendors/{vendor}"), "SOC 2: <strong", "2026-12-01", "<caption>"]
    {
        assert!(html.contains(expected), "missing {expected}: {html}");
    }
    // Each requirement as the API reads it, in people's words.
    for requirement in api["evidence"].as_array().unwrap() {
        let state = match requirement["state"].as_str().unwrap() {
            "valid" => "current",
            "due_soon" => "expiring",
            other => other,
        };
        assert!(html.contains(&format!(">{state}</strong>")), "missing {state}: {html}");
    }
    assert!(html.contains(if api["compliant"].as_bool().unwrap() { "compliant" } else { "not compliant" }));

    // The vendor's page: standing, evidence on file, integrations.
    let html = assert_html(&page(&app, &format!("/ui/admin/vendors/{vendor}"), "ada-secret").await, 200).to_owned();
    for expected in [
        "<h1>Acme Scanner</h1>",
        "soc2-2025.pdf",
        "Compliance standing",
        "Evidence on file",
        "Integrations",
        "This vendor has no integrations.",
        "<time datetime=",
    ] {
        assert!(html.contains(expected), "missing {expected}: {html}");
    }
    for reason in api["reasons"].as_array().unwrap() {
        let reason = reason.as_str().unwrap().replace('\'', "&#x27;").replace('`', "&#x60;");
        let escaped = reason.replace('"', "&quot;");
        assert!(html.contains(&escaped) || html.contains(&reason), "missing reason {reason}: {html}");
    }

    // The auditor reads them; the developer not; unknown and malformed ids.
    assert_html(&page(&app, "/ui/admin/vendors", "aud-secret").await, 200);
    assert_html(&page(&app, &format!("/ui/admin/vendors/{vendor}"), "aud-secret").await, 200);
    assert_html(&page(&app, "/ui/admin/vendors", "dev-secret").await, 403);
    assert_html(&page(&app, &format!("/ui/admin/vendors/{vendor}"), "dev-secret").await, 403);
    assert_html(&page(&app, "/ui/admin/vendors/0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f", "ada-secret").await, 404);
    assert_html(&page(&app, "/ui/admin/vendors/not-an-id", "ada-secret").await, 400);
    assert_html(&page(&app, "/ui/admin/vendors?x=1", "ada-secret").await, 400);
}));

engine_test!(the_access_matrix_is_a_table_with_filters, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings()).await;
    let Cast { developer, .. } = cast(&app).await;

    let html = assert_html(&page(&app, "/ui/admin/matrix", "aud-secret").await, 200).to_owned();
    for expected in [
        "<caption>",
        r#"<th scope="col">Identity</th>"#,
        r#"<label for="filter-identity">"#,
        r#"<label for="filter-action">"#,
        r#"<label for="filter-resource">"#,
        r#"<form method="get" action="/ui/admin/matrix""#,
        "dev@example.com",
        "pipeline.trigger",
        "Project:acme/web",
        "role developer (grant ",
    ] {
        assert!(html.contains(expected), "missing {expected}: {html}");
    }
    let api = app.get("/api/v1/policy/matrix", &app.admin_token).await.assert_status(200).clone();

    // Filtered to the developer's pushes: exactly the API's rows.
    let filtered = page(
        &app,
        &format!("/ui/admin/matrix?identity={}&action=source.push&resource=Project%3Aacme%2Fweb", developer.id),
        "aud-secret",
    )
    .await;
    let html = assert_html(&filtered, 200).to_owned();
    let expected = api["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| {
            row["identity_id"] == developer.id
                && row["action"] == "source.push"
                && row["resource"] == json!({"type": "Project", "id": "acme/web"})
        })
        .count();
    assert_eq!(expected, 1);
    assert!(html.contains("1 allowed combination matching the filters"), "{html}");
    assert!(html.contains(&format!(r#"<option value="{}" selected>"#, developer.id)), "{html}");
    assert!(html.contains(r#"<option value="source.push" selected>"#));
    assert_eq!(html.matches(r#"<th scope="row">"#).count(), 1);
    // Blank filters are no filters.
    assert_html(&page(&app, "/ui/admin/matrix?identity=&action=&resource=", "aud-secret").await, 200);

    // Bad filters: 400.
    for query in ["identity=nobody", "action=launch.missiles", "resource=Project%3Anope%2Fnope", "other=1"] {
        assert_html(&page(&app, &format!("/ui/admin/matrix?{query}"), "aud-secret").await, 400);
    }
    // Without `audit.read`: refused.
    assert_html(&page(&app, "/ui/admin/matrix", "dev-secret").await, 403);
}));
