use super::*;

#[test]
fn labels_are_trimmed_and_bounded() {
    assert_eq!(check_label("  YubiKey 5 "), Ok("YubiKey 5".to_owned()));
    assert_eq!(check_label("   "), Err(LabelError::Empty));
    assert_eq!(check_label(&"é".repeat(MAX_LABEL_CHARS)), Ok("é".repeat(MAX_LABEL_CHARS)));
    assert_eq!(check_label(&"x".repeat(MAX_LABEL_CHARS + 1)), Err(LabelError::TooLong));
    assert_eq!(check_label("a\u{7}b"), Err(LabelError::ControlCharacter));
}

#[test]
fn a_ceremony_belongs_to_its_person_credential_and_kind() {
    let ana = IdentityId::new();
    let token = CeremonyHolder::Token(TokenId::new());
    let ceremony = PasskeyCeremony {
        id_hash: TokenHash::of("x"),
        identity_id: ana,
        holder: token.key(),
        kind: CeremonyKind::Authentication,
        state: "{}".into(),
        expires_at: OffsetDateTime::UNIX_EPOCH,
    };
    assert!(ceremony.belongs_to(ana, &token, CeremonyKind::Authentication));
    assert!(!ceremony.belongs_to(IdentityId::new(), &token, CeremonyKind::Authentication));
    assert!(!ceremony.belongs_to(ana, &CeremonyHolder::Token(TokenId::new()), CeremonyKind::Authentication));
    assert!(!ceremony.belongs_to(ana, &CeremonyHolder::Session(SessionId::new()), CeremonyKind::Authentication));
    assert!(!ceremony.belongs_to(ana, &token, CeremonyKind::Registration));
}

#[test]
fn ceremony_kinds_round_trip() {
    for kind in [CeremonyKind::Registration, CeremonyKind::Authentication] {
        assert_eq!(CeremonyKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(CeremonyKind::parse("other"), None);
}
