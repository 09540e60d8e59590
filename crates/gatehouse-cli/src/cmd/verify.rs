//! `gatehouse verify-commit`, `gatehouse verify-blob` and `gatehouse hook
//! pre-receive`: objects are read locally with one `git cat-file --batch`,
//! and verified by the server in one request (one per thousand commits),
//! which knows the registered keys, identities and grants. The hook also
//! sends the paths each ref update changes, so that an accepted change to
//! pipeline configuration opens its review.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use gatehouse_server::api::dto::{
    CommitVerdictDto, PushCommitDto, PushVerdictDto, VerifyBlobRequest, VerifyCommitRequest, VerifyPushRequest,
};
use gatehouse_server::api::verify::MAX_PUSH_COMMITS;
use gatehouse_server::signing::pushed_change::MAX_CHANGED_PATHS;

use crate::args::GlobalArgs;
use crate::client::Client;
use crate::error::{CliError, CliResult};
use crate::git;
use crate::hook_input::{RefUpdate, parse_ref_update};

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// What a ref update changes, for the server to act on when the push is
/// accepted: its ids and the paths it changes (at most
/// [`MAX_CHANGED_PATHS`]).
struct Update {
    before: String,
    after: String,
    changed_paths: Vec<String>,
    truncated: bool,
}

impl Update {
    /// `update`'s changed paths, read with git in `repo`.
    fn read(repo: &Path, update: &RefUpdate<'_>) -> CliResult<Self> {
        let mut changed_paths = git::update_paths(repo, update.old, update.new)?;
        let truncated = changed_paths.len() > MAX_CHANGED_PATHS;
        changed_paths.truncate(MAX_CHANGED_PATHS);
        Ok(Self { before: update.old.to_owned(), after: update.new.to_owned(), changed_paths, truncated })
    }
}

/// Verifies `ids` (with their paths) as a push to `project`. The ref
/// update, when given, goes with the last request, and only while every
/// commit before it passed: a refused push opens nothing.
async fn verify_push(
    client: &Client,
    repo: &Path,
    project: &str,
    reference: Option<&str>,
    ids: &[String],
    update: Option<Update>,
) -> CliResult<PushVerdictDto> {
    let objects = git::read_commits(repo, ids)?;
    let mut paths = git::changed_paths(repo, ids)?;
    let commits: Vec<_> = ids
        .iter()
        .zip(objects)
        .map(|(id, raw)| PushCommitDto {
            id: id.clone(),
            commit: String::from_utf8_lossy(&raw).into_owned(),
            paths: paths.remove(id).unwrap_or_default(),
        })
        .collect();
    // The server takes at most MAX_PUSH_COMMITS commits per request.
    let mut verdict = PushVerdictDto { valid: true, commits: Vec::with_capacity(commits.len()), review: None };
    let chunks = commits.chunks(MAX_PUSH_COMMITS).count();
    let mut update = update;
    for (index, chunk) in commits.chunks(MAX_PUSH_COMMITS).enumerate() {
        let mut request = VerifyPushRequest {
            project: project.to_owned(),
            reference: reference.map(str::to_owned),
            commits: chunk.to_vec(),
            before: None,
            after: None,
            changed_paths: None,
            changed_paths_truncated: false,
        };
        if index + 1 == chunks
            && verdict.valid
            && let Some(update) = update.take()
        {
            request.before = Some(update.before);
            request.after = Some(update.after);
            request.changed_paths = Some(update.changed_paths);
            request.changed_paths_truncated = update.truncated;
        }
        let part: PushVerdictDto = client.post("/api/v1/verify/push", &request).await?;
        verdict.valid &= part.valid;
        verdict.commits.extend(part.commits);
        verdict.review = verdict.review.or(part.review);
    }
    Ok(verdict)
}

fn print_verdicts(verdicts: &[CommitVerdictDto], only_failures: bool) -> bool {
    let mut all_valid = true;
    for verdict in verdicts {
        let id = verdict.id.as_deref().unwrap_or("?");
        if verdict.valid {
            if !only_failures {
                println!("ok   {} {}", short(id), verdict.reason);
            }
        } else {
            all_valid = false;
            eprintln!("gatehouse: rejected {} {}", short(id), verdict.reason);
        }
    }
    all_valid
}

pub async fn commits(
    args: &GlobalArgs,
    repo: Option<&Path>,
    project: Option<String>,
    revs: &[String],
) -> CliResult<()> {
    let repo = repo.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let client = Client::new(args)?;
    let ids = git::rev_parse(&repo, revs)?;
    let project = project.or_else(|| std::env::var("GATEHOUSE_PROJECT").ok().filter(|p| !p.is_empty()));
    let verdicts = match project {
        Some(project) => verify_push(&client, &repo, &project, None, &ids, None).await?.commits,
        None => {
            let objects = git::read_commits(&repo, &ids)?;
            let mut verdicts = Vec::with_capacity(ids.len());
            for (id, raw) in ids.iter().zip(objects) {
                let body = VerifyCommitRequest {
                    commit: String::from_utf8_lossy(&raw).into_owned(),
                    project: None,
                    id: Some(id.clone()),
                    paths: Vec::new(),
                };
                verdicts.push(client.post::<_, CommitVerdictDto>("/api/v1/verify/commit", &body).await?);
            }
            verdicts
        }
    };
    if print_verdicts(&verdicts, false) { Ok(()) } else { Err(CliError::refused("some commits failed verification")) }
}

pub async fn blob(args: &GlobalArgs, signature: &Path, file: &Path) -> CliResult<()> {
    let client = Client::new(args)?;
    let read_error = |path: &Path, e: std::io::Error| CliError::config(format!("cannot read {}: {e}", path.display()));
    let signature_text = std::fs::read_to_string(signature).map_err(|e| read_error(signature, e))?;
    let content = std::fs::read(file).map_err(|e| read_error(file, e))?;
    let body = VerifyBlobRequest {
        signature: signature_text,
        content_base64: base64::engine::general_purpose::STANDARD.encode(&content),
        name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
    };
    let verdict: CommitVerdictDto = client.post("/api/v1/verify/blob", &body).await?;
    if verdict.valid {
        println!("ok   {} {}", file.display(), verdict.reason);
        Ok(())
    } else {
        Err(CliError::refused(format!("{}: {}", file.display(), verdict.reason)))
    }
}

/// git runs the hook in the repository with `<old> <new> <ref>` lines on
/// stdin; exit 1 refuses the whole push, leaving every ref as it was.
pub async fn pre_receive(args: &GlobalArgs) -> CliResult<()> {
    let repo = PathBuf::from(".");
    let project = match std::env::var("GATEHOUSE_PROJECT").ok().filter(|p| !p.is_empty()) {
        Some(project) => project,
        None => git::project_from_path(&git::repository_path(&repo)?)
            .ok_or_else(|| CliError::config("cannot tell the project; set GATEHOUSE_PROJECT=ORG/REPO"))?,
    };
    let client = Client::new(args)?;
    let mut all_valid = true;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| CliError::config(format!("reading the hook's input: {e}")))?;
        let update = parse_ref_update(&line)?;
        if update.is_deletion() {
            continue; // a deletion brings no commits
        }
        let ids = git::new_commits(&repo, update.new)?;
        if ids.is_empty() {
            continue;
        }
        let changed = Update::read(&repo, &update)?;
        let verdict = verify_push(&client, &repo, &project, Some(update.reference), &ids, Some(changed)).await?;
        all_valid &= print_verdicts(&verdict.commits, true);
        if let Some(review) = verdict.review.filter(|_| verdict.valid) {
            eprintln!("gatehouse: {} changes pipeline configuration: review {review} opened", update.reference);
        }
    }
    if all_valid {
        Ok(())
    } else {
        Err(CliError::refused(format!(
            "push refused: every new commit must be signed by someone allowed to push to {project}"
        )))
    }
}
