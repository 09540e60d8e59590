//! The console's administration of people (both engines): the landing
//! page, identities, grants and tokens listed and filtered, suspend and
//! reactivate, revoking grants and tokens, each through the API's function
//! with its audit entry and its step-up in place; and what an attacker
//! tries (no permission, only `identity.view`, no Origin, a stale or wrong
//! factor, oneself, unknown and malformed ids, malformed queries and
//! forms), each refused with a page and nothing changed.

use axum::http::Method;
use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

use crate::people::{Directory, Person, grant};
use crate::web::{assert_html, browse, location, new_cookie, page, post, start_session};

/// The console's test settings, with step-up on.
fn settings() -> Settings {
    Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..crate::web::settings() }
}

const UNKNOWN: &str = "0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f";

/// A code from the person's authenticator, a step after the last one used.
fn fresh_code(app: &TestApp, person: &Person) -> String {
    app.clock.advance(Duration::seconds(30));
    person.code_now(app)
}

async fn status_of(app: &TestApp, identity: &str) -> Value {
    app.get(&format!("/api/v1/identities/{identity}"), &app.admin_token).await.assert_status(200)["status"].clone()
}

async fn grant_of(app: &TestApp, identity: &str, role: &str) -> Value {
    let grants = app.get(&format!("/api/v1/grants?identity_id={identity}"), &app.admin_token).await;
    let grants = grants.assert_status(200)["items"].as_array().unwrap().clone();
    grants.into_iter().find(|grant| grant["role"] == role).expect("the grant")
}

async fn tokens_of(app: &TestApp, identity: &str) -> Vec<Value> {
    let tokens = app.get(&format!("/api/v1/tokens?identity_id={identity}"), &app.admin_token).await;
    tokens.assert_status(200)["items"].as_array().unwrap().clone()
}

/// The successful audit entries of `action` on `resource`.
async fn audited(app: &TestApp, action: &str, resource: &str) -> Vec<Value> {
    let path = format!("/api/v1/audit/entries?action={action}&resource={resource}&outcome=success");
    app.get(&path, &app.admin_token).await.assert_status(200)["items"].as_array().unwrap().clone()
}

/// The bootstrap admin enrols an authenticator, so that its token may set
/// the scene under step-up; then `root` (an admin over everything, with an
/// authenticator and a session without a fresh factor), `ana` and `bob`.
async fn people(app: &TestApp) -> (Directory, Person, Person, Person) {
    let started = app.post("/api/v1/mfa/totp", &app.admin_token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/totp/confirm", &app.admin_token, json!({"code": code})).await.assert_status(200);
    let directory = Directory::new(app).await;
    let root = directory.person(app, "root").await;
    grant(app, &root.id, "admin", "*").await;
    let ana = directory.person(app, "ana").await;
    let bob = directory.person(app, "bob").await;
    start_session(app, &root.id, "root-secret").await;
    (directory, root, ana, bob)
}

engine_test!(an_admin_lists_and_filters_identities_grants_and_tokens, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let (_directory, root, ana, bob) = people(&app).await;
        grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;
        grant(&app, &bob.id, "developer", "project:acme/api").await;

        // The landing page names every administration page this admin may use.
        let landing = page(&app, "/ui/admin", "root-secret").await;
        let html = assert_html(&landing, 200);
        for link in [
            "/ui/admin/identities",
            "/ui/admin/grants",
            "/ui/admin/tokens",
            "/ui/admin/trust-bindings",
            "/ui/admin/signing-keys",
            "/ui/admin/vendors",
            "/ui/admin/matrix",
        ] {
            assert!(html.contains(&format!(r#"href="{link}""#)), "missing {link}: {html}");
        }
        assert!(html.contains(r#"href="/ui/admin" aria-current="page""#));

        // Identities, with their filters.
        let all = page(&app, "/ui/admin/identities", "root-secret").await;
        let html = assert_html(&all, 200);
        for expected in ["ana@example.com", "bob@example.com", "okta-scim", "<caption>", r#"<th scope="col">"#] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        let services = page(&app, "/ui/admin/identities?kind=service&status=&text=", "root-secret").await;
        let html = assert_html(&services, 200);
        assert!(html.contains("okta-scim") && !html.contains("ana@example.com"), "{html}");
        let ana_only = page(&app, "/ui/admin/identities?text=ANA%40", "root-secret").await;
        let html = assert_html(&ana_only, 200);
        assert!(html.contains("ana@example.com") && !html.contains("bob@example.com"), "{html}");
        let none = page(&app, "/ui/admin/identities?status=suspended", "root-secret").await;
        assert!(assert_html(&none, 200).contains("No identity matches."));
        for bad in ["kind=robot", "status=gone", "unknown=1", "after=not-a-cursor"] {
            assert_html(&page(&app, &format!("/ui/admin/identities?{bad}"), "root-secret").await, 400);
        }
        let long = format!("/ui/admin/identities?text={}", "a".repeat(201));
        assert_html(&page(&app, &long, "root-secret").await, 400);

        // One identity: its grants, its tokens (never a secret), its factor.
        let shown = page(&app, &format!("/ui/admin/identities/{}", ana.id), "root-secret").await;
        let html = assert_html(&shown, 200);
        for expected in [
            "ana@example.com",
            "release-approver",
            "environment:acme/web:production",
            "Authenticator app (TOTP)",
            "test",
            "Suspend",
            &format!("/ui/admin/identities/{}/suspend", ana.id),
        ] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        assert!(!html.contains(&ana.token), "a token's secret is never shown");
        // Nobody is offered to suspend themselves.
        let own = page(&app, &format!("/ui/admin/identities/{}", root.id), "root-secret").await;
        let html = assert_html(&own, 200);
        assert!(!html.contains("/suspend") && html.contains("You cannot suspend yourself."), "{html}");
        assert_html(&page(&app, &format!("/ui/admin/identities/{UNKNOWN}"), "root-secret").await, 404);
        assert_html(&page(&app, "/ui/admin/identities/not-an-id", "root-secret").await, 400);

        // Grants: by role, by scope's start, by identity.
        let html = page(&app, "/ui/admin/grants", "root-secret").await.text;
        assert!(html.contains("release-approver") && html.contains("developer"), "{html}");
        let html = page(&app, "/ui/admin/grants?role=developer", "root-secret").await.text;
        assert!(html.contains("project:acme/api") && !html.contains("release-approver"), "{html}");
        let html = page(&app, "/ui/admin/grants?scope=environment%3Aacme%2F", "root-secret").await.text;
        assert!(html.contains("release-approver") && !html.contains("project:acme/api"), "{html}");
        let html = page(&app, &format!("/ui/admin/grants?identity={}", bob.id), "root-secret").await.text;
        assert!(html.contains("project:acme/api") && !html.contains("release-approver"), "{html}");
        assert!(html.contains(r#"/revoke""#), "an admin may revoke: {html}");
        assert_html(&page(&app, "/ui/admin/grants?identity=nobody", "root-secret").await, 400);
        assert_html(&page(&app, "/ui/admin/grants?all=maybe", "root-secret").await, 400);

        // Tokens: metadata, never a secret.
        let listed = page(&app, "/ui/admin/tokens", "root-secret").await;
        let html = assert_html(&listed, 200);
        assert!(html.contains("ana@example.com") && html.contains("bob@example.com"), "{html}");
        for secret in [&ana.token, &bob.token, &root.token, &app.admin_token] {
            assert!(!html.contains(secret.as_str()), "a token's secret is never shown");
        }
        let html = page(&app, &format!("/ui/admin/tokens?identity={}", ana.id), "root-secret").await.text;
        assert!(html.contains("ana@example.com") && !html.contains("bob@example.com"), "{html}");
        assert_html(&page(&app, "/ui/admin/tokens?identity=&all=on&extra=1", "root-secret").await, 400);
    }
));

engine_test!(suspending_and_reactivating_step_up_and_write_the_api_audit_entries, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let (_directory, root, ana, _bob) = people(&app).await;
        let suspend = format!("/ui/admin/identities/{}/suspend", ana.id);

        // Forged from another site: no Origin, or another one.
        for origin in [None, Some("https://evil.example")] {
            let forged = browse(&app, Method::POST, &suspend, "root-secret", origin, "").await;
            assert!(assert_html(&forged, 403).contains("Origin"));
        }
        assert_eq!(status_of(&app, &ana.id).await, "active");

        // No fresh second factor: the step-up panel, and nothing changed.
        let asked = post(&app, &suspend, "root-secret", "").await;
        let html = assert_html(&asked, 200);
        assert!(html.contains("Verify and suspend") && html.contains(r#"autocomplete="one-time-code""#), "{html}");
        assert!(html.contains("ana@example.com") && html.contains("needs your second factor"), "{html}");
        assert!(html.contains(&format!(r#"action="{suspend}""#)));
        assert_eq!(status_of(&app, &ana.id).await, "active");

        // A wrong code: refused, the panel again, nothing changed.
        app.clock.advance(Duration::seconds(30));
        let wrong = post(&app, &suspend, "root-secret", "code=000000").await;
        assert!(assert_html(&wrong, 403).contains("Verify and suspend"), "{}", wrong.text);
        assert_eq!(status_of(&app, &ana.id).await, "active");
        // Malformed forms change nothing either.
        assert_html(&post(&app, &suspend, "root-secret", "code=1&extra=1").await, 400);
        assert_eq!(status_of(&app, &ana.id).await, "active");

        // The right code: suspended, announced, and audited as the API does.
        let done = post(&app, &suspend, "root-secret", &format!("code={}", fresh_code(&app, &root))).await;
        assert_eq!(done.status.as_u16(), 303, "{}", done.text);
        assert_eq!(location(&done), format!("/ui/admin/identities/{}?done=suspend", ana.id));
        let cookie = new_cookie(&done).expect("the session is rotated at step-up");
        assert_eq!(status_of(&app, &ana.id).await, "suspended");
        let entries = audited(&app, "identity.suspend", &format!("identity:{}", ana.id)).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["actor"], root.id);
        assert_eq!(entries[0]["details"]["new_status"], "suspended");
        let shown = page(&app, &location(&done), &cookie).await;
        let html = assert_html(&shown, 200);
        assert!(html.contains(r#"role="status""#) && html.contains("You suspended ana@example.com"), "{html}");
        assert!(html.contains("Reactivate") && !html.contains(&suspend), "{html}");
        // Suspending again is refused as the API refuses it.
        let again = post(&app, &suspend, &cookie, "").await;
        assert!(assert_html(&again, 409).contains("Nothing was changed"), "{}", again.text);

        // Reactivating, the factor still fresh.
        let reactivate = format!("/ui/admin/identities/{}/reactivate", ana.id);
        let back = post(&app, &reactivate, &cookie, "").await;
        assert_eq!(back.status.as_u16(), 303, "{}", back.text);
        assert_eq!(status_of(&app, &ana.id).await, "active");
        assert_eq!(audited(&app, "identity.reactivate", &format!("identity:{}", ana.id)).await.len(), 1);

        // Oneself: refused as the API refuses it.
        let own = post(&app, &format!("/ui/admin/identities/{}/suspend", root.id), &cookie, "").await;
        assert!(own.status.is_client_error(), "{}", own.text);
        assert!(own.text.contains("yourself"), "{}", own.text);
        assert_eq!(status_of(&app, &root.id).await, "active");
        // Unknown and malformed ids.
        assert_html(&post(&app, &format!("/ui/admin/identities/{UNKNOWN}/suspend"), &cookie, "").await, 404);
        assert_html(&post(&app, "/ui/admin/identities/not-an-id/suspend", &cookie, "").await, 400);
    }
));

engine_test!(revoking_grants_and_tokens_steps_up_and_writes_the_api_audit_entries, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let (_directory, root, ana, _bob) = people(&app).await;
        grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;
        let granted = grant_of(&app, &ana.id, "release-approver").await;
        let grant_id = granted["id"].as_str().unwrap().to_owned();
        let revoke = format!("/ui/admin/grants/{grant_id}/revoke");
        let listed = page(&app, "/ui/admin/grants", "root-secret").await;
        assert!(assert_html(&listed, 200).contains(&format!(r#"action="{revoke}""#)));

        // No fresh factor: the panel, naming the grant; nothing revoked.
        let asked = post(&app, &revoke, "root-secret", "").await;
        let html = assert_html(&asked, 200);
        assert!(html.contains("Verify and revoke") && html.contains("release-approver"), "{html}");
        assert!(grant_of(&app, &ana.id, "release-approver").await["revoked_at"].is_null());
        let forged = browse(&app, Method::POST, &revoke, "root-secret", None, "").await;
        assert_html(&forged, 403);

        let done = post(&app, &revoke, "root-secret", &format!("code={}", fresh_code(&app, &root))).await;
        assert_eq!(done.status.as_u16(), 303, "{}", done.text);
        assert_eq!(location(&done), format!("/ui/admin/identities/{}?done=revoke-grant", ana.id));
        let cookie = new_cookie(&done).expect("rotated");
        assert!(grant_of(&app, &ana.id, "release-approver").await["revoked_at"].is_string());
        let entries = audited(&app, "grant.revoke", &format!("grant:{grant_id}")).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["actor"], root.id);
        assert_eq!(entries[0]["details"]["role"], "release-approver");
        assert!(page(&app, &location(&done), &cookie).await.text.contains("You revoked the grant."));
        // Only grants in force unless asked; revoking twice is refused.
        assert!(!page(&app, "/ui/admin/grants?role=release-approver", &cookie).await.text.contains(&grant_id));
        assert!(page(&app, "/ui/admin/grants?role=release-approver&all=on", &cookie).await.text.contains("revoked"));
        assert_html(&post(&app, &revoke, &cookie, "").await, 409);
        assert_html(&post(&app, &format!("/ui/admin/grants/{UNKNOWN}/revoke"), &cookie, "").await, 404);
        assert_html(&post(&app, "/ui/admin/grants/nope/revoke", &cookie, "").await, 400);

        // A token: revoked through the API's function, audited the same.
        let token = tokens_of(&app, &ana.id).await.remove(0);
        let token_id = token["id"].as_str().unwrap().to_owned();
        let revoke = format!("/ui/admin/tokens/{token_id}/revoke");
        let listed = page(&app, &format!("/ui/admin/tokens?identity={}", ana.id), &cookie).await;
        assert!(assert_html(&listed, 200).contains(&format!(r#"action="{revoke}""#)));
        let done = post(&app, &revoke, &cookie, "").await;
        assert_eq!(done.status.as_u16(), 303, "{}", done.text);
        assert_eq!(location(&done), format!("/ui/admin/identities/{}?done=revoke-token", ana.id));
        assert_eq!(tokens_of(&app, &ana.id).await[0]["status"], "revoked");
        assert_eq!(app.get("/api/v1/whoami", &ana.token).await.status.as_u16(), 401);
        let entries = audited(&app, "token.revoke", &format!("token:{token_id}")).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["actor"], root.id);
        let html = page(&app, &format!("/ui/admin/tokens?identity={}", ana.id), &cookie).await.text;
        assert!(html.contains("No token matches."), "a revoked token is hidden by default: {html}");
        let html = page(&app, &format!("/ui/admin/tokens?identity={}&all=on", ana.id), &cookie).await.text;
        assert!(html.contains("revoked") && !html.contains(&format!(r#"action="{revoke}""#)), "{html}");
        assert_html(&post(&app, &revoke, &cookie, "").await, 409);
        assert_html(&post(&app, &format!("/ui/admin/tokens/{UNKNOWN}/revoke"), &cookie, "").await, 404);
    }
));

engine_test!(people_without_the_permission_see_and_change_nothing, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings()).await;
    let (directory, _root, ana, bob) = people(&app).await;
    grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;
    let ana_grant = grant_of(&app, &ana.id, "release-approver").await["id"].as_str().unwrap().to_owned();
    let ana_token = tokens_of(&app, &ana.id).await[0]["id"].as_str().unwrap().to_owned();
    // bob holds nothing; cy is an auditor (identity.view, not identity.manage)
    // and dee an admin of one project only.
    let cy = directory.person(&app, "cy").await;
    grant(&app, &cy.id, "auditor", "*").await;
    let dee = directory.person(&app, "dee").await;
    grant(&app, &dee.id, "admin", "project:acme/web").await;
    start_session(&app, &bob.id, "bob-secret").await;
    start_session(&app, &cy.id, "cy-secret").await;
    start_session(&app, &dee.id, "dee-secret").await;

    // bob sees no administration at all.
    assert!(!page(&app, "/ui", "bob-secret").await.text.contains(r#"href="/ui/admin""#));
    for path in [
        "/ui/admin".to_owned(),
        "/ui/admin/identities".to_owned(),
        format!("/ui/admin/identities/{}", ana.id),
        "/ui/admin/grants".to_owned(),
        format!("/ui/admin/grants?identity={}", ana.id),
        "/ui/admin/tokens".to_owned(),
        format!("/ui/admin/tokens?identity={}", ana.id),
    ] {
        let refused = page(&app, &path, "bob-secret").await;
        assert_html(&refused, 403);
        assert!(!refused.text.contains("ana@example.com"), "{path}: {}", refused.text);
    }

    // cy reads, with no button to change anything.
    let html = page(&app, &format!("/ui/admin/identities/{}", ana.id), "cy-secret").await.text;
    assert!(html.contains("ana@example.com") && !html.contains("/suspend") && !html.contains("/revoke"), "{html}");
    let html = page(&app, "/ui/admin/grants", "cy-secret").await.text;
    assert!(html.contains("release-approver") && !html.contains("/revoke"), "{html}");
    let html = page(&app, "/ui/admin/tokens", "cy-secret").await.text;
    assert!(html.contains("ana@example.com"), "{html}");
    assert!(!html.contains(&format!("/ui/admin/tokens/{ana_token}/revoke")), "{html}");
    let html = page(&app, "/ui/admin", "cy-secret").await.text;
    assert!(html.contains("/ui/admin/identities") && html.contains("/ui/admin/matrix"), "{html}");

    // Each of them posting anyway, with a stale factor and with a fresh
    // one: 403 (never the step-up panel), and nothing changes.
    let changes = [
        format!("/ui/admin/identities/{}/suspend", ana.id),
        format!("/ui/admin/grants/{ana_grant}/revoke"),
        format!("/ui/admin/tokens/{ana_token}/revoke"),
    ];
    for (person, secret) in [(&bob, "bob-secret"), (&cy, "cy-secret"), (&dee, "dee-secret")] {
        let mut cookie = secret.to_owned();
        for path in &changes {
            let stale = post(&app, path, &cookie, "").await;
            assert!(!assert_html(&stale, 403).contains("Verify and"), "{path}: {}", stale.text);
            let fresh = post(&app, path, &cookie, &format!("code={}", fresh_code(&app, person))).await;
            assert_html(&fresh, 403);
            cookie = new_cookie(&fresh).unwrap_or(cookie);
        }
    }
    assert_eq!(status_of(&app, &ana.id).await, "active");
    assert!(grant_of(&app, &ana.id, "release-approver").await["revoked_at"].is_null());
    assert_eq!(tokens_of(&app, &ana.id).await[0]["status"], "active");
    assert_eq!(app.get("/api/v1/whoami", &ana.token).await.status.as_u16(), 200);
    for (action, resource) in [
        ("identity.suspend", format!("identity:{}", ana.id)),
        ("grant.revoke", format!("grant:{ana_grant}")),
        ("token.revoke", format!("token:{ana_token}")),
    ] {
        assert!(audited(&app, action, &resource).await.is_empty(), "{action}");
    }
}));

engine_test!(filtered_lists_are_paged_by_links_that_keep_their_filters, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let (_directory, _root, _ana, _bob) = people(&app).await;
        for n in 0..55 {
            app.create_service(&format!("svc-{n:02}")).await;
        }

        // 56 services (the SCIM client too) among the people: a full page of
        // them, and a link to the rest that keeps the filter.
        let first = page(&app, "/ui/admin/identities?kind=service", "root-secret").await;
        let html = assert_html(&first, 200);
        assert_eq!(html.matches("<tr>").count() - 1, 50, "a page holds 50 rows: {html}");
        assert!(!html.contains("ana@example.com"));
        let next = html
            .split(r#"<a href="/ui/admin/identities?"#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a next page link")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(next.starts_with("kind=service&after="), "{next}");
        let second = page(&app, &format!("/ui/admin/identities?{next}"), "root-secret").await;
        let html = assert_html(&second, 200);
        assert_eq!(html.matches("<tr>").count() - 1, 6, "{html}");
        assert!(!html.contains("Next page") && !html.contains("ana@example.com"), "{html}");
    }
));
