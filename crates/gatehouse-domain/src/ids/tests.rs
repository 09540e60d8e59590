use super::*;

#[test]
fn ids_round_trip_through_their_text_form() {
    let id = IdentityId::new();
    let parsed: IdentityId = id.to_string().parse().unwrap();
    assert_eq!(parsed, id);
}

#[test]
fn text_order_follows_creation_order() {
    let first = TokenId::new();
    let second = TokenId::new();
    assert!(first.to_string() < second.to_string());
    assert!(first < second);
}

#[test]
fn a_malformed_id_is_refused_and_named() {
    let err = "not-a-uuid".parse::<GrantId>().unwrap_err();
    assert_eq!(err.to_string(), "`not-a-uuid` is not a valid id (expected a UUID)");
}
