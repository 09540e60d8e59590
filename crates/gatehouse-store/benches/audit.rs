//! Audit log benchmarks (`cargo bench -p gatehouse-store --bench audit`).
//!
//! 1. Durable appends per second at 1, 16 and 64 concurrent writers, with
//!    group commit and with one transaction per entry, on SQLite and
//!    PostgreSQL.
//! 2. Inclusion and consistency proofs in-process on a log of 1,000 entries
//!    and of `GATEHOUSE_BENCH_ENTRIES` (default 1,000,000), SQLite.
//!
//! With `GATEHOUSE_BENCH_DATA_DIR` set, the large log is built there as a
//! complete gatehouse data dir (key, database, admin token in
//! `bench-admin-token`), so `bench/audit.sh` can serve, export and verify it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_audit::merkle;
use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::audit::{Actor, AuditRecord, RequestOrigin};
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::setup::first_admin_setup;
use gatehouse_domain::store::Store;
use gatehouse_store::{AuditSettings, ConnectOptions, Engine};
use gatehouse_testkit::TestDatabase;

fn record(writer: usize, n: usize) -> AuditRecord {
    AuditRecord::new(time::OffsetDateTime::now_utc(), Actor::System, "bench.append", format!("bench:{writer}"))
        .origin(&RequestOrigin {
            request_id: Some(format!("req-{writer}-{n}")),
            source_ip: Some("127.0.0.1".into()),
            ..Default::default()
        })
        .details(
            serde_json::json!({ "writer": writer, "n": n, "note": "a typical entry carries a few ids and values" }),
        )
}

/// Appends for `duration` from `writers` concurrent tasks; entries per second.
async fn append_rate(store: Arc<dyn Store>, writers: usize, duration: Duration) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while started.elapsed() < duration {
                    store.append_audit(record(writer, n)).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn appends() {
    println!("== durable appends per second (entries/s)");
    println!("{:<9} {:>7} {:>14} {:>14} {:>7}", "engine", "writers", "one-per-entry", "group commit", "ratio");
    let engines = match std::env::var("GATEHOUSE_BENCH_ENGINE").as_deref() {
        Ok("sqlite") => vec![Engine::Sqlite],
        Ok("postgres") => vec![Engine::Postgres],
        _ => vec![Engine::Sqlite, Engine::Postgres],
    };
    for engine in engines {
        for writers in [1, 16, 64] {
            let mut rates = Vec::new();
            for max_batch in [1, 256] {
                let Some(db) = TestDatabase::create(engine).await else { return };
                let settings = AuditSettings { signer: Some(db.signer.clone()), max_batch, ..AuditSettings::default() };
                let store = db.open_store_with(settings).await;
                rates.push(append_rate(store, writers, Duration::from_secs(3)).await);
                db.clean_up().await;
            }
            println!(
                "{:<9} {:>7} {:>14.0} {:>14.0} {:>6.1}x",
                engine.name(),
                writers,
                rates[0],
                rates[1],
                rates[1] / rates[0]
            );
        }
    }
}

/// Fills `store` with `entries` appends from 64 writers.
async fn fill(store: &Arc<dyn Store>, entries: usize) {
    let writers = 64;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (writer..entries).step_by(writers) {
                    store.append_audit(record(writer, n)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

async fn time_proofs(store: &dyn Store, size: u64) -> (Duration, Duration, Duration, Duration) {
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for _ in 0..2000 {
        let index = rand::random_range(0..size);
        let started = Instant::now();
        let ids = merkle::nodes_needed(|get| merkle::inclusion_proof(index, size, get));
        let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
        let hashes = store.find_tree_nodes(&keys).await.unwrap();
        let nodes: std::collections::HashMap<_, _> = ids.into_iter().zip(hashes).collect();
        let proof = merkle::inclusion_proof(index, size, &mut |id| nodes[&id]).unwrap();
        inclusion.push(started.elapsed());
        assert!(proof.len() <= 64);

        let first = rand::random_range(1..=size);
        let started = Instant::now();
        let ids = merkle::nodes_needed(|get| merkle::consistency_proof(first, size, get));
        let keys: Vec<(u8, u64)> = ids.iter().map(|id| (id.level, id.index)).collect();
        let hashes = store.find_tree_nodes(&keys).await.unwrap();
        let nodes: std::collections::HashMap<_, _> = ids.into_iter().zip(hashes).collect();
        merkle::consistency_proof(first, size, &mut |id| nodes[&id]).unwrap();
        consistency.push(started.elapsed());
    }
    (
        percentile(&mut inclusion, 0.5),
        percentile(&mut inclusion, 0.99),
        percentile(&mut consistency, 0.5),
        percentile(&mut consistency, 0.99),
    )
}

/// Builds a complete data dir (signing key, initialized database) at `dir`.
async fn data_dir_store(dir: &std::path::Path) -> Arc<dyn Store> {
    std::fs::create_dir_all(dir).unwrap();
    let signer = Arc::new(NoteSigner::generate("gatehouse").unwrap());
    std::fs::write(dir.join("audit-signing.key"), format!("{}\n", signer.encode())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("audit-signing.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
    let settings = AuditSettings { signer: Some(signer.clone()), max_batch: 4096, ..AuditSettings::default() };
    let store =
        gatehouse_store::open(&url, ConnectOptions { audit: settings, ..ConnectOptions::default() }).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let admin = NewIdentity::new(IdentityKind::Human, "bench", Some("bench@example.com"), now).unwrap();
    let (setup, secret) = first_admin_setup(
        admin,
        signer.verifier().encode(),
        "gatehouse/bench".into(),
        "sqlite",
        now,
        time::Duration::days(1),
    );
    store.initialize(setup).await.unwrap();
    std::fs::write(dir.join("bench-admin-token"), secret.expose()).unwrap();
    store
}

async fn proofs() {
    let large: usize = std::env::var("GATEHOUSE_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    println!("\n== proofs in-process (SQLite), p50 / p99");
    let keep = std::env::var_os("GATEHOUSE_BENCH_DATA_DIR");
    let scratch = tempfile::tempdir().unwrap();
    for entries in [1_000, large] {
        let dir = match (&keep, entries == large) {
            (Some(path), true) => std::path::PathBuf::from(path),
            _ => scratch.path().join(format!("log-{entries}")),
        };
        let started = Instant::now();
        let store = if dir.join("gatehouse.db").exists() {
            // A log left by an earlier run: measure it as it is.
            let key = std::fs::read_to_string(dir.join("audit-signing.key")).unwrap();
            let signer = Arc::new(NoteSigner::parse(&key).unwrap());
            let url = format!("sqlite://{}", dir.join("gatehouse.db").display());
            let audit = AuditSettings { signer: Some(signer), ..AuditSettings::default() };
            gatehouse_store::open(&url, ConnectOptions { audit, ..ConnectOptions::default() }).await.unwrap()
        } else {
            let store = data_dir_store(&dir).await;
            fill(&store, entries).await;
            store
        };
        let size = store.latest_checkpoint().await.unwrap().unwrap().tree_size;
        let filled = started.elapsed();
        // Steady state: the store loads the tree into memory in the
        // background after opening; let it finish before measuring.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (inclusion_p50, inclusion_p99, consistency_p50, consistency_p99) = time_proofs(&*store, size).await;
        println!(
            "{size:>9} entries (built in {:.1}s, {:.0}/s): inclusion {:>6.1} / {:>6.1} µs, consistency {:>6.1} / {:>6.1} µs",
            filled.as_secs_f64(),
            size as f64 / filled.as_secs_f64(),
            inclusion_p50.as_secs_f64() * 1e6,
            inclusion_p99.as_secs_f64() * 1e6,
            consistency_p50.as_secs_f64() * 1e6,
            consistency_p99.as_secs_f64() * 1e6,
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let only = std::env::var("GATEHOUSE_BENCH_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "appends" {
            appends().await;
        }
        if only.is_empty() || only == "proofs" {
            proofs().await;
        }
    });
}
