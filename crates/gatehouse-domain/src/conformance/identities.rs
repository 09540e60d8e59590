//! Conformance of the `identities` area: Identities: creation, uniqueness, status changes, paging.

use super::*;

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
    assert_eq!(err, StoreError::Conflict(Conflict::EmailTaken { email: "ANA@example.COM".into() }));
    assert_eq!(err.to_string(), "a human identity with email `ANA@example.COM` already exists");

    let same_name = NewIdentity::new(IdentityKind::Service, "deploy-bot", None, T0).unwrap();
    let err = store.create_identity(same_name, record("identity.create")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::ServiceNameTaken { name: "deploy-bot".into() }));
    assert_eq!(err.to_string(), "a service identity named `deploy-bot` already exists");

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

pub async fn humans_are_found_by_email_while_not_deprovisioned(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "Ana@Example.com").await;
    assert_eq!(store.find_human_by_email("ana@example.com").await.unwrap(), Some(ana.clone()));
    assert_eq!(store.find_human_by_email("nobody@example.com").await.unwrap(), None);
    let suspended = store
        .update_identity_status(ana.id, IdentityStatus::Active, IdentityStatus::Suspended, T0, record("x"))
        .await
        .unwrap();
    assert_eq!(store.find_human_by_email("ana@example.com").await.unwrap(), Some(suspended), "suspended counts");
    store
        .update_identity_status(ana.id, IdentityStatus::Suspended, IdentityStatus::Deprovisioned, T0, record("x"))
        .await
        .unwrap();
    assert_eq!(store.find_human_by_email("ana@example.com").await.unwrap(), None, "deprovisioned does not");
}
