use super::*;

#[track_caller]
fn check(links: &[(&str, &str)], issuer: &str, subject: &str, expected: Result<(), EmailLinkError>) {
    let links: Vec<IdentityLink> =
        links.iter().map(|(i, s)| IdentityLink { issuer: (*i).into(), subject: (*s).into() }).collect();
    assert_eq!(check_email_link(&links, issuer, subject), expected, "{links:?} {issuer} {subject}");
}

#[test]
fn an_email_links_once_and_never_over_another_account() {
    check(&[], "https://idp", "ana", Ok(()));
    check(&[("https://idp", "ana")], "https://idp", "ana", Ok(()));
    check(&[("https://idp", "mallory")], "https://idp", "ana", Err(EmailLinkError::AlreadyLinked));
    check(&[("https://other", "ana")], "https://idp", "ana", Err(EmailLinkError::AlreadyLinked));
    check(&[("https://idp", "ana"), ("https://idp", "x")], "https://idp", "ana", Err(EmailLinkError::AlreadyLinked));
}
