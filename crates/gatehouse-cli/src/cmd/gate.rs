//! `gatehouse gate`: a CI job asks whether it may act, authenticated by its
//! own OIDC token (no stored secret). Exit 0 allow, 1 deny or refused (the
//! server would not accept the job's token), 2 usage error or no server: a
//! job step that runs it fails closed.

use base64::Engine;
use gatehouse_server::api::dto::{
    AuthorizeRequest, AuthorizeResponse, BindingDto, CreateRequestBody, RequestDto, ResourceRef,
};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::args::{GateArgs, GlobalArgs, OutputFormat};
use crate::client::{Client, encode_segment, problem_error};
use crate::error::{CliError, CliResult};

/// Where the job's token comes from: the flag or `GATEHOUSE_ID_TOKEN`, else
/// GitHub Actions' token endpoint.
async fn id_token(args: &GateArgs) -> CliResult<String> {
    if let Some(token) = args.id_token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        return Ok(token.to_owned());
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (env("ACTIONS_ID_TOKEN_REQUEST_URL"), env("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
        (Some(url), Some(bearer)) => github_actions_token(&url, &bearer, args.audience.as_deref()).await,
        _ => Err(CliError::config(
            "no CI token: pass --id-token or set GATEHOUSE_ID_TOKEN (GitLab: an `id_tokens:` entry), \
             or run in GitHub Actions with `permissions: id-token: write`",
        )),
    }
}

async fn github_actions_token(url: &str, bearer: &str, audience: Option<&str>) -> CliResult<String> {
    #[derive(Deserialize)]
    struct Issued {
        value: String,
    }
    let mut url = url.to_owned();
    if let Some(audience) = audience {
        url.push_str(if url.contains('?') { "&" } else { "?" });
        url.push_str(&format!("audience={}", encode_segment(audience)));
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| CliError::config(format!("cannot build an HTTP client: {e}")))?;
    let response = client
        .get(&url)
        .header(reqwest::header::AUTHORIZATION, format!("bearer {bearer}"))
        .send()
        .await
        .map_err(|e| CliError::config(format!("cannot ask GitHub Actions for an OIDC token: {e}")))?;
    if !response.status().is_success() {
        return Err(CliError::config(format!(
            "GitHub Actions refused an OIDC token (HTTP {}); does the job have `permissions: id-token: write`?",
            response.status()
        )));
    }
    let issued: Issued = response
        .json()
        .await
        .map_err(|e| CliError::config(format!("GitHub Actions' token answer is not what was expected: {e}")))?;
    Ok(issued.value)
}

fn request_body(args: &GateArgs) -> CliResult<AuthorizeRequest> {
    let (kind, id) = args
        .resource
        .split_once(':')
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
        .ok_or_else(|| CliError::config(format!("--resource `{}` is not TYPE:ID", args.resource)))?;
    let mut context = Map::new();
    for pair in &args.context {
        let (key, value) = pair
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| CliError::config(format!("--context `{pair}` is not KEY=VALUE")))?;
        context.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(AuthorizeRequest {
        principal: None,
        action: args.action.clone(),
        resource: ResourceRef { kind: kind.to_owned(), id: id.to_owned() },
        context: (!context.is_empty()).then_some(Value::Object(context)),
        request: None,
    })
}

/// Why the server answered no decision. It refusing the job's token (no
/// binding matches the job, the token is expired or forged) or the job
/// acting at all is a refusal: exit 1 with the server's reason, so a job
/// from another repository fails as "refused", not as a broken step. Bad
/// input, an unknown route, throttling and server errors stay errors (2).
fn unanswered(status: StatusCode, body: &[u8]) -> CliError {
    let error = problem_error(status, body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        CliError::refused(format!("refused: {}", error.message))
    } else {
        CliError::config(error.message)
    }
}

/// Asks `/authorize` once.
async fn decide(client: &Client, body: &AuthorizeRequest) -> CliResult<(AuthorizeResponse, Vec<u8>)> {
    let (status, bytes) = client.post_raw("/api/v1/authorize", body).await?;
    if status != StatusCode::OK {
        return Err(unanswered(status, &bytes));
    }
    let answer: AuthorizeResponse = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::config(format!("the server's answer is not what this client expects: {e}")))?;
    Ok((answer, bytes))
}

pub async fn run(global: &GlobalArgs, args: &GateArgs) -> CliResult<()> {
    let mut body = request_body(args)?;
    let token = id_token(args).await?;
    let client = Client::with_token(global, token.clone())?;
    let (mut answer, mut bytes) = decide(&client, &body).await?;
    if let (Some(wait), true) = (&args.wait, answer.request_required) {
        let id = wait_for_approval(&client, args, &token, wait).await?;
        body.request = Some(id);
        (answer, bytes) = decide(&client, &body).await?;
    }
    match global.output {
        OutputFormat::Json => println!("{}", String::from_utf8_lossy(&bytes)),
        OutputFormat::Table => {
            println!("{}: {} on {}", answer.decision, args.action, args.resource);
            for reason in &answer.reasons {
                println!("  - {reason}");
            }
            println!("  (audit entry {})", answer.audit_index);
            for warning in &answer.warnings {
                eprintln!("warning: {warning}");
            }
        }
    }
    if answer.decision == "allow" {
        Ok(())
    } else {
        Err(CliError::refused(format!("denied: {} on {}", args.action, args.resource)))
    }
}

/// The run the job's token names, for a deployment approval bound to it:
/// from the token's claims (GitHub: `repository`, `run_id`, `run_attempt`,
/// `sha`; GitLab: `project_path`, `pipeline_id`, `sha`), else the CI's
/// environment variables. The server checks the claims again.
fn binding_for(args: &GateArgs, token: &str) -> CliResult<BindingDto> {
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|payload| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .unwrap_or_default();
    let claim = |names: &[&str]| {
        names.iter().find_map(|name| match claims.get(*name) {
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        })
    };
    let env = |names: &[&str]| names.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let gitlab = claims.contains_key("project_path") || env(&["GITLAB_CI"]).is_some();
    let missing = |what: &str| {
        CliError::refused(format!(
            "cannot bind the approval to this run: neither the job's token nor the environment names its {what}"
        ))
    };
    let (_, target) = args
        .resource
        .split_once(':')
        .ok_or_else(|| CliError::config(format!("--resource `{}` is not TYPE:ID", args.resource)))?;
    let environment = target.rsplit_once(':').map(|(_, name)| name.to_owned()).ok_or_else(|| {
        CliError::config("--wait binds a deployment to an environment: --resource environment:ORG/REPO:NAME")
    })?;
    let repository = claim(&["repository", "project_path"])
        .or_else(|| env(&["GITHUB_REPOSITORY", "CI_PROJECT_PATH"]))
        .ok_or_else(|| missing("repository"))?;
    let run_id = claim(&["run_id", "pipeline_id"])
        .or_else(|| env(&["GITHUB_RUN_ID", "CI_PIPELINE_ID"]))
        .ok_or_else(|| missing("run id"))?;
    let run_attempt = claim(&["run_attempt"])
        .or_else(|| env(&["GITHUB_RUN_ATTEMPT"]))
        .and_then(|attempt| attempt.parse().ok())
        .unwrap_or(1);
    let sha = claim(&["sha"]).or_else(|| env(&["GITHUB_SHA", "CI_COMMIT_SHA"])).ok_or_else(|| missing("commit"))?;
    Ok(BindingDto {
        forge: if gitlab { "gitlab" } else { "github" }.into(),
        repository,
        run_id,
        run_attempt,
        environment,
        sha,
        authors: args.authors.iter().map(|author| author.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
        // The commit of the workflow file the job runs (GitHub), or of the
        // CI configuration (GitLab): a changed workflow is a new approval.
        workflow_digest: claim(&["job_workflow_sha", "workflow_sha", "ci_config_sha"]),
    })
}

/// Asks for (or attaches to) this run's approval, says where to approve,
/// and waits. `Ok(id)` once approved; a refusal (exit 1) otherwise.
async fn wait_for_approval(client: &Client, args: &GateArgs, token: &str, wait: &str) -> CliResult<String> {
    let limit = gatehouse_domain::span::parse_duration(wait)
        .ok()
        .and_then(|span| u64::try_from(span.whole_seconds()).ok())
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| CliError::config(format!("--wait `{wait}` is not a duration (`30m`, `2h`)")))?;
    let body = CreateRequestBody {
        kind: "action".into(),
        action: Some(args.action.clone()),
        resource: Some(super::request::resource_ref(&args.resource)?),
        binding: Some(binding_for(args, token)?),
        reason: args.reason.clone(),
        ticket: args.ticket.clone(),
        ..CreateRequestBody::default()
    };
    let (status, bytes) = client.post_raw("/api/v1/requests", &body).await?;
    if !status.is_success() {
        return Err(unanswered(status, &bytes));
    }
    let request: RequestDto = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::config(format!("the server's answer is not what this client expects: {e}")))?;
    eprintln!(
        "waiting up to {wait} for approval of request {} (rule `{}`): approvers run `gatehouse request approve {}`",
        request.id, request.rule, request.id
    );
    for clause in &request.clauses {
        eprintln!("  needs {} of {} ({} so far)", clause.need, clause.of, clause.have);
    }
    let decided = super::request::wait(client, &request.id, limit).await?;
    match decided.state.as_str() {
        "approved" => Ok(decided.id),
        "pending" => Err(CliError::refused(format!("timed out after {wait}: request {} is still pending", decided.id))),
        other => Err(CliError::refused(format!("request {} is {other}", decided.id))),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;
    use crate::args::{Cli, Command};

    fn gate(argv: &[&str]) -> GateArgs {
        let mut full = vec!["gatehouse", "gate"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Gate(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_question_is_built_from_the_flags() {
        let args = gate(&[
            "--action",
            "deployment.execute",
            "--resource",
            "environment:acme/web:production",
            "--context",
            "author=ana",
        ]);
        let body = serde_json::to_value(request_body(&args).unwrap()).unwrap();
        assert_eq!(body["action"], "deployment.execute");
        assert!(body.get("principal").is_none(), "{body}");
        assert_eq!(body["resource"], json!({"type": "environment", "id": "acme/web:production"}));
        assert_eq!(body["context"], json!({"author": "ana"}));
        let bad = gate(&["--action", "x", "--resource", "environment"]);
        assert!(request_body(&bad).is_err());
    }

    #[test]
    fn a_refused_token_is_a_refusal_and_bad_input_an_error() {
        let problem = br#"{"detail": "no trust binding matches: claim `repository` is `evil/fork`"}"#;
        let refused = unanswered(StatusCode::UNAUTHORIZED, problem);
        assert_eq!(refused.code, 1);
        assert!(refused.message.contains("claim `repository` is `evil/fork`"), "{}", refused.message);
        assert_eq!(unanswered(StatusCode::FORBIDDEN, problem).code, 1);
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::NOT_FOUND,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert_eq!(unanswered(status, problem).code, 2, "{status}");
        }
    }
}
