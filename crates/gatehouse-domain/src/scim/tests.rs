use serde_json::json;

use super::patch::apply_patch;
use super::*;

fn okta_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "ana@example.com",
        "externalId": "00u1abc",
        "name": {"givenName": "Ana", "familyName": "Bell"},
        "emails": [{"primary": true, "value": "ana@example.com", "type": "work"}],
        "active": true,
    })
}

#[test]
fn a_user_resource_becomes_an_identity() {
    let input = user_input(&okta_user()).unwrap();
    assert_eq!(input.user_name, "ana@example.com");
    assert_eq!(input.display_name, "Ana Bell");
    assert_eq!(input.email.as_ref().map(|e| e.as_str()), Some("ana@example.com"));
    assert_eq!(input.external_id.as_deref(), Some("00u1abc"));
    assert!(input.active);
    assert!(!input.attributes.contains_key("schemas"));

    let entra = json!({"userName": "bob@contoso.com", "displayName": "Bob", "active": "False",
        "emails": [{"type": "work", "value": "bob.work@contoso.com"}]});
    let input = user_input(&entra).unwrap();
    assert_eq!(
        (input.display_name.as_str(), input.email.as_ref().map(|e| e.as_str()), input.active),
        ("Bob", Some("bob.work@contoso.com"), false)
    );

    for (bad, fragment) in [
        (json!({}), "userName"),
        (json!({"userName": "x", "emails": [{"value": "not an email"}]}), "email"),
        (json!({"userName": "a@b.c", "active": "maybe"}), "active"),
        (json!({"userName": "a@b.c", "externalId": 5}), "externalId"),
        (json!([1]), "object"),
    ] {
        assert!(user_input(&bad).unwrap_err().detail.contains(fragment), "{bad}");
    }
}

#[test]
fn okta_patches_replace_with_a_value_object() {
    let mut user = okta_user();
    apply_patch(
        &mut user,
        &json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .unwrap();
    assert_eq!(user["active"], false);
    apply_patch(&mut user, &json!({"Operations": [{"op": "replace", "value": {"name.givenName": "Anna"}}]})).unwrap();
    assert_eq!(user["name"]["givenName"], "Anna");
}

#[test]
fn entra_patches_use_paths_any_case_and_strings() {
    let mut user = okta_user();
    let request = json!({"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ana.bell@example.com"},
        {"op": "replace", "path": "name.familyName", "value": "Bellamy"},
        {"op": "Remove", "path": "externalId"},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Ana B."},
    ]});
    apply_patch(&mut user, &request).unwrap();
    let input = user_input(&user).unwrap();
    assert!(!input.active);
    assert_eq!(input.email.as_ref().map(|e| e.as_str()), Some("ana.bell@example.com"));
    assert_eq!(user["name"]["familyName"], "Bellamy");
    assert_eq!(input.external_id, None);
    assert_eq!(input.display_name, "Ana B.");
}

#[test]
fn group_members_are_added_and_removed_by_value() {
    let mut group = json!({"displayName": "release-managers", "members": [{"value": "a"}]});
    apply_patch(
        &mut group,
        &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "a"}]}]}),
    )
    .unwrap();
    assert_eq!(group["members"], json!([{"value": "a"}, {"value": "b"}]));
    apply_patch(&mut group, &json!({"Operations": [{"op": "remove", "path": "members", "value": [{"value": "a"}]}]}))
        .unwrap();
    assert_eq!(group["members"], json!([{"value": "b"}]));
    apply_patch(&mut group, &json!({"Operations": [{"op": "remove", "path": "members[value eq \"b\"]"}]})).unwrap();
    assert_eq!(group["members"], json!([]));
}

#[test]
fn malformed_patches_are_refused() {
    let mut user = okta_user();
    for bad in [
        json!({}),
        json!({"Operations": [{"op": "move", "path": "a"}]}),
        json!({"Operations": [{"op": "replace", "value": 5}]}),
        json!({"Operations": [{"op": "remove"}]}),
        json!({"Operations": [{"op": "add", "path": "emails[type eq \"work\".value", "value": "x"}]}),
    ] {
        assert_eq!(apply_patch(&mut user, &bad).unwrap_err().status, 400, "{bad}");
    }
}

#[test]
fn a_user_with_only_a_user_name_is_a_person_without_email() {
    #[track_caller]
    fn check(resource: Value, name: &str, email: Option<&str>) {
        let input = user_input(&resource).unwrap();
        assert_eq!(
            (input.display_name.as_str(), input.email.as_ref().map(|e| e.as_str())),
            (name, email),
            "{resource}"
        );
    }
    check(json!({"userName": "jdoe"}), "jdoe", None);
    check(json!({"userName": "jdoe", "displayName": "J. Doe"}), "J. Doe", None);
    check(json!({"userName": "jdoe@example.com"}), "jdoe@example.com", Some("jdoe@example.com"));
    check(json!({"userName": "a@b"}), "a@b", None);
    check(json!({"userName": "jdoe", "emails": [{"value": "j@example.com"}]}), "jdoe", Some("j@example.com"));
}

#[test]
fn scim_changes_only_what_it_manages_and_no_admin_unless_configured() {
    use super::control::{Managed, check_change};
    let id = crate::ids::IdentityId::new();
    #[track_caller]
    fn check(user: Managed, manage_admins: bool, expected: Result<(), u16>) {
        assert_eq!(check_change(user, manage_admins).map_err(|e| e.status), expected, "{user:?} {manage_admins}");
    }
    let user = |origin, holds_admin| Managed { id, origin, holds_admin };
    check(user(ScimOrigin::Created, false), false, Ok(()));
    check(user(ScimOrigin::Linked, false), false, Ok(()));
    check(user(ScimOrigin::Adopted, false), false, Err(403));
    check(user(ScimOrigin::Adopted, false), true, Err(403));
    check(user(ScimOrigin::Created, true), false, Err(403));
    check(user(ScimOrigin::Linked, true), false, Err(403));
    check(user(ScimOrigin::Created, true), true, Ok(()));
    check(user(ScimOrigin::Adopted, true), true, Err(403));
}

#[test]
fn only_admin_grants_in_force_count() {
    use crate::grant::{Grant, Role, Scope};
    use time::macros::datetime;
    let now = datetime!(2026-06-01 00:00 UTC);
    let grant = |role: &str, expires: Option<time::OffsetDateTime>, revoked: Option<time::OffsetDateTime>| Grant {
        id: crate::ids::GrantId::new(),
        identity_id: crate::ids::IdentityId::new(),
        role: role.parse::<Role>().unwrap(),
        scope: Scope::parse("*").unwrap(),
        created_at: datetime!(2026-01-01 00:00 UTC),
        expires_at: expires,
        revoked_at: revoked,
        created_by: None,
    };
    let earlier = Some(datetime!(2026-05-01 00:00 UTC));
    let later = Some(datetime!(2026-07-01 00:00 UTC));
    for (grants, expected) in [
        (vec![], false),
        (vec![grant("viewer", None, None)], false),
        (vec![grant("admin", None, None)], true),
        (vec![grant("admin", later, None)], true),
        (vec![grant("admin", earlier, None)], false),
        (vec![grant("admin", None, earlier)], false),
        (vec![grant("admin", None, earlier), grant("viewer", None, None), grant("admin", later, None)], true),
    ] {
        assert_eq!(super::control::holds_admin(&grants, now), expected, "{grants:?}");
    }
}

#[test]
fn a_create_colliding_with_an_unmanaged_person_is_a_uniqueness_error() {
    use super::control::check_create;
    assert_eq!(check_create(None), Ok(()));
    let ana = crate::identity::NewIdentity::new(
        crate::identity::IdentityKind::Human,
        "Ana",
        Some("ana@example.com"),
        time::OffsetDateTime::UNIX_EPOCH,
    )
    .unwrap();
    let ana = crate::identity::Identity {
        id: ana.id,
        kind: ana.kind,
        name: "Ana".into(),
        email: Some("ana@example.com".into()),
        status: crate::identity::IdentityStatus::Active,
        created_at: ana.created_at,
        updated_at: ana.created_at,
    };
    let error = check_create(Some(&ana)).unwrap_err();
    assert_eq!((error.status, error.scim_type), (409, Some("uniqueness")));

    use super::control::{LinkError, check_link};
    assert_eq!(check_link(&ana, None, None), Ok("ana@example.com".into()));
    assert_eq!(check_link(&ana, Some(ScimOrigin::Adopted), Some(" ana ")), Ok("ana".into()));
    assert_eq!(check_link(&ana, Some(ScimOrigin::Created), None), Err(LinkError::AlreadyManaged(ana.id)));
    assert_eq!(check_link(&ana, Some(ScimOrigin::Linked), None), Err(LinkError::AlreadyManaged(ana.id)));
    assert_eq!(check_link(&ana, None, Some("")), Err(LinkError::InvalidUserName(String::new())));
    let mailless = crate::identity::Identity { email: None, ..ana.clone() };
    assert_eq!(check_link(&mailless, None, None), Err(LinkError::UserNameRequired(ana.id)));
    let gone = crate::identity::Identity { status: crate::identity::IdentityStatus::Deprovisioned, ..ana.clone() };
    assert_eq!(check_link(&gone, None, None), Err(LinkError::Deprovisioned(ana.id)));
    let bot = crate::identity::Identity { kind: crate::identity::IdentityKind::Service, email: None, ..ana.clone() };
    assert_eq!(check_link(&bot, None, Some("bot")), Err(LinkError::NotHuman(ana.id)));
}

#[test]
fn group_changes_touch_those_who_join_and_leave() {
    let [a, b, c] = [(); 3].map(|()| crate::ids::IdentityId::new());
    let mut expected = vec![a, c];
    expected.sort();
    assert_eq!(super::control::changed_members(&[a, b], &[b, c]), expected);
    assert_eq!(super::control::changed_members(&[a], &[a]), vec![]);
}

#[test]
fn search_requests_carry_the_list_parameters() {
    use super::search::{SEARCH_SCHEMA, SearchRequest, search_request};
    assert_eq!(
        search_request(&json!({"schemas": [SEARCH_SCHEMA], "filter": "userName eq \"a\"", "startIndex": 2,
            "count": 5, "excludedAttributes": ["members"]}))
        .unwrap(),
        SearchRequest {
            filter: Some("userName eq \"a\"".into()),
            start_index: Some(2),
            count: Some(5),
            excluded_attributes: vec!["members".into()],
        }
    );
    assert_eq!(search_request(&json!({})).unwrap(), SearchRequest::default());
    for (bad, kind) in [
        (json!([]), "invalidSyntax"),
        (json!({"schemas": ["urn:x"]}), "invalidSyntax"),
        (json!({"filter": 5}), "invalidFilter"),
        (json!({"count": -1}), "invalidValue"),
        (json!({"startIndex": "x"}), "invalidValue"),
        (json!({"excludedAttributes": [1]}), "invalidValue"),
    ] {
        assert_eq!(search_request(&bad).unwrap_err().scim_type, Some(kind), "{bad}");
    }
}

#[test]
fn a_group_member_without_value_is_an_invalid_value() {
    let mut group = json!({"displayName": "g", "members": []});
    apply_patch(&mut group, &json!({"Operations": [{"op": "add", "path": "members", "value": [{"display": "Ana"}]}]}))
        .unwrap();
    let error = group_input(&group).unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some("invalidValue")));
    let remove = json!({"Operations": [{"op": "remove", "path": "members", "value": [{"display": "Ana"}]}]});
    let error = apply_patch(&mut group, &remove).unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some("invalidValue")));
}

#[test]
fn the_enterprise_manager_is_read_in_every_shape_idps_send() {
    let boss = crate::ids::IdentityId::new();
    #[track_caller]
    fn check(extension: Value, expected: Result<Option<crate::ids::IdentityId>, &str>) {
        let mut user = okta_user();
        user[ENTERPRISE_USER_SCHEMA] = extension.clone();
        match (user_input(&user), expected) {
            (Ok(input), Ok(manager)) => {
                assert_eq!(input.manager, manager, "{extension}");
                let kept = input.attributes.get(ENTERPRISE_USER_SCHEMA);
                assert!(kept.is_none_or(|kept| kept.get("manager").is_none()), "the manager is kept apart: {kept:?}");
            }
            (Err(error), Err(fragment)) => assert!(error.detail.contains(fragment), "{extension}: {}", error.detail),
            (got, want) => panic!("{extension}: got {got:?}, want {want:?}"),
        }
    }
    check(json!({"manager": {"value": boss.to_string(), "displayName": "Boss"}}), Ok(Some(boss)));
    check(json!({"Manager": boss.to_string()}), Ok(Some(boss)));
    check(json!({"manager": {"value": ""}}), Ok(None));
    check(json!({"manager": null}), Ok(None));
    check(json!({"department": "Ops"}), Ok(None));
    check(json!({"manager": {"value": "00u-okta-external"}}), Err("not the id of a SCIM user"));
    check(json!({"manager": {"value": 7}}), Err("manager.value"));
    check(json!({"manager": 7}), Err("manager must be"));
    check(json!("ops"), Err("must be an object"));

    // Other enterprise attributes stay, under the extension's own name.
    let mut user = okta_user();
    user["URN:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
        json!({"department": "Ops", "manager": {"value": boss.to_string()}});
    let input = user_input(&user).unwrap();
    assert_eq!(input.attributes[ENTERPRISE_USER_SCHEMA], json!({"department": "Ops"}));
}

#[test]
fn patches_reach_the_manager_through_the_extension_urn() {
    let (first, second) = (crate::ids::IdentityId::new(), crate::ids::IdentityId::new());
    let path = format!("{ENTERPRISE_USER_SCHEMA}:manager");
    let mut user = okta_user();
    // Entra: the qualified path and the bare id.
    let entra = json!({"Operations": [{"op": "Add", "path": path, "value": first.to_string()}]});
    apply_patch(&mut user, &entra).unwrap();
    assert_eq!(user_input(&user).unwrap().manager, Some(first));
    assert!(user.get("manager").is_none(), "not a core attribute");
    // Okta: no path, the extension as a value object, its other attributes left.
    user[ENTERPRISE_USER_SCHEMA]["department"] = json!("Ops");
    let okta = json!({"Operations": [{"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: {"manager": {"value": second.to_string()}}}}]});
    apply_patch(&mut user, &okta).unwrap();
    let input = user_input(&user).unwrap();
    assert_eq!(input.manager, Some(second));
    assert_eq!(input.attributes[ENTERPRISE_USER_SCHEMA]["department"], "Ops");
    // A sub-attribute path, then removal.
    let sub = json!({"Operations": [{"op": "replace", "path": format!("{path}.value"), "value": first.to_string()}]});
    apply_patch(&mut user, &sub).unwrap();
    assert_eq!(user_input(&user).unwrap().manager, Some(first));
    apply_patch(&mut user, &json!({"Operations": [{"op": "Remove", "path": path}]})).unwrap();
    assert_eq!(user_input(&user).unwrap().manager, None);
    let whole = json!({"Operations": [{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": "x"}]});
    assert_eq!(apply_patch(&mut user, &whole).unwrap_err().status, 400);
}

#[test]
fn a_manager_must_be_known_and_someone_else() {
    use super::control::check_manager;
    let (ana, boss) = (crate::ids::IdentityId::new(), crate::ids::IdentityId::new());
    assert_eq!(check_manager(Some(ana), boss, true), Ok(()));
    assert_eq!(check_manager(None, boss, true), Ok(()));
    let own = check_manager(Some(ana), ana, true).unwrap_err();
    assert_eq!((own.status, own.scim_type), (400, Some("invalidValue")));
    assert!(own.detail.contains("own manager"), "{}", own.detail);
    let unknown = check_manager(Some(ana), boss, false).unwrap_err();
    assert_eq!((unknown.status, unknown.scim_type), (400, Some("invalidValue")));
}
