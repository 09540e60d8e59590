//! `gatehouse request create|list|show|approve|deny|cancel|revoke|wait`:
//! the approved channel from a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use gatehouse_server::api::dto::{
    ApprovalsCheckDto, CodeRequest, CreateRequestBody, ListDto, RequestDto, ResourceRef, RevokeBody, VerifiedDto,
    VoteBody,
};
use reqwest::StatusCode;
use serde_json::Value;

use super::identity::print_more_hint;
use crate::args::{GlobalArgs, OutputFormat, RequestCommand};
use crate::client::{Client, encode_segment, problem_error};
use crate::error::{CliError, CliResult};
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "KIND", "STATE", "RULE", "WHAT", "REQUESTER", "PROGRESS", "EXPIRES"];

fn what(request: &RequestDto) -> String {
    match (&request.role, &request.scope, &request.action, &request.resource) {
        (Some(role), Some(scope), _, _) => {
            format!("{role} on {scope} for {}", request.duration.as_deref().unwrap_or("?"))
        }
        (_, _, Some(action), Some(resource)) => format!("{action} on {}:{}", resource.kind, resource.id),
        _ => "-".into(),
    }
}

fn progress(request: &RequestDto) -> String {
    if request.clauses.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> =
        request.clauses.iter().map(|clause| format!("{} {}/{}", clause.of, clause.have, clause.need)).collect();
    parts.join(", ")
}

fn row(request: &RequestDto) -> Vec<String> {
    vec![
        request.id.clone(),
        request.kind.clone(),
        request.state.clone(),
        request.rule.clone(),
        what(request),
        request.requester.clone(),
        progress(request),
        request.expires_at.clone(),
    ]
}

/// A request in full, for `show`, `approve` and `wait`: what is asked, why,
/// the rule's progress per clause, every vote.
pub(crate) fn print_one(args: &GlobalArgs, request: &RequestDto) {
    if args.output == OutputFormat::Json {
        print(args.output, request, HEADERS, Vec::new());
        return;
    }
    println!("request {} ({}): {}", request.id, request.kind, request.state);
    println!("  asks:      {}", what(request));
    println!("  requester: {}", request.requester);
    println!("  rule:      {}", request.rule);
    println!("  reason:    {}", or_dash(request.reason.as_deref()));
    println!("  ticket:    {}", or_dash(request.ticket.as_deref()));
    if let Some(binding) = &request.binding {
        println!(
            "  run:       {} {} run {} attempt {} → {} at {}",
            binding.forge, binding.repository, binding.run_id, binding.run_attempt, binding.environment, binding.sha
        );
    }
    for clause in &request.clauses {
        let seated = request.assignment.get(&clause.id.to_string()).map(|voters| voters.join(", "));
        println!(
            "  clause {}:  {} of {} — {} so far{}",
            clause.id,
            clause.need,
            clause.of,
            clause.have,
            seated.map(|who| format!(" ({who})")).unwrap_or_default()
        );
    }
    for vote in &request.votes {
        let withdrawn = if vote.withdrawn_at.is_some() { " (withdrawn)" } else { "" };
        println!(
            "  vote:      {} {} at {}{}: {}",
            vote.voter,
            vote.decision,
            vote.created_at,
            withdrawn,
            or_dash(vote.reason.as_deref())
        );
    }
    println!("  expires:   {}", request.expires_at);
    println!("  digest:    {}", request.digest);
}

fn request_path(id: &str) -> String {
    format!("/api/v1/requests/{}", encode_segment(id))
}

pub async fn run(args: &GlobalArgs, command: &RequestCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        RequestCommand::Create { role, scope, duration, action, resource, reason, ticket } => {
            let body = match (role, action) {
                (Some(role), None) => CreateRequestBody {
                    kind: "access".into(),
                    role: Some(role.clone()),
                    scope: scope.clone(),
                    duration: duration.clone(),
                    ..CreateRequestBody::default()
                },
                (None, Some(action)) => CreateRequestBody {
                    kind: "action".into(),
                    action: Some(action.clone()),
                    resource: Some(resource_ref(resource.as_deref().unwrap_or_default())?),
                    ..CreateRequestBody::default()
                },
                _ => return Err(CliError::config("give --role, --scope and --duration, or --action and --resource")),
            };
            let body = CreateRequestBody { reason: reason.clone(), ticket: ticket.clone(), ..body };
            let request: RequestDto = client.post("/api/v1/requests", &body).await?;
            print_one(args, &request);
        }
        RequestCommand::List { state, reviewable, after_review, requester, page } => {
            let mut query = Vec::new();
            if let Some(state) = state {
                query.push(format!("state={}", encode_segment(state)));
            }
            if *reviewable {
                query.push("reviewable=true".into());
            }
            if *after_review {
                query.push("after_review=true".into());
            }
            if let Some(requester) = requester {
                query.push(format!("requester={}", encode_segment(requester)));
            }
            let path = if query.is_empty() {
                "/api/v1/requests".to_owned()
            } else {
                format!("/api/v1/requests?{}", query.join("&"))
            };
            let list: ListDto<RequestDto> = client.get_pages(&path, page.limit, page.cursor.clone(), page.all).await?;
            let rows = list.items.iter().map(row).collect();
            print(args.output, &list, HEADERS, rows);
            print_more_hint(args, list.next_cursor.as_deref());
        }
        RequestCommand::Show { id } => {
            let request: RequestDto = client.get(&request_path(id)).await?;
            print_one(args, &request);
        }
        RequestCommand::Approve { id, reason, code } => {
            let request = vote(&client, id, "approve", reason.clone(), code.as_deref()).await?;
            print_one(args, &request);
        }
        RequestCommand::Deny { id, reason, code } => {
            let request = vote(&client, id, "deny", Some(reason.clone()), code.as_deref()).await?;
            print_one(args, &request);
        }
        RequestCommand::Cancel { id } => {
            let request: RequestDto = client.delete(&request_path(id)).await?;
            print_one(args, &request);
        }
        RequestCommand::Revoke { id, reason } => {
            let body = RevokeBody { reason: reason.clone() };
            let request: RequestDto = client.post(&format!("{}/revoke", request_path(id)), &body).await?;
            print_one(args, &request);
        }
        RequestCommand::Wait { id, timeout } => {
            let limit = parse_wait(timeout)?;
            let request = wait(&client, id, limit).await?;
            print_one(args, &request);
            return outcome(&request);
        }
    }
    Ok(())
}

/// `gatehouse approvals check`: exit 1 when a loaded rule cannot be
/// satisfied by the people in the directory now.
pub async fn check_approvals(args: &GlobalArgs) -> CliResult<()> {
    let client = Client::new(args)?;
    let checked: ApprovalsCheckDto = client.get("/api/v1/approvals/check").await?;
    let rows = checked
        .problems
        .iter()
        .map(|problem| vec![problem.rule.clone(), problem.line.to_string(), problem.message.clone()])
        .collect();
    print(args.output, &checked, &["RULE", "LINE", "PROBLEM"], rows);
    if checked.problems.is_empty() {
        if args.output == OutputFormat::Table {
            println!("{} rule(s), each can be satisfied (policy {})", checked.rules, checked.policy_hash);
        }
        return Ok(());
    }
    Err(CliError::refused(format!("{} problem(s) in the approval rules", checked.problems.len())))
}

/// `TYPE:ID` (`environment:acme/web:production`) as the API's reference.
pub(crate) fn resource_ref(text: &str) -> CliResult<ResourceRef> {
    text.split_once(':')
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
        .map(|(kind, id)| ResourceRef { kind: kind.to_owned(), id: id.to_owned() })
        .ok_or_else(|| CliError::config(format!("--resource `{text}` is not TYPE:ID")))
}

/// Casts a vote on what the server shows now (its digest). When the
/// second factor is not fresh: the `--code` given, or one asked for on a
/// terminal, is verified and the vote cast again.
async fn vote(
    client: &Client,
    id: &str,
    decision: &str,
    reason: Option<String>,
    code: Option<&str>,
) -> CliResult<RequestDto> {
    let shown: RequestDto = client.get(&request_path(id)).await?;
    if let Some(code) = code {
        verify(client, code).await?;
    }
    let body = VoteBody { decision: decision.into(), reason, digest: shown.digest.clone() };
    let path = format!("{}/votes", request_path(id));
    let (status, bytes) = client.post_raw(&path, &body).await?;
    if status.is_success() {
        return parse(&bytes);
    }
    if status == StatusCode::FORBIDDEN && problem_slug(&bytes).as_deref() == Some("mfa-required") && code.is_none() {
        let code = ask_code()?;
        verify(client, &code).await?;
        let (status, bytes) = client.post_raw(&path, &body).await?;
        return if status.is_success() { parse(&bytes) } else { Err(problem_error(status, &bytes)) };
    }
    Err(problem_error(status, &bytes))
}

pub(crate) async fn verify(client: &Client, code: &str) -> CliResult<()> {
    let body = CodeRequest { code: Some(code.trim().to_owned()), recovery_code: None };
    let _: VerifiedDto = client.post("/api/v1/mfa/verify", &body).await?;
    Ok(())
}

pub(crate) fn ask_code() -> CliResult<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::refused(
            "voting needs a recent second factor: pass --code with a code from your authenticator",
        ));
    }
    eprint!("Voting needs a recent second factor. TOTP code: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::config(format!("cannot read the code: {e}")))?;
    Ok(line.trim().to_owned())
}

pub(crate) fn problem_slug(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let kind = value.get("type")?.as_str()?;
    kind.rsplit(':').next().map(str::to_owned)
}

pub(crate) fn parse(bytes: &[u8]) -> CliResult<RequestDto> {
    serde_json::from_slice(bytes)
        .map_err(|e| CliError::config(format!("the server's answer is not what this client expects: {e}")))
}

fn parse_wait(text: &str) -> CliResult<Duration> {
    let span = gatehouse_domain::span::parse_duration(text)
        .map_err(|e| CliError::config(format!("--timeout `{text}`: {e}")))?;
    u64::try_from(span.whole_seconds())
        .map(Duration::from_secs)
        .map_err(|_| CliError::config("--timeout must not be negative"))
}

/// Long-polls until the request is no longer pending or `limit` passes; the
/// server holds each poll for at most five minutes.
pub(crate) async fn wait(client: &Client, id: &str, limit: Duration) -> CliResult<RequestDto> {
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        let slice = left.min(Duration::from_secs(290)).as_secs();
        let request: RequestDto = client.get(&format!("{}/wait?timeout={slice}s", request_path(id))).await?;
        if request.state != "pending" || left.as_secs() == 0 || slice == left.as_secs() {
            return Ok(request);
        }
    }
}

/// Exit 0 for an approval in force, 1 for anything else.
pub(crate) fn outcome(request: &RequestDto) -> CliResult<()> {
    match request.state.as_str() {
        "approved" | "active" => Ok(()),
        "pending" => Err(CliError::refused(format!("request {} is still pending", request.id))),
        other => Err(CliError::refused(format!("request {} is {other}", request.id))),
    }
}
