//! The JSON shapes of `/api/v1/verify`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyCommitRequest {
    /// The raw commit object, as `git cat-file commit` prints it.
    pub commit: String,
    /// The project (`ORG/REPO`) pushed to; without it push rights are not checked.
    pub project: Option<String>,
    /// The commit id, for the answer and the audit entry.
    pub id: Option<String>,
    /// The paths the commit touches (pipeline configuration needs `pipeline.config.edit`).
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignerDto {
    pub identity_id: String,
    pub name: Option<String>,
    pub key_fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommitVerdictDto {
    pub id: Option<String>,
    pub valid: bool,
    pub signer: Option<SignerDto>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushCommitDto {
    pub id: String,
    pub commit: String,
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPushRequest {
    /// The project (`ORG/REPO`) pushed to.
    pub project: String,
    /// The ref updated, for the audit entries.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The new commits of the push.
    pub commits: Vec<PushCommitDto>,
    /// The ref's id before the push (all zeros for a new ref).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The ref's id after the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The paths the ref update changes (`git diff --name-only BEFORE
    /// AFTER`; for a new ref, the new commits' paths), at most 5000, sent
    /// by a hook that applies the push when it is accepted: pipeline
    /// configuration among them records `pipeline.config.changed` and opens
    /// its review. Absent: a verification only, nothing opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_paths: Option<Vec<String>>,
    /// Whether the hook left paths out of a longer `changed_paths`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed_paths_truncated: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PushVerdictDto {
    /// Whether every commit passed.
    pub valid: bool,
    pub commits: Vec<CommitVerdictDto>,
    /// The review an accepted push's pipeline configuration change opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBlobRequest {
    /// The SSH signature (`ssh-keygen -Y sign -n gatehouse`), armored.
    pub signature: String,
    /// The signed file, base64.
    pub content_base64: String,
    /// A name for the audit entry.
    pub name: Option<String>,
}
