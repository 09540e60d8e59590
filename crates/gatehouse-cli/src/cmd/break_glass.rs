//! `gatehouse break-glass --incident ID --reason TEXT (--role R --scope S
//! [--duration D] | --action A --resource TYPE:ID)` and `gatehouse
//! break-glass review ID --decision ok|flag --reason T [--code TOTP]`.

use gatehouse_server::api::dto::{BreakGlassBody, BreakGlassReviewBody, RequestDto};
use reqwest::StatusCode;

use super::request::{ask_code, parse, print_one, problem_slug, resource_ref, verify};
use crate::args::{BreakGlassArgs, BreakGlassCommand, GlobalArgs, OutputFormat};
use crate::client::{Client, encode_segment, problem_error};
use crate::error::{CliError, CliResult};
use crate::output::or_dash;

pub async fn run(args: &GlobalArgs, command: &BreakGlassArgs) -> CliResult<()> {
    let client = Client::new(args)?;
    let request = match &command.command {
        Some(BreakGlassCommand::Review { id, decision, reason, code }) => {
            review(&client, id, decision, reason, code.as_deref()).await?
        }
        None => activate(&client, command).await?,
    };
    print_one(args, &request);
    if args.output == OutputFormat::Table {
        print_after_review(&request);
    }
    Ok(())
}

async fn activate(client: &Client, command: &BreakGlassArgs) -> CliResult<RequestDto> {
    let (Some(incident), Some(reason)) = (&command.incident, &command.reason) else {
        return Err(CliError::config("give --incident and --reason"));
    };
    let body = match (&command.role, &command.action) {
        (Some(role), None) => BreakGlassBody {
            kind: "access".into(),
            role: Some(role.clone()),
            scope: command.scope.clone(),
            duration: command.duration.clone(),
            ..BreakGlassBody::default()
        },
        (None, Some(action)) if command.duration.is_none() => BreakGlassBody {
            kind: "action".into(),
            action: Some(action.clone()),
            resource: Some(resource_ref(command.resource.as_deref().unwrap_or_default())?),
            ..BreakGlassBody::default()
        },
        _ => return Err(CliError::config("give --role and --scope (and --duration), or --action and --resource")),
    };
    let body = BreakGlassBody { incident: incident.clone(), reason: reason.clone(), ..body };
    client.post("/api/v1/break-glass", &body).await
}

/// Reviews; when the second factor is not fresh, the `--code` given (or one
/// asked for on a terminal) is verified and the review sent again.
async fn review(client: &Client, id: &str, decision: &str, reason: &str, code: Option<&str>) -> CliResult<RequestDto> {
    if let Some(code) = code {
        verify(client, code).await?;
    }
    let body = BreakGlassReviewBody { decision: decision.to_owned(), reason: reason.to_owned() };
    let path = format!("/api/v1/break-glass/{}/review", encode_segment(id));
    let (status, bytes) = client.post_raw(&path, &body).await?;
    if status.is_success() {
        return parse(&bytes);
    }
    if status == StatusCode::FORBIDDEN && problem_slug(&bytes).as_deref() == Some("mfa-required") && code.is_none() {
        verify(client, &ask_code()?).await?;
        let (status, bytes) = client.post_raw(&path, &body).await?;
        return if status.is_success() { parse(&bytes) } else { Err(problem_error(status, &bytes)) };
    }
    Err(problem_error(status, &bytes))
}

fn print_after_review(request: &RequestDto) {
    println!("  incident:  {}", or_dash(request.incident.as_deref()));
    let Some(review) = &request.after_review else { return };
    let state = match (&review.completed_at, review.flagged) {
        (Some(at), true) => format!("complete at {at}, flagged"),
        (Some(at), false) => format!("complete at {at}"),
        (None, _) => format!("{} of {} reviews, due {}", review.reviews.len(), review.need, review.due),
    };
    println!("  review:    {state}");
    for entry in &review.reviews {
        println!("  reviewed:  {} {} at {}: {}", entry.reviewer, entry.decision, entry.created_at, entry.reason);
    }
}
