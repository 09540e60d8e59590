use super::*;

#[track_caller]
fn check_email(raw: &str, valid: bool) {
    assert_eq!(Email::parse(raw).is_ok(), valid, "email `{raw}`");
}

#[test]
fn emails() {
    check_email("ana@example.com", true);
    check_email("Ana.Lopez+ci@eng.example.co.uk", true);
    check_email("admin@localhost", true);
    check_email("ana@example", false);
    check_email("ana", false);
    check_email("@example.com", false);
    check_email("ana@", false);
    check_email("ana@@example.com", false);
    check_email("ana lopez@example.com", false);
    check_email("ana@-example.com", false);
    check_email("ana@example..com", false);
    check_email("ana@exa_mple.com", false);
}

#[test]
fn emails_compare_without_case() {
    let email = Email::parse("Ana@Example.COM").unwrap();
    assert_eq!(email.as_str(), "Ana@Example.COM");
    assert_eq!(email.normalized(), "ana@example.com");
}

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(IdentityName::parse("  deploy-bot ").unwrap().as_str(), "deploy-bot");
    assert_eq!(IdentityName::parse("   "), Err(IdentityError::InvalidName));
    assert_eq!(IdentityName::parse(&"x".repeat(201)), Err(IdentityError::InvalidName));
    assert_eq!(IdentityName::parse("a\nb"), Err(IdentityError::InvalidName));
}

#[test]
fn a_human_needs_an_email_and_a_service_has_none() {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    assert_eq!(NewIdentity::new(IdentityKind::Human, "Ana", None, now).unwrap_err(), IdentityError::EmailRequired);
    assert_eq!(
        NewIdentity::new(IdentityKind::Service, "ci", Some("ci@example.com"), now).unwrap_err(),
        IdentityError::EmailNotAllowed
    );
    let human = NewIdentity::new(IdentityKind::Human, "Ana", Some("ana@example.com"), now).unwrap();
    assert_eq!(human.email.unwrap().as_str(), "ana@example.com");
}

#[test]
fn kinds_and_statuses_parse_from_their_names() {
    assert_eq!("human".parse::<IdentityKind>().unwrap(), IdentityKind::Human);
    assert!("robot".parse::<IdentityKind>().is_err());
    for status in [IdentityStatus::Active, IdentityStatus::Suspended, IdentityStatus::Deprovisioned] {
        assert_eq!(status.as_str().parse::<IdentityStatus>().unwrap(), status);
    }
}
