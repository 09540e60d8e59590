//! Web console benchmark (`cargo bench --profile release -p gatehouse-server
//! --bench console_pages`), in-process (the router without a socket), on
//! SQLite and, when `GATEHOUSE_TEST_POSTGRES_URL` answers, PostgreSQL.
//!
//! An approver's session; 1,000 pending access requests her rule counts
//! her for (bulk-inserted), and one deployment request with its commit.
//! Server time, p50 and p99 over 1,000 rounds each, of:
//! - the approvals inbox `GET /ui` (its first 50 waiting, and her own),
//! - a request's page `GET /ui/requests/{id}`,
//!
//! against the same run's baseline: the JSON API answering the same
//! questions (`GET /api/v1/requests?reviewable=true&limit=50`, and
//! `GET /api/v1/requests/{id}`), with her token. Also the pages' weight.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration as StdDuration, Instant};

use axum::body::Body;
use axum::http::Request;
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::NewSession;
use gatehouse_domain::token::TokenHash;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::Settings;
use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::json;

const PENDING: usize = 1_000;
const ROUNDS: usize = 1_000;
const COOKIE: &str = "bench-session-secret";

const RULES: &str = r#"
[[rule]]
id = "bulk"
action = "access"
resources = ["project:bulk/*"]
require = { quorum = 1, of = "role:release-approver" }
max_duration = "8h"

[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 1, of = "role:release-approver" }
"#;

fn settings() -> Settings {
    Settings {
        oidc: Some(OidcSettings {
            issuer: "http://127.0.0.1:8".into(),
            client_id: "gatehouse".into(),
            client_secret: Secret::new("s"),
            redirect_url: "http://localhost:9/auth/callback".into(),
            auto_provision: false,
            session_idle: StdDuration::from_secs(24 * 3600),
            session_absolute: StdDuration::from_secs(24 * 3600),
        }),
        ..gatehouse_testkit::test_settings()
    }
}

fn percentile(samples: &mut [StdDuration], share: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * share).round() as usize;
    samples[index].as_secs_f64() * 1e3
}

struct Timing {
    p50: f64,
    p99: f64,
    bytes: usize,
}

/// `ROUNDS` GETs of `path`, each timed from sending to the whole body.
async fn time(app: &TestApp, path: &str, credential: &(&str, String), expect: &str) -> Timing {
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let request = Request::get(path).header(credential.0, &credential.1).body(Body::empty()).unwrap();
        let started = Instant::now();
        let response = app.send(request).await;
        samples.push(started.elapsed());
        assert_eq!(response.status.as_u16(), 200, "{path}: {}", response.text);
        assert!(response.text.contains(expect), "{path} shows {expect}");
        bytes = response.text.len();
    }
    Timing { p50: percentile(&mut samples, 0.5), p99: percentile(&mut samples, 0.99), bytes }
}

async fn run(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{engine:?}: skipped (no database)");
        return;
    };
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    let app = TestApp::with_policies(&db, settings(), Policies::from_source(&source).unwrap()).await;
    let ana = app.create_human("ana", "ana@example.com").await;
    for scope in ["*"] {
        let grant = json!({"identity_id": ana, "role": "release-approver", "scope": scope});
        app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
    }
    let ana_token = app.create_token(&ana, 86_400).await;
    let now = app.clock.now();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenHash::of(COOKIE),
        identity_id: ana.parse().unwrap(),
        created_at: now,
        expires_at: now + time::Duration::hours(24),
        source_ip: None,
    };
    app.store.create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "bench")).await.unwrap();

    let requester = app.create_service("bulk").await.parse().unwrap();
    let from = now.unix_timestamp() * 1000 - 3_600_000;
    gatehouse_testkit::bulk::insert_approval_requests(&db.url, requester, PENDING, 1, from).await;
    let ci = app.create_service("ci-web").await;
    let grant = json!({"identity_id": ci, "role": "deployer", "scope": "environment:acme/web:production"});
    app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
    let ci = app.create_token(&ci, 86_400).await;
    let body = json!({
        "kind": "action", "action": "deployment.execute",
        "resource": {"type": "Environment", "id": "acme/web:production"}, "reason": "release 1.4",
        "binding": {"forge": "github", "repository": "acme/web", "run_id": "9001", "run_attempt": 1,
                    "environment": "production", "sha": "0123456789abcdef0123456789abcdef01234567",
                    "authors": ["bob@example.com"]},
    });
    let deployment =
        app.post("/api/v1/requests", &ci, body).await.assert_status(201)["id"].as_str().unwrap().to_owned();

    let browser = ("cookie", format!("gatehouse_session={COOKIE}"));
    let api = ("authorization", format!("Bearer {ana_token}"));
    // Warm both paths (caches, prepared statements) before timing.
    time(&app, "/ui", &browser, "project:bulk/").await;
    time(&app, "/api/v1/requests?reviewable=true&limit=50", &api, "project:bulk/").await;

    let inbox = time(&app, "/ui", &browser, "project:bulk/").await;
    let listing = time(&app, "/api/v1/requests?reviewable=true&limit=50", &api, "project:bulk/").await;
    let page = time(&app, &format!("/ui/requests/{deployment}"), &browser, "release 1.4").await;
    let shown = time(&app, &format!("/api/v1/requests/{deployment}"), &api, "release 1.4").await;
    println!("{engine:?}: {PENDING} pending, {ROUNDS} rounds each (ms)");
    for (name, page, baseline) in [("inbox GET /ui", &inbox, &listing), ("request page", &page, &shown)] {
        println!(
            "  {name}: p50 {:.2}, p99 {:.2}, {} bytes | API baseline p50 {:.2}, p99 {:.2} | p99 ratio {:.2}",
            page.p50,
            page.p99,
            page.bytes,
            baseline.p50,
            baseline.p99,
            page.p99 / baseline.p99
        );
    }
    db.clean_up().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for engine in [Engine::Sqlite, Engine::Postgres] {
            run(engine).await;
        }
    });
}
