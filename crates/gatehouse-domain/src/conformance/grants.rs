//! Conformance of the `grants` area: Grants and registered resources.

use super::*;

pub async fn grants_round_trip(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let mut expiring = new_grant(&ana, "release-approver".parse::<Role>().unwrap(), "environment:acme/web:production");
    expiring.expires_at = Some(T0 + Duration::hours(8));
    let created = store.create_grant(expiring, record("grant.create")).await.unwrap();
    assert_eq!(store.find_grant(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.list_grants_of(ana.id).await.unwrap(), vec![created]);
    assert_eq!(store.find_grant(GrantId::new()).await.unwrap(), None);
}

pub async fn grants_list_and_revoke_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let first =
        store.create_grant(new_grant(&ana, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    store.create_grant(new_grant(&bob, "viewer".parse().unwrap(), "*"), record("grant.create")).await.unwrap();
    assert_eq!(store.list_grants(None, PageRequest::default()).await.unwrap().items.len(), 2);
    let anas = store.list_grants(Some(ana.id), PageRequest::default()).await.unwrap();
    assert_eq!(anas.items, vec![first.clone()]);

    let at = T0 + Duration::minutes(1);
    let revoked = store.revoke_grant(first.id, at, record("grant.revoke")).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let before = store.audit_size().await.unwrap();
    let err = store.revoke_grant(first.id, at, record("grant.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store.revoke_grant(GrantId::new(), at, record("grant.revoke")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "grant", .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before);
}

pub async fn resources_are_registered_once(store: Arc<dyn Store>) {
    use crate::grant::Resource;
    let ana = human(&*store, "Ana", "ana@example.com").await;
    assert_eq!(store.list_resources().await.unwrap(), vec![]);
    let web = Resource::from_parts("project", "acme/web").expect("a project");
    let api = Resource::from_parts("project", "acme/api").expect("a project");
    let before = store.audit_size().await.unwrap();
    store.create_resource(&web, T0, Some(ana.id), record("resource.create")).await.unwrap();
    store.create_resource(&api, T0, None, record("resource.create")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 2, "each registration and its entry commit together");
    assert_eq!(store.list_resources().await.unwrap(), vec![api, web.clone()], "ordered by kind and id");

    let err = store.create_resource(&web, T0, None, record("resource.create")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::ResourceRegistered { resource: web.to_string() }));
    assert_eq!(err.to_string(), format!("`{web}` is registered already"));
    assert_eq!(store.audit_size().await.unwrap(), before + 2, "a refused registration writes no entry");
}
