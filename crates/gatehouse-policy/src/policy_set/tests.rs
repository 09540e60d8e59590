use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::{Grant, OwnedKind, Resource, Scope};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{GrantId, IdentityId};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::*;
use gatehouse_domain::change::KnownAuthors;

use crate::{Decision, DecisionError, DecisionInput, Reason, ServerFacts};

const NOW: OffsetDateTime = time::macros::datetime!(2026-06-01 12:00 UTC);

fn identity(kind: IdentityKind, status: IdentityStatus) -> Identity {
    Identity {
        id: IdentityId::new(),
        kind,
        name: "ana".into(),
        email: (kind == IdentityKind::Human).then(|| "ana@example.com".to_owned()),
        status,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn grant(holder: &Identity, role: &str, scope: &str) -> Grant {
    Grant {
        id: GrantId::new(),
        identity_id: holder.id,
        role: role.parse().unwrap(),
        scope: Scope::parse(scope).unwrap(),
        created_at: NOW,
        expires_at: None,
        revoked_at: None,
        created_by: None,
    }
}

fn resource(raw: &str) -> Resource {
    if raw == "gatehouse" { Resource::Gatehouse } else { Resource::parse(raw).unwrap() }
}

fn input<'a>(
    principal: &'a Identity,
    grants: &'a [Grant],
    action: &str,
    resource: &'a Resource,
    context: Option<&'a Map<String, Value>>,
) -> DecisionInput<'a> {
    DecisionInput {
        principal,
        grants,
        action: action.parse().unwrap(),
        resource,
        now: NOW,
        auth_method: "token",
        mfa_fresh: false,
        step_up: false,
        source_ip: Some("127.0.0.1"),
        principal_is_caller: true,
        caller_context: context,
    }
}

#[track_caller]
fn check(kind: IdentityKind, role: &str, scope: &str, action: &str, target: &str, allowed: bool) {
    let policies = Policies::defaults();
    let ana = identity(kind, IdentityStatus::Active);
    let grants = [grant(&ana, role, scope)];
    let target = resource(target);
    let decision = policies.decide(&input(&ana, &grants, action, &target, None)).unwrap();
    assert_eq!(decision.is_allowed(), allowed, "{role} on {scope}: {action} {target}: {:?}", decision.reasons);
}

#[test]
fn default_roles_as_cedar() {
    use IdentityKind::{Human, Service};
    check(Human, "developer", "project:acme/web", "pipeline.trigger", "pipeline:acme/web:build", true);
    check(Human, "developer", "project:acme/web", "source.push", "project:acme/web", true);
    check(Human, "developer", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:build", false);
    check(Human, "developer", "project:acme/web", "deployment.approve", "environment:acme/web:production", false);
    check(Human, "developer", "project:acme/web", "pipeline.trigger", "pipeline:acme/api:build", false);
    check(Human, "maintainer", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:build", true);
    check(
        Human,
        "release-approver",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:production",
        true,
    );
    check(
        Human,
        "release-approver",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:staging",
        false,
    );
    check(Human, "release-approver", "project:acme/web", "deployment.approve", "environment:acme/web:staging", true);
    check(
        Service,
        "deployer",
        "environment:acme/web:production",
        "deployment.execute",
        "environment:acme/web:production",
        true,
    );
    check(
        Human,
        "deployer",
        "environment:acme/web:production",
        "deployment.execute",
        "environment:acme/web:production",
        false,
    );
    check(
        Service,
        "deployer",
        "environment:acme/web:production",
        "deployment.approve",
        "environment:acme/web:production",
        false,
    );
    check(Human, "auditor", "*", "audit.read", "gatehouse", true);
    check(Human, "auditor", "*", "identity.manage", "gatehouse", false);
    check(Human, "auditor", "*", "vendor.manage", "gatehouse", false);
    check(Human, "vendor-manager", "*", "vendor.manage", "gatehouse", true);
    check(Human, "vendor-manager", "*", "identity.view", "gatehouse", true);
    check(Human, "vendor-manager", "*", "identity.manage", "gatehouse", false);
    check(Human, "vendor-manager", "*", "audit.read", "gatehouse", false);
    check(Human, "viewer", "*", "pipeline.view", "pipeline:acme/web:build", true);
    check(Human, "viewer", "*", "pipeline.trigger", "pipeline:acme/web:build", false);
    check(Human, "admin", "*", "identity.manage", "gatehouse", true);
    check(Human, "admin", "*", "deployment.approve", "environment:acme/web:production", true);
    check(Human, "admin", "project:acme/web", "identity.manage", "gatehouse", false);
    check(Human, "admin", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:deploy", true);
}

#[test]
fn deny_is_the_default_and_reasons_say_why() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let target = resource("project:acme/web");
    let denied = policies.decide(&input(&ana, &[], "source.push", &target, None)).unwrap();
    assert!(!denied.is_allowed());
    assert_eq!(denied.reasons, vec![Reason::NoPermit]);

    let grants = [grant(&ana, "developer", "project:acme/web")];
    let allowed = policies.decide(&input(&ana, &grants, "source.push", &target, None)).unwrap();
    assert_eq!(
        allowed.reasons,
        vec![Reason::Grant { grant: grants[0].id, role: "developer".into(), scope: "project:acme/web".into() }]
    );
    let permit = allowed.permit().unwrap();
    assert_eq!(permit.action(), Action::SourcePush);
}

#[test]
fn an_inactive_identity_is_denied_everything() {
    let policies = Policies::defaults();
    for status in [IdentityStatus::Suspended, IdentityStatus::Deprovisioned] {
        let ana = identity(IdentityKind::Human, status);
        let grants = [grant(&ana, "admin", "*")];
        let target = resource("gatehouse");
        let decision = policies.decide(&input(&ana, &grants, "audit.read", &target, None)).unwrap();
        assert!(!decision.is_allowed());
        assert_eq!(
            decision.reasons,
            vec![Reason::Policy { id: "inactive-identities-may-do-nothing".into(), permit: false }]
        );
    }
}

#[test]
fn grants_count_only_while_in_force() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let bob = identity(IdentityKind::Human, IdentityStatus::Active);
    let mut expiring = grant(&ana, "admin", "*");
    expiring.expires_at = Some(NOW + Duration::seconds(1));
    let mut expired = grant(&ana, "admin", "*");
    expired.expires_at = Some(NOW);
    let mut revoked = grant(&ana, "admin", "*");
    revoked.revoked_at = Some(NOW - Duration::hours(1));
    let foreign = grant(&bob, "admin", "*");
    let target = resource("gatehouse");
    let decide =
        |grants: &[Grant]| policies.decide(&input(&ana, grants, "audit.read", &target, None)).unwrap().is_allowed();
    assert!(decide(std::slice::from_ref(&expiring)));
    assert!(!decide(&[expired, revoked, foreign]));
}

#[test]
fn authors_may_not_approve_their_own_deployment() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "release-approver", "project:acme/web")];
    let target = resource("environment:acme/web:production");
    // Attack: the approver names themself in another spelling (case, space,
    // an upper-case id) to slip past the exact comparison.
    let spellings = [
        json!(ana.id.to_string()),
        json!("ana@example.com"),
        json!("ANA@Example.COM"),
        json!(" ana@example.com\t"),
        json!(ana.id.to_string().to_uppercase()),
    ];
    for author in spellings {
        let context = json!({"author": author, "change": "c0ffee"}).as_object().cloned().unwrap();
        let decision = policies.decide(&input(&ana, &grants, "deployment.approve", &target, Some(&context))).unwrap();
        assert!(!decision.is_allowed(), "{author}");
        assert_eq!(
            decision.reasons,
            vec![Reason::Policy { id: "authors-may-not-approve-their-own-deployment".into(), permit: false }]
        );
    }
    let someone_else = json!({"author": "bob@example.com"}).as_object().cloned().unwrap();
    assert!(
        policies
            .decide(&input(&ana, &grants, "deployment.approve", &target, Some(&someone_else)))
            .unwrap()
            .is_allowed()
    );
}

fn known(authors: &[IdentityId], all_known: bool) -> ServerFacts {
    let mut authors = authors.to_vec();
    authors.sort();
    ServerFacts { authors: Some(KnownAuthors { authors, all_known }), integration: None }
}

#[test]
fn verified_authors_may_not_approve_their_own_deployment() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let bob = IdentityId::new();
    let grants = [grant(&ana, "release-approver", "project:acme/web")];
    let target = resource("environment:acme/web:production");
    let commit = json!({"commit": "a".repeat(40)}).as_object().cloned().unwrap();
    let asked = |context| input(&ana, &grants, "deployment.approve", &target, context);
    let guard = vec![Reason::Policy { id: "authors-may-not-approve-their-own-deployment".into(), permit: false }];
    // With or without a caller context: gatehouse's facts alone decide.
    for context in [None, Some(&commit)] {
        let decision = policies.decide_with(&asked(context), &known(&[bob, ana.id], true)).unwrap();
        assert!(!decision.is_allowed(), "{context:?}");
        assert_eq!(decision.reasons, guard);
        let decision = policies.decide_with(&asked(context), &known(&[bob], true)).unwrap();
        assert!(decision.is_allowed(), "{context:?}: {:?}", decision.reasons);
        // Nothing known: decided as without facts.
        assert!(policies.decide_with(&asked(context), &known(&[], false)).unwrap().is_allowed());
    }
    // The caller's `author` can only add an exclusion, never take one away.
    let other_author = json!({"author": "bob@example.com"}).as_object().cloned().unwrap();
    assert!(!policies.decide_with(&asked(Some(&other_author)), &known(&[ana.id], true)).unwrap().is_allowed());
    let own = json!({"author": "ana@example.com"}).as_object().cloned().unwrap();
    assert!(!policies.decide_with(&asked(Some(&own)), &known(&[bob], true)).unwrap().is_allowed());
    // Only a decision's facts are its own: the memo of a question without
    // facts does not answer one with them, and back.
    assert!(policies.decide(&asked(None)).unwrap().is_allowed());
    assert!(!policies.decide_with(&asked(None), &known(&[ana.id], true)).unwrap().is_allowed());
    assert!(policies.decide(&asked(None)).unwrap().is_allowed());
}

#[test]
fn callers_may_not_set_what_gatehouse_knows_of_a_change() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "release-approver", "environment:acme/web:prod")];
    let target = resource("environment:acme/web:prod");
    for context in [json!({"authors": []}), json!({"author_known": true}), json!({"authors": ["x"], "commit": "a"})] {
        let context = context.as_object().cloned().unwrap();
        let asked = input(&ana, &grants, "deployment.approve", &target, Some(&context));
        let error = policies.decide_with(&asked, &known(&[ana.id], true)).unwrap_err();
        assert!(error.to_string().contains("is set by gatehouse, not by callers"), "{context:?}: {error}");
    }
}

#[test]
fn a_folder_whose_schema_predates_known_authors_still_decides() {
    let mut source = PolicySetSource::defaults();
    let schema: String = source.files["schema.cedarschema"]
        .lines()
        .filter(|line| !line.contains("\"authors\"") && !line.contains("author_known"))
        .map(|l| format!("{l}\n"))
        .collect();
    source.files.insert("schema.cedarschema".into(), schema);
    let guards =
        source.files["guards.cedar"].replace("(context has authors && context.authors.contains(principal.id)) ||", "");
    source.files.insert("guards.cedar".into(), guards);
    let policies = Policies::from_source(&source).unwrap();
    assert!(!policies.authors_in_context(Action::DeploymentApprove));
    assert!(Policies::defaults().authors_in_context(Action::DeploymentApprove));
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "release-approver", "environment:acme/web:prod")];
    let target = resource("environment:acme/web:prod");
    let asked = input(&ana, &grants, "deployment.approve", &target, None);
    assert!(policies.decide_with(&asked, &known(&[ana.id], true)).unwrap().is_allowed());
}

#[test]
fn requests_that_do_not_fit_the_schema_are_refused() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let project = resource("project:acme/web");
    let err = policies.decide(&input(&ana, &[], "deployment.approve", &project, None)).unwrap_err();
    assert!(matches!(&err, DecisionError::InvalidRequest(m) if m.contains("does not apply to a project")), "{err}");
    for context in [json!({"colour": "blue"}), json!({"author": 5}), json!({"now": 0})] {
        let context = context.as_object().cloned().unwrap();
        let err = policies.decide(&input(&ana, &[], "source.push", &project, Some(&context))).unwrap_err();
        assert!(matches!(err, DecisionError::InvalidRequest(_)), "{context:?}: {err}");
    }
}

#[test]
fn what_decisions_share_never_outlives_what_it_was_built_from() {
    // The same policies answer again after the principal, their grants or
    // the request changed: nothing built for an earlier answer leaks in.
    let policies = Policies::defaults();
    let mut ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let admin = grant(&ana, "admin", "*");
    let target = resource("gatehouse");
    let allowed = |ana: &Identity, grants: &[Grant]| {
        policies.decide(&input(ana, grants, "audit.read", &target, None)).unwrap().is_allowed()
    };
    assert!(allowed(&ana, std::slice::from_ref(&admin)));
    assert!(allowed(&ana, std::slice::from_ref(&admin)));
    ana.status = IdentityStatus::Suspended;
    assert!(!allowed(&ana, std::slice::from_ref(&admin)));
    ana.status = IdentityStatus::Active;
    let mut revoked = admin.clone();
    revoked.revoked_at = Some(NOW - Duration::minutes(1));
    assert!(!allowed(&ana, &[revoked]));
    assert!(!allowed(&ana, &[]));
    let elsewhere = grant(&ana, "admin", "project:acme/web");
    assert!(!allowed(&ana, &[elsewhere]));
    assert!(allowed(&ana, &[admin]));

    let project = resource("project:acme/web");
    for _ in 0..2 {
        let err = policies.decide(&input(&ana, &[], "deployment.approve", &project, None)).unwrap_err();
        assert!(matches!(&err, DecisionError::InvalidRequest(m) if m.contains("does not apply")), "{err}");
    }
}

#[test]
fn a_question_asked_again_is_answered_again_from_what_it_depends_on() {
    // Within one second the same question is answered from a memo; what
    // the answer depends on still decides it.
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let mut approver = grant(&ana, "release-approver", "project:acme/web");
    approver.expires_at = Some(NOW + Duration::milliseconds(500));
    let target = resource("environment:acme/web:production");
    let at = |millis: i64| DecisionInput {
        now: NOW + Duration::milliseconds(millis),
        ..input(&ana, std::slice::from_ref(&approver), "deployment.approve", &target, None)
    };
    let first = policies.decide(&at(100)).unwrap();
    assert!(first.is_allowed());
    assert_eq!(policies.decide(&at(200)).unwrap(), first, "the same answer, with the same reasons");
    let expired = policies.decide(&at(500)).unwrap();
    assert!(!expired.is_allowed(), "the grant stops counting at its expiry instant, in the same second");
    assert_eq!(expired.reasons, vec![Reason::NoPermit]);

    let renamed = Identity { email: Some("someone@example.com".into()), ..ana.clone() };
    let asked_as = |who: &Identity| {
        policies.decide(&input(who, std::slice::from_ref(&approver), "deployment.approve", &target, None)).unwrap()
    };
    assert!(asked_as(&ana).is_allowed());
    assert!(asked_as(&renamed).is_allowed());
    let suspended = Identity { status: IdentityStatus::Suspended, ..ana.clone() };
    assert!(!asked_as(&suspended).is_allowed());
    assert!(asked_as(&ana).is_allowed());
}

#[test]
fn the_defaults_validate_and_list_their_roles() {
    let policies = Policies::defaults();
    let roles = policies.roles();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "admin",
            "auditor",
            "deployer",
            "developer",
            "maintainer",
            "release-approver",
            "scim-provisioner",
            "vendor-manager",
            "viewer"
        ]
    );
    let developer = roles.iter().find(|r| r.name == "developer").unwrap();
    assert_eq!(developer.actions, ["pipeline.view", "pipeline.trigger", "source.push"]);
    assert!(roles.iter().find(|r| r.name == "admin").unwrap().all_actions);
    assert_eq!(policies.hash(), PolicySetSource::defaults().hash());
    assert_eq!(policies.static_policies().len(), 7);
}

#[test]
fn policies_scoped_to_an_action_group_apply_to_its_members() {
    // Decisions leave out the policies whose action scope cannot match; an
    // action reached through a group of the schema must still find them.
    let mut source = PolicySetSource::defaults();
    let schema = source.files.get_mut("schema.cedarschema").unwrap();
    *schema = schema.replace(
        "action \"deployment.approve\", \"deployment.execute\" appliesTo {",
        "action \"deployments\";\naction \"deployment.approve\", \"deployment.execute\" in [\"deployments\"] appliesTo {",
    );
    source.files.insert(
        "groups.cedar".into(),
        r#"
@id("deployment-officer")
permit (principal == ?principal, action in [Action::"deployments"], resource in ?resource);

@id("services-may-not-touch-deployments")
forbid (principal, action in [Action::"deployments"], resource) when { principal.kind == "service" };
"#
        .into(),
    );
    let policies = Policies::from_source(&source).unwrap();
    let production = resource("environment:acme/web:production");
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "deployment-officer", "project:acme/web")];
    for action in ["deployment.approve", "deployment.execute"] {
        let decision = policies.decide(&input(&ana, &grants, action, &production, None)).unwrap();
        assert!(decision.is_allowed(), "{action}: {:?}", decision.reasons);
        assert!(matches!(&decision.reasons[..], [Reason::Grant { role, .. }] if role == "deployment-officer"));
    }
    let pipeline = resource("pipeline:acme/web:build");
    assert!(!policies.decide(&input(&ana, &grants, "pipeline.trigger", &pipeline, None)).unwrap().is_allowed());

    let bot = identity(IdentityKind::Service, IdentityStatus::Active);
    let grants = [grant(&bot, "deployment-officer", "*")];
    let decision = policies.decide(&input(&bot, &grants, "deployment.execute", &production, None)).unwrap();
    assert!(!decision.is_allowed());
    assert_eq!(
        decision.reasons,
        vec![Reason::Policy { id: "services-may-not-touch-deployments".into(), permit: false }]
    );
}

fn with_file(name: &str, text: &str) -> PolicySetSource {
    let mut source = PolicySetSource::defaults();
    source.files.insert(name.to_owned(), text.to_owned());
    source
}

#[track_caller]
fn check_invalid(source: PolicySetSource, file: &str, line: usize, needle: &str) {
    let PolicyError::Invalid(problems) = Policies::from_source(&source).unwrap_err() else { panic!("not invalid") };
    assert!(problems.iter().any(|p| p.file == file && p.line == line && p.message.contains(needle)), "{problems:#?}");
}

#[test]
fn invalid_policies_are_named_by_file_line_and_reason() {
    check_invalid(
        with_file("custom.cedar", "@id(\"x\")\npermit (principal, action == Action::\"pipeline.launch\", resource);\n"),
        "custom.cedar",
        2,
        "pipeline.launch",
    );
    check_invalid(
        with_file("custom.cedar", "@id(\"x\")\n\npermit (principal, action, resource\n"),
        "custom.cedar",
        3,
        "",
    );
    check_invalid(
        with_file("custom.cedar", "@id(\"x\")\npermit (principal, action, resource) when { principal.age > 3 };\n"),
        "custom.cedar",
        2,
        "age",
    );
    check_invalid(with_file("custom.cedar", "permit (principal, action, resource);\n"), "custom.cedar", 1, "@id");
    let mut no_schema = PolicySetSource::defaults();
    no_schema.files.remove("schema.cedarschema");
    check_invalid(no_schema, "(folder)", 0, "no .cedarschema");
}

#[test]
fn a_folder_round_trips_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in DEFAULT_FILES {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let source = PolicySetSource::read_dir(dir.path()).unwrap();
    assert_eq!(source.hash(), PolicySetSource::defaults().hash());
}

#[test]
fn the_matrix_lists_what_is_allowed_and_why() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let bot = identity(IdentityKind::Service, IdentityStatus::Active);
    let gone = identity(IdentityKind::Human, IdentityStatus::Suspended);
    let ana_grants = vec![grant(&ana, "developer", "project:acme/web")];
    let bot_grants = vec![grant(&bot, "deployer", "environment:acme/web:production")];
    let gone_grants = vec![grant(&gone, "admin", "*")];
    let all: Vec<Grant> = ana_grants.iter().chain(&bot_grants).chain(&gone_grants).cloned().collect();
    let registered = [resource("pipeline:acme/web:build")];
    let resources = crate::known_resources(&all, &registered, NOW);
    let names: Vec<String> = resources.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["environment:acme/web:production", "gatehouse", "pipeline:acme/web:build", "project:acme/web"]);

    let rows = crate::matrix(
        &policies,
        &[(ana.clone(), ana_grants.clone()), (bot.clone(), bot_grants), (gone, gone_grants)],
        &resources,
        NOW,
    );
    let summary: Vec<(String, &str, String)> =
        rows.iter().map(|r| (r.identity.kind.as_str().to_owned(), r.action.as_str(), r.resource.to_string())).collect();
    assert!(summary.contains(&("human".into(), "source.push", "project:acme/web".into())));
    assert!(summary.contains(&("human".into(), "pipeline.trigger", "pipeline:acme/web:build".into())));
    assert!(summary.contains(&("service".into(), "deployment.execute", "environment:acme/web:production".into())));
    assert!(!summary.iter().any(|(_, action, _)| *action == "pipeline.config.edit"), "{summary:?}");
    assert!(rows.iter().all(|r| r.identity.status.is_active()), "a suspended admin is allowed nothing");
    let push = rows.iter().find(|r| r.action == Action::SourcePush).unwrap();
    assert_eq!(
        push.allowed_by,
        vec![Reason::Grant { grant: ana_grants[0].id, role: "developer".into(), scope: "project:acme/web".into() }]
    );
    // The owner rules show as rows about each identity's own things.
    let own_token = Resource::owned(OwnedKind::Token, "*", ana.id);
    let revoke = rows
        .iter()
        .find(|r| r.identity.id == ana.id && r.action == Action::IdentityManage && r.resource == own_token)
        .unwrap();
    assert_eq!(revoke.allowed_by, vec![Reason::Policy { id: "owners-end-their-own-credentials".into(), permit: true }]);
    assert!(summary.contains(&("service".into(), "identity.view", format!("identity:{}", bot.id))));
    assert!(
        !rows.iter().any(|r| r.identity.id == bot.id
            && r.action == Action::IdentityManage
            && matches!(r.resource, Resource::Owned { kind: OwnedKind::SigningKey, .. })),
        "a service does not manage its own signing keys"
    );
}

#[track_caller]
fn decide_owned(policies: &Policies, principal: &Identity, action: &str, target: &Resource, fresh: bool) -> Decision {
    let mut asked = input(principal, &[], action, target, None);
    asked.step_up = true;
    asked.mfa_fresh = fresh;
    policies.decide(&asked).unwrap()
}

#[test]
fn owners_see_and_end_their_own_things_by_policy() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let bob = identity(IdentityKind::Human, IdentityStatus::Active);
    let bot = identity(IdentityKind::Service, IdentityStatus::Active);
    let gone = identity(IdentityKind::Human, IdentityStatus::Suspended);
    let token = |owner: &Identity| Resource::owned(OwnedKind::Token, "t1", owner.id);
    let key = |owner: &Identity| Resource::owned(OwnedKind::SigningKey, "k1", owner.id);

    let seen = decide_owned(&policies, &ana, "identity.view", &token(&ana), false);
    assert!(seen.is_allowed());
    assert_eq!(seen.reasons, vec![Reason::Policy { id: "owners-see-their-own".into(), permit: true }]);
    // Ending one's own token needs no fresh second factor under step-up.
    let ended = decide_owned(&policies, &ana, "identity.manage", &token(&ana), false);
    assert_eq!(ended.reasons, vec![Reason::Policy { id: "owners-end-their-own-credentials".into(), permit: true }]);
    // Someone else's: nothing permits, whatever the owner rule says.
    for action in ["identity.view", "identity.manage"] {
        let other = decide_owned(&policies, &bob, action, &token(&ana), true);
        assert_eq!(other.reasons, vec![Reason::NoPermit], "{action}");
    }
    // Suspended: the guard forbids even one's own.
    let suspended = decide_owned(&policies, &gone, "identity.view", &token(&gone), true);
    assert!(!suspended.is_allowed());
    assert!(
        suspended.reasons.contains(&Reason::Policy { id: "inactive-identities-may-do-nothing".into(), permit: false })
    );
    // A person's own signing key needs a fresh factor; a service's own is
    // not its own to manage; one's own record and grants only to see.
    let stale = decide_owned(&policies, &ana, "identity.manage", &key(&ana), false);
    assert_eq!(stale.reasons, vec![Reason::Policy { id: "mfa-required".into(), permit: false }]);
    assert!(decide_owned(&policies, &ana, "identity.manage", &key(&ana), true).is_allowed());
    assert!(!decide_owned(&policies, &bot, "identity.manage", &key(&bot), false).is_allowed());
    assert!(!decide_owned(&policies, &ana, "identity.manage", &Resource::own_record(ana.id), true).is_allowed());
    let own_grant = Resource::owned(OwnedKind::Grant, "g1", ana.id);
    assert!(!decide_owned(&policies, &ana, "identity.manage", &own_grant, true).is_allowed());
    assert!(decide_owned(&policies, &ana, "identity.view", &own_grant, false).is_allowed());
    // An admin over `*` reaches everyone's things through its grant.
    let admin_grants = [grant(&bob, "admin", "*")];
    let anas = token(&ana);
    let mut asked = input(&bob, &admin_grants, "identity.manage", &anas, None);
    asked.mfa_fresh = true;
    assert!(matches!(policies.decide(&asked).unwrap().reasons[..], [Reason::Grant { .. }]));
}

#[test]
fn without_the_owner_policies_nobody_ends_their_own_token() {
    let mut source = PolicySetSource::defaults();
    source.files.remove("owners.cedar");
    let policies = Policies::from_source(&source).unwrap();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let token = Resource::owned(OwnedKind::Token, "t1", ana.id);
    assert_eq!(decide_owned(&policies, &ana, "identity.manage", &token, true).reasons, vec![Reason::NoPermit]);
}

#[test]
fn a_schema_without_owned_asks_about_gatehouse() {
    let mut source = PolicySetSource::defaults();
    let schema = source.files.get_mut("schema.cedarschema").unwrap();
    *schema = schema.replace("resource: [Gatehouse, Owned],", "resource: [Gatehouse],");
    let start = schema.find("entity Owned").unwrap();
    let end = start + schema[start..].find("};").unwrap() + 2;
    schema.replace_range(start..end, "");
    source.files.remove("owners.cedar");
    let guards = source.files.get_mut("guards.cedar").unwrap();
    *guards = guards.replace(
        " ||\n  (resource is Owned && resource.owner == principal && [\"token\", \"session\"].contains(resource.kind))",
        "",
    );
    let policies = Policies::from_source(&source).unwrap();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let token = Resource::owned(OwnedKind::Token, "t1", ana.id);
    let own = decide_owned(&policies, &ana, "identity.view", &token, true);
    assert_eq!((own.is_allowed(), own.resource), (false, token.clone()));
    let admin = [grant(&ana, "admin", "*")];
    let mut asked = input(&ana, &admin, "identity.view", &token, None);
    asked.mfa_fresh = true;
    assert!(policies.decide(&asked).unwrap().is_allowed());
}

#[test]
fn each_decision_sees_its_own_time_address_and_second_factor() {
    let cutoff = NOW.unix_timestamp() + 1;
    let policy = format!(
        "@id(\"office-hours\")\nforbid (principal, action, resource) when {{ context.now >= {cutoff} }};\n\
         @id(\"from-the-office\")\nforbid (principal, action, resource) unless {{ context.source_ip == \"127.0.0.1\" }};\n\
         @id(\"fresh-mfa\")\nforbid (principal, action == Action::\"source.push\", resource) unless {{ context.mfa_fresh }};\n"
    );
    let policies = Policies::from_source(&with_file("custom.cedar", &policy)).unwrap();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "developer", "project:acme/web")];
    let target = resource("project:acme/web");
    let base = input(&ana, &grants, "pipeline.view", &target, None);
    let allowed = |input: DecisionInput<'_>| policies.decide(&input).unwrap().is_allowed();

    // Asked again and again, with one field changed at a time.
    for _ in 0..2 {
        assert!(allowed(base.clone()));
        assert!(!allowed(DecisionInput { now: NOW + Duration::seconds(1), ..base.clone() }), "a second later");
        assert!(allowed(DecisionInput { now: NOW + Duration::milliseconds(999), ..base.clone() }), "same second");
        assert!(!allowed(DecisionInput { source_ip: Some("10.0.0.9"), ..base.clone() }), "another address");
        assert!(!allowed(DecisionInput { source_ip: None, ..base.clone() }), "no address");
        let push = DecisionInput { action: Action::SourcePush, ..base.clone() };
        assert!(!allowed(push.clone()), "no fresh second factor");
        assert!(allowed(DecisionInput { mfa_fresh: true, ..push }), "a fresh second factor");
    }
}

#[test]
fn people_need_a_fresh_second_factor_for_privileged_actions_when_step_up_is_on() {
    use IdentityKind::{Human, Service};
    let policies = Policies::defaults();
    let mfa_required = vec![Reason::Policy { id: "mfa-required".into(), permit: false }];
    // (kind, role, scope, action, resource, auth_method, step_up, mfa_fresh, is_caller, allowed)
    #[rustfmt::skip]
    let table = [
        (Human, "release-approver", "environment:acme/web:prod", "deployment.approve", "environment:acme/web:prod", "token", true, false, true, false),
        (Human, "release-approver", "environment:acme/web:prod", "deployment.approve", "environment:acme/web:prod", "session", true, true, true, true),
        (Human, "release-approver", "environment:acme/web:prod", "deployment.approve", "environment:acme/web:prod", "token", false, false, true, true),
        (Human, "release-approver", "environment:acme/web:prod", "deployment.approve", "environment:acme/web:prod", "token", true, false, false, false),
        (Human, "maintainer", "project:acme/web", "pipeline.config.edit", "pipeline:acme/web:ci", "token", true, false, true, false),
        (Human, "maintainer", "project:acme/web", "pipeline.config.edit", "project:acme/web", "signature", true, false, true, true),
        (Human, "maintainer", "project:acme/web", "source.push", "project:acme/web", "token", true, false, true, true),
        (Human, "admin", "*", "access.approve", "gatehouse", "token", true, false, true, false),
        (Human, "admin", "*", "grant.manage", "gatehouse", "token", true, false, true, false),
        (Human, "admin", "*", "identity.manage", "gatehouse", "token", true, false, true, false),
        (Human, "admin", "*", "policy.manage", "gatehouse", "token", true, false, true, false),
        (Human, "admin", "*", "vendor.manage", "gatehouse", "token", true, false, true, false),
        (Human, "admin", "*", "audit.read", "gatehouse", "token", true, false, true, true),
        (Human, "admin", "*", "identity.manage", "gatehouse", "token", true, true, true, true),
        (Service, "admin", "*", "identity.manage", "gatehouse", "token", true, false, true, true),
        (Service, "deployer", "environment:acme/web:prod", "deployment.execute", "environment:acme/web:prod", "workload", true, false, true, true),
    ];
    for (kind, role, scope, action, target, auth_method, step_up, mfa_fresh, is_caller, allowed) in table {
        let ana = identity(kind, IdentityStatus::Active);
        let grants = [grant(&ana, role, scope)];
        let target = resource(target);
        let asked = DecisionInput {
            auth_method,
            step_up,
            mfa_fresh,
            principal_is_caller: is_caller,
            ..input(&ana, &grants, action, &target, None)
        };
        let decision = policies.decide(&asked).unwrap();
        let row =
            format!("{kind:?} {role} {action} {auth_method} step_up={step_up} fresh={mfa_fresh} caller={is_caller}");
        assert_eq!(decision.is_allowed(), allowed, "{row}: {:?}", decision.reasons);
        if !allowed {
            assert_eq!(decision.reasons, mfa_required, "{row}");
        }
        // Caller-supplied context carries the same fields.
        let context = Map::from_iter([("reason".to_owned(), json!("release"))]);
        let with_context = DecisionInput { caller_context: Some(&context), ..asked };
        assert_eq!(policies.decide(&with_context).unwrap().is_allowed(), allowed, "{row} with context");
    }
}

#[test]
fn a_folder_whose_schema_predates_step_up_still_decides() {
    let mut source = PolicySetSource::defaults();
    let schema: String = source.files["schema.cedarschema"]
        .lines()
        .filter(|line| !line.contains("step_up"))
        .map(|l| format!("{l}\n"))
        .collect();
    source.files.insert("schema.cedarschema".into(), schema);
    let guards = source.files["guards.cedar"].split("// Step-up").next().unwrap().to_owned();
    source.files.insert("guards.cedar".into(), guards);
    let policies = Policies::from_source(&source).unwrap();
    assert!(!policies.step_up_in_context(Action::DeploymentApprove));
    assert!(Policies::defaults().step_up_in_context(Action::DeploymentApprove));
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "release-approver", "environment:acme/web:prod")];
    let target = resource("environment:acme/web:prod");
    let asked = DecisionInput { step_up: true, ..input(&ana, &grants, "deployment.approve", &target, None) };
    assert!(policies.decide(&asked).unwrap().is_allowed());
    let context = Map::from_iter([("author".to_owned(), json!("rita@example.com"))]);
    assert!(policies.decide(&DecisionInput { caller_context: Some(&context), ..asked }).unwrap().is_allowed());
}

#[test]
fn callers_may_not_set_step_up() {
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "release-approver", "environment:acme/web:prod")];
    let target = resource("environment:acme/web:prod");
    let context = Map::from_iter([("step_up".to_owned(), json!(false))]);
    let error = policies.decide(&input(&ana, &grants, "deployment.approve", &target, Some(&context))).unwrap_err();
    assert!(error.to_string().contains("`step_up` is set by gatehouse"), "{error}");
}

#[test]
fn new_pipelines_keep_every_memo_within_its_bound() {
    // The soak's growth followed questions about pipelines never asked
    // about before: whatever decisions keep per resource must stay bounded.
    let policies = Policies::defaults();
    let ana = identity(IdentityKind::Human, IdentityStatus::Active);
    let grants = [grant(&ana, "admin", "*")];
    for i in 0..20_000 {
        let target = resource(&format!("pipeline:acme/web:new-{i}"));
        assert!(policies.decide(&input(&ana, &grants, "pipeline.trigger", &target, None)).unwrap().is_allowed());
    }
    let sizes = policies.memos.sizes();
    for (memo, size) in sizes {
        assert!(size <= crate::memo::MAX_ENTRIES, "the {memo} memo holds {size} values");
    }
    // Per-question memos are full, the per-pipeline-independent ones hold one.
    assert_eq!(
        sizes,
        [
            ("slices", 1),
            ("entities", crate::memo::MAX_ENTRIES),
            ("own_contexts", 1),
            ("request_checks", 1),
            ("verdicts", crate::memo::MAX_ENTRIES),
        ]
    );
    // The actions' closed hierarchy is cloned for each question's entities,
    // never extended in place: it still holds only the schema's actions.
    let actions = policies.actions.iter().count();
    let last = resource("pipeline:acme/web:new-19999");
    policies.decide(&input(&ana, &grants, "pipeline.trigger", &last, None)).unwrap();
    assert_eq!(policies.actions.iter().count(), actions);
    assert!(policies.actions.iter().all(|entity| entity.uid().type_name().to_string() == "Action"));
}
