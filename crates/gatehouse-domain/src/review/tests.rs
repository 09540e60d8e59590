use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::access::Pool;
use crate::audit::canonical_json;
use crate::identity::IdentityKind;
use crate::ids::IdentityId;

const NOW: OffsetDateTime = datetime!(2026-06-01 09:00 UTC);

fn definition() -> CampaignDefinition {
    definition_from_json(&json!({
        "name": "Quarterly production access",
        "scope": {"role": "deployer", "scope": "environment:acme/web:prod*"},
        "reviewers": ["owner", "group:security"],
        "fallback": "role:admin",
        "duration": "14d",
        "recurrence": "quarterly",
    }))
    .unwrap()
}

fn item(identity: IdentityId, reviewers: &[IdentityId], second: &[IdentityId]) -> ReviewItem {
    ReviewItem {
        number: 0,
        kind: ItemKind::Grant,
        target: "g1".into(),
        identity,
        identity_name: "ana".into(),
        role: Some("deployer".into()),
        scope: Some("environment:acme/web:prod".into()),
        granted_by: None,
        granted_at: NOW - Duration::days(200),
        expires_at: Some(NOW + Duration::days(30)),
        last_used_at: Some(NOW - Duration::days(3)),
        privileged: !second.is_empty(),
        recommendation: recommend(NOW - Duration::days(200), Some(NOW - Duration::days(3)), NOW, DEFAULT_UNUSED_AFTER),
        authors: Vec::new(),
        reviewers: reviewers.to_vec(),
        second_reviewers: second.to_vec(),
    }
}

fn open() -> Window {
    Window { open: true, deadline: NOW + Duration::days(14), now: NOW }
}

fn no_roles(_: &str, _: &str) -> bool {
    false
}

fn decided(item: u32, sequence: u32, stage: u8, verdict: Verdict, reviewer: IdentityId) -> Decision {
    Decision {
        item,
        sequence,
        stage,
        verdict,
        reviewer: Some(reviewer),
        at: NOW,
        mfa_method: Some("totp".into()),
        mfa_age_seconds: Some(10),
        shown: Advice::Keep,
        reason: String::new(),
    }
}

#[test]
fn a_definition_round_trips_through_its_json_form() {
    let definition = definition();
    assert_eq!(definition.recurrence, Some(Recurrence::Months(3)));
    assert_eq!(definition.duration, Duration::days(14));
    assert_eq!(definition.reviewers, vec![Reviewer::Owner, Reviewer::Pool(Pool::Group("security".into()))]);
    assert_eq!(definition_from_json(&definition_to_json(&definition)).unwrap(), definition);
}

#[test]
fn bad_definitions_are_refused_with_a_named_reason() {
    let base = definition_to_json(&definition());
    let cases = [
        ("fallback", json!(null), "fallback is required"),
        ("fallback", json!("owner"), "fallback is required"),
        ("reviewers", json!([]), "reviewers must name"),
        ("reviewers", json!(["team:x"]), "is not a reviewer"),
        ("duration", json!("0d"), "duration must be between"),
        ("duration", json!("200d"), "duration must be between"),
        ("duration", json!(14), "must be a string"),
        ("recurrence", json!("weekly"), "is not a recurrence"),
        ("recurrence", json!("7d"), "recurrence must not be shorter"),
        ("on_no_response", json!("ignore"), "keep, revoke or suspend"),
        ("second_stage", json!(["owner"]), "distinct from the first stage"),
        ("name", json!(""), "name must be"),
        ("surprise", json!(1), "unknown field `surprise`"),
    ];
    for (field, value, expected) in cases {
        let mut body = base.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        let error = definition_from_json(&body).unwrap_err().to_string();
        assert!(error.contains(expected), "{field}: {error}");
    }
    let mut body = base.clone();
    body["scope"] = json!({"kinds": ["change"]});
    assert!(definition_from_json(&body).unwrap_err().to_string().contains("kinds"));
}

#[test]
fn the_default_for_undecided_items_is_revoke_only_for_privileged_ones_unless_set() {
    let mut definition = definition();
    assert_eq!(definition.default_for(false), NoResponse::Keep);
    assert_eq!(definition.default_for(true), NoResponse::Revoke);
    definition.on_no_response = Some(NoResponse::Suspend);
    assert_eq!(definition.default_for(false), NoResponse::Suspend);
}

#[test]
fn a_selector_filters_grants_by_role_scope_and_identity() {
    let selector = definition().selector;
    let ana = IdentityId::new();
    let candidate = |role, scope| Candidate {
        kind: ItemKind::Grant,
        identity: ana,
        identity_kind: IdentityKind::Human,
        role: Some(role),
        scope: Some(scope),
        integration: None,
        vendor: None,
    };
    assert!(selector.admits(&candidate("deployer", "environment:acme/web:production")));
    assert!(!selector.admits(&candidate("viewer", "environment:acme/web:production")));
    assert!(!selector.admits(&candidate("deployer", "environment:acme/web:staging")));
    let token = Candidate { kind: ItemKind::Token, ..candidate("deployer", "environment:acme/web:prod") };
    assert!(!selector.admits(&token), "tokens are not in the default kinds");
}

#[test]
fn recommendations_follow_last_use() {
    let ninety = DEFAULT_UNUSED_AFTER;
    let old = NOW - Duration::days(400);
    assert_eq!(recommend(old, Some(NOW - Duration::days(91)), NOW, ninety).advice, Advice::Revoke);
    assert_eq!(recommend(old, Some(NOW - Duration::days(89)), NOW, ninety).advice, Advice::Keep);
    let never = recommend(old, None, NOW, ninety);
    assert_eq!((never.advice, never.reason.as_str()), (Advice::Revoke, "never used in 90 days"));
    assert_eq!(recommend(NOW - Duration::days(2), None, NOW, ninety).advice, Advice::Keep);
}

#[test]
fn a_reviewer_decides_once_and_a_second_decision_is_refused() {
    let (ana, bo, cy) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
    let item = item(ana, &[bo, cy], &[]);
    let step = check_decision(&item, &[], bo, &Verdict::Revoke, open(), &no_roles).unwrap();
    assert_eq!(step, Step::Final);
    let done = [decided(0, 0, 1, Verdict::Revoke, bo)];
    assert_eq!(progress(&item, &done).outcome, Some(Verdict::Revoke));
    let again = check_decision(&item, &done, cy, &Verdict::Keep { until: None }, open(), &no_roles);
    assert_eq!(again, Err(DecisionError::AlreadyDecided));
}

#[test]
fn self_review_outsiders_and_late_decisions_are_refused() {
    let (ana, bo, eve) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
    let mut own = item(ana, &[ana, bo], &[]);
    let keep = Verdict::Keep { until: None };
    assert_eq!(check_decision(&own, &[], ana, &keep, open(), &no_roles), Err(DecisionError::SelfReview));
    assert_eq!(check_decision(&own, &[], eve, &keep, open(), &no_roles), Err(DecisionError::NotReviewer));
    let late = Window { now: NOW + Duration::days(14), ..open() };
    assert_eq!(check_decision(&own, &[], bo, &keep, late, &no_roles), Err(DecisionError::PastDeadline));
    let closed = Window { open: false, ..open() };
    assert_eq!(check_decision(&own, &[], bo, &keep, closed, &no_roles), Err(DecisionError::Closed));
    own.kind = ItemKind::Change;
    own.authors = vec![bo];
    assert_eq!(check_decision(&own, &[], bo, &keep, open(), &no_roles), Err(DecisionError::SelfReview));
}

#[test]
fn a_delegate_decides_instead_of_the_stage_s_reviewers() {
    let (ana, bo, cy) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
    let item = item(ana, &[bo, cy], &[]);
    let hand = Verdict::Delegate { to: cy };
    assert_eq!(check_decision(&item, &[], bo, &hand, open(), &no_roles), Ok(Step::Delegated));
    let to_subject = Verdict::Delegate { to: ana };
    assert_eq!(check_decision(&item, &[], bo, &to_subject, open(), &no_roles), Err(DecisionError::DelegateNotEligible));
    let delegated = [decided(0, 0, 1, hand, bo)];
    let keep = Verdict::Keep { until: None };
    assert_eq!(check_decision(&item, &delegated, bo, &keep, open(), &no_roles), Err(DecisionError::NotReviewer));
    assert_eq!(check_decision(&item, &delegated, cy, &keep, open(), &no_roles), Ok(Step::Final));
    assert_eq!(progress(&item, &delegated).next_sequence, 1);
}

#[test]
fn a_privileged_item_needs_a_second_distinct_reviewer_to_keep() {
    let (ana, bo, cy, di) = (IdentityId::new(), IdentityId::new(), IdentityId::new(), IdentityId::new());
    let item = item(ana, &[bo, cy], &[cy, di]);
    let keep = Verdict::Keep { until: None };
    assert_eq!(check_decision(&item, &[], bo, &keep, open(), &no_roles), Ok(Step::NextStage));
    let first = [decided(0, 0, 1, keep.clone(), cy)];
    assert_eq!(progress(&item, &first).stage, 2);
    assert_eq!(check_decision(&item, &first, cy, &keep, open(), &no_roles), Err(DecisionError::SameReviewerTwice));
    assert_eq!(check_decision(&item, &first, bo, &keep, open(), &no_roles), Err(DecisionError::NotReviewer));
    assert_eq!(check_decision(&item, &first, di, &keep, open(), &no_roles), Ok(Step::Final));
    assert_eq!(check_decision(&item, &[], bo, &Verdict::Revoke, open(), &no_roles), Ok(Step::Final));
}

#[test]
fn keep_until_only_shortens_and_narrow_only_shrinks() {
    let (ana, bo) = (IdentityId::new(), IdentityId::new());
    let item = item(ana, &[bo], &[]);
    let keep = |until| Verdict::Keep { until: Some(until) };
    assert_eq!(check_decision(&item, &[], bo, &keep(NOW + Duration::days(7)), open(), &no_roles), Ok(Step::Final));
    for bad in [NOW - Duration::days(1), NOW + Duration::days(31)] {
        assert_eq!(check_decision(&item, &[], bo, &keep(bad), open(), &no_roles), Err(DecisionError::KeepUntil));
    }
    let narrow = |role: Option<&str>, scope: Option<&str>| Verdict::Narrow {
        role: role.map(str::to_owned),
        scope: scope.map(str::to_owned),
    };
    let smaller = |old: &str, new: &str| old == "deployer" && new == "viewer";
    assert_eq!(check_decision(&item, &[], bo, &narrow(Some("viewer"), None), open(), &smaller), Ok(Step::Final));
    for bad in [narrow(Some("admin"), None), narrow(None, Some("environment:acme/web:staging")), narrow(None, None)] {
        assert!(matches!(
            check_decision(&item, &[], bo, &bad, open(), &smaller),
            Err(DecisionError::NarrowNotSmaller(_))
        ));
    }
    let mut wide = item.clone();
    wide.scope = Some("*".into());
    assert_eq!(
        check_decision(&wide, &[], bo, &narrow(None, Some("environment:acme/web:prod")), open(), &smaller),
        Ok(Step::Final)
    );
    assert_eq!(
        check_decision(&item, &[], bo, &Verdict::Suspend, open(), &smaller),
        Err(DecisionError::SuspendByReviewer)
    );
}

#[test]
fn defaults_fall_on_undecided_items_only() {
    let definition = definition();
    let (ana, bo) = (IdentityId::new(), IdentityId::new());
    let mut items = vec![item(ana, &[bo], &[]), item(ana, &[bo], &[bo])];
    items[1].number = 1;
    items[1].privileged = true;
    let decisions = |n: u32| if n == 0 { vec![decided(0, 0, 1, Verdict::Revoke, bo)] } else { Vec::new() };
    assert_eq!(defaults_due(&definition, &items, &decisions), vec![(1, NoResponse::Revoke)]);
}

#[test]
fn digests_are_the_canonical_json_of_the_lists() {
    let (ana, bo) = (IdentityId::new(), IdentityId::new());
    let items = vec![item(ana, &[bo], &[])];
    let expected: String = {
        use sha2::{Digest, Sha256};
        let text = canonical_json(&json!([item_to_json(&items[0])]));
        Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(snapshot_digest(&items), expected);
    assert_eq!(item_from_json(&item_to_json(&items[0])).unwrap(), items[0]);
    let decision = decided(0, 0, 1, Verdict::Keep { until: Some(NOW) }, bo);
    assert_eq!(decision_from_json(&decision_to_json(&decision)).unwrap(), decision);
    assert_ne!(decisions_digest(std::slice::from_ref(&decision)), decisions_digest(&[]));
}

#[test]
fn verdicts_from_the_api_refuse_suspend_and_unknown_fields() {
    assert_eq!(verdict_from_json(&json!({"decision": "revoke", "reason": "left"})).unwrap(), Verdict::Revoke);
    assert!(verdict_from_json(&json!({"decision": "suspend"})).is_err());
    assert!(verdict_from_json(&json!({"decision": "keep", "extra": 1})).is_err());
    assert!(verdict_from_json(&json!({"decision": "delegate", "to": "nobody"})).is_err());
    assert!(verdict_from_json(&json!({"decision": "keep", "until": "tomorrow"})).is_err());
}

#[test]
fn recurrences_add_calendar_months() {
    let end_of_january = datetime!(2026-01-31 09:00 UTC);
    assert_eq!(Recurrence::Months(1).next_after(end_of_january), datetime!(2026-02-28 09:00 UTC));
    assert_eq!(Recurrence::Months(3).next_after(datetime!(2026-11-15 09:00 UTC)), datetime!(2027-02-15 09:00 UTC));
    assert_eq!("30d".parse::<Recurrence>().unwrap().next_after(NOW), NOW + Duration::days(30));
}

mod export {
    use serde_json::{Map, Value, json};

    use super::*;

    struct Fixture {
        sections: Map<String, Value>,
        leaves: Vec<(u64, Value)>,
    }

    fn leaf(action: &str, actor: &str, details: Value) -> Value {
        json!({"action": action, "actor": actor, "outcome": "success", "details": details})
    }

    /// Two items: Ana's grant kept by Bo, Cy's grant left to the deadline's revoke.
    fn fixture() -> Fixture {
        let (ana, bo, cy) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
        let mut first = item(ana, &[bo], &[]);
        first.target = "g-ana".into();
        let mut second = item(cy, &[bo], &[]);
        second.number = 1;
        second.target = "g-cy".into();
        let items = vec![first, second];
        let keep = decided(0, 0, 1, Verdict::Keep { until: None }, bo);
        let default = Decision {
            reviewer: None,
            mfa_method: None,
            mfa_age_seconds: None,
            ..decided(1, 0, 1, Verdict::Revoke, bo)
        };
        let decisions = vec![keep.clone(), default.clone()];
        let definition = definition_to_json(&definition());
        let campaign = json!({"id": "c1", "definition": definition, "policy_hash": "p1", "state": "closed"});
        let about = |item: &ReviewItem, decision: &Decision| {
            json!({
                "campaign_id": "c1", "item": item.number, "sequence": decision.sequence,
                "decision": verdict_to_json(&decision.verdict), "target": item.target,
                "identity": item.identity.to_string(), "kind": "grant",
            })
        };
        let leaves = vec![
            (
                1,
                leaf(
                    "review.open",
                    "admin",
                    json!({"campaign_id": "c1", "definition": definition, "policy_hash": "p1",
                "snapshot_digest": snapshot_digest(&items), "items": 2}),
                ),
            ),
            (2, leaf("review.decide", &bo.to_string(), about(&items[0], &keep))),
            (3, leaf("grant.revoke", "system", json!({"grant_id": "g-cy"}))),
            (4, leaf("review.default", "system", about(&items[1], &default))),
            (
                5,
                leaf(
                    "review.close",
                    "system",
                    json!({"campaign_id": "c1", "decisions_digest": decisions_digest(&decisions)}),
                ),
            ),
        ];
        let (snapshot, decisions) = export_sections(&items, &decisions);
        let mut sections = Map::new();
        sections.insert("campaign".into(), campaign);
        sections.insert("snapshot".into(), snapshot);
        sections.insert("decisions".into(), decisions);
        Fixture { sections, leaves }
    }

    #[test]
    fn an_intact_export_shows_every_item_decided_once_and_its_revocation() {
        let fixture = fixture();
        let summary = check_export(&fixture.sections, &fixture.leaves).unwrap();
        assert_eq!((summary.items, summary.decisions, summary.defaults), (2, 1, 1));
        assert_eq!((summary.kept, summary.revoked, summary.revocations_found), (1, 1, 1));
    }

    #[test]
    fn an_edited_item_is_named() {
        let mut fixture = fixture();
        fixture.sections["snapshot"][1]["target"] = json!("g-someone-else");
        let problem = check_export(&fixture.sections, &fixture.leaves).unwrap_err();
        assert_eq!(problem.item, Some(1), "{problem}");
        let mut fixture = self::fixture();
        fixture.sections["snapshot"][0]["recommendation"]["reason"] = json!("edited");
        let problem = check_export(&fixture.sections, &fixture.leaves).unwrap_err();
        assert!(problem.message.contains("snapshot does not recompute"), "{problem}");
    }

    #[test]
    fn a_missing_revocation_a_second_decision_and_self_review_are_refused() {
        let mut fixture = fixture();
        fixture.leaves.retain(|(_, leaf)| leaf["action"] != "grant.revoke");
        let problem = check_export(&fixture.sections, &fixture.leaves).unwrap_err();
        assert_eq!(problem.item, Some(1));
        assert!(problem.message.contains("no revocation"), "{problem}");

        let mut fixture = self::fixture();
        let mut again = fixture.sections["decisions"][0].clone();
        again["sequence"] = json!(1);
        fixture.sections["decisions"].as_array_mut().unwrap().insert(1, again);
        let problem = check_export(&fixture.sections, &fixture.leaves).unwrap_err();
        assert!(problem.message.contains("second decision"), "{problem}");

        let mut fixture = self::fixture();
        let subject = fixture.sections["snapshot"][0]["identity"].clone();
        fixture.sections["decisions"][0]["reviewer"] = subject;
        let problem = check_export(&fixture.sections, &fixture.leaves).unwrap_err();
        assert!(problem.message.contains("own access"), "{problem}");
    }

    #[test]
    fn an_open_or_unopened_campaign_does_not_verify() {
        let mut fixture = fixture();
        fixture.leaves.retain(|(_, leaf)| leaf["action"] != "review.close");
        assert!(check_export(&fixture.sections, &fixture.leaves).unwrap_err().message.contains("not closed"));
        let mut fixture = self::fixture();
        fixture.leaves.retain(|(_, leaf)| leaf["action"] != "review.open");
        assert!(check_export(&fixture.sections, &fixture.leaves).unwrap_err().message.contains("review.open"));
    }
}
