//! The storage conformance suite: one async function per capability, each
//! taking a fresh, empty store. Every engine runs all of them against itself
//! (`crates/gatehouse-store/tests/conformance.rs`), so both engines keep one
//! behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test suite: a failed step is a failed test")]

use std::sync::Arc;

use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};

use crate::audit::{Actor, AuditRecord, Outcome, RequestOrigin};
use crate::grant::{NewGrant, Role, Scope};
use crate::identity::{Identity, IdentityKind, IdentityStatus, NewIdentity};
use crate::ids::{GrantId, IdentityId, SigningKeyId, TokenId};
use crate::mfa::{FAILURES_BEFORE_LOCK, FIRST_LOCK_SECONDS, MfaAttempt};
use crate::setup::first_admin_setup;
use crate::signing::SigningKey;
use crate::store::{PageRequest, Store, StoreError, TokenFilter};
use crate::token::{NewToken, TokenSecret};
use crate::webhook::{REPLAY_WINDOW, WebhookDelivery};
use crate::workload::NewTrustBinding;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn record(action: &str) -> AuditRecord {
    AuditRecord::new(T0, Actor::System, action, "gatehouse")
}

async fn human(store: &dyn Store, name: &str, email: &str) -> Identity {
    let new = NewIdentity::new(IdentityKind::Human, name, Some(email), T0).expect("valid human");
    store.create_identity(new, record("identity.create")).await.expect("created")
}

async fn service(store: &dyn Store, name: &str) -> Identity {
    let new = NewIdentity::new(IdentityKind::Service, name, None, T0).expect("valid service");
    store.create_identity(new, record("identity.create")).await.expect("created")
}

fn new_token(owner: &Identity, secret: &TokenSecret, expires_at: OffsetDateTime) -> NewToken {
    NewToken {
        id: TokenId::new(),
        identity_id: owner.id,
        hash: secret.hash(),
        description: "ci".into(),
        created_at: T0,
        expires_at,
        created_by: None,
        trust_binding_id: None,
    }
}

fn new_grant(holder: &Identity, role: Role, scope: &str) -> NewGrant {
    NewGrant {
        id: GrantId::new(),
        identity_id: holder.id,
        role,
        scope: Scope::parse(scope).expect("valid scope"),
        created_at: T0,
        expires_at: None,
        created_by: None,
    }
}

pub async fn initialize_happens_once(store: Arc<dyn Store>) {
    assert_eq!(store.find_installation().await.unwrap(), None);
    let setup = || {
        let admin = NewIdentity::new(IdentityKind::Human, "Admin", Some("admin@localhost"), T0).unwrap();
        first_admin_setup(
            admin,
            "gatehouse+01020304+AQ==".into(),
            "gatehouse.test/audit".into(),
            "test",
            T0,
            Duration::days(1),
        )
        .0
    };
    let first = setup();
    let admin_id = first.admin.id;
    let installation = store.initialize(first).await.unwrap();
    assert_eq!(installation.audit_public_key, "gatehouse+01020304+AQ==");
    assert_eq!(store.find_installation().await.unwrap(), Some(installation));
    assert_eq!(store.audit_size().await.unwrap(), 4);
    let grants = store.list_grants_of(admin_id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].role, Role::admin());

    let second = setup();
    let second_admin = second.admin.id;
    let refused = store.initialize(second).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    assert_eq!(store.audit_size().await.unwrap(), 4, "a refused init writes no entry");
    assert_eq!(store.find_identity(second_admin).await.unwrap(), None, "a refused init writes nothing");
}

pub async fn identities_round_trip(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "Ana@Example.com").await;
    assert_eq!(ana.status, IdentityStatus::Active);
    assert_eq!(ana.email.as_deref(), Some("Ana@Example.com"));
    assert_eq!(ana.created_at, T0);
    let bot = service(&*store, "deploy-bot").await;
    assert_eq!(store.find_identity(ana.id).await.unwrap(), Some(ana.clone()));
    assert_eq!(store.find_identity(bot.id).await.unwrap(), Some(bot.clone()));
    assert_eq!(store.find_identity(IdentityId::new()).await.unwrap(), None);
}

pub async fn identities_are_unique_where_they_must_be(store: Arc<dyn Store>) {
    human(&*store, "Ana", "ana@example.com").await;
    service(&*store, "deploy-bot").await;
    let before = store.audit_size().await.unwrap();

    let same_email = NewIdentity::new(IdentityKind::Human, "Ana 2", Some("ANA@example.COM"), T0).unwrap();
    let err = store.create_identity(same_email, record("identity.create")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict("a human identity with email `ANA@example.COM` already exists".into()));

    let same_name = NewIdentity::new(IdentityKind::Service, "deploy-bot", None, T0).unwrap();
    let err = store.create_identity(same_name, record("identity.create")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict("a service identity named `deploy-bot` already exists".into()));

    assert_eq!(store.audit_size().await.unwrap(), before, "a refused write leaves no audit entry");

    // A human and a service may share a name.
    service(&*store, "Ana").await;
}

pub async fn deprovisioning_frees_the_email_and_revokes_everything(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let secret = TokenSecret::generate();
    store.create_token(new_token(&ana, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    store
        .create_grant(new_grant(&ana, "developer".parse::<Role>().unwrap(), "project:acme/web"), record("grant.create"))
        .await
        .unwrap();

    let later = T0 + Duration::hours(1);
    let gone = store
        .update_identity_status(
            ana.id,
            IdentityStatus::Active,
            IdentityStatus::Deprovisioned,
            later,
            record("identity.deprovision"),
        )
        .await
        .unwrap();
    assert_eq!(gone.status, IdentityStatus::Deprovisioned);
    assert_eq!(gone.updated_at, later);

    let credential = store.find_credential(&secret.hash()).await.unwrap().expect("token kept for the record");
    assert_eq!(credential.token.revoked_at, Some(later));
    assert_eq!(credential.identity.status, IdentityStatus::Deprovisioned);
    let grants = store.list_grants_of(ana.id).await.unwrap();
    assert!(grants.iter().all(|g| g.revoked_at == Some(later)), "{grants:?}");

    // The record stays, and the email may be used again by someone new.
    assert!(store.find_identity(ana.id).await.unwrap().is_some());
    human(&*store, "Ana (rehired)", "ana@example.com").await;

    let err = store
        .create_grant(new_grant(&ana, "viewer".parse::<Role>().unwrap(), "*"), record("grant.create"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

pub async fn status_changes_check_their_precondition(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let suspended = store
        .update_identity_status(
            bot.id,
            IdentityStatus::Active,
            IdentityStatus::Suspended,
            T0,
            record("identity.suspend"),
        )
        .await
        .unwrap();
    assert_eq!(suspended.status, IdentityStatus::Suspended);
    let before = store.audit_size().await.unwrap();

    let err = store
        .update_identity_status(
            bot.id,
            IdentityStatus::Active,
            IdentityStatus::Suspended,
            T0,
            record("identity.suspend"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store
        .update_identity_status(
            IdentityId::new(),
            IdentityStatus::Active,
            IdentityStatus::Suspended,
            T0,
            record("identity.suspend"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "identity", .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);

    let secret = TokenSecret::generate();
    let err =
        store.create_token(new_token(&bot, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a suspended identity gets no new token: {err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn identities_page_in_creation_order(store: Arc<dyn Store>) {
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(service(&*store, &format!("bot-{i}")).await.id);
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let result = store.list_identities(page.clone()).await.unwrap();
        assert!(result.items.len() <= 2);
        seen.extend(result.items.iter().map(|i| i.id));
        match result.next_after {
            Some(cursor) => page.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

pub async fn tokens_are_found_by_hash_only(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let secret = TokenSecret::generate();
    let created =
        store.create_token(new_token(&bot, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();

    let credential = store.find_credential(&secret.hash()).await.unwrap().expect("found by hash");
    assert_eq!(credential.token, created);
    assert_eq!(credential.identity, bot);
    assert!(credential.hash.matches(&secret.hash()));
    assert!(credential.grants.is_empty());

    // The owner's unrevoked grants come with the credential, in one read.
    let viewer =
        store.create_grant(new_grant(&bot, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    let deployer = store
        .create_grant(
            new_grant(&bot, "deployer".parse().unwrap(), "environment:acme/web:production"),
            record("grant.create"),
        )
        .await
        .unwrap();
    store.revoke_grant(viewer.id, T0, record("grant.revoke")).await.unwrap();
    let credential = store.find_credential(&secret.hash()).await.unwrap().expect("found by hash");
    assert_eq!(credential.grants, vec![deployer]);
    assert_eq!(credential.token, created);
    assert!(store.find_credential(&TokenSecret::generate().hash()).await.unwrap().is_none());
    assert_eq!(store.find_token(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.find_token(TokenId::new()).await.unwrap(), None);
}

pub async fn tokens_list_by_owner_and_revoke_once(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let other = service(&*store, "build-bot").await;
    let mine = store
        .create_token(new_token(&bot, &TokenSecret::generate(), T0 + Duration::days(1)), record("token.create"))
        .await
        .unwrap();
    store
        .create_token(new_token(&other, &TokenSecret::generate(), T0 + Duration::days(1)), record("token.create"))
        .await
        .unwrap();

    let all = store.list_tokens(TokenFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(all.items.len(), 2);
    let filtered = store.list_tokens(TokenFilter { identity_id: Some(bot.id) }, PageRequest::default()).await.unwrap();
    assert_eq!(filtered.items, vec![mine.clone()]);

    let at = T0 + Duration::minutes(3);
    let revoked = store.revoke_token(mine.id, at, record("token.revoke")).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let before = store.audit_size().await.unwrap();
    let err = store.revoke_token(mine.id, at, record("token.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store.revoke_token(TokenId::new(), at, record("token.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "token", .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn token_use_is_recorded_at_a_granularity(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let token = store
        .create_token(new_token(&bot, &TokenSecret::generate(), T0 + Duration::days(1)), record("token.create"))
        .await
        .unwrap();
    let granularity = Duration::minutes(1);
    let first = T0 + Duration::seconds(10);
    store.record_token_use(token.id, first, granularity).await.unwrap();
    store.record_token_use(token.id, first + Duration::seconds(30), granularity).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().last_used_at, Some(first));
    let later = first + Duration::seconds(61);
    store.record_token_use(token.id, later, granularity).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().last_used_at, Some(later));
}

pub async fn audit_entries_are_numbered_without_gaps(store: Arc<dyn Store>) {
    assert_eq!(store.audit_size().await.unwrap(), 0);
    let detailed = AuditRecord::new(T0, Actor::Anonymous, "auth.token", "gatehouse")
        .outcome(Outcome::Failure, "unknown token")
        .origin(&RequestOrigin {
            request_id: Some("req-1".into()),
            source_ip: Some("10.0.0.7".into()),
            ..Default::default()
        })
        .details(json!({"presented_prefix": "gth_", "attempt": 3, "nested": {"ok": false}}));
    assert_eq!(store.append_audit(detailed.clone()).await.unwrap(), 0);
    let bot = service(&*store, "deploy-bot").await;
    assert_eq!(store.append_audit(record("decision")).await.unwrap(), 2);

    let entries = store.list_audit(0, 10).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(entries[0].record, detailed, "an entry reads back exactly as written");
    assert_eq!(entries[1].record.action, "identity.create");
    assert_eq!(store.list_audit(2, 10).await.unwrap().len(), 1);
    assert!(store.list_audit(3, 10).await.unwrap().is_empty());
    let _ = bot;
}

pub async fn concurrent_appends_stay_gap_free(store: Arc<dyn Store>) {
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for j in 0..5 {
                    store.append_audit(record(&format!("writer.{i}.{j}"))).await.expect("appended");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer finished");
    }
    let entries = store.list_audit(0, 500).await.unwrap();
    assert_eq!(entries.len(), 80);
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));
}

pub async fn mfa_attempts_are_claimed_atomically(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let err = store.mfa_claim_attempt(ana.id, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store.mfa_begin(ana.id, vec![1, 2, 3], T0, record("mfa.enroll")).await.unwrap();
    let size = store.audit_size().await.unwrap();
    // Many attempts at once: only the limit is claimed, the rest find the lock.
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.mfa_claim_attempt(ana.id, T0).await.expect("claimed or locked") })
        })
        .collect();
    let mut claimed = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("attempt finished") {
            MfaAttempt::Claimed(record) => claimed.push(record.failures),
            MfaAttempt::Locked { until } => assert_eq!(until, T0 + Duration::seconds(FIRST_LOCK_SECONDS)),
        }
    }
    claimed.sort_unstable();
    assert_eq!(claimed, (1..=FAILURES_BEFORE_LOCK).collect::<Vec<_>>());
    assert_eq!(store.audit_size().await.unwrap(), size, "claims are throttling state, not audit entries");
    // Once the lock ends, the next attempt is claimed and locks for longer;
    // a right code (mfa_succeed) clears the count.
    let later = T0 + Duration::seconds(FIRST_LOCK_SECONDS);
    let MfaAttempt::Claimed(after) = store.mfa_claim_attempt(ana.id, later).await.unwrap() else {
        panic!("the lock has ended")
    };
    assert_eq!(after.failures, FAILURES_BEFORE_LOCK + 1);
    assert!(after.is_locked_at(later));
    store.mfa_succeed(ana.id, Some(7), None, None, later, record("mfa.verify")).await.unwrap();
    let MfaAttempt::Claimed(cleared) = store.mfa_claim_attempt(ana.id, later).await.unwrap() else {
        panic!("a right code clears the lock")
    };
    assert_eq!((cleared.failures, cleared.locked_until), (1, None));
}

pub async fn grants_round_trip(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let mut expiring = new_grant(&ana, "release-approver".parse::<Role>().unwrap(), "environment:acme/web:production");
    expiring.expires_at = Some(T0 + Duration::hours(8));
    let created = store.create_grant(expiring, record("grant.create")).await.unwrap();
    assert_eq!(store.find_grant(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.list_grants_of(ana.id).await.unwrap(), vec![created]);
    assert_eq!(store.find_grant(GrantId::new()).await.unwrap(), None);
}

pub async fn grants_list_and_revoke_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let first =
        store.create_grant(new_grant(&ana, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    store.create_grant(new_grant(&bob, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    assert_eq!(store.list_grants(None, PageRequest::default()).await.unwrap().items.len(), 2);
    let anas = store.list_grants(Some(ana.id), PageRequest::default()).await.unwrap();
    assert_eq!(anas.items, vec![first.clone()]);

    let at = T0 + Duration::minutes(1);
    let revoked = store.revoke_grant(first.id, at, record("grant.revoke")).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let before = store.audit_size().await.unwrap();
    let err = store.revoke_grant(first.id, at, record("grant.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store.revoke_grant(GrantId::new(), at, record("grant.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "grant", .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

fn new_binding(owner: &Identity, claims: serde_json::Value) -> NewTrustBinding {
    NewTrustBinding::new(
        "https://token.actions.githubusercontent.com",
        "gatehouse",
        claims.as_object().unwrap(),
        owner.id,
        Some(600),
        T0,
        None,
    )
    .unwrap()
}

pub async fn trust_bindings_round_trip_and_delete_with_their_tokens(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let created = store
        .create_trust_binding(
            new_binding(&bot, json!({"repository_id": "42", "ref": ["refs/heads/main", "refs/tags/v*"]})),
            record("trust_binding.create"),
        )
        .await
        .unwrap();
    assert_eq!(store.find_trust_binding(created.id).await.unwrap(), Some(created.clone()));
    let other = new_binding(&bot, json!({"project_id": "7"}));
    let mut gitlab = other.clone();
    gitlab.issuer = "https://gitlab.example.com".into();
    store.create_trust_binding(gitlab, record("trust_binding.create")).await.unwrap();
    assert_eq!(
        store.trust_bindings_for_issuer("https://token.actions.githubusercontent.com").await.unwrap(),
        vec![created.clone()]
    );
    assert_eq!(store.list_trust_bindings(PageRequest::default()).await.unwrap().items.len(), 2);

    let secret = TokenSecret::generate();
    let mut through = new_token(&bot, &secret, T0 + Duration::minutes(10));
    through.trust_binding_id = Some(created.id);
    store.create_token(through, record("auth.workload")).await.unwrap();
    let found = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.token.trust_binding_id, Some(created.id));

    let at = T0 + Duration::minutes(1);
    store.delete_trust_binding(created.id, at, record("trust_binding.delete")).await.unwrap();
    assert_eq!(store.find_trust_binding(created.id).await.unwrap(), None);
    assert!(store.trust_bindings_for_issuer(&created.issuer).await.unwrap().is_empty());
    let found = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(found.token.revoked_at, Some(at), "a token obtained through a deleted binding is revoked with it");

    let before = store.audit_size().await.unwrap();
    let err = store.delete_trust_binding(created.id, at, record("trust_binding.delete")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn trust_bindings_need_an_active_service_identity(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let before = store.audit_size().await.unwrap();
    let err = store.create_trust_binding(new_binding(&ana, json!({"sub": "x"})), record("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let bot = service(&*store, "bot").await;
    store
        .update_identity_status(
            bot.id,
            IdentityStatus::Active,
            IdentityStatus::Suspended,
            T0,
            record("identity.suspend"),
        )
        .await
        .unwrap();
    let before_bot = store.audit_size().await.unwrap();
    let err = store.create_trust_binding(new_binding(&bot, json!({"sub": "x"})), record("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before_bot);
    let ghost = Identity { id: IdentityId::new(), ..ana };
    let err = store.create_trust_binding(new_binding(&ghost, json!({"sub": "x"})), record("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(store.audit_size().await.unwrap() > before);
}

pub async fn webhook_deliveries_are_recorded_once(store: Arc<dyn Store>) {
    let delivery =
        |source: &str, id: &str, body: &str, at: OffsetDateTime| WebhookDelivery::new(source, id, body.as_bytes(), at);
    let indexes = store
        .record_webhook_delivery(
            delivery("github", "d-1", "{\"n\":1}", T0),
            vec![record("pipeline.config.changed"), record("webhook")],
        )
        .await
        .unwrap();
    assert_eq!(indexes, vec![0, 1]);
    let err = store
        .record_webhook_delivery(delivery("github", "d-1", "{\"n\":2}", T0), vec![record("webhook")])
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("`d-1` was received before")), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), 2, "a replay writes nothing");
    store.record_webhook_delivery(delivery("gitlab", "d-1", "{\"n\":1}", T0), vec![record("webhook")]).await.unwrap();
}

pub async fn webhook_replays_under_a_new_delivery_id_are_refused(store: Arc<dyn Store>) {
    let delivery = |id: &str, body: &str, at: OffsetDateTime| WebhookDelivery::new("github", id, body.as_bytes(), at);
    store.record_webhook_delivery(delivery("d-1", "{\"n\":1}", T0), vec![record("webhook")]).await.unwrap();
    let size = store.audit_size().await.unwrap();
    // The same body under a fresh id, while remembered: a replay.
    let later = T0 + REPLAY_WINDOW - Duration::seconds(1);
    let err =
        store.record_webhook_delivery(delivery("d-2", "{\"n\":1}", later), vec![record("webhook")]).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("repeats the body of delivery `d-1`")), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), size, "a replay writes nothing");
    // Another body is another delivery.
    store.record_webhook_delivery(delivery("d-3", "{\"n\":3}", later), vec![record("webhook")]).await.unwrap();
    // Past the window, what was received before it is forgotten (the
    // table stays bounded): the first body is accepted again, and the
    // delivery received inside the window is still refused.
    let past = T0 + REPLAY_WINDOW + Duration::seconds(1);
    store.record_webhook_delivery(delivery("d-4", "{\"n\":1}", past), vec![record("webhook")]).await.unwrap();
    let err =
        store.record_webhook_delivery(delivery("d-5", "{\"n\":3}", past), vec![record("webhook")]).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("`d-3`")), "{err:?}");
}

pub async fn workload_tokens_are_exchanged_once(store: Arc<dyn Store>) {
    use crate::workload_exchange::WorkloadTokenUse;
    let bot = service(&*store, "bot").await;
    let ci_expires = T0 + Duration::minutes(5);
    let once = WorkloadTokenUse::new("https://ci.example", Some("j-1"), "a.b.c", ci_expires, T0).unwrap();
    let first = new_token(&bot, &TokenSecret::generate(), T0 + Duration::minutes(5));
    assert!(store.create_workload_token(first.clone(), once.clone(), record("auth.workload")).await.unwrap().is_some());
    assert!(store.find_credential(&first.hash).await.unwrap().is_some());

    let before = store.audit_size().await.unwrap();
    let again = new_token(&bot, &TokenSecret::generate(), T0 + Duration::minutes(5));
    let refused = store.create_workload_token(again.clone(), once.clone(), record("auth.workload")).await.unwrap();
    assert_eq!(refused, None);
    assert_eq!(store.audit_size().await.unwrap(), before, "a second exchange writes nothing");
    assert!(store.find_credential(&again.hash).await.unwrap().is_none(), "no token minted");

    // Another token is another use; a use is forgotten only after its token expired.
    let other = WorkloadTokenUse::new("https://ci.example", Some("j-2"), "d.e.f", ci_expires, T0).unwrap();
    assert!(store.create_workload_token(again, other, record("auth.workload")).await.unwrap().is_some());
    let later = T0 + Duration::minutes(30);
    let expired_reuse = WorkloadTokenUse { used_at: later, kept_until: later + Duration::minutes(5), ..once };
    let renewed = store
        .create_workload_token(new_token(&bot, &TokenSecret::generate(), later), expired_reuse, record("auth.workload"))
        .await
        .unwrap();
    assert!(renewed.is_some(), "a use is forgotten once its token has expired");
}

fn signing_key(owner: &Identity, fingerprint: &str, lookup: &[&str]) -> SigningKey {
    SigningKey {
        id: SigningKeyId::new(),
        identity_id: owner.id,
        kind: "ssh".into(),
        fingerprint: fingerprint.into(),
        algorithm: "ssh-ed25519".into(),
        public_key: format!("ssh-ed25519 AAAA {fingerprint}"),
        lookup_ids: lookup.iter().map(|s| (*s).to_owned()).collect(),
        created_at: T0,
        created_by: None,
    }
}

pub async fn signing_keys_belong_to_one_identity(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let key = store.create_signing_key(signing_key(&ana, "SHA256:a", &["SHA256:a"]), record("key.add")).await.unwrap();
    let pgp = store
        .create_signing_key(signing_key(&ana, "ABCD", &["1234", "5678", "ABCD"]), record("key.add"))
        .await
        .unwrap();
    assert_eq!(store.list_signing_keys(ana.id).await.unwrap(), vec![key.clone(), pgp.clone()]);
    assert_eq!(store.find_signing_key(&["nope".into(), "5678".into()]).await.unwrap(), Some(pgp.clone()));
    assert_eq!(store.find_signing_key_by_fingerprint("SHA256:a").await.unwrap(), Some(key.clone()));
    assert_eq!(store.find_signing_key(&["nope".into()]).await.unwrap(), None);

    let before = store.audit_size().await.unwrap();
    let err =
        store.create_signing_key(signing_key(&bob, "SHA256:a", &["SHA256:a"]), record("key.add")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store.delete_signing_key(bob.id, key.id, record("key.remove")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "another identity's key is not theirs to remove: {err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);

    let updated = store.update_signing_key_text(pgp.id, "revoked text".into(), record("key.update")).await.unwrap();
    assert_eq!(updated.public_key, "revoked text");
    store.delete_signing_key(ana.id, key.id, record("key.remove")).await.unwrap();
    assert_eq!(store.find_signing_key(&["SHA256:a".into()]).await.unwrap(), None);
    let again =
        store.create_signing_key(signing_key(&bob, "SHA256:a", &["SHA256:a"]), record("key.add")).await.unwrap();
    assert_eq!(again.identity_id, bob.id, "a removed key may be registered again");
}

fn scim_user_input(user_name: &str, email: Option<&str>) -> crate::scim::UserInput {
    let mut resource = json!({"userName": user_name});
    if let Some(email) = email {
        resource["emails"] = json!([{"value": email}]);
    }
    crate::scim::user_input(&resource).expect("a valid User")
}

pub async fn scim_manages_only_whom_it_created_or_an_admin_linked(store: Arc<dyn Store>) {
    use crate::scim::ScimOrigin;
    let admin = human(&*store, "Admin", "admin@example.com").await;
    let ana = human(&*store, "Ana", "ana@example.com").await;

    let before = store.audit_size().await.unwrap();
    let taken = store
        .scim_create_user(scim_user_input("ana", Some("ANA@example.com")), T0, record("scim.user.create"))
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "a create never adopts: {taken:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused create writes nothing");
    assert_eq!(store.scim_list_users(None, 1, 10).await.unwrap().0, 0);

    let jdoe = store.scim_create_user(scim_user_input("jdoe", None), T0, record("scim.user.create")).await.unwrap();
    assert_eq!((jdoe.origin, jdoe.linked_by, jdoe.identity.email.clone()), (ScimOrigin::Created, None, None));
    assert_eq!(jdoe.identity.kind, IdentityKind::Human);
    let second = store.scim_create_user(scim_user_input("jdoe2", None), T0, record("scim.user.create")).await.unwrap();
    assert_eq!(second.identity.email, None, "people without email do not collide");

    let linked = store
        .scim_link_user(ana.id, "ana@example.com".into(), serde_json::Map::new(), admin.id, T0, record("scim.link"))
        .await
        .unwrap();
    assert_eq!(
        (linked.origin, linked.linked_by, linked.user_name.as_str()),
        (ScimOrigin::Linked, Some(admin.id), "ana@example.com")
    );
    assert_eq!(store.scim_find_user(ana.id).await.unwrap(), Some(linked));
    let before = store.audit_size().await.unwrap();
    let again = store
        .scim_link_user(ana.id, "ana2".into(), serde_json::Map::new(), admin.id, T0, record("scim.link"))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let clash = store
        .scim_link_user(admin.id, "JDOE".into(), serde_json::Map::new(), admin.id, T0, record("scim.link"))
        .await
        .unwrap_err();
    assert!(matches!(clash, StoreError::Conflict(_)), "the userName is taken: {clash:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);

    store.scim_unlink_user(ana.id, T0, record("scim.unlink")).await.unwrap();
    assert_eq!(store.scim_find_user(ana.id).await.unwrap(), None);
    assert_eq!(store.find_identity(ana.id).await.unwrap().unwrap().status, IdentityStatus::Active);
    let gone = store.scim_unlink_user(ana.id, T0, record("scim.unlink")).await.unwrap_err();
    assert!(matches!(gone, StoreError::NotFound { .. }), "{gone:?}");
}

pub async fn an_identity_links_to_one_account(store: Arc<dyn Store>) {
    use crate::ids::SessionId;
    use crate::session::{IdentityLink, NewSession};
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let session = |who: &Identity| NewSession {
        id: SessionId::new(),
        hash: TokenSecret::generate().hash(),
        identity_id: who.id,
        created_at: T0,
        expires_at: T0 + Duration::hours(1),
        source_ip: None,
    };
    let link = |subject: &str| Some(("https://idp".to_owned(), subject.to_owned()));
    assert_eq!(store.list_identity_links(ana.id).await.unwrap(), vec![]);
    store.create_session(session(&ana), link("ana"), record("auth.login")).await.unwrap();
    store.create_session(session(&ana), link("ana"), record("auth.login")).await.unwrap();
    let expected = vec![IdentityLink { issuer: "https://idp".into(), subject: "ana".into() }];
    assert_eq!(store.list_identity_links(ana.id).await.unwrap(), expected);

    let before = store.audit_size().await.unwrap();
    let second = store.create_session(session(&ana), link("mallory"), record("auth.login")).await.unwrap_err();
    assert!(matches!(second, StoreError::Conflict(_)), "{second:?}");
    let taken = store.create_session(session(&bob), link("ana"), record("auth.login")).await.unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused login writes nothing");
    assert_eq!(store.list_identity_links(ana.id).await.unwrap(), expected);
    assert_eq!(store.find_identity_link("https://idp", "mallory").await.unwrap(), None);
}

pub async fn sessions_are_found_by_id_ended_or_not(store: Arc<dyn Store>) {
    use crate::ids::SessionId;
    use crate::session::NewSession;
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let new = NewSession {
        id: SessionId::new(),
        hash: TokenSecret::generate().hash(),
        identity_id: ana.id,
        created_at: T0,
        expires_at: T0 + Duration::hours(1),
        source_ip: None,
    };
    let id = new.id;
    store.create_session(new, None, record("auth.login")).await.unwrap();
    let found = store.find_session_by_id(id).await.unwrap().unwrap();
    assert_eq!((found.id, found.identity_id, found.revoked_at), (id, ana.id, None));
    store.revoke_session(id, T0, record("session.revoke")).await.unwrap();
    assert_eq!(store.find_session_by_id(id).await.unwrap().unwrap().revoked_at, Some(T0));
    assert!(store.find_session_by_id(SessionId::new()).await.unwrap().is_none());
}
