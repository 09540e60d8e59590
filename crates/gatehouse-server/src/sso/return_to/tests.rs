//! The `return_to` table: what stays on this origin and what is refused.

use super::*;

#[track_caller]
fn check(candidate: &str, kept: bool) {
    let expected = if kept { candidate } else { DEFAULT_RETURN_TO };
    assert_eq!(safe_return_to(Some(candidate)), expected, "return_to {candidate:?}");
}

#[test]
fn paths_on_this_server_are_kept() {
    for path in [
        "/",
        "/api/v1/whoami",
        "/ui/audit?action=deployment.execute&after=10#top",
        "/ui/identities/ana%40example.com",
        "/ui/search?q=a%2Fb",
        "/@evil.example",
        "/a/b.c/d-e_f~g",
        "/ui?next=//not-a-host-here",
    ] {
        check(path, true);
    }
}

#[test]
fn anything_that_can_reach_another_origin_is_refused() {
    let long = format!("/{}", "a".repeat(MAX_RETURN_TO_LEN));
    for candidate in [
        "",
        "//evil.example",
        "//evil.example/phish",
        "///evil.example",
        "/\\evil.example/phish",
        "\\\\evil.example",
        "\\/evil.example",
        "/%5Cevil.example/phish",
        "/%5cevil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%2F",
        "/\t/evil.example/",
        "/%09/evil.example/",
        "/\n/evil.example",
        "/%0A/evil.example",
        "/\r\n/evil.example",
        "/%0D%0ALocation:%20https://evil.example",
        "/%00",
        "/\u{0}",
        "/ /evil.example",
        "/\u{7f}",
        "/\u{3000}/evil.example",
        "https://evil.example",
        "http://gatehouse.example@evil.example/",
        "//user:pass@evil.example",
        "/\\user@evil.example",
        "javascript:alert(1)",
        "data:text/html,hi",
        "evil.example",
        "./evil",
        "/../evil.example",
        "/..//evil.example",
        "/a/./b",
        "/%2e%2e//evil.example",
        "/a//b",
        "/%zz",
        "/%",
        "/%C3",
        long.as_str(),
    ] {
        check(candidate, false);
    }
}

#[test]
fn the_longest_accepted_path_is_the_limit() {
    let at_limit = format!("/{}", "a".repeat(MAX_RETURN_TO_LEN - 1));
    check(&at_limit, true);
}

#[test]
fn no_return_to_is_the_default() {
    assert_eq!(safe_return_to(None), DEFAULT_RETURN_TO);
}
