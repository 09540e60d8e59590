use super::*;

#[track_caller]
fn check_scope(scope: &str, resource: &str, covers: bool) {
    let scope = Scope::parse(scope).unwrap();
    let resource = Resource::parse(resource).unwrap();
    assert_eq!(scope.covers(&resource), covers, "{scope} over {resource}");
}

#[test]
fn scope_coverage() {
    check_scope("*", "project:acme/web", true);
    check_scope("*", "environment:acme/web:production", true);
    check_scope("project:acme/web", "project:acme/web", true);
    check_scope("project:acme/web", "pipeline:acme/web:deploy", true);
    check_scope("project:acme/web", "environment:acme/web:production", true);
    check_scope("project:acme/web", "project:acme/api", false);
    check_scope("project:acme/web", "pipeline:acme/webapp:deploy", false);
    check_scope("pipeline:acme/web:deploy", "pipeline:acme/web:deploy", true);
    check_scope("pipeline:acme/web:deploy", "pipeline:acme/web:test", false);
    check_scope("pipeline:acme/web:deploy", "project:acme/web", false);
    check_scope("environment:acme/web:production", "environment:acme/web:staging", false);
}

#[test]
fn scope_does_not_reach_gatehouse_itself_unless_everything() {
    assert!(Scope::Everything.covers(&Resource::Gatehouse));
    assert!(!Scope::parse("project:acme/web").unwrap().covers(&Resource::Gatehouse));
}

#[test]
fn malformed_scopes_are_refused() {
    for raw in [
        "",
        "project:",
        "project:acme//web",
        "project:../etc",
        "team:acme",
        "pipeline:acme/web",
        "environment:acme/web:",
        "gatehouse",
    ] {
        assert!(Scope::parse(raw).is_err(), "`{raw}` should be refused");
    }
}

#[test]
fn scopes_and_resources_print_as_they_parse() {
    for raw in ["*", "project:acme/web", "pipeline:acme/web:deploy", "environment:group/sub/repo:prod-eu"] {
        assert_eq!(Scope::parse(raw).unwrap().to_string(), raw);
    }
}

#[test]
fn gatehouse_itself_reads_back_as_it_prints() {
    assert_eq!(Resource::parse(&Resource::Gatehouse.to_string()), Ok(Resource::Gatehouse));
    assert_eq!(Resource::parse("gatehouse:gatehouse"), Ok(Resource::Gatehouse));
    assert!(Scope::parse("gatehouse").is_err(), "`*` is the scope of gatehouse itself");
}

#[test]
fn role_names_have_a_shape() {
    for name in ["admin", "release-approver", "team-42"] {
        assert_eq!(name.parse::<Role>().unwrap().as_str(), name);
    }
    for name in ["", "Admin", "rm -rf", "a/b", &"x".repeat(65)] {
        assert_eq!(name.parse::<Role>(), Err(GrantError::UnknownRole(name.to_owned())));
    }
}

#[test]
fn a_grant_stops_counting_at_its_expiry_instant() {
    let start = OffsetDateTime::UNIX_EPOCH;
    let grant = Grant {
        id: GrantId::new(),
        identity_id: IdentityId::new(),
        role: "viewer".parse().unwrap(),
        scope: Scope::Everything,
        created_at: start,
        expires_at: Some(start + time::Duration::hours(1)),
        revoked_at: None,
        created_by: None,
    };
    assert!(grant.is_in_force_at(start + time::Duration::minutes(59)));
    assert!(!grant.is_in_force_at(start + time::Duration::hours(1)));
}

#[track_caller]
fn check_role(name: &str, defined: &[&str], expected: Result<(), &str>) {
    let role: Role = name.parse().unwrap();
    assert_eq!(
        check_role_defined(&role, |asked| defined.contains(&asked)).map_err(|e| e.to_string()),
        expected.map_err(str::to_owned),
        "{name}"
    );
}

#[test]
fn only_roles_the_policy_defines_are_granted() {
    let defined = ["admin", "viewer", "release-approver"];
    check_role("admin", &defined, Ok(()));
    check_role("release-approver", &defined, Ok(()));
    check_role("overlord", &defined, Err("unknown role `overlord` (see GET /api/v1/roles)"));
    check_role("viewer", &[], Err("unknown role `viewer` (see GET /api/v1/roles)"));
}

#[track_caller]
fn check_expiry(raw: Option<&str>, expected: Result<Option<OffsetDateTime>, &str>) {
    let now = time::macros::datetime!(2026-06-01 09:00:00 UTC);
    assert_eq!(parse_expiry(raw, now).map_err(|e| e.to_string()), expected.map_err(str::to_owned), "{raw:?}");
}

#[test]
fn a_grant_expiry_is_an_rfc3339_time_in_the_future() {
    use time::macros::datetime;
    check_expiry(None, Ok(None));
    check_expiry(Some("2026-06-01T09:30:00Z"), Ok(Some(datetime!(2026-06-01 09:30:00 UTC))));
    check_expiry(Some("2026-06-01T11:00:00.001+02:00"), Ok(Some(datetime!(2026-06-01 09:00:00.001 UTC))));
    check_expiry(Some("2026-06-01T09:00:00Z"), Err("expires_at `2026-06-01T09:00:00Z` is not in the future"));
    check_expiry(Some("2020-01-01T00:00:00Z"), Err("expires_at `2020-01-01T00:00:00Z` is not in the future"));
    check_expiry(Some("soon"), Err("expires_at must be an RFC 3339 time, not `soon`"));
    check_expiry(Some("2026-06-01"), Err("expires_at must be an RFC 3339 time, not `2026-06-01`"));
    check_expiry(Some(""), Err("expires_at must be an RFC 3339 time, not ``"));
}

#[track_caller]
fn check_holder(status: IdentityStatus, expected: Result<(), &str>) {
    let holder = Identity {
        id: "0192f0c8-7c1e-7000-8000-000000000004".parse().unwrap(),
        kind: crate::identity::IdentityKind::Human,
        name: "Ana".into(),
        email: Some("ana@example.com".into()),
        status,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    };
    assert_eq!(check_grant_holder(&holder).map_err(|e| e.to_string()), expected.map_err(str::to_owned), "{status}");
}

#[test]
fn the_deprovisioned_receive_no_grant() {
    check_holder(IdentityStatus::Active, Ok(()));
    check_holder(IdentityStatus::Suspended, Ok(()));
    check_holder(
        IdentityStatus::Deprovisioned,
        Err("identity `0192f0c8-7c1e-7000-8000-000000000004` is deprovisioned"),
    );
}
