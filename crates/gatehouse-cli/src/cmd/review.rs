//! `gatehouse review open|list|show|decide|close`: access review campaigns
//! through `/api/v1/reviews`. The rules are the server's; this prints
//! campaigns and items, and steps up the second factor before a decision
//! like `request approve` does.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use gatehouse_server::api::dto::{CampaignDto, CampaignListDto, DecisionDto, ReviewItemDto, ReviewItemListDto};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::request::{problem_slug, verify};
use crate::args::{GlobalArgs, OutputFormat, ReviewCommand, ReviewDecision};
use crate::client::{Client, encode_segment, problem_error};
use crate::error::{CliError, CliResult};
use crate::output::{or_dash, print, table};

const HEADERS: &[&str] = &["ID", "NAME", "STATE", "TRIGGER", "ITEMS", "OPENED", "DEADLINE", "CLOSED"];

pub const ITEM_HEADERS: &[&str] =
    &["ITEM", "KIND", "IDENTITY", "ROLE", "SCOPE", "LAST USE", "RECOMMENDATION", "STAGE", "OUTCOME"];

/// The largest definition file read.
const MAX_DEFINITION_BYTES: u64 = 256 * 1024;

/// Items per page when showing a campaign's items.
const ITEM_PAGE: u32 = 500;

fn row(campaign: &CampaignDto) -> Vec<String> {
    vec![
        campaign.id.clone(),
        campaign.name.clone(),
        campaign.state.clone(),
        campaign.trigger.kind.clone(),
        campaign.items.to_string(),
        campaign.opened_at.clone(),
        campaign.deadline.clone(),
        or_dash(campaign.closed_at.as_deref()),
    ]
}

/// One item's row: what it is, what was recommended, where it stands.
pub fn item_row(item: &ReviewItemDto) -> Vec<String> {
    let snapshot = &item.item;
    let text = |field: &str| snapshot[field].as_str().unwrap_or("-").to_owned();
    let recommendation = snapshot["recommendation"]["advice"].as_str().unwrap_or("-").to_owned();
    let outcome = match &item.outcome {
        Some(verdict) => outcome_text(verdict),
        None => match &item.delegated_to {
            Some(to) => format!("delegated to {to}"),
            None => "undecided".to_owned(),
        },
    };
    vec![
        snapshot["number"].as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string()),
        text("kind"),
        text("identity_name"),
        text("role"),
        text("scope"),
        text("last_used_at"),
        recommendation,
        item.stage.to_string(),
        outcome,
    ]
}

/// A final verdict in a few words: `keep`, `keep until T`, `narrow to
/// ROLE SCOPE`, `revoke`, `suspend`.
fn outcome_text(verdict: &Value) -> String {
    let decision = verdict["decision"].as_str().unwrap_or("-");
    match decision {
        "keep" => match verdict["until"].as_str() {
            Some(until) => format!("keep until {until}"),
            None => "keep".to_owned(),
        },
        "narrow" => {
            let parts: Vec<&str> =
                [verdict["role"].as_str(), verdict["scope"].as_str()].into_iter().flatten().collect();
            format!("narrow to {}", parts.join(" "))
        }
        other => other.to_owned(),
    }
}

fn campaign_path(id: &str) -> String {
    format!("/api/v1/reviews/{}", encode_segment(id))
}

/// The decision's body: only the fields given (the server refuses others).
pub fn decision_body(
    decision: ReviewDecision,
    until: Option<&str>,
    role: Option<&str>,
    scope: Option<&str>,
    to: Option<&str>,
    reason: Option<&str>,
) -> CliResult<Value> {
    let mut body = Map::new();
    body.insert("decision".into(), json!(decision.as_str()));
    let allowed: &[&str] = match decision {
        ReviewDecision::Keep => &["until"],
        ReviewDecision::Revoke => &[],
        ReviewDecision::Narrow => &["role", "scope"],
        ReviewDecision::Delegate => &["to"],
    };
    for (flag, value) in [("until", until), ("role", role), ("scope", scope), ("to", to)] {
        let Some(value) = value else { continue };
        if !allowed.contains(&flag) {
            return Err(CliError::config(format!("--{flag} does not go with `{}`", decision.as_str())));
        }
        body.insert(flag.into(), json!(value));
    }
    if decision == ReviewDecision::Narrow && role.is_none() && scope.is_none() {
        return Err(CliError::config("narrow needs --role or --scope (or both)"));
    }
    if decision == ReviewDecision::Delegate && to.is_none() {
        return Err(CliError::config("delegate needs --to ID"));
    }
    if let Some(reason) = reason {
        body.insert("reason".into(), json!(reason));
    }
    Ok(Value::Object(body))
}

/// A campaign definition from flags, in the API's JSON form.
fn definition_from_flags(command: &ReviewCommand) -> CliResult<Value> {
    let ReviewCommand::Open {
        name,
        reviewers,
        fallback,
        duration,
        kinds,
        role,
        scope,
        identity_kind,
        recurrence,
        on_no_response,
        second_stage,
        unused_after,
        ..
    } = command
    else {
        return Err(CliError::config("not an opening"));
    };
    let mut selector = Map::new();
    if !kinds.is_empty() {
        selector.insert("kinds".into(), json!(kinds));
    }
    for (key, value) in [("role", role), ("scope", scope), ("identity_kind", identity_kind)] {
        if let Some(value) = value {
            selector.insert(key.into(), json!(value));
        }
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("scope".into(), Value::Object(selector));
    body.insert("reviewers".into(), json!(reviewers));
    body.insert("fallback".into(), json!(fallback));
    body.insert("duration".into(), json!(duration));
    for (key, value) in [("recurrence", recurrence), ("on_no_response", on_no_response), ("unused_after", unused_after)]
    {
        if let Some(value) = value {
            body.insert(key.into(), json!(value));
        }
    }
    if !second_stage.is_empty() {
        body.insert("second_stage".into(), json!(second_stage));
    }
    Ok(Value::Object(body))
}

/// A JSON definition from a file, or stdin for `-`; the server checks it.
fn definition_from_file(path: &Path) -> CliResult<Value> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(MAX_DEFINITION_BYTES + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(MAX_DEFINITION_BYTES + 1).read_to_string(&mut text))
    };
    read.map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_DEFINITION_BYTES {
        return Err(CliError::config(format!("{} is larger than {MAX_DEFINITION_BYTES} bytes", path.display())));
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::config(format!("{}: not a JSON campaign definition: {e}", path.display())))?;
    if !value.is_object() {
        return Err(CliError::config(format!("{}: a campaign definition is a JSON object", path.display())));
    }
    Ok(value)
}

async fn all_items(client: &Client, id: &str) -> CliResult<Vec<ReviewItemDto>> {
    let mut items = Vec::new();
    let mut after: Option<u32> = None;
    loop {
        let mut path = format!("{}/items?limit={ITEM_PAGE}", campaign_path(id));
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        let page: ReviewItemListDto = client.get(&path).await?;
        items.extend(page.items);
        match page.next_after {
            Some(next) if Some(next) != after => after = Some(next),
            _ => return Ok(items),
        }
    }
}

pub async fn run(args: &GlobalArgs, command: &ReviewCommand) -> CliResult<()> {
    if let ReviewCommand::Verify { file, public_key } = command {
        return super::review_file::verify(args, file, public_key);
    }
    let client = Client::new(args)?;
    let campaign: CampaignDto = match command {
        ReviewCommand::Export { id, out } => return super::review_file::export(args, id, out).await,
        ReviewCommand::Verify { .. } => unreachable!("verified offline above"),
        ReviewCommand::Open { file, .. } => {
            let body = match file {
                Some(path) => definition_from_file(path)?,
                None => definition_from_flags(command)?,
            };
            client.post("/api/v1/reviews", &body).await?
        }
        ReviewCommand::List { state } => {
            let path = match state {
                Some(state) => format!("/api/v1/reviews?state={}", encode_segment(state)),
                None => "/api/v1/reviews".to_owned(),
            };
            let list: CampaignListDto = client.get(&path).await?;
            print(args.output, &list, HEADERS, list.items.iter().map(row).collect());
            return Ok(());
        }
        ReviewCommand::Show { id, items } => {
            let campaign: CampaignDto = client.get(&campaign_path(id)).await?;
            if !*items {
                campaign
            } else {
                let items = all_items(&client, id).await?;
                match args.output {
                    OutputFormat::Json => {
                        let shown = json!({"campaign": campaign, "items": items});
                        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
                    }
                    OutputFormat::Table => {
                        print!("{}", table(HEADERS, &[row(&campaign)]));
                        println!();
                        let rows: Vec<Vec<String>> = items.iter().map(item_row).collect();
                        print!("{}", table(ITEM_HEADERS, &rows));
                    }
                }
                return Ok(());
            }
        }
        ReviewCommand::Decide { id, item, decision, until, role, scope, to, reason, code } => {
            let body = decision_body(
                *decision,
                until.as_deref(),
                role.as_deref(),
                scope.as_deref(),
                to.as_deref(),
                reason.as_deref(),
            )?;
            let decided = decide(&client, id, *item, &body, code.as_deref()).await?;
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&decided).unwrap_or_default()),
                OutputFormat::Table => {
                    let verdict = outcome_text(&decided.decision["verdict"]);
                    let standing = if decided.r#final { "final" } else { "passed on (second stage or delegate)" };
                    println!("item {item} of {id}: {verdict} ({standing})");
                    if let Some(applied) = &decided.applied {
                        let result = applied["result"].as_str().unwrap_or_default();
                        let ok = applied["ok"].as_bool().unwrap_or(false);
                        println!(
                            "  applied: {}{}",
                            if ok { "yes" } else { "NO" },
                            if result.is_empty() { String::new() } else { format!(", {result}") }
                        );
                    }
                }
            }
            return Ok(());
        }
        ReviewCommand::Close { id } => client.post_empty(&format!("{}/close", campaign_path(id))).await?,
    };
    print(args.output, &campaign, HEADERS, vec![row(&campaign)]);
    if args.output == OutputFormat::Table
        && let Some(counts) = &campaign.counts
    {
        let n = |field: &str| counts[field].as_u64().unwrap_or(0);
        println!(
            "  kept {}, revoked {}, narrowed {}, suspended {}; defaulted {}, escalated {}, failed {}",
            n("kept"),
            n("revoked"),
            n("narrowed"),
            n("suspended"),
            n("defaulted"),
            n("escalated"),
            n("failed")
        );
    }
    Ok(())
}

/// Posts a decision. With `--code` the second factor is verified first;
/// without it, a refusal for want of a fresh one asks for a code on a
/// terminal and tries once more.
async fn decide(client: &Client, id: &str, item: u32, body: &Value, code: Option<&str>) -> CliResult<DecisionDto> {
    if let Some(code) = code {
        verify(client, code).await?;
    }
    let path = format!("{}/items/{item}/decision", campaign_path(id));
    let (status, bytes) = client.post_raw(&path, body).await?;
    if status.is_success() {
        return parse(&bytes);
    }
    if status == StatusCode::FORBIDDEN && problem_slug(&bytes).as_deref() == Some("mfa-required") && code.is_none() {
        let code = ask_code()?;
        verify(client, &code).await?;
        let (status, bytes) = client.post_raw(&path, body).await?;
        return if status.is_success() { parse(&bytes) } else { Err(problem_error(status, &bytes)) };
    }
    Err(problem_error(status, &bytes))
}

fn ask_code() -> CliResult<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::refused(
            "deciding needs a recent second factor: pass --code with a code from your authenticator",
        ));
    }
    eprint!("Deciding needs a recent second factor. TOTP code: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::config(format!("cannot read the code: {e}")))?;
    Ok(line.trim().to_owned())
}

fn parse(bytes: &[u8]) -> CliResult<DecisionDto> {
    serde_json::from_slice(bytes)
        .map_err(|e| CliError::config(format!("the server's answer is not what this client expects: {e}")))
}

#[cfg(test)]
mod tests;
