use time::{Duration, OffsetDateTime};

use super::*;
use crate::grant::Scope;
use crate::identity::{IdentityKind, IdentityStatus};
use crate::ids::IdentityId;

fn identity(status: IdentityStatus) -> Identity {
    Identity {
        id: IdentityId::new(),
        kind: IdentityKind::Human,
        name: "Ana".into(),
        email: Some("ana@example.com".into()),
        status,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn grant(holder: &Identity, role: &str, scope: &str) -> Grant {
    Grant {
        id: GrantId::new(),
        identity_id: holder.id,
        role: role.parse().unwrap(),
        scope: Scope::parse(scope).unwrap(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        expires_at: None,
        revoked_at: None,
        created_by: None,
    }
}

#[track_caller]
fn check(role: &str, scope: &str, action: &str, resource: &str, allowed: bool) {
    let ana = identity(IdentityStatus::Active);
    let grants = [grant(&ana, role, scope)];
    let resource = if resource == "gatehouse" { Resource::Gatehouse } else { Resource::parse(resource).unwrap() };
    let decision = decide(&ana, &grants, action.parse().unwrap(), &resource, OffsetDateTime::UNIX_EPOCH);
    assert_eq!(decision.is_allowed(), allowed, "{role} on {scope}: {action} {resource}");
}

#[test]
fn default_roles() {
    check("developer", "project:acme/web", "pipeline.trigger", "pipeline:acme/web:build", true);
    check("developer", "project:acme/web", "source.push", "project:acme/web", true);
    check("developer", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:build", false);
    check("developer", "project:acme/web", "deployment.approve", "environment:acme/web:production", false);
    check("developer", "project:acme/web", "pipeline.trigger", "pipeline:acme/api:build", false);
    check("maintainer", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:build", true);
    check(
        "release-approver",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:production",
        true,
    );
    check(
        "release-approver",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:staging",
        false,
    );
    check("deployer", "environment:acme/web:production", "deployment.execute", "environment:acme/web:production", true);
    check(
        "deployer",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:production",
        false,
    );
    check("auditor", "*", "audit.read", "gatehouse", true);
    check("auditor", "*", "identity.manage", "gatehouse", false);
    check("viewer", "*", "pipeline.trigger", "pipeline:acme/web:build", false);
    check("admin", "*", "identity.manage", "gatehouse", true);
    check("admin", "project:acme/web", "identity.manage", "gatehouse", false);
}

#[test]
fn nothing_is_allowed_without_a_grant() {
    let ana = identity(IdentityStatus::Active);
    let decision = decide(&ana, &[], Action::PipelineView, &Resource::Gatehouse, OffsetDateTime::UNIX_EPOCH);
    assert!(!decision.is_allowed());
    assert_eq!(decision.reasons, vec![Reason::NoGrantAllows]);
}

#[test]
fn an_inactive_identity_is_denied_everything() {
    for status in [IdentityStatus::Suspended, IdentityStatus::Deprovisioned] {
        let ana = identity(status);
        let grants = [grant(&ana, "admin", "*")];
        let decision = decide(&ana, &grants, Action::AuditRead, &Resource::Gatehouse, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(decision.reasons, vec![Reason::IdentityNotActive]);
        assert!(decision.permit().is_err());
    }
}

#[test]
fn expired_revoked_and_foreign_grants_do_not_count() {
    let ana = identity(IdentityStatus::Active);
    let bob = identity(IdentityStatus::Active);
    let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
    let mut expired = grant(&ana, "admin", "*");
    expired.expires_at = Some(now);
    let mut revoked = grant(&ana, "admin", "*");
    revoked.revoked_at = Some(now - Duration::hours(1));
    let foreign = grant(&bob, "admin", "*");
    let decision = decide(&ana, &[expired, revoked, foreign], Action::AuditRead, &Resource::Gatehouse, now);
    assert!(!decision.is_allowed());
}

#[test]
fn a_permit_names_what_it_allows() {
    let ana = identity(IdentityStatus::Active);
    let admin = grant(&ana, "admin", "*");
    let decision = decide(
        &ana,
        std::slice::from_ref(&admin),
        Action::IdentityManage,
        &Resource::Gatehouse,
        OffsetDateTime::UNIX_EPOCH,
    );
    assert_eq!(decision.reasons, vec![Reason::AllowedByGrant { grant: admin.id, role: Role::Admin }]);
    let permit = decision.permit().unwrap();
    assert_eq!(permit.action(), Action::IdentityManage);
    assert_eq!(permit.resource(), &Resource::Gatehouse);
}

#[test]
fn actions_parse_from_their_contract_names() {
    for action in Action::ALL {
        assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
    }
    assert!("pipeline.destroy".parse::<Action>().is_err());
}
