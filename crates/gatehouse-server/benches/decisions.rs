//! Decision benchmark (`cargo bench -p gatehouse-server --bench decisions`):
//! in-process decisions per second and latency percentiles, with 10 grants
//! and with 100,000 grants in the store (SQLite). A decision here is what
//! the server does per request: read the principal's grants, then decide.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration, Instant};

use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_policy::{DecisionInput, Policies};
use gatehouse_testkit::{Engine, TestDatabase};

/// Rate, p50 and p99 of `with_store` decisions (grants read from the store
/// each time) or of decisions alone, with `identities` × 5 grants stored.
async fn run(identities: usize, with_store: bool) -> (f64, Duration, Duration) {
    let db = TestDatabase::create(Engine::Sqlite).await.unwrap();
    let store = db.open_store().await;
    let ids = gatehouse_testkit::bulk::insert_grants(&db.url, identities, 5, "developer").await;
    let policies = Policies::defaults();
    let principal = store.find_identity(ids[ids.len() / 2]).await.unwrap().unwrap();
    let resource = Resource::Project(format!("bulk/p{}-0", ids.len() / 2));
    let now = time::OffsetDateTime::now_utc();
    let mut samples = Vec::with_capacity(200_000);
    let loaded = store.list_grants_of(principal.id).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        let grants = if with_store { store.list_grants_of(principal.id).await.unwrap() } else { loaded.clone() };
        let decision = policies
            .decide(&DecisionInput {
                principal: &principal,
                grants: &grants,
                action: Action::SourcePush,
                resource: &resource,
                now,
                auth_method: "token",
                mfa_fresh: false,
                source_ip: Some("127.0.0.1"),
                principal_is_caller: true,
                caller_context: None,
            })
            .unwrap();
        samples.push(t.elapsed());
        assert!(decision.is_allowed());
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    samples.sort();
    let p50 = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    db.clean_up().await;
    (rate, p50, p99)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        println!("== in-process decisions on one core; the principal holds 5 grants in every case");
        for with_store in [false, true] {
            println!(
                "-- {}",
                if with_store {
                    "reading the principal's grants from the store, then deciding"
                } else {
                    "deciding (grants in hand)"
                }
            );
            let small = run(2, with_store).await;
            let large = run(20_000, with_store).await;
            for (label, (rate, p50, p99)) in [("10 grants", small), ("100,000 grants", large)] {
                println!(
                    "{label:>15} stored: {rate:>8.0} decisions/s, p50 {:>6.1} µs, p99 {:>6.1} µs",
                    p50.as_secs_f64() * 1e6,
                    p99.as_secs_f64() * 1e6
                );
            }
            println!(
                "100k / 10: rate {:.2}, p99 {:.2}",
                large.0 / small.0,
                large.2.as_secs_f64() / small.2.as_secs_f64()
            );
        }
    });
}
