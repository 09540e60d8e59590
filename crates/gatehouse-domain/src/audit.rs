//! Audit records: one per state change, decision, login and failed
//! authentication. A record becomes an entry when the store gives it its
//! index, in the same transaction as the change it describes. The entry's
//! leaf bytes — what the Merkle tree hashes — are its canonical JSON
//! (RFC 8785).
//!
//! INVARIANT: a record that can accompany a store write is made only from an
//! [`Authorized`] (a caller passed a check), a named [`SystemWriter`]
//! (gatehouse acting on its own), or a record that was (SCIM group
//! reconciliation derives grants from the SCIM call). Everything else —
//! refusals, decisions, verifications that prove no author, failed logins —
//! is an [`Observation`], which can only be appended to the log on its own.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::authorization::Authorized;
use crate::clock::{format_rfc3339, write_rfc3339};
use crate::identity::Identity;
use crate::ids::RequestId;
use crate::store::{Store, StoreError};

mod action;

pub use action::AuditAction;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Identity {
        id: String,
        kind: String,
    },
    /// Nobody we could authenticate.
    Anonymous,
    /// gatehouse itself (initialization, migrations, sweeps).
    System,
}

impl Actor {
    pub fn identity(identity: &Identity) -> Self {
        Actor::Identity { id: identity.id.to_string(), kind: identity.kind.as_str().to_owned() }
    }

    /// Rebuilds an actor from its stored `actor` and `actor_kind` fields.
    pub fn from_parts(id: &str, kind: &str) -> Self {
        match (id, kind) {
            ("anonymous", "anonymous") => Actor::Anonymous,
            ("system", "system") => Actor::System,
            _ => Actor::Identity { id: id.to_owned(), kind: kind.to_owned() },
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Actor::Identity { id, .. } => id,
            Actor::Anonymous => "anonymous",
            Actor::System => "system",
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Actor::Identity { kind, .. } => kind,
            Actor::Anonymous => "anonymous",
            Actor::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Refused by authorization.
    Denied,
    /// Failed for another reason (bad credentials, conflict).
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Denied, Outcome::Failure].into_iter().find(|o| o.as_str() == s)
    }
}

/// Where a request came from, for the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    /// gatehouse's own id for the request: never chosen by the client.
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    /// The id the client sent (`X-Request-Id`), already checked for length
    /// and characters; recorded as `details.client_request_id`.
    pub client_request_id: Option<String>,
}

impl RequestOrigin {
    pub fn local_command() -> Self {
        Self { request_id: Some(RequestId::new().to_string()), ..Self::default() }
    }
}

/// An audit entry before the store numbers it. Made by the constructors
/// below, never as a literal (a private field forbids it):
///
/// ```compile_fail
/// use gatehouse_domain::audit::{Actor, AuditRecord, Outcome, RequestOrigin};
/// let forged = AuditRecord {
///     time: time::OffsetDateTime::UNIX_EPOCH,
///     actor: Actor::System,
///     action: "token.create".into(),
///     resource: "token:t".into(),
///     outcome: Outcome::Success,
///     reason: String::new(),
///     origin: RequestOrigin::default(),
///     mfa: false,
///     details: serde_json::Value::Null,
/// };
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub time: OffsetDateTime,
    pub actor: Actor,
    pub action: String,
    pub resource: String,
    pub outcome: Outcome,
    pub reason: String,
    pub origin: RequestOrigin,
    pub mfa: bool,
    /// What an investigator needs: ids, old and new values. Never a secret.
    /// Integers, strings, booleans, arrays and objects only (no floats), so
    /// the canonical form is unambiguous.
    pub details: Value,
    /// Keeps the struct from being written as a literal outside this
    /// module: see the constructors.
    sealed: Sealed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sealed;

/// gatehouse itself, writing on its own account (no caller asked, or the
/// caller was authenticated by something other than a policy decision).
/// Each variant is one place that writes this way; see ARCHITECTURE.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemWriter {
    /// `gatehouse init`: the installation, first admin, grant and token.
    Initialization,
    /// `gatehouse serve` reloading the policy folder on SIGHUP.
    PolicyReload,
    /// A person's OIDC login: just-in-time provisioning and the session.
    SsoLogin,
    /// A CI job's OIDC token exchanged for a gatehouse token.
    WorkloadExchange,
    /// A signed GitHub or GitLab webhook delivery and its callbacks.
    Webhook,
    /// A commit whose signature gatehouse verified (`/verify/commit`,
    /// `/verify/push`): who signed it, recorded for separation of duties;
    /// and an accepted push's `pipeline.config.changed`. The actor is
    /// whoever asked; the fact is the signature's.
    SignatureVerification,
    /// The outbox delivering a notification about a request: its result.
    Notification,
    /// The scheduler (one node of a cluster at a time): expiring requests
    /// and approvals at their instant, and raising overdue break-glass
    /// after-reviews.
    Scheduler,
    /// An integration's onboarding carried out when its request was
    /// decided (by a vote, a cancel or the scheduler's expiry).
    Onboarding,
    /// A review campaign opened by an event (a pipeline change, a contract
    /// renewal, an onboarding, the directory) rather than by a person.
    ReviewTrigger,
}

impl AuditRecord {
    fn raw(time: OffsetDateTime, actor: Actor, action: &str, resource: String) -> Self {
        Self {
            time,
            actor,
            action: action.to_owned(),
            resource,
            outcome: Outcome::Success,
            reason: String::new(),
            origin: RequestOrigin::default(),
            mfa: false,
            details: Value::Object(Map::new()),
            sealed: Sealed,
        }
    }

    /// Any record at all: for storage tests and fixtures only (the feature
    /// `conformance`, which only dev-dependencies turn on).
    #[cfg(any(test, feature = "conformance"))]
    pub fn new(time: OffsetDateTime, actor: Actor, action: &str, resource: impl Into<String>) -> Self {
        Self::raw(time, actor, action, resource.into())
    }

    /// The record of a write a caller was authorized for: the actor and the
    /// request's origin are the authorization's.
    pub fn authorized(by: &Authorized, time: OffsetDateTime, action: AuditAction, resource: impl Into<String>) -> Self {
        let mut record = Self::raw(time, by.actor().clone(), action.as_str(), resource.into()).origin(by.origin());
        record.mfa = by.mfa_fresh_at(time);
        record
    }

    /// The record of a write gatehouse makes on its own, as `writer`; the
    /// actor is `system`.
    pub fn system(
        writer: SystemWriter,
        time: OffsetDateTime,
        action: AuditAction,
        resource: impl Into<String>,
    ) -> Self {
        Self::system_for(writer, Actor::System, time, action, resource)
    }

    /// The record of a write gatehouse makes on its own, as `writer`, for an
    /// `actor` it authenticated otherwise (an OIDC login, a CI job's token,
    /// a deployment a webhook decided).
    pub fn system_for(
        _writer: SystemWriter,
        actor: Actor,
        time: OffsetDateTime,
        action: AuditAction,
        resource: impl Into<String>,
    ) -> Self {
        Self::raw(time, actor, action.as_str(), resource.into())
    }

    /// A further record of the same authorized write (same actor and
    /// origin), e.g. the grants a SCIM group change implies.
    pub fn derived(&self, time: OffsetDateTime, action: AuditAction, resource: impl Into<String>) -> Self {
        Self::raw(time, self.actor.clone(), action.as_str(), resource.into()).origin(&self.origin)
    }

    /// A record read back from storage, as it was written. Only the store's
    /// row mapping calls this (clippy.toml forbids it elsewhere).
    #[allow(clippy::too_many_arguments)]
    pub fn unchecked_from_storage(
        time: OffsetDateTime,
        actor: Actor,
        action: String,
        resource: String,
        outcome: Outcome,
        reason: String,
        origin: RequestOrigin,
        mfa: bool,
        details: Value,
    ) -> Self {
        Self { time, actor, action, resource, outcome, reason, origin, mfa, details, sealed: Sealed }
    }

    pub fn outcome(mut self, outcome: Outcome, reason: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.reason = reason.into();
        self
    }

    pub fn origin(mut self, origin: &RequestOrigin) -> Self {
        self.origin = origin.clone();
        self.with_client_request_id()
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self.with_client_request_id()
    }

    /// The client's own request id goes beside gatehouse's, in the details,
    /// whichever of `origin` and `details` is given last.
    fn with_client_request_id(mut self) -> Self {
        if let (Some(id), Value::Object(details)) = (&self.origin.client_request_id, &mut self.details) {
            details.insert("client_request_id".into(), Value::String(id.clone()));
        }
        self
    }

    /// The entry this record becomes at `index`, in a log whose first
    /// `index` entries have the Merkle root `prev_root`.
    pub fn into_entry(self, index: u64, prev_root: Option<[u8; 32]>) -> AuditEntry {
        AuditEntry { index, prev_root, record: self }
    }
}

/// A record that changes nothing but the log: a refusal, a decision, a
/// verification, a failed login. Anyone may make one; it cannot accompany a
/// store write, only be appended on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation(AuditRecord);

impl Observation {
    pub fn new(time: OffsetDateTime, actor: Actor, action: AuditAction, resource: impl Into<String>) -> Self {
        Self(AuditRecord::raw(time, actor, action.as_str(), resource.into()))
    }

    pub fn outcome(self, outcome: Outcome, reason: impl Into<String>) -> Self {
        Self(self.0.outcome(outcome, reason))
    }

    pub fn origin(self, origin: &RequestOrigin) -> Self {
        Self(self.0.origin(origin))
    }

    pub fn details(self, details: Value) -> Self {
        Self(self.0.details(details))
    }

    /// The record as it will be written.
    pub fn record(&self) -> &AuditRecord {
        &self.0
    }

    /// Appends this observation to the log; returns its index.
    pub async fn append(self, store: &dyn Store) -> Result<u64, StoreError> {
        store.append_audit(self.0).await
    }

    /// Appends these observations, in order, in one batch.
    pub async fn append_all(observations: Vec<Observation>, store: &dyn Store) -> Result<Vec<u64>, StoreError> {
        store.append_audit_batch(observations.into_iter().map(|observation| observation.0).collect()).await
    }
}

/// A numbered, stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub index: u64,
    /// The root of the tree of the entries before this one. It ties each
    /// entry to its predecessors, so an offline verifier that finds the log
    /// altered can name the first altered entry, not just the checkpoint.
    pub prev_root: Option<[u8; 32]>,
    pub record: AuditRecord,
}

impl AuditEntry {
    pub fn to_json(&self) -> Value {
        let r = &self.record;
        let mut json = serde_json::json!({
            "index": self.index,
            "time": format_rfc3339(r.time),
            "actor": r.actor.id(),
            "actor_kind": r.actor.kind(),
            "action": r.action,
            "resource": r.resource,
            "outcome": r.outcome.as_str(),
            "reason": r.reason,
            "request_id": r.origin.request_id,
            "source_ip": r.origin.source_ip,
            "mfa": r.mfa,
            "details": r.details,
        });
        if let (Some(prev_root), Some(object)) = (self.prev_root, json.as_object_mut()) {
            object.insert("prev_root".into(), Value::String(STANDARD.encode(prev_root)));
        }
        json
    }

    /// The exact bytes the Merkle tree hashes for this entry: the canonical
    /// form of [`AuditEntry::to_json`], written directly (this runs for
    /// every entry the log takes).
    pub fn leaf_bytes(&self) -> Vec<u8> {
        self.leaf_and_details().0
    }

    /// The leaf bytes, and the canonical JSON of the details on their own
    /// (what the store keeps beside the leaf, for queries).
    pub fn leaf_and_details(&self) -> (Vec<u8>, String) {
        let parts = self.record.leaf_parts();
        (parts.leaf(self.index, self.prev_root), parts.details)
    }
}

impl AuditRecord {
    /// The record's leaf, serialized but for what only its place in the log
    /// fixes (index, previous root). Done where the record is made, so the
    /// log's single appender only fills in those two.
    pub fn leaf_parts(&self) -> LeafParts {
        let r = self;
        let mut details = String::with_capacity(256);
        write_canonical(&r.details, &mut details);
        let optional = |value: &Option<String>, out: &mut String| match value {
            Some(value) => write_string(value, out),
            None => out.push_str("null"),
        };
        // Members in canonical order: every key is ASCII, so sorting by
        // UTF-16 code units is sorting by bytes. `index` follows `details`,
        // `prev_root` follows `outcome`.
        let mut head = String::with_capacity(details.len() + 160);
        head.push_str("{\"action\":");
        write_string(&r.action, &mut head);
        head.push_str(",\"actor\":");
        write_string(r.actor.id(), &mut head);
        head.push_str(",\"actor_kind\":");
        write_string(r.actor.kind(), &mut head);
        head.push_str(",\"details\":");
        head.push_str(&details);
        let mut middle = String::with_capacity(40);
        let _ = write!(middle, ",\"mfa\":{}", r.mfa);
        middle.push_str(",\"outcome\":");
        write_string(r.outcome.as_str(), &mut middle);
        let mut tail = String::with_capacity(r.reason.len() + r.resource.len() + 160);
        tail.push_str(",\"reason\":");
        write_string(&r.reason, &mut tail);
        tail.push_str(",\"request_id\":");
        optional(&r.origin.request_id, &mut tail);
        tail.push_str(",\"resource\":");
        write_string(&r.resource, &mut tail);
        tail.push_str(",\"source_ip\":");
        optional(&r.origin.source_ip, &mut tail);
        // A timestamp's characters need no escaping.
        tail.push_str(",\"time\":\"");
        write_rfc3339(r.time, &mut tail);
        tail.push_str("\"}");
        LeafParts { head, middle, tail, details }
    }
}

/// A record's leaf in pieces around the two members the log fills in:
/// `head`, `"index"`, `middle`, `"prev_root"` (when there is one), `tail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafParts {
    head: String,
    middle: String,
    tail: String,
    /// The canonical JSON of the details alone.
    pub details: String,
}

impl LeafParts {
    /// The bytes before the index: the same wherever the record lands.
    pub fn head(&self) -> &[u8] {
        self.head.as_bytes()
    }

    /// Hands over the leaf after [`LeafParts::head`], piece by piece, for
    /// the entry at `index` whose predecessors' root is `prev_root`.
    pub fn for_each_piece_after_head(&self, index: u64, prev_root: Option<[u8; 32]>, mut piece: impl FnMut(&[u8])) {
        let mut index_member = String::with_capacity(32);
        let _ = write!(index_member, ",\"index\":{index}");
        piece(index_member.as_bytes());
        piece(self.middle.as_bytes());
        if let Some(prev_root) = prev_root {
            let mut member = String::with_capacity(60);
            member.push_str(",\"prev_root\":\"");
            STANDARD.encode_string(prev_root, &mut member);
            member.push('"');
            piece(member.as_bytes());
        }
        piece(self.tail.as_bytes());
    }

    /// Hands over the whole leaf, piece by piece.
    pub fn for_each_piece(&self, index: u64, prev_root: Option<[u8; 32]>, mut piece: impl FnMut(&[u8])) {
        piece(self.head());
        self.for_each_piece_after_head(index, prev_root, piece);
    }

    /// The whole leaf of the entry at `index` after `prev_root`.
    pub fn leaf(&self, index: u64, prev_root: Option<[u8; 32]>) -> Vec<u8> {
        let mut leaf = Vec::with_capacity(self.head.len() + self.middle.len() + self.tail.len() + 96);
        self.for_each_piece(index, prev_root, |piece| leaf.extend_from_slice(piece));
        leaf
    }
}

/// RFC 8785 (JCS) serialization for values without floating-point numbers:
/// object members sorted by their UTF-16 code units, no insignificant
/// whitespace, strings escaped minimally.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut members: Vec<(&String, &Value)> = members.iter().collect();
            // Byte order is UTF-16 order for ASCII keys (the usual ones).
            if members.iter().all(|(key, _)| key.is_ascii()) {
                members.sort_unstable_by_key(|(key, _)| *key);
            } else {
                members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            }
            out.push('{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Most strings need no escape at all: one pass without early exit
    // (which the compiler vectorizes) tells, and they are copied whole.
    let needs_escape = s.bytes().fold(false, |found, byte| found | (byte < 0x20) | (byte == b'"') | (byte == b'\\'));
    if !needs_escape {
        out.push_str(s);
        out.push('"');
        return;
    }
    // Copies runs that need no escape whole; only `"`, `\\` and control
    // characters (all ASCII, so never inside a multi-byte character) break
    // a run.
    let mut run_start = 0;
    for (at, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run_start..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        run_start = at + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests;
