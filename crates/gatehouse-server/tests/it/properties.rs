//! Property tests over what an outsider sends: authorize bodies and
//! contexts, CI tokens (JWTs) as bearer and for exchange, webhook bodies and
//! headers, SCIM bodies, filters and PATCHes. Arbitrary input and mutations
//! of valid input, driven through the whole router: every answer is a 2xx
//! for valid input or a 4xx problem (SCIM: a SCIM error), never a 5xx; and
//! refused input from a valid caller leaves the audit log as it was.
//!
//! The bulk runs on SQLite; `a_few_authorize_bodies_on_each_engine` runs
//! one small property on PostgreSQL too.

use axum::body::Body;
use axum::http::{Method, Request};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::clock::Clock;
use gatehouse_server::Settings;
use gatehouse_server::integrations::{GITHUB_ACTIONS_ISSUER, GithubSettings, GitlabSettings, Integrations, Secret};
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{Engine, TestApp, TestResponse, engine_test, with_app, with_database};
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// Runs `test` on `cases` values of `strategy`, on the test's runtime,
/// shrinking a failure to its smallest input.
async fn check<S>(cases: u32, strategy: S, test: impl AsyncFn(S::Value))
where
    S: Strategy,
    S::Value: Clone,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        let config = ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() };
        let mut runner = TestRunner::new(config);
        if let Err(failure) = runner.run(&strategy, |value| {
            handle.block_on(test(value));
            Ok(())
        }) {
            panic!("{failure}");
        }
    });
}

/// A 4xx answer must be problem+json naming its status.
#[track_caller]
fn assert_refused_cleanly(response: &TestResponse) {
    let status = response.status.as_u16();
    assert!((400..500).contains(&status), "expected a 4xx, got {status}: {}", response.text);
    response.assert_problem(status);
}

/// 2xx, or a clean refusal; never a 5xx.
#[track_caller]
fn assert_answered_or_refused(response: &TestResponse) {
    if !response.status.is_success() {
        assert_refused_cleanly(response);
    }
}

/// Any JSON value, a few levels deep, with the numbers that break things.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e300),
            json!(-1e300),
            json!(0.5),
            json!(""),
            json!({"__entity": {"type": "Identity", "id": "x"}}),
            json!({"__extn": {"fn": "ip", "arg": "10.0.0.1"}}),
            json!({"__extn": {"fn": "decimal", "arg": "nope"}}),
        ]),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn send_raw(path: &str, token: Option<&str>, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::post(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.body(Body::from(body)).unwrap()
}

// ---------------------------------------------------------------------------
// POST /api/v1/authorize: bodies and contexts

fn authorize_body() -> impl Strategy<Value = Value> {
    let action = prop_oneof![
        prop::sample::select(vec![
            "deployment.execute",
            "deployment.approve",
            "pipeline.view",
            "source.push",
            "policy.manage"
        ])
        .prop_map(str::to_owned),
        ".{0,20}",
    ];
    let kind = prop_oneof![
        prop::sample::select(vec!["Environment", "Project", "Pipeline", "Gatehouse", "environment", "Identity"])
            .prop_map(str::to_owned),
        ".{0,12}",
    ];
    let id = prop_oneof![
        prop::sample::select(vec!["acme/web:production", "acme/web", "gatehouse", "*", "acme/web:", ":x", "a/b/c:d"])
            .prop_map(str::to_owned),
        ".{0,30}",
    ];
    let context = prop_oneof![
        Just(None),
        prop::collection::btree_map(
            prop_oneof![
                prop::sample::select(vec!["author", "change", "reason", "now", "mfa_fresh", "surprise"])
                    .prop_map(str::to_owned),
                "[a-z]{1,6}",
            ],
            any_json(),
            0..4,
        )
        .prop_map(|map| Some(Value::Object(map.into_iter().collect()))),
        any_json().prop_map(Some),
    ];
    let principal = prop_oneof![Just(None), Just(Some("not-an-id".to_owned())), ".{0,40}".prop_map(Some)];
    (action, kind, id, context, principal, any::<bool>()).prop_map(|(action, kind, id, context, principal, extra)| {
        let mut body = json!({"action": action, "resource": {"type": kind, "id": id}});
        if let Some(context) = context {
            body["context"] = context;
        }
        if let Some(principal) = principal {
            body["principal"] = json!(principal);
        }
        if extra {
            body["surprise"] = json!(1);
        }
        body
    })
}

/// A decision is one audit entry; a refused question is none.
async fn authorize_once(app: &TestApp, body: Value) {
    let before = app.audit_size().await;
    let response = app.post("/api/v1/authorize", &app.admin_token, body.clone()).await;
    assert_answered_or_refused(&response);
    let after = app.audit_size().await;
    if response.status.is_success() {
        assert!(["allow", "deny"].contains(&response.body["decision"].as_str().unwrap()), "{}", response.text);
        assert_eq!(after, before + 1, "{body}: a decision is one entry");
    } else {
        assert_eq!(after, before, "{body}: a refused question changes nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_valid_authorize_bodies_are_decided_or_refused() {
    with_app(Engine::Sqlite, |app| async move {
        check(192, authorize_body(), async |body| authorize_once(&app, body).await).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_bytes_as_an_authorize_body_are_refused_cleanly() {
    with_app(Engine::Sqlite, |app| async move {
        let content_type = prop::sample::select(vec![Some("application/json"), Some("text/plain"), None]);
        let bytes = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            any_json().prop_map(|v| v.to_string().into_bytes()),
        ];
        check(128, (content_type, bytes), async |(content_type, bytes)| {
            let before = app.audit_size().await;
            let response =
                app.send(send_raw("/api/v1/authorize", Some(&app.admin_token), content_type, bytes.clone())).await;
            if !response.status.is_success() {
                assert_refused_cleanly(&response);
                assert_eq!(app.audit_size().await, before, "{:?}: refused, yet the log grew", bytes);
            }
        })
        .await;
    })
    .await;
}

engine_test!(a_few_authorize_bodies_on_each_engine, |engine| with_app(engine, |app| async move {
    check(24, authorize_body(), async |body| authorize_once(&app, body).await).await;
}));

// ---------------------------------------------------------------------------
// CI tokens (JWTs): as bearer of a decision and for exchange

const AUDIENCE: &str = "https://gatehouse.example.com";

async fn bind(app: &TestApp, issuer: &str) {
    let bot = app.create_service("deploy-bot").await;
    app.post(
        "/api/v1/trust-bindings",
        &app.admin_token,
        json!({"issuer": issuer, "audience": AUDIENCE, "claims": {"repository_id": "123456"}, "identity_id": bot}),
    )
    .await
    .assert_status(201);
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// How a valid CI token is spoiled.
#[derive(Debug, Clone)]
enum JwtMutation {
    /// Signed with the issuer's real key, with one claim set to anything.
    SignedClaim(String, Value),
    /// A segment replaced by the base64url of any JSON (unsigned).
    Segment(usize, Value),
    /// A segment replaced by any text.
    RawSegment(usize, String),
    /// One character of the token changed.
    Char(usize, char),
    /// Anything at all.
    Text(String),
}

fn jwt_mutation() -> impl Strategy<Value = JwtMutation> {
    let claim = prop::sample::select(vec!["exp", "nbf", "iat", "iss", "aud", "sub", "repository_id", "jti"]);
    let edge_numbers =
        prop::sample::select(vec![json!(i64::MAX), json!(i64::MIN), json!(u64::MAX), json!(1e300), json!(-1e300)]);
    let value = prop_oneof![edge_numbers, any_json()];
    prop_oneof![
        4 => (claim, value).prop_map(|(c, v)| JwtMutation::SignedClaim(c.to_owned(), v)),
        1 => (0..3usize, any_json()).prop_map(|(i, v)| JwtMutation::Segment(i, v)),
        1 => (0..3usize, header_json()).prop_map(|(i, v)| JwtMutation::Segment(i, v)),
        1 => (0..3usize, "[A-Za-z0-9_=.+/-]{0,40}").prop_map(|(i, s)| JwtMutation::RawSegment(i, s)),
        1 => (any::<usize>(), any::<char>()).prop_map(|(i, c)| JwtMutation::Char(i, c)),
        1 => "[A-Za-z0-9_.-]{0,80}".prop_map(JwtMutation::Text),
    ]
}

/// Headers that get past the first checks: an accepted or refused `alg`,
/// a known or unknown `kid`.
fn header_json() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        prop::sample::select(vec!["RS256", "ES256", "none", "NONE", "HS256", "PS512", "EdDSA"]).prop_map(|a| json!(a)),
        any_json(),
    ];
    let kid = prop_oneof![Just(json!("k1")), any_json()];
    (alg, kid).prop_map(|(alg, kid)| json!({"alg": alg, "kid": kid, "typ": "JWT"}))
}

fn mutate_jwt(key: &TestKey, claims: &Value, mutation: &JwtMutation) -> String {
    let valid = key.sign(claims);
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    match mutation {
        JwtMutation::SignedClaim(name, value) => {
            let mut claims = claims.clone();
            claims[name.as_str()] = value.clone();
            key.sign(&claims)
        }
        JwtMutation::Segment(index, value) => {
            parts[*index] = segment(value);
            parts.join(".")
        }
        JwtMutation::RawSegment(index, text) => {
            parts[*index] = text.clone();
            parts.join(".")
        }
        JwtMutation::Char(at, c) => {
            let mut chars: Vec<char> = valid.chars().collect();
            let at = at % chars.len();
            chars[at] = *c;
            chars.into_iter().collect()
        }
        JwtMutation::Text(text) => text.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_ci_tokens_are_refused_cleanly() {
    with_app(Engine::Sqlite, |app| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        bind(&app, &issuer.url).await;
        let claims = issuer.claims(AUDIENCE, app.clock.now());
        // The valid token works, so refusals below are the mutation's doing.
        let question = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
        app.post("/api/v1/authorize", &key.sign(&claims), question.clone()).await.assert_status(200);

        check(160, jwt_mutation(), async |mutation| {
            let token = mutate_jwt(&key, &claims, &mutation);
            let exchange = app
                .send(send_raw(
                    "/api/v1/auth/workload",
                    None,
                    Some("application/json"),
                    json!({"token": token}).to_string().into_bytes(),
                ))
                .await;
            assert_answered_or_refused(&exchange);
            if token.bytes().all(|b| b.is_ascii_graphic()) {
                let decided = app.post("/api/v1/authorize", &token, question.clone()).await;
                assert_answered_or_refused(&decided);
            }
        })
        .await;
    })
    .await;
}

/// One published key's field set to something else.
fn jwk_mutation() -> impl Strategy<Value = (bool, String, Value)> {
    let field = prop::sample::select(vec!["n", "e", "kty", "alg", "use", "key_ops", "x5c", "crv", "x", "y", "kid"]);
    let value = prop_oneof![
        "[A-Za-z0-9_-]{0,48}".prop_map(|s| json!(s)),
        prop::sample::select(vec![
            "AQAB", "AA", "", "P-256", "P-521", "Ed25519", "RSA", "EC", "OKP", "oct", "RS256", "ES256", "EdDSA"
        ])
        .prop_map(|s| json!(s)),
        any_json(),
    ];
    (any::<bool>(), field, value).prop_map(|(ec, field, value)| (ec, field.to_owned(), value))
}

/// A trusted issuer publishing malformed keys: a token naming one is
/// refused (or accepted, if the key still verifies it), never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_published_keys_refuse_tokens_cleanly() {
    let settings = Settings {
        // Every lookup fetches again, so each case sees its own keys.
        jwks: gatehouse_server::workload::JwksSettings {
            default_ttl: std::time::Duration::ZERO,
            min_ttl: std::time::Duration::ZERO,
            max_ttl: std::time::Duration::ZERO,
            refresh_interval: std::time::Duration::ZERO,
            ..Default::default()
        },
        ..gatehouse_testkit::test_settings()
    };
    with_database(Engine::Sqlite, |db| async move {
        let app = TestApp::with_settings(&db, settings).await;
        let rsa = TestKey::rsa("k1", 0);
        let ec = TestKey::ec("k1", 0);
        let issuer = TestIssuer::start(&[&rsa]).await;
        bind(&app, &issuer.url).await;
        let cases = std::sync::atomic::AtomicU32::new(0);
        check(96, jwk_mutation(), async |(use_ec, field, value)| {
            // A kid of its own per case, so no verification is reused.
            let kid = format!("case-{}", cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let (mut signer, mut published) = (rsa.clone(), if use_ec { ec.clone() } else { rsa.clone() });
            signer.kid = kid.clone();
            published.kid = kid;
            let mut jwk = serde_json::to_value(published.jwk()).unwrap();
            jwk[field.as_str()] = value;
            let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk) else { return };
            issuer.publish_jwks(vec![jwk]);
            let token = signer.sign(&issuer.claims(AUDIENCE, app.clock.now()));
            let exchange = app.call(Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": token}))).await;
            assert_answered_or_refused(&exchange);
        })
        .await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Webhooks: bodies and headers

const WEBHOOK_SECRET: &str = "webhook secret for property tests";
const GITLAB_TOKEN: &str = "gitlab token for property tests";

fn webhook_settings() -> Settings {
    Settings {
        integrations: Integrations {
            github: Some(GithubSettings {
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                api_url: "https://api.github.invalid".into(),
                app: None,
                actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
            }),
            gitlab: Some(GitlabSettings { webhook_token: Secret::new(GITLAB_TOKEN) }),
            ..Integrations::default()
        },
        ..gatehouse_testkit::test_settings()
    }
}

/// A bad signature or token: 401, or 429 once failures are throttled.
fn is_refused_credential(response: &TestResponse) -> bool {
    matches!(response.status.as_u16(), 401 | 429)
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A push payload with a field set to anything.
fn push_payload() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "/commits",
        "/commits/0/added",
        "/commits/0/modified",
        "/commits/0/id",
        "/commits/0/author",
        "/repository",
        "/repository/full_name",
        "/ref",
        "/after",
        "/pusher",
    ]);
    (field, any_json()).prop_map(|(field, value)| {
        let mut payload = json!({
            "ref": "refs/heads/main", "before": "a", "after": "b",
            "repository": {"full_name": "acme/web", "id": 123456},
            "pusher": {"name": "ana"},
            "commits": [{"id": "c1", "author": {"name": "Ana"}, "added": [".github/workflows/x.yml"], "modified": [], "removed": []}],
        });
        if let Some(slot) = payload.pointer_mut(field) {
            *slot = value;
        }
        payload
    })
}

#[derive(Debug, Clone)]
struct Delivery {
    event: Option<String>,
    delivery: Option<String>,
    body: Vec<u8>,
    signed: bool,
}

fn github_delivery() -> impl Strategy<Value = Delivery> {
    let event = prop_oneof![
        prop::sample::select(vec!["push", "ping", "deployment_protection_rule", "deployment_protection_rule "])
            .prop_map(|e| Some(e.to_owned())),
        proptest::option::of("[ -~]{0,80}"),
    ];
    let delivery = proptest::option::of(prop_oneof!["[0-9a-f-]{1,36}", "[ -~]{0,200}"]);
    let body = prop_oneof![
        push_payload().prop_map(|v| v.to_string().into_bytes()),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..120),
    ];
    (event, delivery, body, any::<bool>()).prop_map(|(event, delivery, body, signed)| Delivery {
        event,
        delivery,
        body,
        signed,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_github_delivery_is_recorded_or_refused_cleanly() {
    with_database(Engine::Sqlite, |db| async move {
        let app = TestApp::with_settings(&db, webhook_settings()).await;
        check(192, github_delivery(), async |delivery| {
            let mut request = Request::post("/webhooks/github").header("content-type", "application/json");
            if let Some(event) = &delivery.event {
                request = request.header("x-github-event", event.as_str());
            }
            if let Some(id) = &delivery.delivery {
                request = request.header("x-github-delivery", id.as_str());
            }
            let signature =
                if delivery.signed { github_signature(&delivery.body) } else { github_signature(b"another body") };
            request = request.header("x-hub-signature-256", signature);
            let response = app.send(request.body(Body::from(delivery.body.clone())).unwrap()).await;
            // The App is not configured, so a protection rule that gets as
            // far as answering GitHub cannot: that is the one 502.
            let is_protection_rule = delivery.event.as_deref() == Some("deployment_protection_rule");
            if !(is_protection_rule && response.status.as_u16() == 502) {
                assert_answered_or_refused(&response);
            }
            if !delivery.signed {
                assert!(is_refused_credential(&response), "{}", response.text);
            }
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_gitlab_delivery_is_recorded_or_refused_cleanly() {
    with_database(Engine::Sqlite, |db| async move {
        let app = TestApp::with_settings(&db, webhook_settings()).await;
        let token = prop_oneof![Just(Some(GITLAB_TOKEN.to_owned())), proptest::option::of("[ -~]{0,40}")];
        let event = proptest::option::of(prop_oneof![Just("Push Hook".to_owned()), "[ -~]{0,40}"]);
        let body = prop_oneof![
            push_payload().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..120),
        ];
        let uuid = proptest::option::of("[ -~]{0,80}");
        check(128, (token, event, body, uuid), async |(token, event, body, uuid)| {
            let mut request = Request::post("/webhooks/gitlab").header("content-type", "application/json");
            if let Some(token) = &token {
                request = request.header("x-gitlab-token", token.as_str());
            }
            if let Some(event) = &event {
                request = request.header("x-gitlab-event", event.as_str());
            }
            if let Some(uuid) = &uuid {
                request = request.header("x-gitlab-event-uuid", uuid.as_str());
            }
            let response = app.send(request.body(Body::from(body)).unwrap()).await;
            assert_answered_or_refused(&response);
            if token.as_deref() != Some(GITLAB_TOKEN) {
                assert!(is_refused_credential(&response), "{}", response.text);
            }
        })
        .await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// SCIM: bodies, filters and PATCHes

async fn provisioner(app: &TestApp) -> String {
    let bot = app.create_service("okta-scim").await;
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": bot, "role": "scim-provisioner", "scope": "*"}))
        .await
        .assert_status(201);
    app.create_token(&bot, 3600).await
}

async fn scim(app: &TestApp, method: Method, path: &str, token: &str, body: Vec<u8>) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json");
    app.send(request.body(Body::from(body)).unwrap()).await
}

/// A SCIM answer: a 2xx, or a SCIM error body with a 4xx status.
#[track_caller]
fn assert_scim_answered_or_refused(response: &TestResponse) {
    let status = response.status.as_u16();
    if response.status.is_success() {
        return;
    }
    assert!((400..500).contains(&status), "expected a 4xx, got {status}: {}", response.text);
    let is_scim_error = response.body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error";
    let is_problem = response.headers.get("content-type").is_some_and(|v| v == "application/problem+json");
    assert!(is_scim_error || is_problem, "{status} without an error body: {}", response.text);
}

fn scim_user() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "userName",
        "emails",
        "active",
        "externalId",
        "name",
        "displayName",
        "schemas",
        "id",
        "meta",
        "groups",
    ]);
    (field, any_json(), "[a-z]{1,8}").prop_map(|(field, value, user)| {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("{user}@example.com"),
            "emails": [{"primary": true, "value": format!("{user}@example.com"), "type": "work"}],
            "active": true,
        });
        body[field] = value;
        body
    })
}

fn scim_patch() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "Replace", "remove", "move", ""]);
    // Brackets in every order are where path parsing slices.
    let path = proptest::option::weighted(
        0.8,
        prop_oneof![
            3 => prop::sample::select(vec![
                "active", "emails[type eq \"work\"].value", "name.givenName", "userName", "members", "]x[",
                "members[value eq \"x\"]", "urn:ietf:params:scim:schemas:core:2.0:User:active", "id", "meta",
                "a]b[c", "[", "]", "emails[", "emails[type eq \"work\"", "][", "emails[]",
            ])
            .prop_map(str::to_owned),
            1 => "[ -~]{0,24}",
        ],
    );
    let operation = (op, path, proptest::option::of(any_json())).prop_map(|(op, path, value)| {
        let mut operation = json!({"op": op});
        if let Some(path) = path {
            operation["path"] = json!(path);
        }
        if let Some(value) = value {
            operation["value"] = value;
        }
        operation
    });
    prop::collection::vec(operation, 0..4).prop_map(
        |operations| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_users_created_and_patched_from_any_body_are_answered_or_refused() {
    with_app(Engine::Sqlite, |app| async move {
        let token = provisioner(&app).await;
        let created = scim(
            &app,
            Method::POST,
            "/scim/v2/Users",
            &token,
            json!({"userName": "ana@example.com", "emails": [{"value": "ana@example.com"}]}).to_string().into_bytes(),
        )
        .await;
        let ana = created.assert_status(201)["id"].as_str().unwrap().to_owned();
        let body = prop_oneof![
            scim_user().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..100),
        ];
        check(128, (body, scim_patch()), async |(body, patch)| {
            let created = scim(&app, Method::POST, "/scim/v2/Users", &token, body).await;
            assert_scim_answered_or_refused(&created);
            let target = created.body["id"].as_str().map_or_else(|| ana.clone(), str::to_owned);
            let patched =
                scim(&app, Method::PATCH, &format!("/scim/v2/Users/{target}"), &token, patch.to_string().into_bytes())
                    .await;
            assert_scim_answered_or_refused(&patched);
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_groups_and_filters_from_any_input_are_answered_or_refused() {
    with_app(Engine::Sqlite, |app| async move {
        let token = provisioner(&app).await;
        let group = prop_oneof![
            (any_json(), any_json()).prop_map(|(name, members)| json!({"displayName": name, "members": members})),
            ("[a-z]{1,8}", prop::collection::vec(any_json(), 0..3))
                .prop_map(|(name, members)| json!({"displayName": name, "members": members})),
        ];
        let filter = prop_oneof![
            "[ -~]{0,40}",
            ("(userName|externalId|id|title|displayName)", "( |  |\t)", "(eq|EQ|sw|)", "[ -~]{0,12}")
                .prop_map(|(a, g, o, v)| format!("{a}{g}{o}{g}\"{v}\"")),
        ];
        let paging = ("-?[0-9]{0,20}", "-?[0-9]{0,20}");
        check(128, (group, filter, paging), async |(group, filter, (start, count))| {
            let created = scim(&app, Method::POST, "/scim/v2/Groups", &token, group.to_string().into_bytes()).await;
            assert_scim_answered_or_refused(&created);
            let query: String =
                form_urlencoded(&[("filter", filter.as_str()), ("startIndex", &start), ("count", &count)]);
            for resource in ["Users", "Groups"] {
                let listed = scim(&app, Method::GET, &format!("/scim/v2/{resource}?{query}"), &token, Vec::new()).await;
                assert_scim_answered_or_refused(&listed);
            }
        })
        .await;
    })
    .await;
}

/// `application/x-www-form-urlencoded` query text, every byte outside the
/// unreserved set percent-encoded.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Shrunk from `mutated_ci_tokens_are_refused_cleanly`: a CI token signed
/// by a trusted issuer with `exp` = i64::MAX overflowed `exp + leeway`, and
/// the exchange (and a decision with it as bearer) answered 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_ci_token_expiring_at_the_end_of_time_is_refused() {
    with_app(Engine::Sqlite, |app| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        bind(&app, &issuer.url).await;
        for exp in [json!(i64::MAX), json!(u64::MAX), json!(1e300)] {
            let mut claims = issuer.claims(AUDIENCE, app.clock.now());
            claims["exp"] = exp.clone();
            let token = key.sign(&claims);
            let exchange = app.call(Method::POST, "/api/v1/auth/workload", None, Some(json!({"token": token}))).await;
            exchange.assert_problem(401);
            let question = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
            app.post("/api/v1/authorize", &token, question).await.assert_problem(401);
        }
    })
    .await;
}
