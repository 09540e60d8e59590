//! [`TestApp`]: the whole HTTP API on a fresh database with an initialized
//! first admin and a clock the test sets, driven with `oneshot` (no socket).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gatehouse_domain::clock::{Clock, FixedClock};
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::setup::first_admin_setup;
use gatehouse_domain::store::Store;
use gatehouse_server::{AppState, Settings, app};
use http_body_util::BodyExt;
use serde_json::Value;
use time::macros::datetime;
use tower::ServiceExt;

use crate::{Engine, TestDatabase};

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub clock: Arc<FixedClock>,
    pub admin_id: IdentityId,
    pub admin_token: String,
    /// What the router shares (for what runs beside requests, such as the
    /// flush of failed-authentication summaries).
    pub state: AppState,
}

/// An answer, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// Asserts a problem+json answer with `status` and returns its detail.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) -> &str {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert!(self.body["title"].is_string(), "{}", self.text);
        assert!(self.body["type"].as_str().is_some_and(|t| !t.is_empty()), "{}", self.text);
        self.body["detail"].as_str().unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.body
    }
}

/// `Settings::default()` but for outbound fetches, which may reach loopback:
/// the stand-ins for OIDC issuers and GitHub listen there. A test giving its
/// own settings starts from these (`..test_settings()`) to reach them.
pub fn test_settings() -> Settings {
    Settings {
        outbound: gatehouse_domain::outbound::OutboundRules { allow_loopback: true, ..Default::default() },
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn new(database: &TestDatabase) -> Self {
        Self::with_settings(database, test_settings()).await
    }

    pub async fn with_settings(database: &TestDatabase, settings: Settings) -> Self {
        Self::with_policies(database, settings, gatehouse_policy::Policies::defaults()).await
    }

    /// The app under `policies` instead of the built-in ones (custom roles).
    pub async fn with_policies(
        database: &TestDatabase,
        settings: Settings,
        policies: gatehouse_policy::Policies,
    ) -> Self {
        let store = database.open_store().await;
        let clock = Arc::new(FixedClock::new(datetime!(2026-06-01 09:00:00 UTC)));
        let admin = NewIdentity::new(IdentityKind::Human, "Admin", Some("admin@example.com"), clock.now())
            .expect("valid admin");
        let admin_id = admin.id;
        let (setup, secret) = first_admin_setup(
            admin,
            database.signer.verifier().encode(),
            "gatehouse.test/audit".into(),
            store.engine(),
            clock.now(),
            time::Duration::days(7),
        );
        store.initialize(setup).await.expect("initialize");
        let state = AppState::new(
            Arc::clone(&store),
            gatehouse_server::PolicyHandle::new(policies),
            clock.clone(),
            settings,
            gatehouse_server::metrics_handle(),
        );
        Self { router: app(state.clone()), store, clock, admin_id, admin_token: secret.expose().to_owned(), state }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body, text }
    }

    /// A request with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.expect("valid request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates an identity as the admin and returns its id.
    pub async fn create_service(&self, name: &str) -> String {
        let response = self
            .post("/api/v1/identities", &self.admin_token, serde_json::json!({"kind": "service", "name": name}))
            .await;
        response.assert_status(201)["id"].as_str().expect("id").to_owned()
    }

    pub async fn create_human(&self, name: &str, email: &str) -> String {
        let response = self
            .post(
                "/api/v1/identities",
                &self.admin_token,
                serde_json::json!({"kind": "human", "name": name, "email": email}),
            )
            .await;
        response.assert_status(201)["id"].as_str().expect("id").to_owned()
    }

    /// Issues a token for `identity_id` as the admin and returns the secret.
    pub async fn create_token(&self, identity_id: &str, ttl_seconds: i64) -> String {
        let response = self
            .post(
                "/api/v1/tokens",
                &self.admin_token,
                serde_json::json!({"identity_id": identity_id, "ttl_seconds": ttl_seconds, "description": "test"}),
            )
            .await;
        response.assert_status(201)["token"].as_str().expect("token").to_owned()
    }

    pub async fn audit_size(&self) -> u64 {
        self.store.audit_size().await.expect("audit size")
    }
}

/// Runs `body` with a [`TestApp`] on a fresh database on `engine`.
pub async fn with_app<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    crate::with_database(engine, |database| async move {
        let app = TestApp::new(&database).await;
        body(app).await;
    })
    .await;
}
