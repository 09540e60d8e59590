//! Conformance of the `workload` area: Trust bindings and the tokens a CI job's exchange mints.

use super::*;

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
