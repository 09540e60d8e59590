//! The credential cache on both engines: a token's last-use stamp keeps
//! what is cached (it decides nothing about access), while a revocation,
//! even right after a use, decides the very next read. The stamp
//! ([`StoreEngine::credential_stamp`]) is what every kept credential is
//! validated by, so it is what these tests watch.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::ids::TokenId;
use gatehouse_domain::store::prelude::*;
use gatehouse_domain::token::{NewToken, TokenSecret};
use gatehouse_testkit::{engine_test, with_database};
use time::{Duration, OffsetDateTime};

fn record(action: &str) -> AuditRecord {
    AuditRecord::new(OffsetDateTime::UNIX_EPOCH, Actor::System, action, "gatehouse")
}

async fn token_of_a_bot(store: &dyn OpenedStore, now: OffsetDateTime) -> (TokenId, TokenSecret) {
    let bot = store
        .create_identity(NewIdentity::new(IdentityKind::Service, "deploy-bot", None, now).unwrap(), record("i"))
        .await
        .unwrap();
    let secret = TokenSecret::generate();
    let new = NewToken {
        id: TokenId::new(),
        identity_id: bot.id,
        hash: secret.hash(),
        description: "ci".into(),
        created_at: now,
        expires_at: now + Duration::hours(1),
        created_by: None,
        trust_binding_id: None,
    };
    (store.create_token(new, record("token.create")).await.unwrap().id, secret)
}

engine_test!(a_last_use_stamp_keeps_the_credential_cache, |engine| with_database(engine, |db| async move {
    let store = db.open_store().await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (token, secret) = token_of_a_bot(&*store, now).await;
    let read = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(read.token.last_used_at, None);

    let stamp = store.credential_stamp().await.unwrap().expect("both engines cache credentials");
    store.record_token_use(token, now, Duration::minutes(1)).await.unwrap();
    assert_eq!(store.credential_stamp().await.unwrap(), Some(stamp), "a last-use stamp leaves the stamp alone");
    let cached = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(cached.token.last_used_at, Some(now), "the kept credential learned the use");
    assert_eq!(store.find_token(token).await.unwrap().unwrap().last_used_at, Some(now));

    // Within the granularity nothing is written; after it, the stamp moves
    // on and the cache still holds.
    store.record_token_use(token, now + Duration::seconds(30), Duration::minutes(1)).await.unwrap();
    let later = now + Duration::minutes(2);
    store.record_token_use(token, later, Duration::minutes(1)).await.unwrap();
    assert_eq!(store.credential_stamp().await.unwrap(), Some(stamp));
    assert_eq!(store.find_credential(&secret.hash()).await.unwrap().unwrap().token.last_used_at, Some(later));
}));

engine_test!(a_revocation_right_after_a_use_refuses_the_next_read, |engine| with_database(engine, |db| async move {
    let store = db.open_store().await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (token, secret) = token_of_a_bot(&*store, now).await;
    assert!(store.find_credential(&secret.hash()).await.unwrap().unwrap().token.revoked_at.is_none());
    let stamp = store.credential_stamp().await.unwrap().unwrap();
    store.record_token_use(token, now, Duration::minutes(1)).await.unwrap();
    store.revoke_token(token, now, record("token.revoke")).await.unwrap();
    assert_ne!(store.credential_stamp().await.unwrap(), Some(stamp), "a revocation moves the stamp");
    let credential = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(credential.token.revoked_at, Some(now), "the very next read sees the revocation");
}));
