//! Conformance of the `scim_users` area: SCIM users: provisioned, linked, updated, deleted.

use super::*;

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

fn active(mut input: crate::scim::UserInput, active: bool) -> crate::scim::UserInput {
    input.active = active;
    input
}

pub async fn scim_users_round_trip(store: Arc<dyn Store>) {
    use crate::scim::ScimOrigin;
    let before = store.audit_size().await.unwrap();
    let mut input = scim_user_input("jdoe@example.com", Some("jdoe@example.com"));
    input.external_id = Some("okta-1".into());
    let created = store.scim_create_user(input, T0, record("scim.user.create")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the create and its entry commit together");
    assert_eq!(created.user_name, "jdoe@example.com");
    assert_eq!(created.external_id.as_deref(), Some("okta-1"));
    assert_eq!(created.origin, ScimOrigin::Created);
    assert_eq!(created.identity.email.as_deref(), Some("jdoe@example.com"));
    assert_eq!(created.identity.status, IdentityStatus::Active);
    assert_eq!(store.scim_find_user(created.identity.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.find_identity(created.identity.id).await.unwrap(), Some(created.identity.clone()));
    assert_eq!(store.scim_find_user(IdentityId::new()).await.unwrap(), None);

    let later = T0 + Duration::minutes(5);
    let mut change = scim_user_input("john@example.com", Some("john@example.com"));
    change.external_id = Some("okta-1".into());
    let updated = store.scim_update_user(created.identity.id, change, later, record("scim.user.update")).await.unwrap();
    assert_eq!(updated.user_name, "john@example.com");
    assert_eq!(updated.identity.email.as_deref(), Some("john@example.com"));
    assert_eq!(updated.updated_at, later);
    assert_eq!(store.scim_find_user(created.identity.id).await.unwrap(), Some(updated));

    let before = store.audit_size().await.unwrap();
    let err = store
        .scim_update_user(IdentityId::new(), scim_user_input("x", None), later, record("scim.user.update"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .scim_delete_user(IdentityId::new(), later, record("scim.user.delete"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused change writes no entry");

    // A created user inactive from the start is suspended at once.
    let idle = store
        .scim_create_user(active(scim_user_input("idle", None), false), T0, record("scim.user.create"))
        .await
        .unwrap();
    assert_eq!(idle.identity.status, IdentityStatus::Suspended);
}

pub async fn scim_users_list_by_filter_and_page(store: Arc<dyn Store>) {
    use crate::scim::filter::Filter;
    let mut ids = Vec::new();
    for name in ["ana", "bob", "cy"] {
        let mut input = scim_user_input(name, None);
        input.external_id = Some(format!("ext-{name}"));
        ids.push(store.scim_create_user(input, T0, record("scim.user.create")).await.unwrap().identity.id);
    }
    ids.sort();
    let (total, all) = store.scim_list_users(None, 1, 10).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(all.iter().map(|u| u.identity.id).collect::<Vec<_>>(), ids);
    let (total, page) = store.scim_list_users(None, 2, 1).await.unwrap();
    assert_eq!((total, page.len()), (3, 1));
    assert_eq!(page[0].identity.id, ids[1], "start_index is 1-based");

    let by_name = Filter { attribute: "userName", value: "BOB".into() };
    let (total, found) = store.scim_list_users(Some(&by_name), 1, 10).await.unwrap();
    assert_eq!((total, found[0].user_name.as_str()), (1, "bob"), "userName matches case-insensitively");
    let by_external = Filter { attribute: "externalId", value: "ext-cy".into() };
    let (total, found) = store.scim_list_users(Some(&by_external), 1, 10).await.unwrap();
    assert_eq!((total, found[0].user_name.as_str()), (1, "cy"));
    let by_other_case = Filter { attribute: "externalId", value: "EXT-CY".into() };
    assert_eq!(store.scim_list_users(Some(&by_other_case), 1, 10).await.unwrap().0, 0, "externalId is exact");
    let by_id = Filter { attribute: "id", value: ids[0].to_string() };
    let (total, found) = store.scim_list_users(Some(&by_id), 1, 10).await.unwrap();
    assert_eq!((total, found[0].identity.id), (1, ids[0]));
}

pub async fn scim_deactivation_revokes_and_reactivation_restores(store: Arc<dyn Store>) {
    let user = store.scim_create_user(scim_user_input("ana", None), T0, record("scim.user.create")).await.unwrap();
    let id = user.identity.id;
    let secret = TokenSecret::generate();
    store.create_token(new_token(&user.identity, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    store.create_grant(new_grant(&user.identity, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();

    let later = T0 + Duration::hours(1);
    let off = store
        .scim_update_user(id, active(scim_user_input("ana", None), false), later, record("scim.user.update"))
        .await
        .unwrap();
    assert_eq!(off.identity.status, IdentityStatus::Suspended);
    let credential = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(credential.token.revoked_at, Some(later), "turning active off revokes every token");
    assert!(credential.grants.is_empty(), "and every grant");

    let on = store
        .scim_update_user(id, active(scim_user_input("ana", None), true), later, record("scim.user.update"))
        .await
        .unwrap();
    assert_eq!(on.identity.status, IdentityStatus::Active);

    store
        .update_identity_status(id, IdentityStatus::Active, IdentityStatus::Deprovisioned, later, record("x"))
        .await
        .unwrap();
    let before = store.audit_size().await.unwrap();
    let err = store
        .scim_update_user(id, active(scim_user_input("ana", None), true), later, record("scim.user.update"))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::CannotReactivate { id }));
    assert_eq!(err.to_string(), format!("identity `{id}` is deprovisioned and cannot be reactivated"));
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn scim_delete_deprovisions_and_frees_the_user_name(store: Arc<dyn Store>) {
    let user = store.scim_create_user(scim_user_input("ana", None), T0, record("scim.user.create")).await.unwrap();
    let taken = store.scim_create_user(scim_user_input("ANA", None), T0, record("scim.user.create")).await.unwrap_err();
    assert_eq!(taken, StoreError::Conflict(Conflict::UserNameTaken { user_name: "ANA".into() }));
    assert_eq!(taken.to_string(), "userName `ANA` is taken");

    let secret = TokenSecret::generate();
    store.create_token(new_token(&user.identity, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    let before = store.audit_size().await.unwrap();
    let later = T0 + Duration::hours(1);
    store.scim_delete_user(user.identity.id, later, record("scim.user.delete")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.scim_find_user(user.identity.id).await.unwrap(), None);
    let gone = store.find_identity(user.identity.id).await.unwrap().unwrap();
    assert_eq!(gone.status, IdentityStatus::Deprovisioned);
    let credential = store.find_credential(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(credential.token.revoked_at, Some(later));

    let again = store.scim_create_user(scim_user_input("ana", None), later, record("scim.user.create")).await.unwrap();
    assert_ne!(again.identity.id, user.identity.id, "the userName is free again, for a new identity");
}

pub async fn scim_managers_are_kept_listed_and_outlive_their_deprovisioning(store: Arc<dyn Store>) {
    let boss = store.scim_create_user(scim_user_input("boss", None), T0, record("scim.user.create")).await.unwrap();
    let mut input = scim_user_input("ana", None);
    input.manager = Some(boss.identity.id);
    let ana = store.scim_create_user(input, T0, record("scim.user.create")).await.unwrap();
    assert_eq!(ana.manager, Some(boss.identity.id));
    assert_eq!(store.scim_find_user(ana.identity.id).await.unwrap().unwrap().manager, Some(boss.identity.id));
    assert_eq!(store.scim_list_managers().await.unwrap(), vec![(ana.identity.id, boss.identity.id)]);

    // The manager deprovisioned: the reference stays, for the reader to judge.
    let later = T0 + Duration::hours(1);
    store.scim_delete_user(boss.identity.id, later, record("scim.user.delete")).await.unwrap();
    assert_eq!(store.scim_list_managers().await.unwrap(), vec![(ana.identity.id, boss.identity.id)]);

    // An update without a manager clears it.
    let cleared =
        store.scim_update_user(ana.identity.id, scim_user_input("ana", None), later, record("scim.user.update")).await;
    assert_eq!(cleared.unwrap().manager, None);
    assert!(store.scim_list_managers().await.unwrap().is_empty());
}
