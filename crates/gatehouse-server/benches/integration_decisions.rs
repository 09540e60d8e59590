//! Integration decision benchmark (`cargo bench --profile release -p
//! gatehouse-server --bench integration_decisions`): `POST
//! /api/v1/authorize` in-process (the router without a socket) on SQLite,
//! for a service identity serving a vendor's integration and for a plain
//! service identity holding the same grant, in alternating rounds of one
//! run. The integration's standing is cached under the credential stamp,
//! so the target is a ratio within 1.1. A last pair of lines times the
//! integration's decisions with the cache emptied before each (what a
//! change to any credential costs the next decision).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failed step is a failed run")]

use std::time::{Duration, Instant};

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::{EvidenceId, IdentityId, IntegrationId, VendorId};
use gatehouse_domain::vendor::{
    AccessMethod, ContentDigest, Contract, DataAccess, DeclaredAccess, Dpa, Evidence, EvidenceMetadata, Integration,
    IntegrationState, Repositories, Soc2, Soc2Opinion, Soc2Type, TrustService, Vendor, VendorStatus, VendorTier,
};
use gatehouse_testkit::{Engine, TestApp, TestDatabase};
use serde_json::json;
use time::macros::date;

const ROUNDS: usize = 10;
const PER_ROUND: usize = 2_000;

fn record(app: &TestApp, action: AuditAction) -> AuditRecord {
    AuditRecord::system(SystemWriter::Scheduler, app.clock.now(), action, "vendor:bench")
        .outcome(Outcome::Success, "set-up")
}

async fn service_with_grant(app: &TestApp, name: &str) -> (IdentityId, String) {
    let id = app.create_service(name).await;
    let granted = app
        .post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": id, "role": "developer", "scope": "project:acme/web"}),
        )
        .await;
    granted.assert_status(201);
    let token = app.create_token(&id, 3600).await;
    (id.parse().unwrap(), token)
}

async fn integrate(app: &TestApp, identity: IdentityId) {
    let vendor = Vendor {
        id: VendorId::new(),
        name: "Acme Scan".into(),
        tier: VendorTier::High,
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2026 - 01 - 01), renewal: date!(2027 - 06 - 01), end: date!(2028 - 01 - 01) },
        data_access: DataAccess::Source,
        logging: None,
        status: VendorStatus::Approved,
    };
    app.store.create_vendor(vendor.clone(), record(app, AuditAction::VendorCreate)).await.unwrap();
    let items = [
        EvidenceMetadata::Soc2(Soc2 {
            report_type: Soc2Type::TypeII,
            opinion: Soc2Opinion::Unqualified,
            trust_services: [TrustService::Security].into(),
            period_start: date!(2025 - 04 - 01),
            period_end: date!(2026 - 03 - 31),
        }),
        EvidenceMetadata::Dpa(Dpa { signed_on: date!(2026 - 01 - 01) }),
    ];
    for (n, metadata) in items.into_iter().enumerate() {
        let content = format!("evidence {n}").into_bytes();
        let item = Evidence {
            id: EvidenceId::new(),
            vendor_id: vendor.id,
            metadata,
            digest: ContentDigest::of(&content),
            size: content.len() as u64,
            filename: "evidence.pdf".into(),
            added_at: app.clock.now(),
        };
        app.store.add_evidence(item, content, record(app, AuditAction::EvidenceAdd)).await.unwrap();
    }
    let integration = Integration {
        id: IntegrationId::new(),
        vendor_id: vendor.id,
        identity_id: identity,
        declared: DeclaredAccess {
            method: AccessMethod::GatehouseToken,
            permissions: vec!["contents:read".into()],
            repositories: Repositories::Selected(vec!["acme/web".into()]),
            token_lifetime: Some(time::Duration::hours(1)),
            refresh_token_lifetime: None,
            webhook_signed: true,
            ip_allowlist: vec![],
            mtls: false,
            secret_rotated_on: None,
        },
        state: IntegrationState::Active,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: app.admin_id,
        registered_at: app.clock.now(),
    };
    app.store.create_integration(integration, vec![record(app, AuditAction::IntegrationRegister)]).await.unwrap();
}

/// Mean time per decision over `count` decisions by `token`.
async fn round(app: &TestApp, token: &str, count: usize, before_each: impl Fn()) -> Duration {
    let asked = json!({"action": "pipeline.trigger", "resource": {"type": "Project", "id": "acme/web"}});
    let mut spent = Duration::ZERO;
    for _ in 0..count {
        before_each();
        let started = Instant::now();
        let answer = app.post("/api/v1/authorize", token, asked.clone()).await;
        spent += started.elapsed();
        assert_eq!(answer.assert_status(200)["decision"], "allow", "{}", answer.text);
    }
    spent / count as u32
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let db = TestDatabase::create(Engine::Sqlite).await.unwrap();
    let app = TestApp::new(&db).await;
    let (plain, plain_token) = service_with_grant(&app, "plain-bot").await;
    let (integrated, integrated_token) = service_with_grant(&app, "acme-scan").await;
    let _ = plain;
    integrate(&app, integrated).await;

    // Warm both paths, then alternate rounds so drift hits both alike.
    round(&app, &plain_token, 500, || {}).await;
    round(&app, &integrated_token, 500, || {}).await;
    let (mut plain_means, mut integrated_means) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        plain_means.push(round(&app, &plain_token, PER_ROUND, || {}).await);
        integrated_means.push(round(&app, &integrated_token, PER_ROUND, || {}).await);
    }
    let mean = |means: &[Duration]| means.iter().sum::<Duration>() / means.len() as u32;
    let (plain_mean, integrated_mean) = (mean(&plain_means), mean(&integrated_means));
    println!("plain service:       {:>8.1} µs per decision", plain_mean.as_secs_f64() * 1e6);
    println!("integration service: {:>8.1} µs per decision", integrated_mean.as_secs_f64() * 1e6);
    println!("ratio integration/plain: {:.3}", integrated_mean.as_secs_f64() / plain_mean.as_secs_f64());
    let mut ratios: Vec<f64> = plain_means
        .iter()
        .zip(&integrated_means)
        .map(|(plain, integrated)| integrated.as_secs_f64() / plain.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!("per-round ratios: min {:.3}, median {:.3}, max {:.3}", ratios[0], ratios[ROUNDS / 2], ratios[ROUNDS - 1]);

    let uncached = round(&app, &integrated_token, 500, || app.state.vendor_standing.clear()).await;
    println!("integration service, standing read afresh each time: {:>8.1} µs", uncached.as_secs_f64() * 1e6);
    drop(app);
    db.clean_up().await;
}
