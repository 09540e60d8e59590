//! Conformance of the `group_mappings` area: members of a directory group hold a
//! role over a scope, for as long as they are members.

use super::*;

fn mapping(group: &str, role: &str, scope: &str) -> crate::scim::GroupMapping {
    crate::scim::GroupMapping {
        id: crate::ids::GroupMappingId::new(),
        group: group.into(),
        role: role.parse().unwrap(),
        scope: Scope::parse(scope).unwrap(),
        created_at: T0,
        created_by: None,
    }
}

async fn member_of(store: &dyn Store, user_name: &str, group: &str) -> Identity {
    let person = store
        .scim_create_user(scim_user_input(user_name, None), T0, record("scim.user.create"))
        .await
        .unwrap()
        .identity;
    let input = crate::scim::GroupInput { display_name: group.into(), external_id: None, members: vec![person.id] };
    store.scim_create_group(input, T0, record("scim.group.create")).await.unwrap();
    person
}

async fn in_force(store: &dyn Store, who: IdentityId) -> Vec<(String, String)> {
    let grants = store.list_grants_of(who).await.unwrap();
    grants.into_iter().filter(|g| g.revoked_at.is_none()).map(|g| (g.role.to_string(), g.scope.to_string())).collect()
}

pub async fn group_mappings_give_and_take_back_grants(store: Arc<dyn Store>) {
    let ana = member_of(&*store, "ana", "Developers").await;
    assert_eq!(store.list_group_mappings().await.unwrap(), vec![]);
    let before = store.audit_size().await.unwrap();
    let given = store
        .create_group_mapping(mapping("developers", "developer", "project:acme/web"), record("group_mapping.create"))
        .await
        .unwrap();
    assert_eq!(store.list_group_mappings().await.unwrap(), vec![given.clone()]);
    assert_eq!(in_force(&*store, ana.id).await, vec![("developer".into(), "project:acme/web".into())]);
    assert_eq!(
        store.audit_size().await.unwrap(),
        before + 2,
        "the mapping's entry and the grant it gave, in one transaction"
    );

    let later = T0 + Duration::hours(1);
    let removed = store.delete_group_mapping(given.id, later, record("group_mapping.delete")).await.unwrap();
    assert_eq!(removed, given);
    assert_eq!(store.list_group_mappings().await.unwrap(), vec![]);
    assert_eq!(in_force(&*store, ana.id).await, vec![], "the grants it gave are revoked");
    let revoked = store.list_grants_of(ana.id).await.unwrap();
    assert_eq!(revoked.iter().map(|g| g.revoked_at).collect::<Vec<_>>(), vec![Some(later)]);

    let before = store.audit_size().await.unwrap();
    let err = store.delete_group_mapping(given.id, later, record("group_mapping.delete")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn group_mappings_are_unique(store: Arc<dyn Store>) {
    let first = mapping("Developers", "developer", "project:acme/web");
    store.create_group_mapping(first, record("group_mapping.create")).await.unwrap();
    let before = store.audit_size().await.unwrap();
    let err = store
        .create_group_mapping(mapping("DEVELOPERS", "developer", "project:acme/web"), record("group_mapping.create"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict(Conflict::MappingExists {
            group: "DEVELOPERS".into(),
            role: "developer".into(),
            scope: "project:acme/web".into(),
        })
    );
    assert_eq!(err.to_string(), "group `DEVELOPERS` already maps to developer on project:acme/web");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused mapping writes no entry");
    store
        .create_group_mapping(mapping("Developers", "viewer", "project:acme/web"), record("group_mapping.create"))
        .await
        .unwrap();
    assert_eq!(store.list_group_mappings().await.unwrap().len(), 2, "another role is another mapping");
}
