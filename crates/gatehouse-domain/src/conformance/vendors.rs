//! Conformance of the `vendors` area: vendors, evidence kept once per
//! digest, integrations (one per identity, suspending it while pending)
//! and exceptions granted once.

use super::*;
use crate::ids::{EvidenceId, ExceptionId, IntegrationId, VendorId};
use crate::vendor::{
    ContentDigest, Contract, DataAccess, DeclaredAccess, Dpa, Evidence, EvidenceMetadata, EvidenceNote,
    ExceptionRecord, Integration, IntegrationState, LoggingCommitment, Repositories, Vendor, VendorStatus, VendorTier,
    AccessMethod,
};

fn vendor(name: &str) -> Vendor {
    Vendor {
        id: VendorId::new(),
        name: name.into(),
        tier: VendorTier::High,
        business_owner: None,
        security_owner: None,
        contract: Contract {
            start: time::macros::date!(2026 - 01 - 01),
            renewal: time::macros::date!(2026 - 12 - 01),
            end: time::macros::date!(2027 - 01 - 01),
        },
        data_access: DataAccess::Source,
        logging: Some(LoggingCommitment { what: "API calls".into(), retention_days: 365, tamper_evident: true }),
        status: VendorStatus::Prospect,
    }
}

fn dpa(vendor: &Vendor, content: &[u8]) -> Evidence {
    Evidence {
        id: EvidenceId::new(),
        vendor_id: vendor.id,
        metadata: EvidenceMetadata::Dpa(Dpa { signed_on: time::macros::date!(2025 - 12 - 01) }),
        digest: ContentDigest::of(content),
        size: content.len() as u64,
        filename: "dpa.pdf".into(),
        added_at: T0,
    }
}

fn integration(vendor: &Vendor, identity: &Identity, by: &Identity, state: IntegrationState) -> Integration {
    Integration {
        id: IntegrationId::new(),
        vendor_id: vendor.id,
        identity_id: identity.id,
        declared: DeclaredAccess {
            method: AccessMethod::GithubApp,
            permissions: vec!["contents:read".into()],
            repositories: Repositories::Selected(vec!["acme/web".into()]),
            token_lifetime: Some(Duration::hours(1)),
            refresh_token_lifetime: None,
            webhook_signed: true,
            ip_allowlist: vec![],
            mtls: false,
            secret_rotated_on: None,
        },
        state,
        onboarding_request: None,
        noted_in_force: None,
        registered_by: by.id,
        registered_at: T0,
    }
}

pub async fn vendors_round_trip_and_names_are_unique_without_case(store: Arc<dyn Store>) {
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    assert_eq!(store.find_vendor(acme.id).await.unwrap(), Some(acme.clone()));
    let plain = Vendor { logging: None, ..vendor("Beta Deploy") };
    let beta = store.create_vendor(plain, record("vendor.create")).await.unwrap();
    assert_eq!(store.find_vendor(beta.id).await.unwrap().unwrap().logging, None);
    assert_eq!(store.find_vendor(VendorId::new()).await.unwrap(), None);

    let before = store.audit_size().await.unwrap();
    let taken = store.create_vendor(vendor("acme scan"), record("vendor.create")).await.unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(Conflict::VendorNameTaken { .. })), "{taken:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused write leaves no entry");
    let names: Vec<String> = store.list_vendors().await.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["Acme Scan", "Beta Deploy"]);
}

pub async fn vendor_updates_check_the_status_read(store: Arc<dyn Store>) {
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    let approved = Vendor { status: VendorStatus::Approved, tier: VendorTier::Critical, ..acme.clone() };
    let stored = store.update_vendor(approved.clone(), VendorStatus::Prospect, vec![record("vendor.update")]).await;
    assert_eq!(stored.unwrap(), approved);
    assert_eq!(store.find_vendor(acme.id).await.unwrap(), Some(approved.clone()));

    let stale = Vendor { status: VendorStatus::Suspended, ..acme.clone() };
    let refused = store.update_vendor(stale, VendorStatus::Prospect, vec![record("vendor.update")]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::VendorStatusChanged { .. })), "{refused:?}");
    assert_eq!(store.find_vendor(acme.id).await.unwrap(), Some(approved));

    let other = store.create_vendor(vendor("Beta"), record("vendor.create")).await.unwrap();
    let clash = Vendor { name: "ACME SCAN".into(), ..other.clone() };
    let refused = store.update_vendor(clash, VendorStatus::Prospect, vec![record("vendor.update")]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::VendorNameTaken { .. })), "{refused:?}");
    let unknown = store.update_vendor(vendor("Ghost"), VendorStatus::Prospect, vec![]).await.unwrap_err();
    assert!(matches!(unknown, StoreError::NotFound { .. }), "{unknown:?}");
}

pub async fn evidence_content_is_kept_once_per_digest(store: Arc<dyn Store>) {
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    let beta = store.create_vendor(vendor("Beta"), record("vendor.create")).await.unwrap();
    let content = b"%PDF-1.7 the signed agreement".to_vec();
    let first = store.add_evidence(dpa(&acme, &content), content.clone(), record("evidence.add")).await.unwrap();
    let second = store.add_evidence(dpa(&beta, &content), content.clone(), record("evidence.add")).await.unwrap();
    let other = b"another file".to_vec();
    let third = store.add_evidence(dpa(&acme, &other), other.clone(), record("evidence.add")).await.unwrap();

    assert_eq!(store.find_evidence(first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.list_evidence(acme.id).await.unwrap(), vec![first.clone(), third.clone()]);
    assert_eq!(store.list_evidence(beta.id).await.unwrap(), vec![second.clone()]);
    assert_eq!(store.all_evidence().await.unwrap().len(), 3);
    assert_eq!(store.evidence_content(&first.digest).await.unwrap(), Some(content));
    assert_eq!(store.evidence_content(&third.digest).await.unwrap(), Some(other));
    assert_eq!(store.evidence_content(&ContentDigest::of(b"never stored")).await.unwrap(), None);

    let orphan = Evidence { vendor_id: VendorId::new(), ..dpa(&acme, b"x") };
    let before = store.audit_size().await.unwrap();
    let refused = store.add_evidence(orphan, b"x".to_vec(), record("evidence.add")).await.unwrap_err();
    assert!(matches!(refused, StoreError::NotFound { .. }), "{refused:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
    assert_eq!(store.evidence_content(&ContentDigest::of(b"x")).await.unwrap(), None, "nothing of it was kept");
}

pub async fn evidence_notes_move_only_from_what_was_read(store: Arc<dyn Store>) {
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    let item = store.add_evidence(dpa(&acme, b"a"), b"a".to_vec(), record("evidence.add")).await.unwrap();
    assert!(store.evidence_notes().await.unwrap().is_empty());

    let before = store.audit_size().await.unwrap();
    let due = vec![record("evidence.due_soon")];
    assert!(store.note_evidence(item.id, None, EvidenceNote::DueSoon, due.clone()).await.unwrap());
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert!(!store.note_evidence(item.id, None, EvidenceNote::DueSoon, due).await.unwrap(), "noted already");
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "a lost race writes no entry");
    let expired = vec![record("evidence.expire")];
    assert!(store.note_evidence(item.id, Some(EvidenceNote::DueSoon), EvidenceNote::Expired, expired).await.unwrap());
    let notes = store.evidence_notes().await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].evidence_id, notes[0].note), (item.id, EvidenceNote::Expired));
}

pub async fn integrations_hold_one_identity_suspended_while_pending(store: Arc<dyn Store>) {
    let admin = human(&*store, "Ada", "ada@example.com").await;
    let bot = service(&*store, "acme-scan").await;
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    let pending = integration(&acme, &bot, &admin, IntegrationState::PendingApproval);
    let stored = store.create_integration(pending.clone(), vec![record("integration.register")]).await.unwrap();
    assert_eq!(stored, pending);
    assert_eq!(store.find_integration(pending.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.integration_of_identity(bot.id).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.find_identity(bot.id).await.unwrap().unwrap().status, IdentityStatus::Suspended);

    let twice = integration(&acme, &bot, &admin, IntegrationState::Active);
    let refused = store.create_integration(twice, vec![record("integration.register")]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::IdentityIntegrated { .. })), "{refused:?}");
    let ghost = integration(&acme, &admin, &admin, IntegrationState::Active);
    let ghost = Integration { vendor_id: VendorId::new(), ..ghost };
    let refused = store.create_integration(ghost, vec![]).await.unwrap_err();
    assert!(matches!(refused, StoreError::NotFound { .. }), "{refused:?}");

    // Approved: active, with its identity.
    let mut change = pending.unchanged();
    change.state = IntegrationState::Active;
    change.identity_active = Some(true);
    let active = store
        .update_integration(pending.id, IntegrationState::PendingApproval, None, change, vec![record("x")])
        .await
        .unwrap();
    assert_eq!(active.state, IntegrationState::Active);
    assert_eq!(store.find_identity(bot.id).await.unwrap().unwrap().status, IdentityStatus::Active);

    // A lapse that suspends, read from a stale state, is refused.
    let mut lapse = active.unchanged();
    lapse.state = IntegrationState::Suspended;
    lapse.noted_in_force = Some(false);
    lapse.identity_active = Some(false);
    let stale = store
        .update_integration(pending.id, IntegrationState::PendingApproval, None, lapse, vec![record("x")])
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(Conflict::IntegrationChanged { .. })), "{stale:?}");
    let lapsed =
        store.update_integration(pending.id, IntegrationState::Active, None, lapse, vec![record("x")]).await.unwrap();
    assert_eq!((lapsed.state, lapsed.noted_in_force), (IntegrationState::Suspended, Some(false)));
    assert_eq!(store.find_identity(bot.id).await.unwrap().unwrap().status, IdentityStatus::Suspended);

    // Retired, the identity may serve a new integration.
    let mut retire = lapsed.unchanged();
    retire.state = IntegrationState::Retired;
    store.update_integration(pending.id, IntegrationState::Suspended, Some(false), retire, vec![]).await.unwrap();
    assert_eq!(store.integration_of_identity(bot.id).await.unwrap(), None);
    let again = integration(&acme, &bot, &admin, IntegrationState::Active);
    store.create_integration(again.clone(), vec![record("integration.register")]).await.unwrap();
    let listed: Vec<IntegrationId> =
        store.list_integrations(Some(acme.id)).await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(listed, [pending.id, again.id]);
    assert!(store.list_integrations(Some(VendorId::new())).await.unwrap().is_empty());
}

pub async fn exceptions_are_granted_once_and_their_expiry_announced_once(store: Arc<dyn Store>) {
    let admin = human(&*store, "Ada", "ada@example.com").await;
    let rita = human(&*store, "Rita", "rita@example.com").await;
    let bot = service(&*store, "acme-scan").await;
    let acme = store.create_vendor(vendor("Acme Scan"), record("vendor.create")).await.unwrap();
    let wired = integration(&acme, &bot, &admin, IntegrationState::Active);
    store.create_integration(wired.clone(), vec![]).await.unwrap();
    let asked = ExceptionRecord {
        id: ExceptionId::new(),
        integration_id: wired.id,
        rule: "token_lifetime".into(),
        reason: "vendor ships 2h tokens until Q3".into(),
        requested_by: admin.id,
        requested_at: T0,
        expires_at: T0 + Duration::days(30),
        approved_by: None,
        approved_at: None,
        expiry_announced: false,
    };
    store.create_exception(asked.clone(), vec![record("exception.request")]).await.unwrap();
    assert_eq!(store.find_exception(asked.id).await.unwrap(), Some(asked.clone()));
    let granted = ExceptionRecord { approved_by: Some(rita.id), approved_at: Some(T0), ..asked.clone() };
    assert_eq!(store.grant_exception(granted.clone(), vec![record("exception.grant")]).await.unwrap(), granted);
    let refused = store.grant_exception(granted.clone(), vec![record("exception.grant")]).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(Conflict::ExceptionGranted { .. })), "{refused:?}");
    let ghost = ExceptionRecord { id: ExceptionId::new(), ..granted.clone() };
    assert!(matches!(store.grant_exception(ghost, vec![]).await.unwrap_err(), StoreError::NotFound { .. }));
    assert_eq!(store.list_exceptions(wired.id).await.unwrap(), vec![granted.clone()]);

    assert!(store.unannounced_expired_exceptions(T0 + Duration::days(29)).await.unwrap().is_empty());
    let due = store.unannounced_expired_exceptions(T0 + Duration::days(30)).await.unwrap();
    assert_eq!(due, vec![granted.clone()]);
    assert!(store.announce_exception_expiry(granted.id, vec![record("exception.expire")]).await.unwrap());
    assert!(!store.announce_exception_expiry(granted.id, vec![record("exception.expire")]).await.unwrap());
    assert!(store.unannounced_expired_exceptions(T0 + Duration::days(31)).await.unwrap().is_empty());
    let orphan = ExceptionRecord { id: ExceptionId::new(), integration_id: IntegrationId::new(), ..asked };
    assert!(matches!(store.create_exception(orphan, vec![]).await.unwrap_err(), StoreError::NotFound { .. }));
}
