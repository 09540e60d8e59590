//! Counting votes: approvers are seated in the clauses' seats by maximum
//! bipartite matching (Kuhn's augmenting paths: rules have a handful of
//! seats, so the simple algorithm is the fast one), so each person counts
//! once however many pools they are in.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::IdentityId;

use super::requirement::{Requirement, RequirementError};

/// An approver and the clauses (by id) whose pool they are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub id: IdentityId,
    pub clauses: BTreeSet<usize>,
}

/// Which approver fills a seat of which clause: `(clause id, approver)`.
pub type Assignment = Vec<(usize, IdentityId)>;

/// One clause's count under the chosen assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClauseProgress {
    pub clause: usize,
    pub need: u32,
    pub have: u32,
}

/// Where a request stands: whether the votes satisfy the rule, each
/// clause's count, and the assignment behind it (of the alternative that
/// is satisfied, or else of the one closest to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub satisfied: bool,
    pub clauses: Vec<ClauseProgress>,
    pub assignment: Assignment,
}

/// Counts approvals against a requirement. `approvers` are the people
/// whose approve votes count (eligible, not excluded: the caller decides
/// that), each with the clauses whose pool holds them. A person listed
/// twice still counts once.
pub fn evaluate(
    requirement: &Requirement,
    approvers: &[(IdentityId, BTreeSet<usize>)],
) -> Result<Progress, RequirementError> {
    let clauses = requirement.clauses();
    let mut by_person: BTreeMap<IdentityId, BTreeSet<usize>> = BTreeMap::new();
    for (id, member_of) in approvers {
        by_person.entry(*id).or_default().extend(member_of);
    }
    let voters: Vec<Voter> = by_person.into_iter().map(|(id, clauses)| Voter { id, clauses }).collect();
    let mut best: Option<(usize, usize, Assignment)> = None;
    for alternative in requirement.alternatives()? {
        let seats: Vec<usize> =
            alternative.iter().flat_map(|id| std::iter::repeat_n(*id, clauses[*id].need as usize)).collect();
        let filled = max_assignment(&seats, &voters);
        let missing = seats.len() - filled.len();
        // Closest first; among equals, the alternative with more filled seats.
        let better = best
            .as_ref()
            .is_none_or(|(least, most, _)| missing < *least || (missing == *least && filled.len() > *most));
        if better {
            best = Some((missing, filled.len(), filled));
        }
        if missing == 0 {
            break;
        }
    }
    let (missing, _, assignment) = best.unwrap_or_default();
    let progress = clauses
        .iter()
        .map(|clause| ClauseProgress {
            clause: clause.id,
            need: clause.need,
            have: u32::try_from(assignment.iter().filter(|(id, _)| *id == clause.id).count()).unwrap_or(u32::MAX),
        })
        .collect();
    Ok(Progress { satisfied: missing == 0, clauses: progress, assignment })
}

/// The largest seating of `voters` in `seats` (each seat a clause id; a
/// voter sits in at most one seat, and only of a clause they belong to).
pub(super) fn max_assignment(seats: &[usize], voters: &[Voter]) -> Assignment {
    // seat_of[v] = the seat voter v sits in.
    let mut seat_of: Vec<Option<usize>> = vec![None; voters.len()];
    let mut voter_of: Vec<Option<usize>> = vec![None; seats.len()];
    for seat in 0..seats.len() {
        let mut visited = vec![false; voters.len()];
        augment(seat, seats, voters, &mut visited, &mut seat_of, &mut voter_of);
    }
    voter_of.iter().enumerate().filter_map(|(seat, voter)| voter.map(|v| (seats[seat], voters[v].id))).collect()
}

/// Finds a voter for `seat`, moving seated voters to other seats where
/// that frees one (an augmenting path). Depth is bounded by the number of
/// seats.
fn augment(
    seat: usize,
    seats: &[usize],
    voters: &[Voter],
    visited: &mut [bool],
    seat_of: &mut [Option<usize>],
    voter_of: &mut [Option<usize>],
) -> bool {
    for (v, voter) in voters.iter().enumerate() {
        if visited[v] || !voter.clauses.contains(&seats[seat]) {
            continue;
        }
        visited[v] = true;
        let free = match seat_of[v] {
            None => true,
            Some(taken) => augment(taken, seats, voters, visited, seat_of, voter_of),
        };
        if free {
            seat_of[v] = Some(seat);
            voter_of[seat] = Some(v);
            return true;
        }
    }
    false
}
