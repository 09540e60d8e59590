//! Browser sessions: the cookie authenticates, changes need the server's
//! own Origin, the secret is rotated at MFA step-up, and sessions end when
//! idle, at their absolute end, or when revoked.

use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::NewSession;
use gatehouse_domain::token::TokenHash;
use gatehouse_mfa::TotpSecret;
use gatehouse_server::Settings;
use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

const ORIGIN: &str = "http://127.0.0.1:9";

fn settings() -> Settings {
    Settings {
        oidc: Some(OidcSettings {
            issuer: "http://127.0.0.1:8".into(),
            client_id: "gatehouse".into(),
            client_secret: Secret::new("s"),
            redirect_url: format!("{ORIGIN}/auth/callback"),
            auto_provision: false,
            session_idle: StdDuration::from_secs(30 * 60),
            session_absolute: StdDuration::from_secs(2 * 3600),
        }),
        ..gatehouse_testkit::test_settings()
    }
}

async fn start_session(app: &TestApp, identity: &str, secret: &str) -> SessionId {
    let now = app.clock.now();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenHash::of(secret),
        identity_id: identity.parse().unwrap(),
        created_at: now,
        expires_at: now + Duration::hours(2),
        source_ip: None,
    };
    let id = session.id;
    app.store.create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "test")).await.unwrap();
    id
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    secret: &str,
    origin: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    let mut request =
        Request::builder().method(method).uri(path).header("cookie", format!("gatehouse_session={secret}"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

fn set_cookie_secret(response: &TestResponse) -> Option<String> {
    let value = response.headers.get("set-cookie")?.to_str().ok()?;
    value.strip_prefix("gatehouse_session=")?.split(';').next().map(str::to_owned)
}

engine_test!(a_session_cookie_authenticates_with_origin_checks_and_rotation, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        start_session(&app, &ana, "first-secret").await;

        let me = with_cookie(&app, Method::GET, "/api/v1/whoami", "first-secret", None, None).await;
        assert_eq!(me.assert_status(200)["authentication"]["method"], "session");
        with_cookie(&app, Method::GET, "/api/v1/whoami", "another-secret", None, None).await.assert_problem(401);

        // A change by cookie needs this server's Origin.
        let forged = with_cookie(&app, Method::POST, "/api/v1/mfa/totp", "first-secret", None, Some(json!({}))).await;
        assert!(forged.assert_problem(403).contains("Origin"));
        let foreign = with_cookie(
            &app,
            Method::POST,
            "/api/v1/mfa/totp",
            "first-secret",
            Some("https://evil.example"),
            Some(json!({})),
        )
        .await;
        foreign.assert_problem(403);
        let started =
            with_cookie(&app, Method::POST, "/api/v1/mfa/totp", "first-secret", Some(ORIGIN), Some(json!({}))).await;
        let secret = TotpSecret::from_base32(started.assert_status(200)["secret"].as_str().unwrap()).unwrap();

        // Confirming the second factor rotates the session's secret.
        let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
        let confirmed = with_cookie(
            &app,
            Method::POST,
            "/api/v1/mfa/totp/confirm",
            "first-secret",
            Some(ORIGIN),
            Some(json!({"code": code})),
        )
        .await;
        confirmed.assert_status(200);
        let rotated = set_cookie_secret(&confirmed).expect("a new session cookie");
        assert_ne!(rotated, "first-secret");
        let cookie = confirmed.headers["set-cookie"].to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
            "{cookie}"
        );
        with_cookie(&app, Method::GET, "/api/v1/whoami", "first-secret", None, None).await.assert_problem(401);
        with_cookie(&app, Method::GET, "/api/v1/whoami", &rotated, None, None).await.assert_status(200);

        // Idle for longer than the idle timeout: the session has ended.
        app.clock.advance(Duration::minutes(31));
        assert!(
            with_cookie(&app, Method::GET, "/api/v1/whoami", &rotated, None, None)
                .await
                .assert_problem(401)
                .contains("ended")
        );
    }
));

engine_test!(sessions_end_at_their_absolute_end_and_when_revoked, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings()).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    start_session(&app, &ana, "secret").await;
    // Used every 20 minutes, it stays alive until its absolute end.
    for _ in 0..5 {
        app.clock.advance(Duration::minutes(20));
        with_cookie(&app, Method::GET, "/api/v1/whoami", "secret", None, None).await.assert_status(200);
        app.state.background.idle().await; // the use is recorded in the background
    }
    app.clock.advance(Duration::minutes(21));
    with_cookie(&app, Method::GET, "/api/v1/whoami", "secret", None, None).await.assert_problem(401);

    let other = start_session(&app, &ana, "second").await;
    let listed = app.get(&format!("/api/v1/identities/{ana}/sessions"), &app.admin_token).await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 2);
    app.delete(&format!("/api/v1/sessions/{other}"), &app.admin_token).await.assert_status(200);
    with_cookie(&app, Method::GET, "/api/v1/whoami", "second", None, None).await.assert_problem(401);
    app.delete(&format!("/api/v1/sessions/{other}"), &app.admin_token).await.assert_problem(404);
}));
