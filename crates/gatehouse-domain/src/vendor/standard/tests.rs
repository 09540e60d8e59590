use time::macros::{date, datetime};

use super::*;

const AT: OffsetDateTime = datetime!(2026-12-03 09:00 UTC);

/// A GitHub App that meets the default standard.
fn compliant() -> DeclaredAccess {
    DeclaredAccess {
        method: AccessMethod::GithubApp,
        permissions: vec!["contents:read".into(), "checks:write".into()],
        repositories: Repositories::Selected(vec!["acme/web".into()]),
        token_lifetime: Some(Duration::hours(1)),
        refresh_token_lifetime: None,
        webhook_signed: true,
        ip_allowlist: Vec::new(),
        mtls: false,
        secret_rotated_on: Some(date!(2026 - 11 - 01)),
    }
}

#[track_caller]
fn check(declared: &DeclaredAccess, observed: &Observed) -> Vec<Finding> {
    check_integration(declared, &AccessStandard::default(), observed, AT).expect("checked")
}

#[test]
fn a_compliant_integration_has_no_findings() {
    assert_eq!(check(&compliant(), &Observed::default()), Vec::new());
}

#[test]
fn each_rule_fails_alone() {
    type Change = fn(&mut DeclaredAccess, &mut Observed);
    let cases: [(&str, Change, &str, &str); 14] = [
        ("forbidden method", |d, _| d.method = AccessMethod::OauthAppAsUser, RULE_METHOD, "oauth_app (forbidden)"),
        (
            "method not allowed",
            |d, _| {
                d.method = AccessMethod::DeployKey;
                d.ip_allowlist = vec!["10.0.0.0/8".into()];
            },
            RULE_METHOD,
            "deploy_key (not allowed)",
        ),
        ("token too long", |d, _| d.token_lifetime = Some(Duration::hours(2)), RULE_TOKEN_LIFETIME, "2h"),
        ("token never expires", |d, _| d.token_lifetime = None, RULE_TOKEN_LIFETIME, "never expires"),
        (
            "issued tokens too long despite declaration",
            |_, o| o.max_issued_token_lifetime = Some(Duration::hours(8)),
            RULE_TOKEN_LIFETIME,
            "8h (issued)",
        ),
        (
            "refresh token too long",
            |d, _| d.refresh_token_lifetime = Some(Duration::days(180)),
            RULE_REFRESH_TOKEN_LIFETIME,
            "180d",
        ),
        (
            "forbidden permission",
            |d, _| d.permissions.push("administration:write".into()),
            RULE_FORBIDDEN_PERMISSIONS,
            "administration:write",
        ),
        (
            "forbidden permission at a higher level",
            |d, _| d.permissions.push("secrets:admin".into()),
            RULE_FORBIDDEN_PERMISSIONS,
            "secrets:admin",
        ),
        ("all repositories", |d, _| d.repositories = Repositories::All, RULE_REPOSITORY_SELECTION, "all"),
        ("unsigned webhooks", |d, _| d.webhook_signed = false, RULE_WEBHOOK_SIGNING, "unsigned"),
        (
            "verified webhooks unsigned despite declaration",
            |_, o| o.webhook_signatures_verified = Some(false),
            RULE_WEBHOOK_SIGNING,
            "unsigned (verified)",
        ),
        (
            "old secret",
            |d, _| d.secret_rotated_on = Some(date!(2026 - 06 - 01)),
            RULE_SECRET_AGE,
            "rotated 2026-06-01 (185d ago)",
        ),
        (
            "static secret without a rotation date",
            |d, _| {
                d.method = AccessMethod::FineGrainedPat;
                d.secret_rotated_on = None;
                d.ip_allowlist = vec!["10.0.0.0/8".into()];
            },
            RULE_SECRET_AGE,
            "no rotation date",
        ),
        (
            "static secret without an IP allow-list",
            |d, _| d.method = AccessMethod::StaticApiKey,
            RULE_IP_ALLOWLIST,
            "none",
        ),
    ];
    for (name, change, rule, found) in cases {
        let mut declared = compliant();
        let mut observed = Observed::default();
        change(&mut declared, &mut observed);
        let mut findings = check(&declared, &observed);
        // A static method is also not on the default allowed list.
        findings.retain(|finding| rule == RULE_METHOD || finding.rule != RULE_METHOD);
        assert_eq!(findings.len(), 1, "{name}: {findings:?}");
        assert_eq!(findings[0].rule, rule, "{name}");
        assert_eq!(findings[0].found, found, "{name}");
    }
}

#[test]
fn observed_facts_outrank_the_declaration_both_ways() {
    let mut declared = compliant();
    declared.token_lifetime = Some(Duration::days(1));
    declared.webhook_signed = false;
    let observed =
        Observed { max_issued_token_lifetime: Some(Duration::minutes(15)), webhook_signatures_verified: Some(true) };
    assert_eq!(check(&declared, &observed), Vec::new());
}

#[test]
fn every_failing_rule_is_reported_once_in_rule_order() {
    let declared = DeclaredAccess {
        method: AccessMethod::ClassicPat,
        permissions: vec!["workflows:write".into(), "administration:admin".into()],
        repositories: Repositories::All,
        token_lifetime: None,
        refresh_token_lifetime: Some(Duration::days(365)),
        webhook_signed: false,
        ip_allowlist: Vec::new(),
        mtls: false,
        secret_rotated_on: None,
    };
    let findings = check(&declared, &Observed::default());
    let rules: Vec<&str> = findings.iter().map(|finding| finding.rule).collect();
    assert_eq!(rules, RULES);
    assert_eq!(findings[3].found, "workflows:write, administration:admin");
    assert_eq!(findings[3].expected, "none of administration:write, secrets:write, workflows:write");
}

#[test]
fn a_lenient_standard_waives_its_switched_off_rules() {
    let standard = AccessStandard {
        allowed_methods: Vec::new(),
        repository_selection_selected_only: false,
        webhook_signing_required: false,
        ip_allowlist_for_static: false,
        ..AccessStandard::default()
    };
    let mut declared = compliant();
    declared.method = AccessMethod::DeployKey;
    declared.repositories = Repositories::All;
    declared.webhook_signed = false;
    assert_eq!(check_integration(&declared, &standard, &Observed::default(), AT), Ok(Vec::new()));
    declared.method = AccessMethod::ClassicPat;
    let findings = check_integration(&declared, &standard, &Observed::default(), AT).expect("checked");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].expected, "none of classic_pat, oauth_app");
}

#[test]
fn bad_permissions_and_methods_are_refused_by_name() {
    for bad in ["contents", "contents:", ":read", "contents:execute", "Contents:read", "a b:read", "x:read:write"] {
        let mut declared = compliant();
        declared.permissions = vec![bad.into()];
        let error = check_integration(&declared, &AccessStandard::default(), &Observed::default(), AT);
        assert_eq!(error, Err(StandardError::InvalidPermission(bad.into())), "{bad}");
    }
    assert_eq!("ftp_password".parse::<AccessMethod>(), Err(StandardError::UnknownMethod("ftp_password".into())));
    assert!(StandardError::UnknownMethod("ftp".into()).to_string().starts_with("unknown access method `ftp`"));
    for method in AccessMethod::ALL {
        assert_eq!(method.as_str().parse(), Ok(method));
    }
    assert_eq!("deny_gate".parse(), Ok(OnLapse::DenyGate));
    assert!("pause".parse::<OnLapse>().is_err());
}

fn exception(rule: &str) -> Exception {
    Exception {
        rule: rule.into(),
        reason: "vendor moves to a GitHub App in Q1".into(),
        requested_by: IdentityId::new(),
        approved_by: IdentityId::new(),
        expires_at: AT + Duration::days(30),
    }
}

#[test]
fn exceptions_are_refused_for_each_reason() {
    assert_eq!(check_exception(&exception(RULE_METHOD), AT), Ok(()));
    let at_limit = Exception { expires_at: AT + MAX_EXCEPTION_LIFETIME, ..exception(RULE_METHOD) };
    assert_eq!(check_exception(&at_limit, AT), Ok(()));
    type Change = fn(&mut Exception);
    let cases: [(&str, Change, ExceptionError); 6] = [
        ("unknown rule", |e| e.rule = "no_such_rule".into(), ExceptionError::UnknownRule("no_such_rule".into())),
        ("empty reason", |e| e.reason = String::new(), ExceptionError::MissingReason),
        ("blank reason", |e| e.reason = "  \n".into(), ExceptionError::MissingReason),
        ("approved by its requester", |e| e.approved_by = e.requested_by, ExceptionError::SelfApproval),
        ("expired already", |e| e.expires_at = AT, ExceptionError::AlreadyExpired(AT)),
        ("longer than 90 days", |e| e.expires_at = AT + Duration::days(91), ExceptionError::TooLong("91d".into())),
    ];
    for (name, change, expected) in cases {
        let mut refused = exception(RULE_METHOD);
        change(&mut refused);
        assert_eq!(check_exception(&refused, AT), Err(expected), "{name}");
    }
}

#[test]
fn live_exceptions_waive_their_rule_until_they_expire() {
    let mut declared = compliant();
    declared.repositories = Repositories::All;
    declared.token_lifetime = Some(Duration::hours(4));
    let findings = check(&declared, &Observed::default());
    assert_eq!(findings.len(), 2);
    let exceptions = [exception(RULE_REPOSITORY_SELECTION), exception(RULE_SECRET_AGE)];
    let left = unwaived(findings.clone(), &exceptions, AT);
    assert_eq!(left.iter().map(|f| f.rule).collect::<Vec<_>>(), [RULE_TOKEN_LIFETIME]);
    assert_eq!(live_exceptions(&exceptions, AT).count(), 2);

    let expiry = exceptions[0].expires_at;
    assert_eq!(unwaived(findings.clone(), &exceptions, expiry - Duration::seconds(1)).len(), 1);
    assert_eq!(unwaived(findings, &exceptions, expiry).len(), 2);
    assert_eq!(live_exceptions(&exceptions, expiry).count(), 0);
}

#[test]
fn the_default_standard_is_the_issues_example() {
    let standard = AccessStandard::default();
    assert!(standard.forbidden_methods.contains(&AccessMethod::ClassicPat));
    assert!(standard.allowed_methods.iter().all(|method| !standard.forbidden_methods.contains(method)));
    for tier in AccessStandard::TIERS {
        assert!(standard.tier_evidence.contains_key(tier) && standard.on_lapse.contains_key(tier), "{tier}");
        for kind in &standard.tier_evidence[tier] {
            assert!(AccessStandard::EVIDENCE_KINDS.contains(&kind.as_str()), "{kind}");
        }
    }
}
