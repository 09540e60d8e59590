//! Requirement trees (`all` / `any` / quorum clauses), the pools a clause
//! draws from, and the checks a rule passes before it is loaded.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::ids::IdentityId;

use super::matching::{Voter, max_assignment};

/// The most alternatives (ways of satisfying a rule, once `any` is spread
/// over `all`) a rule may have: enough for any rule a person can read,
/// small enough that checking every vote stays cheap.
pub const MAX_ALTERNATIVES: usize = 64;

/// Where a clause's approvers come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pool {
    /// Identities holding this role on a scope covering the resource.
    Role(String),
    /// Members of a directory (SCIM) group, by display name.
    Group(String),
    /// One named identity.
    Identity(IdentityId),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("`{0}` is not a pool (expected `role:NAME`, `group:NAME` or `identity:ID`)")]
    Malformed(String),
}

impl FromStr for Pool {
    type Err = PoolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || PoolError::Malformed(text.to_owned());
        let (kind, name) = text.split_once(':').ok_or_else(malformed)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
            return Err(malformed());
        }
        match kind {
            "role" => Ok(Pool::Role(name.to_owned())),
            "group" => Ok(Pool::Group(name.to_owned())),
            "identity" => name.parse().map(Pool::Identity).map_err(|_| malformed()),
            _ => Err(malformed()),
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pool::Role(name) => write!(f, "role:{name}"),
            Pool::Group(name) => write!(f, "group:{name}"),
            Pool::Identity(id) => write!(f, "identity:{id}"),
        }
    }
}

/// A leaf of a requirement: `need` distinct approvers from `pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// The clause's number in the rule, depth-first from 0: how progress
    /// and the assignment name it.
    pub id: usize,
    pub need: u32,
    pub pool: Pool,
}

/// What must approve. Built by [`Requirement::quorum`], [`Requirement::all`]
/// and [`Requirement::any`], which refuse what could never mean anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Quorum { need: u32, pool: Pool },
    All(Vec<Requirement>),
    Any(Vec<Requirement>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    #[error("a quorum must be at least 1, not {0}")]
    QuorumNotPositive(i64),
    #[error("`{0}` needs at least one requirement")]
    Empty(&'static str),
    #[error("the rule has more than {MAX_ALTERNATIVES} ways of being satisfied; split it")]
    TooComplex,
    #[error("nobody is in `{0}`")]
    EmptyPool(Pool),
    #[error("clause {clause} needs {need} of `{pool}`, which has {eligible}")]
    QuorumLargerThanPool { clause: usize, need: u32, pool: Pool, eligible: usize },
    #[error("no assignment of distinct people satisfies the rule")]
    Unsatisfiable,
    #[error("without `{0}` nobody could satisfy the rule: no one person may be indispensable")]
    IndispensablePerson(IdentityId),
}

impl Requirement {
    pub fn quorum(need: i64, pool: Pool) -> Result<Self, RequirementError> {
        match u32::try_from(need) {
            Ok(need) if need > 0 => Ok(Requirement::Quorum { need, pool }),
            _ => Err(RequirementError::QuorumNotPositive(need)),
        }
    }

    pub fn all(children: Vec<Requirement>) -> Result<Self, RequirementError> {
        if children.is_empty() {
            return Err(RequirementError::Empty("all"));
        }
        Ok(Requirement::All(children))
    }

    pub fn any(children: Vec<Requirement>) -> Result<Self, RequirementError> {
        if children.is_empty() {
            return Err(RequirementError::Empty("any"));
        }
        Ok(Requirement::Any(children))
    }

    /// The leaves, numbered depth-first.
    pub fn clauses(&self) -> Vec<Clause> {
        let mut clauses = Vec::new();
        self.collect_clauses(&mut clauses);
        clauses
    }

    fn collect_clauses(&self, into: &mut Vec<Clause>) {
        match self {
            Requirement::Quorum { need, pool } => into.push(Clause { id: into.len(), need: *need, pool: pool.clone() }),
            Requirement::All(children) | Requirement::Any(children) => {
                for child in children {
                    child.collect_clauses(into);
                }
            }
        }
    }

    /// Every way of satisfying the rule, as the clause ids that must all
    /// be met at once (`any` spread over `all`), or `TooComplex`.
    pub fn alternatives(&self) -> Result<Vec<Vec<usize>>, RequirementError> {
        let mut next = 0;
        self.alternatives_from(&mut next)
    }

    fn alternatives_from(&self, next: &mut usize) -> Result<Vec<Vec<usize>>, RequirementError> {
        match self {
            Requirement::Quorum { .. } => {
                let id = *next;
                *next += 1;
                Ok(vec![vec![id]])
            }
            Requirement::Any(children) => {
                let mut all = Vec::new();
                for child in children {
                    all.extend(child.alternatives_from(next)?);
                    if all.len() > MAX_ALTERNATIVES {
                        return Err(RequirementError::TooComplex);
                    }
                }
                Ok(all)
            }
            Requirement::All(children) => {
                let mut product: Vec<Vec<usize>> = vec![Vec::new()];
                for child in children {
                    let options = child.alternatives_from(next)?;
                    if product.len().saturating_mul(options.len()) > MAX_ALTERNATIVES {
                        return Err(RequirementError::TooComplex);
                    }
                    product = product
                        .iter()
                        .flat_map(|base| options.iter().map(move |option| base.iter().chain(option).copied().collect()))
                        .collect();
                }
                Ok(product)
            }
        }
    }
}

/// Who is in a pool, as far as gatehouse knows now; `None` for a role or
/// group it does not know at all.
pub trait Directory {
    fn members(&self, pool: &Pool) -> Option<BTreeSet<IdentityId>>;
}

/// The checks a rule passes at load and again whenever the directory
/// changes: every pool known and large enough, some assignment of distinct
/// people satisfies it, and it still can without any one of them (so the
/// requester, who may never approve, can never be the only way through).
/// Pools nobody knows are for the caller to name (`Directory::members`
/// returning `None` is reported as an empty pool).
pub fn check_satisfiable(requirement: &Requirement, directory: &dyn Directory) -> Result<(), RequirementError> {
    let clauses = requirement.clauses();
    let alternatives = requirement.alternatives()?;
    let mut members = Vec::with_capacity(clauses.len());
    for clause in &clauses {
        let pool = directory.members(&clause.pool).unwrap_or_default();
        if pool.is_empty() {
            return Err(RequirementError::EmptyPool(clause.pool.clone()));
        }
        if pool.len() < clause.need as usize {
            return Err(RequirementError::QuorumLargerThanPool {
                clause: clause.id,
                need: clause.need,
                pool: clause.pool.clone(),
                eligible: pool.len(),
            });
        }
        members.push(pool);
    }
    let everyone: BTreeSet<IdentityId> = members.iter().flatten().copied().collect();
    let voters_without = |left_out: Option<IdentityId>| -> Vec<Voter> {
        everyone
            .iter()
            .filter(|id| Some(**id) != left_out)
            .map(|id| Voter {
                id: *id,
                clauses: members.iter().enumerate().filter(|(_, pool)| pool.contains(id)).map(|(i, _)| i).collect(),
            })
            .collect()
    };
    let satisfying = |voters: &[Voter]| {
        alternatives.iter().find_map(|alternative| {
            let seats = alternative.iter().flat_map(|id| std::iter::repeat_n(*id, clauses[*id].need as usize));
            let seats: Vec<usize> = seats.collect();
            let filled = max_assignment(&seats, voters);
            (filled.len() == seats.len()).then_some(filled)
        })
    };
    let Some(found) = satisfying(&voters_without(None)) else {
        return Err(RequirementError::Unsatisfiable);
    };
    // Only someone seated in a satisfying assignment can be indispensable:
    // leaving out anyone else leaves that assignment standing.
    let seated: BTreeSet<IdentityId> = found.iter().map(|(_, voter)| *voter).collect();
    for person in seated {
        if satisfying(&voters_without(Some(person))).is_none() {
            return Err(RequirementError::IndispensablePerson(person));
        }
    }
    Ok(())
}
