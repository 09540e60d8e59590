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
        deny_quorum: 1,
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

#[test]
fn requests_move_only_along_the_documented_edges() {
    use RequestEvent as E;
    use RequestState as S;
    let allowed = [
        (S::Pending, E::Approve, S::Approved),
        (S::Pending, E::Deny, S::Denied),
        (S::Pending, E::Cancel, S::Cancelled),
        (S::Pending, E::Expire, S::Expired),
        (S::Pending, E::Supersede, S::Superseded),
        (S::Approved, E::Supersede, S::Superseded),
        (S::Approved, E::Expire, S::Expired),
        (S::Approved, E::Activate, S::Active),
        (S::Approved, E::Consume, S::Consumed),
        (S::Active, E::Expire, S::Expired),
        (S::Active, E::Revoke, S::Revoked),
    ];
    let events = [E::Approve, E::Deny, E::Cancel, E::Expire, E::Supersede, E::Activate, E::Consume, E::Revoke];
    for from in S::ALL {
        for event in events {
            let expected = allowed.iter().find(|(f, e, _)| *f == from && *e == event).map(|(_, _, to)| *to);
            match (transition(from, event), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want),
                (Err(RequestError::InvalidTransition { .. }), None) => {}
                (got, want) => panic!("{from} on {event:?}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(S::parse(from.as_str()), Some(from));
        if from.is_final() {
            assert!(events.iter().all(|event| transition(from, *event).is_err()), "{from} moved on");
        }
    }
    // A consumed approval cannot be consumed again (a re-run needs a new one).
    assert!(transition(S::Consumed, E::Consume).is_err());
}

const NOW: time::OffsetDateTime = time::macros::datetime!(2026-12-03 12:00 UTC);

fn voter(n: u128, clauses: &[usize]) -> VoterFacts {
    VoterFacts {
        identity: person(n),
        kind: crate::identity::IdentityKind::Human,
        is_ci_job: false,
        mfa_verified_at: Some(NOW - time::Duration::minutes(1)),
        policy_allows: true,
        clauses: clauses.iter().copied().collect(),
    }
}

#[test]
fn a_vote_is_refused_for_each_reason_in_order() {
    let production = rule("prod", "deployment.execute", &["**"]);
    let parties = RequestParties {
        requester: Some(person(1)),
        triggering_actor: Some(person(2)),
        commit_authors: BTreeSet::from([person(3)]),
    };
    let earlier = [CountedVote { voter: person(4), decision: VoteDecision::Approve, clauses: BTreeSet::from([0]) }];
    let ballot = |state, shown| Ballot {
        state,
        current_digest: "d1",
        shown_digest: shown,
        rule: &production,
        parties: &parties,
        live_votes: &earlier,
        expires_at: NOW + time::Duration::hours(1),
        now: NOW,
    };
    let open = ballot(RequestState::Pending, "d1");
    assert_eq!(check_vote(&open, &voter(5, &[0])), Ok(()));
    assert_eq!(
        check_vote(&ballot(RequestState::Approved, "d1"), &voter(5, &[0])),
        Err(RequestError::NotPending(RequestState::Approved))
    );
    assert!(matches!(
        check_vote(&ballot(RequestState::Pending, "d0"), &voter(5, &[0])),
        Err(RequestError::StaleDigest { .. })
    ));
    assert_eq!(check_vote(&open, &voter(4, &[0])), Err(RequestError::AlreadyVoted));
    // Past its expiry a request takes no vote, before any sweeper runs.
    let late = Ballot { expires_at: NOW, ..ballot(RequestState::Pending, "d1") };
    assert_eq!(check_vote(&late, &voter(5, &[0])), Err(RequestError::NotPending(RequestState::Expired)));
    let not = |why| Err(RequestError::NotEligible(why));
    assert_eq!(check_vote(&open, &voter(1, &[0])), not(NotEligible::Requester));
    assert_eq!(check_vote(&open, &voter(2, &[0])), not(NotEligible::TriggeringActor));
    assert_eq!(check_vote(&open, &voter(3, &[0])), not(NotEligible::CommitAuthor));
    let service = VoterFacts { kind: crate::identity::IdentityKind::Service, ..voter(5, &[0]) };
    assert_eq!(check_vote(&open, &service), not(NotEligible::Service));
    let ci_job = VoterFacts { is_ci_job: true, ..voter(5, &[0]) };
    assert_eq!(check_vote(&open, &ci_job), not(NotEligible::Service));
    let refused = VoterFacts { policy_allows: false, ..voter(5, &[0]) };
    assert_eq!(check_vote(&open, &refused), not(NotEligible::Policy));
    assert_eq!(check_vote(&open, &voter(5, &[])), not(NotEligible::NoClause));
    for stale in [None, Some(NOW - time::Duration::minutes(6)), Some(NOW + time::Duration::minutes(1))] {
        let old = VoterFacts { mfa_verified_at: stale, ..voter(5, &[0]) };
        assert_eq!(check_vote(&open, &old), Err(RequestError::MfaRequired { max_age_minutes: 5 }), "{stale:?}");
    }
}

#[test]
fn exclusions_a_rule_drops_let_those_people_vote_but_never_the_requester() {
    let mut relaxed = rule("relaxed", "deployment.execute", &["**"]);
    relaxed.exclude = BTreeSet::from([Exclusion::Requester]);
    let parties = RequestParties {
        requester: Some(person(1)),
        triggering_actor: Some(person(2)),
        commit_authors: BTreeSet::from([person(3)]),
    };
    let ballot = Ballot {
        state: RequestState::Pending,
        current_digest: "d",
        shown_digest: "d",
        rule: &relaxed,
        parties: &parties,
        live_votes: &[],
        expires_at: NOW + time::Duration::hours(1),
        now: NOW,
    };
    assert_eq!(check_vote(&ballot, &voter(2, &[0])), Ok(()));
    assert_eq!(check_vote(&ballot, &voter(3, &[0])), Ok(()));
    let mut none = relaxed.clone();
    none.exclude.clear();
    let ballot = Ballot { rule: &none, ..ballot };
    assert_eq!(check_vote(&ballot, &voter(1, &[0])), Err(RequestError::NotEligible(NotEligible::Requester)));
}

#[test]
fn votes_add_up_to_approval_and_one_deny_decides() {
    let two_groups = Requirement::all(vec![quorum(1, "group:sre"), quorum(1, "group:security")]).unwrap();
    let approve = |n, clauses: &[usize]| CountedVote {
        voter: person(n),
        decision: VoteDecision::Approve,
        clauses: clauses.iter().copied().collect(),
    };
    assert!(matches!(tally(&two_groups, &[approve(1, &[0, 1])]), Ok(Tally::Pending(_))));
    let Ok(Tally::Approved(progress)) = tally(&two_groups, &[approve(1, &[0, 1]), approve(2, &[0])]) else { panic!() };
    assert_eq!(progress.assignment, vec![(0, person(2)), (1, person(1))]);
    let deny = CountedVote { voter: person(3), decision: VoteDecision::Deny, clauses: BTreeSet::from([0]) };
    assert_eq!(tally(&two_groups, &[approve(1, &[0, 1]), approve(2, &[0]), deny]), Ok(Tally::Denied(person(3))));
}

#[test]
fn a_deny_quorum_needs_that_many_distinct_deniers() {
    let two = Requirement::quorum(2, pool("group:sre")).unwrap();
    let vote = |n, decision| CountedVote { voter: person(n), decision, clauses: BTreeSet::from([0]) };
    let one_deny = [vote(1, VoteDecision::Deny)];
    assert_eq!(tally_with(&two, 1, &one_deny), Ok(Tally::Denied(person(1))));
    assert!(matches!(tally_with(&two, 2, &one_deny), Ok(Tally::Pending(_))));
    // Below the deny quorum, approvals still decide.
    let approved = [vote(1, VoteDecision::Deny), vote(2, VoteDecision::Approve), vote(3, VoteDecision::Approve)];
    assert!(matches!(tally_with(&two, 2, &approved), Ok(Tally::Approved(_))));
    let denied = [vote(1, VoteDecision::Deny), vote(4, VoteDecision::Deny), vote(2, VoteDecision::Approve)];
    assert_eq!(tally_with(&two, 2, &denied), Ok(Tally::Denied(person(4))));
}

#[test]
fn a_digest_changes_with_anything_asked_and_not_with_nothing() {
    let base = request_digest(&[("role", "deployer"), ("scope", "project:acme/web"), ("reason", "INC-1")]);
    assert_eq!(base.len(), 64);
    assert_eq!(base, request_digest(&[("role", "deployer"), ("scope", "project:acme/web"), ("reason", "INC-1")]));
    assert_ne!(base, request_digest(&[("role", "deployer"), ("scope", "project:acme/api"), ("reason", "INC-1")]));
    // Moving text between fields changes it too.
    assert_ne!(request_digest(&[("a", "bc"), ("d", "")]), request_digest(&[("a", "b"), ("cd", "")]));
}

#[test]
fn access_durations_are_capped_by_the_rule() {
    let mut access = rule("a", "access", &["**"]);
    access.max_duration = Some(time::Duration::hours(8));
    assert_eq!(check_access_duration(time::Duration::hours(2), &access), Ok(time::Duration::hours(2)));
    assert!(matches!(
        check_access_duration(time::Duration::hours(9), &access),
        Err(AccessDurationError::OverCap { .. })
    ));
    assert_eq!(check_access_duration(time::Duration::ZERO, &access), Err(AccessDurationError::NotPositive));
    assert_eq!(request_expiry(NOW, &access), NOW + time::Duration::hours(4));
}

fn glass_rule() -> ApprovalRule {
    let mut r = rule("prod", "access", &["**"]);
    r.break_glass = Some(BreakGlass {
        who: pool("group:oncall"),
        duration: time::Duration::hours(1),
        after_review: AfterReview { within: time::Duration::hours(24), need: 1, pool: pool("group:security") },
    });
    r
}

#[test]
fn break_glass_is_for_its_members_with_an_incident_and_a_reason() {
    let oncall = BTreeSet::from([person(1)]);
    let window = check_break_glass(&glass_rule(), person(1), &oncall, "INC-7", "prod is down", NOW).unwrap();
    assert_eq!(window.ends_at, NOW + time::Duration::hours(1));
    assert_eq!(window.review_due, NOW + time::Duration::hours(24));
    assert!(matches!(
        check_break_glass(&glass_rule(), person(2), &oncall, "INC-7", "x", NOW),
        Err(BreakGlassError::NotMember(_))
    ));
    assert_eq!(
        check_break_glass(&glass_rule(), person(1), &oncall, " ", "x", NOW),
        Err(BreakGlassError::MissingIncident)
    );
    assert_eq!(
        check_break_glass(&glass_rule(), person(1), &oncall, "INC-7", "  ", NOW),
        Err(BreakGlassError::MissingReason)
    );
    let plain = rule("plain", "access", &["**"]);
    assert_eq!(
        check_break_glass(&plain, person(1), &oncall, "INC-7", "x", NOW),
        Err(BreakGlassError::NotAllowed("plain".into()))
    );
}

#[test]
fn the_after_review_is_someone_elses_and_repeats_while_overdue() {
    let security = BTreeSet::from([person(1), person(3)]);
    assert_eq!(check_after_review(&glass_rule(), person(1), person(3), &security), Ok(()));
    assert_eq!(check_after_review(&glass_rule(), person(1), person(1), &security), Err(BreakGlassError::SelfReview));
    assert!(matches!(
        check_after_review(&glass_rule(), person(1), person(2), &security),
        Err(BreakGlassError::NotReviewer(_))
    ));
    let due = NOW;
    assert!(!overdue_alert_due(due, None, NOW - time::Duration::seconds(1)));
    assert!(overdue_alert_due(due, None, NOW));
    assert!(!overdue_alert_due(due, Some(NOW), NOW + time::Duration::minutes(59)));
    assert!(overdue_alert_due(due, Some(NOW), NOW + OVERDUE_REPEAT));
}

#[test]
fn break_glass_lasts_the_rules_duration_or_less() {
    let rule = glass_rule();
    assert_eq!(break_glass_duration(&rule, None), Ok(time::Duration::hours(1)));
    assert_eq!(break_glass_duration(&rule, Some(time::Duration::minutes(30))), Ok(time::Duration::minutes(30)));
    for asked in [time::Duration::hours(2), time::Duration::ZERO, time::Duration::minutes(-5)] {
        assert!(matches!(break_glass_duration(&rule, Some(asked)), Err(BreakGlassError::DurationOutOfRange { .. })));
    }
    let plain = rule_plain();
    assert!(matches!(break_glass_duration(&plain, None), Err(BreakGlassError::NotAllowed(_))));
}

fn rule_plain() -> ApprovalRule {
    rule("plain", "access", &["**"])
}

#[test]
fn an_after_review_takes_each_reviewer_once_and_completes_at_its_quorum() {
    let review = |who: u128| AfterReviewEntry {
        reviewer: person(who),
        decision: if who == 3 { ReviewDecision::Flag } else { ReviewDecision::Ok },
        reason: "looked".into(),
        mfa_age_seconds: 10,
        created_at: NOW,
    };
    let mut status = AfterReviewStatus {
        due_at: NOW,
        need: 2,
        reviews: Vec::new(),
        completed_at: None,
        last_alert_at: None,
        revision: 0,
    };
    assert_eq!(check_review_count(&status, person(2)), Ok(false));
    status.reviews.push(review(2));
    assert_eq!(check_review_count(&status, person(2)), Err(BreakGlassError::AlreadyReviewed));
    assert_eq!(check_review_count(&status, person(3)), Ok(true));
    status.reviews.push(review(3));
    assert!(status.flagged());
    assert!(status.overdue_at(NOW));
    status.completed_at = Some(NOW);
    assert!(!status.overdue_at(NOW + time::Duration::days(1)));
    assert_eq!(check_review_count(&status, person(4)), Err(BreakGlassError::ReviewComplete));
    assert_eq!(ReviewDecision::parse("flag"), Some(ReviewDecision::Flag));
    assert_eq!(ReviewDecision::parse("FLAG"), None);
}

fn run_binding() -> DeploymentBinding {
    DeploymentBinding {
        forge: "github".into(),
        repository: "acme/web".into(),
        run_id: "42".into(),
        run_attempt: 1,
        environment: "production".into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        authors: vec!["ana@example.com".into()],
        workflow_digest: Some("feedface".into()),
    }
}

#[test]
fn a_binding_is_for_its_environment_with_a_real_commit() {
    use crate::grant::Resource;
    let production = Resource::Environment("acme/web".into(), "production".into());
    assert_eq!(check_binding(&run_binding(), &production), Ok(()));
    let staging = Resource::Environment("acme/web".into(), "staging".into());
    assert!(matches!(check_binding(&run_binding(), &staging), Err(BindingProblem::NotTheResource(..))));
    type Change = fn(&mut DeploymentBinding);
    let cases: [(Change, BindingProblem); 4] = [
        (|b| b.forge = "svn".into(), BindingProblem::UnknownForge),
        (|b| b.sha = "abc123".into(), BindingProblem::Sha),
        (|b| b.run_attempt = 0, BindingProblem::NoAttempt),
        (|b| b.run_id = "a\nb".into(), BindingProblem::Malformed("run_id")),
    ];
    for (change, problem) in cases {
        let mut binding = run_binding();
        change(&mut binding);
        assert_eq!(check_binding(&binding, &production), Err(problem));
    }
}

#[test]
fn a_jobs_token_must_name_the_run_it_binds() {
    let claims = |pairs: &[(&str, &str)]| {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect()
    };
    let own = claims(&[
        ("repository", "acme/web"),
        ("run_id", "42"),
        ("run_attempt", "1"),
        ("sha", "0123456789abcdef0123456789abcdef01234567"),
        ("environment", "production"),
        ("job_workflow_sha", "feedface"),
        ("workflow_sha", "caller-commit"),
    ]);
    assert_eq!(check_claims(&run_binding(), &own), Ok(()), "a reusable workflow's own commit is the one bound");
    let mut other_run = own.clone();
    other_run.insert("run_id".into(), "43".into());
    assert!(matches!(
        check_claims(&run_binding(), &other_run),
        Err(BindingProblem::NotThisRun { claim: "run_id", .. })
    ));
    let mut other_workflow = own.clone();
    other_workflow.insert("job_workflow_sha".into(), "cafe".into());
    assert!(matches!(check_claims(&run_binding(), &other_workflow), Err(BindingProblem::NotThisRun { .. })));
    let unnamed = DeploymentBinding { workflow_digest: None, ..run_binding() };
    assert_eq!(check_claims(&unnamed, &own), Ok(()), "a binding that names no workflow claims nothing of it");
    // A claim the forge does not put in its token is not required.
    assert_eq!(check_claims(&run_binding(), &claims(&[("repository", "acme/web")])), Ok(()));
}
