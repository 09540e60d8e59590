use gatehouse_domain::grant::{Grant, Resource, Scope};
use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus};
use gatehouse_domain::ids::{GrantId, IdentityId};
use gatehouse_domain::vendor::LapseAction;
use time::OffsetDateTime;

use super::*;
use crate::{DecisionInput, Policies, PolicySetSource, Reason, ServerFacts};

const NOW: OffsetDateTime = time::macros::datetime!(2026-11-02 09:00 UTC);
const EXPIRED: &str = "SOC 2 report for Acme Scan expired 2026-10-31";
const NO_DPA: &str = "no data processing agreement for Acme Scan";

fn scanner() -> Identity {
    Identity {
        id: IdentityId::new(),
        kind: IdentityKind::Service,
        name: "acme-scan".into(),
        email: None,
        status: IdentityStatus::Active,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn grants_of(holder: &Identity) -> Vec<Grant> {
    ["maintainer:project:acme/web", "release-approver:project:acme/web", "deployer:project:acme/web", "auditor:*"]
        .into_iter()
        .map(|spec| {
            let (role, scope) = spec.split_once(':').unwrap();
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
        })
        .collect()
}

fn standing(in_force: bool, reasons: &[&str], on_lapse: LapseAction) -> Option<IntegrationStanding> {
    Some(IntegrationStanding {
        vendor: "Acme Scan".into(),
        in_force,
        reasons: reasons.iter().map(|reason| (*reason).to_owned()).collect(),
        on_lapse,
    })
}

fn target(action: &str) -> Resource {
    match action {
        "pipeline.view" | "pipeline.trigger" | "pipeline.config.edit" => Resource::parse("pipeline:acme/web:build"),
        "source.push" => Resource::parse("project:acme/web"),
        "deployment.approve" | "deployment.execute" => Resource::parse("environment:acme/web:production"),
        _ => Ok(Resource::Gatehouse),
    }
    .unwrap()
}

/// Decides `action` for the scanner (who holds every grant it needs) with
/// `integration` as its standing: whether it is allowed, and the reasons
/// shown.
#[track_caller]
fn check(policies: &Policies, integration: Option<IntegrationStanding>, action: &str, expected: (bool, &[&str])) {
    let scanner = scanner();
    let grants = grants_of(&scanner);
    let resource = target(action);
    let input = DecisionInput {
        principal: &scanner,
        grants: &grants,
        action: action.parse().unwrap(),
        resource: &resource,
        now: NOW,
        auth_method: "workload",
        mfa_fresh: false,
        step_up: true,
        source_ip: None,
        principal_is_caller: true,
        caller_context: None,
    };
    let facts = ServerFacts { integration, ..ServerFacts::default() };
    let decision = policies.decide_with(&input, &facts).unwrap();
    let reasons: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
    let (allowed, shown) = expected;
    assert_eq!(decision.is_allowed(), allowed, "{action} with {:?}: {reasons:?}", facts.integration);
    for sentence in shown {
        assert!(reasons.iter().any(|reason| reason == sentence), "{action}: `{sentence}` not in {reasons:?}");
    }
}

const PIPELINE_ACTIONS: [&str; 6] = [
    "pipeline.view",
    "pipeline.trigger",
    "pipeline.config.edit",
    "source.push",
    "deployment.approve",
    "deployment.execute",
];

#[test]
fn integrations_are_decided_by_their_standing() {
    let policies = Policies::defaults();
    let guard = "forbidden by policy `integration-not-in-force`";
    for action in PIPELINE_ACTIONS {
        // A plain service, and an integration in force: as before.
        check(&policies, None, action, (true, &[]));
        check(&policies, standing(true, &[], LapseAction::DenyGate), action, (true, &[]));
        // A lapse that denies at the gate names every reason.
        let lapsed = standing(false, &[EXPIRED, NO_DPA], LapseAction::DenyGate);
        check(&policies, lapsed, action, (false, &[guard, EXPIRED, NO_DPA]));
        check(&policies, standing(false, &[EXPIRED], LapseAction::Suspend), action, (false, &[guard, EXPIRED]));
        // A flagged lapse only notifies.
        check(&policies, standing(false, &[EXPIRED], LapseAction::Flag), action, (true, &[]));
    }
    // Actions outside the pipeline are not the guard's.
    check(&policies, standing(false, &[EXPIRED], LapseAction::DenyGate), "audit.read", (true, &[]));
    // Not in force without a recorded reason still says which vendor.
    let unexplained = "the integration of vendor `Acme Scan` is not in force";
    check(&policies, standing(false, &[], LapseAction::DenyGate), "pipeline.trigger", (false, &[unexplained]));
}

#[test]
fn an_integration_denial_reads_as_its_reasons() {
    let policies = Policies::defaults();
    let scanner = scanner();
    let grants = grants_of(&scanner);
    let resource = target("pipeline.trigger");
    let input = DecisionInput {
        principal: &scanner,
        grants: &grants,
        action: "pipeline.trigger".parse().unwrap(),
        resource: &resource,
        now: NOW,
        auth_method: "workload",
        mfa_fresh: false,
        step_up: true,
        source_ip: None,
        principal_is_caller: true,
        caller_context: None,
    };
    let facts = ServerFacts { integration: standing(false, &[EXPIRED], LapseAction::DenyGate), authors: None };
    let decision = policies.decide_with(&input, &facts).unwrap();
    assert_eq!(
        decision.reasons,
        vec![
            Reason::Policy { id: NOT_IN_FORCE_GUARD.into(), permit: false },
            Reason::Integration { vendor: "Acme Scan".into(), reason: EXPIRED.into() },
        ]
    );
    assert_eq!(decision.reasons[1].to_string(), EXPIRED);
}

#[test]
fn a_verdict_never_outlives_a_change_in_standing() {
    // The same principal asks the same question within one second: the
    // memos answer, and must not answer with a standing that changed.
    let policies = Policies::defaults();
    let scanner = scanner();
    let grants = grants_of(&scanner);
    let resource = target("pipeline.trigger");
    let input = DecisionInput {
        principal: &scanner,
        grants: &grants,
        action: "pipeline.trigger".parse().unwrap(),
        resource: &resource,
        now: NOW,
        auth_method: "workload",
        mfa_fresh: false,
        step_up: true,
        source_ip: None,
        principal_is_caller: true,
        caller_context: None,
    };
    let decide = |integration| {
        let decision = policies.decide_with(&input, &ServerFacts { integration, authors: None }).unwrap();
        (decision.is_allowed(), decision.reasons.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    let renewed = "SOC 2 report for Acme Scan expired 2027-10-31";
    let steps: [(Option<IntegrationStanding>, bool, Option<&str>); 7] = [
        (standing(true, &[], LapseAction::DenyGate), true, None),
        (standing(false, &[EXPIRED], LapseAction::DenyGate), false, Some(EXPIRED)),
        (standing(false, &[renewed], LapseAction::DenyGate), false, Some(renewed)),
        (standing(false, &[renewed], LapseAction::Flag), true, None),
        (standing(true, &[], LapseAction::DenyGate), true, None),
        (None, true, None),
        (standing(false, &[EXPIRED], LapseAction::DenyGate), false, Some(EXPIRED)),
    ];
    for (integration, allowed, reason) in steps {
        let shown = format!("{integration:?}");
        let (was_allowed, reasons) = decide(integration);
        assert_eq!(was_allowed, allowed, "{shown}: {reasons:?}");
        if let Some(reason) = reason {
            assert!(reasons.iter().any(|r| r == reason), "{shown}: {reasons:?}");
            assert_eq!(reasons.iter().filter(|r| r.contains("expired")).count(), 1, "{reasons:?}");
        }
    }
    // Every question above was answered through the memos.
    let sizes = policies.memos.sizes();
    assert_eq!(sizes.iter().find(|(name, _)| *name == "verdicts").unwrap().1, 5, "{sizes:?}");
}

#[test]
fn a_folder_whose_schema_predates_integrations_still_decides() {
    let mut source = PolicySetSource::defaults();
    let schema: String = source.files["schema.cedarschema"]
        .lines()
        .filter(|line| !line.trim_start().starts_with("\"vendor"))
        .map(|line| format!("{line}\n"))
        .collect();
    source.files.insert("schema.cedarschema".into(), schema);
    let guards = source.files["guards.cedar"].split("// An integration acts").next().unwrap().to_owned();
    source.files.insert("guards.cedar".into(), guards);
    let policies = Policies::from_source(&source).unwrap();
    assert_eq!(policies.integration_attributes, DeclaredAttributes::default());
    let declared = Policies::defaults().integration_attributes;
    assert_eq!(
        declared,
        DeclaredAttributes { vendor: true, vendor_compliant: true, vendor_reasons: true, vendor_on_lapse: true }
    );
    // The attributes are left out, so nothing denies and nothing fails.
    check(&policies, standing(false, &[EXPIRED], LapseAction::DenyGate), "pipeline.trigger", (true, &[]));
    check(&policies, None, "pipeline.trigger", (true, &[]));
}

#[test]
fn policies_see_each_declared_attribute() {
    // A custom rule reading every attribute: they hold what the standing says.
    let mut source = PolicySetSource::defaults();
    source.files.insert(
        "custom.cedar".into(),
        r#"@id("only-acme-with-a-soc2-reason")
forbid (principal, action == Action::"pipeline.view", resource)
when {
  principal has vendor && principal.vendor == "Acme Scan" &&
  principal has vendor_reasons && principal.vendor_reasons.contains("SOC 2 report for Acme Scan expired 2026-10-31") &&
  principal has vendor_on_lapse && principal.vendor_on_lapse == "flag"
};
"#
        .into(),
    );
    let policies = Policies::from_source(&source).unwrap();
    let denied_by = "forbidden by policy `only-acme-with-a-soc2-reason`";
    check(&policies, standing(false, &[EXPIRED], LapseAction::Flag), "pipeline.view", (false, &[denied_by]));
    check(&policies, standing(false, &[NO_DPA], LapseAction::Flag), "pipeline.view", (true, &[]));
    check(&policies, standing(false, &[EXPIRED], LapseAction::DenyGate), "pipeline.view", (false, &[EXPIRED]));
    let other =
        IntegrationStanding { vendor: "Other".into(), ..standing(false, &[EXPIRED], LapseAction::Flag).unwrap() };
    check(&policies, Some(other), "pipeline.view", (true, &[]));
}
