//! What a review export must show an auditor, checked from the file alone:
//! the snapshot recomputes to the digest its `review.open` entry signed,
//! the decisions to the digest its `review.close` entry signed, every item
//! has exactly one final decision, each backed by its own entry
//! (`review.decide` with the reviewer's second factor, or `review.default`),
//! nobody reviewed their own access, and every revoke decided is present
//! as a revocation. The proofs that the entries are the log's are
//! `gatehouse_audit::bundle`'s; this reads what the proved entries say.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::codec::{
    decision_from_json, decision_to_json, decisions_digest, item_from_json, item_to_json, snapshot_digest,
};
use super::decision::{Decision, Verdict, progress};
use super::definition::ItemKind;
use super::item::ReviewItem;

/// The `format` of a review export bundle.
pub const EXPORT_FORMAT: &str = "gatehouse-review-export/v1";

/// Why an export does not show what it must, naming the first bad item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExportProblem {
    pub item: Option<u32>,
    pub message: String,
}

impl ExportProblem {
    fn general(message: impl Into<String>) -> Self {
        Self { item: None, message: message.into() }
    }

    fn at(item: u32, message: impl Into<String>) -> Self {
        Self { item: Some(item), message: message.into() }
    }
}

/// What a verified export shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub campaign: String,
    pub name: String,
    pub state: String,
    pub items: usize,
    /// Decisions by reviewers (delegations included).
    pub decisions: usize,
    pub reviewers: usize,
    pub defaults: usize,
    pub kept: usize,
    pub revoked: usize,
    pub narrowed: usize,
    pub suspended: usize,
    pub revocations_found: usize,
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// The proved entries about this campaign, by action.
struct Entries<'a> {
    open: Option<&'a Value>,
    close: Option<&'a Value>,
    /// `(item, sequence)` → the `review.decide` entry.
    decided: HashMap<(u64, u64), &'a Value>,
    /// item → the `review.default` entry.
    defaulted: HashMap<u64, &'a Value>,
    /// `grant:ID`, `token:ID`, `signing_key:ID` revoked or removed.
    revoked: HashMap<String, &'a Value>,
}

fn entries<'a>(campaign: &str, leaves: &'a [(u64, Value)]) -> Entries<'a> {
    let mut found = Entries {
        open: None,
        close: None,
        decided: HashMap::new(),
        defaulted: HashMap::new(),
        revoked: HashMap::new(),
    };
    for (_, leaf) in leaves {
        let ours = text(leaf, "/details/campaign_id") == campaign;
        let item = leaf.pointer("/details/item").and_then(Value::as_u64);
        match text(leaf, "/action") {
            "review.open" | "review.skip" if ours => found.open = Some(leaf),
            "review.close" if ours => found.close = Some(leaf),
            "review.decide" if ours && text(leaf, "/outcome") == "success" => {
                let sequence = leaf.pointer("/details/sequence").and_then(Value::as_u64);
                if let (Some(item), Some(sequence)) = (item, sequence) {
                    found.decided.insert((item, sequence), leaf);
                }
            }
            "review.default" if ours => {
                if let Some(item) = item {
                    found.defaulted.insert(item, leaf);
                }
            }
            "grant.revoke" => {
                found.revoked.insert(format!("grant:{}", text(leaf, "/details/grant_id")), leaf);
            }
            "token.revoke" => {
                found.revoked.insert(format!("token:{}", text(leaf, "/details/token_id")), leaf);
            }
            "signing_key.remove" => {
                found.revoked.insert(format!("signing_key:{}", text(leaf, "/details/signing_key_id")), leaf);
            }
            _ => {}
        }
    }
    found
}

fn list<'a>(sections: &'a Map<String, Value>, name: &str) -> Result<&'a Vec<Value>, ExportProblem> {
    sections
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| ExportProblem::general(format!("the file has no `{name}` section")))
}

/// Checks an export's sections against its proved leaves.
pub fn check_export(sections: &Map<String, Value>, leaves: &[(u64, Value)]) -> Result<ExportSummary, ExportProblem> {
    let campaign =
        sections.get("campaign").ok_or_else(|| ExportProblem::general("the file has no `campaign` section"))?;
    let id = text(campaign, "/id");
    let found = entries(id, leaves);
    let open =
        found.open.ok_or_else(|| ExportProblem::general(format!("no proved review.open entry for campaign `{id}`")))?;
    if open.pointer("/details/definition") != campaign.get("definition")
        || open.pointer("/details/policy_hash") != campaign.get("policy_hash")
    {
        return Err(ExportProblem::general(
            "the campaign's definition or policy digest differs from its review.open entry",
        ));
    }
    let mut items: Vec<ReviewItem> = Vec::new();
    for (place, value) in list(sections, "snapshot")?.iter().enumerate() {
        let item = item_from_json(value).map_err(|e| ExportProblem::general(format!("snapshot item {place}: {e}")))?;
        if item.number as usize != place {
            return Err(ExportProblem::at(
                item.number,
                format!("snapshot item {} is out of place at {place}", item.number),
            ));
        }
        items.push(item);
    }
    let mut decisions: BTreeMap<u32, Vec<Decision>> = BTreeMap::new();
    let mut all = Vec::new();
    for value in list(sections, "decisions")? {
        let decision = decision_from_json(value).map_err(|e| ExportProblem::general(format!("a decision: {e}")))?;
        if decision.item as usize >= items.len() {
            return Err(ExportProblem::at(
                decision.item,
                format!("a decision names item {}, not in the snapshot", decision.item),
            ));
        }
        all.push(decision.clone());
        decisions.entry(decision.item).or_default().push(decision);
    }
    let mut summary = ExportSummary {
        campaign: id.to_owned(),
        name: text(campaign, "/definition/name").to_owned(),
        state: text(campaign, "/state").to_owned(),
        items: items.len(),
        ..ExportSummary::default()
    };
    let mut reviewers = std::collections::BTreeSet::new();
    for item in &items {
        let list = decisions.get(&item.number).map(Vec::as_slice).unwrap_or_default();
        check_item(item, list, &found, &mut summary)?;
        reviewers.extend(list.iter().filter_map(|d| d.reviewer));
    }
    summary.reviewers = reviewers.len();
    // Field by field above named what was edited; the digests catch the rest.
    let expected_snapshot = text(open, "/details/snapshot_digest");
    if snapshot_digest(&items) != expected_snapshot {
        return Err(ExportProblem::general(
            "the snapshot does not recompute to the digest its review.open entry signed",
        ));
    }
    if open.pointer("/details/items").and_then(Value::as_u64) != Some(items.len() as u64) {
        return Err(ExportProblem::general("the snapshot's item count differs from its review.open entry"));
    }
    if text(open, "/action") == "review.skip" {
        return Ok(summary);
    }
    let close =
        found.close.ok_or_else(|| ExportProblem::general(format!("campaign `{id}` is not closed in this file")))?;
    if decisions_digest(&all) != text(close, "/details/decisions_digest") {
        return Err(ExportProblem::general(
            "the decisions do not recompute to the digest the review.close entry signed",
        ));
    }
    Ok(summary)
}

fn check_item(
    item: &ReviewItem,
    decisions: &[Decision],
    found: &Entries<'_>,
    summary: &mut ExportSummary,
) -> Result<(), ExportProblem> {
    let number = item.number;
    let mut so_far: Vec<Decision> = Vec::new();
    for decision in decisions {
        if progress(item, &so_far).outcome.is_some() {
            return Err(ExportProblem::at(number, format!("item {number} has a second decision after its final one")));
        }
        if decision.sequence as usize != so_far.len() {
            return Err(ExportProblem::at(number, format!("item {number}: its decisions are out of sequence")));
        }
        let entry = match decision.reviewer {
            Some(reviewer) => {
                if item.is_subject(reviewer) {
                    return Err(ExportProblem::at(
                        number,
                        format!("item {number}: {reviewer} reviewed their own access"),
                    ));
                }
                let entry = found.decided.get(&(u64::from(number), u64::from(decision.sequence))).ok_or_else(|| {
                    ExportProblem::at(
                        number,
                        format!("item {number}: decision {} has no proved review.decide entry", decision.sequence),
                    )
                })?;
                if text(entry, "/actor") != reviewer.to_string() {
                    return Err(ExportProblem::at(
                        number,
                        format!("item {number}: the decision's reviewer is not its entry's actor"),
                    ));
                }
                summary.decisions += 1;
                entry
            }
            None => {
                summary.defaults += 1;
                found.defaulted.get(&u64::from(number)).ok_or_else(|| {
                    ExportProblem::at(number, format!("item {number}: its default has no proved review.default entry"))
                })?
            }
        };
        let verdict = super::codec::verdict_to_json(&decision.verdict);
        if entry.pointer("/details/decision") != Some(&verdict)
            || text(entry, "/details/target") != item.target
            || text(entry, "/details/identity") != item.identity.to_string()
            || text(entry, "/details/kind") != item.kind.as_str()
        {
            return Err(ExportProblem::at(number, format!("item {number} differs from the entry that decided it")));
        }
        so_far.push(decision.clone());
    }
    let outcome = progress(item, &so_far)
        .outcome
        .ok_or_else(|| ExportProblem::at(number, format!("item {number} has no final decision")))?;
    match &outcome {
        Verdict::Keep { .. } => summary.kept += 1,
        Verdict::Revoke => summary.revoked += 1,
        Verdict::Narrow { .. } => summary.narrowed += 1,
        Verdict::Suspend => summary.suspended += 1,
        Verdict::Delegate { .. } => {}
    }
    let removes = matches!(outcome, Verdict::Revoke | Verdict::Narrow { .. }) && item.kind != ItemKind::Change;
    if removes {
        let key = format!("{}:{}", item.kind.as_str(), item.target);
        if !found.revoked.contains_key(&key) {
            return Err(ExportProblem::at(
                number,
                format!("item {number}: `{}` was decided but no revocation of `{key}` is in the file", outcome.name()),
            ));
        }
        summary.revocations_found += 1;
    }
    Ok(())
}

/// The sections of an export, from the campaign's own records (the server
/// adds the campaign's header).
pub fn export_sections(items: &[ReviewItem], decisions: &[Decision]) -> (Value, Value) {
    (
        Value::Array(items.iter().map(item_to_json).collect()),
        Value::Array(decisions.iter().map(decision_to_json).collect()),
    )
}
