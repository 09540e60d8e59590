//! Opening a review campaign over 100,000 grants (`cargo bench -p
//! gatehouse-server --bench review_open`), in-process, on SQLite and
//! PostgreSQL: 20,000 service identities with 5 `developer` grants each
//! (bulk-inserted fixture rows), a campaign over the role reviewed by
//! `role:admin`. Prints the time of `POST /api/v1/reviews` per run and the
//! process's peak resident memory before and after (the memory the opening
//! added). Target: under 5 s, memory bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration, Instant};

use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::json;

const IDENTITIES: usize = 20_000;
const GRANTS_EACH: usize = 5;
const RUNS: usize = 3;

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{engine:?}: skipped (no database)");
        return;
    };
    println!("{engine:?}:");
    let app = TestApp::new(&db).await;
    let seeded = Instant::now();
    gatehouse_testkit::bulk::insert_grants(&db.url, IDENTITIES, GRANTS_EACH, "developer").await;
    let grants = IDENTITIES * GRANTS_EACH;
    println!("  seeded {grants} grants in {:.1} s", seeded.elapsed().as_secs_f64());
    let before = peak_rss_mib();
    let mut samples = Vec::new();
    for run in 0..RUNS {
        let body = json!({
            "name": format!("Developers {run}"),
            "scope": {"role": "developer"},
            "reviewers": ["role:admin"],
            "fallback": "role:admin",
            "duration": "14d",
        });
        let started = Instant::now();
        let opened = app.post("/api/v1/reviews", &app.admin_token, body).await;
        samples.push(started.elapsed());
        assert_eq!(opened.status, 201, "{}", opened.text);
        assert_eq!(opened.body["items"].as_u64(), Some(grants as u64));
    }
    let secs = |d: &Duration| d.as_secs_f64();
    let times: Vec<String> = samples.iter().map(|d| format!("{:.2} s", secs(d))).collect();
    println!(
        "  POST /api/v1/reviews over {grants} grants: {} (target < 5 s); peak RSS {:.0} MiB before, {:.0} MiB after",
        times.join(", "),
        before,
        peak_rss_mib(),
    );
    drop(app);
    db.clean_up().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(Engine::Sqlite));
    runtime.block_on(run(Engine::Postgres));
}
