//! CI workload identity: trust bindings, the token exchange, CI tokens as
//! the bearer of decisions, and every way a token can be wrong.

use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::clock::Clock;
use gatehouse_server::Settings;
use gatehouse_server::workload::JwksSettings;
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{TestApp, engine_test, with_app, with_database};
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

pub(crate) const AUDIENCE: &str = "https://gatehouse.example.com";

/// A service identity `deploy-bot` bound to `acme/web` on `main`, holding
/// `deployer` on production.
pub(crate) async fn bound_bot(app: &TestApp, issuer: &str) -> (String, String) {
    let bot = app.create_service("deploy-bot").await;
    let binding = app
        .post(
            "/api/v1/trust-bindings",
            &app.admin_token,
            json!({
                "issuer": issuer,
                "audience": AUDIENCE,
                "claims": {"repository_id": "123456", "ref": "refs/heads/main", "job_workflow_ref": "acme/web/.github/workflows/*@refs/heads/main"},
                "identity_id": bot,
                "max_ttl_seconds": 600,
            }),
        )
        .await;
    let binding_id = binding.assert_status(201)["id"].as_str().unwrap().to_owned();
    app.post(
        "/api/v1/grants",
        &app.admin_token,
        json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"}),
    )
    .await
    .assert_status(201);
    (bot, binding_id)
}

fn deploy_question() -> Value {
    json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"}})
}

engine_test!(trust_bindings_are_managed_and_bad_ones_refused, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let good = json!({"issuer": "https://token.actions.githubusercontent.com", "audience": AUDIENCE,
        "claims": {"repository_id": "1", "ref": ["refs/heads/main", "refs/tags/v*"]}, "identity_id": bot});
    let created = app.post("/api/v1/trust-bindings", &app.admin_token, good.clone()).await;
    let created = created.assert_status(201).clone();
    assert_eq!(created["max_ttl_seconds"], 900);
    assert_eq!(created["claims"]["ref"], json!(["refs/heads/main", "refs/tags/v*"]));
    let id = created["id"].as_str().unwrap();
    let shown = app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await;
    assert_eq!(shown.assert_status(200)["issuer"], "https://token.actions.githubusercontent.com");
    assert_eq!(
        app.get("/api/v1/trust-bindings", &app.admin_token).await.assert_status(200)["items"].as_array().unwrap().len(),
        1
    );

    let before = app.audit_size().await;
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, status, fragment) in [
        (with("issuer", json!("http://issuer.example.com")), 422, "https URL"),
        (with("audience", json!("")), 422, "audience"),
        (with("claims", json!({})), 422, "at least one claim condition"),
        (with("claims", json!({"ref": 5})), 422, "condition on `ref`"),
        (with("claims", json!({"aud": "x"})), 422, "claim name `aud`"),
        (with("max_ttl_seconds", json!(3600)), 422, "max_ttl_seconds"),
        (with("max_ttl_seconds", json!("soon")), 422, "max_ttl_seconds"),
        (with("identity_id", json!(uuid_like())), 404, "not found"),
        (with("identity_id", json!("not-an-id")), 422, "identity_id"),
        (with("identity_id", json!(ana)), 409, "person"),
        (with("surprise", json!(1)), 422, "surprise"),
    ] {
        let response = app.post("/api/v1/trust-bindings", &app.admin_token, body.clone()).await;
        assert!(response.assert_problem(status).contains(fragment), "{body}: {}", response.text);
    }
    let malformed = app
        .send(
            axum::http::Request::post("/api/v1/trust-bindings")
                .header("authorization", format!("Bearer {}", app.admin_token))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"issuer\":"))
                .unwrap(),
        )
        .await;
    malformed.assert_problem(400);
    assert_eq!(app.audit_size().await, before, "refused bindings change nothing");

    // Only identity managers may bind; viewers may not.
    let viewer_token = app.create_token(&ana, 600).await;
    app.post("/api/v1/trust-bindings", &viewer_token, good).await.assert_problem(403);

    app.delete(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_status(200);
    app.delete(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_problem(404);
    app.get(&format!("/api/v1/trust-bindings/{id}"), &app.admin_token).await.assert_problem(404);
    app.get("/api/v1/trust-bindings/nope", &app.admin_token).await.assert_problem(400);
}));

fn uuid_like() -> String {
    gatehouse_domain::ids::IdentityId::new().to_string()
}

engine_test!(a_ci_token_is_exchanged_for_a_short_lived_token_and_decides_directly, |engine| with_app(
    engine,
    |app| async move {
        let key = TestKey::rsa("k1", 0);
        let ec = TestKey::ec("ec1", 0);
        let issuer = TestIssuer::start(&[&key, &ec]).await;
        let (bot, binding_id) = bound_bot(&app, &issuer.url).await;
        let ci_token = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));

        let exchanged =
            app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": ci_token}))).await;
        let exchanged = exchanged.assert_status(200).clone();
        assert_eq!(exchanged["identity_id"], bot.as_str());
        assert_eq!(exchanged["trust_binding_id"], binding_id.as_str());
        // Capped by the CI token's own five minutes (the binding allows ten).
        assert_eq!(exchanged["expires_at"], "2026-06-01T09:05:00.000Z");
        let token = exchanged["token"].as_str().unwrap();
        let whoami = app.get("/api/v1/whoami", token).await;
        assert_eq!(whoami.assert_status(200)["authentication"]["method"], "workload");
        let listed = app.get(&format!("/api/v1/tokens?identity_id={bot}"), &app.admin_token).await;
        assert_eq!(listed.assert_status(200)["items"][0]["trust_binding_id"], binding_id.as_str());

        // The exchanged token and the CI token itself both decide.
        let decided = app.post("/api/v1/authorize", token, deploy_question()).await;
        assert_eq!(decided.assert_status(200)["decision"], "allow");
        let direct = app.post("/api/v1/authorize", &ci_token, deploy_question()).await;
        let direct = direct.assert_status(200).clone();
        assert_eq!(direct["decision"], "allow");
        let entry = &app.store.list_audit(direct["audit_index"].as_u64().unwrap(), 1).await.unwrap()[0];
        assert_eq!(entry.record.actor.id(), bot);
        assert_eq!(entry.record.details["auth_method"], "workload");
        assert_eq!(entry.record.details["workload"]["trust_binding_id"], binding_id.as_str());
        let elsewhere =
            json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/api:production"}});
        assert_eq!(app.post("/api/v1/authorize", &ci_token, elsewhere).await.assert_status(200)["decision"], "deny");

        // A CI token opens nothing but decisions.
        let refused = app.get("/api/v1/whoami", &ci_token).await;
        assert!(refused.assert_problem(401).contains("/api/v1/auth/workload"));

        // An EC-signed token from the same issuer works as well.
        let ec_token = ec.sign(&issuer.claims(AUDIENCE, app.clock.now()));
        assert_eq!(
            app.post("/api/v1/authorize", &ec_token, deploy_question()).await.assert_status(200)["decision"],
            "allow"
        );

        // Deleting the binding revokes the exchanged token and refuses the CI token.
        app.delete(&format!("/api/v1/trust-bindings/{binding_id}"), &app.admin_token).await.assert_status(200);
        assert!(app.get("/api/v1/whoami", token).await.assert_problem(401).contains("revoked"));
        app.post("/api/v1/authorize", &ci_token, deploy_question()).await.assert_problem(401);
    }
));

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

engine_test!(forged_and_wrong_tokens_are_refused_at_exchange_and_as_bearer, |engine| with_app(
    engine,
    |app| async move {
        let key = TestKey::rsa("k1", 0);
        let other = TestKey::rsa("k1", 1); // another key, under the same kid
        let issuer = TestIssuer::start(&[&key]).await;
        bound_bot(&app, &issuer.url).await;
        let now = app.clock.now().unix_timestamp();
        let claims = issuer.claims(AUDIENCE, app.clock.now());
        let with = |field: &str, value: Value| {
            let mut changed = claims.clone();
            changed[field] = value;
            changed
        };
        let valid = key.sign(&claims);
        let (header, _, signature) = segments(&valid);
        let unsigned =
            format!("{}.{}.", encode_json(&json!({"alg": "none", "kid": "k1", "typ": "JWT"})), encode_json(&claims));
        let mut hs_header = Header::new(Algorithm::HS256);
        hs_header.kid = Some("k1".into());
        let hmac_with_public_key =
            jsonwebtoken::encode(&hs_header, &claims, &jsonwebtoken::EncodingKey::from_secret(&key.public_pem))
                .unwrap();
        let mut unknown_kid = Header::new(Algorithm::RS256);
        unknown_kid.kid = Some("k9".into());
        let tampered = format!("{header}.{}.{signature}", encode_json(&with("repository_id", json!("999"))));

        let cases: Vec<(&str, String, &str)> = vec![
            ("expired", key.sign(&with("exp", json!(now - 61))), "expired"),
            ("not yet valid", key.sign(&with("nbf", json!(now + 120))), "not valid yet"),
            ("issued in the future", key.sign(&with("iat", json!(now + 120))), "issued in the future"),
            (
                "no exp",
                key.sign(&{
                    let mut c = claims.clone();
                    c.as_object_mut().unwrap().remove("exp");
                    c
                }),
                "`exp`",
            ),
            ("wrong audience", key.sign(&with("aud", json!("someone-else"))), "audience"),
            ("wrong issuer", key.sign(&with("iss", json!("http://127.0.0.1:9"))), "not trusted"),
            ("another repository", key.sign(&with("repository_id", json!("999"))), "claim `repository_id` is `999`"),
            ("another branch", key.sign(&with("ref", json!("refs/heads/dev"))), "claim `ref` is `refs/heads/dev`"),
            ("alg none", unsigned, "alg none"),
            ("HS256 with the public key", hmac_with_public_key, "shared-secret"),
            ("another key under a known kid", other.sign(&claims), "signature does not verify"),
            ("unknown kid", key.sign_with(unknown_kid, &claims), "no key `k9`"),
            ("tampered payload", tampered, "signature does not verify"),
            ("garbage", "eyJub3QiOiJqc29uIn0.bm9wZQ.c2ln".to_owned(), "no alg"),
        ];
        for (case, (name, token, fragment)) in cases.into_iter().enumerate() {
            // Each case from an address of its own: a source's first failure
            // in a window is an entry, the rest only counted (see
            // hardening_flood.rs).
            let from = |request: axum::http::Request<axum::body::Body>| {
                let mut request = request;
                let peer = std::net::SocketAddr::from(([192, 0, 2, u8::try_from(case).unwrap()], 4000));
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            };
            let before = app.audit_size().await;
            let exchanged = app
                .send(from(
                    axum::http::Request::post("/api/v1/auth/workload")
                        .header("content-type", "application/json")
                        .body(json!({"token": token}).to_string().into())
                        .unwrap(),
                ))
                .await;
            let detail = exchanged.assert_problem(401).to_owned();
            assert!(detail.contains(fragment), "{name} at exchange: {detail}");
            assert!(!detail.contains(&token), "{name}: the token is never echoed");
            let bearer = app
                .send(from(
                    axum::http::Request::post("/api/v1/authorize")
                        .header("content-type", "application/json")
                        .header("authorization", format!("Bearer {token}"))
                        .body(deploy_question().to_string().into())
                        .unwrap(),
                ))
                .await;
            let detail = bearer.assert_problem(401).to_owned();
            assert!(detail.contains(fragment), "{name} as bearer: {detail}");
            let entries = app.store.list_audit(before, 10).await.unwrap();
            assert_eq!(entries.len(), 1, "{name}: the source's first refusal is an entry, the second counted");
            for entry in entries {
                assert_eq!(
                    (entry.record.action.as_str(), entry.record.actor.id()),
                    ("auth.workload", "anonymous"),
                    "{name}"
                );
            }
        }
        // Garbage that is not even a JWT.
        let exchanged =
            app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": "garbage"}))).await;
        assert!(exchanged.assert_problem(401).contains("not a JWT"));
        app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": 5})))
            .await
            .assert_problem(422);
        // The leeway: a token expired 59 s ago still passes.
        let lenient = key.sign(&with("exp", json!(now - 59)));
        assert_eq!(
            app.post("/api/v1/authorize", &lenient, deploy_question()).await.assert_status(200)["decision"],
            "allow"
        );
    }
));

fn quick_refresh() -> Settings {
    Settings {
        jwks: JwksSettings { refresh_interval: StdDuration::from_millis(0), ..JwksSettings::default() },
        ..gatehouse_testkit::test_settings()
    }
}

engine_test!(rotated_keys_are_picked_up_and_unknown_kids_do_not_hammer_the_issuer, |engine| with_database(
    engine,
    |db| async move {
        let old = TestKey::rsa("2026-05", 0);
        let new = TestKey::rsa("2026-06", 1);
        let issuer = TestIssuer::start(&[&old]).await;
        issuer.set_max_age(Some(3600));
        let app = TestApp::with_settings(&db, quick_refresh()).await;
        bound_bot(&app, &issuer.url).await;
        let claims = issuer.claims(AUDIENCE, app.clock.now());
        app.post("/api/v1/authorize", &old.sign(&claims), deploy_question()).await.assert_status(200);
        app.post("/api/v1/authorize", &old.sign(&claims), deploy_question()).await.assert_status(200);
        assert_eq!(issuer.jwks_fetches(), 1, "keys are cached for their max-age");

        issuer.publish(&[&new]);
        let decided = app.post("/api/v1/authorize", &new.sign(&claims), deploy_question()).await;
        assert_eq!(decided.assert_status(200)["decision"], "allow", "a new kid triggers a refresh");
        assert_eq!(issuer.jwks_fetches(), 2);
        let retired = app.post("/api/v1/authorize", &old.sign(&claims), deploy_question()).await;
        assert!(retired.assert_problem(401).contains("no key `2026-05`"), "{}", retired.text);
    }
));

engine_test!(made_up_kids_cause_at_most_one_refresh, |engine| with_app(engine, |app| async move {
    let new = TestKey::rsa("2026-06", 1);
    let issuer = TestIssuer::start(&[&new]).await;
    bound_bot(&app, &issuer.url).await;
    let claims = issuer.claims(AUDIENCE, app.clock.now());
    app.post("/api/v1/authorize", &new.sign(&claims), deploy_question()).await.assert_status(200);
    let fetches = issuer.jwks_fetches();
    for kid in ["x1", "x2", "x3", "x4"] {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        app.post("/api/v1/authorize", &new.sign_with(header, &claims), deploy_question()).await.assert_problem(401);
    }
    assert_eq!(issuer.jwks_fetches(), fetches, "within the refresh interval no made-up kid fetches again");
}));

engine_test!(an_unreachable_issuer_is_a_quick_clear_503, |engine| with_database(engine, |db| async move {
    let key = TestKey::rsa("k1", 0);
    let issuer = TestIssuer::start(&[&key]).await;
    let settings = Settings {
        jwks: JwksSettings { request_timeout: StdDuration::from_secs(2), ..JwksSettings::default() },
        ..gatehouse_testkit::test_settings()
    };
    let app = TestApp::with_settings(&db, settings).await;
    bound_bot(&app, &issuer.url).await;
    issuer.set_down(true);
    let token = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));
    let started = std::time::Instant::now();
    let response =
        tokio::time::timeout(StdDuration::from_secs(10), app.post("/api/v1/authorize", &token, deploy_question()))
            .await
            .expect("no hang");
    assert!(response.assert_problem(503).contains("cannot fetch the signing keys"), "{}", response.text);
    assert!(started.elapsed() < StdDuration::from_secs(10));

    // A bound issuer on a port where nothing listens.
    let dead = "http://127.0.0.1:9";
    let bot = app.create_service("other-bot").await;
    app.post(
        "/api/v1/trust-bindings",
        &app.admin_token,
        json!({"issuer": dead, "audience": AUDIENCE, "claims": {"sub": "x"}, "identity_id": bot}),
    )
    .await
    .assert_status(201);
    let mut claims = issuer.claims(AUDIENCE, app.clock.now());
    claims["iss"] = json!(dead);
    let response = app
        .call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": key.sign(&claims)})))
        .await;
    assert!(response.assert_problem(503).contains("cannot connect"), "{}", response.text);
}));

// CI jobs act only as active service identities: the rule
// (`domain::workload::check_acting_as`, `check_bindable`) at the exchange,
// at binding time, and beside it the token-owner rule for hand-made tokens.
engine_test!(a_suspended_service_is_neither_acted_as_nor_bound_nor_given_tokens, |engine| with_app(
    engine,
    |app| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let (bot, binding_id) = bound_bot(&app, &issuer.url).await;
        let ci_token = key.sign(&issuer.claims(AUDIENCE, app.clock.now()));
        app.post(&format!("/api/v1/identities/{bot}/suspend"), &app.admin_token, json!({})).await.assert_status(200);

        let exchange =
            || app.call(axum::http::Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": ci_token})));
        let refused = exchange().await;
        let expected = format!("`deploy-bot`, the identity of binding {binding_id}, is not active");
        assert!(refused.assert_problem(401).contains(&expected), "{}", refused.text);
        app.post("/api/v1/authorize", &ci_token, deploy_question()).await.assert_problem(401);

        let binding = json!({"issuer": issuer.url, "audience": AUDIENCE, "claims": {"repository_id": "7"},
            "identity_id": bot});
        let rebound = app.post("/api/v1/trust-bindings", &app.admin_token, binding).await;
        assert!(rebound.assert_problem(409).contains(&format!("identity `{bot}` is not active")), "{}", rebound.text);

        let by_hand =
            app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": bot, "ttl_seconds": 600})).await;
        let expected = format!("identity `{bot}` is suspended; it cannot get a token");
        assert!(by_hand.assert_problem(409).contains(&expected), "{}", by_hand.text);

        // Reactivated, its jobs act as it again with the same CI token: the
        // refusals consumed nothing.
        app.post(&format!("/api/v1/identities/{bot}/reactivate"), &app.admin_token, json!({})).await.assert_status(200);
        assert_eq!(exchange().await.assert_status(200)["identity_id"], bot.as_str());
    }
));
