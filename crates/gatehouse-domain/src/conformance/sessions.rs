//! Conformance of the `sessions` area: Sessions and the links between identities and accounts at identity providers.

use super::*;

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

fn new_session(who: &Identity, secret: &TokenSecret, created_at: OffsetDateTime) -> crate::session::NewSession {
    crate::session::NewSession {
        id: crate::ids::SessionId::new(),
        hash: secret.hash(),
        identity_id: who.id,
        created_at,
        expires_at: created_at + Duration::hours(8),
        source_ip: Some("10.0.0.7".into()),
    }
}

pub async fn sessions_are_found_by_secret_while_live(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let grant = store.create_grant(new_grant(&ana, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    let secret = TokenSecret::generate();
    let before = store.audit_size().await.unwrap();
    let session = store.create_session(new_session(&ana, &secret, T0), None, record("auth.login")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the login and its entry commit together");
    assert_eq!((session.identity_id, session.created_at, session.last_seen_at), (ana.id, T0, T0));
    assert_eq!((session.revoked_at, session.mfa_verified_at), (None, None));
    assert_eq!(session.source_ip.as_deref(), Some("10.0.0.7"));
    assert!(session.is_live_at(T0 + Duration::minutes(5), Duration::minutes(30)));

    let found = store.find_session(&secret.hash()).await.unwrap().expect("found by its secret");
    assert_eq!(found.session, session);
    assert_eq!(found.identity, ana);
    assert_eq!(found.grants, vec![grant]);
    assert!(!found.mfa_enrolled);
    assert!(store.find_session(&TokenSecret::generate().hash()).await.unwrap().is_none());

    let at = T0 + Duration::minutes(10);
    let ended = store.revoke_session(session.id, at, record("session.revoke")).await.unwrap();
    assert_eq!(ended.revoked_at, Some(at));
    let found = store.find_session(&secret.hash()).await.unwrap().expect("still found, as ended");
    assert!(!found.session.is_live_at(at, Duration::minutes(30)));
    let before = store.audit_size().await.unwrap();
    let err = store.revoke_session(session.id, at, record("session.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "session", .. }), "ended once: {err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn sessions_rotate_and_touch(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let (first, second) = (TokenSecret::generate(), TokenSecret::generate());
    let session = store.create_session(new_session(&ana, &first, T0), None, record("auth.login")).await.unwrap();

    let verified = T0 + Duration::minutes(1);
    store.rotate_session(session.id, second.hash(), Some(verified), record("mfa.verify")).await.unwrap();
    assert!(store.find_session(&first.hash()).await.unwrap().is_none(), "the old secret is gone");
    let found = store.find_session(&second.hash()).await.unwrap().expect("found by the new secret");
    assert_eq!((found.session.id, found.session.mfa_verified_at), (session.id, Some(verified)));
    let third = TokenSecret::generate();
    store.rotate_session(session.id, third.hash(), None, record("session.rotate")).await.unwrap();
    let found = store.find_session(&third.hash()).await.unwrap().unwrap();
    assert_eq!(found.session.mfa_verified_at, Some(verified), "a rotation without a factor keeps the last one");

    let granularity = Duration::minutes(1);
    let before = store.audit_size().await.unwrap();
    store.touch_session(session.id, T0 + Duration::seconds(30), granularity).await.unwrap();
    assert_eq!(store.find_session_by_id(session.id).await.unwrap().unwrap().last_seen_at, T0, "within granularity");
    let later = T0 + Duration::minutes(3);
    store.touch_session(session.id, later, granularity).await.unwrap();
    assert_eq!(store.find_session_by_id(session.id).await.unwrap().unwrap().last_seen_at, later);
    assert_eq!(store.audit_size().await.unwrap(), before, "use is bookkeeping, not audited");

    store.revoke_session(session.id, later, record("session.revoke")).await.unwrap();
    let err = store.rotate_session(session.id, TokenSecret::generate().hash(), None, record("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "session", .. }), "an ended session is not rotated: {err:?}");
}

pub async fn sessions_list_newest_first(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    assert!(store.list_sessions(ana.id).await.unwrap().is_empty());
    let mut created = Vec::new();
    for minutes in 0..3 {
        let at = T0 + Duration::minutes(minutes);
        let new = new_session(&ana, &TokenSecret::generate(), at);
        created.push(store.create_session(new, None, record("auth.login")).await.unwrap().id);
    }
    store.create_session(new_session(&bob, &TokenSecret::generate(), T0), None, record("auth.login")).await.unwrap();
    created.reverse();
    let listed = store.list_sessions(ana.id).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), created);
    assert_eq!(store.list_sessions(bob.id).await.unwrap().len(), 1);
}
