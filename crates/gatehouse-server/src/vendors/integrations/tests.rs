//! What a passing rule says it expected, per rule and standard.

use gatehouse_domain::vendor::{AccessStandard, RULES};

use super::expected_of;

#[track_caller]
fn check(standard: &AccessStandard, expected: [&str; 8]) {
    let got: Vec<String> = RULES.iter().map(|rule| expected_of(rule, standard)).collect();
    assert_eq!(got, expected);
}

#[test]
fn the_default_standard_names_what_each_rule_asks() {
    check(
        &AccessStandard::default(),
        [
            "one of github_app, oidc_workload, gatehouse_token",
            "at most 1h",
            "at most 30d",
            "none of administration:write, secrets:write, workflows:write",
            "selected",
            "signed",
            "rotated within 90d",
            "an IP allow-list for static credentials",
        ],
    );
}

#[test]
fn rules_a_standard_turns_off_are_not_required() {
    let relaxed = AccessStandard {
        allowed_methods: vec![],
        repository_selection_selected_only: false,
        webhook_signing_required: false,
        ip_allowlist_for_static: false,
        ..AccessStandard::default()
    };
    check(
        &relaxed,
        [
            "none of classic_pat, oauth_app",
            "at most 1h",
            "at most 30d",
            "none of administration:write, secrets:write, workflows:write",
            "not required",
            "not required",
            "rotated within 90d",
            "not required",
        ],
    );
    assert_eq!(expected_of("no_such_rule", &relaxed), "not required");
}
