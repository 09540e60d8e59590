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

#[track_caller]
fn check_transition(from: IdentityStatus, to: IdentityStatus, expected: Option<Revokes>) {
    let id = IdentityId::new();
    let got = check_status_transition(id, from, to);
    match expected {
        Some(revokes) => assert_eq!(got, Ok(StatusTransition { from, to, revokes }), "{from} -> {to}"),
        None => assert_eq!(got, Err(StatusChangeError::NotAllowed { id, from, to }), "{from} -> {to}"),
    }
}

#[test]
fn the_status_machine() {
    use IdentityStatus::{Active, Deprovisioned, Suspended};
    check_transition(Active, Suspended, Some(Revokes::Nothing));
    check_transition(Suspended, Active, Some(Revokes::Nothing));
    check_transition(Active, Deprovisioned, Some(Revokes::AllAccess));
    check_transition(Suspended, Deprovisioned, Some(Revokes::AllAccess));
    // Staying put is refused.
    check_transition(Active, Active, None);
    check_transition(Suspended, Suspended, None);
    check_transition(Deprovisioned, Deprovisioned, None);
    // Deprovisioned is final.
    check_transition(Deprovisioned, Active, None);
    check_transition(Deprovisioned, Suspended, None);
}

#[test]
fn a_refused_transition_says_where_the_identity_stands() {
    let id: IdentityId = "0192f0c8-7c1e-7000-8000-000000000001".parse().unwrap();
    let refused = check_status_transition(id, IdentityStatus::Deprovisioned, IdentityStatus::Active).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "identity `0192f0c8-7c1e-7000-8000-000000000001` is deprovisioned; it cannot become active"
    );
}

#[track_caller]
fn check_own(is_self: bool, to: IdentityStatus, expected: Result<(), StatusChangeError>) {
    let caller = IdentityId::new();
    let target = if is_self { caller } else { IdentityId::new() };
    assert_eq!(check_own_standing(caller, target, to), expected, "self: {is_self}, to {to}");
}

#[test]
fn nobody_suspends_or_deprovisions_themselves() {
    use IdentityStatus::{Active, Deprovisioned, Suspended};
    check_own(true, Suspended, Err(StatusChangeError::OwnStanding));
    check_own(true, Deprovisioned, Err(StatusChangeError::OwnStanding));
    check_own(true, Active, Ok(()));
    check_own(false, Suspended, Ok(()));
    check_own(false, Deprovisioned, Ok(()));
    check_own(false, Active, Ok(()));
    assert_eq!(StatusChangeError::OwnStanding.to_string(), "you cannot suspend or deprovision yourself");
}

fn any_status() -> impl proptest::strategy::Strategy<Value = IdentityStatus> {
    proptest::sample::select(vec![IdentityStatus::Active, IdentityStatus::Suspended, IdentityStatus::Deprovisioned])
}

proptest::proptest! {
    // Whatever is asked, in whatever order: deprovisioned is final, only
    // deprovisioning revokes, and an identity moves only where it was let.
    #[test]
    fn deprovisioned_is_final_whatever_is_asked(asked in proptest::collection::vec(any_status(), 0..20)) {
        let id = IdentityId::new();
        let mut status = IdentityStatus::Active;
        for to in asked {
            match check_status_transition(id, status, to) {
                Ok(moved) => {
                    proptest::prop_assert_ne!(status, IdentityStatus::Deprovisioned);
                    proptest::prop_assert_ne!(status, to);
                    proptest::prop_assert_eq!(moved.revokes == Revokes::AllAccess, to == IdentityStatus::Deprovisioned);
                    status = moved.to;
                }
                Err(StatusChangeError::NotAllowed { from, .. }) => proptest::prop_assert_eq!(from, status),
                Err(other) => proptest::prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
