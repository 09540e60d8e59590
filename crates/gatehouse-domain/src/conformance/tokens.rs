//! Conformance of the `tokens` area: API tokens: found by hash only, listed, revoked once, last use stamped.

use super::*;

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

/// What authentication reads is never older than the last change
/// acknowledged, whatever an engine keeps in memory: a revocation, a
/// suspension, a grant given or taken, a second factor confirmed, each
/// decides the very next read; a last-use stamp in between changes none of
/// that.
pub async fn a_credential_read_after_a_change_shows_it(store: Arc<dyn Store>) {
    let bot = service(&*store, "deploy-bot").await;
    let secret = TokenSecret::generate();
    let token =
        store.create_token(new_token(&bot, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    let read = || async { store.find_credential(&secret.hash()).await.unwrap().expect("found") };
    assert!(read().await.grants.is_empty());

    let grant = store.create_grant(new_grant(&bot, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    assert_eq!(read().await.grants, vec![grant.clone()], "a grant given shows at once");
    store.record_token_use(token.id, T0, Duration::minutes(1)).await.unwrap();
    assert_eq!(read().await.token.last_used_at, Some(T0), "the use shows too");
    store.revoke_grant(grant.id, T0, record("grant.revoke")).await.unwrap();
    assert!(read().await.grants.is_empty(), "a grant revoked right after a use shows at once");

    store
        .update_identity_status(bot.id, IdentityStatus::Active, IdentityStatus::Suspended, T0, record("x"))
        .await
        .unwrap();
    assert_eq!(read().await.identity.status, IdentityStatus::Suspended);
    store
        .update_identity_status(bot.id, IdentityStatus::Suspended, IdentityStatus::Active, T0, record("x"))
        .await
        .unwrap();
    assert_eq!(read().await.identity.status, IdentityStatus::Active);

    store.mfa_begin(bot.id, vec![1], T0, record("mfa.enroll")).await.unwrap();
    assert!(!read().await.mfa_enrolled, "an unconfirmed factor is not enrollment");
    store.mfa_succeed(bot.id, Some(1), Some(vec!["h".into()]), Some(token.id), T0, record("mfa.confirm")).await.unwrap();
    let confirmed = read().await;
    assert!(confirmed.mfa_enrolled);
    assert_eq!(confirmed.token.mfa_verified_at, Some(T0), "the token that confirmed is marked verified");

    let later = T0 + Duration::minutes(2);
    store.record_token_use(token.id, later, Duration::minutes(1)).await.unwrap();
    store.revoke_token(token.id, later, record("token.revoke")).await.unwrap();
    assert_eq!(read().await.token.revoked_at, Some(later), "a revocation right after a use decides the next read");
}
