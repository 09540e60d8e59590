//! The audit log: entries with filters, each with its inclusion proof; the
//! latest signed checkpoint; an export. Every page asks for `audit.read` as
//! the API does (a refusal is a 403 page and a `denied` entry), reads
//! through the API's own functions (`api::audit`: the filter, the latest
//! checkpoint, the audit path, the verifier key) and shows nothing before.

use std::pin::Pin;
use std::task::{Context, Poll};

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::export::{checkpoint_line, entry_line, header_line};
use gatehouse_audit::merkle;
use gatehouse_audit::note_key::NoteVerifier;
use gatehouse_domain::audit::{AuditAction, AuditEntry};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::store::AuditFilter;
use serde::Deserialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::extract::{PageId, PageQuery};
use super::names::Names;
use super::page::{Chrome, Instant, PageError, Section, encode_query, render};
use super::viewer::Viewer;
use crate::api::audit::{FilterText, OUTCOMES, audit_filter, inclusion_hashes, latest, verifier_key};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::routing::{Undocumented, undocumented};
use crate::state::AppState;

/// This area's routes, with their whole paths.
pub fn routes() -> Vec<Undocumented> {
    vec![
        undocumented(Method::GET, "/ui/audit", log),
        undocumented(Method::GET, "/ui/audit/entries/{seq}", entry),
        undocumented(Method::GET, "/ui/audit/checkpoint", checkpoint),
        undocumented(Method::GET, "/ui/audit/export", export),
    ]
}

/// Entries per page of the log.
const PAGE_ROWS: u32 = 50;

/// The longest filter value a page reads (an id, an action, a resource).
const MAX_FILTER_BYTES: usize = 256;

/// Leaves per read of the export (and per chunk sent).
const EXPORT_PAGE: u32 = 2_000;

/// Every page here needs what `GET /api/v1/audit/…` needs, decided and
/// recorded the same way.
async fn may_read(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    caller.authorize_read(state, Action::AuditRead, Resource::Gatehouse).await
}

/// One entry in the log's table.
pub struct Row {
    pub seq: u64,
    pub time: Instant,
    pub actor: String,
    /// The log filtered to this actor.
    pub by_actor: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
}

/// The log filtered to one field's value.
fn filtered_by(name: &str, value: &str) -> String {
    format!("/ui/audit?{name}={}", encode_query(value))
}

/// A choice of a `<select>`.
pub struct Choice {
    pub value: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct LogPage {
    chrome: Chrome,
    rows: Vec<Row>,
    actor: String,
    resource: String,
    from: String,
    to: String,
    actions: Vec<Choice>,
    outcomes: Vec<Choice>,
    /// Whether any filter is set.
    filtered: bool,
    /// The link to the older entries, the newer ones, the newest.
    older: Option<String>,
    newer: Option<String>,
    newest: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// An identity id, `anonymous` or `system`.
    actor: Option<String>,
    /// An audit action, e.g. `token.create`.
    action: Option<String>,
    /// A resource, e.g. `identity:<id>`.
    resource: Option<String>,
    /// `success`, `denied` or `failure`.
    outcome: Option<String>,
    /// Entries at or after this time (RFC 3339, or a form's local time read as UTC).
    from: Option<String>,
    /// Entries before this time.
    to: Option<String>,
    /// The cursor to older entries: those below this index.
    before: Option<String>,
    /// The cursor to newer entries: those above this index.
    after: Option<String>,
}

/// A filter as the page read it, to show and to carry in its links.
struct Filters {
    actor: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    outcome: Option<String>,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
}

impl Filters {
    /// Reads the query's filters: a blank field is no filter; an unknown
    /// action or outcome, a time that does not parse or a value too long
    /// is a 400. The API's own parsing decides what the rest mean.
    fn read(query: &LogQuery) -> Result<(Self, AuditFilter), ApiError> {
        let field = |name: &str, raw: &Option<String>| -> Result<Option<String>, ApiError> {
            let value = raw.as_deref().map(str::trim).filter(|value| !value.is_empty());
            match value {
                Some(value) if value.len() > MAX_FILTER_BYTES => {
                    Err(ApiError::BadRequest(format!("the {name} filter is longer than {MAX_FILTER_BYTES} characters")))
                }
                other => Ok(other.map(str::to_owned)),
            }
        };
        let actor = field("actor", &query.actor)?;
        let action = field("action", &query.action)?;
        let resource = field("resource", &query.resource)?;
        let outcome = field("outcome", &query.outcome)?;
        let from = field("from", &query.from)?.map(|raw| as_rfc3339(&raw));
        let to = field("to", &query.to)?.map(|raw| as_rfc3339(&raw));
        if let Some(action) = &action
            && !AuditAction::ALL.iter().any(|known| known.as_str() == action)
        {
            return Err(ApiError::BadRequest(format!(
                "`{action}` is not an audit action: docs/audit-actions.md lists them"
            )));
        }
        let filter = audit_filter(FilterText {
            actor: actor.clone(),
            action: action.clone(),
            resource: resource.clone(),
            outcome: outcome.clone(),
            since: ("from", from.as_deref()),
            until: ("to", to.as_deref()),
        })?;
        let filters = Self { actor, action, resource, outcome, from: filter.since, to: filter.until };
        Ok((filters, filter))
    }

    fn any(&self) -> bool {
        self.actor.is_some()
            || self.action.is_some()
            || self.resource.is_some()
            || self.outcome.is_some()
            || self.from.is_some()
            || self.to.is_some()
    }

    /// The page's link with these filters and `cursor` (`before=N`, `after=N`).
    fn link(&self, cursor: Option<(&str, u64)>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (name, value) in
            [("actor", &self.actor), ("action", &self.action), ("resource", &self.resource), ("outcome", &self.outcome)]
        {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        for (name, at) in [("from", self.from), ("to", self.to)] {
            if let Some(at) = at {
                pairs.push((name, gatehouse_domain::clock::format_rfc3339(at)));
            }
        }
        if let Some((name, index)) = cursor {
            pairs.push((name, index.to_string()));
        }
        let query: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={}", encode_query(value))).collect();
        if query.is_empty() { "/ui/audit".to_owned() } else { format!("/ui/audit?{}", query.join("&")) }
    }
}

/// A browser's `datetime-local` value (`2026-12-01T09:30`, seconds
/// optional) is read as UTC, as the form says; anything else is left to the
/// API's RFC 3339 parsing.
fn as_rfc3339(raw: &str) -> String {
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(raw, &seconds)
        .or_else(|_| PrimitiveDateTime::parse(raw, &minutes))
        .map_or_else(|_| raw.to_owned(), |local| gatehouse_domain::clock::format_rfc3339(local.assume_utc()))
}

/// A time as a `datetime-local` field shows it, in UTC.
fn as_local(at: Option<OffsetDateTime>) -> String {
    at.and_then(|at| {
        at.to_offset(time::UtcOffset::UTC)
            .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
            .ok()
    })
    .unwrap_or_default()
}

/// A cursor this log could have made: an index no greater than its size.
fn cursor(name: &str, raw: Option<&str>, size: u64) -> Result<Option<u64>, ApiError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    let index = raw
        .parse::<u64>()
        .ok()
        .filter(|index| raw.bytes().all(|b| b.is_ascii_digit()) && *index <= size)
        .ok_or_else(|| ApiError::BadRequest(format!("`{raw}` is not a `{name}` cursor of this log")))?;
    Ok(Some(index))
}

/// `GET /ui/audit`: the log, newest first, filtered, a page at a time.
pub async fn log(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageQuery(query): PageQuery<LogQuery>,
) -> Result<Response, PageError> {
    may_read(&state, &caller).await?;
    let (filters, filter) = Filters::read(&query)?;
    let size = state.store.audit_size().await?;
    let before = cursor("before", query.before.as_deref(), size)?;
    let after = cursor("after", query.after.as_deref(), size)?;
    let entries = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("a page has one cursor: before or after, not both".into()).into());
        }
        (_, Some(after)) => {
            let mut newer = state.store.search_audit(&filter, after + 1, PAGE_ROWS).await?;
            newer.reverse();
            newer
        }
        (before, None) => state.store.search_audit_newest(&filter, before, PAGE_ROWS).await?,
    };
    let older = match entries.last() {
        Some(last) if !state.store.search_audit_newest(&filter, Some(last.index), 1).await?.is_empty() => {
            Some(filters.link(Some(("before", last.index))))
        }
        _ => None,
    };
    let newer = match entries.first() {
        Some(first) if !state.store.search_audit(&filter, first.index + 1, 1).await?.is_empty() => {
            Some(filters.link(Some(("after", first.index))))
        }
        _ => None,
    };
    let mut names = Names::new(&state);
    let mut rows = Vec::with_capacity(entries.len());
    for entry in &entries {
        let record = &entry.record;
        rows.push(Row {
            seq: entry.index,
            time: Instant::of(record.time),
            actor: names.of_actor(&record.actor).await?,
            by_actor: filtered_by("actor", record.actor.id()),
            action: record.action.clone(),
            resource: record.resource.clone(),
            outcome: record.outcome.as_str().to_owned(),
        });
    }
    let choices = |values: &mut dyn Iterator<Item = &'static str>, chosen: &Option<String>| -> Vec<Choice> {
        values.map(|value| Choice { value, selected: chosen.as_deref() == Some(value) }).collect()
    };
    let page = LogPage {
        chrome: Chrome::page(&state, &caller, "Audit log", Section::Audit),
        rows,
        actions: choices(&mut AuditAction::ALL.iter().map(|action| action.as_str()), &filters.action),
        outcomes: choices(&mut OUTCOMES.iter().copied(), &filters.outcome),
        actor: filters.actor.clone().unwrap_or_default(),
        resource: filters.resource.clone().unwrap_or_default(),
        from: as_local(filters.from),
        to: as_local(filters.to),
        filtered: filters.any(),
        older,
        newest: (before.is_some() || after.is_some()).then(|| filters.link(None)),
        newer,
    };
    render(&page)
}

/// An entry's inclusion proof against the latest signed checkpoint.
pub struct ProofView {
    pub tree_size: u64,
    pub root: String,
    pub hashes: Vec<String>,
    /// The path leads from the leaf hash to the checkpoint's root.
    pub verifies: bool,
    pub signed: Instant,
}

#[derive(Template)]
#[template(path = "audit_entry.html")]
struct EntryPage {
    chrome: Chrome,
    seq: u64,
    time: Instant,
    actor: String,
    actor_id: String,
    actor_kind: String,
    action: String,
    resource: String,
    outcome: String,
    reason: String,
    request_id: Option<String>,
    source_ip: Option<String>,
    mfa: bool,
    details: String,
    /// The log filtered to this entry's actor, and to its resource.
    by_actor: String,
    by_resource: String,
    prev_root: Option<String>,
    leaf_hash: String,
    /// None while the entry is newer than the latest checkpoint.
    proof: Option<ProofView>,
    /// The size of the latest checkpoint when it does not cover the entry.
    checkpoint_size: u64,
}

/// The entry at `seq`, or a 404.
async fn find_entry(state: &AppState, seq: u64) -> Result<AuditEntry, ApiError> {
    state
        .store
        .list_audit(seq, 1)
        .await?
        .into_iter()
        .find(|entry| entry.index == seq)
        .ok_or_else(|| ApiError::NotFound(format!("the audit log has no entry {seq}")))
}

/// `GET /ui/audit/entries/{seq}`: the entry whole, its leaf hash, and its
/// audit path to the latest signed checkpoint's root.
pub async fn entry(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    PageId(seq): PageId<u64>,
) -> Result<Response, PageError> {
    may_read(&state, &caller).await?;
    let entry = find_entry(&state, seq).await?;
    let checkpoint = latest(&state).await?;
    let leaf_hash = merkle::leaf_hash(&entry.leaf_bytes());
    let proof = if seq < checkpoint.tree_size {
        let hashes = inclusion_hashes(&state, seq, checkpoint.tree_size).await?;
        Some(ProofView {
            tree_size: checkpoint.tree_size,
            root: STANDARD.encode(checkpoint.root),
            verifies: merkle::verify_inclusion(&leaf_hash, seq, checkpoint.tree_size, &hashes, &checkpoint.root),
            hashes: hashes.iter().map(|hash| STANDARD.encode(hash)).collect(),
            signed: Instant::of(checkpoint.created_at),
        })
    } else {
        None
    };
    let record = &entry.record;
    let details = serde_json::to_string_pretty(&record.details)
        .map_err(|error| ApiError::Internal(format!("entry {seq}'s details: {error}")))?;
    let page = EntryPage {
        chrome: Chrome::page(&state, &caller, format!("Audit entry {seq}"), Section::Audit),
        seq,
        time: Instant::of(record.time),
        actor: Names::new(&state).of_actor(&record.actor).await?,
        actor_id: record.actor.id().to_owned(),
        actor_kind: record.actor.kind().to_owned(),
        action: record.action.clone(),
        resource: record.resource.clone(),
        outcome: record.outcome.as_str().to_owned(),
        reason: record.reason.clone(),
        request_id: record.origin.request_id.clone(),
        source_ip: record.origin.source_ip.clone(),
        mfa: record.mfa,
        details,
        by_actor: filtered_by("actor", record.actor.id()),
        by_resource: filtered_by("resource", &record.resource),
        prev_root: entry.prev_root.map(|root| STANDARD.encode(root)),
        leaf_hash: STANDARD.encode(leaf_hash),
        proof,
        checkpoint_size: checkpoint.tree_size,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "audit_checkpoint.html")]
struct CheckpointPage {
    chrome: Chrome,
    note: String,
    origin: String,
    tree_size: u64,
    root: String,
    signed: Instant,
    public_key: String,
    key_name: String,
    key_id: String,
    /// The note's signature verifies with the public key shown.
    verifies: bool,
    /// Why it does not, when it does not.
    problem: Option<String>,
    export_name: String,
}

/// `GET /ui/audit/checkpoint`: the latest signed checkpoint, the key that
/// verifies it, and how to check the log offline.
pub async fn checkpoint(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    may_read(&state, &caller).await?;
    let stored = latest(&state).await?;
    let public_key = verifier_key(&state).await?;
    let verifier = NoteVerifier::parse(&public_key)
        .map_err(|error| ApiError::Internal(format!("the audit verifier key does not parse: {error}")))?;
    let opened = Checkpoint::open(&stored.note, &verifier);
    let (origin, verifies, problem) = match &opened {
        Ok(opened) if opened.size == stored.tree_size && opened.root == stored.root => {
            (opened.origin.clone(), true, None)
        }
        Ok(opened) => {
            (opened.origin.clone(), false, Some("the signed note names another tree than the one stored".into()))
        }
        Err(error) => (String::new(), false, Some(error.to_string())),
    };
    let page = CheckpointPage {
        chrome: Chrome::page(&state, &caller, "Latest signed checkpoint", Section::Audit),
        note: stored.note.clone(),
        origin,
        tree_size: stored.tree_size,
        root: STANDARD.encode(stored.root),
        signed: Instant::of(stored.created_at),
        key_name: verifier.name().to_owned(),
        key_id: hex::encode(verifier.key_id()),
        public_key,
        verifies,
        problem,
        export_name: export_name(stored.tree_size),
    };
    render(&page)
}

fn export_name(size: u64) -> String {
    format!("gatehouse-audit-{size}.jsonl")
}

/// The export's lines as they are read, a chunk at a time.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}

/// `GET /ui/audit/export`: the file `gatehouse audit export` writes (the
/// same library lines: the header, every entry up to the latest checkpoint,
/// the checkpoint), streamed as it is read, so any size takes constant
/// memory. A read that fails midway ends the download early: the file then
/// has no checkpoint line and `gatehouse audit verify` refuses it.
pub async fn export(State(state): State<AppState>, Viewer(caller): Viewer) -> Result<Response, PageError> {
    may_read(&state, &caller).await?;
    let installation = state
        .store
        .find_installation()
        .await?
        .ok_or_else(|| ApiError::NotFound("gatehouse is not initialized".into()))?;
    let checkpoint = latest(&state).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let head = format!("{}\n", header_line(&installation.audit_origin, &installation.audit_public_key));
    let size = checkpoint.tree_size;
    tokio::spawn(async move {
        if sender.send(Ok(Bytes::from(head))).await.is_err() {
            return;
        }
        let mut next = 0u64;
        while next < size {
            let limit = u32::try_from((size - next).min(u64::from(EXPORT_PAGE))).unwrap_or(EXPORT_PAGE);
            let chunk = match state.store.list_audit_leaves(next, limit).await {
                Ok(leaves) if leaves.first().is_some_and(|(index, _)| *index == next) => {
                    let mut chunk = String::new();
                    for (index, leaf) in leaves {
                        if index != next || index >= size {
                            break;
                        }
                        chunk.push_str(&entry_line(index, &leaf));
                        chunk.push('\n');
                        next += 1;
                    }
                    Ok(Bytes::from(chunk))
                }
                Ok(_) => Err(std::io::Error::other(format!("audit entry {next} is missing from the database"))),
                Err(error) => Err(std::io::Error::other(format!("reading the audit log failed: {error}"))),
            };
            let failed = chunk.is_err();
            if let Err(error) = &chunk {
                tracing::error!(%error, "the audit export stopped");
            }
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
        let _ = sender.send(Ok(Bytes::from(format!("{}\n", checkpoint_line(&checkpoint.note))))).await;
    });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", export_name(size)))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, Body::new(Chunks(receiver))).into_response())
}
