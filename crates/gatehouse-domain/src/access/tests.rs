use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::authorization::Action;
use crate::ids::IdentityId;

fn person(n: u128) -> IdentityId {
    format!("00000000-0000-4000-8000-{n:012}").parse().unwrap()
}

fn pool(text: &str) -> Pool {
    text.parse().unwrap()
}

fn quorum(need: i64, of: &str) -> Requirement {
    Requirement::quorum(need, pool(of)).unwrap()
}

struct Groups(BTreeMap<Pool, BTreeSet<IdentityId>>);

impl Groups {
    fn new(entries: &[(&str, &[u128])]) -> Self {
        Groups(entries.iter().map(|(name, people)| (pool(name), people.iter().map(|n| person(*n)).collect())).collect())
    }
}

impl Directory for Groups {
    fn members(&self, pool: &Pool) -> Option<BTreeSet<IdentityId>> {
        match pool {
            Pool::Identity(id) => Some(BTreeSet::from([*id])),
            other => self.0.get(other).cloned(),
        }
    }
}

/// The approvers with the clauses whose pool holds them, as the server
/// would compute from the directory.
fn approvers(requirement: &Requirement, groups: &Groups, people: &[u128]) -> Vec<(IdentityId, BTreeSet<usize>)> {
    let clauses = requirement.clauses();
    people
        .iter()
        .map(|n| {
            let id = person(*n);
            let member_of = clauses
                .iter()
                .filter(|clause| groups.members(&clause.pool).is_some_and(|members| members.contains(&id)))
                .map(|clause| clause.id)
                .collect();
            (id, member_of)
        })
        .collect()
}

#[test]
fn pools_parse_from_their_three_spellings_and_nothing_else() {
    assert_eq!(pool("role:release-approver"), Pool::Role("release-approver".into()));
    assert_eq!(pool("group:security"), Pool::Group("security".into()));
    assert_eq!(pool(&format!("identity:{}", person(1))), Pool::Identity(person(1)));
    for bad in ["security", "team:security", "group:", "role: ", "identity:ana", "group:a\u{7}b", ""] {
        assert!(bad.parse::<Pool>().is_err(), "`{bad}` parsed");
    }
    assert_eq!(pool("group:security").to_string(), "group:security");
}

#[test]
fn a_quorum_below_one_and_an_empty_all_or_any_are_refused() {
    for need in [0, -1, i64::from(u32::MAX) + 1] {
        assert!(
            matches!(Requirement::quorum(need, pool("group:a")), Err(RequirementError::QuorumNotPositive(n)) if n == need)
        );
    }
    assert_eq!(Requirement::all(vec![]), Err(RequirementError::Empty("all")));
    assert_eq!(Requirement::any(vec![]), Err(RequirementError::Empty("any")));
}

#[test]
fn any_spreads_over_all_into_alternatives() {
    // all[ any[q0, q1], q2 ] = {q0, q2} or {q1, q2}
    let rule = Requirement::all(vec![
        Requirement::any(vec![quorum(1, "group:a"), quorum(1, "group:b")]).unwrap(),
        quorum(1, "group:c"),
    ])
    .unwrap();
    assert_eq!(rule.alternatives().unwrap(), vec![vec![0, 2], vec![1, 2]]);
    assert_eq!(rule.clauses().iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 1, 2]);
}

#[test]
fn a_rule_with_too_many_alternatives_is_refused() {
    // all of seven any-pairs: 2^7 = 128 alternatives.
    let pair = || Requirement::any(vec![quorum(1, "group:a"), quorum(1, "group:b")]).unwrap();
    let rule = Requirement::all((0..7).map(|_| pair()).collect()).unwrap();
    assert_eq!(rule.alternatives(), Err(RequirementError::TooComplex));
    let rule = Requirement::all((0..6).map(|_| pair()).collect()).unwrap();
    assert_eq!(rule.alternatives().unwrap().len(), 64);
}

#[track_caller]
fn check_votes(rule: &Requirement, groups: &Groups, voters: &[u128], satisfied: bool, have: &[u32]) {
    let progress = evaluate(rule, &approvers(rule, groups, voters)).unwrap();
    assert_eq!(progress.satisfied, satisfied, "{progress:?}");
    assert_eq!(progress.clauses.iter().map(|c| c.have).collect::<Vec<_>>(), have, "{progress:?}");
    let seated: Vec<IdentityId> = progress.assignment.iter().map(|(_, who)| *who).collect();
    let distinct: BTreeSet<IdentityId> = seated.iter().copied().collect();
    assert_eq!(seated.len(), distinct.len(), "someone counted twice: {progress:?}");
}

#[test]
fn each_person_counts_once_however_many_pools_they_are_in() {
    // 1 is in both sre and security; 2 only in sre; 3 only in security.
    let groups = Groups::new(&[("group:sre", &[1, 2]), ("group:security", &[1, 3])]);
    let rule = Requirement::all(vec![quorum(1, "group:sre"), quorum(1, "group:security")]).unwrap();
    check_votes(&rule, &groups, &[1], false, &[1, 0]);
    check_votes(&rule, &groups, &[1, 2], true, &[1, 1]);
    check_votes(&rule, &groups, &[1, 3], true, &[1, 1]);
    check_votes(&rule, &groups, &[2, 3], true, &[1, 1]);
    check_votes(&rule, &groups, &[], false, &[0, 0]);
    // Whoever came first, 1 is moved to the seat nobody else can fill
    // (GitLab credits a shared approver to one rule and waits forever).
    check_votes(&rule, &groups, &[1, 2, 3], true, &[1, 1]);
    check_votes(&rule, &groups, &[3, 1], true, &[1, 1]);
}

#[test]
fn a_quorum_needs_that_many_distinct_people() {
    let groups = Groups::new(&[("group:sre", &[1, 2, 3])]);
    let rule = quorum(2, "group:sre");
    check_votes(&rule, &groups, &[1], false, &[1]);
    check_votes(&rule, &groups, &[1, 1], false, &[1]);
    check_votes(&rule, &groups, &[1, 4], false, &[1]);
    check_votes(&rule, &groups, &[1, 3], true, &[2]);
}

#[test]
fn any_is_met_by_one_of_its_branches() {
    let groups = Groups::new(&[("group:sre", &[1, 2]), ("group:security", &[3])]);
    let rule = Requirement::any(vec![quorum(2, "group:sre"), quorum(1, "group:security")]).unwrap();
    check_votes(&rule, &groups, &[1], false, &[1, 0]);
    check_votes(&rule, &groups, &[3], true, &[0, 1]);
    check_votes(&rule, &groups, &[1, 2], true, &[2, 0]);
}

#[test]
fn an_identity_clause_is_that_one_person() {
    let groups = Groups::new(&[("group:sre", &[1, 2])]);
    let rule =
        Requirement::all(vec![Requirement::quorum(1, Pool::Identity(person(9))).unwrap(), quorum(1, "group:sre")])
            .unwrap();
    check_votes(&rule, &groups, &[1, 2], false, &[0, 1]);
    check_votes(&rule, &groups, &[9, 2], true, &[1, 1]);
}

#[test]
fn rules_that_no_set_of_people_can_meet_are_refused_at_load() {
    let groups = Groups::new(&[
        ("group:sre", &[1, 2, 3]),
        ("group:security", &[4, 5]),
        ("group:both", &[1, 2]),
        ("group:empty", &[]),
    ]);
    let check = |rule: &Requirement| check_satisfiable(rule, &groups);
    assert_eq!(check(&quorum(1, "group:unknown")), Err(RequirementError::EmptyPool(pool("group:unknown"))));
    assert_eq!(check(&quorum(1, "group:empty")), Err(RequirementError::EmptyPool(pool("group:empty"))));
    assert!(matches!(
        check(&quorum(3, "group:security")),
        Err(RequirementError::QuorumLargerThanPool { clause: 0, need: 3, eligible: 2, .. })
    ));
    // Two from `both` and one more from `sre`: 1 and 2 must sit in `both`
    // and 3 in `sre`, so each of them is indispensable.
    let tight = Requirement::all(vec![quorum(2, "group:both"), quorum(1, "group:sre")]).unwrap();
    assert!(
        matches!(check(&tight), Err(RequirementError::IndispensablePerson(p)) if [1, 2, 3].map(person).contains(&p))
    );
    // All three of sre in one clause and one of both: distinct people cannot.
    let impossible = Requirement::all(vec![quorum(3, "group:sre"), quorum(1, "group:both")]).unwrap();
    assert_eq!(check(&impossible), Err(RequirementError::Unsatisfiable));
    // Exactly as many as needed: any one missing (e.g. the requester) blocks it.
    assert!(matches!(check(&quorum(2, "group:security")), Err(RequirementError::IndispensablePerson(_))));
    // A named identity alone is indispensable by definition.
    let one = Requirement::quorum(1, Pool::Identity(person(1))).unwrap();
    assert_eq!(check(&one), Err(RequirementError::IndispensablePerson(person(1))));
}

#[test]
fn rules_with_a_spare_for_every_seat_load() {
    let groups = Groups::new(&[("group:sre", &[1, 2, 3]), ("group:security", &[4, 5]), ("group:both", &[1, 4])]);
    for rule in [
        quorum(1, "group:security"),
        quorum(2, "group:sre"),
        Requirement::all(vec![quorum(1, "group:sre"), quorum(1, "group:security")]).unwrap(),
        Requirement::all(vec![quorum(1, "group:both"), quorum(1, "group:sre"), quorum(1, "group:security")]).unwrap(),
        // A named person with a fallback branch.
        Requirement::any(vec![Requirement::quorum(1, Pool::Identity(person(9))).unwrap(), quorum(2, "group:sre")])
            .unwrap(),
    ] {
        assert_eq!(check_satisfiable(&rule, &groups), Ok(()), "{rule:?}");
    }
}

/// Seats `seats` with distinct voters by trying every choice.
fn fits_by_search(seats: &[usize], voters: &[(IdentityId, BTreeSet<usize>)], used: &mut Vec<bool>) -> bool {
    let Some((first, rest)) = seats.split_first() else { return true };
    for (i, (_, member_of)) in voters.iter().enumerate() {
        if !used[i] && member_of.contains(first) {
            used[i] = true;
            let fits = fits_by_search(rest, voters, used);
            used[i] = false;
            if fits {
                return true;
            }
        }
    }
    false
}

proptest::proptest! {
    /// The matching finds a seating whenever an exhaustive search does, and
    /// never seats anyone twice or outside their pools.
    #[test]
    fn counting_agrees_with_an_exhaustive_search(
        needs in proptest::collection::vec(1i64..=3, 1..=4),
        any_split in 0usize..4,
        membership in proptest::collection::vec(proptest::collection::btree_set(0usize..4, 0..=3), 0..=6),
    ) {
        let leaves: Vec<Requirement> =
            needs.iter().enumerate().map(|(i, need)| quorum(*need, &format!("group:g{i}"))).collect();
        let rule = if any_split > 0 && any_split < leaves.len() {
            let (left, right) = leaves.split_at(any_split);
            Requirement::any(vec![Requirement::all(left.to_vec()).unwrap(), Requirement::all(right.to_vec()).unwrap()])
                .unwrap()
        } else {
            Requirement::all(leaves).unwrap()
        };
        let clauses = rule.clauses();
        let voters: Vec<(IdentityId, BTreeSet<usize>)> = membership
            .iter()
            .enumerate()
            .map(|(n, member_of)| (person(n as u128 + 1), member_of.iter().copied().filter(|c| *c < clauses.len()).collect()))
            .collect();
        let progress = evaluate(&rule, &voters).unwrap();
        let expected = rule.alternatives().unwrap().iter().any(|alternative| {
            let seats: Vec<usize> =
                alternative.iter().flat_map(|id| std::iter::repeat_n(*id, clauses[*id].need as usize)).collect();
            fits_by_search(&seats, &voters, &mut vec![false; voters.len()])
        });
        proptest::prop_assert_eq!(progress.satisfied, expected);
        let mut seen = BTreeSet::new();
        for (clause, who) in &progress.assignment {
            proptest::prop_assert!(seen.insert(*who), "{who} seated twice");
            let member_of = &voters.iter().find(|(id, _)| id == who).unwrap().1;
            proptest::prop_assert!(member_of.contains(clause));
        }
    }
}

fn rule(id: &str, gated: &str, resources: &[&str]) -> ApprovalRule {
    ApprovalRule {
        id: id.into(),
        order: None,
        gated: gated.parse().unwrap(),
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        requirement: quorum(1, "group:sre"),
        exclude: Exclusion::DEFAULT.into_iter().collect(),
        approver_mfa_max_age: ApprovalRule::DEFAULT_MFA_MAX_AGE,
        request_ttl: time::Duration::hours(4),
        max_duration: None,
        reason_required: true,
        ticket: None,
        notify: vec![],
        break_glass: None,
    }
}

#[test]
fn a_rule_covers_its_action_on_matching_resources_only() {
    let production = rule("prod", "deployment.execute", &["environment:*/*:production"]);
    assert!(production.covers(Gated::Action(Action::DeploymentExecute), "environment:acme/web:production"));
    assert!(!production.covers(Gated::Action(Action::DeploymentExecute), "environment:acme/web:staging"));
    assert!(!production.covers(Gated::Action(Action::DeploymentApprove), "environment:acme/web:production"));
    assert!(!production.covers(Gated::Access, "environment:acme/web:production"));
    assert_eq!("access".parse::<Gated>(), Ok(Gated::Access));
    assert!(matches!("deploy".parse::<Gated>(), Err(RuleError::UnknownAction(_))));
}

#[test]
fn a_rule_on_its_own_is_refused_for_each_thing_wrong_with_it() {
    let limits = RuleLimits::default();
    let check = |change: &dyn Fn(&mut ApprovalRule)| {
        let mut candidate = rule("prod", "access", &["project:acme/web"]);
        change(&mut candidate);
        check_rule(&candidate, &limits)
    };
    assert_eq!(check(&|_| {}), vec![]);
    assert_eq!(check(&|r| r.id = "has space".into()), vec![RuleError::InvalidId("has space".into())]);
    assert_eq!(check(&|r| r.resources.clear()), vec![RuleError::NoResources]);
    assert_eq!(check(&|r| r.resources = vec!["repo:x".into()]), vec![RuleError::InvalidResource("repo:x".into())]);
    assert_eq!(
        check(&|r| {
            r.exclude.remove(&Exclusion::Requester);
        }),
        vec![RuleError::RequesterNotExcluded]
    );
    assert!(matches!(
        check(&|r| r.request_ttl = time::Duration::ZERO)[..],
        [RuleError::DurationOutOfRange { field: "request_ttl", .. }]
    ));
    assert!(matches!(
        check(&|r| r.max_duration = Some(time::Duration::days(365)))[..],
        [RuleError::DurationOutOfRange { field: "max_duration", .. }]
    ));
    assert!(matches!(
        check(&|r| r.approver_mfa_max_age = time::Duration::hours(2))[..],
        [RuleError::DurationOutOfRange { field: "approver_mfa_max_age", .. }]
    ));
    let mut deploy = rule("d", "deployment.execute", &["**"]);
    deploy.max_duration = Some(time::Duration::hours(1));
    assert_eq!(check_rule(&deploy, &limits), vec![RuleError::MaxDurationWithoutAccess]);
}

#[test]
fn overlapping_rules_must_say_which_decides() {
    let a = rule("a", "deployment.execute", &["environment:*/*:production"]);
    let b = rule("b", "deployment.execute", &["environment:acme/*:*"]);
    let c = rule("c", "deployment.execute", &["environment:*/*:staging"]);
    let d = rule("d", "access", &["environment:*/*:production"]);
    assert_eq!(
        check_overlaps(&[a.clone(), b.clone(), c.clone(), d]),
        vec![
            (1, RuleError::Overlap("a".into(), "b".into(), "deployment.execute".into())),
            // acme/web:staging is under both b and c.
            (2, RuleError::Overlap("b".into(), "c".into(), "deployment.execute".into())),
        ]
    );
    let (mut a1, mut b1) = (a.clone(), b.clone());
    a1.order = Some(1);
    b1.order = Some(2);
    assert_eq!(check_overlaps(&[a1.clone(), b1.clone()]), vec![]);
    b1.order = Some(1);
    assert_eq!(check_overlaps(&[a1, b1]).len(), 1, "equal orders decide nothing");
    assert_eq!(
        check_overlaps(&[a.clone(), a]).first().map(|(_, e)| e.clone()),
        Some(RuleError::DuplicateId("a".into()))
    );
}

#[test]
fn break_glass_needs_users_and_a_reviewer_other_than_each_of_them() {
    let groups = Groups::new(&[("group:sre", &[1, 2]), ("group:oncall", &[1, 3]), ("group:security", &[3, 4])]);
    let with_glass = |who: &str, need: i64, of: &str| {
        let mut r = rule("prod", "access", &["**"]);
        r.break_glass = Some(BreakGlass {
            who: pool(who),
            duration: time::Duration::hours(1),
            after_review: AfterReview { within: time::Duration::hours(24), need: need as u32, pool: pool(of) },
        });
        r
    };
    assert_eq!(check_rule_against(&with_glass("group:oncall", 1, "group:security"), &groups), vec![]);
    // 3 is on call and the only other security member is 4: one reviewer is
    // left for 3, but two are needed.
    assert_eq!(
        check_rule_against(&with_glass("group:oncall", 2, "group:security"), &groups),
        vec![RuleError::AfterReviewBySelf(person(3))]
    );
    assert_eq!(
        check_rule_against(&with_glass("group:nobody", 1, "group:security"), &groups),
        vec![RuleError::BreakGlassNobody(pool("group:nobody"))]
    );
    // The requirement itself is checked too: sre has two people, one spare.
    let mut tight = rule("t", "access", &["**"]);
    tight.requirement = quorum(2, "group:sre");
    assert!(matches!(
        check_rule_against(&tight, &groups)[..],
        [RuleError::Requirement(RequirementError::IndispensablePerson(_))]
    ));
}
