//! Property tests of the SCIM parsers an identity provider (or anyone with
//! its token) reaches: filters, PATCH bodies, User and Group resources.
//! Whatever the input, the answer is a value or a 4xx `ScimError`, never a
//! panic. Arbitrary text and JSON, and mutations of what Okta and Entra send.
#![allow(clippy::unwrap_used, reason = "tests")]

use gatehouse_domain::scim::filter::parse_filter;
use gatehouse_domain::scim::patch::apply_patch;
use gatehouse_domain::scim::{ScimError, group_input, user_input};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const USER_ATTRIBUTES: [&str; 3] = ["userName", "externalId", "id"];

#[track_caller]
fn assert_client_error(error: &ScimError) {
    assert!((400..500).contains(&error.status), "not a 4xx: {error:?}");
    assert!(!error.detail.is_empty(), "an error without a detail: {error:?}");
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        scim_words().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop_oneof![scim_words(), ".{0,8}"], inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The words SCIM bodies are made of, so random JSON hits real branches.
fn scim_words() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Operations",
        "operations",
        "op",
        "path",
        "value",
        "add",
        "Replace",
        "remove",
        "members",
        "emails",
        "active",
        "userName",
        "displayName",
        "externalId",
        "name",
        "givenName",
        "primary",
        "type",
        "work",
        "True",
        "False",
    ])
    .prop_map(str::to_owned)
}

/// Paths built from the pieces real and hostile paths are made of:
/// brackets in any order, dots, schema URNs, selectors.
fn patch_path() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "emails",
        "members",
        "name",
        ".",
        "givenName",
        "[",
        "]",
        "type eq \"work\"",
        "value eq \"x\"",
        " ",
        "\"",
        "\\",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "active",
        "value",
        "primary eq true",
        "eq",
        "",
        "..",
        "]]",
        "[[",
    ]);
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn patch_operation() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "Add", "replace", "Replace", "remove", "Remove", "copy", ""]);
    (op, proptest::option::of(patch_path()), proptest::option::of(any_json())).prop_map(|(op, path, value)| {
        let mut operation = json!({"op": op});
        if let Some(path) = path {
            operation["path"] = json!(path);
        }
        if let Some(value) = value {
            operation["value"] = value;
        }
        operation
    })
}

fn okta_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ana@example.com",
        "externalId": "00u1abc",
        "name": {"givenName": "Ana", "familyName": "Bell"},
        "emails": [{"primary": true, "value": "ana@example.com", "type": "work"}],
        "members": [{"value": "id-1", "display": "x"}],
        "active": true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_filter_text_parses_or_is_an_invalid_filter(text in ".{0,64}") {
        match parse_filter(&text, &USER_ATTRIBUTES) {
            Ok(filter) => prop_assert!(USER_ATTRIBUTES.contains(&filter.attribute)),
            Err(error) => assert_client_error(&error),
        }
    }

    #[test]
    fn near_valid_filters_parse_or_are_invalid_filters(
        attribute in prop::sample::select(vec!["userName", "USERNAME", "externalId", "id", "title", "", "userName eq"]),
        gap in prop::sample::select(vec![" ", "  ", "\t", "", "\u{a0}", "\n"]),
        operator in prop::sample::select(vec!["eq", "EQ", "ne", "sw", "", "\"eq\""]),
        quote in prop::sample::select(vec!["\"", "", "'", "\\\""]),
        value in ".{0,16}",
        tail in prop::sample::select(vec!["", "\"", " and id eq \"y\"", "\\", "]"]),
    ) {
        let text = format!("{attribute}{gap}{operator}{gap}{quote}{value}{quote}{tail}");
        if let Err(error) = parse_filter(&text, &USER_ATTRIBUTES) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn any_json_as_a_patch_applies_or_is_refused(mut resource in any_json(), request in any_json()) {
        if let Err(error) = apply_patch(&mut resource, &request) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn near_valid_patches_apply_or_are_refused(
        operations in prop::collection::vec(patch_operation(), 0..6),
        key in prop::sample::select(vec!["Operations", "operations", "OPERATIONS"]),
    ) {
        let mut resource = okta_user();
        let request = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], key: operations});
        if let Err(error) = apply_patch(&mut resource, &request) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn any_json_as_a_user_or_group_is_read_or_refused(resource in any_json()) {
        if let Err(error) = user_input(&resource) {
            assert_client_error(&error);
        }
        if let Err(error) = group_input(&resource) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn mutated_users_are_read_or_refused(
        field in prop::sample::select(vec!["userName", "externalId", "active", "emails", "name", "displayName", "members"]),
        value in any_json(),
    ) {
        let mut resource = okta_user();
        resource[field] = value;
        if let Err(error) = user_input(&resource) {
            assert_client_error(&error);
        }
        resource["displayName"] = json!("release-managers");
        if let Err(error) = group_input(&resource) {
            assert_client_error(&error);
        }
    }
}

/// Shrunk from `near_valid_patches_apply_or_are_refused`: a `]` before the
/// `[` made the selector's slice run backwards, and the request panicked.
#[test]
fn a_patch_path_closing_before_it_opens_is_an_invalid_path() {
    for path in ["]][eqmembers", "]x[", "emails]x[type eq \"work\"", "a][", "]["] {
        for op in ["add", "remove"] {
            let mut resource = okta_user();
            let request = json!({"Operations": [{"op": op, "path": path, "value": "v"}]});
            let error = apply_patch(&mut resource, &request).unwrap_err();
            assert_eq!((error.status, error.scim_type), (400, Some("invalidPath")), "{op} {path}: {error:?}");
            assert_eq!(resource, okta_user(), "{op} {path}: a refused PATCH changes nothing");
        }
    }
}
