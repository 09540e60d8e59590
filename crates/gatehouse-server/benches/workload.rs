//! CI-token benchmark (`cargo bench -p gatehouse-server --bench workload`):
//! `POST /api/v1/authorize` authenticated by a CI job's OIDC token (RS256,
//! verified against the issuer's cached JWKS on every request) against the
//! same request authenticated by a gatehouse token, same load, same run.
//! In-process (the router without a socket), SQLite, decisions durably
//! audited; 64 concurrent callers.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_domain::clock::Clock;
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::json;

const CALLERS: usize = 64;
const SECONDS: u64 = 5;

async fn load(app: Arc<TestApp>, token: Arc<String>) -> (f64, Duration, Duration) {
    let question =
        json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"}});
    let started = Instant::now();
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (app, token, question) = (app.clone(), token.clone(), question.clone());
        callers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while started.elapsed() < Duration::from_secs(SECONDS) {
                let t = Instant::now();
                let response = app.post("/api/v1/authorize", &token, question.clone()).await;
                samples.push(t.elapsed());
                assert_eq!(response.assert_status(200)["decision"], "allow");
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for caller in callers {
        samples.extend(caller.await.unwrap());
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    samples.sort();
    (rate, samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let key = TestKey::rsa("bench", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let db = TestDatabase::create(Engine::Sqlite).await.unwrap();
        let app = Arc::new(TestApp::new(&db).await);
        let bot = app.create_service("deploy-bot").await;
        app.post(
            "/api/v1/trust-bindings",
            &app.admin_token,
            json!({"issuer": issuer.url, "audience": "bench", "claims": {"repository_id": "123456"}, "identity_id": bot}),
        )
        .await
        .assert_status(201);
        app.post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"}),
        )
        .await
        .assert_status(201);
        let mut claims = issuer.claims("bench", app.clock.now());
        claims["exp"] = json!(app.clock.now().unix_timestamp() + 3600);
        let ci_token = Arc::new(key.sign(&claims));
        let gatehouse_token = Arc::new(app.create_token(&bot, 3600).await);

        println!("== POST /api/v1/authorize in-process, SQLite, {CALLERS} concurrent callers, {SECONDS}s each");
        for round in 1..=2 {
            let (rate, p50, p99) = load(app.clone(), gatehouse_token.clone()).await;
            println!("round {round} gatehouse token: {rate:>8.0} req/s  p50 {p50:>9.2?}  p99 {p99:>9.2?}");
            let (ci_rate, p50, p99) = load(app.clone(), ci_token.clone()).await;
            println!("round {round} CI token (RS256): {ci_rate:>8.0} req/s  p50 {p50:>9.2?}  p99 {p99:>9.2?}");
            println!("round {round} gatehouse / CI: {:.2}x", rate / ci_rate);
        }
        println!("JWKS fetches during the run: {}", issuer.jwks_fetches());
        db.clean_up().await;
    });
}
