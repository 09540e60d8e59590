//! Evidence file benchmark (`cargo bench -p gatehouse-server --bench
//! evidence_bundle`), in-process, on SQLite: a log of 10,000 deployments,
//! each the trail the gate leaves (request.create, an approving
//! request.vote, request.decide, request.consume, the commit's
//! commit.verify, and the allowed `authorize`), among as many unrelated
//! entries. Times building the file (`evidence::build`, the store reads and
//! proofs), writing it as JSON, and verifying it offline as `gatehouse
//! evidence verify` does: parse, the bundle's proofs on 1 and on 2
//! threads (proofs per second), and the recomputed reading of the entries.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use gatehouse_audit::{bundle, merkle};
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::{Clock, format_rfc3339};
use gatehouse_domain::evidence::{self, EvidenceQuery};
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::{Value, json};

const DEPLOYMENTS: usize = 10_000;
const BATCH: usize = 100;
/// Verification runs; the best shows the code, the median the machine.
const RUNS: usize = 5;

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn records(now: time::OffsetDateTime, i: usize, ci: &str, ana: &str) -> Vec<AuditRecord> {
    let request = ApprovalRequestId::new().to_string();
    let sha = format!("{:040x}", i + 1);
    let resource = "environment:acme/web:production";
    let who = |id: &str, kind: &str| Actor::Identity { id: id.to_owned(), kind: kind.to_owned() };
    let on_request = |actor: Actor, action: &str, details: Value| {
        AuditRecord::new(now, actor, action, format!("request:{request}")).details(details)
    };
    vec![
        AuditRecord::new(now, who(ana, "human"), "identity.view", "bench").details(json!({"noise": i})),
        AuditRecord::new(now, who(ana, "human"), "commit.verify", "project:acme/web")
            .details(json!({"commit": sha, "ref": "refs/heads/main", "valid": true, "signer": ana})),
        on_request(
            who(ci, "service"),
            "request.create",
            json!({"request_id": request, "rule": "prod",
            "action": "deployment.execute", "resource": resource, "reason": format!("release {i}")}),
        ),
        on_request(
            who(ana, "human"),
            "request.vote",
            json!({"request_id": request, "voter": ana,
            "decision": "approve", "mfa_age_seconds": 30}),
        ),
        on_request(who(ana, "human"), "request.decide", json!({"request_id": request, "state": "approved"})),
        AuditRecord::new(now, who(ci, "service"), "pipeline.trigger", "bench").details(json!({"noise": i})),
        on_request(who(ci, "service"), "request.consume", json!({"request_id": request})),
        AuditRecord::new(now, who(ci, "service"), "authorize", resource).details(json!({
            "principal": ci, "action": "deployment.execute", "decision": "allow",
            "context": {"commit": sha},
            "approval": {"rule": "prod", "request_required": false, "request": request},
        })),
        AuditRecord::new(now, Actor::System, "webhook.github", "bench").details(json!({"noise": i})),
    ]
}

async fn run(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{engine:?}: skipped (no database)");
        return;
    };
    println!("{engine:?}:");
    let app = TestApp::new(&db).await;
    let now = app.clock.now();
    let (ci, ana) = (app.create_service("ci-web").await, app.create_human("Ana", "ana@example.com").await);
    let started = Instant::now();
    for batch in (0..DEPLOYMENTS).collect::<Vec<_>>().chunks(BATCH) {
        let batch: Vec<AuditRecord> = batch.iter().flat_map(|&i| records(now, i, &ci, &ana)).collect();
        app.store.append_audit_batch(batch).await.unwrap();
    }
    let size = app.audit_size().await;
    println!("  seeded {DEPLOYMENTS} deployments, {size} entries, in {:.1} s", started.elapsed().as_secs_f64());

    let from = format_rfc3339(now - time::Duration::days(1));
    let to = format_rfc3339(now + time::Duration::days(1));
    let query = EvidenceQuery::parse(&from, &to, None).unwrap();
    let started = Instant::now();
    let built = gatehouse_server::evidence::build(&*app.store, &query).await.unwrap();
    let build = started.elapsed();
    let started = Instant::now();
    let file = serde_json::to_vec(&built).unwrap();
    let write = started.elapsed();
    let entries = built.entries.len();
    let proof_hashes: usize = built.entries.iter().map(|e| e.proof.len()).sum();
    drop(built);
    println!(
        "  build: {:.2} s for {entries} entries ({:.1} hashes per proof), JSON {:.2} s, {:.1} MiB",
        build.as_secs_f64(),
        proof_hashes as f64 / entries as f64,
        write.as_secs_f64(),
        file.len() as f64 / (1 << 20) as f64
    );

    let key = app.get("/api/v1/audit/public-key", &app.admin_token).await.text.trim().to_owned();
    let started = Instant::now();
    let parsed = bundle::parse(&file).unwrap();
    let parse = started.elapsed();
    println!("  verify: parse {:.2} s", parse.as_secs_f64());
    // The baseline, in the same session: RFC 9162's walk for every entry
    // from its full proof, as `merkle::verify_inclusion` does, without
    // reading the leaves.
    let root = STANDARD.decode(&parsed.proved_root).unwrap().try_into().unwrap();
    let decoded: Vec<(u64, Vec<u8>, Vec<[u8; 32]>)> = parsed
        .entries
        .iter()
        .map(|e| {
            let proof = e.proof.iter().map(|h| STANDARD.decode(h).unwrap().try_into().unwrap()).collect();
            (e.index, e.leaf.clone().into_bytes(), proof)
        })
        .collect();
    let mut plain = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        for (index, leaf, proof) in &decoded {
            assert!(merkle::verify_inclusion(&merkle::leaf_hash(leaf), *index, parsed.proved_size, proof, &root));
        }
        plain.push(started.elapsed());
    }
    let rate = |d: Duration| entries as f64 / d.as_secs_f64();
    let plain_best = *plain.iter().min().unwrap();
    println!(
        "  baseline: plain walk of decoded proofs, 1 thread: best {:.0} proofs/s, median {:.0} (of {RUNS} runs)",
        rate(plain_best),
        rate(median(&mut plain))
    );
    let mut leaves = Vec::new();
    for workers in [1, 2] {
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let verified = bundle::verify(&parsed, evidence::FORMAT, &key, workers).unwrap();
            runs.push(started.elapsed());
            leaves = verified.leaves;
        }
        let best = *runs.iter().min().unwrap();
        println!(
            "  verify: bundle::verify on {workers} thread(s) (proofs, decoding, leaves parsed): best {:.0} proofs/s, \
             median {:.0}, best / baseline {:.2} (target >= 100,000)",
            rate(best),
            rate(median(&mut runs)),
            plain_best.as_secs_f64() / best.as_secs_f64()
        );
    }
    let started = Instant::now();
    let values: Vec<Value> = leaves.into_iter().map(|(_, leaf)| leaf).collect();
    let read = evidence::read(&query, &values);
    let reading = started.elapsed();
    assert_eq!(read.summary.deployments, DEPLOYMENTS as u64);
    assert_eq!(read.summary.missing, 0, "{:?}", read.missing.first());
    assert_eq!(read.sections(&query), parsed.sections);
    println!("  verify: recomputing the reading {:.2} s", reading.as_secs_f64());
    drop(app);
    db.clean_up().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(Engine::Sqlite));
    runtime.block_on(run(Engine::Postgres));
}
