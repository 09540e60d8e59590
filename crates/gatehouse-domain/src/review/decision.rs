//! Decisions on review items: who may make them, which are final, and what
//! the deadline decides for the rest.

use time::OffsetDateTime;

use crate::grant::Scope;
use crate::ids::IdentityId;

use super::definition::{CampaignDefinition, ItemKind, NoResponse};
use super::item::{Advice, ReviewItem};

/// What a reviewer (or the deadline) decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep, optionally ending sooner.
    Keep { until: Option<OffsetDateTime> },
    /// Revoke now.
    Revoke,
    /// Replace a grant by a smaller role or scope.
    Narrow { role: Option<String>, scope: Option<String> },
    /// Hand the item to another eligible reviewer of the same stage.
    Delegate { to: IdentityId },
    /// Suspend the item's identity (only ever a default).
    Suspend,
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Keep { .. } => "keep",
            Verdict::Revoke => "revoke",
            Verdict::Narrow { .. } => "narrow",
            Verdict::Delegate { .. } => "delegate",
            Verdict::Suspend => "suspend",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Delegate { .. })
    }

    pub fn from_default(choice: NoResponse) -> Self {
        match choice {
            NoResponse::Keep => Verdict::Keep { until: None },
            NoResponse::Revoke => Verdict::Revoke,
            NoResponse::Suspend => Verdict::Suspend,
        }
    }
}

/// One decision on one item, as recorded. `reviewer` is `None` for a
/// default applied at the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub item: u32,
    /// The decision's place among the item's decisions, from 0: the store
    /// takes it only if no other decision took that place first.
    pub sequence: u32,
    pub stage: u8,
    pub verdict: Verdict,
    pub reviewer: Option<IdentityId>,
    pub at: OffsetDateTime,
    /// How the reviewer's second factor was proved (`totp`, `passkey`) and
    /// how long before the decision.
    pub mfa_method: Option<String>,
    pub mfa_age_seconds: Option<i64>,
    /// The recommendation the reviewer was shown.
    pub shown: Advice,
    pub reason: String,
}

/// Where an item stands after its decisions so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub stage: u8,
    /// Who may decide now: a delegate, or the stage's reviewers.
    pub delegated_to: Option<IdentityId>,
    /// The stage-1 decider, who may not decide stage 2.
    pub first_decider: Option<IdentityId>,
    pub outcome: Option<Verdict>,
    pub next_sequence: u32,
}

/// Folds an item's decisions (in sequence order) into where it stands.
pub fn progress(item: &ReviewItem, decisions: &[Decision]) -> Progress {
    let mut progress = Progress { stage: 1, delegated_to: None, first_decider: None, outcome: None, next_sequence: 0 };
    for decision in decisions {
        progress.next_sequence = decision.sequence + 1;
        match &decision.verdict {
            Verdict::Delegate { to } => progress.delegated_to = Some(*to),
            verdict => {
                progress.delegated_to = None;
                let advances = decision.stage == 1
                    && item.stages() == 2
                    && matches!(verdict, Verdict::Keep { .. } | Verdict::Narrow { .. })
                    && decision.reviewer.is_some();
                if advances {
                    progress.stage = 2;
                    progress.first_decider = decision.reviewer;
                } else {
                    progress.outcome = Some(verdict.clone());
                }
            }
        }
    }
    progress
}

/// What a decision does to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The item is decided for good.
    Final,
    /// The first stage kept it; the second stage decides.
    NextStage,
    /// Another reviewer decides this stage.
    Delegated,
}

/// The campaign as a decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub open: bool,
    pub deadline: OffsetDateTime,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the campaign is closed")]
    Closed,
    #[error("the campaign's deadline has passed")]
    PastDeadline,
    #[error("this item is already decided; a decision is final")]
    AlreadyDecided,
    #[error("nobody reviews their own access")]
    SelfReview,
    #[error("you are not a reviewer of this item at its current stage")]
    NotReviewer,
    #[error("the second stage is decided by someone other than the first")]
    SameReviewerTwice,
    #[error("delegate to another eligible reviewer of this stage")]
    DelegateNotEligible,
    #[error("keep until applies to a grant, and must be in the future and not later than its current expiry")]
    KeepUntil,
    #[error("only a grant can be narrowed")]
    NarrowNotGrant,
    #[error("narrow to a smaller role or a scope inside the current one: {0}")]
    NarrowNotSmaller(String),
    #[error("suspend is only a default, not a reviewer's decision")]
    SuspendByReviewer,
}

/// Whether `reviewer` may decide `verdict` on `item` now, and what it does.
/// `smaller_role(old, new)` says whether role `new` allows strictly less
/// than `old` (the policies know).
pub fn check_decision(
    item: &ReviewItem,
    decisions: &[Decision],
    reviewer: IdentityId,
    verdict: &Verdict,
    window: Window,
    smaller_role: &dyn Fn(&str, &str) -> bool,
) -> Result<Step, DecisionError> {
    if !window.open {
        return Err(DecisionError::Closed);
    }
    if window.now >= window.deadline {
        return Err(DecisionError::PastDeadline);
    }
    let progress = progress(item, decisions);
    if progress.outcome.is_some() {
        return Err(DecisionError::AlreadyDecided);
    }
    if item.is_subject(reviewer) {
        return Err(DecisionError::SelfReview);
    }
    if progress.stage == 2 && progress.first_decider == Some(reviewer) {
        return Err(DecisionError::SameReviewerTwice);
    }
    let eligible = item.reviewers_of(progress.stage);
    let may_decide = match progress.delegated_to {
        Some(delegate) => delegate == reviewer,
        None => eligible.contains(&reviewer),
    };
    if !may_decide {
        return Err(DecisionError::NotReviewer);
    }
    match verdict {
        Verdict::Delegate { to } => {
            let ok = *to != reviewer
                && eligible.contains(to)
                && !item.is_subject(*to)
                && progress.first_decider != Some(*to);
            return if ok { Ok(Step::Delegated) } else { Err(DecisionError::DelegateNotEligible) };
        }
        Verdict::Keep { until: Some(until) } => {
            let shortens = *until > window.now && item.expires_at.is_none_or(|current| *until <= current);
            if item.kind != ItemKind::Grant || !shortens {
                return Err(DecisionError::KeepUntil);
            }
        }
        Verdict::Narrow { role, scope } => check_narrow(item, role.as_deref(), scope.as_deref(), smaller_role)?,
        Verdict::Suspend => return Err(DecisionError::SuspendByReviewer),
        Verdict::Keep { until: None } | Verdict::Revoke => {}
    }
    let advances = progress.stage == 1 && item.stages() == 2 && !matches!(verdict, Verdict::Revoke);
    Ok(if advances { Step::NextStage } else { Step::Final })
}

fn check_narrow(
    item: &ReviewItem,
    role: Option<&str>,
    scope: Option<&str>,
    smaller_role: &dyn Fn(&str, &str) -> bool,
) -> Result<(), DecisionError> {
    if item.kind != ItemKind::Grant {
        return Err(DecisionError::NarrowNotGrant);
    }
    let (Some(old_role), Some(old_scope)) = (item.role.as_deref(), item.scope.as_deref()) else {
        return Err(DecisionError::NarrowNotGrant);
    };
    if role.is_none() && scope.is_none() {
        return Err(DecisionError::NarrowNotSmaller("name a role or a scope".into()));
    }
    if let Some(role) = role
        && (role == old_role || !smaller_role(old_role, role))
    {
        return Err(DecisionError::NarrowNotSmaller(format!("`{role}` does not allow less than `{old_role}`")));
    }
    if let Some(scope) = scope {
        let inside = match (Scope::parse(old_scope), Scope::parse(scope)) {
            (Ok(old), Ok(Scope::Resource(new))) => scope != old_scope && old.covers(&new),
            _ => false,
        };
        if !inside {
            return Err(DecisionError::NarrowNotSmaller(format!("`{scope}` is not inside `{old_scope}`")));
        }
    }
    Ok(())
}

/// The defaults the deadline applies: every item without a final decision
/// gets its campaign's `on_no_response` (revoke for a privileged item unless
/// the definition says otherwise).
pub fn defaults_due(
    definition: &CampaignDefinition,
    items: &[ReviewItem],
    decisions_of: &dyn Fn(u32) -> Vec<Decision>,
) -> Vec<(u32, NoResponse)> {
    items
        .iter()
        .filter(|item| progress(item, &decisions_of(item.number)).outcome.is_none())
        .map(|item| (item.number, definition.default_for(item.privileged)))
        .collect()
}
