//! The JSON shapes of `/api/v1/evidence`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EvidenceParams {
    /// Deployments at or after this RFC 3339 time.
    pub from: String,
    /// Deployments before this RFC 3339 time.
    pub to: String,
    /// Only environments this glob matches: the whole id `ORG/REPO:NAME`
    /// (`acme/*:prod*`), or, without `:`, the name (`production`).
    pub environment: Option<String>,
}

/// One entry of the file, with its inclusion proof.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvedEntryDto {
    pub index: u64,
    /// The entry's leaf: its canonical JSON, the exact bytes the tree hashed.
    pub leaf: String,
    /// Base64 hashes, leaf side first, in the tree of `proved_size` entries.
    pub proof: Vec<String>,
}

/// The evidence file (`gatehouse-evidence/v1`), a proof bundle: verify it
/// offline with `gatehouse evidence verify FILE --public-key KEY`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceFileDto {
    pub format: String,
    pub origin: String,
    /// The audit log's note verifier key (`name+id+key`).
    pub public_key: String,
    /// The latest signed checkpoint (a C2SP signed note).
    pub checkpoint: String,
    /// The tree size the entries are proved in: right after the last one.
    pub proved_size: u64,
    pub proved_root: String,
    /// Consistency proof from `proved_size` to the checkpoint's size.
    pub consistency: Vec<String>,
    /// Every entry the file relies on, ascending by index.
    pub entries: Vec<ProvedEntryDto>,
    /// `query`, `summary`, `deployments`, `reviews`, `missing`: the file's
    /// reading of its entries, which the verifier recomputes.
    #[schema(value_type = Object)]
    pub sections: serde_json::Map<String, serde_json::Value>,
}
