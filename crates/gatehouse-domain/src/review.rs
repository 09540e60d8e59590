//! Access reviews: campaigns that snapshot who holds what, ask reviewers to
//! keep, revoke, narrow or delegate each item, and decide the rest at the
//! deadline. Pure rules; the server resolves reviewers against the
//! directory, applies results and writes the audit entries.
//!
//! What the anchors get wrong and this does not: a decision is final in its
//! stage (a second one is refused, never overwrites); nobody reviews their
//! own access; a campaign closes by itself at its deadline and every
//! undecided item gets an explicit, recorded default; the snapshot and the
//! decisions are hashed as canonical JSON so an auditor recomputes both.

mod campaign;
mod codec;
mod decision;
mod definition;
mod export;
mod item;
mod triggers;

#[cfg(test)]
mod tests;

pub use campaign::{Campaign, CampaignState, Counts, Trigger, TriggerKind};
pub use codec::{
    DEFINITION_FIELDS, SCOPE_FIELDS, counts_from_json, counts_to_json, decision_from_json, decision_to_json,
    decisions_digest, definition_from_json, definition_to_json, item_from_json, item_to_json, snapshot_digest,
    verdict_from_json, verdict_to_json,
};
pub use decision::{Decision, DecisionError, Progress, Step, Verdict, Window, check_decision, defaults_due, progress};
pub use definition::{
    CampaignDefinition, Candidate, DEFAULT_UNUSED_AFTER, DefinitionError, ItemKind, MAX_CAMPAIGN_NAME_CHARS,
    MAX_DURATION, MAX_REVIEWERS, MIN_DURATION, NoResponse, Recurrence, Reviewer, Selector,
};
pub use export::{EXPORT_FORMAT, ExportProblem, ExportSummary, check_export, export_sections};
pub use item::{Advice, Recommendation, ReviewItem, recommend};
pub use triggers::{
    HoldFact, PIPELINE_ACTIONS, PushedChange, RenewalWindow, change_item, changed_members, hold_reason, holding,
    review_passed, role_reaches_pipeline, schedule_due, scope_reaches_project,
};
