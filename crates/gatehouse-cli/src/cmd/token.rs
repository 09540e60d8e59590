//! `gatehouse token create|list|revoke`.

use gatehouse_server::api::dto::{CreatedTokenDto, ListDto, TokenDto};
use serde_json::json;

use super::identity::encode;
use crate::args::{GlobalArgs, OutputFormat, TokenCommand};
use crate::client::Client;
use crate::error::CliResult;
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "IDENTITY", "STATUS", "CREATED", "EXPIRES", "LAST USED", "DESCRIPTION"];

fn row(token: &TokenDto) -> Vec<String> {
    vec![
        token.id.clone(),
        token.identity_id.clone(),
        token.status.clone(),
        token.created_at.clone(),
        token.expires_at.clone(),
        or_dash(token.last_used_at.as_deref()),
        token.description.clone(),
    ]
}

pub async fn run(args: &GlobalArgs, command: &TokenCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        TokenCommand::Create { identity, ttl, description } => {
            let body = json!({ "identity_id": identity, "ttl_seconds": ttl, "description": description });
            let created: CreatedTokenDto = client.post("/api/v1/tokens", &body).await?;
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&created).unwrap_or_default()),
                OutputFormat::Table => {
                    println!(
                        "token {} for {} (expires {}), shown once:",
                        created.id, created.identity_id, created.expires_at
                    );
                    println!("{}", created.token);
                }
            }
        }
        TokenCommand::List { identity, limit, cursor, all } => {
            let mut items = Vec::new();
            let mut cursor = cursor.clone();
            let next_cursor = loop {
                let mut path = format!("/api/v1/tokens?limit={limit}");
                if let Some(identity) = identity {
                    path.push_str(&format!("&identity_id={}", encode(identity)));
                }
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={}", encode(cursor)));
                }
                let page: ListDto<TokenDto> = client.get(&path).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(next) if *all => cursor = Some(next),
                    other => break other,
                }
            };
            let rows = items.iter().map(row).collect();
            print(args.output, &ListDto { items, next_cursor: next_cursor.clone() }, HEADERS, rows);
            if let (Some(next), OutputFormat::Table) = (next_cursor, args.output) {
                eprintln!("more: --cursor {next} (or --all)");
            }
        }
        TokenCommand::Revoke { id } => {
            let token: TokenDto = client.delete(&format!("/api/v1/tokens/{}", encode(id))).await?;
            print(args.output, &token, HEADERS, vec![row(&token)]);
        }
    }
    Ok(())
}
