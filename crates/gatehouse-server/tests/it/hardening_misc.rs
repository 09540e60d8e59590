//! Attacks from issue 24's smaller items, each performed and refused: a CI
//! token exchanged twice, a client choosing the audit entry's request id,
//! outbound fetches aimed at loopback, and the IdP's discovery fetched on
//! every login.

use gatehouse_domain::clock::Clock;
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{engine_test, with_app};
use serde_json::json;

use crate::workload::{AUDIENCE, bound_bot};

engine_test!(a_ci_token_exchanged_a_second_time_is_refused, |engine| with_app(engine, |app| async move {
    let key = TestKey::rsa("k1", 0);
    let issuer = TestIssuer::start(&[&key]).await;
    let (bot, _) = bound_bot(&app, &issuer.url).await;
    let exchange = |token: String| {
        let app = &app;
        async move { app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": token}))).await }
    };
    let tokens_of_bot = || async {
        let listed = app.get(&format!("/api/v1/tokens?identity_id={bot}"), &app.admin_token).await;
        listed.assert_status(200)["items"].as_array().unwrap().len()
    };

    // With a `jti`: the same id is one use, even re-signed.
    let mut claims = issuer.claims(AUDIENCE, app.clock.now());
    claims["jti"] = json!("job-42-token-1");
    let ci_token = key.sign(&claims);
    exchange(ci_token.clone()).await.assert_status(200);
    assert_eq!(tokens_of_bot().await, 1);
    let before = app.audit_size().await;
    let replayed = exchange(ci_token.clone()).await;
    assert!(replayed.assert_problem(401).contains("exchanged before"), "{}", replayed.text);
    claims["run_id"] = json!("43");
    exchange(key.sign(&claims)).await.assert_problem(401);
    assert_eq!(tokens_of_bot().await, 1, "a replay mints no token");
    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries.len(), 2, "each refused replay is one audit entry");
    for entry in entries {
        assert_eq!((entry.record.action.as_str(), entry.record.outcome.as_str()), ("auth.workload", "failure"));
        assert!(entry.record.reason.contains("exchanged before"), "{}", entry.record.reason);
    }

    // Without a `jti`: the token itself is the use.
    let plain = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));
    exchange(plain.clone()).await.assert_status(200);
    exchange(plain).await.assert_problem(401);
    assert_eq!(tokens_of_bot().await, 2);

    // A token that would have to be remembered for more than a day is not exchanged.
    let mut long = issuer.claims(AUDIENCE, app.clock.now());
    long["exp"] = json!(app.clock.now().unix_timestamp() + 2 * 24 * 3600);
    long["jti"] = json!("long-lived");
    assert!(exchange(key.sign(&long)).await.assert_problem(401).contains("24 hours"));
    assert_eq!(tokens_of_bot().await, 2);
}));

engine_test!(a_client_cannot_set_the_audit_entrys_request_id, |engine| with_app(engine, |app| async move {
    use axum::body::Body;
    use axum::http::Request;
    let taken = gatehouse_domain::ids::RequestId::new().to_string();
    let send = |client_id: String, name: &'static str| {
        let app = &app;
        async move {
            let request = Request::post("/api/v1/identities")
                .header("authorization", format!("Bearer {}", app.admin_token))
                .header("content-type", "application/json")
                .header("x-request-id", client_id)
                .body(Body::from(json!({"kind": "service", "name": name}).to_string()))
                .unwrap();
            let before = app.audit_size().await;
            let response = app.send(request).await;
            let entry = app.store.list_audit(before, 1).await.unwrap().remove(0);
            (response.headers["x-request-id"].to_str().unwrap().to_owned(), entry)
        }
    };
    // A client naming another request's id (to blend its actions into it).
    let (own, entry) = send(taken.clone(), "bot-1").await;
    assert_ne!(own, taken);
    assert_eq!(entry.record.origin.request_id.as_deref(), Some(own.as_str()));
    assert_eq!(entry.record.details["client_request_id"], taken.as_str());
    // Twice the same client id: two different request ids.
    let (again, entry) = send(taken.clone(), "bot-2").await;
    assert_ne!(again, own);
    assert_eq!(entry.record.origin.request_id.as_deref(), Some(again.as_str()));
    // An id with odd characters or too long is not kept at all.
    for odd in ["a\"b", "z".repeat(65).as_str(), "x y"] {
        let request = Request::get("/api/v1/whoami")
            .header("authorization", "Bearer gth_nope")
            .header("x-request-id", odd)
            .body(Body::empty())
            .unwrap();
        let before = app.audit_size().await;
        app.send(request).await.assert_problem(401);
        for entry in app.store.list_audit(before, 10).await.unwrap() {
            assert!(entry.record.details.get("client_request_id").is_none(), "{odd:?} kept");
            assert_ne!(entry.record.origin.request_id.as_deref(), Some(odd));
        }
    }
}));

engine_test!(outbound_fetches_to_loopback_are_refused_by_default, |engine| gatehouse_testkit::with_database(
    engine,
    |db| async move {
        // An admin (or whoever tricks one) binds an "issuer" that is really a
        // service on this host: gatehouse must not fetch from it.
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let app = gatehouse_testkit::TestApp::with_settings(&db, gatehouse_server::Settings::default()).await;
        bound_bot(&app, &issuer.url).await;
        let ci_token = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));
        let refused =
            app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": ci_token}))).await;
        let detail = refused.assert_problem(503).to_owned();
        assert!(detail.contains("loopback") && detail.contains("allow_loopback"), "{detail}");
        assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (0, 0), "nothing was fetched");
    }
));

engine_test!(a_provider_named_by_a_name_resolving_to_loopback_is_refused, |engine| gatehouse_testkit::with_database(
    engine,
    |db| async move {
        // `localhost` resolves to loopback: refused where the name resolves.
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let by_name = issuer.url.replace("127.0.0.1", "localhost");
        let sso = gatehouse_server::Settings {
            oidc: Some(gatehouse_server::sso::OidcSettings {
                issuer: by_name,
                client_id: "gatehouse".into(),
                client_secret: gatehouse_server::integrations::Secret::new("s"),
                redirect_url: "http://127.0.0.1:9/auth/callback".into(),
                auto_provision: false,
                session_idle: std::time::Duration::from_secs(60),
                session_absolute: std::time::Duration::from_secs(3600),
            }),
            ..gatehouse_server::Settings::default()
        };
        let app = gatehouse_testkit::TestApp::with_settings(&db, sso).await;
        let login = app.call(axum::http::Method::GET, "/auth/login", None, None).await;
        let detail = login.assert_problem(503).to_owned();
        assert!(detail.contains("loopback") && !detail.contains("127.0.0.1"), "{detail}");
        assert_eq!(issuer.discovery_fetches(), 0);
    }
));

engine_test!(logins_share_one_fetch_of_the_discovery_document, |engine| gatehouse_testkit::with_database(
    engine,
    |db| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let settings = gatehouse_server::Settings {
            oidc: Some(gatehouse_server::sso::OidcSettings {
                issuer: issuer.url.clone(),
                client_id: "gatehouse".into(),
                client_secret: gatehouse_server::integrations::Secret::new("s"),
                redirect_url: "http://127.0.0.1:9/auth/callback".into(),
                auto_provision: false,
                session_idle: std::time::Duration::from_secs(60),
                session_absolute: std::time::Duration::from_secs(3600),
            }),
            ..gatehouse_testkit::test_settings()
        };
        let app = gatehouse_testkit::TestApp::with_settings(&db, settings).await;
        for _ in 0..3 {
            let login = app.call(axum::http::Method::GET, "/auth/login", None, None).await;
            assert_eq!(login.status.as_u16(), 303, "{}", login.text);
            let location = login.headers["location"].to_str().unwrap();
            assert!(location.starts_with(&format!("{}/authorize?", issuer.url)), "{location}");
        }
        assert_eq!(issuer.discovery_fetches(), 1, "three logins, one discovery fetch");
    }
));

engine_test!(a_session_cookie_without_the_host_prefix_is_ignored_where_cookies_are_secure, |engine| {
    gatehouse_testkit::with_database(engine, |db| async move {
        use axum::body::Body;
        use axum::http::Request;
        use gatehouse_domain::audit::{Actor, AuditRecord};
        use gatehouse_domain::ids::SessionId;
        use gatehouse_domain::session::NewSession;
        use gatehouse_domain::token::TokenHash;
        let settings = gatehouse_server::Settings {
            oidc: Some(gatehouse_server::sso::OidcSettings {
                issuer: "https://idp.example.com".into(),
                client_id: "gatehouse".into(),
                client_secret: gatehouse_server::integrations::Secret::new("s"),
                redirect_url: "https://gatehouse.example.com/auth/callback".into(),
                auto_provision: false,
                session_idle: std::time::Duration::from_secs(3600),
                session_absolute: std::time::Duration::from_secs(7200),
            }),
            ..gatehouse_testkit::test_settings()
        };
        let app = gatehouse_testkit::TestApp::with_settings(&db, settings).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let now = app.clock.now();
        let secret = "a-session-secret-of-ana";
        let session = NewSession {
            id: SessionId::new(),
            hash: TokenHash::of(secret),
            identity_id: ana.parse().unwrap(),
            created_at: now,
            expires_at: now + time::Duration::hours(1),
            source_ip: None,
        };
        app.store
            .create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "test"))
            .await
            .unwrap();
        let whoami = |cookie: String| {
            let app = &app;
            async move {
                let request = Request::get("/api/v1/whoami").header("cookie", cookie).body(Body::empty()).unwrap();
                app.send(request).await
            }
        };
        // A cookie planted without the prefix (by a sibling subdomain or a
        // plain-http response) is not the session cookie.
        whoami(format!("gatehouse_session={secret}")).await.assert_problem(401);
        let shown = whoami(format!("__Host-gatehouse_session={secret}")).await;
        assert_eq!(shown.assert_status(200)["identity"]["id"], ana.as_str(), "{}", shown.text);
    })
});
