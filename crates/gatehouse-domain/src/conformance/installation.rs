//! Conformance of the `installation` area: Initialization, once.

use super::*;

pub async fn initialize_happens_once(store: Arc<dyn Store>) {
    assert_eq!(store.find_installation().await.unwrap(), None);
    let setup = || {
        let admin = NewIdentity::new(IdentityKind::Human, "Admin", Some("admin@localhost"), T0).unwrap();
        first_admin_setup(
            admin,
            "gatehouse+01020304+AQ==".into(),
            "gatehouse.test/audit".into(),
            "test",
            T0,
            Duration::days(1),
        )
        .0
    };
    let first = setup();
    let admin_id = first.admin.id;
    let installation = store.initialize(first).await.unwrap();
    assert_eq!(installation.audit_public_key, "gatehouse+01020304+AQ==");
    assert_eq!(store.find_installation().await.unwrap(), Some(installation));
    assert_eq!(store.audit_size().await.unwrap(), 4);
    let grants = store.list_grants_of(admin_id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].role, Role::admin());

    let second = setup();
    let second_admin = second.admin.id;
    let refused = store.initialize(second).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    assert_eq!(store.audit_size().await.unwrap(), 4, "a refused init writes no entry");
    assert_eq!(store.find_identity(second_admin).await.unwrap(), None, "a refused init writes nothing");
}
