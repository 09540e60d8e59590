//! Issue 24, holes 1, 2 and 8, attacked: privileged decisions without a
//! fresh second factor, signing keys registered by stolen or CI tokens, and
//! `grant.manage`, `identity.manage` (grants, tokens, bindings, MFA resets,
//! suspending, reviving, deprovisioning, ending sessions) and token creation used to become
//! more than the caller is. Every refusal is checked to change nothing.

use gatehouse_domain::audit::{Actor, AuditRecord, Outcome};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::NewSession;
use gatehouse_domain::token::TokenSecret;
use gatehouse_mfa::TotpSecret;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_app, with_database};
use serde_json::{Value, json};
use time::Duration;

const ATTACKER_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw4pZR38VBL79tpQzpu+NYB3Vemf6uUTZs3nuvty0sY attacker";
const OTHER_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN3eEVZVs3KfR4t7ICdohfBBX3fPIczjehN8lDl2tR11 attacker2";
const AUDIENCE: &str = "https://gatehouse.example.com";

fn step_up() -> Settings {
    Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..Settings::default() }
}

/// The built-in policies plus two narrow custom roles.
fn custom_roles() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert(
        "custom.cedar".into(),
        r#"
@id("grant-manager")
permit (principal == ?principal, action in [Action::"grant.manage", Action::"identity.view"], resource in ?resource);

@id("identity-manager")
permit (principal == ?principal, action in [Action::"identity.manage", Action::"identity.view"], resource in ?resource);
"#
        .into(),
    );
    Policies::from_source(&source).unwrap()
}

fn code(app: &TestApp, secret: &TotpSecret) -> String {
    secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap())
}

/// Enrolls the token's owner; confirming makes the token fresh.
async fn enroll(app: &TestApp, token: &str) -> TotpSecret {
    let started = app.post("/api/v1/mfa/totp", token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    app.post("/api/v1/mfa/totp/confirm", token, json!({"code": code(app, &secret)})).await.assert_status(200);
    secret
}

/// A code for the next step, so it is never a replay.
async fn verify(app: &TestApp, token: &str, secret: &TotpSecret) {
    app.clock.advance(Duration::seconds(30));
    app.post("/api/v1/mfa/verify", token, json!({"code": code(app, secret)})).await.assert_status(200);
}

#[track_caller]
fn assert_mfa_required(response: &TestResponse) {
    response.assert_problem(403);
    assert!(response.body["type"].as_str().unwrap().ends_with("mfa-required"), "{}", response.text);
}

async fn grant(app: &TestApp, identity: &str, role: &str, scope: &str) {
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": identity, "role": role, "scope": scope}))
        .await
        .assert_status(201);
}

fn approve_question(principal: Option<&str>) -> Value {
    let mut question = json!({
        "action": "deployment.approve",
        "resource": {"type": "Environment", "id": "acme/web:production"},
        "context": {"author": "ana@example.com"},
    });
    if let Some(principal) = principal {
        question["principal"] = json!(principal);
    }
    question
}

fn reasons(response: &TestResponse) -> String {
    response.body["reasons"].to_string()
}

async fn grants_of(app: &TestApp, identity: &str) -> usize {
    app.store.list_grants_of(identity.parse().unwrap()).await.unwrap().len()
}

async fn keys_of(app: &TestApp, identity: &str) -> usize {
    app.store.list_signing_keys(identity.parse().unwrap()).await.unwrap().len()
}

async fn tokens_of(app: &TestApp, identity: &str) -> usize {
    let listed = app.get(&format!("/api/v1/tokens?identity_id={identity}"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().len()
}

engine_test!(a_stale_person_asking_authorize_for_a_privileged_action_is_denied_mfa_required, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, step_up()).await;
        let admin = app.admin_token.clone();
        enroll(&app, &admin).await;
        let rita = app.create_human("Rita", "rita@example.com").await;
        grant(&app, &rita, "release-approver", "environment:acme/web:production").await;
        let mona = app.create_human("Mona", "mona@example.com").await;
        grant(&app, &mona, "maintainer", "project:acme/web").await;
        let rita_token = app.create_token(&rita, 3600).await;
        let mona_token = app.create_token(&mona, 3600).await;
        let auditor = app.create_service("audit-bot").await;
        grant(&app, &auditor, "auditor", "*").await;
        let auditor_token = app.create_token(&auditor, 3600).await;

        // A token that never proved a second factor: denied, and says why.
        let asked = app.post("/api/v1/authorize", &rita_token, approve_question(None)).await;
        assert_eq!(asked.assert_status(200)["decision"], "deny", "{}", asked.text);
        assert!(reasons(&asked).contains("mfa-required"), "{}", asked.text);
        let entry = &app.store.list_audit(asked.body["audit_index"].as_u64().unwrap(), 1).await.unwrap()[0];
        assert_eq!(entry.record.details["decision"], "deny");
        let config =
            json!({"action": "pipeline.config.edit", "resource": {"type": "Pipeline", "id": "acme/web:deploy"}});
        let asked = app.post("/api/v1/authorize", &mona_token, config.clone()).await;
        assert_eq!(asked.assert_status(200)["decision"], "deny");
        assert!(reasons(&asked).contains("mfa-required"), "{}", asked.text);
        // What is not privileged needs no step-up.
        let push = json!({"action": "source.push", "resource": {"type": "Project", "id": "acme/web"}});
        assert_eq!(app.post("/api/v1/authorize", &mona_token, push).await.assert_status(200)["decision"], "allow");

        // With a fresh factor: allowed; sixteen minutes on, denied again;
        // after POST /api/v1/mfa/verify, allowed.
        let secret = enroll(&app, &rita_token).await;
        let asked = app.post("/api/v1/authorize", &rita_token, approve_question(None)).await;
        assert_eq!(asked.assert_status(200)["decision"], "allow", "{}", asked.text);
        app.clock.advance(Duration::minutes(16));
        let asked = app.post("/api/v1/authorize", &rita_token, approve_question(None)).await;
        assert_eq!(asked.assert_status(200)["decision"], "deny");
        assert!(reasons(&asked).contains("mfa-required"), "{}", asked.text);
        verify(&app, &rita_token, &secret).await;
        let asked = app.post("/api/v1/authorize", &rita_token, approve_question(None)).await;
        assert_eq!(asked.assert_status(200)["decision"], "allow", "{}", asked.text);

        // Asked about Rita by someone else: nobody proved a factor for her
        // in this request, so deny.
        let about_rita = app.post("/api/v1/authorize", &rita_token, approve_question(Some(&rita))).await;
        assert_eq!(about_rita.assert_status(200)["decision"], "allow", "asking about oneself is one's own question");
        let about_rita = app.post("/api/v1/authorize", &auditor_token, approve_question(Some(&rita))).await;
        assert_eq!(about_rita.assert_status(200)["decision"], "deny", "{}", about_rita.text);
        assert!(reasons(&about_rita).contains("mfa-required"), "{}", about_rita.text);
    }
));

engine_test!(step_up_off_by_configuration_waives_the_guard, |engine| with_app(engine, |app| async move {
    let rita = app.create_human("Rita", "rita@example.com").await;
    grant(&app, &rita, "release-approver", "environment:acme/web:production").await;
    let rita_token = app.create_token(&rita, 3600).await;
    let asked = app.post("/api/v1/authorize", &rita_token, approve_question(None)).await;
    assert_eq!(asked.assert_status(200)["decision"], "allow", "{}", asked.text);
}));

engine_test!(a_stolen_stale_token_cannot_register_or_remove_a_signing_key, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, step_up()).await;
        enroll(&app, &app.admin_token).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let ana_token = app.create_token(&ana, 3600).await;
        let path = format!("/api/v1/identities/{ana}/signing-keys");

        // Never verified: refused, nothing stored.
        let before = app.audit_size().await;
        assert_mfa_required(&app.post(&path, &ana_token, json!({"public_key": ATTACKER_KEY})).await);
        assert_eq!(keys_of(&app, &ana).await, 0);
        assert_eq!(app.audit_size().await, before + 1, "the refusal is audited");

        // Enrolled, then stale: refused again.
        let secret = enroll(&app, &ana_token).await;
        app.clock.advance(Duration::minutes(16));
        assert_mfa_required(&app.post(&path, &ana_token, json!({"public_key": ATTACKER_KEY})).await);
        assert_eq!(keys_of(&app, &ana).await, 0);

        // Fresh: her own key is hers to add; removal asks the same.
        verify(&app, &ana_token, &secret).await;
        let added = app.post(&path, &ana_token, json!({"public_key": OTHER_KEY})).await;
        let key_id = added.assert_status(201)["id"].as_str().unwrap().to_owned();
        app.clock.advance(Duration::minutes(16));
        assert_mfa_required(&app.delete(&format!("{path}/{key_id}"), &ana_token).await);
        assert_eq!(keys_of(&app, &ana).await, 1);
        verify(&app, &ana_token, &secret).await;
        app.delete(&format!("{path}/{key_id}"), &ana_token).await.assert_status(200);
    }
));

engine_test!(ci_tokens_and_service_tokens_cannot_register_signing_keys, |engine| with_app(engine, |app| async move {
    let key = TestKey::rsa("k1", 0);
    let issuer = TestIssuer::start(&[&key]).await;
    let bot = app.create_service("deploy-bot").await;
    app.post(
        "/api/v1/trust-bindings",
        &app.admin_token,
        json!({
            "issuer": issuer.url,
            "audience": AUDIENCE,
            "claims": {"repository_id": "123456"},
            "identity_id": bot,
            "max_ttl_seconds": 600,
        }),
    )
    .await
    .assert_status(201);
    // Even a CI job whose identity may manage identities cannot.
    grant(&app, &bot, "admin", "*").await;
    let ci_token = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));
    let exchanged =
        app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": ci_token}))).await;
    let exchanged = exchanged.assert_status(200)["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/identities/{bot}/signing-keys");

    let refused = app.post(&path, &exchanged, json!({"public_key": ATTACKER_KEY})).await;
    assert!(refused.assert_problem(403).contains("CI job"), "{}", refused.text);
    app.post(&path, &ci_token, json!({"public_key": ATTACKER_KEY})).await.assert_problem(401);
    assert_eq!(keys_of(&app, &bot).await, 0);

    // A service's own token needs `identity.manage` for its own keys.
    let plain = app.create_service("plain-bot").await;
    let plain_token = app.create_token(&plain, 3600).await;
    let plain_path = format!("/api/v1/identities/{plain}/signing-keys");
    app.post(&plain_path, &plain_token, json!({"public_key": ATTACKER_KEY})).await.assert_problem(403);
    assert_eq!(keys_of(&app, &plain).await, 0);
    // With it (a token minted by the admin, not a CI exchange), it may.
    let admin_bot_token = app.create_token(&bot, 3600).await;
    app.post(&path, &admin_bot_token, json!({"public_key": ATTACKER_KEY})).await.assert_status(201);
    // Removing follows the same rule.
    let listed = app.get(&path, &app.admin_token).await;
    let key_id = listed.assert_status(200)[0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("{path}/{key_id}"), &exchanged).await.assert_problem(403);
    assert_eq!(keys_of(&app, &bot).await, 1);
}));

engine_test!(a_grant_manager_cannot_grant_itself_or_others_what_it_does_not_hold, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, Settings::default(), custom_roles()).await;
        let mallory = app.create_human("Mallory", "mallory@example.com").await;
        grant(&app, &mallory, "grant-manager", "*").await;
        let mallory_token = app.create_token(&mallory, 3600).await;
        let bob = app.create_human("Bob", "bob@example.com").await;
        let before = (grants_of(&app, &mallory).await, grants_of(&app, &bob).await);

        let attempts = [
            (&mallory, "admin", "*", "themselves"),
            (&mallory, "grant-manager", "project:acme/web", "themselves"),
            (&bob, "admin", "*", "`admin`"),
            (&bob, "deployer", "environment:acme/web:production", "`deployer`"),
            (&bob, "release-approver", "*", "`release-approver`"),
        ];
        for (target, role, scope, needle) in attempts {
            let body = json!({"identity_id": target, "role": role, "scope": scope});
            let refused = app.post("/api/v1/grants", &mallory_token, body).await;
            assert!(refused.assert_problem(403).contains(needle), "{role} over {scope}: {}", refused.text);
        }
        assert_eq!((grants_of(&app, &mallory).await, grants_of(&app, &bob).await), before);

        // What it holds, it may hand on, over a scope it covers.
        let body = json!({"identity_id": bob, "role": "grant-manager", "scope": "project:acme/web"});
        let granted = app.post("/api/v1/grants", &mallory_token, body).await.assert_status(201).clone();
        // And may not revoke what it could not have granted.
        let admin_grant = app.store.list_grants_of(app.admin_id).await.unwrap()[0].id;
        app.delete(&format!("/api/v1/grants/{admin_grant}"), &mallory_token).await.assert_problem(403);
        assert!(app.store.list_grants_of(app.admin_id).await.unwrap()[0].revoked_at.is_none());
        let id = granted["id"].as_str().unwrap();
        app.delete(&format!("/api/v1/grants/{id}"), &mallory_token).await.assert_status(200);
    }
));

engine_test!(an_identity_manager_mints_tokens_only_for_services_whose_grants_it_holds, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, Settings::default(), custom_roles()).await;
        let ivan = app.create_human("Ivan", "ivan@example.com").await;
        grant(&app, &ivan, "identity-manager", "*").await;
        let ivan_token = app.create_token(&ivan, 3600).await;
        let root_bot = app.create_service("root-bot").await;
        grant(&app, &root_bot, "admin", "*").await;
        let plain_bot = app.create_service("plain-bot").await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let mint = |identity: &str| json!({"identity_id": identity, "ttl_seconds": 600, "description": "x"});

        let refused = app.post("/api/v1/tokens", &ivan_token, mint(&root_bot)).await;
        assert!(refused.assert_problem(403).contains("`admin`"), "{}", refused.text);
        let refused = app.post("/api/v1/tokens", &ivan_token, mint(&ana)).await;
        assert!(refused.assert_problem(403).contains("admin"), "{}", refused.text);
        // Nor does a service, even an admin one: it has no second factor.
        let root_bot_token = app.create_token(&root_bot, 3600).await;
        let refused = app.post("/api/v1/tokens", &root_bot_token, mint(&ana)).await;
        assert!(refused.assert_problem(403).contains("person"), "{}", refused.text);
        assert_eq!((tokens_of(&app, &root_bot).await, tokens_of(&app, &ana).await), (1, 0));

        // A service holding nothing more than Ivan: allowed, and its minter recorded.
        let minted = app.post("/api/v1/tokens", &ivan_token, mint(&plain_bot)).await.assert_status(201).clone();
        let id = minted["id"].as_str().unwrap();
        let shown = app.get(&format!("/api/v1/tokens/{id}"), &app.admin_token).await;
        assert_eq!(shown.assert_status(200)["created_by"], ivan.as_str());
        let listed = app.get(&format!("/api/v1/tokens?identity_id={plain_bot}"), &app.admin_token).await;
        assert_eq!(listed.assert_status(200)["items"][0]["created_by"], ivan.as_str());

        // A trust binding, likewise: not to an admin service, not to a person.
        let bind = |identity: &str| {
            json!({"issuer": "https://token.actions.githubusercontent.com", "audience": AUDIENCE,
                "claims": {"repository_id": "1"}, "identity_id": identity, "max_ttl_seconds": 600})
        };
        let refused = app.post("/api/v1/trust-bindings", &ivan_token, bind(&root_bot)).await;
        assert!(refused.assert_problem(403).contains("`admin`"), "{}", refused.text);
        let refused = app.post("/api/v1/trust-bindings", &ivan_token, bind(&ana)).await;
        assert!(refused.assert_problem(409).contains("person"), "{}", refused.text);
        let bindings = app.get("/api/v1/trust-bindings", &app.admin_token).await;
        assert_eq!(bindings.assert_status(200)["items"].as_array().unwrap().len(), 0);
        app.post("/api/v1/trust-bindings", &ivan_token, bind(&plain_bot)).await.assert_status(201);

        // Nor a signing key for the admin service.
        let path = format!("/api/v1/identities/{root_bot}/signing-keys");
        app.post(&path, &ivan_token, json!({"public_key": ATTACKER_KEY})).await.assert_problem(403);
        assert_eq!(keys_of(&app, &root_bot).await, 0);
    }
));

engine_test!(a_token_for_another_person_needs_a_fresh_admin_and_never_names_an_admin, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, step_up()).await;
        let admin = app.admin_token.clone();
        let secret = enroll(&app, &admin).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let root = app.create_human("Root", "root@example.com").await;
        grant(&app, &root, "admin", "*").await;
        let mint = |identity: &str| json!({"identity_id": identity, "ttl_seconds": 600, "description": "x"});

        // Stale: refused with mfa-required, nothing minted.
        app.clock.advance(Duration::minutes(16));
        assert_mfa_required(&app.post("/api/v1/tokens", &admin, mint(&ana)).await);
        assert_eq!(tokens_of_fresh(&app, &secret, &ana).await, 0);

        // Fresh: minted, and the minter recorded in the token and its audit entry.
        let minted = app.post("/api/v1/tokens", &admin, mint(&ana)).await.assert_status(201).clone();
        let id = minted["id"].as_str().unwrap();
        let shown = app.get(&format!("/api/v1/tokens/{id}"), &admin).await;
        assert_eq!(shown.assert_status(200)["created_by"], app.admin_id.to_string());
        let size = app.audit_size().await;
        let entries = app.store.list_audit(0, u32::try_from(size).unwrap()).await.unwrap();
        let entry = entries.iter().rev().find(|e| e.record.action == "token.create").unwrap();
        assert_eq!(entry.record.details["created_by"], app.admin_id.to_string());
        assert_eq!(entry.record.details["identity_id"], ana.as_str());

        // Never for another admin.
        let refused = app.post("/api/v1/tokens", &admin, mint(&root)).await;
        assert!(refused.assert_problem(403).contains("another admin"), "{}", refused.text);
        assert_eq!(tokens_of(&app, &root).await, 0);
    }
));

/// Token count, after refreshing the admin's factor (listing needs none,
/// but the caller's next steps do).
async fn tokens_of_fresh(app: &TestApp, secret: &TotpSecret, identity: &str) -> usize {
    verify(app, &app.admin_token, secret).await;
    tokens_of(app, identity).await
}

engine_test!(an_mfa_reset_of_someone_holding_more_is_refused, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, step_up(), custom_roles()).await;
    enroll(&app, &app.admin_token).await;
    let ivan = app.create_human("Ivan", "ivan@example.com").await;
    grant(&app, &ivan, "identity-manager", "*").await;
    let rita = app.create_human("Rita", "rita@example.com").await;
    grant(&app, &rita, "release-approver", "environment:acme/web:production").await;
    let ivan_token = app.create_token(&ivan, 3600).await;
    let rita_token = app.create_token(&rita, 3600).await;
    enroll(&app, &rita_token).await;
    enroll(&app, &ivan_token).await;

    for target in [app.admin_id.to_string(), rita.clone()] {
        let refused = app.delete(&format!("/api/v1/identities/{target}/mfa"), &ivan_token).await;
        assert!(refused.assert_problem(403).contains("does not"), "{}", refused.text);
        assert!(app.store.mfa_find(target.parse().unwrap()).await.unwrap().is_some(), "the factor stays");
    }
}));

async fn status_of(app: &TestApp, identity: &str) -> String {
    let shown = app.get(&format!("/api/v1/identities/{identity}"), &app.admin_token).await;
    shown.assert_status(200)["status"].as_str().unwrap().to_owned()
}

/// The newest audit entry: a refusal must be recorded as one.
async fn last_audit(app: &TestApp) -> gatehouse_domain::audit::AuditRecord {
    let size = app.audit_size().await;
    app.store.list_audit(size - 1, 1).await.unwrap().remove(0).record
}

engine_test!(an_identity_manager_cannot_suspend_revive_deprovision_or_scim_link_someone_holding_more, |engine| {
    with_database(engine, |db| async move {
        let app = TestApp::with_policies(&db, Settings::default(), custom_roles()).await;
        let ivan = app.create_human("Ivan", "ivan@example.com").await;
        grant(&app, &ivan, "identity-manager", "*").await;
        grant(&app, &ivan, "developer", "project:acme/web").await;
        let ivan_token = app.create_token(&ivan, 3600).await;
        let root = app.create_human("Root", "root@example.com").await;
        grant(&app, &root, "admin", "*").await;
        let bot = app.create_service("approver-bot").await;
        grant(&app, &bot, "release-approver", "environment:acme/web:production").await;
        let dev = app.create_human("Dev", "dev@example.com").await;
        grant(&app, &dev, "developer", "project:acme/web").await;
        let suspend = |id: &str| format!("/api/v1/identities/{id}/suspend");
        let reactivate = |id: &str| format!("/api/v1/identities/{id}/reactivate");

        // Neither an admin nor a service holding a role Ivan lacks.
        for (target, held) in [(&root, "`admin`"), (&bot, "`release-approver`")] {
            let size = app.audit_size().await;
            let refused = app.post(&suspend(target), &ivan_token, json!({})).await;
            assert!(refused.assert_problem(403).contains(held), "{}", refused.text);
            let entry = last_audit(&app).await;
            assert_eq!((entry.action.as_str(), entry.outcome), ("identity.suspend", Outcome::Denied));
            assert_eq!(app.audit_size().await, size + 1, "only the refusal is recorded");
            let refused = app.delete(&format!("/api/v1/identities/{target}"), &ivan_token).await;
            assert!(refused.assert_problem(403).contains(held), "{}", refused.text);
            let entry = last_audit(&app).await;
            assert_eq!((entry.action.as_str(), entry.outcome), ("identity.deprovision", Outcome::Denied));
            assert_eq!(status_of(&app, target).await, "active");
            assert_eq!(grants_of(&app, target).await, 1, "its grants stay");
        }

        // Nor hand the admin to the SCIM provisioner.
        let refused = app.post(&format!("/api/v1/identities/{root}/scim"), &ivan_token, json!({})).await;
        assert!(refused.assert_problem(403).contains("`admin`"), "{}", refused.text);
        assert_eq!(last_audit(&app).await.outcome, Outcome::Denied);
        assert!(app.store.scim_find_user(root.parse().unwrap()).await.unwrap().is_none());
        app.post(&format!("/api/v1/identities/{dev}/scim"), &ivan_token, json!({})).await.assert_status(201);
        app.delete(&format!("/api/v1/identities/{dev}/scim"), &ivan_token).await.assert_status(204);

        // Nor revive an admin another admin suspended.
        app.post(&suspend(&root), &app.admin_token, json!({})).await.assert_status(200);
        let refused = app.post(&reactivate(&root), &ivan_token, json!({})).await;
        assert!(refused.assert_problem(403).contains("`admin`"), "{}", refused.text);
        assert_eq!(last_audit(&app).await.outcome, Outcome::Denied);
        assert_eq!(status_of(&app, &root).await, "suspended");

        // A developer whose grants Ivan holds: managed as before; himself: still not.
        app.post(&suspend(&dev), &ivan_token, json!({})).await.assert_status(200);
        app.post(&reactivate(&dev), &ivan_token, json!({})).await.assert_status(200);
        app.delete(&format!("/api/v1/identities/{dev}"), &ivan_token).await.assert_status(200);
        assert_eq!(status_of(&app, &dev).await, "deprovisioned");
        app.post(&suspend(&ivan), &ivan_token, json!({})).await.assert_problem(409);

        // An admin over `*` still manages everyone.
        app.post(&reactivate(&root), &app.admin_token, json!({})).await.assert_status(200);
        app.post(&suspend(&bot), &app.admin_token, json!({})).await.assert_status(200);
        app.post(&reactivate(&bot), &app.admin_token, json!({})).await.assert_status(200);
        app.delete(&format!("/api/v1/identities/{root}"), &app.admin_token).await.assert_status(200);
        app.delete(&format!("/api/v1/identities/{bot}"), &app.admin_token).await.assert_status(200);
        assert_eq!(
            (status_of(&app, &root).await, status_of(&app, &bot).await),
            ("deprovisioned".into(), "deprovisioned".into())
        );
    })
});

/// A browser session for `identity`, started as a login would.
async fn start_session(app: &TestApp, identity: &str) -> SessionId {
    let now = app.clock.now();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenSecret::generate().hash(),
        identity_id: identity.parse().unwrap(),
        created_at: now,
        expires_at: now + Duration::hours(2),
        source_ip: None,
    };
    let id = session.id;
    app.store.create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "test")).await.unwrap();
    id
}

engine_test!(an_identity_manager_cannot_end_the_session_of_someone_holding_more, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, Settings::default(), custom_roles()).await;
        let ivan = app.create_human("Ivan", "ivan@example.com").await;
        grant(&app, &ivan, "identity-manager", "*").await;
        let ivan_token = app.create_token(&ivan, 3600).await;
        let root = app.create_human("Root", "root@example.com").await;
        grant(&app, &root, "admin", "*").await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let (root_session, ana_session, own) =
            (start_session(&app, &root).await, start_session(&app, &ana).await, start_session(&app, &ivan).await);

        let refused = app.delete(&format!("/api/v1/sessions/{root_session}"), &ivan_token).await;
        assert!(refused.assert_problem(403).contains("`admin`"), "{}", refused.text);
        let entry = last_audit(&app).await;
        assert_eq!((entry.action.as_str(), entry.outcome), ("session.revoke", Outcome::Denied));
        let kept = app.store.find_session_by_id(root_session).await.unwrap().unwrap();
        assert_eq!(kept.revoked_at, None, "the admin stays signed in");

        app.delete(&format!("/api/v1/sessions/{ana_session}"), &ivan_token).await.assert_status(200);
        app.delete(&format!("/api/v1/sessions/{own}"), &ivan_token).await.assert_status(200);
        app.delete(&format!("/api/v1/sessions/{root_session}"), &app.admin_token).await.assert_status(200);
    }
));

engine_test!(a_signed_commit_to_pipeline_config_counts_its_registered_key_as_the_factor, |engine| with_database(
    engine,
    |db| async move {
        use gatehouse_testkit::git_repo::{GitSandbox, Signing};
        let app = TestApp::with_settings(&db, step_up()).await;
        enroll(&app, &app.admin_token).await;
        let sandbox = GitSandbox::new();
        let ana = app.create_human("Ana", "ana@example.com").await;
        grant(&app, &ana, "maintainer", "project:acme/web").await;
        let (key, public) = sandbox.ssh_key("ana");
        app.post(&format!("/api/v1/identities/{ana}/signing-keys"), &app.admin_token, json!({"public_key": public}))
            .await
            .assert_status(201);
        // Hours later, no session anywhere: the commit still verifies,
        // since only a fresh factor could have registered its key.
        app.clock.advance(Duration::hours(3));
        let commit = sandbox.commit(".github/workflows/ci.yml", "x", &Signing::Ssh(key));
        let body =
            json!({"commit": sandbox.cat(&commit), "project": "acme/web", "paths": [".github/workflows/ci.yml"]});
        let listed = app.get("/api/v1/identities", &app.admin_token).await;
        listed.assert_status(200);
        let verdict = app.post("/api/v1/verify/commit", &app.admin_token, body).await.assert_status(200).clone();
        assert_eq!(verdict["valid"], true, "{verdict}");
    }
));
