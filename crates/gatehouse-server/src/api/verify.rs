//! `POST /api/v1/verify/commit`, `/verify/push` and `/verify/blob`: signed
//! code and artifacts traced to a registered key, an active identity and
//! its right to push. Every verification is one audit entry (a push's
//! entry holds its verdicts). Who signed each commit that passed is recorded
//! with that entry (the `commit_authors` area), so that separation of
//! duties reads what gatehouse verified, not what a caller says.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::auth_failures::cap_text;
use gatehouse_domain::change::CommitAuthor;
use gatehouse_domain::identity::IdentityStatus;
use serde_json::json;

use super::dto::{
    CommitVerdictDto, PushVerdictDto, SignerDto, VerifyBlobRequest, VerifyCommitRequest, VerifyPushRequest,
};
use crate::auth::Caller;
use crate::extract::ApiJson;
use crate::problem::ApiError;
use crate::signing::pushed_change;
use crate::signing::{CommitCheck, CommitVerdict, Lookups, check_commit, commit_object_id};
use crate::state::AppState;

/// The most commits one push request may carry (`gatehouse hook
/// pre-receive` sends a larger push in requests of this many).
pub const MAX_PUSH_COMMITS: usize = 1_000;
/// The most verdicts a push's one audit entry lists (the failures first);
/// the rest are counted.
pub const MAX_AUDITED_VERDICTS: usize = 100;
/// The longest client-supplied text (a commit id, a ref, a reason) a
/// verdict carries into the log.
const MAX_AUDITED_TEXT: usize = 200;

fn dto(id: Option<String>, verdict: CommitVerdict) -> CommitVerdictDto {
    CommitVerdictDto {
        id,
        valid: verdict.valid,
        signer: verdict.signer.map(|(identity_id, key_fingerprint)| SignerDto {
            identity_id,
            name: verdict.signer_name,
            key_fingerprint,
        }),
        reason: verdict.reason,
    }
}

/// A verification's audit entry, before it is written.
struct Entry {
    action: AuditAction,
    resource: String,
    outcome: Outcome,
    reason: String,
    details: serde_json::Value,
}

/// Writes a verification's entry: with the authors it proved, as
/// [`SystemWriter::SignatureVerification`] in one transaction, or, when it
/// proved none, as an observation. Returns the entry's index.
async fn write(caller: &Caller, state: &AppState, entry: Entry, facts: Vec<CommitAuthor>) -> Result<u64, ApiError> {
    let Entry { action, resource, outcome, reason, mut details } = entry;
    details["authors_recorded"] = json!(facts.len());
    if facts.is_empty() {
        let observation = caller.observe(state, action, resource).outcome(outcome, reason).details(details);
        return Ok(observation.append(&*state.store).await?);
    }
    let record = AuditRecord::system_for(
        SystemWriter::SignatureVerification,
        caller.actor(),
        state.clock.now(),
        action,
        resource,
    )
    .origin(caller.origin())
    .outcome(outcome, reason)
    .details(details);
    Ok(state.store.record_commit_authors(facts, record).await?)
}

/// The fact a passed verdict proves: its signer signed the commit object
/// `raw` (named by the id gatehouse computes, not the caller's).
fn fact(
    raw: &[u8],
    named: Option<&str>,
    project: Option<&str>,
    verdict: &CommitVerdictDto,
    verification: AuditAction,
    state: &AppState,
) -> Option<CommitAuthor> {
    let signer = verdict.signer.as_ref().filter(|_| verdict.valid)?;
    Some(CommitAuthor {
        commit: commit_object_id(raw, named),
        repository: project.map(str::to_owned),
        identity_id: signer.identity_id.parse().ok()?,
        key_fingerprint: signer.key_fingerprint.clone(),
        verification,
        recorded_at: state.clock.now(),
    })
}

fn record(project: Option<&str>, reference: Option<&str>, verdict: &CommitVerdictDto) -> Entry {
    let resource = project.map_or_else(|| "gatehouse".to_owned(), |p| format!("project:{p}"));
    Entry {
        action: AuditAction::CommitVerify,
        resource,
        outcome: if verdict.valid { Outcome::Success } else { Outcome::Denied },
        reason: verdict.reason.clone(),
        details: json!({
            "commit": verdict.id,
            "ref": reference,
            "valid": verdict.valid,
            "signer": verdict.signer.as_ref().map(|s| s.identity_id.clone()),
            "key_fingerprint": verdict.signer.as_ref().map(|s| s.key_fingerprint.clone()),
        }),
    }
}

/// The one audit entry of a push: its counts, and up to
/// [`MAX_AUDITED_VERDICTS`] verdicts (the refused first), text capped.
fn push_record(project: &str, reference: Option<&str>, answers: &[CommitVerdictDto]) -> Entry {
    let invalid = answers.iter().filter(|a| !a.valid).count();
    let listed: Vec<serde_json::Value> = answers
        .iter()
        .filter(|a| !a.valid)
        .chain(answers.iter().filter(|a| a.valid))
        .take(MAX_AUDITED_VERDICTS)
        .map(|verdict| {
            json!({
                "commit": verdict.id.as_deref().map(|id| cap_text(id, MAX_AUDITED_TEXT)),
                "valid": verdict.valid,
                "signer": verdict.signer.as_ref().map(|s| s.identity_id.clone()),
                "key_fingerprint": verdict.signer.as_ref().map(|s| s.key_fingerprint.clone()),
                "reason": cap_text(&verdict.reason, MAX_AUDITED_TEXT),
            })
        })
        .collect();
    let valid = invalid == 0;
    let reason = if valid {
        format!("{} commits verified", answers.len())
    } else {
        format!("{invalid} of {} commits refused", answers.len())
    };
    Entry {
        action: AuditAction::PushVerify,
        resource: format!("project:{project}"),
        outcome: if valid { Outcome::Success } else { Outcome::Denied },
        reason,
        details: json!({
            "ref": reference.map(|r| cap_text(r, MAX_AUDITED_TEXT)),
            "commits": answers.len(),
            "refused": invalid,
            "verdicts": listed,
            "verdicts_not_listed": answers.len().saturating_sub(MAX_AUDITED_VERDICTS),
        }),
    }
}

/// A project id as a verification names it: 422 unless `ORG/REPO`.
fn check_project(project: &str) -> Result<(), ApiError> {
    if gatehouse_domain::grant::Resource::from_parts("project", project).is_none() {
        return Err(ApiError::Unprocessable(format!("`{project}` is not a valid project id (ORG/REPO)")));
    }
    Ok(())
}

/// Verify one commit object.
#[utoipa::path(post, path = "/api/v1/verify/commit", tag = "signing", request_body = VerifyCommitRequest,
    responses((status = 200, body = CommitVerdictDto), (status = 422)))]
pub async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyCommitRequest>,
) -> Result<Json<CommitVerdictDto>, ApiError> {
    // Checked before the commit, so that an unsigned commit does not hide
    // an invalid project (push does the same).
    if let Some(project) = request.project.as_deref() {
        check_project(project)?;
    }
    let check =
        CommitCheck { raw: request.commit.as_bytes(), project: request.project.as_deref(), paths: &request.paths };
    let verdict = check_commit(&state, &mut Lookups::default(), &check, state.clock.now()).await?;
    let answer = dto(request.id, verdict);
    let project = request.project.as_deref();
    let raw = request.commit.as_bytes();
    let facts = fact(raw, answer.id.as_deref(), project, &answer, AuditAction::CommitVerify, &state);
    write(&caller, &state, record(project, None, &answer), facts.into_iter().collect()).await?;
    Ok(Json(answer))
}

/// Verify every new commit of a push (for forges that call out instead of
/// running hooks, and for `gatehouse hook pre-receive`). A push that names
/// the paths its ref update changes (`changed_paths`), is accepted, and
/// changes pipeline configuration records `pipeline.config.changed` and
/// opens that change's review (`review` in the answer).
#[utoipa::path(post, path = "/api/v1/verify/push", tag = "signing", request_body = VerifyPushRequest,
    responses((status = 200, body = PushVerdictDto), (status = 413), (status = 422)))]
pub async fn push(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyPushRequest>,
) -> Result<Json<PushVerdictDto>, ApiError> {
    if request.commits.len() > MAX_PUSH_COMMITS {
        return Err(ApiError::PayloadTooLarge(format!(
            "a push may carry at most {MAX_PUSH_COMMITS} commits per request; send more in several requests"
        )));
    }
    check_project(&request.project)?;
    pushed_change::check(&request)?;
    let now = state.clock.now();
    let mut lookups = Lookups::default();
    let mut answers = Vec::with_capacity(request.commits.len());
    let mut facts = Vec::new();
    for commit in &request.commits {
        let check =
            CommitCheck { raw: commit.commit.as_bytes(), project: Some(&request.project), paths: &commit.paths };
        let verdict = check_commit(&state, &mut lookups, &check, now).await?;
        let answer = dto(Some(commit.id.clone()), verdict);
        let project = Some(request.project.as_str());
        facts.extend(fact(check.raw, Some(&commit.id), project, &answer, AuditAction::PushVerify, &state));
        answers.push(answer);
    }
    let entry = push_record(&request.project, request.reference.as_deref(), &answers);
    write(&caller, &state, entry, facts).await?;
    // After the signers are recorded, so that the review names them.
    let review = pushed_change::record(&state, &caller, &request, &answers).await?;
    Ok(Json(PushVerdictDto {
        valid: answers.iter().all(|a| a.valid),
        commits: answers,
        review: review.map(|campaign| campaign.id.to_string()),
    }))
}

/// Verify an artifact signed with `ssh-keygen -Y sign -n gatehouse` by a
/// registered key of an active identity.
#[utoipa::path(post, path = "/api/v1/verify/blob", tag = "signing", request_body = VerifyBlobRequest,
    responses((status = 200, body = CommitVerdictDto), (status = 422)))]
pub async fn blob(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<VerifyBlobRequest>,
) -> Result<Json<CommitVerdictDto>, ApiError> {
    let content = STANDARD
        .decode(request.content_base64.as_bytes())
        .map_err(|_| ApiError::Unprocessable("content_base64 is not base64".into()))?;
    let verdict = match gatehouse_signing::verify_ssh(&request.signature, &content, "gatehouse") {
        Err(gatehouse_signing::SignatureError::Mismatch) => CommitVerdict {
            valid: false,
            signer: None,
            signer_name: None,
            reason: "the file changed after it was signed".into(),
        },
        Err(error) => CommitVerdict { valid: false, signer: None, signer_name: None, reason: error.to_string() },
        Ok(signer) => match state.store.find_signing_key_by_fingerprint(&signer.fingerprint).await? {
            None => CommitVerdict {
                valid: false,
                signer: None,
                signer_name: None,
                reason: format!("signed by a key registered to nobody ({})", signer.fingerprint),
            },
            Some(key) => {
                let identity = state.store.find_identity(key.identity_id).await?;
                let pair = Some((key.identity_id.to_string(), key.fingerprint.clone()));
                match identity {
                    Some(identity) if identity.status == IdentityStatus::Active => CommitVerdict {
                        valid: true,
                        signer: pair,
                        reason: format!("signed by {}", identity.name),
                        signer_name: Some(identity.name),
                    },
                    Some(identity) => CommitVerdict {
                        valid: false,
                        signer: pair,
                        reason: format!("{} is {}", identity.name, identity.status.as_str()),
                        signer_name: Some(identity.name),
                    },
                    None => CommitVerdict {
                        valid: false,
                        signer: pair,
                        signer_name: None,
                        reason: "the key's identity no longer exists".into(),
                    },
                }
            }
        },
    };
    let answer = dto(request.name.clone(), verdict);
    let entry = caller
        .observe(&state, AuditAction::ArtifactVerify, "gatehouse")
        .outcome(if answer.valid { Outcome::Success } else { Outcome::Denied }, answer.reason.clone())
        .details(json!({"artifact": request.name, "valid": answer.valid,
            "signer": answer.signer.as_ref().map(|s| s.identity_id.clone()),
            "key_fingerprint": answer.signer.as_ref().map(|s| s.key_fingerprint.clone())}));
    entry.append(&*state.store).await?;
    Ok(Json(answer))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`. A push or an artifact
/// may be far larger than the server's default body limit.
pub fn routes() -> super::Routes {
    use utoipa_axum::router::UtoipaMethodRouterExt;
    let large = || axum::extract::DefaultBodyLimit::max(crate::LARGE_BODY_BYTES);
    super::Routes::default()
        .routes(utoipa_axum::routes!(commit))
        .routes(utoipa_axum::routes!(push).layer(large()))
        .routes(utoipa_axum::routes!(blob).layer(large()))
}
