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
    assert_eq!(input.email, "ana@example.com");
    assert_eq!(input.external_id.as_deref(), Some("00u1abc"));
    assert!(input.active);
    assert!(!input.attributes.contains_key("schemas"));

    let entra = json!({"userName": "bob@contoso.com", "displayName": "Bob", "active": "False",
        "emails": [{"type": "work", "value": "bob.work@contoso.com"}]});
    let input = user_input(&entra).unwrap();
    assert_eq!(
        (input.display_name.as_str(), input.email.as_str(), input.active),
        ("Bob", "bob.work@contoso.com", false)
    );

    for (bad, fragment) in [
        (json!({}), "userName"),
        (json!({"userName": "x"}), "email"),
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
    assert_eq!(input.email, "ana.bell@example.com");
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
