//! Conformance of the `passkeys` area: credentials per person, ceremonies
//! taken once.

use super::*;
use crate::ids::PasskeyId;
use crate::passkey::{CEREMONIES_PER_IDENTITY, CEREMONY_LIFETIME, CeremonyHolder, CeremonyKind, PasskeyCeremony, PasskeyCredential, TakenCeremony};
use crate::token::TokenHash;

fn new_passkey(owner: &Identity, credential_id: &str) -> PasskeyCredential {
    PasskeyCredential {
        id: PasskeyId::new(),
        identity_id: owner.id,
        label: format!("key {credential_id}"),
        credential_id: credential_id.into(),
        credential: format!(r#"{{"cred":"{credential_id}","counter":0}}"#),
        created_at: T0,
        last_used_at: None,
    }
}

const HOLDER: &str = "session:0190a9a0-0000-7000-8000-000000000001";

fn new_ceremony(owner: &Identity, secret: &str, expires_at: OffsetDateTime) -> PasskeyCeremony {
    PasskeyCeremony {
        id_hash: TokenHash::of(secret),
        identity_id: owner.id,
        holder: HOLDER.into(),
        kind: CeremonyKind::Authentication,
        state: format!(r#"{{"state":"{secret}"}}"#),
        expires_at,
    }
}

async fn take(store: &dyn Store, owner: &Identity, secret: &str, now: OffsetDateTime) -> TakenCeremony {
    store
        .passkey_ceremony_take(&TokenHash::of(secret), owner.id, HOLDER, CeremonyKind::Authentication, now)
        .await
        .expect("take answered")
}

pub async fn passkeys_belong_to_one_person_each(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let bob = human(&*store, "bob", "bob@example.com").await;
    let before = store.audit_size().await.unwrap();
    let first = store.passkey_register(new_passkey(&ana, "AAAA"), record("mfa.passkey.register")).await.unwrap();
    assert_eq!(first, PasskeyCredential { id: first.id, ..new_passkey(&ana, "AAAA") });
    let second = store.passkey_register(new_passkey(&ana, "BBBB"), record("mfa.passkey.register")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 2);

    // A credential id is registered once, whoever asks.
    for owner in [&ana, &bob] {
        let err = store.passkey_register(new_passkey(owner, "AAAA"), record("mfa.passkey.register")).await.unwrap_err();
        assert_eq!(err, StoreError::Conflict(Conflict::PasskeyRegistered));
    }
    assert_eq!(store.audit_size().await.unwrap(), before + 2, "a refused registration writes no entry");
    assert_eq!(store.passkey_list(ana.id).await.unwrap(), vec![first.clone(), second.clone()]);
    assert_eq!(store.passkey_list(bob.id).await.unwrap(), vec![]);
    assert_eq!(store.passkey_find(ana.id, first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.passkey_find(bob.id, first.id).await.unwrap(), None, "not bob's");

    // Another person's passkey cannot be renamed or removed.
    let err = store.passkey_rename(bob.id, first.id, "mine".into(), record("mfa.passkey.rename")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.passkey_remove(bob.id, first.id, record("mfa.passkey.remove")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before + 2);
    assert_eq!(store.passkey_find(ana.id, first.id).await.unwrap(), Some(first.clone()), "unchanged");

    let renamed = store.passkey_rename(ana.id, first.id, "laptop".into(), record("mfa.passkey.rename")).await.unwrap();
    assert_eq!(renamed.label, "laptop");
    store.passkey_remove(ana.id, second.id, record("mfa.passkey.remove")).await.unwrap();
    assert_eq!(store.passkey_list(ana.id).await.unwrap(), vec![renamed]);
    assert_eq!(store.audit_size().await.unwrap(), before + 4);
    let err = store.passkey_remove(ana.id, second.id, record("mfa.passkey.remove")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "removed once: {err:?}");
    // Its credential id is free again.
    store.passkey_register(new_passkey(&bob, "BBBB"), record("mfa.passkey.register")).await.unwrap();
}

pub async fn a_passkey_counts_as_a_second_factor(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let secret = TokenSecret::generate();
    let token =
        store.create_token(new_token(&ana, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    assert!(!store.find_credential(&secret.hash()).await.unwrap().unwrap().mfa_enrolled);
    let passkey = store.passkey_register(new_passkey(&ana, "AAAA"), record("mfa.passkey.register")).await.unwrap();
    assert!(store.find_credential(&secret.hash()).await.unwrap().unwrap().mfa_enrolled, "read after the change");

    // A use stores the updated credential, its time, and marks the token.
    let at = T0 + Duration::minutes(3);
    let updated = r#"{"cred":"AAAA","counter":1}"#.to_owned();
    let before = store.audit_size().await.unwrap();
    store
        .passkey_used(ana.id, passkey.id, Some(updated.clone()), Some(token.id), at, record("mfa.verify"))
        .await
        .unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    let used = store.passkey_find(ana.id, passkey.id).await.unwrap().unwrap();
    assert_eq!((used.credential, used.last_used_at), (updated.clone(), Some(at)));
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().mfa_verified_at, Some(at));
    assert_eq!(store.find_credential(&secret.hash()).await.unwrap().unwrap().token.mfa_verified_at, Some(at));
    // Unchanged credential data is kept as it was.
    let later = at + Duration::minutes(1);
    store.passkey_used(ana.id, passkey.id, None, None, later, record("mfa.verify")).await.unwrap();
    let used = store.passkey_find(ana.id, passkey.id).await.unwrap().unwrap();
    assert_eq!((used.credential, used.last_used_at), (updated, Some(later)));

    // Nobody uses another person's passkey, or a removed one.
    let bob = human(&*store, "bob", "bob@example.com").await;
    let err = store.passkey_used(bob.id, passkey.id, None, None, later, record("mfa.verify")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");

    // An admin's reset removes passkeys too.
    store.mfa_reset(ana.id, later, record("mfa.reset")).await.unwrap();
    assert_eq!(store.passkey_list(ana.id).await.unwrap(), vec![]);
    let credential = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert!(!credential.mfa_enrolled);
    assert_eq!(credential.token.mfa_verified_at, None);
    let err = store.passkey_used(ana.id, passkey.id, None, None, later, record("mfa.verify")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn passkey_ceremonies_are_taken_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let before = store.audit_size().await.unwrap();
    let ceremony = new_ceremony(&ana, "c1", T0 + CEREMONY_LIFETIME);
    store.passkey_ceremony_begin(ceremony.clone(), T0).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before, "a ceremony in flight is bookkeeping");
    // Only its person, through the credential that started it, for its
    // kind, may take it; anyone else finds nothing and leaves it.
    let bob = human(&*store, "bob", "bob@example.com").await;
    let other_holder = CeremonyHolder::Session(crate::ids::SessionId::new()).key();
    let hash = TokenHash::of("c1");
    let auth = CeremonyKind::Authentication;
    for (identity, holder, kind) in [
        (bob.id, HOLDER, auth),
        (ana.id, other_holder.as_str(), auth),
        (ana.id, HOLDER, CeremonyKind::Registration),
    ] {
        let taken = store.passkey_ceremony_take(&hash, identity, holder, kind, T0).await.unwrap();
        assert_eq!(taken, TakenCeremony::Unknown, "{holder} {kind}");
    }
    // Many finishes at once: exactly one takes it.
    let takes: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let ana = ana.clone();
            tokio::spawn(async move { take(&*store, &ana, "c1", T0).await })
        })
        .collect();
    let mut live = Vec::new();
    for take in takes {
        match take.await.expect("take finished") {
            TakenCeremony::Live(found) => live.push(found),
            TakenCeremony::Unknown => {}
            TakenCeremony::Expired => panic!("not expired"),
        }
    }
    assert_eq!(live, vec![ceremony]);
    assert_eq!(take(&*store, &ana, "c1", T0).await, TakenCeremony::Unknown);
    assert_eq!(take(&*store, &ana, "never", T0).await, TakenCeremony::Unknown);
}

pub async fn expired_passkey_ceremonies_are_refused_and_dropped(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let ends = T0 + CEREMONY_LIFETIME;
    store.passkey_ceremony_begin(new_ceremony(&ana, "old", ends), T0).await.unwrap();
    assert_eq!(take(&*store, &ana, "old", ends).await, TakenCeremony::Expired);
    assert_eq!(take(&*store, &ana, "old", T0).await, TakenCeremony::Unknown, "deleted");

    // Starting one drops the expired ones, and the person's oldest beyond
    // the limit.
    store.passkey_ceremony_begin(new_ceremony(&ana, "stale", ends), T0).await.unwrap();
    let count = i64::from(CEREMONIES_PER_IDENTITY);
    for n in 0..count {
        let at = ends + Duration::seconds(n);
        store.passkey_ceremony_begin(new_ceremony(&ana, &format!("c{n}"), at + CEREMONY_LIFETIME), at).await.unwrap();
    }
    let now = ends + Duration::seconds(count);
    let bob = human(&*store, "bob", "bob@example.com").await;
    store.passkey_ceremony_begin(new_ceremony(&bob, "bob", now + CEREMONY_LIFETIME), now).await.unwrap();
    assert_eq!(take(&*store, &ana, "stale", T0).await, TakenCeremony::Unknown);
    for n in 0..count {
        let taken = take(&*store, &ana, &format!("c{n}"), now).await;
        assert!(matches!(taken, TakenCeremony::Live(_)), "c{n}: {taken:?}");
    }
    // One more than the limit: the oldest goes.
    for n in 0..=count {
        store.passkey_ceremony_begin(new_ceremony(&ana, &format!("d{n}"), now + CEREMONY_LIFETIME + Duration::seconds(n)), now).await.unwrap();
    }
    assert_eq!(take(&*store, &ana, "d0", now).await, TakenCeremony::Unknown);
    assert!(matches!(take(&*store, &ana, "d1", now).await, TakenCeremony::Live(_)));
    assert!(matches!(take(&*store, &bob, "bob", now).await, TakenCeremony::Live(_)), "others' stay");
}
