//! Loaded rules checked against the directory as it is now: SCIM and grant
//! changes can leave a rule that nobody (or only one person) can satisfy.
//! Each check that finds a different set of problems than the last is an
//! `approvals.check` audit entry; the problems are a warning on `/readyz`
//! and the gauge `gatehouse_approval_rules_unsatisfiable`.

use std::collections::BTreeSet;
use std::sync::RwLock;

use gatehouse_domain::access::{ApproverDirectory, check_rule_against};
use gatehouse_domain::audit::{Actor, AuditAction, Observation, Outcome};
use gatehouse_policy::Policies;
use gatehouse_policy::approvals::APPROVALS_FILE;
use serde_json::json;

use crate::problem::ApiError;
use crate::state::AppState;

/// One rule that the directory no longer lets anyone satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub rule: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{APPROVALS_FILE}:{}: rule `{}`: {}", self.line, self.rule, self.message)
    }
}

/// The problems found by the last check, kept for `/readyz`.
#[derive(Default)]
pub struct RuleHealth {
    problems: RwLock<Vec<String>>,
}

impl RuleHealth {
    pub fn warnings(&self) -> Vec<String> {
        self.problems.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Keeps `now`; whether it differs from what was kept.
    fn replace(&self, now: Vec<String>) -> bool {
        let mut kept = self.problems.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *kept == now {
            return false;
        }
        *kept = now;
        true
    }
}

/// Checks every loaded rule against who is in which pool now.
pub async fn rule_problems(state: &AppState) -> Result<Vec<RuleProblem>, ApiError> {
    let policies = state.policies.current();
    if policies.approvals().is_empty() {
        return Ok(Vec::new());
    }
    let directory = state.store.approver_directory(state.clock.now()).await?;
    Ok(problems_in(&policies, &directory))
}

/// The rules of `policies` that `directory` does not let anyone satisfy
/// (as a reload checks a new folder before it replaces the working one).
pub fn problems_in(policies: &Policies, directory: &ApproverDirectory) -> Vec<RuleProblem> {
    let mut problems = Vec::new();
    for loaded in policies.approvals().rules() {
        for problem in check_rule_against(&loaded.rule, directory) {
            problems.push(RuleProblem {
                rule: loaded.rule.id.clone(),
                line: loaded.line,
                message: problem.to_string(),
            });
        }
    }
    problems
}

/// Checks again, and records a change: an audit entry, the gauge, and the
/// `/readyz` warnings.
pub async fn refresh(state: &AppState) -> Result<Vec<RuleProblem>, ApiError> {
    let problems = rule_problems(state).await?;
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let rules: BTreeSet<&str> = problems.iter().map(|problem| problem.rule.as_str()).collect();
    metrics::gauge!("gatehouse_approval_rules_unsatisfiable").set(rules.len() as f64);
    if state.rule_health.replace(texts.clone()) {
        let (outcome, reason) = if texts.is_empty() {
            (Outcome::Success, "every approval rule can be satisfied".to_owned())
        } else {
            (Outcome::Failure, format!("{} approval rule(s) cannot be satisfied", rules.len()))
        };
        Observation::new(state.clock.now(), Actor::System, AuditAction::ApprovalsCheck, "approvals")
            .outcome(outcome, reason)
            .details(json!({"problems": texts}))
            .append(&*state.store)
            .await?;
    }
    Ok(problems)
}

/// How often `serve` checks the rules against the directory again.
pub const RULE_WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks the rules at start and every [`RULE_WATCH_EVERY`] after, so a
/// SCIM or grant change that leaves a rule unsatisfiable shows within that.
pub fn spawn_rule_watch(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RULE_WATCH_EVERY);
        loop {
            tick.tick().await;
            if let Err(error) = refresh(&state).await {
                tracing::warn!(error = %error.detail(), "could not check the approval rules against the directory");
            }
        }
    })
}
