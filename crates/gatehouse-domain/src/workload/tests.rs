use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::*;

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn binding(claims: Value) -> TrustBinding {
    NewTrustBinding::new(
        "https://token.actions.githubusercontent.com",
        "gatehouse",
        &object(claims),
        IdentityId::new(),
        None,
        OffsetDateTime::UNIX_EPOCH,
        None,
    )
    .unwrap()
    .into()
}

fn github_claims() -> Map<String, Value> {
    object(json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "gatehouse",
        "sub": "repo:acme/web:environment:production",
        "repository": "acme/web",
        "repository_id": "123456",
        "repository_owner_id": "987",
        "ref": "refs/heads/main",
        "environment": "production",
        "job_workflow_ref": "acme/web/.github/workflows/deploy.yml@refs/heads/main",
        "run_attempt": 1,
    }))
}

#[test]
fn every_condition_must_hold() {
    let bound = binding(json!({"repository_id": "123456", "ref": "refs/heads/main", "environment": "production"}));
    assert_eq!(bound.check(&github_claims()), Ok(()));

    let mut other_branch = github_claims();
    other_branch.insert("ref".into(), json!("refs/heads/dev"));
    let reason = bound.check(&other_branch).unwrap_err();
    assert_eq!(reason, "claim `ref` is `refs/heads/dev`, the binding wants `refs/heads/main`");

    let mut no_environment = github_claims();
    no_environment.remove("environment");
    assert_eq!(bound.check(&no_environment).unwrap_err(), "the token has no `environment` claim");
}

#[test]
fn globs_and_alternatives() {
    let bound = binding(json!({
        "job_workflow_ref": "acme/web/.github/workflows/*@refs/heads/main",
        "ref": ["refs/heads/main", "refs/tags/v*"],
    }));
    assert_eq!(bound.check(&github_claims()), Ok(()));
    let mut tag = github_claims();
    tag.insert("ref".into(), json!("refs/tags/v1.2.3"));
    assert_eq!(bound.check(&tag), Ok(()));
    tag.insert("ref".into(), json!("refs/heads/feature/x"));
    assert!(bound.check(&tag).unwrap_err().contains("one of `refs/heads/main`, `refs/tags/v*`"));
}

#[test]
fn both_github_subject_formats_can_be_bound() {
    let classic = binding(json!({"sub": "repo:acme/web:environment:production"}));
    let immutable = binding(json!({"sub": "repo:acme@987/web@123456:environment:*"}));
    assert_eq!(classic.check(&github_claims()), Ok(()));
    let mut claims = github_claims();
    claims.insert("sub".into(), json!("repo:acme@987/web@123456:environment:production"));
    assert_eq!(immutable.check(&claims), Ok(()));
    assert!(classic.check(&claims).is_err());
}

#[test]
fn numbers_and_booleans_compare_as_text_but_structures_never_match() {
    let bound = binding(json!({"run_attempt": "1"}));
    assert_eq!(bound.check(&github_claims()), Ok(()));
    let mut claims = github_claims();
    claims.insert("run_attempt".into(), json!(["1"]));
    assert!(bound.check(&claims).is_err());
    claims.insert("run_attempt".into(), Value::Null);
    assert!(bound.check(&claims).is_err());
}

#[test]
fn bad_bindings_are_refused_with_their_reason() {
    let new = |issuer: &str, audience: &str, claims: Value, ttl: Option<u32>| {
        NewTrustBinding::new(
            issuer,
            audience,
            &object(claims),
            IdentityId::new(),
            ttl,
            OffsetDateTime::UNIX_EPOCH,
            None,
        )
        .map(|_| ())
    };
    let ok = json!({"repository_id": "1"});
    assert_eq!(new("https://gitlab.example.com", "gh", ok.clone(), Some(600)), Ok(()));
    assert_eq!(new("http://127.0.0.1:8080", "gh", ok.clone(), None), Ok(()));
    assert_eq!(new("http://localhost:9/realms/x", "gh", ok.clone(), None), Ok(()));
    assert_eq!(new("http://[::1]:9", "gh", ok.clone(), None), Ok(()));
    for issuer in [
        "http://issuer.example.com",
        "ftp://x",
        "https://",
        "https://a?b",
        "https://u@evil",
        "http://127.0.0.1.evil.com",
    ] {
        assert!(matches!(new(issuer, "gh", ok.clone(), None), Err(BindingError::InvalidIssuer(_))), "{issuer}");
    }
    assert_eq!(new("https://x", "", ok.clone(), None), Err(BindingError::InvalidAudience));
    assert_eq!(new("https://x", "gh", json!({}), None), Err(BindingError::NoConditions));
    assert_eq!(new("https://x", "gh", json!({"aud": "x"}), None), Err(BindingError::InvalidClaimName("aud".into())));
    assert_eq!(new("https://x", "gh", json!({"a b": "x"}), None), Err(BindingError::InvalidClaimName("a b".into())));
    for bad in [json!(""), json!(1), json!([]), json!([1]), json!({"x": 1}), json!(null)] {
        assert_eq!(
            new("https://x", "gh", json!({"ref": bad}), None),
            Err(BindingError::InvalidCondition("ref".into()))
        );
    }
    assert_eq!(new("https://x", "gh", ok.clone(), Some(59)), Err(BindingError::InvalidTtl));
    assert_eq!(new("https://x", "gh", ok, Some(901)), Err(BindingError::InvalidTtl));
}

#[test]
fn one_job_may_not_act_as_two_identities() {
    let web = binding(json!({"repository": "acme/web"}));
    let prod = binding(json!({"environment": "production"}));
    let reason = select_binding(&[web.clone(), prod], &github_claims()).unwrap_err();
    assert!(reason.contains("different identities"), "{reason}");

    let mut same_identity = binding(json!({"ref": "refs/heads/main"}));
    same_identity.identity_id = web.identity_id;
    let both = [web.clone(), same_identity];
    assert_eq!(select_binding(&both, &github_claims()).unwrap().id, web.id);

    let api = binding(json!({"repository": "acme/api"}));
    let reason = select_binding(&[api], &github_claims()).unwrap_err();
    assert_eq!(reason, "claim `repository` is `acme/web`, the binding wants `acme/api`");
    assert!(select_binding(&[], &github_claims()).unwrap_err().contains("no trust binding"));
}

#[test]
fn loopback_urls_are_recognized() {
    for url in ["http://127.0.0.1:8080/auth/callback", "http://localhost/x", "http://[::1]:9/"] {
        assert!(is_loopback_url(url), "{url}");
    }
    for url in ["https://gatehouse.example.com/auth/callback", "http://127.0.0.1.evil.com/", "http://10.0.0.1/"] {
        assert!(!is_loopback_url(url), "{url}");
    }
}

fn identity(kind: IdentityKind, status: crate::identity::IdentityStatus) -> Identity {
    Identity {
        id: "0192f0c8-7c1e-7000-8000-000000000003".parse().unwrap(),
        kind,
        name: "deploy-bot".into(),
        email: None,
        status,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[track_caller]
fn check_ci_job(
    kind: IdentityKind,
    status: crate::identity::IdentityStatus,
    bindable: Result<(), &str>,
    acting: Result<(), &str>,
) {
    let target = identity(kind, status);
    let binding: TrustBindingId = "0192f0c8-7c1e-7000-8000-0000000000b1".parse().unwrap();
    assert_eq!(check_bindable(&target).map_err(|e| e.to_string()), bindable.map_err(str::to_owned), "{kind} {status}");
    assert_eq!(
        check_acting_as(&target, binding).map_err(|e| e.to_string()),
        acting.map_err(str::to_owned),
        "{kind} {status}"
    );
}

#[test]
fn ci_jobs_act_only_as_active_service_identities() {
    use crate::identity::IdentityStatus::{Active, Deprovisioned, Suspended};
    use IdentityKind::{Human, Service};
    let id = "0192f0c8-7c1e-7000-8000-000000000003";
    let binding = "0192f0c8-7c1e-7000-8000-0000000000b1";
    let bind_person = format!("identity `{id}` is a person; only service identities are bound to CI jobs");
    let bind_inactive = format!("identity `{id}` is not active");
    let act_person =
        format!("`deploy-bot`, the identity of binding {binding}, is a person; CI jobs act as service identities");
    let act_inactive = format!("`deploy-bot`, the identity of binding {binding}, is not active");
    check_ci_job(Service, Active, Ok(()), Ok(()));
    check_ci_job(Service, Suspended, Err(&bind_inactive), Err(&act_inactive));
    check_ci_job(Service, Deprovisioned, Err(&bind_inactive), Err(&act_inactive));
    // A person is refused whatever its status: the kind is checked first.
    check_ci_job(Human, Active, Err(&bind_person), Err(&act_person));
    check_ci_job(Human, Suspended, Err(&bind_person), Err(&act_person));
    check_ci_job(Human, Deprovisioned, Err(&bind_person), Err(&act_person));
}

#[track_caller]
fn check_ttl(binding_max: u32, ci_token_left: time::Duration, expected_seconds: i64) {
    let now = OffsetDateTime::UNIX_EPOCH;
    assert_eq!(
        exchanged_token_ttl(binding_max, now + ci_token_left, now),
        time::Duration::seconds(expected_seconds),
        "binding {binding_max}s, CI token left {ci_token_left}"
    );
}

#[test]
fn an_exchanged_token_lives_as_long_as_the_ci_token_within_bounds() {
    use time::Duration;
    // The CI token's remaining life, under the binding's cap.
    check_ttl(600, Duration::minutes(5), 300);
    check_ttl(900, Duration::seconds(61), 61);
    // The binding's cap, under the CI token's life.
    check_ttl(600, Duration::hours(1), 600);
    check_ttl(60, Duration::minutes(5), 60);
    // Never above the 15-minute ceiling, whatever the binding says.
    check_ttl(3600, Duration::hours(1), 900);
    check_ttl(u32::MAX, Duration::days(1), 900);
    // At least a minute, even for a CI token about to expire or expired.
    check_ttl(600, Duration::seconds(59), 60);
    check_ttl(600, Duration::ZERO, 60);
    check_ttl(600, -Duration::minutes(5), 60);
    // Fractions of a second left do not count.
    check_ttl(600, Duration::milliseconds(300_999), 300);
}
