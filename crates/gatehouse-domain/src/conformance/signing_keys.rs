//! Conformance of the `signing_keys` area: Signing keys: one key, one identity.

use super::*;

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
