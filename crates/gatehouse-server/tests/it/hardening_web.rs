//! Issue 24, holes 6, 9, 10 and 11: each test performs the attack against
//! the HTTP API (both engines) and asserts it is refused and changes
//! nothing. Open redirects after SSO login, deployments approved from the
//! wrong branch, raced TOTP throttling, and webhook replays under a new
//! delivery id.

use axum::body::Body;
use axum::http::Request;
use axum::http::header::{LOCATION, SET_COOKIE};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::Outcome;
use gatehouse_domain::clock::Clock;
use gatehouse_mfa::{SealingKey, TotpSecret};
use gatehouse_server::integrations::{
    GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, GitlabSettings, Integrations, Secret,
};
use gatehouse_server::sso::OidcSettings;
use gatehouse_server::sso::cookies::LOGIN;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::github_standin::{GithubCall, GithubStandIn};
use gatehouse_testkit::oidc_issuer::TestKey;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_app, with_database};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::Duration;

// ---- hole 6: open redirect after SSO login --------------------------------

const SEALING_KEY: [u8; 32] = [7; 32];

/// Percent-encodes every byte but unreserved ones, as a link would carry
/// the attacker's `return_to`.
fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where the login in flight will send the browser after the callback: the
/// `return_to` sealed into the login cookie.
fn sealed_return_to(response: &TestResponse) -> String {
    let cookie = response
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{LOGIN}=")))
        .unwrap_or_else(|| panic!("no login cookie: {:?}", response.headers));
    let sealed = URL_SAFE_NO_PAD.decode(cookie.split(';').next().unwrap()).unwrap();
    let pending = SealingKey::from_bytes(SEALING_KEY).open(&sealed, "gatehouse-oidc-login").unwrap();
    serde_json::from_slice::<Value>(&pending).unwrap()["return_to"].as_str().unwrap().to_owned()
}

/// An identity provider that only publishes its discovery document: the
/// login's first leg needs nothing else.
async fn identity_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let document = json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(move || async move { axum::Json(document) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

engine_test!(sso_login_return_to_cannot_send_the_browser_to_another_host, |engine| with_database(
    engine,
    |db| async move {
        let issuer = identity_provider().await;
        let settings = Settings {
            oidc: Some(OidcSettings {
                issuer: issuer.clone(),
                client_id: "gatehouse".into(),
                client_secret: Secret::new("s"),
                redirect_url: "http://127.0.0.1:9/auth/callback".into(),
                auto_provision: false,
                session_idle: std::time::Duration::from_secs(60),
                session_absolute: std::time::Duration::from_secs(3600),
            }),
            mfa: MfaSettings { sealing_key: SealingKey::from_bytes(SEALING_KEY), ..MfaSettings::default() },
            ..gatehouse_testkit::test_settings()
        };
        let app = TestApp::with_settings(&db, settings).await;
        let login = |return_to: &str| {
            let uri = format!("/auth/login?return_to={}", query_encode(return_to));
            app.send(Request::get(uri).body(Body::empty()).unwrap())
        };
        // Each of these is a `Location` a browser resolves to another host
        // (`\` is `/`, tabs and newlines are dropped), or could become one.
        for attack in [
            "/\\evil.example/phish",
            "/\t/evil.example/",
            "//evil.example/",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "https://evil.example/",
            "//gatehouse@evil.example/",
            "/\r\nLocation: https://evil.example/",
        ] {
            let response = login(attack).await;
            assert_eq!(response.status.as_u16(), 303, "{attack:?}: {}", response.text);
            let location = response.headers[LOCATION].to_str().unwrap();
            assert!(location.starts_with(&format!("{issuer}/authorize?")), "{attack:?} went to {location}");
            assert!(!location.contains("evil"), "{attack:?} echoed in {location}");
            assert_eq!(sealed_return_to(&response), "/api/v1/whoami", "{attack:?}");
        }
        // A path on this server is kept.
        let kept = login("/ui/audit?action=deployment.execute").await;
        assert_eq!(sealed_return_to(&kept), "/ui/audit?action=deployment.execute");
    }
));

// ---- holes 9 and 11: GitHub and GitLab webhooks ---------------------------

const WEBHOOK_SECRET: &str = "webhook secret for hardening tests";
const GITLAB_TOKEN: &str = "gitlab token for hardening tests";
const APP_ID: &str = "4343";

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn forge_app(db: &gatehouse_testkit::TestDatabase) -> (TestApp, GithubStandIn) {
    let key = TestKey::rsa("app", 3);
    let standin = GithubStandIn::start(APP_ID, &key.public_pem).await;
    let settings = Settings {
        integrations: Integrations {
            github: Some(GithubSettings {
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                api_url: standin.url.clone(),
                app: Some(GithubAppSettings {
                    app_id: APP_ID.into(),
                    private_key_pem: Secret::new(String::from_utf8(key.private_pem(3)).unwrap()),
                }),
                actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
            }),
            gitlab: Some(GitlabSettings { webhook_token: Secret::new(GITLAB_TOKEN) }),
            ..Integrations::default()
        },
        ..gatehouse_testkit::test_settings()
    };
    (TestApp::with_settings(db, settings).await, standin)
}

async fn deliver_github(app: &TestApp, event: &str, delivery: &str, body: &str, signature: &str) -> TestResponse {
    app.send(
        Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

fn deployment(standin: &GithubStandIn, deployment_id: u64, deployment_ref: &str) -> Value {
    json!({
        "action": "requested",
        "environment": "production",
        "event": "push",
        "deployment_callback_url": format!("{}/repos/acme/web/actions/runs/{deployment_id}/deployment_protection_rule", standin.url),
        "deployment": {"id": deployment_id, "ref": deployment_ref, "sha": "abc123"},
        "repository": {"id": 123456, "full_name": "acme/web", "owner": {"id": 987, "login": "acme"}},
        "installation": {"id": 31},
    })
}

async fn bind(app: &TestApp, identity: &str, claims: Value) {
    app.post(
        "/api/v1/trust-bindings",
        &app.admin_token,
        json!({"issuer": GITHUB_ACTIONS_ISSUER, "audience": "gatehouse", "claims": claims, "identity_id": identity}),
    )
    .await
    .assert_status(201);
}

async fn decide(app: &TestApp, delivery: &str, event: &Value) -> Value {
    let body = event.to_string();
    deliver_github(app, "deployment_protection_rule", delivery, &body, &sign(&body)).await.assert_status(200).clone()
}

engine_test!(a_deployment_from_another_branch_is_not_approved_by_a_binding_for_main, |engine| with_database(
    engine,
    |db| async move {
        let (app, standin) = forge_app(&db).await;
        let bot = app.create_service("web-deployer").await;
        bind(&app, &bot, json!({"repository_id": "123456", "ref": "refs/heads/main", "environment": "production"}))
            .await;
        app.post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"}),
        )
        .await
        .assert_status(201);

        // The bot may deploy main.
        let main = decide(&app, "dep-1", &deployment(&standin, 1, "refs/heads/main")).await;
        assert_eq!(main["state"], "approved", "{main}");

        // The attack: the same repository and environment, another branch.
        let before = app.audit_size().await;
        let feature = decide(&app, "dep-2", &deployment(&standin, 2, "feature/steal-secrets")).await;
        assert_eq!(feature["state"], "rejected", "{feature}");
        let reason = feature["reasons"][0].as_str().unwrap();
        assert!(reason.contains("claim `ref` is `refs/heads/feature/steal-secrets`"), "{reason}");
        // The rejection is recorded, and no identity acted.
        let entries = app.store.list_audit(before, 10).await.unwrap();
        let decision = entries.iter().find(|e| e.record.action == "deployment.execute").unwrap();
        assert_eq!(decision.record.details["decision"], "deny");
        assert_eq!(decision.record.actor.id(), "system");

        // A bare `main` could be a tag named `main`: not proven to be the branch.
        let bare = decide(&app, "dep-3", &deployment(&standin, 3, "main")).await;
        assert_eq!(bare["state"], "rejected", "{bare}");
        // Another environment than the binding's.
        let mut staging = deployment(&standin, 4, "refs/heads/main");
        staging["environment"] = json!("staging");
        assert_eq!(decide(&app, "dep-4", &staging).await["state"], "rejected");

        // A condition the event cannot prove fails closed.
        let api_bot = app.create_service("api-deployer").await;
        bind(
            &app,
            &api_bot,
            json!({"repository_id": "555", "job_workflow_ref": "acme/api/.github/workflows/deploy.yml@refs/heads/main"}),
        )
        .await;
        app.post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": api_bot, "role": "deployer", "scope": "environment:acme/api:production"}),
        )
        .await
        .assert_status(201);
        let mut api = deployment(&standin, 5, "refs/heads/main");
        api["repository"] = json!({"id": 555, "full_name": "acme/api", "owner": {"id": 987, "login": "acme"}});
        api["deployment_callback_url"] =
            json!(format!("{}/repos/acme/api/actions/runs/5/deployment_protection_rule", standin.url));
        let unproven = decide(&app, "dep-5", &api).await;
        assert_eq!(unproven["state"], "rejected", "{unproven}");
        assert!(unproven["reasons"][0].as_str().unwrap().contains("proves no `job_workflow_ref`"), "{unproven}");

        // GitHub was told each verdict.
        let states: Vec<(u64, Value)> = standin
            .calls()
            .into_iter()
            .filter_map(|call| match call {
                GithubCall::ProtectionAnswer { run, body } => Some((run, body["state"].clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            states,
            vec![
                (1, json!("approved")),
                (2, json!("rejected")),
                (3, json!("rejected")),
                (4, json!("rejected")),
                (5, json!("rejected"))
            ]
        );
    }
));

engine_test!(a_signed_webhook_body_replayed_under_a_new_delivery_id_is_refused, |engine| with_database(
    engine,
    |db| async move {
        let (app, standin) = forge_app(&db).await;
        // GitHub: a push that changes pipeline configuration.
        let push = json!({
            "ref": "refs/heads/main", "before": "000", "after": "bbb",
            "repository": {"id": 123456, "full_name": "acme/web"},
            "commits": [{"id": "bbb", "author": {"name": "Bob"}, "added": [".github/workflows/release.yml"], "modified": [], "removed": []}],
        })
        .to_string();
        let signature = sign(&push);
        deliver_github(&app, "push", "d-1", &push, &signature).await.assert_status(200);
        let size = app.audit_size().await;
        // The attack: the captured body and signature, under fresh delivery ids.
        for fresh in ["d-2", "00000000-0000-0000-0000-000000000000", "D-1"] {
            let replay = deliver_github(&app, "push", fresh, &push, &signature).await;
            assert!(replay.assert_problem(409).contains("repeats the body of delivery `d-1`"), "{}", replay.text);
        }
        // Under another event name too: the body is what was signed.
        deliver_github(&app, "ping", "d-3", &push, &signature).await.assert_problem(409);
        assert_eq!(app.audit_size().await, size, "a replay changes nothing");

        // A deployment protection rule replayed is neither decided nor answered again.
        let bot = app.create_service("web-deployer").await;
        bind(&app, &bot, json!({"repository_id": "123456"})).await;
        let event = deployment(&standin, 8, "refs/heads/main").to_string();
        deliver_github(&app, "deployment_protection_rule", "p-1", &event, &sign(&event)).await.assert_status(200);
        let answers = standin.calls().len();
        let size = app.audit_size().await;
        deliver_github(&app, "deployment_protection_rule", "p-2", &event, &sign(&event)).await.assert_problem(409);
        assert_eq!(standin.calls().len(), answers, "GitHub is not called for a replay");
        assert_eq!(app.audit_size().await, size);

        // GitLab: the token authenticates the sender, not the body.
        let gitlab_push = json!({
            "object_kind": "push", "ref": "refs/heads/main", "before": "1", "after": "2",
            "project": {"id": 7, "path_with_namespace": "acme/api"},
            "commits": [{"id": "g1", "added": [], "modified": [".gitlab-ci.yml"], "removed": []}],
        })
        .to_string();
        let send_gitlab = |uuid: &str| {
            app.send(
                Request::post("/webhooks/gitlab")
                    .header("x-gitlab-event", "Push Hook")
                    .header("x-gitlab-event-uuid", uuid)
                    .header("x-gitlab-token", GITLAB_TOKEN)
                    .body(Body::from(gitlab_push.clone()))
                    .unwrap(),
            )
        };
        send_gitlab("u-1").await.assert_status(200);
        let size = app.audit_size().await;
        let replay = send_gitlab("u-2").await;
        assert!(replay.assert_problem(409).contains("repeats the body of delivery `u-1`"), "{}", replay.text);
        assert_eq!(app.audit_size().await, size);
        // A body differing by one byte is another delivery.
        let mut other = gitlab_push.clone();
        other.push(' ');
        let response = app
            .send(
                Request::post("/webhooks/gitlab")
                    .header("x-gitlab-event", "Push Hook")
                    .header("x-gitlab-event-uuid", "u-3")
                    .header("x-gitlab-token", GITLAB_TOKEN)
                    .body(Body::from(other))
                    .unwrap(),
            )
            .await;
        response.assert_status(200);
    }
));

// ---- hole 10: the TOTP throttle raced ------------------------------------

engine_test!(parallel_wrong_totp_codes_cannot_outrun_the_lock, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    let started = app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = |app: &TestApp| secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": code(&app)})).await.assert_status(200);
    app.clock.advance(Duration::seconds(60));
    let right = code(&app);
    let wrong = if right == "000000" { "111111" } else { "000000" };

    // The attack: 200 wrong codes at once.
    let before = app.audit_size().await;
    let guesses = (0..200).map(|_| app.post("/api/v1/mfa/verify", &token, json!({"code": wrong})));
    let answers = futures_util::future::join_all(guesses).await;
    let forbidden = answers.iter().filter(|a| a.status.as_u16() == 403).count();
    let throttled = answers.iter().filter(|a| a.status.as_u16() == 429).count();
    assert_eq!(forbidden + throttled, 200, "only refusals: {:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    // Evaluated codes are the 403s plus the one whose failure set the lock.
    assert!(forbidden < 5, "{forbidden} wrong codes were evaluated before the lock");
    let failures = app
        .store
        .list_audit(before, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.action == "mfa.verify" && e.record.outcome == Outcome::Failure)
        .count();
    assert!(failures <= 5, "{failures} codes were evaluated; the limit is 5");
    let stored = app.store.mfa_find(ana.parse().unwrap()).await.unwrap().unwrap();
    assert!(stored.failures <= 5, "{} failures counted", stored.failures);
    assert!(stored.is_locked_at(app.clock.now()));

    // The right code during the lockout is still refused, and not evaluated.
    let during = app.post("/api/v1/mfa/verify", &token, json!({"code": right})).await;
    during.assert_problem(429);
    assert!(during.headers.contains_key("retry-after"));
    // After the lock, the right code works.
    app.clock.advance(Duration::seconds(31));
    app.post("/api/v1/mfa/verify", &token, json!({"code": code(&app)})).await.assert_status(200);
}));
