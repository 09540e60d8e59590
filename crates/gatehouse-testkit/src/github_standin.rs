//! A local stand-in for the part of GitHub's REST API a GitHub App uses to
//! answer deployment protection rules. It checks what GitHub checks: the
//! App JWT (RS256 by the App's key, `iss` = App id, at most ten minutes),
//! the installation token on the callback, and the callback's JSON shape.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

/// What the stand-in received, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum GithubCall {
    InstallationToken { installation: u64 },
    ProtectionAnswer { run: u64, body: Value },
    Refused { reason: String },
}

struct Expected {
    app_id: String,
    public_pem: Vec<u8>,
    calls: Mutex<Vec<GithubCall>>,
}

pub struct GithubStandIn {
    /// The API base, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    expected: Arc<Expected>,
    server: tokio::task::JoinHandle<()>,
}

const INSTALLATION_TOKEN: &str = "ghs_standin_installation_token";

impl GithubStandIn {
    pub async fn start(app_id: &str, app_public_pem: &[u8]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let expected = Arc::new(Expected {
            app_id: app_id.to_owned(),
            public_pem: app_public_pem.to_vec(),
            calls: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/app/installations/{id}/access_tokens", post(installation_token))
            .route("/repos/{owner}/{repo}/actions/runs/{run}/deployment_protection_rule", post(protection_answer))
            .with_state(expected.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, expected, server }
    }

    pub fn calls(&self) -> Vec<GithubCall> {
        self.expected.calls.lock().expect("lock").clone()
    }
}

impl Drop for GithubStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")
}

fn refuse(expected: &Expected, reason: String) -> axum::response::Response {
    expected.calls.lock().expect("lock").push(GithubCall::Refused { reason: reason.clone() });
    (StatusCode::UNAUTHORIZED, Json(json!({"message": reason}))).into_response()
}

async fn installation_token(
    State(expected): State<Arc<Expected>>,
    Path(installation): Path<u64>,
    headers: HeaderMap,
) -> axum::response::Response {
    let Some(jwt) = bearer(&headers) else { return refuse(&expected, "no App JWT".into()) };
    let key = DecodingKey::from_rsa_pem(&expected.public_pem).expect("app public key");
    let mut validation = Validation::new(Algorithm::RS256);
    // The stand-in runs on real time while gatehouse's test clock is fixed:
    // check the window's length, not its position.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iat", "exp", "iss"]);
    validation.set_issuer(&[expected.app_id.as_str()]);
    let claims = match jsonwebtoken::decode::<Value>(jwt, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return refuse(&expected, format!("bad App JWT: {e}")),
    };
    let (iat, exp) = (claims["iat"].as_i64().unwrap_or(0), claims["exp"].as_i64().unwrap_or(0));
    if exp <= iat || exp - iat > 600 {
        return refuse(&expected, "App JWT lives longer than ten minutes".into());
    }
    expected.calls.lock().expect("lock").push(GithubCall::InstallationToken { installation });
    (StatusCode::CREATED, Json(json!({"token": INSTALLATION_TOKEN, "expires_at": "2099-01-01T00:00:00Z"})))
        .into_response()
}

async fn protection_answer(
    State(expected): State<Arc<Expected>>,
    Path((_owner, _repo, run)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    if bearer(&headers) != Some(INSTALLATION_TOKEN) {
        return refuse(&expected, "the callback is not authenticated by the installation token".into());
    }
    let shaped = body["environment_name"].is_string()
        && matches!(body["state"].as_str(), Some("approved" | "rejected"))
        && body["comment"].is_string()
        && body.as_object().is_some_and(|o| o.len() == 3);
    if !shaped {
        return refuse(&expected, format!("malformed callback body {body}"));
    }
    expected.calls.lock().expect("lock").push(GithubCall::ProtectionAnswer { run, body });
    StatusCode::NO_CONTENT.into_response()
}
