//! The JSON shapes of `/api/v1/audit`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An audit entry; its canonical JSON (RFC 8785) is the Merkle leaf.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryDto {
    pub index: u64,
    pub time: String,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    pub reason: String,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub mfa: bool,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Base64 root of the tree of the entries before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_root: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPageDto {
    pub items: Vec<AuditEntryDto>,
    /// Pass as `start` for the next page; `null` when this page was not full.
    pub next_start: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The first index to consider (default 0).
    pub start: Option<u64>,
    /// At most this many entries, 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// Only entries by this actor (an identity id, `anonymous` or `system`).
    pub actor: Option<String>,
    /// Only this action, e.g. `token.create`.
    pub action: Option<String>,
    /// Only this resource, e.g. `identity:<id>`.
    pub resource: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: Option<String>,
    /// Entries at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Entries before this RFC 3339 time.
    pub until: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub index: u64,
    /// Default: the latest checkpoint's size.
    pub tree_size: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofDto {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Base64 hashes, leaf side first (RFC 9162 §2.1.3).
    pub hashes: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub first: u64,
    /// Default: the latest checkpoint's size.
    pub second: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofDto {
    pub first: u64,
    pub second: u64,
    /// Base64 hashes (RFC 9162 §2.1.4).
    pub hashes: Vec<String>,
}
