//! Conformance of the `scim_groups` area: SCIM groups and their members.

use super::*;

fn group(name: &str, members: &[IdentityId]) -> crate::scim::GroupInput {
    crate::scim::GroupInput { display_name: name.into(), external_id: None, members: members.to_vec() }
}

async fn scim_person(store: &dyn Store, user_name: &str) -> Identity {
    store.scim_create_user(scim_user_input(user_name, None), T0, record("scim.user.create")).await.unwrap().identity
}

pub async fn scim_groups_round_trip(store: Arc<dyn Store>) {
    let ana = scim_person(&*store, "ana").await;
    let bob = scim_person(&*store, "bob").await;
    let before = store.audit_size().await.unwrap();
    let mut input = group("Developers", &[ana.id]);
    input.external_id = Some("okta-g1".into());
    let created = store.scim_create_group(input, T0, record("scim.group.create")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1, "the group and its entry commit together");
    assert_eq!((created.display_name.as_str(), created.external_id.as_deref()), ("Developers", Some("okta-g1")));
    assert_eq!((created.members.clone(), created.created_at), (vec![ana.id], T0));
    assert_eq!(store.scim_find_group(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.scim_find_group(crate::ids::GroupId::new()).await.unwrap(), None);
    let ops = store.scim_create_group(group("Ops", &[]), T0, record("scim.group.create")).await.unwrap();

    let (total, all) = store.scim_list_groups(None, 1, 10).await.unwrap();
    assert_eq!((total, all.len()), (2, 2));
    let by_name = crate::scim::filter::Filter { attribute: "displayName", value: "developers".into() };
    let (total, found) = store.scim_list_groups(Some(&by_name), 1, 10).await.unwrap();
    assert_eq!((total, found), (1, vec![created.clone()]), "displayName matches case-insensitively");
    let by_id = crate::scim::filter::Filter { attribute: "id", value: ops.id.to_string() };
    assert_eq!(store.scim_list_groups(Some(&by_id), 1, 10).await.unwrap(), (1, vec![ops.clone()]));

    let later = T0 + Duration::minutes(5);
    let replaced = store
        .scim_replace_group(created.id, group("Engineers", &[bob.id]), later, record("scim.group.update"))
        .await
        .unwrap();
    assert_eq!((replaced.display_name.as_str(), replaced.members.clone()), ("Engineers", vec![bob.id]));
    assert_eq!(replaced.updated_at, later);
    assert_eq!(store.scim_find_group(created.id).await.unwrap(), Some(replaced));

    let before = store.audit_size().await.unwrap();
    store.scim_delete_group(ops.id, later, record("scim.group.delete")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.scim_find_group(ops.id).await.unwrap(), None);
    let before = store.audit_size().await.unwrap();
    let err = store.scim_delete_group(ops.id, later, record("scim.group.delete")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.scim_replace_group(ops.id, group("Ops", &[]), later, record("scim.group.update")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused change writes no entry");
}

pub async fn scim_group_names_are_unique(store: Arc<dyn Store>) {
    store.scim_create_group(group("Developers", &[]), T0, record("scim.group.create")).await.unwrap();
    let ops = store.scim_create_group(group("Ops", &[]), T0, record("scim.group.create")).await.unwrap();
    let before = store.audit_size().await.unwrap();
    let err = store.scim_create_group(group("DEVELOPERS", &[]), T0, record("scim.group.create")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::GroupNameTaken { display_name: "DEVELOPERS".into() }));
    assert_eq!(err.to_string(), "a group named `DEVELOPERS` exists");
    let err = store
        .scim_replace_group(ops.id, group("developers", &[]), T0, record("scim.group.update"))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::GroupNameTaken { display_name: "developers".into() }));
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused group writes no entry");
    assert_eq!(store.scim_find_group(ops.id).await.unwrap().unwrap().display_name, "Ops");
}

pub async fn scim_group_members_must_be_scim_users(store: Arc<dyn Store>) {
    let outsider = human(&*store, "Eve", "eve@example.com").await;
    let before = store.audit_size().await.unwrap();
    let err = store
        .scim_create_group(group("Developers", &[outsider.id]), T0, record("scim.group.create"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "user", .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
    assert_eq!(store.scim_list_groups(None, 1, 10).await.unwrap().0, 0, "nothing written");
}
