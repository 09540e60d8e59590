//! `gatehouse token create|list|revoke`.

use gatehouse_server::api::dto::{CreateTokenRequest, CreatedTokenDto, ListDto, TokenDto};

use super::identity::print_more_hint;
use crate::args::{GlobalArgs, OutputFormat, TokenCommand};
use crate::client::{Client, encode_segment};
use crate::error::CliResult;
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "IDENTITY", "STATUS", "CREATED", "CREATED BY", "EXPIRES", "LAST USED", "DESCRIPTION"];

fn row(token: &TokenDto) -> Vec<String> {
    vec![
        token.id.clone(),
        token.identity_id.clone(),
        token.status.clone(),
        token.created_at.clone(),
        or_dash(token.created_by.as_deref()),
        token.expires_at.clone(),
        or_dash(token.last_used_at.as_deref()),
        token.description.clone(),
    ]
}

pub async fn run(args: &GlobalArgs, command: &TokenCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        TokenCommand::Create { identity, ttl, description } => {
            let body = CreateTokenRequest {
                identity_id: identity.clone(),
                ttl_seconds: *ttl,
                description: description.clone(),
            };
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
        TokenCommand::List { identity, page } => {
            let path = match identity {
                Some(identity) => format!("/api/v1/tokens?identity_id={}", encode_segment(identity)),
                None => "/api/v1/tokens".to_owned(),
            };
            let list: ListDto<TokenDto> = client.get_pages(&path, page.limit, page.cursor.clone(), page.all).await?;
            let rows = list.items.iter().map(row).collect();
            print(args.output, &list, HEADERS, rows);
            print_more_hint(args, list.next_cursor.as_deref());
        }
        TokenCommand::Revoke { id } => {
            let token: TokenDto = client.delete(&format!("/api/v1/tokens/{}", encode_segment(id))).await?;
            print(args.output, &token, HEADERS, vec![row(&token)]);
        }
    }
    Ok(())
}
