//! TOTP second factors over the API: enrollment, confirmation with
//! recovery codes, step-up for privileged actions, replay and throttling,
//! and an admin's reset.

use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, engine_test, with_app, with_database};
use serde_json::{Value, json};
use time::Duration;

fn code(app: &TestApp, secret: &TotpSecret) -> String {
    secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap())
}

/// Enrolls and confirms the token's owner; returns the secret and recovery codes.
async fn enroll(app: &TestApp, token: &str) -> (TotpSecret, Vec<String>) {
    let started = app.post("/api/v1/mfa/totp", token, json!({})).await;
    let started = started.assert_status(200).clone();
    assert!(started["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/gatehouse:"));
    assert!(started["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let confirmed = app.post("/api/v1/mfa/totp/confirm", token, json!({"code": code(app, &secret)})).await;
    let codes = confirmed.assert_status(200)["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

engine_test!(enrollment_confirmation_replay_and_recovery, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    let bot = app.create_service("bot").await;
    let bot_token = app.create_token(&bot, 3600).await;
    assert!(app.post("/api/v1/mfa/totp", &bot_token, json!({})).await.assert_problem(422).contains("people"));
    app.post("/api/v1/mfa/verify", &token, json!({"code": "123456"})).await.assert_problem(404);

    let started = app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let wrong = app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": "000000"})).await;
    assert!(wrong.assert_problem(403).contains("not valid"));
    let ok = app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": code(&app, &secret)})).await;
    let codes = ok.assert_status(200)["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_problem(409);

    // The secret is sealed at rest.
    let stored = app.store.mfa_find(ana.parse().unwrap()).await.unwrap().unwrap();
    assert!(!stored.sealed_secret.windows(secret.as_bytes().len()).any(|w| w == secret.as_bytes()));

    // The same code again is a replay; the next step's code works.
    let replay = app.post("/api/v1/mfa/verify", &token, json!({"code": code(&app, &secret)})).await;
    assert!(replay.assert_problem(409).contains("used already"));
    app.clock.advance(Duration::seconds(30));
    let fresh = app.post("/api/v1/mfa/verify", &token, json!({"code": code(&app, &secret)})).await;
    assert!(fresh.assert_status(200)["fresh_until"].is_string());
    let whoami = app.get("/api/v1/whoami", &token).await;
    assert_eq!(whoami.assert_status(200)["identity"]["id"], ana.as_str());

    // A recovery code works once.
    let recovery = codes[0].as_str().unwrap();
    app.post("/api/v1/mfa/verify", &token, json!({"recovery_code": recovery.to_uppercase()})).await.assert_status(200);
    app.post("/api/v1/mfa/verify", &token, json!({"recovery_code": recovery})).await.assert_problem(403);
    app.post("/api/v1/mfa/verify", &token, json!({"code": "1", "recovery_code": recovery})).await.assert_problem(422);
}));

engine_test!(failed_codes_are_throttled, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    let (secret, _) = enroll(&app, &token).await;
    app.clock.advance(Duration::seconds(60));
    for _ in 0..4 {
        app.post("/api/v1/mfa/verify", &token, json!({"code": "000000"})).await.assert_problem(403);
    }
    let locked = app.post("/api/v1/mfa/verify", &token, json!({"code": "000000"})).await;
    locked.assert_problem(429);
    assert_eq!(locked.headers["retry-after"], "30");
    // Even the right code waits out the lock.
    app.post("/api/v1/mfa/verify", &token, json!({"code": code(&app, &secret)})).await.assert_problem(429);
    app.clock.advance(Duration::seconds(31));
    app.post("/api/v1/mfa/verify", &token, json!({"code": code(&app, &secret)})).await.assert_status(200);
}));

fn step_up() -> Settings {
    Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..gatehouse_testkit::test_settings() }
}

engine_test!(privileged_actions_need_fresh_mfa_and_admins_reset_with_their_own, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, step_up()).await;
        let admin = app.admin_token.clone();
        let grant_body = |id: &str| json!({"identity_id": id, "role": "viewer", "scope": "*"});

        // Without a fresh factor, a person may not change who may do what.
        let refused = app
            .post("/api/v1/identities", &admin, json!({"kind": "human", "name": "Ana", "email": "ana@example.com"}))
            .await;
        assert_eq!(refused.status.as_u16(), 403);
        assert!(refused.body["type"].as_str().unwrap().ends_with("mfa-required"), "{}", refused.text);

        let (secret, _) = enroll(&app, &admin).await;
        let ana = app
            .post("/api/v1/identities", &admin, json!({"kind": "human", "name": "Ana", "email": "ana@example.com"}))
            .await;
        let ana = ana.assert_status(201)["id"].as_str().unwrap().to_owned();
        app.post("/api/v1/grants", &admin, grant_body(&ana)).await.assert_status(201);

        // Sixteen minutes on, it is stale again; a new code refreshes it.
        app.clock.advance(Duration::minutes(16));
        let stale = app.post("/api/v1/grants", &admin, grant_body(&ana)).await;
        assert!(stale.body["type"].as_str().unwrap().ends_with("mfa-required"));
        // Decisions see the freshness in their context.
        let decided: Value = app
            .post(
                "/api/v1/authorize",
                &admin,
                json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}}),
            )
            .await
            .assert_status(200)
            .clone();
        assert_eq!(decided["decision"], "allow");
        app.post("/api/v1/mfa/verify", &admin, json!({"code": code(&app, &secret)})).await.assert_status(200);
        app.post("/api/v1/grants", &admin, grant_body(&ana)).await.assert_status(201);

        // Ana enrolls; the admin resets her factor (fresh MFA of their own needed).
        let ana_token = app.create_token(&ana, 3600).await;
        enroll(&app, &ana_token).await;
        app.clock.advance(Duration::minutes(16));
        let reset = app.delete(&format!("/api/v1/identities/{ana}/mfa"), &admin).await;
        assert!(reset.body["type"].as_str().unwrap().ends_with("mfa-required"));
        app.post("/api/v1/mfa/verify", &admin, json!({"code": code(&app, &secret)})).await.assert_status(200);
        let reset = app.delete(&format!("/api/v1/identities/{ana}/mfa"), &admin).await;
        assert_eq!(reset.status.as_u16(), 204);
        app.delete(&format!("/api/v1/identities/{ana}/mfa"), &admin).await.assert_problem(404);
        app.post("/api/v1/mfa/totp", &ana_token, json!({})).await.assert_status(200);
    }
));

fn required() -> Settings {
    Settings { mfa: MfaSettings { required: true, ..MfaSettings::default() }, ..gatehouse_testkit::test_settings() }
}

engine_test!(a_person_without_a_second_factor_can_only_enroll, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, required()).await;
    // The admin enrolls first; then may act.
    let refused = app.get("/api/v1/identities", &app.admin_token).await;
    assert!(refused.body["type"].as_str().unwrap().ends_with("mfa-required"), "{}", refused.text);
    assert!(refused.assert_problem(403).contains("enroll a second factor first"));
    app.get("/api/v1/whoami", &app.admin_token).await.assert_status(200);
    enroll(&app, &app.admin_token).await;
    app.get("/api/v1/identities", &app.admin_token).await.assert_status(200);

    // Services are not people: no second factor for them.
    let bot = app.create_service("bot").await;
    let bot_token = app.create_token(&bot, 600).await;
    let ask = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
    app.post("/api/v1/authorize", &bot_token, ask.clone()).await.assert_status(200);
    let ana = app.create_human("Ana", "ana@example.com").await;
    let ana_token = app.create_token(&ana, 600).await;
    assert_eq!(app.post("/api/v1/authorize", &ana_token, ask.clone()).await.status.as_u16(), 403);
    enroll(&app, &ana_token).await;
    app.post("/api/v1/authorize", &ana_token, ask).await.assert_status(200);
}));
