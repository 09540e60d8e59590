//! The JSON shapes of the API. Domain types are not `Serialize`; they are
//! converted here by hand, so the wire format changes only on purpose.

use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::Grant;
use gatehouse_domain::identity::Identity;
use gatehouse_domain::signing::SigningKey;
use gatehouse_domain::token::ApiToken;
use gatehouse_domain::workload::TrustBinding;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

fn instant(t: OffsetDateTime) -> String {
    format_rfc3339(t)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityDto {
    pub id: String,
    /// `human` or `service`.
    pub kind: String,
    pub name: String,
    pub email: Option<String>,
    /// `active`, `suspended` or `deprovisioned`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Identity> for IdentityDto {
    fn from(identity: &Identity) -> Self {
        Self {
            id: identity.id.to_string(),
            kind: identity.kind.as_str().to_owned(),
            name: identity.name.clone(),
            email: identity.email.clone(),
            status: identity.status.as_str().to_owned(),
            created_at: instant(identity.created_at),
            updated_at: instant(identity.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityRequest {
    /// `human` or `service`.
    pub kind: String,
    pub name: String,
    /// Required for humans, refused for services.
    pub email: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenDto {
    pub id: String,
    pub identity_id: String,
    pub description: String,
    /// `active`, `expired` or `revoked`, at the time of the answer.
    pub status: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The identity that issued the token; `null` for the bootstrap token
    /// and for tokens CI jobs obtained.
    pub created_by: Option<String>,
    /// The trust binding a CI job obtained the token through.
    pub trust_binding_id: Option<String>,
}

impl TokenDto {
    pub fn new(token: &ApiToken, now: OffsetDateTime) -> Self {
        Self {
            id: token.id.to_string(),
            identity_id: token.identity_id.to_string(),
            description: token.description.clone(),
            status: token.status_at(now).as_str().to_owned(),
            created_at: instant(token.created_at),
            expires_at: instant(token.expires_at),
            last_used_at: token.last_used_at.map(instant),
            revoked_at: token.revoked_at.map(instant),
            created_by: token.created_by.map(|id| id.to_string()),
            trust_binding_id: token.trust_binding_id.map(|id| id.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub identity_id: String,
    /// Lifetime in seconds: at least 60, at most the configured maximum.
    pub ttl_seconds: i64,
    #[serde(default)]
    pub description: String,
}

/// A new token. `token` is the secret: it is shown here once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTokenDto {
    pub id: String,
    pub token: String,
    pub identity_id: String,
    pub description: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantDto {
    pub id: String,
    pub identity_id: String,
    pub role: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_by: Option<String>,
}

impl From<&Grant> for GrantDto {
    fn from(grant: &Grant) -> Self {
        Self {
            id: grant.id.to_string(),
            identity_id: grant.identity_id.to_string(),
            role: grant.role.as_str().to_owned(),
            scope: grant.scope.to_string(),
            created_at: instant(grant.created_at),
            expires_at: grant.expires_at.map(instant),
            revoked_at: grant.revoked_at.map(instant),
            created_by: grant.created_by.map(|id| id.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub identity_id: String,
    /// A role the policy folder defines (GET /api/v1/roles).
    pub role: String,
    /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
    pub scope: String,
    /// RFC 3339; the grant stops counting at this instant.
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantListQuery {
    /// Only the grants of this identity.
    pub identity_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    /// `Project`, `Pipeline`, `Environment` or `Gatehouse` (any case).
    #[serde(rename = "type")]
    pub kind: String,
    /// `org/repo` for a project, `org/repo:name` for a pipeline or environment.
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MatrixRowDto {
    pub identity_id: String,
    pub identity_name: String,
    pub action: String,
    pub resource: ResourceRef,
    /// The grants that allow it.
    pub grants: Vec<String>,
    /// Their roles.
    pub roles: Vec<String>,
    /// Static policies that allow it.
    pub policies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MatrixDto {
    /// The policy set the matrix was computed from.
    pub policy_hash: String,
    /// The resources it covers.
    pub resources: Vec<ResourceRef>,
    pub rows: Vec<MatrixRowDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The identity asked about; default the caller. Asking about another
    /// identity needs `identity.view`.
    pub principal: Option<String>,
    pub action: String,
    pub resource: ResourceRef,
    /// Extra facts for policies, e.g. `{"author": "<id or email>"}`.
    #[schema(value_type = Object)]
    pub context: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeResponse {
    /// `allow` or `deny`.
    pub decision: String,
    pub reasons: Vec<String>,
    /// The decision's entry in the audit log.
    pub audit_index: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthenticationDto {
    /// How the caller authenticated: `token`.
    pub method: String,
    pub token_id: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoamiDto {
    pub identity: IdentityDto,
    pub authentication: AuthenticationDto,
    /// The grants in force now.
    pub grants: Vec<GrantDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleDto {
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListDto<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TokenListQuery {
    /// Only the tokens of this identity.
    pub identity_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustBindingRequest {
    /// The OIDC issuer, exactly as in its tokens' `iss` (https; http only on
    /// loopback), e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The audience the tokens must carry (`aud`).
    pub audience: String,
    /// Claim name → exact value, glob (`*` within a path segment, `**`
    /// across), or a list of alternatives. Every condition must hold.
    #[schema(value_type = Object)]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The service identity matching jobs act as.
    pub identity_id: String,
    /// Lifetime cap for exchanged tokens, 60–900 seconds (default 900).
    pub max_ttl_seconds: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrustBindingDto {
    pub id: String,
    pub issuer: String,
    pub audience: String,
    #[schema(value_type = Object)]
    pub claims: serde_json::Value,
    pub identity_id: String,
    pub max_ttl_seconds: u32,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&TrustBinding> for TrustBindingDto {
    fn from(binding: &TrustBinding) -> Self {
        Self {
            id: binding.id.to_string(),
            issuer: binding.issuer.clone(),
            audience: binding.audience.clone(),
            claims: binding.claims_json(),
            identity_id: binding.identity_id.to_string(),
            max_ttl_seconds: binding.max_ttl_seconds,
            created_at: instant(binding.created_at),
            created_by: binding.created_by.map(|id| id.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadExchangeRequest {
    /// The CI job's OIDC ID token.
    pub token: String,
}

/// A short-lived gatehouse token for a CI job. `token` is the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkloadTokenDto {
    pub token: String,
    pub token_id: String,
    pub expires_at: String,
    pub identity_id: String,
    pub trust_binding_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSigningKeyRequest {
    /// An OpenSSH public key line, or an ASCII-armored OpenPGP public key.
    pub public_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyDto {
    pub id: String,
    pub identity_id: String,
    /// `ssh` or `openpgp`.
    pub kind: String,
    pub fingerprint: String,
    pub algorithm: String,
    pub public_key: String,
    pub created_at: String,
    pub created_by: Option<String>,
}

impl From<&SigningKey> for SigningKeyDto {
    fn from(key: &SigningKey) -> Self {
        Self {
            id: key.id.to_string(),
            identity_id: key.identity_id.to_string(),
            kind: key.kind.clone(),
            fingerprint: key.fingerprint.clone(),
            algorithm: key.algorithm.clone(),
            public_key: key.public_key.clone(),
            created_at: instant(key.created_at),
            created_by: key.created_by.map(|id| id.to_string()),
        }
    }
}

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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PushVerdictDto {
    /// Whether every commit passed.
    pub valid: bool,
    pub commits: Vec<CommitVerdictDto>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimLinkRequest {
    /// The SCIM userName to link the person under; default their email.
    pub user_name: Option<String>,
}

/// How the SCIM provisioner holds an identity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScimLinkDto {
    pub identity_id: String,
    pub user_name: String,
    /// `created` (by the provisioner), `linked` (by an admin) or `adopted`
    /// (by email, before 0015: SCIM changes nothing until an admin links it).
    pub origin: String,
    /// The admin who linked it.
    pub linked_by: Option<String>,
}
