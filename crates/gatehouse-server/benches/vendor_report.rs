//! Vendor report benchmark (`cargo bench -p gatehouse-server --bench
//! vendor_report`), in-process (the router without a socket), on SQLite:
//! `GET /api/v1/vendors/report` over 10,000 vendors with 5 evidence items
//! each (a SOC 2 report, a pen test, a DPA, a questionnaire and a
//! certificate) and an integration for every tenth vendor. The fixture is
//! written through the store (each write with its audit entry), in
//! concurrent batches. Prints p50, p99 and max of the report's time.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::ids::{EvidenceId, IntegrationId, VendorId};
use gatehouse_domain::store::Store;
use gatehouse_domain::vendor::{
    Certificate, ContentDigest, Contract, DataAccess, Dpa, Evidence, EvidenceMetadata, Integration, IntegrationState,
    PenTest, Questionnaire, QuestionnaireKind, Soc2, Soc2Opinion, Soc2Type, TrustService, Vendor, VendorStatus,
    VendorTier, declared_from_json,
};
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::json;
use time::macros::date;

const VENDORS: usize = 10_000;
const BATCH: usize = 100;
const RUNS: usize = 30;

fn percentile(samples: &mut [Duration], share: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * share).round() as usize;
    samples[index]
}

fn vendor(i: usize) -> Vendor {
    let tiers = [VendorTier::Critical, VendorTier::High, VendorTier::Medium, VendorTier::Low];
    Vendor {
        id: VendorId::new(),
        name: format!("vendor-{i:05}"),
        tier: tiers[i % tiers.len()],
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2026 - 01 - 01), renewal: date!(2026 - 12 - 01), end: date!(2028 - 12 - 31) },
        data_access: DataAccess::Source,
        logging: None,
        status: if i.is_multiple_of(7) { VendorStatus::Prospect } else { VendorStatus::Approved },
    }
}

fn items(vendor: &Vendor, i: usize, now: time::OffsetDateTime) -> Vec<(Evidence, Vec<u8>)> {
    // Period ends spread over a year, so states vary (valid, due soon, expired).
    let period_end = date!(2025 - 06 - 01) + time::Duration::days((i % 365) as i64);
    let metadata = [
        EvidenceMetadata::Soc2(Soc2 {
            report_type: Soc2Type::TypeII,
            opinion: Soc2Opinion::Unqualified,
            trust_services: [TrustService::Security].into(),
            period_start: period_end - time::Duration::days(365),
            period_end,
        }),
        EvidenceMetadata::PenTest(PenTest { performed_on: period_end, product_in_scope: true, open_critical: 0 }),
        EvidenceMetadata::Dpa(Dpa { signed_on: date!(2026 - 01 - 02) }),
        EvidenceMetadata::Questionnaire(Questionnaire { kind: QuestionnaireKind::SigLite, answered_on: period_end }),
        EvidenceMetadata::Certificate(Certificate {
            name: "ISO/IEC 27001:2022".into(),
            expires_on: date!(2027 - 09 - 30),
        }),
    ];
    metadata
        .into_iter()
        .enumerate()
        .map(|(j, metadata)| {
            let content = format!("{i}-{j} evidence file").into_bytes();
            let evidence = Evidence {
                id: EvidenceId::new(),
                vendor_id: vendor.id,
                metadata,
                digest: ContentDigest::of(&content),
                size: content.len() as u64,
                filename: format!("evidence-{j}.pdf"),
                added_at: now,
            };
            (evidence, content)
        })
        .collect()
}

fn record(now: time::OffsetDateTime, action: &str) -> AuditRecord {
    AuditRecord::new(now, Actor::System, action, "bench")
}

async fn seed(store: Arc<dyn Store>, now: time::OffsetDateTime, registered_by: gatehouse_domain::ids::IdentityId) {
    let started = Instant::now();
    for batch in (0..VENDORS).collect::<Vec<_>>().chunks(BATCH) {
        let writes = batch.iter().map(|&i| {
            let store = Arc::clone(&store);
            async move {
                let vendor = store.create_vendor(vendor(i), record(now, "vendor.create")).await.unwrap();
                for (evidence, content) in items(&vendor, i, now) {
                    store.add_evidence(evidence, content, record(now, "evidence.add")).await.unwrap();
                }
                if i.is_multiple_of(10) {
                    let identity = NewIdentity::new(IdentityKind::Service, &format!("bot-{i:05}"), None, now).unwrap();
                    let identity = store.create_identity(identity, record(now, "identity.create")).await.unwrap();
                    let integration = Integration {
                        id: IntegrationId::new(),
                        vendor_id: vendor.id,
                        identity_id: identity.id,
                        declared: declared_from_json(&json!({"method": "github_app", "token_ttl": "1h"})).unwrap(),
                        state: IntegrationState::Active,
                        onboarding_request: None,
                        noted_in_force: None,
                        registered_by,
                        registered_at: now,
                    };
                    store.create_integration(integration, vec![record(now, "integration.register")]).await.unwrap();
                }
            }
        });
        join_all(writes).await;
    }
    println!("  seeded {VENDORS} vendors x 5 evidence in {:.1} s", started.elapsed().as_secs_f64());
}

async fn run(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{engine:?}: skipped (no database)");
        return;
    };
    println!("{engine:?}:");
    let app = TestApp::new(&db).await;
    seed(Arc::clone(&app.store), app.clock.now(), app.admin_id).await;
    let mut samples = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = app.get("/api/v1/vendors/report", &app.admin_token).await;
        samples.push(started.elapsed());
        assert_eq!(report.status, 200, "{}", report.text);
        assert_eq!(report.body["vendors"].as_array().unwrap().len(), VENDORS);
        bytes = report.text.len();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  GET /api/v1/vendors/report ({VENDORS} vendors, {} KiB): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {RUNS} \
         runs (target < 1000 ms)",
        bytes / 1024,
        ms(percentile(&mut samples, 0.5)),
        ms(percentile(&mut samples, 0.99)),
        ms(percentile(&mut samples, 1.0)),
    );
    drop(app);
    db.clean_up().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run(Engine::Sqlite));
}
