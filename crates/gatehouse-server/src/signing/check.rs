//! One commit's verdict: is it signed, by a key registered to whom, was it
//! changed after signing, is the signer active, and may they push here
//! (and edit pipeline configuration, when the commit touches it)?

use std::collections::HashMap;

use gatehouse_domain::authorization::Action;
use gatehouse_domain::change::CommitSha;
use gatehouse_domain::grant::{Grant, Resource};
use gatehouse_domain::identity::{Identity, IdentityStatus};
use gatehouse_domain::signing::SigningKey;
use gatehouse_policy::DecisionInput;
use gatehouse_signing::{SignatureError, SignatureKind, parse_commit};
use sha2::Digest as _;
use time::OffsetDateTime;

use crate::integrations::push::is_pipeline_config;
use crate::problem::ApiError;
use crate::state::AppState;

/// The object id git gives the commit object `raw`: its SHA-256 when the
/// caller named it by 64 digits (a SHA-256 repository), else its SHA-1.
/// Computed, never taken from the caller, so a fact recorded under it is
/// about this very object.
pub fn commit_object_id(raw: &[u8], named: Option<&str>) -> CommitSha {
    let header = format!("commit {}\0", raw.len());
    let hex = if named.is_some_and(|id| id.len() == 64) {
        let mut hasher = sha2::Sha256::new();
        hasher.update(header.as_bytes());
        hasher.update(raw);
        hex::encode(hasher.finalize())
    } else {
        let mut hasher = sha1::Sha1::new();
        hasher.update(header.as_bytes());
        hasher.update(raw);
        hex::encode(hasher.finalize())
    };
    hex.parse().unwrap_or_else(|_| unreachable!("a digest in hex is a commit id"))
}

/// What is asked about one commit.
#[derive(Debug, Clone)]
pub struct CommitCheck<'a> {
    /// The raw object, as `git cat-file commit` prints it.
    pub raw: &'a [u8],
    /// The project pushed to; without one, only the signature and the
    /// signer's status are checked.
    pub project: Option<&'a str>,
    /// The paths the commit touches, when known (pipeline configuration
    /// needs `pipeline.config.edit` besides `source.push`).
    pub paths: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitVerdict {
    pub valid: bool,
    pub signer: Option<(String, String)>,
    pub signer_name: Option<String>,
    pub reason: String,
}

impl CommitVerdict {
    fn refused(reason: impl Into<String>) -> Self {
        Self { valid: false, signer: None, signer_name: None, reason: reason.into() }
    }
}

/// Keys, identities and grants already read while checking a push, so a
/// thousand commits by three people cost three lookups.
#[derive(Default)]
pub struct Lookups {
    keys: HashMap<Vec<String>, Option<SigningKey>>,
    people: HashMap<String, Option<(Identity, Vec<Grant>)>>,
}

pub async fn check_commit(
    state: &AppState,
    lookups: &mut Lookups,
    check: &CommitCheck<'_>,
    now: OffsetDateTime,
) -> Result<CommitVerdict, ApiError> {
    let commit = match parse_commit(check.raw) {
        Ok(commit) => commit,
        Err(error) => return Ok(CommitVerdict::refused(format!("not a commit object: {error}"))),
    };
    let Some(signature) = commit.signature.as_deref() else {
        return Ok(CommitVerdict::refused("the commit is not signed"));
    };
    let lookup_ids = match commit.signature_kind() {
        Some(SignatureKind::Ssh) => match gatehouse_signing::ssh_signer_fingerprint(signature) {
            Ok(fingerprint) => vec![fingerprint],
            Err(error) => return Ok(CommitVerdict::refused(format!("the SSH signature cannot be read: {error}"))),
        },
        Some(SignatureKind::OpenPgp) => match gatehouse_signing::openpgp_issuers(signature) {
            Ok(ids) => ids,
            Err(error) => return Ok(CommitVerdict::refused(format!("the OpenPGP signature cannot be read: {error}"))),
        },
        _ => return Ok(CommitVerdict::refused("only SSH and OpenPGP signatures are accepted (not X.509)")),
    };
    let key = match lookups.keys.get(&lookup_ids) {
        Some(found) => found.clone(),
        None => {
            let found = state.store.find_signing_key(&lookup_ids).await?;
            lookups.keys.insert(lookup_ids.clone(), found.clone());
            found
        }
    };
    let Some(key) = key else {
        return Ok(CommitVerdict::refused(format!("signed by a key registered to nobody ({})", lookup_ids[0])));
    };
    let verified = match commit.signature_kind() {
        Some(SignatureKind::Ssh) => gatehouse_signing::verify_ssh(signature, &commit.signed_payload, "git"),
        _ => gatehouse_signing::verify_openpgp(signature, &commit.signed_payload, &key.public_key, now),
    };
    let signer = Some((key.identity_id.to_string(), key.fingerprint.clone()));
    if let Err(error) = verified {
        let reason = match error {
            SignatureError::Mismatch => "the commit changed after it was signed".to_owned(),
            SignatureError::ExpiredKey(at) => format!("the signing key {} expired at {at}", key.fingerprint),
            SignatureError::RevokedKey => format!("the signing key {} is revoked", key.fingerprint),
            other => other.to_string(),
        };
        return Ok(CommitVerdict { valid: false, signer, signer_name: None, reason });
    }

    let person = match lookups.people.get(&key.identity_id.to_string()) {
        Some(found) => found.clone(),
        None => {
            let identity = state.store.find_identity(key.identity_id).await?;
            let found = match identity {
                Some(identity) => {
                    let grants = state.store.list_grants_of(identity.id).await?;
                    Some((identity, grants))
                }
                None => None,
            };
            lookups.people.insert(key.identity_id.to_string(), found.clone());
            found
        }
    };
    let Some((identity, grants)) = person else {
        return Ok(CommitVerdict {
            valid: false,
            signer,
            signer_name: None,
            reason: "the key's identity no longer exists".into(),
        });
    };
    let name = Some(identity.name.clone());
    match identity.status {
        IdentityStatus::Active => {}
        IdentityStatus::Suspended => {
            return Ok(CommitVerdict {
                valid: false,
                signer,
                signer_name: name,
                reason: format!("{} is suspended", identity.name),
            });
        }
        IdentityStatus::Deprovisioned => {
            return Ok(CommitVerdict {
                valid: false,
                signer,
                signer_name: name,
                reason: format!("{} is deprovisioned", identity.name),
            });
        }
    }
    let Some(project) = check.project else {
        return Ok(CommitVerdict {
            valid: true,
            signer,
            signer_name: name,
            reason: format!("signed by {} (no project given: push rights not checked)", identity.name),
        });
    };
    let resource = Resource::from_parts("project", project)
        .ok_or_else(|| ApiError::Unprocessable(format!("`{project}` is not a valid project id (ORG/REPO)")))?;
    let may = |action: Action| -> Result<bool, ApiError> {
        state
            .policies
            .current()
            .decide(&DecisionInput {
                principal: &identity,
                grants: &grants,
                action,
                resource: &resource,
                now,
                // No live session stands behind a signed commit: the key
                // that signed it is the signer's possession factor (adding
                // a key needs a fresh one), which the default `mfa-required`
                // guard accepts for `auth_method == "signature"`.
                auth_method: "signature",
                mfa_fresh: false,
                step_up: state.settings.mfa.step_up,
                source_ip: None,
                principal_is_caller: true,
                caller_context: None,
            })
            .map(|decision| decision.is_allowed())
            .map_err(|e| ApiError::Internal(format!("{e:?}")))
    };
    if !may(Action::SourcePush)? {
        return Ok(CommitVerdict {
            valid: false,
            signer,
            signer_name: name,
            reason: format!("{} may not push to {project}", identity.name),
        });
    }
    let patterns = &state.settings.integrations.pipeline_paths;
    let touches_config: Vec<&String> = check.paths.iter().filter(|path| is_pipeline_config(patterns, path)).collect();
    if !touches_config.is_empty() && !may(Action::PipelineConfigEdit)? {
        return Ok(CommitVerdict {
            valid: false,
            signer,
            signer_name: name,
            reason: format!(
                "{} may not edit pipeline configuration ({}) in {project}",
                identity.name, touches_config[0]
            ),
        });
    }
    Ok(CommitVerdict {
        valid: true,
        signer,
        signer_name: name,
        reason: format!("signed by {}, who may push to {project}", identity.name),
    })
}
