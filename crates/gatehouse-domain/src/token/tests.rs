use super::*;

#[test]
fn a_generated_secret_has_the_prefix_and_256_bits() {
    let secret = TokenSecret::generate();
    assert!(looks_like_token(secret.expose()), "{}", secret.expose());
    assert_ne!(secret.expose(), TokenSecret::generate().expose());
}

#[test]
fn debug_never_shows_the_secret() {
    let secret = TokenSecret::generate();
    let printed = format!("{secret:?} {:?}", secret.hash());
    assert!(!printed.contains(&secret.expose()[4..]));
    assert!(printed.contains("redacted"));
}

#[test]
fn the_hash_matches_only_its_own_secret() {
    let secret = TokenSecret::generate();
    assert!(secret.hash().matches(&TokenHash::of(secret.expose())));
    assert!(!secret.hash().matches(&TokenSecret::generate().hash()));
}

#[test]
fn strings_that_are_not_tokens_are_recognized() {
    assert!(!looks_like_token("gth_short"));
    assert!(!looks_like_token(&format!("ghp_{}", "a".repeat(43))));
    assert!(!looks_like_token(&format!("gth_{}!", "a".repeat(42))));
    assert!(looks_like_token(&format!("gth_{}", "a".repeat(43))));
}

#[track_caller]
fn check_ttl(ttl: i64, expected: Result<i64, TokenError>) {
    let policy = TokenLifetimePolicy { max_ttl: Duration::hours(1) };
    assert_eq!(policy.check_ttl(ttl).map(|d| d.whole_seconds()), expected);
}

#[test]
fn ttls_are_bounded() {
    check_ttl(60, Ok(60));
    check_ttl(3600, Ok(3600));
    check_ttl(59, Err(TokenError::TtlTooShort { got: 59 }));
    check_ttl(-5, Err(TokenError::TtlTooShort { got: -5 }));
    check_ttl(3601, Err(TokenError::TtlTooLong { got: 3601, max: 3600 }));
}

#[test]
fn status_counts_expiry_at_its_instant() {
    let created = OffsetDateTime::UNIX_EPOCH;
    let mut token = ApiToken {
        id: TokenId::new(),
        identity_id: IdentityId::new(),
        description: String::new(),
        created_at: created,
        expires_at: created + Duration::minutes(5),
        last_used_at: None,
        revoked_at: None,
        created_by: None,
        trust_binding_id: None,
        mfa_verified_at: None,
    };
    assert_eq!(token.status_at(created + Duration::seconds(299)), TokenStatus::Active);
    assert_eq!(token.status_at(created + Duration::minutes(5)), TokenStatus::Expired);
    token.revoked_at = Some(created);
    assert_eq!(token.status_at(created), TokenStatus::Revoked);
}

fn wiped_when_dropped<T: zeroize::ZeroizeOnDrop>() {}

#[test]
fn a_token_secret_is_wiped_from_memory() {
    wiped_when_dropped::<TokenSecret>();
    let mut secret = TokenSecret::generate();
    zeroize::Zeroize::zeroize(&mut secret);
    assert_eq!(secret.expose(), "");
}

fn identity(kind: crate::identity::IdentityKind, status: IdentityStatus) -> Identity {
    Identity {
        id: "0192f0c8-7c1e-7000-8000-000000000002".parse().unwrap(),
        kind,
        name: "owner".into(),
        email: None,
        status,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[track_caller]
fn check_owner(kind: crate::identity::IdentityKind, status: IdentityStatus, expected: Result<(), &str>) {
    let owner = identity(kind, status);
    assert_eq!(
        check_token_owner(&owner).map_err(|e| e.to_string()),
        expected.map_err(str::to_owned),
        "{kind} {status}"
    );
}

#[test]
fn only_an_active_identity_gets_a_token() {
    use crate::identity::IdentityKind::{Human, Service};
    check_owner(Human, IdentityStatus::Active, Ok(()));
    check_owner(Service, IdentityStatus::Active, Ok(()));
    let suspended = "identity `0192f0c8-7c1e-7000-8000-000000000002` is suspended; it cannot get a token";
    let deprovisioned = "identity `0192f0c8-7c1e-7000-8000-000000000002` is deprovisioned; it cannot get a token";
    check_owner(Human, IdentityStatus::Suspended, Err(suspended));
    check_owner(Service, IdentityStatus::Suspended, Err(suspended));
    check_owner(Human, IdentityStatus::Deprovisioned, Err(deprovisioned));
    check_owner(Service, IdentityStatus::Deprovisioned, Err(deprovisioned));
}
