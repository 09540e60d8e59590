//! Approved-channel benchmark (`cargo bench -p gatehouse-server --bench
//! approvals`), in-process (the router without a socket), on SQLite and,
//! when `GATEHOUSE_TEST_POSTGRES_URL` answers, PostgreSQL:
//!
//! 1. 1,000 gates waiting on one request (`GET /requests/{id}/wait`): the
//!    memory each waiter holds, and the time from the deciding vote to each
//!    waiter's answer (p50, p99, max);
//! 2. votes per second on distinct pending requests, 1 and 16 voters' calls
//!    at once;
//! 3. listing pending requests (`GET /requests?state=pending`, first page
//!    of 50) with 100,000 requests stored, 1 % and 100 % of them pending.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::{Value, json};

const WAITERS: usize = 1_000;
const VOTED_REQUESTS: usize = 400;
const STORED: usize = 100_000;
const LISTINGS: usize = 200;

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 2, of = "role:release-approver" }
reason = "optional"
"#;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * share).round() as usize;
    samples[index]
}

struct Setup {
    app: Arc<TestApp>,
    ci: String,
    approvers: [String; 2],
}

async fn setup(db: &TestDatabase) -> Setup {
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    let policies = Policies::from_source(&source).unwrap();
    let app = TestApp::with_policies(db, gatehouse_testkit::test_settings(), policies).await;
    let mut approvers = Vec::new();
    for name in ["ana", "bob"] {
        let id = app.create_human(name, &format!("{name}@example.com")).await;
        let grant = json!({"identity_id": id, "role": "release-approver", "scope": "environment:acme/web:production"});
        app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
        let token = app.create_token(&id, 86_400).await;
        let started = app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_status(200).clone();
        let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
        let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
        app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": code})).await.assert_status(200);
        approvers.push(token);
    }
    let ci = app.create_service("ci-web").await;
    let grant = json!({"identity_id": ci, "role": "deployer", "scope": "environment:acme/web:production"});
    app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
    let ci = app.create_token(&ci, 86_400).await;
    Setup { app: Arc::new(app), ci, approvers: approvers.try_into().unwrap() }
}

async fn open(setup: &Setup) -> Value {
    let body = json!({"kind": "action", "action": "deployment.execute",
                      "resource": {"type": "Environment", "id": "acme/web:production"}});
    setup.app.post("/api/v1/requests", &setup.ci, body).await.assert_status(201).clone()
}

async fn vote(app: &TestApp, token: &str, request: &Value) {
    let id = request["id"].as_str().unwrap();
    let body = json!({"decision": "approve", "digest": request["digest"]});
    app.post(&format!("/api/v1/requests/{id}/votes"), token, body).await.assert_status(201);
}

async fn waiters(setup: &Setup) {
    let request = open(setup).await;
    let id: gatehouse_domain::ids::ApprovalRequestId = request["id"].as_str().unwrap().parse().unwrap();
    vote(&setup.app, &setup.approvers[0], &request).await;
    let before = rss_bytes();
    let mut tasks = Vec::with_capacity(WAITERS);
    for _ in 0..WAITERS {
        let (app, token) = (setup.app.clone(), setup.ci.clone());
        let path = format!("/api/v1/requests/{id}/wait?timeout=120s");
        tasks.push(tokio::spawn(async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let request = axum::http::Request::get(&path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.router.clone().oneshot(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            // The answer is in: what the client does with it is not timed.
            let released = Instant::now();
            assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["state"], "approved");
            released
        }));
    }
    while setup.app.state.request_updates.waiting(id) < WAITERS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held = rss_bytes().saturating_sub(before);
    let voted = Instant::now();
    vote(&setup.app, &setup.approvers[1], &request).await;
    let answered = Instant::now();
    let mut from_vote = Vec::with_capacity(WAITERS);
    let mut from_answer = Vec::with_capacity(WAITERS);
    for task in tasks {
        let released = task.await.unwrap();
        from_vote.push(released.saturating_duration_since(voted));
        from_answer.push(released.saturating_duration_since(answered));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {WAITERS} waiters: {:.1} KiB each; deciding vote answered in {:.2} ms; all released p50 {:.2} ms, p99 {:.2} \
         ms, max {:.2} ms after the vote was sent ({:.2} / {:.2} / {:.2} ms after it was answered)",
        held as f64 / 1024.0 / WAITERS as f64,
        ms(answered - voted),
        ms(percentile(&mut from_vote, 0.5)),
        ms(percentile(&mut from_vote, 0.99)),
        ms(percentile(&mut from_vote, 1.0)),
        ms(percentile(&mut from_answer, 0.5)),
        ms(percentile(&mut from_answer, 0.99)),
        ms(percentile(&mut from_answer, 1.0)),
    );
}

async fn votes(setup: &Setup) {
    let mut requests = Vec::with_capacity(VOTED_REQUESTS);
    for _ in 0..VOTED_REQUESTS {
        requests.push(open(setup).await);
    }
    // Ana's votes one at a time (each leaves the request pending)…
    let started = Instant::now();
    for request in &requests {
        vote(&setup.app, &setup.approvers[0], request).await;
    }
    let one = VOTED_REQUESTS as f64 / started.elapsed().as_secs_f64();
    // …then Bob's deciding votes, 16 at a time.
    let requests = Arc::new(requests);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..16 {
        let (app, token, requests) = (setup.app.clone(), setup.approvers[1].clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            for request in requests.iter().skip(lane).step_by(16) {
                vote(&app, &token, request).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let many = VOTED_REQUESTS as f64 / started.elapsed().as_secs_f64();
    println!("  votes: {one:.0}/s one at a time (pending after), {many:.0}/s 16 at a time (each deciding)");
}

async fn listing(engine: Engine, pending_every: usize) {
    let db = TestDatabase::create(engine).await.unwrap();
    let setup = setup(&db).await;
    let requester = setup.app.create_service("bulk").await.parse().unwrap();
    let from = setup.app.clock.now().unix_timestamp() * 1000 - 200_000_000;
    gatehouse_testkit::bulk::insert_approval_requests(&db.url, requester, STORED, pending_every, from).await;
    let mut samples = Vec::with_capacity(LISTINGS);
    for _ in 0..LISTINGS {
        let started = Instant::now();
        let page = setup.app.get("/api/v1/requests?state=pending&limit=50", &setup.app.admin_token).await;
        samples.push(started.elapsed());
        assert_eq!(page.assert_status(200)["items"].as_array().unwrap().len(), 50);
    }
    println!(
        "  list pending, {STORED} stored, 1 in {pending_every} pending: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&mut samples, 0.5).as_secs_f64() * 1e3,
        percentile(&mut samples, 0.99).as_secs_f64() * 1e3,
    );
    db.clean_up().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for engine in [Engine::Sqlite, Engine::Postgres] {
            let Some(db) = TestDatabase::create(engine).await else {
                println!("{engine:?}: skipped (no database)");
                continue;
            };
            println!("{engine:?}:");
            let setup = setup(&db).await;
            waiters(&setup).await;
            votes(&setup).await;
            drop(setup);
            db.clean_up().await;
            listing(engine, 100).await;
            listing(engine, 1).await;
        }
    });
}
