//! On PostgreSQL several `serve` processes share one database, and each
//! keeps credentials in memory. A change made through any of them, or by
//! hand in SQL, must hold in all of them from its commit on: each request
//! reads `credential_epoch`, which triggers move in the changing transaction.
//! (SQLite has one process per database; its cache is covered by the
//! conformance suite.)
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::grant::{NewGrant, Scope};
use gatehouse_domain::identity::{IdentityKind, IdentityStatus, NewIdentity};
use gatehouse_domain::ids::{GrantId, TokenId};
use gatehouse_domain::token::{NewToken, TokenSecret};
use gatehouse_testkit::{Engine, with_database};
use sqlx::Connection;
use time::{Duration, OffsetDateTime};

fn record(action: &str) -> AuditRecord {
    AuditRecord::new(OffsetDateTime::UNIX_EPOCH, Actor::System, action, "gatehouse")
}

async fn by_hand(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_optional(&mut conn)
        .await
        .expect(sql)
        .unwrap_or_default()
}

async fn epoch(url: &str) -> i64 {
    by_hand(url, "SELECT value FROM credential_epoch").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_any_process_or_by_hand_holds_in_every_other_at_once() {
    with_database(Engine::Postgres, |db| async move {
        let (node_a, node_b) = (db.open_store().await, db.open_store().await);
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let bot = node_a
            .create_identity(NewIdentity::new(IdentityKind::Service, "deploy-bot", None, now).unwrap(), record("i"))
            .await
            .unwrap();
        let secret = TokenSecret::generate();
        let token = NewToken {
            id: TokenId::new(),
            identity_id: bot.id,
            hash: secret.hash(),
            description: "ci".into(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            created_by: None,
            trust_binding_id: None,
        };
        let token = node_a.create_token(token, record("token.create")).await.unwrap();
        let grant = NewGrant {
            id: GrantId::new(),
            identity_id: bot.id,
            role: "viewer".parse().unwrap(),
            scope: Scope::parse("*").unwrap(),
            created_at: now,
            expires_at: None,
            created_by: None,
        };
        let grant = node_a.create_grant(grant, record("grant.create")).await.unwrap();

        // Node A has read (and keeps) the credential twice.
        for _ in 0..2 {
            let credential = node_a.find_credential(&secret.hash()).await.unwrap().unwrap();
            assert_eq!(credential.grants, vec![grant.clone()]);
        }

        node_b.revoke_grant(grant.id, now, record("grant.revoke")).await.unwrap();
        let credential = node_a.find_credential(&secret.hash()).await.unwrap().unwrap();
        assert!(credential.grants.is_empty(), "a grant revoked on node B is gone on node A");

        let before = epoch(&db.url).await;
        by_hand(&db.url, &format!("UPDATE identities SET status = 'suspended' WHERE id = '{}'", bot.id)).await;
        assert!(epoch(&db.url).await > before, "a change by hand moves the epoch");
        let credential = node_a.find_credential(&secret.hash()).await.unwrap().unwrap();
        assert_eq!(credential.identity.status, IdentityStatus::Suspended, "a suspension in SQL holds at once");

        by_hand(&db.url, &format!("UPDATE identities SET status = 'active' WHERE id = '{}'", bot.id)).await;
        node_b.revoke_token(token.id, now, record("token.revoke")).await.unwrap();
        let credential = node_a.find_credential(&secret.hash()).await.unwrap().unwrap();
        assert_eq!(credential.token.revoked_at, Some(now), "a token revoked on node B is revoked on node A");
        assert_eq!(credential.identity.status, IdentityStatus::Active);

        // Enrolling a second factor counts; using one (its counters) does not.
        by_hand(
            &db.url,
            &format!("INSERT INTO mfa_totp (identity_id, sealed_secret, created_at) VALUES ('{}', '\\x00', 0)", bot.id),
        )
        .await;
        assert!(!node_a.find_credential(&secret.hash()).await.unwrap().unwrap().mfa_enrolled);
        by_hand(&db.url, &format!("UPDATE mfa_totp SET confirmed_at = 1 WHERE identity_id = '{}'", bot.id)).await;
        assert!(node_a.find_credential(&secret.hash()).await.unwrap().unwrap().mfa_enrolled);
        let before = epoch(&db.url).await;
        by_hand(&db.url, "UPDATE mfa_totp SET failures = failures + 1, last_step = 7").await;
        assert_eq!(epoch(&db.url).await, before, "a code's use leaves the epoch alone");

        // Verified CI tokens are stamped the same way; a binding removed
        // anywhere moves the stamp every node reads.
        let stamp = node_a.credential_stamp().await.unwrap().expect("PostgreSQL nodes may cache");
        assert_eq!(node_b.credential_stamp().await.unwrap(), Some(stamp));
        by_hand(&db.url, "DELETE FROM trust_bindings WHERE issuer = 'https://ci.example'").await;
        assert!(node_a.credential_stamp().await.unwrap().unwrap() > stamp);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_use_on_any_node_keeps_every_cache_and_a_revocation_holds_at_once() {
    with_database(Engine::Postgres, |db| async move {
        let (node_a, node_b) = (db.open_store().await, db.open_store().await);
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let bot = node_a
            .create_identity(NewIdentity::new(IdentityKind::Service, "deploy-bot", None, now).unwrap(), record("i"))
            .await
            .unwrap();
        let secret = TokenSecret::generate();
        let token = NewToken {
            id: TokenId::new(),
            identity_id: bot.id,
            hash: secret.hash(),
            description: "ci".into(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            created_by: None,
            trust_binding_id: None,
        };
        let token = node_a.create_token(token, record("token.create")).await.unwrap();
        assert!(node_a.find_credential(&secret.hash()).await.unwrap().is_some());

        let before = epoch(&db.url).await;
        node_b.record_token_use(token.id, now, Duration::minutes(1)).await.unwrap();
        by_hand(&db.url, &format!("UPDATE api_tokens SET last_used_at = 1 WHERE id = '{}'", token.id)).await;
        assert_eq!(epoch(&db.url).await, before, "a last-use stamp, through a node or by hand, leaves the epoch");
        assert_eq!(node_a.credential_stamp().await.unwrap(), Some(u64::try_from(before).unwrap()));

        node_b.revoke_token(token.id, now, record("token.revoke")).await.unwrap();
        assert!(epoch(&db.url).await > before, "a revocation moves it");
        let credential = node_a.find_credential(&secret.hash()).await.unwrap().unwrap();
        assert_eq!(credential.token.revoked_at, Some(now), "node A refuses the token revoked on node B at once");
    })
    .await;
}

/// Migration 0020 names the columns whose change moves the epoch; a column
/// added to `api_tokens` later must be named too, unless it is bookkeeping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_trigger_watches_every_column_but_last_use() {
    with_database(Engine::Postgres, |db| async move {
        let _migrated = db.open_store().await;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        let unwatched: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = 'api_tokens'::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             AND a.attnum <> ALL (SELECT unnest(t.tgattr::int2[]) FROM pg_trigger t \
                                  WHERE t.tgname = 'api_tokens_advance_credential_epoch') \
             ORDER BY a.attname",
        )
        .fetch_all(&mut conn)
        .await
        .expect("the trigger's columns");
        assert_eq!(unwatched, vec!["last_used_at".to_owned()]);
    })
    .await;
}
