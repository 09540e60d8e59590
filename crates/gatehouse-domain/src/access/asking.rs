//! Asking through the approved channel: what a request must say for its
//! rule to take it, what it is about, and the digest a voter confirms.

use time::OffsetDateTime;

use crate::grant::{Resource, Scope};
use crate::ids::IdentityId;

use super::directory::Subject;
use super::record::{DeploymentBinding, RequestKind};
use super::request::request_digest;
use super::rule::{ApprovalRule, Gated};

/// The longest reason, ticket and incident id a request may carry.
pub const MAX_REASON_CHARS: usize = 2_000;
pub const MAX_TICKET_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("rule `{0}` requires a reason")]
    ReasonRequired(String),
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("rule `{rule}` requires a ticket matching `{pattern}`")]
    TicketRequired { rule: String, pattern: String },
    #[error("ticket `{ticket}` does not match `{pattern}` (rule `{rule}`)")]
    TicketMismatch { rule: String, ticket: String, pattern: String },
    #[error("the ticket is longer than {MAX_TICKET_CHARS} characters or holds control characters")]
    TicketMalformed,
}

/// Checks what a request says against its rule: a reason where one is
/// required, a ticket matching the rule's pattern (`ticket_matches` runs
/// the compiled pattern).
pub fn check_ask(
    rule: &ApprovalRule,
    reason: Option<&str>,
    ticket: Option<&str>,
    ticket_matches: impl Fn(&str) -> bool,
) -> Result<(), AskError> {
    let reason = reason.map(str::trim).filter(|text| !text.is_empty());
    if reason.is_some_and(|text| text.chars().count() > MAX_REASON_CHARS) {
        return Err(AskError::ReasonTooLong);
    }
    if rule.reason_required && reason.is_none() {
        return Err(AskError::ReasonRequired(rule.id.clone()));
    }
    let ticket = ticket.map(str::trim).filter(|text| !text.is_empty());
    if ticket.is_some_and(|text| text.chars().count() > MAX_TICKET_CHARS || text.chars().any(char::is_control)) {
        return Err(AskError::TicketMalformed);
    }
    if let Some(pattern) = &rule.ticket {
        match ticket {
            None => return Err(AskError::TicketRequired { rule: rule.id.clone(), pattern: pattern.clone() }),
            Some(text) if !ticket_matches(text) => {
                return Err(AskError::TicketMismatch {
                    rule: rule.id.clone(),
                    ticket: text.to_owned(),
                    pattern: pattern.clone(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

impl RequestKind {
    /// What a rule must cover for this request: `access`, or the action.
    pub fn gated(&self) -> Gated {
        match self {
            RequestKind::Access { .. } => Gated::Access,
            RequestKind::Action { action, .. } => Gated::Action(*action),
        }
    }

    /// What the rule's pools are counted against.
    pub fn subject(&self) -> Subject<'_> {
        match self {
            RequestKind::Access { scope, .. } => Subject::Scope(scope),
            RequestKind::Action { resource, .. } => Subject::Resource(resource),
        }
    }

    /// The resource Cedar decides a vote on: the action's resource, or the
    /// access scope's (`*` is gatehouse itself).
    pub fn decided_on(&self) -> Resource {
        match self {
            RequestKind::Access { scope: Scope::Everything, .. } => Resource::Gatehouse,
            RequestKind::Access { scope: Scope::Resource(resource), .. } => resource.clone(),
            RequestKind::Action { resource, .. } => resource.clone(),
        }
    }
}

/// What a voter confirms they saw: every field of the request that a
/// decision depends on, hashed (length-prefixed, so no two requests share
/// a digest by moving text between fields).
pub fn digest_of(
    kind: &RequestKind,
    rule_id: &str,
    requester: IdentityId,
    reason: Option<&str>,
    ticket: Option<&str>,
    created_at: OffsetDateTime,
) -> String {
    let requester = requester.to_string();
    let created = created_at.unix_timestamp_nanos().to_string();
    let mut fields: Vec<(&str, String)> = vec![
        ("kind", kind.as_str().to_owned()),
        ("rule", rule_id.to_owned()),
        ("requester", requester),
        ("reason", reason.unwrap_or_default().to_owned()),
        ("ticket", ticket.unwrap_or_default().to_owned()),
        ("created_at", created),
        ("resource", kind.resource_text()),
    ];
    match kind {
        RequestKind::Access { role, duration, .. } => {
            fields.push(("role", role.as_str().to_owned()));
            fields.push(("duration_seconds", duration.whole_seconds().to_string()));
        }
        RequestKind::Action { action, binding, .. } => {
            fields.push(("action", action.as_str().to_owned()));
            if let Some(binding) = binding {
                push_binding(&mut fields, binding);
            }
        }
    }
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
    request_digest(&borrowed)
}

fn push_binding(fields: &mut Vec<(&str, String)>, binding: &DeploymentBinding) {
    fields.push(("forge", binding.forge.clone()));
    fields.push(("repository", binding.repository.clone()));
    fields.push(("run_id", binding.run_id.clone()));
    fields.push(("run_attempt", binding.run_attempt.to_string()));
    fields.push(("environment", binding.environment.clone()));
    fields.push(("sha", binding.sha.clone()));
    fields.push(("authors", binding.authors.join("\n")));
    fields.push(("workflow_digest", binding.workflow_digest.clone().unwrap_or_default()));
}
