//! Issue 24, hole 4: flooding the audit log. Each test performs the attack
//! (failed credentials by the thousand, forged tokens with long issuers,
//! pushes of thousands of dummy commits) and asserts what the log and the
//! answers may show for it; and `/metrics` behind a token.

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::auth_failures::{FailureLimits, MAX_ECHOED_BYTES};
use gatehouse_server::Settings;
use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_app, with_database};
use serde_json::json;

const ATTACKER: &str = "203.0.113.66:40000";

/// A request from `peer`, as `serve` would hand it to the router.
fn from(peer: &str, mut request: Request<Body>) -> Request<Body> {
    request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    request
}

fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()
}

/// A JWT-shaped token signed by nobody, naming `issuer`.
fn forged_jwt(issuer: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(json!({"iss": issuer, "aud": "x", "exp": 4_000_000_000u64}).to_string());
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))
}

/// The attack's request number `i`: garbage, a forged `gth_` token, a
/// forged CI token with an 11 KB issuer, or an unknown session cookie.
fn attack(i: usize) -> Request<Body> {
    match i % 4 {
        0 => bearer("/api/v1/whoami", &format!("garbage-{i}")),
        1 => bearer("/api/v1/whoami", &format!("gth_{:0>43}", i)),
        2 => {
            let issuer = format!("https://{}.example/{i}", "i".repeat(11 * 1024));
            Request::post("/api/v1/authorize")
                .header(header::AUTHORIZATION, format!("Bearer {}", forged_jwt(&issuer)))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "a/b:c"}})
                        .to_string(),
                ))
                .unwrap()
        }
        _ => Request::get("/api/v1/whoami")
            .header(header::COOKIE, format!("__Host-gatehouse_session=unknown-session-{i}"))
            .body(Body::empty())
            .unwrap(),
    }
}

fn with_sessions(settings: Settings) -> Settings {
    Settings {
        oidc: Some(OidcSettings {
            issuer: "https://idp.example".into(),
            client_id: "gatehouse".into(),
            client_secret: Secret::new("secret"),
            redirect_url: "https://gatehouse.example/auth/callback".into(),
            auto_provision: false,
            session_idle: StdDuration::from_secs(3600),
            session_absolute: StdDuration::from_secs(7200),
        }),
        ..settings
    }
}

/// The log's entries from `before` on, and their leaf bytes in all.
async fn growth(app: &TestApp, before: u64) -> (usize, usize) {
    let entries = app.store.list_audit(before, 1000).await.unwrap();
    (entries.len(), entries.iter().map(|e| e.leaf_bytes().len()).sum())
}

#[track_caller]
fn assert_throttled(response: &TestResponse) {
    response.assert_problem(429);
    let retry: u64 = response.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

engine_test!(a_credentialless_flood_of_10000_requests_grows_the_log_by_a_few_kilobytes, |engine| {
    with_database(engine, |database| async move {
        let app = TestApp::with_settings(&database, with_sessions(Settings::default())).await;
        let before = app.audit_size().await;
        let (mut unauthorized, mut throttled) = (0, 0);
        for i in 0..10_000 {
            let response = app.send(from(ATTACKER, attack(i))).await;
            match response.status.as_u16() {
                401 => unauthorized += 1,
                429 => {
                    assert_throttled(&response);
                    throttled += 1;
                }
                other => panic!("request {i}: {other} {}", response.text),
            }
            // A legitimate client keeps working during it, from the same
            // address as well as from another.
            if i % 500 == 0 {
                for peer in [ATTACKER, "198.51.100.5:5000"] {
                    let me = app.send(from(peer, bearer("/api/v1/whoami", &app.admin_token))).await;
                    me.assert_status(200);
                }
            }
        }
        assert_eq!(unauthorized, 10, "the limit's worth of 401s, then 429");
        assert_eq!(throttled, 9_990);

        // During the window: the first failure only.
        let (entries, _) = growth(&app, before).await;
        assert_eq!(entries, 1);
        // The window closes: one summary with the count.
        app.clock.advance(time::Duration::minutes(1));
        assert_eq!(app.state.auth_failures.flush_closed(&app.state).await.unwrap(), 1);
        let (entries, bytes) = growth(&app, before).await;
        assert_eq!(entries, 2);
        assert!(bytes < 4096, "the flood wrote {bytes} bytes");
        let summary = &app.store.list_audit(before + 1, 1).await.unwrap()[0].record;
        assert_eq!(summary.action, "auth.failures");
        assert_eq!(summary.details["failures"], 9_999);
        assert_eq!(summary.details["throttled"], 9_990);
        assert_eq!(summary.origin.source_ip.as_deref(), Some("203.0.113.66"));
        assert_eq!(app.state.auth_failures.tracked_counts(), (0, 0), "nothing is held once written");
    })
});

engine_test!(a_stolen_token_guessed_from_many_addresses_is_throttled_as_a_credential, |engine| {
    with_app(engine, |app| async move {
        let forged = format!("gth_{}", "B".repeat(43));
        let limit = FailureLimits::default().limit as usize;
        for i in 0..limit {
            let response = app.send(from(&format!("198.51.100.{i}:1000"), bearer("/api/v1/whoami", &forged))).await;
            response.assert_problem(401);
        }
        let response = app.send(from("192.0.2.200:1000", bearer("/api/v1/whoami", &forged))).await;
        assert_throttled(&response);
        // Another credential from that address is not.
        let other = app.send(from("192.0.2.200:1000", bearer("/api/v1/whoami", "gth_nothing"))).await;
        other.assert_problem(401);
    })
});

engine_test!(a_forged_ci_tokens_long_issuer_is_capped_in_the_log, |engine| {
    with_app(engine, |app| async move {
        let before = app.audit_size().await;
        let issuer = format!("https://{}.example", "e".repeat(11 * 1024));
        let response = app
            .send(from(
                ATTACKER,
                Request::post("/api/v1/auth/workload")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"token": forged_jwt(&issuer)}).to_string()))
                    .unwrap(),
            ))
            .await;
        assert!(response.assert_problem(401).len() < MAX_ECHOED_BYTES + 100);
        let entries = app.store.list_audit(before, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].record.action, "auth.workload");
        assert!(entries[0].record.reason.len() <= MAX_ECHOED_BYTES, "{}", entries[0].record.reason.len());
        assert!(entries[0].leaf_bytes().len() < 1024);
    })
});

engine_test!(the_summary_of_a_quiet_window_is_written_by_the_flush_and_at_shutdown, |engine| {
    with_app(engine, |app| async move {
        let before = app.audit_size().await;
        for i in 0..3 {
            app.send(from(ATTACKER, bearer("/api/v1/whoami", &format!("junk{i}")))).await.assert_problem(401);
        }
        assert_eq!(app.audit_size().await, before + 1);
        // Not closed yet: nothing to flush.
        assert_eq!(app.state.auth_failures.flush_closed(&app.state).await.unwrap(), 0);
        // Shutdown writes what is open.
        assert_eq!(app.state.auth_failures.flush_all(&app.state).await.unwrap(), 1);
        let summary = &app.store.list_audit(before + 1, 1).await.unwrap()[0].record;
        assert_eq!(summary.details["failures"], 2);
    })
});

fn dummy_commits(count: usize) -> serde_json::Value {
    let commit =
        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor a <a@b> 0 +0000\ncommitter a <a@b> 0 +0000\n\nx\n";
    json!((0..count).map(|i| json!({"id": format!("{i:040x}"), "commit": commit, "paths": []})).collect::<Vec<_>>())
}

engine_test!(a_push_of_20000_dummy_commits_is_refused_and_a_push_is_one_entry, |engine| {
    with_app(engine, |app| async move {
        let before = app.audit_size().await;
        let too_many = app
            .post(
                "/api/v1/verify/push",
                &app.admin_token,
                json!({"project": "acme/web", "commits": dummy_commits(20_000)}),
            )
            .await;
        assert!(too_many.assert_problem(413).contains("at most 1000 commits"));
        let just_over = app
            .post(
                "/api/v1/verify/push",
                &app.admin_token,
                json!({"project": "acme/web", "commits": dummy_commits(1_001)}),
            )
            .await;
        just_over.assert_problem(413);
        assert_eq!(app.audit_size().await, before, "a refused push writes nothing");

        let answer = app
            .post(
                "/api/v1/verify/push",
                &app.admin_token,
                json!({"project": "acme/web", "ref": "refs/heads/main", "commits": dummy_commits(1_000)}),
            )
            .await;
        let answer = answer.assert_status(200);
        assert_eq!(answer["commits"].as_array().unwrap().len(), 1_000, "the answer has every verdict");
        let (entries, bytes) = growth(&app, before).await;
        assert_eq!(entries, 1, "one entry per push");
        assert!(bytes < 32 * 1024, "a push's entry is bounded: {bytes} bytes");
        let entry = &app.store.list_audit(before, 1).await.unwrap()[0].record;
        assert_eq!(entry.action, "push.verify");
        assert_eq!(entry.details["commits"], 1_000);
        assert_eq!(entry.details["refused"], 1_000);
        assert_eq!(entry.details["verdicts"].as_array().unwrap().len(), 100);
        assert_eq!(entry.details["verdicts_not_listed"], 900);
    })
});

engine_test!(metrics_need_a_token_allowed_to_read_the_audit_log_when_configured, |engine| {
    with_database(engine, |database| async move {
        let settings = Settings { metrics_require_token: true, ..Settings::default() };
        let app = TestApp::with_settings(&database, settings).await;
        app.call(Method::GET, "/metrics", None, None).await.assert_problem(401);
        let bot = app.create_service("nosy-bot").await;
        let nosy = app.create_token(&bot, 3600).await;
        app.get("/metrics", &nosy).await.assert_problem(403);
        let metrics = app.get("/metrics", &app.admin_token).await;
        assert_eq!(metrics.status.as_u16(), 200, "{}", metrics.text);
        assert!(metrics.text.contains("gatehouse_http_requests_total"), "{}", metrics.text);
    })
});

engine_test!(metrics_stay_open_when_no_token_is_required, |engine| with_app(engine, |app| async move {
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status.as_u16(), 200, "{}", metrics.text);
}));

engine_test!(bodies_beyond_their_routes_limit_are_refused_and_only_push_and_blob_take_64_mib, |engine| {
    with_app(engine, |app| async move {
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        for path in
            ["/api/v1/identities", "/api/v1/authorize", "/api/v1/tokens", "/api/v1/verify/commit", "/scim/v2/Users"]
        {
            let request = Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(big.clone()))
                .unwrap();
            let response = app.send(request).await;
            assert_eq!(response.status.as_u16(), 413, "{path}: {}", response.text);
            if path.starts_with("/api/") {
                response.assert_problem(413);
            }
        }
        let push =
            format!("{{\"project\": \"acme/web\", \"commits\": [], \"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let request = Request::post("/api/v1/verify/push")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(push))
            .unwrap();
        let response = app.send(request).await;
        assert_ne!(response.status.as_u16(), 413, "a push may be large: {}", response.text);
    })
});

engine_test!(a_throttled_source_gets_no_signature_checks_while_other_sources_do, |engine| {
    with_app(engine, |app| async move {
        use gatehouse_domain::clock::Clock;
        use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
        const AUDIENCE: &str = "https://gatehouse.example.com";
        let key = TestKey::rsa("k1", 0);
        let impostor = TestKey::rsa("k1", 1);
        let issuer = TestIssuer::start(&[&key]).await;
        let bot = app.create_service("deploy-bot").await;
        app.post(
            "/api/v1/trust-bindings",
            &app.admin_token,
            json!({"issuer": issuer.url, "audience": AUDIENCE, "claims": {"repository_id": "123456"}, "identity_id": bot}),
        )
        .await
        .assert_status(201);
        let exchange = |token: String, peer: &'static str| {
            from(
                peer,
                Request::post("/api/v1/auth/workload")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(json!({"token": token}).to_string()))
                    .unwrap(),
            )
        };
        let claims = issuer.claims(AUDIENCE, app.clock.now());
        // RS256 forgeries under the issuer's kid: each needs a signature check
        // until the source is throttled.
        let limit = FailureLimits::default().limit as usize;
        for i in 0..limit {
            let mut forged = claims.clone();
            forged["run_id"] = json!(i.to_string());
            let response = app.send(exchange(impostor.sign(&forged), ATTACKER)).await;
            assert!(response.assert_problem(401).contains("signature does not verify"), "{}", response.text);
        }
        let mut forged = claims.clone();
        forged["run_id"] = json!("next");
        assert_throttled(&app.send(exchange(impostor.sign(&forged), ATTACKER)).await);

        // A genuine token never seen before is not even checked from there…
        let mut fresh = claims.clone();
        fresh["run_id"] = json!("fresh");
        assert_throttled(&app.send(exchange(key.sign(&fresh), ATTACKER)).await);
        // …but is from elsewhere.
        app.send(exchange(key.sign(&fresh), "198.51.100.5:5000")).await.assert_status(200);
    })
});

const WEBHOOK_SECRET: &str = "webhook secret of the flood tests";
const GITLAB_TOKEN: &str = "gitlab token of the flood tests";

fn with_webhooks(settings: Settings) -> Settings {
    use gatehouse_server::integrations::{GITHUB_ACTIONS_ISSUER, GithubSettings, GitlabSettings, Integrations};
    Settings {
        integrations: Integrations {
            github: Some(GithubSettings {
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                api_url: "http://127.0.0.1:9".into(),
                app: None,
                actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
            }),
            gitlab: Some(GitlabSettings { webhook_token: Secret::new(GITLAB_TOKEN) }),
            ..Integrations::default()
        },
        ..settings
    }
}

fn github_delivery(delivery: &str, body: &str, signature: &str) -> Request<Body> {
    Request::post("/webhooks/github")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-github-event", "ping")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn github_signature(body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

engine_test!(two_thousand_forged_webhooks_grow_the_log_by_two_entries_and_signed_ones_still_pass, |engine| {
    with_database(engine, |database| async move {
        let app = TestApp::with_settings(&database, with_webhooks(Settings::default())).await;
        let before = app.audit_size().await;
        let limit = FailureLimits::default().limit as usize;
        let body = json!({"zen": "forged", "hook_id": 1}).to_string();
        for i in 0..2_000 {
            let forged = github_delivery(&format!("forged-{i}"), &body, &format!("sha256={:064x}", i));
            let response = app.send(from(ATTACKER, forged)).await;
            if i < limit {
                assert!(response.assert_problem(401).contains("does not match"), "{}", response.text);
            } else {
                assert_throttled(&response);
            }
        }
        // Forged GitLab tokens count against the same source.
        let forged_gitlab = Request::post("/webhooks/gitlab")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-gitlab-token", "guessed")
            .body(Body::from("{}"))
            .unwrap();
        assert_throttled(&app.send(from(ATTACKER, forged_gitlab)).await);
        assert_eq!(growth(&app, before).await.0, 1, "the first refusal only, during the window");

        // A correctly signed delivery from the same source still works.
        let genuine = json!({"zen": "genuine", "hook_id": 1}).to_string();
        let response =
            app.send(from(ATTACKER, github_delivery("genuine-1", &genuine, &github_signature(&genuine)))).await;
        assert_eq!(response.status.as_u16(), 200, "{}", response.text);
        let gitlab = Request::post("/webhooks/gitlab")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-gitlab-token", GITLAB_TOKEN)
            .header("x-gitlab-event", "System Hook")
            .body(Body::from("{\"object_kind\": \"ping\"}"))
            .unwrap();
        let response = app.send(from(ATTACKER, gitlab)).await;
        assert_eq!(response.status.as_u16(), 200, "{}", response.text);

        assert_eq!(app.state.auth_failures.flush_all(&app.state).await.unwrap(), 1);
        let entries = app.store.list_audit(before, 100).await.unwrap();
        let refusals: Vec<_> = entries.iter().filter(|e| e.record.actor.id() == "anonymous").collect();
        assert_eq!(refusals.len(), 2, "one refusal and one summary");
        assert!(refusals.iter().map(|e| e.leaf_bytes().len()).sum::<usize>() < 4096);
        assert_eq!(refusals[0].record.action, "webhook.github");
        assert_eq!(refusals[1].record.action, "auth.failures");
        assert_eq!(refusals[1].record.details["failures"], 2_000);
        assert_eq!(entries.len(), 4, "and the two genuine deliveries");
    })
});

engine_test!(two_thousand_forged_sso_callbacks_grow_the_log_by_two_entries, |engine| {
    with_database(engine, |database| async move {
        let app = TestApp::with_settings(&database, with_sessions(Settings::default())).await;
        let before = app.audit_size().await;
        let limit = FailureLimits::default().limit as usize;
        for i in 0..2_000 {
            let forged = Request::get(format!("/auth/callback?code=code-{i}&state=state-{i}"))
                .header(header::COOKIE, format!("__Host-gatehouse_login=forged-{i}"))
                .body(Body::empty())
                .unwrap();
            let response = app.send(from(ATTACKER, forged)).await;
            if i < limit {
                assert!(response.assert_problem(401).contains("no login in progress"), "{}", response.text);
            } else {
                assert_throttled(&response);
            }
        }
        assert_eq!(growth(&app, before).await.0, 1);
        // Another source is refused as before, on its own count.
        let other = Request::get("/auth/callback?code=c&state=s").body(Body::empty()).unwrap();
        app.send(from("198.51.100.5:5000", other)).await.assert_problem(401);
        // A token holder is not affected.
        app.send(from(ATTACKER, bearer("/api/v1/whoami", &app.admin_token))).await.assert_status(200);

        app.clock.advance(time::Duration::minutes(1));
        app.state.auth_failures.flush_all(&app.state).await.unwrap();
        let entries = app.store.list_audit(before, 100).await.unwrap();
        assert_eq!(entries.len(), 3, "a refusal per source and one summary");
        let summary = entries.iter().find(|e| e.record.action == "auth.failures").unwrap();
        assert_eq!(summary.record.details["failures"], 1_999);
        assert!(entries.iter().map(|e| e.leaf_bytes().len()).sum::<usize>() < 4096);
    })
});

engine_test!(oversized_scim_and_webhook_bodies_are_refused_with_413_in_their_error_format, |engine| {
    with_database(engine, |database| async move {
        let app = TestApp::with_settings(&database, with_webhooks(Settings::default())).await;
        let big = format!("{{\"userName\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        for path in ["/scim/v2/Users", "/scim/v2/Groups", "/scim/v2/.search", "/scim/v2/Users/.search"] {
            let request = Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(Body::from(big.clone()))
                .unwrap();
            let response = app.send(request).await;
            assert_eq!(response.status.as_u16(), 413, "{path}: {}", response.text);
            assert_eq!(response.headers[header::CONTENT_TYPE], "application/scim+json", "{path}");
            assert_eq!(response.body["status"], "413", "{path}: {}", response.text);
            assert_eq!(response.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{path}");
        }
        for path in ["/webhooks/github", "/webhooks/gitlab"] {
            let request = Request::post(path)
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-gitlab-token", GITLAB_TOKEN)
                .body(Body::from(big.clone()))
                .unwrap();
            let response = app.send(from(ATTACKER, request)).await;
            response.assert_problem(413);
        }
    })
});
