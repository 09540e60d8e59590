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
