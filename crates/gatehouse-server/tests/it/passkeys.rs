//! Passkeys over the API, driven by webauthn-authenticator-rs's software
//! passkey as the browser would: register, list, rename, verify (the token
//! becomes MFA-fresh), remove; and every refusal (replay, someone else's
//! ceremony, expiry, a second finish, another origin, malformed or
//! oversized input, someone else's passkey) a 4xx problem that changes
//! nothing.

use axum::body::Body;
use axum::http::{Method, Request, header};
use gatehouse_domain::ids::IdentityId;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, engine_test, with_app, with_database};
use serde_json::{Value, json};
use time::Duration;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

const ORIGIN: &str = "https://gatehouse.test";

fn settings(step_up: bool, required: bool) -> Settings {
    Settings {
        mfa: MfaSettings { step_up, required, ..MfaSettings::default() },
        public_url: Some(Url::parse(ORIGIN).unwrap()),
        ..gatehouse_testkit::test_settings()
    }
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// The browser: `navigator.credentials.create()` at `at`, then `toJSON()`.
fn create(authenticator: &mut SoftPasskey, at: &Url, options: &Value) -> Value {
    let options: CreationChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    serde_json::to_value(authenticator.do_registration(at.clone(), options).unwrap()).unwrap()
}

/// The browser: `navigator.credentials.get()` at `at`, then `toJSON()`.
fn get(authenticator: &mut SoftPasskey, at: &Url, options: &Value) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    serde_json::to_value(authenticator.do_authentication(at.clone(), options).unwrap()).unwrap()
}

/// Starts a ceremony: (ceremony id, options).
async fn start(app: &TestApp, token: &str, what: &str) -> (String, Value) {
    let started = app.post(&format!("/api/v1/mfa/webauthn/{what}/start"), token, json!({})).await;
    let started = started.assert_status(200);
    (started["ceremony_id"].as_str().unwrap().to_owned(), started["options"].clone())
}

/// Registers a passkey on `authenticator`; returns the stored passkey.
async fn register(app: &TestApp, token: &str, authenticator: &mut SoftPasskey, label: &str) -> Value {
    let (ceremony, options) = start(app, token, "register").await;
    let credential = create(authenticator, &origin(), &options);
    let body = json!({"ceremony_id": ceremony, "label": label, "credential": credential});
    app.post("/api/v1/mfa/webauthn/register/finish", token, body).await.assert_status(201).clone()
}

/// Verifies with the passkey on `authenticator`.
async fn verify(app: &TestApp, token: &str, authenticator: &mut SoftPasskey) -> Value {
    let (ceremony, options) = start(app, token, "verify").await;
    let credential = get(authenticator, &origin(), &options);
    let body = json!({"ceremony_id": ceremony, "credential": credential});
    app.post("/api/v1/mfa/webauthn/verify/finish", token, body).await.assert_status(200).clone()
}

async fn listed(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/api/v1/mfa/passkeys", token).await.assert_status(200)["items"].as_array().unwrap().clone()
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> gatehouse_testkit::TestResponse {
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

fn is_mfa_required(response: &gatehouse_testkit::TestResponse) -> bool {
    response.status.as_u16() == 403 && response.body["type"].as_str().is_some_and(|t| t.ends_with("mfa-required"))
}

engine_test!(a_passkey_registers_lists_and_makes_the_token_mfa_fresh, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings(true, false)).await;
        let admin = app.admin_token.clone();
        let new_person = json!({"kind": "human", "name": "Ana", "email": "ana@example.com"});
        assert!(is_mfa_required(&app.post("/api/v1/identities", &admin, new_person.clone()).await));

        // The first factor needs no step-up; the options ask for user
        // verification and name the relying party of the public URL.
        let (_, options) = start(&app, &admin, "register").await;
        assert_eq!(options["rp"]["id"], "gatehouse.test");
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        let mut key = SoftPasskey::new(true);
        let before = app.audit_size().await;
        let passkey = register(&app, &admin, &mut key, " laptop ").await;
        assert_eq!(passkey["label"], "laptop");
        assert_eq!(passkey["created_at"], "2026-06-01T09:00:00.000Z");
        assert!(passkey.get("credential").is_none(), "key material is never shown");
        assert_eq!(app.audit_size().await, before + 1, "one entry: mfa.passkey.register");
        let id = passkey["id"].as_str().unwrap().to_owned();
        let listed_now = listed(&app, &admin).await;
        assert_eq!(listed_now.len(), 1);
        assert_eq!((listed_now[0]["id"].as_str(), &listed_now[0]["last_used_at"]), (Some(id.as_str()), &Value::Null));

        // Registering made no one fresh; verifying does.
        assert!(is_mfa_required(&app.post("/api/v1/identities", &admin, new_person.clone()).await));
        app.clock.advance(Duration::seconds(5));
        let verified = verify(&app, &admin, &mut key).await;
        assert_eq!(verified["mfa_verified_at"], "2026-06-01T09:00:05.000Z");
        assert_eq!(verified["fresh_until"], "2026-06-01T09:15:05.000Z");
        app.post("/api/v1/identities", &admin, new_person).await.assert_status(201);
        let entries = app.get("/api/v1/audit/entries?action=mfa.verify", &admin).await;
        let entry = entries.assert_status(200)["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (entry["outcome"].as_str(), entry["details"]["method"].as_str()),
            (Some("success"), Some("webauthn"))
        );
        assert_eq!(entry["details"]["passkey_id"], id.as_str());

        // The use is recorded: last use, and the counter the authenticator sent.
        let listed_now = listed(&app, &admin).await;
        assert_eq!(listed_now[0]["last_used_at"], "2026-06-01T09:00:05.000Z");
        let admin_id: IdentityId = app.admin_id;
        let stored = app.store.passkey_list(admin_id).await.unwrap();
        assert_eq!(gatehouse_mfa::StoredPasskey::from_json(&stored[0].credential).unwrap().counter(), 1);

        // A second passkey needs a fresh factor, as the first one now is.
        app.clock.advance(Duration::minutes(16));
        assert!(is_mfa_required(&app.post("/api/v1/mfa/webauthn/register/start", &admin, json!({})).await));
        verify(&app, &admin, &mut key).await;
        let mut phone = SoftPasskey::new(true);
        let second = register(&app, &admin, &mut phone, "phone").await;
        // The same authenticator cannot register twice: its credential is excluded.
        let (_, options) = start(&app, &admin, "register").await;
        assert_eq!(options["excludeCredentials"].as_array().unwrap().len(), 2);

        // Rename; remove (fresh MFA needed; it is).
        let renamed = patch(&app, &format!("/api/v1/mfa/passkeys/{id}"), &admin, json!({"label": "old laptop"})).await;
        assert_eq!(renamed.assert_status(200)["label"], "old laptop");
        let second_id = second["id"].as_str().unwrap();
        app.delete(&format!("/api/v1/mfa/passkeys/{second_id}"), &admin).await.assert_status(204);
        let left: Vec<String> =
            listed(&app, &admin).await.iter().map(|p| p["label"].as_str().unwrap().into()).collect();
        assert_eq!(left, vec!["old laptop".to_owned()]);
        for action in ["mfa.passkey.register", "mfa.passkey.rename", "mfa.passkey.remove"] {
            let entries = app.get(&format!("/api/v1/audit/entries?action={action}"), &admin).await;
            assert!(!entries.assert_status(200)["items"].as_array().unwrap().is_empty(), "{action}");
        }
        // Stale, removal needs a fresh factor again.
        app.clock.advance(Duration::minutes(16));
        assert!(is_mfa_required(&app.delete(&format!("/api/v1/mfa/passkeys/{id}"), &admin).await));
        assert_eq!(listed(&app, &admin).await.len(), 1);
    }
));

engine_test!(refused_passkey_responses_change_nothing, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings(false, false)).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let ana_token = app.create_token(&ana, 3600).await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let bob_token = app.create_token(&bob, 3600).await;
    let mut key = SoftPasskey::new(true);
    let passkey = register(&app, &ana_token, &mut key, "laptop").await;
    let id = passkey["id"].as_str().unwrap().to_owned();
    let ana_id: IdentityId = ana.parse().unwrap();
    let finish = "/api/v1/mfa/webauthn/verify/finish";
    let fresh = |app: &TestApp| {
        let hash = gatehouse_domain::token::TokenHash::of(&ana_token);
        let store = app.store.clone();
        async move { store.find_credential(&hash).await.unwrap().unwrap().token.mfa_verified_at }
    };

    // A replayed assertion: against a new ceremony, and its own again.
    let (ceremony, options) = start(&app, &ana_token, "verify").await;
    let assertion = get(&mut key, &origin(), &options);
    let body = json!({"ceremony_id": ceremony, "credential": assertion});
    app.post(finish, &ana_token, body.clone()).await.assert_status(200);
    let verified_at = fresh(&app).await;
    assert!(verified_at.is_some());
    app.clock.advance(Duration::seconds(30));
    let before = app.audit_size().await;
    assert!(app.post(finish, &ana_token, body).await.assert_problem(404).contains("finished already"));
    let (again, _) = start(&app, &ana_token, "verify").await;
    let replay = app.post(finish, &ana_token, json!({"ceremony_id": again, "credential": assertion})).await;
    assert!(replay.assert_problem(403).contains("another challenge"), "{}", replay.text);
    assert_eq!(app.audit_size().await, before + 1, "the refusal is audited (mfa.verify, failure)");
    assert_eq!(fresh(&app).await, verified_at, "no new freshness");

    // Someone else's ceremony: not found for Bob, and still Ana's to finish.
    let (ceremony, options) = start(&app, &ana_token, "verify").await;
    let assertion = get(&mut key, &origin(), &options);
    let body = json!({"ceremony_id": ceremony, "credential": assertion});
    app.post(finish, &bob_token, body.clone()).await.assert_problem(404);
    let (bobs, _) = start(&app, &bob_token, "register").await;
    let stolen = json!({"ceremony_id": bobs, "credential": assertion});
    app.post(finish, &ana_token, stolen).await.assert_problem(404);
    app.post(finish, &ana_token, body).await.assert_status(200);
    assert_eq!(fresh(&app).await, Some(app_now(&app)));

    // An expired ceremony is refused, and gone.
    let (ceremony, options) = start(&app, &ana_token, "verify").await;
    let assertion = get(&mut key, &origin(), &options);
    app.clock.advance(Duration::minutes(6));
    let body = json!({"ceremony_id": ceremony, "credential": assertion});
    assert!(app.post(finish, &ana_token, body.clone()).await.assert_problem(409).contains("expired"));
    app.post(finish, &ana_token, body).await.assert_problem(404);

    // Another origin (a page on a subdomain of the relying party).
    let (ceremony, options) = start(&app, &ana_token, "verify").await;
    let elsewhere = Url::parse("https://pages.gatehouse.test").unwrap();
    let assertion = get(&mut key, &elsewhere, &options);
    let refused = app.post(finish, &ana_token, json!({"ceremony_id": ceremony, "credential": assertion})).await;
    assert!(refused.assert_problem(403).contains("another origin"));
    let (ceremony, options) = start(&app, &bob_token, "register").await;
    let credential = create(&mut SoftPasskey::new(true), &elsewhere, &options);
    let body = json!({"ceremony_id": ceremony, "label": "phished", "credential": credential});
    app.post("/api/v1/mfa/webauthn/register/finish", &bob_token, body).await.assert_problem(403);
    assert!(listed(&app, &bob_token).await.is_empty());

    // Malformed and oversized input; the ceremony survives it.
    let (ceremony, options) = start(&app, &ana_token, "verify").await;
    for bad in [
        json!({"ceremony_id": ceremony, "credential": {"id": 1}}),
        json!({"ceremony_id": ceremony, "credential": {"id": "x".repeat(20_000)}}),
        json!({"ceremony_id": ceremony}),
        json!({"ceremony_id": ceremony, "credential": {}, "extra": true}),
    ] {
        app.post(finish, &ana_token, bad).await.assert_problem(422);
    }
    let not_json = Request::builder()
        .method(Method::POST)
        .uri(finish)
        .header(header::AUTHORIZATION, format!("Bearer {ana_token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"ceremony_id\": "))
        .unwrap();
    let response = app.send(not_json).await;
    assert_eq!(response.status.as_u16(), 400, "{}", response.text);
    let huge = json!({"ceremony_id": ceremony, "credential": {"id": "x".repeat(2 * 1024 * 1024)}});
    app.post(finish, &ana_token, huge).await.assert_problem(413);
    let register_bad = json!({"ceremony_id": "x", "label": "", "credential": {}});
    app.post("/api/v1/mfa/webauthn/register/finish", &ana_token, register_bad).await.assert_problem(422);
    app.clock.advance(Duration::seconds(1));
    let assertion = get(&mut key, &origin(), &options);
    app.post(finish, &ana_token, json!({"ceremony_id": ceremony, "credential": assertion})).await.assert_status(200);

    // Bob cannot see, rename or remove Ana's passkey.
    let before = app.audit_size().await;
    assert!(listed(&app, &bob_token).await.is_empty());
    patch(&app, &format!("/api/v1/mfa/passkeys/{id}"), &bob_token, json!({"label": "mine"})).await.assert_problem(404);
    app.delete(&format!("/api/v1/mfa/passkeys/{id}"), &bob_token).await.assert_problem(404);
    patch(&app, &format!("/api/v1/mfa/passkeys/{id}"), &ana_token, json!({"label": "\u{7}"})).await.assert_problem(422);
    patch(&app, "/api/v1/mfa/passkeys/not-an-id", &ana_token, json!({"label": "x"})).await.assert_problem(400);
    assert_eq!(app.audit_size().await, before);
    assert_eq!(app.store.passkey_list(ana_id).await.unwrap()[0].label, "laptop");

    // A service identity has no second factor.
    let bot = app.create_service("bot").await;
    let bot_token = app.create_token(&bot, 3600).await;
    app.post("/api/v1/mfa/webauthn/register/start", &bot_token, json!({})).await.assert_problem(422);
}));

fn app_now(app: &TestApp) -> time::OffsetDateTime {
    gatehouse_domain::clock::Clock::now(&*app.clock)
}

engine_test!(passkeys_need_a_public_url, |engine| with_app(engine, |app| async move {
    let refused = app.post("/api/v1/mfa/webauthn/register/start", &app.admin_token, json!({})).await;
    assert!(refused.assert_problem(409).contains("`public_url`"), "{}", refused.text);
    assert!(listed(&app, &app.admin_token).await.is_empty());
}));

engine_test!(an_ip_address_cannot_be_the_relying_party, |engine| with_database(engine, |db| async move {
    let by_ip = Settings { public_url: Some(Url::parse("http://127.0.0.1:8080").unwrap()), ..settings(false, false) };
    let app = TestApp::with_settings(&db, by_ip).await;
    let refused = app.post("/api/v1/mfa/webauthn/register/start", &app.admin_token, json!({})).await;
    let detail = refused.assert_problem(409);
    assert!(detail.contains("IP address") && detail.contains("public_url"), "{detail}");
}));

engine_test!(a_passkey_is_a_second_factor_where_one_is_required, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings(false, true)).await;
    // The admin enrolls with a passkey first; then may act.
    assert!(is_mfa_required(&app.get("/api/v1/identities", &app.admin_token).await));
    let mut admin_key = SoftPasskey::new(true);
    register(&app, &app.admin_token, &mut admin_key, "admin").await;
    app.get("/api/v1/identities", &app.admin_token).await.assert_status(200);
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    assert!(is_mfa_required(&app.get("/api/v1/mfa/passkeys", &token).await));
    let mut key = SoftPasskey::new(true);
    let passkey = register(&app, &token, &mut key, "laptop").await;
    assert_eq!(listed(&app, &token).await.len(), 1, "enrolled: the rest of the API opens");
    // Adding TOTP beside it needs a fresh factor.
    assert!(is_mfa_required(&app.post("/api/v1/mfa/totp", &token, json!({})).await));
    verify(&app, &token, &mut key).await;
    // The last factor stays while one is required.
    let id = passkey["id"].as_str().unwrap();
    let refused = app.delete(&format!("/api/v1/mfa/passkeys/{id}"), &token).await;
    assert!(refused.assert_problem(409).contains("last second factor"));
    assert_eq!(listed(&app, &token).await.len(), 1);
    // An admin's reset (with their own fresh factor) removes passkeys too.
    verify(&app, &app.admin_token, &mut admin_key).await;
    app.delete(&format!("/api/v1/identities/{ana}/mfa"), &app.admin_token).await.assert_status(204);
    assert!(is_mfa_required(&app.get("/api/v1/mfa/passkeys", &token).await));
}));
