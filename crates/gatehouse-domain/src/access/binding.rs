//! A deployment approval's run: what a binding must say to be taken, and
//! that a CI job asking for one names its own run.

use serde_json::{Map, Value};

use crate::grant::Resource;

use super::record::DeploymentBinding;

/// The most commit authors a binding may name.
pub const MAX_BINDING_AUTHORS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingProblem {
    #[error("binding `forge` must be `github` or `gitlab`")]
    UnknownForge,
    #[error("binding `{0}` must be 1 to 256 printable characters")]
    Malformed(&'static str),
    #[error("binding `run_attempt` must be at least 1")]
    NoAttempt,
    #[error("binding `sha` must be 40 or 64 hexadecimal digits")]
    Sha,
    #[error("binding `authors`: at most {MAX_BINDING_AUTHORS}, each 1 to 320 printable characters")]
    Authors,
    #[error("a binding is for a deployment to an environment: the resource must be `environment:{0}:{1}`")]
    NotTheResource(String, String),
    #[error("the CI job's token says `{claim}` is `{claimed}`, the binding says `{bound}`")]
    NotThisRun { claim: &'static str, claimed: String, bound: String },
}

/// Checks a binding on its own and against the resource it is for: the
/// environment `REPOSITORY:ENVIRONMENT` the deployment goes to.
pub fn check_binding(binding: &DeploymentBinding, resource: &Resource) -> Result<(), BindingProblem> {
    if !matches!(binding.forge.as_str(), "github" | "gitlab") {
        return Err(BindingProblem::UnknownForge);
    }
    let printable = |text: &str| !text.is_empty() && text.len() <= 256 && !text.chars().any(char::is_control);
    for (field, value) in
        [("repository", &binding.repository), ("run_id", &binding.run_id), ("environment", &binding.environment)]
    {
        if !printable(value) {
            return Err(BindingProblem::Malformed(field));
        }
    }
    if binding.workflow_digest.as_deref().is_some_and(|digest| !printable(digest)) {
        return Err(BindingProblem::Malformed("workflow_digest"));
    }
    if binding.run_attempt == 0 {
        return Err(BindingProblem::NoAttempt);
    }
    let sha_ok = matches!(binding.sha.len(), 40 | 64) && binding.sha.bytes().all(|b| b.is_ascii_hexdigit());
    if !sha_ok {
        return Err(BindingProblem::Sha);
    }
    let author_ok =
        |author: &String| !author.is_empty() && author.len() <= 320 && !author.chars().any(char::is_control);
    if binding.authors.len() > MAX_BINDING_AUTHORS || !binding.authors.iter().all(author_ok) {
        return Err(BindingProblem::Authors);
    }
    match resource {
        Resource::Environment(project, name) if *project == binding.repository && *name == binding.environment => {
            Ok(())
        }
        _ => Err(BindingProblem::NotTheResource(binding.repository.clone(), binding.environment.clone())),
    }
}

/// Checks that a CI job's own token names this run: every claim the forge
/// puts in it that the binding also states must agree (GitHub:
/// `repository`, `run_id`, `run_attempt`, `sha`, `environment`,
/// `job_workflow_sha`/`workflow_sha`; GitLab: `project_path`,
/// `pipeline_id`, `sha`, `environment`, `ci_config_sha`).
pub fn check_claims(binding: &DeploymentBinding, claims: &Map<String, Value>) -> Result<(), BindingProblem> {
    let attempt = binding.run_attempt.to_string();
    // The workflow's commit: the first of these the token carries (a
    // reusable workflow's own commit before its caller's), as `gate` reads it.
    let workflow = binding.workflow_digest.clone().unwrap_or_default();
    let workflow_claim = ["job_workflow_sha", "workflow_sha", "ci_config_sha"]
        .into_iter()
        .find(|claim| claims.get(*claim).is_some_and(|value| !value.is_null()))
        .unwrap_or("job_workflow_sha");
    let pairs: [(&'static str, &str); 8] = [
        (workflow_claim, &workflow),
        ("repository", &binding.repository),
        ("project_path", &binding.repository),
        ("run_id", &binding.run_id),
        ("pipeline_id", &binding.run_id),
        ("run_attempt", &attempt),
        ("sha", &binding.sha),
        ("environment", &binding.environment),
    ];
    for (claim, bound) in pairs {
        if bound.is_empty() {
            // Only the workflow digest is optional: a binding that does not
            // name it claims nothing about it.
            continue;
        }
        let claimed = match claims.get(claim) {
            None | Some(Value::Null) => continue,
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        if claimed != bound {
            return Err(BindingProblem::NotThisRun { claim, claimed, bound: bound.to_owned() });
        }
    }
    Ok(())
}
