//! A verified push that changes pipeline configuration: `gatehouse hook
//! pre-receive` names the paths its ref update changes, and when every
//! commit passed and one of them is pipeline configuration (the webhooks'
//! rule, [`is_pipeline_config`]), the push records `pipeline.config.changed`
//! and opens its review, as a push webhook does. No state of its own: the
//! audit log and the campaigns hold what it did.

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, SystemWriter};
use gatehouse_domain::change::{CommitSha, check_repository_path};
use gatehouse_domain::identity::IdentityKind;
use gatehouse_domain::review::Campaign;
use serde_json::json;

use crate::api::dto::{CommitVerdictDto, VerifyPushRequest};
use crate::auth::Caller;
use crate::integrations::push::is_pipeline_config;
use crate::problem::ApiError;
use crate::reviews::triggers::{PipelinePush, Pusher, pipeline_changed};
use crate::state::AppState;

/// The most paths one push request may name as changed (`gatehouse hook
/// pre-receive` sends the first this many and says it left the rest out).
pub const MAX_CHANGED_PATHS: usize = 5_000;
/// The most commits and paths the `pipeline.config.changed` entry lists;
/// the rest are counted.
const MAX_LISTED: usize = 100;

/// Checks what a push request says about its ref update, before any
/// commit is verified: 413 for too many paths, 422 for a path that is not
/// one git prints, a `before`/`after` that is not an object id, or paths
/// without a commit to have changed them.
pub fn check(request: &VerifyPushRequest) -> Result<(), ApiError> {
    for (name, id) in [("before", &request.before), ("after", &request.after)] {
        if let Some(id) = id
            && id.parse::<CommitSha>().is_err()
        {
            let shown: String = id.chars().take(80).collect::<String>().escape_debug().to_string();
            return Err(ApiError::Unprocessable(format!("{name} `{shown}` is not an object id (40 or 64 hex digits)")));
        }
    }
    let Some(paths) = &request.changed_paths else { return Ok(()) };
    if paths.len() > MAX_CHANGED_PATHS {
        return Err(ApiError::PayloadTooLarge(format!(
            "changed_paths may name at most {MAX_CHANGED_PATHS} paths; send the first {MAX_CHANGED_PATHS} with \
             changed_paths_truncated"
        )));
    }
    if !paths.is_empty() && request.commits.is_empty() {
        return Err(ApiError::Unprocessable("changed_paths needs the commits that changed them".into()));
    }
    for (index, path) in paths.iter().enumerate() {
        if let Err(problem) = check_repository_path(path) {
            return Err(ApiError::Unprocessable(format!("changed_paths[{index}] {problem}")));
        }
    }
    Ok(())
}

/// After an accepted push's verdicts are recorded: when the paths it
/// changes (or one of its commits touched) include pipeline configuration, records `pipeline.config.changed`
/// (for the caller, as the signature verification's writer) and opens the
/// change's review, whose authors are the commits' verified signers and
/// whose pusher is the caller when a person. Returns the review opened.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    request: &VerifyPushRequest,
    answers: &[CommitVerdictDto],
) -> Result<Option<Campaign>, ApiError> {
    let patterns = &state.settings.integrations.pipeline_paths;
    let Some(paths) = &request.changed_paths else { return Ok(None) };
    // What the update changes, and what any of its commits says it touched:
    // a caller cannot hide a configuration change one of its commits names
    // by leaving it out of `changed_paths`.
    let named = request.commits.iter().flat_map(|commit| commit.paths.iter());
    let mut config: Vec<&str> =
        paths.iter().chain(named).map(String::as_str).filter(|path| is_pipeline_config(patterns, path)).collect();
    if config.is_empty() || answers.is_empty() || !answers.iter().all(|answer| answer.valid) {
        return Ok(None);
    }
    config.sort_unstable();
    config.dedup();
    // The commits that touched configuration themselves; when none says so
    // (a force push, a caller that sent no per-commit paths), all of them.
    let touching: Vec<usize> = request
        .commits
        .iter()
        .enumerate()
        .filter(|(_, commit)| commit.paths.iter().any(|path| is_pipeline_config(patterns, path)))
        .map(|(index, _)| index)
        .collect();
    let reviewed: Vec<usize> = if touching.is_empty() { (0..request.commits.len()).collect() } else { touching };
    let commits: Vec<String> = reviewed.iter().map(|&index| request.commits[index].id.clone()).collect();
    let listed: Vec<serde_json::Value> = reviewed
        .iter()
        .take(MAX_LISTED)
        .map(|&index| {
            let signer = answers.get(index).and_then(|answer| answer.signer.as_ref());
            json!({
                "commit": request.commits[index].id,
                "signer": signer.map(|s| s.identity_id.clone()),
                "signer_name": signer.and_then(|s| s.name.clone()),
                "key_fingerprint": signer.map(|s| s.key_fingerprint.clone()),
            })
        })
        .collect();
    let after = request.after.clone().or_else(|| commits.last().cloned()).unwrap_or_default();
    let before = request.before.clone().unwrap_or_else(|| "unknown".to_owned());
    let resource = format!("project:{}", request.project);
    let entry = AuditRecord::system_for(
        SystemWriter::SignatureVerification,
        caller.actor(),
        state.clock.now(),
        AuditAction::PipelineConfigChanged,
        resource,
    )
    .origin(caller.origin())
    .outcome(Outcome::Success, format!("{} pipeline configuration paths changed", config.len()))
    .details(json!({
        "source": "pre-receive",
        "ref": request.reference,
        "before": before,
        "after": after,
        "commits": listed,
        "commits_not_listed": reviewed.len().saturating_sub(MAX_LISTED),
        "paths": config.iter().take(MAX_LISTED).collect::<Vec<_>>(),
        "paths_not_listed": config.len().saturating_sub(MAX_LISTED),
        "changed_paths": paths.len(),
        "changed_paths_truncated": request.changed_paths_truncated,
    }));
    state.store.append_audit(entry).await?;
    let identity = caller.identity();
    let pusher = if identity.kind == IdentityKind::Human && !caller.is_workload() {
        Pusher::Identity(identity.id, identity.name.clone())
    } else {
        Pusher::Unknown
    };
    let push = PipelinePush { project: request.project.clone(), before, after, pusher, commits };
    Ok(pipeline_changed(state, push).await)
}
