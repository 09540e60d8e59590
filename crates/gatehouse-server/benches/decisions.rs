//! Decision benchmark (`cargo bench -p gatehouse-server --bench decisions`):
//! in-process decisions per second and latency percentiles, with 10 grants
//! and with 100,000 grants in the store (SQLite). A decision here is what
//! the server does per request: read the principal's grants, then decide.
//! Each decision asks a new question (its own source address, or a
//! pipeline not asked about before, whose entities are built afresh), so
//! Cedar evaluates every one; a last pair of lines asks the same question
//! again and again, which the policies answer from their memo.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration, Instant};

use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_policy::{DecisionInput, Policies};
use gatehouse_testkit::{Engine, TestDatabase};

/// How a run asks.
#[derive(Clone, Copy, PartialEq)]
enum Asking {
    /// A new question each time, deciding with the grants in hand.
    New,
    /// A new question each time, reading the grants from the store first.
    NewWithStore,
    /// A new question each time, about a pipeline not asked about before.
    NewResource,
    /// The same question again and again.
    Same,
}

/// Rate, p50 and p99 of decisions asked as `asking`, with `identities` × 5
/// grants stored.
async fn run(identities: usize, asking: Asking) -> (f64, Duration, Duration) {
    let db = TestDatabase::create(Engine::Sqlite).await.unwrap();
    let store = db.open_store().await;
    let ids = gatehouse_testkit::bulk::insert_grants(&db.url, identities, 5, "developer").await;
    let policies = Policies::defaults();
    let principal = store.find_identity(ids[ids.len() / 2]).await.unwrap().unwrap();
    let project = format!("bulk/p{}-0", ids.len() / 2);
    let resource = Resource::Project(project.clone());
    let now = time::OffsetDateTime::now_utc();
    let mut samples = Vec::with_capacity(200_000);
    let loaded = store.list_grants_of(principal.id).await.unwrap();
    // Distinct addresses and pipelines, made before the clock starts. The
    // memos keep far fewer than this many, so going round again asks
    // nothing they still hold.
    let addresses: Vec<String> =
        (0..1u32 << 16).map(|i| std::net::Ipv4Addr::from(0x0a00_0000 | i).to_string()).collect();
    let pipelines: Vec<Resource> =
        (0..1u32 << 16).map(|i| Resource::Pipeline(project.clone(), format!("p{i}"))).collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let source_ip = match asking {
            Asking::New | Asking::NewWithStore => &addresses[samples.len() % addresses.len()],
            Asking::NewResource | Asking::Same => "127.0.0.1",
        };
        let (action, resource) = if asking == Asking::NewResource {
            (Action::PipelineTrigger, &pipelines[samples.len() % pipelines.len()])
        } else {
            (Action::SourcePush, &resource)
        };
        let t = Instant::now();
        let grants = if asking == Asking::NewWithStore {
            store.list_grants_of(principal.id).await.unwrap()
        } else {
            loaded.clone()
        };
        let decision = policies
            .decide(&DecisionInput {
                principal: &principal,
                grants: &grants,
                action,
                resource,
                now,
                auth_method: "token",
                mfa_fresh: false,
                step_up: false,
                source_ip: Some(source_ip),
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
        for asking in [Asking::New, Asking::NewWithStore, Asking::NewResource, Asking::Same] {
            println!(
                "-- {}",
                match asking {
                    Asking::New => "a new question each time, deciding (grants in hand)",
                    Asking::NewWithStore =>
                        "a new question each time, reading the principal's grants from the store, then deciding",
                    Asking::NewResource => "a new question each time, about a pipeline not asked about before",
                    Asking::Same => "the same question again and again, deciding (grants in hand)",
                }
            );
            let small = run(2, asking).await;
            let large = run(20_000, asking).await;
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
