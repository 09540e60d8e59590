use time::macros::datetime;

use super::*;
use crate::ids::GrantId;

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn grant(holder: IdentityId, role: &str, scope: &str) -> Grant {
    Grant {
        id: GrantId::new(),
        identity_id: holder,
        role: role.parse().unwrap(),
        scope: Scope::parse(scope).unwrap(),
        created_at: NOW,
        expires_at: None,
        revoked_at: None,
        created_by: None,
    }
}

fn grants(holder: IdentityId, held: &[(&str, &str)]) -> Vec<Grant> {
    held.iter().map(|(role, scope)| grant(holder, role, scope)).collect()
}

#[track_caller]
fn check_includes(outer: &str, inner: &str, includes: bool) {
    let (outer, inner) = (Scope::parse(outer).unwrap(), Scope::parse(inner).unwrap());
    assert_eq!(scope_includes(&outer, &inner), includes, "{outer} ⊇ {inner}");
}

#[test]
fn scopes_include_what_they_cover() {
    check_includes("*", "*", true);
    check_includes("*", "project:acme/web", true);
    check_includes("project:acme/web", "*", false);
    check_includes("project:acme/web", "project:acme/web", true);
    check_includes("project:acme/web", "environment:acme/web:production", true);
    check_includes("project:acme/web", "project:acme/api", false);
    check_includes("environment:acme/web:production", "project:acme/web", false);
    check_includes("environment:acme/web:production", "environment:acme/web:staging", false);
}

#[track_caller]
fn check_grant_case(held: &[(&str, &str)], role: &str, scope: &str, expected: Result<(), DelegationError>) {
    let caller = IdentityId::new();
    let held = grants(caller, held);
    let outcome = check_grant(
        &Holder::new(caller, &held),
        IdentityId::new(),
        &role.parse().unwrap(),
        &Scope::parse(scope).unwrap(),
        NOW,
    );
    assert_eq!(outcome, expected, "holding {held:?}, granting {role} over {scope}");
}

#[test]
fn a_caller_grants_only_a_role_it_holds_over_a_scope_it_covers() {
    let not_held = |role: &str, scope: &str| Err(DelegationError::NotHeld { role: role.into(), scope: scope.into() });
    check_grant_case(&[("admin", "*")], "admin", "*", Ok(()));
    check_grant_case(&[("admin", "*")], "viewer", "project:acme/web", Ok(()));
    check_grant_case(&[("admin", "project:acme/web")], "maintainer", "pipeline:acme/web:ci", Ok(()));
    check_grant_case(
        &[("admin", "project:acme/web")],
        "maintainer",
        "project:acme/api",
        not_held("maintainer", "project:acme/api"),
    );
    check_grant_case(&[("admin", "project:acme/web")], "admin", "*", not_held("admin", "*"));
    check_grant_case(&[("viewer", "*")], "viewer", "project:acme/web", Ok(()));
    check_grant_case(&[("viewer", "project:acme/web")], "viewer", "*", not_held("viewer", "*"));
    check_grant_case(&[("grant-manager", "*")], "admin", "*", not_held("admin", "*"));
    check_grant_case(
        &[("grant-manager", "*")],
        "deployer",
        "environment:acme/web:production",
        not_held("deployer", "environment:acme/web:production"),
    );
    check_grant_case(&[], "viewer", "project:acme/web", not_held("viewer", "project:acme/web"));
}

#[test]
fn nobody_grants_themselves_anything() {
    let caller = IdentityId::new();
    let held = grants(caller, &[("admin", "*")]);
    let outcome = check_grant(&Holder::new(caller, &held), caller, &"viewer".parse().unwrap(), &Scope::Everything, NOW);
    assert_eq!(outcome, Err(DelegationError::SelfGrant));
}

#[test]
fn only_grants_in_force_and_of_the_caller_count() {
    let caller = IdentityId::new();
    let mut expired = grant(caller, "admin", "*");
    expired.expires_at = Some(NOW);
    let mut revoked = grant(caller, "admin", "*");
    revoked.revoked_at = Some(NOW);
    let someone_elses = grant(IdentityId::new(), "admin", "*");
    let held = [expired, revoked, someone_elses];
    let holder = Holder::new(caller, &held);
    assert!(!holder.may_delegate(&Role::admin(), &Scope::Everything, NOW));
    assert!(!holder.is_admin(NOW));
    assert!(holder.may_delegate(&Role::admin(), &Scope::Everything, NOW - time::Duration::seconds(1)));
}

#[test]
fn revoking_needs_what_granting_needs_except_for_ones_own() {
    let caller = IdentityId::new();
    let held = grants(caller, &[("grant-manager", "*")]);
    let holder = Holder::new(caller, &held);
    let admin = Role::admin();
    assert_eq!(check_revoke(&holder, caller, &admin, &Scope::Everything, NOW), Ok(()));
    assert!(check_revoke(&holder, IdentityId::new(), &admin, &Scope::Everything, NOW).is_err());
}

#[track_caller]
fn check_act(
    caller_held: &[(&str, &str)],
    target_kind: IdentityKind,
    target_held: &[(&str, &str)],
    expected: Result<(), DelegationError>,
) {
    check_act_by(IdentityKind::Human, caller_held, target_kind, target_held, expected);
}

#[track_caller]
fn check_act_by(
    caller_kind: IdentityKind,
    caller_held: &[(&str, &str)],
    target_kind: IdentityKind,
    target_held: &[(&str, &str)],
    expected: Result<(), DelegationError>,
) {
    let (caller, target) = (IdentityId::new(), IdentityId::new());
    let (caller_grants, target_grants) = (grants(caller, caller_held), grants(target, target_held));
    let caller_holder = Holder::new(caller, &caller_grants);
    let outcome = check_act_as(&caller_holder, caller_kind, &Holder::new(target, &target_grants), target_kind, NOW);
    assert_eq!(outcome, expected, "{caller_held:?} acting as a {target_kind:?} holding {target_held:?}");
}

#[test]
fn acting_as_another_identity_needs_everything_it_holds() {
    use IdentityKind::{Human, Service};
    let more =
        |role: &str, scope: &str| Err(DelegationError::TargetHoldsMore { role: role.into(), scope: scope.into() });
    // Services: whoever holds all they hold.
    check_act(&[("identity-manager", "*")], Service, &[], Ok(()));
    check_act(
        &[("identity-manager", "*"), ("deployer", "project:acme/web")],
        Service,
        &[("deployer", "environment:acme/web:production")],
        Ok(()),
    );
    check_act(&[("identity-manager", "*")], Service, &[("admin", "*")], more("admin", "*"));
    check_act(&[("admin", "project:acme/web")], Service, &[("admin", "*")], more("admin", "*"));
    check_act(&[("admin", "*")], Service, &[("admin", "*")], Ok(()));
    // People: an admin over `*`, never for another admin.
    check_act(&[("identity-manager", "*")], Human, &[], Err(DelegationError::NotAdmin));
    check_act(&[("admin", "project:acme/web")], Human, &[], Err(DelegationError::NotAdmin));
    check_act(&[("admin", "*")], Human, &[("developer", "project:acme/web")], Ok(()));
    check_act(&[("admin", "*")], Human, &[("admin", "*")], Err(DelegationError::TargetIsAdmin));
    check_act(&[("admin", "*")], Human, &[("admin", "project:acme/web")], Err(DelegationError::TargetIsAdmin));
    // A service, even an admin, has no second factor to ask for.
    check_act_by(Service, &[("admin", "*")], Human, &[], Err(DelegationError::NotAdmin));
    check_act_by(Service, &[("admin", "*")], Service, &[("deployer", "*")], Ok(()));
}

#[test]
fn acting_as_oneself_is_not_delegation() {
    let caller = IdentityId::new();
    let held = grants(caller, &[("admin", "*")]);
    let me = Holder::new(caller, &held);
    assert_eq!(check_act_as(&Holder::new(caller, &[]), IdentityKind::Service, &me, IdentityKind::Human, NOW), Ok(()));
}

#[test]
fn bindings_name_services_whose_grants_the_caller_holds() {
    let (caller, bot) = (IdentityId::new(), IdentityId::new());
    let caller_grants = grants(caller, &[("identity-manager", "*"), ("deployer", "*")]);
    let holder = Holder::new(caller, &caller_grants);
    let deployer = grants(bot, &[("deployer", "environment:acme/web:production")]);
    let admin = grants(bot, &[("admin", "*")]);
    assert_eq!(check_binding(&holder, &Holder::new(bot, &deployer), IdentityKind::Service, NOW), Ok(()));
    assert_eq!(
        check_binding(&holder, &Holder::new(bot, &admin), IdentityKind::Service, NOW),
        Err(DelegationError::TargetHoldsMore { role: "admin".into(), scope: "*".into() })
    );
    assert_eq!(
        check_binding(&holder, &Holder::new(bot, &[]), IdentityKind::Human, NOW),
        Err(DelegationError::NotAService)
    );
}

#[track_caller]
fn check_manage_case(held: &[(&str, &str)], target_holds: &[(&str, &str)], expected: Result<(), DelegationError>) {
    let (caller, target) = (IdentityId::new(), IdentityId::new());
    let (caller_grants, target_grants) = (grants(caller, held), grants(target, target_holds));
    let outcome = check_manage(&Holder::new(caller, &caller_grants), &Holder::new(target, &target_grants), NOW);
    assert_eq!(outcome, expected, "holding {held:?}, managing one holding {target_holds:?}");
}

#[test]
fn managing_another_identity_needs_everything_it_holds() {
    let more =
        |role: &str, scope: &str| Err(DelegationError::TargetHoldsMore { role: role.into(), scope: scope.into() });
    let manager = [("identity-manager", "*"), ("developer", "project:acme/web")];
    check_manage_case(&manager, &[], Ok(()));
    check_manage_case(&manager, &[("developer", "project:acme/web")], Ok(()));
    check_manage_case(&manager, &[("developer", "environment:acme/web:staging")], Ok(()));
    check_manage_case(&manager, &[("identity-manager", "*")], Ok(()));
    check_manage_case(&manager, &[("developer", "project:acme/api")], more("developer", "project:acme/api"));
    check_manage_case(&manager, &[("admin", "*")], more("admin", "*"));
    check_manage_case(
        &manager,
        &[("release-approver", "environment:acme/web:production")],
        more("release-approver", "environment:acme/web:production"),
    );
    check_manage_case(&[("admin", "project:acme/web")], &[("admin", "*")], more("admin", "*"));
    check_manage_case(&[("admin", "project:acme/web")], &[("deployer", "project:acme/web")], Ok(()));
    check_manage_case(&[("admin", "*")], &[("admin", "*")], Ok(()));
    check_manage_case(&[("admin", "*")], &[("release-approver", "environment:acme/web:production")], Ok(()));
}

#[test]
fn managing_ignores_grants_no_longer_in_force_and_oneself() {
    let (caller, target) = (IdentityId::new(), IdentityId::new());
    let caller_grants = grants(caller, &[("identity-manager", "*")]);
    let mut lapsed = grants(target, &[("admin", "*"), ("admin", "*")]);
    lapsed[0].revoked_at = Some(NOW - time::Duration::hours(1));
    lapsed[1].expires_at = Some(NOW - time::Duration::hours(1));
    let holder = Holder::new(caller, &caller_grants);
    assert_eq!(check_manage(&holder, &Holder::new(target, &lapsed), NOW), Ok(()));
    let mine = grants(caller, &[("admin", "*")]);
    assert_eq!(check_manage(&Holder::new(caller, &[]), &Holder::new(caller, &mine), NOW), Ok(()));
}
