//! Building the auditor's evidence file: the I/O around
//! `gatehouse_domain::evidence` (which entries to include, what is
//! missing, the summary) and `gatehouse_audit::bundle` (proofs).
//!
//! The log is read in pages, one search per kind of entry, each bounded by
//! the latest checkpoint (nothing after it can be proved against it) and,
//! where the rules allow, by time: deployments in the period; the trails of
//! the requests they used, from the oldest request's creation (its id is a
//! UUIDv7) on; the signature verdicts in each deployed project; the
//! registration and compliance entries of the integrations that deployed;
//! the reviews closed in the period. Only the entries chosen are kept, once.
//! Their proofs read the tree's nodes a batch at a time through the store
//! (its in-memory mirror), as `api/audit.rs` does for one proof.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gatehouse_audit::bundle::Bundle;
use gatehouse_domain::audit::AuditEntry;
use gatehouse_domain::evidence::{self, DeploymentPath, DeploymentStart, EvidenceQuery, Wanted};
use gatehouse_domain::store::{AuditFilter, Store, StoreError};
use serde_json::Value;

/// Entries per search page: the most the store answers.
const PAGE: u32 = gatehouse_domain::store::PageRequest::MAX_LIMIT;

/// Why the evidence file could not be built: the proofs' reasons.
pub use crate::proofs::ProofError as EvidenceError;

/// The entries chosen, by index.
#[derive(Default)]
struct Chosen {
    entries: BTreeMap<u64, AuditEntry>,
}

impl Chosen {
    fn add(&mut self, entry: AuditEntry) {
        self.entries.entry(entry.index).or_insert(entry);
    }
}

/// Every entry matching `filter` from index `start`, below `size`, page by
/// page, handed to `each`.
async fn scan(
    store: &dyn Store,
    filter: &AuditFilter,
    start: u64,
    size: u64,
    mut each: impl FnMut(AuditEntry),
) -> Result<(), StoreError> {
    let mut next = start;
    while next < size {
        // The store may answer fewer than asked (it caps a page), so only
        // an empty page ends the scan.
        let page = store.search_audit(filter, next, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for entry in page {
            if entry.index >= size {
                return Ok(());
            }
            next = entry.index + 1;
            each(entry);
        }
    }
    Ok(())
}

fn action(action: &str) -> AuditFilter {
    AuditFilter { action: Some(action.to_owned()), ..AuditFilter::default() }
}

/// Builds the evidence file for `query` against the latest checkpoint.
pub async fn build(store: &dyn Store, query: &EvidenceQuery) -> Result<Bundle, EvidenceError> {
    let checkpoint = store.latest_checkpoint().await?.ok_or(EvidenceError::NoCheckpoint)?;
    let size = checkpoint.tree_size;
    let mut chosen = Chosen::default();
    let mut wanted = Wanted::default();
    let mut held: Vec<DeploymentStart> = Vec::new();
    // Deployment index per principal, for their integrations' states.
    let mut deployed_by: HashMap<String, Vec<u64>> = HashMap::new();

    // Deployments in the period.
    for kind in ["authorize", "deployment.execute"] {
        let filter = AuditFilter { since: Some(query.from), until: Some(query.to), ..action(kind) };
        scan(store, &filter, 0, size, |entry| {
            if let Some(start) = evidence::deployment_of(&entry.to_json(), query) {
                wanted.add(&start);
                deployed_by.entry(start.principal.clone()).or_default().push(start.index);
                if start.path == DeploymentPath::GithubHeld && start.request.is_none() {
                    held.push(start);
                }
                chosen.add(entry);
            }
        })
        .await?;
    }
    held.sort_by_key(|start| start.index);

    // The requests they used: first the requests held GitHub deployments
    // asked for, then every trail.
    let oldest = wanted.requests.iter().filter_map(|id| evidence::request_created_at(id)).min();
    let since = oldest.map_or(query.from, |oldest| oldest.min(query.from)) - time::Duration::hours(1);
    if !held.is_empty() {
        let mut creates: Vec<(Value, AuditEntry)> = Vec::new();
        let keys: BTreeSet<(&str, &str)> =
            held.iter().map(|start| (start.principal.as_str(), start.resource.as_str())).collect();
        let filter = AuditFilter { since: Some(query.from), ..action("request.create") };
        scan(store, &filter, held[0].index + 1, size, |entry| {
            let json = entry.to_json();
            let actor = json.get("actor").and_then(Value::as_str).unwrap_or_default();
            let resource = json.pointer("/details/resource").and_then(Value::as_str).unwrap_or_default();
            if keys.contains(&(actor, resource)) {
                creates.push((json, entry));
            }
        })
        .await?;
        // As `evidence::read` pairs them: each held deployment takes the
        // first request after it not taken by an earlier one.
        let mut taken = vec![false; creates.len()];
        for start in &held {
            let found = creates
                .iter()
                .enumerate()
                .find(|(i, (json, _))| !taken[*i] && evidence::is_request_of_held(start, json));
            if let Some((i, (json, _))) = found {
                taken[i] = true;
                if let Some(request) = evidence::request_of(json) {
                    wanted.requests.insert(request.to_owned());
                }
            }
        }
    }
    if !wanted.requests.is_empty() {
        for kind in evidence::REQUEST_ACTIONS {
            let filter = AuditFilter { since: Some(since), ..action(kind) };
            scan(store, &filter, 0, size, |entry| {
                let json = entry.to_json();
                if evidence::request_of(&json).is_some_and(|request| wanted.requests.contains(request)) {
                    chosen.add(entry);
                }
            })
            .await?;
        }
    }

    // Signature verdicts of the commits deployed, project by project.
    for (project, commits) in &wanted.commits {
        for kind in evidence::VERDICT_ACTIONS {
            let filter =
                AuditFilter { resource: Some(format!("project:{project}")), until: Some(query.to), ..action(kind) };
            scan(store, &filter, 0, size, |entry| {
                let json = entry.to_json();
                if evidence::verdicts_in(&json).iter().any(|(commit, ..)| commits.contains(commit)) {
                    chosen.add(entry);
                }
            })
            .await?;
        }
    }

    // Integrations that deployed: their registration and, for each
    // deployment, the latest compliance state before it.
    for principal in &wanted.principals {
        let Ok(identity) = principal.parse() else { continue };
        let Some(integration) = store.integration_of_identity(identity).await? else { continue };
        let filter = AuditFilter {
            resource: Some(format!("integration:{}", integration.id)),
            until: Some(query.to),
            ..AuditFilter::default()
        };
        let mut states: Vec<AuditEntry> = Vec::new();
        scan(store, &filter, 0, size, |entry| {
            let json = entry.to_json();
            if evidence::registration_in(&json).is_some() {
                chosen.add(entry);
            } else if evidence::integration_state_of(&json).is_some() {
                states.push(entry);
            }
        })
        .await?;
        let deployments = deployed_by.get(principal).map(Vec::as_slice).unwrap_or_default();
        let mut latest: BTreeSet<usize> = BTreeSet::new();
        for &at in deployments {
            let before = states.partition_point(|state| state.index < at);
            if before > 0 {
                latest.insert(before - 1);
            }
        }
        for (i, state) in states.into_iter().enumerate() {
            if latest.contains(&i) {
                chosen.add(state);
            }
        }
    }

    // Access reviews closed in the period.
    let filter = AuditFilter { since: Some(query.from), until: Some(query.to), ..action(evidence::REVIEW_CLOSE) };
    scan(store, &filter, 0, size, |entry| chosen.add(entry)).await?;

    let leaves: Vec<(u64, String)> = chosen
        .entries
        .into_values()
        .map(|entry| {
            String::from_utf8(entry.leaf_bytes())
                .map(|leaf| (entry.index, leaf))
                .map_err(|_| EvidenceError::Inconsistent(format!("entry {} is not UTF-8", entry.index)))
        })
        .collect::<Result<_, _>>()?;
    let values: Vec<Value> = leaves
        .iter()
        .map(|(index, leaf)| {
            serde_json::from_str(leaf).map_err(|_| EvidenceError::Inconsistent(format!("entry {index} is not JSON")))
        })
        .collect::<Result<_, _>>()?;
    let sections = evidence::read(query, &values).sections(query);
    drop(values);

    crate::proofs::bundle_of_leaves(store, evidence::FORMAT, leaves, sections).await
}
